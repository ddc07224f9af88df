//! The mapping in use now, shared by the parts that map items between resyncs (the catalog
//! update after an action run, live events): the file's until a newer one is read (Port's,
//! with MAPPING_SOURCE=port), then that one.

use std::sync::{Arc, RwLock};

use super::Mapping;

#[derive(Debug)]
pub struct CurrentMapping(RwLock<Arc<Mapping>>);

impl CurrentMapping {
    pub fn new(mapping: Arc<Mapping>) -> Arc<Self> {
        Arc::new(CurrentMapping(RwLock::new(mapping)))
    }

    /// The mapping now; one item is mapped with one snapshot from start to end.
    pub fn get(&self) -> Arc<Mapping> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set(&self, mapping: Arc<Mapping>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = mapping;
    }
}
