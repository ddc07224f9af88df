//! The poll loop: every interval, look at the integration in Port and hand a [`Reason`] to
//! `on_change` when a resync is due. Failures are logged and counted, never fatal.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::changes::{ChangeDetector, Observed, Reason};
use crate::port::PortError;

/// Runs until `shutdown`; the first poll is one interval after the start.
pub async fn poll_loop<Fetch, Fut>(
    interval: Duration,
    mut detector: ChangeDetector,
    mut fetch: Fetch,
    mut on_change: impl FnMut(Reason),
    mut on_failure: impl FnMut(&PortError),
    shutdown: CancellationToken,
) where
    Fetch: FnMut() -> Fut,
    Fut: Future<Output = Result<Observed, PortError>>,
{
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match fetch().await {
            Ok(observed) => {
                if let Some(reason) = detector.observe(&observed) {
                    on_change(reason);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "polling the integration in Port failed; trying again next interval");
                on_failure(&e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration::settings::MappingSource;
    use crate::port::ResyncRequest;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn reports_changes_and_failures_poll_by_poll() {
        let start = Observed {
            config: json!({"resources": []}),
            request: None,
        };
        let detector = ChangeDetector::new(MappingSource::Port, &start);
        let answers = Arc::new(Mutex::new(vec![
            Ok(start.clone()),
            Err(PortError::UnexpectedResponse {
                operation: "get_integration",
                detail: "down".into(),
            }),
            Ok(Observed {
                config: json!({"resources": []}),
                request: Some(ResyncRequest {
                    id: "r1".into(),
                    updated_at: "2026-12-01T10:00:00Z".into(),
                }),
            }),
            Ok(Observed {
                config: json!({"resources": [{"kind": "k"}]}),
                request: None,
            }),
        ]));
        let polls = Arc::new(Mutex::new(0));
        let reasons = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(Mutex::new(0));
        let shutdown = CancellationToken::new();
        let fetch = {
            let (answers, polls, shutdown) = (answers.clone(), polls.clone(), shutdown.clone());
            move || {
                *polls.lock().unwrap() += 1;
                let mut answers = answers.lock().unwrap();
                let next = answers.remove(0);
                if answers.is_empty() {
                    shutdown.cancel();
                }
                async move { next }
            }
        };
        let record = {
            let reasons = reasons.clone();
            move |r| reasons.lock().unwrap().push(r)
        };
        let failed = {
            let failures = failures.clone();
            move |_: &PortError| *failures.lock().unwrap() += 1
        };
        tokio::time::timeout(
            Duration::from_secs(30),
            poll_loop(
                Duration::from_millis(5),
                detector,
                fetch,
                record,
                failed,
                shutdown,
            ),
        )
        .await
        .expect("the loop stops on shutdown");
        assert_eq!(*polls.lock().unwrap(), 4);
        assert_eq!(*failures.lock().unwrap(), 1);
        assert_eq!(
            *reasons.lock().unwrap(),
            vec![Reason::Requested, Reason::MappingChanged]
        );
    }
}
