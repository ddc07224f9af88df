//! Extract and transform: every mapped kind is fetched and each page is mapped as it arrives.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use futures::stream::select_all;
use serde::Serialize;

use crate::aws::{AwsSources, Kind, Page, ScopeError};
use crate::entity::Entity;
use crate::mapping::{ItemFailure, KindStats, Mapping, Outcome, Transformer};

/// How many item failures are logged one by one; the rest are only counted.
const LOGGED_FAILURES: usize = 20;

/// What one kind's extraction did, for the end-of-run summary.
#[derive(Debug, Default, Clone, Serialize)]
pub struct KindSummary {
    #[serde(flatten)]
    pub stats: KindStats,
    pub accounts: BTreeSet<String>,
    pub regions: BTreeSet<String>,
    pub failed_scopes: usize,
}

/// Everything a resync needs to know about the AWS side before touching Port.
#[derive(Debug, Default)]
pub struct Extraction {
    pub kinds: BTreeMap<Kind, KindSummary>,
    pub scope_errors: Vec<ScopeError>,
    pub item_failures: Vec<ItemFailure>,
    pub item_failure_count: u64,
    /// Mapping fields that yielded null for some item, kept as null.
    pub null_fields: Vec<String>,
}

impl Extraction {
    /// A partial picture of AWS: stale deletion must not run on it.
    pub fn is_complete(&self) -> bool {
        self.scope_errors.is_empty() && self.item_failure_count == 0
    }
}

/// The kinds of the mapping that this tool fetches, in the order the file names them.
pub fn mapped_kinds(mapping: &Mapping) -> Vec<Kind> {
    mapping
        .kinds()
        .into_iter()
        .filter_map(Kind::from_name)
        .collect()
}

/// Fetches every mapped kind concurrently and hands each entity to `on_entity` as soon as it
/// is mapped, so raw items never pile up in memory.
pub async fn extract(
    sources: &AwsSources,
    mapping: &Mapping,
    kinds: &[Kind],
    on_entity: impl FnMut(Entity),
) -> Extraction {
    extract_observed(sources, mapping, kinds, |_| {}, on_entity).await
}

/// [`extract`] that also shows every fetched page of raw items to `on_page`, before the page
/// is mapped (`resync --dry-run --dump-raw` writes them out).
pub async fn extract_observed(
    sources: &AwsSources,
    mapping: &Mapping,
    kinds: &[Kind],
    mut on_page: impl FnMut(&Page),
    mut on_entity: impl FnMut(Entity),
) -> Extraction {
    let mut transformer = Transformer::new(mapping);
    let mut extraction = Extraction::default();
    for kind in kinds {
        extraction.kinds.entry(*kind).or_default();
    }
    let mut pages = select_all(kinds.iter().map(|kind| sources.fetch(*kind)));
    while let Some(result) = pages.next().await {
        match result {
            Ok(page) => {
                on_page(&page);
                map_page(&mut transformer, &page, &mut extraction, &mut on_entity);
            }
            Err(error) => {
                tracing::error!(%error, "fetch failed; the other scopes go on");
                if let Some(summary) = extraction.kinds.get_mut(&error.kind) {
                    summary.failed_scopes += 1;
                }
                extraction.scope_errors.push(error);
            }
        }
    }
    extraction.null_fields = transformer.null_fields();
    for (name, stats) in transformer.into_stats() {
        if let Some(kind) = Kind::from_name(&name) {
            extraction.kinds.entry(kind).or_default().stats = stats;
        }
    }
    extraction
}

fn map_page(
    transformer: &mut Transformer<'_>,
    page: &Page,
    extraction: &mut Extraction,
    on_entity: &mut impl FnMut(Entity),
) {
    let summary = extraction.kinds.entry(page.kind).or_default();
    summary.accounts.insert(page.account_id.clone());
    summary.regions.insert(page.region.clone());
    let kind = page.kind.as_str();
    for item in &page.items {
        transformer.map_json(kind, item, &mut |outcome| match outcome {
            Outcome::Entity(entity) => on_entity(entity),
            Outcome::Failed(failure) => {
                extraction.item_failure_count += 1;
                if extraction.item_failures.len() < LOGGED_FAILURES {
                    tracing::error!(%failure, "item not mapped");
                    extraction.item_failures.push(failure);
                }
            }
        });
    }
}
