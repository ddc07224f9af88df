//! Entity routes: single create/upsert, get, delete, bulk upsert and bulk delete.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::auth::Actor;
use crate::blueprints::blueprint_not_found;
use crate::entity_validation::parse_entity_input;
use crate::entity_write::{WriteFlags, write_entity};
use crate::projection::project;
use crate::request_input::{QueryParams, parse_json, parse_object};
use crate::state::Shared;
use crate::store::Store;
use crate::timefmt::now_rfc3339;

pub const MAX_BULK_UPSERT: usize = 20;
pub const MAX_BULK_DELETE: usize = 100;

fn respond(result: Result<(StatusCode, Value), ApiError>) -> Response {
    match result {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

struct WriteQuery {
    upsert: bool,
    merge: bool,
    create_missing_related_entities: bool,
    run_id: Option<String>,
}

impl WriteQuery {
    fn parse(uri: &Uri) -> Result<Self, ApiError> {
        let q = QueryParams::from_uri(uri);
        // validation_only is documented but not emulated: refuse it rather than write anyway.
        if q.flag("validation_only", false)? {
            return Err(ApiError::unsupported("validation_only=true"));
        }
        Ok(WriteQuery {
            upsert: q.flag("upsert", true)?,
            merge: q.flag("merge", false)?,
            create_missing_related_entities: q.flag("create_missing_related_entities", false)?,
            run_id: q.get("run_id").map(String::from),
        })
    }

    fn flags(&self) -> WriteFlags<'_> {
        WriteFlags {
            upsert: self.upsert,
            merge: self.merge,
            create_missing_related_entities: self.create_missing_related_entities,
            run_id: self.run_id.as_deref(),
        }
    }
}

fn require_blueprint(store: &Store, blueprint: &str) -> Result<(), ApiError> {
    match store.blueprint(blueprint) {
        Some(_) => Ok(()),
        None => Err(blueprint_not_found(blueprint)),
    }
}

fn require_run(store: &Store, run_id: Option<&str>) -> Result<(), ApiError> {
    match run_id {
        Some(id) if !store.runs.contains_key(id) => Err(ApiError::not_found(format!(
            "Action run \"{id}\" was not found"
        ))),
        _ => Ok(()),
    }
}

/// `POST /v1/blueprints/{blueprint_identifier}/entities`.
pub async fn create_one(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path(blueprint): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    respond((|| {
        let query = WriteQuery::parse(&uri)?;
        let input =
            parse_entity_input(&parse_json(&body)?, "body").map_err(ApiError::invalid_request)?;
        let mut store = state.store();
        require_blueprint(&store, &blueprint)?;
        require_run(&store, query.run_id.as_deref())?;
        let written = write_entity(
            &mut store,
            &blueprint,
            input,
            query.flags(),
            &actor,
            &now_rfc3339(),
        )?;
        Ok((
            StatusCode::CREATED,
            json!({"ok": true, "entity": written.entity.api_json()}),
        ))
    })())
}

/// `GET /v1/blueprints/{blueprint_identifier}/entities/{entity_identifier}`.
pub async fn get_one(
    State(state): State<Shared>,
    Path((blueprint, identifier)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let q = QueryParams::from_uri(&uri);
    let store = state.store();
    respond((|| {
        let bp = store
            .blueprint(&blueprint)
            .ok_or_else(|| blueprint_not_found(&blueprint))?;
        let entity = store
            .entity(&blueprint, &identifier)
            .ok_or_else(|| entity_not_found(&blueprint, &identifier))?;
        let shown = project(entity, bp, &q.all("include"), &q.all("exclude"));
        Ok((StatusCode::OK, json!({"ok": true, "entity": shown})))
    })())
}

fn entity_not_found(blueprint: &str, identifier: &str) -> ApiError {
    ApiError::not_found(format!(
        "Entity with identifier \"{identifier}\" not found in blueprint \"{blueprint}\""
    ))
}

fn has_dependents_error(blueprint: &str, dependents: &[(String, String)]) -> ApiError {
    let listed: Vec<String> = dependents.iter().map(|(b, i)| format!("{b}/{i}")).collect();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "has_dependents",
        format!(
            "Entities of blueprint \"{blueprint}\" have dependent entities ({}); delete them first or use delete_dependents=true",
            listed.join(", ")
        ),
    )
}

/// `DELETE /v1/blueprints/{blueprint_identifier}/entities/{entity_identifier}`.
pub async fn delete_one(
    State(state): State<Shared>,
    Path((blueprint, identifier)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let q = QueryParams::from_uri(&uri);
    respond((|| {
        let delete_dependents = q.flag("delete_dependents", true)?;
        let mut store = state.store();
        require_blueprint(&store, &blueprint)?;
        require_run(&store, q.get("run_id"))?;
        if store.entity(&blueprint, &identifier).is_none() {
            return Err(entity_not_found(&blueprint, &identifier));
        }
        let dependents = store.dependents_of(&blueprint, &identifier);
        if !delete_dependents && !dependents.is_empty() {
            return Err(has_dependents_error(&blueprint, &dependents));
        }
        store.delete_with_dependents(&blueprint, &identifier);
        Ok((StatusCode::OK, json!({"ok": true})))
    })())
}

/// `POST /v1/blueprints/{blueprint_identifier}/entities/bulk`: 200 when every entity was
/// written, 207 with `errors` (matched by `index`) when some were refused.
pub async fn bulk_upsert(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path(blueprint): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    respond((|| {
        let query = WriteQuery::parse(&uri)?;
        let body = parse_object(&body, &["entities"])?;
        let items = entities_array(&body, MAX_BULK_UPSERT, "array")?;
        // The route schema covers every item: one malformed item rejects the whole request.
        let inputs = items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_entity_input(item, &format!("body/entities/{i}")))
            .collect::<Result<Vec<_>, String>>()
            .map_err(ApiError::invalid_request)?;

        let mut store = state.store();
        require_blueprint(&store, &blueprint)?;
        require_run(&store, query.run_id.as_deref())?;
        let now = now_rfc3339();
        let (mut written, mut errors) = (Vec::new(), Vec::new());
        for (index, input) in inputs.into_iter().enumerate() {
            // Port names an entity whose identifier was a search query "unknown" when it
            // fails (Ocean's client relies on it).
            let identifier = match (&input.identifier, &input.identifier_query) {
                (_, Some(_)) => "unknown".to_owned(),
                (id, None) => id.clone().unwrap_or_default(),
            };
            match write_entity(&mut store, &blueprint, input, query.flags(), &actor, &now) {
                Ok(w) => written.push(json!({
                    "created": w.created, "identifier": w.entity.identifier, "index": index})),
                Err(e) => errors.push(json!({
                    "identifier": identifier, "index": index,
                    "statusCode": e.status.as_u16(), "error": e.error, "message": e.message})),
            }
        }
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::MULTI_STATUS
        };
        let ok = errors.is_empty();
        Ok((
            status,
            json!({"ok": ok, "entities": written, "errors": errors}),
        ))
    })())
}

/// `body.entities` as the bulk routes' schemas require: present, an array (of strings when
/// `kind` says so) of 1 to `max` items.
fn entities_array<'a>(
    body: &'a Map<String, Value>,
    max: usize,
    kind: &str,
) -> Result<&'a Vec<Value>, ApiError> {
    let items = match body.get("entities") {
        Some(Value::Array(items)) if kind == "array" || items.iter().all(Value::is_string) => items,
        Some(_) => {
            return Err(ApiError::invalid_request(format!(
                "body/entities must be {kind}"
            )));
        }
        None => {
            return Err(ApiError::invalid_request(
                "body must have required property 'entities'",
            ));
        }
    };
    if items.is_empty() || items.len() > max {
        return Err(ApiError::invalid_request(format!(
            "body/entities must NOT have fewer than 1 or more than {max} items (got {})",
            items.len()
        )));
    }
    Ok(items)
}

/// `POST /v1/blueprints/{blueprint_identifier}/bulk/entities/delete`. Identifiers that do not
/// exist are skipped (they are absent from `deletedEntities`). Without `delete_dependents`,
/// any dependent outside the deleted set fails the whole call and nothing is deleted.
pub async fn bulk_delete(
    State(state): State<Shared>,
    Path(blueprint): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let q = QueryParams::from_uri(&uri);
    respond((|| {
        let delete_dependents = q.flag("delete_dependents", true)?;
        let body = parse_object(&body, &["entities"])?;
        let ids: Vec<String> = entities_array(&body, MAX_BULK_DELETE, "array of strings")?
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        let mut store = state.store();
        require_blueprint(&store, &blueprint)?;
        require_run(&store, q.get("run_id"))?;
        // Request order, each identifier once.
        let mut seen = BTreeSet::new();
        let existing: Vec<String> = ids
            .into_iter()
            .filter(|id| store.entity(&blueprint, id).is_some() && seen.insert(id.clone()))
            .collect();
        if !delete_dependents {
            let outside: Vec<(String, String)> = existing
                .iter()
                .flat_map(|id| store.dependents_of(&blueprint, id))
                .filter(|(b, i)| !(b == &blueprint && existing.contains(i)))
                .collect();
            if !outside.is_empty() {
                return Err(has_dependents_error(&blueprint, &outside));
            }
        }
        for id in &existing {
            store.delete_with_dependents(&blueprint, id);
        }
        Ok((
            StatusCode::OK,
            json!({"ok": true, "deletedEntities": existing}),
        ))
    })())
}
