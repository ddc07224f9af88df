//! The plan of a resync: which entities to write, which to leave, which stale ones to delete.
//!
//! Pure bookkeeping, no I/O: what Port holds (`Observed`) against what AWS produced (`Desired`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::empty_reads::EmptyReads;
use super::fingerprint::{self, EntityKey};
pub use super::observed::{Known, Observed, Recovered, Table};
use super::scope::{ScopeKey, ScopeLedger, Unclean};
use crate::aws::ScopeError;
use crate::blueprints::Blueprints;
use crate::entity::{Entity, related_ids};
use crate::mapping::Mapping;
use crate::validate::static_blueprint;

/// Counts per blueprint for the report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BlueprintCounts {
    pub in_port: u64,
    pub mapped: u64,
    pub unchanged: u64,
    pub to_create: u64,
    pub to_update: u64,
    /// Writes through a search-query identifier: Port updates the entity the query matches.
    pub to_resolve: u64,
}

/// Blueprints a search query reaches: every one when the blueprint cannot be told before a
/// resync (computed from each item, or a relation the blueprint does not declare).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Reach {
    #[default]
    Nowhere,
    Blueprints(BTreeSet<String>),
    Everywhere,
}

impl Reach {
    pub fn contains(&self, blueprint: &str) -> bool {
        match self {
            Reach::Nowhere => false,
            Reach::Blueprints(bps) => bps.contains(blueprint),
            Reach::Everywhere => true,
        }
    }

    /// Adds a blueprint (`None`: one that cannot be told, so every blueprint).
    pub fn add(&mut self, blueprint: Option<String>) {
        *self = match (std::mem::take(self), blueprint) {
            (Reach::Everywhere, _) | (_, None) => Reach::Everywhere,
            (Reach::Nowhere, Some(bp)) => Reach::Blueprints(BTreeSet::from([bp])),
            (Reach::Blueprints(mut bps), Some(bp)) => {
                bps.insert(bp);
                Reach::Blueprints(bps)
            }
        };
    }
}

/// Where the mapping's search queries write, known from the mapping before anything is read
/// (so also when the items that used them are gone): stale deletion leaves these blueprints
/// alone (see [`Held::SearchIdentifier`] and [`Held::SearchRelationTarget`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchReach {
    /// Blueprints written through a search-query identifier.
    pub identified: Reach,
    /// Target blueprints of search-query relations.
    pub related: Reach,
}

impl SearchReach {
    /// From the resources of `mapping` (those of kinds a resync reads: `is_read`) and the
    /// relation targets their blueprints declare.
    pub fn of_mapping(
        mapping: &Mapping,
        blueprints: &Blueprints,
        is_read: impl Fn(&str) -> bool,
    ) -> Self {
        let mut reach = SearchReach::default();
        for resource in mapping.resources.iter().filter(|r| is_read(&r.kind)) {
            let blueprint = static_blueprint(resource, &mapping.globals);
            if resource.identifier.is_search() {
                reach.identified.add(blueprint.clone());
            }
            for (name, mapped) in &resource.relations {
                if mapped.is_search() {
                    let target = blueprint
                        .as_deref()
                        .and_then(|bp| blueprints.get(bp))
                        .and_then(|bp| bp.relations.get(name))
                        .map(|relation| relation.target.clone());
                    reach.related.add(target);
                }
            }
        }
        reach
    }
}

/// What [`Desired::offer`] decided for one mapped entity.
// Consumed as soon as it is returned, never stored: boxing the entity would only add an
// allocation per changed entity.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Offer {
    /// Port holds exactly this: nothing to write.
    Unchanged,
    /// New, or different from what Port holds: to be written.
    Write(Entity),
    /// Another item of this resync already produced this entity; the first one wins, as one
    /// write would anyway.
    Duplicate,
}

/// Which entities of one blueprint this resync produced.
#[derive(Debug, Default)]
struct Produced {
    /// One bit per entity Port holds, by its position in the blueprint's [`Table`].
    existing: Vec<u64>,
    /// Keys of produced entities Port does not hold yet.
    new: HashSet<EntityKey>,
}

impl Produced {
    /// Marks the entity at `at`; false when it already was.
    fn mark(&mut self, at: usize) -> bool {
        let (word, bit) = (at / 64, 1u64 << (at % 64));
        if self.existing.len() <= word {
            self.existing.resize(word + 1, 0);
        }
        let first = self.existing[word] & bit == 0;
        self.existing[word] |= bit;
        first
    }

    fn has(&self, at: usize) -> bool {
        self.existing
            .get(at / 64)
            .is_some_and(|word| word & (1u64 << (at % 64)) != 0)
    }
}

/// What this resync produced: which entities are kept, which are relation targets, and the
/// counts; each entity is judged against Port as it arrives. An entity Port holds costs one
/// bit here, a new one its 16-byte key.
#[derive(Debug, Default)]
pub struct Desired {
    pub counts: BTreeMap<String, BlueprintCounts>,
    produced: HashMap<String, Produced>,
    /// Keys of every relation target of a produced entity, per target blueprint.
    referenced: HashMap<String, HashSet<EntityKey>>,
    /// (blueprint, query as JSON) of every search-query identifier written this resync.
    queried: HashSet<(String, String)>,
    pub duplicates: u64,
    /// Where the mapping's search queries reach; stale deletion keeps clear of it.
    pub search_reach: SearchReach,
}

/// `map[key]`, inserted empty first; the key is only copied when it is new.
fn slot<'m, T: Default>(map: &'m mut HashMap<String, T>, key: &str) -> &'m mut T {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), T::default());
    }
    map.get_mut(key).expect("just inserted")
}

impl Desired {
    pub fn new(search_reach: SearchReach) -> Self {
        Desired {
            search_reach,
            ..Desired::default()
        }
    }

    /// Judges one mapped entity. An entity with a search query is always written: Port
    /// resolves the query on write and keeps only the result, so whether it changed cannot be
    /// told without asking Port, and asking (a search per entity) costs more than the write
    /// (20 entities per request). Ocean writes these every resync too.
    pub fn offer(&mut self, entity: Entity, observed: &Observed, blueprints: &Blueprints) -> Offer {
        let Some(id) = entity.identifier.as_id() else {
            let key = (entity.blueprint.clone(), entity.identifier.to_string());
            if !self.queried.insert(key) {
                self.duplicates += 1;
                return Offer::Duplicate;
            }
            self.remember_relation_targets(&entity, blueprints);
            let counts = self.counts.entry(entity.blueprint.clone()).or_default();
            counts.mapped += 1;
            counts.to_resolve += 1;
            return Offer::Write(entity);
        };
        let key = fingerprint::key_of(id);
        let table = observed.table(&entity.blueprint);
        let position = table.and_then(|t| t.position(key));
        let produced = slot(&mut self.produced, &entity.blueprint);
        let first = match position {
            Some(at) => produced.mark(at),
            None => produced.new.insert(key),
        };
        if !first {
            self.duplicates += 1;
            return Offer::Duplicate;
        }
        self.remember_relation_targets(&entity, blueprints);
        let counts = match self.counts.get_mut(&entity.blueprint) {
            Some(counts) => counts,
            None => self.counts.entry(entity.blueprint.clone()).or_default(),
        };
        counts.mapped += 1;
        match table.zip(position).map(|(t, at)| t.known_at(at)) {
            Some(known) if Some(known.digest) == fingerprint::of_entity(&entity) => {
                counts.unchanged += 1;
                Offer::Unchanged
            }
            Some(_) => {
                counts.to_update += 1;
                Offer::Write(entity)
            }
            None => {
                counts.to_create += 1;
                Offer::Write(entity)
            }
        }
    }

    /// Entities Port reports that writes through search-query identifiers updated: kept, as
    /// any entity this resync wrote.
    pub fn resolved(
        &mut self,
        blueprint: &str,
        identifiers: impl IntoIterator<Item = String>,
        observed: &Observed,
    ) {
        let table = observed.table(blueprint);
        let produced = slot(&mut self.produced, blueprint);
        for identifier in identifiers {
            let key = fingerprint::key_of(&identifier);
            match table.and_then(|t| t.position(key)) {
                Some(at) => {
                    produced.mark(at);
                }
                None => {
                    produced.new.insert(key);
                }
            }
        }
    }

    fn remember_relation_targets(&mut self, entity: &Entity, blueprints: &Blueprints) {
        let Some(blueprint) = blueprints.get(&entity.blueprint) else {
            return;
        };
        for (name, value) in &entity.relations {
            let Some(relation) = blueprint.relations.get(name) else {
                continue;
            };
            let targets = related_ids(value);
            if targets.is_empty() {
                continue;
            }
            let keys = slot(&mut self.referenced, &relation.target);
            keys.extend(targets.into_iter().map(fingerprint::key_of));
        }
    }

    fn is_produced(&self, blueprint: &str, at: usize) -> bool {
        self.produced.get(blueprint).is_some_and(|p| p.has(at))
    }

    fn is_referenced(&self, blueprint: &str, key: EntityKey) -> bool {
        self.referenced
            .get(blueprint)
            .is_some_and(|keys| keys.contains(&key))
    }
}

/// Something this resync did not do completely; any of them holds stale deletion back.
#[derive(Debug, Clone, PartialEq)]
pub enum Incomplete {
    /// A scope (kind, account, region) that could not be read.
    Scope(ScopeError),
    /// Items that could not be mapped.
    UnmappedItems(u64),
    /// Entity writes Port refused.
    RefusedWrites(usize),
    /// Refused writes of entities whose scope cannot be told: they may belong to any scope,
    /// so nothing is deleted.
    UnscopedRefusedWrites(usize),
}

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Incomplete::Scope(scope) => scope.fmt(f),
            Incomplete::UnmappedItems(n) => write!(f, "{n} item(s) could not be mapped"),
            Incomplete::RefusedWrites(n) => write!(f, "{n} entity write(s) failed"),
            Incomplete::UnscopedRefusedWrites(n) => write!(
                f,
                "{n} refused write(s) of entities whose scope cannot be told"
            ),
        }
    }
}

/// Why stale entities were not deleted.
#[derive(Debug, Clone, PartialEq)]
pub enum SkipReason {
    /// The resync was incomplete, so what it did not produce may still exist.
    Incomplete(Vec<Incomplete>),
    /// More than `entityDeletionThreshold` of the integration's entities would go.
    Threshold {
        to_delete: usize,
        existing: usize,
        threshold: f64,
    },
    /// The daemon is shutting down: the resync stopped early.
    Cancelled,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Incomplete(why) => {
                let why: Vec<String> = why.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "skipped because this resync had failures ({})",
                    why.join("; ")
                )
            }
            SkipReason::Threshold {
                to_delete,
                existing,
                threshold,
            } => write!(
                f,
                "skipped: {to_delete} of {existing} entities would be deleted, more than \
                 entityDeletionThreshold ({threshold})"
            ),
            SkipReason::Cancelled => f.write_str("skipped: shutting down"),
        }
    }
}

/// Why a stale entity was kept this resync.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Held {
    /// Its scope was not read completely, or not everything in it mapped and was written.
    Scope { scope: ScopeKey, why: Unclean },
    /// Its scope cannot be told from the entity and this resync was incomplete somewhere.
    UnknownScope,
    /// The empty-read guard (see [`super::empty_reads`]): its scope was read completely and
    /// listed nothing while Port holds `in_port` of its entities, and the previous resync did
    /// not list it empty too. The next resync that does confirms the deletion.
    EmptyRead { scope: ScopeKey, in_port: u64 },
    /// Its identifier had to be read back from Port (see [`super::observed`]) and that read
    /// failed.
    IdentifiersUnread,
    /// The mapping writes its blueprint through a search-query identifier: the entities that
    /// updated were made elsewhere (Port never creates one from a query), and which ones they
    /// are only Port knows, so none is deleted as stale, this resync or a later one.
    SearchIdentifier,
    /// The mapping relates to its blueprint through a search query: which entities kept ones
    /// relate to only Port knows, so none is deleted as stale (deleting a target would take
    /// the entities relating to it along).
    SearchRelationTarget,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Held::Scope { scope, why } => write!(f, "{scope}: {why}"),
            Held::UnknownScope => f.write_str(
                "scope unknown (no ARN, account and region in the entity) and this resync was incomplete",
            ),
            Held::EmptyRead { scope, in_port } => write!(
                f,
                "{scope} listed no item while Port holds {in_port} of its entities \
                 (EMPTY_SCOPE_GUARD_MIN); deleted when the next resync lists it empty again"
            ),
            Held::IdentifiersUnread => f.write_str("reading its identifier back from Port failed"),
            Held::SearchIdentifier => f.write_str(
                "the mapping writes this blueprint through a search-query identifier (which entities it updated only Port knows)",
            ),
            Held::SearchRelationTarget => f.write_str(
                "the mapping relates to this blueprint through a search query (which entities are relation targets only Port knows)",
            ),
        }
    }
}

impl Held {
    /// The scope the reason is about, when it names one.
    pub fn scope(&self) -> Option<&ScopeKey> {
        match self {
            Held::Scope { scope, .. } | Held::EmptyRead { scope, .. } => Some(scope),
            Held::UnknownScope
            | Held::IdentifiersUnread
            | Held::SearchIdentifier
            | Held::SearchRelationTarget => None,
        }
    }

    /// The stable name `plan --output json`, Port's resync logs and `/metrics` give it.
    pub fn code(&self) -> &'static str {
        match self {
            Held::Scope { why, .. } => match why {
                Unclean::NotRead => "scope-not-read",
                Unclean::Failed { .. } => "scope-read-failed",
                Unclean::UnmappedItems(_) => "scope-items-not-mapped",
                Unclean::RefusedWrites(_) => "scope-writes-refused",
            },
            Held::UnknownScope => "scope-unknown-resync-incomplete",
            Held::EmptyRead { .. } => "scope-listed-empty",
            Held::IdentifiersUnread => "identifiers-unread",
            Held::SearchIdentifier => "search-identifier",
            Held::SearchRelationTarget => "search-relation-target",
        }
    }
}

/// Why a stale entity is deleted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum StaleRule {
    /// Its scope was read completely, everything in it mapped, and it was not listed.
    ScopeReadCompletely(ScopeKey),
    /// Its scope is no longer read (its region or account not configured any more) and every
    /// scope that was read, was read completely.
    ScopeNoLongerRead(ScopeKey),
    /// Its account is not in the organization: a complete ListAccounts did not return it.
    AccountLeftOrganization(ScopeKey),
    /// Its scope listed nothing this resync and the previous one (the empty-read guard held
    /// it once).
    EmptyReadConfirmed(ScopeKey),
    /// Its scope cannot be told from the entity, and every scope was read completely.
    EveryScopeReadCompletely,
}

impl StaleRule {
    /// The stable name `--output json` gives the rule.
    pub fn code(&self) -> &'static str {
        match self {
            StaleRule::ScopeReadCompletely(_) => "scope-read-completely",
            StaleRule::ScopeNoLongerRead(_) => "scope-no-longer-read",
            StaleRule::AccountLeftOrganization(_) => "account-left-organization",
            StaleRule::EmptyReadConfirmed(_) => "scope-listed-empty-twice",
            StaleRule::EveryScopeReadCompletely => "every-scope-read-completely",
        }
    }

    pub fn scope(&self) -> Option<&ScopeKey> {
        match self {
            StaleRule::ScopeReadCompletely(scope)
            | StaleRule::ScopeNoLongerRead(scope)
            | StaleRule::AccountLeftOrganization(scope)
            | StaleRule::EmptyReadConfirmed(scope) => Some(scope),
            StaleRule::EveryScopeReadCompletely => None,
        }
    }
}

impl std::fmt::Display for StaleRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StaleRule::ScopeReadCompletely(scope) => {
                write!(f, "not listed by {scope}, which was read completely")
            }
            StaleRule::ScopeNoLongerRead(scope) => write!(
                f,
                "{scope} is no longer read (not configured) and every scope read was complete"
            ),
            StaleRule::AccountLeftOrganization(scope) => write!(
                f,
                "{scope}: account {} is not in the organization (a complete ListAccounts did not return it)",
                scope.account
            ),
            StaleRule::EmptyReadConfirmed(scope) => write!(
                f,
                "{scope} listed no item this resync and the previous one (empty read confirmed)"
            ),
            StaleRule::EveryScopeReadCompletely => f.write_str(
                "not listed, scope unknown (no ARN, account and region), every scope read completely",
            ),
        }
    }
}

/// One stale entity to delete, and the rule that makes it stale.
#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    pub identifier: String,
    pub rule: StaleRule,
}

/// One stale entity deletion keeps this resync.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldEntity {
    pub blueprint: String,
    pub identifier: String,
    pub why: Held,
}

/// Whether stale entities are deleted this resync, and if not, why.
#[derive(Debug, Clone, PartialEq)]
pub enum Deletion {
    /// Stale entities per blueprint (identifiers in order), to delete in `order`.
    Run {
        stale: BTreeMap<String, Vec<Stale>>,
        /// Kept because entities that stay relate to them.
        kept_as_targets: u64,
        /// Stale entities kept, by reason.
        held: BTreeMap<Held, u64>,
        /// Each stale entity kept, with its blueprint and reason: what `plan` lists.
        held_entities: Vec<HeldEntity>,
    },
    Skipped(SkipReason),
}

/// What stale deletion is decided with, besides what was read and produced.
#[derive(Debug, Clone, Copy)]
pub struct DeletionRules<'a> {
    /// `entityDeletionThreshold`: the largest share of the integration's entities deleted.
    pub threshold: f64,
    /// The scopes this resync read empty while Port holds many of their entities.
    pub empty_now: &'a EmptyReads,
    /// The scopes the previous resync read empty: those read empty again are confirmed.
    pub empty_before: &'a EmptyReads,
}

impl DeletionRules<'_> {
    /// Rules with no empty-read memory: [`super::empty_reads`] holds nothing.
    pub fn threshold_only(threshold: f64) -> DeletionRules<'static> {
        static NONE: std::sync::OnceLock<EmptyReads> = std::sync::OnceLock::new();
        let none = NONE.get_or_init(EmptyReads::default);
        DeletionRules {
            threshold,
            empty_now: none,
            empty_before: none,
        }
    }
}

/// Decides stale deletion after the writes, with every stale identifier at hand:
/// [`judge_deletion`] then [`Judgement::into_deletion`] with nothing recovered.
pub fn plan_deletion(
    observed: &Observed,
    desired: &Desired,
    ledger: &ScopeLedger,
    incomplete: &[Incomplete],
    rules: &DeletionRules<'_>,
) -> Deletion {
    match judge_deletion(observed, desired, ledger, incomplete, rules) {
        Ok(judgement) => judgement.into_deletion(observed, &Recovered::default()),
        Err(why) => Deletion::Skipped(why),
    }
}

/// The stale entities, by blueprint and position in its [`Table`], before their identifiers
/// are looked up; the held ones counted by reason.
#[derive(Debug, Default)]
pub struct Judgement {
    stale: BTreeMap<String, Vec<(usize, EntityKey, StaleRule)>>,
    held: BTreeMap<Held, u64>,
    /// Each held entity of a table that kept its identifiers: what `plan` lists.
    held_entities: Vec<HeldEntity>,
    kept_as_targets: u64,
}

/// Per scope: an entity this resync did not produce is stale only when its scope is clean in
/// `ledger` (see [`super::scope`]) and not held by the empty-read guard, or when its account
/// left the organization (whatever else failed); an entity whose scope cannot be told only
/// when nothing at all was `incomplete`. Never beyond the threshold share, never an entity
/// that a kept or held-back entity relates to, nothing when a refused write cannot be placed
/// in a scope.
pub fn judge_deletion(
    observed: &Observed,
    desired: &Desired,
    ledger: &ScopeLedger,
    incomplete: &[Incomplete],
    rules: &DeletionRules<'_>,
) -> Result<Judgement, SkipReason> {
    if incomplete
        .iter()
        .any(|i| matches!(i, Incomplete::UnscopedRefusedWrites(_)))
    {
        return Err(SkipReason::Incomplete(incomplete.to_vec()));
    }
    let complete_everywhere = incomplete.is_empty();
    // Decided once per scope: every entity of a scope shares its fate.
    let decisions: Vec<Result<StaleRule, Held>> = observed
        .scopes
        .iter()
        .map(|scope| decide_scope(scope, ledger, complete_everywhere, rules))
        .collect();
    let mut judgement = Judgement::default();
    // What held-back entities relate to stays too: deleting it would take them along as its
    // dependents (deleteDependentEntities) or leave them pointing at nothing.
    let mut held_targets: HashSet<EntityKey> = HashSet::new();
    for (blueprint, table) in observed.tables() {
        let mut found = Vec::new();
        for (at, key, known) in table.entries() {
            if desired.is_produced(blueprint, at) {
                continue;
            }
            if desired.is_referenced(blueprint, key) {
                judgement.kept_as_targets += 1;
                continue;
            }
            let reach = &desired.search_reach;
            let decision = match known.scope {
                _ if reach.identified.contains(blueprint) => Err(Held::SearchIdentifier),
                _ if reach.related.contains(blueprint) => Err(Held::SearchRelationTarget),
                Some(index) => decisions[index as usize].clone(),
                None if complete_everywhere => Ok(StaleRule::EveryScopeReadCompletely),
                None => Err(Held::UnknownScope),
            };
            match decision {
                Err(hold) => {
                    held_targets.extend(observed.targets_of(table, at));
                    if let Some(identifier) = table.identifier(at) {
                        judgement.held_entities.push(HeldEntity {
                            blueprint: blueprint.clone(),
                            identifier: identifier.to_owned(),
                            why: hold.clone(),
                        });
                    }
                    *judgement.held.entry(hold).or_default() += 1;
                }
                Ok(rule) => found.push((at, key, rule)),
            }
        }
        if !found.is_empty() {
            judgement.stale.insert(blueprint.clone(), found);
        }
    }
    judgement.kept_as_targets +=
        spare_targets_of_held(observed, &mut judgement.stale, held_targets);
    let existing = observed.count();
    let to_delete: usize = judgement.stale.values().map(Vec::len).sum();
    if existing > 0 && to_delete as f64 / existing as f64 > rules.threshold {
        return Err(SkipReason::Threshold {
            to_delete,
            existing,
            threshold: rules.threshold,
        });
    }
    Ok(judgement)
}

impl Judgement {
    /// Keeps every stale entity of `blueprint`, counted as held for `why`.
    pub fn hold_blueprint(&mut self, blueprint: &str, why: Held) {
        if let Some(stale) = self.stale.remove(blueprint) {
            *self.held.entry(why).or_default() += stale.len() as u64;
        }
    }

    /// Keys of stale entities whose identifiers their table did not keep: what
    /// [`Observed`]'s second read recovers.
    pub fn unnamed(&self, observed: &Observed) -> BTreeMap<String, HashSet<EntityKey>> {
        self.stale
            .iter()
            .filter(|(blueprint, _)| {
                observed
                    .table(blueprint)
                    .is_some_and(|t| !t.has_identifiers())
            })
            .map(|(blueprint, stale)| {
                (
                    blueprint.clone(),
                    stale.iter().map(|(_, key, _)| *key).collect(),
                )
            })
            .collect()
    }

    /// The decision with identifiers: kept ones from `observed`, the others from `recovered`.
    /// A stale entity the second read no longer found was deleted meanwhile: nothing to do.
    pub fn into_deletion(self, observed: &Observed, recovered: &Recovered) -> Deletion {
        let mut stale: BTreeMap<String, Vec<Stale>> = BTreeMap::new();
        let mut gone = 0usize;
        for (blueprint, entries) in self.stale {
            let Some(table) = observed.table(&blueprint) else {
                continue;
            };
            let mut found: Vec<Stale> = entries
                .into_iter()
                .filter_map(|(at, key, rule)| {
                    let id = table
                        .identifier(at)
                        .or_else(|| recovered.get(&blueprint, key));
                    gone += usize::from(id.is_none());
                    Some(Stale {
                        identifier: id?.to_owned(),
                        rule,
                    })
                })
                .collect();
            if !found.is_empty() {
                found.sort_by(|a, b| a.identifier.cmp(&b.identifier));
                stale.insert(blueprint, found);
            }
        }
        if gone > 0 {
            tracing::info!(
                count = gone,
                "stale entities no longer in Port when their identifiers were read again"
            );
        }
        let mut held_entities = self.held_entities;
        held_entities
            .sort_by(|a, b| (&a.blueprint, &a.identifier).cmp(&(&b.blueprint, &b.identifier)));
        Deletion::Run {
            stale,
            kept_as_targets: self.kept_as_targets,
            held: self.held,
            held_entities,
        }
    }
}

/// Takes out of `stale` every entity a held-back entity relates to, and then what those relate
/// to, and so on (any blueprint, by identifier: conservative); returns how many were spared.
fn spare_targets_of_held(
    observed: &Observed,
    stale: &mut BTreeMap<String, Vec<(usize, EntityKey, StaleRule)>>,
    mut keep: HashSet<EntityKey>,
) -> u64 {
    let mut spared = 0;
    loop {
        let mut newly_kept = Vec::new();
        for (blueprint, found) in stale.iter_mut() {
            let Some(table) = observed.table(blueprint) else {
                continue;
            };
            found.retain(|(at, key, _)| {
                if keep.contains(key) {
                    newly_kept.extend(observed.targets_of(table, *at));
                    spared += 1;
                    false
                } else {
                    true
                }
            });
        }
        stale.retain(|_, found| !found.is_empty());
        if newly_kept.is_empty() {
            return spared;
        }
        keep.extend(newly_kept);
    }
}

/// The fate of the stale entities of one scope: the rule that deletes them, or why they stay.
fn decide_scope(
    scope: &ScopeKey,
    ledger: &ScopeLedger,
    complete_everywhere: bool,
    rules: &DeletionRules<'_>,
) -> Result<StaleRule, Held> {
    // Not in a complete organization listing: gone as a whole, whatever failed elsewhere
    // (nothing of it was read, so nothing of it can have failed).
    if ledger.left_organization(scope) {
        return Ok(StaleRule::AccountLeftOrganization(scope.clone()));
    }
    match ledger.unclean(scope) {
        None => match rules.empty_now.get(scope) {
            Some(_) if rules.empty_before.contains(scope) => {
                Ok(StaleRule::EmptyReadConfirmed(scope.clone()))
            }
            Some(in_port) => Err(Held::EmptyRead {
                scope: scope.clone(),
                in_port,
            }),
            None => Ok(StaleRule::ScopeReadCompletely(scope.clone())),
        },
        // A scope this resync did not read at all (a region or account no longer configured,
        // an account left out by ACCOUNT_IDS) has nothing that failed: its entities go once
        // nothing failed anywhere, as entities of unknown scope.
        Some(Unclean::NotRead) if complete_everywhere => {
            Ok(StaleRule::ScopeNoLongerRead(scope.clone()))
        }
        Some(why) => Err(Held::Scope {
            scope: scope.clone(),
            why,
        }),
    }
}

/// Blueprints in write order: relation targets before the blueprints that point at them, so
/// that without createMissingRelatedEntities the targets exist first. Deletion uses the reverse.
pub fn write_order(
    blueprints: &Blueprints,
    mapped: impl IntoIterator<Item = String>,
) -> Vec<String> {
    let mut pending: Vec<String> = mapped.into_iter().collect();
    pending.sort();
    pending.dedup();
    let mut ordered: Vec<String> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending.iter().position(|bp| {
            blueprints.get(bp).is_none_or(|b| {
                b.relations.values().all(|r| {
                    r.target == *bp || ordered.contains(&r.target) || !pending.contains(&r.target)
                })
            })
        });
        // A relation cycle has no first blueprint; take them in name order.
        let next = pending.remove(ready.unwrap_or(0));
        ordered.push(next);
    }
    ordered
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::aws::Kind;
    use crate::entity::Identifier;
    use serde_json::{Value, json};

    fn blueprints() -> Blueprints {
        Blueprints::load_dir(Path::new("blueprints")).unwrap()
    }

    fn entity(bp: &str, id: &str, status: &str, account: &str) -> Entity {
        serde_json::from_value(json!({"identifier": id, "blueprint": bp, "title": id,
            "properties": {"status": status}, "relations": {"account": account}}))
        .unwrap()
    }

    fn ids(stale: &[Stale]) -> Vec<&str> {
        stale.iter().map(|s| s.identifier.as_str()).collect()
    }

    fn port_entity(e: &Entity) -> Value {
        json!({"identifier": e.identifier, "title": e.title, "properties": e.properties,
               "relations": e.relations})
    }

    #[test]
    fn unchanged_entities_are_not_written_and_changed_ones_are() {
        let bps = blueprints();
        let same = entity("acmCertificate", "c1", "ISSUED", "1");
        let before = entity("acmCertificate", "c2", "PENDING_VALIDATION", "1");
        let mut observed = Observed::default();
        observed.add(
            "acmCertificate",
            &[port_entity(&same), port_entity(&before)],
            None,
            None,
        );
        observed.seal();
        let mut desired = Desired::default();
        let offers = [
            same.clone(),
            entity("acmCertificate", "c2", "ISSUED", "1"),
            entity("acmCertificate", "c3", "ISSUED", "1"),
            same.clone(),
        ]
        .map(|e| desired.offer(e, &observed, &bps));
        let written: Vec<_> = offers
            .iter()
            .filter_map(|offer| match offer {
                Offer::Write(e) => e.identifier.as_id(),
                _ => None,
            })
            .collect();
        assert_eq!(written, ["c2", "c3"]);
        assert_eq!(offers[0], Offer::Unchanged);
        assert_eq!(offers[3], Offer::Duplicate);
        assert_eq!(desired.duplicates, 1);
        let counts = &desired.counts["acmCertificate"];
        assert_eq!(
            (
                counts.mapped,
                counts.unchanged,
                counts.to_update,
                counts.to_create
            ),
            (3, 1, 1, 1)
        );
    }

    #[test]
    fn stale_entities_are_deleted_except_relation_targets_of_kept_ones() {
        let bps = blueprints();
        let mut observed = Observed::default();
        let old_cert = entity("acmCertificate", "gone", "ISSUED", "1");
        let kept_cert = entity("acmCertificate", "kept", "ISSUED", "2");
        observed.add(
            "acmCertificate",
            &[port_entity(&old_cert), port_entity(&kept_cert)],
            None,
            None,
        );
        observed.seal();
        observed.add(
            "awsAccount",
            &[
                json!({"identifier": "1"}),
                json!({"identifier": "2"}),
                json!({"identifier": "3"}),
            ],
            None,
            None,
        );
        observed.seal();
        let mut desired = Desired::default();
        let _ = desired.offer(kept_cert, &observed, &bps);
        // Account 2 left the organization listing, but a kept certificate still points at it.
        let Deletion::Run {
            stale,
            kept_as_targets,
            ..
        } = plan_deletion(
            &observed,
            &desired,
            &ScopeLedger::default(),
            &[],
            &DeletionRules::threshold_only(0.9),
        )
        else {
            panic!("deletion should run");
        };
        assert_eq!(ids(&stale["acmCertificate"]), ["gone"]);
        assert_eq!(ids(&stale["awsAccount"]), ["1", "3"]);
        assert_eq!(kept_as_targets, 1);
    }

    const WEST: &str = "arn:aws:secretsmanager:eu-west-1:222222222222:secret:";
    const EAST: &str = "arn:aws:secretsmanager:us-east-1:222222222222:secret:";

    fn page(region: &str) -> crate::aws::Page {
        crate::aws::Page {
            kind: Kind::Secret,
            account_id: "222222222222".into(),
            region: region.into(),
            items: vec![],
        }
    }

    fn denied(region: &str) -> ScopeError {
        ScopeError {
            kind: Kind::Secret,
            account_id: "222222222222".into(),
            region: Some(region.into()),
            message: "ListSecrets: AccessDeniedException: not allowed".into(),
            code: Some("AccessDeniedException".into()),
        }
    }

    #[test]
    fn a_failed_scope_keeps_its_entities_and_clean_scopes_lose_their_stale_ones() {
        let mut observed = Observed::default();
        let ids = [format!("{WEST}a"), format!("{EAST}b"), "no-arn".to_owned()];
        let entities: Vec<Value> = ids.iter().map(|id| json!({"identifier": id})).collect();
        observed.add("awsSecret", &entities, None, None);
        observed.seal();
        let mut ledger = ScopeLedger::default();
        ledger.page(&page("eu-west-1"));
        ledger.failed(&denied("us-east-1"));
        let incomplete = [Incomplete::Scope(denied("us-east-1"))];
        let Deletion::Run { stale, held, .. } = plan_deletion(
            &observed,
            &Desired::default(),
            &ledger,
            &incomplete,
            &DeletionRules::threshold_only(1.0),
        ) else {
            panic!("deletion runs per scope");
        };
        assert_eq!(super::tests::ids(&stale["awsSecret"]), [ids[0].as_str()]);
        let east = ScopeKey::new(Kind::Secret, "222222222222", "us-east-1");
        assert_eq!(
            held,
            BTreeMap::from([
                (
                    Held::Scope {
                        scope: east,
                        why: Unclean::Failed {
                            code: Some("AccessDeniedException".into())
                        }
                    },
                    1
                ),
                (Held::UnknownScope, 1),
            ])
        );
        // A complete resync deletes the entity of unknown scope too.
        let mut clean = ScopeLedger::default();
        clean.page(&page("eu-west-1"));
        clean.page(&page("us-east-1"));
        let Deletion::Run { stale, held, .. } = plan_deletion(
            &observed,
            &Desired::default(),
            &clean,
            &[],
            &DeletionRules::threshold_only(1.0),
        ) else {
            panic!("deletion runs");
        };
        assert_eq!(stale["awsSecret"].len(), 3);
        assert!(held.is_empty());
    }

    #[test]
    fn a_scope_not_read_goes_only_when_nothing_failed_and_an_unmapped_item_keeps_its_scope() {
        let mut observed = Observed::default();
        observed.add(
            "awsSecret",
            &[json!({"identifier": format!("{WEST}a")})],
            None,
            None,
        );
        observed.seal();
        let only_east = {
            let mut ledger = ScopeLedger::default();
            ledger.page(&page("us-east-1"));
            ledger
        };
        // eu-west-1 is no longer read (e.g. left out of AWS_REGIONS) and nothing failed.
        let run = plan_deletion(
            &observed,
            &Desired::default(),
            &only_east,
            &[],
            &DeletionRules::threshold_only(1.0),
        );
        assert!(
            matches!(&run, Deletion::Run { stale, .. } if stale["awsSecret"].len() == 1),
            "{run:?}"
        );
        // With a failure elsewhere it is held: it may belong to what failed.
        let elsewhere = [Incomplete::Scope(denied("us-east-1"))];
        let Deletion::Run { stale, held, .. } = plan_deletion(
            &observed,
            &Desired::default(),
            &only_east,
            &elsewhere,
            &DeletionRules::threshold_only(1.0),
        ) else {
            panic!()
        };
        assert!(stale.is_empty());
        assert_eq!(
            held.keys().next(),
            Some(&Held::Scope {
                scope: ScopeKey::new(Kind::Secret, "222222222222", "eu-west-1"),
                why: Unclean::NotRead
            })
        );
        let mut unmapped = ScopeLedger::default();
        unmapped.page(&page("eu-west-1"));
        unmapped.unmapped_item(ScopeKey::new(Kind::Secret, "222222222222", "eu-west-1"));
        let run = plan_deletion(
            &observed,
            &Desired::default(),
            &unmapped,
            &[Incomplete::UnmappedItems(1)],
            &DeletionRules::threshold_only(1.0),
        );
        let Deletion::Run { stale, held, .. } = run else {
            panic!()
        };
        assert!(stale.is_empty());
        assert_eq!(held.values().sum::<u64>(), 1);
    }

    #[test]
    fn a_refused_write_of_unknown_scope_or_a_large_share_skips_deletion() {
        let mut observed = Observed::default();
        observed.add(
            "awsSecret",
            &[json!({"identifier": "a"}), json!({"identifier": "b"})],
            None,
            None,
        );
        observed.seal();
        let desired = Desired::default();
        let ledger = ScopeLedger::default();
        let refused = [Incomplete::UnscopedRefusedWrites(1)];
        let failed = plan_deletion(
            &observed,
            &desired,
            &ledger,
            &refused,
            &DeletionRules::threshold_only(0.9),
        );
        assert_eq!(
            failed,
            Deletion::Skipped(SkipReason::Incomplete(refused.to_vec()))
        );
        let share = plan_deletion(
            &observed,
            &desired,
            &ledger,
            &[],
            &DeletionRules::threshold_only(0.9),
        );
        assert_eq!(
            share,
            Deletion::Skipped(SkipReason::Threshold {
                to_delete: 2,
                existing: 2,
                threshold: 0.9
            })
        );
        let Deletion::Skipped(why) = share else {
            unreachable!()
        };
        assert!(why.to_string().contains("2 of 2"), "{why}");
        assert!(matches!(
            plan_deletion(
                &observed,
                &desired,
                &ledger,
                &[],
                &DeletionRules::threshold_only(1.0)
            ),
            Deletion::Run { .. }
        ));
    }

    #[test]
    fn an_empty_read_is_held_once_and_deleted_when_the_next_resync_reads_it_empty_again() {
        let mut observed = Observed::default();
        let entities: Vec<Value> = (0..50)
            .map(|i| json!({"identifier": format!("{WEST}s{i}")}))
            .collect();
        observed.add("awsSecret", &entities, None, None);
        observed.seal();
        let mut ledger = ScopeLedger::default();
        ledger.page(&page("eu-west-1"));
        let now = EmptyReads::observe(&observed, &ledger, 10);
        let west = ScopeKey::new(Kind::Secret, "222222222222", "eu-west-1");
        let first = DeletionRules {
            threshold: 1.0,
            empty_now: &now,
            empty_before: &EmptyReads::default(),
        };
        let Deletion::Run { stale, held, .. } =
            plan_deletion(&observed, &Desired::default(), &ledger, &[], &first)
        else {
            panic!("deletion runs")
        };
        assert!(stale.is_empty());
        assert_eq!(
            held,
            BTreeMap::from([(
                Held::EmptyRead {
                    scope: west.clone(),
                    in_port: 50
                },
                50
            )])
        );
        let confirming = DeletionRules {
            empty_before: &now,
            ..first
        };
        let Deletion::Run { stale, held, .. } =
            plan_deletion(&observed, &Desired::default(), &ledger, &[], &confirming)
        else {
            panic!("deletion runs")
        };
        assert!(held.is_empty());
        assert_eq!(stale["awsSecret"].len(), 50);
        assert_eq!(
            stale["awsSecret"][0].rule,
            StaleRule::EmptyReadConfirmed(west)
        );
    }

    #[test]
    fn an_account_that_left_the_organization_goes_whatever_failed_and_a_filtered_one_stays() {
        let mut observed = Observed::default();
        let gone = "arn:aws:secretsmanager:eu-west-1:444444444444:secret:old";
        let filtered = "arn:aws:secretsmanager:eu-west-1:333333333333:secret:kept";
        observed.add(
            "awsSecret",
            &[json!({"identifier": gone}), json!({"identifier": filtered})],
            None,
            None,
        );
        observed.seal();
        let mut ledger = ScopeLedger::default();
        ledger.failed(&denied("us-east-1"));
        ledger.organization = Some(["222222222222", "333333333333"].map(String::from).into());
        let incomplete = [Incomplete::Scope(denied("us-east-1"))];
        let rules = DeletionRules::threshold_only(1.0);
        let Deletion::Run { stale, held, .. } =
            plan_deletion(&observed, &Desired::default(), &ledger, &incomplete, &rules)
        else {
            panic!("deletion runs")
        };
        assert_eq!(ids(&stale["awsSecret"]), [gone]);
        assert_eq!(
            stale["awsSecret"][0].rule.code(),
            "account-left-organization"
        );
        // Left out by ACCOUNT_IDS but still a member: not read, kept while anything failed.
        assert_eq!(
            held.keys().map(Held::code).collect::<Vec<_>>(),
            ["scope-not-read"]
        );
        // Without a complete listing nobody left: both kept.
        ledger.organization = None;
        let Deletion::Run { stale, .. } =
            plan_deletion(&observed, &Desired::default(), &ledger, &incomplete, &rules)
        else {
            panic!("deletion runs")
        };
        assert!(stale.is_empty());
    }

    #[test]
    fn what_a_held_back_entity_relates_to_is_kept_with_it() {
        let mut observed = Observed::default();
        let held = format!("{EAST}held");
        observed.add(
            "awsSecret",
            &[json!({"identifier": held, "relations": {"account": "acct-x"}})],
            None,
            None,
        );
        observed.seal();
        observed.add(
            "awsAccount",
            &[
                json!({"identifier": "acct-x"}),
                json!({"identifier": "acct-y"}),
            ],
            None,
            Some(Kind::Account),
        );
        observed.seal();
        let mut ledger = ScopeLedger::default();
        ledger.page(&crate::aws::Page {
            kind: Kind::Account,
            account_id: "222222222222".into(),
            region: "us-east-1".into(),
            items: vec![],
        });
        ledger.failed(&denied("us-east-1"));
        let incomplete = [Incomplete::Scope(denied("us-east-1"))];
        let Deletion::Run {
            stale,
            kept_as_targets,
            ..
        } = plan_deletion(
            &observed,
            &Desired::default(),
            &ledger,
            &incomplete,
            &DeletionRules::threshold_only(1.0),
        )
        else {
            panic!("deletion runs")
        };
        // acct-x would go with the organization listing read completely, but the held secret
        // relates to it; acct-y goes.
        assert_eq!(ids(&stale["awsAccount"]), ["acct-y"]);
        assert!(!stale.contains_key("awsSecret"));
        assert_eq!(kept_as_targets, 1);
    }

    #[test]
    fn targets_are_written_first() {
        let order = write_order(
            &blueprints(),
            ["awsSecret", "acmCertificate", "awsAccount"].map(String::from),
        );
        assert_eq!(order[0], "awsAccount");
        assert_eq!(order.len(), 3);
    }

    fn query(value: &str) -> Value {
        json!({"combinator": "and", "rules": [{"property": "email", "operator": "=", "value": value}]})
    }

    #[test]
    fn entities_with_search_queries_are_always_written_and_a_repeated_query_once() {
        let bps = blueprints();
        let plain = entity("acmCertificate", "c1", "ISSUED", "1");
        let mut observed = Observed::default();
        observed.add("acmCertificate", &[port_entity(&plain)], None, None);
        observed.seal();
        let mut desired = Desired::default();
        assert_eq!(
            desired.offer(plain.clone(), &observed, &bps),
            Offer::Unchanged
        );
        // The same entity relating through a query: Port resolves it on write, so what it
        // holds cannot be compared.
        let mut by_query = plain.clone();
        by_query.relations.insert("account".into(), query("a@x.io"));
        let mut again = Desired::default();
        assert!(matches!(
            again.offer(by_query, &observed, &bps),
            Offer::Write(_)
        ));
        assert_eq!(again.counts["acmCertificate"].to_update, 1);
        let mut patch = entity("awsAccount", "-", "-", "-");
        patch.identifier =
            Identifier::Search(Box::new(query("a@x.io").as_object().unwrap().clone()));
        let offers = [patch.clone(), patch].map(|e| desired.offer(e, &observed, &bps));
        assert!(matches!(offers[0], Offer::Write(_)));
        assert_eq!(offers[1], Offer::Duplicate);
        let counts = &desired.counts["awsAccount"];
        assert_eq!((counts.mapped, counts.to_resolve), (1, 1));
    }

    #[test]
    fn blueprints_a_search_query_reaches_keep_their_stale_entities() {
        let mut observed = Observed::default();
        observed.add("awsAccount", &[json!({"identifier": "1"})], None, None);
        observed.add("acmCertificate", &[json!({"identifier": "c"})], None, None);
        observed.add("awsSecret", &[json!({"identifier": "s"})], None, None);
        observed.seal();
        let reach = SearchReach {
            identified: Reach::Blueprints(["awsSecret".to_owned()].into()),
            related: Reach::Blueprints(["awsAccount".to_owned()].into()),
        };
        let Deletion::Run {
            stale,
            held,
            held_entities,
            ..
        } = plan_deletion(
            &observed,
            &Desired::new(reach),
            &ScopeLedger::default(),
            &[],
            &DeletionRules::threshold_only(1.0),
        )
        else {
            panic!("deletion runs")
        };
        assert_eq!(stale.keys().collect::<Vec<_>>(), ["acmCertificate"]);
        assert_eq!(
            held,
            BTreeMap::from([(Held::SearchIdentifier, 1), (Held::SearchRelationTarget, 1)])
        );
        assert_eq!(held_entities[0].blueprint, "awsAccount");
        assert!(
            held_entities[1]
                .why
                .to_string()
                .contains("search-query identifier")
        );
        // A blueprint that cannot be told reaches every blueprint.
        let everywhere = SearchReach {
            identified: Reach::Everywhere,
            related: Reach::Nowhere,
        };
        let run = plan_deletion(
            &observed,
            &Desired::new(everywhere),
            &ScopeLedger::default(),
            &[],
            &DeletionRules::threshold_only(1.0),
        );
        assert!(matches!(run, Deletion::Run { stale, .. } if stale.is_empty()));
    }

    #[test]
    fn the_search_reach_comes_from_the_mapping_and_the_relation_targets_blueprints_declare() {
        let yaml = r#"
resources:
  - kind: AWS::ACM::Certificate
    port:
      entity:
        mappings:
          identifier: .CertificateArn
          blueprint: '"acmCertificate"'
          relations:
            account: {combinator: '"and"', rules: [{property: '"$identifier"', operator: '"="', value: .__AccountId}]}
  - kind: AWS::SecretsManager::Secret
    port:
      entity:
        mappings:
          identifier: {combinator: '"and"', rules: [{property: '"arn"', operator: '"="', value: .ARN}]}
          blueprint: '"awsSecret"'
  - kind: Not::Read
    port:
      entity:
        mappings:
          identifier: {combinator: '"and"', rules: []}
          blueprint: .dynamic
"#;
        let mapping = Mapping::from_yaml(yaml, Path::new("m.yml")).unwrap();
        let reach = SearchReach::of_mapping(&mapping, &blueprints(), |kind| kind != "Not::Read");
        assert_eq!(
            reach,
            SearchReach {
                identified: Reach::Blueprints(["awsSecret".to_owned()].into()),
                related: Reach::Blueprints(["awsAccount".to_owned()].into()),
            }
        );
        let all = SearchReach::of_mapping(&mapping, &blueprints(), |_| true);
        assert_eq!(all.identified, Reach::Everywhere);
    }
}
