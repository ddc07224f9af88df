//! The catalog follows an action at once: the resource the action changed is mapped with the
//! same mapping as a resync and upserted (or deleted) in Port, tied to the run.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::outcome::CatalogChange;
use crate::entity::Entity;
use crate::mapping::{Mapping, Outcome, Transformer};
use crate::port::{PortClient, UpsertOptions};

pub struct CatalogFollower {
    pub mapping: Arc<Mapping>,
    pub port: PortClient,
}

impl CatalogFollower {
    /// What was written, for the run's log; an error when the mapping or Port refused.
    pub async fn apply(&self, change: &CatalogChange, run_id: &str) -> Result<String, String> {
        match change {
            CatalogChange::Nothing => Ok("nothing to write to the catalog".into()),
            CatalogChange::Upsert(item) => {
                let entities = self.map(item)?;
                if entities.is_empty() {
                    return Ok("the mapping selects no entity for it; catalog unchanged".into());
                }
                let mut by_blueprint: BTreeMap<&str, Vec<Entity>> = BTreeMap::new();
                for entity in &entities {
                    by_blueprint
                        .entry(&entity.blueprint)
                        .or_default()
                        .push(entity.clone());
                }
                let options = UpsertOptions {
                    merge: self.mapping.config.enable_merge_entity,
                    create_missing_related_entities: self
                        .mapping
                        .config
                        .create_missing_related_entities,
                    run_id: Some(run_id.to_owned()),
                };
                for (blueprint, entities) in &by_blueprint {
                    let outcome = self.port.bulk_upsert(blueprint, entities, &options).await;
                    if let Some(failed) = outcome.failed.first() {
                        return Err(format!(
                            "Port refused entity {} of {blueprint}: {} {}",
                            failed.identifier, failed.error, failed.message
                        ));
                    }
                }
                Ok(format!("catalog updated: {}", names(&entities)))
            }
            CatalogChange::Delete(item) => {
                let entities = self.map(item)?;
                for entity in &entities {
                    self.port
                        .delete_entity(
                            &entity.blueprint,
                            &entity.identifier,
                            self.mapping.config.delete_dependent_entities,
                            Some(run_id),
                        )
                        .await
                        .map_err(|e| {
                            format!(
                                "Port did not delete entity {} of {}: {e}",
                                entity.identifier, entity.blueprint
                            )
                        })?;
                }
                Ok(format!("removed from the catalog: {}", names(&entities)))
            }
        }
    }

    /// The entities the mapping makes of one raw item (also used by live events).
    pub fn map(&self, item: &Value) -> Result<Vec<Entity>, String> {
        let kind = item["__Kind"].as_str().unwrap_or_default();
        let mut transformer = Transformer::new(&self.mapping);
        let mut entities = Vec::new();
        let mut failures = Vec::new();
        transformer.map_json(kind, item, &mut |outcome| match outcome {
            Outcome::Entity(entity) => entities.push(entity),
            Outcome::Failed(failure) => failures.push(failure.to_string()),
        });
        match failures.first() {
            Some(failure) => Err(format!("{}: {failure}", self.mapping.file.display())),
            None => Ok(entities),
        }
    }
}

fn names(entities: &[Entity]) -> String {
    entities
        .iter()
        .map(|e| format!("{} {}", e.blueprint, e.identifier))
        .collect::<Vec<_>>()
        .join(", ")
}
