//! Helpers shared by the integration tests (`mod support;` in a test file).
// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

pub mod aws_proxy;
pub mod certs;
pub mod fixtures;
pub mod live;
pub mod measure;
pub mod moto;
pub mod org;
pub mod port_action;
pub mod seed;
pub mod service;
