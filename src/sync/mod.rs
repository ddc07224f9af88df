//! A resync: extract and map (`extract`), then plan and apply against Port.

pub mod empty_reads;
pub mod extract;
pub mod fingerprint;
pub mod observed;
pub mod plan;
pub mod preview;
pub mod report;
pub mod resync;
pub mod scope;
pub mod summary;
pub mod writer;

pub use extract::{Extraction, KindSummary, extract, extract_observed, mapped_kinds};
pub use report::ResyncReport;
pub use resync::{Resync, ResyncError};
