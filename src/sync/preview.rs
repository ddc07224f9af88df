//! What a resync would do, as a value: the writes it would send (with the fields that differ
//! from what Port holds), the stale entities it would delete and why, and those it would hold
//! back. `plan` fills it from the same `Observed` / `Desired` / `plan_deletion` decisions a
//! resync acts on, with this collector in place of the writer, so the two cannot disagree.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use serde_json::{Map, Value, json};

use super::extract::Extraction;
use super::fingerprint::{self, MappedKeys};
pub use super::plan::StaleRule;
use super::plan::{Deletion, Held, SkipReason};
use super::scope::ScopeKey;
use crate::entity::Entity;
use crate::port::ClientStats;

/// The layout version of `plan --output json`; raised only when a field changes meaning or
/// goes away (new fields may be added without raising it).
pub const JSON_FORMAT_VERSION: u64 = 1;

/// One field an update changes: `properties.<name>`, `relations.<name>`, `title`, `icon` or
/// `team`; `Null` stands for a field that is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub identifier: String,
    pub changes: Vec<FieldChange>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    pub identifier: String,
    pub rule: StaleRule,
}

/// What a resync would do to one blueprint.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BlueprintPlan {
    pub create: Vec<Entity>,
    pub update: Vec<Update>,
    pub delete: Vec<Delete>,
    /// Stale entities deletion would keep, with the reason.
    pub held: Vec<(String, Held)>,
    pub unchanged: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub held: usize,
}

/// The whole plan.
#[derive(Debug, Default)]
pub struct Preview {
    pub blueprints: BTreeMap<String, BlueprintPlan>,
    /// Mapped blueprints Port does not have, which the resync would create first.
    pub blueprints_to_create: Vec<String>,
    /// Set when stale deletion would not run at all this resync.
    pub deletion_skipped: Option<SkipReason>,
    pub kept_as_targets: u64,
    pub extraction: Extraction,
    pub port_requests: ClientStats,
}

impl Preview {
    /// A mapped entity the resync would write; `before` is Port's copy when it has one. One
    /// written through a search-query identifier is an update of the entity the query matches
    /// (Port never creates one from a query), named by its query: which entity that is, and
    /// so what it holds now, only Port knows, so every field written is listed.
    pub fn write(&mut self, entity: Entity, before: Option<&Value>, merged: Option<&MappedKeys>) {
        let plan = self.blueprints.entry(entity.blueprint.clone()).or_default();
        match before {
            Some(before) => plan.update.push(Update {
                changes: field_changes(before, &entity, merged),
                identifier: entity.identifier.to_string(),
            }),
            None if entity.identifier.as_id().is_none() => plan.update.push(Update {
                changes: field_changes(&json!({}), &entity, merged),
                identifier: entity.identifier.to_string(),
            }),
            None => plan.create.push(entity),
        }
    }

    /// The deletion decision, each stale entity with the rule that makes it stale.
    pub fn deletion(&mut self, deletion: Deletion) {
        match deletion {
            Deletion::Skipped(why) => self.deletion_skipped = Some(why),
            Deletion::Run {
                stale,
                kept_as_targets,
                held_entities,
                ..
            } => {
                self.kept_as_targets = kept_as_targets;
                for (blueprint, found) in stale {
                    let plan = self.blueprints.entry(blueprint).or_default();
                    plan.delete.extend(found.into_iter().map(|s| Delete {
                        identifier: s.identifier,
                        rule: s.rule,
                    }));
                }
                for held in held_entities {
                    self.blueprints
                        .entry(held.blueprint)
                        .or_default()
                        .held
                        .push((held.identifier, held.why));
                }
            }
        }
    }

    /// Blueprints' entities already as AWS has them.
    pub fn unchanged(&mut self, counts: impl IntoIterator<Item = (String, u64)>) {
        for (blueprint, unchanged) in counts {
            self.blueprints.entry(blueprint).or_default().unchanged = unchanged;
        }
    }

    pub fn sort(&mut self) {
        for plan in self.blueprints.values_mut() {
            plan.create
                .sort_by_cached_key(|entity| entity.identifier.to_string());
            plan.update.sort_by(|a, b| a.identifier.cmp(&b.identifier));
        }
    }

    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for plan in self.blueprints.values() {
            t.create += plan.create.len();
            t.update += plan.update.len();
            t.delete += plan.delete.len();
            t.held += plan.held.len();
        }
        t
    }

    /// Whether a resync would write or delete anything. Held-back deletions are no change.
    pub fn has_changes(&self) -> bool {
        let t = self.totals();
        t.create + t.update + t.delete > 0 || !self.blueprints_to_create.is_empty()
    }

    /// For people: the summary first, then per blueprint at most `limit` entities of each
    /// section.
    pub fn render_text(&self, limit: usize) -> String {
        let mut out = String::new();
        let t = self.totals();
        let _ = writeln!(
            out,
            "Plan: {} to create, {} to update, {} to delete; {} deletion(s) held back.",
            t.create, t.update, t.delete, t.held
        );
        if !self.blueprints_to_create.is_empty() {
            let _ = writeln!(
                out,
                "Blueprints to create (missing in Port): {}.",
                self.blueprints_to_create.join(", ")
            );
        }
        if let Some(why) = &self.deletion_skipped {
            let _ = writeln!(out, "Stale deletion would be {why}.");
        }
        if self.kept_as_targets > 0 {
            let _ = writeln!(
                out,
                "{} stale entit(ies) kept: entities that stay relate to them.",
                self.kept_as_targets
            );
        }
        let x = &self.extraction;
        if !x.is_complete() {
            let _ = writeln!(
                out,
                "AWS was read incompletely: {} scope(s) failed, {} item(s) not mapped.",
                x.scope_errors.len(),
                x.item_failure_count
            );
        }
        let _ = writeln!(
            out,
            "\n{:<24} {:>7} {:>7} {:>7} {:>7} {:>10}",
            "blueprint", "create", "update", "delete", "held", "unchanged"
        );
        for (blueprint, p) in &self.blueprints {
            let _ = writeln!(
                out,
                "{:<24} {:>7} {:>7} {:>7} {:>7} {:>10}",
                blueprint,
                p.create.len(),
                p.update.len(),
                p.delete.len(),
                p.held.len(),
                p.unchanged
            );
        }
        if !x.scope_errors.is_empty() {
            out.push_str("\nFailed scopes (their entities are kept):\n");
            for error in &x.scope_errors {
                let _ = writeln!(out, "  {error}");
            }
        }
        for (blueprint, p) in &self.blueprints {
            if p.create.is_empty()
                && p.update.is_empty()
                && p.delete.is_empty()
                && p.held.is_empty()
            {
                continue;
            }
            let _ = writeln!(out, "\n{blueprint}:");
            section(&mut out, &p.create, limit, "to create", |out, e| {
                let _ = writeln!(out, "  + {}", e.identifier);
            });
            section(&mut out, &p.update, limit, "to update", |out, u| {
                let _ = writeln!(out, "  ~ {}", u.identifier);
                for c in &u.changes {
                    let _ = writeln!(out, "      {}: {} → {}", c.field, c.before, c.after);
                }
            });
            section(&mut out, &p.delete, limit, "to delete", |out, d| {
                let _ = writeln!(out, "  - {}  ({})", d.identifier, d.rule);
            });
            section(&mut out, &p.held, limit, "held back", |out, (id, why)| {
                let _ = writeln!(out, "  ! {id}  (held back: {why})");
            });
        }
        out
    }

    /// For machines: the layout README's "plan" section documents.
    pub fn to_json(&self) -> Value {
        let t = self.totals();
        let blueprints: Map<String, Value> = self
            .blueprints
            .iter()
            .map(|(blueprint, p)| {
                let create: Vec<Value> = p
                    .create
                    .iter()
                    .map(|e| json!({"identifier": e.identifier, "entity": e}))
                    .collect();
                let update: Vec<Value> = p
                    .update
                    .iter()
                    .map(|u| {
                        let changes: Vec<Value> = u
                            .changes
                            .iter()
                            .map(
                                |c| json!({"field": c.field, "before": c.before, "after": c.after}),
                            )
                            .collect();
                        json!({"identifier": u.identifier, "changes": changes})
                    })
                    .collect();
                let delete: Vec<Value> = p
                    .delete
                    .iter()
                    .map(|d| {
                        let scope = d.rule.scope().map_or(Value::Null, scope_json);
                        json!({"identifier": d.identifier, "scope": scope,
                               "rule": d.rule.code(), "reason": d.rule.to_string()})
                    })
                    .collect();
                let held: Vec<Value> = p
                    .held
                    .iter()
                    .map(|(id, why)| {
                        let scope = why.scope().map_or(Value::Null, scope_json);
                        json!({"identifier": id, "scope": scope, "rule": why.code(),
                               "reason": why.to_string()})
                    })
                    .collect();
                let value = json!({"create": create, "update": update, "delete": delete,
                                   "held": held, "unchanged": p.unchanged});
                (blueprint.clone(), value)
            })
            .collect();
        let failed: Vec<Value> = self
            .extraction
            .scope_errors
            .iter()
            .map(|e| {
                json!({"kind": e.kind.as_str(), "account": e.account_id, "region": e.region,
                       "code": e.code, "message": e.message})
            })
            .collect();
        json!({
            "format_version": JSON_FORMAT_VERSION,
            "changes": self.has_changes(),
            "complete": self.extraction.is_complete(),
            "summary": {"create": t.create, "update": t.update, "delete": t.delete,
                        "held": t.held},
            "deletion": {
                "skipped": self.deletion_skipped.as_ref().map(ToString::to_string),
                "kept_as_targets": self.kept_as_targets,
            },
            "blueprints_to_create": self.blueprints_to_create,
            "failed_scopes": failed,
            "unmapped_items": self.extraction.item_failure_count,
            "blueprints": blueprints,
        })
    }
}

fn section<T>(
    out: &mut String,
    items: &[T],
    limit: usize,
    what: &str,
    mut line: impl FnMut(&mut String, &T),
) {
    for item in items.iter().take(limit) {
        line(out, item);
    }
    if items.len() > limit {
        let _ = writeln!(
            out,
            "  … {} more {what} (--limit {limit})",
            items.len() - limit
        );
    }
}

fn scope_json(scope: &ScopeKey) -> Value {
    scope.to_json()
}

/// The fields in which `after` (what the resync would write) differs from `before` (Port's
/// copy), by the digest's rules; with `merged` keys only those fields are compared, as the
/// write leaves the others alone.
pub fn field_changes(
    before: &Value,
    after: &Entity,
    merged: Option<&MappedKeys>,
) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let text = |v: Option<&Value>| -> Value {
        match v.and_then(Value::as_str).filter(|t| !t.is_empty()) {
            Some(t) => Value::String(t.to_owned()),
            None => Value::Null,
        }
    };
    let ours = |t: &Option<String>| text(t.as_ref().map(|t| Value::String(t.clone())).as_ref());
    for (field, theirs, mine) in [
        ("title", text(before.get("title")), ours(&after.title)),
        ("icon", text(before.get("icon")), ours(&after.icon)),
    ] {
        if theirs != mine {
            changes.push(FieldChange {
                field: field.to_owned(),
                before: theirs,
                after: mine,
            });
        }
    }
    if !fingerprint::same_team(before.get("team"), after.team.as_ref()) {
        changes.push(FieldChange {
            field: "team".to_owned(),
            before: before.get("team").cloned().unwrap_or(Value::Null),
            after: after.team.clone().unwrap_or(Value::Null),
        });
    }
    let empty = Map::new();
    for (name, mine, keep) in [
        (
            "properties",
            &after.properties,
            merged.map(|m| &m.properties),
        ),
        ("relations", &after.relations, merged.map(|m| &m.relations)),
    ] {
        let theirs = before
            .get(name)
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let keys: BTreeSet<&String> = theirs
            .keys()
            .chain(mine.keys())
            .filter(|k| keep.is_none_or(|keep| keep.contains(*k)))
            .collect();
        for key in keys {
            let (b, a) = (theirs.get(key), mine.get(key));
            if !fingerprint::same_value(b, a) {
                changes.push(FieldChange {
                    field: format!("{name}.{key}"),
                    before: b.cloned().unwrap_or(Value::Null),
                    after: a.cloned().unwrap_or(Value::Null),
                });
            }
        }
    }
    changes
}

/// Port's entities, per blueprint and identifier, as the search returned them: kept only by
/// `plan`, for the "before" of each update.
pub type PortCopies = HashMap<String, HashMap<String, Value>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(v: Value) -> Entity {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn only_the_fields_that_differ_are_named_with_before_and_after() {
        let port = json!({"identifier": "a", "title": "A", "team": ["core"],
            "properties": {"status": "PENDING_VALIDATION", "at": "2024-01-02T03:04:05.000Z",
                           "owner": "ui", "n": 1.0},
            "relations": {"account": "1"}});
        let ours = entity(json!({"identifier": "a", "blueprint": "b", "title": "A",
            "team": "core",
            "properties": {"status": "ISSUED", "at": "2024-01-02T03:04:05Z", "n": 1,
                           "new": true},
            "relations": {"account": "1"}}));
        let changes = field_changes(&port, &ours, None);
        let named: Vec<(&str, Value, Value)> = changes
            .iter()
            .map(|c| (c.field.as_str(), c.before.clone(), c.after.clone()))
            .collect();
        assert_eq!(
            named,
            [
                ("properties.new", Value::Null, json!(true)),
                ("properties.owner", json!("ui"), Value::Null),
                (
                    "properties.status",
                    json!("PENDING_VALIDATION"),
                    json!("ISSUED")
                ),
            ]
        );
        // Merged writes leave unmapped fields alone: `owner` is no change then.
        let keys = MappedKeys {
            properties: ["status", "at", "n", "new"].map(String::from).into(),
            relations: ["account".to_owned()].into(),
        };
        let merged = field_changes(&port, &ours, Some(&keys));
        assert_eq!(merged.len(), 2, "{merged:?}");
    }

    #[test]
    fn skipped_deletion_is_said_in_the_summary_and_is_no_change() {
        let mut preview = Preview::default();
        preview.deletion(Deletion::Skipped(SkipReason::Threshold {
            to_delete: 2,
            existing: 2,
            threshold: 0.5,
        }));
        assert!(!preview.has_changes());
        let text = preview.render_text(20);
        assert!(
            text.lines().any(|l| l
                == "Stale deletion would be skipped: 2 of 2 entities would be deleted, more \
                    than entityDeletionThreshold (0.5)."),
            "{text}"
        );
        assert_eq!(
            preview.to_json()["deletion"]["skipped"],
            json!(
                "skipped: 2 of 2 entities would be deleted, more than entityDeletionThreshold (0.5)"
            )
        );
    }

    #[test]
    fn a_search_query_identifier_is_an_update_named_by_its_query_with_every_field_written() {
        let query = json!({"combinator": "and", "rules": [
            {"property": "$identifier", "operator": "=", "value": "1"}]});
        let mut preview = Preview::default();
        preview.write(
            entity(json!({"identifier": query, "blueprint": "awsAccount",
                "properties": {"status": "ACTIVE"}})),
            None,
            None,
        );
        let plan = &preview.blueprints["awsAccount"];
        assert!(plan.create.is_empty());
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].identifier, query.to_string());
        let fields: Vec<&str> = plan.update[0]
            .changes
            .iter()
            .map(|c| c.field.as_str())
            .collect();
        assert_eq!(fields, ["properties.status"]);
        assert_eq!(preview.totals().update, 1);
    }
}
