//! A resync's outcome as the log lines Port's UI shows for an integration, posted to the
//! record's `logAttributes.ingestUrl` in Ocean's shape `{message, level, timestamp, extra}`.

use serde_json::{Value, json};

use super::resync_state::{Ended, timestamp};
use crate::sync::ResyncReport;
use crate::sync::report::DeletionOutcome;
use crate::sync::scope::ScopeKey;

/// The first line says how the resync ended; then the report's summary, one line each
/// (its `error:` lines at level ERROR). `outcome` is the report, or why it could not start.
pub fn entries(
    integration: &str,
    ended: Ended,
    outcome: Result<&ResyncReport, &str>,
    at: jiff::Timestamp,
) -> Vec<Value> {
    let status = ended.status().as_str();
    let extra = json!({"integration": integration, "resyncState": status});
    let line = |message: &str, level: &str| {
        json!({"message": message, "level": level, "timestamp": timestamp(at),
            "extra": extra})
    };
    let (headline, level) = match (ended, &outcome) {
        (Ended::Synced, _) => ("resync completed".to_owned(), "INFO"),
        (Ended::WithErrors, _) => ("resync finished with errors".to_owned(), "ERROR"),
        (Ended::Interrupted, _) => ("resync aborted by shutdown".to_owned(), "WARNING"),
        (Ended::CouldNotStart, Err(why)) => (format!("resync could not start: {why}"), "ERROR"),
        (Ended::CouldNotStart, Ok(_)) => ("resync could not start".to_owned(), "ERROR"),
    };
    let mut logs = vec![line(&headline, level)];
    if let Ok(report) = outcome {
        let mut extra = extra.clone();
        extra["deletion"] = deletion(report);
        logs.push(
            json!({"message": "stale deletion by blueprint and scope", "level": "INFO",
            "timestamp": timestamp(at), "extra": extra}),
        );
        for text in report
            .render()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let level = if text.starts_with("error:") {
                "ERROR"
            } else {
                "INFO"
            };
            logs.push(line(text, level));
        }
    }
    logs
}

/// What stale deletion did, for machines: deleted per blueprint and scope, held back per
/// reason (with its stable code), and the scopes that failed with AWS's code.
pub fn deletion(report: &ResyncReport) -> Value {
    let deleted: Vec<Value> = report
        .deleted_by_scope
        .iter()
        .map(|((blueprint, scope), n)| {
            json!({"blueprint": blueprint, "scope": scope.as_ref().map(ScopeKey::to_json),
                   "count": n})
        })
        .collect();
    let held: Vec<Value> = match &report.deletion {
        Some(DeletionOutcome::Ran { held, .. }) => held
            .iter()
            .map(|(why, n)| {
                json!({"reason": why.code(), "scope": why.scope().map(ScopeKey::to_json),
                       "message": why.to_string(), "count": n})
            })
            .collect(),
        _ => Vec::new(),
    };
    let skipped = match &report.deletion {
        Some(DeletionOutcome::Skipped(why)) => Value::String(why.to_string()),
        _ => Value::Null,
    };
    let failed: Vec<Value> = report
        .extraction
        .scope_errors
        .iter()
        .map(|e| {
            json!({"kind": e.kind.as_str(), "account": e.account_id, "region": e.region,
                   "code": e.code})
        })
        .collect();
    json!({"deleted": deleted, "heldBack": held, "skipped": skipped, "failedScopes": failed})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> jiff::Timestamp {
        "2026-12-01T10:00:00.123Z".parse().unwrap()
    }

    #[test]
    fn a_finished_resync_logs_its_headline_then_its_summary_lines() {
        let report = ResyncReport::default();
        let logs = entries("my-aws", Ended::Synced, Ok(&report), at());
        assert_eq!(
            logs[0],
            json!({"message": "resync completed", "level": "INFO",
                "timestamp": "2026-12-01T10:00:00.123Z",
                "extra": {"integration": "my-aws", "resyncState": "completed"}})
        );
        let rendered: Vec<String> = report
            .render()
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(logs[1]["extra"]["deletion"]["deleted"], json!([]));
        let messages: Vec<&str> = logs[2..]
            .iter()
            .map(|l| l["message"].as_str().unwrap())
            .collect();
        assert_eq!(messages, rendered);
        assert!(messages.iter().any(|m| m.starts_with("stale deletion:")));
    }

    #[test]
    fn deletions_holds_and_failed_scopes_are_sent_per_blueprint_scope_and_reason() {
        use crate::aws::Kind;
        use crate::sync::plan::Held;
        let west = ScopeKey::new(Kind::Secret, "222222222222", "eu-west-1");
        let mut report = ResyncReport::default();
        report
            .deleted_by_scope
            .insert(("awsSecret".into(), Some(west.clone())), 3);
        report.deletion = Some(DeletionOutcome::Ran {
            kept_as_targets: 0,
            held: [(
                Held::EmptyRead {
                    scope: west,
                    in_port: 50,
                },
                50,
            )]
            .into(),
        });
        let deletion = deletion(&report);
        assert_eq!(
            deletion["deleted"],
            json!([{"blueprint": "awsSecret", "count": 3, "scope":
                {"kind": "AWS::SecretsManager::Secret", "account": "222222222222",
                 "region": "eu-west-1"}}])
        );
        assert_eq!(deletion["heldBack"][0]["reason"], "scope-listed-empty");
        assert_eq!(deletion["heldBack"][0]["count"], 50);
        assert_eq!(deletion["failedScopes"], json!([]));
    }

    #[test]
    fn a_resync_that_could_not_start_logs_why_as_an_error() {
        let logs = entries(
            "a",
            Ended::CouldNotStart,
            Err("integration a config: bad jq"),
            at(),
        );
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0]["level"], "ERROR");
        assert_eq!(
            logs[0]["message"],
            "resync could not start: integration a config: bad jq"
        );
        assert_eq!(logs[0]["extra"]["resyncState"], "failed");
    }
}
