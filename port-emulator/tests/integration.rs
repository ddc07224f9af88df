//! Integrations: the record, its mapping, resync requests and state, examples, ingest URLs.

mod common;

use common::{Api, emulator};
use port_emulator::{Emulator, paths};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn mapping() -> Value {
    json!({"deleteDependentEntities": true, "resources": [{"kind": "AWS::SecretsManager::Secret",
        "selector": {"query": "true"},
        "port": {"entity": {"mappings": {"identifier": ".ARN", "blueprint": "\"awsSecret\""}}}}]})
}

fn create_body(id: &str) -> Value {
    json!({"installationId": id, "installationAppType": "aws", "version": "0.1.0",
        "changelogDestination": {}, "config": mapping()})
}

async fn patch(api: &Api, path: &str, body: Value) -> common::Reply {
    api.call(Method::PATCH, path, Some(body)).await
}

#[tokio::test]
async fn an_integration_is_created_read_and_updated() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    let missing = api.get("/v1/integration/my-aws").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error(), "not_found");

    let created = api.post("/v1/integration", create_body("my-aws")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let record = &created.body["integration"];
    assert_eq!(record["identifier"], json!("my-aws"));
    assert_eq!(record["installationAppType"], json!("aws"));
    assert_eq!(record["config"], mapping());
    let ingest = record["metricAttributes"]["ingestUrl"].as_str().unwrap();
    assert!(ingest.starts_with(&emu.base_url()), "{ingest}");

    let again = api.post("/v1/integration", create_body("my-aws")).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let got = api.get("/v1/integration/my-aws").await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["ok"], json!(true));
    assert_eq!(got.body["integration"]["version"], json!("0.1.0"));

    let updated = patch(&api, "/v1/integration/my-aws", json!({"version": "0.2.0"})).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(
        emu.integration("my-aws").unwrap()["version"],
        json!("0.2.0")
    );
    assert_eq!(emu.integration("my-aws").unwrap()["config"], mapping());
    assert!(
        emu.resync_request("my-aws").is_none(),
        "a field change is no resync request"
    );

    let wrong_type = patch(&api, "/v1/integration/my-aws", json!({"version": 2})).await;
    assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_destination = patch(
        &api,
        "/v1/integration/my-aws",
        json!({"changelogDestination": {"type": "EMAIL"}}),
    )
    .await;
    assert_eq!(bad_destination.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn create_needs_an_installation_id_and_a_valid_config() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    let no_id = api
        .post("/v1/integration", json!({"installationAppType": "aws"}))
        .await;
    assert_eq!(no_id.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_id.message().contains("installationId"), "{}", no_id.body);
    let mut body = create_body("x");
    body["config"]["resources"][0]
        .as_object_mut()
        .unwrap()
        .remove("port");
    let bad = api.post("/v1/integration", body).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.message().contains("'port'"), "{}", bad.body);
    let unknown = api
        .post(
            "/v1/integration",
            json!({"installationId": "x", "mapping": {}}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(emu.integration("x").is_none());
}

#[tokio::test]
async fn config_is_replaced_and_checked() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    api.post("/v1/integration", create_body("a")).await;
    let before = emu.integration("a").unwrap()["updatedAt"].clone();
    let mut changed = mapping();
    changed["resources"][0]["port"]["entity"]["mappings"]["title"] = json!(".Name");
    std::thread::sleep(std::time::Duration::from_millis(2));
    let reply = patch(&api, "/v1/integration/a/config", json!({"config": changed})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let record = emu.integration("a").unwrap();
    assert_eq!(record["config"], changed);
    assert_ne!(record["updatedAt"], before);
    let no_config = patch(&api, "/v1/integration/a/config", json!({})).await;
    assert_eq!(no_config.status, StatusCode::UNPROCESSABLE_ENTITY);
    let extra = patch(
        &api,
        "/v1/integration/a/config",
        json!({"config": {}, "version": "1"}),
    )
    .await;
    assert_eq!(extra.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = patch(&api, "/v1/integration/nope/config", json!({"config": {}})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn resync_requests_come_from_an_empty_patch_the_resync_route_and_save_and_resync() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    api.post("/v1/integration", create_body("a")).await;
    let none = api.get("/v1/integration/a/resync-request").await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.body["request"], Value::Null);

    let empty = api
        .call(Method::PATCH, "/v1/integration/a", Some(json!({})))
        .await;
    assert_eq!(empty.status, StatusCode::OK);
    let first = api.get("/v1/integration/a/resync-request").await.body["request"].clone();
    assert!(
        first["id"].is_string() && first["updatedAt"].is_string(),
        "{first}"
    );

    let posted = api.post("/v1/integration/a/resync", json!({})).await;
    assert_eq!(posted.status, StatusCode::OK);
    let second = api.get("/v1/integration/a/resync-request").await.body["request"].clone();
    assert_ne!(second["id"], first["id"]);

    let mut changed = mapping();
    changed["resources"][0]["selector"]["query"] = json!(".Name | startswith(\"prod\")");
    emu.save_and_resync("a", changed.clone()).unwrap();
    let third = emu.resync_request("a").unwrap();
    assert_ne!(third["id"], second["id"]);
    assert_eq!(emu.integration("a").unwrap()["config"], changed);
    assert!(
        emu.save_and_resync("a", json!({"resources": [{}]}))
            .is_err()
    );

    // The admin route does the same for scripts (the demo).
    let http = reqwest::Client::new();
    let url = format!(
        "{}/_emulator/integrations/a/save-and-resync",
        emu.base_url()
    );
    let reply = http
        .post(&url)
        .json(&json!({"config": mapping()}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_ne!(emu.resync_request("a").unwrap()["id"], third["id"]);
    assert_eq!(emu.integration("a").unwrap()["config"], mapping());
    assert_eq!(
        emu.request_counts()
            .count("GET", paths::INTEGRATION_RESYNC_REQUEST),
        3
    );
}

#[tokio::test]
async fn resync_state_is_strict_about_ocean_shape() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    api.post("/v1/integration", create_body("a")).await;
    let path = "/v1/integration/a/resync-state";
    let start = json!({"status": "running", "lastResyncStart": "2026-12-01T10:00:00.000Z",
        "lastResyncEnd": null, "nextResync": null, "intervalInMinuets": 1});
    let reply = patch(&api, path, start).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body["integration"]["resyncState"]["status"],
        json!("running")
    );
    assert!(reply.body["integration"]["resyncState"]["updatedAt"].is_string());

    let spelled_right = json!({"status": "completed", "lastResyncEnd": "2026-12-01T10:01:00Z",
        "nextResync": null, "intervalInMinutes": 1});
    let refused = patch(&api, path, spelled_right).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.message().contains("intervalInMinutes"),
        "{}",
        refused.body
    );
    let unknown_status = json!({"status": "success", "lastResyncEnd": "2026-12-01T10:01:00Z"});
    assert_eq!(
        patch(&api, path, unknown_status).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let no_end = json!({"status": "completed", "nextResync": null});
    assert_eq!(
        patch(&api, path, no_end).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let end = json!({"status": "completed", "lastResyncEnd": "2026-12-01T10:01:00.000Z",
        "nextResync": null, "intervalInMinuets": 1});
    assert_eq!(patch(&api, path, end).await.status, StatusCode::OK);
    let states = emu.resync_states("a");
    let statuses: Vec<&str> = states
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["running", "completed"]);
    let record = emu.integration("a").unwrap();
    assert_eq!(
        record["resyncState"]["lastResyncStart"],
        json!("2026-12-01T10:00:00.000Z"),
        "the start is kept when the end is reported"
    );
    assert_eq!(record["resyncState"]["status"], json!("completed"));
}

#[tokio::test]
async fn examples_logs_and_metrics_are_recorded() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    let record = api.post("/v1/integration", create_body("a")).await.body["integration"].clone();
    let kind = "AWS::SecretsManager::Secret";
    let examples_path = format!("/v1/integration/a/kinds/{kind}/examples");
    let examples = json!({"examples": [{"ARN": "arn:1"}, {"ARN": "arn:2"}]});
    assert_eq!(
        api.post(&examples_path, examples).await.status,
        StatusCode::OK
    );
    assert_eq!(emu.kind_examples("a", kind).len(), 2);
    let not_objects = api.post(&examples_path, json!({"examples": [1]})).await;
    assert_eq!(not_objects.status, StatusCode::UNPROCESSABLE_ENTITY);

    let logs_url = record["logAttributes"]["ingestUrl"].as_str().unwrap();
    let logs_path = logs_url.strip_prefix(&emu.base_url()).unwrap();
    let line = json!({"logs": [{"message": "resync started", "level": "INFO",
        "timestamp": "2026-12-01T10:00:00Z", "extra": {}}]});
    assert_eq!(api.post(logs_path, line).await.status, StatusCode::OK);
    let no_level = json!({"logs": [{"message": "m", "timestamp": "2026-12-01T10:00:00Z"}]});
    assert_eq!(
        api.post(logs_path, no_level).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(emu.ingested_logs("a").len(), 1);

    let metrics_url = record["metricAttributes"]["ingestUrl"].as_str().unwrap();
    let metrics_path = format!(
        "{}/syncMetrics",
        metrics_url.strip_prefix(&emu.base_url()).unwrap()
    );
    let metric = json!({"kind": kind, "kindIdentifier": format!("{kind}-0"), "kindIndex": 0,
        "eventId": "e1", "syncState": "completed", "metrics": {"phase": {}}});
    let posted = api
        .post(&metrics_path, json!({"syncKindsMetrics": [metric]}))
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    let mut bad_state = metric.clone();
    bad_state["syncState"] = json!("done");
    assert_eq!(
        api.post(&metrics_path, json!({"syncKindsMetrics": [bad_state]}))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(emu.ingested_metrics("a"), vec![metric]);
}

#[tokio::test]
async fn a_seeded_record_keeps_its_mapping_and_gets_ingest_urls() {
    let ocean = json!({"installationId": "my-ocean-aws", "installationAppType": "aws",
        "version": "0.2.90", "config": mapping()});
    let emu = Emulator::builder().integration(ocean).start().await;
    let record = emu.integration("my-ocean-aws").unwrap();
    assert_eq!(record["config"], mapping());
    assert_eq!(record["version"], json!("0.2.90"));
    assert!(
        record["logAttributes"]["ingestUrl"]
            .as_str()
            .unwrap()
            .starts_with(&emu.base_url())
    );
}
