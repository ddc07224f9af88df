//! The live-events webhook Ocean's AWS integration users already point EventBridge at:
//! `POST /integration/webhook` with the `x-port-aws-ocean-api-key` header, taking Ocean's
//! small body or a raw EventBridge event (API destination). It answers as soon as the event is
//! queued (EventBridge waits 5 s at most); the work goes on after the answer. Nobody delivers
//! an accepted event again, so the engine retries a transient failure (AWS throttling, Port
//! unreachable or 5xx) itself, `LIVE_EVENTS_WEBHOOK_ATTEMPTS` attempts in all with a doubling
//! wait; what still fails is reported, counted and left to the next resync.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::FutureExt;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::Ignored;
use super::engine::{Engine, Redelivery, RetryPolicy, Settle, Submitted};
use crate::port::Secret;

pub const PATH: &str = "/integration/webhook";
pub const API_KEY_HEADER: &str = "x-port-aws-ocean-api-key";
/// EventBridge events are at most 256 KB.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

struct Webhook {
    engine: Engine,
    api_key: Secret,
    retry: RetryPolicy,
}

pub fn router(engine: Engine, api_key: Secret, retry: RetryPolicy) -> Router {
    Router::new()
        .route(PATH, post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::new(Webhook {
            engine,
            api_key,
            retry,
        }))
}

async fn receive(State(webhook): State<Arc<Webhook>>, headers: HeaderMap, body: Bytes) -> Response {
    let given = headers
        .get(API_KEY_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(webhook.api_key.expose().as_bytes())) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "unauthorized"})),
        )
            .into_response();
    }
    let event: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": format!("the body is not JSON: {error}")})),
            )
                .into_response();
        }
    };
    // Nothing to tell the sender once it has its answer.
    let settle = Box::new(|_| async {}.boxed()) as Settle;
    match webhook
        .engine
        .submit(&event, Redelivery::Here(webhook.retry), settle)
        .await
    {
        Submitted::Queued(resources) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"status": "accepted", "resources": resources})),
        )
            .into_response(),
        Submitted::Ignored(Ignored::Malformed(why)) => {
            (StatusCode::BAD_REQUEST, axum::Json(json!({"error": why}))).into_response()
        }
        Submitted::Ignored(ignored) => (
            StatusCode::OK,
            axum::Json(json!({"status": "ignored", "reason": ignored.label(), "message": ignored.to_string()})),
        )
            .into_response(),
        Submitted::Stopping => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": "shutting down"})),
        )
            .into_response(),
    }
}
