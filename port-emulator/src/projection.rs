//! `include` / `exclude`: which parts of an entity a read returns.

use serde_json::{Map, Value};

use crate::store::{Blueprint, StoredEntity};

#[derive(Debug, PartialEq)]
enum Selector {
    /// identifier, title, icon, team, properties or relations as a whole.
    Field(String),
    Property(String),
    Relation(String),
    /// Meta-properties such as `$createdAt` or `$datasource` are accepted by Port but are not in
    /// the documented entity shape, so they select nothing here.
    Nothing,
}

fn parse(selector: &str, bp: &Blueprint) -> Selector {
    let bare = selector.strip_prefix('$').unwrap_or(selector);
    match bare {
        "identifier" | "title" | "icon" | "team" | "properties" | "relations" => {
            return Selector::Field(bare.to_string());
        }
        _ => {}
    }
    if let Some(p) = selector.strip_prefix("properties.") {
        return Selector::Property(p.to_string());
    }
    if let Some(r) = selector.strip_prefix("relations.") {
        return Selector::Relation(r.to_string());
    }
    if selector.starts_with('$') {
        Selector::Nothing
    } else if bp.has_property(selector) {
        Selector::Property(selector.to_string())
    } else if bp.relations().contains_key(selector) {
        Selector::Relation(selector.to_string())
    } else {
        Selector::Nothing
    }
}

fn sub_map<'a>(out: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = out
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

/// The entity's API shape reduced by `include` (when not empty) and then `exclude`.
pub fn project(
    entity: &StoredEntity,
    bp: &Blueprint,
    include: &[String],
    exclude: &[String],
) -> Value {
    let Value::Object(full) = entity.api_json() else {
        unreachable!("api_json is an object")
    };
    let mut out = if include.is_empty() {
        full.clone()
    } else {
        let mut out = Map::new();
        for selector in include {
            match parse(selector, bp) {
                Selector::Field(f) => {
                    if let Some(v) = full.get(&f) {
                        out.insert(f, v.clone());
                    }
                }
                Selector::Property(p) => {
                    if let Some(v) = entity.properties.get(&p) {
                        sub_map(&mut out, "properties").insert(p, v.clone());
                    }
                }
                Selector::Relation(r) => {
                    if let Some(v) = entity.relations.get(&r) {
                        sub_map(&mut out, "relations").insert(r, v.clone());
                    }
                }
                Selector::Nothing => {}
            }
        }
        out
    };
    for selector in exclude {
        match parse(selector, bp) {
            Selector::Field(f) => {
                out.remove(&f);
            }
            Selector::Property(p) => {
                if let Some(Value::Object(m)) = out.get_mut("properties") {
                    m.remove(&p);
                }
            }
            Selector::Relation(r) => {
                if let Some(Value::Object(m)) = out.get_mut("relations") {
                    m.remove(&r);
                }
            }
            Selector::Nothing => {}
        }
    }
    Value::Object(out)
}
