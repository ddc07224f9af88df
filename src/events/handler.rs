//! One resource brought up to date: read again from AWS with its account's credentials,
//! mapped with the resync's mapping, and written to Port only when Port differs (upsert) or
//! AWS says it is gone or the mapping no longer selects it (delete, of the entities this
//! integration wrote, as a resync deletes stale ones). An error (AccessDenied, throttling, Port refusing) writes
//! nothing more and is returned, so the event is left for redelivery.

use std::sync::Arc;

use serde_json::{Value, json};

use super::failure::Failure;
use super::{Ignored, LiveEvent, ResourceKey};
use crate::actions::catalog::CatalogFollower;
use crate::aws::reread::{self, Reread};
use crate::aws::{AwsSources, Kind};
use crate::entity::Entity;
use crate::mapping::Transformer;
use crate::port::UpsertOptions;
use crate::sync::fingerprint::{self, MappedKeys};

pub struct LiveHandler {
    pub sources: Arc<AwsSources>,
    /// The mapping and the Port client the actions follow the catalog with.
    pub catalog: CatalogFollower,
}

/// What handling one resource did, entities named `blueprint identifier`.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    Upserted(Vec<String>),
    /// Port already holds what AWS has: nothing written.
    Unchanged(Vec<String>),
    Deleted(Vec<String>),
    /// AWS says it is gone and Port holds no entity of it this integration wrote: nothing
    /// to write.
    AlreadyGone,
    /// The mapping no longer selects it (selector, regionPolicy): the entities this
    /// integration wrote for it were deleted, as the next resync would.
    Deselected(Vec<String>),
    /// The mapping selects no entity for it and Port holds none of ours: nothing written.
    NotSelected,
    /// AWS says it is gone, but nothing names it well enough to map; the next resync
    /// removes its entity.
    GoneUnnamed,
    Ignored(Ignored),
}

impl Handled {
    /// The metrics' action label.
    pub fn action(&self) -> &'static str {
        match self {
            Handled::Upserted(_) => "upsert",
            Handled::Unchanged(_) | Handled::AlreadyGone => "unchanged",
            Handled::Deleted(_) | Handled::Deselected(_) => "delete",
            Handled::NotSelected | Handled::GoneUnnamed | Handled::Ignored(_) => "ignored",
        }
    }
}

impl LiveHandler {
    /// Brings the resource of `key` up to date; `events` are the events coalesced for it
    /// (an ARN among them names a secret better than its name).
    pub async fn handle(
        &self,
        key: &ResourceKey,
        events: &[LiveEvent],
    ) -> Result<Handled, Failure> {
        let mapping = self.catalog.mapping();
        if mapping.resources_for(key.kind.as_str()).next().is_none() {
            return Ok(Handled::Ignored(Ignored::UnmappedKind(key.kind)));
        }
        // STS answered nothing: worth trying again (the identity is kept once known).
        let sts = |message: String| Failure {
            message,
            transient: true,
        };
        let read = match key.kind {
            Kind::Account => {
                if !self.sources.settings().wants_account(&key.id) {
                    return Ok(Handled::Ignored(Ignored::AccountOutOfScope(key.id.clone())));
                }
                let Some(reader) = self.sources.organization_reader().await.map_err(sts)? else {
                    return Ok(Handled::Ignored(Ignored::NoCatalogChange {
                        event_name: events.first().map(|e| e.action.clone()).unwrap_or_default(),
                        why: "accounts come from ACCOUNT_ROLE_ARNS, not from the organization"
                            .into(),
                    }));
                };
                reread::account(&reader, &key.id).await?
            }
            Kind::Secret | Kind::AcmCertificate => {
                let account = match &key.account {
                    Some(account) => account.clone(),
                    // Ocean's body may leave the account out: a single-account install.
                    None => {
                        self.sources
                            .caller_identity()
                            .await
                            .map_err(sts)?
                            .account_id
                    }
                };
                let Some(config) = self.sources.account_config(&account).await.map_err(sts)? else {
                    return Ok(Handled::Ignored(Ignored::AccountOutOfScope(account)));
                };
                let region = match key.region.as_deref().or(self
                    .sources
                    .regions()
                    .first()
                    .map(String::as_str))
                {
                    Some(region) => region.to_owned(),
                    None => return Err(Failure::lasting(format!("no region for {}", key.id))),
                };
                if key.kind == Kind::Secret {
                    reread::secret(&config, &region, &best_secret_id(key, events)).await?
                } else {
                    reread::certificate(&config, &region, &key.id).await?
                }
            }
        };
        match read {
            Reread::Present(item) => self.upsert(&item).await,
            Reread::Gone(item) => self.delete(&item).await,
            Reread::GoneUnnamed => Ok(Handled::GoneUnnamed),
        }
    }

    /// Writes the entities the mapping selects, and deletes those it no longer selects, as
    /// the next resync would (only the ones this integration owns).
    async fn upsert(&self, item: &Value) -> Result<Handled, Failure> {
        let mapping = self.catalog.mapping();
        let entities = self.map(item)?;
        let unselected: Vec<(String, String)> = Transformer::new(&mapping)
            .unselected_keys(kind_of(item), item)
            .into_iter()
            .filter(|(blueprint, id)| {
                !entities
                    .iter()
                    .any(|e| &e.blueprint == blueprint && e.identifier.as_id() == Some(id.as_str()))
            })
            .collect();
        let deselected = self.delete_owned(&unselected).await?;
        if entities.is_empty() {
            return Ok(match deselected.is_empty() {
                true => Handled::NotSelected,
                false => Handled::Deselected(deselected),
            });
        }
        for name in &deselected {
            tracing::info!(
                entity = name.as_str(),
                "live event: entity deleted, the mapping no longer selects it"
            );
        }
        let mut unchanged = Vec::new();
        let mut written = Vec::new();
        for entity in entities {
            if self.port_holds(&entity).await? {
                unchanged.push(name(&entity));
                continue;
            }
            let options = UpsertOptions {
                merge: mapping.config.enable_merge_entity,
                create_missing_related_entities: mapping.config.create_missing_related_entities,
                run_id: None,
            };
            let outcome = self
                .catalog
                .port
                .bulk_upsert(&entity.blueprint, std::slice::from_ref(&entity), &options)
                .await;
            if let Some(failed) = outcome.failed.first() {
                let message = format!(
                    "Port refused entity {} of {}: {} {}",
                    failed.identifier, entity.blueprint, failed.error, failed.message
                );
                return Err(Failure {
                    message,
                    transient: failed.is_transient(),
                });
            }
            written.push(name(&entity));
        }
        Ok(if written.is_empty() {
            Handled::Unchanged(unchanged)
        } else {
            Handled::Upserted(written)
        })
    }

    fn map(&self, item: &Value) -> Result<Vec<Entity>, Failure> {
        self.catalog
            .map(item)
            .map_err(|e| Failure::lasting(e.to_string()))
    }

    /// Whether Port holds the entity as mapped, compared as a resync compares (with merged
    /// writes, only the keys the mapping writes count).
    async fn port_holds(&self, entity: &Entity) -> Result<bool, Failure> {
        // What Port resolves a search query to is known only once it is written.
        let Some(digest) = fingerprint::of_entity(entity) else {
            return Ok(false);
        };
        let query = json!({
            "combinator": "and",
            "rules": [{"property": "$identifier", "operator": "=", "value": entity.identifier}]
        });
        let found = self
            .catalog
            .port
            .search_entities(&entity.blueprint, &query, &[])
            .await
            .map_err(|e| Failure::port(format!("reading entity {} from Port", name(entity)), &e))?;
        let Some(current) = found.first() else {
            return Ok(false);
        };
        let merged = self
            .catalog
            .mapping()
            .config
            .enable_merge_entity
            .then(|| MappedKeys {
                properties: entity.properties.keys().cloned().collect(),
                relations: entity.relations.keys().cloned().collect(),
            });
        Ok(fingerprint::of_port_entity(current, merged.as_ref()) == digest)
    }

    /// AWS says the resource is gone: every entity the mapping names for it (selected or
    /// not, since a resync produces none of them) goes, if this integration owns it.
    async fn delete(&self, item: &Value) -> Result<Handled, Failure> {
        let mapping = self.catalog.mapping();
        let mut keys: Vec<(String, String)> = Vec::new();
        for entity in self.map(item)? {
            // A search-query identifier names no entity of ours: the entity it updated was
            // made elsewhere, so it is left alone (Ocean skips these deletes too).
            match entity.identifier.as_id() {
                Some(id) => keys.push((entity.blueprint, id.to_owned())),
                None => tracing::info!(blueprint = %entity.blueprint, query = %entity.identifier,
                    "not deleting an entity written through a search-query identifier"),
            }
        }
        keys.extend(Transformer::new(&mapping).unselected_keys(kind_of(item), item));
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return Ok(Handled::NotSelected);
        }
        let deleted = self.delete_owned(&keys).await?;
        Ok(match deleted.is_empty() {
            true => Handled::AlreadyGone,
            false => Handled::Deleted(deleted),
        })
    }

    /// Deletes each (blueprint, identifier) Port holds as written by this integration, as a
    /// resync deletes stale entities (never one another writer made); the names deleted.
    async fn delete_owned(&self, keys: &[(String, String)]) -> Result<Vec<String>, Failure> {
        let mut deleted = Vec::new();
        for (blueprint, identifier) in keys {
            let entity = format!("{blueprint} {identifier}");
            let owned = self
                .catalog
                .port
                .owned_entity(blueprint, identifier)
                .await
                .map_err(|e| Failure::port(format!("reading entity {entity} from Port"), &e))?;
            if !owned {
                continue;
            }
            self.catalog
                .port
                .delete_entity(
                    blueprint,
                    identifier,
                    self.catalog.mapping().config.delete_dependent_entities,
                    None,
                )
                .await
                .map_err(|e| Failure::port(format!("Port did not delete entity {entity}"), &e))?;
            deleted.push(entity);
        }
        Ok(deleted)
    }
}

fn kind_of(item: &Value) -> &str {
    item["__Kind"].as_str().unwrap_or_default()
}

/// An ARN of the secret in the key's region if an event gave one (it still names a secret
/// deleted for good), else its name.
fn best_secret_id(key: &ResourceKey, events: &[LiveEvent]) -> String {
    events
        .iter()
        .map(|e| e.resource.as_str())
        .find(|id| id.starts_with("arn:") && super::region_of_arn(id) == key.region.as_deref())
        .unwrap_or(&key.id)
        .to_owned()
}

fn name(entity: &Entity) -> String {
    format!("{} {}", entity.blueprint, entity.identifier)
}
