//! One item by name or ARN, in the same raw shape the sources list, so a self-service action
//! can put what it changed into the catalog at once instead of waiting for the next resync.

use aws_sdk_acm::config::Region;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use aws_types::SdkConfig;
use serde_json::Value;

use super::Kind;
use super::errors::{ReadError, describe_sdk_error, read_error};
use super::raw::Origin;

/// The account in an ARN (`arn:partition:service:region:account:resource`).
pub fn account_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The secret named exactly `name` in `region`, as ListSecrets gives it (ListSecrets' name
/// filter matches prefixes, so the pages are searched for the exact name).
pub async fn secret(config: &SdkConfig, region: &str, name: &str) -> Result<Option<Value>, String> {
    let config = aws_sdk_secretsmanager::config::Builder::from(config)
        .region(aws_sdk_secretsmanager::config::Region::new(
            region.to_owned(),
        ))
        .interceptor(crate::aws::calls::CallCounter)
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    let mut pages = client
        .list_secrets()
        .filters(
            Filter::builder()
                .key(FilterNameStringType::Name)
                .values(name)
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe_sdk_error("ListSecrets", &e))?;
        for entry in page.secret_list.unwrap_or_default() {
            if entry.name.as_deref() != Some(name) {
                continue;
            }
            let account = entry
                .arn
                .as_deref()
                .and_then(account_of_arn)
                .unwrap_or_default()
                .to_owned();
            let origin = Origin {
                kind: Kind::Secret,
                account_id: &account,
                region,
            };
            return Ok(Some(origin.wrap(super::secrets::secret_item(&entry))));
        }
    }
    Ok(None)
}

/// A certificate described by DescribeCertificate, with the raw item and what the actions
/// check before changing it.
#[derive(Debug, Clone)]
pub struct DescribedCertificate {
    pub item: Value,
    pub in_use_by: Vec<String>,
    pub renewal_eligibility: Option<String>,
    pub domain_name: Option<String>,
}

/// `None` when ACM does not know the ARN.
pub async fn certificate(
    config: &SdkConfig,
    region: &str,
    arn: &str,
) -> Result<Option<DescribedCertificate>, String> {
    describe_certificate(config, region, arn)
        .await
        .map_err(|e| e.message)
}

/// [`certificate`], its failure told transient or not.
pub async fn describe_certificate(
    config: &SdkConfig,
    region: &str,
    arn: &str,
) -> Result<Option<DescribedCertificate>, ReadError> {
    let config = aws_sdk_acm::config::Builder::from(config)
        .region(Region::new(region.to_owned()))
        .interceptor(crate::aws::calls::CallCounter)
        .build();
    let client = aws_sdk_acm::Client::from_conf(config);
    let detail = match client
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
    {
        Ok(output) => output.certificate,
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(error) => return Err(read_error("DescribeCertificate", &error)),
    };
    let Some(detail) = detail else {
        return Ok(None);
    };
    let account = account_of_arn(arn).unwrap_or_default().to_owned();
    let origin = Origin {
        kind: Kind::AcmCertificate,
        account_id: &account,
        region,
    };
    Ok(Some(DescribedCertificate {
        item: origin.wrap(super::acm::certificate_detail_item(&detail)),
        in_use_by: detail.in_use_by.clone().unwrap_or_default(),
        renewal_eligibility: detail
            .renewal_eligibility
            .as_ref()
            .map(|v| v.as_str().to_owned()),
        domain_name: detail.domain_name.clone(),
    }))
}
