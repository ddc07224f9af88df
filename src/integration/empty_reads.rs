//! Where the empty-read guard's memory lives between resyncs (see `sync::empty_reads`).
//!
//! A CronJob's one-shot runs share nothing but AWS and Port, so the scopes a resync read
//! empty are kept in Port, on this integration's own record: `spec.portAwsSync.emptyReads`
//! (`PATCH /v1/integration/{id}` takes any `spec` object and `GET` gives it back), stamped
//! with the start of the resync that wrote it. The next run reads it from the record it
//! reads anyway to register, so remembering costs no request at all while nothing is read
//! empty, and one PATCH per resync while an empty read waits for its confirmation (or is
//! cleared).
//!
//! Fail safe: the memory counts only when it belongs to the resync right before this one —
//! its stamp equals the record's `resyncState.lastResyncStart`, which that resync reported
//! when it started. Missing, unreadable, or written by an older resync (a later one could not
//! store its own, or did not report its start): nothing is confirmed, every empty read is held
//! back once more. The daemon keeps the memory of its own last resync in memory as well
//! (`daemon::runner`), and uses Port's only for its first resync.

use serde_json::{Map, Value, json};

use super::resync_state::timestamp;
use crate::port::IntegrationRecord;
use crate::sync::empty_reads::EmptyReads;

/// The key of this program's part of the record's `spec`.
pub const SPEC_KEY: &str = "portAwsSync";

/// What the record says about the previous resync's empty reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Memory {
    /// Written by the resync right before this one.
    Remembered(EmptyReads),
    /// Nothing stored (never written, or cleared because nothing was read empty).
    Missing,
    /// Written by an older resync than the last one that started: not trusted.
    Stale {
        written_by: String,
        last_start: Option<String>,
    },
    /// Not in the shape this program writes.
    Unreadable,
}

impl Memory {
    /// The scopes a resync may confirm: only a memory that is [`Memory::Remembered`].
    pub fn empty_reads(&self) -> EmptyReads {
        match self {
            Memory::Remembered(reads) => reads.clone(),
            _ => EmptyReads::default(),
        }
    }
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Memory::Remembered(reads) => write!(
                f,
                "{} scope(s) the previous resync read empty",
                reads.0.len()
            ),
            Memory::Missing => f.write_str("no empty read remembered"),
            Memory::Stale {
                written_by,
                last_start,
            } => write!(
                f,
                "the empty reads stored in Port were written by the resync of {written_by}, \
                 not by the last one ({}); not trusted, empty reads are held back again",
                last_start.as_deref().unwrap_or("unknown")
            ),
            Memory::Unreadable => f.write_str(
                "the empty reads stored in Port are not in the shape this program writes; \
                 not trusted, empty reads are held back again",
            ),
        }
    }
}

fn same_instant(a: &str, b: &str) -> bool {
    match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
        (Ok(a), Ok(b)) => timestamp(a) == timestamp(b),
        _ => false,
    }
}

/// Reads the memory from `record`, as it stood before this resync reported its start.
pub fn from_record(record: &IntegrationRecord) -> Memory {
    let Some(stored) = record
        .spec
        .as_ref()
        .and_then(|spec| spec.get(SPEC_KEY))
        .and_then(|ours| ours.get("emptyReads"))
        .filter(|v| !v.is_null())
    else {
        return Memory::Missing;
    };
    let (Some(written_by), Some(reads)) = (
        stored.get("resyncStart").and_then(Value::as_str),
        stored.get("scopes").and_then(EmptyReads::from_json),
    ) else {
        return Memory::Unreadable;
    };
    let last_start = record.last_resync_start();
    if last_start.is_some_and(|last| same_instant(last, written_by)) {
        Memory::Remembered(reads)
    } else {
        Memory::Stale {
            written_by: written_by.to_owned(),
            last_start: last_start.map(str::to_owned),
        }
    }
}

/// Whether `record` holds empty reads (then an empty answer must clear them).
pub fn holds_some(record: &IntegrationRecord) -> bool {
    !matches!(from_record(record), Memory::Missing)
}

/// The record's `spec` with this resync's empty reads in our part of it, everything else in
/// it kept; `started` is the start this resync reported as `lastResyncStart`.
pub fn spec_with(spec: Option<&Value>, reads: &EmptyReads, started: jiff::Timestamp) -> Value {
    let mut spec: Map<String, Value> = spec.and_then(Value::as_object).cloned().unwrap_or_default();
    let mut ours: Map<String, Value> = spec
        .get(SPEC_KEY)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let stored = if reads.is_empty() {
        Value::Null
    } else {
        json!({"resyncStart": timestamp(started), "scopes": reads.to_json()})
    };
    ours.insert("emptyReads".into(), stored);
    spec.insert(SPEC_KEY.into(), Value::Object(ours));
    Value::Object(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Kind;
    use crate::sync::scope::ScopeKey;

    fn record(spec: Option<Value>, last_start: Option<&str>) -> IntegrationRecord {
        IntegrationRecord {
            identifier: "a".into(),
            installation_app_type: None,
            version: None,
            changelog_destination: None,
            config: json!({}),
            updated_at: None,
            resync_state: last_start.map(|s| json!({"lastResyncStart": s})),
            spec,
            log_ingest_url: None,
            metric_ingest_url: None,
        }
    }

    fn reads() -> EmptyReads {
        EmptyReads(
            [(ScopeKey::new(Kind::Secret, "222222222222", "eu-west-1"), 50)]
                .into_iter()
                .collect(),
        )
    }

    #[test]
    fn the_memory_of_the_last_resync_is_trusted_and_any_other_is_not() {
        let started: jiff::Timestamp = "2026-12-01T10:00:00.123456Z".parse().unwrap();
        let spec = spec_with(Some(&json!({"other": 1})), &reads(), started);
        assert_eq!(spec["other"], json!(1), "the rest of spec is kept");
        // Port gives the start back as it stored it (milliseconds).
        let last = record(Some(spec.clone()), Some("2026-12-01T10:00:00.123Z"));
        assert_eq!(from_record(&last), Memory::Remembered(reads()));
        // A later resync started and did not store its own: stale.
        let later = record(Some(spec.clone()), Some("2026-12-01T11:00:00Z"));
        assert!(matches!(from_record(&later), Memory::Stale { .. }));
        assert!(from_record(&later).empty_reads().is_empty());
        assert!(matches!(
            from_record(&record(Some(spec), None)),
            Memory::Stale { .. }
        ));
        assert_eq!(from_record(&record(None, None)), Memory::Missing);
        let bad = json!({SPEC_KEY: {"emptyReads": {"resyncStart": "x", "scopes": 3}}});
        assert_eq!(from_record(&record(Some(bad), None)), Memory::Unreadable);
        // Nothing read empty: our part is cleared, and reads as missing.
        let cleared = spec_with(None, &EmptyReads::default(), started);
        assert_eq!(cleared, json!({SPEC_KEY: {"emptyReads": null}}));
        assert_eq!(
            from_record(&record(Some(cleared), Some("2026-12-01T10:00:00.123Z"))),
            Memory::Missing
        );
    }
}
