//! Registration at start: the record Port's Data Sources page lists. What to do is decided as
//! a value from what Port has and what we want, then carried out.

use serde_json::{Map, Value, json};

use super::settings::MappingSource;
use crate::port::{IntegrationRecord, NewIntegration, PortClient, PortError};

/// What we want the record to say.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub app_type: String,
    pub version: String,
    /// The mapping file's content as JSON, as written.
    pub file_config: Value,
    pub source: MappingSource,
    pub initialize_port_resources: bool,
}

/// One call to make, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// No record: create it with the file's mapping.
    Create(NewIntegration),
    /// `version` / `installationAppType` / `changelogDestination` differ: one PATCH with
    /// those fields.
    UpdateFields(Map<String, Value>),
    /// A record whose mapping was never set gets the file's (INITIALIZE_PORT_RESOURCES).
    SeedConfig(Value),
    /// MAPPING_SOURCE=file and Port's mapping differs: Port shows the mapping in use.
    PushFileConfig(Value),
}

/// The calls that bring `existing` to what is `wanted`; empty when nothing differs. A mapping
/// a user made in Port is only replaced with MAPPING_SOURCE=file.
pub fn plan(existing: Option<&IntegrationRecord>, wanted: &Wanted) -> Vec<Step> {
    let Some(record) = existing else {
        return vec![Step::Create(NewIntegration {
            installation_app_type: wanted.app_type.clone(),
            version: wanted.version.clone(),
            config: wanted.file_config.clone(),
        })];
    };
    let mut steps = Vec::new();
    let mut fields = Map::new();
    if record.version.as_deref() != Some(wanted.version.as_str()) {
        fields.insert("version".into(), json!(wanted.version));
    }
    if record.installation_app_type.as_deref() != Some(wanted.app_type.as_str()) {
        fields.insert("installationAppType".into(), json!(wanted.app_type));
    }
    // A polling integration has none; Ocean resets any other destination the same way.
    if record.changelog_destination.as_ref() != Some(&json!({})) {
        fields.insert("changelogDestination".into(), json!({}));
    }
    if !fields.is_empty() {
        steps.push(Step::UpdateFields(fields));
    }
    match wanted.source {
        MappingSource::File if record.config != wanted.file_config => {
            steps.push(Step::PushFileConfig(wanted.file_config.clone()));
        }
        MappingSource::Port if record.config_is_unset() && wanted.initialize_port_resources => {
            steps.push(Step::SeedConfig(wanted.file_config.clone()));
        }
        _ => {}
    }
    steps
}

/// GETs the record and carries out [`plan`]; returns the record as Port has it afterwards.
pub async fn register(port: &PortClient, wanted: &Wanted) -> Result<IntegrationRecord, PortError> {
    let existing = port.get_integration().await?;
    let steps = plan(existing.as_ref(), wanted);
    let id = port.integration_identifier();
    let mut record = existing;
    for step in steps {
        record = Some(match step {
            Step::Create(new) => {
                tracing::info!(integration = id, app_type = %new.installation_app_type, "registered the integration in Port with the mapping file");
                port.create_integration(&new).await?
            }
            Step::UpdateFields(fields) => {
                tracing::info!(integration = id, fields = ?fields.keys().collect::<Vec<_>>(), "updated the integration record in Port");
                port.patch_integration(fields).await?
            }
            Step::SeedConfig(config) => {
                tracing::info!(
                    integration = id,
                    "the integration had no mapping in Port; seeded it with the mapping file"
                );
                port.patch_integration_config(&config).await?
            }
            Step::PushFileConfig(config) => {
                tracing::info!(
                    integration = id,
                    "MAPPING_SOURCE=file: replaced the mapping in Port with the mapping file's"
                );
                port.patch_integration_config(&config).await?
            }
        });
    }
    record.ok_or_else(|| PortError::UnexpectedResponse {
        operation: crate::port::operation::GET_INTEGRATION,
        detail: "no integration record after registration".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(source: MappingSource) -> Wanted {
        Wanted {
            app_type: "aws".into(),
            version: "1.0.0".into(),
            file_config: json!({"resources": [{"kind": "k"}]}),
            source,
            initialize_port_resources: true,
        }
    }

    fn record(version: &str, app: &str, config: Value) -> IntegrationRecord {
        IntegrationRecord {
            identifier: "a".into(),
            installation_app_type: Some(app.into()),
            version: Some(version.into()),
            changelog_destination: Some(json!({})),
            config,
            updated_at: None,
            resync_state: None,
            spec: None,
            log_ingest_url: None,
            metric_ingest_url: None,
        }
    }

    #[test]
    fn a_missing_record_is_created_with_the_file_mapping() {
        let steps = plan(None, &wanted(MappingSource::Port));
        assert_eq!(
            steps,
            vec![Step::Create(NewIntegration {
                installation_app_type: "aws".into(),
                version: "1.0.0".into(),
                config: json!({"resources": [{"kind": "k"}]}),
            })]
        );
    }

    #[test]
    fn a_current_record_needs_nothing() {
        let w = wanted(MappingSource::Port);
        let current = record("1.0.0", "aws", w.file_config.clone());
        assert!(plan(Some(&current), &w).is_empty());
        let users = record("1.0.0", "aws", json!({"resources": [{"kind": "other"}]}));
        assert!(plan(Some(&users), &w).is_empty(), "a user's mapping stays");
    }

    #[test]
    fn version_and_app_type_go_in_one_patch_when_they_differ() {
        let ocean = record("0.2.90", "aws-v3", json!({"resources": []}));
        let steps = plan(Some(&ocean), &wanted(MappingSource::Port));
        assert_eq!(
            steps,
            vec![Step::UpdateFields(
                json!({"version": "1.0.0", "installationAppType": "aws"})
                    .as_object()
                    .unwrap()
                    .clone()
            )]
        );
    }

    #[test]
    fn a_changelog_destination_is_reset_in_the_same_patch() {
        let w = wanted(MappingSource::Port);
        let mut kafka = record("0.2.90", "aws", w.file_config.clone());
        kafka.changelog_destination = Some(json!({"type": "KAFKA"}));
        assert_eq!(
            plan(Some(&kafka), &w),
            vec![Step::UpdateFields(
                json!({"version": "1.0.0", "changelogDestination": {}})
                    .as_object()
                    .unwrap()
                    .clone()
            )]
        );
        let mut missing = record("1.0.0", "aws", w.file_config.clone());
        missing.changelog_destination = None;
        assert_eq!(
            plan(Some(&missing), &w),
            vec![Step::UpdateFields(
                json!({"changelogDestination": {}})
                    .as_object()
                    .unwrap()
                    .clone()
            )]
        );
    }

    #[test]
    fn an_unset_mapping_is_seeded_only_when_initializing() {
        let mut w = wanted(MappingSource::Port);
        for unset in [json!({}), Value::Null] {
            let empty = record("1.0.0", "aws", unset);
            assert_eq!(
                plan(Some(&empty), &w),
                vec![Step::SeedConfig(w.file_config.clone())]
            );
        }
        w.initialize_port_resources = false;
        assert!(plan(Some(&record("1.0.0", "aws", json!({}))), &w).is_empty());
    }

    #[test]
    fn file_source_pushes_the_file_when_port_differs() {
        let w = wanted(MappingSource::File);
        let users = record("1.0.0", "aws", json!({"resources": [{"kind": "other"}]}));
        assert_eq!(
            plan(Some(&users), &w),
            vec![Step::PushFileConfig(w.file_config.clone())]
        );
        let same = record("1.0.0", "aws", w.file_config.clone());
        assert!(plan(Some(&same), &w).is_empty());
    }
}
