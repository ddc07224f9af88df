//! `AWS::SecretsManager::Secret`: Secrets Manager ListSecrets, one scope per region.
//!
//! Metadata only: ListSecrets never returns secret values, and nothing here calls
//! GetSecretValue.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::operation::list_secrets::ListSecretsOutput;
use aws_sdk_secretsmanager::types::{
    ExternalSecretRotationMetadataItem, RotationRulesType, SecretListEntry, Tag,
};
use serde_json::{Map, Value};

use super::Kind;
use super::calls::counted_client;
use super::raw::RawItem;
use super::scopes::{AccountContext, ListCall, ScopePages};

const KIND: Kind = Kind::Secret;

/// ListSecrets' maximum page size.
const PAGE_SIZE: i32 = 100;

/// ListSecrets: its items in AWS's JSON names.
const LIST: ListCall<ListSecretsOutput, SecretListEntry> = ListCall {
    kind: KIND,
    operation: "ListSecrets",
    items: |output| output.secret_list.unwrap_or_default(),
    item: secret_item,
};

/// Every page of secrets in one region of one account. Secrets scheduled for deletion
/// are left out (IncludePlannedDeletion stays false): they are on their way out.
pub(crate) fn fetch_region(account: AccountContext, region: String) -> ScopePages {
    let client = counted_client!(aws_sdk_secretsmanager, &account.config, &region);
    let mut responses = client
        .list_secrets()
        .max_results(PAGE_SIZE)
        .into_paginator()
        .send();
    LIST.pages(account, region, move |context| responses.poll_next(context))
}

/// One secret as AWS's ListSecrets JSON names it.
pub(crate) fn secret_item(entry: &SecretListEntry) -> RawItem {
    let mut item = RawItem::new();
    item.string("ARN", entry.arn.as_deref())
        .string("Name", entry.name.as_deref())
        .string("Type", entry.r#type.as_deref())
        .string("Description", entry.description.as_deref())
        .string("KmsKeyId", entry.kms_key_id.as_deref())
        .bool("RotationEnabled", entry.rotation_enabled)
        .string("RotationLambdaARN", entry.rotation_lambda_arn.as_deref())
        .value(
            "RotationRules",
            entry.rotation_rules.as_ref().map(rotation_rules),
        )
        .value(
            "ExternalSecretRotationMetadata",
            entry
                .external_secret_rotation_metadata
                .as_deref()
                .map(rotation_metadata),
        )
        .string(
            "ExternalSecretRotationRoleArn",
            entry.external_secret_rotation_role_arn.as_deref(),
        )
        .timestamp("LastRotatedDate", entry.last_rotated_date.as_ref())
        .timestamp("LastChangedDate", entry.last_changed_date.as_ref())
        .timestamp("LastAccessedDate", entry.last_accessed_date.as_ref())
        .timestamp("DeletedDate", entry.deleted_date.as_ref())
        .timestamp("NextRotationDate", entry.next_rotation_date.as_ref())
        .value("Tags", entry.tags.as_deref().map(tags))
        .value(
            "SecretVersionsToStages",
            entry.secret_versions_to_stages.as_ref().map(|versions| {
                // Sorted so the same secret always gives the same JSON (the HashMap's
                // order is random), which keeps diffs against Port quiet.
                let sorted: BTreeMap<_, _> = versions.iter().collect();
                let map: Map<String, Value> = sorted
                    .into_iter()
                    .map(|(version, stages)| (version.clone(), Value::from(stages.clone())))
                    .collect();
                Value::Object(map)
            }),
        )
        .string("OwningService", entry.owning_service.as_deref())
        .timestamp("CreatedDate", entry.created_date.as_ref())
        .string("PrimaryRegion", entry.primary_region.as_deref());
    item
}

fn rotation_rules(rules: &RotationRulesType) -> Value {
    let mut item = RawItem::new();
    item.integer("AutomaticallyAfterDays", rules.automatically_after_days)
        .string("Duration", rules.duration.as_deref())
        .string("ScheduleExpression", rules.schedule_expression.as_deref());
    Value::Object(item.into_map())
}

/// `[{"Key": …, "Value": …}]`, AWS's own tag shape, in AWS's order.
fn tags(tags: &[Tag]) -> Value {
    key_values(
        tags.iter()
            .map(|tag| (tag.key.as_deref(), tag.value.as_deref())),
    )
}

/// A managed external secret's partner metadata, `[{"Key": …, "Value": …}]` as AWS
/// sends it, in AWS's order.
fn rotation_metadata(items: &[ExternalSecretRotationMetadataItem]) -> Value {
    key_values(
        items
            .iter()
            .map(|item| (item.key.as_deref(), item.value.as_deref())),
    )
}

fn key_values<'a>(pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> Value {
    pairs
        .map(|(key, value)| {
            let mut item = RawItem::new();
            item.string("Key", key).string("Value", value);
            Value::Object(item.into_map())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::DateTime;
    use serde_json::json;

    #[test]
    fn converts_every_field_with_aws_names() {
        let entry = SecretListEntry::builder()
            .arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf")
            .name("db")
            .r#type("SalesforceClientCredentials")
            .description("database password")
            .kms_key_id("alias/secrets")
            .rotation_enabled(true)
            .rotation_lambda_arn("arn:aws:lambda:eu-west-1:123456789012:function:rotate")
            .rotation_rules(
                RotationRulesType::builder()
                    .automatically_after_days(30)
                    .duration("2h")
                    .schedule_expression("rate(30 days)")
                    .build(),
            )
            .external_secret_rotation_metadata(
                ExternalSecretRotationMetadataItem::builder()
                    .key("instance")
                    .value("https://example.my.salesforce.com")
                    .build(),
            )
            .external_secret_rotation_metadata(
                ExternalSecretRotationMetadataItem::builder()
                    .key("apiVersion")
                    .value("v60.0")
                    .build(),
            )
            .external_secret_rotation_role_arn("arn:aws:iam::123456789012:role/rotation")
            .last_rotated_date(DateTime::from_secs(1_700_000_000))
            .last_changed_date(DateTime::from_secs(1_700_000_001))
            .last_accessed_date(DateTime::from_secs(1_699_920_000))
            .deleted_date(DateTime::from_secs(1_700_000_002))
            .next_rotation_date(DateTime::from_secs(1_702_592_000))
            .tags(Tag::builder().key("team").value("payments").build())
            .tags(Tag::builder().key("env").value("prod").build())
            .secret_versions_to_stages("v2", vec!["AWSPREVIOUS".to_owned()])
            .secret_versions_to_stages("v1", vec!["AWSCURRENT".to_owned()])
            .owning_service("rds")
            .created_date(DateTime::from_secs(1_690_000_000))
            .primary_region("eu-west-1")
            .build();
        let item = Value::Object(secret_item(&entry).into_map());
        assert_eq!(
            item,
            json!({
                "ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
                "Name": "db",
                "Type": "SalesforceClientCredentials",
                "Description": "database password",
                "KmsKeyId": "alias/secrets",
                "RotationEnabled": true,
                "RotationLambdaARN": "arn:aws:lambda:eu-west-1:123456789012:function:rotate",
                "RotationRules": {
                    "AutomaticallyAfterDays": 30,
                    "Duration": "2h",
                    "ScheduleExpression": "rate(30 days)"
                },
                "ExternalSecretRotationMetadata": [
                    {"Key": "instance", "Value": "https://example.my.salesforce.com"},
                    {"Key": "apiVersion", "Value": "v60.0"}
                ],
                "ExternalSecretRotationRoleArn": "arn:aws:iam::123456789012:role/rotation",
                "LastRotatedDate": "2023-11-14T22:13:20Z",
                "LastChangedDate": "2023-11-14T22:13:21Z",
                "LastAccessedDate": "2023-11-14T00:00:00Z",
                "DeletedDate": "2023-11-14T22:13:22Z",
                "NextRotationDate": "2023-12-14T22:13:20Z",
                "Tags": [{"Key": "team", "Value": "payments"}, {"Key": "env", "Value": "prod"}],
                "SecretVersionsToStages": {"v1": ["AWSCURRENT"], "v2": ["AWSPREVIOUS"]},
                "OwningService": "rds",
                "CreatedDate": "2023-07-22T04:26:40Z",
                "PrimaryRegion": "eu-west-1"
            })
        );
        // preserve_order keeps insertion order: versions must come out sorted.
        let versions: Vec<&String> = item["SecretVersionsToStages"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(versions, ["v1", "v2"]);
    }

    #[test]
    fn minimal_secret_has_no_nulls() {
        let entry = SecretListEntry::builder().name("bare").build();
        assert_eq!(
            Value::Object(secret_item(&entry).into_map()),
            json!({"Name": "bare"})
        );
    }
}
