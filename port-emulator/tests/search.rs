//! Search: rules, include/exclude and pagination.

mod common;

use common::{Api, UA, emulator, secret};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn ids(reply: &Value) -> Vec<String> {
    reply["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["identifier"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn pages_follow_next_until_the_end() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    emu.seed_entities(
        "awsSecret",
        (0..2500).map(|i| secret(&format!("s{i:04}"))),
        UA,
    )
    .unwrap();
    let first = api.search("awsSecret", json!({})).await;
    assert_eq!(ids(&first.body).len(), 200, "default limit");
    let mut seen = Vec::new();
    let mut body = json!({"limit": 1000});
    let mut pages = 0;
    loop {
        let reply = api.search("awsSecret", body.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        pages += 1;
        seen.extend(ids(&reply.body));
        match reply.body.get("next") {
            Some(next) => body["from"] = next.clone(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..2500).map(|i| format!("s{i:04}")).collect();
    assert_eq!(seen, expected);
    for bad in [
        json!({"limit": 1001}),
        json!({"limit": 0}),
        json!({"from": "nope"}),
        json!({"x": 1}),
    ] {
        assert_eq!(
            api.search("awsSecret", bad).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}

#[tokio::test]
async fn rules_on_datasource_identifier_blueprint_and_properties() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    emu.seed_entities("awsSecret", [secret("mine-1"), secret("mine-2")], UA)
        .unwrap();
    emu.seed_entities(
        "awsSecret",
        [secret("theirs")],
        "port-ocean/aws/1.0/other/exporter",
    )
    .unwrap();
    let query = |rules: Value, combinator: &str| json!({"query": {"combinator": combinator, "rules": rules}});
    let cases = [
        (
            query(
                json!([{"property": "$datasource", "operator": "contains", "value": "/aws-sync/exporter"}]),
                "and",
            ),
            vec!["mine-1", "mine-2"],
        ),
        (
            query(
                json!([{"property": "$identifier", "operator": "in", "value": ["theirs", "mine-2"]}]),
                "and",
            ),
            vec!["mine-2", "theirs"],
        ),
        (
            query(
                json!([{"property": "$identifier", "operator": "=", "value": "mine-1"}]),
                "and",
            ),
            vec!["mine-1"],
        ),
        (
            query(
                json!([{"property": "$blueprint", "operator": "=", "value": "awsSecret"},
                      {"property": "arn", "operator": "=", "value": "arn:theirs"}]),
                "and",
            ),
            vec!["theirs"],
        ),
        (
            query(
                json!([{"property": "arn", "operator": "=", "value": "arn:theirs"},
                      {"property": "$identifier", "operator": "=", "value": "mine-1"}]),
                "or",
            ),
            vec!["mine-1", "theirs"],
        ),
        (
            query(
                json!([{"property": "$datasource", "operator": "beginsWith", "value": "port-ocean/"},
                      {"property": "$datasource", "operator": "endsWith", "value": "/other/exporter"}]),
                "and",
            ),
            vec!["theirs"],
        ),
        (
            query(
                json!([{"combinator": "or", "rules": [
                {"property": "$identifier", "operator": "=", "value": "mine-2"}]}]),
                "and",
            ),
            vec!["mine-2"],
        ),
    ];
    for (body, expected) in cases {
        let reply = api.search("awsSecret", body.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(ids(&reply.body), expected, "{body}");
    }
    let unsupported = query(
        json!([{"operator": "relatedTo", "blueprint": "awsAccount", "value": "1"}]),
        "and",
    );
    let reply = api.search("awsSecret", unsupported).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply
            .message()
            .starts_with("not supported by port-emulator")
    );
    let unknown_bp = api.search("ghost", json!({})).await;
    assert_eq!(unknown_bp.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn include_and_exclude_shape_each_entity() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    let entity = json!({"identifier": "s", "title": "S", "properties": {"arn": "a", "rotationDays": 3},
        "relations": {"regions": []}});
    emu.seed_entities("awsSecret", [entity], UA).unwrap();
    let included = api
        .search(
            "awsSecret",
            json!({"include": ["$identifier", "arn", "$datasource"]}),
        )
        .await;
    assert_eq!(
        included.body["entities"],
        json!([{"identifier": "s", "properties": {"arn": "a"}}])
    );
    let excluded = api
        .search(
            "awsSecret",
            json!({"exclude": ["properties.rotationDays", "$title", "relations"]}),
        )
        .await;
    assert_eq!(
        excluded.body["entities"],
        json!([{"identifier": "s", "team": [], "properties": {"arn": "a"}}])
    );
}
