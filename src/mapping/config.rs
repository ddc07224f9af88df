//! The port-app-config model: Ocean's YAML mapping file, with Ocean's keys and defaults.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Map;

/// The whole mapping file. Unknown keys are rejected so a typo never silently drops a field.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortAppConfig {
    #[serde(default = "yes")]
    pub enable_merge_entity: bool,
    #[serde(default = "yes")]
    pub delete_dependent_entities: bool,
    #[serde(default = "yes")]
    pub create_missing_related_entities: bool,
    #[serde(default = "default_deletion_threshold")]
    pub entity_deletion_threshold: f64,
    #[serde(default)]
    pub resources: Vec<ResourceConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceConfig {
    pub kind: String,
    #[serde(default)]
    pub selector: Selector,
    pub port: PortSection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    #[serde(default = "always")]
    pub query: String,
    #[serde(default)]
    pub region_policy: Option<RegionPolicy>,
    /// Ocean's AWS integration reads single resources through Cloud Control when this is set;
    /// we always use the list APIs, which return the same fields, so it is accepted and unused.
    #[serde(default, rename = "useGetResourceAPI")]
    pub use_get_resource_api: Option<bool>,
    /// Ocean's AWS integration reads `AWS::ResourceGroups::Group` through the Resource Groups
    /// API when this is set. None of our kinds is a resource group, so it changes nothing here;
    /// it is accepted so a mapping copied from Ocean loads unchanged.
    #[serde(default)]
    pub list_group_resources: Option<bool>,
}

impl Default for Selector {
    fn default() -> Self {
        Self {
            query: always(),
            region_policy: None,
            use_get_resource_api: None,
            list_group_resources: None,
        }
    }
}

/// Ocean's per-resource region filter: `deny` wins over `allow`; an empty `allow` allows all.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPolicy {
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<String>,
}

impl RegionPolicy {
    /// Ocean's semantics: `deny` wins; an empty `allow` allows every region.
    pub fn allows(&self, region: &str) -> bool {
        !self.deny.iter().any(|denied| denied == region)
            && (self.allow.is_empty() || self.allow.iter().any(|allowed| allowed == region))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSection {
    pub entity: EntitySection,
    #[serde(default)]
    pub items_to_parse: Option<String>,
    /// The key each parsed element is exposed under in the record the mappings see.
    #[serde(default = "default_items_to_parse_name")]
    pub items_to_parse_name: String,
    /// Ocean removes the parsed array from that record unless this is `false`.
    #[serde(default = "yes")]
    pub items_to_parse_top_level_transform: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitySection {
    pub mappings: EntityMappings,
}

/// Every value is a jq expression; `blueprint: '"awsAccount"'` is a jq string literal. The
/// identifier, the team and each relation may instead be a search query (`{combinator,
/// rules}`, every value in it a jq expression too), which Port resolves on write.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityMappings {
    pub identifier: serde_json::Value,
    #[serde(default)]
    pub title: Option<String>,
    pub blueprint: String,
    #[serde(default)]
    pub team: Option<serde_json::Value>,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default)]
    pub properties: Map<String, serde_json::Value>,
    #[serde(default)]
    pub relations: Map<String, serde_json::Value>,
}

fn yes() -> bool {
    true
}

fn default_items_to_parse_name() -> String {
    "item".to_owned()
}

fn always() -> String {
    "true".to_owned()
}

fn default_deletion_threshold() -> f64 {
    0.9
}

/// A mapping file that could not be read or parsed, with the file and the place at fault.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    /// Dotted path of the key at fault, e.g. `resources[1].port.entity.mappings`.
    pub path: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(path) = &self.path {
            write!(f, ": at `{path}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl PortAppConfig {
    pub fn read(file: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
            file: file.to_owned(),
            path: None,
            message: format!("cannot read the mapping file: {e}"),
        })?;
        Self::parse(&text, file)
    }

    pub fn parse(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let mut failed_at = None;
        let parsed = serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                if path != "." {
                    failed_at = Some(path);
                }
                e.into_inner()
            })
        });
        let config: Self = parsed.map_err(|e| ConfigError {
            file: file.to_owned(),
            path: failed_at,
            message: e.to_string(),
        })?;
        config.check_threshold(file)?;
        Ok(config)
    }

    fn check_threshold(&self, file: &Path) -> Result<(), ConfigError> {
        if (0.0..=1.0).contains(&self.entity_deletion_threshold) {
            return Ok(());
        }
        Err(ConfigError {
            file: file.to_owned(),
            path: Some("entityDeletionThreshold".to_owned()),
            message: format!(
                "must be a share between 0 and 1, got {}",
                self.entity_deletion_threshold
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PortAppConfig, ConfigError> {
        PortAppConfig::parse(text, Path::new("mapping.yml"))
    }

    const MINIMAL: &str = r#"
resources:
  - kind: AWS::ACM::Certificate
    port:
      entity:
        mappings:
          identifier: .CertificateArn
          blueprint: '"acmCertificate"'
"#;

    #[test]
    fn ocean_defaults_apply() {
        let config = parse(MINIMAL).unwrap();
        assert!(config.enable_merge_entity);
        assert!(config.delete_dependent_entities);
        assert!(config.create_missing_related_entities);
        assert_eq!(config.entity_deletion_threshold, 0.9);
        let resource = &config.resources[0];
        assert_eq!(resource.selector.query, "true");
        assert_eq!(
            resource.port.entity.mappings.blueprint,
            "\"acmCertificate\""
        );
        assert!(resource.port.items_to_parse.is_none());
        assert_eq!(resource.port.items_to_parse_name, "item");
        assert!(resource.port.items_to_parse_top_level_transform);
    }

    #[test]
    fn ocean_aws_selector_and_items_to_parse_keys_are_accepted() {
        // The keys of Ocean's AWSDescribeResourcesSelector and PortResourceConfig.
        let text = r#"
resources:
  - kind: AWS::ACM::Certificate
    selector:
      query: 'true'
      useGetResourceAPI: true
      listGroupResources: false
      regionPolicy: {allow: [eu-west-1], deny: [us-east-1]}
    port:
      itemsToParse: .Tags
      itemsToParseName: tag
      itemsToParseTopLevelTransform: false
      entity:
        mappings:
          identifier: .CertificateArn
          blueprint: '"acmCertificate"'
"#;
        let config = parse(text).unwrap();
        let resource = &config.resources[0];
        assert_eq!(resource.selector.use_get_resource_api, Some(true));
        assert_eq!(resource.selector.list_group_resources, Some(false));
        assert!(resource.selector.region_policy.is_some());
        assert_eq!(resource.port.items_to_parse_name, "tag");
        assert!(!resource.port.items_to_parse_top_level_transform);
        // A key no Ocean model has is still refused, with its path.
        let err = parse(&text.replace("listGroupResources", "listGroupResourcez")).unwrap_err();
        assert_eq!(
            err.path.as_deref(),
            Some("resources[0].selector.listGroupResourcez")
        );
        let err = parse(&text.replace("regionPolicy: {allow", "regionPolicy: {alow")).unwrap_err();
        assert_eq!(
            err.path.as_deref(),
            Some("resources[0].selector.regionPolicy.alow")
        );
    }

    #[test]
    fn unknown_key_is_reported_with_its_path() {
        let text = MINIMAL.replace("identifier:", "propertiez: {}\n          identifier:");
        let err = parse(&text).unwrap_err();
        assert_eq!(
            err.path.as_deref(),
            Some("resources[0].port.entity.mappings.propertiez")
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with("mapping.yml: at `resources[0]"),
            "{shown}"
        );
        assert!(shown.contains("propertiez"), "{shown}");
    }

    #[test]
    fn yaml_syntax_error_names_the_line() {
        let err = parse("resources:\n  - kind: [unclosed\n").unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("mapping.yml"), "{shown}");
        assert!(shown.contains("line"), "{shown}");
    }

    #[test]
    fn threshold_out_of_range_is_rejected() {
        let err = parse("entityDeletionThreshold: 1.5\nresources: []\n").unwrap_err();
        assert_eq!(err.path.as_deref(), Some("entityDeletionThreshold"));
    }

    #[test]
    fn missing_required_mapping_is_reported() {
        let text = MINIMAL.replace("          blueprint: '\"acmCertificate\"'\n", "");
        let err = parse(&text).unwrap_err();
        assert!(err.to_string().contains("blueprint"), "{err}");
    }
}
