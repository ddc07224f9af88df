//! Search queries in a mapping: an identifier, team or relation given as `{combinator, rules}`
//! (Ocean's `IngestSearchQuery`) instead of one jq expression. As in Ocean, every value in it
//! (`combinator`, each rule's `property`, `operator` and `value`) is a jq expression, so a
//! literal is written `'"and"'`; the evaluated query goes to Port as it is, and Port resolves
//! it when the entity is written.

use serde_json::{Map, Value};

use super::compiled::Field;

/// A compiled search query: `name` is its place in the entity (`relations.account`).
#[derive(Debug)]
pub struct SearchQuery {
    pub name: String,
    pub combinator: Field,
    pub rules: Vec<Rule>,
}

/// One entry of `rules`: a rule, or a nested query.
// Compiled once per mapping, a handful at most: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Rule {
    Match {
        property: Field,
        operator: Field,
        value: Field,
    },
    Nested(SearchQuery),
}

/// The text of one jq leaf: a string as it is; a YAML number, boolean or null as the jq
/// literal it spells.
pub fn leaf_source(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) | Value::Null => Some(value.to_string()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

impl SearchQuery {
    /// Compiles `value` (an object with exactly `combinator` and `rules`); `leaf` turns one
    /// jq leaf (its name and text) into a field, `shape` explains a value that is not a
    /// search query Ocean accepts (the dotted path under the mapping, and why).
    pub fn compile<E>(
        name: &str,
        value: &Map<String, Value>,
        leaf: &impl Fn(String, &str) -> Result<Field, E>,
        shape: &impl Fn(String, &str) -> E,
    ) -> Result<Self, E> {
        if let Some(extra) = value.keys().find(|k| *k != "combinator" && *k != "rules") {
            return Err(shape(
                format!("{name}.{extra}"),
                "unknown key in a search query (expected `combinator` and `rules`)",
            ));
        }
        let Some(combinator) = value.get("combinator").and_then(leaf_source) else {
            return Err(shape(
                format!("{name}.combinator"),
                "a search query needs `combinator`, a jq expression such as '\"and\"'",
            ));
        };
        let Some(Value::Array(entries)) = value.get("rules") else {
            return Err(shape(
                format!("{name}.rules"),
                "a search query needs `rules`, a list of rules",
            ));
        };
        let combinator = leaf(format!("{name}.combinator"), &combinator)?;
        let mut rules = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let at = format!("{name}.rules[{i}]");
            let Some(entry) = entry.as_object() else {
                return Err(shape(
                    at,
                    "a rule is a mapping of `property`, `operator` and `value`, or a nested query",
                ));
            };
            if entry.contains_key("combinator") || entry.contains_key("rules") {
                rules.push(Rule::Nested(Self::compile(&at, entry, leaf, shape)?));
                continue;
            }
            if let Some(extra) = entry
                .keys()
                .find(|k| !["property", "operator", "value"].contains(&k.as_str()))
            {
                return Err(shape(
                    format!("{at}.{extra}"),
                    "unknown key in a rule (expected `property`, `operator` and `value`)",
                ));
            }
            let part = |key: &str| match entry.get(key) {
                Some(v) => match leaf_source(v) {
                    Some(source) => leaf(format!("{at}.{key}"), &source),
                    None => Err(shape(
                        format!("{at}.{key}"),
                        "expected a jq expression (a string)",
                    )),
                },
                None => Err(shape(
                    format!("{at}.{key}"),
                    "a rule needs `property`, `operator` and `value`",
                )),
            };
            rules.push(Rule::Match {
                property: part("property")?,
                operator: part("operator")?,
                value: part("value")?,
            });
        }
        Ok(SearchQuery {
            name: name.to_owned(),
            combinator,
            rules,
        })
    }

    /// Every jq leaf, in mapping order.
    pub fn fields(&self) -> Vec<&Field> {
        let mut out = vec![&self.combinator];
        for rule in &self.rules {
            match rule {
                Rule::Match {
                    property,
                    operator,
                    value,
                } => out.extend([property, operator, value]),
                Rule::Nested(nested) => out.extend(nested.fields()),
            }
        }
        out
    }

    /// The query with every leaf evaluated by `leaf`, as Port takes it.
    pub fn evaluate<'q, E>(
        &'q self,
        leaf: &mut impl FnMut(&'q Field) -> Result<Value, E>,
    ) -> Result<Map<String, Value>, E> {
        let mut rules = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            rules.push(match rule {
                Rule::Match {
                    property,
                    operator,
                    value,
                } => {
                    let mut m = Map::new();
                    m.insert("property".into(), leaf(property)?);
                    m.insert("operator".into(), leaf(operator)?);
                    m.insert("value".into(), leaf(value)?);
                    Value::Object(m)
                }
                Rule::Nested(nested) => Value::Object(nested.evaluate(leaf)?),
            });
        }
        let mut query = Map::new();
        query.insert("combinator".into(), leaf(&self.combinator)?);
        query.insert("rules".into(), Value::Array(rules));
        Ok(query)
    }
}
