//! Stopping: the signal that starts it, and the grace period work in flight gets.

use std::time::Duration;

use tokio_util::task::TaskTracker;

/// Resolves on SIGTERM or SIGINT.
pub async fn signal() {
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

/// Lets the tracked tasks (self-service action runs) finish within `grace`; says so when
/// some did not.
pub async fn drain(tasks: &TaskTracker, grace: Duration) {
    tasks.close();
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!("action runs still going after SHUTDOWN_GRACE_SECONDS; stopping anyway");
    }
}
