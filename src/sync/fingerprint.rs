//! A compact digest of an entity's content, to tell changed entities from unchanged ones
//! without keeping what Port holds in memory.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Map, Value};

use crate::entity::Entity;

/// A 128-bit key of an identifier: what the diff and deletion hold instead of the identifier.
/// Two SipHash passes with different leading bytes; at a million entities the chance that two
/// identifiers share a key is about 10^-27.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityKey(u128);

impl EntityKey {
    pub fn from_parts(high: u64, low: u64) -> Self {
        EntityKey((u128::from(high) << 64) | u128::from(low))
    }

    pub fn parts(self) -> (u64, u64) {
        ((self.0 >> 64) as u64, self.0 as u64)
    }
}

pub fn key_of(identifier: &str) -> EntityKey {
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        h.write_u8(salt);
        h.write(identifier.as_bytes());
        h.finish()
    };
    EntityKey::from_parts(half(1), half(2))
}

/// The fields Port compares on: title, icon, team, properties, relations. Missing and null
/// are the same; a lone team equals a one-team list; timestamps equal the same instant however
/// they are spelled; object keys are unordered; 1 and 1.0 are the same number.
///
/// `None` for an entity with a search query (identifier, team or relation): Port resolves it
/// when the entity is written and keeps only the result, so what Port holds cannot be compared
/// with it; such an entity is always written (as Ocean writes it).
pub fn of_entity(entity: &Entity) -> Option<u64> {
    if entity.has_search_query() {
        return None;
    }
    let mut h = DefaultHasher::new();
    hash_text(&mut h, entity.title.as_deref());
    hash_text(&mut h, entity.icon.as_deref());
    hash_team(&mut h, entity.team.as_ref());
    hash_object(&mut h, &entity.properties);
    hash_object(&mut h, &entity.relations);
    Some(h.finish())
}

/// The properties and relations a mapping writes to one blueprint.
#[derive(Debug, Clone, Default)]
pub struct MappedKeys {
    pub properties: HashSet<String>,
    pub relations: HashSet<String>,
}

/// The same digest for an entity as Port returns it from a search. With `merged` keys (the
/// writes merge), fields outside them are left alone by our writes, so they are not compared.
pub fn of_port_entity(entity: &Value, merged: Option<&MappedKeys>) -> u64 {
    let text = |key: &str| entity.get(key).and_then(Value::as_str);
    let object = |key: &str, keep: Option<&HashSet<String>>| {
        let map = entity.get(key).and_then(Value::as_object);
        let kept = map
            .into_iter()
            .flatten()
            .filter(|(k, _)| keep.is_none_or(|keep| keep.contains(*k)));
        kept.map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Map<String, Value>>()
    };
    let mut h = DefaultHasher::new();
    hash_text(&mut h, text("title"));
    hash_text(&mut h, text("icon"));
    hash_team(&mut h, entity.get("team"));
    hash_object(&mut h, &object("properties", merged.map(|m| &m.properties)));
    hash_object(&mut h, &object("relations", merged.map(|m| &m.relations)));
    h.finish()
}

/// Whether two field values are the same to Port, by the rules of [`of_entity`] (missing and
/// null alike): how `plan` names the fields that make an entity differ.
pub fn same_value(a: Option<&Value>, b: Option<&Value>) -> bool {
    let digest = |v: Option<&Value>| {
        let mut h = DefaultHasher::new();
        match v.filter(|v| !v.is_null()) {
            Some(v) => hash_value(&mut h, v),
            None => 0u8.hash(&mut h),
        }
        h.finish()
    };
    digest(a) == digest(b)
}

/// Whether two team fields name the same teams (a lone team equals a one-team list).
pub fn same_team(a: Option<&Value>, b: Option<&Value>) -> bool {
    let digest = |v: Option<&Value>| {
        let mut h = DefaultHasher::new();
        hash_team(&mut h, v);
        h.finish()
    };
    digest(a) == digest(b)
}

fn hash_text(h: &mut DefaultHasher, text: Option<&str>) {
    text.filter(|t| !t.is_empty()).hash(h);
}

fn hash_team(h: &mut DefaultHasher, team: Option<&Value>) {
    let mut names: Vec<&str> = match team {
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    names.sort_unstable();
    names.hash(h);
}

fn hash_object(h: &mut DefaultHasher, map: &Map<String, Value>) {
    let mut keys: Vec<&String> = map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k)
        .collect();
    keys.sort_unstable();
    keys.len().hash(h);
    for key in keys {
        key.hash(h);
        hash_value(h, &map[key]);
    }
}

fn hash_value(h: &mut DefaultHasher, value: &Value) {
    match value {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => (2u8, n.as_f64().unwrap_or(f64::NAN).to_bits()).hash(h),
        Value::String(s) => match s.parse::<jiff::Timestamp>() {
            Ok(instant) if looks_like_date_time(s) => (3u8, instant.as_nanosecond()).hash(h),
            _ => (4u8, s).hash(h),
        },
        Value::Array(items) => {
            (5u8, items.len()).hash(h);
            items.iter().for_each(|v| hash_value(h, v));
        }
        Value::Object(map) => {
            6u8.hash(h);
            hash_object(h, map);
        }
    }
}

/// Cheap pre-check so ordinary strings skip the timestamp parser.
fn looks_like_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && (b[10] == b'T' || b[10] == b't')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(v: Value) -> Entity {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn port_spelling_of_the_same_content_matches() {
        let ours = entity(
            json!({"identifier": "a", "blueprint": "b", "title": "T", "team": "core",
            "properties": {"at": "2024-01-02T03:04:05Z", "n": 1, "gone": null, "tags": {"x": "1", "y": "2"}},
            "relations": {"account": "123"}}),
        );
        let port = json!({"identifier": "a", "title": "T", "team": ["core"], "icon": null,
            "properties": {"tags": {"y": "2", "x": "1"}, "n": 1.0, "at": "2024-01-02T03:04:05.000Z"},
            "relations": {"account": "123"}});
        assert_eq!(of_entity(&ours), Some(of_port_entity(&port, None)));
    }

    #[test]
    fn merged_writes_ignore_fields_the_mapping_does_not_write() {
        let ours = entity(
            json!({"identifier": "a", "blueprint": "b", "properties": {"status": "ISSUED"}}),
        );
        let port = json!({"identifier": "a", "properties": {"status": "ISSUED", "owner": "set in the UI"},
            "relations": {"other": "x"}});
        let keys = MappedKeys {
            properties: ["status".to_owned()].into(),
            relations: HashSet::new(),
        };
        assert_eq!(of_entity(&ours), Some(of_port_entity(&port, Some(&keys))));
        assert_ne!(of_entity(&ours), Some(of_port_entity(&port, None)));
    }

    #[test]
    fn any_change_is_seen() {
        let base = json!({"identifier": "a", "blueprint": "b", "title": "T",
            "properties": {"status": "ISSUED", "at": "2024-01-02T03:04:05Z"}, "relations": {"account": "1"}});
        let digest = of_entity(&entity(base.clone())).unwrap();
        let changes = [
            ("/title", json!("U")),
            ("/properties/status", json!("EXPIRED")),
            ("/properties/at", json!("2024-01-02T03:04:06Z")),
            ("/properties/new", json!(false)),
            ("/relations/account", json!("2")),
        ];
        for (path, value) in changes {
            let mut changed = base.clone();
            match changed.pointer_mut(path) {
                Some(slot) => *slot = value,
                None => {
                    let (parent, key) = path.rsplit_once('/').unwrap();
                    changed.pointer_mut(parent).unwrap()[key] = value;
                }
            }
            assert_ne!(of_entity(&entity(changed)), Some(digest), "{path}");
        }
    }

    #[test]
    fn an_entity_with_a_search_query_has_no_digest_to_compare() {
        let query = json!({"combinator": "and", "rules": [
            {"property": "email", "operator": "=", "value": "a@x.io"}]});
        let plain = json!({"identifier": "a", "blueprint": "b", "relations": {"account": "1"}});
        assert!(of_entity(&entity(plain.clone())).is_some());
        for (path, value) in [
            ("/identifier", query.clone()),
            ("/relations/account", query.clone()),
            ("/team", query.clone()),
        ] {
            let mut with_query = plain.clone();
            match with_query.pointer_mut(path) {
                Some(slot) => *slot = value,
                None => with_query["team"] = value,
            }
            assert_eq!(of_entity(&entity(with_query)), None, "{path}");
        }
        // An object that is not a query (no combinator and rules) is data, digested as such.
        let mut data = plain;
        data["relations"]["account"] = json!({"rules": []});
        assert!(of_entity(&entity(data)).is_some());
    }
}
