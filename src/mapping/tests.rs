//! Mapping semantics users rely on: selector, first output, nulls, itemsToParse, skips.

use std::path::Path;

use serde_json::{Value, json};

use super::{Mapping, Outcome, Transformer};

fn mapping(resources: &str) -> Mapping {
    Mapping::from_yaml(&format!("resources:\n{resources}"), Path::new("test.yml"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn run<'m>(
    mapping: &'m Mapping,
    kind: &str,
    items: &[Value],
) -> (Vec<Value>, Vec<String>, Transformer<'m>) {
    let mut transformer = Transformer::new(mapping);
    let mut entities = Vec::new();
    let mut failures = Vec::new();
    for item in items {
        transformer.map_json(kind, item, &mut |outcome| match outcome {
            Outcome::Entity(e) => entities.push(serde_json::to_value(e).unwrap()),
            Outcome::Failed(f) => failures.push(f.to_string()),
        });
    }
    (entities, failures, transformer)
}

const ACCOUNT: &str = r#"
  - kind: AWS::Organizations::Account
    selector:
      query: 'true'
    port:
      entity:
        mappings:
          identifier: .Id
          title: .Name
          blueprint: '"awsAccount"'
          properties:
            joined_timestamp: .JoinedTimestamp | sub(" "; "T")
            email: .Email
"#;

#[test]
fn seed_account_mapping_fixes_ocean_timestamps_and_keeps_ours() {
    let mapping = mapping(ACCOUNT);
    let items = [
        json!({"Id": "111111111111", "Name": "prod", "Email": "p@x.io",
               "JoinedTimestamp": "2023-06-15 09:00:00+00:00"}),
        json!({"Id": "222222222222", "Name": "dev", "Email": "d@x.io",
               "JoinedTimestamp": "2024-01-02T03:04:05Z"}),
    ];
    let (entities, failures, _) = run(&mapping, "AWS::Organizations::Account", &items);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        entities,
        [
            json!({"identifier": "111111111111", "blueprint": "awsAccount", "title": "prod",
                   "properties": {"joined_timestamp": "2023-06-15T09:00:00+00:00", "email": "p@x.io"},
                   "relations": {}}),
            json!({"identifier": "222222222222", "blueprint": "awsAccount", "title": "dev",
                   "properties": {"joined_timestamp": "2024-01-02T03:04:05Z", "email": "d@x.io"},
                   "relations": {}}),
        ]
    );
}

/// The caller's own account, synced when there is no organization to list, has no
/// JoinedTimestamp, Email or Status.
#[test]
fn shipped_account_mapping_maps_an_account_without_organization_fields() {
    let mapping = Mapping::load(Path::new("mapping/port-app-config.yml")).unwrap();
    let items = [
        json!({"Id": "123456789012", "Name": "123456789012",
               "Arn": "arn:aws:iam::123456789012:root"}),
        json!({"Id": "111111111111", "Name": "prod",
               "JoinedTimestamp": "2023-06-15 09:00:00+00:00"}),
    ];
    let (entities, failures, _) = run(&mapping, "AWS::Organizations::Account", &items);
    assert!(failures.is_empty(), "{failures:?}");
    let joined: Vec<&Value> = entities
        .iter()
        .map(|e| &e["properties"]["joined_timestamp"])
        .collect();
    assert_eq!(joined, [&Value::Null, &json!("2023-06-15T09:00:00+00:00")]);
    assert_eq!(entities[0]["identifier"], "123456789012");
    assert_eq!(
        entities[0]["properties"]["arn"],
        "arn:aws:iam::123456789012:root"
    );
}

#[test]
fn shipped_mapping_maps_an_account_outside_an_organization() {
    // Without an organization (or permission to list it) the only account is the caller's
    // own, known by Id and Arn alone: no JoinedTimestamp to fix up.
    let mapping = Mapping::load(Path::new("mapping/port-app-config.yml")).unwrap();
    let items = [
        json!({"Id": "123456789012", "Name": "123456789012",
               "Arn": "arn:aws:iam::123456789012:root"}),
        json!({"Id": "111111111111", "Name": "prod",
               "JoinedTimestamp": "2023-06-15 09:00:00+00:00"}),
    ];
    let (entities, failures, _) = run(&mapping, "AWS::Organizations::Account", &items);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(entities[0]["properties"]["joined_timestamp"], Value::Null);
    assert_eq!(
        entities[1]["properties"]["joined_timestamp"],
        "2023-06-15T09:00:00+00:00"
    );
}

#[test]
fn selector_filters_and_must_be_boolean() {
    let mapping = mapping(
        r#"
  - kind: K
    selector:
      query: .keep
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"b"'
"#,
    );
    let items = [
        json!({"id": "a", "keep": true}),
        json!({"id": "b", "keep": false}),
        json!({"id": "c", "keep": "yes"}),
    ];
    let (entities, failures, transformer) = run(&mapping, "K", &items);
    assert_eq!(entities.len(), 1);
    assert_eq!(entities[0]["identifier"], "a");
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].contains("field `selector.query`, expression `.keep`: the selector must yield a boolean, got \"yes\""),
        "{}",
        failures[0]
    );
    let stats = &transformer.stats()["K"];
    assert_eq!(
        (stats.items, stats.entities, stats.filtered, stats.failed),
        (3, 1, 1, 1)
    );
}

#[test]
fn first_output_wins_and_empty_is_null() {
    let mapping = mapping(
        r#"
  - kind: K
    port:
      entity:
        mappings:
          identifier: .ids[]
          blueprint: '"b"'
          properties:
            first: .values[]
            none: empty
"#,
    );
    let (entities, _, transformer) = run(
        &mapping,
        "K",
        &[json!({"ids": ["x", "y"], "values": [1, 2]})],
    );
    assert_eq!(entities[0]["identifier"], "x");
    assert_eq!(entities[0]["properties"], json!({"first": 1, "none": null}));
    assert_eq!(
        transformer.null_fields(),
        ["resources[0] (K) properties.none"]
    );
}

#[test]
fn nulls_are_kept_and_reported_once_per_field() {
    let mapping = mapping(
        r#"
  - kind: K
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"b"'
          properties:
            missing: .nothing
          relations:
            account: .acct
"#,
    );
    let items: Vec<Value> = (0..5).map(|i| json!({"id": format!("e{i}")})).collect();
    let (entities, failures, transformer) = run(&mapping, "K", &items);
    assert!(failures.is_empty());
    assert_eq!(entities.len(), 5);
    assert!(
        entities
            .iter()
            .all(|e| e["properties"]["missing"].is_null() && e["relations"]["account"].is_null())
    );
    // Two fields yielded null on five items: two reports, not ten.
    assert_eq!(transformer.null_fields().len(), 2);
}

#[test]
fn items_without_identifier_or_blueprint_are_skipped_and_counted() {
    let mapping = mapping(
        r#"
  - kind: K
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: .bp
"#,
    );
    let items = [
        json!({"id": "a", "bp": "b"}),
        json!({"bp": "b"}),
        json!({"id": "c"}),
    ];
    let (entities, failures, transformer) = run(&mapping, "K", &items);
    assert_eq!(entities.len(), 1);
    assert!(failures.is_empty());
    assert_eq!(transformer.stats()["K"].skipped, 2);
}

#[test]
fn items_to_parse_exposes_each_element_as_item() {
    let mapping = mapping(
        r#"
  - kind: AWS::SecretsManager::Secret
    selector:
      query: .item.Key != "skip"
    port:
      itemsToParse: .Tags
      entity:
        mappings:
          identifier: .ARN + "/" + .item.Key
          blueprint: '"secretTag"'
          properties:
            value: .item.Value
"#,
    );
    let item = json!({"ARN": "arn:s", "Tags": [
        {"Key": "team", "Value": "core"}, {"Key": "skip", "Value": "-"}, {"Key": "env", "Value": "prod"}]});
    let (entities, failures, transformer) = run(&mapping, "AWS::SecretsManager::Secret", &[item]);
    assert!(failures.is_empty(), "{failures:?}");
    let ids: Vec<_> = entities
        .iter()
        .map(|e| e["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["arn:s/team", "arn:s/env"]);
    assert_eq!(entities[1]["properties"]["value"], "prod");
    let stats = &transformer.stats()["AWS::SecretsManager::Secret"];
    assert_eq!((stats.items, stats.entities, stats.filtered), (1, 2, 1));
}

#[test]
fn one_bad_item_never_stops_the_others() {
    let mapping = mapping(
        r#"
  - kind: K
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: .bp | ascii_downcase
"#,
    );
    let items = [
        json!({"id": "a", "bp": "B"}),
        json!({"id": "b", "bp": 1}),
        json!({"id": "c", "bp": "B"}),
    ];
    let (entities, failures, _) = run(&mapping, "K", &items);
    let ids: Vec<_> = entities.iter().map(|e| e["identifier"].clone()).collect();
    assert_eq!(ids, [json!("a"), json!("c")]);
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].starts_with(
            "resources[0] (K), field `blueprint`, expression `.bp | ascii_downcase`: "
        ),
        "{}",
        failures[0]
    );
    assert!(failures[0].ends_with("(entity b)"), "{}", failures[0]);
}

#[test]
fn other_kinds_are_not_touched() {
    let mapping = mapping(ACCOUNT);
    let (entities, _, transformer) = run(&mapping, "AWS::ACM::Certificate", &[json!({"Id": "1"})]);
    assert!(entities.is_empty());
    assert_eq!(transformer.stats()["AWS::ACM::Certificate"].items, 1);
}

#[test]
fn each_resource_maps_only_the_regions_its_region_policy_allows() {
    let mapping = mapping(
        r#"
  - kind: K
    selector:
      query: 'true'
      regionPolicy: {allow: [eu-west-1]}
    port:
      entity:
        mappings:
          identifier: '"eu-" + .id'
          blueprint: '"b"'
  - kind: K
    selector:
      query: 'true'
      regionPolicy: {deny: [eu-west-1]}
    port:
      entity:
        mappings:
          identifier: '"not-eu-" + .id'
          blueprint: '"b"'
"#,
    );
    let items = [
        json!({"id": "1", "__Region": "eu-west-1"}),
        json!({"id": "2", "__Region": "us-east-1"}),
        json!({"id": "3"}),
    ];
    let (entities, failures, transformer) = run(&mapping, "K", &items);
    assert!(failures.is_empty(), "{failures:?}");
    let ids: Vec<&str> = entities
        .iter()
        .map(|e| e["identifier"].as_str().unwrap())
        .collect();
    // An item without a region (a global kind) is not narrowed.
    assert_eq!(ids, ["eu-1", "not-eu-2", "eu-3", "not-eu-3"]);
    assert_eq!(transformer.stats()["K"].filtered, 2);
}

#[test]
fn an_empty_identifier_or_blueprint_is_skipped_like_null_and_counted() {
    // Ocean writes an entity only when identifier and blueprint are truthy: "" is skipped.
    let mapping = mapping(
        r#"
  - kind: K
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: .bp
"#,
    );
    let items = [
        json!({"id": "a", "bp": "b"}),
        json!({"id": "", "bp": "b"}),
        json!({"id": "c", "bp": ""}),
    ];
    let (entities, failures, transformer) = run(&mapping, "K", &items);
    assert!(failures.is_empty(), "{failures:?}");
    let ids: Vec<_> = entities.iter().map(|e| e["identifier"].clone()).collect();
    assert_eq!(ids, [json!("a")]);
    let stats = &transformer.stats()["K"];
    assert_eq!((stats.entities, stats.skipped, stats.failed), (1, 2, 0));
}

#[test]
fn a_failing_field_is_null_the_entity_is_written_and_the_field_reported_once() {
    let mapping = mapping(
        r#"
  - kind: K
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"b"'
          title: .name | ascii_downcase
          team: .team | ascii_downcase
          properties:
            count: .count | ascii_downcase
            ok: .id
          relations:
            owner: .owner | ltrimstr("x") | error
"#,
    );
    let items = [
        json!({"id": "a", "count": 3, "name": "A", "team": "Core", "owner": "o"}),
        json!({"id": "b", "count": "Three", "name": 5, "team": 1, "owner": "o"}),
        json!({"id": "c", "count": 4, "name": "C", "team": "Core", "owner": "o"}),
    ];
    let (entities, failures, transformer) = run(&mapping, "K", &items);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        entities[0],
        json!({"identifier": "a", "blueprint": "b", "title": "a", "team": "core",
               "properties": {"count": null, "ok": "a"}, "relations": {"owner": null}})
    );
    assert_eq!(
        entities[1],
        json!({"identifier": "b", "blueprint": "b",
               "properties": {"count": "three", "ok": "b"}, "relations": {"owner": null}})
    );
    let reported: Vec<(&str, &str, u64)> = transformer
        .field_errors()
        .iter()
        .map(|e| (e.field.as_str(), e.example.as_str(), e.items))
        .collect();
    assert_eq!(
        reported,
        [
            ("properties.count", "a", 2),
            ("relations.owner", "a", 3),
            ("title", "b", 1),
            ("team", "b", 1),
        ]
    );
    let first = &transformer.field_errors()[0];
    assert_eq!(first.resource, "resources[0] (K)");
    assert_eq!(first.expression, ".count | ascii_downcase");
    assert!(!first.message.is_empty());
    let stats = &transformer.stats()["K"];
    assert_eq!(
        (stats.entities, stats.failed, stats.field_errors),
        (3, 0, 7)
    );
    // Reported as failed fields, not again as fields that mapped to null.
    assert!(
        transformer.null_fields().is_empty(),
        "{:?}",
        transformer.null_fields()
    );
}

#[test]
fn items_to_parse_removes_the_array_and_takes_a_custom_name() {
    let resource = |extra: &str| {
        mapping(&format!(
            r#"
  - kind: K
    port:
      itemsToParse: .Spec.Tags
{extra}
      entity:
        mappings:
          identifier: .Id + "/" + .tag.Key
          blueprint: '"tag"'
          properties:
            parent: .
"#
        ))
    };
    let item = json!({"Id": "x", "Spec": {"Tags": [{"Key": "k1"}, {"Key": "k2"}], "Other": 1}});
    // Default name `item`, array removed from the record each element sees.
    let m = resource("");
    let (entities, _, _) = run(&m, "K", std::slice::from_ref(&item));
    assert_eq!(
        entities[0]["properties"]["parent"],
        json!({"Id": "x", "Spec": {"Other": 1}, "item": {"Key": "k1"}})
    );
    let m = resource("      itemsToParseName: tag");
    let (entities, failures, _) = run(&m, "K", std::slice::from_ref(&item));
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(entities.len(), 2);
    assert_eq!(entities[1]["identifier"], "x/k2");
    assert_eq!(
        entities[1]["properties"]["parent"],
        json!({"Id": "x", "Spec": {"Other": 1}, "tag": {"Key": "k2"}})
    );
    // itemsToParseTopLevelTransform: false keeps the array.
    let m = resource("      itemsToParseName: tag\n      itemsToParseTopLevelTransform: false");
    let (entities, _, _) = run(&m, "K", &[item]);
    assert_eq!(
        entities[0]["properties"]["parent"]["Spec"]["Tags"],
        json!([{"Key": "k1"}, {"Key": "k2"}])
    );
}

const SEARCHING: &str = r#"
  - kind: K
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"b"'
          team:
            combinator: '"and"'
            rules: [{property: '"area"', operator: '"="', value: .area}]
          relations:
            account:
              combinator: '"and"'
              rules:
                - property: '"email"'
                  operator: '"="'
                  value: .owner | ascii_downcase
                - combinator: '"or"'
                  rules: [{property: '"$identifier"', operator: '"in"', value: '[.a, .b]'}]
"#;

#[test]
fn search_query_relations_and_teams_are_evaluated_leaf_by_leaf_and_passed_to_port() {
    let mapping = mapping(SEARCHING);
    let item = json!({"id": "x", "area": "eu", "owner": "Ann@X.io", "a": "1", "b": "2"});
    let (entities, failures, _) = run(&mapping, "K", &[item]);
    assert!(failures.is_empty(), "{failures:?}");
    // What Ocean sends: the query with every value evaluated (jq's first output).
    assert_eq!(
        entities[0],
        json!({"identifier": "x", "blueprint": "b",
            "team": {"combinator": "and", "rules": [{"property": "area", "operator": "=", "value": "eu"}]},
            "properties": {},
            "relations": {"account": {"combinator": "and", "rules": [
                {"property": "email", "operator": "=", "value": "ann@x.io"},
                {"combinator": "or", "rules": [
                    {"property": "$identifier", "operator": "in", "value": ["1", "2"]}]}]}}})
    );
}

#[test]
fn a_failing_value_of_a_search_query_relation_is_null_and_reported_by_its_path() {
    let mapping = mapping(SEARCHING);
    let items = [
        json!({"id": "x", "area": "eu", "owner": 7, "a": "1", "b": "2"}),
        json!({"id": "y", "owner": "o", "a": "1", "b": "2"}),
    ];
    let (entities, failures, transformer) = run(&mapping, "K", &items);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(entities.len(), 2, "the entities are still written");
    assert_eq!(
        entities[0]["relations"]["account"]["rules"][0]["value"],
        Value::Null
    );
    let reported: Vec<(&str, &str)> = transformer
        .field_errors()
        .iter()
        .map(|e| (e.field.as_str(), e.example.as_str()))
        .collect();
    assert_eq!(reported, [("relations.account.rules[0].value", "x")]);
    // A value that maps to null is reported once, like any null field.
    assert_eq!(
        transformer.null_fields(),
        ["resources[0] (K) team.rules[0].value"]
    );
}

#[test]
fn a_search_query_identifier_names_the_entity_to_update_and_its_errors_fail_the_item() {
    let mapping = mapping(
        r#"
  - kind: K
    port:
      entity:
        mappings:
          identifier:
            combinator: '"and"'
            rules: [{property: '"pagerdutyId"', operator: '"="', value: .id | ascii_downcase}]
          blueprint: '"service"'
          properties:
            oncall: .oncall
"#,
    );
    let items = [
        json!({"id": "PD1", "oncall": "ann"}),
        json!({"id": 42, "oncall": "bob"}),
    ];
    let (entities, failures, transformer) = run(&mapping, "K", &items);
    assert_eq!(
        entities,
        [json!({"identifier": {"combinator": "and", "rules": [
                    {"property": "pagerdutyId", "operator": "=", "value": "pd1"}]},
                "blueprint": "service", "properties": {"oncall": "ann"}, "relations": {}})]
    );
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].starts_with(
            "resources[0] (K), field `identifier.rules[0].value`, expression `.id | ascii_downcase`"
        ),
        "{}",
        failures[0]
    );
    assert_eq!(transformer.stats()["K"].failed, 1);
}
