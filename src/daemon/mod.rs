//! `run`: the long-running service. Loads the configuration and checks Port once, then resyncs
//! at start and on a schedule, never two at once, and serves health, metrics and an on-demand
//! resync over HTTP until SIGTERM/SIGINT.
//!
//! `state` is what the parts share, `runner` runs resyncs, `scheduling` asks for them on time,
//! `http` serves the endpoints; this module only wires them together.

pub mod http;
pub mod integration;
pub mod metrics;
pub mod runner;
pub mod scheduling;
pub mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::app::{
    DaemonSettings, ServiceError, SetupError, Startup, port_check, shutdown, startup,
};
use crate::events::service::LiveEvents;
use crate::integration::PortIntegration;
use crate::mapping::CurrentMapping;
use runner::Work;
pub use state::{Daemon, LastResync, Refused, ResyncResult, Trigger};

/// The daemon, from checked settings until SIGTERM/SIGINT.
pub async fn run(settings: DaemonSettings) -> Result<(), ServiceError> {
    let start = Instant::now();
    let started = Startup::load(&settings).await?;
    let shutdown = CancellationToken::new();
    let (daemon, triggers) = Daemon::new(
        started.port.clone(),
        shutdown.clone(),
        settings.resync_token.clone(),
    );
    let daemon = Arc::new(daemon);
    let mapping = Arc::new(started.loaded.mapping);
    // Action runs and live events map with the file's mapping until registered, then with
    // the one MAPPING_SOURCE names.
    let current = CurrentMapping::new(mapping.clone());
    let webhook = settings
        .webhook
        .as_ref()
        .map(|w| startup::webhook(w, &started.sources, current.clone(), &started.port));
    let work = Arc::new(Work {
        mapping,
        current: current.clone(),
        blueprints: started.loaded.blueprints,
        sources: started.sources,
        port: started.port,
        integration: Default::default(),
        deletion: settings.deletion,
        empty_reads: Default::default(),
    });
    // No resource is read before the daemon is ready nor while a resync runs: see
    // events::engine.
    let busy = {
        let daemon = daemon.clone();
        Arc::new(move || !daemon.is_ready() || daemon.is_running())
    };
    let mut live_events = match &settings.live_events {
        Some(live) => Some(
            LiveEvents::start(live, &settings.aws, current, work.port.clone(), busy)
                .await
                .map_err(SetupError::LiveEvents)?,
        ),
        None => None,
    };
    let http_stop = CancellationToken::new();
    let server = http::spawn(
        started.listener,
        daemon.clone(),
        [
            webhook.clone().map(|w| w.router()),
            live_events.as_mut().and_then(|l| l.webhook.take()),
        ],
        http_stop.clone(),
    );
    tracing::info!(listen = %settings.listen_addr, schedule = %settings.schedule.describe(), "port-aws-sync daemon starting");
    let signal = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown::signal().await;
            shutdown.cancel();
        }
    });
    let served = serve(&settings, &daemon, work, triggers, start).await;
    if let Some(live_events) = live_events {
        live_events.stop(settings.shutdown_grace).await;
    }
    if let Some(webhook) = &webhook {
        shutdown::drain(&webhook.tasks, settings.shutdown_grace).await;
    }
    signal.abort();
    http_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
    served
}

/// Becomes ready once Port takes our credentials, then resyncs on request and on schedule
/// until shutdown, and lets the running resync finish within the grace period.
async fn serve(
    settings: &DaemonSettings,
    daemon: &Arc<Daemon>,
    work: Arc<Work>,
    triggers: mpsc::Receiver<Trigger>,
    start: Instant,
) -> Result<(), ServiceError> {
    port_check::wait_for_port(
        &work.port,
        &work.blueprints,
        settings.bootstrap_blueprints,
        &daemon.shutdown,
    )
    .await?;
    if let Some(registered) = integration::register(&work.port, settings, &daemon.shutdown).await? {
        registered.share_mapping(work.current.clone(), &work.blueprints);
        let _ = work.integration.set(registered);
    }
    if daemon.shutdown.is_cancelled() {
        return Ok(());
    }
    daemon.refresh_request_metrics();
    daemon.set_ready();
    tracing::info!(
        seconds = start.elapsed().as_secs_f64(),
        "ready: configuration loaded and Port credentials accepted"
    );
    let registered = work.integration.get().cloned();
    let resyncs = spawn_resync_thread(daemon.clone(), work, triggers)?;
    let mut jobs = scheduling::start(&settings.schedule, daemon)
        .await
        .map_err(|e| {
            SetupError::Setting(crate::config::SettingError {
                name: crate::app::settings::SCHEDULE.to_owned(),
                problem: format!("cannot start the scheduler: {e}"),
            })
        })?;
    let once = integration::is_once(settings);
    if let Some(registered) = registered.filter(|_| !once) {
        spawn_polling(registered, daemon);
    }
    if settings.resync_on_start {
        let _ = daemon.request(Trigger::Start);
    }
    let once_outcome = if once {
        integration::run_once(daemon, &daemon.shutdown).await
    } else {
        Ok(())
    };
    daemon.shutdown.cancelled().await;
    let _ = jobs.shutdown().await;
    if daemon.is_running() {
        tracing::info!(
            grace_seconds = settings.shutdown_grace.as_secs(),
            "waiting for the running resync to finish its in-flight requests; stale deletion is skipped"
        );
    }
    match tokio::time::timeout(settings.shutdown_grace, resyncs).await {
        Ok(_) => tracing::info!("stopped"),
        Err(_) => tracing::warn!(
            "the running resync did not finish within SHUTDOWN_GRACE_SECONDS; stopping anyway"
        ),
    }
    once_outcome
}

/// Port's changes (a mapping saved, a resync requested) start resyncs.
fn spawn_polling(registered: Arc<PortIntegration>, daemon: &Arc<Daemon>) {
    let (asks, counts) = (daemon.clone(), daemon.clone());
    tokio::spawn(registered.poll(
        move |reason| {
            tracing::info!(reason = reason.as_str(), "Port asks for a resync");
            let _ = asks.request(Trigger::Port);
        },
        move || counts.metrics.integration_poll_failed(),
        daemon.shutdown.clone(),
    ));
}

/// The resync future is not `Send` (rustc cannot prove it for the borrowing closures inside
/// `Resync::run`), so resyncs run on a thread of their own with a current-thread runtime; the
/// HTTP server and the scheduler stay on the main runtime. The receiver fires when it ends.
fn spawn_resync_thread(
    daemon: Arc<Daemon>,
    work: Arc<Work>,
    triggers: mpsc::Receiver<Trigger>,
) -> Result<oneshot::Receiver<()>, ServiceError> {
    let (done, finished) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("resync".to_owned())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(runner::resync_loop(daemon, work, triggers)),
                Err(e) => tracing::error!(error = %e, "cannot start the resync runtime"),
            }
            let _ = done.send(());
        })
        .map_err(|e| ServiceError::Stopped(format!("cannot start the resync thread: {e}")))?;
    Ok(finished)
}
