//! Action runs: `GET/PATCH /v1/actions/runs/{run_id}` and `POST /v1/actions/runs/{run_id}/logs`.
//! Runs are created by the test handle or the admin endpoint (Port creates them when a user
//! triggers an action).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::auth::Actor;
use crate::request_input::{optional_string, parse_object};
use crate::state::Shared;
use crate::store::{Run, Store};
use crate::timefmt::now_rfc3339;

const TERMINAL: &[&str] = &["SUCCESS", "FAILURE"];

/// A new run in progress, shaped like Port's run object.
pub fn new_run(run_id: &str, action: &str) -> Run {
    let now = now_rfc3339();
    let Value::Object(json) = json!({
        "id": run_id,
        "action": {"identifier": action, "title": null, "icon": null, "deleted": false},
        "properties": {},
        "requiredApproval": false,
        "source": "API",
        "status": "IN_PROGRESS",
        "statusLabel": null,
        "link": [],
        "createdAt": now,
        "updatedAt": now,
    }) else {
        unreachable!("literal object")
    };
    Run {
        json,
        logs: Vec::new(),
    }
}

fn run_not_found(run_id: &str) -> ApiError {
    ApiError::not_found(format!("Action run \"{run_id}\" was not found"))
}

fn run_mut<'a>(store: &'a mut Store, run_id: &str) -> Result<&'a mut Run, ApiError> {
    store
        .runs
        .get_mut(run_id)
        .ok_or_else(|| run_not_found(run_id))
}

fn respond(result: Result<(StatusCode, Value), ApiError>) -> Response {
    match result {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn get_run(State(state): State<Shared>, Path(run_id): Path<String>) -> Response {
    let store = state.store();
    respond(
        store
            .runs
            .get(&run_id)
            .map(|run| (StatusCode::OK, json!({"ok": true, "run": run.json})))
            .ok_or_else(|| run_not_found(&run_id)),
    )
}

fn terminal_status(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match optional_string(body, key)? {
        Some(s) if !TERMINAL.contains(&s) => Err(ApiError::invalid_request(format!(
            "body/{key} must be equal to one of the allowed values {TERMINAL:?}"
        ))),
        other => Ok(other.map(String::from)),
    }
}

fn set_status(run: &mut Run, status: Option<String>, now: &str) {
    if let Some(status) = status {
        run.json.insert("status".into(), json!(status));
        run.json.insert("endedAt".into(), json!(now));
    }
}

pub async fn update_run(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path(run_id): Path<String>,
    body: Bytes,
) -> Response {
    respond((|| {
        let allowed = [
            "status",
            "statusLabel",
            "link",
            "message",
            "summary",
            "externalRunId",
        ];
        let body = parse_object(&body, &allowed)?;
        let status = terminal_status(&body, "status")?;
        for key in ["statusLabel", "summary", "externalRunId"] {
            optional_string(&body, key)?;
        }
        match body.get("link") {
            None | Some(Value::String(_)) => {}
            Some(Value::Array(links)) if links.iter().all(Value::is_string) => {}
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "body/link must be string or array of strings",
                ));
            }
        }
        if body.get("message").is_some_and(|m| !m.is_object()) {
            return Err(ApiError::invalid_request("body/message must be object"));
        }
        let mut store = state.store();
        let run = run_mut(&mut store, &run_id)?;
        let now = now_rfc3339();
        for key in ["statusLabel", "link", "summary", "externalRunId", "message"] {
            if let Some(v) = body.get(key) {
                run.json.insert(key.into(), v.clone());
            }
        }
        set_status(run, status, &now);
        run.json.insert("updatedAt".into(), json!(now));
        run.json.insert("updatedBy".into(), json!(actor.client_id));
        Ok((StatusCode::OK, json!({"ok": true, "run": run.json})))
    })())
}

pub async fn add_log(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path(run_id): Path<String>,
    body: Bytes,
) -> Response {
    respond((|| {
        let body = parse_object(&body, &["terminationStatus", "statusLabel", "message"])?;
        let message = optional_string(&body, "message")?
            .ok_or_else(|| ApiError::invalid_request("body must have required property 'message'"))?
            .to_string();
        let status = terminal_status(&body, "terminationStatus")?;
        let label = optional_string(&body, "statusLabel")?.map(String::from);
        let mut store = state.store();
        let run = run_mut(&mut store, &run_id)?;
        let now = now_rfc3339();
        let log = json!({
            "id": format!("r_log_{}", run.logs.len() + 1),
            "runId": run_id,
            "message": message,
            "createdBy": actor.client_id,
            "createdAt": now,
        });
        run.logs.push(log.clone());
        if let Some(label) = label {
            run.json.insert("statusLabel".into(), json!(label));
        }
        set_status(run, status, &now);
        Ok((StatusCode::CREATED, json!({"ok": true, "runLog": log})))
    })())
}
