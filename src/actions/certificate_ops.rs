//! `request_acm_certificate`, `renew_acm_certificate`, `delete_acm_certificate`.

use aws_sdk_acm::Client;
use aws_sdk_acm::config::Region;
use aws_sdk_acm::types::ValidationMethod;
use aws_types::SdkConfig;

use super::error::{ActionError, Missing, Refusal};
use super::outcome::{CatalogChange, Done, console_link, run_token};
use super::requests::{CertificateRequest, CertificateTarget};
use crate::aws::describe_sdk_error;
use crate::aws::lookup::{self, DescribedCertificate};

/// ACM's IdempotencyToken is `\w{1,32}`.
const IDEMPOTENCY_TOKEN_LENGTH: usize = 32;

fn client(config: &SdkConfig, region: &str) -> Client {
    Client::from_conf(
        aws_sdk_acm::config::Builder::from(config)
            .region(Region::new(region.to_owned()))
            .interceptor(crate::aws::calls::CallCounter)
            .build(),
    )
}

fn certificate_link(region: &str, arn: &str) -> Option<String> {
    let id = arn.rsplit('/').next().unwrap_or(arn);
    console_link(
        region,
        "acm/home",
        &[("region", region)],
        Some(&format!("/certificates/{id}")),
    )
}

pub async fn request(
    config: &SdkConfig,
    region: &str,
    request: &CertificateRequest,
    run_id: &str,
) -> Result<Done, ActionError> {
    let token = &run_token(run_id)[..IDEMPOTENCY_TOKEN_LENGTH];
    let arn = client(config, region)
        .request_certificate()
        .domain_name(&request.domain_name)
        .validation_method(ValidationMethod::from(request.validation_method.as_str()))
        .set_subject_alternative_names(
            (!request.subject_alternative_names.is_empty())
                .then(|| request.subject_alternative_names.clone()),
        )
        .idempotency_token(token)
        .send()
        .await
        .map_err(|e| ActionError::Aws(describe_sdk_error("RequestCertificate", &e)))?
        .certificate_arn
        .ok_or_else(|| ActionError::Aws("RequestCertificate returned no ARN".into()))?;
    let described = lookup::certificate(config, region, &arn)
        .await
        .map_err(ActionError::Aws)?;
    Ok(Done {
        summary: format!(
            "Requested a certificate for {} in {region} ({arn}); it is issued once {} validation succeeds",
            request.domain_name, request.validation_method
        ),
        link: certificate_link(region, &arn),
        catalog: described.map_or(CatalogChange::Nothing, |d| CatalogChange::Upsert(d.item)),
    })
}

async fn existing(
    config: &SdkConfig,
    target: &CertificateTarget,
) -> Result<DescribedCertificate, ActionError> {
    lookup::certificate(config, &target.region, &target.arn)
        .await
        .map_err(ActionError::Aws)?
        .ok_or_else(|| {
            ActionError::NotFound(Missing::Certificate {
                arn: target.arn.clone(),
                region: target.region.clone(),
            })
        })
}

fn label(certificate: &DescribedCertificate, target: &CertificateTarget) -> String {
    match &certificate.domain_name {
        Some(domain) => format!("{domain} ({})", target.arn),
        None => target.arn.clone(),
    }
}

/// Renews an ACM-issued certificate, only when ACM says it is ELIGIBLE (as the renew
/// action's condition in Port's guide shows it only for those).
pub async fn renew(config: &SdkConfig, target: &CertificateTarget) -> Result<Done, ActionError> {
    let before = existing(config, target).await?;
    if before.renewal_eligibility.as_deref() != Some("ELIGIBLE") {
        return Err(ActionError::Refused(Refusal::NotEligibleForRenewal {
            certificate: label(&before, target),
            eligibility: before
                .renewal_eligibility
                .as_deref()
                .unwrap_or("unknown")
                .to_owned(),
        }));
    }
    client(config, &target.region)
        .renew_certificate()
        .certificate_arn(&target.arn)
        .send()
        .await
        .map_err(|e| ActionError::Aws(describe_sdk_error("RenewCertificate", &e)))?;
    let after = lookup::certificate(config, &target.region, &target.arn)
        .await
        .map_err(ActionError::Aws)?;
    Ok(Done {
        summary: format!("Renewal of certificate {} started", label(&before, target)),
        link: certificate_link(&target.region, &target.arn),
        catalog: after.map_or(CatalogChange::Nothing, |d| CatalogChange::Upsert(d.item)),
    })
}

/// Deletes a certificate that nothing uses; one in use is refused with its users named.
pub async fn delete(config: &SdkConfig, target: &CertificateTarget) -> Result<Done, ActionError> {
    let before = existing(config, target).await?;
    let in_use = |users: &[String]| {
        ActionError::Refused(Refusal::CertificateInUse {
            certificate: label(&before, target),
            users: users.to_vec(),
        })
    };
    if !before.in_use_by.is_empty() {
        return Err(in_use(&before.in_use_by));
    }
    match client(config, &target.region)
        .delete_certificate()
        .certificate_arn(&target.arn)
        .send()
        .await
    {
        Ok(_) => {}
        // Attached between our check and the call.
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            return Err(in_use(&[]));
        }
        Err(error) => {
            return Err(ActionError::Aws(describe_sdk_error(
                "DeleteCertificate",
                &error,
            )));
        }
    }
    Ok(Done {
        summary: format!("Certificate {} deleted", label(&before, target)),
        link: None,
        catalog: CatalogChange::Delete(before.item),
    })
}
