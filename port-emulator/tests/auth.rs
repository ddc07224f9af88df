//! Access tokens and the bearer check.

mod common;

use std::time::Duration;

use common::{Api, UA, emulator, raw, token};
use port_emulator::{Emulator, paths};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn list_blueprints(emu: &Emulator, token: Option<&str>) -> common::Reply {
    let url = format!("{}/v1/blueprints", emu.base_url());
    raw(&reqwest::Client::new(), Method::GET, &url, token, None, UA).await
}

#[tokio::test]
async fn token_response_has_the_documented_shape() {
    let emu = Emulator::builder()
        .credentials("id-1", "secret-1")
        .start()
        .await;
    let url = format!("{}/v1/auth/access_token", emu.base_url());
    let http = reqwest::Client::new();
    let ok = raw(
        &http,
        Method::POST,
        &url,
        None,
        Some(json!({"clientId": "id-1", "clientSecret": "secret-1"})),
        UA,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    let keys: Vec<_> = ok.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["ok", "accessToken", "expiresIn", "tokenType"]);
    assert_eq!(ok.body["expiresIn"], json!(10800));
    assert_eq!(ok.body["tokenType"], json!("Bearer"));

    let wrong = raw(
        &http,
        Method::POST,
        &url,
        None,
        Some(json!({"clientId": "id-1", "clientSecret": "nope"})),
        UA,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["ok"], json!(false));

    let extra = raw(
        &http,
        Method::POST,
        &url,
        None,
        Some(json!({"clientId": "id-1", "clientSecret": "secret-1", "x": 1})),
        UA,
    )
    .await;
    assert_eq!(extra.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = raw(
        &http,
        Method::POST,
        &url,
        None,
        Some(json!({"clientId": "id-1"})),
        UA,
    )
    .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn routes_require_a_valid_bearer_token() {
    let emu = emulator().await;
    assert_eq!(
        list_blueprints(&emu, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        list_blueprints(&emu, Some("forged")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let t = token(&emu).await;
    assert_eq!(list_blueprints(&emu, Some(&t)).await.status, StatusCode::OK);
    emu.revoke_tokens();
    let revoked = list_blueprints(&emu, Some(&t)).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoked.message(), "Invalid access token");
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let emu = emulator().await;
    let t = token(&emu).await;
    emu.expire_tokens();
    let reply = list_blueprints(&emu, Some(&t)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.message(), "Access token has expired");
}

#[tokio::test]
async fn tokens_expire_after_their_lifetime() {
    let emu = Emulator::builder()
        .token_lifetime(Duration::from_secs(1))
        .start()
        .await;
    let api = Api::connect(&emu).await;
    assert_eq!(api.get(paths::BLUEPRINTS).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        api.get(paths::BLUEPRINTS).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_new_token_retires_the_previous_one_of_the_same_credentials() {
    let emu = emulator().await;
    let first = token(&emu).await;
    let second = token(&emu).await;
    assert_ne!(first, second);
    assert_eq!(
        list_blueprints(&emu, Some(&first)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        list_blueprints(&emu, Some(&second)).await.status,
        StatusCode::OK
    );

    let lenient = Emulator::builder().allow_concurrent_tokens().start().await;
    let (a, b) = (token(&lenient).await, token(&lenient).await);
    assert_eq!(
        list_blueprints(&lenient, Some(&a)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        list_blueprints(&lenient, Some(&b)).await.status,
        StatusCode::OK
    );
}
