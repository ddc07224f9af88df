//! Prometheus metrics (prometheus-client: the Prometheus project's own Rust client, no global
//! recorder, few dependencies; it writes the OpenMetrics text format Prometheus scrapes).

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

use super::state::ResyncResult;
use crate::aws::calls::CallCounts;
use crate::port::ClientStats;
use crate::sync::ResyncReport;
use crate::sync::plan::Held;
use crate::sync::report::DeletionOutcome;
use crate::sync::scope::Unclean;

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
    held_back: Family<Labels, Counter>,
    aws_requests: Family<Labels, Counter>,
    /// The AWS call counts as last folded in.
    aws_seen: Mutex<CallCounts>,
    port_requests: Family<Labels, Counter>,
    port_retries: Counter,
    port_reauthentications: Counter,
    port_token_fetches: Counter,
    /// The Port client's counters as last folded in, to add only what is new.
    port_seen: Mutex<ClientStats>,
    integration_poll_failures: Counter,
}

/// Registers `metric` under `name` and hands it back for recording.
fn add<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// The HELP text of each metric, as Prometheus shows it.
mod help {
    pub const RESYNCS: &str = "Resyncs finished, by result (success, failure: some scope, item or write failed, error: could not start, cancelled: stopped by shutdown)";
    pub const DURATION: &str = "How long resyncs took";
    pub const SKIPPED: &str =
        "Resync requests skipped because one was running, by trigger (schedule, api)";
    pub const RUNNING: &str = "1 while a resync runs";
    pub const LAST_SUCCESS: &str = "When the last successful resync finished (Unix time)";
    pub const LAST_RESYNC: &str = "When the last resync finished, whatever its result (Unix time)";
    pub const ENTITIES: &str = "Entities by blueprint and phase (in_port, mapped, unchanged, created, updated, failed, deleted), summed over resyncs";
    pub const ITEMS: &str = "Raw AWS items by kind and phase (fetched, mapped: entities produced, filtered, skipped, failed; field_errors: field values written as null because their expression failed)";
    pub const SCOPES: &str = "AWS fetch scopes (kind x account x region) by result (ok, error; errors by AWS error code, none when AWS gave no code)";
    pub const AWS_REQUESTS: &str = "AWS API attempts by service, operation and HTTP status (network_error: no response), retries included; the credentials provider's AssumeRole calls are not counted";
    pub const PORT_REQUESTS: &str = "Port API attempts by operation and HTTP status (network_error: no response), retries included";
    pub const RETRIES: &str = "Port requests repeated after a retryable failure";
    pub const REAUTH: &str = "Port requests repeated with a fresh token after a 401";
    pub const TOKENS: &str = "Port access tokens obtained";
    pub const HELD_BACK: &str = "Stale entities kept by a resync because their scope was not clean, by kind and reason (not_read, failed, unmapped_items, refused_writes, unknown_scope, empty_read: the empty-read guard)";
    pub const POLL_FAILURES: &str = "Polls of the integration in Port (mapping and resync requests) that failed; retried at the next interval";
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("port_aws_sync");
        crate::events::metrics::register(&mut r);
        let buckets = exponential_buckets(0.5, 2.0, 12);
        Metrics {
            resyncs: add(&mut r, "resyncs", help::RESYNCS, Family::default()),
            resync_duration: add(
                &mut r,
                "resync_duration_seconds",
                help::DURATION,
                Histogram::new(buckets),
            ),
            skipped: add(&mut r, "resyncs_skipped", help::SKIPPED, Family::default()),
            running: add(&mut r, "resync_running", help::RUNNING, Gauge::default()),
            last_success: add(
                &mut r,
                "last_success_timestamp_seconds",
                help::LAST_SUCCESS,
                Gauge::default(),
            ),
            last_finished: add(
                &mut r,
                "last_resync_timestamp_seconds",
                help::LAST_RESYNC,
                Gauge::default(),
            ),
            entities: add(&mut r, "entities", help::ENTITIES, Family::default()),
            items: add(&mut r, "aws_items", help::ITEMS, Family::default()),
            aws_scopes: add(&mut r, "aws_scopes", help::SCOPES, Family::default()),
            held_back: add(
                &mut r,
                "stale_entities_held_back",
                help::HELD_BACK,
                Family::default(),
            ),
            aws_requests: add(
                &mut r,
                "aws_requests",
                help::AWS_REQUESTS,
                Family::default(),
            ),
            aws_seen: Mutex::new(CallCounts::default()),
            port_requests: add(
                &mut r,
                "port_requests",
                help::PORT_REQUESTS,
                Family::default(),
            ),
            port_retries: add(&mut r, "port_retries", help::RETRIES, Counter::default()),
            port_reauthentications: add(
                &mut r,
                "port_reauthentications",
                help::REAUTH,
                Counter::default(),
            ),
            port_token_fetches: add(
                &mut r,
                "port_token_fetches",
                help::TOKENS,
                Counter::default(),
            ),
            port_seen: Mutex::new(ClientStats::default()),
            integration_poll_failures: add(
                &mut r,
                "integration_poll_failures",
                help::POLL_FAILURES,
                Counter::default(),
            ),
            registry: r,
        }
    }

    pub fn integration_poll_failed(&self) {
        self.integration_poll_failures.inc();
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
        result: ResyncResult,
        seconds: f64,
        finished_at: f64,
        report: Option<&ResyncReport>,
    ) {
        self.resyncs
            .get_or_create(&vec![("result", result.as_str().to_owned())])
            .inc();
        self.resync_duration.observe(seconds);
        self.last_finished.set(finished_at);
        if result == ResyncResult::Success {
            self.last_success.set(finished_at);
        }
        if let Some(report) = report {
            self.record_report(report);
        }
    }

    fn record_held_back(&self, report: &ResyncReport) {
        let Some(DeletionOutcome::Ran { held, .. }) = &report.deletion else {
            return;
        };
        for (why, n) in held {
            let (kind, reason) = match why {
                Held::Scope { scope, why } => (
                    scope.kind.as_str(),
                    match why {
                        Unclean::NotRead => "not_read",
                        Unclean::Failed { .. } => "failed",
                        Unclean::UnmappedItems(_) => "unmapped_items",
                        Unclean::RefusedWrites(_) => "refused_writes",
                    },
                ),
                Held::UnknownScope => ("unknown", "unknown_scope"),
                Held::IdentifiersUnread => ("unknown", "identifiers_unread"),
                Held::EmptyRead { scope, .. } => (scope.kind.as_str(), "empty_read"),
                Held::SearchIdentifier => ("unknown", "search_identifier"),
                Held::SearchRelationTarget => ("unknown", "search_relation_target"),
            };
            self.held_back
                .get_or_create(&vec![
                    ("kind", kind.to_owned()),
                    ("reason", reason.to_owned()),
                ])
                .inc_by(*n);
        }
    }

    fn record_report(&self, report: &ResyncReport) {
        self.record_held_back(report);
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
                ("field_errors", s.field_errors),
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
        }
        for scope in &report.extraction.scope_errors {
            self.aws_scopes
                .get_or_create(&vec![
                    ("kind", scope.kind.as_str().to_owned()),
                    ("result", "error".to_owned()),
                    (
                        "code",
                        scope.code.clone().unwrap_or_else(|| "none".to_owned()),
                    ),
                ])
                .inc();
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
    fn stale_entities_held_back_are_counted_by_kind_and_reason() {
        let metrics = Metrics::new();
        let report = ResyncReport {
            deletion: Some(DeletionOutcome::Ran {
                kept_as_targets: 0,
                held: std::collections::BTreeMap::from([
                    (
                        Held::Scope {
                            scope: crate::sync::scope::ScopeKey::new(
                                crate::aws::Kind::Secret,
                                "222222222222",
                                "eu-west-1",
                            ),
                            why: Unclean::Failed { code: None },
                        },
                        3,
                    ),
                    (
                        Held::EmptyRead {
                            scope: crate::sync::scope::ScopeKey::new(
                                crate::aws::Kind::AcmCertificate,
                                "222222222222",
                                "us-east-1",
                            ),
                            in_port: 40,
                        },
                        40,
                    ),
                ]),
            }),
            ..ResyncReport::default()
        };
        metrics.resync_finished(ResyncResult::Failure, 1.0, 0.0, Some(&report));
        let text = metrics.render();
        assert!(
            text.contains(
                "port_aws_sync_stale_entities_held_back_total{kind=\"AWS::SecretsManager::Secret\",reason=\"failed\"} 3"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "port_aws_sync_stale_entities_held_back_total{kind=\"AWS::ACM::Certificate\",reason=\"empty_read\"} 40"
            ),
            "{text}"
        );
    }

    #[test]
    fn failed_scopes_are_counted_by_their_aws_error_code() {
        let metrics = Metrics::new();
        let mut report = ResyncReport::default();
        report.extraction.scope_errors.push(crate::aws::ScopeError {
            kind: crate::aws::Kind::Secret,
            account_id: "222222222222".into(),
            region: Some("eu-west-1".into()),
            message: "ListSecrets: AccessDeniedException: no".into(),
            code: Some("AccessDeniedException".into()),
        });
        metrics.resync_finished(ResyncResult::Failure, 1.0, 0.0, Some(&report));
        let text = metrics.render();
        assert!(
            text.contains(
                "port_aws_sync_aws_scopes_total{kind=\"AWS::SecretsManager::Secret\",result=\"error\",code=\"AccessDeniedException\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("port_aws_sync_resyncs_total{result=\"failure\"} 1"),
            "{text}"
        );
    }

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

    #[test]
    fn field_errors_are_counted_by_kind() {
        let metrics = Metrics::new();
        let mut report = ResyncReport::default();
        let summary = report
            .extraction
            .kinds
            .entry(crate::aws::Kind::AcmCertificate)
            .or_default();
        summary.stats.field_errors = 2;
        metrics.resync_finished(ResyncResult::Success, 1.0, 1.0, Some(&report));
        let text = metrics.render();
        assert!(
            text.contains(
                "port_aws_sync_aws_items_total{kind=\"AWS::ACM::Certificate\",phase=\"field_errors\"} 2"
            ),
            "{text}"
        );
    }
}
