//! The plan of a resync: which entities to write, which to leave, which stale ones to delete.
//!
//! Pure bookkeeping, no I/O: what Port holds (`Observed`) against what AWS produced (`Desired`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::Value;

use super::fingerprint::{self, MappedKeys};
use super::scope::{ScopeKey, ScopeLedger, Unclean, scope_of_entity};
use crate::aws::{Kind, ScopeError};
use crate::blueprints::Blueprints;
use crate::entity::Entity;
use crate::mapping::Mapping;
use crate::validate::static_blueprint;

/// One entity Port holds: its content digest and the scope it belongs to, as an index into
/// [`Observed::scopes`] (`None`: cannot be told from the entity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub digest: u64,
    pub scope: Option<u32>,
}

/// What Port holds for this integration: per blueprint, identifier → digest and scope.
#[derive(Debug, Default)]
pub struct Observed {
    pub by_blueprint: BTreeMap<String, HashMap<String, Known>>,
    /// Each scope once; entities refer to them by index.
    pub scopes: Vec<ScopeKey>,
    scope_index: HashMap<ScopeKey, u32>,
}

impl Observed {
    /// Digests a page of Port search results; `merged` as in [`fingerprint::of_port_entity`];
    /// `kind` is the one kind that feeds the blueprint, when there is one.
    pub fn add(
        &mut self,
        blueprint: &str,
        entities: &[Value],
        merged: Option<&MappedKeys>,
        kind: Option<Kind>,
    ) {
        for entity in entities {
            let Some(id) = entity.get("identifier").and_then(Value::as_str) else {
                continue;
            };
            let scope = scope_of_entity(entity, kind).map(|scope| self.intern(scope));
            let known = Known {
                digest: fingerprint::of_port_entity(entity, merged),
                scope,
            };
            self.by_blueprint
                .entry(blueprint.to_owned())
                .or_default()
                .insert(id.to_owned(), known);
        }
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

    /// Another blueprint's read, taken in.
    pub fn merge(&mut self, other: Observed) {
        for (blueprint, known) in other.by_blueprint {
            let mut entries = self.by_blueprint.remove(&blueprint).unwrap_or_default();
            for (id, mut entry) in known {
                entry.scope = entry
                    .scope
                    .map(|index| self.intern(other.scopes[index as usize].clone()));
                entries.insert(id, entry);
            }
            self.by_blueprint.insert(blueprint, entries);
        }
    }

    pub fn count(&self) -> usize {
        self.by_blueprint.values().map(HashMap::len).sum()
    }
}

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

/// What this resync produced: which entities are kept, which are relation targets, and the
/// counts; each entity is judged against Port as it arrives.
#[derive(Debug, Default)]
pub struct Desired {
    pub counts: BTreeMap<String, BlueprintCounts>,
    /// Identifiers produced this resync, per blueprint: the entities that are kept.
    produced: HashMap<String, HashSet<String>>,
    /// (blueprint, identifier) of every relation target of a produced entity.
    referenced: HashSet<(String, String)>,
    /// (blueprint, query as JSON) of every search-query identifier written this resync.
    queried: HashSet<(String, String)>,
    pub duplicates: u64,
    /// Where the mapping's search queries reach; stale deletion keeps clear of it.
    pub search_reach: SearchReach,
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
        let produced = self.produced.entry(entity.blueprint.clone()).or_default();
        if !produced.insert(id.to_owned()) {
            self.duplicates += 1;
            return Offer::Duplicate;
        }
        self.remember_relation_targets(&entity, blueprints);
        let counts = self.counts.entry(entity.blueprint.clone()).or_default();
        counts.mapped += 1;
        match observed
            .by_blueprint
            .get(&entity.blueprint)
            .and_then(|known| known.get(id))
        {
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
    pub fn resolved(&mut self, blueprint: &str, identifiers: impl IntoIterator<Item = String>) {
        self.produced
            .entry(blueprint.to_owned())
            .or_default()
            .extend(identifiers);
    }

    fn remember_relation_targets(&mut self, entity: &Entity, blueprints: &Blueprints) {
        let Some(blueprint) = blueprints.get(&entity.blueprint) else {
            return;
        };
        for (name, value) in &entity.relations {
            let Some(relation) = blueprint.relations.get(name) else {
                continue;
            };
            let targets: Vec<&str> = match value {
                Value::String(id) => vec![id],
                Value::Array(ids) => ids.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for id in targets {
                self.referenced
                    .insert((relation.target.clone(), id.to_owned()));
            }
        }
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
            Held::SearchIdentifier => f.write_str(
                "the mapping writes this blueprint through a search-query identifier (which entities it updated only Port knows)",
            ),
            Held::SearchRelationTarget => f.write_str(
                "the mapping relates to this blueprint through a search query (which entities are relation targets only Port knows)",
            ),
        }
    }
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
    /// Stale identifiers per blueprint, to delete in `order`.
    Run {
        stale: BTreeMap<String, Vec<String>>,
        /// Kept because entities that stay relate to them.
        kept_as_targets: u64,
        /// Stale entities kept, by reason.
        held: BTreeMap<Held, u64>,
        /// Each stale entity kept, with its blueprint and reason: what `plan` lists.
        held_entities: Vec<HeldEntity>,
    },
    Skipped(SkipReason),
}

/// Decides stale deletion after the writes. Per scope: an entity this resync did not produce
/// is deleted only when its scope is clean in `ledger` (see [`super::scope`]); an entity whose
/// scope cannot be told only when nothing at all was `incomplete`. Never beyond the threshold
/// share, never an entity that a kept entity relates to, nothing when a refused write cannot
/// be placed in a scope.
pub fn plan_deletion(
    observed: &Observed,
    desired: &Desired,
    ledger: &ScopeLedger,
    incomplete: &[Incomplete],
    threshold: f64,
) -> Deletion {
    if incomplete
        .iter()
        .any(|i| matches!(i, Incomplete::UnscopedRefusedWrites(_)))
    {
        return Deletion::Skipped(SkipReason::Incomplete(incomplete.to_vec()));
    }
    let unclean: Vec<Option<Unclean>> = observed.scopes.iter().map(|s| ledger.unclean(s)).collect();
    let mut stale: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut held: BTreeMap<Held, u64> = BTreeMap::new();
    let mut held_entities = Vec::new();
    let mut kept_as_targets = 0;
    for (blueprint, known) in &observed.by_blueprint {
        let produced = desired.produced.get(blueprint);
        let mut ids = Vec::new();
        for (id, entry) in known {
            if produced.is_some_and(|p| p.contains(id)) {
                continue;
            }
            if desired
                .referenced
                .contains(&(blueprint.clone(), id.clone()))
            {
                kept_as_targets += 1;
                continue;
            }
            let complete_everywhere = incomplete.is_empty();
            let reach = &desired.search_reach;
            let hold = match entry.scope {
                _ if reach.identified.contains(blueprint) => Some(Held::SearchIdentifier),
                _ if reach.related.contains(blueprint) => Some(Held::SearchRelationTarget),
                // A scope this resync did not read at all (a region or account no longer
                // configured, an account that left the organization) has nothing that failed:
                // its entities go once nothing failed anywhere, as entities of unknown scope.
                Some(index) => match unclean[index as usize].clone() {
                    Some(Unclean::NotRead) if complete_everywhere => None,
                    why => why.map(|why| Held::Scope {
                        scope: observed.scopes[index as usize].clone(),
                        why,
                    }),
                },
                None => (!complete_everywhere).then_some(Held::UnknownScope),
            };
            match hold {
                Some(hold) => {
                    *held.entry(hold.clone()).or_default() += 1;
                    held_entities.push(HeldEntity {
                        blueprint: blueprint.clone(),
                        identifier: id.clone(),
                        why: hold,
                    });
                }
                None => ids.push(id.clone()),
            }
        }
        if !ids.is_empty() {
            ids.sort();
            stale.insert(blueprint.clone(), ids);
        }
    }
    let existing = observed.count();
    let to_delete: usize = stale.values().map(Vec::len).sum();
    if existing > 0 && to_delete as f64 / existing as f64 > threshold {
        return Deletion::Skipped(SkipReason::Threshold {
            to_delete,
            existing,
            threshold,
        });
    }
    held_entities.sort_by(|a, b| (&a.blueprint, &a.identifier).cmp(&(&b.blueprint, &b.identifier)));
    Deletion::Run {
        stale,
        kept_as_targets,
        held,
        held_entities,
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
    use crate::entity::Identifier;
    use serde_json::json;

    fn blueprints() -> Blueprints {
        Blueprints::load_dir(Path::new("blueprints")).unwrap()
    }

    fn entity(bp: &str, id: &str, status: &str, account: &str) -> Entity {
        serde_json::from_value(json!({"identifier": id, "blueprint": bp, "title": id,
            "properties": {"status": status}, "relations": {"account": account}}))
        .unwrap()
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
        let mut desired = Desired::default();
        let _ = desired.offer(kept_cert, &observed, &bps);
        // Account 2 left the organization listing, but a kept certificate still points at it.
        let Deletion::Run {
            stale,
            kept_as_targets,
            ..
        } = plan_deletion(&observed, &desired, &ScopeLedger::default(), &[], 0.9)
        else {
            panic!("deletion should run");
        };
        assert_eq!(stale["acmCertificate"], ["gone"]);
        assert_eq!(stale["awsAccount"], ["1", "3"]);
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
        let mut ledger = ScopeLedger::default();
        ledger.page(&page("eu-west-1"));
        ledger.failed(&denied("us-east-1"));
        let incomplete = [Incomplete::Scope(denied("us-east-1"))];
        let Deletion::Run { stale, held, .. } =
            plan_deletion(&observed, &Desired::default(), &ledger, &incomplete, 1.0)
        else {
            panic!("deletion runs per scope");
        };
        assert_eq!(stale["awsSecret"], [ids[0].clone()]);
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
        let Deletion::Run { stale, held, .. } =
            plan_deletion(&observed, &Desired::default(), &clean, &[], 1.0)
        else {
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
        let only_east = {
            let mut ledger = ScopeLedger::default();
            ledger.page(&page("us-east-1"));
            ledger
        };
        // eu-west-1 is no longer read (e.g. left out of AWS_REGIONS) and nothing failed.
        let run = plan_deletion(&observed, &Desired::default(), &only_east, &[], 1.0);
        assert!(
            matches!(&run, Deletion::Run { stale, .. } if stale["awsSecret"].len() == 1),
            "{run:?}"
        );
        // With a failure elsewhere it is held: it may belong to what failed.
        let elsewhere = [Incomplete::Scope(denied("us-east-1"))];
        let Deletion::Run { stale, held, .. } =
            plan_deletion(&observed, &Desired::default(), &only_east, &elsewhere, 1.0)
        else {
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
            1.0,
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
        let desired = Desired::default();
        let ledger = ScopeLedger::default();
        let refused = [Incomplete::UnscopedRefusedWrites(1)];
        let failed = plan_deletion(&observed, &desired, &ledger, &refused, 0.9);
        assert_eq!(
            failed,
            Deletion::Skipped(SkipReason::Incomplete(refused.to_vec()))
        );
        let share = plan_deletion(&observed, &desired, &ledger, &[], 0.9);
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
            plan_deletion(&observed, &desired, &ledger, &[], 1.0),
            Deletion::Run { .. }
        ));
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
            1.0,
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
            1.0,
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
