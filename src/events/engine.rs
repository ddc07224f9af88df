//! The one path of every event, whatever brought it: recognized, coalesced per resource,
//! handled with bounded concurrency, and acknowledged to its source (an SQS message deleted)
//! only when every resource it named was brought up to date or judged irrelevant. A failure
//! leaves it unacknowledged, for its source to deliver again.
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
use super::{Coalescer, Handled, Ignored, LiveEvent, LiveHandler, ResourceKey, recognize};

/// Acknowledges one delivery to its source.
pub type Ack = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

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
}

/// One delivery's resources still being handled.
struct Delivery {
    remaining: AtomicUsize,
    failed: AtomicBool,
    ack: std::sync::Mutex<Option<Ack>>,
}

impl Delivery {
    /// One resource done; the last one acknowledges unless any failed.
    async fn done(&self, ok: bool) {
        if !ok {
            self.failed.store(true, Ordering::SeqCst);
        }
        if self.remaining.fetch_sub(1, Ordering::SeqCst) == 1 && !self.failed.load(Ordering::SeqCst)
        {
            let ack = self.ack.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(ack) = ack {
                ack().await;
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
            received,
            shutdown,
            tasks.clone(),
        ));
        Engine { incoming }
    }

    /// Recognizes `event` and queues its resources; `ack` runs once they are all done well
    /// (at once when the event is ignored).
    pub async fn submit(&self, event: &Value, ack: Ack) -> Submitted {
        let events = match recognize(event) {
            Ok(events) => events,
            Err(ignored) => {
                tracing::info!(reason = ignored.label(), "live event ignored: {ignored}");
                LIVE.count("unknown", "unknown", "ignored");
                ack().await;
                return Submitted::Ignored(ignored);
            }
        };
        let delivery = Arc::new(Delivery {
            remaining: AtomicUsize::new(events.len()),
            failed: AtomicBool::new(false),
            ack: std::sync::Mutex::new(Some(ack)),
        });
        let count = events.len();
        for event in events {
            let incoming = Incoming {
                event,
                delivery: delivery.clone(),
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
    mut received: mpsc::Receiver<Incoming>,
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
            tasks.spawn(async move {
                let events: Vec<LiveEvent> = batch.iter().map(|i| i.event.clone()).collect();
                let result = handler.handle(&key, &events).await;
                report(&key, &events, &result);
                for incoming in &batch {
                    incoming.delivery.done(result.is_ok()).await;
                }
                drop(permit);
                let _ = finished.send(key);
            });
        }
    }
}

fn report(key: &ResourceKey, events: &[LiveEvent], result: &Result<Handled, String>) {
    let kind = key.kind.as_str();
    let action = match result {
        Ok(handled) => handled.action(),
        Err(_) => "failed",
    };
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
    match result {
        Ok(Handled::Ignored(ignored)) => {
            tracing::info!(
                kind,
                resource,
                account,
                reason = ignored.label(),
                "live event ignored: {ignored}"
            )
        }
        Ok(handled) => tracing::info!(
            kind,
            resource,
            account,
            region,
            coalesced,
            action = handled.action(),
            "live event handled: {handled:?}"
        ),
        Err(error) => tracing::warn!(
            kind,
            resource,
            account,
            region,
            coalesced,
            %error,
            "live event failed; left for redelivery"
        ),
    }
}
