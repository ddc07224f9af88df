//! The daemon's HTTP endpoints: health, metrics and an on-demand resync.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use subtle::ConstantTimeEq;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::metrics;
use super::state::{Daemon, Refused, Trigger};
use crate::app::health;

/// Serves the daemon's endpoints (and the self-service and live-events webhooks, when on)
/// until `stop`.
pub fn spawn(
    listener: tokio::net::TcpListener,
    daemon: Arc<Daemon>,
    webhooks: impl IntoIterator<Item = Option<Router>>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let mut app = router(daemon);
    for webhook in webhooks.into_iter().flatten() {
        app = app.merge(webhook);
    }
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    })
}

pub fn router(daemon: Arc<Daemon>) -> Router {
    health::live_route()
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .route("/resync", post(resync))
        .with_state(daemon)
}

/// 200 once the configuration is loaded and Port accepted our credentials, 503 before.
async fn ready(State(daemon): State<Arc<Daemon>>) -> Response {
    let queues_reachable = crate::events::queue::all_reachable();
    let ready = daemon.is_ready() && queues_reachable;
    let body = json!({
        "status": match (daemon.is_ready(), queues_reachable) {
            (true, true) => "ready",
            (true, false) => "live-events queue unreachable",
            (false, _) => "starting",
        },
        "ready": ready,
        "liveEventsQueuesReachable": queues_reachable,
        "resyncRunning": daemon.is_running(),
        "lastResync": daemon.last_resync(),
        "lastSuccessAt": daemon.last_success_at(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics_text(State(daemon): State<Arc<Daemon>>) -> Response {
    daemon.refresh_request_metrics();
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        daemon.metrics.render(),
    )
        .into_response()
}

/// Whether the request carries the configured bearer token (compared in constant time).
fn authorized(daemon: &Daemon, headers: &HeaderMap) -> bool {
    let Some(expected) = daemon.resync_token() else {
        return true;
    };
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
    else {
        return false;
    };
    bool::from(given.trim().as_bytes().ct_eq(expected.expose().as_bytes()))
}

async fn resync(State(daemon): State<Arc<Daemon>>, headers: HeaderMap) -> Response {
    if !authorized(&daemon, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(json!({"error": "a valid bearer token (RESYNC_TOKEN) is required"})),
        )
            .into_response();
    }
    let (status, message) = match daemon.request(Trigger::Api) {
        Ok(()) => (StatusCode::ACCEPTED, "resync started"),
        Err(Refused::Busy) => (StatusCode::CONFLICT, "a resync is already running"),
        Err(Refused::NotReady) => (StatusCode::SERVICE_UNAVAILABLE, "not ready yet"),
        Err(Refused::ShuttingDown) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    };
    (status, axum::Json(json!({"message": message}))).into_response()
}
