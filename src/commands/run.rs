//! `run`: the daemon (see [`crate::daemon`]).

use crate::cli::{ConfigFiles, Exit, RunArgs};
use crate::config::Env;
use crate::daemon::settings::{self, DaemonSettings, Flags};

pub async fn run(files: &ConfigFiles, args: &RunArgs) -> Exit {
    let mut flags = Vec::new();
    // The global --mapping/--blueprints (or their environment variables) count only when they
    // differ from the defaults, so a config file can set them.
    if files.mapping.as_os_str() != settings::DEFAULT_MAPPING_FILE {
        flags.push(("MAPPING_FILE", files.mapping.display().to_string()));
    }
    if files.blueprints.as_os_str() != settings::DEFAULT_BLUEPRINTS_DIR {
        flags.push(("BLUEPRINTS_DIR", files.blueprints.display().to_string()));
    }
    if let Some(schedule) = &args.schedule {
        flags.push((settings::SCHEDULE, schedule.clone()));
    }
    if let Some(minutes) = &args.interval_minutes {
        flags.push((settings::INTERVAL_MINUTES[0], minutes.clone()));
    }
    if let Some(listen) = &args.listen {
        flags.push((settings::LISTEN_ADDR, listen.clone()));
    }
    if args.no_resync_on_start {
        flags.push((settings::RESYNC_ON_START, "false".to_owned()));
    }
    match DaemonSettings::resolve(Flags(flags), Env::process_layer(), args.config.clone()) {
        Ok(settings) => crate::daemon::run(settings).await,
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Config
        }
    }
}
