//! How to reach Port and how hard to try.

use std::fmt;
use std::time::Duration;

use crate::config::{Env, SettingError};

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

    pub const CLIENT_ID: [&'static str; 2] = ["PORT_CLIENT_ID", "OCEAN__PORT__CLIENT_ID"];
    pub const CLIENT_SECRET: [&'static str; 2] =
        ["PORT_CLIENT_SECRET", "OCEAN__PORT__CLIENT_SECRET"];
    pub const BASE_URL: [&'static str; 2] = ["PORT_BASE_URL", "OCEAN__PORT__BASE_URL"];
    pub const INTEGRATION_IDENTIFIER: [&'static str; 2] =
        ["INTEGRATION_IDENTIFIER", "OCEAN__INTEGRATION__IDENTIFIER"];
    pub const MAX_IN_FLIGHT: &'static str = "PORT_MAX_IN_FLIGHT";

    /// Every name [`Self::from_settings`] reads.
    pub const SETTINGS: &'static [&'static str] = &[
        Self::CLIENT_ID[0],
        Self::CLIENT_ID[1],
        Self::CLIENT_SECRET[0],
        Self::CLIENT_SECRET[1],
        Self::BASE_URL[0],
        Self::BASE_URL[1],
        Self::INTEGRATION_IDENTIFIER[0],
        Self::INTEGRATION_IDENTIFIER[1],
        Self::MAX_IN_FLIGHT,
    ];

    /// The connection settings: credentials (required), base URL, integration identifier and
    /// the in-flight limit.
    pub fn from_settings<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
    ) -> Result<Self, SettingError> {
        let client_id = env.required(&Self::CLIENT_ID)?;
        let client_secret = env.required(&Self::CLIENT_SECRET)?;
        let mut config = PortConfig::new(client_id, client_secret);
        config.base_url = env
            .get(&Self::BASE_URL)
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        config.integration_identifier = env
            .get(&Self::INTEGRATION_IDENTIFIER)
            .unwrap_or_else(|| DEFAULT_INTEGRATION_IDENTIFIER.to_owned());
        config.max_in_flight = env.number(&[Self::MAX_IN_FLIGHT], DEFAULT_MAX_IN_FLIGHT)?;
        Ok(config)
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

    use crate::config::pairs as env;

    #[test]
    fn ocean_names_are_aliases() {
        let config = PortConfig::from_settings(&env(&[
            ("OCEAN__PORT__CLIENT_ID", "id"),
            ("OCEAN__PORT__CLIENT_SECRET", "s3cret"),
            ("OCEAN__PORT__BASE_URL", "https://api.us.port.io"),
            ("OCEAN__INTEGRATION__IDENTIFIER", "my-aws"),
        ]))
        .unwrap();
        assert_eq!(config.client_id, "id");
        assert_eq!(config.base_url, "https://api.us.port.io");
        assert_eq!(
            config.user_agent(),
            format!(
                "port-ocean/aws-sync/{}/my-aws/exporter",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn missing_credentials_and_bad_values_name_the_setting() {
        let err = PortConfig::from_settings(&env(&[("PORT_CLIENT_ID", "id")])).unwrap_err();
        assert_eq!(err.name, "PORT_CLIENT_SECRET");
        let err = PortConfig::from_settings(&env(&[
            ("PORT_CLIENT_ID", "i"),
            ("PORT_CLIENT_SECRET", "s"),
            ("PORT_MAX_IN_FLIGHT", "0"),
        ]))
        .unwrap_err();
        assert_eq!(err.name, "PORT_MAX_IN_FLIGHT");
    }

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
