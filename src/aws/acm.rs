//! `AWS::ACM::Certificate`: ACM ListCertificates, one scope per region.

use aws_sdk_acm::operation::list_certificates::ListCertificatesOutput;
use aws_sdk_acm::operation::list_certificates::builders::ListCertificatesFluentBuilder;
use aws_sdk_acm::types::{
    CertificateDetail, CertificateStatus, CertificateSummary, Filters, KeyAlgorithm,
};

use super::Kind;
use super::calls::counted_client;
use super::raw::RawItem;
use super::scopes::{AccountContext, ListCall, ScopePages};

const KIND: Kind = Kind::AcmCertificate;

/// ACM's maximum page size: fewer calls against ListCertificates' low rate limit.
const PAGE_SIZE: i32 = 1000;

/// ListCertificates: its items in AWS's JSON names.
const LIST: ListCall<ListCertificatesOutput, CertificateSummary> = ListCall {
    kind: KIND,
    operation: "ListCertificates",
    items: |output| output.certificate_summary_list.unwrap_or_default(),
    item: certificate_item,
};

/// Every page of certificates in one region of one account.
pub(crate) fn fetch_region(account: AccountContext, region: String) -> ScopePages {
    let client = counted_client!(aws_sdk_acm, &account.config, &region);
    let mut responses = list_certificates_request(&client).into_paginator().send();
    LIST.pages(account, region, move |context| responses.poll_next(context))
}

/// ListCertificates naming every key type and every status: without `Includes.keyTypes`
/// ACM returns only RSA_1024 and RSA_2048 certificates, silently leaving out EC and
/// larger RSA keys.
pub(crate) fn list_certificates_request(
    client: &aws_sdk_acm::Client,
) -> ListCertificatesFluentBuilder {
    client
        .list_certificates()
        .includes(
            Filters::builder()
                .set_key_types(Some(every_key_type()))
                .build(),
        )
        .set_certificate_statuses(Some(every_status()))
        .max_items(PAGE_SIZE)
}

/// All key algorithms this SDK knows, so a newer SDK brings new ones in by itself.
fn every_key_type() -> Vec<KeyAlgorithm> {
    KeyAlgorithm::values()
        .iter()
        .map(|name| KeyAlgorithm::from(*name))
        .collect()
}

fn every_status() -> Vec<CertificateStatus> {
    CertificateStatus::values()
        .iter()
        .map(|name| CertificateStatus::from(*name))
        .collect()
}

/// One certificate as AWS's ListCertificates JSON names it.
pub(crate) fn certificate_item(summary: &CertificateSummary) -> RawItem {
    let mut item = RawItem::new();
    item.string("CertificateArn", summary.certificate_arn.as_deref())
        .string("DomainName", summary.domain_name.as_deref())
        .strings(
            "SubjectAlternativeNameSummaries",
            summary
                .subject_alternative_name_summaries
                .as_ref()
                .map(|names| names.iter().map(String::as_str)),
        )
        .bool(
            "HasAdditionalSubjectAlternativeNames",
            summary.has_additional_subject_alternative_names,
        )
        .string("Status", summary.status.as_ref().map(|v| v.as_str()))
        .string("Type", summary.r#type.as_ref().map(|v| v.as_str()))
        .string(
            "KeyAlgorithm",
            summary.key_algorithm.as_ref().map(|v| v.as_str()),
        )
        .strings(
            "KeyUsages",
            summary
                .key_usages
                .as_ref()
                .map(|usages| usages.iter().map(|v| v.as_str())),
        )
        .strings(
            "ExtendedKeyUsages",
            summary
                .extended_key_usages
                .as_ref()
                .map(|usages| usages.iter().map(|v| v.as_str())),
        )
        .string(
            "ExportOption",
            summary.export_option.as_ref().map(|v| v.as_str()),
        )
        .bool("InUse", summary.in_use)
        .bool("Exported", summary.exported)
        .string(
            "RenewalEligibility",
            summary.renewal_eligibility.as_ref().map(|v| v.as_str()),
        )
        .timestamp("NotBefore", summary.not_before.as_ref())
        .timestamp("NotAfter", summary.not_after.as_ref())
        .timestamp("CreatedAt", summary.created_at.as_ref())
        .timestamp("IssuedAt", summary.issued_at.as_ref())
        .timestamp("ImportedAt", summary.imported_at.as_ref())
        .timestamp("RevokedAt", summary.revoked_at.as_ref())
        .string("ManagedBy", summary.managed_by.as_ref().map(|v| v.as_str()))
        .string(
            "CertificateKeyPairOrigin",
            summary
                .certificate_key_pair_origin
                .as_ref()
                .map(|v| v.as_str()),
        );
    item
}

/// ListCertificates' summary subset, at most this many names.
const SUMMARY_NAMES: usize = 100;

/// One certificate from DescribeCertificate, in ListCertificates' item shape so the mapping
/// sees the same fields whichever call fetched it. A summary's `Exported` and
/// `CertificateKeyPairOrigin` have no counterpart in the detail and are left out.
pub(crate) fn certificate_detail_item(detail: &CertificateDetail) -> RawItem {
    let names = detail
        .subject_alternative_names
        .as_deref()
        .unwrap_or_default();
    let mut item = RawItem::new();
    item.string("CertificateArn", detail.certificate_arn.as_deref())
        .string("DomainName", detail.domain_name.as_deref())
        .strings(
            "SubjectAlternativeNameSummaries",
            detail
                .subject_alternative_names
                .as_ref()
                .map(|names| names.iter().take(SUMMARY_NAMES).map(String::as_str)),
        )
        .bool(
            "HasAdditionalSubjectAlternativeNames",
            detail
                .subject_alternative_names
                .as_ref()
                .map(|_| names.len() > SUMMARY_NAMES),
        )
        .string("Status", detail.status.as_ref().map(|v| v.as_str()))
        .string("Type", detail.r#type.as_ref().map(|v| v.as_str()))
        .string(
            "KeyAlgorithm",
            detail.key_algorithm.as_ref().map(|v| v.as_str()),
        )
        .strings(
            "KeyUsages",
            detail.key_usages.as_ref().map(|usages| {
                usages
                    .iter()
                    .filter_map(|u| u.name.as_ref().map(|n| n.as_str()))
            }),
        )
        .strings(
            "ExtendedKeyUsages",
            detail.extended_key_usages.as_ref().map(|usages| {
                usages
                    .iter()
                    .filter_map(|u| u.name.as_ref().map(|n| n.as_str()))
            }),
        )
        .string(
            "ExportOption",
            detail
                .options
                .as_ref()
                .and_then(|o| o.export.as_ref())
                .map(|v| v.as_str()),
        )
        .bool(
            "InUse",
            detail.in_use_by.as_ref().map(|users| !users.is_empty()),
        )
        .string(
            "RenewalEligibility",
            detail.renewal_eligibility.as_ref().map(|v| v.as_str()),
        )
        .timestamp("NotBefore", detail.not_before.as_ref())
        .timestamp("NotAfter", detail.not_after.as_ref())
        .timestamp("CreatedAt", detail.created_at.as_ref())
        .timestamp("IssuedAt", detail.issued_at.as_ref())
        .timestamp("ImportedAt", detail.imported_at.as_ref())
        .timestamp("RevokedAt", detail.revoked_at.as_ref())
        .string("ManagedBy", detail.managed_by.as_ref().map(|v| v.as_str()));
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::raw::Origin;
    use aws_sdk_acm::config::Region;
    use aws_sdk_acm::types::{
        CertificateExport, CertificateKeyPairOrigin, CertificateManagedBy, CertificateType,
        ExtendedKeyUsageName, KeyUsageName, RenewalEligibility,
    };
    use aws_smithy_types::DateTime;
    use serde_json::json;

    fn offline_client() -> aws_sdk_acm::Client {
        let config = aws_sdk_acm::Config::builder()
            .behavior_version(aws_sdk_acm::config::BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .build();
        aws_sdk_acm::Client::from_conf(config)
    }

    // moto returns every certificate even without Includes.keyTypes, so the moto tests
    // cannot catch a missing filter: this checks the request itself.
    #[test]
    fn request_names_every_key_type_and_status() {
        let client = offline_client();
        let request = list_certificates_request(&client);
        let input = request.as_input();
        let key_types: Vec<&str> = input
            .get_includes()
            .as_ref()
            .map(|filters| filters.key_types().iter().map(|k| k.as_str()).collect())
            .unwrap_or_default();
        for expected in [
            "RSA_1024",
            "RSA_2048",
            "RSA_3072",
            "RSA_4096",
            "EC_prime256v1",
            "EC_secp384r1",
            "EC_secp521r1",
        ] {
            assert!(
                key_types.contains(&expected),
                "{expected} missing from {key_types:?}"
            );
        }
        let statuses: Vec<&str> = input
            .get_certificate_statuses()
            .iter()
            .flatten()
            .map(|s| s.as_str())
            .collect();
        for expected in [
            "PENDING_VALIDATION",
            "ISSUED",
            "INACTIVE",
            "EXPIRED",
            "VALIDATION_TIMED_OUT",
            "REVOKED",
            "FAILED",
        ] {
            assert!(
                statuses.contains(&expected),
                "{expected} missing from {statuses:?}"
            );
        }
    }

    fn wrap(summary: &CertificateSummary) -> serde_json::Value {
        let origin = Origin {
            kind: KIND,
            account_id: "123456789012",
            region: "eu-west-1",
        };
        origin.wrap(certificate_item(summary))
    }

    #[test]
    fn converts_every_field_with_aws_names() {
        let summary = CertificateSummary::builder()
            .certificate_arn("arn:aws:acm:eu-west-1:123456789012:certificate/abc")
            .domain_name("example.com")
            .subject_alternative_name_summaries("example.com")
            .subject_alternative_name_summaries("www.example.com")
            .has_additional_subject_alternative_names(false)
            .status(CertificateStatus::Issued)
            .r#type(CertificateType::AmazonIssued)
            .key_algorithm(KeyAlgorithm::EcPrime256v1)
            .key_usages(KeyUsageName::DigitalSignature)
            .extended_key_usages(ExtendedKeyUsageName::TlsWebServerAuthentication)
            .export_option(CertificateExport::Disabled)
            .in_use(true)
            .exported(false)
            .renewal_eligibility(RenewalEligibility::Eligible)
            .not_before(DateTime::from_secs(1_700_000_000))
            .not_after(DateTime::from_secs(1_731_536_000))
            .created_at(DateTime::from_secs(1_699_999_000))
            .issued_at(DateTime::from_secs(1_700_000_100))
            .imported_at(DateTime::from_secs(1_700_000_200))
            .revoked_at(DateTime::from_secs(1_700_000_300))
            .managed_by(CertificateManagedBy::Cloudfront)
            .certificate_key_pair_origin(CertificateKeyPairOrigin::AwsManaged)
            .build();
        assert_eq!(
            wrap(&summary),
            json!({
                "CertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
                "DomainName": "example.com",
                "SubjectAlternativeNameSummaries": ["example.com", "www.example.com"],
                "HasAdditionalSubjectAlternativeNames": false,
                "Status": "ISSUED",
                "Type": "AMAZON_ISSUED",
                "KeyAlgorithm": "EC_prime256v1",
                "KeyUsages": ["DIGITAL_SIGNATURE"],
                "ExtendedKeyUsages": ["TLS_WEB_SERVER_AUTHENTICATION"],
                "ExportOption": "DISABLED",
                "InUse": true,
                "Exported": false,
                "RenewalEligibility": "ELIGIBLE",
                "NotBefore": "2023-11-14T22:13:20Z",
                "NotAfter": "2024-11-13T22:13:20Z",
                "CreatedAt": "2023-11-14T21:56:40Z",
                "IssuedAt": "2023-11-14T22:15:00Z",
                "ImportedAt": "2023-11-14T22:16:40Z",
                "RevokedAt": "2023-11-14T22:18:20Z",
                "ManagedBy": "CLOUDFRONT",
                "CertificateKeyPairOrigin": "AWS_MANAGED",
                "__Kind": "AWS::ACM::Certificate",
                "__AccountId": "123456789012",
                "__Region": "eu-west-1",
                "__ExtraContext": {"AccountId": "123456789012", "Region": "eu-west-1"}
            })
        );
    }
}
