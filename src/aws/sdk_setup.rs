//! Loading and checking the SDK set-up before any AWS API is called: retries and
//! timeouts, region names, the concurrency settings and that credentials resolve.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_sdk_sts::config::{ProvideCredentials, Region};
use aws_types::SdkConfig;

use super::errors::{AwsSetupError, error_chain};
use super::regions::is_valid_region_name;
use super::settings::AwsSettings;

/// How long `load` waits for the credential chain. With nothing configured the chain
/// ends at the EC2 instance metadata service, which off EC2 may never answer; this
/// bounds that wait. Real providers (env, profile, SSO cache, IMDS on EC2) answer well
/// within it.
pub const CREDENTIALS_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// aws_config's standard chain (env, profile, SSO, web identity, container/instance
/// roles; AWS_ENDPOINT_URL honoured by aws-config itself) with adaptive retries
/// (client-side rate limiting on throttling) and the operation timeout.
pub(super) fn default_loader(settings: &AwsSettings) -> ConfigLoader {
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
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(settings.operation_timeout)
                .build(),
        )
}

/// `loader` with the first configured region, once the configured names are checked.
/// Every client gets its region explicitly; naming one here also spares the loader
/// from probing the instance metadata service for a region.
pub(super) fn with_home_region(
    loader: ConfigLoader,
    settings: &AwsSettings,
) -> Result<ConfigLoader, AwsSetupError> {
    match settings.regions.as_deref().filter(|r| !r.is_empty()) {
        Some(regions) => {
            check_region_names(regions)?;
            Ok(loader.region(Region::new(regions[0].clone())))
        }
        None => Ok(loader),
    }
}

/// The regions regional kinds are read in: the configured ones, or the SDK config's
/// region alone (no AWS_REGIONS, or `AWS_REGIONS=all`, where each account's regions
/// are discovered later). Every name is checked.
pub(super) fn configured_regions(
    config: &SdkConfig,
    settings: &AwsSettings,
) -> Result<Vec<String>, AwsSetupError> {
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
    Ok(regions)
}

/// Both concurrency limits must let at least one call through.
pub(super) fn check_concurrency(settings: &AwsSettings) -> Result<(), AwsSetupError> {
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
    Ok(())
}

fn check_region_names(regions: &[String]) -> Result<(), AwsSetupError> {
    match regions.iter().find(|name| !is_valid_region_name(name)) {
        Some(name) => Err(AwsSetupError::UnknownRegion { name: name.clone() }),
        None => Ok(()),
    }
}

/// Asks the credential chain once. This resolves credentials locally (or from
/// SSO/STS for role-based profiles) but calls no API of the services we read.
pub(super) async fn check_credentials(config: &SdkConfig) -> Result<(), AwsSetupError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(regions: &[&str]) -> AwsSettings {
        AwsSettings {
            regions: Some(regions.iter().map(|r| (*r).to_owned()).collect()),
            ..AwsSettings::default()
        }
    }

    fn config_in(region: &str) -> SdkConfig {
        SdkConfig::builder()
            .region(Region::new(region.to_owned()))
            .build()
    }

    #[test]
    fn configured_regions_keep_their_order_and_are_checked() {
        let config = config_in("us-east-1");
        assert_eq!(
            configured_regions(&config, &settings(&["eu-west-1", "ap-south-1"])).unwrap(),
            ["eu-west-1", "ap-south-1"]
        );
        assert!(matches!(
            configured_regions(&config, &settings(&["eu-west-1", "us-easy-1"])),
            Err(AwsSetupError::UnknownRegion { name }) if name == "us-easy-1"
        ));
    }

    #[test]
    fn without_configured_regions_the_sdk_region_is_the_only_one() {
        assert_eq!(
            configured_regions(&config_in("eu-central-1"), &AwsSettings::default()).unwrap(),
            ["eu-central-1"]
        );
        assert!(matches!(
            configured_regions(&SdkConfig::builder().build(), &AwsSettings::default()),
            Err(AwsSetupError::NoRegion)
        ));
    }

    #[test]
    fn a_zero_concurrency_names_its_setting() {
        let zero_accounts = AwsSettings {
            max_concurrent_accounts: 0,
            ..AwsSettings::default()
        };
        assert!(matches!(
            check_concurrency(&zero_accounts),
            Err(AwsSetupError::InvalidSetting { name, .. })
                if name == AwsSettings::MAX_CONCURRENT_ACCOUNTS_VAR
        ));
        assert!(check_concurrency(&AwsSettings::default()).is_ok());
    }
}
