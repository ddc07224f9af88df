//! The webhook endpoint: rate limit per source, body limit, signature, then the run,
//! synchronously (the HTTP answer is the result) or asynchronously (202, then the run's status
//! and logs go to Port).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::json;
use tokio_util::task::TaskTracker;

use super::backend::{ActionBackend, Completed};
use super::error::ActionError;
use super::payload;
use super::requests::{ActionKind, Request};
use super::settings::WebhookSettings;
use super::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier};
use crate::port::{PortClient, RunStatus};

/// Sources remembered by the rate limiter before idle ones are forgotten.
const RATE_LIMIT_KEYS: usize = 10_000;

pub struct Webhook {
    verifier: Option<Verifier>,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    backend: Arc<ActionBackend>,
    port: PortClient,
    /// Asynchronous runs still going, so shutdown can wait for them.
    pub tasks: TaskTracker,
    path: String,
    max_body_bytes: usize,
}

impl Webhook {
    pub fn new(settings: &WebhookSettings, backend: ActionBackend, port: PortClient) -> Self {
        if settings.signing_key.is_none() {
            tracing::warn!(
                "WEBHOOK_VERIFY_SIGNATURE=false: the webhook accepts unsigned requests; anyone who can reach it can run actions against AWS"
            );
        }
        if settings.decryption_secret.expose().len() < 32 {
            tracing::warn!(
                "PORT_CLIENT_SECRET is shorter than 32 bytes: encrypted inputs (secretValue) cannot be decrypted and such runs will fail"
            );
        }
        let per_minute = NonZeroU32::new(settings.rate_limit_per_minute).unwrap_or(NonZeroU32::MIN);
        Webhook {
            verifier: settings
                .signing_key
                .clone()
                .map(|key| Verifier::new(key, settings.timestamp_tolerance)),
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            backend: Arc::new(backend),
            port,
            tasks: TaskTracker::new(),
            path: settings.path.clone(),
            max_body_bytes: settings.max_body_bytes,
        }
    }

    /// The webhook route; serve it with `into_make_service_with_connect_info::<SocketAddr>`.
    pub fn router(self: Arc<Self>) -> Router {
        let path = self.path.clone();
        let limit = self.max_body_bytes;
        Router::new()
            .route(&path, post(receive))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(self)
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn error_body(status: StatusCode, run_id: Option<&str>, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"ok": false, "runId": run_id, "status": "FAILURE", "error": message})),
    )
        .into_response()
}

async fn receive(
    State(webhook): State<Arc<Webhook>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if webhook.limiter.len() > RATE_LIMIT_KEYS {
        webhook.limiter.retain_recent();
    }
    if webhook.limiter.check_key(&peer.ip()).is_err() {
        tracing::warn!(%peer, "webhook request refused: rate limit (WEBHOOK_RATE_LIMIT_PER_MINUTE)");
        return StatusCode::TOO_MANY_REQUESTS.into_response();
    }
    if let Some(verifier) = &webhook.verifier
        && let Err(rejection) = verifier.verify(
            header(&headers, TIMESTAMP_HEADER),
            header(&headers, SIGNATURE_HEADER),
            &body,
            SystemTime::now(),
        )
    {
        tracing::warn!(%peer, reason = rejection.as_str(), "webhook request refused");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let invocation = match payload::parse(&body) {
        Ok(invocation) => invocation,
        Err(error) => {
            tracing::warn!(%peer, %error, "webhook request refused: bad payload");
            return error_body(StatusCode::BAD_REQUEST, None, &error.to_string());
        }
    };
    let run_id = invocation.run_id.clone();
    let Some(kind) = ActionKind::from_identifier(&invocation.action) else {
        let served: Vec<_> = ActionKind::ALL.iter().map(|k| k.identifier()).collect();
        let message = format!(
            "unknown action {:?}; this backend serves {}",
            invocation.action,
            served.join(", ")
        );
        tracing::warn!(run_id, "webhook request refused: {message}");
        return error_body(StatusCode::BAD_REQUEST, Some(&run_id), &message);
    };
    let synchronized = invocation
        .synchronized
        .unwrap_or_else(|| kind.synchronized_by_default());
    let request = Request::from_invocation(kind, &invocation, &webhook.backend.decryption_secret);
    tracing::info!(
        run_id,
        action = kind.identifier(),
        synchronized,
        "action run received"
    );
    if synchronized {
        let result = match request {
            Ok(request) => webhook.backend.perform(&request, &run_id).await,
            Err(error) => Err(error),
        };
        log_result(&run_id, kind, &result);
        return match result {
            Ok(done) => (
                StatusCode::OK,
                axum::Json(json!({
                    "ok": true,
                    "runId": run_id,
                    "status": "SUCCESS",
                    "summary": done.summary,
                    "link": done.link,
                    "catalog": catalog_message(&done),
                })),
            )
                .into_response(),
            Err(error) => error_body(error.status(), Some(&run_id), &error.to_string()),
        };
    }
    let task_webhook = webhook.clone();
    let task_run_id = run_id.clone();
    webhook.tasks.spawn(async move {
        run_async(&task_webhook, &task_run_id, kind, request).await;
    });
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({"ok": true, "runId": run_id, "status": "IN_PROGRESS"})),
    )
        .into_response()
}

fn catalog_message(done: &Completed) -> String {
    match &done.catalog {
        Ok(update) => update.to_string(),
        Err(error) => format!("catalog not updated ({error}); the next resync will"),
    }
}

fn log_result(run_id: &str, kind: ActionKind, result: &Result<Completed, ActionError>) {
    match result {
        Ok(done) => {
            tracing::info!(run_id, action = kind.identifier(), summary = %done.summary, "action run succeeded")
        }
        Err(error) => {
            tracing::warn!(run_id, action = kind.identifier(), %error, "action run failed")
        }
    }
}

/// Runs the action and always ends the run in Port with SUCCESS or FAILURE.
async fn run_async(
    webhook: &Webhook,
    run_id: &str,
    kind: ActionKind,
    request: Result<Request, ActionError>,
) {
    let port = &webhook.port;
    report(
        port.add_run_log(
            run_id,
            &format!("port-aws-sync: running {}", kind.identifier()),
        )
        .await,
        run_id,
    );
    let result = match request {
        Ok(request) => webhook.backend.perform(&request, run_id).await,
        Err(error) => Err(error),
    };
    log_result(run_id, kind, &result);
    match result {
        Ok(done) => {
            report(port.add_run_log(run_id, &done.summary).await, run_id);
            report(
                port.add_run_log(run_id, &catalog_message(&done)).await,
                run_id,
            );
            report(
                port.finish_run(
                    run_id,
                    RunStatus::Success,
                    &done.summary,
                    done.link.as_deref(),
                )
                .await,
                run_id,
            );
        }
        Err(error) => {
            let message = error.to_string();
            report(
                port.add_run_log(run_id, &format!("failed: {message}"))
                    .await,
                run_id,
            );
            report(
                port.finish_run(run_id, RunStatus::Failure, &message, None)
                    .await,
                run_id,
            );
        }
    }
}

fn report(result: Result<(), crate::port::PortError>, run_id: &str) {
    if let Err(error) = result {
        tracing::error!(run_id, %error, "could not report the action run to Port");
    }
}
