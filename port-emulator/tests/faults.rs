//! Injected faults and the request log.

mod common;

use common::{Api, UA, emulator, secret};
use port_emulator::{Faults, RateLimitHint, paths};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn rate_limits_carry_retry_hints_then_stop() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    emu.set_faults(Faults {
        rate_limit_next: 2,
        retry_after_secs: 7,
        ..Faults::default()
    });
    let limited = api.get(paths::BLUEPRINTS).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers["retry-after"], "7");
    let reset: u64 = limited.headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        reset >= now + 5 && reset <= now + 8,
        "reset {reset} vs now {now}"
    );
    assert_eq!(
        api.get(paths::BLUEPRINTS).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(api.get(paths::BLUEPRINTS).await.status, StatusCode::OK);

    emu.set_faults(Faults {
        rate_limit_next: 1,
        rate_limit_hint: RateLimitHint::ResetEpoch,
        ..Faults::default()
    });
    let reset_only = api.get(paths::BLUEPRINTS).await;
    assert!(reset_only.headers.get("retry-after").is_none());
    assert!(reset_only.headers.get("x-ratelimit-reset").is_some());
}

#[tokio::test]
async fn server_errors_follow_the_rate_and_spare_other_endpoints() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    let bulk = format!("POST {}", paths::ENTITIES_BULK);
    emu.set_faults(Faults {
        server_error_rate: 0.5,
        seed: 3,
        endpoints: vec![bulk],
        ..Faults::default()
    });
    let mut failures = 0;
    for i in 0..40 {
        let reply = api
            .bulk(
                "awsSecret",
                "upsert=true",
                json!([secret(&format!("s{i}"))]),
            )
            .await;
        if reply.status.is_server_error() {
            failures += 1;
        } else {
            assert_eq!(reply.status, StatusCode::OK);
        }
    }
    assert!(
        (8..=32).contains(&failures),
        "{failures} of 40 failed at rate 0.5"
    );
    assert_eq!(
        emu.entity_count("awsSecret"),
        40 - failures,
        "a failed request wrote nothing"
    );
    for _ in 0..5 {
        assert_eq!(api.get(paths::BLUEPRINTS).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn request_counts_by_endpoint_and_status() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    api.bulk("awsSecret", "upsert=true", json!([secret("a")]))
        .await;
    api.bulk("awsSecret", "upsert=true", json!([{"identifier": "b"}]))
        .await;
    api.get("/v1/blueprints/awsSecret/entities/a").await;
    let counts = emu.request_counts();
    assert_eq!(counts.count_status("POST", paths::ACCESS_TOKEN, 200), 1);
    assert_eq!(counts.count_status("POST", paths::ENTITIES_BULK, 200), 1);
    assert_eq!(counts.count_status("POST", paths::ENTITIES_BULK, 207), 1);
    assert_eq!(counts.count("GET", paths::ENTITY), 1);
    assert_eq!(counts.total(), 4);
    let log = emu.requests();
    assert_eq!(log[1].user_agent.as_deref(), Some(UA));
    assert!(log[1].body_bytes > 0);
    assert_eq!(log[3].uri, "/v1/blueprints/awsSecret/entities/a");
    let admin: serde_json::Value = reqwest::get(format!("{}/_emulator/requests", emu.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin["total"], json!(4), "admin calls are not counted");
}
