//! port-aws-sync: keeps a Port catalog in sync with AWS.
//!
//! The data flows `aws` (raw items) → `mapping` (entities) → `sync` (plan) → `port` (HTTP).
//! `actions` serves Port's self-service actions; `app` is the start-up every command shares;
//! `daemon` is the long-running service; `cli` and `commands` are the edge. See
//! docs/architecture.md.

pub mod actions;
pub mod app;
pub mod aws;
pub mod blueprints;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod entity;
pub mod events;
pub mod integration;
pub mod logging;
pub mod mapping;
pub mod port;
pub mod sync;
pub mod validate;
