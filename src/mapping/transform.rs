//! Turning raw items into entities with the compiled mapping, with Ocean's semantics.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use super::compiled::{Field, Mapped, Mapping, Resource};
use super::jq::{Globals, Item};
use super::search_query::SearchQuery;
use crate::entity::{Entity, Identifier};

/// What happened to the items of one kind.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct KindStats {
    /// Raw items handed to the mapping.
    pub items: u64,
    /// Entities produced (an item may yield several through several resources or itemsToParse).
    pub entities: u64,
    /// Items a selector dropped.
    pub filtered: u64,
    /// Items skipped because identifier or blueprint mapped to null or to "".
    pub skipped: u64,
    /// Items a resource could not map (selector, itemsToParse, identifier or blueprint error).
    pub failed: u64,
    /// Field values written as null because their expression failed on the item (the entity
    /// was still written); see [`FieldError`].
    pub field_errors: u64,
}

/// A field (other than identifier and blueprint) whose expression failed at run time on some
/// items. As Ocean does, the field is written as null and the entity is still written; the
/// field is reported once per resync, with the first item it failed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub resource: String,
    pub field: String,
    pub expression: String,
    /// The error on the first item.
    pub message: String,
    /// The identifier of the first item's entity.
    pub example: String,
    /// How many items it failed on.
    pub items: u64,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, field `{}`, expression `{}`: {} (on {} item(s), e.g. entity {}; written as null)",
            self.resource, self.field, self.expression, self.message, self.items, self.example
        )
    }
}

/// One item a resource could not map, with everything needed to find the fault.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemFailure {
    pub resource: String,
    pub field: String,
    pub expression: String,
    pub message: String,
    /// The entity identifier, when it could be computed before the failure.
    pub identifier: Option<String>,
}

impl fmt::Display for ItemFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, field `{}`, expression `{}`: {}",
            self.resource, self.field, self.expression, self.message
        )?;
        if let Some(id) = &self.identifier {
            write!(f, " (entity {id})")?;
        }
        Ok(())
    }
}

/// The result of mapping one item through one resource.
#[derive(Debug)]
pub enum Outcome {
    Entity(Entity),
    Failed(ItemFailure),
}

/// Maps items one at a time and keeps the counts and warnings of a whole resync.
pub struct Transformer<'m> {
    mapping: &'m Mapping,
    globals: Globals,
    stats: BTreeMap<String, KindStats>,
    /// (resource index, field) pairs already reported as yielding null.
    nulls_reported: HashSet<(usize, String)>,
    field_errors: Vec<FieldError>,
    /// (resource index, field) → its entry in `field_errors`.
    field_error_at: HashMap<(usize, String), usize>,
}

impl<'m> Transformer<'m> {
    pub fn new(mapping: &'m Mapping) -> Self {
        Self {
            mapping,
            globals: mapping.globals.clone(),
            stats: BTreeMap::new(),
            nulls_reported: HashSet::new(),
            field_errors: Vec::new(),
            field_error_at: HashMap::new(),
        }
    }

    /// The fields whose expression failed on some item and were written as null, in the order
    /// they first failed.
    pub fn field_errors(&self) -> &[FieldError] {
        &self.field_errors
    }

    pub fn stats(&self) -> &BTreeMap<String, KindStats> {
        &self.stats
    }

    pub fn into_stats(self) -> BTreeMap<String, KindStats> {
        self.stats
    }

    /// The fields that mapped to null at least once, as `resources[i] (kind) field`, sorted.
    pub fn null_fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self
            .nulls_reported
            .iter()
            .map(|(index, field)| format!("{} {field}", self.mapping.resources[*index].label()))
            .collect();
        fields.sort();
        fields
    }

    /// Applies every resource of `kind` to one raw item.
    pub fn map_json(&mut self, kind: &str, item: &Value, on: &mut impl FnMut(Outcome)) {
        match self.stats.get_mut(kind) {
            Some(stats) => stats.items += 1,
            None => self.stats.entry(kind.to_owned()).or_default().items += 1,
        }
        // The kind is fetched in every region some resource allows; each resource maps only
        // the items of the regions its own `selector.regionPolicy` allows.
        let region = item.get("__Region").and_then(Value::as_str);
        let item = Item::json(item);
        let mapping = self.mapping;
        for resource in mapping.resources_for(kind) {
            if let (Some(policy), Some(region)) = (&resource.region_policy, region)
                && !policy.allows(region)
            {
                self.kind_stats(resource).filtered += 1;
                continue;
            }
            match &resource.items_to_parse {
                None => self.map_one(resource, &item, on),
                Some(items) => match items.expand(item.as_val(), &self.globals) {
                    Ok(inputs) => {
                        for input in inputs {
                            self.map_one(resource, &Item::val(input), on);
                        }
                    }
                    Err(error) => {
                        let failure = ItemFailure {
                            resource: resource.label(),
                            field: "port.itemsToParse".to_owned(),
                            expression: items.expr.source().to_owned(),
                            message: error.0,
                            identifier: None,
                        };
                        self.fail(resource, failure, on)
                    }
                },
            }
        }
    }

    /// The entities (blueprint, identifier) the resources of `kind` would make of `item` but
    /// do not, because their selector or `regionPolicy` leaves it out: what a resync would
    /// find stale in Port. A resource whose selector, identifier or blueprint fails on the
    /// item names nothing (a doubt never names an entity to delete).
    pub fn unselected_keys(&self, kind: &str, item: &Value) -> Vec<(String, String)> {
        let region = item.get("__Region").and_then(Value::as_str);
        let item = Item::json(item);
        let mut keys = Vec::new();
        for resource in self.mapping.resources_for(kind) {
            let region_excluded = matches!(
                (&resource.region_policy, region),
                (Some(policy), Some(region)) if !policy.allows(region)
            );
            let inputs = match &resource.items_to_parse {
                None => vec![item.as_val().clone()],
                Some(items) => match items.expand(item.as_val(), &self.globals) {
                    Ok(inputs) => inputs,
                    Err(_) => continue,
                },
            };
            for input in inputs {
                let input = Item::val(input);
                let unselected =
                    region_excluded || matches!(self.select(resource, &input), Ok(false));
                if !unselected {
                    continue;
                }
                let eval = FieldEval {
                    resource,
                    input: &input,
                    globals: &self.globals,
                    identifier: None,
                    errors: Vec::new(),
                };
                let named = |field| eval.text(field).ok().flatten().filter(|s| !s.is_empty());
                // A search-query identifier names no entity: nothing to delete through it.
                let identifier = match &resource.identifier {
                    super::compiled::Mapped::Expr(field) => named(field),
                    super::compiled::Mapped::Search(_) => None,
                };
                if let (Some(identifier), Some(blueprint)) =
                    (identifier, named(&resource.blueprint))
                {
                    keys.push((blueprint, identifier));
                }
            }
        }
        keys
    }

    fn map_one(&mut self, resource: &Resource, input: &Item<'_>, on: &mut impl FnMut(Outcome)) {
        match self.select(resource, input) {
            Ok(true) => {}
            Ok(false) => {
                self.kind_stats(resource).filtered += 1;
                return;
            }
            Err(failure) => return self.fail(resource, failure, on),
        }
        match self.build(resource, input) {
            Ok(Some(entity)) => {
                self.kind_stats(resource).entities += 1;
                on(Outcome::Entity(entity));
            }
            Ok(None) => self.kind_stats(resource).skipped += 1,
            Err(failure) => self.fail(resource, failure, on),
        }
    }

    fn fail(&mut self, resource: &Resource, failure: ItemFailure, on: &mut impl FnMut(Outcome)) {
        self.kind_stats(resource).failed += 1;
        on(Outcome::Failed(failure));
    }

    fn kind_stats(&mut self, resource: &Resource) -> &mut KindStats {
        // map_json has counted the item, so the kind's entry exists.
        self.stats.entry(resource.kind.clone()).or_default()
    }

    fn select(&self, resource: &Resource, input: &Item<'_>) -> Result<bool, ItemFailure> {
        let failure = |message: String| ItemFailure {
            resource: resource.label(),
            field: "selector.query".to_owned(),
            expression: resource.selector.source().to_owned(),
            message,
            identifier: None,
        };
        match resource.selector.first_json(input, &self.globals) {
            Ok(Some(Value::Bool(b))) => Ok(b),
            Ok(Some(other)) => Err(failure(format!(
                "the selector must yield a boolean, got {}",
                short_json(&other)
            ))),
            Ok(None) => Err(failure("the selector yielded no value".to_owned())),
            Err(e) => Err(failure(e.0)),
        }
    }

    /// Builds the entity, or `None` when identifier or blueprint is null or "" (Ocean skips
    /// those). Only an identifier or blueprint error fails the item (for a search-query
    /// identifier, an error in any of its values); any other field that fails is written as
    /// null and reported, a search query's values one by one.
    fn build(
        &mut self,
        resource: &Resource,
        input: &Item<'_>,
    ) -> Result<Option<Entity>, ItemFailure> {
        let mut eval = FieldEval {
            resource,
            input,
            globals: &self.globals,
            identifier: None,
            errors: Vec::new(),
        };
        let identifier = match &resource.identifier {
            Mapped::Expr(field) => match eval.text(field)?.filter(|s| !s.is_empty()) {
                Some(id) => Identifier::Id(id),
                None => return Ok(None),
            },
            Mapped::Search(query) => {
                Identifier::Search(Box::new(query.evaluate(&mut |leaf| eval.value(leaf))?))
            }
        };
        eval.identifier = Some(identifier.to_string());
        let Some(blueprint) = eval.text(&resource.blueprint)?.filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let title = eval.optional_text(resource.title.as_ref());
        let icon = eval.optional_text(resource.icon.as_ref());
        let mut nulls = Vec::new();
        let team = match &resource.team {
            Some(Mapped::Expr(field)) => Some(eval.lenient(field)).filter(|v| !v.is_null()),
            Some(Mapped::Search(query)) => Some(eval.query(query, &mut nulls)),
            None => None,
        };
        let mut properties = Map::with_capacity(resource.properties.len());
        for (key, field) in &resource.properties {
            let value = eval.lenient(field);
            if value.is_null() {
                nulls.push(&field.name);
            }
            properties.insert(key.clone(), value);
        }
        let mut relations = Map::with_capacity(resource.relations.len());
        for (key, mapped) in &resource.relations {
            let value = match mapped {
                Mapped::Expr(field) => {
                    let value = eval.lenient(field);
                    if value.is_null() {
                        nulls.push(&field.name);
                    }
                    value
                }
                Mapped::Search(query) => eval.query(query, &mut nulls),
            };
            relations.insert(key.clone(), value);
        }
        let errors = std::mem::take(&mut eval.errors);
        // A field that failed is reported as such, not also as one that mapped to null.
        nulls.retain(|name| !errors.iter().any(|(field, _)| &field.name == *name));
        for (field, message) in errors {
            self.report_field_error(resource, field, message, &identifier.to_string());
        }
        for name in nulls {
            self.report_null(resource, name);
        }
        Ok(Some(Entity {
            identifier,
            blueprint,
            title,
            icon,
            team,
            properties,
            relations,
        }))
    }

    fn report_field_error(
        &mut self,
        resource: &Resource,
        field: &Field,
        message: String,
        identifier: &str,
    ) {
        self.kind_stats(resource).field_errors += 1;
        let key = (resource.index, field.name.clone());
        if let Some(&at) = self.field_error_at.get(&key) {
            self.field_errors[at].items += 1;
            return;
        }
        let error = FieldError {
            resource: resource.label(),
            field: field.name.clone(),
            expression: field.expr.source().to_owned(),
            message,
            example: identifier.to_owned(),
            items: 1,
        };
        // Information as it happens; the warning is the end-of-run summary's (and `map`'s),
        // which would otherwise show the same field twice.
        tracing::info!(
            %error,
            "mapping field failed; the field is written as null (reported once per field and resync)"
        );
        self.field_error_at.insert(key, self.field_errors.len());
        self.field_errors.push(error);
    }

    fn report_null(&mut self, resource: &Resource, field: &str) {
        if self
            .nulls_reported
            .insert((resource.index, field.to_owned()))
        {
            // Optional AWS fields are often absent, so this is information, not a warning; the
            // end-of-run summary lists these fields too.
            tracing::info!(
                resource = %resource.label(),
                field,
                "mapping yielded null; the value is kept as null (reported once per field and resync)"
            );
        }
    }
}

/// Evaluates the fields of one entity, turning jq errors into item failures.
struct FieldEval<'r, 'a> {
    resource: &'r Resource,
    input: &'a Item<'a>,
    globals: &'a Globals,
    identifier: Option<String>,
    /// Fields that failed and were taken as null, with the error.
    errors: Vec<(&'r Field, String)>,
}

impl<'r> FieldEval<'r, '_> {
    fn failure(&self, field: &Field, message: String) -> ItemFailure {
        ItemFailure {
            resource: self.resource.label(),
            field: field.name.clone(),
            expression: field.expr.source().to_owned(),
            message,
            identifier: self.identifier.clone(),
        }
    }

    fn value(&self, field: &Field) -> Result<Value, ItemFailure> {
        field
            .expr
            .first_json(self.input, self.globals)
            .map(Option::unwrap_or_default)
            .map_err(|e| self.failure(field, e.0))
    }

    /// A string field; numbers and booleans are written as text, as Port needs a string.
    fn text(&self, field: &Field) -> Result<Option<String>, ItemFailure> {
        match self.value(field)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            v @ (Value::Number(_) | Value::Bool(_)) => Ok(Some(v.to_string())),
            other => Err(self.failure(
                field,
                format!("expected a string, got {}", short_json(&other)),
            )),
        }
    }

    /// The value, or null when the expression fails; the error is kept for the report.
    fn lenient(&mut self, field: &'r Field) -> Value {
        self.value(field).unwrap_or_else(|failure| {
            self.errors.push((field, failure.message));
            Value::Null
        })
    }

    /// A search query (team or relation) with each value evaluated leniently: a value that
    /// fails is null and kept for the report, and each null value's name goes to `nulls`.
    fn query(&mut self, query: &'r SearchQuery, nulls: &mut Vec<&'r String>) -> Value {
        let evaluated = query.evaluate::<std::convert::Infallible>(&mut |leaf| {
            let value = self.lenient(leaf);
            if value.is_null() {
                nulls.push(&leaf.name);
            }
            Ok(value)
        });
        match evaluated {
            Ok(query) => Value::Object(query),
            Err(never) => match never {},
        }
    }

    /// A title or icon: like [`Self::text`], but a failure leaves it out and is kept.
    fn optional_text(&mut self, field: Option<&'r Field>) -> Option<String> {
        let field = field?;
        self.text(field).unwrap_or_else(|failure| {
            self.errors.push((field, failure.message));
            None
        })
    }
}

fn short_json(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(60).collect();
        format!("{cut}…")
    } else {
        text
    }
}
