//! Integrations as Ocean integrations live in Port: the record (`installationId`, app type,
//! version, changelog destination, `config` = the port-app-config, `resyncState`, ingest URLs),
//! resync requests (the empty-body PATCH and `POST .../resync`), the resync state an
//! integration reports, kind examples, and the log and metric ingest endpoints the record's
//! `logAttributes`/`metricAttributes` point at. Shapes: Port's API reference for the documented
//! routes; Ocean's client (`port_ocean/clients/port/mixins/integrations.py`, the resync state
//! updater) for the others.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::auth::Actor;
use crate::request_input::{optional_string, parse_json, parse_object};
use crate::state::Shared;
use crate::timefmt::{is_rfc3339, now_rfc3339};

/// The states Ocean reports (`IntegrationStateStatus`).
pub const RESYNC_STATUSES: &[&str] = &["running", "completed", "failed", "aborted"];
/// The sync states of a kind's metrics (Ocean's `SyncState`, plus `aborted`).
pub const SYNC_STATES: &[&str] = &["pending", "syncing", "completed", "failed", "aborted"];

/// One integration and what was sent about it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Integration {
    /// The record as `GET /v1/integration/{id}` returns it.
    pub json: Map<String, Value>,
    /// The latest resync request (`{id, updatedAt}`), if any was made.
    pub resync_request: Option<Value>,
    /// Every resync state reported, in order (each as stored, with its `updatedAt`).
    pub resync_states: Vec<Value>,
    /// Raw examples per kind, as last posted.
    pub examples: BTreeMap<String, Vec<Value>>,
    /// Every `{logs: [...]}` entry posted to the log ingest URL.
    pub logs: Vec<Value>,
    /// Every kind's metrics posted to the metrics ingest URL, in order.
    pub metrics: Vec<Value>,
}

#[derive(Debug, Default)]
pub struct Integrations {
    pub by_id: BTreeMap<String, Integration>,
    requests_made: u64,
}

impl Integrations {
    /// The record `id`, or Port's 404 for it.
    pub fn existing(&mut self, id: &str) -> Result<&mut Integration, ApiError> {
        self.by_id.get_mut(id).ok_or_else(|| not_found(id))
    }

    /// Records a resync request, as the empty-body PATCH, `POST .../resync` and the UI's
    /// "Save & Resync" do.
    pub fn request_resync(&mut self, id: &str, now: &str) -> Option<Value> {
        self.requests_made += 1;
        let request = json!({"id": format!("rr_{:06}", self.requests_made), "updatedAt": now});
        let integration = self.by_id.get_mut(id)?;
        integration.resync_request = Some(request.clone());
        Some(request)
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Integration with identifier \"{id}\" was not found"
    ))
}

fn respond(result: Result<(StatusCode, Value), ApiError>) -> Response {
    match result {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A new record, as Port creates it for a self-hosted integration. `base` is where the ingest
/// URLs point (the emulator's own address, as the client reached it).
pub fn new_record(id: &str, base: &str, actor: &str, now: &str) -> Map<String, Value> {
    let Value::Object(json) = json!({
        "identifier": id,
        "installationId": id,
        "installationAppType": null,
        "version": null,
        "title": null,
        "changelogDestination": {},
        "config": {},
        "actionsProcessingEnabled": false,
        "resyncState": null,
        "logAttributes": {"ingestUrl": format!("{base}/ingest/integration/{id}/logs")},
        "metricAttributes": {"ingestUrl": format!("{base}/ingest/integration/{id}/metrics")},
        "createdAt": now,
        "updatedAt": now,
        "createdBy": actor,
        "updatedBy": actor,
    }) else {
        unreachable!("literal object")
    };
    json
}

/// `http://host:port` from the request's `Host` header, for the ingest URLs.
fn base_of(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn check_string_or_null(body: &Map<String, Value>, key: &str) -> Result<(), ApiError> {
    match body.get(key) {
        None | Some(Value::String(_)) | Some(Value::Null) => Ok(()),
        Some(_) => Err(ApiError::invalid_request(format!(
            "body/{key} must be string,null"
        ))),
    }
}

fn check_object(body: &Map<String, Value>, key: &str) -> Result<(), ApiError> {
    match body.get(key) {
        None | Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(ApiError::invalid_request(format!(
            "body/{key} must be object"
        ))),
    }
}

fn check_bool(body: &Map<String, Value>, key: &str) -> Result<(), ApiError> {
    match body.get(key) {
        None | Some(Value::Bool(_)) => Ok(()),
        Some(_) => Err(ApiError::invalid_request(format!(
            "body/{key} must be boolean"
        ))),
    }
}

/// The spec's `changelogDestination`: `{}` (polling), or `{type: WEBHOOK|KAFKA, ...}`.
fn check_changelog_destination(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.get("changelogDestination") {
        None => Ok(()),
        Some(Value::Object(dest)) if dest.is_empty() => Ok(()),
        Some(Value::Object(dest)) => match dest.get("type").and_then(Value::as_str) {
            Some("WEBHOOK" | "KAFKA") => Ok(()),
            _ => Err(ApiError::invalid_request(
                "body/changelogDestination/type must be equal to one of the allowed values \
                 [\"WEBHOOK\",\"KAFKA\"]",
            )),
        },
        Some(_) => Err(ApiError::invalid_request(
            "body/changelogDestination must be object",
        )),
    }
}

/// The spec's `config`: an object or null; known keys typed; each resource has `kind`,
/// `selector` and `port.entity.mappings` (an object or an array of them), with `identifier`
/// and `blueprint`.
pub fn check_config(config: &Value, at: &str) -> Result<(), ApiError> {
    let config = match config {
        Value::Null => return Ok(()),
        Value::Object(config) => config,
        _ => {
            return Err(ApiError::invalid_request(format!(
                "{at} must be object,null"
            )));
        }
    };
    for key in [
        "deleteDependentEntities",
        "createMissingRelatedEntities",
        "enableMergeEntity",
    ] {
        if config.get(key).is_some_and(|v| !v.is_boolean()) {
            return Err(ApiError::invalid_request(format!(
                "{at}/{key} must be boolean"
            )));
        }
    }
    let Some(resources) = config.get("resources") else {
        return Ok(());
    };
    let Some(resources) = resources.as_array() else {
        return Err(ApiError::invalid_request(format!(
            "{at}/resources must be array"
        )));
    };
    for (i, resource) in resources.iter().enumerate() {
        let at = format!("{at}/resources/{i}");
        let Some(resource) = resource.as_object() else {
            return Err(ApiError::invalid_request(format!("{at} must be object")));
        };
        for key in ["kind", "selector", "port"] {
            if !resource.contains_key(key) {
                return Err(ApiError::invalid_request(format!(
                    "{at} must have required property '{key}'"
                )));
            }
        }
        if !resource["kind"].is_string() {
            return Err(ApiError::invalid_request(format!(
                "{at}/kind must be string"
            )));
        }
        let selector = &resource["selector"];
        if !selector.is_object() {
            return Err(ApiError::invalid_request(format!(
                "{at}/selector must be object"
            )));
        }
        if selector.get("query").is_some_and(|q| !q.is_string()) {
            return Err(ApiError::invalid_request(format!(
                "{at}/selector/query must be string"
            )));
        }
        let Some(entity) = resource["port"].get("entity") else {
            return Err(ApiError::invalid_request(format!(
                "{at}/port must have required property 'entity'"
            )));
        };
        let Some(mappings) = entity.get("mappings") else {
            return Err(ApiError::invalid_request(format!(
                "{at}/port/entity must have required property 'mappings'"
            )));
        };
        let each: Vec<&Value> = match mappings {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for mapping in each {
            let Some(mapping) = mapping.as_object() else {
                return Err(ApiError::invalid_request(format!(
                    "{at}/port/entity/mappings must be object"
                )));
            };
            for key in ["identifier", "blueprint"] {
                if !mapping.contains_key(key) {
                    return Err(ApiError::invalid_request(format!(
                        "{at}/port/entity/mappings must have required property '{key}'"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The fields a create or update may set, checked as the spec types them.
fn check_record_fields(body: &Map<String, Value>) -> Result<(), ApiError> {
    check_string_or_null(body, "title")?;
    for key in ["installationAppType", "version"] {
        optional_string(body, key)?;
    }
    check_object(body, "spec")?;
    check_bool(body, "actionsProcessingEnabled")?;
    check_changelog_destination(body)?;
    if let Some(config) = body.get("config") {
        check_config(config, "body/config")?;
    }
    Ok(())
}

const SETTABLE: &[&str] = &[
    "title",
    "installationAppType",
    "version",
    "spec",
    "actionsProcessingEnabled",
    "changelogDestination",
    "config",
];

fn apply_fields(record: &mut Map<String, Value>, body: &Map<String, Value>) {
    for key in SETTABLE {
        if let Some(value) = body.get(*key) {
            let value = match (*key, value) {
                // Port stores a null config as the empty one.
                ("config", Value::Null) => json!({}),
                _ => value.clone(),
            };
            record.insert((*key).into(), value);
        }
    }
}

fn touch(record: &mut Map<String, Value>, actor: &str, now: &str) {
    record.insert("updatedAt".into(), json!(now));
    record.insert("updatedBy".into(), json!(actor));
}

/// `POST /v1/integration`: registers a self-hosted integration (Ocean's create call).
pub async fn create(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond((|| {
        let mut allowed = vec!["installationId", "createPortResourcesOrigin"];
        allowed.extend_from_slice(SETTABLE);
        let body = parse_object(&body, &allowed)?;
        let id = match body.get("installationId") {
            Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
            Some(Value::String(_)) => {
                return Err(ApiError::invalid_request(
                    "body/installationId must NOT have fewer than 1 characters",
                ));
            }
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "body/installationId must be string",
                ));
            }
            None => {
                return Err(ApiError::invalid_request(
                    "body must have required property 'installationId'",
                ));
            }
        };
        check_record_fields(&body)?;
        let mut store = state.store();
        if store.integrations.by_id.contains_key(&id) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "integration_already_exists",
                format!("Integration with identifier \"{id}\" already exists"),
            ));
        }
        let now = now_rfc3339();
        let mut record = new_record(&id, &base_of(&headers), &actor.client_id, &now);
        apply_fields(&mut record, &body);
        let integration = Integration {
            json: record.clone(),
            ..Integration::default()
        };
        store.integrations.by_id.insert(id, integration);
        Ok((
            StatusCode::CREATED,
            json!({"ok": true, "integration": record}),
        ))
    })())
}

pub async fn get_one(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let store = state.store();
    respond(
        store
            .integrations
            .by_id
            .get(&id)
            .map(|i| (StatusCode::OK, json!({"ok": true, "integration": i.json})))
            .ok_or_else(|| not_found(&id)),
    )
}

/// `PATCH /v1/integration/{id}`: changes the fields given; an empty body requests a resync
/// without changing anything else.
pub async fn update(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    respond((|| {
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match parse_json(&body)? {
                Value::Object(map) => map,
                _ => return Err(ApiError::invalid_request("body must be object")),
            }
        };
        check_record_fields(&body)?;
        let mut store = state.store();
        let now = now_rfc3339();
        let integration = store.integrations.existing(&id)?;
        apply_fields(&mut integration.json, &body);
        touch(&mut integration.json, &actor.client_id, &now);
        let record = integration.json.clone();
        if body.is_empty() {
            store.integrations.request_resync(&id, &now);
        }
        Ok((StatusCode::OK, json!({"ok": true, "integration": record})))
    })())
}

/// Replaces the mapping, as `PATCH .../config` and the UI's save do.
pub fn set_config(
    integrations: &mut Integrations,
    id: &str,
    config: Value,
    actor: &str,
    now: &str,
) -> Result<Map<String, Value>, ApiError> {
    check_config(&config, "body/config")?;
    let integration = integrations
        .by_id
        .get_mut(id)
        .ok_or_else(|| not_found(id))?;
    let config = if config.is_null() { json!({}) } else { config };
    integration.json.insert("config".into(), config);
    touch(&mut integration.json, actor, now);
    Ok(integration.json.clone())
}

/// `PATCH /v1/integration/{id}/config` `{config}`.
pub async fn update_config(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    respond((|| {
        let body = parse_object(&body, &["config"])?;
        let config = body.get("config").cloned().ok_or_else(|| {
            ApiError::invalid_request("body must have required property 'config'")
        })?;
        let mut store = state.store();
        let record = set_config(
            &mut store.integrations,
            &id,
            config,
            &actor.client_id,
            &now_rfc3339(),
        )?;
        Ok((StatusCode::OK, json!({"ok": true, "integration": record})))
    })())
}

fn date_time_or_null(body: &Map<String, Value>, key: &str) -> Result<(), ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if is_rfc3339(s) => Ok(()),
        Some(_) => Err(ApiError::invalid_request(format!(
            "body/{key} must match format \"date-time\""
        ))),
    }
}

/// Checks a resync state as Ocean sends it: `status`, `lastResyncStart` (with `running`),
/// `lastResyncEnd` (null while running, a time once finished), `nextResync`, and
/// `intervalInMinuets` (Port's spelling).
pub fn check_resync_state(body: &Map<String, Value>) -> Result<String, ApiError> {
    let status = optional_string(body, "status")?
        .ok_or_else(|| ApiError::invalid_request("body must have required property 'status'"))?;
    if !RESYNC_STATUSES.contains(&status) {
        return Err(ApiError::invalid_request(format!(
            "body/status must be equal to one of the allowed values {RESYNC_STATUSES:?}"
        )));
    }
    for key in ["lastResyncStart", "lastResyncEnd", "nextResync"] {
        date_time_or_null(body, key)?;
    }
    match body.get("intervalInMinuets") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_f64().is_some_and(|n| n >= 0.0) => {}
        Some(_) => {
            return Err(ApiError::invalid_request(
                "body/intervalInMinuets must be number,null",
            ));
        }
    }
    let present = |key: &str| body.get(key).is_some_and(|v| !v.is_null());
    if status == "running" {
        if !present("lastResyncStart") {
            return Err(ApiError::invalid_request(
                "body/lastResyncStart is required when status is running",
            ));
        }
        if present("lastResyncEnd") {
            return Err(ApiError::invalid_request(
                "body/lastResyncEnd must be null when status is running",
            ));
        }
    } else if !present("lastResyncEnd") {
        return Err(ApiError::invalid_request(format!(
            "body/lastResyncEnd is required when status is {status}"
        )));
    }
    Ok(status.to_string())
}

/// `PATCH /v1/integration/{id}/resync-state`.
pub async fn update_resync_state(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    respond((|| {
        let body = parse_object(
            &body,
            &[
                "status",
                "lastResyncStart",
                "lastResyncEnd",
                "nextResync",
                "intervalInMinuets",
            ],
        )?;
        check_resync_state(&body)?;
        let mut store = state.store();
        let integration = store.integrations.existing(&id)?;
        let now = now_rfc3339();
        let mut resync_state = integration
            .json
            .get("resyncState")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, value) in &body {
            resync_state.insert(key.clone(), value.clone());
        }
        resync_state.insert("updatedAt".into(), json!(now));
        integration
            .json
            .insert("resyncState".into(), Value::Object(resync_state.clone()));
        // Port's record changes with every state write (older Ocean versions had to tell
        // these writes apart from a user's change).
        touch(&mut integration.json, &actor.client_id, &now);
        integration.resync_states.push(Value::Object(resync_state));
        Ok((
            StatusCode::OK,
            json!({"ok": true, "integration": integration.json}),
        ))
    })())
}

/// `POST /v1/integration/{id}/resync`: a manual resync request.
pub async fn request_resync(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let mut store = state.store();
    let now = now_rfc3339();
    respond(
        store
            .integrations
            .request_resync(&id, &now)
            .map(|request| (StatusCode::OK, json!({"ok": true, "request": request})))
            .ok_or_else(|| not_found(&id)),
    )
}

/// `GET /v1/integration/{id}/resync-request`: the latest request, or `null`.
pub async fn get_resync_request(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let store = state.store();
    respond(
        store
            .integrations
            .by_id
            .get(&id)
            .map(|i| {
                let request = i.resync_request.clone().unwrap_or(Value::Null);
                (StatusCode::OK, json!({"ok": true, "request": request}))
            })
            .ok_or_else(|| not_found(&id)),
    )
}

/// `POST /v1/integration/{id}/kinds/{kind}/examples` `{examples: [object...]}`.
pub async fn post_examples(
    State(state): State<Shared>,
    Path((id, kind)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    respond((|| {
        let body = parse_object(&body, &["examples"])?;
        let examples = match body.get("examples") {
            Some(Value::Array(items)) if items.iter().all(Value::is_object) => items.clone(),
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "body/examples must be array of objects",
                ));
            }
            None => {
                return Err(ApiError::invalid_request(
                    "body must have required property 'examples'",
                ));
            }
        };
        let mut store = state.store();
        let integration = store.integrations.existing(&id)?;
        integration.examples.insert(kind, examples);
        Ok((StatusCode::OK, json!({"ok": true})))
    })())
}

/// `body[field]`: an array of objects, each with the `required` string properties; Port's
/// validation message names the first one at fault.
fn records<'a>(
    body: &'a Map<String, Value>,
    field: &str,
    required: &[&str],
) -> Result<Vec<&'a Map<String, Value>>, ApiError> {
    let Some(Value::Array(items)) = body.get(field) else {
        return Err(ApiError::invalid_request(format!(
            "body must have required property '{field}' (array)"
        )));
    };
    let mut records = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(item) = item.as_object() else {
            return Err(ApiError::invalid_request(format!(
                "body/{field}/{i} must be object"
            )));
        };
        if let Some(key) = required
            .iter()
            .find(|key| !item.get(**key).is_some_and(Value::is_string))
        {
            return Err(ApiError::invalid_request(format!(
                "body/{field}/{i}/{key} is required (string)"
            )));
        }
        records.push(item);
    }
    Ok(records)
}

/// The log ingest URL: `{logs: [{message, level, timestamp, extra?}]}`.
pub async fn ingest_logs(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    respond((|| {
        let body = parse_object(&body, &["logs"])?;
        let logs = records(&body, "logs", &["message", "level", "timestamp"])?;
        for (i, log) in logs.iter().enumerate() {
            if log.get("extra").is_some_and(|e| !e.is_object()) {
                return Err(ApiError::invalid_request(format!(
                    "body/logs/{i}/extra must be object"
                )));
            }
        }
        let mut store = state.store();
        let integration = store.integrations.existing(&id)?;
        integration
            .logs
            .extend(logs.into_iter().map(|log| Value::Object(log.clone())));
        Ok((StatusCode::OK, json!({"ok": true})))
    })())
}

/// `{metricAttributes.ingestUrl}/syncMetrics` `{syncKindsMetrics: [...]}`: per kind (Ocean's
/// `kindIdentifier` = `{kind}-{index}`), the event id, the sync state and the nested
/// `metrics` (phase → counts).
pub async fn ingest_metrics(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    respond((|| {
        let body = parse_object(&body, &["syncKindsMetrics"])?;
        let kinds = records(
            &body,
            "syncKindsMetrics",
            &["kind", "kindIdentifier", "eventId", "syncState"],
        )?;
        for (i, kind) in kinds.iter().enumerate() {
            let sync_state = kind["syncState"].as_str().unwrap_or_default();
            if !SYNC_STATES.contains(&sync_state) {
                return Err(ApiError::invalid_request(format!(
                    "body/syncKindsMetrics/{i}/syncState must be one of {SYNC_STATES:?}"
                )));
            }
            if !kind.get("metrics").is_some_and(Value::is_object) {
                return Err(ApiError::invalid_request(format!(
                    "body/syncKindsMetrics/{i}/metrics is required (object)"
                )));
            }
        }
        let mut store = state.store();
        let integration = store.integrations.existing(&id)?;
        integration
            .metrics
            .extend(kinds.into_iter().map(|kind| Value::Object(kind.clone())));
        Ok((StatusCode::OK, json!({"ok": true})))
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn resync_state_is_checked_as_ocean_sends_it() {
        let start = object(
            json!({"status": "running", "lastResyncStart": "2026-12-01T10:00:00Z",
            "lastResyncEnd": null, "nextResync": null, "intervalInMinuets": 60}),
        );
        assert_eq!(check_resync_state(&start).unwrap(), "running");
        let end = object(
            json!({"status": "completed", "lastResyncEnd": "2026-12-01T10:01:00Z",
            "nextResync": null, "intervalInMinuets": null}),
        );
        assert_eq!(check_resync_state(&end).unwrap(), "completed");
        let no_end = object(json!({"status": "failed"}));
        assert!(check_resync_state(&no_end).is_err());
        let bad_status = object(json!({"status": "done", "lastResyncEnd": "2026-12-01T10:01:00Z"}));
        assert!(check_resync_state(&bad_status).is_err());
        let python_time = object(json!({"status": "running",
            "lastResyncStart": "2026-12-01 10:00:00+00:00"}));
        assert!(check_resync_state(&python_time).is_err());
    }

    #[test]
    fn config_resources_need_kind_selector_and_port_mappings() {
        let good = json!({"resources": [{"kind": "k", "selector": {"query": "true"},
            "port": {"entity": {"mappings": {"identifier": ".id", "blueprint": "\"b\""}}}}]});
        assert!(check_config(&good, "body/config").is_ok());
        let mut no_selector = good.clone();
        no_selector["resources"][0]
            .as_object_mut()
            .unwrap()
            .remove("selector");
        let err = check_config(&no_selector, "body/config").unwrap_err();
        assert!(err.message.contains("'selector'"), "{}", err.message);
        let mut no_blueprint = good.clone();
        no_blueprint["resources"][0]["port"]["entity"]["mappings"]
            .as_object_mut()
            .unwrap()
            .remove("blueprint");
        assert!(check_config(&no_blueprint, "body/config").is_err());
        assert!(check_config(&json!("x"), "body/config").is_err());
        assert!(check_config(&Value::Null, "body/config").is_ok());
    }
}
