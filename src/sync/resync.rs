//! One resync against Port: read what Port holds, extract and map AWS while writing what
//! changed (see [`super::writer`]), then delete what went stale, if and only if everything
//! before went right. This module only orchestrates; the decisions are in `plan`, the writes
//! in `writer`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures::StreamExt;
use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::empty_reads::{DeletionSettings, EmptyReads};
use super::extract::{Extraction, PageMapper, mapped_kinds};
use super::fingerprint::MappedKeys;
use super::plan::{
    Deletion, DeletionRules, Desired, Held, Incomplete, Judgement, Observed, Offer, Recovered,
    SearchReach, SkipReason, judge_deletion, write_order,
};
use super::preview::{PortCopies, Preview};
use super::report::{DeletionOutcome, ResyncReport, WriteFailure};
use super::writer::Writer;
use crate::aws::{AwsSources, Kind};
use crate::blueprints::Blueprints;
use crate::mapping::Mapping;
use crate::port::{PortClient, PortError, UpsertOptions};
use crate::validate::static_blueprint;
use serde_json::Value;

/// Everything a resync reads; built once at start-up and reused by every scheduled resync.
pub struct Resync<'a> {
    pub mapping: &'a Mapping,
    pub blueprints: &'a Blueprints,
    pub sources: &'a AwsSources,
    pub port: &'a PortClient,
    /// Create blueprints missing in Port before writing (existing ones are never changed);
    /// for [`Self::preview`], whether a missing one would be created (then shown as such).
    pub bootstrap_blueprints: bool,
    /// EMPTY_SCOPE_GUARD_MIN.
    pub deletion: DeletionSettings,
    /// The scopes the previous resync read empty (see [`super::empty_reads`]); empty when
    /// unknown, which holds every empty read back once more.
    pub empty_before: &'a EmptyReads,
}

/// A resync that could not start: nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ResyncError {
    #[error("Port refused our credentials: {0}")]
    Unauthorized(PortError),
    #[error("creating the blueprints in Port failed: {0}")]
    Blueprints(PortError),
    #[error("reading the entities of blueprint `{blueprint}` from Port failed: {error}")]
    ReadPort { blueprint: String, error: PortError },
}

impl ResyncError {
    /// Credentials Port refuses are a configuration problem, not a passing failure.
    pub fn is_configuration(&self) -> bool {
        match self {
            Self::Unauthorized(e) | Self::Blueprints(e) => e.refuses_credentials(),
            Self::ReadPort { error, .. } => error.refuses_credentials(),
        }
    }
}

impl Resync<'_> {
    pub async fn run(&self) -> Result<ResyncReport, ResyncError> {
        self.run_until(&CancellationToken::new()).await
    }

    /// [`Self::run`], stopping early once `cancel` fires (the daemon shutting down): no new
    /// write batch starts, requests already sent finish, and stale deletion is skipped.
    pub async fn run_until(&self, cancel: &CancellationToken) -> Result<ResyncReport, ResyncError> {
        let before = self.port.stats();
        let mapped = self.mapped_blueprints();
        if self.bootstrap_blueprints {
            self.ensure_blueprints(&mapped).await?;
        }
        // Port is read before AWS, not beside it: an AWS call started and then left unpolled
        // while Port's pages come in (minutes at a million entities) runs out its SDK
        // operation timeout and fails its scope (seen in scripts/bench-scale.sh at 1M).
        let (observed, _, _) = self.read_port(&mapped, false).await?;

        let mut desired = Desired::new(self.search_reach());
        let mut report = ResyncReport::default();
        let mut writer = Writer::new(self.port, self.upsert_options(), self.blueprint_kinds());
        report.extraction = self
            .extract_and_write(&observed, &mut desired, &mut writer, &mut report, cancel)
            .await;
        count_blueprints(&mut report, &observed, &desired);
        let order = write_order(
            self.blueprints,
            mapped.iter().chain(writer.queued_blueprints()).cloned(),
        );
        // Port names the entities that search-query identifiers reached only in its answers.
        let resolved = writer.finish(&order, &mut report, cancel).await;
        for (blueprint, identifiers) in resolved {
            desired.resolved(&blueprint, identifiers, &observed);
        }
        report.empty_reads = self.empty_reads(&observed, &report);
        if cancel.is_cancelled() {
            report.cancelled = true;
            report.deletion = Some(DeletionOutcome::Skipped(SkipReason::Cancelled));
            tracing::warn!("resync cancelled: remaining writes and stale deletion skipped");
        } else {
            self.delete_stale(&observed, &desired, &order, &mut report)
                .await;
        }
        report.port_requests = self.port.stats().since(&before);
        Ok(report)
    }

    /// What [`Self::run`] would do, writing nothing: the same read of Port (keeping Port's
    /// copies for the changed fields), the same extraction and the same decisions, with a
    /// [`Preview`] collecting the writes in place of the writer. Blueprints are never created.
    pub async fn preview(&self) -> Result<Preview, ResyncError> {
        let before = self.port.stats();
        let mapped = self.mapped_blueprints();
        let (observed, mut copies, missing) = self.read_port(&mapped, true).await?;
        let mut preview = Preview {
            blueprints_to_create: missing,
            ..Preview::default()
        };
        let merged: BTreeMap<String, Option<MappedKeys>> = mapped
            .iter()
            .map(|bp| (bp.clone(), self.merged_keys(bp)))
            .collect();
        let mut desired = Desired::new(self.search_reach());
        let kinds = mapped_kinds(self.mapping);
        let mut mapper = PageMapper::new(self.mapping, &kinds);
        let mut pages = mapper.fetch(self.sources, self.mapping, &kinds);
        while let Some(result) = pages.next().await {
            mapper.take(result, &mut |entity| {
                if let Offer::Write(entity) = desired.offer(entity, &observed, self.blueprints) {
                    let before = copies
                        .get_mut(&entity.blueprint)
                        .zip(entity.identifier.as_id())
                        .and_then(|(c, id)| c.remove(id));
                    let keys = merged.get(&entity.blueprint).and_then(Option::as_ref);
                    preview.write(entity, before.as_ref(), keys);
                }
            });
        }
        drop(pages);
        drop(copies);
        let mut report = ResyncReport {
            extraction: mapper.finish(),
            ..ResyncReport::default()
        };
        report.empty_reads = self.empty_reads(&observed, &report);
        // Plan keeps every identifier: nothing to recover.
        preview.deletion(match self.judge_deletion(&observed, &desired, &report) {
            Ok(judgement) => judgement.into_deletion(&observed, &Recovered::default()),
            Err(why) => Deletion::Skipped(why),
        });
        preview.unchanged(
            desired
                .counts
                .iter()
                .map(|(bp, counts)| (bp.clone(), counts.unchanged)),
        );
        for blueprint in observed.blueprints().chain(&mapped) {
            preview.blueprints.entry(blueprint.clone()).or_default();
        }
        preview.sort();
        preview.extraction = report.extraction;
        preview.port_requests = self.port.stats().since(&before);
        Ok(preview)
    }

    /// The blueprints the mapping writes to and the targets of their relations, created if
    /// missing; blueprints of the directory the mapping does not use are left alone.
    async fn ensure_blueprints(&self, mapped: &BTreeSet<String>) -> Result<(), ResyncError> {
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut pending: Vec<String> = mapped.iter().cloned().collect();
        while let Some(id) = pending.pop() {
            if let Some(blueprint) = self.blueprints.get(&id)
                && wanted.insert(id)
            {
                pending.extend(blueprint.relations.values().map(|r| r.target.clone()));
            }
        }
        let json: Vec<Value> = wanted
            .iter()
            .filter_map(|id| self.blueprints.get(id))
            .map(|b| b.json.clone())
            .collect();
        ensure_these_blueprints(self.port, &json)
            .await
            .map_err(ResyncError::Blueprints)
    }

    /// Where the mapping's search queries reach, which stale deletion keeps clear of.
    fn search_reach(&self) -> SearchReach {
        let kinds = mapped_kinds(self.mapping);
        SearchReach::of_mapping(self.mapping, self.blueprints, |kind| {
            kinds.iter().any(|k| k.as_str() == kind)
        })
    }

    /// Blueprints the mapping writes to, known before any item is mapped.
    fn mapped_blueprints(&self) -> BTreeSet<String> {
        let globals = &self.mapping.globals;
        let kinds = mapped_kinds(self.mapping);
        self.mapping
            .resources
            .iter()
            .filter(|r| kinds.iter().any(|k| k.as_str() == r.kind))
            .filter_map(|r| static_blueprint(r, globals))
            .collect()
    }

    /// Each mapped blueprint fed by exactly one kind, with that kind: how the scope of an
    /// entity without an ARN is told (see [`super::scope`]).
    fn blueprint_kinds(&self) -> BTreeMap<String, Kind> {
        let globals = &self.mapping.globals;
        let mut kinds: BTreeMap<String, Option<Kind>> = BTreeMap::new();
        for resource in &self.mapping.resources {
            let (Some(blueprint), Some(kind)) = (
                static_blueprint(resource, globals),
                Kind::from_name(&resource.kind),
            ) else {
                continue;
            };
            let entry = kinds.entry(blueprint).or_insert(Some(kind));
            if *entry != Some(kind) {
                *entry = None;
            }
        }
        kinds
            .into_iter()
            .filter_map(|(blueprint, kind)| Some((blueprint, kind?)))
            .collect()
    }

    fn merged_keys(&self, blueprint: &str) -> Option<MappedKeys> {
        if !self.mapping.config.enable_merge_entity {
            return None;
        }
        let globals = &self.mapping.globals;
        let mut keys = MappedKeys::default();
        for resource in &self.mapping.resources {
            if static_blueprint(resource, globals).as_deref() == Some(blueprint) {
                keys.properties
                    .extend(resource.properties.iter().map(|(k, _)| k.clone()));
                keys.relations
                    .extend(resource.relations.iter().map(|(k, _)| k.clone()));
            }
        }
        Some(keys)
    }

    /// One paginated read per blueprint, all at once; used for the diff and for deletion.
    /// Each page is digested as it arrives: only identifiers and digests are kept, unless
    /// `keep_copies` (`plan`, which shows the fields an update changes) keeps Port's entities.
    ///
    /// With `keep_copies`, a blueprint Port does not have (404) that a resync would create
    /// (INITIALIZE_PORT_RESOURCES and its file in the blueprints directory) reads as empty and
    /// is returned as missing: `plan` shows its creation and all its entities as creates.
    async fn read_port(
        &self,
        mapped: &BTreeSet<String>,
        keep_copies: bool,
    ) -> Result<(Observed, PortCopies, Vec<String>), ResyncError> {
        let kinds = &self.blueprint_kinds();
        let reads = mapped.iter().map(|blueprint| async move {
            let merged = self.merged_keys(blueprint);
            let kind = kinds.get(blueprint).copied();
            let mut observed = if keep_copies {
                Observed::keeping_identifiers()
            } else {
                Observed::default()
            };
            let mut copies: HashMap<String, Value> = HashMap::new();
            let read = self
                .port
                .owned_entity_pages(blueprint, &[], |page| {
                    observed.add(blueprint, &page, merged.as_ref(), kind);
                    if keep_copies {
                        copies.extend(page.into_iter().filter_map(|entity| {
                            let id = entity.get("identifier")?.as_str()?.to_owned();
                            Some((id, entity))
                        }));
                    }
                })
                .await;
            (blueprint, read.map(|()| (observed, copies)))
        });
        let mut observed = Observed::default();
        let mut all_copies = PortCopies::new();
        let mut missing = Vec::new();
        for (blueprint, result) in join_all(reads).await {
            let would_create = keep_copies
                && self.bootstrap_blueprints
                && self.blueprints.get(blueprint).is_some();
            if would_create && matches!(&result, Err(e) if e.status() == Some(404)) {
                missing.push(blueprint.clone());
                continue;
            }
            let read = result.map_err(|error| {
                if error.refuses_credentials() {
                    ResyncError::Unauthorized(error)
                } else {
                    ResyncError::ReadPort {
                        blueprint: blueprint.clone(),
                        error,
                    }
                }
            })?;
            observed.merge(read.0);
            if keep_copies {
                all_copies.insert(blueprint.clone(), read.1);
            }
        }
        Ok((observed, all_copies, missing))
    }

    fn upsert_options(&self) -> UpsertOptions {
        UpsertOptions {
            merge: self.mapping.config.enable_merge_entity,
            create_missing_related_entities: self.mapping.config.create_missing_related_entities,
            run_id: None,
        }
    }

    /// Reads and maps every mapped kind, judging each entity against Port as it arrives and
    /// queueing those to write; the writer sends whole batches meanwhile (recorded in
    /// `report`).
    async fn extract_and_write(
        &self,
        observed: &Observed,
        desired: &mut Desired,
        writer: &mut Writer<'_>,
        report: &mut ResyncReport,
        cancel: &CancellationToken,
    ) -> Extraction {
        let kinds = mapped_kinds(self.mapping);
        let mut mapper = PageMapper::new(self.mapping, &kinds);
        let mut pages = mapper.fetch(self.sources, self.mapping, &kinds);
        let mut pages_done = false;
        loop {
            writer.send_full_batches(cancel);
            if writer.is_full() && !writer.is_sending() {
                let mapped = self.mapped_blueprints();
                let order = write_order(
                    self.blueprints,
                    mapped.iter().chain(writer.queued_blueprints()).cloned(),
                );
                writer.make_room(&order, report, cancel).await;
            }
            tokio::select! {
                // A full queue holds AWS paging until Port has taken some: backpressure.
                next = pages.next(), if !pages_done && !writer.is_full() => match next {
                    Some(result) => mapper.take(result, &mut |entity| {
                        if let Offer::Write(entity) = desired.offer(entity, observed, self.blueprints) {
                            writer.queue(entity);
                        }
                    }),
                    None => pages_done = true,
                },
                Some(sent) = writer.next_sent(), if writer.is_sending() => {
                    writer.record(report, sent, None);
                }
                else => break,
            }
        }
        mapper.finish()
    }

    /// The scopes this resync read completely and empty while Port holds many of their
    /// entities: what the empty-read guard holds back, and what the next resync is given.
    fn empty_reads(&self, observed: &Observed, report: &ResyncReport) -> EmptyReads {
        EmptyReads::observe(
            observed,
            &report.extraction.scopes,
            self.deletion.empty_scope_guard_min,
        )
    }

    /// The stale deletion decision, from what was read, produced and written: the one
    /// `resync` acts on and `plan` shows.
    fn judge_deletion(
        &self,
        observed: &Observed,
        desired: &Desired,
        report: &ResyncReport,
    ) -> Result<Judgement, SkipReason> {
        let threshold = self.mapping.config.entity_deletion_threshold;
        let mut ledger = report.extraction.scopes.clone();
        for failure in &report.write_failures {
            if let Some(scope) = &failure.scope {
                ledger.refused_write(scope.clone());
            }
        }
        let rules = DeletionRules {
            threshold,
            empty_now: &report.empty_reads,
            empty_before: self.empty_before,
        };
        judge_deletion(observed, desired, &ledger, &incomplete(report), &rules)
    }

    /// Identifiers of the stale entities whose table dropped them (see [`super::observed`]):
    /// one identifier-only read of each such blueprint, keeping only the stale ones. A read
    /// that fails holds that blueprint's stale entities back.
    async fn name_stale(&self, mut judgement: Judgement, observed: &Observed) -> Deletion {
        let mut recovered = Recovered::default();
        for (blueprint, wanted) in judgement.unnamed(observed) {
            let read = self
                .port
                .owned_entity_pages(&blueprint, &["identifier"], |page| {
                    recovered.take(&blueprint, &page, &wanted)
                })
                .await;
            if let Err(error) = read {
                tracing::warn!(blueprint, %error, "could not read back the identifiers of stale entities");
                judgement.hold_blueprint(&blueprint, Held::IdentifiersUnread);
            }
        }
        judgement.into_deletion(observed, &recovered)
    }

    async fn delete_stale(
        &self,
        observed: &Observed,
        desired: &Desired,
        order: &[String],
        report: &mut ResyncReport,
    ) {
        let deletion = match self.judge_deletion(observed, desired, report) {
            Ok(judgement) => self.name_stale(judgement, observed).await,
            Err(why) => Deletion::Skipped(why),
        };
        match deletion {
            Deletion::Skipped(why) => {
                tracing::warn!("stale deletion {why}");
                report.deletion = Some(DeletionOutcome::Skipped(why));
            }
            Deletion::Run {
                stale,
                kept_as_targets,
                held,
                ..
            } => {
                for (why, n) in &held {
                    tracing::warn!(count = n, "stale entities held back: {why}");
                }
                report.deletion = Some(DeletionOutcome::Ran {
                    kept_as_targets,
                    held,
                });
                // Confirmed empty reads are deleted now: nothing of them is left to remember.
                let confirmed = self.empty_before;
                report
                    .empty_reads
                    .0
                    .retain(|scope, _| !confirmed.contains(scope));
                let delete_dependents = self.mapping.config.delete_dependent_entities;
                // Dependents before their targets.
                for bp in order.iter().rev() {
                    let Some(found) = stale.get(bp) else { continue };
                    let ids: Vec<String> = found.iter().map(|s| s.identifier.clone()).collect();
                    let outcome = self.port.bulk_delete(bp, &ids, delete_dependents).await;
                    let r = report.blueprints.entry(bp.clone()).or_default();
                    r.deleted += (outcome.deleted.len() + outcome.not_found.len()) as u64;
                    let gone: HashSet<&String> =
                        outcome.deleted.iter().chain(&outcome.not_found).collect();
                    for stale in found.iter().filter(|s| gone.contains(&s.identifier)) {
                        *report
                            .deleted_by_scope
                            .entry((bp.clone(), stale.rule.scope().cloned()))
                            .or_default() += 1;
                    }
                    for failed in outcome.failed {
                        report
                            .delete_failures
                            .push(WriteFailure::refused(bp, failed));
                    }
                }
            }
        }
    }
}

/// Creates the blueprints missing in Port (Ocean's initializePortResources); existing ones
/// are never changed.
pub async fn ensure_blueprints(
    port: &PortClient,
    blueprints: &Blueprints,
) -> Result<(), PortError> {
    let wanted: Vec<_> = blueprints.by_id.values().map(|b| b.json.clone()).collect();
    ensure_these_blueprints(port, &wanted).await
}

async fn ensure_these_blueprints(port: &PortClient, wanted: &[Value]) -> Result<(), PortError> {
    let ensured = port.ensure_blueprints(wanted).await?;
    if !ensured.created.is_empty() {
        tracing::info!(created = ?ensured.created, "created blueprints missing in Port");
    }
    Ok(())
}

/// What this resync did not do completely: the scopes, items and writes that failed.
fn incomplete(report: &ResyncReport) -> Vec<Incomplete> {
    let mut incomplete: Vec<Incomplete> = report
        .extraction
        .scope_errors
        .iter()
        .cloned()
        .map(Incomplete::Scope)
        .collect();
    if report.extraction.item_failure_count > 0 {
        incomplete.push(Incomplete::UnmappedItems(
            report.extraction.item_failure_count,
        ));
    }
    // A refused write through a search-query identifier names no entity of ours: it holds
    // nothing back (its blueprint is held whole, see `Held::SearchIdentifier`).
    let holding: Vec<_> = report
        .write_failures
        .iter()
        .filter(|f| !f.through_search_identifier)
        .collect();
    let unscoped = holding.iter().filter(|f| f.scope.is_none()).count();
    if unscoped > 0 {
        incomplete.push(Incomplete::UnscopedRefusedWrites(unscoped));
    }
    let scoped = holding.len() - unscoped;
    if scoped > 0 {
        incomplete.push(Incomplete::RefusedWrites(scoped));
    }
    incomplete
}

fn count_blueprints(report: &mut ResyncReport, observed: &Observed, desired: &Desired) {
    for (blueprint, known) in observed.tables() {
        report
            .blueprints
            .entry(blueprint.clone())
            .or_default()
            .in_port = known.len() as u64;
    }
    for (blueprint, counts) in &desired.counts {
        let r = report.blueprints.entry(blueprint.clone()).or_default();
        r.mapped = counts.mapped;
        r.unchanged = counts.unchanged;
    }
}
