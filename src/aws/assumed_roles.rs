//! The SDK configs that read through an assumed role, one per role ARN, kept for the
//! life of the process.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use aws_config::identity::IdentityCache;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_sts::config::{Region, SharedCredentialsProvider};
use aws_types::SdkConfig;

use super::cached_credentials::CachedCredentials;

/// Each config has its own identity cache, so a role is assumed once and its
/// credentials are reused (across resyncs too) until shortly before they expire, then
/// refreshed.
pub(super) struct AssumedRoles {
    /// The caller's own config: what AssumeRole is called with.
    base: SdkConfig,
    /// Where STS is called.
    home_region: String,
    external_id: Option<String>,
    configs: Mutex<HashMap<String, SdkConfig>>,
}

impl AssumedRoles {
    pub(super) fn new(base: SdkConfig, home_region: String, external_id: Option<String>) -> Self {
        AssumedRoles {
            base,
            home_region,
            external_id,
            configs: Mutex::new(HashMap::new()),
        }
    }

    /// The SDK config that reads through `role_arn` (session `port-aws-sync-{account}`,
    /// EXTERNAL_ID when set). Built once per role and kept: AssumeRole is called on
    /// first use and again only near expiry.
    pub(super) async fn config(&self, role_arn: &str, account_id: &str) -> SdkConfig {
        if let Some(config) = self.lock().get(role_arn) {
            return config.clone();
        }
        let mut builder = AssumeRoleProvider::builder(role_arn)
            .session_name(format!("port-aws-sync-{account_id}"))
            .region(Region::new(self.home_region.clone()))
            .configure(&self.base);
        if let Some(external_id) = &self.external_id {
            builder = builder.external_id(external_id.clone());
        }
        let provider = builder.build().await;
        let config = self
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(CachedCredentials::new(
                provider,
            )))
            .identity_cache(IdentityCache::lazy().build())
            .build();
        self.lock()
            .entry(role_arn.to_owned())
            .or_insert(config)
            .clone()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, SdkConfig>> {
        self.configs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
