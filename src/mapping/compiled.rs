//! A port-app-config whose every jq expression is compiled, ready to map items.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::config::{ConfigError, PortAppConfig, RegionPolicy, ResourceConfig};
use super::items::ItemsToParse;
use super::jq::{Expr, Globals};

/// One mapping field: its place in the entity (`identifier`, `properties.arn`…) and expression.
#[derive(Debug)]
pub struct Field {
    pub name: String,
    pub expr: Expr,
}

/// One `resources[i]` entry, compiled.
#[derive(Debug)]
pub struct Resource {
    pub index: usize,
    pub kind: String,
    pub selector: Expr,
    pub region_policy: Option<RegionPolicy>,
    pub items_to_parse: Option<ItemsToParse>,
    pub identifier: Field,
    pub blueprint: Field,
    pub title: Option<Field>,
    pub team: Option<Field>,
    pub icon: Option<Field>,
    pub properties: Vec<(String, Field)>,
    pub relations: Vec<(String, Field)>,
}

impl Resource {
    /// Every expression of the resource, with the YAML field it came from.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        [&self.identifier, &self.blueprint]
            .into_iter()
            .chain(self.title.iter())
            .chain(self.team.iter())
            .chain(self.icon.iter())
            .chain(self.properties.iter().map(|(_, f)| f))
            .chain(self.relations.iter().map(|(_, f)| f))
    }

    /// How the resource is named in messages: `resources[1] (AWS::ACM::Certificate)`.
    pub fn label(&self) -> String {
        format!("resources[{}] ({})", self.index, self.kind)
    }
}

/// The loaded mapping file: Ocean's flags and the compiled resources.
#[derive(Debug)]
pub struct Mapping {
    pub file: PathBuf,
    pub config: PortAppConfig,
    pub resources: Vec<Resource>,
    /// `$ENV` and `env`, read once when the mapping is loaded: a resync never reads the
    /// process environment.
    pub globals: Globals,
}

/// A problem with the mapping file, named by file, resource, field and expression.
#[derive(Debug)]
pub enum MappingError {
    Config(ConfigError),
    Expression {
        file: PathBuf,
        resource: String,
        field: String,
        expression: String,
        message: String,
    },
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => e.fmt(f),
            Self::Expression {
                file,
                resource,
                field,
                expression,
                message,
            } => write!(
                f,
                "{}: {resource}, field `{field}`: invalid jq expression `{expression}`: {message}",
                file.display()
            ),
        }
    }
}

impl std::error::Error for MappingError {}

impl From<ConfigError> for MappingError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

impl Mapping {
    pub fn load(file: &Path) -> Result<Self, MappingError> {
        let config = PortAppConfig::read(file)?;
        Self::compile(config, file)
    }

    pub fn from_yaml(text: &str, file: &Path) -> Result<Self, MappingError> {
        let config = PortAppConfig::parse(text, file)?;
        Self::compile(config, file)
    }

    fn compile(config: PortAppConfig, file: &Path) -> Result<Self, MappingError> {
        let resources = config
            .resources
            .iter()
            .enumerate()
            .map(|(index, resource)| compile_resource(file, index, resource))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            file: file.to_owned(),
            config,
            resources,
            globals: Globals::from_process_env(),
        })
    }

    /// The resources that map items of `kind`, in file order.
    pub fn resources_for<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Resource> {
        self.resources.iter().filter(move |r| r.kind == kind)
    }

    /// The distinct kinds the file maps, in file order.
    pub fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = Vec::new();
        for resource in &self.resources {
            if !kinds.contains(&resource.kind.as_str()) {
                kinds.push(&resource.kind);
            }
        }
        kinds
    }
}

struct ResourceCompiler<'a> {
    file: &'a Path,
    label: String,
}

impl ResourceCompiler<'_> {
    fn expr(&self, field: &str, source: &str) -> Result<Expr, MappingError> {
        Expr::compile(source).map_err(|e| MappingError::Expression {
            file: self.file.to_owned(),
            resource: self.label.clone(),
            field: field.to_owned(),
            expression: source.to_owned(),
            message: e.message,
        })
    }

    fn field(&self, name: String, source: &str) -> Result<Field, MappingError> {
        let expr = self.expr(&name, source)?;
        Ok(Field { name, expr })
    }

    fn optional(&self, name: &str, source: &Option<String>) -> Result<Option<Field>, MappingError> {
        source
            .as_deref()
            .map(|s| self.field(name.to_owned(), s))
            .transpose()
    }

    /// Properties and relations are jq text; a YAML number or boolean is taken as the jq literal
    /// it spells, as Ocean does once YAML has typed it.
    fn named(
        &self,
        section: &str,
        entries: &serde_json::Map<String, Value>,
    ) -> Result<Vec<(String, Field)>, MappingError> {
        entries
            .iter()
            .map(|(key, value)| {
                let name = format!("{section}.{key}");
                let source = match value {
                    Value::String(s) => s.clone(),
                    Value::Bool(_) | Value::Number(_) | Value::Null => value.to_string(),
                    Value::Array(_) | Value::Object(_) => {
                        return Err(MappingError::Config(ConfigError {
                            file: self.file.to_owned(),
                            path: Some(format!("{}.port.entity.mappings.{name}", self.path())),
                            message: "expected a jq expression (a string); search-query relations \
                                      and nested mappings are not supported"
                                .to_owned(),
                        }));
                    }
                };
                Ok((key.clone(), self.field(name, &source)?))
            })
            .collect()
    }

    fn path(&self) -> String {
        self.label
            .split_once(' ')
            .map_or(self.label.clone(), |(p, _)| p.to_owned())
    }
}

fn compile_resource(
    file: &Path,
    index: usize,
    resource: &ResourceConfig,
) -> Result<Resource, MappingError> {
    let c = ResourceCompiler {
        file,
        label: format!("resources[{index}] ({})", resource.kind),
    };
    let mappings = &resource.port.entity.mappings;
    Ok(Resource {
        index,
        kind: resource.kind.clone(),
        selector: c.expr("selector.query", &resource.selector.query)?,
        region_policy: resource.selector.region_policy.clone(),
        items_to_parse: resource
            .port
            .items_to_parse
            .as_deref()
            .map(|source| {
                ItemsToParse::new(
                    source,
                    &resource.port.items_to_parse_name,
                    resource.port.items_to_parse_top_level_transform,
                    |field, s| c.expr(field, s),
                )
            })
            .transpose()?,
        identifier: c.field("identifier".to_owned(), &mappings.identifier)?,
        blueprint: c.field("blueprint".to_owned(), &mappings.blueprint)?,
        title: c.optional("title", &mappings.title)?,
        team: c.optional("team", &mappings.team)?,
        icon: c.optional("icon", &mappings.icon)?,
        properties: c.named("properties", &mappings.properties)?,
        relations: c.named("relations", &mappings.relations)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jq_syntax_error_names_file_resource_field_and_expression() {
        let yaml = r#"
resources:
  - kind: AWS::Organizations::Account
    port:
      entity:
        mappings:
          identifier: .Id
          blueprint: '"awsAccount"'
  - kind: AWS::ACM::Certificate
    port:
      entity:
        mappings:
          identifier: .CertificateArn
          blueprint: '"acmCertificate"'
          properties:
            status: .Status | ascii_downcase(
"#;
        let err = Mapping::from_yaml(yaml, Path::new("m.yml")).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with(
                "m.yml: resources[1] (AWS::ACM::Certificate), field `properties.status`: \
                 invalid jq expression `.Status | ascii_downcase(`: syntax error"
            ),
            "{shown}"
        );
    }

    #[test]
    fn nested_property_mapping_is_rejected_with_its_path() {
        let yaml = r#"
resources:
  - kind: AWS::ACM::Certificate
    port:
      entity:
        mappings:
          identifier: .CertificateArn
          blueprint: '"acmCertificate"'
          relations:
            account: {combinator: and, rules: []}
"#;
        let err = Mapping::from_yaml(yaml, Path::new("m.yml")).unwrap_err();
        assert!(
            err.to_string()
                .contains("at `resources[0].port.entity.mappings.relations.account`"),
            "{err}"
        );
    }

    #[test]
    fn literal_yaml_scalars_become_jq_literals() {
        let yaml = r#"
resources:
  - kind: AWS::ACM::Certificate
    port:
      entity:
        mappings:
          identifier: .CertificateArn
          blueprint: '"acmCertificate"'
          properties:
            inUse: true
            count: 3
"#;
        let mapping = Mapping::from_yaml(yaml, Path::new("m.yml")).unwrap();
        let sources: Vec<_> = mapping.resources[0]
            .properties
            .iter()
            .map(|(k, f)| (k.as_str(), f.expr.source()))
            .collect();
        assert_eq!(sources, [("inUse", "true"), ("count", "3")]);
    }
}
