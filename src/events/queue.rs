//! The SQS consumer: long polls, up to ten messages a receive, each message handed to the
//! engine and deleted only when the engine acknowledges it. A message that is never
//! acknowledged comes back after the queue's visibility timeout, and after its redrive
//! policy's count goes to the dead-letter queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_types::SdkConfig;
use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use super::engine::{Engine, Submitted};
use super::settings::Queue;

/// SQS's longest long poll.
const WAIT_SECONDS: i32 = 20;
/// SQS's most messages per receive.
const MAX_MESSAGES: i32 = 10;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

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
                let visibility = output.attributes.and_then(|a| {
                    a.get(&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
                        .cloned()
                });
                tracing::info!(queue = url, visibility_timeout_seconds = ?visibility, "live-events queue reached");
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
    loop {
        let receive = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(MAX_MESSAGES)
            .wait_time_seconds(WAIT_SECONDS)
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
            let Some(receipt) = message.receipt_handle else {
                continue;
            };
            let body = message.body.unwrap_or_default();
            let ack = {
                let client = client.clone();
                let url = url.to_owned();
                let id = message.message_id.clone().unwrap_or_default();
                Box::new(move || {
                    async move {
                        if let Err(error) = client
                            .delete_message()
                            .queue_url(&url)
                            .receipt_handle(receipt)
                            .send()
                            .await
                        {
                            // It comes back after the visibility timeout and is handled
                            // again, which reads the same truth.
                            tracing::warn!(
                                queue = url,
                                message_id = id,
                                error = %crate::aws::describe_sdk_error("DeleteMessage", &error),
                                "cannot delete a handled live event"
                            );
                        }
                    }
                    .boxed()
                }) as super::engine::Ack
            };
            let event: serde_json::Value = match serde_json::from_str(&body) {
                Ok(event) => event,
                Err(error) => {
                    // Never parseable, however often delivered: acknowledged, counted.
                    tracing::warn!(queue = url, %error, "live event ignored: the message is not JSON");
                    ack().await;
                    continue;
                }
            };
            if engine.submit(&event, ack).await == Submitted::Stopping {
                return;
            }
        }
    }
}
