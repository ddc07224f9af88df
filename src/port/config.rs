//! How to reach Port and how hard to try.

use std::fmt;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://api.getport.io";
pub const DEFAULT_INTEGRATION_IDENTIFIER: &str = "aws-sync";
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8;

/// A credential that must never reach a log: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

/// Retries of 408, 429, 500, 502, 503, 504 and network errors: exponential backoff with
/// jitter, or the wait Port asks for (`Retry-After`, `x-ratelimit-reset`), each wait capped.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The first backoff; it doubles on each retry.
    pub initial_backoff: Duration,
    /// Cap on any single wait, including one Port asks for.
    pub max_backoff: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(300),
            max_backoff: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PortConfig {
    /// Port's API root, e.g. `https://api.getport.io` (EU) or `https://api.us.port.io` (US).
    pub base_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Ends the `User-Agent`, which Port records as `$datasource`: it decides which entities
    /// this integration owns.
    pub integration_identifier: String,
    /// Requests in flight at once, across every call of one client.
    pub max_in_flight: usize,
    pub retry: RetryPolicy,
    /// Timeout of one HTTP attempt.
    pub request_timeout: Duration,
}

impl PortConfig {
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        PortConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            integration_identifier: DEFAULT_INTEGRATION_IDENTIFIER.to_string(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(60),
        }
    }

    /// `port-ocean/aws-sync/{version}/{integration identifier}/exporter`: the shape Ocean
    /// integrations send, so ownership carries over from Ocean's AWS integration.
    pub fn user_agent(&self) -> String {
        format!(
            "port-ocean/aws-sync/{}/{}/exporter",
            env!("CARGO_PKG_VERSION"),
            self.integration_identifier
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let config = PortConfig::new("id", "s3cr3t-value");
        assert!(!format!("{config:?}").contains("s3cr3t-value"));
        assert_eq!(config.client_secret.expose(), "s3cr3t-value");
    }

    #[test]
    fn user_agent_has_the_ocean_shape() {
        let mut config = PortConfig::new("id", "secret");
        config.integration_identifier = "my-aws".into();
        let ua = config.user_agent();
        assert!(ua.starts_with("port-ocean/aws-sync/"), "{ua}");
        assert!(ua.ends_with("/my-aws/exporter"), "{ua}");
    }
}
