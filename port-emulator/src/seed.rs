//! Loading blueprints and entities before the emulator serves: from values, a directory of JSON
//! files, or a JSON file of entities.

use std::path::Path;

use serde_json::{Map, Value};

use crate::auth::Actor;
use crate::blueprint_schema::{BlueprintRoute, check_blueprint_body, missing_relation_targets};
use crate::blueprints::insert_blueprint;
use crate::entity_validation::parse_entity_input;
use crate::entity_write::{WriteFlags, write_entity};
use crate::store::Store;
use crate::timefmt::now_rfc3339;

/// The `$datasource` of entities seeded without one.
pub const DEFAULT_SEED_DATASOURCE: &str = "port-emulator/seed";
const SEED_ACTOR: &str = "port-emulator-seed";

/// Adds blueprints in any order: all are created bare first, then their relations are added,
/// so a relation may point at a blueprint later in the list (as with Port's API, relation
/// targets must exist in the end).
pub fn add_blueprints(store: &mut Store, blueprints: Vec<Value>) -> Result<(), String> {
    let mut pending_relations = Vec::new();
    for bp in blueprints {
        let Value::Object(mut body) = bp else {
            return Err(format!("a blueprint must be a JSON object, got {bp}"));
        };
        check_blueprint_body(&body, BlueprintRoute::Create).map_err(|e| e.message)?;
        let relations = body.remove("relations");
        let identifier = body["identifier"].as_str().unwrap_or_default().to_string();
        insert_blueprint(store, body, SEED_ACTOR)
            .map_err(|e| format!("blueprint {identifier}: {}", e.message))?;
        if let Some(relations) = relations {
            pending_relations.push((identifier, relations));
        }
    }
    for (identifier, relations) in pending_relations {
        let mut probe = Map::new();
        probe.insert("identifier".into(), Value::String(identifier.clone()));
        probe.insert("relations".into(), relations.clone());
        let missing = missing_relation_targets(&probe, |t| store.blueprint(t).is_some());
        if let Some(target) = missing.first() {
            return Err(format!(
                "blueprint {identifier}: relation target blueprint \"{target}\" does not exist"
            ));
        }
        if let Some(bp) = store.blueprints.get_mut(&identifier) {
            bp.json.insert("relations".into(), relations);
        }
    }
    Ok(())
}

/// Every `*.json` file of `dir`, in name order; each holds one blueprint or an array of them.
pub fn read_blueprint_dir(dir: &Path) -> Result<Vec<Value>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut blueprints = Vec::new();
    for file in files {
        match read_json(&file)? {
            Value::Array(items) => blueprints.extend(items),
            single => blueprints.push(single),
        }
    }
    Ok(blueprints)
}

pub fn read_json(file: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not valid JSON: {e}", file.display()))
}

/// Writes one entity as if `datasource` had sent it with `upsert=true` and
/// `create_missing_related_entities=true`, validated against its blueprint like any write.
pub fn seed_entity(
    store: &mut Store,
    blueprint: &str,
    entity: &Value,
    datasource: &str,
) -> Result<(), String> {
    let input = parse_entity_input(entity, "entity")?;
    let actor = Actor {
        client_id: SEED_ACTOR.to_string(),
        user_agent: datasource.to_string(),
    };
    let flags = WriteFlags {
        upsert: true,
        merge: false,
        create_missing_related_entities: true,
        run_id: None,
    };
    write_entity(store, blueprint, input, flags, &actor, &now_rfc3339())
        .map(|_| ())
        .map_err(|e| e.message)
}
