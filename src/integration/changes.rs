//! Whether a poll of the integration calls for a resync: the mapping's content changed
//! (compared parsed, with Ocean's defaults filled in, never by timestamp) or Port has a newer
//! resync request than the last one served. A "Save & Resync" (both at once) is one resync.

use serde_json::{Map, Value, json};

use super::settings::MappingSource;
use crate::port::ResyncRequest;

/// What a poll saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub config: Value,
    pub request: Option<ResyncRequest>,
}

/// Why a resync is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    MappingChanged,
    Requested,
    /// Save & Resync: the mapping changed and a resync was requested.
    MappingChangedAndRequested,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MappingChanged => "mapping changed in Port",
            Reason::Requested => "resync requested in Port",
            Reason::MappingChangedAndRequested => "Save & Resync in Port",
        }
    }
}

/// Ocean's defaults filled in, so `{}`-vs-explicit-default and key order are no change.
pub fn canonical(config: &Value) -> Value {
    let Value::Object(config) = config else {
        return config.clone();
    };
    let mut out: Map<String, Value> = config.clone();
    for (key, default) in [
        ("deleteDependentEntities", json!(true)),
        ("createMissingRelatedEntities", json!(true)),
        ("enableMergeEntity", json!(true)),
        ("entityDeletionThreshold", json!(0.9)),
        ("resources", json!([])),
    ] {
        out.entry(key).or_insert(default);
    }
    if let Some(Value::Array(resources)) = out.get_mut("resources") {
        for resource in resources.iter_mut().filter_map(Value::as_object_mut) {
            let selector = resource.entry("selector").or_insert_with(|| json!({}));
            if let Some(selector) = selector.as_object_mut() {
                selector.entry("query").or_insert(json!("true"));
            }
        }
    }
    sort_keys(Value::Object(out))
}

fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

fn is_newer(seen: &ResyncRequest, served: Option<&ResyncRequest>) -> bool {
    let Some(served) = served else {
        return true;
    };
    if seen.id == served.id {
        return false;
    }
    match (
        seen.updated_at.parse::<jiff::Timestamp>(),
        served.updated_at.parse::<jiff::Timestamp>(),
    ) {
        (Ok(seen), Ok(served)) => seen > served,
        // A request we cannot date is still a different request.
        _ => true,
    }
}

/// The last mapping and request served; each poll is compared with them.
#[derive(Debug, Clone)]
pub struct ChangeDetector {
    source: MappingSource,
    config: Value,
    request: Option<ResyncRequest>,
}

impl ChangeDetector {
    /// Starts from what Port has now (served by the resync at start, or deliberately not).
    pub fn new(source: MappingSource, observed: &Observed) -> Self {
        ChangeDetector {
            source,
            config: canonical(&observed.config),
            request: observed.request.clone(),
        }
    }

    /// Whether `observed` calls for a resync; what it saw becomes the new baseline either way,
    /// so one change starts one resync. With MAPPING_SOURCE=file, Port's mapping is ignored.
    pub fn observe(&mut self, observed: &Observed) -> Option<Reason> {
        let config = canonical(&observed.config);
        let mapping_changed = self.source == MappingSource::Port && config != self.config;
        let requested = observed
            .request
            .as_ref()
            .is_some_and(|r| is_newer(r, self.request.as_ref()));
        self.config = config;
        if requested {
            self.request = observed.request.clone();
        }
        match (mapping_changed, requested) {
            (true, true) => Some(Reason::MappingChangedAndRequested),
            (true, false) => Some(Reason::MappingChanged),
            (false, true) => Some(Reason::Requested),
            (false, false) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(query: &str) -> Value {
        json!({"resources": [{"kind": "k", "selector": {"query": query},
            "port": {"entity": {"mappings": {"identifier": ".id", "blueprint": "\"b\""}}}}]})
    }

    fn request(id: &str, at: &str) -> Option<ResyncRequest> {
        Some(ResyncRequest {
            id: id.into(),
            updated_at: at.into(),
        })
    }

    fn seen(config: Value, request: Option<ResyncRequest>) -> Observed {
        Observed { config, request }
    }

    #[test]
    fn nothing_new_is_no_resync() {
        let start = seen(mapping("true"), request("r1", "2026-12-01T10:00:00Z"));
        let mut d = ChangeDetector::new(MappingSource::Port, &start);
        assert_eq!(d.observe(&start), None);
        assert_eq!(d.observe(&start), None);
    }

    #[test]
    fn content_is_compared_parsed_not_as_text_or_timestamp() {
        let mut d = ChangeDetector::new(MappingSource::Port, &seen(mapping("true"), None));
        let mut explicit = mapping("true");
        explicit["deleteDependentEntities"] = json!(true);
        explicit["resources"][0]["selector"] = json!({});
        assert_eq!(
            d.observe(&seen(explicit, None)),
            None,
            "defaults spelled out"
        );
        assert_eq!(
            d.observe(&seen(mapping(".x"), None)),
            Some(Reason::MappingChanged)
        );
        assert_eq!(
            d.observe(&seen(mapping(".x"), None)),
            None,
            "one change, one resync"
        );
    }

    #[test]
    fn a_newer_request_is_served_once() {
        let mut d = ChangeDetector::new(
            MappingSource::Port,
            &seen(mapping("true"), request("r1", "2026-12-01T10:00:00Z")),
        );
        let newer = seen(mapping("true"), request("r2", "2026-12-01T10:05:00Z"));
        assert_eq!(d.observe(&newer), Some(Reason::Requested));
        assert_eq!(d.observe(&newer), None);
        let older = seen(mapping("true"), request("r0", "2026-12-01T09:00:00Z"));
        assert_eq!(d.observe(&older), None);
        let mut fresh = ChangeDetector::new(MappingSource::Port, &seen(mapping("true"), None));
        assert_eq!(
            fresh.observe(&seen(
                mapping("true"),
                request("r1", "2026-12-01T10:00:00Z")
            )),
            Some(Reason::Requested)
        );
    }

    #[test]
    fn save_and_resync_is_one_reason() {
        let mut d = ChangeDetector::new(MappingSource::Port, &seen(mapping("true"), None));
        let both = seen(mapping(".y"), request("r1", "2026-12-01T10:00:00Z"));
        assert_eq!(d.observe(&both), Some(Reason::MappingChangedAndRequested));
        assert_eq!(d.observe(&both), None);
    }

    #[test]
    fn file_source_ignores_mapping_edits_but_serves_requests() {
        let mut d = ChangeDetector::new(MappingSource::File, &seen(mapping("true"), None));
        assert_eq!(d.observe(&seen(mapping(".z"), None)), None);
        assert_eq!(
            d.observe(&seen(mapping(".z"), request("r1", "2026-12-01T10:00:00Z"))),
            Some(Reason::Requested)
        );
    }
}
