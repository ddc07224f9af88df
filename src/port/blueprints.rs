//! Reading and creating blueprints.

use reqwest::Method;
use serde_json::{Map, Value};

use super::client::PortClient;
use super::error::PortError;
use super::stats::operation;
use super::transport::ApiRequest;

/// Blueprint fields that may point at other blueprints: a blueprint is created without them
/// first, and they are added once every blueprint exists.
const CROSS_BLUEPRINT_FIELDS: &[&str] = &[
    "relations",
    "mirrorProperties",
    "calculationProperties",
    "aggregationProperties",
];

/// What [`PortClient::ensure_blueprints`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnsureReport {
    pub created: Vec<String>,
    /// Already in Port, left as they were.
    pub existing: Vec<String>,
}

fn blueprint_of(operation: &'static str, body: Value) -> Result<Value, PortError> {
    match body {
        Value::Object(mut map) => map
            .remove("blueprint")
            .ok_or(PortError::UnexpectedResponse {
                operation,
                detail: "no blueprint in the response".into(),
            }),
        _ => Err(PortError::UnexpectedResponse {
            operation,
            detail: "the response is not a JSON object".into(),
        }),
    }
}

fn identifier_of(blueprint: &Value) -> Result<&str, PortError> {
    blueprint["identifier"]
        .as_str()
        .ok_or(PortError::UnexpectedResponse {
            operation: operation::CREATE_BLUEPRINT,
            detail: format!("blueprint without an identifier: {blueprint}"),
        })
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

impl PortClient {
    /// The blueprint, or `None` when Port has none with this identifier.
    pub async fn get_blueprint(&self, identifier: &str) -> Result<Option<Value>, PortError> {
        let request = ApiRequest::new(
            operation::GET_BLUEPRINT,
            Method::GET,
            &["v1", "blueprints", identifier],
        );
        let response = self.transport.send(&request).await?;
        match response.status {
            200 => blueprint_of(operation::GET_BLUEPRINT, response.body).map(Some),
            404 => Ok(None),
            _ => Err(response.into_error(operation::GET_BLUEPRINT)),
        }
    }

    pub async fn create_blueprint(&self, blueprint: &Value) -> Result<Value, PortError> {
        let request = ApiRequest::new(
            operation::CREATE_BLUEPRINT,
            Method::POST,
            &["v1", "blueprints"],
        )
        .json(blueprint);
        let response = self.transport.send(&request).await?;
        if !response.is_success() {
            return Err(response.into_error(operation::CREATE_BLUEPRINT));
        }
        blueprint_of(operation::CREATE_BLUEPRINT, response.body)
    }

    /// Changes the top-level fields `changes` carries.
    pub async fn patch_blueprint(
        &self,
        identifier: &str,
        changes: &Value,
    ) -> Result<Value, PortError> {
        let request = ApiRequest::new(
            operation::PATCH_BLUEPRINT,
            Method::PATCH,
            &["v1", "blueprints", identifier],
        )
        .json(changes);
        let response = self.transport.send(&request).await?;
        if !response.is_success() {
            return Err(response.into_error(operation::PATCH_BLUEPRINT));
        }
        blueprint_of(operation::PATCH_BLUEPRINT, response.body)
    }

    /// Creates the blueprints Port lacks; existing ones are never changed. Missing blueprints
    /// are created bare (without relations and the properties that reach through them), then
    /// those are added with PATCH, so blueprints may relate to each other in any order.
    pub async fn ensure_blueprints(&self, blueprints: &[Value]) -> Result<EnsureReport, PortError> {
        let mut report = EnsureReport::default();
        let mut to_complete = Vec::new();
        let identifiers = blueprints
            .iter()
            .map(identifier_of)
            .collect::<Result<Vec<_>, _>>()?;
        // One round trip for all the reads: at steady state nothing else happens here.
        let found =
            futures::future::join_all(identifiers.iter().map(|id| self.get_blueprint(id))).await;
        for ((blueprint, identifier), found) in blueprints.iter().zip(identifiers).zip(found) {
            if found?.is_some() {
                report.existing.push(identifier.to_string());
                continue;
            }
            let Value::Object(mut bare) = blueprint.clone() else {
                unreachable!("a blueprint with an identifier is an object")
            };
            let mut deferred = Map::new();
            for field in CROSS_BLUEPRINT_FIELDS {
                if let Some(value) = bare.remove(*field).filter(|v| !is_empty(v)) {
                    deferred.insert(field.to_string(), value);
                }
            }
            match self.create_blueprint(&Value::Object(bare)).await {
                Ok(_) => report.created.push(identifier.to_string()),
                // Created meanwhile by someone else: theirs stands.
                Err(e) if e.status() == Some(409) => {
                    report.existing.push(identifier.to_string());
                    continue;
                }
                Err(e) => return Err(e),
            }
            if !deferred.is_empty() {
                to_complete.push((identifier.to_string(), deferred));
            }
        }
        for (identifier, deferred) in to_complete {
            self.patch_blueprint(&identifier, &Value::Object(deferred))
                .await?;
        }
        Ok(report)
    }
}
