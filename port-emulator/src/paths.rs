//! Path templates of the Port endpoints the emulator serves, spelled exactly as in Port's
//! OpenAPI document. The request log reports requests under these templates, so tests can
//! count calls per endpoint without rebuilding concrete paths.

pub const ACCESS_TOKEN: &str = "/v1/auth/access_token";
pub const BLUEPRINTS: &str = "/v1/blueprints";
pub const BLUEPRINT: &str = "/v1/blueprints/{identifier}";
pub const ENTITIES: &str = "/v1/blueprints/{blueprint_identifier}/entities";
pub const ENTITY: &str = "/v1/blueprints/{blueprint_identifier}/entities/{entity_identifier}";
pub const ENTITIES_BULK: &str = "/v1/blueprints/{blueprint_identifier}/entities/bulk";
pub const ENTITIES_SEARCH: &str = "/v1/blueprints/{blueprint_identifier}/entities/search";
pub const ENTITIES_BULK_DELETE: &str = "/v1/blueprints/{blueprint_identifier}/bulk/entities/delete";
pub const RUN: &str = "/v1/actions/runs/{run_id}";
pub const RUN_LOGS: &str = "/v1/actions/runs/{run_id}/logs";
pub const INTEGRATIONS: &str = "/v1/integration";
pub const INTEGRATION: &str = "/v1/integration/{identifier}";
pub const INTEGRATION_CONFIG: &str = "/v1/integration/{identifier}/config";
pub const INTEGRATION_RESYNC_STATE: &str = "/v1/integration/{identifier}/resync-state";
pub const INTEGRATION_RESYNC: &str = "/v1/integration/{identifier}/resync";
pub const INTEGRATION_RESYNC_REQUEST: &str = "/v1/integration/{identifier}/resync-request";
pub const INTEGRATION_KIND_EXAMPLES: &str = "/v1/integration/{identifier}/kinds/{kind}/examples";
/// Where an integration record's `logAttributes.ingestUrl` points (Port's ingest service).
pub const INGEST_LOGS: &str = "/ingest/integration/{identifier}/logs";
/// `metricAttributes.ingestUrl` + `/syncMetrics`.
pub const INGEST_SYNC_METRICS: &str = "/ingest/integration/{identifier}/metrics/syncMetrics";

/// Prefix of the emulator's own control endpoints; nothing under it exists in Port.
pub const ADMIN_PREFIX: &str = "/_emulator";
