//! The self-service actions backend: Port invokes our webhook to create or update secrets and
//! to request, renew or delete ACM certificates; we verify the request, carry the action out
//! in AWS, report the run to Port and put the changed resource into the catalog at once.

pub mod backend;
pub mod catalog;
pub mod certificate_ops;
pub mod decrypt;
pub mod error;
pub mod http;
pub mod outcome;
pub mod payload;
pub mod requests;
pub mod secret_ops;
pub mod settings;
pub mod signature;

pub use backend::ActionBackend;
pub use http::Webhook;
pub use settings::WebhookSettings;
