//! `GET/POST /v1/blueprints`, `GET/PUT/PATCH /v1/blueprints/{identifier}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::auth::Actor;
use crate::blueprint_schema::{BlueprintRoute, check_blueprint_body, missing_relation_targets};
use crate::request_input::parse_json;
use crate::state::Shared;
use crate::store::{Blueprint, Store};
use crate::timefmt::now_rfc3339;

/// Port fills these with `{}` when a blueprint is written without them.
const DEFAULTED_MAPS: &[&str] = &[
    "relations",
    "mirrorProperties",
    "calculationProperties",
    "aggregationProperties",
];

fn respond(result: Result<(StatusCode, Value), ApiError>) -> Response {
    match result {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn body_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match parse_json(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::invalid_request("body must be object")),
    }
}

pub async fn list(State(state): State<Shared>) -> Response {
    let store = state.store();
    let blueprints: Vec<Value> = store
        .blueprints
        .values()
        .map(|b| Value::Object(b.json.clone()))
        .collect();
    Json(json!({"ok": true, "blueprints": blueprints})).into_response()
}

pub async fn get_one(State(state): State<Shared>, Path(identifier): Path<String>) -> Response {
    respond(
        state
            .store()
            .blueprint(&identifier)
            .map(|b| (StatusCode::OK, json!({"ok": true, "blueprint": b.json})))
            .ok_or_else(|| blueprint_not_found(&identifier)),
    )
}

pub fn blueprint_not_found(identifier: &str) -> ApiError {
    ApiError::not_found(format!(
        "Blueprint with identifier \"{identifier}\" was not found"
    ))
}

pub async fn create(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Response {
    respond(body_object(&body).and_then(|body| {
        let mut store = state.store();
        let stored = insert_blueprint(&mut store, body, &actor.client_id)?;
        Ok((
            StatusCode::CREATED,
            json!({"ok": true, "blueprint": stored}),
        ))
    }))
}

/// Validates and stores a new blueprint (relation targets must exist). Shared by the route and
/// the emulator's seeding.
pub fn insert_blueprint(
    store: &mut Store,
    body: Map<String, Value>,
    actor: &str,
) -> Result<Map<String, Value>, ApiError> {
    check_blueprint_body(&body, BlueprintRoute::Create)?;
    let identifier = body["identifier"].as_str().unwrap_or_default().to_string();
    if store.blueprint(&identifier).is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("A blueprint with identifier \"{identifier}\" already exists"),
        ));
    }
    check_relation_targets(store, &body)?;
    let now = now_rfc3339();
    let mut stored = body;
    for key in DEFAULTED_MAPS {
        stored.entry(*key).or_insert_with(|| json!({}));
    }
    for (key, value) in [
        ("createdAt", &now),
        ("updatedAt", &now),
        ("createdBy", &actor.to_string()),
        ("updatedBy", &actor.to_string()),
    ] {
        stored.insert(key.into(), json!(value));
    }
    store.blueprints.insert(
        identifier,
        Blueprint {
            json: stored.clone(),
        },
    );
    Ok(stored)
}

fn check_relation_targets(store: &Store, body: &Map<String, Value>) -> Result<(), ApiError> {
    let missing = missing_relation_targets(body, |t| store.blueprint(t).is_some());
    match missing.first() {
        Some(target) => Err(ApiError::not_found(format!(
            "Relation target blueprint \"{target}\" was not found"
        ))),
        None => Ok(()),
    }
}

/// The stored blueprint's JSON, or Port's 404.
fn existing_json(store: &Store, identifier: &str) -> Result<Map<String, Value>, ApiError> {
    Ok(store
        .blueprint(identifier)
        .ok_or_else(|| blueprint_not_found(identifier))?
        .json
        .clone())
}

pub async fn replace(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path(identifier): Path<String>,
    body: Bytes,
) -> Response {
    respond(body_object(&body).and_then(|body| {
        check_blueprint_body(&body, BlueprintRoute::Replace)?;
        let mut store = state.store();
        let existing = existing_json(&store, &identifier)?;
        let mut next = body;
        next.insert("identifier".into(), json!(identifier));
        for key in DEFAULTED_MAPS {
            next.entry(*key).or_insert_with(|| json!({}));
        }
        save_update(&mut store, &identifier, existing, next, &actor.client_id)
    }))
}

/// PATCH replaces the top-level fields it carries and keeps the others.
pub async fn update(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path(identifier): Path<String>,
    body: Bytes,
) -> Response {
    respond(body_object(&body).and_then(|body| {
        check_blueprint_body(&body, BlueprintRoute::Update)?;
        let mut store = state.store();
        let existing = existing_json(&store, &identifier)?;
        let mut next = existing.clone();
        next.extend(body);
        save_update(&mut store, &identifier, existing, next, &actor.client_id)
    }))
}

fn save_update(
    store: &mut Store,
    identifier: &str,
    existing: Map<String, Value>,
    mut next: Map<String, Value>,
    actor: &str,
) -> Result<(StatusCode, Value), ApiError> {
    if next.get("identifier").and_then(Value::as_str) != Some(identifier) {
        return Err(ApiError::invalid_request(
            "body/identifier must match the blueprint being updated",
        ));
    }
    check_blueprint_body(&next, BlueprintRoute::Create)?;
    check_relation_targets(store, &next)?;
    for key in ["createdAt", "createdBy"] {
        if let Some(v) = existing.get(key) {
            next.insert(key.into(), v.clone());
        }
    }
    next.insert("updatedAt".into(), json!(now_rfc3339()));
    next.insert("updatedBy".into(), json!(actor));
    store
        .blueprints
        .insert(identifier.to_string(), Blueprint { json: next.clone() });
    Ok((StatusCode::OK, json!({"ok": true, "blueprint": next})))
}
