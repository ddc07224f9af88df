//! Extract and transform: every mapped kind is fetched and each page is mapped as it arrives.

use std::collections::{BTreeMap, BTreeSet};

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use serde::Serialize;

use super::scope::{ScopeKey, ScopeLedger};
use crate::aws::{AwsSources, Kind, Organization, Page, RegionFilter, ScopeError};
use crate::entity::Entity;
use crate::mapping::config::RegionPolicy;
use crate::mapping::{FieldError, ItemFailure, KindStats, Mapping, Outcome, Transformer};

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
    /// The first few raw items, as samples for Port's mapping editor (raw items carry no
    /// secret value).
    #[serde(skip)]
    pub examples: Vec<serde_json::Value>,
}

/// Raw items kept per kind as [`KindSummary::examples`].
pub const EXAMPLES_PER_KIND: usize = 5;

/// Everything a resync needs to know about the AWS side before touching Port.
#[derive(Debug, Default)]
pub struct Extraction {
    pub kinds: BTreeMap<Kind, KindSummary>,
    pub scope_errors: Vec<ScopeError>,
    pub item_failures: Vec<ItemFailure>,
    pub item_failure_count: u64,
    /// Every scope read, and whether completely: what stale deletion is decided on.
    pub scopes: ScopeLedger,
    /// Mapping fields that yielded null for some item, kept as null.
    pub null_fields: Vec<String>,
    /// Fields whose expression failed on some items and were written as null, once per field.
    /// The entities were written, so these do not make the extraction incomplete.
    pub field_errors: Vec<FieldError>,
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
    let mut mapper = PageMapper::new(mapping, kinds);
    let mut pages = mapper.fetch(sources, mapping, kinds);
    while let Some(result) = pages.next().await {
        if let Ok(page) = &result {
            on_page(page);
        }
        mapper.take(result, &mut on_entity);
    }
    mapper.finish()
}

/// The kinds to fetch with the regions each is fetched in, for [`AwsSources::fetch_kinds`].
pub fn fetch_list(mapping: &Mapping, kinds: &[Kind]) -> Vec<(Kind, RegionFilter)> {
    kinds
        .iter()
        .map(|kind| (*kind, region_filter(mapping, *kind)))
        .collect()
}

/// Maps fetched pages one at a time and keeps the summary of what it saw. Apart from
/// [`extract_observed`] so a caller can do other work between pages (the resync writes
/// to Port while AWS is still being read).
pub struct PageMapper<'m> {
    transformer: Transformer<'m>,
    extraction: Extraction,
    /// The organization's accounts, as the fetch learns them.
    organization: Organization,
}

impl<'m> PageMapper<'m> {
    pub fn new(mapping: &'m Mapping, kinds: &[Kind]) -> Self {
        let mut extraction = Extraction::default();
        for kind in kinds {
            extraction.kinds.entry(*kind).or_default();
        }
        PageMapper {
            transformer: Transformer::new(mapping),
            extraction,
            organization: Organization::default(),
        }
    }

    /// The pages of `kinds` (see [`AwsSources::fetch_kinds`]), noting for [`Self::finish`]
    /// the organization's accounts when a complete ListAccounts was made.
    pub fn fetch<'s>(
        &self,
        sources: &'s AwsSources,
        mapping: &Mapping,
        kinds: &[Kind],
    ) -> BoxStream<'s, Result<Page, ScopeError>> {
        sources.fetch_kinds_noting(fetch_list(mapping, kinds), self.organization.clone())
    }

    /// Maps a page, handing each entity to `on_entity`, or records a scope that failed.
    pub fn take(&mut self, result: Result<Page, ScopeError>, on_entity: &mut impl FnMut(Entity)) {
        match result {
            Ok(page) => map_page(
                &mut self.transformer,
                &page,
                &mut self.extraction,
                on_entity,
            ),
            Err(error) => {
                tracing::error!(%error, "fetch failed; the other scopes go on");
                self.extraction.scopes.failed(&error);
                if let Some(summary) = self.extraction.kinds.get_mut(&error.kind) {
                    summary.failed_scopes += 1;
                }
                self.extraction.scope_errors.push(error);
            }
        }
    }

    pub fn finish(self) -> Extraction {
        let PageMapper {
            transformer,
            mut extraction,
            organization,
        } = self;
        extraction.scopes.organization = organization.get().cloned();
        extraction.null_fields = transformer.null_fields();
        extraction.field_errors = transformer.field_errors().to_vec();
        for (name, stats) in transformer.into_stats() {
            if let Some(kind) = Kind::from_name(&name) {
                extraction.kinds.entry(kind).or_default().stats = stats;
            }
        }
        extraction
    }
}

/// The regions a kind is fetched in, from the `selector.regionPolicy` of the mapping's
/// resources of that kind: a region is fetched when any of them allows it. One
/// resource without a policy allows every region.
pub fn region_filter(mapping: &Mapping, kind: Kind) -> RegionFilter {
    let policies: Vec<Option<RegionPolicy>> = mapping
        .resources_for(kind.as_str())
        .map(|resource| resource.region_policy.clone())
        .collect();
    Arc::new(move |region: &str| {
        policies.is_empty()
            || policies
                .iter()
                .any(|policy| policy.as_ref().is_none_or(|p| policy_allows(p, region)))
    })
}

/// Ocean's semantics: `deny` wins; an empty `allow` allows every region.
pub fn policy_allows(policy: &RegionPolicy, region: &str) -> bool {
    policy.allows(region)
}

fn map_page(
    transformer: &mut Transformer<'_>,
    page: &Page,
    extraction: &mut Extraction,
    on_entity: &mut impl FnMut(Entity),
) {
    extraction.scopes.page(page);
    let summary = extraction.kinds.entry(page.kind).or_default();
    summary.accounts.insert(page.account_id.clone());
    summary.regions.insert(page.region.clone());
    let room = EXAMPLES_PER_KIND.saturating_sub(summary.examples.len());
    summary
        .examples
        .extend(page.items.iter().take(room).cloned());
    let kind = page.kind.as_str();
    for item in &page.items {
        transformer.map_json(kind, item, &mut |outcome| match outcome {
            Outcome::Entity(entity) => on_entity(entity),
            Outcome::Failed(failure) => {
                extraction.item_failure_count += 1;
                extraction.scopes.unmapped_item(ScopeKey::of_page(page));
                if extraction.item_failures.len() < LOGGED_FAILURES {
                    tracing::error!(%failure, "item not mapped");
                    extraction.item_failures.push(failure);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> RegionPolicy {
        RegionPolicy {
            allow: allow.iter().map(|r| (*r).to_owned()).collect(),
            deny: deny.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn deny_wins_and_empty_allow_allows_all() {
        assert!(policy_allows(&policy(&[], &[]), "eu-west-1"));
        assert!(policy_allows(&policy(&["eu-west-1"], &[]), "eu-west-1"));
        assert!(!policy_allows(&policy(&["eu-west-1"], &[]), "us-east-1"));
        assert!(!policy_allows(&policy(&[], &["us-east-1"]), "us-east-1"));
        assert!(policy_allows(&policy(&[], &["us-east-1"]), "eu-west-1"));
        assert!(!policy_allows(
            &policy(&["us-east-1"], &["us-east-1"]),
            "us-east-1"
        ));
    }

    fn mapping(text: &str) -> Mapping {
        Mapping::from_yaml(text, std::path::Path::new("mapping.yml")).unwrap()
    }

    #[test]
    fn a_region_is_fetched_when_any_resource_of_the_kind_allows_it() {
        let mapping = mapping(
            r#"
resources:
  - kind: AWS::ACM::Certificate
    selector:
      query: 'true'
      regionPolicy: {allow: [eu-west-1]}
    port: {entity: {mappings: {identifier: .CertificateArn, blueprint: '"a"'}}}
  - kind: AWS::ACM::Certificate
    selector:
      query: 'true'
      regionPolicy: {allow: [us-east-1, eu-west-2], deny: [eu-west-2]}
    port: {entity: {mappings: {identifier: .CertificateArn, blueprint: '"b"'}}}
  - kind: AWS::SecretsManager::Secret
    port: {entity: {mappings: {identifier: .ARN, blueprint: '"c"'}}}
"#,
        );
        let acm = region_filter(&mapping, Kind::AcmCertificate);
        assert!(acm("eu-west-1"));
        assert!(acm("us-east-1"));
        assert!(!acm("eu-west-2"));
        assert!(!acm("ap-south-1"));
        let secrets = region_filter(&mapping, Kind::Secret);
        assert!(secrets("ap-south-1"));
    }
}
