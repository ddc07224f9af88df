//! `serve-actions`: only the self-service actions webhook (no resyncs), for a deployment that
//! keeps the sync and the actions apart.

use std::net::SocketAddr;
use std::sync::Arc;

use super::{CommandError, Exit};
use crate::app::settings::{self, Flags};
use crate::app::{
    DaemonSettings, ServiceError, SetupError, Startup, health, port_check, shutdown, startup,
};
use crate::cli::{ConfigFiles, ServeActionsArgs};
use crate::config::{Env, SettingError};
use crate::mapping::CurrentMapping;

pub async fn run(files: &ConfigFiles, args: &ServeActionsArgs) -> Result<Exit, CommandError> {
    let mut flags = Flags::default()
        .with_files(
            files.given_mapping.as_ref(),
            files.given_blueprints.as_ref(),
        )
        .set(crate::actions::settings::WEBHOOK_ENABLED, "true");
    if let Some(listen) = &args.listen {
        flags = flags.set(settings::LISTEN_ADDR, listen);
    }
    let settings = DaemonSettings::resolve(flags, Env::process_layer(), args.config.clone())
        .map_err(SetupError::from)?;
    serve(settings).await
}

async fn serve(settings: DaemonSettings) -> Result<Exit, CommandError> {
    let Some(webhook_settings) = settings.webhook.clone() else {
        return Err(SetupError::Setting(SettingError {
            name: crate::actions::settings::WEBHOOK_ENABLED.to_owned(),
            problem: "the webhook is off".to_owned(),
        })
        .into());
    };
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
        "serve-actions",
    )
    .await?;
    let webhook = startup::webhook(&webhook_settings, &started.sources, current, &started.port);
    let app = webhook.clone().router().merge(health::live_route());
    tracing::info!(listen = %settings.listen_addr, path = %webhook_settings.path, "serving self-service actions");
    axum::serve(
        started.listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown::signal())
    .await
    .map_err(|e| ServiceError::Stopped(format!("HTTP server stopped: {e}")))?;
    stop_polling.cancel();
    shutdown::drain(&webhook.tasks, settings.shutdown_grace).await;
    Ok(Exit::Success)
}
