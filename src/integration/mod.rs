//! Being a Port integration, as Ocean integrations are: registered in Port (Data Sources),
//! the mapping kept in Port and edited in its UI, resyncs started from Port ("Save & Resync",
//! resync requests) by polling, and each resync's state reported back.
//!
//! The decisions are values ([`registration::plan`], [`changes::ChangeDetector`],
//! [`resync_state::Ended`]); [`PortIntegration`] carries them out for the commands and the
//! daemon, which call into it at a few places.

pub mod changes;
pub mod empty_reads;
pub mod from_port;
pub mod mapping_source;
pub mod poll;
pub mod queue;
pub mod registration;
pub mod resync_logs;
pub mod resync_state;
pub mod settings;
pub mod sync_metrics;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::blueprints::Blueprints;
use crate::mapping::{CurrentMapping, Mapping};
use crate::port::{IntegrationRecord, PortClient, PortError, ResyncStateUpdate};
use crate::sync::empty_reads::EmptyReads;
pub use changes::{ChangeDetector, Observed, Reason};
pub use mapping_source::{MappingOrigin, PortMappingError};
pub use queue::OneQueued;
pub use resync_state::{Ended, ResyncStateReport};
pub use settings::{IntegrationSettings, ListenerType, MappingSource};

/// Why the integration could not be registered.
#[derive(Debug)]
pub enum StartError {
    /// A configuration problem (exit 2): the mapping file, or credentials Port refuses.
    Config(String),
    /// Port could not be reached or refused a call.
    Port(PortError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(e) => f.write_str(e),
            StartError::Port(e) => write!(f, "registering the integration in Port failed: {e}"),
        }
    }
}

fn port_error(e: PortError) -> StartError {
    if e.refuses_credentials() {
        StartError::Config(format!(
            "Port refused our credentials (PORT_CLIENT_ID / PORT_CLIENT_SECRET): {e}"
        ))
    } else {
        StartError::Port(e)
    }
}

/// Why a resync cannot take its mapping from Port; it starts nothing and writes nothing.
#[derive(Debug)]
pub enum ResyncMappingError {
    /// Port could not be read (unreachable, or failing): the next resync may succeed.
    Unreadable(PortError),
    /// The integration was removed from Port.
    Gone { integration: String },
    /// Port's mapping cannot be used: bad, empty or never set.
    Mapping(PortMappingError),
}

impl std::fmt::Display for ResyncMappingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResyncMappingError::Unreadable(e) => {
                write!(f, "reading the mapping from Port failed: {e}")
            }
            ResyncMappingError::Gone { integration } => {
                write!(f, "integration {integration} no longer exists in Port")
            }
            ResyncMappingError::Mapping(e) => e.fmt(f),
        }
    }
}

impl ResyncMappingError {
    /// A configuration problem (exit 2) rather than Port being unavailable (exit 1).
    pub fn is_configuration(&self) -> bool {
        match self {
            ResyncMappingError::Unreadable(e) => e.refuses_credentials(),
            ResyncMappingError::Gone { .. } | ResyncMappingError::Mapping(_) => true,
        }
    }
}

/// This program's integration in Port, registered.
pub struct PortIntegration {
    port: PortClient,
    settings: IntegrationSettings,
    mapping_file: PathBuf,
    file_config: Value,
    record: Mutex<IntegrationRecord>,
    schedule_interval: Option<Duration>,
    poll_failures: AtomicU64,
    shared: OnceLock<SharedMapping>,
    /// The empty-read guard's memory as the record held it at registration, before any
    /// resync of this process reported its start.
    port_memory: empty_reads::Memory,
    /// Whether the record holds empty reads now (an empty answer must then clear them).
    port_holds_empty_reads: AtomicBool,
}

/// The mapping the parts between resyncs use (action runs, live events), kept to Port's.
struct SharedMapping {
    current: Arc<CurrentMapping>,
    blueprints: Blueprints,
    /// Port's config `current` was last given (or found unusable), canonical.
    config: Mutex<Value>,
}

impl PortIntegration {
    /// Registers (or takes over) the integration: see [`registration::plan`]. The mapping file
    /// was validated before; `schedule_interval` is what Port shows as the resync interval.
    pub async fn register(
        port: &PortClient,
        settings: &IntegrationSettings,
        mapping_file: &Path,
        schedule_interval: Option<Duration>,
    ) -> Result<Self, StartError> {
        let file_config = mapping_source::file_as_json(mapping_file).map_err(StartError::Config)?;
        let wanted = registration::Wanted {
            app_type: settings.integration_type.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            file_config: file_config.clone(),
            source: settings.mapping_source,
            initialize_port_resources: settings.initialize_port_resources,
        };
        let record = registration::register(port, &wanted)
            .await
            .map_err(port_error)?;
        let port_memory = empty_reads::from_record(&record);
        if matches!(
            port_memory,
            empty_reads::Memory::Stale { .. } | empty_reads::Memory::Unreadable
        ) {
            tracing::warn!("{port_memory}");
        }
        let port_holds_empty_reads = AtomicBool::new(empty_reads::holds_some(&record));
        let integration = PortIntegration {
            port: port.clone(),
            settings: settings.clone(),
            mapping_file: mapping_file.to_owned(),
            file_config,
            record: Mutex::new(record),
            schedule_interval,
            poll_failures: AtomicU64::new(0),
            shared: OnceLock::new(),
            port_memory,
            port_holds_empty_reads,
        };
        integration.log_mapping_source();
        Ok(integration)
    }

    /// [`Self::register`], retried while Port is unreachable; `Ok(None)` on shutdown.
    pub async fn register_until_done(
        port: &PortClient,
        settings: &IntegrationSettings,
        mapping_file: &Path,
        schedule_interval: Option<Duration>,
        shutdown: &CancellationToken,
    ) -> Result<Option<Self>, StartError> {
        let mut wait = Duration::from_secs(1);
        loop {
            match Self::register(port, settings, mapping_file, schedule_interval).await {
                Ok(registered) => return Ok(Some(registered)),
                Err(StartError::Port(e)) => {
                    tracing::warn!(error = %e, retry_in_seconds = wait.as_secs(), "cannot register the integration in Port yet; not ready");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(None),
                        () = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
                Err(config) => return Err(config),
            }
        }
    }

    fn log_mapping_source(&self) {
        let id = self.port.integration_identifier();
        let record = lock(&self.record);
        match self.settings.mapping_source {
            MappingSource::Port => {
                let same =
                    changes::canonical(&record.config) == changes::canonical(&self.file_config);
                tracing::info!(
                    integration = id,
                    mapping_file = %self.mapping_file.display(),
                    "MAPPING_SOURCE=port: every resync uses the mapping stored in Port; the local mapping file only seeds an empty record{}",
                    if same { "" } else { " (it differs from Port's mapping and is not used)" }
                );
            }
            MappingSource::File => tracing::info!(
                integration = id,
                mapping_file = %self.mapping_file.display(),
                "MAPPING_SOURCE=file: every resync uses the local mapping file; edits made in Port are overwritten with it"
            ),
        }
    }

    /// With MAPPING_SOURCE=port, `current` (the file's until now) takes Port's mapping now
    /// and each time a poll or a resync reads a new one; a mapping in Port that cannot be used
    /// leaves it as it was. With MAPPING_SOURCE=file it stays the file's.
    pub fn share_mapping(&self, current: Arc<CurrentMapping>, blueprints: &Blueprints) {
        if self.settings.mapping_source == MappingSource::File {
            return;
        }
        let shared = SharedMapping {
            current,
            blueprints: blueprints.clone(),
            config: Mutex::new(Value::Null),
        };
        if self.shared.set(shared).is_ok() {
            let config = self.record().config;
            self.refresh_shared(&config);
        }
    }

    /// Compiles Port's `config` for the shared mapping when it changed since last time.
    fn refresh_shared(&self, config: &Value) {
        let Some(shared) = self.shared.get() else {
            return;
        };
        let canonical = changes::canonical(config);
        {
            let mut last = lock(&shared.config);
            if *last == canonical {
                return;
            }
            *last = canonical;
        }
        match mapping_source::mapping_from_port(
            self.identifier(),
            config,
            &shared.blueprints,
            |k| crate::aws::Kind::from_name(k).is_some(),
        ) {
            Ok((mapping, _)) => {
                shared.current.set(Arc::new(mapping));
                tracing::info!(
                    integration = self.identifier(),
                    "action runs and live events map with Port's mapping as read now"
                );
            }
            Err(e) => tracing::warn!(
                error = %e,
                "Port's mapping cannot be used; action runs and live events keep the mapping they had"
            ),
        }
    }

    /// A resync read and checked `mapping` from Port's `config`: the shared mapping follows.
    fn shared_is(&self, config: &Value, mapping: &Arc<Mapping>) {
        if let Some(shared) = self.shared.get() {
            *lock(&shared.config) = changes::canonical(config);
            shared.current.set(mapping.clone());
        }
    }

    pub fn identifier(&self) -> &str {
        self.port.integration_identifier()
    }

    pub fn settings(&self) -> &IntegrationSettings {
        &self.settings
    }

    /// The record as last read.
    pub fn record(&self) -> IntegrationRecord {
        lock(&self.record).clone()
    }

    /// Polls that failed since start.
    pub fn poll_failures(&self) -> u64 {
        self.poll_failures.load(Ordering::Relaxed)
    }

    /// The mapping one resync uses: the file's (MAPPING_SOURCE=file) or Port's, read now and
    /// checked as a file is. `Err` says why the resync must not start.
    pub async fn mapping_for_resync(
        &self,
        file_mapping: &Arc<Mapping>,
        blueprints: &Blueprints,
        is_supported: impl Fn(&str) -> bool,
    ) -> Result<(Arc<Mapping>, MappingOrigin), ResyncMappingError> {
        if self.settings.mapping_source == MappingSource::File {
            return Ok((
                file_mapping.clone(),
                MappingOrigin::File(self.mapping_file.clone()),
            ));
        }
        let record = match self.port.get_integration().await {
            Ok(Some(record)) => record,
            Ok(None) => {
                return Err(ResyncMappingError::Gone {
                    integration: self.identifier().to_owned(),
                });
            }
            Err(e) => return Err(ResyncMappingError::Unreadable(e)),
        };
        *lock(&self.record) = record.clone();
        let (mapping, warnings) = mapping_source::mapping_from_port(
            self.identifier(),
            &record.config,
            blueprints,
            is_supported,
        )
        .map_err(ResyncMappingError::Mapping)?;
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        let origin = MappingOrigin::Port {
            integration: self.identifier().to_owned(),
            updated_at: record.updated_at.clone(),
        };
        let mapping = Arc::new(mapping);
        self.shared_is(&record.config, &mapping);
        Ok((mapping, origin))
    }

    /// The scopes the resync before this process's first one read empty, as Port remembers
    /// them (see [`empty_reads`]); none when Port's memory is missing or not trusted.
    pub fn empty_reads_in_port(&self) -> EmptyReads {
        self.port_memory.empty_reads()
    }

    /// Stores the empty reads of the resync that started at `started` (and reported it) in
    /// the record, for the next run; one PATCH, none when there is nothing to store or
    /// clear. Best effort: a failure is logged, and the next run holds its empty reads again.
    pub async fn store_empty_reads(&self, reads: &EmptyReads, started: jiff::Timestamp) {
        if reads.is_empty() && !self.port_holds_empty_reads.load(Ordering::Relaxed) {
            return;
        }
        let spec = empty_reads::spec_with(self.record().spec.as_ref(), reads, started);
        let mut fields = serde_json::Map::new();
        fields.insert("spec".into(), spec);
        match self.port.patch_integration(fields).await {
            Ok(record) => {
                self.port_holds_empty_reads
                    .store(!reads.is_empty(), Ordering::Relaxed);
                *lock(&self.record) = record;
            }
            Err(e) => tracing::warn!(
                error = %e,
                "could not store the empty reads in Port; the next run holds them back again"
            ),
        }
    }

    pub fn state_report(&self, started: jiff::Timestamp) -> ResyncStateReport {
        ResyncStateReport::new(started, self.schedule_interval)
    }

    /// Best effort: failures are logged.
    pub async fn report_state(&self, update: &ResyncStateUpdate) {
        resync_state::report(&self.port, update).await;
    }

    /// Posts the raw examples of a finished resync, then its per-kind counts where the
    /// record's `metricAttributes.ingestUrl` says; best effort, failures logged.
    pub async fn report_metrics(
        &self,
        report: &crate::sync::ResyncReport,
        mapping: &Mapping,
        ended: Ended,
        started: jiff::Timestamp,
    ) {
        self.post_examples(report).await;
        let Some(url) = self.record().metric_ingest_url else {
            return;
        };
        let event_id = format!("{}-{}", self.identifier(), started.as_millisecond());
        let sender = sync_metrics::Sender {
            integration_type: &self.settings.integration_type,
            identifier: self.identifier(),
            event_id: &event_id,
        };
        let seconds = (jiff::Timestamp::now() - started).get_milliseconds() as f64 / 1000.0;
        let kinds = sync_metrics::kind_metrics(report, mapping, &sender, ended, seconds);
        if let Err(e) = self.port.post_sync_metrics(&url, &kinds).await {
            tracing::warn!(error = %e, "could not send the resync's per-kind counts to Port");
        }
    }

    /// Posts how the resync ended and its summary to the record's `logAttributes.ingestUrl`,
    /// where Port's UI shows the integration's logs; best effort, failures logged.
    pub async fn post_logs(&self, ended: Ended, outcome: Result<&crate::sync::ResyncReport, &str>) {
        let Some(url) = self.record().log_ingest_url else {
            return;
        };
        let logs = resync_logs::entries(self.identifier(), ended, outcome, jiff::Timestamp::now());
        if let Err(e) = self.port.ingest_logs(&url, &logs).await {
            tracing::warn!(error = %e, "could not send the resync's log lines to Port");
        }
    }

    /// Posts up to five raw items per fetched kind, so Port's mapping editor has sample data
    /// to test a mapping against; best effort, failures logged.
    pub async fn post_examples(&self, report: &crate::sync::ResyncReport) {
        for (kind, summary) in &report.extraction.kinds {
            if summary.examples.is_empty() {
                continue;
            }
            if let Err(e) = self
                .port
                .post_kind_examples(kind.as_str(), &summary.examples)
                .await
            {
                tracing::warn!(kind = kind.as_str(), error = %e, "could not send raw examples to Port");
            }
        }
    }

    /// One poll: the record and the latest resync request (two GETs). With
    /// MAPPING_SOURCE=file, a mapping edited in Port is put back to the file's.
    pub async fn observe(&self) -> Result<Observed, PortError> {
        let record =
            self.port
                .get_integration()
                .await?
                .ok_or_else(|| PortError::UnexpectedResponse {
                    operation: crate::port::operation::GET_INTEGRATION,
                    detail: format!("integration {} no longer exists in Port", self.identifier()),
                })?;
        let request = self.port.get_resync_request().await?;
        if self.settings.mapping_source == MappingSource::File
            && changes::canonical(&record.config) != changes::canonical(&self.file_config)
        {
            tracing::info!(
                integration = self.identifier(),
                "MAPPING_SOURCE=file: the mapping was edited in Port; putting the file's back"
            );
            self.port
                .patch_integration_config(&self.file_config)
                .await?;
        }
        let observed = Observed {
            config: record.config.clone(),
            request,
        };
        self.refresh_shared(&record.config);
        *lock(&self.record) = record;
        Ok(observed)
    }

    /// Polls every `EVENT_LISTENER_INTERVAL_SECONDS` until `shutdown`, calling `on_change`
    /// when a resync is due. The baseline is what Port has when it starts.
    pub async fn poll(
        self: Arc<Self>,
        on_change: impl FnMut(Reason),
        mut on_failure: impl FnMut(),
        shutdown: CancellationToken,
    ) {
        let baseline = match self.observe().await {
            Ok(observed) => observed,
            Err(e) => {
                tracing::warn!(error = %e, "polling the integration in Port failed; trying again next interval");
                self.poll_failures.fetch_add(1, Ordering::Relaxed);
                on_failure();
                Observed {
                    config: self.record().config,
                    request: None,
                }
            }
        };
        let detector = ChangeDetector::new(self.settings.mapping_source, &baseline);
        let fetcher = self.clone();
        let counter = self.clone();
        poll::poll_loop(
            self.settings.poll_interval,
            detector,
            move || {
                let fetcher = fetcher.clone();
                async move { fetcher.observe().await }
            },
            on_change,
            move |_| {
                counter.poll_failures.fetch_add(1, Ordering::Relaxed);
                on_failure();
            },
            shutdown,
        )
        .await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
