//! One resync against Port: read what Port holds, extract and map AWS, write what changed,
//! then delete what went stale, if and only if everything before went right.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::extract::mapped_kinds;
use super::fingerprint::MappedKeys;
use super::plan::{Deletion, Desired, Observed, plan_deletion, write_order};
use super::report::{ResyncReport, WriteFailure};
use crate::aws::AwsSources;
use crate::blueprints::Blueprints;
use crate::entity::Entity;
use crate::mapping::Mapping;
use crate::mapping::jq::Globals;
use crate::port::{PortClient, PortError, UpsertOptions};
use crate::validate::static_blueprint;

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
            let wanted: Vec<_> = self
                .blueprints
                .by_id
                .values()
                .map(|b| b.json.clone())
                .collect();
            let ensured = self
                .port
                .ensure_blueprints(&wanted)
                .await
                .map_err(ResyncError::Blueprints)?;
            if !ensured.created.is_empty() {
                tracing::info!(created = ?ensured.created, "created blueprints missing in Port");
            }
        }
        let mapped = self.mapped_blueprints();
        let observed = self.read_port(&mapped).await?;

        let mut desired = Desired::default();
        let mut report = ResyncReport::default();
        let kinds = mapped_kinds(self.mapping);
        report.extraction = self
            .extract_and_write(&kinds, &observed, &mut desired, &mut report, cancel)
            .await;
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
        let order = write_order(
            self.blueprints,
            mapped.iter().cloned().chain(desired.writes.keys().cloned()),
        );
        self.write(&mut desired, &order, &mut report, cancel).await;
        if cancel.is_cancelled() {
            report.cancelled = true;
            report.deletion_note = "skipped: shutting down".to_owned();
            tracing::warn!("resync cancelled: remaining writes and stale deletion skipped");
        } else {
            self.delete_stale(&observed, &desired, &order, &mut report)
                .await;
        }
        report.port_requests = self.port.stats().since(&before);
        Ok(report)
    }

    /// Blueprints the mapping writes to, known before any item is mapped.
    fn mapped_blueprints(&self) -> BTreeSet<String> {
        let globals = Globals::from_process_env();
        let kinds = mapped_kinds(self.mapping);
        self.mapping
            .resources
            .iter()
            .filter(|r| kinds.iter().any(|k| k.as_str() == r.kind))
            .filter_map(|r| static_blueprint(r, &globals))
            .collect()
    }

    fn merged_keys(&self, blueprint: &str) -> Option<MappedKeys> {
        if !self.mapping.config.enable_merge_entity {
            return None;
        }
        let globals = Globals::from_process_env();
        let mut keys = MappedKeys::default();
        for resource in &self.mapping.resources {
            if static_blueprint(resource, &globals).as_deref() == Some(blueprint) {
                keys.properties
                    .extend(resource.properties.iter().map(|(k, _)| k.clone()));
                keys.relations
                    .extend(resource.relations.iter().map(|(k, _)| k.clone()));
            }
        }
        Some(keys)
    }

    /// One paginated read per blueprint, all at once; used for the diff and for deletion.
    /// Each page is digested as it arrives: only identifiers and digests are kept.
    async fn read_port(&self, mapped: &BTreeSet<String>) -> Result<Observed, ResyncError> {
        let reads = mapped.iter().map(|blueprint| async move {
            let merged = self.merged_keys(blueprint);
            let mut observed = Observed::default();
            let read = self
                .port
                .owned_entity_pages(blueprint, &[], |page| {
                    observed.add(blueprint, &page, merged.as_ref());
                })
                .await;
            (blueprint, read.map(|()| observed))
        });
        let mut observed = Observed::default();
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
            observed.by_blueprint.extend(read.by_blueprint);
        }
        Ok(observed)
    }

    pub(super) fn upsert_options(&self) -> UpsertOptions {
        UpsertOptions {
            merge: self.mapping.config.enable_merge_entity,
            create_missing_related_entities: self.mapping.config.create_missing_related_entities,
            run_id: None,
        }
    }

    /// Upserts one blueprint's entities in slices of a few requests' worth, checking `cancel`
    /// between slices; returns the outcomes of the slices that were sent.
    async fn upsert_slices(
        &self,
        blueprint: &str,
        entities: &[Entity],
        options: &UpsertOptions,
        cancel: &CancellationToken,
    ) -> Vec<(std::ops::Range<usize>, crate::port::BulkOutcome)> {
        let slice = crate::port::MAX_ENTITIES_PER_REQUEST * self.port.max_in_flight();
        let mut outcomes = Vec::new();
        let mut start = 0;
        while start < entities.len() && !cancel.is_cancelled() {
            let end = (start + slice).min(entities.len());
            let outcome = self
                .port
                .bulk_upsert(blueprint, &entities[start..end], options)
                .await;
            outcomes.push((start..end, outcome));
            start = end;
        }
        outcomes
    }

    async fn write(
        &self,
        desired: &mut Desired,
        order: &[String],
        report: &mut ResyncReport,
        cancel: &CancellationToken,
    ) {
        let options = self.upsert_options();
        let mut writes = std::mem::take(&mut desired.writes);
        let mut batches: Vec<(String, Vec<Entity>)> = order
            .iter()
            .filter_map(|bp| writes.remove_entry(bp))
            .collect();
        batches.extend(writes);
        let mut retry_later: Vec<(String, Vec<Entity>)> = Vec::new();
        if options.create_missing_related_entities {
            // Port creates missing targets itself, so every blueprint is written at once.
            let results = join_all(
                batches
                    .iter()
                    .map(|(bp, entities)| self.upsert_slices(bp, entities, &options, cancel)),
            )
            .await;
            for ((bp, entities), slices) in batches.iter().zip(results) {
                for (range, outcome) in slices {
                    record_upserts(report, bp, &entities[range], outcome, None);
                }
            }
        } else {
            for (bp, entities) in &batches {
                if cancel.is_cancelled() {
                    return;
                }
                let outcome = self.port.bulk_upsert(bp, entities, &options).await;
                let mut missing_target = Vec::new();
                record_upserts(report, bp, entities, outcome, Some(&mut missing_target));
                if !missing_target.is_empty() {
                    retry_later.push((bp.clone(), missing_target));
                }
            }
            // A target may have been written after its dependent within one order layer.
            for (bp, entities) in &retry_later {
                if cancel.is_cancelled() {
                    return;
                }
                let outcome = self.port.bulk_upsert(bp, entities, &options).await;
                record_upserts(report, bp, entities, outcome, None);
            }
        }
    }

    async fn delete_stale(
        &self,
        observed: &Observed,
        desired: &Desired,
        order: &[String],
        report: &mut ResyncReport,
    ) {
        let mut failures: Vec<String> = report
            .extraction
            .scope_errors
            .iter()
            .map(ToString::to_string)
            .collect();
        if report.extraction.item_failure_count > 0 {
            failures.push(format!(
                "{} item(s) could not be mapped",
                report.extraction.item_failure_count
            ));
        }
        if !report.write_failures.is_empty() {
            failures.push(format!(
                "{} entity write(s) failed",
                report.write_failures.len()
            ));
        }
        let threshold = self.mapping.config.entity_deletion_threshold;
        match plan_deletion(observed, desired, &failures, threshold) {
            Deletion::Skipped(why) => {
                tracing::warn!("stale deletion {why}");
                report.deletion_note = why;
            }
            Deletion::Run {
                stale,
                kept_as_targets,
            } => {
                report.deletion_ran = true;
                if kept_as_targets > 0 {
                    report.deletion_note = format!(
                        "{kept_as_targets} stale entit(ies) kept: kept entities relate to them"
                    );
                }
                let delete_dependents = self.mapping.config.delete_dependent_entities;
                // Dependents before their targets.
                for bp in order.iter().rev() {
                    let Some(ids) = stale.get(bp) else { continue };
                    let outcome = self.port.bulk_delete(bp, ids, delete_dependents).await;
                    let r = report.blueprints.entry(bp.clone()).or_default();
                    r.deleted += (outcome.deleted.len() + outcome.not_found.len()) as u64;
                    for failed in outcome.failed {
                        report.delete_failures.push(WriteFailure {
                            blueprint: bp.clone(),
                            identifier: failed.identifier,
                            reason: format!("{}: {}", failed.error, failed.message),
                        });
                    }
                }
            }
        }
    }
}

/// Counts an upsert outcome; with `missing_target`, entities Port refused because a relation
/// target does not exist yet are set aside for one more try instead of counted as failed.
pub(super) fn record_upserts(
    report: &mut ResyncReport,
    blueprint: &str,
    entities: &[Entity],
    outcome: crate::port::BulkOutcome,
    mut missing_target: Option<&mut Vec<Entity>>,
) {
    let by_id: BTreeMap<&str, &Entity> = entities
        .iter()
        .map(|e| (e.identifier.as_str(), e))
        .collect();
    let r = report.blueprints.entry(blueprint.to_owned()).or_default();
    for written in &outcome.succeeded {
        if written.created {
            r.created += 1;
        } else {
            r.updated += 1;
        }
    }
    for failed in outcome.failed {
        if let (Some(retry), Some(404)) = (missing_target.as_deref_mut(), failed.status_code)
            && let Some(entity) = by_id.get(failed.identifier.as_str())
        {
            retry.push((*entity).clone());
            continue;
        }
        r.failed += 1;
        tracing::error!(blueprint, identifier = %failed.identifier, error = %failed.error, message = %failed.message, "Port refused the entity");
        report.write_failures.push(WriteFailure {
            blueprint: blueprint.to_owned(),
            identifier: failed.identifier,
            reason: format!("{}: {}", failed.error, failed.message),
        });
    }
}
