//! `GET /health/live`, the same for every long-running command.

use axum::Router;
use axum::routing::get;
use serde_json::json;

pub fn live_route<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route(
        "/health/live",
        get(|| async { axum::Json(json!({"status": "live"})) }),
    )
}
