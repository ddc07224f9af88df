//! The daemon as a Port integration: registered at start, the resync state and the mapping
//! of each resync, and EVENT_LISTENER_TYPE=ONCE.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::state::{Daemon, NotStarted, ResyncResult, Trigger};
use crate::app::schedule::Schedule;
use crate::app::{DaemonSettings, ServiceError, SetupError};
use crate::aws::Kind;
use crate::blueprints::Blueprints;
use crate::integration::{
    Ended, ListenerType, PortIntegration, ResyncMappingError, ResyncStateReport, StartError,
};
use crate::mapping::Mapping;
use crate::port::PortClient;

/// Registers the daemon's integration, retrying while Port is unreachable; `Ok(None)` on
/// shutdown.
pub async fn register(
    port: &PortClient,
    settings: &DaemonSettings,
    shutdown: &CancellationToken,
) -> Result<Option<Arc<PortIntegration>>, ServiceError> {
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
        Err(StartError::Config(e)) => Err(SetupError::Integration(e).into()),
        Err(e) => Err(ServiceError::Stopped(e.to_string())),
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
) -> Result<Arc<Mapping>, ResyncMappingError> {
    let Some(integration) = integration else {
        return Ok(file_mapping.clone());
    };
    let (mapping, origin) = integration
        .mapping_for_resync(file_mapping, blueprints, |k| Kind::from_name(k).is_some())
        .await?;
    tracing::info!(mapping = %origin, "resync uses {origin}");
    Ok(mapping)
}

/// How the daemon's results map to Port's states.
pub fn ended(result: ResyncResult) -> Ended {
    match result {
        ResyncResult::Success => Ended::Synced,
        ResyncResult::Failure => Ended::WithErrors,
        ResyncResult::Cancelled => Ended::Interrupted,
        ResyncResult::Error => Ended::CouldNotStart,
    }
}

/// Reports the end state, the outcome's log lines and, when the resync ran, its per-kind
/// counts; `resynced` is the report and its mapping, or why it could not start.
pub async fn resync_ended(
    integration: Option<&Arc<PortIntegration>>,
    state: Option<ResyncStateReport>,
    result: ResyncResult,
    resynced: Result<(&crate::sync::ResyncReport, &Mapping), &str>,
) {
    if let (Some(integration), Some(state)) = (integration, state) {
        let ended = ended(result);
        if let Ok((report, mapping)) = resynced {
            integration
                .store_empty_reads(&report.empty_reads, state.started)
                .await;
            integration
                .report_metrics(report, mapping, ended, state.started)
                .await;
        }
        integration
            .post_logs(ended, resynced.map(|(report, _)| report))
            .await;
        let update = state.ended(ended, jiff::Timestamp::now());
        integration.report_state(&update).await;
    }
}

pub fn is_once(settings: &DaemonSettings) -> bool {
    settings.integration.listener == ListenerType::Once
}

/// EVENT_LISTENER_TYPE=ONCE: one resync, then the daemon stops; `Err` says how it went
/// wrong. As for `resync`: a resync that could not start for its configuration (a bad
/// mapping in Port, credentials refused) exits 2; one Port or AWS kept from starting, 1.
pub async fn run_once(
    daemon: &Arc<Daemon>,
    shutdown: &CancellationToken,
) -> Result<(), ServiceError> {
    if !daemon.is_running() && daemon.last_resync().is_none() {
        let _ = daemon.request(Trigger::Start);
    }
    loop {
        if let Some(last) = daemon.last_resync().filter(|_| !daemon.is_running()) {
            shutdown.cancel();
            let why = last.error.clone().unwrap_or_default();
            return match ended(last.result) {
                Ended::Synced => Ok(()),
                Ended::CouldNotStart if last.not_started == Some(NotStarted::Configuration) => {
                    Err(SetupError::Integration(why).into())
                }
                Ended::CouldNotStart if last.error.is_some() => Err(ServiceError::Stopped(
                    format!("the resync could not start: {why}"),
                )),
                _ => Err(ServiceError::Stopped(format!(
                    "the resync finished with result {}",
                    last.result.as_str()
                ))),
            };
        }
        tokio::select! {
            () = shutdown.cancelled() => {
                return Err(ServiceError::Stopped("stopped before the resync ended".into()));
            }
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_results_map_to_ports_states() {
        assert_eq!(ended(ResyncResult::Success), Ended::Synced);
        assert_eq!(ended(ResyncResult::Failure), Ended::WithErrors);
        assert_eq!(ended(ResyncResult::Cancelled), Ended::Interrupted);
        assert_eq!(ended(ResyncResult::Error), Ended::CouldNotStart);
    }
}
