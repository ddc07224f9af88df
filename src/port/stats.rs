//! Request counters by operation and status, retries and token fetches, for reports and
//! benchmarks.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Operation names the counters use.
pub mod operation {
    pub const AUTH: &str = "auth";
    pub const BULK_UPSERT: &str = "bulk_upsert";
    pub const SEARCH: &str = "search_entities";
    pub const BULK_DELETE: &str = "bulk_delete";
    pub const DELETE_ENTITY: &str = "delete_entity";
    pub const GET_BLUEPRINT: &str = "get_blueprint";
    pub const CREATE_BLUEPRINT: &str = "create_blueprint";
    pub const PATCH_BLUEPRINT: &str = "patch_blueprint";
    pub const UPDATE_RUN: &str = "update_run";
    pub const ADD_RUN_LOG: &str = "add_run_log";
    pub const GET_INTEGRATION: &str = "get_integration";
    pub const CREATE_INTEGRATION: &str = "create_integration";
    pub const PATCH_INTEGRATION: &str = "patch_integration";
    pub const PATCH_INTEGRATION_CONFIG: &str = "patch_integration_config";
    pub const PATCH_RESYNC_STATE: &str = "patch_resync_state";
    pub const GET_RESYNC_REQUEST: &str = "get_resync_request";
    pub const POST_KIND_EXAMPLES: &str = "post_kind_examples";
    pub const POST_SYNC_METRICS: &str = "post_sync_metrics";
    pub const INGEST_LOGS: &str = "ingest_logs";
}

/// A snapshot of a client's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientStats {
    /// Responses by (operation, HTTP status), every attempt counted.
    pub responses: BTreeMap<(&'static str, u16), u64>,
    /// Attempts that got no response, by operation.
    pub network_errors: BTreeMap<&'static str, u64>,
    /// Attempts repeated after a retryable failure (401 refreshes not included).
    pub retries: u64,
    /// Requests repeated with a fresh token after a 401.
    pub reauthentications: u64,
    /// Access tokens obtained.
    pub token_fetches: u64,
}

impl ClientStats {
    /// Attempts of one operation, with or without a response.
    pub fn attempts(&self, operation: &str) -> u64 {
        let answered: u64 = self
            .responses
            .iter()
            .filter(|((op, _), _)| *op == operation)
            .map(|(_, n)| n)
            .sum();
        answered + self.network_errors.get(operation).copied().unwrap_or(0)
    }

    /// What was counted after `before` (an earlier snapshot of the same client): the requests
    /// of one resync.
    pub fn since(&self, before: &ClientStats) -> ClientStats {
        let mut delta = self.clone();
        for (key, n) in delta.responses.iter_mut() {
            *n -= before.responses.get(key).copied().unwrap_or(0);
        }
        delta.responses.retain(|_, n| *n > 0);
        for (key, n) in delta.network_errors.iter_mut() {
            *n -= before.network_errors.get(key).copied().unwrap_or(0);
        }
        delta.network_errors.retain(|_, n| *n > 0);
        delta.retries -= before.retries;
        delta.reauthentications -= before.reauthentications;
        delta.token_fetches -= before.token_fetches;
        delta
    }

    pub fn responses_with(&self, operation: &str, status: u16) -> u64 {
        self.responses
            .iter()
            .filter(|((op, s), _)| *op == operation && *s == status)
            .map(|(_, n)| n)
            .sum()
    }
}

#[derive(Debug, Default)]
pub(crate) struct StatsRecorder(Mutex<ClientStats>);

impl StatsRecorder {
    fn update(&self, f: impl FnOnce(&mut ClientStats)) {
        let mut stats = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut stats);
    }

    pub fn response(&self, operation: &'static str, status: u16) {
        self.update(|s| *s.responses.entry((operation, status)).or_default() += 1);
    }

    pub fn network_error(&self, operation: &'static str) {
        self.update(|s| *s.network_errors.entry(operation).or_default() += 1);
    }

    pub fn retry(&self) {
        self.update(|s| s.retries += 1);
    }

    pub fn reauthentication(&self) {
        self.update(|s| s.reauthentications += 1);
    }

    pub fn token_fetch(&self) {
        self.update(|s| s.token_fetches += 1);
    }

    pub fn snapshot(&self) -> ClientStats {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_keeps_only_what_came_after() {
        let mut before = ClientStats::default();
        before.responses.insert((operation::SEARCH, 200), 3);
        before.network_errors.insert(operation::BULK_UPSERT, 1);
        before.retries = 2;
        let mut now = before.clone();
        *now.responses.get_mut(&(operation::SEARCH, 200)).unwrap() += 2;
        now.responses.insert((operation::BULK_UPSERT, 207), 1);
        now.retries = 5;
        now.token_fetches = 1;
        let delta = now.since(&before);
        assert_eq!(delta.responses_with(operation::SEARCH, 200), 2);
        assert_eq!(delta.responses_with(operation::BULK_UPSERT, 207), 1);
        assert!(delta.network_errors.is_empty(), "{delta:?}");
        assert_eq!((delta.retries, delta.token_fetches), (3, 1));
    }
}
