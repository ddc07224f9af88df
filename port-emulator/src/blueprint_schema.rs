//! The checks Port applies to a blueprint body (POST/PUT/PATCH `/v1/blueprints`), from the
//! route schema in the OpenAPI document.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::api_error::ApiError;

/// `^(?!\.{1,2}$)[\p{L}0-9@_.+:\\/-]+$`, max 100 (the look-ahead is checked separately: the
/// regex crate has none).
static BLUEPRINT_IDENTIFIER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}0-9@_.+:\\/-]+$").expect("valid regex"));
/// Property and relation names: `^[A-Za-z0-9@_=\\-]+$`, max 100.
static MEMBER_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9@_=\\-]+$").expect("valid regex"));

const PROPERTY_TYPES: &[&str] = &["string", "number", "boolean", "object", "array"];
const PROPERTY_FORMATS: &[&str] = &[
    "date-time",
    "url",
    "email",
    "idn-email",
    "ipv4",
    "ipv6",
    "markdown",
    "yaml",
    "user",
    "blueprints",
    "team",
    "timer",
    "proto",
    "labeled-url",
];
const RELATION_KEYS: &[&str] = &["title", "target", "required", "many", "description", "type"];

/// Which top-level fields the route requires.
#[derive(Debug, Clone, Copy)]
pub enum BlueprintRoute {
    /// POST: identifier, title and schema.
    Create,
    /// PUT: title and schema.
    Replace,
    /// PATCH: nothing; the merged result is then checked as a whole.
    Update,
}

fn invalid(message: String) -> ApiError {
    ApiError::invalid_request(message)
}

pub fn check_blueprint_identifier(id: &str) -> Result<(), ApiError> {
    if id == "." || id == ".." || id.chars().count() > 100 || !BLUEPRINT_IDENTIFIER.is_match(id) {
        return Err(invalid(format!(
            "body/identifier must match pattern \"^(?!\\.{{1,2}}$)[\\p{{L}}0-9@_.+:\\\\/-]+$\" and be at most 100 characters (got {id:?})"
        )));
    }
    Ok(())
}

fn check_member_name(kind: &str, name: &str) -> Result<(), ApiError> {
    if name.len() > 100 || !MEMBER_NAME.is_match(name) {
        return Err(invalid(format!(
            "{kind} name {name:?} must match pattern \"^[A-Za-z0-9@_=\\\\-]+$\""
        )));
    }
    Ok(())
}

/// Checks a blueprint body for `route`. Relation targets are checked by the caller, which knows
/// the other blueprints.
pub fn check_blueprint_body(
    body: &Map<String, Value>,
    route: BlueprintRoute,
) -> Result<(), ApiError> {
    let required: &[&str] = match route {
        BlueprintRoute::Create => &["identifier", "title", "schema"],
        BlueprintRoute::Replace => &["title", "schema"],
        BlueprintRoute::Update => &[],
    };
    if let Some(missing) = required.iter().find(|k| !body.contains_key(**k)) {
        return Err(invalid(format!(
            "body must have required property '{missing}'"
        )));
    }
    // The route allows additional top-level properties; only the documented ones are typed.
    if let Some(id) = body.get("identifier") {
        let id = id
            .as_str()
            .ok_or_else(|| invalid("body/identifier must be string".into()))?;
        check_blueprint_identifier(id)?;
    }
    if let Some(title) = body.get("title") {
        let title = title
            .as_str()
            .ok_or_else(|| invalid("body/title must be string".into()))?;
        if title.is_empty() || title.chars().count() > 100 {
            return Err(invalid("body/title must be 1 to 100 characters".into()));
        }
    }
    for key in ["icon", "description"] {
        if body.get(key).is_some_and(|v| !v.is_string()) {
            return Err(invalid(format!("body/{key} must be string")));
        }
    }
    for key in [
        "calculationProperties",
        "mirrorProperties",
        "aggregationProperties",
        "ownership",
        "changelogDestination",
    ] {
        if body.get(key).is_some_and(|v| !v.is_object()) {
            return Err(invalid(format!("body/{key} must be object")));
        }
    }
    if let Some(schema) = body.get("schema") {
        check_schema(schema)?;
    }
    if let Some(relations) = body.get("relations") {
        check_relations(relations)?;
    }
    Ok(())
}

fn check_schema(schema: &Value) -> Result<(), ApiError> {
    let schema = schema
        .as_object()
        .ok_or_else(|| invalid("body/schema must be object".into()))?;
    if let Some(extra) = schema
        .keys()
        .find(|k| !["properties", "required"].contains(&k.as_str()))
    {
        return Err(invalid(format!(
            "body/schema must NOT have additional properties ('{extra}')"
        )));
    }
    let properties = schema
        .get("properties")
        .ok_or_else(|| invalid("body/schema must have required property 'properties'".into()))?
        .as_object()
        .ok_or_else(|| invalid("body/schema/properties must be object".into()))?;
    for (name, def) in properties {
        check_member_name("property", name)?;
        check_property_def(name, def)?;
    }
    if let Some(required) = schema.get("required") {
        let required = required
            .as_array()
            .ok_or_else(|| invalid("body/schema/required must be array".into()))?;
        for name in required {
            let name = name
                .as_str()
                .ok_or_else(|| invalid("body/schema/required must contain strings".into()))?;
            if !properties.contains_key(name) {
                return Err(invalid(format!(
                    "required property {name:?} is not defined in schema.properties"
                )));
            }
        }
    }
    Ok(())
}

fn check_property_def(name: &str, def: &Value) -> Result<(), ApiError> {
    let at = format!("body/schema/properties/{name}");
    let def = def
        .as_object()
        .ok_or_else(|| invalid(format!("{at} must be object")))?;
    let ty = def
        .get("type")
        .ok_or_else(|| invalid(format!("{at} must have required property 'type'")))?;
    if !ty.as_str().is_some_and(|t| PROPERTY_TYPES.contains(&t)) {
        return Err(invalid(format!(
            "{at}/type must be equal to one of the allowed values {PROPERTY_TYPES:?}"
        )));
    }
    if let Some(format) = def.get("format")
        && !format
            .as_str()
            .is_some_and(|f| PROPERTY_FORMATS.contains(&f))
    {
        return Err(invalid(format!(
            "{at}/format must be equal to one of the allowed values"
        )));
    }
    if let Some(title) = def.get("title")
        && title.as_str().is_none_or(|t| t.chars().count() > 100)
    {
        return Err(invalid(format!(
            "{at}/title must be a string of at most 100 characters"
        )));
    }
    if def.get("enum").is_some_and(|e| !e.is_array()) {
        return Err(invalid(format!("{at}/enum must be array")));
    }
    Ok(())
}

fn check_relations(relations: &Value) -> Result<(), ApiError> {
    let relations = relations
        .as_object()
        .ok_or_else(|| invalid("body/relations must be object".into()))?;
    for (name, def) in relations {
        check_member_name("relation", name)?;
        let at = format!("body/relations/{name}");
        let def = def
            .as_object()
            .ok_or_else(|| invalid(format!("{at} must be object")))?;
        if let Some(extra) = def.keys().find(|k| !RELATION_KEYS.contains(&k.as_str())) {
            return Err(invalid(format!(
                "{at} must NOT have additional properties ('{extra}')"
            )));
        }
        for key in ["target", "required", "many"] {
            if !def.contains_key(key) {
                return Err(invalid(format!("{at} must have required property '{key}'")));
            }
        }
        if !def["target"].is_string() {
            return Err(invalid(format!("{at}/target must be string")));
        }
        for key in ["required", "many"] {
            if !def[key].is_boolean() {
                return Err(invalid(format!("{at}/{key} must be boolean")));
            }
        }
    }
    Ok(())
}

/// Relation targets that are neither known blueprints nor the blueprint itself.
pub fn missing_relation_targets(
    blueprint: &Map<String, Value>,
    exists: impl Fn(&str) -> bool,
) -> Vec<String> {
    let own = blueprint.get("identifier").and_then(Value::as_str);
    let Some(relations) = blueprint.get("relations").and_then(Value::as_object) else {
        return Vec::new();
    };
    relations
        .values()
        .filter_map(|r| r.get("target").and_then(Value::as_str))
        .filter(|target| Some(*target) != own && !exists(target))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(body: Value, route: BlueprintRoute) -> Result<(), ApiError> {
        check_blueprint_body(body.as_object().unwrap(), route)
    }

    #[test]
    fn accepts_a_typical_blueprint() {
        let bp = json!({"identifier": "awsSecret", "title": "Secret", "schema": {
            "properties": {"arn": {"type": "string", "format": "url"}}, "required": ["arn"]},
            "relations": {"account": {"target": "awsAccount", "required": false, "many": false}}});
        assert_eq!(check(bp, BlueprintRoute::Create), Ok(()));
    }

    #[test]
    fn rejects_each_schema_violation() {
        let cases = [
            json!({"title": "t", "schema": {"properties": {}}}),
            json!({"identifier": "..", "title": "t", "schema": {"properties": {}}}),
            json!({"identifier": "a b", "title": "t", "schema": {"properties": {}}}),
            json!({"identifier": "a", "title": "", "schema": {"properties": {}}}),
            json!({"identifier": "a", "title": "t", "schema": {}}),
            json!({"identifier": "a", "title": "t", "schema": {"properties": {"p": {}}}}),
            json!({"identifier": "a", "title": "t", "schema": {"properties": {"p": {"type": "date"}}}}),
            json!({"identifier": "a", "title": "t", "schema": {"properties": {"p": {"type": "string", "format": "uri"}}}}),
            json!({"identifier": "a", "title": "t", "schema": {"properties": {"bad name": {"type": "string"}}}}),
            json!({"identifier": "a", "title": "t", "schema": {"properties": {}, "required": ["x"]}}),
            json!({"identifier": "a", "title": "t", "schema": {"properties": {}},
                   "relations": {"r": {"target": "b"}}}),
            json!({"identifier": "a", "title": "t", "schema": {"properties": {}},
                   "relations": {"r": {"target": "b", "required": false, "many": false, "x": 1}}}),
        ];
        for case in cases {
            let result = check(case.clone(), BlueprintRoute::Create);
            assert_eq!(
                result.as_ref().map_err(|e| e.status.as_u16()),
                Err(422),
                "{case}"
            );
        }
    }

    #[test]
    fn finds_missing_relation_targets_but_allows_self() {
        let bp = json!({"identifier": "a", "relations": {
            "self": {"target": "a", "required": false, "many": false},
            "other": {"target": "b", "required": false, "many": true}}});
        let missing = missing_relation_targets(bp.as_object().unwrap(), |_| false);
        assert_eq!(missing, vec!["b".to_string()]);
    }
}
