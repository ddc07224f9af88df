//! [`AwsSources`]: the loaded AWS set-up, and the entry point that streams a kind's
//! pages across accounts and regions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_sdk_sts::config::{ProvideCredentials, Region, SharedCredentialsProvider};
use aws_types::SdkConfig;
use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::OnceCell;

use super::cached_credentials::CachedCredentials;
use super::errors::{AwsSetupError, ScopeError, error_chain};
use super::identity::{CallerIdentity, get_caller_identity};
use super::regions::{enabled_regions, is_valid_region_name};
use super::scopes::AccountContext;
use super::settings::{AccountStrategy, AwsSettings, account_of_role_arn, role_arn};
use super::{Kind, Page, accounts, acm, secrets};

/// How long `load` waits for the credential chain. With nothing configured the chain
/// ends at the EC2 instance metadata service, which off EC2 may never answer; this
/// bounds that wait. Real providers (env, profile, SSO cache, IMDS on EC2) answer well
/// within it.
pub const CREDENTIALS_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Which regions of a kind are read: the caller's per-kind filter (e.g. the mapping's
/// `selector.regionPolicy`). The sources know nothing of the mapping.
pub type RegionFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

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
    /// One SDK config per assumed role ARN, kept for the life of the process: each has
    /// its own identity cache, so a role is assumed once and its credentials are reused
    /// (across resyncs too) until shortly before they expire, then refreshed.
    assumed: Mutex<HashMap<String, SdkConfig>>,
}

impl std::fmt::Debug for AwsSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSources")
            .field("regions", &self.regions)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// One account to read and how.
struct Target {
    account: AccountContext,
    /// The role assumed to read it; None = the caller's own credentials.
    role_arn: Option<String>,
}

/// Where the account entities come from.
enum AccountListing {
    /// Single-account strategy: the organisation as the caller sees it, or the
    /// caller's own account (today's behaviour).
    Caller(CallerIdentity),
    /// Organization strategy: ListAccounts, already narrowed by ACCOUNT_IDS and
    /// EXCLUDE_ACCOUNT_IDS, listed once from the management side.
    Listed {
        listed_by: Box<AccountContext>,
        accounts: Vec<aws_sdk_organizations::types::Account>,
    },
    /// ACCOUNT_ROLE_ARNS: the target accounts by id.
    Targets { partition: String },
}

/// What one resync reads: the accounts and where the account entities come from.
struct Plan {
    targets: Vec<Arc<Target>>,
    listing: AccountListing,
}

/// A failure that leaves nothing to read (the caller or the organisation unknown).
struct PlanError {
    account_id: String,
    message: String,
}

impl AwsSources {
    /// Loads the SDK config through aws_config's standard chain (env, profile, SSO,
    /// web identity, container/instance roles; AWS_ENDPOINT_URL honoured by aws-config
    /// itself) with adaptive retries (client-side rate limiting on throttling) and the
    /// operation timeout, validates region names and that credentials can be resolved,
    /// without calling any AWS API.
    pub async fn load(settings: &AwsSettings) -> Result<Self, AwsSetupError> {
        let mut retry = RetryConfig::adaptive();
        // An explicit retry config replaces the one aws-config reads from the
        // environment; keep the user's AWS_MAX_ATTEMPTS.
        if let Some(attempts) = std::env::var("AWS_MAX_ATTEMPTS")
            .ok()
            .and_then(|value| value.trim().parse::<u32>().ok())
            .filter(|attempts| *attempts >= 1)
        {
            retry = retry.with_max_attempts(attempts);
        }
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(settings.operation_timeout)
                    .build(),
            );
        Self::load_with(loader, settings).await
    }

    /// [`Self::load`] from a prepared loader (an explicit endpoint, credentials or
    /// profile, e.g. for tests). Its retry and timeout settings are kept as given.
    pub async fn load_with(
        mut loader: ConfigLoader,
        settings: &AwsSettings,
    ) -> Result<Self, AwsSetupError> {
        if let Some(regions) = settings.regions.as_deref().filter(|r| !r.is_empty()) {
            check_region_names(regions)?;
            // Every client gets its region explicitly; naming one here also spares the
            // loader from probing the instance metadata service for a region.
            loader = loader.region(Region::new(regions[0].clone()));
        }
        Self::from_sdk_config(loader.load().await, settings).await
    }

    /// [`Self::load`] from an already loaded SDK config.
    pub async fn from_sdk_config(
        config: SdkConfig,
        settings: &AwsSettings,
    ) -> Result<Self, AwsSetupError> {
        let regions = match settings.regions.as_deref().filter(|r| !r.is_empty()) {
            Some(regions) if !settings.all_regions => regions.to_vec(),
            _ => vec![
                config
                    .region()
                    .ok_or(AwsSetupError::NoRegion)?
                    .as_ref()
                    .to_owned(),
            ],
        };
        check_region_names(&regions)?;
        for (name, count) in [
            (
                AwsSettings::REGION_CONCURRENCY_VAR,
                settings.region_concurrency,
            ),
            (
                AwsSettings::MAX_CONCURRENT_ACCOUNTS_VAR,
                settings.max_concurrent_accounts,
            ),
        ] {
            if count == 0 {
                return Err(AwsSetupError::InvalidSetting {
                    name,
                    value: "0".to_owned(),
                    reason: "expected a whole number of at least 1",
                });
            }
        }
        check_credentials(&config).await?;
        Ok(Self {
            config,
            regions,
            settings: settings.clone(),
            caller: OnceCell::new(),
            assumed: Mutex::new(HashMap::new()),
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
        stream::once(async move {
            match self.plan().await {
                Ok(plan) => self.fetch_plan(plan, kinds),
                Err(error) => self.fail_every_scope(&kinds, error),
            }
        })
        .flatten()
        .boxed()
    }

    /// The caller's identity (STS GetCallerIdentity), looked up once and then cached.
    pub async fn caller_identity(&self) -> Result<CallerIdentity, String> {
        self.caller
            .get_or_try_init(|| get_caller_identity(&self.config, self.home_region()))
            .await
            .cloned()
    }

    /// The first configured region: where global APIs (STS, Organizations, Account)
    /// are called.
    pub(super) fn home_region(&self) -> &str {
        &self.regions[0]
    }

    pub(super) fn caller_context(&self, caller: &CallerIdentity) -> AccountContext {
        AccountContext {
            account_id: caller.account_id.clone(),
            config: self.config.clone(),
        }
    }

    async fn plan(&self) -> Result<Plan, PlanError> {
        let caller = self.caller_identity().await.map_err(|message| PlanError {
            account_id: String::new(),
            message,
        })?;
        let partition = caller.partition().to_owned();
        match &self.settings.account_strategy {
            AccountStrategy::Single => {
                let targets = if self.settings.wants_account(&caller.account_id) {
                    vec![Arc::new(Target {
                        account: self.caller_context(&caller),
                        role_arn: None,
                    })]
                } else {
                    tracing::info!(account_id = %caller.account_id, "the caller's account is left out by ACCOUNT_IDS / EXCLUDE_ACCOUNT_IDS");
                    Vec::new()
                };
                Ok(Plan {
                    targets,
                    listing: AccountListing::Caller(caller),
                })
            }
            AccountStrategy::Organization => self.organization_plan(&caller, &partition).await,
            AccountStrategy::RoleArns(arns) => {
                let mut targets = Vec::new();
                for arn in arns {
                    let account_id = account_of_role_arn(arn).unwrap_or_default().to_owned();
                    if !self.settings.wants_account(&account_id) {
                        tracing::debug!(
                            account_id,
                            "left out by ACCOUNT_IDS / EXCLUDE_ACCOUNT_IDS"
                        );
                        continue;
                    }
                    let config = self.assumed_config(arn, &account_id).await;
                    targets.push(Arc::new(Target {
                        account: AccountContext { account_id, config },
                        role_arn: Some(arn.clone()),
                    }));
                }
                Ok(Plan {
                    targets,
                    listing: AccountListing::Targets { partition },
                })
            }
        }
    }

    async fn organization_plan(
        &self,
        caller: &CallerIdentity,
        partition: &str,
    ) -> Result<Plan, PlanError> {
        let listed_by = match &self.settings.organization_role_arn {
            Some(arn) => {
                let account_id = account_of_role_arn(arn).unwrap_or_default().to_owned();
                let config = self.assumed_config(arn, &account_id).await;
                AccountContext { account_id, config }
            }
            None => self.caller_context(caller),
        };
        let listed = accounts::list_all(&listed_by.config, self.home_region())
            .await
            .map_err(|message| PlanError {
                account_id: listed_by.account_id.clone(),
                message: match &self.settings.organization_role_arn {
                    Some(arn) => format!("listing the organization's accounts as {arn}: {message}"),
                    None => format!("listing the organization's accounts: {message}"),
                },
            })?;
        let accounts: Vec<_> = listed
            .into_iter()
            .filter(|account| {
                account
                    .id()
                    .is_some_and(|id| self.settings.wants_account(id))
            })
            .collect();
        let mut targets = Vec::new();
        for account in &accounts {
            let Some(account_id) = account.id() else {
                continue;
            };
            if !accounts::is_active(account) {
                tracing::info!(account_id, "account is not ACTIVE; not read");
                continue;
            }
            // The caller's own account (usually the management account, which has no
            // read role of its own unless one was created) is read with the caller's
            // credentials.
            let target = if account_id == caller.account_id {
                Target {
                    account: self.caller_context(caller),
                    role_arn: None,
                }
            } else {
                let arn = role_arn(partition, account_id, &self.settings.account_read_role_name);
                let config = self.assumed_config(&arn, account_id).await;
                Target {
                    account: AccountContext {
                        account_id: account_id.to_owned(),
                        config,
                    },
                    role_arn: Some(arn),
                }
            };
            targets.push(Arc::new(target));
        }
        tracing::info!(
            listed = accounts.len(),
            read = targets.len(),
            "organization accounts resolved"
        );
        Ok(Plan {
            targets,
            listing: AccountListing::Listed {
                listed_by: Box::new(listed_by),
                accounts,
            },
        })
    }

    /// The SDK config that reads through `role_arn` (session `port-aws-sync-{account}`,
    /// EXTERNAL_ID when set). Built once per role and kept, with its own identity
    /// cache: AssumeRole is called on first use and again only near expiry.
    pub(super) async fn assumed_config(&self, role_arn: &str, account_id: &str) -> SdkConfig {
        if let Some(config) = self.assumed_lock().get(role_arn) {
            return config.clone();
        }
        let mut builder = AssumeRoleProvider::builder(role_arn)
            .session_name(format!("port-aws-sync-{account_id}"))
            .region(Region::new(self.home_region().to_owned()))
            .configure(&self.config);
        if let Some(external_id) = &self.settings.external_id {
            builder = builder.external_id(external_id.clone());
        }
        let provider = builder.build().await;
        let config = self
            .config
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(CachedCredentials::new(
                provider,
            )))
            .identity_cache(IdentityCache::lazy().build())
            .build();
        self.assumed_lock()
            .entry(role_arn.to_owned())
            .or_insert(config)
            .clone()
    }

    fn assumed_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SdkConfig>> {
        self.assumed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fetch_plan(
        &self,
        plan: Plan,
        kinds: Vec<(Kind, RegionFilter)>,
    ) -> BoxStream<'_, Result<Page, ScopeError>> {
        let wants_accounts = kinds.iter().any(|(kind, _)| *kind == Kind::Account);
        let regional: Vec<(Kind, RegionFilter)> = kinds
            .into_iter()
            .filter(|(kind, _)| kind.is_regional())
            .collect();
        let account_pages = if wants_accounts {
            self.account_pages(&plan)
        } else {
            stream::empty().boxed()
        };
        let per_account = if regional.is_empty() {
            stream::empty().boxed()
        } else {
            stream::iter(plan.targets)
                .map(move |target| self.fetch_target(target, regional.clone()))
                .flatten_unordered(self.settings.max_concurrent_accounts)
                .boxed()
        };
        stream::select(account_pages, per_account).boxed()
    }

    fn account_pages(&self, plan: &Plan) -> BoxStream<'static, Result<Page, ScopeError>> {
        let home = self.home_region().to_owned();
        match &plan.listing {
            AccountListing::Caller(caller) => {
                accounts::fetch(self.caller_context(caller), caller.clone(), home)
            }
            AccountListing::Listed {
                listed_by,
                accounts,
            } => accounts::pages_of((**listed_by).clone(), home, accounts.clone()),
            AccountListing::Targets { partition } => {
                let pages: Vec<_> = plan
                    .targets
                    .iter()
                    .map(|target| {
                        Ok(accounts::bare_account_page(
                            &target.account,
                            partition,
                            &home,
                        ))
                    })
                    .collect();
                stream::iter(pages).boxed()
            }
        }
    }

    /// Every (region, kind) scope of one account, at most AWS_REGION_CONCURRENCY at
    /// once. When the account cannot be entered (AssumeRole refused) or its regions
    /// cannot be discovered, each kind reports one account-wide scope error.
    fn fetch_target(
        &self,
        target: Arc<Target>,
        kinds: Vec<(Kind, RegionFilter)>,
    ) -> BoxStream<'_, Result<Page, ScopeError>> {
        stream::once(async move {
            match self.target_regions(&target).await {
                Err(message) => {
                    tracing::warn!(account_id = %target.account.account_id, %message, "account not read");
                    let errors: Vec<_> = kinds
                        .iter()
                        .map(|(kind, _)| Err(target.account.scope_error(*kind, None, message.clone())))
                        .collect();
                    stream::iter(errors).boxed()
                }
                Ok(regions) => {
                    let scopes: Vec<(Kind, String)> = regions
                        .iter()
                        .flat_map(|region| {
                            kinds
                                .iter()
                                .filter(|(_, allowed)| allowed(region))
                                .map(|(kind, _)| (*kind, region.clone()))
                        })
                        .collect();
                    let account = target.account.clone();
                    stream::iter(scopes)
                        .map(move |(kind, region)| match kind {
                            Kind::AcmCertificate => acm::fetch_region(account.clone(), region),
                            Kind::Secret => secrets::fetch_region(account.clone(), region),
                            Kind::Account => stream::empty().boxed(),
                        })
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
    async fn target_regions(&self, target: &Target) -> Result<Vec<String>, String> {
        let with_role = |message: String| match &target.role_arn {
            Some(arn) => format!("reading through {arn}: {message}"),
            None => message,
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
                .ok_or_else(|| with_role("no credentials provider".to_owned()))?;
            provider.provide_credentials().await.map_err(|error| {
                with_role(format!(
                    "could not assume the role: {}",
                    error_chain(&error)
                ))
            })?;
        }
        Ok(self.regions.clone())
    }

    /// Without the caller's account (or the organisation's accounts) no scope can be
    /// named or read: each one fails with the lookup's error.
    fn fail_every_scope(
        &self,
        kinds: &[(Kind, RegionFilter)],
        error: PlanError,
    ) -> BoxStream<'_, Result<Page, ScopeError>> {
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
                    message: error.message.clone(),
                }));
            }
        }
        stream::iter(errors).boxed()
    }
}

fn check_region_names(regions: &[String]) -> Result<(), AwsSetupError> {
    match regions.iter().find(|name| !is_valid_region_name(name)) {
        Some(name) => Err(AwsSetupError::UnknownRegion { name: name.clone() }),
        None => Ok(()),
    }
}

/// Asks the credential chain once. This resolves credentials locally (or from
/// SSO/STS for role-based profiles) but calls no API of the services we read.
async fn check_credentials(config: &SdkConfig) -> Result<(), AwsSetupError> {
    let Some(provider) = config.credentials_provider() else {
        return Err(AwsSetupError::NoCredentials {
            detail: "credentials are disabled in the SDK configuration".to_owned(),
        });
    };
    match tokio::time::timeout(CREDENTIALS_CHECK_TIMEOUT, provider.provide_credentials()).await {
        Ok(Ok(_credentials)) => {
            tracing::debug!("AWS credentials resolved");
            Ok(())
        }
        Ok(Err(error)) => Err(AwsSetupError::NoCredentials {
            detail: error_chain(&error),
        }),
        Err(_elapsed) => Err(AwsSetupError::NoCredentials {
            detail: format!(
                "no credential provider answered within {}s; the last one tried is the EC2 instance metadata service",
                CREDENTIALS_CHECK_TIMEOUT.as_secs()
            ),
        }),
    }
}
