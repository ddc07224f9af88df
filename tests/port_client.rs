//! The Port client against the Port emulator, through the public client API only.

use std::time::Duration;

use port_aws_sync::entity::Entity;
use port_aws_sync::port::{PortClient, PortConfig, RetryPolicy, UpsertOptions, operation};
use port_emulator::{Emulator, Faults, PORT_BODY_LIMIT, paths};
use serde_json::{Map, Value, json};

const OUR_DATASOURCE: &str = concat!(
    "port-ocean/aws-sync/",
    env!("CARGO_PKG_VERSION"),
    "/aws-sync/exporter"
);

fn blueprints() -> Vec<Value> {
    vec![
        json!({"identifier": "awsAccount", "title": "AWS account", "schema": {"properties": {
            "email": {"type": "string"}}}}),
        json!({"identifier": "awsSecret", "title": "Secret", "schema": {
            "properties": {
                "arn": {"type": "string"},
                "blob": {"type": "string"},
                "rotationDays": {"type": "number"}},
            "required": ["arn"]},
            "relations": {"account": {"target": "awsAccount", "required": false, "many": false}}}),
    ]
}

async fn emulator() -> Emulator {
    Emulator::builder().blueprints(blueprints()).start().await
}

/// A client with retry waits in milliseconds so faults do not slow the tests.
fn client_for(emu: &Emulator) -> PortClient {
    let mut config = PortConfig::new(emu.client_id(), emu.client_secret());
    config.base_url = emu.base_url();
    config.retry = RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(60),
    };
    PortClient::new(config).expect("valid config")
}

fn secret(id: &str) -> Entity {
    let mut properties = Map::new();
    properties.insert(
        "arn".into(),
        json!(format!("arn:aws:secretsmanager:eu-west-1:1:secret:{id}")),
    );
    Entity {
        identifier: id.into(),
        blueprint: "awsSecret".into(),
        title: Some(format!("Secret {id}")),
        icon: None,
        team: None,
        properties,
        relations: Map::new(),
    }
}

fn secrets(n: usize) -> Vec<Entity> {
    (0..n).map(|i| secret(&format!("s{i:05}"))).collect()
}

fn ids(entities: &[Value]) -> Vec<String> {
    entities
        .iter()
        .map(|e| e["identifier"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn authenticates_once_and_reuses_the_token() {
    let emu = emulator().await;
    let client = client_for(&emu);
    for _ in 0..3 {
        assert!(client.get_blueprint("awsSecret").await.unwrap().is_some());
    }
    let outcome = client
        .bulk_upsert("awsSecret", &secrets(3), &UpsertOptions::default())
        .await;
    assert!(outcome.is_complete_success());
    let counts = emu.request_counts();
    assert_eq!(counts.count("POST", paths::ACCESS_TOKEN), 1);
    assert_eq!(counts.with_status(401), 0);
    assert_eq!(client.stats().token_fetches, 1);
    assert_eq!(
        client.stats().responses_with(operation::GET_BLUEPRINT, 200),
        3
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_token_fetch() {
    // Port keeps one active token per credential set: parallel fetches would retire each other.
    let emu = emulator().await;
    let client = client_for(&emu);
    let calls = (0..16).map(|_| client.get_blueprint("awsAccount"));
    for result in futures::future::join_all(calls).await {
        assert!(result.unwrap().is_some());
    }
    assert_eq!(emu.request_counts().count("POST", paths::ACCESS_TOKEN), 1);
    assert_eq!(emu.request_counts().with_status(401), 0);
}

#[tokio::test]
async fn refreshes_a_short_lived_token_before_it_expires() {
    let emu = Emulator::builder()
        .blueprints(blueprints())
        .token_lifetime(Duration::from_secs(2))
        .start()
        .await;
    let client = client_for(&emu);
    client.get_blueprint("awsSecret").await.unwrap();
    // Past the refresh point (1.8 s): the client must renew on its own, without a 401.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    client.get_blueprint("awsSecret").await.unwrap();
    let counts = emu.request_counts();
    assert_eq!(counts.count("POST", paths::ACCESS_TOKEN), 2);
    assert_eq!(
        counts.with_status(401),
        0,
        "refreshed before expiry, not after a 401"
    );
    assert_eq!(client.stats().reauthentications, 0);
}

#[tokio::test]
async fn a_retry_after_a_long_wait_goes_out_with_a_fresh_token() {
    // Five 429s asking for a second each: the retries of one request outlive two 2-second
    // tokens. Each attempt must carry a token that is still valid, not the one the first
    // attempt had: Port answers that one with a 401, and a request only gets one 401 retry.
    let emu = Emulator::builder()
        .blueprints(blueprints())
        .token_lifetime(Duration::from_secs(2))
        .faults(Faults {
            rate_limit_next: 5,
            retry_after_secs: 1,
            endpoints: vec![format!("GET {}", paths::BLUEPRINT)],
            ..Faults::default()
        })
        .start()
        .await;
    let mut config = PortConfig::new(emu.client_id(), emu.client_secret());
    config.base_url = emu.base_url();
    config.retry = RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_secs(2),
        max_elapsed: Duration::from_secs(60),
    };
    let client = PortClient::new(config).expect("valid config");

    assert!(client.get_blueprint("awsSecret").await.unwrap().is_some());

    let counts = emu.request_counts();
    assert_eq!(counts.count_status("GET", paths::BLUEPRINT, 429), 5);
    assert_eq!(
        counts.with_status(401),
        0,
        "no attempt went out with an expired token"
    );
    assert!(counts.count("POST", paths::ACCESS_TOKEN) >= 3, "{counts}");
}

#[tokio::test]
async fn recovers_from_a_401_with_one_new_token() {
    let emu = emulator().await;
    let client = client_for(&emu);
    client.get_blueprint("awsSecret").await.unwrap();
    emu.revoke_tokens();
    assert!(client.get_blueprint("awsSecret").await.unwrap().is_some());
    let counts = emu.request_counts();
    assert_eq!(counts.count_status("GET", paths::BLUEPRINT, 401), 1);
    assert_eq!(counts.count("POST", paths::ACCESS_TOKEN), 2);
    assert_eq!(client.stats().reauthentications, 1);
}

#[tokio::test]
async fn refused_credentials_are_an_authentication_error() {
    let emu = emulator().await;
    let mut config = PortConfig::new(emu.client_id(), "wrong-secret");
    config.base_url = emu.base_url();
    let client = PortClient::new(config).unwrap();
    let err = client.get_blueprint("awsSecret").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(!err.to_string().contains("wrong-secret"));
    assert!(!format!("{err:?}").contains("wrong-secret"));
}

#[tokio::test]
async fn bulk_upsert_of_45_entities_takes_3_requests() {
    let emu = emulator().await;
    let client = client_for(&emu);
    let entities = secrets(45);
    let outcome = client
        .bulk_upsert("awsSecret", &entities, &UpsertOptions::default())
        .await;
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(outcome.succeeded.len(), 45);
    assert!(outcome.succeeded.iter().all(|e| e.created));
    let in_order: Vec<&str> = outcome
        .succeeded
        .iter()
        .map(|e| e.identifier.as_str())
        .collect();
    let expected: Vec<&str> = entities
        .iter()
        .filter_map(|e| e.identifier.as_id())
        .collect();
    assert_eq!(in_order, expected);
    assert_eq!(emu.request_counts().count("POST", paths::ENTITIES_BULK), 3);
    let stored = emu.entity("awsSecret", "s00044").unwrap();
    assert_eq!(stored.title.as_deref(), Some("Secret s00044"));
    assert_eq!(stored.meta.datasource, OUR_DATASOURCE);

    // Upserting again updates.
    let again = client
        .bulk_upsert("awsSecret", &entities[..2], &UpsertOptions::default())
        .await;
    assert!(again.succeeded.iter().all(|e| !e.created));
}

#[tokio::test]
async fn bulk_upsert_splits_by_size_under_one_mebibyte() {
    let emu = emulator().await;
    let client = client_for(&emu);
    let blob = "x".repeat(300 * 1024);
    let entities: Vec<Entity> = (0..10)
        .map(|i| {
            let mut e = secret(&format!("big{i}"));
            e.properties.insert("blob".into(), json!(blob));
            e
        })
        .collect();
    let outcome = client
        .bulk_upsert("awsSecret", &entities, &UpsertOptions::default())
        .await;
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(emu.entity_count("awsSecret"), 10);
    let bulk: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.path == paths::ENTITIES_BULK)
        .collect();
    assert_eq!(bulk.len(), 4, "three 300 KiB entities per request");
    assert!(
        bulk.iter()
            .all(|r| r.status == 200 && r.body_bytes < PORT_BODY_LIMIT)
    );
}

#[tokio::test]
async fn a_413_halves_the_request_until_it_fits() {
    let emu = emulator().await;
    // Stricter than Port: the client's size planning alone would send 20 entities at once.
    emu.set_body_limit(64 * 1024);
    let client = client_for(&emu);
    let blob = "y".repeat(10 * 1024);
    let entities: Vec<Entity> = (0..20)
        .map(|i| {
            let mut e = secret(&format!("mid{i}"));
            e.properties.insert("blob".into(), json!(blob));
            e
        })
        .collect();
    let outcome = client
        .bulk_upsert("awsSecret", &entities, &UpsertOptions::default())
        .await;
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(outcome.succeeded.len(), 20);
    assert_eq!(emu.entity_count("awsSecret"), 20);
    let counts = emu.request_counts();
    assert!(
        counts.count_status("POST", paths::ENTITIES_BULK, 413) >= 2,
        "20 → 10 → 5 entities: {counts}"
    );
    assert!(counts.count_status("POST", paths::ENTITIES_BULK, 200) >= 4);
}

#[tokio::test]
async fn partial_failures_are_reported_per_identifier_with_ports_message() {
    let emu = emulator().await;
    let client = client_for(&emu);
    let mut entities = secrets(5);
    entities[1]
        .properties
        .insert("rotationDays".into(), json!("thirty"));
    entities[3]
        .relations
        .insert("account".into(), json!("999999999999"));
    // Outside Port's identifier pattern: Port refuses the whole request (422); the client
    // halves it until the offender is alone.
    entities.push(secret("has space"));

    let outcome = client
        .bulk_upsert("awsSecret", &entities, &UpsertOptions::default())
        .await;
    let ok: Vec<&str> = outcome
        .succeeded
        .iter()
        .map(|e| e.identifier.as_str())
        .collect();
    assert_eq!(ok, ["s00000", "s00002", "s00004"]);
    let failed: Vec<(&str, Option<u16>)> = outcome
        .failed
        .iter()
        .map(|f| (f.identifier.as_str(), f.status_code))
        .collect();
    assert_eq!(
        failed,
        [
            ("s00001", Some(422)),
            ("s00003", Some(404)),
            ("has space", Some(422))
        ]
    );
    assert!(
        outcome.failed[0].message.contains("rotationDays"),
        "{}",
        outcome.failed[0].message
    );
    assert_eq!(outcome.failed[0].error, "entity_does_not_match_blueprint");
    assert!(outcome.failed[1].message.contains("999999999999"));
    assert!(outcome.failed[2].message.contains("identifier"));
    assert_eq!(emu.entity_count("awsSecret"), 3);
    assert!(
        emu.request_counts()
            .count_status("POST", paths::ENTITIES_BULK, 207)
            >= 1
    );

    // With create_missing_related_entities the related account is created bare.
    let options = UpsertOptions {
        create_missing_related_entities: true,
        ..UpsertOptions::default()
    };
    let retried = client
        .bulk_upsert("awsSecret", &entities[3..4], &options)
        .await;
    assert!(retried.is_complete_success());
    assert!(emu.entity("awsAccount", "999999999999").is_some());
}

#[tokio::test]
async fn entities_of_another_blueprint_are_refused_without_a_request() {
    let emu = emulator().await;
    let client = client_for(&emu);
    let mut account = secret("123");
    account.blueprint = "awsAccount".into();
    let outcome = client
        .bulk_upsert("awsSecret", &[account], &UpsertOptions::default())
        .await;
    assert_eq!(outcome.failed[0].error, "blueprint_mismatch");
    assert_eq!(emu.request_counts().total(), 0);
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_until_every_entity_is_written() {
    let emu = emulator().await;
    emu.set_faults(Faults {
        server_error_rate: 0.2,
        rate_limit_rate: 0.1,
        retry_after_secs: 1,
        seed: 11,
        ..Faults::default()
    });
    let client = client_for(&emu);
    let entities = secrets(300);
    let options = UpsertOptions {
        merge: true,
        ..UpsertOptions::default()
    };
    let outcome = client.bulk_upsert("awsSecret", &entities, &options).await;
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(outcome.succeeded.len(), 300);
    let stored = emu.entities("awsSecret");
    assert_eq!(stored.len(), 300);
    for (entity, stored) in entities.iter().zip(&stored) {
        assert_eq!(entity.identifier.as_id(), Some(stored.identifier.as_str()));
        assert_eq!(entity.properties, stored.properties);
        assert_eq!(entity.title, stored.title);
    }
    let counts = emu.request_counts();
    let server_errors: u64 = [500, 502, 503, 504]
        .iter()
        .map(|s| counts.with_status(*s))
        .sum();
    let limited = counts.with_status(429);
    assert!(
        server_errors > 0 && limited > 0,
        "faults were injected: {counts}"
    );
    assert_eq!(client.stats().retries, server_errors + limited);
}

#[tokio::test]
async fn gives_up_after_the_attempt_budget_with_ports_error() {
    let emu = emulator().await;
    let client = client_for(&emu);
    client.get_blueprint("awsSecret").await.unwrap();
    let search = format!("POST {}", paths::ENTITIES_SEARCH);
    emu.set_faults(Faults {
        server_error_next: 1000,
        endpoints: vec![search],
        ..Faults::default()
    });
    let query = json!({"combinator": "and", "rules": []});
    let err = client
        .search_entities("awsSecret", &query, &[])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(client.stats().attempts(operation::SEARCH), 10);
}

#[tokio::test]
async fn non_retryable_errors_carry_ports_message() {
    let emu = emulator().await;
    let client = client_for(&emu);
    let err = client
        .create_blueprint(&json!({"identifier": "x", "title": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert!(err.message().contains("schema"), "{err}");
    assert_eq!(
        emu.request_counts().count("POST", paths::BLUEPRINTS),
        1,
        "not retried"
    );
}

#[tokio::test]
async fn owned_entities_are_those_of_this_integration_identifier() {
    let emu = emulator().await;
    let client = client_for(&emu);
    let written = client
        .bulk_upsert("awsSecret", &[secret("ours")], &UpsertOptions::default())
        .await;
    assert!(written.is_complete_success());
    let writers = [
        ("ocean-same-id", "port-ocean/aws/0.2.7/aws-sync/exporter"),
        ("ocean-other-id", "port-ocean/aws/0.2.7/other-aws/exporter"),
        ("gitops", "port-ocean/aws-sync/0.1.0/aws-sync/gitops"),
        (
            "longer-suffix",
            "port-ocean/aws-sync/0.1.0/aws-sync/exporter-v2",
        ),
        ("not-ocean", "my-port-ocean/x/aws-sync/exporter"),
        ("ui", "Mozilla/5.0"),
    ];
    for (id, datasource) in writers {
        let entity = json!({"identifier": id, "properties": {"arn": "a"}});
        emu.seed_entities("awsSecret", [entity], datasource)
            .unwrap();
    }
    let owned = client
        .owned_entities("awsSecret", &["$identifier"])
        .await
        .unwrap();
    assert_eq!(ids(&owned), ["ocean-same-id", "ours"]);
    assert_eq!(
        owned[0],
        json!({"identifier": "ocean-same-id"}),
        "include narrows the entity"
    );
}

#[tokio::test]
async fn search_follows_pages_past_1000_entities() {
    let emu = emulator().await;
    let seeded: Vec<Value> = (0..2345)
        .map(|i| {
            json!({"identifier": format!("p{i:05}"), "properties": {"arn": "a", "rotationDays": i % 7}})
        })
        .collect();
    emu.seed_entities("awsSecret", seeded, OUR_DATASOURCE)
        .unwrap();
    let client = client_for(&emu);
    let everything = json!({"combinator": "and", "rules": []});
    let all = client
        .search_entities("awsSecret", &everything, &[])
        .await
        .unwrap();
    let expected: Vec<String> = (0..2345).map(|i| format!("p{i:05}")).collect();
    assert_eq!(ids(&all), expected);
    assert_eq!(
        emu.request_counts().count("POST", paths::ENTITIES_SEARCH),
        3
    );

    let zero_days = json!({"combinator": "and", "rules": [
        {"property": "rotationDays", "operator": "=", "value": 0}]});
    let filtered = client
        .search_entities("awsSecret", &zero_days, &["$identifier"])
        .await
        .unwrap();
    assert_eq!(filtered.len(), 335);
}

#[tokio::test]
async fn bulk_delete_sends_chunks_of_100() {
    let emu = emulator().await;
    let seeded =
        (0..250).map(|i| json!({"identifier": format!("d{i}"), "properties": {"arn": "a"}}));
    emu.seed_entities("awsSecret", seeded, OUR_DATASOURCE)
        .unwrap();
    let client = client_for(&emu);
    let mut targets: Vec<String> = (0..250).map(|i| format!("d{i}")).collect();
    targets.push("never-existed".into());
    let outcome = client.bulk_delete("awsSecret", &targets, false).await;
    assert_eq!(outcome.deleted.len(), 250);
    assert_eq!(outcome.not_found, ["never-existed"]);
    assert!(outcome.failed.is_empty());
    assert_eq!(emu.entity_count("awsSecret"), 0);
    let bulk: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.path == paths::ENTITIES_BULK_DELETE)
        .collect();
    assert_eq!(bulk.len(), 3);
}

#[tokio::test]
async fn deletes_blocked_by_dependents_are_reported_and_delete_entity_is_idempotent() {
    let emu = emulator().await;
    let accounts = [json!({"identifier": "111"}), json!({"identifier": "222"})];
    emu.seed_entities("awsAccount", accounts, OUR_DATASOURCE)
        .unwrap();
    let dependent =
        json!({"identifier": "s", "properties": {"arn": "a"}, "relations": {"account": "111"}});
    emu.seed_entities("awsSecret", [dependent], OUR_DATASOURCE)
        .unwrap();
    let client = client_for(&emu);
    let ids = vec!["111".to_string(), "222".to_string()];
    let blocked = client.bulk_delete("awsAccount", &ids, false).await;
    assert_eq!(blocked.failed.len(), 2);
    assert_eq!(blocked.failed[0].status_code, Some(422));
    assert!(
        blocked.failed[0].message.contains("awsSecret/s"),
        "{}",
        blocked.failed[0].message
    );
    assert_eq!(emu.entity_count("awsAccount"), 2);

    assert!(
        client
            .delete_entity("awsAccount", "111", true, None)
            .await
            .unwrap()
    );
    assert!(
        !client
            .delete_entity("awsAccount", "111", true, None)
            .await
            .unwrap()
    );
    assert_eq!(emu.entity_count("awsSecret"), 0, "the dependent went too");
}

#[tokio::test]
async fn identifiers_with_slashes_stay_one_path_segment() {
    let emu = emulator().await;
    let arn = "arn:aws:secretsmanager:eu-west-1:1:secret:team/db/password-AbC";
    let entity = json!({"identifier": arn, "properties": {"arn": arn}});
    emu.seed_entities("awsSecret", [entity], OUR_DATASOURCE)
        .unwrap();
    let client = client_for(&emu);
    assert!(
        client
            .delete_entity("awsSecret", arn, false, None)
            .await
            .unwrap()
    );
    assert_eq!(emu.entity_count("awsSecret"), 0);
}

#[tokio::test]
async fn ensure_blueprints_creates_bare_then_relations_and_leaves_existing_alone() {
    let existing_account = json!({"identifier": "awsAccount", "title": "Account (theirs)",
        "schema": {"properties": {"owner": {"type": "string"}}}});
    let emu = Emulator::builder()
        .blueprint(existing_account)
        .start()
        .await;
    let before = emu.blueprint("awsAccount").unwrap();
    let client = client_for(&emu);
    // awsSecret comes first and relates to region, which does not exist yet: creating it with
    // its relations would be refused.
    let wanted = vec![
        json!({"identifier": "awsSecret", "title": "Secret", "schema": {"properties": {"arn": {"type": "string"}}},
            "relations": {
                "account": {"target": "awsAccount", "required": false, "many": false},
                "regions": {"target": "region", "required": false, "many": true}}}),
        json!({"identifier": "awsAccount", "title": "Account (ours)", "schema": {"properties": {}}}),
        json!({"identifier": "region", "title": "Region", "schema": {"properties": {}}, "relations": {}}),
    ];
    let report = client.ensure_blueprints(&wanted).await.unwrap();
    assert_eq!(report.created, ["awsSecret", "region"]);
    assert_eq!(report.existing, ["awsAccount"]);
    assert_eq!(
        emu.blueprint("awsAccount").unwrap(),
        before,
        "existing blueprint untouched"
    );
    assert_eq!(
        emu.blueprint("awsSecret").unwrap()["relations"],
        wanted[0]["relations"]
    );
    let counts = emu.request_counts();
    assert_eq!(counts.count_status("POST", paths::BLUEPRINTS, 201), 2);
    assert_eq!(
        counts.count_status("PATCH", paths::BLUEPRINT, 200),
        1,
        "only awsSecret had relations"
    );
    assert_eq!(counts.count("PUT", paths::BLUEPRINT), 0);

    let second = client.ensure_blueprints(&wanted).await.unwrap();
    assert!(second.created.is_empty());
    assert_eq!(
        emu.request_counts().count("PATCH", paths::BLUEPRINT),
        1,
        "nothing changed the second time"
    );
}

#[tokio::test]
async fn requests_in_flight_never_exceed_max_in_flight() {
    let emu = emulator().await;
    // Latency keeps requests open long enough to overlap if the client let them.
    emu.set_faults(Faults {
        latency_ms: 20,
        ..Faults::default()
    });
    let mut config = PortConfig::new(emu.client_id(), emu.client_secret());
    config.base_url = emu.base_url();
    config.max_in_flight = 3;
    let client = PortClient::new(config).unwrap();
    let outcome = client
        .bulk_upsert("awsSecret", &secrets(400), &UpsertOptions::default())
        .await;
    assert!(outcome.is_complete_success());
    assert_eq!(emu.request_counts().count("POST", paths::ENTITIES_BULK), 20);
    let peak = emu.peak_concurrent_requests();
    assert!(peak <= 3, "{peak} requests at once with max_in_flight = 3");
}

#[tokio::test]
async fn network_errors_are_retried_then_reported() {
    // A port nobody listens on: every attempt fails to connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let mut config = PortConfig::new("id", "secret");
    config.base_url = format!("http://{address}");
    config.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(30),
    };
    let client = PortClient::new(config).unwrap();
    let outcome = client
        .bulk_upsert("awsSecret", &secrets(2), &UpsertOptions::default())
        .await;
    assert_eq!(outcome.failed.len(), 2);
    assert_eq!(outcome.failed[0].status_code, None);
    assert_eq!(outcome.failed[0].error, "network_error");
    let stats = client.stats();
    // One batch, so one token fetch: three attempts, two retries, then the failure.
    assert_eq!(stats.network_errors.get(operation::AUTH), Some(&3));
    assert_eq!(stats.retries, 2);
}
