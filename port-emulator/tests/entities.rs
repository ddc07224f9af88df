//! Entity writes: each validation Port applies, 207 partial results, upsert/merge, related
//! entities, deletes.

mod common;

use common::{Api, UA, emulator, secret};
use port_emulator::{Emulator, PORT_BODY_LIMIT};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const UPSERT: &str = "upsert=true";

/// Bulk-writes one entity and returns Port's error for it (a 207 entry) or panics.
async fn rejection(api: &Api, entity: Value, query: &str) -> (u64, String, String) {
    let reply = api
        .bulk("awsSecret", query, json!([secret("ok-one"), entity]))
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
    assert_eq!(reply.body["entities"][0]["identifier"], json!("ok-one"));
    let err = &reply.body["errors"][0];
    assert_eq!(err["index"], json!(1));
    (
        err["statusCode"].as_u64().unwrap(),
        err["error"].as_str().unwrap().to_string(),
        err["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn blueprint_rules_reject_one_entity_and_report_it_by_index() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    let with_props = |props: Value| json!({"identifier": "bad", "properties": props});
    let cases = [
        (with_props(json!({"arn": 5})), "must be string"),
        (
            with_props(json!({"arn": "a", "rotationDays": "7"})),
            "must be number",
        ),
        (
            with_props(json!({"arn": "a", "rotationEnabled": "yes"})),
            "must be boolean",
        ),
        (
            with_props(json!({"arn": "a", "tags": []})),
            "must be object",
        ),
        (
            with_props(json!({"arn": "a", "replicas": "eu-west-1"})),
            "must be array",
        ),
        (
            with_props(json!({"arn": "a", "replicas": [1]})),
            "must be string",
        ),
        (
            with_props(json!({"arn": "a", "createdDate": "2023-06-15 09:00:00+00:00"})),
            "date-time",
        ),
        (
            with_props(json!({"arn": "a", "link": "console.aws.amazon.com"})),
            "url",
        ),
        (
            with_props(json!({"arn": "a", "status": "GONE"})),
            "allowed values",
        ),
        (
            with_props(json!({"arn": "a", "colour": "red"})),
            "not defined",
        ),
        (
            with_props(json!({"rotationDays": 3})),
            "required property \"arn\"",
        ),
        (
            with_props(json!({"arn": null})),
            "required property \"arn\"",
        ),
        (
            json!({"identifier": "bad", "properties": {"arn": "a"}, "relations": {"owner": "x"}}),
            "relation \"owner\" is not defined",
        ),
        (
            json!({"identifier": "bad", "properties": {"arn": "a"}, "relations": {"account": ["1"]}}),
            "single relation",
        ),
        (
            json!({"identifier": "bad", "properties": {"arn": "a"}, "relations": {"regions": "eu"}}),
            "many relation",
        ),
    ];
    for (entity, expected) in cases {
        let (status, error, message) = rejection(&api, entity.clone(), UPSERT).await;
        assert_eq!(
            (status, error.as_str()),
            (422, "entity_does_not_match_blueprint"),
            "{entity}"
        );
        assert!(message.contains(expected), "{entity}: {message}");
    }
    assert_eq!(
        emu.entities("awsSecret").len(),
        1,
        "only ok-one was written"
    );
}

#[tokio::test]
async fn valid_values_of_every_type_are_accepted() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    let entity = json!({"identifier": "arn:aws:secretsmanager:eu-west-1:1:secret:db/pass-Ab=+@",
        "title": "db", "icon": "Lock", "team": "platform", "blueprint": "ignored-extra-key",
        "properties": {"arn": "a", "link": "https://console.aws.amazon.com/x", "createdDate": "2023-06-15T09:00:00+00:00",
            "rotationDays": 30, "rotationEnabled": true, "tags": {"k": "v"}, "replicas": ["eu-west-2"],
            "status": "ACTIVE"}});
    let reply = api.bulk("awsSecret", UPSERT, json!([entity])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({"ok": true, "entities": [{"created": true,
        "identifier": "arn:aws:secretsmanager:eu-west-1:1:secret:db/pass-Ab=+@", "index": 0}], "errors": []})
    );
    let stored = &emu.entities("awsSecret")[0];
    assert_eq!(
        stored.team,
        vec!["platform".to_string()],
        "a single team is kept as a list"
    );
    assert_eq!(stored.meta.datasource, UA);
    assert_eq!(stored.meta.created_by, emu.client_id());
}

#[tokio::test]
async fn route_schema_violations_reject_the_whole_request() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    for (entities, why) in [
        (
            json!([secret("a"), {"identifier": "has space", "properties": {"arn": "x"}}]),
            "identifier pattern",
        ),
        (
            json!([secret("a"), {"identifier": "..", "properties": {"arn": "x"}}]),
            "dot identifier",
        ),
        (
            json!([{"identifier": "x".repeat(1001), "properties": {"arn": "x"}}]),
            "identifier length",
        ),
        (
            json!([secret("a"), {"identifier": "b", "title": 3}]),
            "title type",
        ),
        (json!([]), "no entities"),
        (
            json!(
                (0..21)
                    .map(|i| secret(&format!("e{i}")))
                    .collect::<Vec<_>>()
            ),
            "21 entities",
        ),
    ] {
        let reply = api.bulk("awsSecret", UPSERT, entities).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {}",
            reply.body
        );
        assert_eq!(reply.body["ok"], json!(false));
    }
    let no_upsert_flag = api
        .bulk("awsSecret", "merge=true", json!([secret("a")]))
        .await;
    assert_eq!(no_upsert_flag.status, StatusCode::UNPROCESSABLE_ENTITY);
    let extra_key = api
        .post(
            "/v1/blueprints/awsSecret/entities/bulk?upsert=true",
            json!({"entities": [secret("a")], "more": 1}),
        )
        .await;
    assert_eq!(extra_key.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown_bp = api.bulk("nope", UPSERT, json!([secret("a")])).await;
    assert_eq!(unknown_bp.status, StatusCode::NOT_FOUND);
    assert_eq!(emu.entity_count("awsSecret"), 0);
}

#[tokio::test]
async fn bodies_over_one_mebibyte_get_413() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    let big = "x".repeat(PORT_BODY_LIMIT);
    let reply = api
        .bulk(
            "awsSecret",
            UPSERT,
            json!([{"identifier": "big", "properties": {"arn": big}}]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.body["ok"], json!(false));
    let fits = "x".repeat(PORT_BODY_LIMIT - 200);
    let reply = api
        .bulk(
            "awsSecret",
            UPSERT,
            json!([{"identifier": "big", "properties": {"arn": fits}}]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn without_upsert_an_existing_entity_conflicts() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    let path = "/v1/blueprints/awsSecret/entities?upsert=false";
    let created = api.post(path, secret("s1")).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        created.body,
        json!({"ok": true, "entity": {"identifier": "s1", "title": "s1",
        "team": [], "properties": {"arn": "arn:s1"}, "relations": {}}})
    );
    let again = api.post(path, secret("s1")).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let (status, _, _) = rejection(&api, secret("s1"), "upsert=false").await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn upsert_replaces_and_merge_keeps_what_is_not_sent() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    let full =
        json!({"identifier": "s", "title": "T", "properties": {"arn": "a", "rotationDays": 1}});
    api.bulk("awsSecret", UPSERT, json!([full])).await;
    let partial = json!({"identifier": "s", "properties": {"arn": "b"}});
    let merged = api
        .bulk("awsSecret", "upsert=true&merge=true", json!([partial]))
        .await;
    assert_eq!(merged.body["entities"][0]["created"], json!(false));
    let s = emu.entity("awsSecret", "s").unwrap();
    assert_eq!(
        (s.title.as_deref(), s.properties.clone()),
        (
            Some("T"),
            json!({"arn": "b", "rotationDays": 1})
                .as_object()
                .unwrap()
                .clone()
        )
    );
    api.bulk("awsSecret", UPSERT, json!([partial])).await;
    let s = emu.entity("awsSecret", "s").unwrap();
    assert_eq!(
        (s.title, s.properties),
        (None, json!({"arn": "b"}).as_object().unwrap().clone())
    );
    assert_ne!(s.meta.created_at, "");
}

#[tokio::test]
async fn relation_targets_must_exist_unless_created_on_demand() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    let related = json!({"identifier": "s", "properties": {"arn": "a"},
        "relations": {"account": "111", "regions": ["eu-west-1", "us-east-1"]}});
    let (status, error, message) = rejection(&api, related.clone(), UPSERT).await;
    assert_eq!((status, error.as_str()), (404, "not_found"));
    assert!(
        message.contains("111") || message.contains("eu-west-1"),
        "{message}"
    );

    let reply = api
        .bulk(
            "awsSecret",
            "upsert=true&create_missing_related_entities=true",
            json!([related]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let account = emu
        .entity("awsAccount", "111")
        .expect("bare account created");
    assert!(account.properties.is_empty() && account.title.is_none());
    assert_eq!(emu.entity_count("region"), 2);
}

#[tokio::test]
async fn delete_refuses_entities_with_dependents_unless_asked() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    api.bulk(
        "awsAccount",
        UPSERT,
        json!([{"identifier": "111"}, {"identifier": "222"}]),
    )
    .await;
    let s = json!({"identifier": "s", "properties": {"arn": "a"}, "relations": {"account": "111"}});
    api.bulk("awsSecret", UPSERT, json!([s])).await;

    let blocked = api
        .call(
            Method::DELETE,
            "/v1/blueprints/awsAccount/entities/111?delete_dependents=false",
            None,
        )
        .await;
    assert_eq!(blocked.status, StatusCode::UNPROCESSABLE_ENTITY);
    let flag_missing = api
        .call(
            Method::DELETE,
            "/v1/blueprints/awsAccount/entities/111",
            None,
        )
        .await;
    assert_eq!(flag_missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    let gone = api
        .call(
            Method::DELETE,
            "/v1/blueprints/awsAccount/entities/nope?delete_dependents=false",
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    let bulk_blocked = api
        .post(
            "/v1/blueprints/awsAccount/bulk/entities/delete?delete_dependents=false",
            json!({"entities": ["222", "111"]}),
        )
        .await;
    assert_eq!(bulk_blocked.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        emu.entity_count("awsAccount"),
        2,
        "a blocked bulk delete deletes nothing"
    );

    let cascade = api
        .call(
            Method::DELETE,
            "/v1/blueprints/awsAccount/entities/111?delete_dependents=true",
            None,
        )
        .await;
    assert_eq!(
        (cascade.status, cascade.body.clone()),
        (StatusCode::OK, json!({"ok": true}))
    );
    assert_eq!(
        emu.entity_count("awsSecret"),
        0,
        "the dependent secret went with its account"
    );
}

#[tokio::test]
async fn bulk_delete_reports_deleted_identifiers_and_caps_at_100() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    emu.seed_entities("awsSecret", (0..5).map(|i| secret(&format!("s{i}"))), UA)
        .unwrap();
    let path = "/v1/blueprints/awsSecret/bulk/entities/delete?delete_dependents=false";
    let reply = api
        .post(path, json!({"entities": ["s1", "s3", "missing"]}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({"ok": true, "deletedEntities": ["s1", "s3"]})
    );
    assert_eq!(emu.entity_count("awsSecret"), 3);
    let ids: Vec<String> = (0..101).map(|i| format!("s{i}")).collect();
    let too_many = api.post(path, json!({"entities": ids})).await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn get_entity_returns_the_documented_shape() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    emu.seed_entities("awsSecret", [secret("arn:aws:x/y")], UA)
        .unwrap();
    let reply = api
        .get("/v1/blueprints/awsSecret/entities/arn:aws:x%2Fy")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body["entity"],
        json!({"identifier": "arn:aws:x/y", "title": "arn:aws:x/y",
        "team": [], "properties": {"arn": "arn:arn:aws:x/y"}, "relations": {}})
    );
    let missing = api.get("/v1/blueprints/awsSecret/entities/none").await;
    assert_eq!(
        (missing.status, missing.error()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn run_id_must_name_an_existing_run_and_is_recorded() {
    let emu = emulator().await;
    let api = Api::connect(&emu).await;
    let unknown = api
        .bulk("awsSecret", "upsert=true&run_id=r_1", json!([secret("s")]))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    emu.create_run("r_1", "resync");
    let known = api
        .bulk("awsSecret", "upsert=true&run_id=r_1", json!([secret("s")]))
        .await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(
        emu.entity("awsSecret", "s").unwrap().meta.run_id.as_deref(),
        Some("r_1")
    );
}

#[tokio::test]
async fn seeding_validates_like_the_api() {
    let emu = Emulator::builder()
        .blueprints(common::blueprints())
        .entity("awsSecret", secret("seeded"))
        .start()
        .await;
    assert_eq!(
        emu.entities("awsSecret")[0].meta.datasource,
        port_emulator::DEFAULT_SEED_DATASOURCE
    );
    let err = emu
        .seed_entities("awsSecret", [json!({"identifier": "x"})], UA)
        .unwrap_err();
    assert!(err.contains("arn"), "{err}");
    let bad_start = Emulator::builder()
        .blueprints(common::blueprints())
        .entity("awsSecret", json!({"identifier": "x"}))
        .try_start()
        .await;
    assert!(bad_start.is_err());
}
