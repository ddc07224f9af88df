//! `resync`: one full sync of AWS into Port, for a cron job or by hand.

use crate::cli::{ConfigFiles, Exit};
use crate::config::{self, Env};
use crate::port::PortClient;
use crate::sync::Resync;

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
    let resync = Resync {
        mapping: &loaded.mapping,
        blueprints: &loaded.blueprints,
        sources: &sources,
        port: &port,
        bootstrap_blueprints: bootstrap,
    };
    match resync.run().await {
        Ok(report) => {
            eprint!("{}", report.render());
            if report.is_success() {
                Exit::Success
            } else {
                Exit::Failures
            }
        }
        Err(e) => {
            eprintln!("error: {e}; nothing was written");
            if e.is_configuration() {
                Exit::Config
            } else {
                Exit::Failures
            }
        }
    }
}
