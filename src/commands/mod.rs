//! One module per subcommand, the dispatch, and what a command's end means for the exit code.

pub mod dry_run;
pub mod healthcheck;
pub mod map;
pub mod raw_dump;
pub mod resync;
pub mod run;
pub mod serve_actions;
pub mod validate;

use std::io::{self, Write};
use std::process::ExitCode;

use crate::app::{ServiceError, SetupError};
use crate::aws::{AwsSettings, AwsSources};
use crate::cli::{Cli, Command};
use crate::config::Env;
use crate::entity::Entity;
use crate::sync::ResyncError;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything synced.
    Success = 0,
    /// Finished, but some scope, item or write failed.
    Failures = 1,
    /// Bad configuration or usage; nothing was fetched or written.
    Config = 2,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
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
}

impl CommandError {
    pub fn exit(&self) -> Exit {
        match self {
            CommandError::Setup(_) => Exit::Config,
            CommandError::Resync(e) if e.is_configuration() => Exit::Config,
            CommandError::Service(ServiceError::Setup(_)) => Exit::Config,
            CommandError::Resync(_) | CommandError::Service(ServiceError::Stopped(_)) => {
                Exit::Failures
            }
        }
    }

    pub fn messages(&self) -> Vec<String> {
        match self {
            CommandError::Setup(e) | CommandError::Service(ServiceError::Setup(e)) => e.messages(),
            other => vec![other.to_string()],
        }
    }
}

/// Runs the command the user asked for.
pub async fn dispatch(cli: Cli) -> Result<Exit, CommandError> {
    let files = &cli.files;
    match cli.command {
        Command::Validate => Ok(validate::run(files)?),
        Command::Map(args) => Ok(map::run(files, &args)?),
        Command::Resync(args) if args.dry_run => Ok(dry_run::run(files, &args).await?),
        Command::Resync(_) => resync::run(files).await,
        Command::Run(args) => run::run(files, &args).await,
        Command::Healthcheck(args) => Ok(healthcheck::run(args.url.as_deref()).await),
        Command::ServeActions(args) => serve_actions::run(files, &args).await,
    }
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
