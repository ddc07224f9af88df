//! Blueprint definitions shipped in `blueprints/`: Port's JSON, as users paste it in the UI.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{Env, SettingError};

/// Ocean's `initializePortResources`: create the blueprints missing in Port (never change
/// existing ones) and seed an integration record that has no mapping.
pub const INITIALIZE_PORT_RESOURCES: [&str; 2] = [
    "INITIALIZE_PORT_RESOURCES",
    "OCEAN__INITIALIZE_PORT_RESOURCES",
];

/// [`INITIALIZE_PORT_RESOURCES`], on by default.
pub fn initialize_port_resources<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<bool, SettingError> {
    env.flag(&INITIALIZE_PORT_RESOURCES, true)
}

/// One blueprint: the part we check mappings against, and the JSON as written for Port.
#[derive(Debug, Clone)]
pub struct Blueprint {
    pub identifier: String,
    pub properties: Map<String, Value>,
    pub relations: BTreeMap<String, Relation>,
    pub file: PathBuf,
    pub json: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Relation {
    pub target: String,
    #[serde(default)]
    pub many: bool,
    #[serde(default)]
    pub required: bool,
}

/// The fields of Port's blueprint JSON that we read; the rest is passed through untouched.
#[derive(Deserialize)]
struct BlueprintShape {
    identifier: String,
    #[serde(default)]
    schema: Schema,
    #[serde(default)]
    relations: BTreeMap<String, Relation>,
}

#[derive(Default, Deserialize)]
struct Schema {
    #[serde(default)]
    properties: Map<String, Value>,
}

#[derive(Debug)]
pub struct BlueprintError {
    pub file: PathBuf,
    pub message: String,
}

impl fmt::Display for BlueprintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

impl std::error::Error for BlueprintError {}

/// All blueprints of a directory, by identifier.
#[derive(Debug, Clone, Default)]
pub struct Blueprints {
    pub by_id: BTreeMap<String, Blueprint>,
}

impl Blueprints {
    /// Reads every `*.json` file of `dir`; each holds one blueprint.
    pub fn load_dir(dir: &Path) -> Result<Self, BlueprintError> {
        let error = |file: &Path, message: String| BlueprintError {
            file: file.to_owned(),
            message,
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| error(dir, format!("cannot read the blueprints directory: {e}")))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        let mut blueprints = Self::default();
        for file in files {
            let blueprint = Blueprint::read(&file)?;
            if let Some(first) = blueprints.by_id.get(&blueprint.identifier) {
                return Err(error(
                    &file,
                    format!(
                        "blueprint `{}` is also defined in {}",
                        blueprint.identifier,
                        first.file.display()
                    ),
                ));
            }
            blueprints
                .by_id
                .insert(blueprint.identifier.clone(), blueprint);
        }
        blueprints.check_relation_targets()?;
        Ok(blueprints)
    }

    pub fn get(&self, identifier: &str) -> Option<&Blueprint> {
        self.by_id.get(identifier)
    }

    fn check_relation_targets(&self) -> Result<(), BlueprintError> {
        for blueprint in self.by_id.values() {
            for (name, relation) in &blueprint.relations {
                if !self.by_id.contains_key(&relation.target) {
                    return Err(BlueprintError {
                        file: blueprint.file.clone(),
                        message: format!(
                            "relation `{name}` targets blueprint `{}`, which is not defined in this directory",
                            relation.target
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

impl Blueprint {
    fn read(file: &Path) -> Result<Self, BlueprintError> {
        let error = |message: String| BlueprintError {
            file: file.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(file).map_err(|e| error(format!("cannot read: {e}")))?;
        let json: Value =
            serde_json::from_str(&text).map_err(|e| error(format!("invalid JSON: {e}")))?;
        let shape: BlueprintShape = serde_path_to_error::deserialize(&json).map_err(|e| {
            error(format!(
                "not a Port blueprint: at `{}`: {}",
                e.path(),
                e.inner()
            ))
        })?;
        Ok(Self {
            identifier: shape.identifier,
            properties: shape.schema.properties,
            relations: shape.relations,
            file: file.to_owned(),
            json,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, json: &str) {
        std::fs::write(dir.join(name), json).unwrap();
    }

    #[test]
    fn shipped_blueprints_load() {
        let blueprints = Blueprints::load_dir(Path::new("blueprints")).unwrap();
        let ids: Vec<_> = blueprints.by_id.keys().map(String::as_str).collect();
        assert_eq!(ids, ["acmCertificate", "awsAccount", "awsSecret"]);
        assert_eq!(
            blueprints.get("awsSecret").unwrap().relations["account"].target,
            "awsAccount"
        );
    }

    #[test]
    fn relation_to_an_unknown_blueprint_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a.json",
            r#"{"identifier": "a", "relations": {"owner": {"target": "nobody"}}}"#,
        );
        let err = Blueprints::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a.json"), "{err}");
        assert!(
            err.contains("relation `owner` targets blueprint `nobody`"),
            "{err}"
        );
    }

    #[test]
    fn broken_json_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bad.json", "{\"identifier\": ");
        let err = Blueprints::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bad.json: invalid JSON"), "{err}");
    }
}
