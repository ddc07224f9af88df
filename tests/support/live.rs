//! Live events in tests: the shipped EventBridge patterns and event samples, moto's SQS and
//! EventBridge through their JSON APIs, a queue the shipped Secrets Manager rule feeds, and
//! the binary's readiness and metrics.

use std::path::{Path, PathBuf};

use port_emulator::{Emulator, Faults};
use serde_json::{Value, json};

use super::moto::{ACCOUNT_ID, Moto};
use super::service::Service;

/// The region of the queue tests and of moto's default bus.
pub const REGION: &str = "us-east-1";
/// The queue [`secrets_queue`] creates.
pub const QUEUE_NAME: &str = "live-events";

pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/live-events")
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A shipped EventBridge pattern (`deploy/live-events/patterns/NAME.json`).
pub fn pattern(name: &str) -> Value {
    read_json(&deploy_dir().join(format!("patterns/{name}.json")))
}

/// An event sample (`tests/fixtures/live-events/NAME.json`).
pub fn fixture(name: &str) -> Value {
    read_json(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/live-events/{name}.json")),
    )
}

pub async fn sqs(moto: &Moto, action: &str, body: Value) -> Value {
    let text = moto
        .call_json("sqs", REGION, &format!("AmazonSQS.{action}"), &body)
        .await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{action}: {e}: {text}"))
}

pub async fn events(moto: &Moto, action: &str, body: Value) -> Value {
    let text = moto
        .call_json("events", REGION, &format!("AWSEvents.{action}"), &body)
        .await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{action}: {e}: {text}"))
}

/// Queue [`QUEUE_NAME`] with `attributes` (`{"VisibilityTimeout": "1"}`…), fed by the
/// shipped Secrets Manager rule on the default bus; its URL.
pub async fn secrets_queue(moto: &Moto, attributes: Value) -> String {
    let queue = sqs(
        moto,
        "CreateQueue",
        json!({"QueueName": QUEUE_NAME, "Attributes": attributes}),
    )
    .await;
    events(
        moto,
        "PutRule",
        json!({"Name": "secrets", "EventPattern": pattern("secrets-manager").to_string()}),
    )
    .await;
    events(
        moto,
        "PutTargets",
        json!({"Rule": "secrets", "Targets": [{"Id": "q", "Arn": format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{QUEUE_NAME}")}]}),
    )
    .await;
    queue["QueueUrl"].as_str().expect("QueueUrl").to_owned()
}

/// Puts `samples` on the default bus, as CloudTrail would have (ten per call, PutEvents'
/// most).
pub async fn put_events(moto: &Moto, samples: &[Value]) {
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

/// The queue's messages not yet deleted (visible or in flight).
pub async fn messages_left(moto: &Moto, url: &str) -> u64 {
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

/// A Port emulator with the shipped blueprints and `faults`.
pub async fn emulator(faults: Faults) -> Emulator {
    Emulator::builder()
        .blueprints_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"))
        .faults(faults)
        .start()
        .await
}

/// A secret (its value never read) in moto's [`REGION`]; its ARN.
pub async fn secret_in(moto: &Moto, name: &str) -> String {
    aws_sdk_secretsmanager::Client::new(&moto.sdk_config(REGION).await)
        .create_secret()
        .name(name)
        .secret_string("never read")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap()
}

/// Waits for `GET /health/ready` to answer 200.
pub async fn ready(service: &Service) {
    let http = reqwest::Client::new();
    service
        .wait_for("GET /health/ready", || {
            let request = http.get(service.url("/health/ready")).send();
            async move { request.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
}

/// `GET /metrics`.
pub async fn metrics(service: &Service) -> String {
    reqwest::get(service.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `POST /integration/webhook` with `key` in Ocean's header: the status and body.
pub async fn post_webhook(service: &Service, key: Option<&str>, body: String) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(service.url("/integration/webhook"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.header("x-port-aws-ocean-api-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Ocean's webhook body for a secret of moto's account in [`REGION`].
pub fn ocean_secret_body(arn: &str) -> String {
    json!({
        "resource_type": "AWS::SecretsManager::Secret",
        "identifier": arn,
        "accountId": ACCOUNT_ID,
        "awsRegion": REGION,
        "eventName": "CreateSecret"
    })
    .to_string()
}

/// Puts the CreateSecret event CloudTrail would send for the secret `arn`.
pub async fn put_created(moto: &Moto, arn: &str) {
    let mut created = fixture("secretsmanager-create-secret");
    created["detail"]["responseElements"]["arn"] = json!(arn);
    put_events(moto, &[created]).await;
}

/// Waits for entity `arn` of `awsSecret` in the emulator (`what` names it in a timeout).
pub async fn wait_for_secret(service: &Service, emu: &Emulator, arn: &str, what: &str) {
    service
        .wait_for(what, || {
            let found = emu.entity("awsSecret", arn).is_some();
            async move { found }
        })
        .await;
}

/// Waits for entity `arn` of `awsSecret` in the emulator and for the queue at `url` to hold
/// no message.
pub async fn wait_for_secret_and_drained(
    service: &Service,
    emu: &Emulator,
    moto: &Moto,
    url: &str,
    arn: &str,
) {
    service
        .wait_for("the secret in Port and the queue drained", || {
            let found = emu.entity("awsSecret", arn).is_some();
            async move { found && messages_left(moto, url).await == 0 }
        })
        .await;
}
