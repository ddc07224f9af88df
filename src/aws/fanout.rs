//! The fan-out of one resync's [`Plan`] into scopes: account entities once, then every
//! (account, region, kind) scope, bounded per account and across accounts.

use std::sync::Arc;

use aws_sdk_sts::config::ProvideCredentials;
use futures::stream::{self, BoxStream, StreamExt};

use super::account_plan::{Plan, PlanError, Target};
use super::errors::{AwsFailure, ScopeError, credentials_failure};
use super::listers::{RegionLister, region_lister};
use super::regions::enabled_regions;
use super::settings::AwsSettings;
use super::sources::RegionFilter;
use super::{Kind, Page};

/// What the fan-out needs of the loaded set-up.
#[derive(Clone, Copy)]
pub(super) struct Fanout<'a> {
    pub settings: &'a AwsSettings,
    /// The configured regions, home region first.
    pub regions: &'a [String],
}

impl<'a> Fanout<'a> {
    /// Where global APIs (Account ListRegions) are called.
    fn home_region(self) -> &'a str {
        &self.regions[0]
    }

    /// Account entities (when asked for) alongside the regional kinds, read account by
    /// account, at most MAX_CONCURRENT_ACCOUNTS accounts at once.
    pub(super) fn plan_pages(
        self,
        plan: Plan,
        kinds: Vec<(Kind, RegionFilter)>,
    ) -> BoxStream<'a, Result<Page, ScopeError>> {
        let wants_accounts = kinds.iter().any(|(kind, _)| *kind == Kind::Account);
        let regional: Vec<(Kind, RegionFilter)> = kinds
            .into_iter()
            .filter(|(kind, _)| kind.is_regional())
            .collect();
        let account_pages = if wants_accounts {
            plan.account_pages(self.home_region())
        } else {
            stream::empty().boxed()
        };
        let per_account = if regional.is_empty() {
            stream::empty().boxed()
        } else {
            stream::iter(plan.targets)
                .map(move |target| self.target_pages(target, regional.clone()))
                .flatten_unordered(self.settings.max_concurrent_accounts)
                .boxed()
        };
        stream::select(account_pages, per_account).boxed()
    }

    /// Every (region, kind) scope of one account, at most AWS_REGION_CONCURRENCY at
    /// once. When the account cannot be entered (AssumeRole refused) or its regions
    /// cannot be discovered, each kind reports one account-wide scope error.
    fn target_pages(
        self,
        target: Arc<Target>,
        kinds: Vec<(Kind, RegionFilter)>,
    ) -> BoxStream<'a, Result<Page, ScopeError>> {
        stream::once(async move {
            match self.target_regions(&target).await {
                Err(failure) => {
                    tracing::warn!(account_id = %target.account.account_id, message = %failure.message, "account not read");
                    let errors: Vec<_> = kinds
                        .iter()
                        .map(|(kind, _)| {
                            Err(target.account.scope_error(*kind, None, failure.clone()))
                        })
                        .collect();
                    stream::iter(errors).boxed()
                }
                Ok(regions) => {
                    let scopes: Vec<(RegionLister, String)> = regions
                        .iter()
                        .flat_map(|region| {
                            kinds
                                .iter()
                                .filter(|(_, allowed)| allowed(region))
                                .filter_map(|(kind, _)| region_lister(*kind))
                                .map(|lister| (lister, region.clone()))
                        })
                        .collect();
                    let account = target.account.clone();
                    stream::iter(scopes)
                        .map(move |(lister, region)| lister(account.clone(), region))
                        .flatten_unordered(self.settings.region_concurrency)
                        .boxed()
                }
            }
        })
        .flatten()
        .boxed()
    }

    /// The regions to read in one account: the configured ones, or with
    /// `AWS_REGIONS=all` the account's enabled regions. For an assumed role the
    /// credentials are obtained first (once, then cached), so a role that cannot be
    /// assumed is one clear error rather than one per region and kind.
    async fn target_regions(self, target: &Target) -> Result<Vec<String>, AwsFailure> {
        let with_role = |failure: AwsFailure| match &target.role_arn {
            Some(arn) => failure.within(format!("reading through {arn}")),
            None => failure,
        };
        if self.settings.all_regions {
            return enabled_regions(&target.account.config, self.home_region())
                .await
                .map_err(with_role);
        }
        if target.role_arn.is_some() {
            // The AssumeRole the reads need anyway, done first and cached: a refused role is
            // one error for the account. The role ARN names the account, so the
            // credentials are that account's.
            let provider = target
                .account
                .config
                .credentials_provider()
                .ok_or_else(|| with_role(AwsFailure::uncoded("no credentials provider")))?;
            provider.provide_credentials().await.map_err(|error| {
                with_role(credentials_failure(&error).within("could not assume the role"))
            })?;
        }
        Ok(self.regions.to_vec())
    }

    /// Without the caller's account (or the organisation's accounts) no scope can be
    /// named or read: each one fails with the lookup's error.
    pub(super) fn fail_every_scope(
        self,
        kinds: &[(Kind, RegionFilter)],
        error: PlanError,
    ) -> BoxStream<'a, Result<Page, ScopeError>> {
        let mut errors = Vec::new();
        for (kind, allowed) in kinds {
            let scope_regions: Vec<Option<String>> =
                if kind.is_regional() && !self.settings.all_regions {
                    self.regions
                        .iter()
                        .filter(|region| allowed(region))
                        .cloned()
                        .map(Some)
                        .collect()
                } else {
                    vec![None]
                };
            for region in scope_regions {
                errors.push(Err(ScopeError {
                    kind: *kind,
                    account_id: error.account_id.clone(),
                    region,
                    message: error.failure.message.clone(),
                    code: error.failure.code.clone(),
                }));
            }
        }
        stream::iter(errors).boxed()
    }
}
