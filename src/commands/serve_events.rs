//! `serve-events`: only the live events (the SQS consumer), without resyncs, for a deployment
//! that keeps them apart; health on LISTEN_ADDR.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
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
        Ok(None) => return config_error("LIVE_EVENTS_QUEUE_URL is not set: no queue to consume"),
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
    let events = match LiveEvents::start(
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
    let app = axum::Router::new()
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
        );
    tracing::info!(listen = %settings.listen_addr, queues = live.queues.len(), "serving live events");
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
