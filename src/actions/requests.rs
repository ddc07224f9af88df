//! The actions we serve and the typed request each invocation becomes: inputs checked,
//! encrypted inputs decrypted, the target certificate taken from the entity.

use serde_json::{Map, Value};

use super::decrypt::decrypt;
use super::error::ActionError;
use super::payload::Invocation;
use crate::aws::regions::is_valid_region_name;
use crate::port::Secret;

/// The actions in `actions/*.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    CreateSecret,
    RequestCertificate,
    RenewCertificate,
    DeleteCertificate,
}

impl ActionKind {
    pub const ALL: [ActionKind; 4] = [
        ActionKind::CreateSecret,
        ActionKind::RequestCertificate,
        ActionKind::RenewCertificate,
        ActionKind::DeleteCertificate,
    ];

    pub fn identifier(self) -> &'static str {
        match self {
            ActionKind::CreateSecret => "create_aws_secret",
            ActionKind::RequestCertificate => "request_acm_certificate",
            ActionKind::RenewCertificate => "renew_acm_certificate",
            ActionKind::DeleteCertificate => "delete_acm_certificate",
        }
    }

    pub fn from_identifier(identifier: &str) -> Option<Self> {
        // The ACM guide named its delete action `delete_acm_certification`; accepting it lets
        // an existing action point at us unchanged.
        if identifier == "delete_acm_certification" {
            return Some(ActionKind::DeleteCertificate);
        }
        Self::ALL.into_iter().find(|k| k.identifier() == identifier)
    }

    /// `invocationMethod.synchronized` in our action definition, for payloads that do not say.
    pub fn synchronized_by_default(self) -> bool {
        matches!(self, ActionKind::CreateSecret)
    }

    /// Inputs our action definition marks `"encryption": "aes256-gcm"`, for payloads that do
    /// not list them.
    pub fn encrypted_inputs(self) -> &'static [&'static str] {
        match self {
            ActionKind::CreateSecret => &["secretValue"],
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOperation {
    Create,
    Update,
    Upsert,
}

#[derive(Debug, Clone)]
pub struct SecretRequest {
    pub name: String,
    pub value: Secret,
    pub operation: SecretOperation,
    pub description: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRequest {
    pub domain_name: String,
    pub validation_method: String,
    pub subject_alternative_names: Vec<String>,
    pub region: Option<String>,
}

/// A certificate named by the entity the action was run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateTarget {
    pub arn: String,
    pub region: String,
}

#[derive(Debug, Clone)]
pub enum Request {
    Secret(SecretRequest),
    RequestCertificate(CertificateRequest),
    RenewCertificate(CertificateTarget),
    DeleteCertificate(CertificateTarget),
}

impl Request {
    pub fn from_invocation(
        kind: ActionKind,
        invocation: &Invocation,
        client_secret: &Secret,
    ) -> Result<Request, ActionError> {
        let mut inputs = invocation.inputs.clone();
        let listed: Vec<String> = match &invocation.encrypted {
            Some(names) => names.clone(),
            None => kind
                .encrypted_inputs()
                .iter()
                .map(|n| (*n).to_owned())
                .collect(),
        };
        let mut decrypted = Vec::new();
        for name in listed {
            match inputs.remove(&name) {
                None | Some(Value::Null) => {}
                Some(Value::String(sealed)) => {
                    decrypted.push((name.clone(), decrypt(&name, &sealed, client_secret)?));
                }
                Some(_) => return Err(super::decrypt::DecryptError::NotAString(name).into()),
            }
        }
        let secret_input = |name: &str| {
            decrypted
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        match kind {
            ActionKind::CreateSecret => {
                let name = required_string(&inputs, "secretName")?;
                let value = match secret_input("secretValue") {
                    Some(value) => value,
                    // A plain-text value is accepted only when the payload says nothing is
                    // encrypted: whatever it lists must decrypt.
                    None => Secret::new(required_string(&inputs, "secretValue")?),
                };
                let operation = match optional_string(&inputs, "operation")?.as_deref() {
                    None | Some("upsert") => SecretOperation::Upsert,
                    Some("create") => SecretOperation::Create,
                    Some("update") => SecretOperation::Update,
                    Some(other) => {
                        return Err(ActionError::Invalid(format!(
                            "input `operation` must be create, update or upsert, got {other:?}"
                        )));
                    }
                };
                Ok(Request::Secret(SecretRequest {
                    name,
                    value,
                    operation,
                    description: optional_string(&inputs, "description")?,
                    region: region_input(&inputs)?,
                }))
            }
            ActionKind::RequestCertificate => {
                let validation_method = optional_string(&inputs, "validation_method")?
                    .unwrap_or_else(|| "DNS".to_owned());
                if !["DNS", "EMAIL"].contains(&validation_method.as_str()) {
                    return Err(ActionError::Invalid(format!(
                        "input `validation_method` must be DNS or EMAIL, got {validation_method:?}"
                    )));
                }
                let subject_alternative_names = match inputs.get("subject_alternative_names") {
                    None | Some(Value::Null) => Some(Vec::new()),
                    Some(Value::Array(names)) => names
                        .iter()
                        .map(|n| n.as_str().map(str::to_owned))
                        .collect(),
                    Some(_) => None,
                }
                .ok_or_else(|| {
                    ActionError::Invalid(
                        "input `subject_alternative_names` must be a list of domain names".into(),
                    )
                })?;
                Ok(Request::RequestCertificate(CertificateRequest {
                    domain_name: required_string(&inputs, "domain_name")?,
                    validation_method,
                    subject_alternative_names,
                    region: region_input(&inputs)?,
                }))
            }
            ActionKind::RenewCertificate => Ok(Request::RenewCertificate(target(invocation)?)),
            ActionKind::DeleteCertificate => Ok(Request::DeleteCertificate(target(invocation)?)),
        }
    }
}

fn optional_string(inputs: &Map<String, Value>, name: &str) -> Result<Option<String>, ActionError> {
    match inputs.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ActionError::Invalid(format!(
            "input `{name}` must be a string"
        ))),
    }
}

fn required_string(inputs: &Map<String, Value>, name: &str) -> Result<String, ActionError> {
    optional_string(inputs, name)?
        .ok_or_else(|| ActionError::Invalid(format!("input `{name}` is required")))
}

fn region_input(inputs: &Map<String, Value>) -> Result<Option<String>, ActionError> {
    match optional_string(inputs, "region")? {
        Some(region) if !is_valid_region_name(&region) => Err(ActionError::Invalid(format!(
            "input `region` is not an AWS region name: {region:?}"
        ))),
        region => Ok(region),
    }
}

/// The certificate ARN from the entity (`properties.arn`, else its identifier, which the
/// shipped mapping sets to the ARN) and its region, read from the ARN.
fn target(invocation: &Invocation) -> Result<CertificateTarget, ActionError> {
    let entity = invocation.entity.as_ref().ok_or_else(|| {
        ActionError::Invalid(
            "this action runs on an acmCertificate entity, and none was sent".into(),
        )
    })?;
    let arn = [&entity["properties"]["arn"], &entity["identifier"]]
        .into_iter()
        .filter_map(Value::as_str)
        .find(|s| s.starts_with("arn:"))
        .ok_or_else(|| {
            ActionError::Invalid(
                "the entity has no certificate ARN in properties.arn or its identifier".into(),
            )
        })?;
    let region = certificate_region(arn)
        .ok_or_else(|| ActionError::Invalid(format!("{arn:?} is not an ACM certificate ARN")))?;
    Ok(CertificateTarget {
        arn: arn.to_owned(),
        region: region.to_owned(),
    })
}

/// `arn:{partition}:acm:{region}:{account}:certificate/{id}` → region.
pub fn certificate_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "acm", region, account, resource]
            if is_valid_region_name(region)
                && account.len() == 12
                && resource.starts_with("certificate/") =>
        {
            Some(region)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::decrypt::encrypt;
    use serde_json::json;

    const CLIENT_SECRET: &str = "0123456789abcdef0123456789abcdef-rest";

    fn invocation(
        inputs: Value,
        encrypted: Option<Vec<&str>>,
        entity: Option<Value>,
    ) -> Invocation {
        Invocation {
            run_id: "r_1".into(),
            action: "x".into(),
            inputs: inputs.as_object().unwrap().clone(),
            entity,
            encrypted: encrypted.map(|e| e.into_iter().map(String::from).collect()),
            synchronized: None,
        }
    }

    fn secret_request(invocation: &Invocation) -> Result<SecretRequest, ActionError> {
        match Request::from_invocation(
            ActionKind::CreateSecret,
            invocation,
            &Secret::new(CLIENT_SECRET),
        )? {
            Request::Secret(request) => Ok(request),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn secret_value_is_decrypted_and_operation_defaults_to_upsert() {
        let sealed = encrypt("s3cr3t-value", CLIENT_SECRET, [9; 16]);
        let request = secret_request(&invocation(
            json!({"secretName": "app/db", "secretValue": sealed, "region": "eu-west-1"}),
            Some(vec!["secretValue"]),
            None,
        ))
        .unwrap();
        assert_eq!(request.value.expose(), "s3cr3t-value");
        assert_eq!(request.operation, SecretOperation::Upsert);
        assert_eq!(request.region.as_deref(), Some("eu-west-1"));
        assert!(!format!("{request:?}").contains("s3cr3t"));
    }

    #[test]
    fn listed_inputs_must_decrypt_and_unlisted_default_to_the_definition() {
        let err = secret_request(&invocation(
            json!({"secretName": "a", "secretValue": "plain"}),
            None,
            None,
        ))
        .unwrap_err();
        assert!(matches!(err, ActionError::Decrypt(_)), "{err:?}");
        let plain = secret_request(&invocation(
            json!({"secretName": "a", "secretValue": "plain"}),
            Some(vec![]),
            None,
        ))
        .unwrap();
        assert_eq!(plain.value.expose(), "plain");
    }

    #[test]
    fn bad_inputs_are_named() {
        let sealed = encrypt("v", CLIENT_SECRET, [1; 16]);
        for (inputs, needle) in [
            (json!({"secretValue": sealed}), "secretName"),
            (
                json!({"secretName": "a", "secretValue": sealed, "operation": "replace"}),
                "operation",
            ),
            (
                json!({"secretName": "a", "secretValue": sealed, "region": "mars-1"}),
                "region",
            ),
        ] {
            let err = secret_request(&invocation(inputs, None, None)).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn certificate_target_comes_from_the_entity() {
        let arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc";
        let request = Request::from_invocation(
            ActionKind::DeleteCertificate,
            &invocation(
                json!({}),
                None,
                Some(json!({"identifier": arn, "properties": {}})),
            ),
            &Secret::new(CLIENT_SECRET),
        )
        .unwrap();
        let Request::DeleteCertificate(target) = request else {
            panic!()
        };
        assert_eq!(target.region, "eu-west-1");
        assert_eq!(target.arn, arn);
        let err = Request::from_invocation(
            ActionKind::RenewCertificate,
            &invocation(json!({}), None, None),
            &Secret::new(CLIENT_SECRET),
        )
        .unwrap_err();
        assert!(err.to_string().contains("acmCertificate"), "{err}");
    }

    /// The definitions users paste into Port and what the backend assumes about them agree.
    #[test]
    fn shipped_action_definitions_match_the_backend() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("actions");
        for kind in ActionKind::ALL {
            let path = dir.join(format!("{}.json", kind.identifier()));
            let text = std::fs::read_to_string(&path).unwrap();
            let action: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(action["identifier"], kind.identifier());
            let invocation = &action["invocationMethod"];
            assert_eq!(invocation["type"], "WEBHOOK");
            assert_eq!(invocation["synchronized"], kind.synchronized_by_default());
            assert_eq!(
                invocation["body"]["synchronized"],
                kind.synchronized_by_default()
            );
            let mut encrypted: Vec<&str> = action["trigger"]["userInputs"]["properties"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, p)| p["encryption"] == "aes256-gcm")
                .map(|(name, _)| name.as_str())
                .collect();
            encrypted.sort();
            assert_eq!(encrypted, kind.encrypted_inputs(), "{}", path.display());
            assert_eq!(
                invocation["body"]["encryptedProperties"],
                json!(kind.encrypted_inputs())
            );
        }
    }

    #[test]
    fn seed_delete_identifier_is_an_alias() {
        assert_eq!(
            ActionKind::from_identifier("delete_acm_certification"),
            Some(ActionKind::DeleteCertificate)
        );
        assert_eq!(ActionKind::from_identifier("drop_database"), None);
    }
}
