//! Entities as the JSON Port takes in a bulk body, encoded once.

use serde::Serialize;
use serde_json::{Map, Value};

use super::outcome::FailedEntity;
use crate::entity::{Entity, Identifier};

/// The body Port takes for one entity: no `blueprint` key (the blueprint is in the path).
#[derive(Serialize)]
struct EntityBody<'a> {
    /// An identifier or a search query, as Port takes either.
    identifier: &'a Identifier,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icon: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<&'a Value>,
    properties: &'a Map<String, Value>,
    relations: &'a Map<String, Value>,
}

pub(crate) fn encode(entity: &Entity) -> Vec<u8> {
    let body = EntityBody {
        identifier: &entity.identifier,
        title: entity.title.as_deref(),
        icon: entity.icon.as_deref(),
        team: entity.team.as_ref(),
        properties: &entity.properties,
        relations: &entity.relations,
    };
    serde_json::to_vec(&body).expect("entity bodies serialize")
}

/// An entity handed to an upsert into another blueprint: refused before sending.
pub(crate) fn check_blueprint(entity: &Entity, blueprint: &str) -> Result<(), FailedEntity> {
    if entity.blueprint == blueprint {
        return Ok(());
    }
    Err(FailedEntity {
        identifier: entity.identifier.to_string(),
        status_code: None,
        error: "blueprint_mismatch".into(),
        message: format!(
            "entity of blueprint {:?} passed to an upsert into {blueprint:?}",
            entity.blueprint
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_blueprint_stays_out_of_the_body_and_absent_fields_are_left_out() {
        let entity: Entity = serde_json::from_value(json!({
            "identifier": "a", "blueprint": "awsSecret", "properties": {"x": 1}, "relations": {}
        }))
        .unwrap();
        let body: Value = serde_json::from_slice(&encode(&entity)).unwrap();
        assert_eq!(
            body,
            json!({"identifier": "a", "properties": {"x": 1}, "relations": {}})
        );
        assert!(check_blueprint(&entity, "awsSecret").is_ok());
        let refused = check_blueprint(&entity, "awsAccount").unwrap_err();
        assert_eq!(refused.error, "blueprint_mismatch");
    }

    #[test]
    fn search_queries_go_to_port_as_they_are() {
        let query = json!({"combinator": "and", "rules": [
            {"property": "email", "operator": "=", "value": "a@x.io"}]});
        let entity: Entity = serde_json::from_value(json!({
            "identifier": query, "blueprint": "awsAccount", "team": query,
            "properties": {}, "relations": {"owner": query}
        }))
        .unwrap();
        assert!(matches!(entity.identifier, Identifier::Search(_)));
        let body: Value = serde_json::from_slice(&encode(&entity)).unwrap();
        assert_eq!(
            body,
            json!({"identifier": query, "team": query, "properties": {}, "relations": {"owner": query}})
        );
        // A refusal names the entity by its query.
        let refused = check_blueprint(&entity, "awsSecret").unwrap_err();
        assert_eq!(refused.identifier, query.to_string());
    }
}
