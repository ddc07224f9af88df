//! Live events: the shipped EventBridge rules (deploy/live-events) deliver the events
//! port-aws-sync handles to SQS and leave the others out, checked with moto's EventBridge on
//! realistic event samples (tests/fixtures/live-events); and an event's resource is read
//! again from moto and brought into the Port emulator with the resync's mapping.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_acm::primitives::Blob;
use aws_sdk_sts::config::Region;
use port_aws_sync::actions::catalog::CatalogFollower;
use port_aws_sync::aws::{AccountStrategy, AwsSettings, AwsSources, Kind};
use port_aws_sync::events::{Handled, Ignored, LiveHandler, recognize};
use port_aws_sync::mapping::Mapping;
use port_aws_sync::port::{PortClient, PortConfig};
use port_emulator::{Emulator, paths};
use serde_json::{Value, json};
use support::aws_proxy::{AwsProxy, json_access_denied};
use support::certs::{KeySpec, self_signed};
use support::moto::{ACCOUNT_ID, Moto, credentials};
use support::service::{self, Service};

const REGION: &str = "us-east-1";
/// The rules of both templates, with the pattern file each must carry.
const RULES: [(&str, &str); 3] = [
    ("SecretsManagerRule", "secrets-manager"),
    ("AcmRule", "acm"),
    ("OrganizationsRule", "organizations"),
];

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/live-events")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pattern(name: &str) -> Value {
    read_json(&deploy_dir().join(format!("patterns/{name}.json")))
}

fn fixtures() -> BTreeMap<String, Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/live-events");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("fixture entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, read_json(&path))
        })
        .collect()
}

#[test]
fn both_templates_carry_the_pattern_files_and_terraform_reads_them() {
    for template in ["central.yaml", "member-account.yaml"] {
        let path = deploy_dir().join(template);
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed: Value = serde_saphyr::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not plain YAML: {e}", path.display()));
        for (rule, file) in RULES {
            let resource = &parsed["Resources"][rule];
            assert_eq!(resource["Type"], "AWS::Events::Rule", "{template} {rule}");
            assert_eq!(
                resource["Properties"]["EventPattern"],
                pattern(file),
                "{template}: {rule}'s EventPattern differs from patterns/{file}.json"
            );
            assert_eq!(
                resource["Properties"]["EventBusName"], "default",
                "{template} {rule}"
            );
        }
        assert_eq!(
            parsed["Resources"]["OrganizationsRule"]["Condition"], "InUsEast1",
            "{template}: Organizations events exist in us-east-1 only"
        );
    }
    for module in ["central", "member"] {
        let path = deploy_dir().join(format!("terraform/{module}/main.tf"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(r#"event_pattern  = file("${local.patterns_dir}/${each.key}.json")"#),
            "{}: rules must read the pattern files",
            path.display()
        );
        for (_, file) in RULES {
            // A key of the `rules` map: `name = "description"`.
            let key = regex::Regex::new(&format!(r#"(?m)(^|\{{)\s*{file}\s*=\s*""#)).unwrap();
            assert!(
                key.is_match(&text),
                "{}: no rule for patterns/{file}.json",
                path.display()
            );
        }
    }
}

#[test]
fn central_template_gives_the_consumer_exactly_the_four_queue_actions() {
    let text = std::fs::read_to_string(deploy_dir().join("central.yaml")).unwrap();
    let parsed: Value = serde_saphyr::from_str(&text).unwrap();
    let statement =
        &parsed["Resources"]["ConsumerPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(
        statement["Action"],
        json!([
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes"
        ])
    );
    assert_eq!(
        statement["Resource"],
        json!({"Fn::GetAtt": ["Queue", "Arn"]})
    );
    let queue = &parsed["Resources"]["Queue"]["Properties"];
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"],
        json!({"Fn::GetAtt": ["DeadLetterQueue", "Arn"]})
    );
    assert_eq!(queue["ReceiveMessageWaitTimeSeconds"], 20);
}

/// Which rule each sample must reach; `None`: no rule may deliver it.
fn expected_rule(fixture: &str) -> Option<&'static str> {
    match fixture {
        // Failed and read-only calls are filtered at the source; EC2 is not ours.
        "secretsmanager-create-secret-failed"
        | "secretsmanager-get-secret-value"
        | "ec2-run-instances" => None,
        name if name.starts_with("secretsmanager-") => Some("secrets-manager"),
        name if name.starts_with("acm-") => Some("acm"),
        name if name.starts_with("organizations-") => Some("organizations"),
        name => panic!("fixture {name} has no expectation in this test"),
    }
}

async fn sqs(moto: &Moto, action: &str, body: Value) -> Value {
    let text = moto
        .call_json("sqs", REGION, &format!("AmazonSQS.{action}"), &body)
        .await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{action}: {e}: {text}"))
}

async fn events(moto: &Moto, action: &str, body: Value) -> Value {
    let text = moto
        .call_json("events", REGION, &format!("AWSEvents.{action}"), &body)
        .await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{action}: {e}: {text}"))
}

/// Every message on the queue now (moto delivers PutEvents synchronously).
async fn drain(moto: &Moto, queue_url: &str) -> Vec<Value> {
    let mut bodies = Vec::new();
    loop {
        let received = sqs(
            moto,
            "ReceiveMessage",
            json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0}),
        )
        .await;
        let messages = received["Messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for message in messages {
            let body = message["Body"].as_str().expect("message body");
            bodies.push(serde_json::from_str(body).expect("message body is the event JSON"));
            sqs(
                moto,
                "DeleteMessage",
                json!({"QueueUrl": queue_url, "ReceiptHandle": message["ReceiptHandle"]}),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn shipped_rules_deliver_the_handled_events_and_nothing_else() {
    let moto = Moto::start();
    let mut queues = BTreeMap::new();
    for (_, file) in RULES {
        let created = sqs(&moto, "CreateQueue", json!({"QueueName": file})).await;
        let url = created["QueueUrl"].as_str().unwrap().to_owned();
        events(
            &moto,
            "PutRule",
            json!({
                "Name": format!("port-aws-sync-{file}"),
                "EventPattern": pattern(file).to_string(),
                "State": "ENABLED",
            }),
        )
        .await;
        let put = events(
            &moto,
            "PutTargets",
            json!({
                "Rule": format!("port-aws-sync-{file}"),
                "Targets": [{"Id": "port-aws-sync", "Arn": format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{file}")}],
            }),
        )
        .await;
        assert_eq!(put["FailedEntryCount"], 0, "{put}");
        queues.insert(file, url);
    }

    let samples = fixtures();
    assert!(
        samples.len() >= 20,
        "fixtures missing: {:?}",
        samples.keys()
    );
    for (name, event) in &samples {
        let put = events(
            &moto,
            "PutEvents",
            json!({"Entries": [{
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": event["detail"].to_string(),
                "Resources": event["resources"],
            }]}),
        )
        .await;
        assert_eq!(put["FailedEntryCount"], 0, "{name}: {put}");
    }

    let mut delivered: BTreeMap<String, &str> = BTreeMap::new();
    for (file, url) in &queues {
        for body in drain(&moto, url).await {
            let (name, _) = samples
                .iter()
                .find(|(_, sample)| {
                    sample["detail"] == body["detail"]
                        && sample["detail-type"] == body["detail-type"]
                })
                .unwrap_or_else(|| panic!("queue {file} got an event that is no sample: {body}"));
            let earlier = delivered.insert(name.clone(), file);
            assert!(
                earlier.is_none(),
                "{name} delivered twice: {earlier:?} and {file}"
            );
        }
    }
    for name in samples.keys() {
        assert_eq!(
            delivered.get(name).copied(),
            expected_rule(name),
            "sample {name} went to the wrong rule (None: not delivered)"
        );
    }
}

// ---- the handler: one resource read again and brought into Port ----

/// The region of the samples.
const SAMPLE_REGION: &str = "eu-west-1";

fn fixture(name: &str) -> Value {
    read_json(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/live-events/{name}.json")),
    )
}

struct Live {
    emu: Emulator,
    proxy: AwsProxy,
    handler: LiveHandler,
}

fn mapping_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mapping/port-app-config.yml")
}

/// The shipped mapping and blueprints, AWS through a recording proxy in front of moto.
async fn live(moto: &Moto, settings: AwsSettings, mapping: Mapping) -> Live {
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"))
        .start()
        .await;
    let proxy = AwsProxy::start(&moto.endpoint()).await;
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .endpoint_url(proxy.endpoint())
        .region(Region::new(SAMPLE_REGION))
        .credentials_provider(credentials())
        .retry_config(RetryConfig::standard().with_max_attempts(1));
    let sources = AwsSources::load_with(loader, &settings)
        .await
        .expect("sources load");
    let mut config = PortConfig::new(emu.client_id(), emu.client_secret());
    config.base_url = emu.base_url();
    let port = PortClient::new(config).expect("port client");
    let handler = LiveHandler {
        sources: Arc::new(sources),
        catalog: CatalogFollower {
            current: port_aws_sync::mapping::CurrentMapping::new(Arc::new(mapping)),
            port,
        },
    };
    Live {
        emu,
        proxy,
        handler,
    }
}

fn sample_settings() -> AwsSettings {
    AwsSettings {
        regions: Some(vec![SAMPLE_REGION.to_owned()]),
        ..AwsSettings::default()
    }
}

impl Live {
    /// Recognizes `event` and handles its one resource.
    async fn handle(&self, event: &Value) -> Result<Handled, String> {
        let events = recognize(event).unwrap_or_else(|ignored| panic!("ignored: {ignored}"));
        assert_eq!(events.len(), 1, "{events:?}");
        self.handler.handle(&events[0].key(), &events).await
    }

    fn bulk_writes(&self) -> usize {
        self.emu
            .requests()
            .iter()
            .filter(|r| r.path == paths::ENTITIES_BULK)
            .count()
    }
}

fn secrets_client(config: &aws_types::SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(config)
}

#[tokio::test]
async fn a_secret_created_tagged_deleted_and_restored_follows_aws() {
    let moto = Moto::start();
    let live = live(
        &moto,
        sample_settings(),
        Mapping::load(&mapping_file()).unwrap(),
    )
    .await;
    let sm = secrets_client(&moto.sdk_config(SAMPLE_REGION).await);
    let name = "app/db-password";
    let arn = sm
        .create_secret()
        .name(name)
        .description("database password")
        .secret_string("never read")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let entity = || live.emu.entity("awsSecret", &arn);

    let mut created = fixture("secretsmanager-create-secret");
    created["detail"]["responseElements"]["arn"] = json!(arn);
    assert_eq!(
        live.handle(&created).await,
        Ok(Handled::Upserted(vec![format!("awsSecret {arn}")]))
    );
    let stored = entity().expect("the secret reached Port");
    assert_eq!(stored.title.as_deref(), Some(name));
    assert_eq!(stored.properties["description"], "database password");
    assert_eq!(stored.relations["account"], ACCOUNT_ID);

    // The same event again: Port already holds it, nothing is written.
    let writes = live.bulk_writes();
    assert_eq!(
        live.handle(&created).await,
        Ok(Handled::Unchanged(vec![format!("awsSecret {arn}")]))
    );
    assert_eq!(live.bulk_writes(), writes);

    sm.tag_resource()
        .secret_id(name)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("team")
                .value("payments")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let tagged = fixture("secretsmanager-tag-resource");
    assert_eq!(tagged["detail"]["requestParameters"]["secretId"], name);
    assert!(matches!(
        live.handle(&tagged).await,
        Ok(Handled::Upserted(_))
    ));
    assert_eq!(
        entity().unwrap().properties["tags"],
        json!({"team": "payments"})
    );

    // DeleteSecret only schedules the deletion; ListSecrets hides it, so it is gone.
    sm.delete_secret()
        .secret_id(name)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    let mut deleted = fixture("secretsmanager-delete-secret");
    deleted["detail"]["responseElements"]["aRN"] = json!(arn);
    assert_eq!(
        live.handle(&deleted).await,
        Ok(Handled::Deleted(vec![format!("awsSecret {arn}")]))
    );
    assert!(
        entity().is_none(),
        "the scheduled deletion removed the entity"
    );

    // A late tag event (older than the deletion) cannot bring it back: AWS is read again.
    assert!(matches!(
        live.handle(&tagged).await,
        Ok(Handled::Deleted(_))
    ));
    assert!(entity().is_none(), "a late event resurrected the secret");

    sm.restore_secret().secret_id(name).send().await.unwrap();
    assert!(matches!(
        live.handle(&fixture("secretsmanager-restore-secret")).await,
        Ok(Handled::Upserted(_))
    ));
    let restored = entity().expect("the restored secret is back");
    assert_eq!(restored.properties["tags"], json!({"team": "payments"}));
}

#[tokio::test]
async fn a_secret_deleted_for_good_is_deleted_by_its_arn() {
    let moto = Moto::start();
    let live = live(
        &moto,
        sample_settings(),
        Mapping::load(&mapping_file()).unwrap(),
    )
    .await;
    let sm = secrets_client(&moto.sdk_config(SAMPLE_REGION).await);
    let arn = sm
        .create_secret()
        .name("app/db-password")
        .secret_string("never read")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let mut created = fixture("secretsmanager-create-secret");
    created["detail"]["responseElements"]["arn"] = json!(arn);
    live.handle(&created).await.unwrap();
    assert!(live.emu.entity("awsSecret", &arn).is_some());

    sm.delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let mut deleted = fixture("secretsmanager-delete-secret");
    deleted["detail"]["responseElements"]["aRN"] = json!(arn);
    assert_eq!(
        live.handle(&deleted).await,
        Ok(Handled::Deleted(vec![format!("awsSecret {arn}")]))
    );
    assert!(live.emu.entity("awsSecret", &arn).is_none());

    // Known only by a name and gone for good: nothing names the entity; the resync will.
    let tagged = fixture("secretsmanager-tag-resource");
    assert_eq!(live.handle(&tagged).await, Ok(Handled::GoneUnnamed));
}

#[tokio::test]
async fn access_denied_on_the_read_deletes_nothing_and_fails_the_event() {
    let moto = Moto::start();
    let live = live(
        &moto,
        sample_settings(),
        Mapping::load(&mapping_file()).unwrap(),
    )
    .await;
    let sm = secrets_client(&moto.sdk_config(SAMPLE_REGION).await);
    let arn = sm
        .create_secret()
        .name("app/db-password")
        .secret_string("never read")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let mut created = fixture("secretsmanager-create-secret");
    created["detail"]["responseElements"]["arn"] = json!(arn);
    live.handle(&created).await.unwrap();

    live.proxy.answer(|call| {
        (call.operation == "DescribeSecret")
            .then(|| json_access_denied("not authorized to perform: secretsmanager:DescribeSecret"))
    });
    sm.delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let mut deleted = fixture("secretsmanager-delete-secret");
    deleted["detail"]["responseElements"]["aRN"] = json!(arn);
    let error = live
        .handle(&deleted)
        .await
        .expect_err("a denied read fails");
    assert!(error.contains("AccessDenied"), "{error}");
    assert!(
        live.emu.entity("awsSecret", &arn).is_some(),
        "deleted on a doubt"
    );
}

#[tokio::test]
async fn a_certificate_imported_updated_by_an_expiry_event_then_deleted() {
    let moto = Moto::start();
    let live = live(
        &moto,
        sample_settings(),
        Mapping::load(&mapping_file()).unwrap(),
    )
    .await;
    let acm = aws_sdk_acm::Client::new(&moto.sdk_config(SAMPLE_REGION).await);
    let certificate = self_signed(KeySpec::Rsa(2048), "www.example.com");
    let arn = acm
        .import_certificate()
        .certificate(Blob::new(certificate.certificate_pem.clone()))
        .private_key(Blob::new(certificate.private_key_pem.clone()))
        .send()
        .await
        .unwrap()
        .certificate_arn
        .unwrap();
    let mut imported = fixture("acm-import-certificate");
    imported["detail"]["responseElements"]["certificateArn"] = json!(arn);
    assert_eq!(
        live.handle(&imported).await,
        Ok(Handled::Upserted(vec![format!("acmCertificate {arn}")]))
    );
    let stored = live.emu.entity("acmCertificate", &arn).unwrap();
    assert_eq!(stored.title.as_deref(), Some("www.example.com"));
    assert_eq!(stored.properties["type"], "IMPORTED");

    // Port drifted (an edit by hand, a lost write): the expiry event puts AWS's state back.
    let mut drifted = stored.properties.clone();
    drifted.insert("status".into(), json!("PENDING_VALIDATION"));
    live.handler
        .catalog
        .port
        .bulk_upsert(
            "acmCertificate",
            &[port_aws_sync::entity::Entity {
                identifier: arn.clone().into(),
                blueprint: "acmCertificate".into(),
                title: stored.title.clone(),
                icon: None,
                team: None,
                properties: drifted,
                relations: stored.relations.clone(),
            }],
            &Default::default(),
        )
        .await;
    assert_eq!(
        live.emu.entity("acmCertificate", &arn).unwrap().properties["status"],
        "PENDING_VALIDATION"
    );
    let mut expiring = fixture("acm-approaching-expiration");
    expiring["resources"] = json!([arn]);
    assert!(matches!(
        live.handle(&expiring).await,
        Ok(Handled::Upserted(_))
    ));
    assert_eq!(
        live.emu.entity("acmCertificate", &arn).unwrap().properties["status"],
        stored.properties["status"]
    );

    acm.delete_certificate()
        .certificate_arn(&arn)
        .send()
        .await
        .unwrap();
    let mut deleted = fixture("acm-delete-certificate");
    deleted["detail"]["requestParameters"]["certificateArn"] = json!(arn);
    assert_eq!(
        live.handle(&deleted).await,
        Ok(Handled::Deleted(vec![format!("acmCertificate {arn}")]))
    );
    assert!(live.emu.entity("acmCertificate", &arn).is_none());
}

#[tokio::test]
async fn unmapped_kinds_and_accounts_left_out_are_ignored_without_reading_aws() {
    let moto = Moto::start();
    let only_accounts = Mapping::from_yaml(
        "resources:\n  - kind: AWS::Organizations::Account\n    selector:\n      query: 'true'\n    port:\n      entity:\n        mappings:\n          identifier: .Id\n          blueprint: '\"awsAccount\"'\n",
        Path::new("accounts-only.yml"),
    )
    .unwrap();
    let live_unmapped = live(&moto, sample_settings(), only_accounts).await;
    assert_eq!(
        live_unmapped
            .handle(&fixture("secretsmanager-tag-resource"))
            .await,
        Ok(Handled::Ignored(Ignored::UnmappedKind(Kind::Secret)))
    );

    let excluded = AwsSettings {
        exclude_account_ids: BTreeSet::from([ACCOUNT_ID.to_owned()]),
        ..sample_settings()
    };
    let live_excluded = live(&moto, excluded, Mapping::load(&mapping_file()).unwrap()).await;
    live_excluded.proxy.clear_calls();
    assert_eq!(
        live_excluded
            .handle(&fixture("secretsmanager-tag-resource"))
            .await,
        Ok(Handled::Ignored(Ignored::AccountOutOfScope(
            ACCOUNT_ID.to_owned()
        )))
    );
    assert!(
        live_excluded
            .proxy
            .calls()
            .iter()
            .all(|call| call.service != "secretsmanager"),
        "an account left out was read: {:?}",
        live_excluded.proxy.calls()
    );
}

#[tokio::test]
async fn a_member_account_event_is_read_with_that_accounts_role() {
    let org = support::org::organization(&[SAMPLE_REGION], 1).await;
    let member = org.members[0].clone();
    let settings = AwsSettings {
        account_strategy: AccountStrategy::Organization,
        ..sample_settings()
    };
    let live = live(&org.moto, settings, Mapping::load(&mapping_file()).unwrap()).await;
    let name = format!("app/{member}/{SAMPLE_REGION}/0");
    let mut event = fixture("secretsmanager-update-secret-member");
    event["account"] = json!(member);
    event["region"] = json!(SAMPLE_REGION);
    event["detail"]["requestParameters"]["secretId"] = json!(name);
    event["detail"]["responseElements"] = Value::Null;

    let handled = live.handle(&event).await.unwrap();
    let Handled::Upserted(written) = handled else {
        panic!("not upserted: {handled:?}");
    };
    let arn = written[0].strip_prefix("awsSecret ").unwrap().to_owned();
    assert_eq!(arn.split(':').nth(4), Some(member.as_str()));
    assert_eq!(
        live.emu.entity("awsSecret", &arn).unwrap().relations["account"],
        member.as_str()
    );
    let calls = live.proxy.calls();
    let role = format!("arn:aws:iam::{member}:role/port-aws-sync-read");
    assert!(
        calls
            .iter()
            .any(|c| c.operation == "AssumeRole" && c.params.get("RoleArn") == Some(&role)),
        "{role} not assumed: {calls:?}"
    );
    let reads: Vec<_> = calls
        .iter()
        .filter(|c| c.service == "secretsmanager")
        .collect();
    assert!(!reads.is_empty());
    assert!(
        reads
            .iter()
            .all(|c| c.access_key != support::moto::ACCESS_KEY_ID),
        "the member's secret was read with the caller's own credentials: {reads:?}"
    );
}

// ---- the binary: EventBridge rule → SQS → serve-events → Port ----

/// The queue's messages not yet deleted (visible or in flight).
async fn messages_left(moto: &Moto, url: &str) -> u64 {
    let attributes = sqs(
        moto,
        "GetQueueAttributes",
        json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]}),
    )
    .await;
    [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
    ]
    .iter()
    .map(|name| {
        attributes["Attributes"][name]
            .as_str()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in {attributes}"))
    })
    .sum()
}

/// Puts `events` on the default bus, as CloudTrail would have (ten per call, PutEvents' most).
async fn put_events(moto: &Moto, samples: &[Value]) {
    for chunk in samples.chunks(10) {
        let entries: Vec<Value> = chunk
            .iter()
            .map(|event| {
                json!({
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": event["detail"].to_string(),
                    "Resources": event["resources"],
                })
            })
            .collect();
        let put = events(moto, "PutEvents", json!({"Entries": entries})).await;
        assert_eq!(put["FailedEntryCount"], 0, "{put}");
    }
}

#[tokio::test]
async fn serve_events_follows_a_secret_from_eventbridge_through_sqs_into_port() {
    let moto = Moto::start();
    let queue = sqs(&moto, "CreateQueue", json!({"QueueName": "live-events"})).await;
    let queue_url = queue["QueueUrl"].as_str().unwrap().to_owned();
    events(
        &moto,
        "PutRule",
        json!({"Name": "secrets", "EventPattern": pattern("secrets-manager").to_string()}),
    )
    .await;
    events(
        &moto,
        "PutTargets",
        json!({"Rule": "secrets", "Targets": [{"Id": "q", "Arn": format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:live-events")}]}),
    )
    .await;
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"))
        .start()
        .await;
    let env = service::env(
        &moto,
        &emu,
        REGION,
        &[
            ("LIVE_EVENTS_QUEUE_URL", &queue_url),
            ("LIVE_EVENTS_COALESCE_MS", "300"),
        ],
    );
    let service = Service::start(&["serve-events"], &env);
    let http = reqwest::Client::new();
    service
        .wait_for("GET /health/ready", || {
            let request = http.get(service.url("/health/ready")).send();
            async move { request.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;

    let sm = secrets_client(&moto.sdk_config(REGION).await);
    let name = "app/db-password";
    let arn = sm
        .create_secret()
        .name(name)
        .secret_string("never read")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let mut created = fixture("secretsmanager-create-secret");
    created["detail"]["responseElements"]["arn"] = json!(arn);
    put_events(&moto, &[created]).await;
    service
        .wait_for("the created secret in Port", || {
            let found = emu.entity("awsSecret", &arn).is_some();
            async move { found }
        })
        .await;

    // A burst: one tag change, a hundred events about it, one or two writes.
    sm.tag_resource()
        .secret_id(name)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("team")
                .value("payments")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let writes_before = emu
        .requests()
        .iter()
        .filter(|r| r.path == paths::ENTITIES_BULK)
        .count();
    let tagged = fixture("secretsmanager-tag-resource");
    put_events(&moto, &vec![tagged.clone(); 100]).await;
    service
        .wait_for("the tag in Port and the queue drained", || {
            let tagged = emu
                .entity("awsSecret", &arn)
                .is_some_and(|e| e.properties.get("tags") == Some(&json!({"team": "payments"})));
            let moto = &moto;
            let url = queue_url.clone();
            async move { tagged && messages_left(moto, &url).await == 0 }
        })
        .await;
    let writes = emu
        .requests()
        .iter()
        .filter(|r| r.path == paths::ENTITIES_BULK)
        .count()
        - writes_before;
    assert!(
        (1..=2).contains(&writes),
        "100 events for one secret made {writes} writes"
    );

    sm.delete_secret()
        .secret_id(name)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    let mut deleted = fixture("secretsmanager-delete-secret");
    deleted["detail"]["responseElements"]["aRN"] = json!(arn);
    // The deletion, then an old tag event delivered late: the entity stays gone.
    put_events(&moto, &[deleted, tagged]).await;
    service
        .wait_for(
            "the deleted secret gone from Port and the queue drained",
            || {
                let gone = emu.entity("awsSecret", &arn).is_none();
                let moto = &moto;
                let url = queue_url.clone();
                async move { gone && messages_left(moto, &url).await == 0 }
            },
        )
        .await;
    assert!(emu.entity("awsSecret", &arn).is_none());

    sm.restore_secret().secret_id(name).send().await.unwrap();
    put_events(&moto, &[fixture("secretsmanager-restore-secret")]).await;
    service
        .wait_for("the restored secret back in Port", || {
            let back = emu.entity("awsSecret", &arn).is_some();
            async move { back }
        })
        .await;
    let stderr = service.stderr();
    assert!(!stderr.contains("never read"), "a secret value was logged");
}

#[tokio::test]
async fn serve_events_leaves_a_message_whose_read_is_denied_and_deletes_nothing() {
    let moto = Moto::start();
    let proxy = AwsProxy::start(&moto.endpoint()).await;
    let queue = sqs(
        &moto,
        "CreateQueue",
        json!({"QueueName": "live-events", "Attributes": {"VisibilityTimeout": "1"}}),
    )
    .await;
    let queue_url = queue["QueueUrl"].as_str().unwrap().to_owned();
    events(
        &moto,
        "PutRule",
        json!({"Name": "secrets", "EventPattern": pattern("secrets-manager").to_string()}),
    )
    .await;
    events(
        &moto,
        "PutTargets",
        json!({"Rule": "secrets", "Targets": [{"Id": "q", "Arn": format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:live-events")}]}),
    )
    .await;
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"))
        .start()
        .await;
    let endpoint = proxy.endpoint();
    let env = service::env(
        &moto,
        &emu,
        REGION,
        &[
            ("LIVE_EVENTS_QUEUE_URL", &queue_url),
            ("LIVE_EVENTS_COALESCE_MS", "100"),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
    );
    let service = Service::start(&["serve-events"], &env);
    let sm = secrets_client(&moto.sdk_config(REGION).await);
    let arn = sm
        .create_secret()
        .name("app/db-password")
        .secret_string("never read")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let mut created = fixture("secretsmanager-create-secret");
    created["detail"]["responseElements"]["arn"] = json!(arn);
    put_events(&moto, &[created]).await;
    service
        .wait_for("the created secret in Port", || {
            let found = emu.entity("awsSecret", &arn).is_some();
            async move { found }
        })
        .await;

    proxy.answer(|call| {
        (call.operation == "DescribeSecret")
            .then(|| json_access_denied("not authorized to perform: secretsmanager:DescribeSecret"))
    });
    sm.delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let mut deleted = fixture("secretsmanager-delete-secret");
    deleted["detail"]["responseElements"]["aRN"] = json!(arn);
    put_events(&moto, &[deleted]).await;
    service
        .wait_for("the denied read reported twice (delivered again)", || {
            let failures = service
                .stderr()
                .matches("live event failed; left for redelivery")
                .count();
            async move { failures >= 2 }
        })
        .await;
    assert!(
        service.stderr().contains("AccessDenied"),
        "{}",
        service.stderr()
    );
    assert!(
        emu.entity("awsSecret", &arn).is_some(),
        "deleted on a doubt"
    );
    assert_eq!(
        messages_left(&moto, &queue_url).await,
        1,
        "the message was acknowledged"
    );
}

// ---- the Ocean-compatible webhook, and live events inside `run` ----

const API_KEY: &str = "ocean-live-events-key";

async fn secret_in(moto: &Moto, name: &str) -> String {
    secrets_client(&moto.sdk_config(REGION).await)
        .create_secret()
        .name(name)
        .secret_string("never read")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap()
}

#[tokio::test]
async fn the_webhook_takes_oceans_body_and_raw_events_with_the_right_key_only() {
    let moto = Moto::start();
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"))
        .start()
        .await;
    let env = service::env(
        &moto,
        &emu,
        REGION,
        &[
            ("LIVE_EVENTS_API_KEY", API_KEY),
            ("LIVE_EVENTS_COALESCE_MS", "50"),
        ],
    );
    let service = Service::start(&["serve-events"], &env);
    let http = reqwest::Client::new();
    service
        .wait_for("GET /health/ready", || {
            let request = http.get(service.url("/health/ready")).send();
            async move { request.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
    let post = |key: Option<&str>, body: String| {
        let mut request = http
            .post(service.url("/integration/webhook"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.header("x-port-aws-ocean-api-key", key);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let arn = secret_in(&moto, "app/webhook").await;
    let ocean = json!({
        "resource_type": "AWS::SecretsManager::Secret",
        "identifier": arn,
        "accountId": ACCOUNT_ID,
        "awsRegion": REGION,
        "eventName": "CreateSecret"
    })
    .to_string();

    for key in [None, Some("wrong"), Some("ocean-live-events-ke")] {
        let (status, body) = post(key, ocean.clone()).await;
        assert_eq!(status, 401, "{key:?}");
        assert!(!body.contains("key"), "the 401 says too much: {body}");
    }
    let (status, body) = post(Some(API_KEY), "not json {".into()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not JSON"), "{body}");
    let (status, _) = post(Some(API_KEY), json!({"hello": "world"}).to_string()).await;
    assert_eq!(status, 400);
    assert!(
        emu.requests()
            .iter()
            .all(|r| r.path != paths::ENTITIES_BULK),
        "a refused request wrote to Port"
    );

    let (status, body) = post(Some(API_KEY), ocean).await;
    assert_eq!(status, 202, "{body}");
    service
        .wait_for("the secret from Ocean's body in Port", || {
            let found = emu.entity("awsSecret", &arn).is_some();
            async move { found }
        })
        .await;

    // A raw EventBridge event (API destination) on the same route.
    secrets_client(&moto.sdk_config(REGION).await)
        .tag_resource()
        .secret_id(&arn)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("team")
                .value("web")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut tagged = fixture("secretsmanager-tag-resource");
    tagged["region"] = json!(REGION);
    tagged["detail"]["requestParameters"]["secretId"] = json!(arn);
    let (status, body) = post(Some(API_KEY), tagged.to_string()).await;
    assert_eq!(status, 202, "{body}");
    service
        .wait_for("the tag from the raw event in Port", || {
            let tagged = emu
                .entity("awsSecret", &arn)
                .is_some_and(|e| e.properties.get("tags") == Some(&json!({"team": "web"})));
            async move { tagged }
        })
        .await;

    let (status, body) = post(Some(API_KEY), fixture("ec2-run-instances").to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("unknown_event"), "{body}");

    let metrics = http
        .get(service.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"port_aws_sync_live_events_total{source="ocean_webhook",kind="AWS::SecretsManager::Secret",action="upsert"} 1"#,
        r#"port_aws_sync_live_events_total{source="cloudtrail",kind="AWS::SecretsManager::Secret",action="upsert"} 1"#,
        // The body of neither shape and the EC2 event.
        r#"port_aws_sync_live_events_total{source="unknown",kind="unknown",action="ignored"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
}

#[tokio::test]
async fn run_follows_a_live_event_with_its_schedule_far_away() {
    let moto = Moto::start();
    let queue = sqs(&moto, "CreateQueue", json!({"QueueName": "live-events"})).await;
    let queue_url = queue["QueueUrl"].as_str().unwrap().to_owned();
    events(
        &moto,
        "PutRule",
        json!({"Name": "secrets", "EventPattern": pattern("secrets-manager").to_string()}),
    )
    .await;
    events(
        &moto,
        "PutTargets",
        json!({"Rule": "secrets", "Targets": [{"Id": "q", "Arn": format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:live-events")}]}),
    )
    .await;
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"))
        .start()
        .await;
    let env = service::env(
        &moto,
        &emu,
        REGION,
        &[
            ("LIVE_EVENTS_QUEUE_URL", &queue_url),
            ("SCHEDULE", "0 0 1 1 *"),
            ("RESYNC_ON_START", "false"),
        ],
    );
    let service = Service::start(&["run"], &env);
    let http = reqwest::Client::new();
    service
        .wait_for("GET /health/ready", || {
            let request = http.get(service.url("/health/ready")).send();
            async move { request.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
    let arn = secret_in(&moto, "app/run").await;
    let mut created = fixture("secretsmanager-create-secret");
    created["detail"]["responseElements"]["arn"] = json!(arn);
    put_events(&moto, &[created]).await;
    service
        .wait_for("the created secret in Port without a resync", || {
            let found = emu.entity("awsSecret", &arn).is_some();
            async move { found }
        })
        .await;
    let metrics = http
        .get(service.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"port_aws_sync_live_events_total{source="cloudtrail",kind="AWS::SecretsManager::Secret",action="upsert"} 1"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains(r#"port_aws_sync_resyncs_total{"#),
        "a resync ran: {metrics}"
    );
}

#[tokio::test]
async fn run_is_not_ready_while_its_live_events_queue_cannot_be_reached() {
    let moto = Moto::start();
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"))
        .start()
        .await;
    let missing = format!("{}/{ACCOUNT_ID}/no-such-queue", moto.endpoint());
    let env = service::env(
        &moto,
        &emu,
        REGION,
        &[
            ("LIVE_EVENTS_QUEUE_URL", &missing),
            ("SCHEDULE", "0 0 1 1 *"),
            ("RESYNC_ON_START", "false"),
        ],
    );
    let service = Service::start(&["run"], &env);
    let http = reqwest::Client::new();
    service
        .wait_for("/health/ready naming the unreachable queue", || {
            let request = http.get(service.url("/health/ready")).send();
            let tried = service
                .stderr()
                .contains("cannot reach the live-events queue");
            async move {
                if !tried {
                    return false;
                }
                let Ok(response) = request.await else {
                    return false;
                };
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or_default();
                status == 503
                    && body["status"] == "live-events queue unreachable"
                    && body["liveEventsQueuesReachable"] == false
            }
        })
        .await;
    assert!(
        service.stderr().contains("NonExistentQueue"),
        "{}",
        service.stderr()
    );
}

#[tokio::test]
async fn an_account_created_in_the_organization_appears_and_one_removed_goes() {
    let org = support::org::organization(&[SAMPLE_REGION], 0).await;
    let settings = AwsSettings {
        account_strategy: AccountStrategy::Organization,
        ..sample_settings()
    };
    let live = live(&org.moto, settings, Mapping::load(&mapping_file()).unwrap()).await;
    let member = org.members[0].clone();

    let mut created = fixture("organizations-create-account-result");
    created["account"] = json!(ACCOUNT_ID);
    created["detail"]["serviceEventDetails"]["createAccountStatus"]["accountId"] = json!(member);
    assert_eq!(
        live.handle(&created).await,
        Ok(Handled::Upserted(vec![format!("awsAccount {member}")]))
    );
    let account = live
        .emu
        .entity("awsAccount", &member)
        .expect("the account in Port");
    assert_eq!(account.title.as_deref(), Some("member-0"));
    assert_eq!(account.properties["email"], "member-0@example.com");

    let organizations = aws_sdk_organizations::Client::new(&org.moto.sdk_config("us-east-1").await);
    organizations
        .remove_account_from_organization()
        .account_id(&member)
        .send()
        .await
        .unwrap();
    let mut removed = fixture("organizations-remove-account");
    removed["account"] = json!(ACCOUNT_ID);
    removed["detail"]["requestParameters"]["accountId"] = json!(member);
    assert_eq!(
        live.handle(&removed).await,
        Ok(Handled::Deleted(vec![format!("awsAccount {member}")]))
    );
    assert!(live.emu.entity("awsAccount", &member).is_none());

    // Organizations refusing (here: DescribeAccount denied) deletes nothing.
    let other = org.members[1].clone();
    let mut moved = fixture("organizations-remove-account");
    moved["detail"]["eventName"] = json!("MoveAccount");
    moved["detail"]["requestParameters"]["accountId"] = json!(other);
    assert!(matches!(
        live.handle(&moved).await,
        Ok(Handled::Upserted(_))
    ));
    live.proxy.answer(|call| {
        (call.operation == "DescribeAccount")
            .then(|| json_access_denied("not authorized to perform: organizations:DescribeAccount"))
    });
    let error = live.handle(&moved).await.expect_err("a denied read fails");
    assert!(error.contains("AccessDenied"), "{error}");
    assert!(live.emu.entity("awsAccount", &other).is_some());
}

// ---- benchmark (numbers, no assertions): scripts/bench-events.sh ----

fn vm_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// 1,000 events over 100 secrets (ten each, interleaved) through EventBridge and SQS into an
/// emulator answering every request after 20 ms: event-to-Port latency, Port writes, RSS.
#[tokio::test]
#[ignore = "benchmark: scripts/bench-events.sh"]
async fn bench_live_events() {
    const SECRETS: usize = 100;
    const EVENTS_PER_SECRET: usize = 10;
    let moto = Moto::start();
    let queue = sqs(&moto, "CreateQueue", json!({"QueueName": "live-events"})).await;
    let queue_url = queue["QueueUrl"].as_str().unwrap().to_owned();
    events(
        &moto,
        "PutRule",
        json!({"Name": "secrets", "EventPattern": pattern("secrets-manager").to_string()}),
    )
    .await;
    events(
        &moto,
        "PutTargets",
        json!({"Rule": "secrets", "Targets": [{"Id": "q", "Arn": format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:live-events")}]}),
    )
    .await;
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"))
        .faults(port_emulator::Faults {
            latency_ms: 20,
            ..Default::default()
        })
        .start()
        .await;
    let env = service::env(
        &moto,
        &emu,
        REGION,
        &[("LIVE_EVENTS_QUEUE_URL", &queue_url), ("LOG_LEVEL", "warn")],
    );
    let service = Service::start(&["serve-events"], &env);
    let http = reqwest::Client::new();
    service
        .wait_for("GET /health/ready", || {
            let request = http.get(service.url("/health/ready")).send();
            async move { request.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
    let rss_idle = vm_rss_kib(service.pid());

    let mut arns = Vec::new();
    for n in 0..SECRETS {
        arns.push(secret_in(&moto, &format!("bench/{n}")).await);
    }
    let mut samples = Vec::new();
    for _ in 0..EVENTS_PER_SECRET {
        for arn in &arns {
            let mut event = fixture("secretsmanager-put-secret-value");
            event["detail"]["requestParameters"]["secretId"] = json!(arn);
            event["detail"]["responseElements"]["arn"] = json!(arn);
            samples.push(event);
        }
    }
    let writes_before = emu
        .requests()
        .iter()
        .filter(|r| r.path == paths::ENTITIES_BULK)
        .count();
    let started = std::time::Instant::now();
    let first_put = std::cell::RefCell::new(std::collections::HashMap::new());
    let put_all = std::cell::Cell::new(Duration::ZERO);
    let putting = async {
        for chunk in samples.chunks(10) {
            put_events(&moto, chunk).await;
            let at = started.elapsed();
            for event in chunk {
                first_put
                    .borrow_mut()
                    .entry(
                        event["detail"]["requestParameters"]["secretId"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    )
                    .or_insert(at);
            }
        }
        put_all.set(started.elapsed());
    };
    // When each secret first shows in Port (polled while the events are put), against when
    // its first event was on the queue.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let watching = async {
        let mut seen: std::collections::HashMap<String, Duration> =
            std::collections::HashMap::new();
        while seen.len() < arns.len() && std::time::Instant::now() < deadline {
            for arn in &arns {
                if !seen.contains_key(arn) && emu.entity("awsSecret", arn).is_some() {
                    seen.insert(arn.clone(), started.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        seen
    };
    let ((), seen) = tokio::join!(putting, watching);
    let put_all = put_all.get();
    let first_put = first_put.into_inner();
    while messages_left(&moto, &queue_url).await > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drained = started.elapsed();
    let rss_after = vm_rss_kib(service.pid());
    let mut latencies: Vec<f64> = seen
        .iter()
        .map(|(arn, at)| at.saturating_sub(first_put[arn]).as_secs_f64())
        .collect();
    latencies.sort_by(f64::total_cmp);
    let writes = emu
        .requests()
        .iter()
        .filter(|r| r.path == paths::ENTITIES_BULK)
        .count()
        - writes_before;
    println!(
        "live events benchmark: {} events over {SECRETS} secrets, Port latency 20 ms/request, coalescing window {} ms",
        samples.len(),
        1000
    );
    println!(
        "  put all events: {:.2} s; queue drained after {:.2} s",
        put_all.as_secs_f64(),
        drained.as_secs_f64()
    );
    println!(
        "  secrets in Port: {}/{SECRETS}; latency from a secret's first event to Port: p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        seen.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    println!(
        "  Port bulk writes: {writes} ({:.2} per secret)",
        writes as f64 / SECRETS as f64
    );
    println!(
        "  serve-events RSS: {} KiB idle, {} KiB after",
        rss_idle, rss_after
    );
}
