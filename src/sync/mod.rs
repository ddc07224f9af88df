//! A resync: extract and map (`extract`), then plan and apply against Port.

pub mod extract;
pub mod summary;

pub use extract::{Extraction, KindSummary, extract, mapped_kinds};
