//! Whether Port takes our credentials, checked once at start by the long-running commands
//! (`resync` finds out with its first request).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::SetupError;
use crate::blueprints::Blueprints;
use crate::port::{PortClient, PortError};

/// One attempt: with `bootstrap`, create the blueprints missing in Port (which needs accepted
/// credentials too); otherwise read one of our blueprints.
pub async fn probe(
    port: &PortClient,
    blueprints: &Blueprints,
    bootstrap: bool,
) -> Result<(), PortError> {
    if bootstrap {
        return crate::sync::resync::ensure_blueprints(port, blueprints).await;
    }
    let probe = blueprints
        .by_id
        .keys()
        .next()
        .map_or("awsAccount", String::as_str);
    port.get_blueprint(probe).await.map(|_| ())
}

/// [`probe`] until it works (backing off up to 30 s) or `shutdown` fires. Credentials Port
/// refuses are a configuration error; Port being briefly unreachable is not.
pub async fn wait_for_port(
    port: &PortClient,
    blueprints: &Blueprints,
    bootstrap: bool,
    shutdown: &CancellationToken,
) -> Result<(), SetupError> {
    let mut wait = Duration::from_secs(1);
    loop {
        match probe(port, blueprints, bootstrap).await {
            Ok(()) => return Ok(()),
            Err(e) if e.refuses_credentials() => return Err(SetupError::PortCredentials(e)),
            Err(e) => {
                tracing::warn!(error = %e, retry_in_seconds = wait.as_secs(), "Port is not reachable yet; not ready");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// [`probe`] once: refused credentials stop the start; an unreachable Port is only logged
/// (each action run reports to Port on its own, with retries).
pub async fn check_once(port: &PortClient, blueprints: &Blueprints) -> Result<(), SetupError> {
    match probe(port, blueprints, false).await {
        Err(e) if e.refuses_credentials() => Err(SetupError::PortCredentials(e)),
        Err(e) => {
            tracing::warn!(error = %e, "Port is not reachable yet; runs will retry when they report");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}
