//! The SQS consumer: long polls, up to ten messages a receive, each message handed to the
//! engine and deleted (ten to a DeleteMessageBatch) only when the engine settles it done.
//!
//! ChangeMessageVisibility does two things. While a message waits for its read (a
//! coalescing window, a resync running in `run`, Port slow to answer) its visibility is
//! extended, so SQS does not hand it to a second receive meanwhile (that would handle it
//! twice and leave the first receipt handle unable to delete it). When its handling failed,
//! it comes back after a wait that grows with its receive count ([`retry_visibility`]), not
//! after the whole visibility timeout: a throttled read is tried again in seconds, a lasting
//! failure ever more rarely until the redrive policy's count sends it to the dead-letter
//! queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_types::SdkConfig;
use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityError;
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use tokio::sync::mpsc;

use super::engine::{Engine, Redelivery, Settle, Settled, Submitted};
use super::settings::Queue;

/// SQS's longest long poll.
const WAIT_SECONDS: i32 = 20;
/// SQS's most messages per receive.
const MAX_MESSAGES: i32 = 10;
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The visibility timeout assumed when the queue does not say (SQS's default).
const DEFAULT_VISIBILITY: Duration = Duration::from_secs(30);
/// The wait before a failed message's second delivery; doubled at each further receive.
const FIRST_RETRY_VISIBILITY: Duration = Duration::from_secs(2);
/// The longest wait between deliveries of a failing message.
const MAX_RETRY_VISIBILITY: Duration = Duration::from_secs(900);

/// How long a message whose handling failed stays hidden, by how often it was received:
/// 2 s after the first receive, doubling to at most 15 minutes (with the templates' 10
/// receives, a message keeps being tried for about 17 minutes before the dead-letter queue,
/// rather than 9 with a plain 60 s visibility).
pub fn retry_visibility(receive_count: u32) -> Duration {
    FIRST_RETRY_VISIBILITY
        .saturating_mul(1u32 << receive_count.saturating_sub(1).min(16))
        .min(MAX_RETRY_VISIBILITY)
}

/// How often a message waiting for its read gets its visibility extended: at half the
/// visibility timeout, so a late extension still lands before it lapses.
fn extension_period(visibility: Duration) -> Duration {
    (visibility / 2).max(Duration::from_millis(500))
}

/// Whether the consumer reached its queue on its last try, for readiness.
#[derive(Debug, Default)]
pub struct QueueHealth {
    reachable: AtomicBool,
}

impl QueueHealth {
    pub fn is_reachable(&self) -> bool {
        self.reachable.load(Ordering::SeqCst)
    }
}

/// The consumers of this process, for `/health/ready` of `run`.
static CONSUMERS: std::sync::Mutex<Vec<Arc<QueueHealth>>> = std::sync::Mutex::new(Vec::new());

pub(super) fn register(health: Arc<QueueHealth>) {
    CONSUMERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(health);
}

pub(super) fn unregister_all() {
    CONSUMERS.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// Whether every live-events queue of this process was reached on its last try (true when
/// there is none).
pub fn all_reachable() -> bool {
    CONSUMERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .all(|h| h.is_reachable())
}

pub fn client(config: &SdkConfig, region: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(config)
            .region(aws_sdk_sqs::config::Region::new(region.to_owned()))
            .build(),
    )
}

/// Consumes `queue` until `shutdown`.
pub async fn consume(
    client: aws_sdk_sqs::Client,
    queue: Queue,
    engine: Engine,
    health: Arc<QueueHealth>,
    shutdown: CancellationToken,
) {
    let url = queue.url.as_str();
    let mut backoff = Duration::from_secs(1);
    let visibility;
    // Readiness before the first long poll returns: GetQueueAttributes answers at once.
    loop {
        let check = client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
            .send();
        let checked = tokio::select! {
            _ = shutdown.cancelled() => return,
            checked = check => checked,
        };
        match checked {
            Ok(output) => {
                health.reachable.store(true, Ordering::SeqCst);
                let attribute = output.attributes.and_then(|a| {
                    a.get(&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
                        .cloned()
                });
                visibility = attribute
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .unwrap_or(DEFAULT_VISIBILITY);
                tracing::info!(
                    queue = url,
                    visibility_timeout_seconds = visibility.as_secs(),
                    "live-events queue reached"
                );
                break;
            }
            Err(error) => {
                tracing::warn!(
                    queue = url,
                    error = %crate::aws::describe_sdk_error("GetQueueAttributes", &error),
                    retry_in_seconds = backoff.as_secs(),
                    "cannot reach the live-events queue"
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    backoff = Duration::from_secs(1);
    // Ends when the last lease is dropped, after the shutdown grace has let them settle.
    let (deletes, handled) = mpsc::unbounded_channel();
    tokio::spawn(delete_handled(client.clone(), url.to_owned(), handled));
    loop {
        let receive = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(MAX_MESSAGES)
            .wait_time_seconds(WAIT_SECONDS)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send();
        let received = tokio::select! {
            _ = shutdown.cancelled() => return,
            received = receive => received,
        };
        let messages = match received {
            Ok(output) => {
                health.reachable.store(true, Ordering::SeqCst);
                backoff = Duration::from_secs(1);
                output.messages.unwrap_or_default()
            }
            Err(error) => {
                health.reachable.store(false, Ordering::SeqCst);
                tracing::warn!(
                    queue = url,
                    error = %crate::aws::describe_sdk_error("ReceiveMessage", &error),
                    retry_in_seconds = backoff.as_secs(),
                    "cannot receive live events"
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        for message in messages {
            let Some(receipt) = message.receipt_handle.clone() else {
                continue;
            };
            let receive_count = message
                .attributes
                .as_ref()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                })
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(1);
            let body = message.body.unwrap_or_default();
            let lease = Lease {
                client: client.clone(),
                deletes: deletes.clone(),
                url: url.to_owned(),
                receipt,
                message_id: message.message_id.unwrap_or_default(),
                receive_count,
                visibility,
                extending: shutdown.child_token(),
            };
            let event: serde_json::Value = match serde_json::from_str(&body) {
                Ok(event) => event,
                Err(error) => {
                    // Never parseable, however often delivered: deleted, counted.
                    tracing::warn!(queue = url, %error, "live event ignored: the message is not JSON");
                    lease.settle(Settled::Done).await;
                    continue;
                }
            };
            tokio::spawn(lease.clone().extend());
            let settle = Box::new(move |settled| lease.settle(settled).boxed()) as Settle;
            if engine.submit(&event, Redelivery::BySource, settle).await == Submitted::Stopping {
                return;
            }
        }
    }
}

/// A message handled: to delete.
struct Handled {
    receipt: String,
    message_id: String,
}

/// SQS's most entries in one DeleteMessageBatch.
const DELETE_BATCH: usize = 10;
/// How long a handled message waits for others to share its DeleteMessageBatch.
const DELETE_LINGER: Duration = Duration::from_millis(20);

/// Deletes handled messages with DeleteMessageBatch (permission `sqs:DeleteMessage`): one
/// call for up to ten, a tenth of the calls a burst would otherwise make.
async fn delete_handled(
    client: aws_sdk_sqs::Client,
    url: String,
    mut handled: mpsc::UnboundedReceiver<Handled>,
) {
    while let Some(first) = handled.recv().await {
        let mut batch = vec![first];
        let linger = tokio::time::sleep(DELETE_LINGER);
        tokio::pin!(linger);
        while batch.len() < DELETE_BATCH {
            tokio::select! {
                next = handled.recv() => match next {
                    Some(next) => batch.push(next),
                    None => break,
                },
                _ = &mut linger => break,
            }
        }
        let entries: Vec<DeleteMessageBatchRequestEntry> = batch
            .iter()
            .enumerate()
            .filter_map(|(at, message)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(at.to_string())
                    .receipt_handle(&message.receipt)
                    .build()
                    .ok()
            })
            .collect();
        // A message not deleted comes back after its visibility timeout and is handled
        // again, which reads the same truth.
        match client
            .delete_message_batch()
            .queue_url(&url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => {
                for failed in output.failed {
                    let message_id = failed
                        .id
                        .parse::<usize>()
                        .ok()
                        .and_then(|at| batch.get(at))
                        .map(|m| m.message_id.as_str())
                        .unwrap_or_default();
                    tracing::warn!(
                        queue = url,
                        message_id,
                        code = failed.code,
                        error = failed.message.as_deref().unwrap_or_default(),
                        "cannot delete a handled live event"
                    );
                }
            }
            Err(error) => tracing::warn!(
                queue = url,
                messages = batch.len(),
                error = %crate::aws::describe_sdk_error("DeleteMessageBatch", &error),
                "cannot delete handled live events"
            ),
        }
    }
}

/// A received message until it is settled: its visibility extended meanwhile.
#[derive(Clone)]
struct Lease {
    client: aws_sdk_sqs::Client,
    /// Where a handled message goes to be deleted, ten at a time.
    deletes: mpsc::UnboundedSender<Handled>,
    url: String,
    receipt: String,
    message_id: String,
    receive_count: u32,
    visibility: Duration,
    /// Cancelled once settled (or on shutdown, leaving the message to come back).
    extending: CancellationToken,
}

impl Lease {
    /// Keeps the message hidden while it waits for its read.
    async fn extend(self) {
        let period = extension_period(self.visibility);
        let seconds = self.visibility.as_secs().max(1) as i32;
        loop {
            tokio::select! {
                _ = self.extending.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            if let Err(error) = self.change_visibility(seconds).await {
                tracing::warn!(
                    queue = self.url,
                    message_id = self.message_id,
                    error = %crate::aws::describe_sdk_error("ChangeMessageVisibility", &error),
                    "cannot extend the visibility of a live event being handled; it may be delivered again"
                );
            }
        }
    }

    /// Done: deleted (in a batch). Failed: hidden for [`retry_visibility`] of its receive count.
    async fn settle(self, settled: Settled) {
        self.extending.cancel();
        match settled {
            Settled::Done => {
                let _ = self.deletes.send(Handled {
                    receipt: self.receipt.clone(),
                    message_id: self.message_id.clone(),
                });
            }
            Settled::Failed => {
                let wait = retry_visibility(self.receive_count);
                match self.change_visibility(wait.as_secs() as i32).await {
                    Ok(()) => tracing::info!(
                        queue = self.url,
                        message_id = self.message_id,
                        receive_count = self.receive_count,
                        retry_in_seconds = wait.as_secs(),
                        "failed live event comes back for another try"
                    ),
                    Err(error) => tracing::warn!(
                        queue = self.url,
                        message_id = self.message_id,
                        error = %crate::aws::describe_sdk_error("ChangeMessageVisibility", &error),
                        "cannot shorten the visibility of a failed live event; it comes back after the visibility timeout"
                    ),
                }
            }
        }
    }

    async fn change_visibility(
        &self,
        seconds: i32,
    ) -> Result<(), aws_sdk_sqs::error::SdkError<ChangeMessageVisibilityError, HttpResponse>> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&self.receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_message_comes_back_sooner_first_then_ever_more_rarely() {
        let waits: Vec<u64> = (1..=11).map(|n| retry_visibility(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
        assert_eq!(retry_visibility(0).as_secs(), 2, "a count SQS did not give");
        assert_eq!(retry_visibility(u32::MAX).as_secs(), 900);
    }

    #[test]
    fn visibility_is_extended_well_before_it_lapses() {
        assert_eq!(
            extension_period(Duration::from_secs(60)),
            Duration::from_secs(30)
        );
        assert_eq!(
            extension_period(Duration::from_secs(0)),
            Duration::from_millis(500)
        );
    }
}
