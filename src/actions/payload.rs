//! The invocation body Port sends, in the shape our shipped actions' body template gives and
//! in the two shapes older action definitions send, normalised to one [`Invocation`].
//!
//! - ours: `{runId, action, inputs, entity, encryptedProperties, synchronized}`
//! - legacy: `{context: {runId}, payload: {action: {identifier}, properties, entity,
//!   censoredProperties}}`
//! - v1 default body: `{context: {runId}, action: {identifier}, properties, entity}`

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub run_id: String,
    pub action: String,
    pub inputs: Map<String, Value>,
    /// The entity a DAY-2 or DELETE action was run on, as Port sends it.
    pub entity: Option<Value>,
    /// The inputs the payload says are encrypted; `None` when it does not say.
    pub encrypted: Option<Vec<String>>,
    /// Whether Port waits for the HTTP response; `None` when the payload does not say.
    pub synchronized: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not a JSON object: {0}")]
    NotJson(String),
    #[error(
        "no run id: expected `runId` (our action body template) or `context.runId` (older action definitions)"
    )]
    MissingRunId,
    #[error(
        "no action identifier: expected `action` (our body template), `action.identifier` or `payload.action.identifier`"
    )]
    MissingAction,
    #[error("`{0}` must be {1}")]
    Malformed(&'static str, &'static str),
}

pub fn parse(body: &[u8]) -> Result<Invocation, PayloadError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    let Value::Object(body) = value else {
        return Err(PayloadError::NotJson("expected an object".into()));
    };
    let context = body.get("context").and_then(Value::as_object);
    let legacy = body.get("payload").and_then(Value::as_object);
    let run_id = non_empty_string(body.get("runId"))
        .or_else(|| non_empty_string(context.and_then(|c| c.get("runId"))))
        .ok_or(PayloadError::MissingRunId)?;
    let action = action_identifier(body.get("action"))
        .or_else(|| action_identifier(legacy.and_then(|p| p.get("action"))))
        .ok_or(PayloadError::MissingAction)?;
    let inputs = match body
        .get("inputs")
        .or_else(|| legacy.and_then(|p| p.get("properties")))
        .or_else(|| body.get("properties"))
    {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(inputs)) => inputs.clone(),
        Some(_) => return Err(PayloadError::Malformed("inputs", "an object")),
    };
    let entity = [
        body.get("entity"),
        legacy.and_then(|p| p.get("entity")),
        context.and_then(|c| c.get("entity")),
    ]
    .into_iter()
    .flatten()
    .find_map(|entity| match entity {
        Value::Object(_) => Some(entity.clone()),
        // Older payloads name the entity by identifier in `context.entity`.
        Value::String(id) if !id.is_empty() => Some(serde_json::json!({"identifier": id})),
        _ => None,
    });
    let encrypted = match body
        .get("encryptedProperties")
        .or_else(|| legacy.and_then(|p| p.get("censoredProperties")))
    {
        None | Some(Value::Null) => None,
        Some(Value::Array(names)) => Some(
            names
                .iter()
                .map(|n| n.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(PayloadError::Malformed(
                    "encryptedProperties",
                    "a list of input names",
                ))?,
        ),
        Some(_) => {
            return Err(PayloadError::Malformed(
                "encryptedProperties",
                "a list of input names",
            ));
        }
    };
    let synchronized = match body.get("synchronized") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(PayloadError::Malformed("synchronized", "true or false")),
    };
    Ok(Invocation {
        run_id,
        action,
        inputs,
        entity,
        encrypted,
        synchronized,
    })
}

fn non_empty_string(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn action_identifier(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(_) => non_empty_string(value),
        Value::Object(action) => non_empty_string(action.get("identifier")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(value: Value) -> Result<Invocation, PayloadError> {
        parse(value.to_string().as_bytes())
    }

    #[test]
    fn our_body_template() {
        let invocation = parse_json(json!({
            "runId": "r_1",
            "action": "create_aws_secret",
            "inputs": {"secretName": "a", "secretValue": "enc"},
            "entity": null,
            "encryptedProperties": ["secretValue"],
            "synchronized": true,
        }))
        .unwrap();
        assert_eq!(invocation.run_id, "r_1");
        assert_eq!(invocation.action, "create_aws_secret");
        assert_eq!(invocation.inputs["secretName"], "a");
        assert_eq!(invocation.entity, None);
        assert_eq!(invocation.encrypted, Some(vec!["secretValue".to_owned()]));
        assert_eq!(invocation.synchronized, Some(true));
    }

    #[test]
    fn legacy_payload_with_censored_properties() {
        let invocation = parse_json(json!({
            "action": "create_aws_secret",
            "context": {"runId": "r_2", "entity": null, "blueprint": "awsSecret"},
            "payload": {
                "action": {"identifier": "create_aws_secret"},
                "properties": {"secretName": "b"},
                "censoredProperties": ["secretValue"],
                "entity": null,
            },
        }))
        .unwrap();
        assert_eq!(invocation.run_id, "r_2");
        assert_eq!(invocation.inputs["secretName"], "b");
        assert_eq!(invocation.encrypted, Some(vec!["secretValue".to_owned()]));
        assert_eq!(invocation.synchronized, None);
    }

    #[test]
    fn v1_default_body_with_an_entity() {
        let invocation = parse_json(json!({
            "context": {"runId": "r_3"},
            "action": {"identifier": "delete_acm_certificate"},
            "properties": {},
            "entity": {"identifier": "arn:aws:acm:eu-west-1:1:certificate/x"},
        }))
        .unwrap();
        assert_eq!(invocation.action, "delete_acm_certificate");
        assert_eq!(
            invocation.entity.unwrap()["identifier"],
            "arn:aws:acm:eu-west-1:1:certificate/x"
        );
        assert_eq!(invocation.encrypted, None);
    }

    #[test]
    fn missing_run_id_or_action_and_bad_types_are_named() {
        assert_eq!(
            parse_json(json!({"action": "x"})),
            Err(PayloadError::MissingRunId)
        );
        assert_eq!(
            parse_json(json!({"runId": "r"})),
            Err(PayloadError::MissingAction)
        );
        assert_eq!(
            parse_json(json!({"runId": "r", "action": "x", "inputs": []})),
            Err(PayloadError::Malformed("inputs", "an object"))
        );
        assert!(matches!(parse(b"not json"), Err(PayloadError::NotJson(_))));
    }
}
