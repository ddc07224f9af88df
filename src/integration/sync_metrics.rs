//! The per-kind counts Port's UI shows for a resync, in the shape Ocean posts them to
//! `{metricAttributes.ingestUrl}/syncMetrics`: one entry per kind (`{kind}-{index}`) with the
//! event id, the sync state and the counts nested by phase.

use serde_json::{Value, json};

use super::Ended;
use crate::aws::Kind;
use crate::mapping::Mapping;
use crate::sync::ResyncReport;
use crate::sync::report::DeletionOutcome;
use crate::validate::static_blueprint;

/// Who sent the metrics and for which resync.
#[derive(Debug, Clone)]
pub struct Sender<'a> {
    pub integration_type: &'a str,
    pub identifier: &'a str,
    pub event_id: &'a str,
}

fn sync_state(ended: Ended) -> &'static str {
    match ended {
        Ended::Synced => "completed",
        Ended::WithErrors | Ended::CouldNotStart => "failed",
        Ended::Interrupted => "aborted",
    }
}

/// Stale entities of `kind`'s scopes deletion kept (any reason).
fn held_back(report: &ResyncReport, kind: Kind) -> u64 {
    match &report.deletion {
        Some(DeletionOutcome::Ran { held, .. }) => held
            .iter()
            .filter(|(why, _)| why.scope().is_some_and(|s| s.kind == kind))
            .map(|(_, n)| n)
            .sum(),
        _ => 0,
    }
}

fn count(n: u64) -> Value {
    json!({ "object_count": n })
}

/// One entry per mapped kind, at the index of its first resource. Load and delete counts are
/// those of the blueprint(s) the kind's resources write to.
pub fn kind_metrics(
    report: &ResyncReport,
    mapping: &Mapping,
    sender: &Sender<'_>,
    ended: Ended,
    duration_seconds: f64,
) -> Vec<Value> {
    let globals = &mapping.globals;
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for resource in &mapping.resources {
        let Some(kind) = Kind::from_name(&resource.kind) else {
            continue;
        };
        if seen.contains(&kind) {
            continue;
        }
        seen.push(kind);
        let stats = report
            .extraction
            .kinds
            .get(&kind)
            .map(|s| s.stats.clone())
            .unwrap_or_default();
        let blueprints: Vec<String> = mapping
            .resources_for(kind.as_str())
            .filter_map(|r| static_blueprint(r, globals))
            .collect();
        let (mut loaded, mut failed, mut skipped, mut deleted) = (0, 0, 0, 0);
        for (_, b) in report
            .blueprints
            .iter()
            .filter(|(id, _)| blueprints.contains(id))
        {
            loaded += b.created + b.updated;
            failed += b.failed;
            skipped += b.unchanged;
            deleted += b.deleted;
        }
        out.push(json!({
            "integrationType": sender.integration_type,
            "integrationIdentifier": sender.identifier,
            "integrationVersion": env!("CARGO_PKG_VERSION"),
            "oceanVersion": concat!("port-aws-sync/", env!("CARGO_PKG_VERSION")),
            "kindIdentifier": format!("{}-{}", kind.as_str(), resource.index),
            "kind": kind.as_str(),
            "kindIndex": resource.index,
            "eventId": sender.event_id,
            "syncState": sync_state(ended),
            "metrics": {"phase": {
                "extract": {"object_count_type": {"raw_extracted": count(stats.items)}},
                "transform": {"object_count_type": {
                    "transformed": count(stats.entities),
                    "filtered_out": count(stats.filtered),
                    "failed": count(stats.failed + stats.skipped),
                }},
                "load": {"object_count_type": {
                    "loaded": count(loaded),
                    "failed": count(failed),
                    "skipped": count(skipped),
                }},
                "delete": {"object_count_type": {
                    "deleted": count(deleted),
                    "held_back": count(held_back(report, kind)),
                }},
                "resync": {
                    "success": if ended == Ended::Synced { 1 } else { 0 },
                    "duration_seconds": duration_seconds,
                },
            }},
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::report::BlueprintReport;
    use std::path::Path;

    #[test]
    fn counts_per_kind_and_phase_in_oceans_shape() {
        let mapping = Mapping::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("mapping/port-app-config.yml"),
        )
        .unwrap();
        let mut report = ResyncReport::default();
        let mut secrets = crate::sync::KindSummary::default();
        secrets.stats.items = 5;
        secrets.stats.entities = 4;
        secrets.stats.filtered = 1;
        report.extraction.kinds.insert(Kind::Secret, secrets);
        report.blueprints.insert(
            "awsSecret".into(),
            BlueprintReport {
                created: 3,
                updated: 1,
                deleted: 2,
                ..Default::default()
            },
        );
        let sender = Sender {
            integration_type: "aws",
            identifier: "aws-sync",
            event_id: "e1",
        };
        let metrics = kind_metrics(&report, &mapping, &sender, Ended::Synced, 1.5);
        assert_eq!(metrics.len(), 3, "one per mapped kind");
        let secret = metrics
            .iter()
            .find(|m| m["kind"] == json!("AWS::SecretsManager::Secret"))
            .unwrap();
        assert_eq!(
            secret["kindIdentifier"],
            json!("AWS::SecretsManager::Secret-2")
        );
        assert_eq!(secret["syncState"], json!("completed"));
        let phase = &secret["metrics"]["phase"];
        assert_eq!(
            phase["extract"]["object_count_type"]["raw_extracted"]["object_count"],
            json!(5)
        );
        assert_eq!(
            phase["transform"]["object_count_type"]["filtered_out"]["object_count"],
            json!(1)
        );
        assert_eq!(
            phase["load"]["object_count_type"]["loaded"]["object_count"],
            json!(4)
        );
        assert_eq!(
            phase["delete"]["object_count_type"]["deleted"]["object_count"],
            json!(2)
        );
        assert_eq!(phase["resync"]["success"], json!(1));
    }
}
