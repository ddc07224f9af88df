//! The Port entity as this tool builds it and sends it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One Port entity: what a mapping produced for one raw item, and what the Port client writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub identifier: String,
    pub blueprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// A team name or a list of team names, as Port accepts both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Value>,
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub relations: Map<String, Value>,
}

impl Entity {
    /// About how many heap bytes the entity holds: what bounds the write queue.
    pub fn heap_bytes(&self) -> usize {
        let text = |t: &Option<String>| t.as_ref().map_or(0, String::len);
        self.identifier.len()
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
