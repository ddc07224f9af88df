//! A synthetic AWS endpoint for scale benchmarks: it answers Secrets Manager `ListSecrets` and
//! ACM `ListCertificates` in the AWS JSON 1.1 protocol, as the AWS SDK sends them, for a
//! configured number of items in every region. Items are generated from their (region, index)
//! on each request, never stored, so a million of them cost nothing to hold, and the same
//! settings always give the same items (a second resync sees nothing changed).
//!
//! Everything else (STS, Organizations) is moto's job: point the SDK's per-service endpoint
//! variables (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL_ACM`) here.

pub mod certificates;
pub mod ids;
pub mod paging;
pub mod protocol;
pub mod secrets;
pub mod server;
pub mod settings;
