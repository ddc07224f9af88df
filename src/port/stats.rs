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
