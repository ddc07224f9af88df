//! [`AwsSources`]: the loaded AWS set-up, and the entry point that streams a kind's
//! pages.

use std::time::Duration;

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_sdk_sts::config::{ProvideCredentials, Region};
use aws_types::SdkConfig;
use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::OnceCell;

use super::errors::{AwsSetupError, ScopeError, error_chain};
use super::identity::{CallerIdentity, get_caller_identity};
use super::regions::is_valid_region_name;
use super::scopes::{AccountContext, fan_out_regions};
use super::settings::AwsSettings;
use super::{Kind, Page, accounts, acm, secrets};

/// How long `load` waits for the credential chain. With nothing configured the chain
/// ends at the EC2 instance metadata service, which off EC2 may never answer; this
/// bounds that wait. Real providers (env, profile, SSO cache, IMDS on EC2) answer well
/// within it.
pub const CREDENTIALS_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The loaded AWS set-up: SDK config, regions, and the caller's identity once known.
#[derive(Debug)]
pub struct AwsSources {
    config: SdkConfig,
    regions: Vec<String>,
    region_concurrency: usize,
    /// Resolved on the first fetch and kept: the caller's account does not change
    /// while the process runs. A failed lookup is not kept, the next fetch retries.
    caller: OnceCell<CallerIdentity>,
}

impl AwsSources {
    /// Loads the SDK config through aws_config's standard chain (env, profile, SSO,
    /// web identity, container/instance roles; AWS_ENDPOINT_URL honoured by aws-config
    /// itself), validates region names and that credentials can be resolved, without
    /// calling any AWS API.
    pub async fn load(settings: &AwsSettings) -> Result<Self, AwsSetupError> {
        Self::load_with(aws_config::defaults(BehaviorVersion::latest()), settings).await
    }

    /// [`Self::load`] from a prepared loader (an explicit endpoint, credentials or
    /// profile, e.g. for tests).
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
            Some(regions) => regions.to_vec(),
            None => vec![
                config
                    .region()
                    .ok_or(AwsSetupError::NoRegion)?
                    .as_ref()
                    .to_owned(),
            ],
        };
        check_region_names(&regions)?;
        if settings.region_concurrency == 0 {
            return Err(AwsSetupError::InvalidSetting {
                name: AwsSettings::REGION_CONCURRENCY_VAR,
                value: "0".to_owned(),
                reason: "expected a whole number of at least 1",
            });
        }
        check_credentials(&config).await?;
        Ok(Self {
            config,
            regions,
            region_concurrency: settings.region_concurrency,
            caller: OnceCell::new(),
        })
    }

    /// The regions regional kinds are read in, in configured order.
    pub fn regions(&self) -> &[String] {
        &self.regions
    }

    pub fn region_concurrency(&self) -> usize {
        self.region_concurrency
    }

    /// The SDK config the sources call AWS with.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// Streams pages of raw items for one kind as they arrive. Accounts: once per
    /// resync (not per region). ACM and secrets: one scope per region, regions fetched
    /// concurrently, at most region_concurrency at once. A failed scope yields
    /// Err(ScopeError) and the others continue.
    pub fn fetch(&self, kind: Kind) -> BoxStream<'_, Result<Page, ScopeError>> {
        stream::once(async move {
            match self.caller_identity().await {
                Ok(caller) => self.fetch_as(kind, caller),
                Err(message) => self.fail_every_scope(kind, message),
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

    /// The first configured region: where global APIs (STS, Organizations) are called.
    fn home_region(&self) -> &str {
        &self.regions[0]
    }

    fn fetch_as(
        &self,
        kind: Kind,
        caller: CallerIdentity,
    ) -> BoxStream<'_, Result<Page, ScopeError>> {
        let account = AccountContext {
            account_id: caller.account_id.clone(),
            config: self.config.clone(),
        };
        match kind {
            Kind::Account => accounts::fetch(account, caller, self.home_region().to_owned()),
            Kind::AcmCertificate => {
                fan_out_regions(&self.regions, self.region_concurrency, move |region| {
                    acm::fetch_region(account.clone(), region.to_owned())
                })
            }
            Kind::Secret => {
                fan_out_regions(&self.regions, self.region_concurrency, move |region| {
                    secrets::fetch_region(account.clone(), region.to_owned())
                })
            }
        }
    }

    /// Without the caller's account no scope can be named or read: each one fails
    /// with the lookup's error.
    fn fail_every_scope(
        &self,
        kind: Kind,
        message: String,
    ) -> BoxStream<'_, Result<Page, ScopeError>> {
        let scope_regions: Vec<Option<String>> = if kind.is_regional() {
            self.regions.iter().cloned().map(Some).collect()
        } else {
            vec![None]
        };
        stream::iter(scope_regions.into_iter().map(move |region| {
            Err(ScopeError {
                kind,
                account_id: String::new(),
                region,
                message: message.clone(),
            })
        }))
        .boxed()
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
