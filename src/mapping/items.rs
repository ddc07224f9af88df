//! `itemsToParse`: one raw item fanned out into one record per element of an array in it.
//!
//! As Ocean does, each record is the raw item with the element under `itemsToParseName`
//! (default `item`) and, unless `itemsToParseTopLevelTransform: false`, without the parsed
//! array, so an entity never carries the whole list its siblings came from.

use std::sync::LazyLock;

use jaq_json::Val;
use regex::Regex;

use super::jq::{self, Expr, Globals};

/// The compiled `port.itemsToParse*` settings of one resource.
#[derive(Debug)]
pub struct ItemsToParse {
    pub expr: Expr,
    /// The key each element is exposed under.
    pub name: String,
    /// `del(<path of the array>)`, when the array is removed from each record.
    pub remove: Option<Expr>,
}

/// Why the records could not be built; the caller turns it into an item failure.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandError(pub String);

impl ItemsToParse {
    /// Compiles the settings; `compile` names the field in its errors.
    pub fn new<E>(
        source: &str,
        name: &str,
        top_level_transform: bool,
        compile: impl Fn(&str, &str) -> Result<Expr, E>,
    ) -> Result<Self, E> {
        let expr = compile("port.itemsToParse", source)?;
        let remove = match (top_level_transform, deletion_path(source)) {
            (true, Some(path)) => compile("port.itemsToParse", &format!("del({path})")).ok(),
            _ => None,
        };
        Ok(Self {
            expr,
            name: name.to_owned(),
            remove,
        })
    }

    /// The records for one raw item; none when the expression yields null or nothing.
    pub fn expand(&self, item: &Val, globals: &Globals) -> Result<Vec<Val>, ExpandError> {
        if !matches!(item, Val::Obj(_)) {
            return Err(ExpandError("the raw item is not an object".to_owned()));
        }
        let elements = match self.expr.first(item, globals) {
            Ok(Some(Val::Arr(elements))) => elements,
            Ok(None | Some(Val::Null)) => return Ok(Vec::new()),
            Ok(Some(other)) => {
                let shown = jq::to_json(&other).to_string();
                let shown: String = shown.chars().take(60).collect();
                return Err(ExpandError(format!(
                    "itemsToParse must yield an array, got {shown}"
                )));
            }
            Err(e) => return Err(ExpandError(e.0)),
        };
        let base = match &self.remove {
            Some(remove) => match remove.first(item, globals) {
                Ok(Some(trimmed @ Val::Obj(_))) => trimmed,
                Ok(_) => item.clone(),
                Err(e) => return Err(ExpandError(e.0)),
            },
            None => item.clone(),
        };
        let Val::Obj(base) = base else {
            unreachable!("checked to be an object above")
        };
        let key = Val::from(self.name.clone());
        Ok(elements
            .iter()
            .map(|element| {
                let mut record = (*base).clone();
                record.insert(key.clone(), element.clone());
                Val::obj(record)
            })
            .collect())
    }
}

/// The path Ocean deletes from the parent record: the first segment of the expression's
/// pipeline that starts with a plain path (`.a.b`, `.a[0]`, `.["a"]`), skipping `.`,
/// `$var` and `. as $x` segments. `None` when there is no such segment; then the record keeps
/// everything (Ocean would delete `.` itself and fail the item).
pub fn deletion_path(source: &str) -> Option<String> {
    static PATH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(\.\w+|\.\[[^\]]+\])(\.\w+|\[[^\]]+\]|\.\[[^\]]+\])*")
            .expect("deletion path pattern is a valid regex")
    });
    static BINDING: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\.\s+as\s+\$\w+").expect("binding pattern is a valid regex")
    });
    let source = source.trim();
    let chain = match source.strip_prefix('(') {
        Some(rest) => &rest[..rest.find(')')?],
        None => source,
    };
    for segment in chain.split('|').map(str::trim) {
        if BINDING.is_match(segment) || segment == "." || segment.starts_with('$') {
            continue;
        }
        if let Some(path) = PATH.find(segment) {
            return Some(path.as_str().to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deleted_path_is_the_first_plain_path_of_the_pipeline() {
        let cases = [
            (".Tags", Some(".Tags")),
            (".a.b", Some(".a.b")),
            (".Tags // []", Some(".Tags")),
            (".a[0].b | map(.)", Some(".a[0].b")),
            (". as $root | .items", Some(".items")),
            ("(.x.y)", Some(".x.y")),
            (r#".["my key"]"#, Some(r#".["my key"]"#)),
            ("[.a, .b]", None),
            (".", None),
        ];
        for (source, expected) in cases {
            assert_eq!(deletion_path(source).as_deref(), expected, "{source}");
        }
    }
}
