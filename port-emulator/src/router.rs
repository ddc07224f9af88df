//! The routes: Port's API (request log → faults → auth → body limit → handler) and the
//! emulator's admin endpoints.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, patch, post};

use crate::api_error::ApiError;
use crate::state::Shared;
use crate::{
    admin, auth, blueprints, body_limit, entities, faults, integration, paths, request_log, runs,
    search,
};

pub fn build(state: Shared) -> Router {
    let authenticated = Router::new()
        .route(
            paths::BLUEPRINTS,
            get(blueprints::list).post(blueprints::create),
        )
        .route(
            paths::BLUEPRINT,
            get(blueprints::get_one)
                .put(blueprints::replace)
                .patch(blueprints::update),
        )
        .route(paths::ENTITIES, post(entities::create_one))
        .route(
            paths::ENTITY,
            get(entities::get_one).delete(entities::delete_one),
        )
        .route(paths::ENTITIES_BULK, post(entities::bulk_upsert))
        .route(paths::ENTITIES_SEARCH, post(search::search))
        .route(paths::ENTITIES_BULK_DELETE, post(entities::bulk_delete))
        .route(paths::RUN, get(runs::get_run).patch(runs::update_run))
        .route(paths::RUN_LOGS, post(runs::add_log))
        .route(paths::INTEGRATIONS, post(integration::create))
        .route(
            paths::INTEGRATION,
            get(integration::get_one).patch(integration::update),
        )
        .route(paths::INTEGRATION_CONFIG, patch(integration::update_config))
        .route(
            paths::INTEGRATION_RESYNC_STATE,
            patch(integration::update_resync_state),
        )
        .route(paths::INTEGRATION_RESYNC, post(integration::request_resync))
        .route(
            paths::INTEGRATION_RESYNC_REQUEST,
            get(integration::get_resync_request),
        )
        .route(
            paths::INTEGRATION_KIND_EXAMPLES,
            post(integration::post_examples),
        )
        .route(paths::INGEST_LOGS, post(integration::ingest_logs))
        .route(
            paths::INGEST_SYNC_METRICS,
            post(integration::ingest_metrics),
        )
        .route_layer(from_fn_with_state(state.clone(), body_limit::enforce))
        .route_layer(from_fn_with_state(state.clone(), auth::require_bearer));
    let open = Router::new()
        .route(paths::ACCESS_TOKEN, post(auth::access_token))
        .route_layer(from_fn_with_state(state.clone(), body_limit::enforce));
    let port_api = authenticated
        .merge(open)
        .route_layer(from_fn_with_state(state.clone(), faults::inject))
        .route_layer(from_fn_with_state(state.clone(), request_log::record));
    port_api
        .merge(admin::routes())
        .fallback(|| async { ApiError::not_found("Route not found").into_response() })
        // The body limit middleware enforces Port's limit; axum's own default must not interfere.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}
