//! Port REST API client: authentication, bulk entity writes and deletes, search, blueprints.
//! It knows nothing of AWS or mappings; it moves [`Entity`](crate::entity::Entity) values and
//! JSON to and from Port, politely (bounded concurrency, retries with backoff, honouring rate
//! limits) and reports per entity what Port refused and why.

mod auth;
mod batching;
mod blueprints;
mod client;
mod config;
mod entities;
mod error;
mod integration;
mod retry;
mod runs;
mod search;
mod stats;
mod transport;

pub(crate) use batching::MAX_ENTITIES_PER_REQUEST;
pub use blueprints::EnsureReport;
pub use client::PortClient;
pub use config::{
    DEFAULT_BASE_URL, DEFAULT_INTEGRATION_IDENTIFIER, DEFAULT_MAX_IN_FLIGHT, PortConfig,
    RetryPolicy, Secret,
};
pub use entities::{
    BulkDeleteOutcome, BulkOutcome, FailedEntity, MAX_IDS_PER_BULK_DELETE, UpsertOptions,
    UpsertedEntity,
};
pub use error::PortError;
pub use integration::{
    IntegrationRecord, NewIntegration, ResyncRequest, ResyncStateUpdate, ResyncStatus,
};
pub use runs::RunStatus;
pub use search::{SEARCH_PAGE_LIMIT, ownership_query};
pub use stats::{ClientStats, operation};
