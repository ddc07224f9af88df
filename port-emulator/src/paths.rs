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

/// Prefix of the emulator's own control endpoints; nothing under it exists in Port.
pub const ADMIN_PREFIX: &str = "/_emulator";
