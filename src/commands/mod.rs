//! One module per subcommand, the dispatch, and what a command's end means for the exit code.

pub mod dry_run;
pub mod healthcheck;
pub mod map;
pub mod oneshot;
pub mod plan;
pub mod raw_dump;
mod registered;
pub mod resync;
pub mod run;
pub mod serve_actions;
pub mod serve_events;
pub mod validate;

use std::io::{self, Write};
use std::process::ExitCode;

use crate::app::{ServiceError, SetupError};
use crate::aws::{AwsSettings, AwsSources};
use crate::cli::{Cli, Command, ResyncArgs};
use crate::config::Env;
use crate::entity::Entity;
use crate::integration::from_port::PortMappingFile;
use crate::integration::{ResyncMappingError, StartError};
use crate::sync::ResyncError;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything synced.
    Success = 0,
    /// Finished, but some scope, item or write failed.
    Failures = 1,
    /// Bad configuration or usage; nothing was fetched or written.
    Config,
    /// `plan` only: a resync would change Port (as `terraform plan -detailed-exitcode`).
    Changes,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failures => 1,
            Exit::Config | Exit::Changes => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// Why a command stopped before finishing its job.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Nothing was fetched or written.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// A resync that could not start (Port unreadable, or refusing our credentials).
    #[error("{0}; nothing was written")]
    Resync(ResyncError),
    /// A long-running command that could not start, or could not go on.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Registering in Port failed (Port unreachable or refusing a call); nothing was written.
    #[error("{0}; nothing was written")]
    Integration(StartError),
    /// The resync's mapping could not be taken from Port: a bad mapping there (exit 2), or
    /// Port unavailable (exit 1); nothing was written.
    #[error("{0}; nothing was written")]
    PortMapping(ResyncMappingError),
    /// Any error of `plan`: exit 1 whatever it is, as 2 means "changes" there.
    #[error(transparent)]
    Plan(Box<CommandError>),
}

impl CommandError {
    pub fn exit(&self) -> Exit {
        match self {
            CommandError::Setup(_) => Exit::Config,
            CommandError::Resync(e) if e.is_configuration() => Exit::Config,
            CommandError::PortMapping(e) if e.is_configuration() => Exit::Config,
            CommandError::Service(ServiceError::Setup(_)) => Exit::Config,
            CommandError::Resync(_)
            | CommandError::Service(ServiceError::Stopped(_))
            | CommandError::PortMapping(_)
            | CommandError::Integration(_)
            | CommandError::Plan(_) => Exit::Failures,
        }
    }

    pub fn messages(&self) -> Vec<String> {
        match self {
            CommandError::Setup(e) | CommandError::Service(ServiceError::Setup(e)) => e.messages(),
            CommandError::Plan(e) => e.messages(),
            other => vec![other.to_string()],
        }
    }
}

/// Runs the command the user asked for.
pub async fn dispatch(cli: Cli) -> Result<Exit, CommandError> {
    let is_plan = matches!(cli.command, Command::Plan(_));
    let outcome = run_command(cli).await;
    if is_plan {
        outcome.map_err(|e| CommandError::Plan(Box::new(e)))
    } else {
        outcome
    }
}

async fn run_command(mut cli: Cli) -> Result<Exit, CommandError> {
    // Kept until the command is done: the file is removed when dropped.
    let _from_port = if cli.mapping_from_port {
        let file = mapping_from_port(&cli.command).await?;
        cli.files.given_mapping = Some(file.path.clone());
        Some(file)
    } else {
        None
    };
    let files = &cli.files;
    match cli.command {
        Command::Validate => Ok(validate::run(files)?),
        Command::Map(args) => Ok(map::run(files, &args)?),
        Command::Resync(args) if args.dry_run => Ok(dry_run::run(files, &args).await?),
        Command::Resync(_) => resync::run(files).await,
        Command::Plan(args) => plan::run(files, &args).await,
        Command::Run(args) => run::run(files, &args).await,
        Command::Healthcheck(args) => Ok(healthcheck::run(args.url.as_deref()).await),
        Command::ServeActions(args) => serve_actions::run(files, &args).await,
        Command::ServeEvents(args) => serve_events::run(files, &args).await,
    }
}

/// `--mapping-from-port`: the mapping stored in Port, for the commands that write nothing
/// to Port (`plan`, `resync --dry-run`, `map`, `validate`).
async fn mapping_from_port(command: &Command) -> Result<PortMappingFile, SetupError> {
    let offline = matches!(
        command,
        Command::Validate
            | Command::Map(_)
            | Command::Plan(_)
            | Command::Resync(ResyncArgs { dry_run: true, .. })
    );
    if !offline {
        return Err(SetupError::Usage(
            "--mapping-from-port applies to plan, resync --dry-run, map and validate; resync and run \
             take the mapping from MAPPING_SOURCE"
                .to_owned(),
        ));
    }
    crate::integration::from_port::fetch()
        .await
        .map_err(SetupError::Integration)
}

/// Prints why the command stopped, once, and gives its exit code.
pub fn report(outcome: Result<Exit, CommandError>) -> Exit {
    match outcome {
        Ok(exit) => exit,
        Err(error) => {
            for message in error.messages() {
                eprintln!("error: {message}");
            }
            error.exit()
        }
    }
}

/// One entity as a line of NDJSON: the one serialization `resync --dry-run` and `map` print.
pub fn write_entity(out: &mut impl Write, entity: &Entity) -> io::Result<()> {
    serde_json::to_writer(&mut *out, entity)?;
    out.write_all(b"\n")
}

/// The AWS sources of a one-shot command, from the process environment.
pub async fn aws_sources() -> Result<AwsSources, SetupError> {
    let settings = AwsSettings::from_settings(&Env::process())?;
    Ok(AwsSources::load(&settings).await?)
}
