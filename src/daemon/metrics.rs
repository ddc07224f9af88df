//! Prometheus metrics (prometheus-client: the Prometheus project's own Rust client, no global
//! recorder, few dependencies; it writes the OpenMetrics text format Prometheus scrapes).

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::aws::calls::CallCounts;
use crate::port::ClientStats;
use crate::sync::ResyncReport;

type Labels = Vec<(&'static str, String)>;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub struct Metrics {
    registry: Registry,
    resyncs: Family<Labels, Counter>,
    resync_duration: Histogram,
    skipped: Family<Labels, Counter>,
    running: Gauge,
    last_success: Gauge<f64, AtomicU64>,
    last_finished: Gauge<f64, AtomicU64>,
    entities: Family<Labels, Counter>,
    items: Family<Labels, Counter>,
    aws_scopes: Family<Labels, Counter>,
    aws_requests: Family<Labels, Counter>,
    /// The AWS call counts as last folded in.
    aws_seen: Mutex<CallCounts>,
    port_requests: Family<Labels, Counter>,
    port_retries: Counter,
    port_reauthentications: Counter,
    port_token_fetches: Counter,
    /// The Port client's counters as last folded in, to add only what is new.
    port_seen: Mutex<ClientStats>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("port_aws_sync");
        crate::events::metrics::register(&mut registry);
        let resyncs = Family::<Labels, Counter>::default();
        registry.register(
            "resyncs",
            "Resyncs finished, by result (success, failure: some scope, item or write failed, error: could not start, cancelled: stopped by shutdown)",
            resyncs.clone(),
        );
        let resync_duration = Histogram::new(exponential_buckets(0.5, 2.0, 12));
        registry.register(
            "resync_duration_seconds",
            "How long resyncs took",
            resync_duration.clone(),
        );
        let skipped = Family::<Labels, Counter>::default();
        registry.register(
            "resyncs_skipped",
            "Resync requests skipped because one was running, by trigger (schedule, api)",
            skipped.clone(),
        );
        let running = Gauge::default();
        registry.register("resync_running", "1 while a resync runs", running.clone());
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "last_success_timestamp_seconds",
            "When the last successful resync finished (Unix time)",
            last_success.clone(),
        );
        let last_finished = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "last_resync_timestamp_seconds",
            "When the last resync finished, whatever its result (Unix time)",
            last_finished.clone(),
        );
        let entities = Family::<Labels, Counter>::default();
        registry.register(
            "entities",
            "Entities by blueprint and phase (in_port, mapped, unchanged, created, updated, failed, deleted), summed over resyncs",
            entities.clone(),
        );
        let items = Family::<Labels, Counter>::default();
        registry.register(
            "aws_items",
            "Raw AWS items by kind and phase (fetched, mapped: entities produced, filtered, skipped, failed)",
            items.clone(),
        );
        let aws_scopes = Family::<Labels, Counter>::default();
        registry.register(
            "aws_scopes",
            "AWS fetch scopes (kind x account x region) by result (ok, error)",
            aws_scopes.clone(),
        );
        let aws_requests = Family::<Labels, Counter>::default();
        registry.register(
            "aws_requests",
            "AWS API attempts by service, operation and HTTP status (network_error: no response), retries included; the credentials provider's AssumeRole calls are not counted",
            aws_requests.clone(),
        );
        let port_requests = Family::<Labels, Counter>::default();
        registry.register(
            "port_requests",
            "Port API attempts by operation and HTTP status (network_error: no response), retries included",
            port_requests.clone(),
        );
        let port_retries = Counter::default();
        registry.register(
            "port_retries",
            "Port requests repeated after a retryable failure",
            port_retries.clone(),
        );
        let port_reauthentications = Counter::default();
        registry.register(
            "port_reauthentications",
            "Port requests repeated with a fresh token after a 401",
            port_reauthentications.clone(),
        );
        let port_token_fetches = Counter::default();
        registry.register(
            "port_token_fetches",
            "Port access tokens obtained",
            port_token_fetches.clone(),
        );
        Metrics {
            registry,
            resyncs,
            resync_duration,
            skipped,
            running,
            last_success,
            last_finished,
            entities,
            items,
            aws_scopes,
            aws_requests,
            aws_seen: Mutex::new(CallCounts::default()),
            port_requests,
            port_retries,
            port_reauthentications,
            port_token_fetches,
            port_seen: Mutex::new(ClientStats::default()),
        }
    }

    pub fn set_running(&self, running: bool) {
        self.running.set(i64::from(running));
    }

    pub fn skipped(&self, trigger: &'static str) {
        self.skipped
            .get_or_create(&vec![("trigger", trigger.to_owned())])
            .inc();
    }

    /// Records a finished resync: its result, duration and, when it got that far, its counts.
    pub fn resync_finished(
        &self,
        result: &'static str,
        seconds: f64,
        finished_at: f64,
        report: Option<&ResyncReport>,
    ) {
        self.resyncs
            .get_or_create(&vec![("result", result.to_owned())])
            .inc();
        self.resync_duration.observe(seconds);
        self.last_finished.set(finished_at);
        if result == "success" {
            self.last_success.set(finished_at);
        }
        if let Some(report) = report {
            self.record_report(report);
        }
    }

    fn record_report(&self, report: &ResyncReport) {
        for (blueprint, r) in &report.blueprints {
            for (phase, n) in [
                ("in_port", r.in_port),
                ("mapped", r.mapped),
                ("unchanged", r.unchanged),
                ("created", r.created),
                ("updated", r.updated),
                ("failed", r.failed),
                ("deleted", r.deleted),
            ] {
                self.entities
                    .get_or_create(&vec![
                        ("blueprint", blueprint.clone()),
                        ("phase", phase.to_owned()),
                    ])
                    .inc_by(n);
            }
        }
        for (kind, summary) in &report.extraction.kinds {
            let s = &summary.stats;
            for (phase, n) in [
                ("fetched", s.items),
                ("mapped", s.entities),
                ("filtered", s.filtered),
                ("skipped", s.skipped),
                ("failed", s.failed),
            ] {
                self.items
                    .get_or_create(&vec![
                        ("kind", kind.as_str().to_owned()),
                        ("phase", phase.to_owned()),
                    ])
                    .inc_by(n);
            }
            let scopes = (summary.accounts.len() * summary.regions.len().max(1)) as u64;
            self.aws_scopes
                .get_or_create(&vec![
                    ("kind", kind.as_str().to_owned()),
                    ("result", "ok".to_owned()),
                ])
                .inc_by(scopes);
            self.aws_scopes
                .get_or_create(&vec![
                    ("kind", kind.as_str().to_owned()),
                    ("result", "error".to_owned()),
                ])
                .inc_by(summary.failed_scopes as u64);
        }
    }

    /// Folds in what the Port client counted since the last call.
    pub fn port_stats(&self, now: &ClientStats) {
        let mut seen = self.port_seen.lock().unwrap_or_else(|p| p.into_inner());
        for ((operation, status), n) in &now.responses {
            let before = seen
                .responses
                .get(&(*operation, *status))
                .copied()
                .unwrap_or(0);
            if *n > before {
                self.port_requests
                    .get_or_create(&vec![
                        ("operation", (*operation).to_owned()),
                        ("status", status.to_string()),
                    ])
                    .inc_by(n - before);
            }
        }
        for (operation, n) in &now.network_errors {
            let before = seen.network_errors.get(operation).copied().unwrap_or(0);
            if *n > before {
                self.port_requests
                    .get_or_create(&vec![
                        ("operation", (*operation).to_owned()),
                        ("status", "network_error".to_owned()),
                    ])
                    .inc_by(n - before);
            }
        }
        self.port_retries
            .inc_by(now.retries.saturating_sub(seen.retries));
        self.port_reauthentications
            .inc_by(now.reauthentications.saturating_sub(seen.reauthentications));
        self.port_token_fetches
            .inc_by(now.token_fetches.saturating_sub(seen.token_fetches));
        *seen = now.clone();
    }

    /// Folds in the AWS calls counted since the last call.
    pub fn aws_calls(&self, now: &CallCounts) {
        let mut seen = self.aws_seen.lock().unwrap_or_else(|p| p.into_inner());
        for ((service, operation, status), n) in now {
            let key = (service.clone(), operation.clone(), status.clone());
            let before = seen.get(&key).copied().unwrap_or(0);
            if *n > before {
                self.aws_requests
                    .get_or_create(&vec![
                        ("service", service.clone()),
                        ("operation", operation.clone()),
                        ("status", status.clone()),
                    ])
                    .inc_by(n - before);
            }
        }
        *seen = now.clone();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_stats_are_added_as_deltas() {
        let metrics = Metrics::new();
        let mut stats = ClientStats::default();
        stats.responses.insert(("bulk_upsert", 200), 3);
        stats.retries = 1;
        metrics.port_stats(&stats);
        stats.responses.insert(("bulk_upsert", 200), 5);
        stats.network_errors.insert("search_entities", 2);
        metrics.port_stats(&stats);
        metrics.port_stats(&stats);
        let text = metrics.render();
        assert!(
            text.contains(
                "port_aws_sync_port_requests_total{operation=\"bulk_upsert\",status=\"200\"} 5"
            ),
            "{text}"
        );
        assert!(text.contains(
            "port_aws_sync_port_requests_total{operation=\"search_entities\",status=\"network_error\"} 2"
        ));
        assert!(text.contains("port_aws_sync_port_retries_total 1"));
    }
}
