//! Reading what a request carries besides its path: query-string flags (coerced the way Port's
//! HTTP framework coerces them) and the JSON body.

use axum::body::Bytes;
use axum::http::Uri;
use serde_json::{Map, Value};

use crate::api_error::ApiError;

pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn from_uri(uri: &Uri) -> Self {
        let pairs = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        QueryParams(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean flag; `required` mirrors the spec (`upsert` and `delete_dependents` are
    /// required: Port rejects a call without them).
    pub fn flag(&self, name: &str, required: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None if required => Err(ApiError::invalid_request(format!(
                "querystring must have required property '{name}'"
            ))),
            None => Ok(false),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(ApiError::invalid_request(format!(
                "querystring/{name} must be boolean"
            ))),
        }
    }
}

pub fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::malformed_json(format!("Body is not valid JSON: {e}")))
}

/// The body as an object whose keys are all in `allowed` (the spec's
/// `additionalProperties: false`).
pub fn parse_object(body: &Bytes, allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    match parse_json(body)? {
        Value::Object(map) => {
            if let Some(extra) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(ApiError::invalid_request(format!(
                    "body must NOT have additional properties ('{extra}')"
                )));
            }
            Ok(map)
        }
        _ => Err(ApiError::invalid_request("body must be object")),
    }
}

pub fn optional_string<'a>(
    map: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, ApiError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid_request(format!(
            "body/{key} must be string"
        ))),
    }
}
