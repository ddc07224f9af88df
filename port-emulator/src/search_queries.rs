//! Search queries in entity writes: an identifier, a relation or a team given as
//! `{combinator, rules}` instead of identifiers. The route schema limits them to `=`, `in`,
//! `containsAny` and `contains` rules (and nested queries); Port resolves them on write, as its
//! mapping docs describe:
//! - identifier: the query runs on the blueprint of the URL and must match exactly one entity,
//!   which the write then updates; no entity is ever created from a query.
//! - relation: the query runs on the relation's target blueprint; a single relation needs
//!   exactly one match, a many relation takes the matches (at most [`MAX_RELATION_MATCHES`]).
//! - team: the query runs on the `_team` blueprint; the entity belongs to every team matched.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::api_error::ApiError;
use crate::entity_validation::EntityInput;
use crate::search::matching;
use crate::store::Store;

/// Port's documented cap on the entities a relation query resolves to.
pub const MAX_RELATION_MATCHES: usize = 500;

/// The blueprint Port keeps teams in.
pub const TEAM_BLUEPRINT: &str = "_team";

pub fn is_search_query(value: &Value) -> bool {
    value.get("combinator").is_some() || value.get("rules").is_some()
}

/// The route-schema check of a search query in an entity (`searchIdentifierQuerySchema`,
/// `searchRelationsQuerySchema`): violations reject the whole request.
pub fn check_schema(value: &Value, at: &str) -> Result<(), String> {
    let obj = value.as_object().ok_or(format!("{at} must be object"))?;
    if let Some(extra) = obj.keys().find(|k| *k != "combinator" && *k != "rules") {
        return Err(format!(
            "{at} must NOT have additional properties ('{extra}')"
        ));
    }
    match obj.get("combinator") {
        Some(Value::String(c)) if c == "and" || c == "or" => {}
        Some(_) => {
            return Err(format!(
                "{at}/combinator must be equal to one of the allowed values [\"and\", \"or\"]"
            ));
        }
        None => return Err(format!("{at} must have required property 'combinator'")),
    }
    let rules = match obj.get("rules") {
        Some(Value::Array(rules)) => rules,
        Some(_) => return Err(format!("{at}/rules must be array")),
        None => return Err(format!("{at} must have required property 'rules'")),
    };
    rules.iter().enumerate().try_for_each(|(i, rule)| {
        let at = format!("{at}/rules/{i}");
        if is_search_query(rule) {
            check_schema(rule, &at)
        } else {
            check_rule(rule, &at)
        }
    })
}

fn check_rule(rule: &Value, at: &str) -> Result<(), String> {
    let obj = rule.as_object().ok_or(format!("{at} must be object"))?;
    let allowed = ["property", "operator", "value"];
    if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "{at} must NOT have additional properties ('{extra}')"
        ));
    }
    for key in allowed {
        if !obj.contains_key(key) {
            return Err(format!("{at} must have required property '{key}'"));
        }
    }
    if !obj["property"].is_string() {
        return Err(format!("{at}/property must be string"));
    }
    let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    let value = &obj["value"];
    let fits = match obj["operator"].as_str() {
        Some("=") => value.is_string() || value.is_number() || value.is_null(),
        Some("in" | "containsAny") => strings(value),
        Some("contains") => value.is_string() || value.is_null() || strings(value),
        _ => {
            return Err(format!(
                "{at}/operator must be equal to one of the allowed values [\"=\", \"in\", \"containsAny\", \"contains\"]"
            ));
        }
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "{at}/value does not fit operator {} (got {value})",
            obj["operator"]
        ))
    }
}

fn no_match(message: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
}

fn ambiguous(message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "search_query_matched_several_entities",
        message,
    )
}

/// Replaces every search query of `input` with what it resolves to in `store`: the identifier
/// of the one matching entity, relation identifiers, team names. Refused as Port refuses:
/// an identifier query that matches no entity or several, a single relation whose query does
/// not match exactly one entity.
pub fn resolve(store: &Store, blueprint: &str, input: &mut EntityInput) -> Result<(), ApiError> {
    if let Some(query) = input.identifier_query.take() {
        let found = matching(store, blueprint, &query, "identifier")?;
        match found.as_slice() {
            [one] => input.identifier = Some(one.identifier.clone()),
            [] => {
                return Err(no_match(format!(
                    "The search query of the identifier matched no entity of blueprint \"{blueprint}\"; no entity is created from a search query"
                )));
            }
            several => {
                return Err(ambiguous(format!(
                    "The search query of the identifier matched {} entities of blueprint \"{blueprint}\"; it must match exactly one",
                    several.len()
                )));
            }
        }
    }
    if let Some(query) = input.team_query.take() {
        let teams = if store.blueprint(TEAM_BLUEPRINT).is_some() {
            matching(store, TEAM_BLUEPRINT, &query, "team")?
        } else {
            Vec::new()
        };
        input.team = Some(teams.iter().map(|t| t.identifier.clone()).collect());
    }
    if let Some(relations) = input.relations.as_mut() {
        resolve_relations(store, blueprint, relations)?;
    }
    Ok(())
}

fn resolve_relations(
    store: &Store,
    blueprint: &str,
    relations: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let defs = store
        .blueprint(blueprint)
        .map(|bp| bp.relations())
        .unwrap_or_default();
    for (name, value) in relations.iter_mut() {
        if !value.is_object() {
            continue;
        }
        let def = defs.get(name).ok_or_else(|| {
            ApiError::entity_mismatch(format!(
                "relation \"{name}\" is not defined in blueprint \"{blueprint}\""
            ))
        })?;
        let found = matching(store, &def.target, value, &format!("relations/{name}"))?;
        let ids: Vec<Value> = found
            .iter()
            .take(MAX_RELATION_MATCHES)
            .map(|e| Value::String(e.identifier.clone()))
            .collect();
        *value = if def.many {
            Value::Array(ids)
        } else {
            match <[Value; 1]>::try_from(ids) {
                Ok([one]) => one,
                Err(ids) => {
                    let message = format!(
                        "The search query of single relation \"{name}\" matched {} entities of blueprint \"{}\"; it must match exactly one",
                        ids.len(),
                        def.target
                    );
                    return Err(if ids.is_empty() {
                        no_match(message)
                    } else {
                        ambiguous(message)
                    });
                }
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_route_schema_takes_only_the_documented_rules() {
        let ok = json!({"combinator": "and", "rules": [
            {"property": "accountId", "operator": "=", "value": "1"},
            {"property": "n", "operator": "=", "value": 3},
            {"property": "$identifier", "operator": "in", "value": ["a", "b"]},
            {"combinator": "or", "rules": [{"property": "tags", "operator": "contains", "value": "x"}]}
        ]});
        assert_eq!(check_schema(&ok, "q"), Ok(()));
        let refused = [
            (json!({"combinator": "xor", "rules": []}), "q/combinator"),
            (json!({"rules": []}), "'combinator'"),
            (
                json!({"combinator": "and", "rules": [], "x": 1}),
                "additional",
            ),
            (
                json!({"combinator": "and", "rules": [{"property": "a", "operator": "!=", "value": "b"}]}),
                "q/rules/0/operator",
            ),
            (
                json!({"combinator": "and", "rules": [{"property": "a", "operator": "in", "value": "b"}]}),
                "q/rules/0/value",
            ),
            (
                json!({"combinator": "and", "rules": [{"property": "a", "operator": "=", "value": ["b"]}]}),
                "q/rules/0/value",
            ),
            (
                json!({"combinator": "and", "rules": [{"property": "a", "operator": "="}]}),
                "'value'",
            ),
            (
                json!({"combinator": "and", "rules": [{"combinator": "or", "rules": [{"property": null, "operator": "=", "value": "b"}]}]}),
                "q/rules/0/rules/0/property",
            ),
        ];
        for (query, expected) in refused {
            let err = check_schema(&query, "q").unwrap_err();
            assert!(err.contains(expected), "{query}: {err}");
        }
    }
}
