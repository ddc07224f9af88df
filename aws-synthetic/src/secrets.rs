//! Secrets Manager `ListSecrets`: `SecretListEntry` items as AWS returns them (metadata only;
//! no secret has a value here), every region holding the same number of secrets.

use serde_json::{Map, Value, json};

use crate::ids::{EPOCH, arn_suffix, created_at, seed, uuid};
use crate::paging;
use crate::protocol::{AwsError, only_members, page_size, start_index};
use crate::settings::Catalog;

pub const TARGET: &str = "secretsmanager.ListSecrets";

/// ListSecrets' largest page, also what it answers when MaxResults is left out.
pub const MAX_RESULTS: usize = 100;

/// One ListSecrets page for `region`.
pub fn list(
    catalog: &Catalog,
    region: &str,
    request: &Map<String, Value>,
) -> Result<Value, AwsError> {
    // No secret is planned for deletion, so IncludePlannedDeletion changes nothing.
    only_members(
        request,
        &["MaxResults", "NextToken", "IncludePlannedDeletion"],
    )?;
    let limit = page_size(request, "MaxResults", 1..=MAX_RESULTS)?.unwrap_or(MAX_RESULTS);
    let total = catalog.secrets_per_region;
    let page = paging::page(start_index(request, total)?, limit, total, |_| true);
    let secrets: Vec<Value> = page
        .indices
        .iter()
        .map(|&index| secret(&catalog.account_id, region, index))
        .collect();
    let mut body = json!({"SecretList": secrets});
    if let Some(token) = page.next_token {
        body["NextToken"] = json!(token);
    }
    Ok(body)
}

/// Secret `index` of `region`: a mix of what real secrets carry. Every third has no
/// description, every fourth a customer KMS key, every fifth rotation; all have two tags and
/// one current version. Member order and omissions follow AWS (absent, not null, when unset).
pub fn secret(account_id: &str, region: &str, index: usize) -> Value {
    let name = format!("bench/app-{:03}/secret-{index:07}", index % 500);
    let suffix = arn_suffix(seed("secret", region, index));
    let mut item = Map::new();
    item.insert(
        "ARN".into(),
        json!(format!(
            "arn:aws:secretsmanager:{region}:{account_id}:secret:{name}-{suffix}"
        )),
    );
    item.insert("Name".into(), json!(name));
    if !index.is_multiple_of(3) {
        item.insert(
            "Description".into(),
            json!(format!(
                "Credentials of app-{:03}, synthetic secret {index}",
                index % 500
            )),
        );
    }
    if index.is_multiple_of(4) {
        item.insert(
            "KmsKeyId".into(),
            json!(format!(
                "arn:aws:kms:{region}:{account_id}:key/{}",
                uuid(seed("kms", region, index % 16))
            )),
        );
    }
    let created = created_at(index);
    if index.is_multiple_of(5) {
        item.insert("RotationEnabled".into(), json!(true));
        item.insert(
            "RotationLambdaARN".into(),
            json!(format!(
                "arn:aws:lambda:{region}:{account_id}:function:rotate-app-{:03}",
                index % 500
            )),
        );
        item.insert(
            "RotationRules".into(),
            json!({"AutomaticallyAfterDays": 30}),
        );
        item.insert("LastRotatedDate".into(), timestamp(created + 86_400, index));
        item.insert(
            "NextRotationDate".into(),
            timestamp(created + 31 * 86_400, 0),
        );
    }
    item.insert("LastChangedDate".into(), timestamp(created + 3_600, index));
    // AWS reports the last access to the day.
    item.insert(
        "LastAccessedDate".into(),
        json!(EPOCH - (index as i64 % 30) * 86_400),
    );
    item.insert(
        "Tags".into(),
        json!([
            {"Key": "team", "Value": format!("team-{:02}", index % 17)},
            {"Key": "env", "Value": if index.is_multiple_of(2) { "prod" } else { "staging" }},
        ]),
    );
    item.insert(
        "SecretVersionsToStages".into(),
        json!({ uuid(seed("version", region, index)): ["AWSCURRENT"] }),
    );
    item.insert("CreatedDate".into(), timestamp(created, index));
    Value::Object(item)
}

/// Epoch seconds with milliseconds, the JSON protocol's timestamp format.
fn timestamp(seconds: i64, index: usize) -> Value {
    json!(seconds as f64 + (index % 1000) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(secrets: usize) -> Catalog {
        Catalog {
            account_id: "123456789012".into(),
            secrets_per_region: secrets,
            certificates_per_region: 0,
        }
    }

    fn request(json: Value) -> Map<String, Value> {
        json.as_object().unwrap().clone()
    }

    #[test]
    fn pages_of_max_results_then_the_rest() {
        let first = list(
            &catalog(250),
            "eu-west-1",
            &request(json!({"MaxResults": 100})),
        )
        .unwrap();
        assert_eq!(first["SecretList"].as_array().unwrap().len(), 100);
        let token = first["NextToken"].as_str().unwrap();
        let third = list(
            &catalog(250),
            "eu-west-1",
            &request(json!({"MaxResults": 100, "NextToken": paging::token(200)})),
        )
        .unwrap();
        assert_eq!(third["SecretList"].as_array().unwrap().len(), 50);
        assert!(third.get("NextToken").is_none());
        assert_ne!(token, paging::token(200));
        assert_eq!(
            third["SecretList"][0],
            secret("123456789012", "eu-west-1", 200)
        );
    }

    #[test]
    fn a_filter_is_refused_not_ignored() {
        let error = list(
            &catalog(10),
            "eu-west-1",
            &request(json!({"Filters": [{"Key": "name", "Values": ["x"]}]})),
        )
        .unwrap_err();
        assert!(error.message.contains("\"Filters\""), "{}", error.message);
    }

    #[test]
    fn arn_names_region_account_and_name() {
        let item = secret("123456789012", "us-west-2", 42);
        let arn = item["ARN"].as_str().unwrap();
        let name = item["Name"].as_str().unwrap();
        assert!(
            arn.starts_with(&format!(
                "arn:aws:secretsmanager:us-west-2:123456789012:secret:{name}-"
            )),
            "{arn}"
        );
        assert_eq!(arn.len(), arn.find(name).unwrap() + name.len() + 7, "{arn}");
        assert_ne!(item, secret("123456789012", "us-west-2", 43));
        assert_eq!(item, secret("123456789012", "us-west-2", 42));
    }
}
