//! Scopes: the unit of fetching (one kind in one account and one region), and the
//! fan-out that runs a kind's regional scopes side by side.

use aws_types::SdkConfig;
use futures::stream::{self, BoxStream, StreamExt};

use super::errors::ScopeError;
use super::raw::Origin;
use super::{Kind, Page};

/// The account a scope reads and the SDK config (credentials included) to read it
/// with. Today always the caller's own account; multi-account support will build one
/// per assumed role.
#[derive(Debug, Clone)]
pub(crate) struct AccountContext {
    pub account_id: String,
    pub config: SdkConfig,
}

impl AccountContext {
    pub(crate) fn origin<'a>(&'a self, kind: Kind, region: &'a str) -> Origin<'a> {
        Origin {
            kind,
            account_id: &self.account_id,
            region,
        }
    }

    pub(crate) fn scope_error(
        &self,
        kind: Kind,
        region: Option<&str>,
        message: String,
    ) -> ScopeError {
        ScopeError {
            kind,
            account_id: self.account_id.clone(),
            region: region.map(str::to_owned),
            message,
        }
    }
}

/// A page of items from one scope, logged as it arrives.
pub(crate) fn page(
    kind: Kind,
    account_id: &str,
    region: &str,
    items: Vec<serde_json::Value>,
) -> Page {
    tracing::debug!(
        kind = kind.as_str(),
        account_id,
        region,
        count = items.len(),
        "fetched page"
    );
    Page {
        kind,
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        items,
    }
}

/// Runs `fetch_region` for every region, at most `concurrency` at a time, and merges
/// their pages in arrival order. A region whose stream yields an error does not stop
/// the others.
pub(crate) fn fan_out_regions<'a, F>(
    regions: &'a [String],
    concurrency: usize,
    mut fetch_region: F,
) -> BoxStream<'a, Result<Page, ScopeError>>
where
    F: FnMut(&'a str) -> BoxStream<'a, Result<Page, ScopeError>> + Send + 'a,
{
    stream::iter(regions)
        .map(move |region| fetch_region(region))
        .flatten_unordered(concurrency.max(1))
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A stand-in region that records how many regions are running at once.
    fn slow_region(
        region: &str,
        running: Arc<AtomicUsize>,
        most_running: Arc<AtomicUsize>,
    ) -> BoxStream<'static, Result<Page, ScopeError>> {
        let region = region.to_owned();
        stream::once(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most_running.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(30)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            if region == "eu-west-2" {
                Err(ScopeError {
                    kind: Kind::Secret,
                    account_id: "123456789012".to_owned(),
                    region: Some(region),
                    message: "boom".to_owned(),
                })
            } else {
                Ok(page(Kind::Secret, "123456789012", &region, Vec::new()))
            }
        })
        .boxed()
    }

    #[tokio::test]
    async fn runs_regions_concurrently_up_to_the_limit_and_keeps_going_after_errors() {
        let regions: Vec<String> = [
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "us-east-1",
            "us-east-2",
            "us-west-1",
        ]
        .map(str::to_owned)
        .to_vec();
        let running = Arc::new(AtomicUsize::new(0));
        let most_running = Arc::new(AtomicUsize::new(0));
        let results: Vec<_> = fan_out_regions(&regions, 2, |region| {
            slow_region(region, running.clone(), most_running.clone())
        })
        .collect()
        .await;

        assert_eq!(most_running.load(Ordering::SeqCst), 2);
        assert_eq!(results.len(), 6);
        let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].region.as_deref(), Some("eu-west-2"));
    }
}
