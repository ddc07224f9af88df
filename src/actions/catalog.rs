//! The catalog follows an action at once: the resource the action changed is mapped with the
//! same mapping as a resync and upserted (or deleted) in Port, tied to the run.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::outcome::CatalogChange;
use crate::entity::Entity;
use crate::mapping::{CurrentMapping, ItemFailure, Mapping, Outcome, Transformer};
use crate::port::{FailedEntity, PortClient, UpsertOptions};

pub struct CatalogFollower {
    /// The mapping resyncs use now (MAPPING_SOURCE), read at each run.
    pub current: Arc<CurrentMapping>,
    pub port: PortClient,
}

/// (blueprint, identifier) of an entity the catalog update touched.
pub type EntityKey = (String, String);

/// What the catalog update did.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogUpdate {
    /// The action changed nothing the catalog holds.
    NothingToWrite,
    /// The mapping selects no entity for the changed resource.
    NotSelected,
    Upserted(Vec<EntityKey>),
    Removed(Vec<EntityKey>),
}

/// Why the catalog was not updated (the next resync will).
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogError {
    /// The changed resource does not map: the mapping file and the item failure.
    Mapping {
        file: std::path::PathBuf,
        failure: Box<ItemFailure>,
    },
    /// Port refused to write the entity.
    WriteRefused {
        blueprint: String,
        refused: FailedEntity,
    },
    /// Port did not delete the entity.
    DeleteRefused {
        blueprint: String,
        refused: FailedEntity,
    },
}

impl std::fmt::Display for CatalogUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogUpdate::NothingToWrite => f.write_str("nothing to write to the catalog"),
            CatalogUpdate::NotSelected => {
                f.write_str("the mapping selects no entity for it; catalog unchanged")
            }
            CatalogUpdate::Upserted(keys) => write!(f, "catalog updated: {}", names(keys)),
            CatalogUpdate::Removed(keys) => write!(f, "removed from the catalog: {}", names(keys)),
        }
    }
}

impl std::fmt::Display for CatalogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogError::Mapping { file, failure } => write!(f, "{}: {failure}", file.display()),
            CatalogError::WriteRefused { blueprint, refused } => write!(
                f,
                "Port refused entity {} of {blueprint}: {} {}",
                refused.identifier, refused.error, refused.message
            ),
            CatalogError::DeleteRefused { blueprint, refused } => write!(
                f,
                "Port did not delete entity {} of {blueprint}: {}: {}",
                refused.identifier, refused.error, refused.message
            ),
        }
    }
}

impl CatalogFollower {
    /// The mapping in use now.
    pub fn mapping(&self) -> Arc<Mapping> {
        self.current.get()
    }

    /// What was written, for the run's log; an error when the mapping or Port refused.
    pub async fn apply(
        &self,
        change: &CatalogChange,
        run_id: &str,
    ) -> Result<CatalogUpdate, CatalogError> {
        let mapping = self.mapping();
        match change {
            CatalogChange::Nothing => Ok(CatalogUpdate::NothingToWrite),
            CatalogChange::Upsert(item) => {
                let entities = map_with(&mapping, item)?;
                if entities.is_empty() {
                    return Ok(CatalogUpdate::NotSelected);
                }
                let mut by_blueprint: BTreeMap<&str, Vec<Entity>> = BTreeMap::new();
                for entity in &entities {
                    by_blueprint
                        .entry(&entity.blueprint)
                        .or_default()
                        .push(entity.clone());
                }
                let options = UpsertOptions {
                    merge: mapping.config.enable_merge_entity,
                    create_missing_related_entities: mapping.config.create_missing_related_entities,
                    run_id: Some(run_id.to_owned()),
                };
                for (blueprint, entities) in &by_blueprint {
                    let outcome = self.port.bulk_upsert(blueprint, entities, &options).await;
                    if let Some(failed) = outcome.failed.into_iter().next() {
                        return Err(CatalogError::WriteRefused {
                            blueprint: (*blueprint).to_owned(),
                            refused: failed,
                        });
                    }
                }
                Ok(CatalogUpdate::Upserted(keys(&entities)))
            }
            CatalogChange::Delete(item) => {
                let mut entities = map_with(&mapping, item)?;
                // A search-query identifier names an entity made elsewhere: never deleted.
                entities.retain(|e| e.identifier.as_id().is_some());
                for entity in &entities {
                    let identifier = entity.identifier.as_id().unwrap_or_default();
                    self.port
                        .delete_entity(
                            &entity.blueprint,
                            identifier,
                            mapping.config.delete_dependent_entities,
                            Some(run_id),
                        )
                        .await
                        .map_err(|e| CatalogError::DeleteRefused {
                            blueprint: entity.blueprint.clone(),
                            refused: FailedEntity::from_error(identifier, &e),
                        })?;
                }
                Ok(CatalogUpdate::Removed(keys(&entities)))
            }
        }
    }

    /// The entities the mapping makes of one raw item (also used by live events).
    pub fn map(&self, item: &Value) -> Result<Vec<Entity>, CatalogError> {
        map_with(&self.mapping(), item)
    }
}

fn map_with(mapping: &Mapping, item: &Value) -> Result<Vec<Entity>, CatalogError> {
    let kind = item["__Kind"].as_str().unwrap_or_default();
    let mut transformer = Transformer::new(mapping);
    let mut entities = Vec::new();
    let mut failures = Vec::new();
    transformer.map_json(kind, item, &mut |outcome| match outcome {
        Outcome::Entity(entity) => entities.push(entity),
        Outcome::Failed(failure) => failures.push(failure),
    });
    match failures.into_iter().next() {
        Some(failure) => Err(CatalogError::Mapping {
            file: mapping.file.clone(),
            failure: Box::new(failure),
        }),
        None => Ok(entities),
    }
}

fn keys(entities: &[Entity]) -> Vec<EntityKey> {
    entities
        .iter()
        .map(|e| (e.blueprint.clone(), e.identifier.to_string()))
        .collect()
}

fn names(keys: &[EntityKey]) -> String {
    keys.iter()
        .map(|(blueprint, identifier)| format!("{blueprint} {identifier}"))
        .collect::<Vec<_>>()
        .join(", ")
}
