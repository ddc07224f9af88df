//! The Port entity as this tool builds it and sends it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One Port entity: what a mapping produced for one raw item, and what the Port client writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub identifier: Identifier,
    pub blueprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// A team name, a list of team names, or a search query over Port's teams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Value>,
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// Each value: an identifier, a list of them, null, or a search query Port resolves.
    #[serde(default)]
    pub relations: Map<String, Value>,
}

impl Entity {
    /// About how many heap bytes the entity holds: what bounds the write queue.
    pub fn heap_bytes(&self) -> usize {
        let text = |t: &Option<String>| t.as_ref().map_or(0, String::len);
        let identifier = match &self.identifier {
            Identifier::Id(id) => id.len(),
            Identifier::Search(query) => object_bytes(query),
        };
        identifier
            + self.blueprint.len()
            + text(&self.title)
            + text(&self.icon)
            + self.team.as_ref().map_or(0, value_bytes)
            + object_bytes(&self.properties)
            + object_bytes(&self.relations)
    }
}

/// Per map entry and per value, about what serde_json's preserve_order map spends beside the
/// text: index slot, hash, key and value headers.
const ENTRY_OVERHEAD: usize = 64;

fn object_bytes(map: &Map<String, Value>) -> usize {
    map.iter()
        .map(|(key, value)| ENTRY_OVERHEAD + key.len() + value_bytes(value))
        .sum()
}

fn value_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(|v| 32 + value_bytes(v)).sum(),
        Value::Object(map) => object_bytes(map),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

/// Which entity a write is for: its identifier, or a search query (`{combinator, rules}`) that
/// Port resolves on write to the one entity of the blueprint it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Identifier {
    Id(String),
    /// Boxed: rare, and an entity stays as small as with a plain identifier.
    Search(Box<Map<String, Value>>),
}

impl Identifier {
    /// The identifier, when it is one (not a search query).
    pub fn as_id(&self) -> Option<&str> {
        match self {
            Identifier::Id(id) => Some(id),
            Identifier::Search(_) => None,
        }
    }
}

impl fmt::Display for Identifier {
    /// The identifier, or the query as compact JSON: how messages and reports name the entity.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identifier::Id(id) => f.write_str(id),
            Identifier::Search(query) => write!(f, "{}", Value::Object((**query).clone())),
        }
    }
}

impl From<String> for Identifier {
    fn from(id: String) -> Self {
        Identifier::Id(id)
    }
}

impl From<&str> for Identifier {
    fn from(id: &str) -> Self {
        Identifier::Id(id.to_owned())
    }
}

impl PartialEq<str> for Identifier {
    fn eq(&self, other: &str) -> bool {
        self.as_id() == Some(other)
    }
}

impl PartialEq<&str> for Identifier {
    fn eq(&self, other: &&str) -> bool {
        self.as_id() == Some(*other)
    }
}

/// The identifiers a relation value names: one, a list of them, or none (null, a search query).
pub fn related_ids(value: &Value) -> Vec<&str> {
    match value {
        Value::String(id) => vec![id.as_str()],
        Value::Array(ids) => ids.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether a value is a search query Port resolves (`{combinator, rules}`) rather than data.
pub fn is_search_query(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| o.contains_key("combinator") && o.contains_key("rules"))
}

impl Entity {
    /// Whether Port resolves part of this entity on write (a search-query identifier, team or
    /// relation): what Port then holds cannot be told before it answers.
    pub fn has_search_query(&self) -> bool {
        matches!(self.identifier, Identifier::Search(_))
            || self.team.as_ref().is_some_and(is_search_query)
            || self.relations.values().any(is_search_query)
    }
}
