//! `resync` (and EVENT_LISTENER_TYPE=ONCE): register, take the mapping from where
//! MAPPING_SOURCE says, resync once, and report the resync's state to Port.

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{CommandError, Exit};
use crate::app::{Loaded, SetupError, shutdown};
use crate::aws::{AwsSources, Kind};
use crate::integration::{Ended, IntegrationSettings, PortIntegration, StartError};
use crate::port::PortClient;
use crate::sync::Resync;
use crate::sync::empty_reads::DeletionSettings;

/// Everything the one-shot resync needs, loaded and checked.
pub struct OneShot<'a> {
    pub loaded: Loaded,
    pub mapping_file: &'a Path,
    pub port: PortClient,
    pub sources: AwsSources,
    pub bootstrap_blueprints: bool,
    pub settings: IntegrationSettings,
    pub deletion: DeletionSettings,
}

impl OneShot<'_> {
    pub async fn run(self) -> Result<Exit, CommandError> {
        let integration =
            match PortIntegration::register(&self.port, &self.settings, self.mapping_file, None)
                .await
            {
                Ok(integration) => integration,
                Err(StartError::Config(e)) => {
                    return Err(SetupError::Integration(format!("{e}; nothing was written")).into());
                }
                Err(e) => return Err(CommandError::Integration(e)),
            };
        let report = integration.state_report(jiff::Timestamp::now());
        // Read from the record as registration found it, before this resync reports its start:
        // the only memory a CronJob's runs share (see `integration::empty_reads`).
        let empty_before = integration.empty_reads_in_port();
        integration.report_state(&report.running()).await;
        let file_mapping = Arc::new(self.loaded.mapping);
        let chosen = integration
            .mapping_for_resync(&file_mapping, &self.loaded.blueprints, |k| {
                Kind::from_name(k).is_some()
            })
            .await;
        let (mapping, origin) = match chosen {
            Ok(chosen) => chosen,
            Err(e) => {
                let ended = report.ended(Ended::CouldNotStart, jiff::Timestamp::now());
                integration.report_state(&ended).await;
                integration
                    .post_logs(Ended::CouldNotStart, Err(&e.to_string()))
                    .await;
                return Err(CommandError::PortMapping(e));
            }
        };
        tracing::info!(mapping = %origin, "resync uses {origin}");
        let cancel = CancellationToken::new();
        let signal = tokio::spawn({
            let cancel = cancel.clone();
            async move {
                shutdown::signal().await;
                cancel.cancel();
            }
        });
        let resync = Resync {
            mapping: &mapping,
            blueprints: &self.loaded.blueprints,
            sources: &self.sources,
            port: &self.port,
            bootstrap_blueprints: self.bootstrap_blueprints,
            deletion: self.deletion,
            empty_before: &empty_before,
        };
        let outcome = resync.run_until(&cancel).await;
        signal.abort();
        let (result, ended) = match outcome {
            Ok(resynced) => {
                eprint!("{}", resynced.render());
                let (exit, ended) = if resynced.cancelled {
                    (Exit::Failures, Ended::Interrupted)
                } else if resynced.is_success() {
                    (Exit::Success, Ended::Synced)
                } else {
                    (Exit::Failures, Ended::WithErrors)
                };
                integration
                    .store_empty_reads(&resynced.empty_reads, report.started)
                    .await;
                integration
                    .report_metrics(&resynced, &mapping, ended, report.started)
                    .await;
                integration.post_logs(ended, Ok(&resynced)).await;
                (Ok(exit), ended)
            }
            Err(e) => {
                integration
                    .post_logs(Ended::CouldNotStart, Err(&e.to_string()))
                    .await;
                (Err(CommandError::Resync(e)), Ended::CouldNotStart)
            }
        };
        integration
            .report_state(&report.ended(ended, jiff::Timestamp::now()))
            .await;
        result
    }
}
