//! ACM `ListCertificates`: `CertificateSummary` items as ACM returns them, with the two
//! filters ACM applies (`CertificateStatuses`, `Includes.keyTypes`) applied here too.

use serde_json::{Map, Value, json};

use crate::ids::{EPOCH, created_at, seed, uuid};
use crate::paging;
use crate::protocol::{AwsError, only_members, page_size, start_index};
use crate::settings::Catalog;

pub const TARGET: &str = "CertificateManager.ListCertificates";

/// ListCertificates' largest page, also what it answers when MaxItems is left out.
pub const MAX_ITEMS: usize = 1000;

/// What ACM lists when a request names no key types: RSA_1024 and RSA_2048 only, which is
/// why a lister must name them all to see EC and larger RSA keys.
const DEFAULT_KEY_TYPES: [&str; 2] = ["RSA_1024", "RSA_2048"];

const DAY: i64 = 86_400;

/// One ListCertificates page for `region`.
pub fn list(
    catalog: &Catalog,
    region: &str,
    request: &Map<String, Value>,
) -> Result<Value, AwsError> {
    only_members(
        request,
        &["MaxItems", "NextToken", "CertificateStatuses", "Includes"],
    )?;
    let statuses = strings(request.get("CertificateStatuses"), "CertificateStatuses")?;
    let key_types = match request.get("Includes") {
        None => None,
        Some(Value::Object(includes)) => {
            only_members(includes, &["keyTypes"])?;
            strings(includes.get("keyTypes"), "Includes.keyTypes")?
        }
        Some(other) => {
            return Err(AwsError::validation(format!(
                "Includes must be an object, got {other}"
            )));
        }
    };
    let key_types = key_types.unwrap_or_else(|| DEFAULT_KEY_TYPES.map(str::to_owned).to_vec());
    let limit = page_size(request, "MaxItems", 1..=MAX_ITEMS)?.unwrap_or(MAX_ITEMS);
    let total = catalog.certificates_per_region;
    let keep = |index: usize| {
        key_types.iter().any(|k| k == key_algorithm(index))
            && statuses
                .as_ref()
                .is_none_or(|s| s.iter().any(|s| s == status(index)))
    };
    let page = paging::page(start_index(request, total)?, limit, total, keep);
    let summaries: Vec<Value> = page
        .indices
        .iter()
        .map(|&index| certificate(&catalog.account_id, region, index))
        .collect();
    let mut body = json!({"CertificateSummaryList": summaries});
    if let Some(token) = page.next_token {
        body["NextToken"] = json!(token);
    }
    Ok(body)
}

/// An optional list of strings (an absent or empty list filters nothing).
fn strings(value: Option<&Value>, member: &str) -> Result<Option<Vec<String>>, AwsError> {
    let Some(value) = value else { return Ok(None) };
    let list: Option<Vec<String>> = value.as_array().and_then(|items| {
        items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect()
    });
    match list {
        Some(list) if list.is_empty() => Ok(None),
        Some(list) => Ok(Some(list)),
        None => Err(AwsError::validation(format!(
            "{member} must be a list of strings, got {value}"
        ))),
    }
}

/// Half RSA_2048, a quarter EC_prime256v1, a quarter RSA_4096: the last two are what ACM
/// leaves out unless asked for by key type.
fn key_algorithm(index: usize) -> &'static str {
    match index % 4 {
        1 => "EC_prime256v1",
        3 => "RSA_4096",
        _ => "RSA_2048",
    }
}

/// One in twenty expired, the rest issued.
fn status(index: usize) -> &'static str {
    if index % 20 == 19 {
        "EXPIRED"
    } else {
        "ISSUED"
    }
}

/// Certificate `index` of `region`; one in five imported, the rest issued by Amazon.
/// Member order and omissions follow ACM (no `IssuedAt` on an imported certificate, no
/// `ImportedAt` on an issued one).
pub fn certificate(account_id: &str, region: &str, index: usize) -> Value {
    let domain = format!("svc-{index:07}.{region}.bench.example.com");
    let imported = index % 5 == 4;
    let created = created_at(index);
    let not_before = created + if imported { 0 } else { 300 };
    let not_after = if status(index) == "EXPIRED" {
        EPOCH - DAY
    } else {
        not_before + 395 * DAY
    };
    let mut item = Map::new();
    item.insert(
        "CertificateArn".into(),
        json!(format!(
            "arn:aws:acm:{region}:{account_id}:certificate/{}",
            uuid(seed("certificate", region, index))
        )),
    );
    item.insert("DomainName".into(), json!(domain));
    item.insert(
        "SubjectAlternativeNameSummaries".into(),
        json!([domain, format!("www.{domain}")]),
    );
    item.insert("HasAdditionalSubjectAlternativeNames".into(), json!(false));
    item.insert("Status".into(), json!(status(index)));
    item.insert(
        "Type".into(),
        json!(if imported {
            "IMPORTED"
        } else {
            "AMAZON_ISSUED"
        }),
    );
    item.insert("KeyAlgorithm".into(), json!(key_algorithm(index)));
    item.insert(
        "KeyUsages".into(),
        json!(["DIGITAL_SIGNATURE", "KEY_ENCIPHERMENT"]),
    );
    item.insert(
        "ExtendedKeyUsages".into(),
        json!([
            "TLS_WEB_SERVER_AUTHENTICATION",
            "TLS_WEB_CLIENT_AUTHENTICATION"
        ]),
    );
    item.insert("ExportOption".into(), json!("DISABLED"));
    item.insert("InUse".into(), json!(index.is_multiple_of(2)));
    item.insert("Exported".into(), json!(false));
    item.insert(
        "RenewalEligibility".into(),
        json!(if imported { "INELIGIBLE" } else { "ELIGIBLE" }),
    );
    item.insert("NotBefore".into(), json!(not_before));
    item.insert("NotAfter".into(), json!(not_after));
    item.insert("CreatedAt".into(), json!(created));
    if imported {
        item.insert("ImportedAt".into(), json!(created));
    } else {
        item.insert("IssuedAt".into(), json!(created + 300));
    }
    Value::Object(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(certificates: usize) -> Catalog {
        Catalog {
            account_id: "123456789012".into(),
            secrets_per_region: 0,
            certificates_per_region: certificates,
        }
    }

    fn listed(certificates: usize, request: Value) -> Vec<Value> {
        let mut request = request.as_object().unwrap().clone();
        let mut all = Vec::new();
        loop {
            let page = list(&catalog(certificates), "eu-west-1", &request).unwrap();
            all.extend(
                page["CertificateSummaryList"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .cloned(),
            );
            match page.get("NextToken") {
                Some(token) => request.insert("NextToken".into(), token.clone()),
                None => return all,
            };
        }
    }

    #[test]
    fn without_key_types_only_rsa_1024_and_2048_are_listed() {
        let all = listed(100, json!({}));
        assert_eq!(all.len(), 50);
        assert!(all.iter().all(|c| c["KeyAlgorithm"] == "RSA_2048"));
    }

    #[test]
    fn every_key_type_and_a_status_filter() {
        let every = json!(["RSA_1024", "RSA_2048", "RSA_4096", "EC_prime256v1"]);
        let all = listed(100, json!({"Includes": {"keyTypes": every}, "MaxItems": 7}));
        assert_eq!(all.len(), 100);
        let expired = listed(
            100,
            json!({"Includes": {"keyTypes": every}, "CertificateStatuses": ["EXPIRED"]}),
        );
        assert_eq!(expired.len(), 5);
        assert!(expired.iter().all(|c| c["Status"] == "EXPIRED"));
    }

    #[test]
    fn imported_and_issued_carry_their_own_dates() {
        let issued = certificate("123456789012", "eu-west-1", 0);
        let imported = certificate("123456789012", "eu-west-1", 4);
        assert!(issued.get("IssuedAt").is_some() && issued.get("ImportedAt").is_none());
        assert!(imported.get("ImportedAt").is_some() && imported.get("IssuedAt").is_none());
        assert!(
            issued["CertificateArn"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:acm:eu-west-1:123456789012:certificate/")
        );
    }
}
