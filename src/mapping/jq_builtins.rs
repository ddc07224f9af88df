//! The jq 1.7 builtins jaq lacks or defines differently from jq, so a mapping written for
//! Ocean (which runs jq) gives the same values here: jq definitions in `jq_builtins.jq`,
//! base32 in Rust.

use jaq_core::native::{Filter, Fun, bome, run, v};
use jaq_core::{Cv, Error, RunPtr, ValXs, load};
use jaq_json::Val;

use super::jq::Data;

/// Parsed once per expression compile, after jaq's own definitions so these take precedence.
pub fn defs() -> impl Iterator<Item = load::parse::Def<&'static str>> {
    load::parse(include_str!("jq_builtins.jq"), |p| p.defs())
        .expect("jq_builtins.jq parses")
        .into_iter()
}

pub fn funs() -> impl Iterator<Item = Fun<Data>> {
    let funs: [Filter<RunPtr<Data>>; 2] = [
        ("encode_base32", v(0), encode_base32),
        ("decode_base32", v(0), decode_base32),
    ];
    funs.into_iter().map(run::<Data>)
}

fn encode_base32(cv: Cv<'_, Data>) -> ValXs<'_, Val> {
    bome(string_bytes(&cv.1).map(|bytes| Val::from(base32_encode(bytes))))
}

fn decode_base32(cv: Cv<'_, Data>) -> ValXs<'_, Val> {
    bome(string_bytes(&cv.1).and_then(|bytes| {
        base32_decode(bytes)
            .map(|decoded| Val::from(String::from_utf8_lossy(&decoded).into_owned()))
            .ok_or_else(|| Error::str("string is not valid base32 data"))
    }))
}

fn string_bytes(val: &Val) -> Result<&[u8], Error<Val>> {
    match val {
        Val::TStr(bytes) | Val::BStr(bytes) => Ok(bytes),
        other => Err(Error::str(format!(
            "{other} cannot be base32-coded, only a string"
        ))),
    }
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 with `=` padding, as jq's `@base32`.
fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut block = [0u8; 5];
        block[..chunk.len()].copy_from_slice(chunk);
        let bits = block.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let symbols = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < symbols {
                out.push(ALPHABET[((bits >> (35 - 5 * i)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The inverse of [`base32_encode`]; padding is optional, anything else is refused.
fn base32_decode(text: &[u8]) -> Option<Vec<u8>> {
    let text: Vec<u8> = text.iter().copied().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut bits, mut count) = (0u64, 0u32);
    for c in text {
        let value = ALPHABET.iter().position(|a| *a == c)?;
        bits = (bits << 5) | value as u64;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use serde_json::Value;

    use super::super::jq::{Expr, Globals, to_json, to_val};

    /// Every builtin a mapping may use on its one input, with an input. jq's first output (or
    /// its error) must be ours.
    const CASES: &[(&str, &str)] = &[
        // Added here (jaq lacks them or differs from jq).
        (r#".x | IN(2, 3)"#, r#"{"x": 3}"#),
        (r#".x | IN(2, 3)"#, r#"{"x": 4}"#),
        (r#"IN(.a[]; 5, 1)"#, r#"{"a": [1, 2]}"#),
        (
            r#"INDEX(.id)"#,
            r#"[{"id": 1, "v": "a"}, {"id": "b", "v": "c"}]"#,
        ),
        (r#"INDEX(.[]; .n)"#, r#"[{"n": "x"}, {"n": "x", "m": 1}]"#),
        (r#"[leaf_paths]"#, r#"{"a": [1, {"b": null, "c": "s"}]}"#),
        (r#"[tostream]"#, r#"{"a": [1, {"b": 2}], "c": []}"#),
        (
            r#"fromstream(tostream)"#,
            r#"{"a": [1, {"b": 2}], "c": []}"#,
        ),
        (
            r#"[1 | truncate_stream([[0], 1], [[1, 0], 2], [[1, 0]], [[1]])]"#,
            "null",
        ),
        (
            r#"walk(if type == "object" then to_entries else . end)"#,
            r#"{"a": {"b": 1}}"#,
        ),
        (
            r#"walk(if type == "array" then sort else . end)"#,
            r#"[3, [2, 1]]"#,
        ),
        (
            r#".Tags | from_entries"#,
            r#"{"Tags": [{"Key": "team", "Value": "core"}]}"#,
        ),
        (
            r#"from_entries"#,
            r#"[{"name": "a", "value": 1}, {"Name": "b", "Value": 2}, {"key": "c", "value": 3}]"#,
        ),
        (r#"with_entries(.value += 1)"#, r#"{"a": 1, "b": 2}"#),
        (r#"join("-")"#, r#"["a", null, 1, true]"#),
        (r#"join(",")"#, "[]"),
        (r#"@csv"#, r#"[1, "a\"b", null, true, 1.5]"#),
        (r#"@tsv"#, r#"["a\tb", "c\\d", "e\nf", null, 2]"#),
        // Already in jaq: checked so a jaq upgrade cannot change a mapping's result silently.
        (r#"inside("foobar")"#, r#""bar""#),
        (r#"inside({"a": 1, "b": 2})"#, r#"{"a": 1}"#),
        (
            r#"contains(["baz", "bar"])"#,
            r#"["foobar", "foobaz", "blarp"]"#,
        ),
        (r#"ltrimstr("arn:")"#, r#""arn:aws:acm""#),
        (r#"rtrimstr(".com")"#, r#""example.com""#),
        (r#"ltrimstr("x")"#, "1"),
        (r#"[splits(", *")]"#, r#""a, b,c""#),
        (r#"[splits("A"; "i")]"#, r#""xaYaz""#),
        (r#"sub("(?<x>[a-z]+)"; "<\(.x)>")"#, r#""ab cd""#),
        (r#"gsub("(?<x>[a-z]+)"; "<\(.x)>")"#, r#""ab cd""#),
        (r#"gsub("A"; "b"; "i")"#, r#""aAa""#),
        (r#"gsub("\\s+"; "")"#, r#"" a b ""#),
        (r#"test("PROD"; "i")"#, r#""prod-1""#),
        (r#"test("a b"; "x")"#, r#""ab""#),
        (r#"[match("a"; "g").offset]"#, r#""banana""#),
        (r#"capture("(?<year>\\d+)-(?<month>\\d+)")"#, r#""2024-06""#),
        (r#"[scan("c")]"#, r#""abcdc""#),
        (r#"split(", ")"#, r#""a, b""#),
        (r#"split("a+"; "g")"#, r#""baab""#),
        (r#"@base64"#, r#""héllo""#),
        (r#"@base64d"#, r#""aMOpbGxv""#),
        (r#"@uri"#, r#""a b&c=d/é""#),
        (r#"@html"#, r#""<a href='x'>&</a>""#),
        (r#"@sh"#, r#"["a b", "it's"]"#),
        (r#"@json"#, r#"{"a": [1, "x"]}"#),
        (r#"@text"#, r#"{"a": 1}"#),
        (r#"getpath(["a", "b"])"#, r#"{"a": {"b": 5}}"#),
        (r#"getpath(["x", "y"])"#, r#"{"a": 1}"#),
        (r#"[paths]"#, r#"{"a": [1, {"b": 2}]}"#),
        (r#"[paths(type == "number")]"#, r#"{"a": [1, {"b": 2}]}"#),
        (r#"setpath(["a", 1]; 9)"#, r#"{"a": [1, 2]}"#),
        (r#"setpath(["a", 0, "b"]; 9)"#, "null"),
        (r#"setpath(["a", 2]; 9)"#, r#"{"a": [1]}"#),
        (r#"setpath([]; 9)"#, "1"),
        (r#"setpath(["a"]; 9)"#, "[]"),
        (r#"delpaths([["a", 0], ["b"]])"#, r#"{"a": [1, 2], "b": 3}"#),
        (r#"del(.a, .c)"#, r#"{"a": 1, "b": 2, "c": 3}"#),
        (r#"to_entries"#, r#"{"a": 1, "b": 2}"#),
        (r#"[limit(3; .[])]"#, r#"[1, 2, 3, 4, 5]"#),
        (r#"first"#, r#"[4, 5]"#),
        (r#"last"#, r#"[4, 5]"#),
        (r#"nth(1)"#, r#"[4, 5]"#),
        (r#"first(.[] | select(. > 4))"#, r#"[4, 5, 6]"#),
        (r#"last(.[])"#, r#"[4, 5, 6]"#),
        (r#"nth(2; .[])"#, r#"[4, 5, 6]"#),
        (r#"[.[] | until(. > 100; . * 2)]"#, r#"[1, 3]"#),
        (r#"[while(. < 20; . * 3)]"#, "1"),
        (r#"[limit(4; repeat(. * 2))]"#, "1"),
        (r#"[recurse(if . < 3 then . + 1 else empty end)]"#, "0"),
        (r#"[recurse(. * .; . < 100)]"#, "2"),
        (r#"[..]"#, r#"[[1]]"#),
        (r#"todate"#, "1700000000"),
        (r#"todate"#, "1700000000.5"),
        (r#"gmtime | todate"#, "1700000000"),
        (r#"ltrimstr("x")"#, r#""ab""#),
        (r#"rtrimstr("")"#, r#""ab""#),
        (r#"rtrimstr("b")"#, r#"{"a": 1}"#),
        (r#"fromdate"#, r#""2023-11-14T22:13:20Z""#),
        (r#"fromdateiso8601"#, r#""2023-11-14T22:13:20Z""#),
        (r#"todateiso8601"#, "1700000000"),
        (
            r#"strptime("%Y-%m-%dT%H:%M:%SZ")"#,
            r#""2023-11-14T22:13:20Z""#,
        ),
        (
            r#"strptime("%Y-%m-%dT%H:%M:%SZ") | mktime"#,
            r#""2023-11-14T22:13:20Z""#,
        ),
        (r#"gmtime"#, "1700000000"),
        (r#"gmtime | todate"#, "1700000000"),
        (r#"strftime("%Y-%m-%d %H:%M")"#, "1700000000"),
        (r#"gmtime | strftime("%A, %B %d, %Y")"#, "1700000000"),
        (r#"now | type"#, "null"),
        (r#"$ENV.PATH | type"#, "null"),
        (r#"env | type"#, "null"),
        (r#"tojson"#, r#"{"a": [1, 2.5, "x", null]}"#),
        (r#"fromjson"#, r#""{\"a\": [1, true]}""#),
        (r#"tostring"#, r#"[1, "a"]"#),
        (r#"tostring"#, r#""a""#),
        (r#"tonumber"#, r#""42""#),
        (r#"tonumber"#, r#""4.5e1""#),
        (r#"tonumber"#, r#""x""#),
        (r#"map(type)"#, r#"[null, true, 1, "a", [], {}]"#),
        (r#"length"#, r#""héllo""#),
        (r#"map(length)"#, r#"[[1, 2], {"a": 1}, null, -3]"#),
        (r#"utf8bytelength"#, r#""héllo""#),
        (r#"keys"#, r#"{"b": 1, "a": 2}"#),
        (r#"keys_unsorted"#, r#"{"b": 1, "a": 2}"#),
        (r#"has("a")"#, r#"{"a": null}"#),
        (r#"map(in({"a": 1}))"#, r#"["a", "b"]"#),
        (r#"map_values(. + 1)"#, r#"{"a": 1, "b": 2}"#),
        (r#"map(select(. > 1))"#, r#"[1, 2, 3]"#),
        (r#"add"#, r#"[1, 2, 3]"#),
        (r#"add"#, r#"["a", "b"]"#),
        (r#"add"#, "[]"),
        (r#"any"#, r#"[false, true]"#),
        (r#"all"#, r#"[true, false]"#),
        (r#"any(. > 2)"#, r#"[1, 3]"#),
        (r#"all(.[]; . > 0)"#, r#"[1, 3]"#),
        (r#"isempty(empty)"#, "null"),
        (r#"flatten"#, r#"[1, [2, [3]]]"#),
        (r#"flatten(1)"#, r#"[1, [2, [3]]]"#),
        (r#"[range(2; 10; 3)]"#, "null"),
        (r#"[range(3)]"#, "null"),
        (r#"map(floor)"#, r#"[1.5, -1.5]"#),
        (r#"map(ceil)"#, r#"[1.5, -1.5]"#),
        (r#"map(round)"#, r#"[1.5, -1.5, 2.4]"#),
        (r#"sqrt"#, "16"),
        (r#"pow(2; 10)"#, "null"),
        (r#"log10"#, "1000"),
        (r#"map(fabs)"#, r#"[-2, 3]"#),
        (r#"[infinite, -infinite] | map(isinfinite)"#, "null"),
        (r#"[nan] | map(isnan)"#, "null"),
        (r#"map(isnormal)"#, r#"[0, 1]"#),
        (r#"sort"#, r#"[3, null, "a", [1], {"a": 1}, true, 1]"#),
        (r#"sort_by(.n)"#, r#"[{"n": 2}, {"n": 1}]"#),
        (
            r#"sort_by(.a, .b)"#,
            r#"[{"a": 1, "b": 2}, {"a": 1, "b": 1}]"#,
        ),
        (r#"group_by(.k)"#, r#"[{"k": 2}, {"k": 1}, {"k": 2}]"#),
        (r#"min_by(.n)"#, r#"[{"n": 2}, {"n": 1}]"#),
        (r#"max_by(.n)"#, r#"[{"n": 2}, {"n": 1}]"#),
        (r#"[min, max]"#, r#"[3, 1, 2]"#),
        (r#"[min, max]"#, "[]"),
        (r#"unique"#, r#"[2, 1, 2]"#),
        (r#"unique_by(length)"#, r#"["ab", "c", "de"]"#),
        (r#"reverse"#, r#"[1, 2, 3]"#),
        (r#"indices(", ")"#, r#""a, b, c""#),
        (r#"indices(1)"#, r#"[0, 1, 2, 1]"#),
        (r#"indices([1, 2])"#, r#"[0, 1, 2, 1, 3, 1, 2]"#),
        (r#"index(","), rindex(",")"#, r#""a,b,c""#),
        (r#"[index(","), rindex(",")]"#, r#""a,b,c""#),
        (r#"startswith("arn:"), endswith("x")"#, r#""arn:x""#),
        (r#"[combinations]"#, r#"[[1, 2], [3, 4]]"#),
        (r#"[combinations(2)]"#, r#"[0, 1]"#),
        (r#"explode"#, r#""aé""#),
        (r#"implode"#, r#"[97, 233]"#),
        (r#"ascii_downcase, ascii_upcase"#, r#""AbÉ""#),
        (r#"[ascii_downcase, ascii_upcase]"#, r#""AbÉ""#),
        (r#"transpose"#, r#"[[1, 2], [3]]"#),
        (r#"[.[] | tostring]"#, r#"[1, "1", [1], null, true]"#),
        (r#"splits("a")"#, r#""bab""#),
        (r#"getpath(["a", 0, "b"])"#, r#"{"a": [{"b": 1}]}"#),
        (r#"error("custom")"#, "null"),
        (r#"try error("x") catch ."#, "null"),
        (r#".a.b"#, r#"{"a": "str"}"#),
        (r#".a?.b"#, r#"{"a": "str"}"#),
        (r#"[.[] | numbers]"#, r#"[1, "a", null]"#),
        (r#"[.[] | strings, nulls]"#, r#"[1, "a", null]"#),
        (r#"[.[] | values]"#, r#"[1, null]"#),
        (r#"[.[] | scalars]"#, r#"[1, [2], {"a": 3}, "x"]"#),
        (r#"[.[] | iterables]"#, r#"[1, [2], {"a": 3}, "x"]"#),
        (
            r#"[.[] | objects, arrays, booleans]"#,
            r#"[1, [2], {"a": 3}, true]"#,
        ),
        (r#"significand"#, "8"),
        (r#"[frexp, modf]"#, "2.5"),
        (r#"ldexp(3; 2)"#, "null"),
        (r#"not"#, "null"),
        (r#"[.[] | not]"#, r#"[true, 0, null, false]"#),
        (r#"path(.a[0].b)"#, "null"),
        (r#"[paths(..)]"#, r#"[[1]]"#),
        (r#"splits(", ")"#, r#""a, b""#),
        (r#"ascii_downcase | test("^arn:aws:")"#, r#""ARN:AWS:x""#),
        (r#"@base32"#, r#""hello""#),
        (r#"@base32d"#, r#""NBSWY3DP""#),
        (r#"env.PATH == $ENV.PATH"#, "null"),
        (r#"toarray"#, "1"),
        (r#"toarray"#, "[1]"),
        (r#"pick(.a.b)"#, r#"{"a": {"b": 1, "c": 2}, "d": 3}"#),
        (r#"abs"#, "-5"),
        (r#"[trim, ltrim, rtrim]"#, r#""  a  ""#),
        (r#"have_literal_numbers"#, "null"),
        (r#"getpath(["a"]) |= . + 1"#, r#"{"a": 1}"#),
        (
            r#"to_entries | map(.key) | join(",")"#,
            r#"{"a": 1, "b": 2}"#,
        ),
        (r#"[splits("a+"; null)]"#, r#""baab""#),
        (r#"limit(1; .[])"#, "[7, 8]"),
        (r#"ltrimstr(1)"#, r#""1a""#),
        (r#"lgamma_r"#, "3"),
    ];

    /// Builtins the installed jq may predate (jq 1.6 lacks them): their jq 1.7 results.
    const JQ_1_7: &[(&str, &str, &str)] = &[
        ("date", "1700000000", r#""2023-11-14T22:13:20Z""#),
        (
            r#"dateadd("seconds"; 60) | todate"#,
            "1700000000",
            r#""2023-11-14T22:14:20Z""#,
        ),
        (
            r#"datesub("seconds"; 60) | todate"#,
            "1700000000",
            r#""2023-11-14T22:12:20Z""#,
        ),
        // jq 1.6 printed the first output here; 1.7 fixed limit(0) to output nothing.
        ("[limit(0; .[])]", "[1, 2]", "[]"),
        // jq 1.7 keeps number literals as written; 1.6 printed 1.
        ("tojson", "1.0", r#""1.0""#),
        ("@base32", r#""hello""#, r#""NBSWY3DP""#),
        ("@base32d", r#""NBSWY3DP""#, r#""hello""#),
        ("toarray", "1", "[1]"),
        ("toarray", "[1]", "[1]"),
        (
            "pick(.a.b)",
            r#"{"a": {"b": 1, "c": 2}, "d": 3}"#,
            r#"{"a": {"b": 1}}"#,
        ),
        ("abs", "-5", "5"),
        (
            "[trim, ltrim, rtrim]",
            r#""  a  ""#,
            r#"["a", "a  ", "  a"]"#,
        ),
        ("have_literal_numbers", "null", "true"),
        ("splits(\"a+\"; null)", r#""baab""#, r#""b""#),
        ("[splits(\"a+\"; null)]", r#""baab""#, r#"["b", "b"]"#),
        ("ltrimstr(1)", r#""1a""#, r#""1a""#),
        ("getpath([\"a\"]) |= . + 1", r#"{"a": 1}"#, r#"{"a": 2}"#),
    ];

    /// What jq does with one input: its first output, an error, or "this jq lacks it".
    #[derive(Debug, PartialEq)]
    enum Jq {
        First(Option<Value>),
        Error,
        Unsupported,
    }

    fn run_jq(jq: &str, expr: &str, input: &str) -> Jq {
        let output = Command::new(jq)
            .args(["-c", &format!("[limit(1; {expr})]")])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(input.as_bytes())?;
                child.wait_with_output()
            })
            .expect("jq runs");
        match output.status.code() {
            Some(0) => {
                let text = String::from_utf8(output.stdout).unwrap();
                let first: Vec<Value> = serde_json::from_str(text.trim()).expect("jq prints JSON");
                Jq::First(first.into_iter().next())
            }
            // jq exits 3 on a compile error: a builtin this jq does not have.
            Some(3) => Jq::Unsupported,
            _ if String::from_utf8_lossy(&output.stderr).contains("is not a valid format") => {
                Jq::Unsupported
            }
            _ => Jq::Error,
        }
    }

    fn run_ours(expr: &str, input: &str) -> Result<Option<Value>, String> {
        let compiled = Expr::compile(expr).map_err(|e| format!("compile: {e}"))?;
        let input: Value = serde_json::from_str(input).unwrap();
        compiled
            .first(&to_val(&input), &Globals::from_process_env())
            .map(|v| v.as_ref().map(to_json))
            .map_err(|e| e.0)
    }

    /// Numbers compare by value: jq prints 3.0 as 3.
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
            }
            _ => a == b,
        }
    }

    fn jq_cli() -> Option<&'static str> {
        let jq = "jq";
        Command::new(jq)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|_| jq)
    }

    #[test]
    fn builtins_give_what_the_jq_cli_gives() {
        let Some(jq) = jq_cli() else {
            eprintln!("jq is not installed: the comparison with the jq CLI is skipped");
            return;
        };
        let mut differences = Vec::new();
        let mut compared = 0;
        for (expr, input) in CASES {
            let ours = run_ours(expr, input);
            match (run_jq(jq, expr, input), &ours) {
                (Jq::Unsupported, _) => {
                    if !JQ_1_7.iter().any(|(e, i, _)| e == expr && i == input) {
                        differences.push(format!(
                            "the installed jq lacks `{expr}` and it has no jq 1.7 result here"
                        ));
                    }
                }
                (Jq::Error, Err(_)) => compared += 1,
                (Jq::First(Some(theirs)), Ok(Some(mine))) if same(&theirs, mine) => compared += 1,
                (Jq::First(None), Ok(None)) => compared += 1,
                (theirs, mine) => {
                    differences.push(format!("`{expr}` on {input}: jq {theirs:?}, ours {mine:?}"))
                }
            }
        }
        assert!(differences.is_empty(), "{}", differences.join("\n"));
        assert!(compared > CASES.len() / 2, "only {compared} compared");
    }

    #[test]
    fn builtins_newer_than_jq_1_6_give_jq_1_7_results() {
        for (expr, input, expected) in JQ_1_7 {
            let expected: Value = serde_json::from_str(expected).unwrap();
            assert_eq!(
                run_ours(expr, input),
                Ok(Some(expected)),
                "`{expr}` on {input}"
            );
        }
    }

    #[test]
    fn base32_round_trips_every_length() {
        let cases = [
            ("", ""),
            ("f", "MY======"),
            ("fo", "MZXQ===="),
            ("foo", "MZXW6==="),
            ("foob", "MZXW6YQ="),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI======"),
        ];
        for (plain, coded) in cases {
            assert_eq!(super::base32_encode(plain.as_bytes()), coded);
            assert_eq!(
                super::base32_decode(coded.as_bytes()).as_deref(),
                Some(plain.as_bytes())
            );
        }
        assert_eq!(super::base32_decode(b"a!"), None);
    }
}
