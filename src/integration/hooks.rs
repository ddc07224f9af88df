//! The daemon's calls into the integration, kept here so the daemon carries only one line at
//! each place: register at start, the resync state and mapping of each resync, ONCE.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Ended, ListenerType, PortIntegration, ResyncStateReport, StartError};
use crate::aws::Kind;
use crate::blueprints::Blueprints;
use crate::cli::Exit;
use crate::daemon::schedule::Schedule;
use crate::daemon::settings::DaemonSettings;
use crate::daemon::{Daemon, Trigger};
use crate::mapping::Mapping;
use crate::port::PortClient;

/// Registers the daemon's integration, retrying while Port is unreachable; `Ok(None)` on
/// shutdown, `Err` (after printing why) is the exit code.
pub async fn register(
    port: &PortClient,
    settings: &DaemonSettings,
    shutdown: &CancellationToken,
) -> Result<Option<Arc<PortIntegration>>, Exit> {
    let interval = match settings.schedule {
        Schedule::Every(every) => Some(every),
        Schedule::Cron { .. } => None,
    };
    match PortIntegration::register_until_done(
        port,
        &settings.integration,
        &settings.mapping,
        interval,
        shutdown,
    )
    .await
    {
        Ok(registered) => Ok(registered.map(Arc::new)),
        Err(StartError::Config(e)) => {
            eprintln!("error: {e}");
            Err(Exit::Config)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(Exit::Failures)
        }
    }
}

/// Reports `running`; the returned report is handed to [`resync_ended`].
pub async fn resync_started(
    integration: Option<&Arc<PortIntegration>>,
) -> Option<ResyncStateReport> {
    let integration = integration?;
    let report = integration.state_report(jiff::Timestamp::now());
    integration.report_state(&report.running()).await;
    Some(report)
}

/// The mapping of this resync, with a log line saying which one it is.
pub async fn mapping(
    integration: Option<&Arc<PortIntegration>>,
    file_mapping: &Arc<Mapping>,
    blueprints: &Blueprints,
) -> Result<Arc<Mapping>, String> {
    let Some(integration) = integration else {
        return Ok(file_mapping.clone());
    };
    let (mapping, origin) = integration
        .mapping_for_resync(file_mapping, blueprints, |k| Kind::from_name(k).is_some())
        .await?;
    tracing::info!(mapping = %origin, "resync uses {origin}");
    Ok(mapping)
}

/// How the daemon's result names map to Port's states.
pub fn ended(result: &str) -> Ended {
    match result {
        "success" => Ended::Synced,
        "failure" => Ended::WithErrors,
        "cancelled" => Ended::Interrupted,
        _ => Ended::CouldNotStart,
    }
}

/// Reports the end state and, when the resync ran, its per-kind counts.
pub async fn resync_ended(
    integration: Option<&Arc<PortIntegration>>,
    state: Option<ResyncStateReport>,
    result: &str,
    resynced: Option<(&crate::sync::ResyncReport, &Mapping)>,
) {
    if let (Some(integration), Some(state)) = (integration, state) {
        let ended = ended(result);
        if let Some((report, mapping)) = resynced {
            integration
                .report_metrics(report, mapping, ended, state.started)
                .await;
        }
        let update = state.ended(ended, jiff::Timestamp::now());
        integration.report_state(&update).await;
    }
}

pub fn is_once(settings: &DaemonSettings) -> bool {
    settings.integration.listener == ListenerType::Once
}

/// EVENT_LISTENER_TYPE=ONCE: one resync, then the daemon stops with its exit code.
pub async fn run_once(daemon: &Arc<Daemon>, shutdown: &CancellationToken) -> Exit {
    if !daemon.is_running() && daemon.last_resync().is_none() {
        let _ = daemon.request(Trigger::Start);
    }
    loop {
        if let Some(last) = daemon.last_resync().filter(|_| !daemon.is_running()) {
            shutdown.cancel();
            return match ended(last.result) {
                Ended::Synced => Exit::Success,
                Ended::CouldNotStart if last.error.is_some() => Exit::Config,
                _ => Exit::Failures,
            };
        }
        tokio::select! {
            () = shutdown.cancelled() => return Exit::Failures,
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_results_map_to_ports_states() {
        assert_eq!(ended("success"), Ended::Synced);
        assert_eq!(ended("failure"), Ended::WithErrors);
        assert_eq!(ended("cancelled"), Ended::Interrupted);
        assert_eq!(ended("error"), Ended::CouldNotStart);
    }
}
