//! Scheduled resyncs: a job that asks the daemon for one at each tick of the schedule.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio_cron_scheduler::{Job, JobScheduler};

use super::state::{Daemon, Trigger};
use crate::app::schedule::Schedule;

/// Starts the scheduler; a tick while a resync runs is skipped (and counted) by
/// [`Daemon::request`].
pub async fn start(schedule: &Schedule, daemon: &Arc<Daemon>) -> Result<JobScheduler, String> {
    let scheduler = JobScheduler::new().await.map_err(|e| e.to_string())?;
    let tick = {
        let daemon = daemon.clone();
        move |_, _| {
            let daemon = daemon.clone();
            Box::pin(async move {
                let _ = daemon.request(Trigger::Schedule);
            }) as Pin<Box<dyn Future<Output = ()> + Send>>
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
