//! Cross-checks a mapping against the blueprints it writes to, before anything runs.

use std::fmt;

use jaq_json::Val;

use crate::blueprints::Blueprints;
use crate::mapping::jq::Globals;
use crate::mapping::{Mapping, Resource};

/// One mapping field that cannot work with the blueprints.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub resource: String,
    pub field: String,
    pub expression: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, field `{}` (`{}`): {}",
            self.resource, self.field, self.expression, self.message
        )
    }
}

/// What `validate` found: problems make the configuration unusable, warnings do not.
#[derive(Debug, Default)]
pub struct Findings {
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
}

/// The blueprint a resource writes to, when its expression does not depend on the item.
pub fn static_blueprint(resource: &Resource, globals: &Globals) -> Option<String> {
    let probe = |input: Val| match resource.blueprint.expr.first(&input, globals) {
        Ok(Some(Val::TStr(b))) => Some(String::from_utf8_lossy(&b).into_owned()),
        _ => None,
    };
    let on_null = probe(Val::Null)?;
    let on_object = probe(crate::mapping::jq::to_val(
        &serde_json::json!({"__probe": 1}),
    ))?;
    (on_null == on_object).then_some(on_null)
}

pub fn check(
    mapping: &Mapping,
    blueprints: &Blueprints,
    is_supported_kind: impl Fn(&str) -> bool,
) -> Findings {
    let globals = &mapping.globals;
    let mut findings = Findings::default();
    for resource in &mapping.resources {
        if !is_supported_kind(&resource.kind) {
            findings.warnings.push(format!(
                "{}: kind `{}` is not one port-aws-sync fetches; this resource is ignored",
                resource.label(),
                resource.kind
            ));
            continue;
        }
        let problem = |field: &str, expression: &str, message: String| Problem {
            resource: resource.label(),
            field: field.to_owned(),
            expression: expression.to_owned(),
            message,
        };
        let blueprint_expr = resource.blueprint.expr.source();
        let Some(blueprint_id) = static_blueprint(resource, globals) else {
            findings.warnings.push(format!(
                "{}: the blueprint is computed from each item (`{blueprint_expr}`), so its properties \
                 cannot be checked before a resync",
                resource.label()
            ));
            continue;
        };
        let Some(blueprint) = blueprints.get(&blueprint_id) else {
            findings.problems.push(problem(
                "blueprint",
                blueprint_expr,
                format!(
                    "blueprint `{blueprint_id}` is not defined in the blueprints directory (known: {})",
                    blueprints.by_id.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
            continue;
        };
        let properties = resource.properties.iter().map(|(key, field)| {
            (
                "property",
                key,
                field.name.as_str(),
                field.expr.source().to_owned(),
                blueprint.properties.contains_key(key),
            )
        });
        let relations = resource.relations.iter().map(|(key, mapped)| {
            (
                "relation",
                key,
                mapped.name(),
                mapped.describe(),
                blueprint.relations.contains_key(key),
            )
        });
        for (what, key, name, source, known) in properties.chain(relations) {
            if !known {
                findings.problems.push(problem(
                    name,
                    &source,
                    format!(
                        "blueprint `{blueprint_id}` ({}) has no {what} `{key}`",
                        blueprint.file.display()
                    ),
                ));
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn check_yaml(resources: &str) -> Findings {
        let mapping = Mapping::from_yaml(&format!("resources:\n{resources}"), Path::new("m.yml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let blueprints = Blueprints::load_dir(Path::new("blueprints")).unwrap();
        check(&mapping, &blueprints, |kind| kind.starts_with("AWS::"))
    }

    #[test]
    fn shipped_mapping_matches_shipped_blueprints() {
        let mapping = Mapping::load(Path::new("mapping/port-app-config.yml")).unwrap();
        let blueprints = Blueprints::load_dir(Path::new("blueprints")).unwrap();
        let findings = check(&mapping, &blueprints, |_| true);
        assert!(findings.problems.is_empty(), "{:?}", findings.problems);
        assert!(findings.warnings.is_empty(), "{:?}", findings.warnings);
    }

    #[test]
    fn unknown_property_relation_and_blueprint_are_named() {
        let findings = check_yaml(
            r#"
  - kind: AWS::ACM::Certificate
    port:
      entity:
        mappings:
          identifier: .CertificateArn
          blueprint: '"acmCertificate"'
          properties:
            expiry: .NotAfter
          relations:
            owner: .__AccountId
  - kind: AWS::SecretsManager::Secret
    port:
      entity:
        mappings:
          identifier: .ARN
          blueprint: '"secret"'
"#,
        );
        let shown: Vec<String> = findings.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(
            shown[0].starts_with(
                "resources[0] (AWS::ACM::Certificate), field `properties.expiry` (`.NotAfter`): \
             blueprint `acmCertificate` (blueprints/acmCertificate.json) has no property `expiry`"
            ),
            "{}",
            shown[0]
        );
        assert!(shown[1].contains("field `relations.owner`"), "{}", shown[1]);
        assert!(
            shown[2].contains("blueprint `secret` is not defined"),
            "{}",
            shown[2]
        );
    }

    #[test]
    fn unsupported_kind_and_dynamic_blueprint_are_warnings() {
        let findings = check_yaml(
            r#"
  - kind: Other::Kind
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"x"'
  - kind: AWS::ACM::Certificate
    port:
      entity:
        mappings:
          identifier: .CertificateArn
          blueprint: .bp
"#,
        );
        assert!(findings.problems.is_empty());
        assert_eq!(findings.warnings.len(), 2, "{:?}", findings.warnings);
    }
}
