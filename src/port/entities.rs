//! Writing and deleting entities in bulk.

use std::collections::HashMap;

use futures::StreamExt;
use reqwest::Method;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::batching::{MAX_ENTITIES_PER_REQUEST, MAX_REQUEST_BYTES, plan_batches, request_body};
use super::client::PortClient;
use super::error::PortError;
use super::stats::operation;
use super::transport::ApiRequest;
use crate::entity::Entity;

pub const MAX_IDS_PER_BULK_DELETE: usize = 100;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertedEntity {
    pub identifier: String,
    /// True when Port created it, false when it updated an existing one.
    pub created: bool,
}

/// An entity Port did not write (or delete), with Port's reason. `status_code` is `None` when
/// no response explains it (network failure, or refused before sending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEntity {
    pub identifier: String,
    pub status_code: Option<u16>,
    pub error: String,
    pub message: String,
}

impl FailedEntity {
    fn from_error(identifier: &str, error: &PortError) -> Self {
        FailedEntity {
            identifier: identifier.to_string(),
            status_code: error.status(),
            error: error.code(),
            message: error.message(),
        }
    }
}

/// Every entity of a bulk upsert ends up in exactly one list, in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    pub succeeded: Vec<UpsertedEntity>,
    pub failed: Vec<FailedEntity>,
}

impl BulkOutcome {
    pub fn is_complete_success(&self) -> bool {
        self.failed.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkDeleteOutcome {
    /// Identifiers Port reports deleted.
    pub deleted: Vec<String>,
    /// Identifiers Port did not report deleted although their request succeeded (they did not
    /// exist).
    pub not_found: Vec<String>,
    pub failed: Vec<FailedEntity>,
}

/// The body Port takes for one entity: no `blueprint` key (the blueprint is in the path).
#[derive(Serialize)]
struct EntityBody<'a> {
    identifier: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icon: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<&'a Value>,
    properties: &'a Map<String, Value>,
    relations: &'a Map<String, Value>,
}

fn serialize_entity(entity: &Entity) -> Vec<u8> {
    let body = EntityBody {
        identifier: &entity.identifier,
        title: entity.title.as_deref(),
        icon: entity.icon.as_deref(),
        team: entity.team.as_ref(),
        properties: &entity.properties,
        relations: &entity.relations,
    };
    serde_json::to_vec(&body).expect("entity bodies serialize")
}

type EntityResult = Result<UpsertedEntity, FailedEntity>;

/// What one request of a bulk upsert came to.
enum BatchReply {
    /// Per-entity results from a 200 or 207, by position in the batch.
    PerEntity(Vec<(usize, EntityResult)>),
    /// The request as a whole was refused.
    Refused(PortError),
}

fn parse_bulk_reply(batch_len: usize, body: &Value, ids: &[&str]) -> Vec<(usize, EntityResult)> {
    let mut results: HashMap<usize, EntityResult> = HashMap::new();
    let index_of = |item: &Value| {
        item["index"]
            .as_u64()
            .map(|i| i as usize)
            .filter(|i| *i < batch_len)
    };
    for item in body["entities"].as_array().into_iter().flatten() {
        if let Some(i) = index_of(item) {
            let identifier = item["identifier"].as_str().unwrap_or(ids[i]).to_string();
            let created = item["created"].as_bool().unwrap_or(false);
            results.insert(
                i,
                Ok(UpsertedEntity {
                    identifier,
                    created,
                }),
            );
        }
    }
    for item in body["errors"].as_array().into_iter().flatten() {
        if let Some(i) = index_of(item) {
            results.insert(
                i,
                Err(FailedEntity {
                    identifier: ids[i].to_string(),
                    status_code: item["statusCode"].as_u64().map(|s| s as u16),
                    error: item["error"]
                        .as_str()
                        .unwrap_or("unknown_error")
                        .to_string(),
                    message: item["message"].as_str().unwrap_or_default().to_string(),
                }),
            );
        }
    }
    (0..batch_len)
        .map(|i| {
            let result = results.remove(&i).unwrap_or_else(|| {
                Err(FailedEntity {
                    identifier: ids[i].to_string(),
                    status_code: None,
                    error: "missing_result".into(),
                    message: "Port's response did not mention this entity".into(),
                })
            });
            (i, result)
        })
        .collect()
}

impl PortClient {
    /// Upserts `entities` into `blueprint` (every entity's own `blueprint` must match) in
    /// requests of at most 20 entities and under 1 MiB, run concurrently up to the client's
    /// in-flight limit. A request refused as too large (413) or malformed (422) is halved and
    /// retried, so one bad entity does not take its neighbours down.
    pub async fn bulk_upsert(
        &self,
        blueprint: &str,
        entities: &[Entity],
        options: &UpsertOptions,
    ) -> BulkOutcome {
        let mut results: Vec<Option<EntityResult>> = vec![None; entities.len()];
        let mut sendable = Vec::new();
        for (index, entity) in entities.iter().enumerate() {
            if entity.blueprint == blueprint {
                sendable.push(index);
            } else {
                results[index] = Some(Err(FailedEntity {
                    identifier: entity.identifier.clone(),
                    status_code: None,
                    error: "blueprint_mismatch".into(),
                    message: format!(
                        "entity of blueprint {:?} passed to an upsert into {blueprint:?}",
                        entity.blueprint
                    ),
                }));
            }
        }
        let bodies: Vec<Vec<u8>> = sendable
            .iter()
            .map(|&i| serialize_entity(&entities[i]))
            .collect();
        let sizes: Vec<usize> = bodies.iter().map(Vec::len).collect();
        let (batches, too_large) =
            plan_batches(&sizes, MAX_ENTITIES_PER_REQUEST, MAX_REQUEST_BYTES);
        for position in too_large {
            let entity = &entities[sendable[position]];
            results[sendable[position]] = Some(Err(FailedEntity {
                identifier: entity.identifier.clone(),
                status_code: None,
                error: "entity_too_large".into(),
                message: format!(
                    "the entity serializes to {} bytes; Port takes at most {MAX_REQUEST_BYTES} per request",
                    sizes[position]
                ),
            }));
        }
        let batch_runs = futures::stream::iter(batches)
            .map(|batch| self.upsert_batch(blueprint, batch, &bodies, &sendable, entities, options))
            .buffer_unordered(self.max_in_flight());
        let outcomes: Vec<Vec<(usize, EntityResult)>> = batch_runs.collect().await;
        for (index, result) in outcomes.into_iter().flatten() {
            results[index] = Some(result);
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

    /// Sends one planned batch (positions into `bodies`), halving it on 413/422. Returns results
    /// keyed by input index.
    async fn upsert_batch(
        &self,
        blueprint: &str,
        batch: Vec<usize>,
        bodies: &[Vec<u8>],
        sendable: &[usize],
        entities: &[Entity],
        options: &UpsertOptions,
    ) -> Vec<(usize, EntityResult)> {
        let mut results = Vec::new();
        let mut pending = vec![batch];
        while let Some(batch) = pending.pop() {
            let ids: Vec<&str> = batch
                .iter()
                .map(|&p| entities[sendable[p]].identifier.as_str())
                .collect();
            let body = request_body(batch.iter().map(|&p| bodies[p].as_slice()));
            match self.post_bulk(blueprint, body, &ids, options).await {
                BatchReply::PerEntity(items) => {
                    results.extend(items.into_iter().map(|(i, r)| (sendable[batch[i]], r)));
                }
                BatchReply::Refused(error)
                    if batch.len() > 1 && matches!(error.status(), Some(413 | 422)) =>
                {
                    tracing::debug!(size = batch.len(), error = %error, "halving a refused bulk request");
                    let second = batch[batch.len() / 2..].to_vec();
                    let first = batch[..batch.len() / 2].to_vec();
                    pending.push(second);
                    pending.push(first);
                }
                BatchReply::Refused(error) => {
                    results.extend(
                        batch.iter().zip(&ids).map(|(&p, id)| {
                            (sendable[p], Err(FailedEntity::from_error(id, &error)))
                        }),
                    );
                }
            }
        }
        results
    }

    async fn post_bulk(
        &self,
        blueprint: &str,
        body: Vec<u8>,
        ids: &[&str],
        options: &UpsertOptions,
    ) -> BatchReply {
        let mut request = ApiRequest::new(
            operation::BULK_UPSERT,
            Method::POST,
            &["v1", "blueprints", blueprint, "entities", "bulk"],
        )
        .query("upsert", true)
        .query("merge", options.merge)
        .query(
            "create_missing_related_entities",
            options.create_missing_related_entities,
        );
        if let Some(run_id) = &options.run_id {
            request = request.query("run_id", run_id);
        }
        let request = request.raw_json(body);
        match self.transport.send(&request).await {
            Ok(response) if matches!(response.status, 200 | 201 | 207) => {
                BatchReply::PerEntity(parse_bulk_reply(ids.len(), &response.body, ids))
            }
            Ok(response) => BatchReply::Refused(response.into_error(operation::BULK_UPSERT)),
            Err(error) => BatchReply::Refused(error),
        }
    }

    /// Deletes one entity (tied to an action run when `run_id` is given). `Ok(false)` when it
    /// did not exist.
    pub async fn delete_entity(
        &self,
        blueprint: &str,
        identifier: &str,
        delete_dependents: bool,
        run_id: Option<&str>,
    ) -> Result<bool, PortError> {
        let mut request = ApiRequest::new(
            operation::DELETE_ENTITY,
            Method::DELETE,
            &["v1", "blueprints", blueprint, "entities", identifier],
        )
        .query("delete_dependents", delete_dependents);
        if let Some(run_id) = run_id {
            request = request.query("run_id", run_id);
        }
        let response = self.transport.send(&request).await?;
        match response.status {
            200..=299 => Ok(true),
            404 if response.body["error"] == json!("not_found") => Ok(false),
            _ => Err(response.into_error(operation::DELETE_ENTITY)),
        }
    }

    /// Deletes entities of one blueprint in requests of at most 100 identifiers, run
    /// concurrently. Without `delete_dependents`, Port refuses a whole request when any of its
    /// entities has dependents; those identifiers are reported failed.
    pub async fn bulk_delete(
        &self,
        blueprint: &str,
        identifiers: &[String],
        delete_dependents: bool,
    ) -> BulkDeleteOutcome {
        let chunks = futures::stream::iter(identifiers.chunks(MAX_IDS_PER_BULK_DELETE))
            .map(|chunk| async move {
                let request = ApiRequest::new(
                    operation::BULK_DELETE,
                    Method::POST,
                    &["v1", "blueprints", blueprint, "bulk", "entities", "delete"],
                )
                .query("delete_dependents", delete_dependents)
                .json(&json!({"entities": chunk}));
                (chunk, self.transport.send(&request).await)
            })
            .buffered(self.max_in_flight());
        let replies: Vec<_> = chunks.collect().await;
        let mut outcome = BulkDeleteOutcome::default();
        for (chunk, reply) in replies {
            let error = match reply {
                Ok(response) if response.is_success() => {
                    let deleted: Vec<&str> = response.body["deletedEntities"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    for id in chunk {
                        if deleted.contains(&id.as_str()) {
                            outcome.deleted.push(id.clone());
                        } else {
                            outcome.not_found.push(id.clone());
                        }
                    }
                    continue;
                }
                Ok(response) => response.into_error(operation::BULK_DELETE),
                Err(error) => error,
            };
            outcome
                .failed
                .extend(chunk.iter().map(|id| FailedEntity::from_error(id, &error)));
        }
        outcome
    }
}
