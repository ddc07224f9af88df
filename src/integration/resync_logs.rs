//! A resync's outcome as the log lines Port's UI shows for an integration, posted to the
//! record's `logAttributes.ingestUrl` in Ocean's shape `{message, level, timestamp, extra}`.

use serde_json::{Value, json};

use super::resync_state::{Ended, timestamp};
use crate::sync::ResyncReport;

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
        let messages: Vec<&str> = logs[1..]
            .iter()
            .map(|l| l["message"].as_str().unwrap())
            .collect();
        assert_eq!(messages, rendered);
        assert!(messages.iter().any(|m| m.starts_with("stale deletion:")));
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
