//! Raw items: AWS API items as JSON objects with AWS's own PascalCase field names,
//! plus the `__`-prefixed envelope that tells the mappings where an item came from.
//!
//! Items are built straight from the SDK structs; fields the API left out (None) are
//! left out here too rather than written as nulls, so a mapping sees what AWS sent.

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::{Map, Value};

use super::Kind;

/// `2024-05-01T12:30:00Z`: RFC 3339 in UTC with a `T`, the form mappings and Port
/// date-time properties expect. None only for dates RFC 3339 cannot express (outside
/// years 0001–9999), which no AWS API returns.
///
/// The JSON APIs send timestamps as epoch seconds with a decimal fraction
/// (`1581968466.257`); the SDK reads them through an f64 and truncates, giving
/// `…466.256999969`, and the RFC 3339 formatter truncates again to microseconds
/// (`.256999`). Rounding to the nearest microsecond first gives back the value AWS
/// sent: near today's epoch an f64 is off by less than 0.12 µs, and AWS sends at
/// most microseconds (in practice milliseconds).
pub fn rfc3339(timestamp: &DateTime) -> Option<String> {
    let micros = (timestamp.subsec_nanos() + 500) / 1_000;
    let rounded = if micros >= 1_000_000 {
        DateTime::from_secs(timestamp.secs().checked_add(1)?)
    } else {
        DateTime::from_secs_and_nanos(timestamp.secs(), micros * 1_000)
    };
    rounded.fmt(Format::DateTime).ok()
}

/// Builds one raw item field by field, skipping absent values.
#[derive(Debug, Default)]
pub(crate) struct RawItem(Map<String, Value>);

impl RawItem {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn string(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.0.insert(key.to_owned(), Value::from(value));
        }
        self
    }

    pub(crate) fn bool(&mut self, key: &str, value: Option<bool>) -> &mut Self {
        if let Some(value) = value {
            self.0.insert(key.to_owned(), Value::from(value));
        }
        self
    }

    pub(crate) fn integer(&mut self, key: &str, value: Option<i64>) -> &mut Self {
        if let Some(value) = value {
            self.0.insert(key.to_owned(), Value::from(value));
        }
        self
    }

    pub(crate) fn timestamp(&mut self, key: &str, value: Option<&DateTime>) -> &mut Self {
        if let Some(value) = value {
            match rfc3339(value) {
                Some(text) => {
                    self.0.insert(key.to_owned(), Value::from(text));
                }
                None => tracing::warn!(
                    field = key,
                    ?value,
                    "timestamp outside RFC 3339 range, left out"
                ),
            }
        }
        self
    }

    /// A list of strings; `None` (the API left the list out) is skipped, an empty
    /// list is kept as `[]`.
    pub(crate) fn strings<'a>(
        &mut self,
        key: &str,
        values: Option<impl IntoIterator<Item = &'a str>>,
    ) -> &mut Self {
        if let Some(values) = values {
            let list = values.into_iter().map(Value::from).collect();
            self.0.insert(key.to_owned(), Value::Array(list));
        }
        self
    }

    pub(crate) fn value(&mut self, key: &str, value: Option<Value>) -> &mut Self {
        if let Some(value) = value {
            self.0.insert(key.to_owned(), value);
        }
        self
    }

    pub(crate) fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

/// Where a raw item came from, written into it as `__Kind`, `__AccountId`,
/// `__Region` and `__ExtraContext` (the field names Ocean's AWS integration uses, so
/// existing mappings keep working).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub kind: Kind,
    pub account_id: &'a str,
    pub region: &'a str,
}

impl Origin<'_> {
    pub(crate) fn wrap(&self, item: RawItem) -> Value {
        let mut map = item.into_map();
        map.insert("__Kind".to_owned(), Value::from(self.kind.as_str()));
        map.insert("__AccountId".to_owned(), Value::from(self.account_id));
        map.insert("__Region".to_owned(), Value::from(self.region));
        let mut context = Map::new();
        context.insert("AccountId".to_owned(), Value::from(self.account_id));
        context.insert("Region".to_owned(), Value::from(self.region));
        map.insert("__ExtraContext".to_owned(), Value::Object(context));
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339_is_utc_with_t_separator() {
        assert_eq!(
            rfc3339(&DateTime::from_secs(1_714_566_600)).as_deref(),
            Some("2024-05-01T12:30:00Z")
        );
        assert_eq!(
            rfc3339(&DateTime::from_secs(0)).as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
    }

    #[test]
    fn rfc3339_keeps_sub_second_precision() {
        let timestamp = DateTime::from_secs_and_nanos(1_714_566_600, 250_000_000);
        assert_eq!(
            rfc3339(&timestamp).as_deref(),
            Some("2024-05-01T12:30:00.25Z")
        );
    }

    #[test]
    fn rfc3339_gives_back_the_epoch_seconds_aws_sent() {
        // As the SDK parses epoch seconds in JSON: through an f64, truncating.
        for (sent, expected) in [
            (1_581_968_466.257, "2020-02-17T19:41:06.257Z"),
            (1_795_325_174.759_089, "2026-11-22T05:26:14.759089Z"),
            (1_795_325_174.784_081, "2026-11-22T05:26:14.784081Z"),
            (1_700_000_000.0, "2023-11-14T22:13:20Z"),
            (1_700_000_000.5, "2023-11-14T22:13:20.5Z"),
        ] {
            assert_eq!(
                rfc3339(&DateTime::from_secs_f64(sent)).as_deref(),
                Some(expected),
                "{sent}"
            );
        }
    }

    #[test]
    fn rfc3339_rounds_into_the_next_second() {
        let timestamp = DateTime::from_secs_and_nanos(1_714_566_599, 999_999_700);
        assert_eq!(rfc3339(&timestamp).as_deref(), Some("2024-05-01T12:30:00Z"));
        let timestamp = DateTime::from_secs_and_nanos(1_714_566_599, 999_999_400);
        assert_eq!(
            rfc3339(&timestamp).as_deref(),
            Some("2024-05-01T12:29:59.999999Z")
        );
    }

    #[test]
    fn rfc3339_refuses_dates_it_cannot_express() {
        assert_eq!(rfc3339(&DateTime::from_secs(i64::MAX / 2)), None);
    }

    #[test]
    fn absent_fields_are_left_out_not_null() {
        let mut item = RawItem::new();
        item.string("Name", Some("a"))
            .string("Description", None)
            .bool("InUse", Some(false))
            .bool("Exported", None)
            .integer("Days", Some(30))
            .timestamp("CreatedAt", Some(&DateTime::from_secs(0)))
            .timestamp("RevokedAt", None)
            .strings("Sans", Some(["a.example", "b.example"]))
            .strings("KeyUsages", Some(Vec::<&str>::new()))
            .strings("Other", None::<Vec<&str>>);
        assert_eq!(
            Value::Object(item.into_map()),
            json!({
                "Name": "a",
                "InUse": false,
                "Days": 30,
                "CreatedAt": "1970-01-01T00:00:00Z",
                "Sans": ["a.example", "b.example"],
                "KeyUsages": []
            })
        );
    }

    #[test]
    fn origin_adds_the_envelope() {
        let mut item = RawItem::new();
        item.string("Name", Some("a"));
        let origin = Origin {
            kind: Kind::Secret,
            account_id: "123456789012",
            region: "eu-west-1",
        };
        assert_eq!(
            origin.wrap(item),
            json!({
                "Name": "a",
                "__Kind": "AWS::SecretsManager::Secret",
                "__AccountId": "123456789012",
                "__Region": "eu-west-1",
                "__ExtraContext": {"AccountId": "123456789012", "Region": "eu-west-1"}
            })
        );
    }
}
