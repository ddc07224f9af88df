//! The Port client's integration calls against the Port emulator.

use std::time::Duration;

use port_aws_sync::port::{
    NewIntegration, PortClient, PortConfig, ResyncStateUpdate, ResyncStatus, RetryPolicy,
};
use port_emulator::{Emulator, paths};
use serde_json::{Map, Value, json};

fn client_for(emu: &Emulator, identifier: &str) -> PortClient {
    let mut config = PortConfig::new(emu.client_id(), emu.client_secret());
    config.base_url = emu.base_url();
    config.integration_identifier = identifier.into();
    config.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(10),
    };
    PortClient::new(config).expect("valid config")
}

fn mapping() -> Value {
    json!({"resources": [{"kind": "AWS::SecretsManager::Secret", "selector": {"query": "true"},
        "port": {"entity": {"mappings": {"identifier": ".ARN", "blueprint": "\"awsSecret\""}}}}]})
}

#[tokio::test]
async fn registers_reads_and_updates_the_record() {
    let emu = Emulator::builder().start().await;
    let port = client_for(&emu, "my-aws");
    assert_eq!(port.get_integration().await.unwrap(), None);
    let created = port
        .create_integration(&NewIntegration {
            installation_app_type: "aws".into(),
            version: "1.2.3".into(),
            config: mapping(),
        })
        .await
        .unwrap();
    assert_eq!(created.identifier, "my-aws");
    assert_eq!(created.config, mapping());
    let stored = emu.integration("my-aws").unwrap();
    assert_eq!(stored["installationAppType"], json!("aws"));
    assert_eq!(stored["changelogDestination"], json!({}));

    let got = port.get_integration().await.unwrap().unwrap();
    assert_eq!(got.version.as_deref(), Some("1.2.3"));
    assert!(got.metric_ingest_url.is_some() && got.log_ingest_url.is_some());

    let mut fields = Map::new();
    fields.insert("version".into(), json!("1.2.4"));
    let patched = port.patch_integration(fields).await.unwrap();
    assert_eq!(patched.version.as_deref(), Some("1.2.4"));
    assert_eq!(patched.config, mapping(), "a field PATCH keeps the mapping");

    let mut changed = mapping();
    changed["resources"][0]["port"]["entity"]["mappings"]["title"] = json!(".Name");
    let replaced = port.patch_integration_config(&changed).await.unwrap();
    assert_eq!(replaced.config, changed);
    assert_eq!(emu.integration("my-aws").unwrap()["config"], changed);

    let refused = port
        .patch_integration_config(&json!({"resources": [{"kind": "k"}]}))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(422), "{refused}");
}

#[tokio::test]
async fn reports_resync_state_and_reads_resync_requests() {
    let emu = Emulator::builder()
        .integration(json!({"installationId": "a", "config": mapping()}))
        .start()
        .await;
    let port = client_for(&emu, "a");
    assert_eq!(port.get_resync_request().await.unwrap(), None);
    emu.request_resync("a");
    let first = port.get_resync_request().await.unwrap().unwrap();
    emu.save_and_resync("a", mapping()).unwrap();
    let second = port.get_resync_request().await.unwrap().unwrap();
    assert_ne!(first.id, second.id);

    let start = ResyncStateUpdate {
        status: ResyncStatus::Running,
        last_resync_start: Some("2026-12-01T10:00:00.000Z".into()),
        last_resync_end: None,
        next_resync: None,
        interval_minutes: Some(1),
    };
    port.patch_resync_state(&start).await.unwrap();
    let end = ResyncStateUpdate {
        status: ResyncStatus::Completed,
        last_resync_end: Some("2026-12-01T10:00:05.000Z".into()),
        ..start.clone()
    };
    port.patch_resync_state(&end).await.unwrap();
    let states = emu.resync_states("a");
    assert_eq!(states.len(), 2);
    assert_eq!(states[0]["status"], json!("running"));
    assert_eq!(states[1]["status"], json!("completed"));
    assert_eq!(states[1]["intervalInMinuets"], json!(1));
}

#[tokio::test]
async fn posts_examples_metrics_and_logs_where_the_record_says() {
    let emu = Emulator::builder()
        .integration(json!({"installationId": "a", "config": mapping()}))
        .start()
        .await;
    let port = client_for(&emu, "a");
    let record = port.get_integration().await.unwrap().unwrap();
    let kind = "AWS::SecretsManager::Secret";
    port.post_kind_examples(kind, &[json!({"ARN": "arn:1"})])
        .await
        .unwrap();
    assert_eq!(emu.kind_examples("a", kind), vec![json!({"ARN": "arn:1"})]);

    let metric = json!({"kind": kind, "kindIdentifier": format!("{kind}-0"), "kindIndex": 0,
        "eventId": "e", "syncState": "completed", "metrics": {}});
    port.post_sync_metrics(
        record.metric_ingest_url.as_deref().unwrap(),
        std::slice::from_ref(&metric),
    )
    .await
    .unwrap();
    assert_eq!(emu.ingested_metrics("a"), vec![metric]);
    let log = json!({"message": "m", "level": "INFO", "timestamp": "2026-12-01T10:00:00Z",
        "extra": {}});
    port.ingest_logs(record.log_ingest_url.as_deref().unwrap(), &[log])
        .await
        .unwrap();
    assert_eq!(emu.ingested_logs("a").len(), 1);
    let counts = emu.request_counts();
    assert_eq!(counts.count("POST", paths::INGEST_SYNC_METRICS), 1);
    assert_eq!(counts.count("POST", paths::INGEST_LOGS), 1);
    assert_eq!(counts.count("POST", paths::INTEGRATION_KIND_EXAMPLES), 1);
}
