//! The one path of every event, whatever brought it: recognized, coalesced per resource,
//! handled with bounded concurrency, and settled with its source: done (an SQS message
//! deleted) only when every resource it named was brought up to date or judged irrelevant,
//! failed otherwise. A source that delivers again (SQS) is told of the failure; for one that
//! cannot (the webhook) the engine itself tries a transient failure again, a bounded number
//! of times with a growing wait.
//!
//! Live writes never interleave with a resync so as to lose a change: no resource is read
//! while a resync runs (the `resync_running` gate), so a resync that read AWS before a change
//! cannot overwrite the live write of that change; the change's event is handled after the
//! resync, and reads the newest state again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::metrics::LIVE;
use super::{Coalescer, Failure, Handled, Ignored, LiveEvent, LiveHandler, ResourceKey, recognize};

/// How a delivery ended, told to its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Every resource it named is up to date (or it was judged irrelevant).
    Done,
    /// Some resource could not be brought up to date.
    Failed,
}

/// Settles one delivery with its source (runs once).
pub type Settle = Box<dyn FnOnce(Settled) -> BoxFuture<'static, ()> + Send>;

/// Who tries a failed delivery again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redelivery {
    /// Its source delivers it again (SQS, after the visibility the consumer sets).
    BySource,
    /// Nobody would: the engine retries transient failures itself.
    Here(RetryPolicy),
}

/// Bounded retries with a wait that doubles each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait before the second attempt.
    pub first_wait: Duration,
    pub max_wait: Duration,
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1 = the first), with up to a tenth more at
    /// random so that resources throttled together are not retried together.
    pub fn wait(&self, attempt: u32) -> Duration {
        let doubled = self
            .first_wait
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let wait = doubled.min(self.max_wait);
        wait + wait.mul_f64(rand::random::<f64>() / 10.0)
    }
}

/// Whether a resync is running (live reads wait for it to end).
pub type ResyncGate = Arc<dyn Fn() -> bool + Send + Sync>;

/// How often a gated or idle engine looks again.
const GATE_POLL: Duration = Duration::from_millis(250);
/// Events waiting for the dispatcher before senders wait.
const INCOMING: usize = 1_000;

/// What became of a delivery when it was submitted.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// Acknowledged at once: nothing to read.
    Ignored(Ignored),
    /// This many resources will be read; acknowledged when all are done.
    Queued(usize),
    /// The engine is stopping; not acknowledged.
    Stopping,
}

#[derive(Clone)]
pub struct Engine {
    incoming: mpsc::Sender<Incoming>,
}

struct Incoming {
    event: LiveEvent,
    delivery: Arc<Delivery>,
    /// 1 for the first attempt; more when the engine retries it.
    attempt: u32,
}

/// One delivery's resources still being handled.
struct Delivery {
    remaining: AtomicUsize,
    failed: AtomicBool,
    settle: std::sync::Mutex<Option<Settle>>,
    redelivery: Redelivery,
}

impl Delivery {
    /// One resource done; the last one settles the delivery.
    async fn done(&self, ok: bool) {
        if !ok {
            self.failed.store(true, Ordering::SeqCst);
        }
        if self.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
            let settled = match self.failed.load(Ordering::SeqCst) {
                true => Settled::Failed,
                false => Settled::Done,
            };
            let settle = self.settle.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(settle) = settle {
                settle(settled).await;
            }
        }
    }
}

pub struct EngineSettings {
    pub concurrency: usize,
    pub coalesce_window: Duration,
}

impl Engine {
    /// Starts the dispatcher on `tasks`; it stops when `shutdown` is cancelled (events not yet
    /// handled stay unacknowledged).
    pub fn start(
        handler: Arc<LiveHandler>,
        settings: EngineSettings,
        resync_running: ResyncGate,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> Engine {
        let (incoming, received) = mpsc::channel(INCOMING);
        tasks.spawn(dispatch(
            handler,
            settings,
            resync_running,
            (incoming.downgrade(), received),
            shutdown,
            tasks.clone(),
        ));
        Engine { incoming }
    }

    /// Recognizes `event` and queues its resources; `settle` runs once they are all handled
    /// (at once, done, when the event is ignored).
    pub async fn submit(&self, event: &Value, redelivery: Redelivery, settle: Settle) -> Submitted {
        let events = match recognize(event) {
            Ok(events) => events,
            Err(ignored) => {
                tracing::info!(reason = ignored.label(), "live event ignored: {ignored}");
                LIVE.count("unknown", "unknown", "ignored");
                settle(Settled::Done).await;
                return Submitted::Ignored(ignored);
            }
        };
        let delivery = Arc::new(Delivery {
            remaining: AtomicUsize::new(events.len()),
            failed: AtomicBool::new(false),
            settle: std::sync::Mutex::new(Some(settle)),
            redelivery,
        });
        let count = events.len();
        for event in events {
            let incoming = Incoming {
                event,
                delivery: delivery.clone(),
                attempt: 1,
            };
            if self.incoming.send(incoming).await.is_err() {
                return Submitted::Stopping;
            }
        }
        Submitted::Queued(count)
    }
}

async fn dispatch(
    handler: Arc<LiveHandler>,
    settings: EngineSettings,
    resync_running: ResyncGate,
    (again, mut received): (mpsc::WeakSender<Incoming>, mpsc::Receiver<Incoming>),
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let mut coalescer: Coalescer<ResourceKey, Incoming> = Coalescer::new(settings.coalesce_window);
    let permits = Arc::new(Semaphore::new(settings.concurrency));
    let (finished, mut done) = mpsc::unbounded_channel::<ResourceKey>();
    loop {
        let now = Instant::now();
        let wake = match coalescer.next_due() {
            Some(due) => Instant::from_std(due).min(now + GATE_POLL),
            None => now + GATE_POLL,
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            incoming = received.recv() => match incoming {
                Some(incoming) => {
                    let key = incoming.event.key();
                    coalescer.add(key, incoming, std::time::Instant::now());
                }
                None => return,
            },
            Some(key) = done.recv() => coalescer.finish(&key),
            _ = tokio::time::sleep_until(wake) => {}
        }
        if resync_running() {
            continue;
        }
        for (key, batch) in coalescer.take_due(std::time::Instant::now()) {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let handler = handler.clone();
            let finished = finished.clone();
            let retry = Retry {
                again: again.clone(),
                shutdown: shutdown.clone(),
                tasks: tasks.clone(),
            };
            tasks.spawn(async move {
                let events: Vec<LiveEvent> = batch.iter().map(|i| i.event.clone()).collect();
                let result = handler.handle(&key, &events).await;
                drop(permit);
                let _ = finished.send(key.clone());
                let failure = match result {
                    Ok(handled) => {
                        report(&key, &events, &handled);
                        for incoming in &batch {
                            incoming.delivery.done(true).await;
                        }
                        return;
                    }
                    Err(failure) => failure,
                };
                let (retried, settled): (Vec<Incoming>, Vec<Incoming>) =
                    batch.into_iter().partition(|incoming| {
                        failure.transient
                            && matches!(incoming.delivery.redelivery,
                                Redelivery::Here(policy) if incoming.attempt < policy.attempts)
                    });
                report_failure(&key, &failure, &retried, &settled);
                for incoming in settled {
                    incoming.delivery.done(false).await;
                }
                for incoming in retried {
                    retry.later(incoming);
                }
            });
        }
    }
}

/// Sends a failed event back to the dispatcher after its wait.
struct Retry {
    again: mpsc::WeakSender<Incoming>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Retry {
    fn later(&self, mut incoming: Incoming) {
        let Redelivery::Here(policy) = incoming.delivery.redelivery else {
            return;
        };
        let wait = policy.wait(incoming.attempt);
        incoming.attempt += 1;
        let (again, shutdown) = (self.again.clone(), self.shutdown.clone());
        self.tasks.spawn(async move {
            tokio::select! {
                // Stopping: the event is left to the next resync.
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(wait) => {
                    if let Some(again) = again.upgrade() {
                        let _ = again.send(incoming).await;
                    }
                }
            }
        });
    }
}

/// One line for the deliveries whose source delivers them again, one for those tried again
/// here, one for those given up; counted by action `failed` unless tried again.
fn report_failure(
    key: &ResourceKey,
    failure: &Failure,
    retried: &[Incoming],
    settled: &[Incoming],
) {
    let kind = key.kind.as_str();
    let resource = key.id.as_str();
    let account = key.account.as_deref().unwrap_or_default();
    let region = key.region.as_deref().unwrap_or_default();
    let error = failure.message.as_str();
    for incoming in retried {
        LIVE.retried(incoming.event.source.as_str(), kind);
    }
    if let Some(next) = retried.iter().map(|i| i.attempt + 1).max() {
        tracing::warn!(
            kind,
            resource,
            account,
            region,
            coalesced = retried.len(),
            attempt = next,
            error,
            "live event failed; trying again"
        );
    }
    let (by_source, given_up): (Vec<&Incoming>, Vec<&Incoming>) = settled
        .iter()
        .partition(|i| i.delivery.redelivery == Redelivery::BySource);
    for incoming in settled {
        LIVE.count(incoming.event.source.as_str(), kind, "failed");
    }
    if !by_source.is_empty() {
        tracing::warn!(
            kind,
            resource,
            account,
            region,
            coalesced = by_source.len(),
            error,
            "live event failed; left for redelivery"
        );
    }
    if let Some(attempts) = given_up.iter().map(|i| i.attempt).max() {
        tracing::error!(
            kind,
            resource,
            account,
            region,
            coalesced = given_up.len(),
            attempts,
            transient = failure.transient,
            error,
            "live event failed; not tried again, the next resync brings it"
        );
    }
}

fn report(key: &ResourceKey, events: &[LiveEvent], handled: &Handled) {
    let kind = key.kind.as_str();
    let action = handled.action();
    for event in events {
        LIVE.count(event.source.as_str(), kind, action);
        if matches!(action, "upsert" | "unchanged" | "delete") {
            LIVE.written(event.time);
        }
    }
    let resource = key.id.as_str();
    let account = key.account.as_deref().unwrap_or_default();
    let region = key.region.as_deref().unwrap_or_default();
    let coalesced = events.len();
    match handled {
        Handled::Ignored(ignored) => {
            tracing::info!(
                kind,
                resource,
                account,
                reason = ignored.label(),
                "live event ignored: {ignored}"
            )
        }
        handled => tracing::info!(
            kind,
            resource,
            account,
            region,
            coalesced,
            action,
            "live event handled: {handled:?}"
        ),
    }
}
