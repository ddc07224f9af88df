//! The write path of a resync: the queue of entities to write, the whole batches sent while
//! AWS is still being read, the write order of what remains, the one retry of entities Port
//! refused for a missing relation target, and the counting of what Port answered.
//!
//! Early batches: on a first resync nearly every entity is new, and holding them all until AWS
//! is read grows memory with the catalog, so whole batches go to Port as soon as they fill,
//! while the next pages are read and mapped. Only when Port creates missing relation targets
//! itself (`createMissingRelatedEntities`): otherwise targets are written before the entities
//! that point at them, blueprint by blueprint, at the end of extraction.
//!
//! Backpressure: the queue is bounded in bytes and entities. When it is full, AWS paging
//! waits (the resync stops polling the page stream, and the SDK paginators only fetch when
//! polled) until Port has taken some; without `createMissingRelatedEntities` a full queue is
//! written at once in write order, and entities refused for a target not read yet are tried
//! again at the end. So the peak memory of a first resync does not depend on the catalog.

use std::collections::BTreeMap;

use futures::StreamExt;
use futures::future::{LocalBoxFuture, join_all};
use futures::stream::FuturesUnordered;
use tokio_util::sync::CancellationToken;

use super::report::{ResyncReport, WriteFailure};
use super::scope::{ScopeKey, scope_of_entity};
use crate::aws::Kind;
use crate::entity::Entity;
use crate::port::{BulkOutcome, PortClient, UpsertOptions};

/// Batches being written while extraction goes on. A batch already spreads over
/// `PORT_MAX_IN_FLIGHT` requests; a second one keeps Port busy while the first finishes.
/// When Port is slower than AWS, further full batches wait in the queue, up to its bound.
const BATCHES_IN_FLIGHT: usize = 2;

/// The queue is full at this many bytes of waiting entities, or at [`QUEUED_BATCHES`] batches,
/// whichever comes first: then AWS paging waits until Port has taken some (backpressure), so
/// a first resync's memory does not grow with the catalog.
const MAX_QUEUED_BYTES: usize = 4 << 20;
const QUEUED_BATCHES: usize = 4;

/// Entities waiting to be written, per blueprint, in arrival order.
#[derive(Debug, Default)]
pub struct WriteQueue {
    waiting: BTreeMap<String, Vec<Entity>>,
    entities: usize,
    bytes: usize,
}

impl WriteQueue {
    pub fn push(&mut self, entity: Entity) {
        self.entities += 1;
        self.bytes += entity.heap_bytes();
        match self.waiting.get_mut(&entity.blueprint) {
            Some(waiting) => waiting.push(entity),
            None => {
                self.waiting.insert(entity.blueprint.clone(), vec![entity]);
            }
        }
    }

    fn taken(&mut self, entities: &[Entity]) {
        self.entities -= entities.len();
        self.bytes -= entities.iter().map(Entity::heap_bytes).sum::<usize>();
    }

    /// The oldest `size` entities of the first blueprint with that many waiting; shorter
    /// remainders stay. The blueprint keeps its (possibly empty) entry: it still counts for
    /// the write order.
    pub fn take_full_batch(&mut self, size: usize) -> Option<(String, Vec<Entity>)> {
        let (blueprint, waiting) = self.waiting.iter_mut().find(|(_, w)| w.len() >= size)?;
        let rest = waiting.split_off(size);
        let batch = (blueprint.clone(), std::mem::replace(waiting, rest));
        self.taken(&batch.1);
        Some(batch)
    }

    /// The oldest (up to) `size` entities of the blueprint with the most waiting.
    fn take_largest(&mut self, size: usize) -> Option<(String, Vec<Entity>)> {
        let (blueprint, waiting) = self
            .waiting
            .iter_mut()
            .filter(|(_, w)| !w.is_empty())
            .max_by_key(|(_, w)| w.len())?;
        let rest = waiting.split_off(size.min(waiting.len()));
        let batch = (blueprint.clone(), std::mem::replace(waiting, rest));
        self.taken(&batch.1);
        Some(batch)
    }

    /// Blueprints that had something to write this resync.
    pub fn blueprints(&self) -> impl Iterator<Item = &String> {
        self.waiting.keys()
    }

    pub fn len(&self, blueprint: &str) -> usize {
        self.waiting.get(blueprint).map_or(0, Vec::len)
    }

    /// Everything still waiting, blueprints in `order` first, then any others.
    fn drain_in(&mut self, order: &[String]) -> Vec<(String, Vec<Entity>)> {
        let mut batches: Vec<(String, Vec<Entity>)> = order
            .iter()
            .filter_map(|bp| self.waiting.remove_entry(bp))
            .collect();
        batches.extend(std::mem::take(&mut self.waiting));
        batches.retain(|(_, entities)| !entities.is_empty());
        self.entities = 0;
        self.bytes = 0;
        batches
    }
}

/// One bulk upsert and Port's answer.
pub struct Sent {
    blueprint: String,
    entities: Vec<Entity>,
    outcome: BulkOutcome,
}

pub struct Writer<'a> {
    port: &'a PortClient,
    options: UpsertOptions,
    queue: WriteQueue,
    in_flight: FuturesUnordered<LocalBoxFuture<'a, Sent>>,
    /// Entities per early batch: what keeps every Port request slot busy.
    batch_size: usize,
    /// The one kind feeding each blueprint, to place a refused write in its scope.
    blueprint_kinds: BTreeMap<String, Kind>,
    /// Entities refused for a missing relation target while the queue was flushed early
    /// (see [`Writer::make_room`]): tried once more at the end.
    retry_later: Vec<(String, Vec<Entity>)>,
    /// Per blueprint, the identifiers Port answered for writes through a search-query
    /// identifier: the entities those writes kept, which the plan learns only now.
    resolved: BTreeMap<String, Vec<String>>,
}

/// Per blueprint, the entities that writes through search-query identifiers updated.
pub type Resolved = BTreeMap<String, Vec<String>>;

impl<'a> Writer<'a> {
    pub fn new(
        port: &'a PortClient,
        options: UpsertOptions,
        blueprint_kinds: BTreeMap<String, Kind>,
    ) -> Self {
        Writer {
            port,
            batch_size: port.write_pacing().batch_size(),
            blueprint_kinds,
            options,
            queue: WriteQueue::default(),
            in_flight: FuturesUnordered::new(),
            retry_later: Vec::new(),
            resolved: BTreeMap::new(),
        }
    }

    /// Whether the queue holds enough that AWS paging should wait for Port.
    pub fn is_full(&self) -> bool {
        self.queue.bytes >= MAX_QUEUED_BYTES
            || self.queue.entities >= QUEUED_BATCHES * self.batch_size
    }

    /// Called when the queue is full and nothing is being sent. When Port creates missing
    /// relation targets, the largest waiting part goes out as an early batch. Otherwise order
    /// matters: everything waiting is written now, relation targets first (`order`), and an
    /// entity refused because its target has not been read yet is tried again at the end.
    pub async fn make_room(
        &mut self,
        order: &[String],
        report: &mut ResyncReport,
        cancel: &CancellationToken,
    ) {
        if cancel.is_cancelled() {
            return;
        }
        if self.options.create_missing_related_entities {
            if let Some((blueprint, entities)) = self.queue.take_largest(self.batch_size) {
                self.in_flight.push(self.send(blueprint, entities));
            }
            return;
        }
        let batches = self.queue.drain_in(order);
        let mut retry_later = std::mem::take(&mut self.retry_later);
        self.write_in_order(batches, report, cancel, &mut retry_later)
            .await;
        self.retry_later = retry_later;
    }

    pub fn queue(&mut self, entity: Entity) {
        self.queue.push(entity);
    }

    pub fn queued_blueprints(&self) -> impl Iterator<Item = &String> {
        self.queue.blueprints()
    }

    /// Sends whole batches while fewer than [`BATCHES_IN_FLIGHT`] are out, unless `cancel`
    /// fired or Port does not create missing targets (then order matters: see the module).
    pub fn send_full_batches(&mut self, cancel: &CancellationToken) {
        if !self.options.create_missing_related_entities {
            return;
        }
        while !cancel.is_cancelled() && self.in_flight.len() < BATCHES_IN_FLIGHT {
            let Some((blueprint, entities)) = self.queue.take_full_batch(self.batch_size) else {
                break;
            };
            self.in_flight.push(self.send(blueprint, entities));
        }
    }

    pub fn is_sending(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// The next early batch Port answered; `None` when none is out.
    pub async fn next_sent(&mut self) -> Option<Sent> {
        self.in_flight.next().await
    }

    fn send(&self, blueprint: String, entities: Vec<Entity>) -> LocalBoxFuture<'a, Sent> {
        let port = self.port;
        let options = self.options.clone();
        Box::pin(async move {
            let outcome = port.bulk_upsert(&blueprint, &entities, &options).await;
            Sent {
                blueprint,
                entities,
                outcome,
            }
        })
    }

    /// Writes everything still queued, blueprints in `order` (relation targets first), and
    /// records every answer in `report`. No new request starts once `cancel` fires. Returns
    /// the entities that writes through search-query identifiers updated.
    pub async fn finish(
        mut self,
        order: &[String],
        report: &mut ResyncReport,
        cancel: &CancellationToken,
    ) -> Resolved {
        while let Some(sent) = self.in_flight.next().await {
            self.record(report, sent, None);
        }
        let mut batches = self.queue.drain_in(order);
        batches.append(&mut self.retry_later);
        if self.options.create_missing_related_entities {
            // Port creates missing targets itself, so every blueprint is written at once.
            let sends = batches
                .into_iter()
                .map(|(bp, entities)| self.send_in_slices(bp, entities, cancel));
            let sent: Vec<Sent> = join_all(sends).await.into_iter().flatten().collect();
            for sent in sent {
                self.record(report, sent, None);
            }
        } else {
            self.write_targets_first(batches, report, cancel).await;
        }
        self.resolved
    }

    /// One blueprint's entities in slices of a batch each, checking `cancel` between slices.
    async fn send_in_slices(
        &self,
        blueprint: String,
        mut entities: Vec<Entity>,
        cancel: &CancellationToken,
    ) -> Vec<Sent> {
        let mut sent = Vec::new();
        while !entities.is_empty() && !cancel.is_cancelled() {
            let rest = entities.split_off(self.batch_size.min(entities.len()));
            sent.push(self.send(blueprint.clone(), entities).await);
            entities = rest;
        }
        sent
    }

    /// Blueprint after blueprint in write order; an entity refused because its relation
    /// target did not exist yet (a target written after it within one order layer) is tried
    /// once more at the end.
    async fn write_targets_first(
        &mut self,
        batches: Vec<(String, Vec<Entity>)>,
        report: &mut ResyncReport,
        cancel: &CancellationToken,
    ) {
        let mut retry_later: Vec<(String, Vec<Entity>)> = Vec::new();
        self.write_in_order(batches, report, cancel, &mut retry_later)
            .await;
        for (bp, entities) in retry_later {
            if cancel.is_cancelled() {
                return;
            }
            let sent = self.send(bp, entities).await;
            self.record(report, sent, None);
        }
    }

    /// Writes `batches` one after the other; entities Port refused because a relation target
    /// does not exist yet go to `retry_later` instead of counting as failed.
    async fn write_in_order(
        &mut self,
        batches: Vec<(String, Vec<Entity>)>,
        report: &mut ResyncReport,
        cancel: &CancellationToken,
        retry_later: &mut Vec<(String, Vec<Entity>)>,
    ) {
        for (bp, entities) in batches {
            if cancel.is_cancelled() {
                return;
            }
            let mut missing_target = Vec::new();
            let sent = self.send(bp.clone(), entities).await;
            self.record(report, sent, Some(&mut missing_target));
            if !missing_target.is_empty() {
                retry_later.push((bp, missing_target));
            }
        }
    }

    /// The scope a refused entity belongs to, told from the entity as for Port's entities.
    fn scope_of(&self, entity: &Entity) -> Option<ScopeKey> {
        let json = serde_json::json!({
            "identifier": entity.identifier,
            "properties": entity.properties,
            "relations": entity.relations,
        });
        scope_of_entity(&json, self.blueprint_kinds.get(&entity.blueprint).copied())
    }

    /// Counts an upsert's answer; with `missing_target`, entities Port refused because a
    /// relation target does not exist yet are set aside for one more try instead of counted
    /// as failed.
    pub fn record(
        &mut self,
        report: &mut ResyncReport,
        sent: Sent,
        missing_target: Option<&mut Vec<Entity>>,
    ) {
        if sent.entities.iter().any(|e| e.identifier.as_id().is_none()) {
            // Port answers with the identifier each query resolved to; for the others it is
            // their own, already known, so all are taken.
            self.resolved
                .entry(sent.blueprint.clone())
                .or_default()
                .extend(sent.outcome.succeeded.iter().map(|w| w.identifier.clone()));
        }
        let scope_of = |entity: &Entity| self.scope_of(entity);
        record(report, sent, missing_target, scope_of);
    }
}

fn record(
    report: &mut ResyncReport,
    sent: Sent,
    mut missing_target: Option<&mut Vec<Entity>>,
    scope_of: impl Fn(&Entity) -> Option<ScopeKey>,
) {
    let Sent {
        blueprint,
        entities,
        outcome,
    } = sent;
    let r = report.blueprints.entry(blueprint.clone()).or_default();
    for written in &outcome.succeeded {
        if written.created {
            r.created += 1;
        } else {
            r.updated += 1;
        }
    }
    if outcome.failed.is_empty() {
        return;
    }
    // Failures name an entity as the request did: its identifier, or its search query as JSON.
    let mut by_id: BTreeMap<String, &Entity> = entities
        .iter()
        .map(|e| (e.identifier.to_string(), e))
        .collect();
    for failed in outcome.failed {
        if let Some(retry) = missing_target.as_deref_mut()
            && failed.is_missing_target()
            && let Some(entity) = by_id.remove(failed.identifier.as_str())
        {
            retry.push(entity.clone());
            continue;
        }
        r.failed += 1;
        tracing::error!(blueprint, identifier = %failed.identifier, error = %failed.error, message = %failed.message, "Port refused the entity");
        let entity = by_id.get(failed.identifier.as_str());
        let by_query = entity.is_some_and(|e| e.identifier.as_id().is_none());
        let scope = entity
            .filter(|_| !by_query)
            .and_then(|entity| scope_of(entity));
        report.write_failures.push(
            WriteFailure::refused(&blueprint, failed)
                .in_scope(scope)
                .through_search_identifier(by_query),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(bp: &str, id: &str) -> Entity {
        serde_json::from_value(json!({"identifier": id, "blueprint": bp, "properties": {},
            "relations": {}}))
        .unwrap()
    }

    #[test]
    fn full_batches_are_taken_in_arrival_order_and_the_rest_waits() {
        let mut queue = WriteQueue::default();
        for n in 0..5 {
            queue.push(entity("acmCertificate", &format!("c{n}")));
        }
        queue.push(entity("awsSecret", "s0"));
        let taken: Vec<(String, Vec<String>)> = std::iter::from_fn(|| queue.take_full_batch(2))
            .map(|(bp, batch)| {
                (
                    bp,
                    batch
                        .into_iter()
                        .map(|e| e.identifier.to_string())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            taken,
            [
                (
                    "acmCertificate".to_owned(),
                    vec!["c0".to_owned(), "c1".to_owned()]
                ),
                (
                    "acmCertificate".to_owned(),
                    vec!["c2".to_owned(), "c3".to_owned()]
                ),
            ]
        );
        assert_eq!(queue.len("acmCertificate"), 1);
        assert_eq!(queue.len("awsSecret"), 1);
    }

    #[test]
    fn what_remains_is_written_in_order_and_emptied_blueprints_still_count_for_it() {
        let mut queue = WriteQueue::default();
        queue.push(entity("awsSecret", "s0"));
        queue.push(entity("acmCertificate", "c0"));
        queue.push(entity("acmCertificate", "c1"));
        let _ = queue.take_full_batch(2);
        let names: Vec<&String> = queue.blueprints().collect();
        assert_eq!(names, ["acmCertificate", "awsSecret"]);
        let order = ["awsSecret".to_owned(), "acmCertificate".to_owned()];
        let drained: Vec<(String, usize)> = queue
            .drain_in(&order)
            .into_iter()
            .map(|(bp, e)| (bp, e.len()))
            .collect();
        assert_eq!(drained, [("awsSecret".to_owned(), 1)]);
    }
}
