//! `resync`: one full sync of AWS into Port, for a cron job or by hand: registered in Port,
//! with the mapping MAPPING_SOURCE names, its state reported to Port.

use super::oneshot::OneShot;
use super::{CommandError, Exit};
use crate::app::settings::bootstrap_blueprints;
use crate::app::{SetupError, load_files};
use crate::cli::ConfigFiles;
use crate::config::Env;
use crate::integration::IntegrationSettings;
use crate::port::{PortClient, PortConfig};
use crate::sync::empty_reads::DeletionSettings;

pub async fn run(files: &ConfigFiles) -> Result<Exit, CommandError> {
    let loaded = load_files(files.mapping(), files.blueprints())?;
    let env = Env::process();
    let port_config = PortConfig::from_settings(&env).map_err(SetupError::from)?;
    let bootstrap = bootstrap_blueprints(&env).map_err(SetupError::from)?;
    let port = PortClient::new(port_config).map_err(SetupError::PortClient)?;
    let sources = super::aws_sources().await?;
    let settings = IntegrationSettings::from_env(&env).map_err(SetupError::from)?;
    let deletion = DeletionSettings::from_settings(&env).map_err(SetupError::from)?;
    OneShot {
        loaded,
        mapping_file: files.mapping(),
        port,
        sources,
        bootstrap_blueprints: bootstrap,
        settings,
        deletion,
    }
    .run()
    .await
}
