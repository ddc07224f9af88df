//! One resync against Port: read what Port holds, extract and map AWS while writing what
//! changed (see [`super::writer`]), then delete what went stale, if and only if everything
//! before went right. This module only orchestrates; the decisions are in `plan`, the writes
//! in `writer`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::StreamExt;
use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::extract::{Extraction, PageMapper, fetch_list, mapped_kinds};
use super::fingerprint::MappedKeys;
use super::plan::{
    Deletion, Desired, Incomplete, Observed, Offer, SearchReach, SkipReason, plan_deletion,
    write_order,
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
    /// Create blueprints missing in Port before writing (existing ones are never changed).
    pub bootstrap_blueprints: bool,
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
        if self.bootstrap_blueprints {
            self.ensure_blueprints().await?;
        }
        let mapped = self.mapped_blueprints();
        let (observed, _) = self.read_port(&mapped, false).await?;

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
            desired.resolved(&blueprint, identifiers);
        }
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
        let (observed, mut copies) = self.read_port(&mapped, true).await?;
        let merged: BTreeMap<String, Option<MappedKeys>> = mapped
            .iter()
            .map(|bp| (bp.clone(), self.merged_keys(bp)))
            .collect();
        let mut desired = Desired::new(self.search_reach());
        let mut preview = Preview::default();
        let kinds = mapped_kinds(self.mapping);
        let mut mapper = PageMapper::new(self.mapping, &kinds);
        let mut pages = self.sources.fetch_kinds(fetch_list(self.mapping, &kinds));
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
        drop(copies);
        let report = ResyncReport {
            extraction: mapper.finish(),
            ..ResyncReport::default()
        };
        preview.deletion(
            self.decide_deletion(&observed, &desired, &report),
            &observed,
        );
        preview.unchanged(
            desired
                .counts
                .iter()
                .map(|(bp, counts)| (bp.clone(), counts.unchanged)),
        );
        for blueprint in observed.by_blueprint.keys().chain(&mapped) {
            preview.blueprints.entry(blueprint.clone()).or_default();
        }
        preview.sort();
        preview.extraction = report.extraction;
        preview.port_requests = self.port.stats().since(&before);
        Ok(preview)
    }

    async fn ensure_blueprints(&self) -> Result<(), ResyncError> {
        ensure_blueprints(self.port, self.blueprints)
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
    async fn read_port(
        &self,
        mapped: &BTreeSet<String>,
        keep_copies: bool,
    ) -> Result<(Observed, PortCopies), ResyncError> {
        let kinds = &self.blueprint_kinds();
        let reads = mapped.iter().map(|blueprint| async move {
            let merged = self.merged_keys(blueprint);
            let kind = kinds.get(blueprint).copied();
            let mut observed = Observed::default();
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
        for (blueprint, result) in join_all(reads).await {
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
        Ok((observed, all_copies))
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
        let mut pages = self.sources.fetch_kinds(fetch_list(self.mapping, &kinds));
        let mut pages_done = false;
        loop {
            writer.send_full_batches(cancel);
            tokio::select! {
                next = pages.next(), if !pages_done => match next {
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

    /// The stale deletion decision, from what was read, produced and written: the one
    /// `resync` acts on and `plan` shows.
    fn decide_deletion(
        &self,
        observed: &Observed,
        desired: &Desired,
        report: &ResyncReport,
    ) -> Deletion {
        let threshold = self.mapping.config.entity_deletion_threshold;
        let mut ledger = report.extraction.scopes.clone();
        for failure in &report.write_failures {
            if let Some(scope) = &failure.scope {
                ledger.refused_write(scope.clone());
            }
        }
        plan_deletion(observed, desired, &ledger, &incomplete(report), threshold)
    }

    async fn delete_stale(
        &self,
        observed: &Observed,
        desired: &Desired,
        order: &[String],
        report: &mut ResyncReport,
    ) {
        match self.decide_deletion(observed, desired, report) {
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
                let delete_dependents = self.mapping.config.delete_dependent_entities;
                // Dependents before their targets.
                for bp in order.iter().rev() {
                    let Some(ids) = stale.get(bp) else { continue };
                    let outcome = self.port.bulk_delete(bp, ids, delete_dependents).await;
                    let r = report.blueprints.entry(bp.clone()).or_default();
                    r.deleted += (outcome.deleted.len() + outcome.not_found.len()) as u64;
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
    let ensured = port.ensure_blueprints(&wanted).await?;
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
    for (blueprint, known) in &observed.by_blueprint {
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
