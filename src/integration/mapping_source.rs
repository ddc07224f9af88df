//! Where a resync's mapping comes from: the local file, or the integration's `config` in
//! Port, which goes through exactly the parsing, compilation and validation a file does.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::blueprints::Blueprints;
use crate::mapping::Mapping;

/// Where the mapping of a resync came from, for its log line and report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingOrigin {
    File(PathBuf),
    Port {
        integration: String,
        updated_at: Option<String>,
    },
}

impl fmt::Display for MappingOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingOrigin::File(path) => write!(f, "the mapping file {}", path.display()),
            MappingOrigin::Port {
                integration,
                updated_at,
            } => {
                write!(f, "Port's mapping of integration {integration}")?;
                match updated_at {
                    Some(at) => write!(f, " (updatedAt {at})"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// How messages name a mapping stored in Port.
pub fn port_config_name(integration: &str) -> String {
    format!("integration {integration} config")
}

/// The mapping file's content as JSON, as written (no defaults added): what Port stores as
/// the integration's `config`.
pub fn file_as_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the mapping file: {e}", path.display()))?;
    let value: Value =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: not YAML: {e}", path.display()))?;
    match value {
        Value::Object(_) => Ok(value),
        other => Err(format!(
            "{}: expected a mapping of settings, got {other}",
            path.display()
        )),
    }
}

/// Why Port's mapping cannot be used for a resync; nothing is written with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortMappingError {
    /// Never set (`{}` or null) and not seeded.
    Unset { integration: String },
    /// `resources: []`: using it would delete the whole catalog.
    NoResources { integration: String },
    /// Parse, jq or blueprint problems, each naming the config, resource, field, expression.
    Invalid { problems: Vec<String> },
}

impl fmt::Display for PortMappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortMappingError::Unset { integration } => write!(
                f,
                "{}: no mapping is stored in Port (set one in Port's Data Sources page, or \
                 start with INITIALIZE_PORT_RESOURCES=true to seed it from the mapping file)",
                port_config_name(integration)
            ),
            PortMappingError::NoResources { integration } => write!(
                f,
                "{}: the mapping has no resources (`resources: []`); refusing to resync with \
                 it, since it would delete every entity this integration owns",
                port_config_name(integration)
            ),
            PortMappingError::Invalid { problems } => f.write_str(&problems.join("; ")),
        }
    }
}

impl std::error::Error for PortMappingError {}

/// Compiles and validates Port's `config` of `integration` as a file would be; `is_supported`
/// says which kinds this program fetches (others are warned about and ignored).
pub fn mapping_from_port(
    integration: &str,
    config: &Value,
    blueprints: &Blueprints,
    is_supported: impl Fn(&str) -> bool,
) -> Result<(Mapping, Vec<String>), PortMappingError> {
    let unset = match config {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    };
    if unset {
        return Err(PortMappingError::Unset {
            integration: integration.to_owned(),
        });
    }
    let name = port_config_name(integration);
    // JSON is YAML: the text goes through the very parser a mapping file does.
    let text = serde_json::to_string(config).expect("a JSON value serializes");
    let mapping =
        Mapping::from_yaml(&text, Path::new(&name)).map_err(|e| PortMappingError::Invalid {
            problems: vec![e.to_string()],
        })?;
    if mapping.resources.is_empty() {
        return Err(PortMappingError::NoResources {
            integration: integration.to_owned(),
        });
    }
    let findings = crate::validate::check(&mapping, blueprints, is_supported);
    if !findings.problems.is_empty() {
        return Err(PortMappingError::Invalid {
            problems: findings
                .problems
                .iter()
                .map(|p| format!("{name}: {p}"))
                .collect(),
        });
    }
    let warnings = findings
        .warnings
        .into_iter()
        .map(|w| format!("{name}: {w}"))
        .collect();
    Ok((mapping, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn blueprints() -> Blueprints {
        Blueprints::load_dir(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("blueprints")
                .as_path(),
        )
        .expect("shipped blueprints")
    }

    fn config(identifier: &str) -> Value {
        json!({"resources": [{"kind": "AWS::SecretsManager::Secret", "selector": {"query": "true"},
            "port": {"entity": {"mappings": {"identifier": identifier, "title": ".Name",
                "blueprint": "\"awsSecret\"", "properties": {"arn": ".ARN"}}}}}]})
    }

    #[test]
    fn a_good_config_compiles_like_a_file() {
        let (mapping, warnings) =
            mapping_from_port("my-aws", &config(".ARN"), &blueprints(), |_| true).unwrap();
        assert_eq!(mapping.kinds(), ["AWS::SecretsManager::Secret"]);
        assert!(
            mapping.config.delete_dependent_entities,
            "Ocean's defaults apply"
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn a_jq_error_names_the_config_resource_field_and_expression() {
        let err =
            mapping_from_port("my-aws", &config(".ARN | ("), &blueprints(), |_| true).unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("integration my-aws config: "), "{shown}");
        assert!(
            shown.contains("resources[0] (AWS::SecretsManager::Secret)"),
            "{shown}"
        );
        assert!(shown.contains("`identifier`"), "{shown}");
        assert!(shown.contains(".ARN | ("), "{shown}");
    }

    #[test]
    fn unknown_keys_and_unknown_properties_are_refused() {
        let mut typo = config(".ARN");
        typo["resources"][0]["port"]["entity"]["mappings"]["propertiez"] = json!({});
        let err = mapping_from_port("a", &typo, &blueprints(), |_| true).unwrap_err();
        assert!(err.to_string().contains("propertiez"), "{err}");
        let mut unknown_property = config(".ARN");
        unknown_property["resources"][0]["port"]["entity"]["mappings"]["properties"]["nope"] =
            json!(".X");
        let err = mapping_from_port("a", &unknown_property, &blueprints(), |_| true).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn an_empty_or_unset_mapping_is_refused_with_the_reason() {
        let err =
            mapping_from_port("a", &json!({"resources": []}), &blueprints(), |_| true).unwrap_err();
        assert_eq!(
            err,
            PortMappingError::NoResources {
                integration: "a".into()
            }
        );
        assert!(err.to_string().contains("would delete"), "{err}");
        for unset in [json!({}), Value::Null] {
            let err = mapping_from_port("a", &unset, &blueprints(), |_| true).unwrap_err();
            assert!(matches!(err, PortMappingError::Unset { .. }), "{err}");
        }
    }

    #[test]
    fn the_file_is_read_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.yml");
        std::fs::write(&path, "# c\nresources: []\nenableMergeEntity: false\n").unwrap();
        assert_eq!(
            file_as_json(&path).unwrap(),
            json!({"resources": [], "enableMergeEntity": false})
        );
        std::fs::write(&path, "- a\n").unwrap();
        assert!(file_as_json(&path).unwrap_err().contains("m.yml"));
    }
}
