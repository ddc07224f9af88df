//! Live-events metrics: events by source, kind and action, and the event-to-Port latency.
//! One set for the process, registered into the daemon's registry (or serve-events' own).

use std::sync::LazyLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

pub struct LiveMetrics {
    events: Family<Labels, Counter>,
    retries: Family<Labels, Counter>,
    latency: Histogram,
}

pub static LIVE: LazyLock<LiveMetrics> = LazyLock::new(|| LiveMetrics {
    events: Family::default(),
    retries: Family::default(),
    // 50 ms … ~14 min.
    latency: Histogram::new(exponential_buckets(0.05, 2.0, 15)),
});

/// Adds the live-events metrics to `registry` (prefix included by the registry).
pub fn register(registry: &mut Registry) {
    registry.register(
        "live_events",
        "Live events, by source (cloudtrail, service, ocean_webhook, unknown), kind and action (upsert, unchanged, delete, ignored, failed)",
        LIVE.events.clone(),
    );
    registry.register(
        "live_event_retries",
        "Webhook events tried again after a transient failure (AWS throttling, Port unreachable or 5xx), by source and kind",
        LIVE.retries.clone(),
    );
    registry.register(
        "live_event_to_port_seconds",
        "From an event's time to Port's answer for the write it led to",
        LIVE.latency.clone(),
    );
}

impl LiveMetrics {
    pub fn count(&self, source: &str, kind: &str, action: &str) {
        self.events
            .get_or_create(&vec![
                ("source", source.to_owned()),
                ("kind", kind.to_owned()),
                ("action", action.to_owned()),
            ])
            .inc();
    }

    /// One event tried again by the engine.
    pub fn retried(&self, source: &str, kind: &str) {
        self.retries
            .get_or_create(&vec![
                ("source", source.to_owned()),
                ("kind", kind.to_owned()),
            ])
            .inc();
    }

    /// The latency of one event whose write Port just answered.
    pub fn written(&self, event_time: Option<jiff::Timestamp>) {
        if let Some(time) = event_time {
            let seconds = jiff::Timestamp::now().duration_since(time).as_secs_f64();
            self.latency.observe(seconds.max(0.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_events_and_latency_are_rendered() {
        let mut registry = Registry::with_prefix("port_aws_sync");
        register(&mut registry);
        LIVE.count("cloudtrail", "AWS::SecretsManager::Secret", "upsert");
        LIVE.written(Some(
            jiff::Timestamp::now() - jiff::SignedDuration::from_secs(2),
        ));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(
                r#"port_aws_sync_live_events_total{source="cloudtrail",kind="AWS::SecretsManager::Secret",action="upsert"}"#
            ),
            "{text}"
        );
        assert!(
            text.contains("port_aws_sync_live_event_to_port_seconds_count"),
            "{text}"
        );
    }
}
