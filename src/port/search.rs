//! Reading entities back: search with pagination, and the entities this integration owns.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::PortClient;
use super::error::PortError;
use super::stats::operation;
use super::transport::ApiRequest;

/// Port's largest search page.
pub const SEARCH_PAGE_LIMIT: usize = 1000;

/// The rules selecting entities whose `$datasource` is an Ocean-style exporter with this
/// integration identifier: `port-ocean/<anything>/<identifier>/exporter`. Port's documented
/// entity shape does not return `$datasource`, so the prefix and suffix are checked by Port
/// itself, with its documented `beginsWith` / `endsWith` string operators; the `contains` rule
/// is the one Ocean uses.
pub fn ownership_query(integration_identifier: &str) -> Value {
    let suffix = format!("/{integration_identifier}/exporter");
    json!({
        "combinator": "and",
        "rules": [
            {"property": "$datasource", "operator": "contains", "value": suffix},
            {"property": "$datasource", "operator": "beginsWith", "value": "port-ocean/"},
            {"property": "$datasource", "operator": "endsWith", "value": suffix},
        ]
    })
}

impl PortClient {
    /// Every entity of `blueprint` matching `query` (`{combinator, rules}`), following `next`
    /// across pages of 1000. `include` narrows what each entity carries (empty: everything).
    pub async fn search_entities(
        &self,
        blueprint: &str,
        query: &Value,
        include: &[&str],
    ) -> Result<Vec<Value>, PortError> {
        let mut entities = Vec::new();
        self.search_entity_pages(blueprint, query, include, |page| entities.extend(page))
            .await?;
        Ok(entities)
    }

    /// [`Self::search_entities`], handing each page to `on_page` as it arrives, so a caller
    /// that digests entities never holds more than one page of them.
    pub async fn search_entity_pages(
        &self,
        blueprint: &str,
        query: &Value,
        include: &[&str],
        mut on_page: impl FnMut(Vec<Value>),
    ) -> Result<(), PortError> {
        let mut from: Option<String> = None;
        loop {
            let mut body = Map::new();
            body.insert("query".into(), query.clone());
            if !include.is_empty() {
                body.insert("include".into(), json!(include));
            }
            body.insert("limit".into(), json!(SEARCH_PAGE_LIMIT));
            if let Some(cursor) = &from {
                body.insert("from".into(), json!(cursor));
            }
            let request = ApiRequest::new(
                operation::SEARCH,
                Method::POST,
                &["v1", "blueprints", blueprint, "entities", "search"],
            )
            .json(&Value::Object(body));
            let response = self.transport.send(&request).await?;
            if !response.is_success() {
                return Err(response.into_error(operation::SEARCH));
            }
            let mut page = response.body;
            match page.get_mut("entities").map(Value::take) {
                Some(Value::Array(items)) => on_page(items),
                _ => {
                    return Err(PortError::UnexpectedResponse {
                        operation: operation::SEARCH,
                        detail: "no entities array in the search response".into(),
                    });
                }
            }
            match page.get("next").and_then(Value::as_str) {
                Some(next) if from.as_deref() == Some(next) => {
                    return Err(PortError::UnexpectedResponse {
                        operation: operation::SEARCH,
                        detail: "search returned the same page cursor twice".into(),
                    });
                }
                Some(next) => from = Some(next.to_string()),
                None => return Ok(()),
            }
        }
    }

    /// Entities of `blueprint` this integration owns: written by a `port-ocean/...` writer
    /// ending in `/{integration identifier}/exporter` (ours, or Ocean's AWS integration with the
    /// same identifier, whose entities a migrating user takes over).
    pub async fn owned_entities(
        &self,
        blueprint: &str,
        include: &[&str],
    ) -> Result<Vec<Value>, PortError> {
        let query = ownership_query(self.integration_identifier());
        self.search_entities(blueprint, &query, include).await
    }

    /// Whether Port holds entity `identifier` of `blueprint` as written by this integration
    /// (what a resync would delete if its resource were gone).
    pub async fn owned_entity(&self, blueprint: &str, identifier: &str) -> Result<bool, PortError> {
        let mut query = ownership_query(self.integration_identifier());
        if let Some(rules) = query["rules"].as_array_mut() {
            rules.push(json!({"property": "$identifier", "operator": "=", "value": identifier}));
        }
        let found = self
            .search_entities(blueprint, &query, &["identifier"])
            .await?;
        Ok(!found.is_empty())
    }

    /// [`Self::owned_entities`] page by page, as [`Self::search_entity_pages`].
    pub async fn owned_entity_pages(
        &self,
        blueprint: &str,
        include: &[&str],
        on_page: impl FnMut(Vec<Value>),
    ) -> Result<(), PortError> {
        let query = ownership_query(self.integration_identifier());
        self.search_entity_pages(blueprint, &query, include, on_page)
            .await
    }
}
