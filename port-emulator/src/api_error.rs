//! Port-style error responses: `{ok: false, error, message}` with the status codes the
//! OpenAPI document lists for each route.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            message: message.into(),
        }
    }

    /// 404, the spec's "A resource with the provided identifier was not found".
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 422, the spec's "The json provided does not match the route's schema".
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 400 for a body that is not JSON at all (Port's HTTP framework answers so; the spec is
    /// silent about it).
    pub fn malformed_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("Request body is too large (limit is {limit} bytes)"),
        )
    }

    /// The entity does not satisfy its blueprint's schema.
    pub fn entity_mismatch(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "entity_does_not_match_blueprint",
            message,
        )
    }

    /// A feature of Port's API the emulator does not implement; reported loudly so a test never
    /// passes against behaviour that was silently skipped.
    pub fn unsupported(what: impl std::fmt::Display) -> Self {
        Self::invalid_request(format!("not supported by port-emulator: {what}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"ok": false, "error": self.error, "message": self.message});
        (self.status, Json(body)).into_response()
    }
}
