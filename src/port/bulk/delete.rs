//! Deleting entities: one (tied to an action run), or many in requests of at most 100.

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use super::super::client::PortClient;
use super::super::error::PortError;
use super::super::stats::operation;
use super::super::transport::ApiRequest;
use super::outcome::{BulkDeleteOutcome, FailedEntity};

pub const MAX_IDS_PER_BULK_DELETE: usize = 100;

impl PortClient {
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
