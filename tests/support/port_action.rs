//! What Port does when a user runs one of our shipped actions: encrypts the inputs marked
//! `aes256-gcm`, renders the action's `invocationMethod.body` template (each `"{{ jq }}"`
//! string replaced by the expression's value over the run context) and signs the body.

use std::path::Path;

use port_aws_sync::mapping::jq::{Expr, Globals, Item};
use serde_json::{Value, json};

/// A shipped action definition from `actions/`.
pub fn definition(identifier: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("actions")
        .join(format!("{identifier}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// The names of the inputs the definition marks encrypted.
pub fn encrypted_inputs(definition: &Value) -> Vec<String> {
    definition["trigger"]["userInputs"]["properties"]
        .as_object()
        .map(|inputs| {
            inputs
                .iter()
                .filter(|(_, p)| p["encryption"] == "aes256-gcm")
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The body Port sends for a run of `identifier` with plain-text `inputs` on `entity`.
pub fn invocation_body(
    identifier: &str,
    run_id: &str,
    inputs: Value,
    entity: Value,
    client_secret: &str,
) -> Value {
    let definition = definition(identifier);
    let mut inputs = inputs;
    for name in encrypted_inputs(&definition) {
        if let Some(Value::String(plain)) = inputs.get(&name).cloned() {
            let iv: [u8; 16] = rand::random();
            inputs[&name] = json!(port_aws_sync::actions::decrypt::encrypt(
                &plain,
                client_secret,
                iv
            ));
        }
    }
    let context = json!({
        "run": {"id": run_id},
        "action": {"identifier": identifier},
        "inputs": inputs,
        "entity": entity,
        "trigger": {"by": {"user": {"email": "dev@example.com"}}},
    });
    render(&definition["invocationMethod"]["body"], &context)
}

fn render(template: &Value, context: &Value) -> Value {
    match template {
        Value::String(text) => match text
            .trim()
            .strip_prefix("{{")
            .and_then(|t| t.strip_suffix("}}"))
        {
            Some(expression) => Expr::compile(expression.trim())
                .unwrap_or_else(|e| panic!("template {text:?}: {e:?}"))
                .first_json(&Item::json(context), &Globals::from_process_env())
                .unwrap_or_else(|e| panic!("template {text:?}: {e:?}"))
                .unwrap_or(Value::Null),
            None => template.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| render(v, context)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), render(v, context)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `x-port-timestamp` and `x-port-signature` for `body` sent at `timestamp`, computed as
/// Port's documentation describes (independently of the code under test).
pub fn signature_headers(secret: &str, timestamp: u64, body: &[u8]) -> [(String, String); 2] {
    use base64::Engine;
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    [
        ("x-port-timestamp".to_owned(), timestamp.to_string()),
        ("x-port-signature".to_owned(), format!("v1,{signature}")),
    ]
}

pub fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
