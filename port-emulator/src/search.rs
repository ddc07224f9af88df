//! `POST /v1/blueprints/{blueprint_identifier}/entities/search`: query rules, include/exclude
//! and cursor pagination (`limit` ≤ 1000, default 200; `from` = the previous page's `next`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::blueprints::blueprint_not_found;
use crate::projection::project;
use crate::request_input::{optional_string, parse_object};
use crate::state::Shared;
use crate::store::{Store, StoredEntity};

pub const DEFAULT_LIMIT: usize = 200;
pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Contains,
    NotContains,
    ContainsAny,
    BeginsWith,
    NotBeginsWith,
    EndsWith,
    NotEndsWith,
    IsEmpty,
    IsNotEmpty,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Rule {
        property: String,
        op: Op,
        value: Value,
    },
}

/// Meta-properties a rule may name.
const META: &[&str] = &[
    "$identifier",
    "$title",
    "$icon",
    "$team",
    "$blueprint",
    "$datasource",
    "$createdAt",
    "$updatedAt",
    "$createdBy",
    "$updatedBy",
];

fn operator(name: &str) -> Option<Op> {
    Some(match name {
        "=" => Op::Eq,
        "!=" => Op::Ne,
        "in" => Op::In,
        "notIn" => Op::NotIn,
        "contains" => Op::Contains,
        "doesNotContains" => Op::NotContains,
        "containsAny" => Op::ContainsAny,
        "beginsWith" => Op::BeginsWith,
        "doesNotBeginsWith" => Op::NotBeginsWith,
        "endsWith" => Op::EndsWith,
        "doesNotEndsWith" => Op::NotEndsWith,
        "isEmpty" => Op::IsEmpty,
        "isNotEmpty" => Op::IsNotEmpty,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        "<" => Op::Lt,
        "<=" => Op::Le,
        _ => return None,
    })
}

/// Documented operators the emulator does not evaluate.
const UNSUPPORTED_OPERATORS: &[&str] = &[
    "between",
    "notBetween",
    "relatedTo",
    "isExpired",
    "isNotExpired",
    "matchAny",
];

fn compile(query: &Value, at: &str) -> Result<Condition, ApiError> {
    let obj = query
        .as_object()
        .ok_or_else(|| ApiError::invalid_request(format!("{at} must be object")))?;
    if obj.contains_key("combinator") || obj.contains_key("rules") {
        return compile_group(obj, at);
    }
    compile_rule(obj, at)
}

fn compile_group(obj: &Map<String, Value>, at: &str) -> Result<Condition, ApiError> {
    if let Some(extra) = obj.keys().find(|k| *k != "combinator" && *k != "rules") {
        return Err(ApiError::invalid_request(format!(
            "{at} must NOT have additional properties ('{extra}')"
        )));
    }
    let rules = obj
        .get("rules")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid_request(format!("{at}/rules must be array")))?;
    let compiled = rules
        .iter()
        .enumerate()
        .map(|(i, r)| compile(r, &format!("{at}/rules/{i}")))
        .collect::<Result<Vec<_>, _>>()?;
    match obj.get("combinator").and_then(Value::as_str) {
        Some("and") => Ok(Condition::All(compiled)),
        Some("or") => Ok(Condition::Any(compiled)),
        _ => Err(ApiError::invalid_request(format!(
            "{at}/combinator must be equal to one of the allowed values [\"and\", \"or\"]"
        ))),
    }
}

fn compile_rule(obj: &Map<String, Value>, at: &str) -> Result<Condition, ApiError> {
    let op_name = obj
        .get("operator")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid_request(format!("{at} must have a string 'operator'")))?;
    if UNSUPPORTED_OPERATORS.contains(&op_name) {
        return Err(ApiError::unsupported(format!(
            "operator \"{op_name}\" ({at})"
        )));
    }
    let op = operator(op_name).ok_or_else(|| {
        ApiError::invalid_request(format!(
            "{at}/operator \"{op_name}\" is not a valid operator"
        ))
    })?;
    if obj.contains_key("relation")
        || obj.contains_key("scorecard")
        || obj.contains_key("propertySchema")
    {
        return Err(ApiError::unsupported(format!(
            "relation, scorecard and property-schema rules ({at})"
        )));
    }
    let allowed = ["property", "operator", "value"];
    if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid_request(format!(
            "{at} must NOT have additional properties ('{extra}')"
        )));
    }
    let property = match obj.get("property") {
        Some(Value::String(p)) => p.clone(),
        Some(Value::Object(_)) => {
            return Err(ApiError::unsupported(format!(
                "user-context properties ({at})"
            )));
        }
        _ => {
            return Err(ApiError::invalid_request(format!(
                "{at} must have required property 'property'"
            )));
        }
    };
    if property.starts_with('$') && !META.contains(&property.as_str()) {
        return Err(ApiError::unsupported(format!(
            "meta-property {property} ({at})"
        )));
    }
    let value = obj.get("value").cloned();
    let value = match (op, value) {
        (Op::IsEmpty | Op::IsNotEmpty, v) => v.unwrap_or(Value::Null),
        (_, None) => {
            return Err(ApiError::invalid_request(format!(
                "{at} must have required property 'value'"
            )));
        }
        (Op::In | Op::NotIn | Op::ContainsAny, Some(v)) if !v.is_array() => {
            return Err(ApiError::invalid_request(format!(
                "{at}/value must be array"
            )));
        }
        (Op::Gt | Op::Ge | Op::Lt | Op::Le, Some(v)) if !v.is_number() => {
            return Err(ApiError::unsupported(format!(
                "non-numeric comparison ({at})"
            )));
        }
        (_, Some(v)) => v,
    };
    Ok(Condition::Rule {
        property,
        op,
        value,
    })
}

fn resolve(entity: &StoredEntity, property: &str) -> Value {
    let text = |s: &str| Value::String(s.to_string());
    match property {
        "$identifier" => text(&entity.identifier),
        "$title" => entity.title.as_deref().map_or(Value::Null, text),
        "$icon" => entity.icon.as_deref().map_or(Value::Null, text),
        "$team" => json!(entity.team),
        "$blueprint" => text(&entity.blueprint),
        "$datasource" => text(&entity.meta.datasource),
        "$createdAt" => text(&entity.meta.created_at),
        "$updatedAt" => text(&entity.meta.updated_at),
        "$createdBy" => text(&entity.meta.created_by),
        "$updatedBy" => text(&entity.meta.updated_by),
        name => entity.properties.get(name).cloned().unwrap_or(Value::Null),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn rule_matches(actual: &Value, op: Op, value: &Value) -> bool {
    let as_str = |v: &Value| v.as_str().map(str::to_string);
    let text_test = |f: &dyn Fn(&str, &str) -> bool| match (actual.as_str(), value.as_str()) {
        (Some(a), Some(v)) => f(a, v),
        _ => false,
    };
    let listed = || value.as_array().cloned().unwrap_or_default();
    let compare = |f: &dyn Fn(f64, f64) -> bool| match (actual.as_f64(), value.as_f64()) {
        (Some(a), Some(v)) => f(a, v),
        _ => false,
    };
    match op {
        Op::Eq => same(actual, value),
        Op::Ne => !same(actual, value),
        Op::In => match actual {
            Value::Array(items) => items.iter().any(|i| listed().iter().any(|v| same(i, v))),
            a => listed().iter().any(|v| same(a, v)),
        },
        Op::NotIn => !rule_matches(actual, Op::In, value),
        Op::Contains => match actual {
            Value::Array(items) => items.iter().any(|i| same(i, value)),
            _ => text_test(&|a, v| a.contains(v)),
        },
        Op::NotContains => !rule_matches(actual, Op::Contains, value),
        Op::ContainsAny => match actual {
            Value::Array(items) => items.iter().any(|i| listed().iter().any(|v| same(i, v))),
            Value::String(a) => listed().iter().filter_map(as_str).any(|v| a.contains(&v)),
            _ => false,
        },
        Op::BeginsWith => text_test(&|a, v| a.starts_with(v)),
        Op::NotBeginsWith => !text_test(&|a, v| a.starts_with(v)),
        Op::EndsWith => text_test(&|a, v| a.ends_with(v)),
        Op::NotEndsWith => !text_test(&|a, v| a.ends_with(v)),
        Op::IsEmpty => is_empty(actual),
        Op::IsNotEmpty => !is_empty(actual),
        Op::Gt => compare(&|a, v| a > v),
        Op::Ge => compare(&|a, v| a >= v),
        Op::Lt => compare(&|a, v| a < v),
        Op::Le => compare(&|a, v| a <= v),
    }
}

fn matches(entity: &StoredEntity, condition: &Condition) -> bool {
    match condition {
        Condition::All(rules) => rules.iter().all(|c| matches(entity, c)),
        Condition::Any(rules) => rules.iter().any(|c| matches(entity, c)),
        Condition::Rule {
            property,
            op,
            value,
        } => rule_matches(&resolve(entity, property), *op, value),
    }
}

/// The entities of `blueprint` a search query in an entity write matches, in identifier
/// order; `at` names the query in messages. The query's shape was checked with the route
/// schema, so a rule the emulator cannot evaluate is refused here.
pub fn matching<'a>(
    store: &'a Store,
    blueprint: &str,
    query: &Value,
    at: &str,
) -> Result<Vec<&'a StoredEntity>, ApiError> {
    let condition = compile(query, at)?;
    Ok(store
        .entities_of(blueprint)
        .filter(|e| matches(e, &condition))
        .collect())
}

/// Page cursors are opaque to clients; here they encode the last identifier returned.
fn encode_cursor(identifier: &str) -> String {
    let hex: String = identifier.bytes().map(|b| format!("{b:02x}")).collect();
    format!("emu1.{hex}")
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let hex = cursor.strip_prefix("emu1.")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

fn string_list(body: &Map<String, Value>, key: &str) -> Result<Vec<String>, ApiError> {
    match body.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Ok(items
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()),
        Some(_) => Err(ApiError::invalid_request(format!(
            "body/{key} must be array of strings"
        ))),
    }
}

pub async fn search(
    State(state): State<Shared>,
    Path(blueprint): Path<String>,
    body: Bytes,
) -> Response {
    match run_search(&state, &blueprint, &body) {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

fn run_search(state: &Shared, blueprint: &str, body: &Bytes) -> Result<Value, ApiError> {
    let body = parse_object(body, &["query", "include", "exclude", "limit", "from"])?;
    let condition = match body.get("query") {
        Some(q) => {
            if q.get("combinator").is_none() || q.get("rules").is_none() {
                return Err(ApiError::invalid_request(
                    "body/query must have required properties 'combinator' and 'rules'",
                ));
            }
            compile(q, "body/query")?
        }
        None => Condition::All(Vec::new()),
    };
    let include = string_list(&body, "include")?;
    let exclude = string_list(&body, "exclude")?;
    let limit = match body.get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.as_f64() {
            Some(n) if (1.0..=MAX_LIMIT as f64).contains(&n) => n as usize,
            _ => {
                return Err(ApiError::invalid_request(format!(
                    "body/limit must be a number from 1 to {MAX_LIMIT}"
                )));
            }
        },
    };
    let after = match optional_string(&body, "from")? {
        None => None,
        Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
            ApiError::invalid_request("body/from is not a cursor this search returned")
        })?),
    };

    let store = state.store();
    let bp = store
        .blueprint(blueprint)
        .ok_or_else(|| blueprint_not_found(blueprint))?;
    let mut page: Vec<&StoredEntity> = store
        .entities_of(blueprint)
        .filter(|e| after.as_deref().is_none_or(|a| e.identifier.as_str() > a))
        .filter(|e| matches(e, &condition))
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let entities: Vec<Value> = page
        .iter()
        .map(|e| project(e, bp, &include, &exclude))
        .collect();
    let mut out = json!({"ok": true, "entities": entities});
    if more && let Some(last) = page.last() {
        out["next"] = json!(encode_cursor(&last.identifier));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let id = "arn:aws:acm:eu-west-1:1:certificate/ü";
        assert_eq!(decode_cursor(&encode_cursor(id)).as_deref(), Some(id));
        assert_eq!(decode_cursor("garbage"), None);
    }

    #[test]
    fn operators_on_strings_and_arrays() {
        let s = json!("port-ocean/aws-sync/0.1.0/aws-sync/exporter");
        assert!(rule_matches(&s, Op::Contains, &json!("/aws-sync/exporter")));
        assert!(rule_matches(&s, Op::BeginsWith, &json!("port-ocean/")));
        assert!(rule_matches(&s, Op::EndsWith, &json!("/aws-sync/exporter")));
        assert!(!rule_matches(&s, Op::EndsWith, &json!("/other/exporter")));
        assert!(rule_matches(&json!("a"), Op::In, &json!(["b", "a"])));
        assert!(rule_matches(
            &json!(["x", "y"]),
            Op::ContainsAny,
            &json!(["y"])
        ));
        assert!(rule_matches(&json!(3), Op::Eq, &json!(3.0)));
        assert!(rule_matches(&json!(null), Op::IsEmpty, &Value::Null));
        assert!(rule_matches(&json!(5), Op::Gt, &json!(4)));
    }

    #[test]
    fn unsupported_rules_are_refused_not_ignored() {
        let q = json!({"combinator": "and", "rules": [
            {"operator": "relatedTo", "blueprint": "x", "value": "y"}]});
        assert_eq!(compile(&q, "q").unwrap_err().status.as_u16(), 422);
        let q = json!({"combinator": "xor", "rules": []});
        assert!(compile(&q, "q").is_err());
    }
}
