//! `run`: the daemon (see [`crate::daemon`]).

use crate::cli::{ConfigFiles, Exit, RunArgs};
use crate::config::Env;
use crate::daemon::settings::{self, DaemonSettings, Flags};

pub async fn run(files: &ConfigFiles, args: &RunArgs) -> Exit {
    let mut flags = settings::file_flags(files);
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
