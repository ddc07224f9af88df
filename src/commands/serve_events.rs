//! `serve-events`: only the live events (the SQS consumer and the webhook), without resyncs,
//! for a deployment that keeps them apart; health on LISTEN_ADDR. Registered in Port as `run`
//! and `serve-actions` are, so events are mapped with the mapping MAPPING_SOURCE names (Port's
//! by default), kept current by polling the integration.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use super::{CommandError, Exit};
use crate::app::settings::{self, Flags};
use crate::app::{DaemonSettings, ServiceError, SetupError, Startup, health, port_check, shutdown};
use crate::cli::{ConfigFiles, ServeEventsArgs};
use crate::config::Env;
use crate::events::service::LiveEvents;
use crate::mapping::CurrentMapping;

pub async fn run(files: &ConfigFiles, args: &ServeEventsArgs) -> Result<Exit, CommandError> {
    let mut flags = Flags::default().with_files(
        files.given_mapping.as_ref(),
        files.given_blueprints.as_ref(),
    );
    if let Some(listen) = &args.listen {
        flags = flags.set(settings::LISTEN_ADDR, listen);
    }
    let settings = DaemonSettings::resolve(flags, Env::process_layer(), args.config.clone())
        .map_err(SetupError::from)?;
    let live = settings.live_events.clone().ok_or_else(|| {
        SetupError::LiveEvents(
            "neither LIVE_EVENTS_QUEUE_URL nor LIVE_EVENTS_API_KEY is set: no events to receive"
                .to_owned(),
        )
    })?;
    let started = Startup::load(&settings).await?;
    port_check::check_once(&started.port, &started.loaded.blueprints).await?;
    let current = CurrentMapping::new(Arc::new(started.loaded.mapping));
    // No resync runs here: the poll only keeps the mapping (and, with MAPPING_SOURCE=file,
    // Port's copy of it) current.
    let stop_polling = super::registered::register_and_follow(
        &settings,
        &started.port,
        current.clone(),
        &started.loaded.blueprints,
        "serve-events",
    )
    .await?;
    let mut events = LiveEvents::start(
        &live,
        &settings.aws,
        current,
        started.port,
        Arc::new(|| false),
    )
    .await
    .map_err(SetupError::LiveEvents)?;
    let health = events.health.clone();
    let mut metrics = prometheus_client::registry::Registry::with_prefix("port_aws_sync");
    crate::events::metrics::register(&mut metrics);
    let metrics = Arc::new(metrics);
    let mut app = health::live_route()
        .route(
            "/health/ready",
            get(move || {
                let reachable = health.iter().all(|h| h.is_reachable());
                async move {
                    if reachable {
                        (StatusCode::OK, Json(json!({"status": "ready"})))
                    } else {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            Json(json!({"status": "not ready", "reason": "a live-events queue cannot be reached"})),
                        )
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let mut text = String::new();
                let encoded = prometheus_client::encoding::text::encode(&mut text, &metrics);
                async move {
                    match encoded {
                        Ok(()) => (
                            [(
                                axum::http::header::CONTENT_TYPE,
                                crate::daemon::metrics::CONTENT_TYPE,
                            )],
                            text,
                        )
                            .into_response(),
                        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                    }
                }
            }),
        );
    if let Some(webhook) = events.webhook.take() {
        app = app.merge(webhook);
    }
    tracing::info!(listen = %settings.listen_addr, queues = live.queues.len(), webhook = live.api_key.is_some(), "serving live events");
    let served = axum::serve(started.listener, app)
        .with_graceful_shutdown(shutdown::signal())
        .await;
    stop_polling.cancel();
    events.stop(settings.shutdown_grace).await;
    served.map_err(|e| ServiceError::Stopped(format!("HTTP server stopped: {e}")))?;
    Ok(Exit::Success)
}
