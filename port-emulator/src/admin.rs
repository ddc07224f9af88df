//! The emulator's own control endpoints under `/_emulator/` (no auth, not part of Port's API):
//! request counts and log, faults, token revocation, stored entities with their metadata, runs.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::faults::{FaultEngine, Faults};
use crate::integration::set_config;
use crate::runs::new_run;
use crate::state::Shared;
use crate::timefmt::now_rfc3339;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/_emulator/requests",
            get(request_counts).delete(clear_requests),
        )
        .route("/_emulator/requests/log", get(request_log))
        .route("/_emulator/faults", get(get_faults).put(put_faults))
        .route("/_emulator/tokens/revoke", post(revoke_tokens))
        .route("/_emulator/entities/{blueprint}", get(entities))
        .route("/_emulator/runs", post(create_run))
        .route("/_emulator/runs/{run_id}", get(get_run))
        .route("/_emulator/integrations/{id}", get(integration))
        .route(
            "/_emulator/integrations/{id}/save-and-resync",
            post(save_and_resync),
        )
}

async fn request_counts(State(state): State<Shared>) -> Response {
    Json(state.log().counts().as_json()).into_response()
}

async fn request_log(State(state): State<Shared>) -> Response {
    Json(json!({"requests": state.log().records()})).into_response()
}

async fn clear_requests(State(state): State<Shared>) -> StatusCode {
    state.log().clear();
    StatusCode::NO_CONTENT
}

async fn get_faults(State(state): State<Shared>) -> Response {
    Json(state.faults().faults().clone()).into_response()
}

async fn put_faults(State(state): State<Shared>, Json(faults): Json<Faults>) -> Response {
    *state.faults() = FaultEngine::new(faults.clone());
    Json(faults).into_response()
}

async fn revoke_tokens(State(state): State<Shared>) -> StatusCode {
    state.auth().revoke_all();
    StatusCode::NO_CONTENT
}

/// Stored entities with their metadata (`$datasource`, timestamps, writers), which Port's
/// documented entity shape does not return.
async fn entities(State(state): State<Shared>, Path(blueprint): Path<String>) -> Response {
    let store = state.store();
    let entities: Vec<_> = store.entities_of(&blueprint).collect();
    Json(json!({"entities": entities})).into_response()
}

#[derive(Deserialize)]
struct NewRun {
    id: String,
    action: String,
}

async fn create_run(State(state): State<Shared>, Json(run): Json<NewRun>) -> Response {
    let created = new_run(&run.id, &run.action);
    let body = json!({"run": created.json});
    state.store().runs.insert(run.id, created);
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn get_run(State(state): State<Shared>, Path(run_id): Path<String>) -> Response {
    match state.store().runs.get(&run_id) {
        Some(run) => Json(json!({"run": run.json, "logs": run.logs})).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Everything the emulator holds about an integration: the record, the latest resync
/// request, every resync state reported, examples, ingested logs and metrics.
async fn integration(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    match state.store().integrations.by_id.get(&id) {
        Some(i) => Json(json!({
            "integration": i.json,
            "resyncRequest": i.resync_request,
            "resyncStates": i.resync_states,
            "examples": i.examples,
            "logs": i.logs,
            "metrics": i.metrics,
        }))
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Deserialize)]
struct SaveAndResync {
    config: serde_json::Value,
}

/// A user pressing "Save & Resync" in Port's UI with a new mapping.
async fn save_and_resync(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<SaveAndResync>,
) -> Response {
    let mut store = state.store();
    let now = now_rfc3339();
    match set_config(&mut store.integrations, &id, body.config, "user", &now) {
        Ok(_) => {
            let request = store.integrations.request_resync(&id, &now);
            Json(json!({"request": request})).into_response()
        }
        Err(e) => e.into_response(),
    }
}
