//! The resync's state in Port: `running` at start, then `completed`, `failed` or `aborted`.
//! Reporting is best effort: a failure to report is logged and never fails the resync.

use crate::port::{PortClient, ResyncStateUpdate, ResyncStatus};

/// How a resync ended, as the exit codes tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Everything synced (exit 0).
    Synced,
    /// Finished with errors (exit 1).
    WithErrors,
    /// Could not start: configuration, mapping, AWS or Port not usable (exit 2 or 1).
    CouldNotStart,
    /// SIGTERM/SIGINT stopped it.
    Interrupted,
}

impl Ended {
    pub fn status(self) -> ResyncStatus {
        match self {
            Ended::Synced => ResyncStatus::Completed,
            Ended::WithErrors | Ended::CouldNotStart => ResyncStatus::Failed,
            Ended::Interrupted => ResyncStatus::Aborted,
        }
    }
}

/// RFC 3339 with milliseconds, as Port's `date-time` wants.
pub fn timestamp(at: jiff::Timestamp) -> String {
    at.round(jiff::Unit::Millisecond).unwrap_or(at).to_string()
}

/// One resync's reports; `interval` is the daemon's schedule interval (none for a one-shot
/// resync or a cron schedule).
#[derive(Debug, Clone)]
pub struct ResyncStateReport {
    pub started: jiff::Timestamp,
    pub interval: Option<std::time::Duration>,
}

impl ResyncStateReport {
    pub fn new(started: jiff::Timestamp, interval: Option<std::time::Duration>) -> Self {
        ResyncStateReport { started, interval }
    }

    fn interval_minutes(&self) -> Option<u64> {
        self.interval.map(|d| (d.as_secs() / 60).max(1))
    }

    fn next_after(&self, at: jiff::Timestamp) -> Option<String> {
        let interval = self.interval?;
        let span = jiff::SignedDuration::try_from(interval).ok()?;
        at.checked_add(span).ok().map(timestamp)
    }

    pub fn running(&self) -> ResyncStateUpdate {
        ResyncStateUpdate {
            status: ResyncStatus::Running,
            last_resync_start: Some(timestamp(self.started)),
            last_resync_end: None,
            next_resync: self.next_after(self.started),
            interval_minutes: self.interval_minutes(),
        }
    }

    pub fn ended(&self, ended: Ended, at: jiff::Timestamp) -> ResyncStateUpdate {
        ResyncStateUpdate {
            status: ended.status(),
            last_resync_start: Some(timestamp(self.started)),
            last_resync_end: Some(timestamp(at)),
            next_resync: self.next_after(self.started),
            interval_minutes: self.interval_minutes(),
        }
    }
}

/// Sends one state; a failure is logged, never returned.
pub async fn report(port: &PortClient, update: &ResyncStateUpdate) {
    if let Err(e) = port.patch_resync_state(update).await {
        tracing::warn!(status = update.status.as_str(), error = %e, "could not report the resync state to Port; the resync goes on");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn exit_outcomes_map_to_ports_states() {
        assert_eq!(Ended::Synced.status(), ResyncStatus::Completed);
        assert_eq!(Ended::WithErrors.status(), ResyncStatus::Failed);
        assert_eq!(Ended::CouldNotStart.status(), ResyncStatus::Failed);
        assert_eq!(Ended::Interrupted.status(), ResyncStatus::Aborted);
    }

    #[test]
    fn running_then_ended_carry_the_times_and_the_interval() {
        let report =
            ResyncStateReport::new(at("2026-12-01T10:00:00Z"), Some(Duration::from_secs(3600)));
        let running = report.running();
        assert_eq!(
            running.last_resync_start.as_deref(),
            Some("2026-12-01T10:00:00Z")
        );
        assert_eq!(running.last_resync_end, None);
        assert_eq!(running.next_resync.as_deref(), Some("2026-12-01T11:00:00Z"));
        assert_eq!(running.interval_minutes, Some(60));
        let ended = report.ended(Ended::Interrupted, at("2026-12-01T10:00:07.5Z"));
        assert_eq!(ended.status, ResyncStatus::Aborted);
        assert_eq!(
            ended.last_resync_end.as_deref(),
            Some("2026-12-01T10:00:07.5Z")
        );
        let once = ResyncStateReport::new(at("2026-12-01T10:00:00Z"), None);
        assert_eq!(once.running().next_resync, None);
        assert_eq!(once.running().interval_minutes, None);
    }
}
