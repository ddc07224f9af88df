//! The resync task: runs the resyncs the daemon is asked for, one at a time, and records how
//! each ended.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use futures::FutureExt;
use tokio::sync::mpsc;

use super::integration;
use super::state::{Daemon, LastResync, NotStarted, ResyncResult, Trigger};
use crate::aws::AwsSources;
use crate::blueprints::Blueprints;
use crate::integration::PortIntegration;
use crate::mapping::{CurrentMapping, Mapping};
use crate::port::PortClient;
use crate::sync::empty_reads::{DeletionSettings, EmptyReads};
use crate::sync::{Resync, ResyncReport};

/// What every resync reads, loaded once at start.
pub struct Work {
    /// The mapping file's; a resync may use Port's instead (MAPPING_SOURCE).
    pub mapping: Arc<Mapping>,
    /// What action runs and live events map with.
    pub current: Arc<CurrentMapping>,
    pub blueprints: Blueprints,
    pub sources: AwsSources,
    pub port: PortClient,
    /// Set once registered in Port.
    pub integration: OnceLock<Arc<PortIntegration>>,
    /// EMPTY_SCOPE_GUARD_MIN.
    pub deletion: DeletionSettings,
    /// The scopes the daemon's last resync read empty (see `sync::empty_reads`): kept here,
    /// and in Port for a restart; `None` until a resync of this process read AWS.
    pub empty_reads: Mutex<Option<EmptyReads>>,
}

impl Work {
    /// The empty reads the next resync may confirm: this process's last resync's, else
    /// Port's memory (the resync before this process started), else none.
    fn empty_reads_before(&self) -> EmptyReads {
        let remembered = self
            .empty_reads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        remembered.unwrap_or_else(|| {
            self.integration
                .get()
                .map(|i| i.empty_reads_in_port())
                .unwrap_or_default()
        })
    }
}

/// Runs resyncs one at a time as they are requested, until shutdown.
pub async fn resync_loop(daemon: Arc<Daemon>, work: Arc<Work>, mut rx: mpsc::Receiver<Trigger>) {
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
                .resync_finished(ResyncResult::Error, 0.0, unix_now(), None);
        }
        daemon.finish_running();
        daemon.start_queued();
        // Hand the pages the resync used back to the system now rather than keeping them
        // for the next resync: an idle daemon should be small.
        // SAFETY: mi_collect only walks mimalloc's own heap of this thread; no pointer is
        // passed and nothing is freed that is still in use.
        unsafe { libmimalloc_sys::mi_collect(true) };
    }
}

async fn resync_once(daemon: &Daemon, work: &Work, trigger: Trigger) {
    let started_at = now_rfc3339();
    let started = Instant::now();
    tracing::info!(trigger = trigger.as_str(), "resync started");
    let registered = work.integration.get();
    let state = integration::resync_started(registered).await;
    let chosen = integration::mapping(registered, &work.mapping, &work.blueprints).await;
    let empty_before = work.empty_reads_before();
    let outcome = match &chosen {
        Ok(mapping) => {
            let resync = Resync {
                mapping,
                blueprints: &work.blueprints,
                sources: &work.sources,
                port: &work.port,
                // Done once at start.
                bootstrap_blueprints: false,
                deletion: work.deletion,
                empty_before: &empty_before,
            };
            resync
                .run_until(&daemon.shutdown)
                .await
                .map_err(|e| CouldNotStart::new(&e, e.is_configuration()))
        }
        Err(e) => Err(CouldNotStart::new(e, e.is_configuration())),
    };
    let seconds = started.elapsed().as_secs_f64();
    daemon.refresh_request_metrics();
    let result = result_of(&outcome);
    daemon
        .metrics
        .resync_finished(result, seconds, unix_now(), outcome.as_ref().ok());
    log_outcome(trigger, result, seconds, &outcome);
    let resynced = match (&outcome, &chosen) {
        (Ok(report), Ok(mapping)) => Ok((report, mapping.as_ref())),
        (Err(e), _) => Err(e.message.as_str()),
        (Ok(_), Err(_)) => unreachable!("a resync runs only with a mapping"),
    };
    if let Ok(report) = &outcome {
        *work.empty_reads.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(report.empty_reads.clone());
    }
    integration::resync_ended(registered, state, result, resynced).await;
    daemon.record(LastResync {
        trigger,
        result,
        started_at,
        finished_at: now_rfc3339(),
        duration_seconds: seconds,
        error: outcome.as_ref().err().map(|e| e.message.clone()),
        not_started: outcome.as_ref().err().map(|e| e.why),
        blueprints: outcome.as_ref().map(blueprint_counts).unwrap_or_default(),
    });
}

/// A resync that wrote nothing: the reason, and whether its configuration is at fault.
struct CouldNotStart {
    message: String,
    why: NotStarted,
}

impl CouldNotStart {
    fn new(error: &impl std::fmt::Display, is_configuration: bool) -> Self {
        CouldNotStart {
            message: error.to_string(),
            why: NotStarted::from_configuration(is_configuration),
        }
    }
}

fn result_of(outcome: &Result<ResyncReport, CouldNotStart>) -> ResyncResult {
    match outcome {
        Ok(report) if report.cancelled => ResyncResult::Cancelled,
        Ok(report) if report.is_success() => ResyncResult::Success,
        Ok(_) => ResyncResult::Failure,
        Err(_) => ResyncResult::Error,
    }
}

fn log_outcome(
    trigger: Trigger,
    result: ResyncResult,
    seconds: f64,
    outcome: &Result<ResyncReport, CouldNotStart>,
) {
    match outcome {
        Ok(report) => tracing::info!(
            trigger = trigger.as_str(),
            result = result.as_str(),
            duration_seconds = seconds,
            "resync finished\n{}",
            report.render().trim_end()
        ),
        Err(error) => tracing::error!(
            trigger = trigger.as_str(),
            duration_seconds = seconds,
            error = %error.message,
            "resync failed before writing anything; the daemon goes on"
        ),
    }
}

fn blueprint_counts(report: &ResyncReport) -> BTreeMap<String, BTreeMap<&'static str, u64>> {
    report
        .blueprints
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
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Millisecond)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

fn unix_now() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}
