//! Why a command could not start. Each variant names the file, setting or address at fault;
//! a command that fails this way has fetched and written nothing (exit code 2).

use std::path::PathBuf;

use crate::aws::AwsSetupError;
use crate::blueprints::BlueprintError;
use crate::config::SettingError;
use crate::mapping::MappingError;
use crate::port::PortError;
use crate::validate::Problem;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Setting(#[from] SettingError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Blueprints(#[from] BlueprintError),
    /// The mapping does not fit the blueprints (`validate`'s problems).
    #[error("{}: {}", .file.display(), .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
    #[error(transparent)]
    Aws(#[from] AwsSetupError),
    /// The Port client could not be built (e.g. a malformed base URL).
    #[error(transparent)]
    PortClient(PortError),
    #[error("Port refused our credentials (PORT_CLIENT_ID / PORT_CLIENT_SECRET): {0}")]
    PortCredentials(PortError),
    #[error("LISTEN_ADDR: cannot listen on {addr}: {error}")]
    Listen {
        addr: std::net::SocketAddr,
        error: std::io::Error,
    },
    /// The integration in Port cannot be used: the mapping stored there is bad or empty, or
    /// Port refused our credentials while registering.
    #[error("{0}")]
    Integration(String),
    /// A live-events setting (LIVE_EVENTS_*) that cannot work.
    #[error("{0}")]
    LiveEvents(String),
    /// A command-line value that makes no sense (e.g. an unknown `--kind`).
    #[error("{0}")]
    Usage(String),
}

impl SetupError {
    /// One message per line to show, each prefixed with `error: ` by the caller: every
    /// mapping problem gets its own line.
    pub fn messages(&self) -> Vec<String> {
        match self {
            SetupError::Invalid { file, problems } => problems
                .iter()
                .map(|problem| format!("{}: {problem}", file.display()))
                .collect(),
            other => vec![other.to_string()],
        }
    }
}

/// Why a long-running command stopped other than by a signal.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// It could not start: nothing was fetched or written.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// It started, and then a part it cannot run without failed.
    #[error("{0}")]
    Stopped(String),
}
