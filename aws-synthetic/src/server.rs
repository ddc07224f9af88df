//! The HTTP side: `POST /` dispatched on `X-Amz-Target`, and `/_synthetic/requests`, the
//! number of calls answered per operation (`DELETE` resets it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::protocol::{self, AwsError};
use crate::settings::Catalog;
use crate::{certificates, secrets};

/// The operations answered, each with its own call counter.
const OPERATIONS: [&str; 2] = [secrets::TARGET, certificates::TARGET];

struct App {
    catalog: Catalog,
    calls: [AtomicU64; OPERATIONS.len()],
}

pub fn router(catalog: Catalog) -> Router {
    let app = Arc::new(App {
        catalog,
        calls: Default::default(),
    });
    Router::new()
        .route("/", post(call))
        .route("/_synthetic/requests", get(counts).delete(reset))
        .with_state(app)
}

async fn call(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&app, &headers, &body).unwrap_or_else(IntoResponse::into_response)
}

fn answer(app: &App, headers: &HeaderMap, body: &[u8]) -> Result<Response, AwsError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let operation = OPERATIONS
        .iter()
        .position(|known| *known == target)
        .ok_or_else(|| {
            AwsError::bad_request(
                "UnknownOperationException",
                format!(
                    "aws-synthetic answers {} only, not X-Amz-Target {target:?}",
                    OPERATIONS.join(" and ")
                ),
            )
        })?;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let region = protocol::region_of(authorization)?;
    let request = protocol::request_object(body)?;
    app.calls[operation].fetch_add(1, Ordering::Relaxed);
    let page = match OPERATIONS[operation] {
        secrets::TARGET => secrets::list(&app.catalog, region, &request),
        _ => certificates::list(&app.catalog, region, &request),
    }?;
    Ok(protocol::ok(&page))
}

async fn counts(State(app): State<Arc<App>>) -> Json<Value> {
    let counts: Map<String, Value> = OPERATIONS
        .iter()
        .zip(&app.calls)
        .map(|(name, calls)| ((*name).to_owned(), json!(calls.load(Ordering::Relaxed))))
        .collect();
    Json(Value::Object(counts))
}

async fn reset(State(app): State<Arc<App>>) -> StatusCode {
    for calls in &app.calls {
        calls.store(0, Ordering::Relaxed);
    }
    StatusCode::NO_CONTENT
}
