//! Search queries in entity writes, resolved as Port's mapping docs describe: an identifier
//! query updates the one entity it matches (never creates one), a relation query resolves on
//! the relation's target blueprint (exactly one match for a single relation), a team query on
//! `_team`; shapes outside the route schema reject the request.

mod common;

use common::{Api, blueprints, secret};
use port_emulator::Emulator;
use reqwest::StatusCode;
use serde_json::{Value, json};

const UPSERT: &str = "upsert=true";
const MERGE: &str = "upsert=true&merge=true";

async fn catalog() -> Emulator {
    let mut bps = blueprints();
    bps.push(
        json!({"identifier": "_team", "title": "Team", "schema": {"properties": {
        "area": {"type": "string"}}}}),
    );
    let emu = Emulator::builder().blueprints(bps).start().await;
    let accounts = [("111", "a@x.io"), ("222", "b@x.io"), ("333", "b@x.io")]
        .map(|(id, email)| json!({"identifier": id, "properties": {"email": email}}));
    emu.seed_entities("awsAccount", accounts, "someone-else")
        .unwrap();
    emu.seed_entities(
        "region",
        ["eu-west-1", "eu-west-2", "us-east-1"].map(|id| json!({"identifier": id})),
        "someone-else",
    )
    .unwrap();
    emu.seed_entities(
        "_team",
        [("core", "eu"), ("infra", "eu"), ("web", "us")]
            .map(|(id, area)| json!({"identifier": id, "properties": {"area": area}})),
        "someone-else",
    )
    .unwrap();
    emu
}

fn eq(property: &str, value: Value) -> Value {
    json!({"combinator": "and", "rules": [{"property": property, "operator": "=", "value": value}]})
}

#[tokio::test]
async fn relation_queries_resolve_on_the_target_blueprint() {
    let emu = catalog().await;
    let api = Api::connect(&emu).await;
    let mut entity = secret("s1");
    entity["relations"] = json!({
        "account": eq("email", json!("a@x.io")),
        "regions": {"combinator": "and", "rules": [
            {"property": "$identifier", "operator": "contains", "value": "eu-"}]}
    });
    let reply = api.bulk("awsSecret", UPSERT, json!([entity])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let stored = emu.entity("awsSecret", "s1").unwrap();
    assert_eq!(
        Value::Object(stored.relations),
        json!({"account": "111", "regions": ["eu-west-1", "eu-west-2"]})
    );
    // A many relation whose query matches nothing relates to nothing.
    let mut none = secret("s2");
    none["relations"] = json!({"regions": eq("$identifier", json!("ap-south-1"))});
    let reply = api.bulk("awsSecret", UPSERT, json!([none])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        emu.entity("awsSecret", "s2").unwrap().relations["regions"],
        json!([])
    );
}

#[tokio::test]
async fn a_single_relation_query_must_match_exactly_one_entity() {
    let emu = catalog().await;
    let api = Api::connect(&emu).await;
    let with_account = |id: &str, email: &str| {
        let mut e = secret(id);
        e["relations"] = json!({"account": eq("email", json!(email))});
        e
    };
    let reply = api
        .bulk(
            "awsSecret",
            "upsert=true&create_missing_related_entities=true",
            json!([
                with_account("one", "a@x.io"),
                with_account("two", "b@x.io"),
                with_account("none", "c@x.io")
            ]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
    assert_eq!(
        reply.body["entities"],
        json!([{"created": true, "identifier": "one", "index": 0}])
    );
    let errors = reply.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(
        (&errors[0]["index"], &errors[0]["statusCode"]),
        (&json!(1), &json!(422))
    );
    assert!(
        errors[0]["message"].as_str().unwrap().contains("matched 2"),
        "{}",
        errors[0]
    );
    // No target is ever created from a query, even with create_missing_related_entities.
    assert_eq!(
        (&errors[1]["index"], &errors[1]["statusCode"]),
        (&json!(2), &json!(404))
    );
    assert_eq!(emu.entity_count("awsAccount"), 3);
    assert!(emu.entity("awsSecret", "two").is_none());
}

#[tokio::test]
async fn an_identifier_query_updates_the_one_entity_it_matches_and_never_creates_one() {
    let emu = catalog().await;
    let api = Api::connect(&emu).await;
    let patch = |email: &str| json!({"identifier": eq("email", json!(email)), "title": "Patched"});
    let reply = api
        .bulk("awsAccount", MERGE, json!([patch("a@x.io")]))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // Port answers with the identifier the query resolved to.
    assert_eq!(
        reply.body["entities"],
        json!([{"created": false, "identifier": "111", "index": 0}])
    );
    let account = emu.entity("awsAccount", "111").unwrap();
    assert_eq!(account.title.as_deref(), Some("Patched"));
    assert_eq!(
        account.properties["email"],
        json!("a@x.io"),
        "merge keeps the rest"
    );

    let reply = api
        .bulk(
            "awsAccount",
            MERGE,
            json!([patch("b@x.io"), patch("nobody@x.io")]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
    let errors = &reply.body["errors"];
    assert_eq!(errors[0]["identifier"], json!("unknown"));
    assert_eq!(
        errors[0]["statusCode"],
        json!(422),
        "two accounts share b@x.io"
    );
    assert_eq!(errors[1]["identifier"], json!("unknown"));
    assert_eq!(errors[1]["statusCode"], json!(404));
    assert_eq!(emu.entity_count("awsAccount"), 3);
    for id in ["222", "333"] {
        assert_eq!(emu.entity("awsAccount", id).unwrap().title, None);
    }
}

#[tokio::test]
async fn a_team_query_gives_the_entity_every_team_it_matches() {
    let emu = catalog().await;
    let api = Api::connect(&emu).await;
    let mut entity = secret("s");
    entity["team"] = eq("area", json!("eu"));
    let reply = api.bulk("awsSecret", UPSERT, json!([entity])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        emu.entity("awsSecret", "s").unwrap().team,
        ["core", "infra"]
    );
}

#[tokio::test]
async fn queries_outside_the_route_schema_reject_the_whole_request() {
    let emu = catalog().await;
    let api = Api::connect(&emu).await;
    let bad = [
        json!({"identifier": {"combinator": "and", "rules": [
            {"property": "email", "operator": "beginsWith", "value": "a"}]}}),
        json!({"identifier": {"combinator": "xor", "rules": []}}),
        json!({"identifier": "s", "relations": {"account": {"combinator": "and", "rules": [
            {"property": "email", "operator": "=", "value": ["a@x.io"]}]}}}),
        json!({"identifier": "s", "team": {"rules": []}}),
    ];
    for entity in bad {
        let reply = api
            .bulk("awsSecret", UPSERT, json!([secret("fine"), entity.clone()]))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{entity}: {}",
            reply.body
        );
    }
    assert_eq!(emu.entity_count("awsSecret"), 0);
}
