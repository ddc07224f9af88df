//! What can go wrong talking to Port. Messages carry Port's own `error` and `message`, never
//! a token or the client secret.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Port refused the request (a non-retryable status, or a retryable one once retries ran
    /// out).
    #[error("Port answered {status} to {operation}: {error}: {message}")]
    Api {
        operation: &'static str,
        status: u16,
        error: String,
        message: String,
    },
    /// Port refused the client credentials.
    #[error("Port refused the client credentials ({status}): {message}")]
    Authentication { status: u16, message: String },
    /// No response (connection, timeout, TLS), once retries ran out.
    #[error("could not reach Port for {operation}: {source}")]
    Transport {
        operation: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("unexpected response from Port to {operation}: {detail}")]
    UnexpectedResponse {
        operation: &'static str,
        detail: String,
    },
    #[error("invalid Port base URL {url:?}: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

impl PortError {
    /// The HTTP status Port answered, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            PortError::Api { status, .. } | PortError::Authentication { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// Port refused our client credentials (or what they may do): a configuration error, not
    /// worth retrying.
    pub fn refuses_credentials(&self) -> bool {
        matches!(self, PortError::Authentication { .. }) || matches!(self.status(), Some(401 | 403))
    }

    /// Port's error code (`not_found`, ...) or a local one for failures without a response.
    pub fn code(&self) -> String {
        match self {
            PortError::Api { error, .. } => error.clone(),
            PortError::Authentication { .. } => "unauthorized".into(),
            PortError::Transport { .. } => "network_error".into(),
            PortError::UnexpectedResponse { .. } => "unexpected_response".into(),
            PortError::InvalidBaseUrl { .. } | PortError::HttpClient(_) => "client_error".into(),
        }
    }

    /// Port's message, or this error's own text.
    pub fn message(&self) -> String {
        match self {
            PortError::Api { message, .. } | PortError::Authentication { message, .. } => {
                message.clone()
            }
            other => other.to_string(),
        }
    }

    /// Builds the error for a response Port answered with `status` and `body` (Port's
    /// `{ok: false, error, message}`, or whatever a gateway sent).
    pub(crate) fn from_response(operation: &'static str, status: u16, body: &Value) -> Self {
        let (error, message) = match body {
            Value::Object(map) => (
                map.get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown_error")
                    .to_string(),
                map.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            ),
            Value::String(text) => ("http_error".to_string(), truncate(text, 200)),
            other => ("http_error".to_string(), truncate(&other.to_string(), 200)),
        };
        PortError::Api {
            operation,
            status,
            error,
            message,
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
