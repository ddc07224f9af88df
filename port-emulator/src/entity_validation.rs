//! What Port checks on an entity write: the route schema (a violation rejects the whole
//! request with 422) and the entity's blueprint (a violation rejects that entity).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::search_queries::{check_schema as check_search_query, is_search_query};
use crate::store::Blueprint;
use crate::timefmt::is_rfc3339;

/// `^(?!\.{1,2}$)[\p{L}0-9@_.+:\\/=-]+$`; the look-ahead is checked apart (no look-around in
/// the regex crate).
static ENTITY_IDENTIFIER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}0-9@_.+:\\/=-]+$").expect("valid regex"));

pub const MAX_IDENTIFIER_CHARS: usize = 1000;

pub fn is_valid_entity_identifier(id: &str) -> bool {
    id != "."
        && id != ".."
        && id.chars().count() <= MAX_IDENTIFIER_CHARS
        && ENTITY_IDENTIFIER.is_match(id)
}

/// An entity as a write request carries it, after the route-schema checks. Search queries
/// (of the identifier, the team, or as a relation's value) are kept for the write to resolve.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityInput {
    pub identifier: Option<String>,
    pub identifier_query: Option<Value>,
    pub title: Option<String>,
    pub icon: Option<String>,
    pub team: Option<Vec<String>>,
    pub team_query: Option<Value>,
    pub properties: Option<Map<String, Value>>,
    pub relations: Option<Map<String, Value>>,
}

/// The route-schema checks of one entity object; `at` locates it in messages (e.g.
/// `body/entities/3`). Unknown top-level keys are allowed, as in the spec.
pub fn parse_entity_input(value: &Value, at: &str) -> Result<EntityInput, String> {
    let obj = value.as_object().ok_or(format!("{at} must be object"))?;
    let mut input = EntityInput::default();
    match obj.get("identifier") {
        None => {}
        Some(Value::String(id)) if is_valid_entity_identifier(id) => {
            input.identifier = Some(id.clone());
        }
        Some(Value::String(id)) => {
            return Err(format!(
                "{at}/identifier must match pattern \"^(?!\\.{{1,2}}$)[\\p{{L}}0-9@_.+:\\\\/=-]+$\" and be at most {MAX_IDENTIFIER_CHARS} characters (got {id:?})"
            ));
        }
        Some(v) if is_search_query(v) => {
            check_search_query(v, &format!("{at}/identifier"))?;
            input.identifier_query = Some(v.clone());
        }
        Some(_) => return Err(format!("{at}/identifier must be string or a search query")),
    }
    for (key, slot) in [("title", &mut input.title), ("icon", &mut input.icon)] {
        match obj.get(key) {
            None => {}
            Some(Value::String(s)) => *slot = Some(s.clone()),
            Some(_) => return Err(format!("{at}/{key} must be string")),
        }
    }
    input.team = match obj.get("team") {
        None => None,
        Some(Value::String(team)) => Some(vec![team.clone()]),
        Some(Value::Array(teams)) if teams.iter().all(Value::is_string) => Some(
            teams
                .iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect(),
        ),
        Some(v) if is_search_query(v) => {
            check_search_query(v, &format!("{at}/team"))?;
            input.team_query = Some(v.clone());
            None
        }
        Some(_) => {
            return Err(format!(
                "{at}/team must be string, array of strings or a search query"
            ));
        }
    };
    input.properties = match obj.get("properties") {
        None => None,
        Some(Value::Object(p)) => Some(p.clone()),
        Some(_) => return Err(format!("{at}/properties must be object")),
    };
    input.relations = match obj.get("relations") {
        None => None,
        Some(Value::Object(r)) => {
            for (name, value) in r {
                check_relation_value_schema(value, &format!("{at}/relations/{name}"))?;
            }
            Some(r.clone())
        }
        Some(_) => return Err(format!("{at}/relations must be object")),
    };
    Ok(input)
}

fn check_relation_value_schema(value: &Value, at: &str) -> Result<(), String> {
    let bad_id = |id: &str| format!("{at} {id:?} must match the entity identifier pattern");
    match value {
        Value::Null => Ok(()),
        Value::String(id) if is_valid_entity_identifier(id) => Ok(()),
        Value::String(id) => Err(bad_id(id)),
        Value::Array(ids) => ids.iter().try_for_each(|id| match id {
            Value::String(id) if is_valid_entity_identifier(id) => Ok(()),
            Value::String(id) => Err(bad_id(id)),
            _ => Err(format!("{at} must contain strings")),
        }),
        v if is_search_query(v) => check_search_query(v, at),
        _ => Err(format!(
            "{at} must be string, array of strings, null or a search query"
        )),
    }
}

/// Checks `properties` (the entity's full set after a merge) against the blueprint: unknown
/// properties, types, formats, enums, lengths and `required`.
pub fn check_properties(bp: &Blueprint, properties: &Map<String, Value>) -> Result<(), String> {
    let schemas = bp.property_schemas();
    for (name, value) in properties {
        let schema = schemas.get(name).and_then(Value::as_object).ok_or(format!(
            "property \"{name}\" is not defined in the blueprint"
        ))?;
        check_value(&format!("property \"{name}\""), schema, value)?;
    }
    for name in bp.required_properties() {
        if properties.get(&name).is_none_or(Value::is_null) {
            return Err(format!("required property \"{name}\" is missing"));
        }
    }
    Ok(())
}

/// Null is accepted for any property: it means "no value" (`required` is checked apart).
fn check_value(at: &str, schema: &Map<String, Value>, value: &Value) -> Result<(), String> {
    if value.is_null() {
        return Ok(());
    }
    let ty = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string");
    let type_ok = match ty {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => false,
    };
    if !type_ok {
        return Err(format!("{at} must be {ty}"));
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return Err(format!(
            "{at} must be equal to one of the allowed values {allowed:?}"
        ));
    }
    match value {
        Value::String(s) => check_string(at, schema, s),
        Value::Number(n) => check_number(at, schema, n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(items) => check_items(at, schema, items),
        _ => Ok(()),
    }
}

fn check_string(at: &str, schema: &Map<String, Value>, s: &str) -> Result<(), String> {
    if let Some(format) = schema.get("format").and_then(Value::as_str)
        && !format_ok(format, s)
    {
        return Err(format!("{at} must match format \"{format}\" (got {s:?})"));
    }
    let chars = s.chars().count() as u64;
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && chars < min
    {
        return Err(format!("{at} must NOT have fewer than {min} characters"));
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && chars > max
    {
        return Err(format!("{at} must NOT have more than {max} characters"));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        let re = Regex::new(pattern)
            .map_err(|_| format!("not supported by port-emulator: pattern {pattern:?}"))?;
        if !re.is_match(s) {
            return Err(format!("{at} must match pattern \"{pattern}\""));
        }
    }
    Ok(())
}

fn check_number(at: &str, schema: &Map<String, Value>, n: f64) -> Result<(), String> {
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && n < min
    {
        return Err(format!("{at} must be >= {min}"));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && n > max
    {
        return Err(format!("{at} must be <= {max}"));
    }
    Ok(())
}

fn check_items(at: &str, schema: &Map<String, Value>, items: &[Value]) -> Result<(), String> {
    let Some(item_schema) = schema.get("items").and_then(Value::as_object) else {
        return Ok(());
    };
    items
        .iter()
        .enumerate()
        .try_for_each(|(i, item)| check_value(&format!("{at}[{i}]"), item_schema, item))
}

/// Formats the emulator checks; the others (email, markdown, yaml, user, team, proto, ...) are
/// accepted as any string.
fn format_ok(format: &str, s: &str) -> bool {
    match format {
        "date-time" | "timer" => is_rfc3339(s),
        "url" => is_url(s),
        "ipv4" => s.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<Ipv6Addr>().is_ok(),
        _ => true,
    }
}

/// An absolute http(s) or ftp URL with a host, as the JSON-schema `url` format requires.
fn is_url(s: &str) -> bool {
    if s.chars().any(char::is_whitespace) {
        return false;
    }
    url::Url::parse(s).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https" | "ftp")
            && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// Checks relation names and value shapes (single: identifier or null; many: list or null)
/// and required relations. `relations` is the entity's full set after a merge.
pub fn check_relations(bp: &Blueprint, relations: &Map<String, Value>) -> Result<(), String> {
    let defs = bp.relations();
    for (name, value) in relations {
        let def = defs.get(name).ok_or(format!(
            "relation \"{name}\" is not defined in the blueprint"
        ))?;
        match (def.many, value) {
            (_, Value::Null) | (false, Value::String(_)) | (true, Value::Array(_)) => {}
            (false, _) => {
                return Err(format!(
                    "relation \"{name}\" is a single relation: its value must be an identifier"
                ));
            }
            (true, _) => {
                return Err(format!(
                    "relation \"{name}\" is a many relation: its value must be an array of identifiers"
                ));
            }
        }
    }
    for name in defs.iter().filter(|(_, d)| d.required).map(|(n, _)| n) {
        let present = match relations.get(name) {
            None | Some(Value::Null) => false,
            Some(Value::Array(ids)) => !ids.is_empty(),
            Some(_) => true,
        };
        if !present {
            return Err(format!("required relation \"{name}\" is missing"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identifier_pattern() {
        for ok in [
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db/pass-AbCd",
            "123456789012",
            "ünïcödé",
            "a=b+c@d",
            "back\\slash",
            "...",
        ] {
            assert!(is_valid_entity_identifier(ok), "{ok}");
        }
        for bad in [
            ".",
            "..",
            "",
            "with space",
            "semi;colon",
            "q?",
            &"x".repeat(1001),
        ] {
            assert!(!is_valid_entity_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn url_format() {
        assert!(is_url("https://console.aws.amazon.com/x?y=1"));
        assert!(is_url("ftp://files.example.com/a"));
        assert!(!is_url("console.aws.amazon.com"));
        assert!(!is_url("mailto:a@b.c"));
        assert!(!is_url("https://exa mple.com"));
    }

    #[test]
    fn route_schema_rejections() {
        for (entity, why) in [
            (json!({"identifier": 5}), "identifier type"),
            (json!({"identifier": "a b"}), "identifier pattern"),
            (json!({"identifier": "a", "title": null}), "title type"),
            (json!({"identifier": "a", "team": 3}), "team type"),
            (
                json!({"identifier": "a", "properties": []}),
                "properties type",
            ),
            (
                json!({"identifier": "a", "relations": {"r": "b c"}}),
                "relation id pattern",
            ),
            (
                json!({"identifier": "a", "relations": {"r": 1}}),
                "relation value type",
            ),
        ] {
            assert!(parse_entity_input(&entity, "body").is_err(), "{why}");
        }
        let input = parse_entity_input(
            &json!({"identifier": "a", "team": "t", "blueprint": "x"}),
            "body",
        );
        assert_eq!(input.unwrap().team, Some(vec!["t".to_string()]));
    }
}
