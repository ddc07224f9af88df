//! jq expressions: compiled once with jaq, evaluated per item.

use std::fmt;
use std::sync::Arc;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data};
use jaq_json::Val;
use serde_json::Value;

pub(super) type Data = data::JustLut<Val>;
type Filter = jaq_core::Filter<Data>;

/// A compiled jq expression together with its source text, for error messages.
pub struct Expr {
    source: Arc<str>,
    filter: Filter,
    shortcut: Option<Shortcut>,
}

/// Most mapping expressions are a plain field path (`.CertificateArn`) or a literal
/// (`'"awsAccount"'`, `'true'`). Those are answered straight from the JSON item, with jq's
/// results, so the item is converted for jaq only when a real jq program needs it.
#[derive(Debug, Clone)]
enum Shortcut {
    Literal(Value),
    Path(Vec<String>),
}

impl Shortcut {
    fn recognise(source: &str) -> Option<Self> {
        let source = source.trim();
        if source == "." {
            return Some(Self::Path(Vec::new()));
        }
        if let Some(rest) = source.strip_prefix('.') {
            let keys: Vec<&str> = rest.split('.').collect();
            let plain = |k: &&str| {
                let mut chars = k.chars();
                chars
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            return keys
                .iter()
                .all(plain)
                .then(|| Self::Path(keys.into_iter().map(str::to_owned).collect()));
        }
        // JSON scalars are spelled the same in jq; anything else (`\(...)`, arrays) goes to jq.
        match serde_json::from_str::<Value>(source) {
            Ok(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null)) => {
                Some(Self::Literal(v))
            }
            _ => None,
        }
    }

    /// `None` when jq would raise an error (indexing a non-object): jaq then reports it.
    fn apply(&self, item: &Value) -> Option<Value> {
        match self {
            Self::Literal(v) => Some(v.clone()),
            Self::Path(keys) => {
                let mut at = item;
                for key in keys {
                    match at {
                        Value::Object(map) => match map.get(key) {
                            Some(v) => at = v,
                            None => return Some(Value::Null),
                        },
                        Value::Null => return Some(Value::Null),
                        _ => return None,
                    }
                }
                Some(at.clone())
            }
        }
    }
}

/// One input item: JSON as fetched, converted for jaq at most once and only when needed.
pub struct Item<'a> {
    json: Option<&'a Value>,
    val: std::cell::OnceCell<Val>,
}

impl<'a> Item<'a> {
    pub fn json(json: &'a Value) -> Self {
        Self {
            json: Some(json),
            val: std::cell::OnceCell::new(),
        }
    }

    pub fn val(val: Val) -> Self {
        Self {
            json: None,
            val: std::cell::OnceCell::from(val),
        }
    }

    pub fn as_val(&self) -> &Val {
        self.val
            .get_or_init(|| to_val(self.json.unwrap_or(&Value::Null)))
    }
}

/// The variables every expression sees; `$ENV` is the process environment, as in jq.
#[derive(Clone)]
pub struct Globals {
    env: Val,
}

impl fmt::Debug for Globals {
    // The environment may hold secrets: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Globals { env: *** }")
    }
}

impl Globals {
    pub fn from_process_env() -> Self {
        let env = std::env::vars()
            .map(|(k, v)| (Val::from(k), Val::from(v)))
            .collect();
        Self { env: Val::obj(env) }
    }
}

/// Why an expression did not compile: a syntax error or an undefined name.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileError {
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A jq runtime error, such as indexing a string or a failed `tonumber`.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Expr {
    pub fn compile(source: &str) -> Result<Self, CompileError> {
        let original = source;
        let rewritten = single_quotes_to_jq(source);
        let source: &str = &rewritten;
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs())
            .chain(super::jq_builtins::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs())
            .chain(super::jq_builtins::funs());
        let arena = Arena::default();
        let loader = Loader::new(defs);
        let modules = loader
            .load(
                &arena,
                File {
                    code: source,
                    path: (),
                },
            )
            .map_err(|errs| CompileError {
                message: describe_load_errors(source, errs),
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .with_global_vars(["$ENV"])
            .compile(modules)
            .map_err(|errs| CompileError {
                message: describe_compile_errors(errs),
            })?;
        Ok(Self {
            source: original.into(),
            filter,
            shortcut: Shortcut::recognise(source),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The first output on `item` as JSON, or `None` when the expression yields nothing.
    pub fn first_json(
        &self,
        item: &Item<'_>,
        globals: &Globals,
    ) -> Result<Option<Value>, EvalError> {
        if let (Some(shortcut), Some(json)) = (&self.shortcut, item.json)
            && let Some(value) = shortcut.apply(json)
        {
            return Ok(Some(value));
        }
        Ok(self.first(item.as_val(), globals)?.as_ref().map(to_json))
    }

    /// The first output of the expression on `input`, or `None` when it yields nothing.
    ///
    /// Ocean takes the first output of every mapping expression; later outputs are never
    /// computed because the output stream is lazy.
    pub fn first(&self, input: &Val, globals: &Globals) -> Result<Option<Val>, EvalError> {
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([globals.env.clone()]));
        match self.filter.id.run((ctx, input.clone())).next() {
            None => Ok(None),
            Some(Ok(v)) => Ok(Some(v)),
            Some(Err(exn)) => Err(EvalError(match exn.get_err() {
                Ok(err) => err.to_string(),
                Err(_) => "the expression stopped early (halt or break)".to_owned(),
            })),
        }
    }
}

/// Ocean accepts `'...'` strings in jq (Port's docs use them: `.org + '/' + .repo`) by turning
/// them into jq strings before compiling. A `'` inside a double-quoted string, or in a comment,
/// is left alone; one in `"\(...)"` interpolated code is a string again. An unterminated `'`
/// is left for jaq to report.
pub fn single_quotes_to_jq(source: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if !source.contains('\'') {
        return Cow::Borrowed(source);
    }
    enum State {
        Code,
        Str,
    }
    let mut out = String::with_capacity(source.len() + 8);
    let mut chars = source.chars();
    let mut state = State::Code;
    // One entry per open `\(`: how many plain parentheses are open inside it.
    let mut interpolations: Vec<usize> = Vec::new();
    while let Some(c) = chars.next() {
        match state {
            State::Str => {
                out.push(c);
                match c {
                    '\\' => {
                        let Some(next) = chars.next() else { break };
                        out.push(next);
                        if next == '(' {
                            interpolations.push(0);
                            state = State::Code;
                        }
                    }
                    '"' => state = State::Code,
                    _ => {}
                }
            }
            State::Code => match c {
                '"' => {
                    out.push(c);
                    state = State::Str;
                }
                '#' => {
                    out.push(c);
                    for c in chars.by_ref() {
                        out.push(c);
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '(' => {
                    out.push(c);
                    if let Some(depth) = interpolations.last_mut() {
                        *depth += 1;
                    }
                }
                ')' => {
                    out.push(c);
                    match interpolations.last_mut() {
                        Some(0) => {
                            interpolations.pop();
                            state = State::Str;
                        }
                        Some(depth) => *depth -= 1,
                        None => {}
                    }
                }
                '\'' => {
                    out.push('"');
                    loop {
                        match chars.next() {
                            None => return Cow::Borrowed(source),
                            Some('\'') => break,
                            Some('"') => out.push_str("\\\""),
                            Some('\\') => match chars.next() {
                                None => return Cow::Borrowed(source),
                                Some('\'') => out.push('\''),
                                Some(next) => {
                                    out.push('\\');
                                    out.push(next);
                                }
                            },
                            Some(other) => out.push(other),
                        }
                    }
                    out.push('"');
                }
                _ => out.push(c),
            },
        }
    }
    Cow::Owned(out)
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

fn offset_in(source: &str, part: &str) -> Option<usize> {
    let start = source.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    (at >= start && at <= start + source.len()).then(|| at - start)
}

fn near(source: &str, part: &str) -> String {
    match offset_in(source, part) {
        Some(at) if part.is_empty() => format!("at the end (column {})", at + 1),
        Some(at) => format!("at column {} (`{}`)", at + 1, shorten(part)),
        None => format!("near `{}`", shorten(part)),
    }
}

fn shorten(s: &str) -> String {
    let s: String = s.chars().take(20).collect();
    s.trim_end().to_owned()
}

fn describe_load_errors<P>(source: &str, errs: jaq_core::load::Errors<&str, P>) -> String {
    use jaq_core::load::Error;
    let mut messages = Vec::new();
    for (_, err) in errs {
        match err {
            Error::Io(list) => {
                for (path, e) in list {
                    messages.push(format!("cannot import {path}: {e}"));
                }
            }
            Error::Lex(list) => {
                for (expect, found) in list {
                    messages.push(format!(
                        "syntax error: expected {} {}",
                        expect.as_str(),
                        near(source, found)
                    ));
                }
            }
            Error::Parse(list) => {
                for (expect, found) in list {
                    messages.push(format!(
                        "syntax error: expected {} {}",
                        expect.as_str(),
                        near(source, found)
                    ));
                }
            }
        }
    }
    messages.join("; ")
}

fn describe_compile_errors<P>(errs: jaq_core::compile::Errors<&str, P>) -> String {
    let mut messages = Vec::new();
    for (_, list) in errs {
        for (name, undefined) in list {
            messages.push(format!("undefined {} `{name}`", undefined.as_str()));
        }
    }
    messages.join("; ")
}

/// Converts a JSON value into jaq's value type; done once per raw item.
///
/// Written out rather than going through jaq-json's serde support: sizing each object up
/// front saves the rehashing that dominated the mapping stage's profile.
pub fn to_val(value: &Value) -> Val {
    match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => number_to_val(n),
        Value::String(s) => Val::from(s.clone()),
        Value::Array(items) => Val::Arr(items.iter().map(to_val).collect::<Vec<_>>().into()),
        Value::Object(map) => {
            let mut object = jaq_json::Map::with_capacity_and_hasher(map.len(), Default::default());
            for (k, v) in map {
                object.insert(Val::from(k.clone()), to_val(v));
            }
            Val::obj(object)
        }
    }
}

fn number_to_val(n: &serde_json::Number) -> Val {
    if let Some(i) = n.as_i64().and_then(|i| isize::try_from(i).ok()) {
        Val::Num(jaq_json::Num::Int(i))
    } else if let Some(f) = n.as_f64().filter(|_| !n.is_u64()) {
        Val::Num(jaq_json::Num::Float(f))
    } else {
        // Integers beyond isize keep all their digits, as jq does.
        Val::Num(jaq_json::Num::Dec(jaq_json::Rc::new(n.to_string())))
    }
}

/// Converts a jaq output back into JSON for the entity.
pub fn to_json(val: &Val) -> Value {
    match val {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => number_to_json(n),
        Val::TStr(bytes) | Val::BStr(bytes) => {
            Value::String(String::from_utf8_lossy(bytes).into_owned())
        }
        Val::Arr(items) => Value::Array(items.iter().map(to_json).collect()),
        Val::Obj(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (key_to_string(k), to_json(v)))
                .collect(),
        ),
    }
}

fn key_to_string(key: &Val) -> String {
    match key {
        Val::TStr(bytes) | Val::BStr(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        other => other.to_string(),
    }
}

fn number_to_json(n: &jaq_json::Num) -> Value {
    use jaq_json::Num;
    match n {
        Num::Int(i) => Value::from(*i as i64),
        Num::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        // Decimal literals and big integers keep their digits, as jq prints them.
        Num::Dec(_) | Num::BigInt(_) => {
            let text = Val::Num(n.clone()).to_string();
            serde_json::from_str::<serde_json::Number>(&text)
                .map(Value::Number)
                .unwrap_or_else(|_| Value::String(text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(expr: &str, input: Value) -> Result<Option<Value>, EvalError> {
        let expr = Expr::compile(expr).expect("compiles");
        let globals = Globals::from_process_env();
        expr.first(&to_val(&input), &globals)
            .map(|v| v.as_ref().map(to_json))
    }

    #[test]
    fn first_output_wins() {
        assert_eq!(eval(".[]", json!([3, 4, 5])).unwrap(), Some(json!(3)));
        assert_eq!(eval("empty", json!({})).unwrap(), None);
    }

    #[test]
    fn builtins_real_mappings_use() {
        let item = json!({"JoinedTimestamp": "2023-06-15 09:00:00+00:00", "Name": "Prod-Account",
            "Tags": [{"Key": "team", "Value": "core"}], "N": "42"});
        let cases = [
            (
                r#".JoinedTimestamp | sub(" "; "T")"#,
                json!("2023-06-15T09:00:00+00:00"),
            ),
            (
                r#".Name | gsub("-"; "_") | ascii_downcase"#,
                json!("prod_account"),
            ),
            (r#".Name | test("prod"; "i")"#, json!(true)),
            (r#".Name | split("-") | join("+")"#, json!("Prod+Account")),
            (r#".N | tonumber"#, json!(42)),
            (r#"(.N | tonumber) + 1 | tostring"#, json!("43")),
            (
                r#".Tags | map(select(.Key == "team")) | .[0].Value"#,
                json!("core"),
            ),
            (
                r#".Tags | map({key: .Key, value: .Value}) | from_entries"#,
                json!({"team": "core"}),
            ),
            (r#"{a: 1} | to_entries | .[0].key"#, json!("a")),
            (r#".Missing // "fallback""#, json!("fallback")),
            (r#""acct-\(.N)""#, json!("acct-42")),
            (r#"$ENV | type"#, json!("object")),
            (r#"env | type"#, json!("object")),
        ];
        for (expr, expected) in cases {
            assert_eq!(eval(expr, item.clone()).unwrap(), Some(expected), "{expr}");
        }
    }

    #[test]
    fn env_reads_the_process_environment() {
        // PATH is set for every test process.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(eval("$ENV.PATH", json!(null)).unwrap(), Some(json!(path)));
        assert_eq!(eval("env.PATH", json!(null)).unwrap(), Some(json!(path)));
    }

    #[test]
    fn syntax_error_points_at_the_problem() {
        let err = Expr::compile(".Name | sub(\"a\"; ").unwrap_err();
        assert!(err.message.contains("syntax error"), "{}", err.message);
        let err = Expr::compile(".a | nosuchfn").unwrap_err();
        assert!(
            err.message.contains("undefined filter `nosuchfn`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn runtime_error_is_reported() {
        let err = eval(".Name | tonumber", json!({"Name": "abc"})).unwrap_err();
        assert!(!err.0.is_empty());
        let err = eval(".a.b", json!({"a": "text"})).unwrap_err();
        assert!(err.0.contains("index"), "{}", err.0);
    }

    #[test]
    fn shortcuts_answer_as_jq_does() {
        let globals = Globals::from_process_env();
        let item = json!({"a": {"b": "x"}, "s": "text", "n": null, "arr": [1]});
        for source in [
            ".a.b", ".a", ".missing", ".n.deep", ".", r#""lit""#, "true", "42", "null",
        ] {
            let expr = Expr::compile(source).unwrap();
            assert!(expr.shortcut.is_some(), "{source} should take the shortcut");
            let fast = expr.first_json(&Item::json(&item), &globals).unwrap();
            let slow = expr
                .first(&to_val(&item), &globals)
                .unwrap()
                .as_ref()
                .map(to_json);
            assert_eq!(fast, slow, "{source}");
        }
        // Indexing a string or an array is a jq error, reported by jaq itself.
        for source in [".s.x", ".arr.x"] {
            let expr = Expr::compile(source).unwrap();
            assert!(
                expr.first_json(&Item::json(&item), &globals).is_err(),
                "{source}"
            );
        }
        for source in [".a | .b", r#""a\(1)""#, ".a?", "[1]", ".a[0]"] {
            assert!(
                Expr::compile(source).unwrap().shortcut.is_none(),
                "{source}"
            );
        }
    }

    #[test]
    fn single_quoted_strings_are_jq_strings() {
        let item = json!({"org": "port", "repo": "ocean", "q": "it's"});
        let cases = [
            (".org + '/' + .repo", json!("port/ocean")),
            ("'awsAccount'", json!("awsAccount")),
            (r#"'say "hi"'"#, json!("say \"hi\"")),
            (r#"'it\'s'"#, json!("it's")),
            (r#"'tab\there'"#, json!("tab\there")),
            // A `'` inside a double-quoted string is an apostrophe, not a string.
            (r#""it's " + .org"#, json!("it's port")),
            (r#".q == "it's""#, json!(true)),
            // Interpolated code is code again, where `'` starts a string.
            (
                r#""\(.org + '-' + (.repo | ascii_upcase))'s""#,
                json!("port-OCEAN's"),
            ),
            ("[.org, 'x'] | join(',')", json!("port,x")),
        ];
        for (expr, expected) in cases {
            assert_eq!(eval(expr, item.clone()).unwrap(), Some(expected), "{expr}");
        }
        // Literals written with single quotes still take the shortcut.
        assert!(Expr::compile("'awsAccount'").unwrap().shortcut.is_some());
        // The source kept for messages is what the user wrote.
        assert_eq!(Expr::compile("'a'").unwrap().source(), "'a'");
    }

    #[test]
    fn single_quote_rewrite_leaves_other_text_alone() {
        assert_eq!(
            single_quotes_to_jq(".a | ascii_downcase"),
            ".a | ascii_downcase"
        );
        assert_eq!(single_quotes_to_jq(r#"."it's""#), r#"."it's""#);
        assert_eq!(
            single_quotes_to_jq(".a # it's a comment"),
            ".a # it's a comment"
        );
        assert_eq!(single_quotes_to_jq(".a + 'b'"), r#".a + "b""#);
        // An unterminated single quote is left for jaq to report as a syntax error.
        assert_eq!(single_quotes_to_jq(".a + 'b"), ".a + 'b");
        assert!(Expr::compile(".a + 'b").is_err());
    }

    #[test]
    fn numbers_round_trip() {
        assert_eq!(eval(".", json!(1.5)).unwrap(), Some(json!(1.5)));
        assert_eq!(
            eval(".", json!(12345678901234_i64)).unwrap(),
            Some(json!(12345678901234_i64))
        );
        assert_eq!(eval("1 / 4", json!(null)).unwrap(), Some(json!(0.25)));
    }
}
