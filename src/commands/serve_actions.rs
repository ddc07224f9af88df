//! `serve-actions`: only the self-service actions webhook (no resyncs), for a deployment that
//! keeps the sync and the actions apart.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use serde_json::json;

use crate::actions::{ActionBackend, Webhook};
use crate::cli::{ConfigFiles, Exit, ServeActionsArgs};
use crate::config::Env;
use crate::daemon::Startup;
use crate::daemon::settings::{self, DaemonSettings, Flags};

pub async fn run(files: &ConfigFiles, args: &ServeActionsArgs) -> Exit {
    let mut flags = settings::file_flags(files);
    flags.push((crate::actions::settings::WEBHOOK_ENABLED, "true".to_owned()));
    if let Some(listen) = &args.listen {
        flags.push((settings::LISTEN_ADDR, listen.clone()));
    }
    let settings =
        match DaemonSettings::resolve(Flags(flags), Env::process_layer(), args.config.clone()) {
            Ok(settings) => settings,
            Err(e) => return config_error(e),
        };
    serve(settings).await
}

fn config_error(e: impl std::fmt::Display) -> Exit {
    eprintln!("error: {e}");
    Exit::Config
}

async fn serve(settings: DaemonSettings) -> Exit {
    let Some(webhook_settings) = settings.webhook.clone() else {
        return config_error("WEBHOOK_ENABLED: the webhook is off");
    };
    let Startup {
        loaded,
        port,
        sources,
        listener,
    } = match Startup::load(&settings).await {
        Ok(startup) => startup,
        Err(exit) => return exit,
    };
    // Credentials Port refuses are a configuration error; Port being briefly unreachable is
    // not (each run reports to Port on its own, with retries).
    let probe = loaded
        .blueprints
        .by_id
        .keys()
        .next()
        .map_or("awsSecret", String::as_str)
        .to_owned();
    match port.get_blueprint(&probe).await {
        Err(e) if e.refuses_credentials() => {
            return config_error(format!(
                "Port refused our credentials (PORT_CLIENT_ID / PORT_CLIENT_SECRET): {e}"
            ));
        }
        Err(e) => {
            tracing::warn!(error = %e, "Port is not reachable yet; runs will retry when they report")
        }
        Ok(_) => {}
    }
    let backend = ActionBackend::new(
        &sources,
        &webhook_settings,
        Arc::new(loaded.mapping),
        port.clone(),
    );
    let webhook = Arc::new(Webhook::new(&webhook_settings, backend, port));
    let app = webhook.clone().router().route(
        "/health/live",
        get(|| async { axum::Json(json!({"status": "live"})) }),
    );
    tracing::info!(listen = %settings.listen_addr, path = %webhook_settings.path, "serving self-service actions");
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(crate::daemon::shutdown_signal())
    .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "HTTP server stopped");
        return Exit::Failures;
    }
    webhook.tasks.close();
    if tokio::time::timeout(settings.shutdown_grace, webhook.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("action runs still going after SHUTDOWN_GRACE_SECONDS; stopping anyway");
    }
    Exit::Success
}
