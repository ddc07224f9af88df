//! `run`: the long-running service. Loads the configuration and checks Port once, then resyncs
//! at start and on a schedule, never two at once, and serves health, metrics and an on-demand
//! resync over HTTP until SIGTERM/SIGINT.

pub mod http;
pub mod metrics;
pub mod schedule;
pub mod settings;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use crate::actions::{ActionBackend, Webhook};
use crate::aws::AwsSources;
use crate::blueprints::Blueprints;
use crate::cli::Exit;
use crate::mapping::Mapping;
use crate::port::{ClientStats, PortClient, PortError, Secret};
use crate::sync::{Resync, ResyncReport};
use metrics::Metrics;
use schedule::Schedule;
use settings::DaemonSettings;

/// What started a resync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Start,
    Schedule,
    Api,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Schedule => "schedule",
            Trigger::Api => "api",
        }
    }
}

/// Why a resync was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// One is running; it is not queued.
    Busy,
    NotReady,
    ShuttingDown,
}

/// The last resync, for `/health/ready`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastResync {
    pub trigger: Trigger,
    /// success, failure, error or cancelled.
    pub result: &'static str,
    pub started_at: String,
    pub finished_at: String,
    pub duration_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Per blueprint: created, updated, unchanged, failed, deleted.
    pub blueprints: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

/// State shared by the scheduler, the HTTP handlers and the resync task.
pub struct Daemon {
    pub metrics: Metrics,
    port: PortClient,
    ready: AtomicBool,
    running: AtomicBool,
    shutdown: CancellationToken,
    trigger_tx: mpsc::Sender<Trigger>,
    last: Mutex<Option<LastResync>>,
    last_success_at: Mutex<Option<String>>,
    resync_token: Option<Secret>,
}

impl Daemon {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    pub fn last_resync(&self) -> Option<LastResync> {
        lock(&self.last).clone()
    }

    pub fn last_success_at(&self) -> Option<String> {
        lock(&self.last_success_at).clone()
    }

    pub fn resync_token(&self) -> Option<&Secret> {
        self.resync_token.as_ref()
    }

    /// Port and AWS request counters up to now, folded into the metrics (called at each
    /// scrape).
    pub fn refresh_request_metrics(&self) {
        self.metrics.port_stats(&self.port.stats());
        self.metrics.aws_calls(&crate::aws::calls::snapshot());
    }

    /// Starts a resync unless one is running (then the request is dropped, not queued).
    pub fn request(&self, trigger: Trigger) -> Result<(), Refused> {
        if self.shutdown.is_cancelled() {
            return Err(Refused::ShuttingDown);
        }
        if !self.is_ready() {
            return Err(Refused::NotReady);
        }
        if self
            .running
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.metrics.skipped(trigger.as_str());
            tracing::warn!(
                trigger = trigger.as_str(),
                "resync skipped: the previous resync is still running"
            );
            return Err(Refused::Busy);
        }
        self.metrics.set_running(true);
        // The channel holds one and the flag was clear, so it is empty: this cannot fail
        // unless the resync task is gone (shutting down).
        if self.trigger_tx.try_send(trigger).is_err() {
            self.finish_running();
            return Err(Refused::ShuttingDown);
        }
        Ok(())
    }

    fn finish_running(&self) {
        self.metrics.set_running(false);
        self.running.store(false, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What every resync reads, loaded once at start.
struct Work {
    mapping: Arc<Mapping>,
    blueprints: Blueprints,
    sources: AwsSources,
    port: PortClient,
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Millisecond)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

fn unix_now() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

/// `a - b`, counter by counter.
fn stats_delta(a: &ClientStats, b: &ClientStats) -> ClientStats {
    let mut d = a.clone();
    for (k, n) in d.responses.iter_mut() {
        *n -= b.responses.get(k).copied().unwrap_or(0);
    }
    d.responses.retain(|_, n| *n > 0);
    for (k, n) in d.network_errors.iter_mut() {
        *n -= b.network_errors.get(k).copied().unwrap_or(0);
    }
    d.network_errors.retain(|_, n| *n > 0);
    d.retries -= b.retries;
    d.reauthentications -= b.reauthentications;
    d.token_fetches -= b.token_fetches;
    d
}

async fn resync_once(daemon: &Daemon, work: &Work, trigger: Trigger) {
    let started_at = now_rfc3339();
    let started = Instant::now();
    tracing::info!(trigger = trigger.as_str(), "resync started");
    let before = work.port.stats();
    let resync = Resync {
        mapping: &work.mapping,
        blueprints: &work.blueprints,
        sources: &work.sources,
        port: &work.port,
        // Done once at start.
        bootstrap_blueprints: false,
    };
    let outcome = resync.run_until(&daemon.shutdown).await;
    let seconds = started.elapsed().as_secs_f64();
    let finished = unix_now();
    daemon.refresh_request_metrics();
    let (result, error, report): (&'static str, Option<String>, Option<ResyncReport>) =
        match outcome {
            Ok(mut report) => {
                report.port_requests = stats_delta(&report.port_requests, &before);
                let result = if report.cancelled {
                    "cancelled"
                } else if report.is_success() {
                    "success"
                } else {
                    "failure"
                };
                (result, None, Some(report))
            }
            Err(e) => ("error", Some(e.to_string()), None),
        };
    daemon
        .metrics
        .resync_finished(result, seconds, finished, report.as_ref());
    let blueprints = report
        .as_ref()
        .map(|r| {
            r.blueprints
                .iter()
                .map(|(bp, c)| {
                    let counts = BTreeMap::from([
                        ("mapped", c.mapped),
                        ("unchanged", c.unchanged),
                        ("created", c.created),
                        ("updated", c.updated),
                        ("failed", c.failed),
                        ("deleted", c.deleted),
                    ]);
                    (bp.clone(), counts)
                })
                .collect()
        })
        .unwrap_or_default();
    match (&report, &error) {
        (Some(report), _) => tracing::info!(
            trigger = trigger.as_str(),
            result,
            duration_seconds = seconds,
            "resync finished\n{}",
            report.render().trim_end()
        ),
        (None, Some(error)) => tracing::error!(
            trigger = trigger.as_str(),
            duration_seconds = seconds,
            %error,
            "resync failed before writing anything; the daemon goes on"
        ),
        (None, None) => {}
    }
    let finished_at = now_rfc3339();
    if result == "success" {
        *lock(&daemon.last_success_at) = Some(finished_at.clone());
    }
    *lock(&daemon.last) = Some(LastResync {
        trigger,
        result,
        started_at,
        finished_at,
        duration_seconds: seconds,
        error,
        blueprints,
    });
}

/// The resync task: runs resyncs one at a time as they are requested, until shutdown.
async fn resync_loop(daemon: Arc<Daemon>, work: Arc<Work>, mut rx: mpsc::Receiver<Trigger>) {
    loop {
        let trigger = tokio::select! {
            biased;
            () = daemon.shutdown.cancelled() => return,
            trigger = rx.recv() => match trigger {
                Some(trigger) => trigger,
                None => return,
            },
        };
        // A panic in a resync must not leave the daemon believing one is still running.
        let outcome = std::panic::AssertUnwindSafe(resync_once(&daemon, &work, trigger))
            .catch_unwind()
            .await;
        if outcome.is_err() {
            tracing::error!("the resync panicked; the daemon goes on");
            daemon
                .metrics
                .resync_finished("error", 0.0, unix_now(), None);
        }
        daemon.finish_running();
        // Hand the pages the resync used back to the system now rather than keeping them
        // for the next resync: an idle daemon should be small.
        // SAFETY: mi_collect only walks mimalloc's own heap of this thread; no pointer is
        // passed and nothing is freed that is still in use.
        unsafe { libmimalloc_sys::mi_collect(true) };
    }
}

/// Port accepted our credentials (and the blueprints exist, when bootstrapping); retried
/// until it works, except when Port refuses the credentials (a configuration error).
async fn connect_port(
    work: &Work,
    bootstrap: bool,
    shutdown: &CancellationToken,
) -> Result<(), PortError> {
    let mut wait = Duration::from_secs(1);
    loop {
        let attempt = if bootstrap {
            let wanted: Vec<_> = work
                .blueprints
                .by_id
                .values()
                .map(|b| b.json.clone())
                .collect();
            work.port.ensure_blueprints(&wanted).await.map(|ensured| {
                if !ensured.created.is_empty() {
                    tracing::info!(created = ?ensured.created, "created blueprints missing in Port");
                }
            })
        } else {
            let probe = work
                .blueprints
                .by_id
                .keys()
                .next()
                .map_or("awsAccount", String::as_str);
            work.port.get_blueprint(probe).await.map(|_| ())
        };
        match attempt {
            Ok(()) => return Ok(()),
            Err(e) if e.refuses_credentials() => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, retry_in_seconds = wait.as_secs(), "Port is not reachable yet; not ready");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}

pub(crate) async fn shutdown_signal() {
    let terminate = async {
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received: shutting down"),
        () = terminate => tracing::info!("SIGTERM received: shutting down"),
    }
}

fn config_error(e: impl std::fmt::Display) -> Exit {
    eprintln!("error: {e}");
    Exit::Config
}

async fn scheduler(schedule: &Schedule, daemon: &Arc<Daemon>) -> Result<JobScheduler, String> {
    let scheduler = JobScheduler::new().await.map_err(|e| e.to_string())?;
    let tick = {
        let daemon = daemon.clone();
        move |_, _| {
            let daemon = daemon.clone();
            Box::pin(async move {
                let _ = daemon.request(Trigger::Schedule);
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        }
    };
    let job = match schedule {
        Schedule::Cron { with_seconds, .. } => Job::new_async(with_seconds.as_str(), tick),
        Schedule::Every(every) => Job::new_repeated_async(*every, tick),
    }
    .map_err(|e| e.to_string())?;
    scheduler.add(job).await.map_err(|e| e.to_string())?;
    scheduler.start().await.map_err(|e| e.to_string())?;
    Ok(scheduler)
}

/// The daemon, from checked settings to exit code.
/// What a long-running command loads and checks before serving: the files, a Port client,
/// the AWS sources and the listening socket.
pub(crate) struct Startup {
    pub loaded: crate::commands::Loaded,
    pub port: PortClient,
    pub sources: AwsSources,
    pub listener: tokio::net::TcpListener,
}

impl Startup {
    /// `Err` (after printing why) means exit 2.
    pub(crate) async fn load(settings: &DaemonSettings) -> Result<Startup, Exit> {
        let files = crate::cli::ConfigFiles {
            mapping: settings.mapping.clone(),
            blueprints: settings.blueprints.clone(),
        };
        let loaded = crate::commands::load(&files).ok_or(Exit::Config)?;
        let port = PortClient::new(settings.port.clone()).map_err(config_error)?;
        let sources = AwsSources::load(&settings.aws)
            .await
            .map_err(config_error)?;
        let listener = tokio::net::TcpListener::bind(settings.listen_addr)
            .await
            .map_err(|e| {
                config_error(format!(
                    "LISTEN_ADDR: cannot listen on {}: {e}",
                    settings.listen_addr
                ))
            })?;
        Ok(Startup {
            loaded,
            port,
            sources,
            listener,
        })
    }
}

pub async fn run(settings: DaemonSettings) -> Exit {
    let start = Instant::now();
    let Startup {
        loaded,
        port,
        sources,
        listener,
    } = match Startup::load(&settings).await {
        Ok(startup) => startup,
        Err(exit) => return exit,
    };
    let (trigger_tx, trigger_rx) = mpsc::channel(1);
    let shutdown = CancellationToken::new();
    let daemon = Arc::new(Daemon {
        metrics: Metrics::new(),
        port: port.clone(),
        ready: AtomicBool::new(false),
        running: AtomicBool::new(false),
        shutdown: shutdown.clone(),
        trigger_tx,
        last: Mutex::new(None),
        last_success_at: Mutex::new(None),
        resync_token: settings.resync_token.clone(),
    });
    let mapping = Arc::new(loaded.mapping);
    let webhook = settings.webhook.as_ref().map(|webhook| {
        let backend = ActionBackend::new(&sources, webhook, mapping.clone(), port.clone());
        Arc::new(Webhook::new(webhook, backend, port.clone()))
    });
    let work = Arc::new(Work {
        mapping,
        blueprints: loaded.blueprints,
        sources,
        port,
    });

    // Live events (issue 15): no resource is read before the daemon is ready nor while a
    // resync runs, see events::engine.
    let mut live_events = match crate::events::service::LiveEvents::start_from_env(
        &settings.aws,
        work.mapping.clone(),
        work.port.clone(),
        {
            let daemon = daemon.clone();
            Arc::new(move || !daemon.is_ready() || daemon.is_running())
        },
    )
    .await
    {
        Ok(live_events) => live_events,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Config;
        }
    };

    let http_stop = CancellationToken::new();
    let server = {
        let mut app = http::router(daemon.clone());
        if let Some(webhook) = &webhook {
            app = app.merge(webhook.clone().router());
        }
        if let Some(router) = live_events.as_mut().and_then(|l| l.webhook.take()) {
            app = app.merge(router);
        }
        let stop = http_stop.clone();
        tokio::spawn(async move {
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        })
    };
    tracing::info!(listen = %settings.listen_addr, schedule = %settings.schedule.describe(), "port-aws-sync daemon starting");

    let signal = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.cancel();
        }
    });

    if let Err(e) = connect_port(&work, settings.bootstrap_blueprints, &shutdown).await {
        http_stop.cancel();
        eprintln!("error: Port refused our credentials (PORT_CLIENT_ID / PORT_CLIENT_SECRET): {e}");
        return Exit::Config;
    }
    if shutdown.is_cancelled() {
        http_stop.cancel();
        let _ = server.await;
        return Exit::Success;
    }
    daemon.refresh_request_metrics();
    daemon.ready.store(true, Ordering::SeqCst);
    tracing::info!(
        seconds = start.elapsed().as_secs_f64(),
        "ready: configuration loaded and Port credentials accepted"
    );

    // The resync future is not `Send` (rustc cannot prove it for the borrowing closures
    // inside `Resync::run`), so resyncs run on a thread of their own with a current-thread
    // runtime; the HTTP server and the scheduler stay on the main runtime.
    let (resyncs_done, resyncs) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("resync".to_owned())
        .spawn({
            let daemon = daemon.clone();
            move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(resync_loop(daemon, work, trigger_rx)),
                    Err(e) => tracing::error!(error = %e, "cannot start the resync runtime"),
                }
                let _ = resyncs_done.send(());
            }
        });
    if let Err(e) = spawned {
        eprintln!("error: cannot start the resync thread: {e}");
        return Exit::Failures;
    }
    let mut jobs = match scheduler(&settings.schedule, &daemon).await {
        Ok(jobs) => jobs,
        Err(e) => {
            eprintln!("error: SCHEDULE: cannot start the scheduler: {e}");
            return Exit::Config;
        }
    };
    if settings.resync_on_start {
        let _ = daemon.request(Trigger::Start);
    }

    shutdown.cancelled().await;
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
    if let Some(live_events) = live_events {
        live_events.stop(settings.shutdown_grace).await;
    }
    if let Some(webhook) = &webhook {
        webhook.tasks.close();
        if tokio::time::timeout(settings.shutdown_grace, webhook.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("action runs still going after SHUTDOWN_GRACE_SECONDS; stopping anyway");
        }
    }
    signal.abort();
    http_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
    Exit::Success
}
