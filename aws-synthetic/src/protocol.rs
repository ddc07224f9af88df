//! The parts of the AWS JSON 1.1 protocol a list call needs: the region from the SigV4
//! credential scope, errors as the SDK parses them, and the response content type.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// An error answer: HTTP status, the `__type` code the SDK maps to an error variant, and a
/// message saying what was wrong with the request.
#[derive(Debug, PartialEq)]
pub struct AwsError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AwsError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AwsError {
        AwsError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> AwsError {
        AwsError::bad_request("ValidationException", message)
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.code, "message": self.message});
        let mut response = (self.status, body.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}

/// A successful answer with the JSON 1.1 content type.
pub fn ok(body: &Value) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// The region of a SigV4 `Authorization` header: the third part of its credential scope,
/// `Credential=AKID/20260101/eu-west-1/secretsmanager/aws4_request, SignedHeaders=…`.
pub fn region_of(authorization: Option<&str>) -> Result<&str, AwsError> {
    let missing = || {
        AwsError::bad_request(
            "MissingAuthenticationTokenException",
            "aws-synthetic needs a SigV4 Authorization header: the region comes from its \
             credential scope",
        )
    };
    let scope = authorization
        .and_then(|value| value.split_once("Credential="))
        .map(|(_, rest)| rest.split([',', ' ']).next().unwrap_or_default())
        .ok_or_else(missing)?;
    match scope.split('/').collect::<Vec<_>>()[..] {
        [_key, _date, region, _service, "aws4_request"] if !region.is_empty() => Ok(region),
        _ => Err(AwsError::bad_request(
            "IncompleteSignatureException",
            format!("credential scope {scope:?} is not KEY/DATE/REGION/SERVICE/aws4_request"),
        )),
    }
}

/// The request body as a JSON object (the SDK sends `{}` for a call without parameters).
pub fn request_object(body: &[u8]) -> Result<Map<String, Value>, AwsError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(AwsError::bad_request(
            "SerializationException",
            "the request body is not a JSON object",
        )),
    }
}

/// Refuses members this server does not implement, so a lister that starts sending one
/// (a filter, a sort) is told so instead of silently getting an unfiltered list.
pub fn only_members(request: &Map<String, Value>, known: &[&str]) -> Result<(), AwsError> {
    match request.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(AwsError::validation(format!(
            "aws-synthetic does not implement the request member {key:?} (it implements {})",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

/// An optional whole-number member within `range`, named as AWS names it in its errors.
pub fn page_size(
    request: &Map<String, Value>,
    member: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<Option<usize>, AwsError> {
    let Some(value) = request.get(member) else {
        return Ok(None);
    };
    match value.as_u64().map(|n| n as usize) {
        Some(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
             constraint: Member must have value between {} and {}",
            range.start(),
            range.end()
        ))),
    }
}

/// The optional `NextToken` member as a start index into a list of `total` items.
pub fn start_index(request: &Map<String, Value>, total: usize) -> Result<usize, AwsError> {
    match request.get("NextToken") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(token)) => crate::paging::start_of(token, total).ok_or_else(|| {
            AwsError::bad_request(
                "InvalidNextTokenException",
                format!("NextToken {token:?} was not given out by this server for this list"),
            )
        }),
        Some(other) => Err(AwsError::validation(format!(
            "NextToken must be a string, got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_the_credential_scope() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260202/ap-south-1/acm/\
                      aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=abc";
        assert_eq!(region_of(Some(header)), Ok("ap-south-1"));
    }

    #[test]
    fn no_or_malformed_signature_is_an_error_naming_it() {
        assert_eq!(
            region_of(None).unwrap_err().code,
            "MissingAuthenticationTokenException"
        );
        let error = region_of(Some("AWS4-HMAC-SHA256 Credential=AKID/20260202, X")).unwrap_err();
        assert_eq!(error.code, "IncompleteSignatureException");
        assert!(error.message.contains("AKID/20260202"), "{}", error.message);
    }

    #[test]
    fn page_size_out_of_range_names_the_member() {
        let request = request_object(br#"{"MaxResults": 101}"#).unwrap();
        let error = page_size(&request, "MaxResults", 1..=100).unwrap_err();
        assert_eq!(error.code, "ValidationException");
        assert!(error.message.contains("'MaxResults'"), "{}", error.message);
        assert_eq!(page_size(&request, "MaxItems", 1..=1000), Ok(None));
    }
}
