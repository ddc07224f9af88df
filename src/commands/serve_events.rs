//! `serve-events`: only the live events (the SQS consumer), without resyncs, for a deployment
//! that keeps them apart; health on LISTEN_ADDR.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::cli::{ConfigFiles, Exit, ServeEventsArgs};
use crate::config::Env;
use crate::daemon::Startup;
use crate::daemon::settings::{self, DaemonSettings, Flags};
use crate::events::service::LiveEvents;

pub async fn run(files: &ConfigFiles, args: &ServeEventsArgs) -> Exit {
    let mut flags = settings::file_flags(files);
    if let Some(listen) = &args.listen {
        flags.push((settings::LISTEN_ADDR, listen.clone()));
    }
    let settings =
        match DaemonSettings::resolve(Flags(flags), Env::process_layer(), args.config.clone()) {
            Ok(settings) => settings,
            Err(e) => return config_error(e),
        };
    let live = match LiveEvents::settings_from_env() {
        Ok(Some(live)) => live,
        Ok(None) => {
            return config_error(
                "neither LIVE_EVENTS_QUEUE_URL nor LIVE_EVENTS_API_KEY is set: no events to receive",
            );
        }
        Err(e) => return config_error(e),
    };
    let Startup {
        loaded,
        port,
        listener,
        ..
    } = match Startup::load(&settings).await {
        Ok(startup) => startup,
        Err(exit) => return exit,
    };
    let probe = loaded
        .blueprints
        .by_id
        .keys()
        .next()
        .map_or("awsSecret", String::as_str)
        .to_owned();
    if let Err(e) = port.get_blueprint(&probe).await {
        if e.refuses_credentials() {
            return config_error(format!(
                "Port refused our credentials (PORT_CLIENT_ID / PORT_CLIENT_SECRET): {e}"
            ));
        }
        tracing::warn!(error = %e, "Port is not reachable yet; live events are retried until it is");
    }
    // No resync runs in this process.
    let mut events = match LiveEvents::start(
        &live,
        &settings.aws,
        Arc::new(loaded.mapping),
        port,
        Arc::new(|| false),
    )
    .await
    {
        Ok(events) => events,
        Err(e) => return config_error(e),
    };
    let health = events.health.clone();
    let mut metrics = prometheus_client::registry::Registry::with_prefix("port_aws_sync");
    crate::events::metrics::register(&mut metrics);
    let metrics = Arc::new(metrics);
    let mut app = axum::Router::new()
        .route(
            "/health/live",
            get(|| async { Json(json!({"status": "live"})) }),
        )
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
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(crate::daemon::shutdown_signal())
        .await;
    events.stop(settings.shutdown_grace).await;
    match served {
        Ok(()) => Exit::Success,
        Err(e) => {
            tracing::error!(error = %e, "HTTP server stopped");
            Exit::Failures
        }
    }
}

fn config_error(e: impl std::fmt::Display) -> Exit {
    eprintln!("error: {e}");
    Exit::Config
}
