//! What Port holds for this integration, in as little memory as the diff and deletion need.
//!
//! Per blueprint a dense table, sorted once by a 128-bit key of each identifier, holds 40 bytes
//! per entity: the key, the content digest, the entity's scope and the targets of its
//! relations (interned: most entities point at one of a few accounts). Search pages are digested as
//! they arrive and dropped. Identifiers themselves are only needed for the few entities that go
//! stale, so they are kept while they fit in [`IDENTIFIER_BUDGET`] bytes per blueprint (every
//! catalog up to tens of thousands of entities: deletion then costs no Port request beyond the
//! one read). Past the budget they are dropped, and the identifiers of the stale ones are
//! recovered by reading the blueprint's identifiers once more, only when something is stale, and
//! keeping only those whose key is among the stale keys (see [`Observed::recover`]).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::fingerprint::{self, EntityKey, MappedKeys};
use super::scope::{ScopeKey, scope_of_entity};
use crate::aws::Kind;
use crate::entity::related_ids;

/// Bytes of identifiers kept per blueprint; beyond it they are dropped (see the module).
pub const IDENTIFIER_BUDGET: usize = 4 << 20;

const NO_SCOPE: u32 = u32::MAX;
const NO_NAME: u32 = u32::MAX;
const NO_TARGET: u32 = u32::MAX;
/// Set in [`Entry::targets`] when it indexes a list of several targets.
const TARGET_LIST: u32 = 1 << 31;

/// One entity Port holds: its content digest and the scope it belongs to, as an index into
/// [`Observed::scopes`] (`None`: cannot be told from the entity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub digest: u64,
    pub scope: Option<u32>,
}

/// 40 bytes: the key split in two words keeps the entry 8-byte aligned.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key_high: u64,
    key_low: u64,
    digest: u64,
    scope: u32,
    /// Index of the identifier in [`Names`], or [`NO_NAME`].
    name: u32,
    /// The one relation target, as an index into [`Observed::targets`]; with [`TARGET_LIST`]
    /// an index into [`Observed::target_lists`]; or [`NO_TARGET`].
    targets: u32,
}

impl Entry {
    fn key(&self) -> EntityKey {
        EntityKey::from_parts(self.key_high, self.key_low)
    }

    fn known(&self) -> Known {
        Known {
            digest: self.digest,
            scope: (self.scope != NO_SCOPE).then_some(self.scope),
        }
    }
}

/// Identifiers in arrival order, end to end in one string.
#[derive(Debug, Default)]
struct Names {
    text: String,
    ends: Vec<u32>,
    dropped: bool,
}

impl Names {
    /// Keeps `identifier` while the budget allows (`None`: no budget); its index, or
    /// [`NO_NAME`] once dropped.
    fn keep(&mut self, identifier: &str, budget: Option<usize>) -> u32 {
        if self.dropped {
            return NO_NAME;
        }
        if budget.is_some_and(|budget| self.text.len() + identifier.len() > budget) {
            *self = Names {
                dropped: true,
                ..Names::default()
            };
            return NO_NAME;
        }
        self.text.push_str(identifier);
        self.ends.push(self.text.len() as u32);
        (self.ends.len() - 1) as u32
    }

    fn get(&self, index: u32) -> Option<&str> {
        if self.dropped || index == NO_NAME {
            return None;
        }
        let index = index as usize;
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i] as usize);
        Some(&self.text[start..self.ends[index] as usize])
    }
}

/// One blueprint's entities in Port.
#[derive(Debug, Default)]
pub struct Table {
    /// Sorted by key once [`Observed::seal`]ed.
    entries: Vec<Entry>,
    /// Pages taken in since, not yet sorted into `entries`.
    pending: Vec<Vec<Entry>>,
    names: Names,
}

impl Table {
    pub fn len(&self) -> usize {
        self.entries.len() + self.pending.iter().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the entity with `key` sits: what [`Table::entries`] numbers it.
    pub fn position(&self, key: EntityKey) -> Option<usize> {
        debug_assert!(self.pending.is_empty(), "look-ups need a sealed table");
        self.entries.binary_search_by_key(&key, Entry::key).ok()
    }

    pub fn get(&self, key: EntityKey) -> Option<Known> {
        self.position(key).map(|at| self.entries[at].known())
    }

    /// What is known of the entity at `position` (from [`Table::position`]).
    pub fn known_at(&self, position: usize) -> Known {
        self.entries[position].known()
    }

    /// The raw targets field of the entity at `position`, for [`Observed::targets_of`].
    fn targets_field(&self, position: usize) -> u32 {
        self.entries[position].targets
    }

    /// Every entity: its position, key and what is known of it.
    pub fn entries(&self) -> impl Iterator<Item = (usize, EntityKey, Known)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .map(|(at, entry)| (at, entry.key(), entry.known()))
    }

    /// The identifier of the entity at `position`, if it was kept.
    pub fn identifier(&self, position: usize) -> Option<&str> {
        self.names.get(self.entries.get(position)?.name)
    }

    /// Whether every identifier was kept (the budget was not exceeded).
    pub fn has_identifiers(&self) -> bool {
        !self.names.dropped
    }

    fn seal(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut entries = Vec::with_capacity(self.len());
        entries.append(&mut self.entries);
        // Page by page, so no second copy of the whole table is ever held.
        for page in std::mem::take(&mut self.pending) {
            entries.extend_from_slice(&page);
        }
        entries.sort_unstable_by_key(Entry::key);
        // An identifier seen twice (a page boundary moving under concurrent writes) is one
        // entity: the last copy read wins.
        entries.dedup_by(|later, earlier| {
            let same = later.key() == earlier.key();
            if same {
                *earlier = *later;
            }
            same
        });
        self.entries = entries;
    }
}

/// What Port holds for this integration, per blueprint.
#[derive(Debug, Default)]
pub struct Observed {
    by_blueprint: BTreeMap<String, Table>,
    /// Each scope once; entities refer to them by index.
    pub scopes: Vec<ScopeKey>,
    scope_index: HashMap<ScopeKey, u32>,
    /// Keys of the identifiers relations point at, each once: what a held-back entity keeps.
    targets: Vec<EntityKey>,
    target_index: HashMap<EntityKey, u32>,
    /// The targets of entities pointing at more than one.
    target_lists: Vec<Vec<u32>>,
    /// Keep every identifier whatever the size (`plan`, which keeps Port's copies anyway).
    keep_all_identifiers: bool,
}

impl Observed {
    /// An `Observed` that never drops identifiers.
    pub fn keeping_identifiers() -> Self {
        Observed {
            keep_all_identifiers: true,
            ..Observed::default()
        }
    }

    /// Digests a page of Port search results; `merged` as in [`fingerprint::of_port_entity`];
    /// `kind` is the one kind that feeds the blueprint, when there is one.
    pub fn add(
        &mut self,
        blueprint: &str,
        entities: &[Value],
        merged: Option<&MappedKeys>,
        kind: Option<Kind>,
    ) {
        let budget = (!self.keep_all_identifiers).then_some(IDENTIFIER_BUDGET);
        let mut page = Vec::with_capacity(entities.len());
        let mut names = self
            .by_blueprint
            .get_mut(blueprint)
            .map(|table| std::mem::take(&mut table.names))
            .unwrap_or_default();
        for entity in entities {
            let Some(id) = entity.get("identifier").and_then(Value::as_str) else {
                continue;
            };
            let scope = scope_of_entity(entity, kind).map_or(NO_SCOPE, |scope| self.intern(scope));
            let key = fingerprint::key_of(id);
            let (key_high, key_low) = key.parts();
            let targets: Vec<u32> = relation_targets(entity)
                .map(|target| self.intern_target(fingerprint::key_of(target)))
                .collect();
            let targets = match targets.as_slice() {
                [] => NO_TARGET,
                [one] => *one,
                _ => {
                    self.target_lists.push(targets);
                    (self.target_lists.len() - 1) as u32 | TARGET_LIST
                }
            };
            page.push(Entry {
                key_high,
                key_low,
                digest: fingerprint::of_port_entity(entity, merged),
                scope,
                name: names.keep(id, budget),
                targets,
            });
        }
        // Entries taken in before the names were dropped keep their index; `Names::get` answers
        // `None` for them all the same.
        let table = self.by_blueprint.entry(blueprint.to_owned()).or_default();
        table.names = names;
        table.pending.push(page);
    }

    fn intern(&mut self, scope: ScopeKey) -> u32 {
        if let Some(index) = self.scope_index.get(&scope) {
            return *index;
        }
        let index = self.scopes.len() as u32;
        self.scopes.push(scope.clone());
        self.scope_index.insert(scope, index);
        index
    }

    fn intern_target(&mut self, key: EntityKey) -> u32 {
        if let Some(index) = self.target_index.get(&key) {
            return *index;
        }
        let index = self.targets.len() as u32;
        self.targets.push(key);
        self.target_index.insert(key, index);
        index
    }

    /// The keys of what the entity at `position` of `table` relates to.
    pub fn targets_of(&self, table: &Table, position: usize) -> Vec<EntityKey> {
        match table.targets_field(position) {
            NO_TARGET => Vec::new(),
            list if list & TARGET_LIST != 0 => self.target_lists[(list & !TARGET_LIST) as usize]
                .iter()
                .map(|t| self.targets[*t as usize])
                .collect(),
            one => vec![self.targets[one as usize]],
        }
    }

    /// How many entities Port holds per scope, by index into [`Self::scopes`].
    pub fn per_scope(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.scopes.len()];
        for table in self.by_blueprint.values() {
            for (_, _, known) in table.entries() {
                if let Some(index) = known.scope {
                    counts[index as usize] += 1;
                }
            }
        }
        counts
    }

    /// Sorts what was taken in, for look-ups.
    pub fn seal(&mut self) {
        for table in self.by_blueprint.values_mut() {
            table.seal();
        }
    }

    /// Another blueprint's read, taken in; the result is sealed.
    pub fn merge(&mut self, other: Observed) {
        let Observed {
            by_blueprint,
            scopes,
            targets,
            target_lists,
            ..
        } = other;
        let mut lists = target_lists;
        for (blueprint, mut table) in by_blueprint {
            for entry in table.pending.iter_mut().flatten().chain(&mut table.entries) {
                if entry.scope != NO_SCOPE {
                    entry.scope = self.intern(scopes[entry.scope as usize].clone());
                }
                entry.targets = match entry.targets {
                    NO_TARGET => NO_TARGET,
                    list if list & TARGET_LIST != 0 => {
                        let mut list = std::mem::take(&mut lists[(list & !TARGET_LIST) as usize]);
                        for target in &mut list {
                            *target = self.intern_target(targets[*target as usize]);
                        }
                        self.target_lists.push(list);
                        (self.target_lists.len() - 1) as u32 | TARGET_LIST
                    }
                    one => self.intern_target(targets[one as usize]),
                };
            }
            match self.by_blueprint.get_mut(&blueprint) {
                Some(mine) => {
                    // Two reads of one blueprint never happen in a resync; keep it simple and
                    // correct anyway: names of the second are dropped.
                    mine.pending.extend(table.pending);
                    mine.pending.push(std::mem::take(&mut table.entries));
                    mine.names = Names {
                        dropped: true,
                        ..Names::default()
                    };
                }
                None => {
                    self.by_blueprint.insert(blueprint, table);
                }
            }
        }
        self.seal();
    }

    pub fn table(&self, blueprint: &str) -> Option<&Table> {
        self.by_blueprint.get(blueprint)
    }

    pub fn get(&self, blueprint: &str, identifier: &str) -> Option<Known> {
        self.table(blueprint)?.get(fingerprint::key_of(identifier))
    }

    pub fn tables(&self) -> impl Iterator<Item = (&String, &Table)> {
        self.by_blueprint.iter()
    }

    pub fn blueprints(&self) -> impl Iterator<Item = &String> {
        self.by_blueprint.keys()
    }

    pub fn count(&self) -> usize {
        self.by_blueprint.values().map(Table::len).sum()
    }
}

/// The identifiers an entity's relations point at (a string or a list of them each).
fn relation_targets(entity: &Value) -> impl Iterator<Item = &str> {
    entity
        .get("relations")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|relations| relations.values())
        .flat_map(related_ids)
}

/// Identifiers of stale entities, recovered from a second read when their blueprint's were
/// dropped: key → identifier.
#[derive(Debug, Default)]
pub struct Recovered {
    by_blueprint: HashMap<String, HashMap<EntityKey, String>>,
}

impl Recovered {
    /// From a page of a blueprint's identifiers, keeps those among `wanted`.
    pub fn take(
        &mut self,
        blueprint: &str,
        page: &[Value],
        wanted: &std::collections::HashSet<EntityKey>,
    ) {
        for entity in page {
            let Some(id) = entity.get("identifier").and_then(Value::as_str) else {
                continue;
            };
            let key = fingerprint::key_of(id);
            if wanted.contains(&key) {
                self.by_blueprint
                    .entry(blueprint.to_owned())
                    .or_default()
                    .insert(key, id.to_owned());
            }
        }
    }

    pub fn get(&self, blueprint: &str, key: EntityKey) -> Option<&str> {
        self.by_blueprint
            .get(blueprint)?
            .get(&key)
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| json!({"identifier": format!("secret-{i:06}")}))
            .collect()
    }

    #[test]
    fn lookups_find_every_entity_and_identifiers_are_kept_under_the_budget() {
        let mut observed = Observed::default();
        let page = ids(2500);
        for chunk in page.chunks(1000) {
            observed.add("awsSecret", chunk, None, None);
        }
        observed.seal();
        let table = observed.table("awsSecret").unwrap();
        assert_eq!(table.len(), 2500);
        assert!(table.has_identifiers());
        for i in [0, 999, 1000, 2499] {
            let id = format!("secret-{i:06}");
            let at = table.position(fingerprint::key_of(&id)).unwrap();
            assert_eq!(table.identifier(at), Some(id.as_str()));
        }
        assert!(observed.get("awsSecret", "secret-002500").is_none());
        assert!(observed.get("acmCertificate", "secret-000001").is_none());
    }

    #[test]
    fn past_the_budget_identifiers_are_dropped_but_entities_still_found() {
        // 40-byte identifiers: the budget holds about 105,000 of them.
        let n = IDENTIFIER_BUDGET / 40 + 1000;
        let page: Vec<Value> = (0..n)
            .map(|i| json!({"identifier": format!("{i:040}")}))
            .collect();
        let mut observed = Observed::default();
        for chunk in page.chunks(1000) {
            observed.add("awsSecret", chunk, None, None);
        }
        observed.seal();
        let table = observed.table("awsSecret").unwrap();
        assert_eq!(table.len(), n);
        assert!(!table.has_identifiers());
        assert!((0..table.len()).all(|at| table.identifier(at).is_none()));
        assert!(
            observed
                .get("awsSecret", &format!("{:040}", n - 1))
                .is_some()
        );

        let mut keeping = Observed::keeping_identifiers();
        keeping.add("awsSecret", &page, None, None);
        keeping.seal();
        assert!(keeping.table("awsSecret").unwrap().has_identifiers());
    }

    #[test]
    fn an_identifier_read_twice_is_one_entity_with_the_last_content() {
        let mut observed = Observed::default();
        observed.add(
            "awsSecret",
            &[json!({"identifier": "a", "title": "old"})],
            None,
            None,
        );
        observed.add(
            "awsSecret",
            &[json!({"identifier": "a", "title": "new"})],
            None,
            None,
        );
        observed.seal();
        assert_eq!(observed.count(), 1);
        let new = fingerprint::of_port_entity(&json!({"identifier": "a", "title": "new"}), None);
        assert_eq!(observed.get("awsSecret", "a").unwrap().digest, new);
    }

    #[test]
    fn merged_reads_keep_their_scopes() {
        let arn = "arn:aws:secretsmanager:eu-west-1:222222222222:secret:a";
        let mut one = Observed::default();
        one.add("awsSecret", &[json!({"identifier": arn})], None, None);
        let mut two = Observed::default();
        two.add(
            "acmCertificate",
            &[json!({"identifier": "arn:aws:acm:us-east-1:222222222222:certificate/x"})],
            None,
            None,
        );
        let mut all = Observed::default();
        all.merge(two);
        all.merge(one);
        let scope = all.get("awsSecret", arn).unwrap().scope.unwrap();
        assert_eq!(
            all.scopes[scope as usize],
            ScopeKey::new(Kind::Secret, "222222222222", "eu-west-1")
        );
    }

    #[test]
    fn relation_targets_are_kept_by_key_through_a_merge() {
        let mut one = Observed::default();
        one.add(
            "awsSecret",
            &[
                json!({"identifier": "s1", "relations": {"account": "111"}}),
                json!({"identifier": "s2", "relations": {"account": "111", "kms": ["k1", "k2"]}}),
                json!({"identifier": "s3"}),
            ],
            None,
            None,
        );
        let mut all = Observed::default();
        all.merge(one);
        let table = all.table("awsSecret").unwrap();
        let targets = |id: &str| {
            let at = table.position(fingerprint::key_of(id)).unwrap();
            all.targets_of(table, at)
        };
        let key = fingerprint::key_of;
        assert_eq!(targets("s1"), [key("111")]);
        assert_eq!(targets("s2"), [key("111"), key("k1"), key("k2")]);
        assert!(targets("s3").is_empty());
    }

    #[test]
    fn recovery_keeps_only_the_wanted_identifiers() {
        let wanted = [fingerprint::key_of("b")].into_iter().collect();
        let mut recovered = Recovered::default();
        recovered.take(
            "awsSecret",
            &[json!({"identifier": "a"}), json!({"identifier": "b"})],
            &wanted,
        );
        assert_eq!(
            recovered.get("awsSecret", fingerprint::key_of("b")),
            Some("b")
        );
        assert_eq!(recovered.get("awsSecret", fingerprint::key_of("a")), None);
    }
}
