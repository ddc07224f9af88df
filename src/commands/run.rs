//! `run`: the daemon (see [`crate::daemon`]).

use super::{CommandError, Exit};
use crate::app::DaemonSettings;
use crate::app::settings::{self, Flags};
use crate::cli::{ConfigFiles, RunArgs};
use crate::config::Env;

pub async fn run(files: &ConfigFiles, args: &RunArgs) -> Result<Exit, CommandError> {
    let mut flags = Flags::default().with_files(
        files.given_mapping.as_ref(),
        files.given_blueprints.as_ref(),
    );
    if let Some(schedule) = &args.schedule {
        flags = flags.set(settings::SCHEDULE, schedule);
    }
    if let Some(minutes) = &args.interval_minutes {
        flags = flags.set(settings::INTERVAL_MINUTES[0], minutes);
    }
    if let Some(listen) = &args.listen {
        flags = flags.set(settings::LISTEN_ADDR, listen);
    }
    if args.no_resync_on_start {
        flags = flags.set(settings::RESYNC_ON_START, "false");
    }
    let settings = DaemonSettings::resolve(flags, Env::process_layer(), args.config.clone())
        .map_err(crate::app::SetupError::from)?;
    crate::daemon::run(settings).await?;
    Ok(Exit::Success)
}
