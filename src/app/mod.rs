//! What the commands start from, below all of them: settings, the mapping and blueprints,
//! the AWS sources and the Port client, the Port credentials check, signals and draining.
//!
//! Everything here returns values and errors ([`SetupError`]) and prints nothing: the one
//! place that prints an error and picks the exit code is `main`.

pub mod error;
pub mod files;
pub mod health;
pub mod port_check;
pub mod schedule;
pub mod settings;
pub mod shutdown;
pub mod startup;

pub use error::{ServiceError, SetupError};
pub use files::{Loaded, load_files};
pub use settings::DaemonSettings;
pub use startup::Startup;
