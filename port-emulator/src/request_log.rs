//! Every request the emulator answered: method, path template, status, body size. Tests count
//! calls per endpoint from it; the binary prints it on demand.

use std::collections::BTreeMap;
use std::fmt;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{CONTENT_LENGTH, USER_AGENT};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use crate::state::Shared;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    pub method: String,
    /// The path template, e.g. [`crate::paths::ENTITIES_BULK`].
    pub path: String,
    /// The concrete path and query string.
    pub uri: String,
    pub status: u16,
    /// Request body size from `Content-Length` (0 when absent).
    pub body_bytes: usize,
    pub user_agent: Option<String>,
    /// The body as text, when [`crate::Emulator::record_bodies`] is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    records: Vec<RequestRecord>,
}

impl RequestLog {
    pub fn push(&mut self, record: RequestRecord) {
        self.records.push(record);
    }

    pub fn records(&self) -> &[RequestRecord] {
        &self.records
    }

    pub fn clear(&mut self) {
        self.records.clear();
    }

    pub fn counts(&self) -> RequestCounts {
        let mut counts = BTreeMap::new();
        for r in &self.records {
            *counts
                .entry((r.method.clone(), r.path.clone(), r.status))
                .or_insert(0) += 1;
        }
        RequestCounts(counts)
    }
}

/// Request counts keyed by (method, path template, status).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestCounts(pub BTreeMap<(String, String, u16), u64>);

impl RequestCounts {
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Requests to one endpoint, whatever their status.
    pub fn count(&self, method: &str, path: &str) -> u64 {
        self.0
            .iter()
            .filter(|((m, p, _), _)| m == method && p == path)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn count_status(&self, method: &str, path: &str, status: u16) -> u64 {
        self.0
            .get(&(method.to_string(), path.to_string(), status))
            .copied()
            .unwrap_or(0)
    }

    /// Requests answered with `status`, on any endpoint.
    pub fn with_status(&self, status: u16) -> u64 {
        self.0
            .iter()
            .filter(|((_, _, s), _)| *s == status)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn as_json(&self) -> serde_json::Value {
        let rows: Vec<_> = self
            .0
            .iter()
            .map(|((method, path, status), count)| {
                serde_json::json!({"method": method, "path": path, "status": status, "count": count})
            })
            .collect();
        serde_json::json!({"total": self.total(), "requests": rows})
    }
}

impl fmt::Display for RequestCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for ((method, path, status), count) in &self.0 {
            writeln!(f, "{count:>8}  {status}  {method:<6} {path}")?;
        }
        write!(f, "{:>8}  total", self.total())
    }
}

/// Middleware recording each Port request once its response is known.
pub async fn record(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let (req, body) = if state.records_bodies() {
        let (parts, body) = req.into_parts();
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                (
                    Request::from_parts(parts, axum::body::Body::from(bytes)),
                    Some(text),
                )
            }
            Err(_) => (Request::from_parts(parts, axum::body::Body::empty()), None),
        }
    } else {
        (req, None)
    };
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    // Read the headers before awaiting: a borrow of the request must not live across it.
    let (body_bytes, user_agent) = {
        let header = |name| {
            req.headers()
                .get(name)
                .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let body_bytes = header(CONTENT_LENGTH)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        (body_bytes, header(USER_AGENT))
    };
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let response = {
        let _in_flight = state.request_started();
        next.run(req).await
    };
    state.log().push(RequestRecord {
        method,
        path,
        uri,
        status: response.status().as_u16(),
        body_bytes,
        user_agent,
        body,
    });
    response
}
