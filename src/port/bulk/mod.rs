//! Writing entities in bulk, as a small pipeline: encode each entity once → plan size-aware
//! requests (≤ 20 entities, < 1 MiB) → send them, halving what Port refuses as too large or
//! malformed → one outcome per entity. [`WritePacing`] is the one place that decides how many
//! entities are worth handing over at once.

mod batches;
mod delete;
mod encode;
mod outcome;
mod reply;
mod send;

use futures::StreamExt;

use super::client::PortClient;
use crate::entity::Entity;
use batches::{MAX_ENTITIES_PER_REQUEST, MAX_REQUEST_BYTES, plan_batches};
pub use delete::MAX_IDS_PER_BULK_DELETE;
use outcome::EntityResult;
pub use outcome::{BulkDeleteOutcome, BulkOutcome, FailedEntity, UpsertedEntity};
use send::Encoded;

/// Query flags of a bulk upsert (all off by default; Ocean's defaults are merge and
/// create_missing_related_entities on).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsertOptions {
    /// Change only the fields sent (otherwise the entity is replaced).
    pub merge: bool,
    /// Create bare related entities that do not exist yet.
    pub create_missing_related_entities: bool,
    /// Ties the writes to an action run.
    pub run_id: Option<String>,
}

/// How entity writes are cut and paced for one client: requests of at most 20 entities, up to
/// the client's in-flight limit at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WritePacing {
    pub entities_per_request: usize,
    pub requests_in_flight: usize,
}

impl WritePacing {
    /// Entities that keep every request slot busy: what a caller should hand to one
    /// [`PortClient::bulk_upsert`] when it has more waiting.
    pub fn batch_size(&self) -> usize {
        self.entities_per_request * self.requests_in_flight
    }
}

impl PortClient {
    pub fn write_pacing(&self) -> WritePacing {
        WritePacing {
            entities_per_request: MAX_ENTITIES_PER_REQUEST,
            requests_in_flight: self.max_in_flight(),
        }
    }

    /// Upserts `entities` into `blueprint` (every entity's own `blueprint` must match), the
    /// requests run concurrently up to the client's in-flight limit.
    pub async fn bulk_upsert(
        &self,
        blueprint: &str,
        entities: &[Entity],
        options: &UpsertOptions,
    ) -> BulkOutcome {
        let mut results: Vec<Option<EntityResult>> = vec![None; entities.len()];
        let mut sendable = Vec::new();
        for (index, entity) in entities.iter().enumerate() {
            match encode::check_blueprint(entity, blueprint) {
                Ok(()) => sendable.push(index),
                Err(refused) => results[index] = Some(Err(refused)),
            }
        }
        let encoded = Encoded {
            bodies: sendable
                .iter()
                .map(|&i| encode::encode(&entities[i]))
                .collect(),
            ids: sendable
                .iter()
                .map(|&i| entities[i].identifier.to_string())
                .collect(),
        };
        let sizes: Vec<usize> = encoded.bodies.iter().map(Vec::len).collect();
        let (requests, too_large) =
            plan_batches(&sizes, MAX_ENTITIES_PER_REQUEST, MAX_REQUEST_BYTES);
        for position in too_large {
            results[sendable[position]] = Some(Err(FailedEntity {
                identifier: encoded.ids[position].clone(),
                status_code: None,
                error: "entity_too_large".into(),
                message: format!(
                    "the entity serializes to {} bytes; Port takes at most {MAX_REQUEST_BYTES} per request",
                    sizes[position]
                ),
            }));
        }
        let sent: Vec<Vec<(usize, EntityResult)>> = futures::stream::iter(requests)
            .map(|request| self.send_batch(blueprint, request, &encoded, options))
            .buffer_unordered(self.max_in_flight())
            .collect()
            .await;
        for (position, result) in sent.into_iter().flatten() {
            results[sendable[position]] = Some(result);
        }
        let mut outcome = BulkOutcome::default();
        for result in results.into_iter().flatten() {
            match result {
                Ok(ok) => outcome.succeeded.push(ok),
                Err(failed) => outcome.failed.push(failed),
            }
        }
        outcome
    }
}
