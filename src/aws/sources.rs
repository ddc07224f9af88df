//! [`AwsSources`]: the loaded AWS set-up, and the entry point that streams a kind's
//! pages across accounts and regions. Set-up checks are in `sdk_setup`, the account
//! strategy in `account_plan`, the fan-out over scopes in `fanout`.

use std::sync::Arc;

use aws_config::ConfigLoader;
use aws_types::SdkConfig;
use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::OnceCell;

use super::account_plan::{Plan, PlanError, Planner};
use super::assumed_roles::AssumedRoles;
use super::errors::{AwsFailure, AwsSetupError, ScopeError};
use super::fanout::Fanout;
use super::identity::{CallerIdentity, get_caller_identity};
use super::scopes::AccountContext;
use super::sdk_setup;
use super::settings::AwsSettings;
use super::{Kind, Page};

/// Which regions of a kind are read: the caller's per-kind filter (e.g. the mapping's
/// `selector.regionPolicy`). The sources know nothing of the mapping.
pub type RegionFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Where [`AwsSources::fetch_kinds_noting`] leaves the organization's accounts.
pub type Organization = Arc<std::sync::OnceLock<std::collections::BTreeSet<String>>>;

/// A filter letting every region through.
pub fn every_region() -> RegionFilter {
    Arc::new(|_| true)
}

/// The loaded AWS set-up: SDK config, regions, account strategy, and the caller's
/// identity once known.
pub struct AwsSources {
    config: SdkConfig,
    /// The configured regions; with `AWS_REGIONS=all`, just the home region (each
    /// account's regions are then discovered).
    regions: Vec<String>,
    settings: AwsSettings,
    /// Resolved on the first fetch and kept: the caller's account does not change
    /// while the process runs. A failed lookup is not kept, the next fetch retries.
    caller: OnceCell<CallerIdentity>,
    /// Kept for the life of the process, so a role is assumed once, not per resync.
    roles: AssumedRoles,
}

impl std::fmt::Debug for AwsSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSources")
            .field("regions", &self.regions)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl AwsSources {
    /// Loads the SDK config through aws_config's standard chain (env, profile, SSO,
    /// web identity, container/instance roles; AWS_ENDPOINT_URL honoured by aws-config
    /// itself) with adaptive retries (client-side rate limiting on throttling) and the
    /// operation timeout, validates region names and that credentials can be resolved,
    /// without calling any AWS API.
    pub async fn load(settings: &AwsSettings) -> Result<Self, AwsSetupError> {
        Self::load_with(sdk_setup::default_loader(settings), settings).await
    }

    /// [`Self::load`] from a prepared loader (an explicit endpoint, credentials or
    /// profile, e.g. for tests). Its retry and timeout settings are kept as given.
    pub async fn load_with(
        loader: ConfigLoader,
        settings: &AwsSettings,
    ) -> Result<Self, AwsSetupError> {
        let loader = sdk_setup::with_home_region(loader, settings)?;
        Self::from_sdk_config(loader.load().await, settings).await
    }

    /// [`Self::load`] from an already loaded SDK config.
    pub async fn from_sdk_config(
        config: SdkConfig,
        settings: &AwsSettings,
    ) -> Result<Self, AwsSetupError> {
        let regions = sdk_setup::configured_regions(&config, settings)?;
        sdk_setup::check_concurrency(settings)?;
        sdk_setup::check_credentials(&config).await?;
        let roles = AssumedRoles::new(
            config.clone(),
            regions[0].clone(),
            settings.external_id.clone(),
        );
        Ok(Self {
            config,
            regions,
            settings: settings.clone(),
            caller: OnceCell::new(),
            roles,
        })
    }

    /// The regions regional kinds are read in, in configured order (with
    /// `AWS_REGIONS=all`: the home region only; accounts' regions are discovered).
    pub fn regions(&self) -> &[String] {
        &self.regions
    }

    pub fn region_concurrency(&self) -> usize {
        self.settings.region_concurrency
    }

    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    /// The SDK config the sources call AWS with.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// Streams pages of raw items for one kind as they arrive, in every region.
    /// See [`Self::fetch_kinds`].
    pub fn fetch(&self, kind: Kind) -> BoxStream<'_, Result<Page, ScopeError>> {
        self.fetch_kinds(vec![(kind, every_region())])
    }

    /// Streams pages of raw items for several kinds as they arrive. The accounts are
    /// resolved once for all the kinds (strategy, ACTIVE filter, ACCOUNT_IDS,
    /// EXCLUDE_ACCOUNT_IDS); account entities are listed once (not per account); the
    /// regional kinds are read account by account, at most MAX_CONCURRENT_ACCOUNTS
    /// accounts and AWS_REGION_CONCURRENCY region scopes per account at once, in the
    /// regions each kind's filter allows. A failed scope (an account whose role cannot
    /// be assumed, a region that denies access…) yields Err(ScopeError) and the others
    /// continue.
    pub fn fetch_kinds(
        &self,
        kinds: Vec<(Kind, RegionFilter)>,
    ) -> BoxStream<'_, Result<Page, ScopeError>> {
        self.fetch_kinds_noting(kinds, Arc::default())
    }

    /// [`Self::fetch_kinds`], setting `organization` to the accounts of the organization when
    /// a complete ListAccounts was made (organization strategy), before ACCOUNT_IDS and
    /// EXCLUDE_ACCOUNT_IDS; left unset otherwise. Set before the first page.
    pub fn fetch_kinds_noting(
        &self,
        kinds: Vec<(Kind, RegionFilter)>,
        organization: Organization,
    ) -> BoxStream<'_, Result<Page, ScopeError>> {
        let fanout = Fanout {
            settings: &self.settings,
            regions: &self.regions,
        };
        stream::once(async move {
            match self.plan().await {
                Ok(mut plan) => {
                    if let Some(members) = plan.organization.take() {
                        let _ = organization.set(members);
                    }
                    fanout.plan_pages(plan, kinds)
                }
                Err(error) => fanout.fail_every_scope(&kinds, error),
            }
        })
        .flatten()
        .boxed()
    }

    /// The caller's identity (STS GetCallerIdentity), looked up once and then cached.
    pub async fn caller_identity(&self) -> Result<CallerIdentity, String> {
        self.caller().await.map_err(|failure| failure.message)
    }

    async fn caller(&self) -> Result<CallerIdentity, AwsFailure> {
        self.caller
            .get_or_try_init(|| get_caller_identity(&self.config, &self.regions[0]))
            .await
            .cloned()
    }

    /// The first configured region: where global APIs (STS, Organizations, Account) are
    /// called.
    pub(super) fn home_region(&self) -> &str {
        &self.regions[0]
    }

    /// The caller's own account, read with the base credentials.
    pub(super) fn caller_context(&self, caller: &CallerIdentity) -> AccountContext {
        AccountContext {
            account_id: caller.account_id.clone(),
            config: self.config.clone(),
        }
    }

    /// The SDK config that reads through `role_arn` (assumed once, then cached).
    pub(super) async fn assumed_config(&self, role_arn: &str, account_id: &str) -> SdkConfig {
        self.roles.config(role_arn, account_id).await
    }

    async fn plan(&self) -> Result<Plan, PlanError> {
        let caller = self.caller().await.map_err(|failure| PlanError {
            account_id: String::new(),
            failure,
        })?;
        let planner = Planner {
            settings: &self.settings,
            config: &self.config,
            home_region: &self.regions[0],
            roles: &self.roles,
        };
        planner.plan(caller).await
    }
}
