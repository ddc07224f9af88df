//! Sending one planned request of a bulk upsert; a request Port refuses as too large (413) or
//! malformed (422) is halved and each half sent again, so one bad entity does not take its
//! neighbours down.

use reqwest::Method;

use super::super::client::PortClient;
use super::super::error::PortError;
use super::super::stats::operation;
use super::super::transport::ApiRequest;
use super::UpsertOptions;
use super::batches::request_body;
use super::outcome::{EntityResult, FailedEntity};
use super::reply::parse_bulk_reply;

/// The encoded entities of one upsert, with how each is named (its identifier, or its
/// search-query identifier as JSON), by position.
pub(crate) struct Encoded {
    pub bodies: Vec<Vec<u8>>,
    pub ids: Vec<String>,
}

/// What one request of a bulk upsert came to.
enum Reply {
    /// Per-entity results from a 200 or 207, by position in the request.
    PerEntity(Vec<(usize, EntityResult)>),
    /// The request as a whole was refused.
    Refused(PortError),
}

impl PortClient {
    /// Sends one planned request (positions into `encoded`); results are keyed by position.
    pub(super) async fn send_batch(
        &self,
        blueprint: &str,
        batch: Vec<usize>,
        encoded: &Encoded,
        options: &UpsertOptions,
    ) -> Vec<(usize, EntityResult)> {
        let mut results = Vec::new();
        let mut pending = vec![batch];
        while let Some(batch) = pending.pop() {
            let ids: Vec<&str> = batch.iter().map(|&p| encoded.ids[p].as_str()).collect();
            let body = request_body(batch.iter().map(|&p| encoded.bodies[p].as_slice()));
            match self.post_bulk(blueprint, body, &ids, options).await {
                Reply::PerEntity(items) => {
                    results.extend(items.into_iter().map(|(i, r)| (batch[i], r)));
                }
                Reply::Refused(error)
                    if batch.len() > 1 && matches!(error.status(), Some(413 | 422)) =>
                {
                    tracing::debug!(size = batch.len(), error = %error, "halving a refused bulk request");
                    let second = batch[batch.len() / 2..].to_vec();
                    let first = batch[..batch.len() / 2].to_vec();
                    pending.push(second);
                    pending.push(first);
                }
                Reply::Refused(error) => {
                    results.extend(
                        batch
                            .iter()
                            .zip(&ids)
                            .map(|(&p, id)| (p, Err(FailedEntity::from_error(id, &error)))),
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
    ) -> Reply {
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
                Reply::PerEntity(parse_bulk_reply(&response.body, ids))
            }
            Ok(response) => Reply::Refused(response.into_error(operation::BULK_UPSERT)),
            Err(error) => Reply::Refused(error),
        }
    }
}
