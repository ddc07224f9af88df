//! Blueprint routes and their checks.

mod common;

use common::Api;
use port_emulator::{Emulator, paths};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn bare(id: &str) -> serde_json::Value {
    json!({"identifier": id, "title": id, "schema": {"properties": {}}})
}

#[tokio::test]
async fn create_get_list_and_the_returned_shape() {
    let emu = Emulator::builder().start().await;
    let api = Api::connect(&emu).await;
    let created = api.post(paths::BLUEPRINTS, bare("awsAccount")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let bp = &created.body["blueprint"];
    for key in ["createdAt", "updatedAt", "createdBy", "updatedBy"] {
        assert!(bp[key].is_string(), "{key} missing in {bp}");
    }
    assert_eq!(bp["relations"], json!({}));
    let got = api.get("/v1/blueprints/awsAccount").await;
    assert_eq!(got.body["blueprint"], *bp);
    let listed = api.get(paths::BLUEPRINTS).await;
    assert_eq!(listed.body["blueprints"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.get("/v1/blueprints/none").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.post(paths::BLUEPRINTS, bare("awsAccount")).await.status,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn relation_targets_must_exist() {
    let emu = Emulator::builder().start().await;
    let api = Api::connect(&emu).await;
    let mut secret = bare("awsSecret");
    secret["relations"] =
        json!({"account": {"target": "awsAccount", "required": false, "many": false}});
    let refused = api.post(paths::BLUEPRINTS, secret.clone()).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    assert!(emu.blueprint("awsSecret").is_none());
    api.post(paths::BLUEPRINTS, bare("awsAccount")).await;
    assert_eq!(
        api.post(paths::BLUEPRINTS, secret).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn invalid_blueprints_get_422() {
    let emu = Emulator::builder().start().await;
    let api = Api::connect(&emu).await;
    let no_schema = api
        .post(paths::BLUEPRINTS, json!({"identifier": "a", "title": "a"}))
        .await;
    assert_eq!(no_schema.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_schema.body["ok"], json!(false));
    let bad_type = api
        .post(
            paths::BLUEPRINTS,
            json!({"identifier": "a", "title": "a",
        "schema": {"properties": {"p": {"type": "text"}}}}),
        )
        .await;
    assert_eq!(bad_type.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn patch_adds_relations_and_keeps_the_rest_put_replaces() {
    let emu = Emulator::builder()
        .blueprints([bare("awsAccount"), bare("awsSecret")])
        .start()
        .await;
    let api = Api::connect(&emu).await;
    let relations = json!({"account": {"target": "awsAccount", "required": false, "many": false}});
    let patched = api
        .call(
            Method::PATCH,
            "/v1/blueprints/awsSecret",
            Some(json!({"relations": relations})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["blueprint"]["relations"], relations);
    assert_eq!(patched.body["blueprint"]["title"], json!("awsSecret"));
    let dangling =
        json!({"relations": {"x": {"target": "ghost", "required": false, "many": true}}});
    let refused = api
        .call(Method::PATCH, "/v1/blueprints/awsSecret", Some(dangling))
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);

    let put = api
        .call(
            Method::PUT,
            "/v1/blueprints/awsSecret",
            Some(json!({"title": "Secret", "schema": {"properties": {}}})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(put.body["blueprint"]["relations"], json!({}));
    let missing = api
        .call(
            Method::PATCH,
            "/v1/blueprints/none",
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn blueprints_load_from_a_directory_in_any_order() {
    let dir = std::env::temp_dir().join(format!("port-emu-bp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut secret = bare("awsSecret");
    secret["relations"] =
        json!({"account": {"target": "awsAccount", "required": false, "many": false}});
    std::fs::write(dir.join("a-secret.json"), secret.to_string()).unwrap();
    std::fs::write(
        dir.join("b-account.json"),
        json!([bare("awsAccount")]).to_string(),
    )
    .unwrap();
    let emu = Emulator::builder().blueprints_dir(&dir).start().await;
    assert_eq!(
        emu.blueprint("awsSecret").unwrap()["relations"]["account"]["target"],
        json!("awsAccount")
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let dangling = Emulator::builder().blueprint(secret).try_start().await;
    assert!(dangling.is_err());
}
