//! Live events as a service: the engine and one consumer per queue, started by
//! `serve-events` alone or inside `run`.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::LiveHandler;
use super::engine::{Engine, EngineSettings, ResyncGate};
use super::queue::{self, QueueHealth};
use super::settings::LiveEventsSettings;
use crate::actions::catalog::CatalogFollower;
use crate::aws::{AwsSettings, AwsSources};
use crate::mapping::CurrentMapping;
use crate::port::PortClient;

pub struct LiveEvents {
    shutdown: CancellationToken,
    tasks: TaskTracker,
    pub health: Vec<Arc<QueueHealth>>,
    /// `POST /integration/webhook`, when LIVE_EVENTS_API_KEY is set.
    pub webhook: Option<axum::Router>,
}

impl LiveEvents {
    /// Starts consuming every queue. AWS is read as a resync reads it (`aws` settings), and
    /// the queues are consumed with the same base credentials.
    pub async fn start(
        settings: &LiveEventsSettings,
        aws: &AwsSettings,
        mapping: Arc<CurrentMapping>,
        port: PortClient,
        resync_running: ResyncGate,
    ) -> Result<LiveEvents, String> {
        let sources = AwsSources::load(aws).await.map_err(|e| e.to_string())?;
        let base = sources.sdk_config().clone();
        let handler = Arc::new(LiveHandler {
            sources: Arc::new(sources),
            catalog: CatalogFollower {
                current: mapping,
                port,
            },
        });
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let engine = Engine::start(
            handler,
            EngineSettings {
                concurrency: settings.concurrency,
                coalesce_window: settings.coalesce_window,
            },
            resync_running,
            shutdown.clone(),
            &tasks,
        );
        let webhook = settings
            .api_key
            .clone()
            .map(|key| super::webhook::router(engine.clone(), key, settings.webhook_retry));
        let mut health = Vec::new();
        for queue in &settings.queues {
            let queue_health = Arc::new(QueueHealth::default());
            health.push(queue_health.clone());
            queue::register(queue_health.clone());
            tracing::info!(queue = %queue.url, region = %queue.region, "consuming live events");
            tasks.spawn(queue::consume(
                queue::client(&base, &queue.region),
                queue.clone(),
                engine.clone(),
                queue_health,
                shutdown.clone(),
            ));
        }
        Ok(LiveEvents {
            shutdown,
            tasks,
            health,
            webhook,
        })
    }

    /// Stops receiving; reads and writes under way get `grace` to finish. Events not handled
    /// stay on their queue.
    pub async fn stop(self, grace: std::time::Duration) {
        queue::unregister_all();
        self.shutdown.cancel();
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "live events still being handled after the shutdown grace; stopping anyway"
            );
        }
    }
}
