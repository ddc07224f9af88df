//! This integration's record in Port (the one Port's Data Sources page lists): read, create,
//! update, its mapping (`config`), its resync state, resync requests, kind examples and the
//! log/metric ingest URLs the record carries. Shapes as Ocean's client sends them.

use reqwest::{Method, Url};
use serde_json::{Map, Value, json};

use super::client::PortClient;
use super::error::PortError;
use super::stats::operation;
use super::transport::{ApiRequest, ApiResponse};

/// The fields of the record this integration reads.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationRecord {
    pub identifier: String,
    pub installation_app_type: Option<String>,
    pub version: Option<String>,
    pub changelog_destination: Option<Value>,
    /// The port-app-config as stored in Port (`{}` or null when never set).
    pub config: Value,
    pub updated_at: Option<String>,
    pub resync_state: Option<Value>,
    /// `spec`: free-form; this integration keeps its empty-read guard's memory there.
    pub spec: Option<Value>,
    pub log_ingest_url: Option<String>,
    pub metric_ingest_url: Option<String>,
}

impl IntegrationRecord {
    fn from_json(operation: &'static str, body: &Value) -> Result<Self, PortError> {
        let record = body
            .get("integration")
            .filter(|r| r.is_object())
            .ok_or_else(|| PortError::UnexpectedResponse {
                operation,
                detail: "no integration object in the response".into(),
            })?;
        let text = |key: &str| record.get(key).and_then(Value::as_str).map(String::from);
        let ingest = |key: &str| {
            record
                .get(key)
                .and_then(|a| a.get("ingestUrl"))
                .and_then(Value::as_str)
                .map(String::from)
        };
        Ok(IntegrationRecord {
            identifier: text("identifier")
                .or_else(|| text("installationId"))
                .unwrap_or_default(),
            installation_app_type: text("installationAppType"),
            version: text("version"),
            changelog_destination: record.get("changelogDestination").cloned(),
            config: record.get("config").cloned().unwrap_or(Value::Null),
            updated_at: text("updatedAt"),
            resync_state: record.get("resyncState").filter(|s| !s.is_null()).cloned(),
            spec: record.get("spec").filter(|s| !s.is_null()).cloned(),
            log_ingest_url: ingest("logAttributes"),
            metric_ingest_url: ingest("metricAttributes"),
        })
    }

    /// `resyncState.lastResyncStart`: when the last resync that reported its start began.
    pub fn last_resync_start(&self) -> Option<&str> {
        self.resync_state.as_ref()?.get("lastResyncStart")?.as_str()
    }

    /// A mapping was never stored (`{}` or null): the local file may seed it.
    pub fn config_is_unset(&self) -> bool {
        match &self.config {
            Value::Null => true,
            Value::Object(map) => map.is_empty(),
            _ => false,
        }
    }
}

/// What `POST /v1/integration` registers.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIntegration {
    pub installation_app_type: String,
    pub version: String,
    /// The mapping, as the file has it.
    pub config: Value,
}

/// Port's latest request for a resync (`GET .../resync-request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResyncRequest {
    pub id: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncStatus {
    Running,
    Completed,
    Failed,
    Aborted,
}

impl ResyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResyncStatus::Running => "running",
            ResyncStatus::Completed => "completed",
            ResyncStatus::Failed => "failed",
            ResyncStatus::Aborted => "aborted",
        }
    }
}

/// One resync-state write. Times are RFC 3339.
#[derive(Debug, Clone, PartialEq)]
pub struct ResyncStateUpdate {
    pub status: ResyncStatus,
    /// Sent with `running`.
    pub last_resync_start: Option<String>,
    /// Sent (null) with `running`; the end time otherwise.
    pub last_resync_end: Option<String>,
    pub next_resync: Option<String>,
    pub interval_minutes: Option<u64>,
}

impl ResyncStateUpdate {
    /// The body as Ocean sends it, `intervalInMinuets` spelled as Port spells it.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("status".into(), json!(self.status.as_str()));
        if self.status == ResyncStatus::Running {
            body.insert("lastResyncStart".into(), json!(self.last_resync_start));
            body.insert("lastResyncEnd".into(), Value::Null);
        } else {
            body.insert("lastResyncEnd".into(), json!(self.last_resync_end));
        }
        body.insert("nextResync".into(), json!(self.next_resync));
        body.insert("intervalInMinuets".into(), json!(self.interval_minutes));
        Value::Object(body)
    }
}

fn ok_or_error(response: ApiResponse, operation: &'static str) -> Result<Value, PortError> {
    if response.is_success() {
        Ok(response.body)
    } else {
        Err(response.into_error(operation))
    }
}

fn ingest_url(operation: &'static str, url: &str) -> Result<Url, PortError> {
    Url::parse(url).map_err(|e| PortError::UnexpectedResponse {
        operation,
        detail: format!("the integration's ingest URL {url:?} is not a URL: {e}"),
    })
}

impl PortClient {
    fn integration_segments<'a>(&'a self, tail: &[&'a str]) -> Vec<&'a str> {
        let mut segments = vec!["v1", "integration", self.integration_identifier()];
        segments.extend_from_slice(tail);
        segments
    }

    async fn integration_call(
        &self,
        operation: &'static str,
        method: Method,
        tail: &[&str],
        body: Option<&Value>,
    ) -> Result<ApiResponse, PortError> {
        let mut request = ApiRequest::new(operation, method, &self.integration_segments(tail));
        if let Some(body) = body {
            request = request.json(body);
        }
        self.transport.send(&request).await
    }

    /// `GET /v1/integration/{id}`; `None` when Port has no such integration (404).
    pub async fn get_integration(&self) -> Result<Option<IntegrationRecord>, PortError> {
        let op = operation::GET_INTEGRATION;
        let response = self.integration_call(op, Method::GET, &[], None).await?;
        if response.status == 404 {
            return Ok(None);
        }
        let body = ok_or_error(response, op)?;
        IntegrationRecord::from_json(op, &body).map(Some)
    }

    /// `POST /v1/integration`: registers this integration with its mapping.
    pub async fn create_integration(
        &self,
        new: &NewIntegration,
    ) -> Result<IntegrationRecord, PortError> {
        let op = operation::CREATE_INTEGRATION;
        let body = json!({
            "installationId": self.integration_identifier(),
            "installationAppType": new.installation_app_type,
            "version": new.version,
            "changelogDestination": {},
            "config": new.config,
        });
        let request = ApiRequest::new(op, Method::POST, &["v1", "integration"]).json(&body);
        let body = ok_or_error(self.transport.send(&request).await?, op)?;
        IntegrationRecord::from_json(op, &body)
    }

    /// `PATCH /v1/integration/{id}` with the given fields only.
    pub async fn patch_integration(
        &self,
        fields: Map<String, Value>,
    ) -> Result<IntegrationRecord, PortError> {
        let op = operation::PATCH_INTEGRATION;
        let body = Value::Object(fields);
        let response = self
            .integration_call(op, Method::PATCH, &[], Some(&body))
            .await?;
        IntegrationRecord::from_json(op, &ok_or_error(response, op)?)
    }

    /// `PATCH /v1/integration/{id}/config`: replaces the mapping stored in Port.
    pub async fn patch_integration_config(
        &self,
        config: &Value,
    ) -> Result<IntegrationRecord, PortError> {
        let op = operation::PATCH_INTEGRATION_CONFIG;
        let body = json!({ "config": config });
        let response = self
            .integration_call(op, Method::PATCH, &["config"], Some(&body))
            .await?;
        IntegrationRecord::from_json(op, &ok_or_error(response, op)?)
    }

    /// `PATCH /v1/integration/{id}/resync-state`.
    pub async fn patch_resync_state(&self, update: &ResyncStateUpdate) -> Result<(), PortError> {
        let op = operation::PATCH_RESYNC_STATE;
        let response = self
            .integration_call(op, Method::PATCH, &["resync-state"], Some(&update.body()))
            .await?;
        ok_or_error(response, op).map(|_| ())
    }

    /// `GET /v1/integration/{id}/resync-request`: Port's latest resync request, if any.
    pub async fn get_resync_request(&self) -> Result<Option<ResyncRequest>, PortError> {
        let op = operation::GET_RESYNC_REQUEST;
        let response = self
            .integration_call(op, Method::GET, &["resync-request"], None)
            .await?;
        let body = ok_or_error(response, op)?;
        match body.get("request") {
            None | Some(Value::Null) => Ok(None),
            Some(request) => {
                let field = |key: &str| request.get(key).and_then(Value::as_str);
                match (field("id"), field("updatedAt")) {
                    (Some(id), Some(updated_at)) => Ok(Some(ResyncRequest {
                        id: id.to_string(),
                        updated_at: updated_at.to_string(),
                    })),
                    _ => Err(PortError::UnexpectedResponse {
                        operation: op,
                        detail: format!("a resync request without id/updatedAt: {request}"),
                    }),
                }
            }
        }
    }

    /// `POST /v1/integration/{id}/kinds/{kind}/examples`: raw samples for Port's mapping editor.
    pub async fn post_kind_examples(
        &self,
        kind: &str,
        examples: &[Value],
    ) -> Result<(), PortError> {
        let op = operation::POST_KIND_EXAMPLES;
        let body = json!({ "examples": examples });
        let response = self
            .integration_call(op, Method::POST, &["kinds", kind, "examples"], Some(&body))
            .await?;
        ok_or_error(response, op).map(|_| ())
    }

    /// `{metricAttributes.ingestUrl}/syncMetrics` `{syncKindsMetrics}`.
    pub async fn post_sync_metrics(
        &self,
        metric_ingest_url: &str,
        kinds: &[Value],
    ) -> Result<(), PortError> {
        let op = operation::POST_SYNC_METRICS;
        let url = ingest_url(op, &format!("{metric_ingest_url}/syncMetrics"))?;
        let request =
            ApiRequest::to_url(op, Method::POST, url).json(&json!({ "syncKindsMetrics": kinds }));
        ok_or_error(self.transport.send(&request).await?, op).map(|_| ())
    }

    /// `{logAttributes.ingestUrl}` `{logs: [{message, level, timestamp, extra}]}`.
    pub async fn ingest_logs(&self, log_ingest_url: &str, logs: &[Value]) -> Result<(), PortError> {
        let op = operation::INGEST_LOGS;
        let url = ingest_url(op, log_ingest_url)?;
        let request = ApiRequest::to_url(op, Method::POST, url).json(&json!({ "logs": logs }));
        ok_or_error(self.transport.send(&request).await?, op).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resync_state_bodies_have_oceans_shape() {
        let start = ResyncStateUpdate {
            status: ResyncStatus::Running,
            last_resync_start: Some("2026-12-01T10:00:00Z".into()),
            last_resync_end: None,
            next_resync: Some("2026-12-01T11:00:00Z".into()),
            interval_minutes: Some(60),
        };
        assert_eq!(
            start.body(),
            json!({"status": "running", "lastResyncStart": "2026-12-01T10:00:00Z",
                "lastResyncEnd": null, "nextResync": "2026-12-01T11:00:00Z",
                "intervalInMinuets": 60})
        );
        let end = ResyncStateUpdate {
            status: ResyncStatus::Aborted,
            last_resync_start: Some("2026-12-01T10:00:00Z".into()),
            last_resync_end: Some("2026-12-01T10:00:09Z".into()),
            next_resync: None,
            interval_minutes: None,
        };
        assert_eq!(
            end.body(),
            json!({"status": "aborted", "lastResyncEnd": "2026-12-01T10:00:09Z",
                "nextResync": null, "intervalInMinuets": null})
        );
    }

    #[test]
    fn an_empty_or_null_config_is_unset() {
        let record = |config: Value| {
            IntegrationRecord::from_json(
                "t",
                &json!({"integration": {"identifier": "a",
                "config": config}}),
            )
            .unwrap()
        };
        assert!(record(json!({})).config_is_unset());
        assert!(record(Value::Null).config_is_unset());
        assert!(!record(json!({"resources": []})).config_is_unset());
        let err = IntegrationRecord::from_json("t", &json!({"ok": true})).unwrap_err();
        assert!(err.to_string().contains("no integration"), "{err}");
    }
}
