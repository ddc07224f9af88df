//! What the scheduler, the HTTP handlers and the resync task share: readiness, whether a
//! resync runs, the last one's outcome, and the one way to ask for a resync.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;
use crate::integration::OneQueued;
use crate::port::{PortClient, Secret};

/// What started a resync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Start,
    Schedule,
    Api,
    /// Port asked (a mapping change, a resync request), as seen by polling.
    Port,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Schedule => "schedule",
            Trigger::Api => "api",
            Trigger::Port => "port",
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

/// How a resync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResyncResult {
    /// Everything read, written and (where allowed) deleted.
    Success,
    /// Finished, but some scope, item, write or delete failed.
    Failure,
    /// Could not start (Port unreadable), or panicked.
    Error,
    /// Stopped early by shutdown.
    Cancelled,
}

impl ResyncResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ResyncResult::Success => "success",
            ResyncResult::Failure => "failure",
            ResyncResult::Error => "error",
            ResyncResult::Cancelled => "cancelled",
        }
    }
}

/// Why a resync could not start, as the exit codes tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStarted {
    /// Its configuration: a bad mapping in Port, credentials Port refuses (exit 2).
    Configuration,
    /// Port or AWS could not be read (exit 1).
    Unavailable,
}

impl NotStarted {
    pub fn from_configuration(is_configuration: bool) -> Self {
        if is_configuration {
            NotStarted::Configuration
        } else {
            NotStarted::Unavailable
        }
    }
}

/// The last resync, for `/health/ready`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastResync {
    pub trigger: Trigger,
    pub result: ResyncResult,
    pub started_at: String,
    pub finished_at: String,
    pub duration_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set when it could not start (with `error`).
    #[serde(skip)]
    pub not_started: Option<NotStarted>,
    /// Per blueprint: created, updated, unchanged, failed, deleted.
    pub blueprints: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

/// State shared by the scheduler, the HTTP handlers and the resync task.
pub struct Daemon {
    pub metrics: Metrics,
    port: PortClient,
    ready: AtomicBool,
    running: AtomicBool,
    pub(super) shutdown: CancellationToken,
    trigger_tx: mpsc::Sender<Trigger>,
    last: Mutex<Option<LastResync>>,
    last_success_at: Mutex<Option<String>>,
    resync_token: Option<Secret>,
    /// Port's requests during a resync: exactly one more is queued.
    port_queue: OneQueued,
}

impl Daemon {
    /// The daemon's state and the receiving end of its resync requests (one at a time).
    pub fn new(
        port: PortClient,
        shutdown: CancellationToken,
        resync_token: Option<Secret>,
    ) -> (Daemon, mpsc::Receiver<Trigger>) {
        let (trigger_tx, trigger_rx) = mpsc::channel(1);
        let daemon = Daemon {
            metrics: Metrics::new(),
            port,
            ready: AtomicBool::new(false),
            running: AtomicBool::new(false),
            shutdown,
            trigger_tx,
            last: Mutex::new(None),
            last_success_at: Mutex::new(None),
            resync_token,
            port_queue: OneQueued::default(),
        };
        (daemon, trigger_rx)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub(super) fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
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

    pub(super) fn record(&self, last: LastResync) {
        if last.result == ResyncResult::Success {
            *lock(&self.last_success_at) = Some(last.finished_at.clone());
        }
        *lock(&self.last) = Some(last);
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
            if trigger == Trigger::Port {
                if self.port_queue.queue() {
                    tracing::info!("Port asked for a resync while one runs: one more is queued");
                }
                return Ok(());
            }
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

    pub(super) fn finish_running(&self) {
        self.metrics.set_running(false);
        self.running.store(false, Ordering::SeqCst);
    }

    /// Starts the resync Port asked for during the last one, if it did.
    pub(super) fn start_queued(&self) {
        if self.port_queue.take() {
            let _ = self.request(Trigger::Port);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
