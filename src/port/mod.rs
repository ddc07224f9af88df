//! Port REST API client: authentication, bulk entity writes and deletes, search, blueprints.
//! It knows nothing of AWS or mappings; it moves [`Entity`](crate::entity::Entity) values and
//! JSON to and from Port, politely (bounded concurrency, retries with backoff, honouring rate
//! limits) and reports per entity what Port refused and why.

mod auth;
mod blueprints;
mod bulk;
mod client;
mod config;
mod error;
mod integration;
mod retry;
mod runs;
mod search;
mod stats;
mod transport;

pub use blueprints::EnsureReport;
pub use bulk::{
    BulkDeleteOutcome, BulkOutcome, FailedEntity, MAX_IDS_PER_BULK_DELETE, UpsertOptions,
    UpsertedEntity, WritePacing,
};
pub use client::PortClient;
pub use config::{
    DEFAULT_BASE_URL, DEFAULT_INTEGRATION_IDENTIFIER, DEFAULT_MAX_IN_FLIGHT, PortConfig,
    RetryPolicy, Secret,
};
pub use error::PortError;
pub use integration::{
    IntegrationRecord, NewIntegration, ResyncRequest, ResyncStateUpdate, ResyncStatus,
};
pub use runs::RunStatus;
pub use search::{SEARCH_PAGE_LIMIT, ownership_query};
pub use stats::{ClientStats, operation};
