//! What a resync did, per blueprint, and what it means for the exit code.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::empty_reads::EmptyReads;
use super::extract::Extraction;
use super::plan::{Held, SkipReason};
use super::scope::ScopeKey;
use super::summary;
use crate::port::{ClientStats, FailedEntity};

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

/// One entity Port refused to write or delete, with Port's reason as Port gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteFailure {
    pub blueprint: String,
    pub refused: FailedEntity,
    /// The scope of the entity, when it can be told: its stale entities are kept.
    pub scope: Option<ScopeKey>,
    /// Written through a search-query identifier: it names no entity of ours, so it holds
    /// no stale deletion back (its blueprint's stale entities are held anyway).
    pub through_search_identifier: bool,
}

impl WriteFailure {
    pub fn refused(blueprint: &str, refused: FailedEntity) -> Self {
        WriteFailure {
            blueprint: blueprint.to_owned(),
            refused,
            scope: None,
            through_search_identifier: false,
        }
    }

    pub fn through_search_identifier(mut self, yes: bool) -> Self {
        self.through_search_identifier = yes;
        self
    }

    pub fn in_scope(mut self, scope: Option<ScopeKey>) -> Self {
        self.scope = scope;
        self
    }
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let FailedEntity {
            identifier,
            error,
            message,
            ..
        } = &self.refused;
        write!(f, "{} {identifier}: {error}: {message}", self.blueprint)
    }
}

/// What became of stale deletion.
#[derive(Debug, Clone, PartialEq)]
pub enum DeletionOutcome {
    /// It ran; `kept_as_targets` stale entities were spared because kept entities relate to
    /// them, and `held` because their scope was not clean.
    Ran {
        kept_as_targets: u64,
        held: BTreeMap<Held, u64>,
    },
    Skipped(SkipReason),
}

#[derive(Debug, Default)]
pub struct ResyncReport {
    pub extraction: Extraction,
    pub blueprints: BTreeMap<String, BlueprintReport>,
    pub write_failures: Vec<WriteFailure>,
    pub delete_failures: Vec<WriteFailure>,
    /// `None` until the resync got that far.
    pub deletion: Option<DeletionOutcome>,
    pub port_requests: ClientStats,
    /// Stopped early (shutdown): some writes and the stale deletion were skipped.
    pub cancelled: bool,
    /// Entities deleted, per blueprint and the scope that made them stale (`None`: scope
    /// unknown, deleted after a resync complete everywhere).
    pub deleted_by_scope: BTreeMap<(String, Option<ScopeKey>), u64>,
    /// The scopes this resync read empty while Port holds many of their entities: the next
    /// resync confirms (deletes) those it reads empty again. To be remembered until then.
    pub empty_reads: EmptyReads,
}

impl ResyncReport {
    pub fn deletion_ran(&self) -> bool {
        matches!(self.deletion, Some(DeletionOutcome::Ran { .. }))
    }

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
            let _ = writeln!(out, "  error: {failure}");
        }
        for ((blueprint, scope), n) in &self.deleted_by_scope {
            match scope {
                Some(scope) => {
                    let _ = writeln!(out, "  deleted {n} {blueprint} of {scope}");
                }
                None => {
                    let _ = writeln!(out, "  deleted {n} {blueprint} of unknown scope");
                }
            }
        }
        let deletion = match &self.deletion {
            Some(DeletionOutcome::Ran {
                kept_as_targets,
                held,
            }) => {
                let mut notes = Vec::new();
                if *kept_as_targets > 0 {
                    notes.push(format!(
                        "{kept_as_targets} stale entit(ies) kept: kept entities relate to them"
                    ));
                }
                for (why, n) in held {
                    notes.push(format!("{n} stale entit(ies) held back: {why}"));
                }
                if notes.is_empty() {
                    "ran".to_owned()
                } else {
                    format!("ran ({})", notes.join("; "))
                }
            }
            Some(DeletionOutcome::Skipped(why)) => format!("did not run ({why})"),
            None => "did not run".to_owned(),
        };
        let _ = writeln!(out, "  stale deletion: {deletion}");
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
