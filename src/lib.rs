//! port-aws-sync: keeps a Port catalog in sync with AWS.
//!
//! The data flows `aws` (raw items) → `mapping` (entities) → `sync` (plan) → `port` (HTTP),
//! with `cli` and `config` at the edge.

pub mod aws;
pub mod blueprints;
pub mod entity;
pub mod mapping;
pub mod port;
pub mod validate;
