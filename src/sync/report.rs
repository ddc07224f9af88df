//! What a resync did, per blueprint, and what it means for the exit code.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::extract::Extraction;
use super::summary;
use crate::port::ClientStats;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BlueprintReport {
    /// Entities of this integration Port held before the resync.
    pub in_port: u64,
    pub mapped: u64,
    pub unchanged: u64,
    pub created: u64,
    pub updated: u64,
    pub failed: u64,
    pub deleted: u64,
}

/// One entity Port refused, with Port's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteFailure {
    pub blueprint: String,
    pub identifier: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct ResyncReport {
    pub extraction: Extraction,
    pub blueprints: BTreeMap<String, BlueprintReport>,
    pub write_failures: Vec<WriteFailure>,
    pub delete_failures: Vec<WriteFailure>,
    pub deletion_ran: bool,
    /// Why deletion did not run, or what it spared.
    pub deletion_note: String,
    pub port_requests: ClientStats,
    /// Stopped early (shutdown): some writes and the stale deletion were skipped.
    pub cancelled: bool,
}

impl ResyncReport {
    /// True when AWS was read completely and Port took every write and delete.
    pub fn is_success(&self) -> bool {
        self.extraction.is_complete()
            && !self.cancelled
            && self.write_failures.is_empty()
            && self.delete_failures.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = summary::render(&self.extraction);
        for (blueprint, r) in &self.blueprints {
            let _ = writeln!(
                out,
                "  {blueprint}: {} in Port before, {} mapped, {} unchanged, {} created, {} updated, {} failed, {} deleted",
                r.in_port, r.mapped, r.unchanged, r.created, r.updated, r.failed, r.deleted
            );
        }
        for failure in self.write_failures.iter().chain(&self.delete_failures) {
            let _ = writeln!(
                out,
                "  error: {} {}: {}",
                failure.blueprint, failure.identifier, failure.reason
            );
        }
        let _ = writeln!(
            out,
            "  stale deletion: {}{}",
            if self.deletion_ran {
                "ran"
            } else {
                "did not run"
            },
            if self.deletion_note.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.deletion_note)
            }
        );
        let requests: Vec<String> = self
            .port_requests
            .responses
            .iter()
            .map(|((op, status), n)| format!("{op} {status}: {n}"))
            .collect();
        let _ = writeln!(
            out,
            "  Port requests: {}; retries {}",
            if requests.is_empty() {
                "none".to_owned()
            } else {
                requests.join(", ")
            },
            self.port_requests.retries
        );
        out
    }
}
