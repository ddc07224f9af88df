//! Port rejects request bodies over 1 MiB with 413. The limit is adjustable so tests can make
//! the emulator stricter than the client expects.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api_error::ApiError;
use crate::state::Shared;

pub const PORT_BODY_LIMIT: usize = 1024 * 1024;

pub async fn enforce(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let limit = state.body_limit();
    let declared: Option<usize> = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > limit) {
        return ApiError::payload_too_large(limit).into_response();
    }
    let (parts, body) = req.into_parts();
    match to_bytes(body, limit).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => ApiError::payload_too_large(limit).into_response(),
    }
}
