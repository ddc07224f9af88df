//! Live events: the shipped EventBridge rules (deploy/live-events) deliver the events
//! port-aws-sync handles to SQS and leave the others out, checked with moto's EventBridge on
//! realistic event samples (tests/fixtures/live-events).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::moto::{ACCOUNT_ID, Moto};

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
