//! Recognition of realistic events: the samples in tests/fixtures/live-events (shapes from
//! the AWS user guides), also used to check the shipped EventBridge rules against moto.

use serde_json::{Value, json};

use super::*;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const SECRET_ARN: &str =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db-password-AbC123";
const CERT_ARN: &str =
    "arn:aws:acm:eu-west-1:123456789012:certificate/61f50cd4-45b9-4259-b049-d0a53682fa4b";

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!(
            "../../tests/fixtures/live-events/",
            $name,
            ".json"
        )))
        .expect(concat!($name, " is JSON"))
    };
}

fn one(event: &Value) -> LiveEvent {
    let mut events = recognize(event).unwrap_or_else(|ignored| panic!("ignored: {ignored}"));
    assert_eq!(events.len(), 1, "{events:?}");
    events.remove(0)
}

fn ignored(event: &Value) -> Ignored {
    match recognize(event) {
        Ok(events) => panic!("recognized {events:?}"),
        Err(ignored) => ignored,
    }
}

fn time(text: &str) -> Option<jiff::Timestamp> {
    Some(text.parse().unwrap())
}

#[test]
fn create_secret_names_the_new_secret_by_its_arn() {
    let event = one(&fixture!("secretsmanager-create-secret"));
    assert_eq!(
        event,
        LiveEvent {
            kind: Kind::Secret,
            resource: SECRET_ARN.into(),
            account: Some(ACCOUNT.into()),
            region: Some(REGION.into()),
            time: time("2026-12-01T10:01:00Z"),
            source: Source::CloudTrail,
            action: "CreateSecret".into(),
        }
    );
}

#[test]
fn create_secret_without_a_response_falls_back_to_the_requested_name() {
    let mut event = fixture!("secretsmanager-create-secret");
    event["detail"]["responseElements"] = Value::Null;
    assert_eq!(one(&event).resource, "app/db-password");
}

#[test]
fn calls_on_a_secret_name_it_as_the_caller_passed_it() {
    let tagged = one(&fixture!("secretsmanager-tag-resource"));
    assert_eq!(tagged.resource, "app/db-password");
    assert_eq!(tagged.action, "TagResource");
    let put = one(&fixture!("secretsmanager-put-secret-value"));
    assert_eq!(put.resource, SECRET_ARN);
    let restored = one(&fixture!("secretsmanager-restore-secret"));
    assert_eq!(restored.resource, "app/db-password");
    // Both spellings are the same resource.
    assert_eq!(tagged.key(), put.key());
    assert_eq!(tagged.key(), restored.key());
}

#[test]
fn every_handled_secret_call_reads_its_secret_id() {
    for name in [
        "UpdateSecret",
        "PutSecretValue",
        "UpdateSecretVersionStage",
        "RestoreSecret",
        "TagResource",
        "UntagResource",
        "RotateSecret",
        "CancelRotateSecret",
        "StopReplicationToReplica",
    ] {
        let mut event = fixture!("secretsmanager-tag-resource");
        event["detail"]["eventName"] = json!(name);
        let live = one(&event);
        assert_eq!(live.resource, "app/db-password", "{name}");
        assert_eq!(live.action, name);
    }
}

#[test]
fn delete_secret_reads_the_arn_under_its_old_spelling_and_the_new_one() {
    let old = fixture!("secretsmanager-delete-secret");
    assert!(old["detail"]["responseElements"]["aRN"].is_string());
    assert_eq!(one(&old).resource, SECRET_ARN);

    let mut new = old.clone();
    new["detail"]["responseElements"] = json!({"arn": SECRET_ARN, "name": "app/db-password"});
    assert_eq!(one(&new).resource, SECRET_ARN);

    let mut bare = old;
    bare["detail"]["responseElements"] = Value::Null;
    assert_eq!(one(&bare).resource, "app/db-password");
}

#[test]
fn rotation_service_event_names_the_secret_in_additional_event_data() {
    let event = one(&fixture!("secretsmanager-rotation-succeeded"));
    assert_eq!(event.resource, SECRET_ARN);
    assert_eq!(event.source, Source::CloudTrail);
}

#[test]
fn replication_also_reads_each_replica_in_its_region() {
    let mut event = fixture!("secretsmanager-tag-resource");
    event["detail"]["eventName"] = json!("ReplicateSecretToRegions");
    event["detail"]["requestParameters"] = json!({
        "secretId": SECRET_ARN,
        "addReplicaRegions": [{"region": "us-west-2"}, {"region": "ap-south-1", "kmsKeyId": "alias/x"}]
    });
    let events = recognize(&event).unwrap();
    let keys: Vec<_> = events.iter().map(LiveEvent::key).collect();
    let key = |region: &str| ResourceKey {
        kind: Kind::Secret,
        account: Some(ACCOUNT.into()),
        region: Some(region.into()),
        id: "app/db-password".into(),
    };
    assert_eq!(keys, vec![key(REGION), key("us-west-2"), key("ap-south-1")]);

    event["detail"]["eventName"] = json!("RemoveRegionsFromReplication");
    event["detail"]["requestParameters"] =
        json!({"secretId": "app/db-password", "removeReplicaRegions": ["us-west-2"]});
    let keys: Vec<_> = recognize(&event)
        .unwrap()
        .iter()
        .map(LiveEvent::key)
        .collect();
    assert_eq!(keys, vec![key(REGION), key("us-west-2")]);
}

#[test]
fn failed_calls_are_ignored_whatever_their_name() {
    assert_eq!(
        ignored(&fixture!("secretsmanager-create-secret-failed")),
        Ignored::FailedCall {
            event_name: "CreateSecret".into(),
            error_code: "ResourceExistsException".into(),
        }
    );
    let mut denied = fixture!("acm-delete-certificate");
    denied["detail"]["errorCode"] = json!("AccessDenied");
    assert_eq!(ignored(&denied).label(), "failed_call");
    // A null errorCode is no error.
    let mut fine = fixture!("acm-delete-certificate");
    fine["detail"]["errorCode"] = Value::Null;
    assert_eq!(one(&fine).resource, CERT_ARN);
}

#[test]
fn read_only_calls_are_ignored() {
    assert_eq!(
        ignored(&fixture!("secretsmanager-get-secret-value")),
        Ignored::ReadOnlyCall {
            event_name: "GetSecretValue".into()
        }
    );
    // Known read-only names count even without the readOnly flag.
    let mut describe = fixture!("acm-add-tags");
    describe["detail"]["eventName"] = json!("DescribeCertificate");
    describe["detail"]["readOnly"] = Value::Null;
    assert_eq!(ignored(&describe).label(), "read_only_call");
}

#[test]
fn unknown_calls_and_services_are_ignored() {
    assert_eq!(
        ignored(&fixture!("ec2-run-instances")),
        Ignored::UnknownEvent {
            source: "aws.ec2".into(),
            detail_type: "AWS API Call via CloudTrail".into(),
            event_name: Some("RunInstances".into()),
        }
    );
    let mut unknown_call = fixture!("secretsmanager-tag-resource");
    unknown_call["detail"]["eventName"] = json!("PutResourcePolicy");
    assert_eq!(ignored(&unknown_call).label(), "unknown_event");
    let scheduled = json!({
        "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": "2026-12-01T10:00:00Z", "region": REGION, "resources": [], "detail": {}
    });
    assert_eq!(
        ignored(&scheduled),
        Ignored::UnknownEvent {
            source: "aws.events".into(),
            detail_type: "Scheduled Event".into(),
            event_name: None,
        }
    );
}

#[test]
fn a_handled_call_without_its_identifier_is_ignored_naming_the_field() {
    let mut event = fixture!("secretsmanager-tag-resource");
    event["detail"]["requestParameters"] = json!({});
    let ignored = ignored(&event);
    assert_eq!(
        ignored,
        Ignored::NoResource {
            event_name: "TagResource".into(),
            field: "requestParameters.secretId",
        }
    );
    assert_eq!(
        ignored.to_string(),
        "TagResource has no requestParameters.secretId naming its resource"
    );
}

#[test]
fn acm_native_events_name_the_certificate_in_resources() {
    for (fixture, action) in [
        (
            fixture!("acm-certificate-available"),
            "ACM Certificate Available",
        ),
        (
            fixture!("acm-approaching-expiration"),
            "ACM Certificate Approaching Expiration",
        ),
    ] {
        let event = one(&fixture);
        assert_eq!(event.kind, Kind::AcmCertificate);
        assert_eq!(event.resource, CERT_ARN);
        assert_eq!(event.source, Source::Service);
        assert_eq!(event.action, action);
        assert_eq!(event.account.as_deref(), Some(ACCOUNT));
    }
    for detail_type in [
        "ACM Certificate Expired",
        "ACM Certificate Renewal Action Required",
        "ACM Certificate Revoked",
    ] {
        let mut event = fixture!("acm-approaching-expiration");
        event["detail-type"] = json!(detail_type);
        assert_eq!(one(&event).action, detail_type);
    }
    let mut no_resource = fixture!("acm-certificate-available");
    no_resource["resources"] = json!([]);
    assert_eq!(ignored(&no_resource).label(), "no_resource");
}

#[test]
fn acm_calls_name_the_certificate_arn() {
    for fixture in [
        fixture!("acm-import-certificate"),
        fixture!("acm-delete-certificate"),
        fixture!("acm-add-tags"),
    ] {
        let event = one(&fixture);
        assert_eq!(event.kind, Kind::AcmCertificate);
        assert_eq!(event.resource, CERT_ARN);
        assert_eq!(event.source, Source::CloudTrail);
    }
    let mut request = fixture!("acm-import-certificate");
    request["detail"]["eventName"] = json!("RequestCertificate");
    request["detail"]["requestParameters"] = json!({"domainName": "www.example.com"});
    assert_eq!(one(&request).resource, CERT_ARN);
    let mut untag = fixture!("acm-add-tags");
    untag["detail"]["eventName"] = json!("RemoveTagsFromCertificate");
    assert_eq!(one(&untag).resource, CERT_ARN);
}

#[test]
fn account_creation_is_read_when_it_succeeded() {
    let event = one(&fixture!("organizations-create-account-result"));
    assert_eq!(event.kind, Kind::Account);
    assert_eq!(event.resource, "222222222222");
    assert_eq!(event.account.as_deref(), Some("111111111111"));
    assert_eq!(event.region.as_deref(), Some("us-east-1"));
    assert_eq!(
        ignored(&fixture!("organizations-create-account-failed")),
        Ignored::NoCatalogChange {
            event_name: "CreateAccountResult".into(),
            why: "the request ended in state FAILED".into(),
        }
    );
}

#[test]
fn account_membership_calls_name_the_account() {
    assert_eq!(
        one(&fixture!("organizations-remove-account")).resource,
        "333333333333"
    );
    assert_eq!(
        one(&fixture!("organizations-accept-handshake")).resource,
        "444444444444"
    );
    assert_eq!(
        one(&fixture!("organizations-close-account-result")).resource,
        "555555555555"
    );
    let mut moved = fixture!("organizations-remove-account");
    moved["detail"]["eventName"] = json!("MoveAccount");
    moved["detail"]["requestParameters"] = json!({"accountId": "333333333333", "sourceParentId": "r-ab12", "destinationParentId": "ou-ab12-cdef3456"});
    assert_eq!(one(&moved).resource, "333333333333");

    let mut invite = fixture!("organizations-remove-account");
    invite["detail"]["eventName"] = json!("InviteAccountToOrganization");
    invite["detail"]["requestParameters"] =
        json!({"target": {"type": "ACCOUNT", "id": "666666666666"}});
    assert_eq!(one(&invite).resource, "666666666666");
    invite["detail"]["requestParameters"] =
        json!({"target": {"type": "EMAIL", "id": "someone@example.com"}});
    assert_eq!(ignored(&invite).label(), "no_catalog_change");

    let mut leave = fixture!("organizations-remove-account");
    leave["detail"]["eventName"] = json!("LeaveOrganization");
    leave["detail"]["requestParameters"] = Value::Null;
    leave["detail"]["userIdentity"]["accountId"] = json!("777777777777");
    assert_eq!(one(&leave).resource, "777777777777");
}

#[test]
fn a_handshake_that_is_no_invitation_changes_nothing() {
    let mut event = fixture!("organizations-accept-handshake");
    event["detail"]["responseElements"]["handshake"]["action"] = json!("ENABLE_ALL_FEATURES");
    assert_eq!(ignored(&event).label(), "no_catalog_change");
}

#[test]
fn account_falls_back_to_the_recipient_account_without_an_envelope_account() {
    let mut event = fixture!("secretsmanager-tag-resource");
    event.as_object_mut().unwrap().remove("account");
    event["detail"]["recipientAccountId"] = json!("210987654321");
    assert_eq!(one(&event).account.as_deref(), Some("210987654321"));
    event.as_object_mut().unwrap().remove("region");
    assert_eq!(
        one(&event).region.as_deref(),
        Some(REGION),
        "detail.awsRegion"
    );
}

#[test]
fn a_forwarded_member_event_keeps_its_account_and_region() {
    let event = one(&fixture!("secretsmanager-update-secret-member"));
    assert_eq!(event.account.as_deref(), Some("210987654321"));
    assert_eq!(
        event.key(),
        ResourceKey {
            kind: Kind::Secret,
            account: Some("210987654321".into()),
            region: Some("us-east-2".into()),
            id: "shared/api-key".into(),
        }
    );
}

#[test]
fn ocean_webhook_body_names_kind_identifier_account_and_region() {
    let body = json!({
        "resource_type": "AWS::ACM::Certificate",
        "identifier": CERT_ARN,
        "accountId": ACCOUNT,
        "awsRegion": REGION,
        "eventName": "ACM Certificate Available"
    });
    assert_eq!(
        one(&body),
        LiveEvent {
            kind: Kind::AcmCertificate,
            resource: CERT_ARN.into(),
            account: Some(ACCOUNT.into()),
            region: Some(REGION.into()),
            time: None,
            source: Source::OceanWebhook,
            action: "ACM Certificate Available".into(),
        }
    );
    let minimal =
        json!({"resource_type": "AWS::SecretsManager::Secret", "identifier": "app/db-password"});
    let event = one(&minimal);
    assert_eq!((event.account, event.region), (None, None));
    assert_eq!(event.action, "webhook");
}

#[test]
fn ocean_body_for_another_kind_or_without_identifier_is_ignored() {
    assert_eq!(
        ignored(&json!({"resource_type": "AWS::S3::Bucket", "identifier": "b"})),
        Ignored::UnknownResourceType("AWS::S3::Bucket".into())
    );
    for body in [
        json!({"resource_type": "AWS::SecretsManager::Secret"}),
        json!({"resource_type": "AWS::SecretsManager::Secret", "identifier": ""}),
        json!({"resource_type": 7, "identifier": "x"}),
    ] {
        assert_eq!(ignored(&body).label(), "malformed", "{body}");
    }
}

#[test]
fn other_json_is_malformed_with_a_reason() {
    assert_eq!(
        ignored(&json!([1, 2])),
        Ignored::Malformed("the event is JSON array, not an object".into())
    );
    assert_eq!(ignored(&json!({"hello": "world"})).label(), "malformed");
    assert_eq!(
        ignored(&json!({"detail-type": "x", "detail": {}})),
        Ignored::Malformed("the EventBridge event has no string field source".into())
    );
    assert_eq!(
        ignored(&json!({"source": "aws.acm", "detail-type": "x", "detail": "no"})).label(),
        "malformed"
    );
}

#[test]
fn an_unparsable_time_is_left_out_not_an_error() {
    let mut event = fixture!("acm-add-tags");
    event["time"] = json!("yesterday");
    assert_eq!(one(&event).time, None);
}

#[test]
fn secret_names_come_out_of_arns() {
    assert_eq!(secret_name(SECRET_ARN), "app/db-password");
    assert_eq!(secret_name("app/db-password"), "app/db-password");
    assert_eq!(
        secret_name("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:a-b-c-XyZ789"),
        "a-b-c"
    );
    // Not an ARN of a secret, or no generated suffix: kept as it is.
    assert_eq!(secret_name(CERT_ARN), CERT_ARN);
    assert_eq!(
        secret_name("arn:aws:secretsmanager:eu-west-1:123456789012:secret:short"),
        "short"
    );
}

#[test]
fn keys_of_certificates_and_accounts() {
    let cert = one(&fixture!("acm-delete-certificate")).key();
    assert_eq!(
        cert,
        ResourceKey {
            kind: Kind::AcmCertificate,
            account: Some(ACCOUNT.into()),
            region: Some(REGION.into()),
            id: CERT_ARN.into(),
        }
    );
    // The same certificate from ACM's own event and from CloudTrail.
    assert_eq!(one(&fixture!("acm-certificate-available")).key(), cert);
    let account = one(&fixture!("organizations-remove-account")).key();
    assert_eq!(
        account,
        ResourceKey {
            kind: Kind::Account,
            account: None,
            region: None,
            id: "333333333333".into(),
        }
    );
}

#[test]
fn every_ignored_reason_has_its_own_label() {
    let reasons = [
        Ignored::FailedCall {
            event_name: "a".into(),
            error_code: "b".into(),
        },
        Ignored::ReadOnlyCall {
            event_name: "a".into(),
        },
        Ignored::UnknownEvent {
            source: "a".into(),
            detail_type: "b".into(),
            event_name: None,
        },
        Ignored::NoResource {
            event_name: "a".into(),
            field: "b",
        },
        Ignored::NoCatalogChange {
            event_name: "a".into(),
            why: "b".into(),
        },
        Ignored::UnknownResourceType("a".into()),
        Ignored::Malformed("a".into()),
        Ignored::UnmappedKind(Kind::Secret),
        Ignored::AccountOutOfScope("a".into()),
    ];
    let labels: std::collections::BTreeSet<_> = reasons.iter().map(Ignored::label).collect();
    assert_eq!(labels.len(), reasons.len());
}
