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
use port_aws_sync::events::{Failure, Handled, Ignored, LiveHandler, recognize};
use port_aws_sync::mapping::Mapping;
use port_aws_sync::port::{PortClient, PortConfig};
use port_emulator::{Emulator, Faults, paths};
use serde_json::{Value, json};
use support::aws_proxy::{AwsProxy, first_calls, json_access_denied, json_throttling};
use support::certs::{KeySpec, self_signed};
use support::live::{
    REGION, deploy_dir, emulator, events, fixture, messages_left, metrics, ocean_secret_body,
    pattern, post_webhook, put_created, put_events, read_json, ready, secret_in, secrets_queue,
    sqs, wait_for_secret, wait_for_secret_and_drained,
};
use support::moto::{ACCOUNT_ID, Moto, credentials};
use support::service::{self, Service};

/// The rules of both templates, with the pattern file each must carry.
const RULES: [(&str, &str); 3] = [
    ("SecretsManagerRule", "secrets-manager"),
    ("AcmRule", "acm"),
    ("OrganizationsRule", "organizations"),
];

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
    let emu = emulator(Faults::default()).await;
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
    async fn handle(&self, event: &Value) -> Result<Handled, Failure> {
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
    assert_eq!(live.handle(&tagged).await, Ok(Handled::AlreadyGone));
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
    assert!(error.message.contains("AccessDenied"), "{error}");
    assert!(
        !error.transient,
        "a refusal is no passing failure: {error:?}"
    );
    assert!(
        live.emu.entity("awsSecret", &arn).is_some(),
        "deleted on a doubt"
    );
}

/// One DescribeSecret gives, field by field, the item ListSecrets gives a resync: a plain
/// secret, one with a description, tags and its own KMS key, one with two versions, and a
/// replica read in its own region.
#[tokio::test]
async fn a_secret_read_again_is_the_item_a_resync_lists() {
    const REPLICA_REGION: &str = "eu-central-1";
    let moto = Moto::start();
    let config = moto.sdk_config(SAMPLE_REGION).await;
    let sm = secrets_client(&config);
    sm.create_secret()
        .name("plain")
        .secret_string("never read")
        .send()
        .await
        .unwrap();
    sm.create_secret()
        .name("described")
        .description("database password")
        .kms_key_id("alias/secrets")
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("team")
                .value("payments")
                .build(),
        )
        .secret_string("never read")
        .send()
        .await
        .unwrap();
    sm.create_secret()
        .name("versioned")
        .secret_string("one")
        .send()
        .await
        .unwrap();
    sm.put_secret_value()
        .secret_id("versioned")
        .secret_string("two")
        .send()
        .await
        .unwrap();
    sm.create_secret()
        .name("replicated")
        .secret_string("never read")
        .add_replica_regions(
            aws_sdk_secretsmanager::types::ReplicaRegionType::builder()
                .region(REPLICA_REGION)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let reads = [
        ("plain", SAMPLE_REGION),
        ("described", SAMPLE_REGION),
        ("versioned", SAMPLE_REGION),
        ("replicated", SAMPLE_REGION),
        ("replicated", REPLICA_REGION),
    ];
    for (name, region) in reads {
        let listed = port_aws_sync::aws::lookup::secret(&config, region, name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("ListSecrets has no {name} in {region}"));
        let reread = port_aws_sync::aws::reread::secret(&config, region, name)
            .await
            .unwrap();
        assert_eq!(
            reread,
            port_aws_sync::aws::reread::Reread::Present(listed.clone()),
            "{name} in {region}"
        );
        if name == "versioned" {
            assert_eq!(
                listed["SecretVersionsToStages"]
                    .as_object()
                    .map(|v| v.len()),
                Some(2),
                "{listed}"
            );
        }
    }
}

/// A resource the mapping no longer selects leaves Port as the next resync would make it
/// leave: deleted when this integration wrote it, kept when another writer did; selected
/// again, it comes back.
#[tokio::test]
async fn a_secret_the_mapping_no_longer_selects_is_deleted_when_ours() {
    let moto = Moto::start();
    let mut config = support::fixtures::shipped_mapping_json();
    let secret = config["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["kind"] == json!("AWS::SecretsManager::Secret"))
        .unwrap();
    secret["selector"]["query"] = json!(r#"(.Description // "") | test("archived") | not"#);
    let mapping = Mapping::from_yaml(&config.to_string(), Path::new("not-archived.yml")).unwrap();
    let live = live(&moto, sample_settings(), mapping).await;
    let sm = secrets_client(&moto.sdk_config(SAMPLE_REGION).await);
    let describe = |name: &'static str, description: &'static str| {
        let sm = sm.clone();
        async move {
            sm.update_secret()
                .secret_id(name)
                .description(description)
                .send()
                .await
                .unwrap();
        }
    };
    let event_for = |name: &str| {
        let mut event = fixture("secretsmanager-tag-resource");
        event["detail"]["requestParameters"]["secretId"] = json!(name);
        event
    };
    let arn = sm
        .create_secret()
        .name("app/db")
        .description("in use")
        .secret_string("never read")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let entity = format!("awsSecret {arn}");
    assert_eq!(
        live.handle(&event_for("app/db")).await,
        Ok(Handled::Upserted(vec![entity.clone()]))
    );

    describe("app/db", "archived").await;
    assert_eq!(
        live.handle(&event_for("app/db")).await,
        Ok(Handled::Deselected(vec![entity.clone()]))
    );
    assert!(live.emu.entity("awsSecret", &arn).is_none());
    assert_eq!(
        live.handle(&event_for("app/db")).await,
        Ok(Handled::NotSelected),
        "nothing of ours left to delete"
    );

    // An entity another writer made under the same identifier is not ours to delete.
    let foreign = sm
        .create_secret()
        .name("app/foreign")
        .description("archived")
        .secret_string("never read")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    live.emu
        .seed_entities(
            "awsSecret",
            [json!({"identifier": foreign, "title": "kept by hand", "properties": {}, "relations": {}})],
            "port-ocean/aws/1.0.0/someone-else/exporter",
        )
        .unwrap();
    assert_eq!(
        live.handle(&event_for("app/foreign")).await,
        Ok(Handled::NotSelected)
    );
    assert!(live.emu.entity("awsSecret", &foreign).is_some());

    describe("app/db", "in use again").await;
    assert_eq!(
        live.handle(&event_for("app/db")).await,
        Ok(Handled::Upserted(vec![entity]))
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

#[tokio::test]
async fn serve_events_follows_a_secret_from_eventbridge_through_sqs_into_port() {
    let moto = Moto::start();
    let queue_url = secrets_queue(&moto, json!({})).await;
    let emu = emulator(Faults::default()).await;
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
    ready(&service).await;

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
    put_created(&moto, &arn).await;
    wait_for_secret(&service, &emu, &arn, "the created secret in Port").await;

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
    let queue_url = secrets_queue(&moto, json!({"VisibilityTimeout": "1"})).await;
    let emu = emulator(Faults::default()).await;
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
    put_created(&moto, &arn).await;
    wait_for_secret(&service, &emu, &arn, "the created secret in Port").await;

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

#[tokio::test]
async fn the_webhook_takes_oceans_body_and_raw_events_with_the_right_key_only() {
    let moto = Moto::start();
    let emu = emulator(Faults::default()).await;
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
    ready(&service).await;
    let arn = secret_in(&moto, "app/webhook").await;
    let ocean = ocean_secret_body(&arn);

    for key in [None, Some("wrong"), Some("ocean-live-events-ke")] {
        let (status, body) = post_webhook(&service, key, ocean.clone()).await;
        assert_eq!(status, 401, "{key:?}");
        assert!(!body.contains("key"), "the 401 says too much: {body}");
    }
    let (status, body) = post_webhook(&service, Some(API_KEY), "not json {".into()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not JSON"), "{body}");
    let (status, _) = post_webhook(
        &service,
        Some(API_KEY),
        json!({"hello": "world"}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    // A body over the limit (EventBridge's 256 KB) is refused whole, even one naming a real
    // secret: it never reaches the engine (checked at the end, after events that did).
    let oversized_arn = secret_in(&moto, "app/oversized").await;
    let mut oversized: Value = serde_json::from_str(&ocean_secret_body(&oversized_arn)).unwrap();
    oversized["padding"] = json!("x".repeat(300 * 1024));
    let (status, body) = post_webhook(&service, Some(API_KEY), oversized.to_string()).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        emu.requests()
            .iter()
            .all(|r| r.path != paths::ENTITIES_BULK),
        "a refused request wrote to Port"
    );

    let (status, body) = post_webhook(&service, Some(API_KEY), ocean).await;
    assert_eq!(status, 202, "{body}");
    wait_for_secret(&service, &emu, &arn, "the secret from Ocean's body in Port").await;

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
    let (status, body) = post_webhook(&service, Some(API_KEY), tagged.to_string()).await;
    assert_eq!(status, 202, "{body}");
    service
        .wait_for("the tag from the raw event in Port", || {
            let tagged = emu
                .entity("awsSecret", &arn)
                .is_some_and(|e| e.properties.get("tags") == Some(&json!({"team": "web"})));
            async move { tagged }
        })
        .await;

    let (status, body) = post_webhook(
        &service,
        Some(API_KEY),
        fixture("ec2-run-instances").to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("unknown_event"), "{body}");

    let metrics = metrics(&service).await;
    for line in [
        r#"port_aws_sync_live_events_total{source="ocean_webhook",kind="AWS::SecretsManager::Secret",action="upsert"} 1"#,
        r#"port_aws_sync_live_events_total{source="cloudtrail",kind="AWS::SecretsManager::Secret",action="upsert"} 1"#,
        // The body of neither shape and the EC2 event.
        r#"port_aws_sync_live_events_total{source="unknown",kind="unknown",action="ignored"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
    assert!(
        emu.entity("awsSecret", &oversized_arn).is_none(),
        "the body over the limit was handled"
    );
}

/// A webhook event whose read AWS throttles is tried again after a wait (nobody would
/// deliver it again), reported and counted, and reaches Port once AWS answers; a refusal is
/// not tried again.
#[tokio::test]
async fn the_webhook_tries_again_a_read_aws_throttled_until_it_passes() {
    let moto = Moto::start();
    let proxy = AwsProxy::start(&moto.endpoint()).await;
    proxy.answer(first_calls("DescribeSecret", 2, json_throttling));
    let emu = emulator(Faults::default()).await;
    let endpoint = proxy.endpoint();
    let env = service::env(
        &moto,
        &emu,
        REGION,
        &[
            ("LIVE_EVENTS_API_KEY", API_KEY),
            ("LIVE_EVENTS_COALESCE_MS", "50"),
            ("AWS_ENDPOINT_URL", &endpoint),
            // The SDK's own retries would hide the throttling from the engine.
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
    );
    let service = Service::start(&["serve-events"], &env);
    ready(&service).await;
    let arn = secret_in(&moto, "app/throttled").await;
    let (status, body) = post_webhook(&service, Some(API_KEY), ocean_secret_body(&arn)).await;
    assert_eq!(status, 202, "{body}");
    wait_for_secret(
        &service,
        &emu,
        &arn,
        "the secret in Port after two throttled reads",
    )
    .await;
    let stderr = service.stderr();
    assert_eq!(
        stderr.matches("live event failed; trying again").count(),
        2,
        "{stderr}"
    );
    assert!(stderr.contains("ThrottlingException"), "{stderr}");
    let text = metrics(&service).await;
    for line in [
        r#"port_aws_sync_live_event_retries_total{source="ocean_webhook",kind="AWS::SecretsManager::Secret"} 2"#,
        r#"port_aws_sync_live_events_total{source="ocean_webhook",kind="AWS::SecretsManager::Secret",action="upsert"} 1"#,
    ] {
        assert!(text.contains(line), "{line} not in:\n{text}");
    }
    assert!(
        !text.contains(r#"action="failed""#),
        "a recovered event counted as failed:\n{text}"
    );

    // AccessDenied fails again the same way: given up at once, counted, nothing written.
    let denied = secret_in(&moto, "app/denied").await;
    let denied_arn = denied.clone();
    proxy.answer(move |call| {
        (call.operation == "DescribeSecret" && call.params.get("SecretId") == Some(&denied_arn))
            .then(|| json_access_denied("not authorized to perform: secretsmanager:DescribeSecret"))
    });
    let (status, _) = post_webhook(&service, Some(API_KEY), ocean_secret_body(&denied)).await;
    assert_eq!(status, 202);
    service
        .wait_for("the refused read given up", || {
            let given_up = service
                .stderr()
                .contains("live event failed; not tried again, the next resync brings it");
            async move { given_up }
        })
        .await;
    let text = metrics(&service).await;
    assert!(
        text.contains(r#"port_aws_sync_live_events_total{source="ocean_webhook",kind="AWS::SecretsManager::Secret",action="failed"} 1"#),
        "{text}"
    );
    assert_eq!(
        service
            .stderr()
            .matches("live event failed; trying again")
            .count(),
        2,
        "a refusal was tried again"
    );
    assert!(emu.entity("awsSecret", &denied).is_none());
}

/// A message whose read AWS throttled comes back after a short wait set with
/// ChangeMessageVisibility, not after the queue's visibility timeout (here ten minutes, far
/// beyond the test's patience).
#[tokio::test]
async fn a_failed_message_comes_back_long_before_the_visibility_timeout() {
    let moto = Moto::start();
    let proxy = AwsProxy::start(&moto.endpoint()).await;
    proxy.answer(first_calls("DescribeSecret", 1, json_throttling));
    let queue_url = secrets_queue(&moto, json!({"VisibilityTimeout": "600"})).await;
    let emu = emulator(Faults::default()).await;
    let endpoint = proxy.endpoint();
    let env = service::env(
        &moto,
        &emu,
        REGION,
        &[
            ("LIVE_EVENTS_QUEUE_URL", &queue_url),
            ("LIVE_EVENTS_COALESCE_MS", "50"),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
    );
    let service = Service::start(&["serve-events"], &env);
    ready(&service).await;
    let arn = secret_in(&moto, "app/throttled").await;
    put_created(&moto, &arn).await;
    wait_for_secret_and_drained(&service, &emu, &moto, &queue_url, &arn).await;
    let stderr = service.stderr();
    assert!(
        stderr.contains("failed live event comes back for another try")
            && stderr.contains("retry_in_seconds=2"),
        "{stderr}"
    );
    let visibility_changes: Vec<_> = proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "ChangeMessageVisibility")
        .collect();
    assert!(!visibility_changes.is_empty(), "{:?}", proxy.counts());
}

/// A message whose handling outlasts the queue's visibility timeout (Port answers slowly)
/// has its visibility extended meanwhile: SQS does not deliver it a second time (here a
/// second receive would move it to the dead-letter queue), so it is handled once.
#[tokio::test]
async fn a_message_handled_longer_than_its_visibility_is_handled_once() {
    let moto = Moto::start();
    let dlq = sqs(
        &moto,
        "CreateQueue",
        json!({"QueueName": "live-events-dlq"}),
    )
    .await;
    let dlq_url = dlq["QueueUrl"].as_str().unwrap().to_owned();
    let redrive = json!({
        "deadLetterTargetArn": format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:live-events-dlq"),
        "maxReceiveCount": "1",
    });
    let queue_url = secrets_queue(
        &moto,
        json!({"VisibilityTimeout": "1", "RedrivePolicy": redrive.to_string()}),
    )
    .await;
    let emu = emulator(Faults::default()).await;
    let env = service::env(
        &moto,
        &emu,
        REGION,
        &[
            ("LIVE_EVENTS_QUEUE_URL", &queue_url),
            ("LIVE_EVENTS_COALESCE_MS", "50"),
        ],
    );
    let service = Service::start(&["serve-events"], &env);
    ready(&service).await;
    // Each read of Port takes 2.5 s: the search before the write outlasts the visibility.
    emu.set_faults(Faults {
        latency_ms: 2_500,
        endpoints: vec![format!("POST {}", paths::ENTITIES_SEARCH)],
        ..Default::default()
    });
    let arn = secret_in(&moto, "app/slow").await;
    put_created(&moto, &arn).await;
    wait_for_secret_and_drained(&service, &emu, &moto, &queue_url, &arn).await;
    assert_eq!(
        messages_left(&moto, &dlq_url).await,
        0,
        "the message was delivered a second time"
    );
    let metrics = metrics(&service).await;
    assert!(
        metrics.contains(r#"port_aws_sync_live_events_total{source="cloudtrail",kind="AWS::SecretsManager::Secret",action="upsert"} 1"#),
        "{metrics}"
    );
}

/// serve-events alone registers the integration and maps events with the mapping stored in
/// Port (MAPPING_SOURCE=port), as serve-actions does.
#[tokio::test]
async fn serve_events_registers_and_maps_with_ports_mapping() {
    let moto = Moto::start();
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"))
        .integration(json!({
            "installationId": "aws-sync",
            "installationAppType": "aws",
            "version": "0.0.1",
            "config": support::fixtures::secret_mapping_with("title", r#".Name + " (from Port)""#),
        }))
        .start()
        .await;
    let env = service::env(
        &moto,
        &emu,
        REGION,
        &[
            ("LIVE_EVENTS_API_KEY", API_KEY),
            ("LIVE_EVENTS_COALESCE_MS", "50"),
            ("EVENT_LISTENER_INTERVAL_SECONDS", "1"),
        ],
    );
    let service = Service::start(&["serve-events"], &env);
    ready(&service).await;
    assert_eq!(
        emu.integration("aws-sync").unwrap()["version"],
        json!(env!("CARGO_PKG_VERSION")),
        "registered at start"
    );
    let title = |arn: String| {
        let emu = &emu;
        let service = &service;
        async move {
            let (status, body) =
                post_webhook(service, Some(API_KEY), ocean_secret_body(&arn)).await;
            assert_eq!(status, 202, "{body}");
            service
                .wait_for("the secret in Port", || {
                    let found = emu.entity("awsSecret", &arn).is_some();
                    async move { found }
                })
                .await;
            emu.entity("awsSecret", &arn).unwrap().title
        }
    };
    assert_eq!(
        title(secret_in(&moto, "port/one").await).await.as_deref(),
        Some("port/one (from Port)")
    );

    // A mapping edited in Port's UI is picked up by the next poll.
    emu.set_integration_config(
        "aws-sync",
        support::fixtures::secret_mapping_with("title", r#".Name + " (v2)""#),
    )
    .unwrap();
    service
        .wait_for("the poll to read the new mapping", || async {
            service
                .stderr()
                .matches("action runs and live events map with Port's mapping")
                .count()
                >= 2
        })
        .await;
    assert_eq!(
        title(secret_in(&moto, "port/two").await).await.as_deref(),
        Some("port/two (v2)")
    );
}

#[tokio::test]
async fn run_follows_a_live_event_with_its_schedule_far_away() {
    let moto = Moto::start();
    let queue_url = secrets_queue(&moto, json!({})).await;
    let emu = emulator(Faults::default()).await;
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
    ready(&service).await;
    let arn = secret_in(&moto, "app/run").await;
    put_created(&moto, &arn).await;
    wait_for_secret(
        &service,
        &emu,
        &arn,
        "the created secret in Port without a resync",
    )
    .await;
    let metrics = metrics(&service).await;
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
    let emu = emulator(Faults::default()).await;
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
    assert!(error.message.contains("AccessDenied"), "{error}");
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
    let queue_url = secrets_queue(&moto, json!({})).await;
    let emu = emulator(Faults {
        latency_ms: 20,
        ..Default::default()
    })
    .await;
    let env = service::env(
        &moto,
        &emu,
        REGION,
        &[("LIVE_EVENTS_QUEUE_URL", &queue_url), ("LOG_LEVEL", "warn")],
    );
    let service = Service::start(&["serve-events"], &env);
    ready(&service).await;
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
        "live events benchmark: {} events over {SECRETS} secrets, Port latency 20 ms/request, coalescing window {} ms (the default)",
        samples.len(),
        port_aws_sync::events::settings::LiveEventsSettings::DEFAULT_COALESCE.as_millis()
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
