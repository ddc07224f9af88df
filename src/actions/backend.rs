//! Carries out one action run against AWS, then brings the catalog along.

use std::sync::Arc;

use aws_types::SdkConfig;

use super::catalog::{CatalogError, CatalogFollower, CatalogUpdate};
use super::error::ActionError;
use super::requests::Request;
use super::settings::WebhookSettings;
use super::{certificate_ops, secret_ops};
use crate::aws::AwsSources;
use crate::mapping::CurrentMapping;
use crate::port::PortClient;
use crate::port::Secret;

pub struct ActionBackend {
    pub aws: SdkConfig,
    /// For actions whose inputs name no region (`AWS_REGION`).
    pub default_region: String,
    /// Port encrypts secret inputs with the client secret.
    pub decryption_secret: Secret,
    pub catalog: CatalogFollower,
}

/// A run that did what it was asked. The catalog update is reported apart: AWS changed
/// either way, and the next resync catches the catalog up if Port refused.
#[derive(Debug, Clone)]
pub struct Completed {
    pub summary: String,
    pub link: Option<String>,
    pub catalog: Result<CatalogUpdate, CatalogError>,
}

impl ActionBackend {
    /// Acts with the credentials the resyncs start from (the daemon's own account).
    pub fn new(
        sources: &AwsSources,
        settings: &WebhookSettings,
        current: Arc<CurrentMapping>,
        port: PortClient,
    ) -> Self {
        let default_region = sources
            .sdk_config()
            .region()
            .map(|r| r.as_ref().to_owned())
            .or_else(|| sources.regions().first().cloned())
            .unwrap_or_else(|| "us-east-1".to_owned());
        ActionBackend {
            aws: sources.sdk_config().clone(),
            default_region,
            decryption_secret: settings.decryption_secret.clone(),
            catalog: CatalogFollower { current, port },
        }
    }

    pub async fn perform(&self, request: &Request, run_id: &str) -> Result<Completed, ActionError> {
        let done = match request {
            Request::Secret(secret) => {
                let region = secret.region.as_deref().unwrap_or(&self.default_region);
                secret_ops::apply(&self.aws, region, secret, run_id).await?
            }
            Request::RequestCertificate(certificate) => {
                let region = certificate
                    .region
                    .as_deref()
                    .unwrap_or(&self.default_region);
                certificate_ops::request(&self.aws, region, certificate, run_id).await?
            }
            Request::RenewCertificate(target) => certificate_ops::renew(&self.aws, target).await?,
            Request::DeleteCertificate(target) => {
                certificate_ops::delete(&self.aws, target).await?
            }
        };
        let catalog = self.catalog.apply(&done.catalog, run_id).await;
        if let Err(error) = &catalog {
            tracing::warn!(run_id, %error, "the catalog was not updated after the action; the next resync will");
        }
        Ok(Completed {
            summary: done.summary,
            link: done.link,
            catalog,
        })
    }
}
