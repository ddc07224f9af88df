//! `resync`: one full sync of AWS into Port, for a cron job or by hand.

use super::{CommandError, Exit};
use crate::app::settings::bootstrap_blueprints;
use crate::app::{SetupError, load_files};
use crate::cli::ConfigFiles;
use crate::config::Env;
use crate::port::{PortClient, PortConfig};
use crate::sync::Resync;

pub async fn run(files: &ConfigFiles) -> Result<Exit, CommandError> {
    let loaded = load_files(files.mapping(), files.blueprints())?;
    let env = Env::process();
    let port_config = PortConfig::from_settings(&env).map_err(SetupError::from)?;
    let bootstrap = bootstrap_blueprints(&env).map_err(SetupError::from)?;
    let port = PortClient::new(port_config).map_err(SetupError::PortClient)?;
    let sources = super::aws_sources().await?;
    let resync = Resync {
        mapping: &loaded.mapping,
        blueprints: &loaded.blueprints,
        sources: &sources,
        port: &port,
        bootstrap_blueprints: bootstrap,
    };
    let report = resync.run().await.map_err(CommandError::Resync)?;
    eprint!("{}", report.render());
    Ok(if report.is_success() {
        Exit::Success
    } else {
        Exit::Failures
    })
}
