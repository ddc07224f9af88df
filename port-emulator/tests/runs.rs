//! Action runs.

mod common;

use common::{Api, emulator};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn runs_can_be_read_updated_and_logged() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    assert_eq!(
        api.get("/v1/actions/runs/r_1").await.status,
        StatusCode::NOT_FOUND
    );
    emu.create_run("r_1", "resync_aws");
    let got = api.get("/v1/actions/runs/r_1").await;
    assert_eq!(got.body["run"]["status"], json!("IN_PROGRESS"));

    let log = api
        .post(
            "/v1/actions/runs/r_1/logs",
            json!({"message": "synced 3 secrets"}),
        )
        .await;
    assert_eq!(log.status, StatusCode::CREATED, "{}", log.body);
    assert_eq!(log.body["runLog"]["message"], json!("synced 3 secrets"));
    let bad = api
        .post(
            "/v1/actions/runs/r_1/logs",
            json!({"message": "x", "terminationStatus": "DONE"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let patch = json!({"status": "SUCCESS", "statusLabel": "3 written", "link": ["https://x"], "summary": "ok"});
    let updated = api
        .call(Method::PATCH, "/v1/actions/runs/r_1", Some(patch))
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(emu.run("r_1").unwrap()["status"], json!("SUCCESS"));
    assert_eq!(emu.run_logs("r_1").len(), 1);
    let unknown_key = api
        .call(
            Method::PATCH,
            "/v1/actions/runs/r_1",
            Some(json!({"state": "x"})),
        )
        .await;
    assert_eq!(unknown_key.status, StatusCode::UNPROCESSABLE_ENTITY);
}
