//! A local emulator of the Port REST API subset port-aws-sync uses, faithful to Port's
//! OpenAPI document: the same routes, request checks, status codes, error bodies and response
//! shapes, plus test controls (seeding, fault injection, request counts).
//!
//! ```no_run
//! # async fn demo() {
//! use port_emulator::{Emulator, Faults, paths};
//! let emu = Emulator::builder()
//!     .blueprint(serde_json::json!({"identifier": "awsSecret", "title": "Secret",
//!         "schema": {"properties": {}}}))
//!     .start()
//!     .await;
//! // ... point a client at emu.base_url() with emu.client_id() / emu.client_secret() ...
//! emu.set_faults(Faults { server_error_rate: 0.2, seed: 7, ..Faults::default() });
//! let bulk_calls = emu.request_counts().count("POST", paths::ENTITIES_BULK);
//! # let _ = bulk_calls;
//! # }
//! ```
//!
//! Anything of Port's API it does not emulate is refused with a 422 whose message starts with
//! `not supported by port-emulator`, never silently ignored.

mod admin;
mod api_error;
mod auth;
mod blueprint_schema;
mod blueprints;
mod body_limit;
mod emulator;
mod entities;
mod entity_validation;
mod entity_write;
mod faults;
mod integration;
pub mod paths;
mod projection;
mod request_input;
mod request_log;
mod router;
mod runs;
mod search;
mod search_queries;
mod seed;
mod state;
mod store;
mod timefmt;

pub use body_limit::PORT_BODY_LIMIT;
pub use emulator::{Emulator, EmulatorBuilder, StartError};
pub use entities::{MAX_BULK_DELETE, MAX_BULK_UPSERT};
pub use entity_validation::is_valid_entity_identifier;
pub use faults::{Faults, RateLimitHint};
pub use request_log::{RequestCounts, RequestRecord};
pub use search::{DEFAULT_LIMIT as SEARCH_DEFAULT_LIMIT, MAX_LIMIT as SEARCH_MAX_LIMIT};
pub use seed::{DEFAULT_SEED_DATASOURCE, read_blueprint_dir, read_json};
pub use store::{EntityMeta, StoredEntity};
