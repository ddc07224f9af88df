//! `resync`: one full sync of AWS into Port, for a cron job or by hand.

use crate::cli::{ConfigFiles, Exit};
use crate::config::{self, Env};
use crate::port::PortClient;

pub async fn run(files: &ConfigFiles) -> Exit {
    let Some(loaded) = super::load(files) else {
        return Exit::Config;
    };
    let env = Env::process();
    let settings =
        config::port_config(&env).and_then(|port| Ok((port, config::bootstrap_blueprints(&env)?)));
    let (port_config, bootstrap) = match settings {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Config;
        }
    };
    let port = match PortClient::new(port_config) {
        Ok(port) => port,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Config;
        }
    };
    let Some(sources) = super::aws_sources().await else {
        return Exit::Config;
    };
    // Issue 13: registration, the mapping from MAPPING_SOURCE and the resync state in Port.
    let settings = match crate::integration::IntegrationSettings::from_env(&env) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Config;
        }
    };
    crate::integration::oneshot::OneShot {
        loaded,
        mapping_file: &files.mapping,
        port,
        sources,
        bootstrap_blueprints: bootstrap,
        settings,
    }
    .run()
    .await
}
