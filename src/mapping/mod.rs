//! Ocean-compatible mapping: the port-app-config model, jq compile and eval, item → entity.
//!
//! Knows nothing of AWS: it maps JSON items of named kinds.

pub mod compiled;
pub mod config;
pub mod current;
pub mod items;
pub mod jq;
mod jq_builtins;
pub mod search_query;
pub mod transform;

pub use compiled::{Mapped, Mapping, MappingError, Resource};
pub use current::CurrentMapping;
pub use transform::{FieldError, ItemFailure, KindStats, Outcome, Transformer};

#[cfg(test)]
mod tests;
