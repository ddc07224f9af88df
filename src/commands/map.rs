//! `map`: apply the mapping to raw items read as NDJSON, print the entities as NDJSON.
//!
//! Offline (no AWS, no Port, no blueprints) and streaming: one line is read, mapped and
//! written at a time, so memory does not grow with the input.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::Exit;
use crate::app::SetupError;
use crate::cli::{ConfigFiles, MapArgs};
use crate::mapping::{FieldError, KindStats, Mapping, Outcome, Transformer};

const BUFFER: usize = 256 * 1024;

/// What a `map` run did, for the summary line and the exit code.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MapReport {
    pub stats: KindStats,
    /// Lines that were not one JSON value; skipped.
    pub bad_lines: u64,
    /// Reading the input or writing the entities failed; the run stopped there.
    pub io_error: Option<String>,
    /// Fields that mapped to null for some item (kept as null), as `resources[i] (kind) field`.
    pub null_fields: Vec<String>,
    /// Fields whose expression failed on some item, written as null; once per field.
    pub field_errors: Vec<FieldError>,
}

impl MapReport {
    pub fn exit(&self) -> Exit {
        if self.stats.failed == 0 && self.bad_lines == 0 && self.io_error.is_none() {
            Exit::Success
        } else {
            Exit::Failures
        }
    }
}

impl fmt::Display for MapReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "{} items, {} entities, {} filtered out, {} skipped (no identifier or blueprint), \
             {} failed, {} bad line(s)",
            s.items, s.entities, s.filtered, s.skipped, s.failed, self.bad_lines
        )
    }
}

pub fn run(files: &ConfigFiles, args: &MapArgs) -> Result<Exit, SetupError> {
    let mapping = Mapping::load(files.mapping())?;
    check_kind(&mapping, &args.kind).map_err(SetupError::Usage)?;
    let stdin = args.input == Path::new("-");
    let name = if stdin {
        "stdin".to_owned()
    } else {
        args.input.display().to_string()
    };
    let input: Box<dyn BufRead> = if stdin {
        Box::new(BufReader::with_capacity(BUFFER, io::stdin()))
    } else {
        match File::open(&args.input) {
            Ok(file) => Box::new(BufReader::with_capacity(BUFFER, file)),
            Err(e) => return Err(SetupError::Usage(format!("--input {name}: {e}"))),
        }
    };
    let stdout = io::stdout();
    let out = BufWriter::with_capacity(BUFFER, stdout.lock());
    let stderr = io::stderr();
    let report = map_lines(&mapping, &args.kind, &name, input, out, stderr.lock());
    if let Some(e) = &report.io_error {
        eprintln!("error: {e}");
    }
    if !report.null_fields.is_empty() {
        eprintln!(
            "note: fields that mapped to null for some items (kept as null): {}",
            report.null_fields.join(", ")
        );
    }
    eprintln!("map {}: {report}", args.kind);
    Ok(report.exit())
}

/// The kind must be one the mapping maps; the message lists those it does.
pub fn check_kind(mapping: &Mapping, kind: &str) -> Result<(), String> {
    let kinds = mapping.kinds();
    if kinds.contains(&kind) {
        return Ok(());
    }
    let listed = if kinds.is_empty() {
        "it maps no kind".to_owned()
    } else {
        format!("it maps {}", kinds.join(", "))
    };
    Err(format!(
        "--kind {kind}: {} has no resource for this kind; {listed}",
        mapping.file.display()
    ))
}

/// Maps every line of `input` (NDJSON raw items of `kind`) and writes one entity per line to
/// `out`. Each bad line and item failure is reported on `errors` with its line number in
/// `name`; the other lines go on. Blank lines are ignored.
pub fn map_lines(
    mapping: &Mapping,
    kind: &str,
    name: &str,
    mut input: impl BufRead,
    mut out: impl Write,
    mut errors: impl Write,
) -> MapReport {
    let mut transformer = Transformer::new(mapping);
    let mut report = MapReport::default();
    let mut line = Vec::with_capacity(4096);
    let mut parser = ItemParser::default();
    let mut number: u64 = 0;
    let mut write_error: Option<io::Error> = None;
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => number += 1,
            Err(e) => {
                report.io_error = Some(format!("reading {name} after line {number}: {e}"));
                break;
            }
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let item = match parser.parse(text) {
            Ok(item) => item,
            Err(message) => {
                report.bad_lines += 1;
                let _ = writeln!(
                    errors,
                    "error: {name} line {number}: not a JSON value, line skipped: {message}"
                );
                continue;
            }
        };
        transformer.map_json(kind, &item, &mut |outcome| match outcome {
            Outcome::Entity(entity) => {
                if write_error.is_none()
                    && let Err(e) = super::write_entity(&mut out, &entity)
                {
                    write_error = Some(e);
                }
            }
            Outcome::Failed(failure) => {
                let _ = writeln!(errors, "error: {name} line {number}: {failure}");
            }
        });
        if write_error.is_some() {
            break;
        }
    }
    if let Err(e) = out.flush() {
        write_error.get_or_insert(e);
    }
    if let Some(e) = write_error {
        report.io_error = Some(format!("writing entities to stdout failed: {e}"));
    }
    report.stats = transformer.stats().get(kind).cloned().unwrap_or_default();
    report.null_fields = transformer.null_fields();
    report.field_errors = transformer.field_errors().to_vec();
    for error in &report.field_errors {
        let _ = writeln!(errors, "warning: {name}: {error}");
    }
    report
}

/// Parses raw items, one line each, into JSON values as `serde_json::from_str` does.
///
/// Faster on NDJSON of one kind: the line is checked to be UTF-8 once rather than string by
/// string, and an item's top-level object is sized up front from the previous item's field
/// count, which spares the growth and rehashing of its field map.
#[derive(Default)]
struct ItemParser {
    fields: usize,
}

impl ItemParser {
    /// At most this many fields are reserved ahead, whatever the previous item had.
    const MAX_RESERVED: usize = 256;

    fn parse(&mut self, line: &[u8]) -> Result<Value, String> {
        let text = std::str::from_utf8(line)
            .map_err(|e| format!("invalid UTF-8 at column {}", e.valid_up_to() + 1))?;
        let value = if text.starts_with('{') {
            let mut de = serde_json::Deserializer::from_str(text);
            TopObject {
                fields: self.fields,
            }
            .deserialize(&mut de)
            .and_then(|value| de.end().map(|()| value))
        } else {
            serde_json::from_str(text)
        }
        .map_err(|e| json_error(&e))?;
        if let Value::Object(map) = &value {
            self.fields = map.len().min(Self::MAX_RESERVED);
        }
        Ok(value)
    }
}

/// A JSON object whose map has room for `fields` entries from the start; values below it are
/// plain `serde_json::Value`s.
struct TopObject {
    fields: usize,
}

impl<'de> DeserializeSeed<'de> for TopObject {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopObject {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::with_capacity(self.fields);
        while let Some((key, value)) = access.next_entry::<String, Value>()? {
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// serde's message with the column; its "line 1" is meaningless for a single line.
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&position) {
        Some(message) => format!("{message} at column {}", e.column()),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPPING: &str = r#"
resources:
  - kind: Test::Thing
    selector:
      query: '.Keep != false'
    port:
      entity:
        mappings:
          identifier: .Id
          blueprint: '"thing"'
          properties:
            n: .Name | tonumber
"#;

    fn run(input: &str) -> (MapReport, String, String) {
        let mapping = Mapping::from_yaml(MAPPING, Path::new("m.yml")).unwrap();
        let mut out = Vec::new();
        let mut errors = Vec::new();
        let report = map_lines(
            &mapping,
            "Test::Thing",
            "in.ndjson",
            input.as_bytes(),
            &mut out,
            &mut errors,
        );
        (
            report,
            String::from_utf8(out).unwrap(),
            String::from_utf8(errors).unwrap(),
        )
    }

    #[test]
    fn maps_good_lines_and_reports_bad_ones_by_line_number() {
        let input = "{\"Id\":\"a\",\"Name\":\"1\"}\n\
                     \n\
                     {oops\n\
                     {\"Id\":[\"b\"],\"Name\":\"2\"}\n\
                     {\"Id\":\"c\",\"Name\":\"3\",\"Keep\":false}\r\n  \t\n\
                     {\"Id\":\"d\",\"Name\":\"4\"}";
        let (report, out, errors) = run(input);
        assert_eq!(
            out,
            "{\"identifier\":\"a\",\"blueprint\":\"thing\",\"properties\":{\"n\":1},\"relations\":{}}\n\
             {\"identifier\":\"d\",\"blueprint\":\"thing\",\"properties\":{\"n\":4},\"relations\":{}}\n"
        );
        let lines: Vec<&str> = errors.lines().collect();
        assert_eq!(lines.len(), 2, "{errors}");
        assert_eq!(
            lines[0],
            "error: in.ndjson line 3: not a JSON value, line skipped: key must be a string at column 2"
        );
        // An identifier that is not a string fails the item; a failing property would not.
        assert_eq!(
            lines[1],
            "error: in.ndjson line 4: resources[0] (Test::Thing), field `identifier`, \
             expression `.Id`: expected a string, got [\"b\"]"
        );
        assert_eq!(
            report.stats,
            KindStats {
                items: 4,
                entities: 2,
                filtered: 1,
                skipped: 0,
                failed: 1,
                field_errors: 0,
            }
        );
        assert_eq!(report.bad_lines, 1);
        assert_eq!(report.exit(), Exit::Failures);
        assert_eq!(
            report.to_string(),
            "4 items, 2 entities, 1 filtered out, 0 skipped (no identifier or blueprint), \
             1 failed, 1 bad line(s)"
        );
    }

    #[test]
    fn a_failing_property_is_written_as_null_and_reported_once_with_an_example() {
        let input = "{\"Id\":\"a\",\"Name\":\"1\"}\n\
                     {\"Id\":\"b\",\"Name\":\"abc\"}\n\
                     {\"Id\":\"c\",\"Name\":\"xyz\"}\n";
        let (report, out, errors) = run(input);
        assert_eq!(
            out,
            "{\"identifier\":\"a\",\"blueprint\":\"thing\",\"properties\":{\"n\":1},\"relations\":{}}\n\
             {\"identifier\":\"b\",\"blueprint\":\"thing\",\"properties\":{\"n\":null},\"relations\":{}}\n\
             {\"identifier\":\"c\",\"blueprint\":\"thing\",\"properties\":{\"n\":null},\"relations\":{}}\n"
        );
        let lines: Vec<&str> = errors.lines().collect();
        assert_eq!(lines.len(), 1, "{errors}");
        assert!(
            lines[0].starts_with(
                "warning: in.ndjson: resources[0] (Test::Thing), field `properties.n`, \
                 expression `.Name | tonumber`: "
            ),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].ends_with("(on 2 item(s), e.g. entity b; written as null)"),
            "{}",
            lines[0]
        );
        assert_eq!((report.stats.entities, report.stats.failed), (3, 0));
        assert_eq!(report.stats.field_errors, 2);
        assert_eq!(report.field_errors.len(), 1);
        // The entities were written: the run is not a failure.
        assert_eq!(report.exit(), Exit::Success);
    }

    #[test]
    fn fields_that_mapped_to_null_are_listed_once() {
        let yaml = MAPPING.replace(".Name | tonumber", ".Size");
        let mapping = Mapping::from_yaml(&yaml, Path::new("m.yml")).unwrap();
        let input = "{\"Id\":\"a\"}\n{\"Id\":\"b\",\"Size\":2}\n{\"Id\":\"c\"}\n";
        let mut out = Vec::new();
        let report = map_lines(
            &mapping,
            "Test::Thing",
            "in",
            input.as_bytes(),
            &mut out,
            io::sink(),
        );
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 3);
        assert_eq!(
            report.null_fields,
            ["resources[0] (Test::Thing) properties.n"]
        );
        assert_eq!(report.exit(), Exit::Success);
    }

    #[test]
    fn the_item_parser_reads_what_serde_json_reads() {
        let mut parser = ItemParser::default();
        for text in [
            r#"{"b":1,"a":{"y":[1,2.5,"x"],"x":null},"c":"\u00e9\n","b":2}"#,
            r#"{}"#,
            r#"{"only":true}"#,
            r#"[1,{"a":2}]"#,
            r#""text""#,
            r#"-12.5e3"#,
            r#"null"#,
        ] {
            let expected: Value = serde_json::from_str(text).unwrap();
            let parsed = parser.parse(text.as_bytes()).unwrap();
            assert_eq!(parsed, expected, "{text}");
            assert_eq!(
                parsed.to_string(),
                expected.to_string(),
                "key order of {text}"
            );
        }
        for bad in [
            &b"{\"a\":1} x"[..],
            b"{\"a\":",
            b"{\"a\" 1}",
            b"[1,]",
            b"{\"\xff\":1}",
        ] {
            assert!(
                parser.parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            parser.parse(b"{\"a\":\"\xff\"}").unwrap_err(),
            "invalid UTF-8 at column 7"
        );
    }

    #[test]
    fn trailing_garbage_on_a_line_is_a_bad_line() {
        let (report, out, errors) = run("{\"Id\":\"a\",\"Name\":\"1\"} {}\n");
        assert_eq!(out, "");
        assert!(errors.contains("line 1: not a JSON value"), "{errors}");
        assert_eq!(report.bad_lines, 1);
    }

    #[test]
    fn empty_input_is_a_success() {
        let (report, out, errors) = run("\n\n");
        assert_eq!((out.as_str(), errors.as_str()), ("", ""));
        assert_eq!(report.stats, KindStats::default());
        assert_eq!(report.exit(), Exit::Success);
    }

    #[test]
    fn a_kind_the_mapping_does_not_map_lists_the_mapped_kinds() {
        let mapping = Mapping::from_yaml(MAPPING, Path::new("m.yml")).unwrap();
        assert_eq!(check_kind(&mapping, "Test::Thing"), Ok(()));
        assert_eq!(
            check_kind(&mapping, "AWS::ACM::Certificate"),
            Err(
                "--kind AWS::ACM::Certificate: m.yml has no resource for this kind; \
                 it maps Test::Thing"
                    .to_owned()
            )
        );
    }

    #[test]
    fn a_failing_writer_stops_the_run_with_an_error() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "pipe closed"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mapping = Mapping::from_yaml(MAPPING, Path::new("m.yml")).unwrap();
        let input = "{\"Id\":\"a\",\"Name\":\"1\"}\n{\"Id\":\"b\",\"Name\":\"2\"}\n";
        let report = map_lines(
            &mapping,
            "Test::Thing",
            "in",
            input.as_bytes(),
            Broken,
            io::sink(),
        );
        assert_eq!(report.stats.items, 1, "stops after the failed write");
        assert_eq!(
            report.io_error.as_deref(),
            Some("writing entities to stdout failed: pipe closed")
        );
        assert_eq!(report.exit(), Exit::Failures);
    }
}
