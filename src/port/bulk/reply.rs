//! Reading Port's answer to a bulk upsert into one result per entity of the request.

use std::collections::HashMap;

use serde_json::Value;

use super::outcome::{EntityResult, FailedEntity, UpsertedEntity};

/// Port's 200/207 body (`entities: [{identifier, created, index}]`, `errors: [{identifier,
/// index, statusCode, error, message}]`) matched to the request by `index`; an entity the
/// body does not mention is reported failed, never assumed written.
pub(crate) fn parse_bulk_reply(body: &Value, ids: &[&str]) -> Vec<(usize, EntityResult)> {
    let batch_len = ids.len();
    let mut results: HashMap<usize, EntityResult> = HashMap::new();
    let index_of = |item: &Value| {
        item["index"]
            .as_u64()
            .map(|i| i as usize)
            .filter(|i| *i < batch_len)
    };
    for item in body["entities"].as_array().into_iter().flatten() {
        if let Some(i) = index_of(item) {
            let identifier = item["identifier"].as_str().unwrap_or(ids[i]).to_string();
            let created = item["created"].as_bool().unwrap_or(false);
            results.insert(
                i,
                Ok(UpsertedEntity {
                    identifier,
                    created,
                }),
            );
        }
    }
    for item in body["errors"].as_array().into_iter().flatten() {
        if let Some(i) = index_of(item) {
            results.insert(
                i,
                Err(FailedEntity {
                    identifier: ids[i].to_string(),
                    status_code: item["statusCode"].as_u64().map(|s| s as u16),
                    error: item["error"]
                        .as_str()
                        .unwrap_or("unknown_error")
                        .to_string(),
                    message: item["message"].as_str().unwrap_or_default().to_string(),
                }),
            );
        }
    }
    (0..batch_len)
        .map(|i| {
            let result = results.remove(&i).unwrap_or_else(|| {
                Err(FailedEntity {
                    identifier: ids[i].to_string(),
                    status_code: None,
                    error: "missing_result".into(),
                    message: "Port's response did not mention this entity".into(),
                })
            });
            (i, result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_are_matched_by_index_and_errors_keep_port_reason() {
        let body = json!({
            "ok": true,
            "entities": [{"identifier": "b", "created": true, "index": 1}],
            "errors": [{"identifier": "a", "index": 0, "statusCode": 422,
                        "error": "invalid_property_type", "message": "status must be a string"}]
        });
        let results = parse_bulk_reply(&body, &["a", "b", "c"]);
        assert_eq!(results.len(), 3);
        let failed = results[0].1.as_ref().unwrap_err();
        assert_eq!(
            (
                failed.identifier.as_str(),
                failed.status_code,
                failed.error.as_str()
            ),
            ("a", Some(422), "invalid_property_type")
        );
        assert_eq!(failed.message, "status must be a string");
        assert_eq!(
            results[1].1,
            Ok(UpsertedEntity {
                identifier: "b".into(),
                created: true
            })
        );
        let missing = results[2].1.as_ref().unwrap_err();
        assert_eq!(
            (missing.error.as_str(), missing.status_code),
            ("missing_result", None)
        );
    }

    #[test]
    fn an_index_out_of_range_is_ignored_and_a_missing_identifier_taken_from_the_request() {
        let body =
            json!({"entities": [{"index": 0, "created": false}, {"index": 7, "identifier": "x"}]});
        let results = parse_bulk_reply(&body, &["only"]);
        assert_eq!(
            results,
            vec![(
                0,
                Ok(UpsertedEntity {
                    identifier: "only".into(),
                    created: false
                })
            )]
        );
    }
}
