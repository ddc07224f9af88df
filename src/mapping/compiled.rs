//! A port-app-config whose every jq expression is compiled, ready to map items.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::config::{ConfigError, PortAppConfig, RegionPolicy, ResourceConfig};
use super::items::ItemsToParse;
use super::jq::{Expr, Globals};
use super::search_query::{SearchQuery, leaf_source};

/// One mapping field: its place in the entity (`identifier`, `properties.arn`…) and expression.
#[derive(Debug)]
pub struct Field {
    pub name: String,
    pub expr: Expr,
}

/// The identifier, team or a relation: one jq expression, or a search query Port resolves.
#[derive(Debug)]
pub enum Mapped {
    Expr(Field),
    Search(SearchQuery),
}

impl Mapped {
    /// Its place in the entity: `identifier`, `team`, `relations.account`.
    pub fn name(&self) -> &str {
        match self {
            Mapped::Expr(field) => &field.name,
            Mapped::Search(query) => &query.name,
        }
    }

    /// How messages show it: the expression, or the query's leaves.
    pub fn describe(&self) -> String {
        match self {
            Mapped::Expr(field) => field.expr.source().to_owned(),
            Mapped::Search(query) => {
                let leaves: Vec<&str> = query.fields().iter().map(|f| f.expr.source()).collect();
                format!("search query [{}]", leaves.join(", "))
            }
        }
    }

    pub fn is_search(&self) -> bool {
        matches!(self, Mapped::Search(_))
    }

    fn fields(&self) -> Vec<&Field> {
        match self {
            Mapped::Expr(field) => vec![field],
            Mapped::Search(query) => query.fields(),
        }
    }
}

/// One `resources[i]` entry, compiled.
#[derive(Debug)]
pub struct Resource {
    pub index: usize,
    pub kind: String,
    pub selector: Expr,
    pub region_policy: Option<RegionPolicy>,
    pub items_to_parse: Option<ItemsToParse>,
    pub identifier: Mapped,
    pub blueprint: Field,
    pub title: Option<Field>,
    pub team: Option<Mapped>,
    pub icon: Option<Field>,
    pub properties: Vec<(String, Field)>,
    pub relations: Vec<(String, Mapped)>,
}

impl Resource {
    /// Every jq expression of the resource (each leaf of a search query too), with the YAML
    /// field it came from.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        let mut fields = self.identifier.fields();
        fields.push(&self.blueprint);
        fields.extend(self.title.iter());
        fields.extend(self.team.iter().flat_map(Mapped::fields));
        fields.extend(self.icon.iter());
        fields.extend(self.properties.iter().map(|(_, f)| f));
        fields.extend(self.relations.iter().flat_map(|(_, m)| m.fields()));
        fields.into_iter()
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

    /// A value given at `mappings.<path>` that is not what Ocean accepts there.
    fn misshapen(&self, path: &str, message: &str) -> MappingError {
        MappingError::Config(ConfigError {
            file: self.file.to_owned(),
            path: Some(format!("{}.port.entity.mappings.{path}", self.path())),
            message: message.to_owned(),
        })
    }

    /// A leaf of a search query. Ocean evaluates every one as jq, so a bare `and` or `=` does
    /// not compile: the error says how a literal is written.
    fn query_leaf(&self, name: String, source: &str) -> Result<Field, MappingError> {
        self.field(name, source).map_err(|e| match e {
            MappingError::Expression {
                file,
                resource,
                field,
                expression,
                message,
            } => MappingError::Expression {
                message: format!(
                    "{message} (every value of a search query is a jq expression, as in \
                     Ocean: a literal is quoted, e.g. '\"and\"', '\"=\"', '\"$identifier\"')"
                ),
                file,
                resource,
                field,
                expression,
            },
            other => other,
        })
    }

    /// A jq expression, or (`{combinator, rules}`) a search query Port resolves on write; a YAML
    /// number, boolean or null is taken as the jq literal it spells, as Ocean does once YAML has
    /// typed it.
    fn mapped(&self, name: String, value: &Value) -> Result<Mapped, MappingError> {
        if let Some(source) = leaf_source(value) {
            return Ok(Mapped::Expr(self.field(name, &source)?));
        }
        match value {
            Value::Object(query) => SearchQuery::compile(
                &name,
                query,
                &|leaf, source| self.query_leaf(leaf, source),
                &|path, message| self.misshapen(&path, message),
            )
            .map(Mapped::Search),
            _ => Err(self.misshapen(
                &name,
                "expected a jq expression (a string) or a search query (combinator and rules)",
            )),
        }
    }

    fn relations(
        &self,
        entries: &serde_json::Map<String, Value>,
    ) -> Result<Vec<(String, Mapped)>, MappingError> {
        entries
            .iter()
            .map(|(key, value)| Ok((key.clone(), self.mapped(format!("relations.{key}"), value)?)))
            .collect()
    }

    /// Properties are jq text (Ocean's model takes strings only: no search queries and no
    /// nested mappings).
    fn properties(
        &self,
        entries: &serde_json::Map<String, Value>,
    ) -> Result<Vec<(String, Field)>, MappingError> {
        entries
            .iter()
            .map(|(key, value)| {
                let name = format!("properties.{key}");
                let source = leaf_source(value).ok_or_else(|| {
                    self.misshapen(
                        &name,
                        "expected a jq expression (a string); a property takes no search query or nested mapping",
                    )
                })?;
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
        identifier: c.mapped("identifier".to_owned(), &mappings.identifier)?,
        blueprint: c.field("blueprint".to_owned(), &mappings.blueprint)?,
        title: c.optional("title", &mappings.title)?,
        team: mappings
            .team
            .as_ref()
            .map(|team| c.mapped("team".to_owned(), team))
            .transpose()?,
        icon: c.optional("icon", &mappings.icon)?,
        properties: c.properties(&mappings.properties)?,
        relations: c.relations(&mappings.relations)?,
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

    fn with_mappings(extra: &str) -> String {
        format!(
            r#"
resources:
  - kind: AWS::ACM::Certificate
    port:
      entity:
        mappings:
          blueprint: '"acmCertificate"'
{extra}"#
        )
    }

    #[test]
    fn identifier_team_and_relations_take_search_queries_with_nested_rules() {
        let yaml = with_mappings(
            r#"          identifier:
            combinator: '"and"'
            rules:
              - property: '"arn"'
                operator: '"="'
                value: .CertificateArn
          team: {combinator: '"or"', rules: [{property: '"$identifier"', operator: '"in"', value: '[.Owner]'}]}
          relations:
            account:
              combinator: '"and"'
              rules:
                - {property: '"$identifier"', operator: '"="', value: .__AccountId}
                - combinator: '"or"'
                  rules: [{property: '"status"', operator: '"="', value: 3}]
            plain: .__AccountId
"#,
        );
        let mapping =
            Mapping::from_yaml(&yaml, Path::new("m.yml")).unwrap_or_else(|e| panic!("{e}"));
        let r = &mapping.resources[0];
        let Mapped::Search(identifier) = &r.identifier else {
            panic!("identifier should be a search query")
        };
        let leaves: Vec<(&str, &str)> = identifier
            .fields()
            .iter()
            .map(|f| (f.name.as_str(), f.expr.source()))
            .collect();
        assert_eq!(
            leaves,
            [
                ("identifier.combinator", "\"and\""),
                ("identifier.rules[0].property", "\"arn\""),
                ("identifier.rules[0].operator", "\"=\""),
                ("identifier.rules[0].value", ".CertificateArn"),
            ]
        );
        assert!(r.team.as_ref().is_some_and(Mapped::is_search));
        let relations: Vec<(&str, bool)> = r
            .relations
            .iter()
            .map(|(k, m)| (k.as_str(), m.is_search()))
            .collect();
        assert_eq!(relations, [("account", true), ("plain", false)]);
        let Mapped::Search(account) = &r.relations[0].1 else {
            unreachable!()
        };
        let names: Vec<&str> = account.fields().iter().map(|f| f.name.as_str()).collect();
        assert!(
            names.contains(&"relations.account.rules[1].rules[0].value"),
            "{names:?}"
        );
        // Every leaf is compiled once, with the rest of the resource.
        assert_eq!(r.fields().count(), 4 + 1 + 4 + 1 + 4 + 4);
    }

    #[test]
    fn a_bare_word_in_a_search_query_is_a_jq_error_that_says_how_to_quote_it() {
        let yaml = with_mappings(
            "          identifier: .CertificateArn\n          relations:\n            account: {combinator: and, rules: []}\n",
        );
        let err = Mapping::from_yaml(&yaml, Path::new("m.yml")).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with(
                "m.yml: resources[0] (AWS::ACM::Certificate), field `relations.account.combinator`: \
                 invalid jq expression `and`"
            ),
            "{shown}"
        );
        assert!(shown.contains("'\"and\"'"), "{shown}");
    }

    #[test]
    fn a_misshapen_search_query_or_nested_property_is_refused_with_its_path() {
        let cases = [
            (
                "          identifier: {combinator: '\"and\"', rules: [{property: '\"a\"', operator: '\"=\"', valeu: .x}]}\n",
                "resources[0].port.entity.mappings.identifier.rules[0].valeu",
            ),
            (
                "          identifier: .x\n          relations:\n            account: {combinator: '\"and\"'}\n",
                "resources[0].port.entity.mappings.relations.account.rules",
            ),
            (
                "          identifier: .x\n          team: {combinator: '\"and\"', rules: [{property: '\"a\"', operator: '\"=\"'}]}\n",
                "resources[0].port.entity.mappings.team.rules[0].value",
            ),
            (
                "          identifier: .x\n          relations:\n            account: [.a, .b]\n",
                "resources[0].port.entity.mappings.relations.account",
            ),
            (
                "          identifier: .x\n          properties:\n            tags: {combinator: '\"and\"', rules: []}\n",
                "resources[0].port.entity.mappings.properties.tags",
            ),
        ];
        for (mappings, path) in cases {
            let err = Mapping::from_yaml(&with_mappings(mappings), Path::new("m.yml")).unwrap_err();
            assert!(
                err.to_string().contains(&format!("at `{path}`")),
                "{path}: {err}"
            );
        }
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
