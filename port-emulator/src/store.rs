//! The in-memory catalog: blueprints, entities (with the metadata Port records about each
//! write) and action runs.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

/// One entity as the emulator holds it. `api_json` gives the shape Port's API returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredEntity {
    pub identifier: String,
    pub blueprint: String,
    pub title: Option<String>,
    pub icon: Option<String>,
    /// Port keeps teams as a list, whether they were written as one name or several.
    pub team: Vec<String>,
    pub properties: Map<String, Value>,
    pub relations: Map<String, Value>,
    pub meta: EntityMeta,
}

/// What Port records about the last write of an entity. Port's documented entity shape does not
/// return these fields; they are queryable through search rules (`$datasource`, ...) and from
/// the emulator's handle.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityMeta {
    /// The `User-Agent` of the last writer.
    pub datasource: String,
    pub created_at: String,
    pub updated_at: String,
    /// Client id of the token that created / last updated the entity.
    pub created_by: String,
    pub updated_by: String,
    /// The `run_id` of the last write that carried one.
    pub run_id: Option<String>,
}

impl StoredEntity {
    /// The entity as Port's API returns it: identifier, title, icon, team, properties,
    /// relations (the spec's entity schema, `additionalProperties: false`).
    pub fn api_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("identifier".into(), json!(self.identifier));
        if let Some(title) = &self.title {
            out.insert("title".into(), json!(title));
        }
        if let Some(icon) = &self.icon {
            out.insert("icon".into(), json!(icon));
        }
        out.insert("team".into(), json!(self.team));
        out.insert("properties".into(), Value::Object(self.properties.clone()));
        out.insert("relations".into(), Value::Object(self.relations.clone()));
        Value::Object(out)
    }

    /// Identifiers this entity points at through `relation`.
    pub fn related_ids(&self, relation: &str) -> Vec<&str> {
        relation_targets(self.relations.get(relation))
    }
}

pub fn relation_targets(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(id)) => vec![id.as_str()],
        Some(Value::Array(ids)) => ids.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A relation declared by a blueprint.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationDef {
    pub target: String,
    pub required: bool,
    pub many: bool,
}

/// A blueprint, kept as the JSON Port returns (with its `createdAt`/`updatedAt`/... fields).
#[derive(Debug, Clone, PartialEq)]
pub struct Blueprint {
    pub json: Map<String, Value>,
}

impl Blueprint {
    pub fn property_schemas(&self) -> Map<String, Value> {
        self.json
            .get("schema")
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    pub fn required_properties(&self) -> Vec<String> {
        self.json
            .get("schema")
            .and_then(|s| s.get("required"))
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn relations(&self) -> BTreeMap<String, RelationDef> {
        let Some(relations) = self.json.get("relations").and_then(Value::as_object) else {
            return BTreeMap::new();
        };
        relations
            .iter()
            .map(|(name, def)| {
                let relation = RelationDef {
                    target: def["target"].as_str().unwrap_or_default().to_string(),
                    required: def["required"].as_bool().unwrap_or(false),
                    many: def["many"].as_bool().unwrap_or(false),
                };
                (name.clone(), relation)
            })
            .collect()
    }

    pub fn has_property(&self, name: &str) -> bool {
        self.property_schemas().contains_key(name)
    }
}

/// An action run and its logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub json: Map<String, Value>,
    pub logs: Vec<Value>,
}

#[derive(Debug, Default)]
pub struct Store {
    pub blueprints: BTreeMap<String, Blueprint>,
    /// blueprint → identifier → entity. Ordered by identifier, which is also the order search
    /// pages through.
    pub entities: BTreeMap<String, BTreeMap<String, StoredEntity>>,
    pub runs: BTreeMap<String, Run>,
    pub integrations: crate::integration::Integrations,
    generated_identifiers: u64,
}

impl Store {
    pub fn blueprint(&self, identifier: &str) -> Option<&Blueprint> {
        self.blueprints.get(identifier)
    }

    pub fn entity(&self, blueprint: &str, identifier: &str) -> Option<&StoredEntity> {
        self.entities.get(blueprint)?.get(identifier)
    }

    pub fn entities_of(&self, blueprint: &str) -> impl Iterator<Item = &StoredEntity> {
        self.entities
            .get(blueprint)
            .into_iter()
            .flat_map(|m| m.values())
    }

    pub fn put_entity(&mut self, entity: StoredEntity) {
        self.entities
            .entry(entity.blueprint.clone())
            .or_default()
            .insert(entity.identifier.clone(), entity);
    }

    pub fn remove_entity(&mut self, blueprint: &str, identifier: &str) -> Option<StoredEntity> {
        self.entities.get_mut(blueprint)?.remove(identifier)
    }

    /// Port generates an identifier for an entity written without one.
    pub fn generate_identifier(&mut self) -> String {
        self.generated_identifiers += 1;
        format!("e_{:08x}", self.generated_identifiers)
    }

    /// Entities holding a relation to (`blueprint`, `identifier`), as (blueprint, identifier).
    pub fn dependents_of(&self, blueprint: &str, identifier: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for (source_bp, def) in &self.blueprints {
            let pointing: Vec<String> = def
                .relations()
                .into_iter()
                .filter(|(_, rel)| rel.target == blueprint)
                .map(|(name, _)| name)
                .collect();
            if pointing.is_empty() {
                continue;
            }
            for entity in self.entities_of(source_bp) {
                if pointing
                    .iter()
                    .any(|rel| entity.related_ids(rel).contains(&identifier))
                {
                    found.push((source_bp.clone(), entity.identifier.clone()));
                }
            }
        }
        found
    }

    /// Deletes an entity and, transitively, every entity that depends on it. Returns how many
    /// entities were removed.
    pub fn delete_with_dependents(&mut self, blueprint: &str, identifier: &str) -> usize {
        let mut pending = vec![(blueprint.to_string(), identifier.to_string())];
        let mut removed = 0;
        while let Some((bp, id)) = pending.pop() {
            if self.remove_entity(&bp, &id).is_some() {
                removed += 1;
                pending.extend(self.dependents_of(&bp, &id));
            }
        }
        removed
    }
}
