//! Creating, replacing and merging one entity: the part of a write shared by the single and
//! bulk routes and by seeding.

use axum::http::StatusCode;
use serde_json::Map;

use crate::api_error::ApiError;
use crate::auth::Actor;
use crate::entity_validation::{EntityInput, check_properties, check_relations};
use crate::search_queries;
use crate::store::{EntityMeta, Store, StoredEntity, relation_targets};

/// The query flags of a write.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteFlags<'a> {
    pub upsert: bool,
    pub merge: bool,
    pub create_missing_related_entities: bool,
    pub run_id: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct Written {
    pub created: bool,
    pub entity: StoredEntity,
}

/// Applies one entity write to the store, or explains (as Port would) why it is refused.
/// Nothing is changed when it is refused.
pub fn write_entity(
    store: &mut Store,
    blueprint: &str,
    mut input: EntityInput,
    flags: WriteFlags<'_>,
    actor: &Actor,
    now: &str,
) -> Result<Written, ApiError> {
    let bp = store
        .blueprint(blueprint)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Blueprint \"{blueprint}\" was not found")))?;
    search_queries::resolve(store, blueprint, &mut input)?;
    let identifier = match input.identifier.clone() {
        Some(id) => id,
        None => store.generate_identifier(),
    };
    let existing = store.entity(blueprint, &identifier).cloned();
    if existing.is_some() && !flags.upsert {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "An entity with identifier \"{identifier}\" already exists in blueprint \"{blueprint}\""
            ),
        ));
    }
    let entity = compose(
        &identifier,
        blueprint,
        input,
        existing.as_ref(),
        flags.merge,
        actor,
        now,
        flags.run_id,
    );
    let mismatch = |why: String| {
        ApiError::entity_mismatch(format!(
            "Entity \"{identifier}\" does not match blueprint \"{blueprint}\": {why}"
        ))
    };
    check_properties(&bp, &entity.properties).map_err(mismatch)?;
    check_relations(&bp, &entity.relations).map_err(mismatch)?;

    let missing = missing_targets(store, &bp.relations(), &entity);
    if let Some((target_bp, target_id)) = missing.first()
        && !flags.create_missing_related_entities
    {
        return Err(ApiError::not_found(format!(
            "Related entity \"{target_id}\" of blueprint \"{target_bp}\" was not found (entity \"{identifier}\")"
        )));
    }
    for (target_bp, target_id) in missing {
        let bare = StoredEntity {
            identifier: target_id,
            blueprint: target_bp,
            title: None,
            icon: None,
            team: Vec::new(),
            properties: Map::new(),
            relations: Map::new(),
            meta: meta(None, actor, now, flags.run_id),
        };
        store.put_entity(bare);
    }
    store.put_entity(entity.clone());
    Ok(Written {
        created: existing.is_none(),
        entity,
    })
}

fn meta(
    existing: Option<&StoredEntity>,
    actor: &Actor,
    now: &str,
    run_id: Option<&str>,
) -> EntityMeta {
    EntityMeta {
        datasource: actor.user_agent.clone(),
        created_at: existing.map_or(now.to_string(), |e| e.meta.created_at.clone()),
        updated_at: now.to_string(),
        created_by: existing.map_or(actor.client_id.clone(), |e| e.meta.created_by.clone()),
        updated_by: actor.client_id.clone(),
        run_id: run_id
            .map(String::from)
            .or_else(|| existing.and_then(|e| e.meta.run_id.clone())),
    }
}

/// The entity after the write: `merge` keeps what the request does not mention (properties and
/// relations key by key); otherwise the request replaces the entity entirely.
#[allow(clippy::too_many_arguments)]
fn compose(
    identifier: &str,
    blueprint: &str,
    input: EntityInput,
    existing: Option<&StoredEntity>,
    merge: bool,
    actor: &Actor,
    now: &str,
    run_id: Option<&str>,
) -> StoredEntity {
    let meta = meta(existing, actor, now, run_id);
    match existing.filter(|_| merge) {
        Some(old) => {
            let mut properties = old.properties.clone();
            properties.extend(input.properties.unwrap_or_default());
            let mut relations = old.relations.clone();
            relations.extend(input.relations.unwrap_or_default());
            StoredEntity {
                identifier: identifier.to_string(),
                blueprint: blueprint.to_string(),
                title: input.title.or_else(|| old.title.clone()),
                icon: input.icon.or_else(|| old.icon.clone()),
                team: input.team.unwrap_or_else(|| old.team.clone()),
                properties,
                relations,
                meta,
            }
        }
        None => StoredEntity {
            identifier: identifier.to_string(),
            blueprint: blueprint.to_string(),
            title: input.title,
            icon: input.icon,
            team: input.team.unwrap_or_default(),
            properties: input.properties.unwrap_or_default(),
            relations: input.relations.unwrap_or_default(),
            meta,
        },
    }
}

/// Related entities the entity points at that do not exist, as (blueprint, identifier).
fn missing_targets(
    store: &Store,
    defs: &std::collections::BTreeMap<String, crate::store::RelationDef>,
    entity: &StoredEntity,
) -> Vec<(String, String)> {
    let mut missing: Vec<(String, String)> = Vec::new();
    for (name, value) in &entity.relations {
        let Some(def) = defs.get(name) else { continue };
        for id in relation_targets(Some(value)) {
            // A self-relation to the entity being written is satisfied by the write itself.
            let is_self = def.target == entity.blueprint && id == entity.identifier;
            let key = (def.target.clone(), id.to_string());
            if !is_self && store.entity(&def.target, id).is_none() && !missing.contains(&key) {
                missing.push(key);
            }
        }
    }
    missing
}
