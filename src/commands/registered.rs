//! What `serve-actions` and `serve-events` share: registered in Port as `run` is, and the
//! mapping MAPPING_SOURCE names kept current by polling the integration (no resync runs in
//! either).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::CommandError;
use crate::app::{DaemonSettings, SetupError};
use crate::blueprints::Blueprints;
use crate::integration::{PortIntegration, StartError};
use crate::mapping::CurrentMapping;
use crate::port::PortClient;

/// Registers the integration and shares its mapping with `current`, then polls Port until
/// the returned token is cancelled. `command` names the command in the log line for a
/// resync Port asks for.
pub async fn register_and_follow(
    settings: &DaemonSettings,
    port: &PortClient,
    current: Arc<CurrentMapping>,
    blueprints: &Blueprints,
    command: &'static str,
) -> Result<CancellationToken, CommandError> {
    let integration =
        match PortIntegration::register(port, &settings.integration, &settings.mapping, None).await
        {
            Ok(integration) => Arc::new(integration),
            Err(StartError::Config(e)) => return Err(SetupError::Integration(e).into()),
            Err(e) => return Err(CommandError::Integration(e)),
        };
    integration.share_mapping(current, blueprints);
    let stop_polling = CancellationToken::new();
    tokio::spawn(integration.poll(
        move |reason| {
            tracing::debug!(
                reason = reason.as_str(),
                "Port asks for a resync; {command} runs none"
            )
        },
        || {},
        stop_polling.clone(),
    ));
    Ok(stop_polling)
}
