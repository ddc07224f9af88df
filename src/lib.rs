//! port-aws-sync: keeps a Port catalog in sync with AWS.
//!
//! The data flows `aws` (raw items) → `mapping` (entities) → `sync` (plan) → `port` (HTTP),
//! with `cli`, `commands` and `logging` at the edge.

pub mod actions;
pub mod aws;
pub mod blueprints;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod entity;
pub mod events;
pub mod logging;
pub mod mapping;
pub mod port;
pub mod sync;
pub mod validate;
