//! The webhook's settings, read from the same layers as the daemon's (flags, environment,
//! config file) and checked before anything starts.

use std::time::Duration;

use crate::config::{Env, SettingError};
use crate::port::Secret;

pub const WEBHOOK_ENABLED: &str = "WEBHOOK_ENABLED";
pub const WEBHOOK_PATH: &str = "WEBHOOK_PATH";
pub const WEBHOOK_SECRET: &str = "WEBHOOK_SECRET";
pub const WEBHOOK_VERIFY_SIGNATURE: &str = "WEBHOOK_VERIFY_SIGNATURE";
pub const WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: &str = "WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS";
pub const WEBHOOK_MAX_BODY_BYTES: &str = "WEBHOOK_MAX_BODY_BYTES";
pub const WEBHOOK_RATE_LIMIT_PER_MINUTE: &str = "WEBHOOK_RATE_LIMIT_PER_MINUTE";

/// Every setting above, for the config file's list of accepted names.
pub const NAMES: &[&str] = &[
    WEBHOOK_ENABLED,
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    WEBHOOK_VERIFY_SIGNATURE,
    WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS,
    WEBHOOK_MAX_BODY_BYTES,
    WEBHOOK_RATE_LIMIT_PER_MINUTE,
];

pub const DEFAULT_PATH: &str = "/webhook";
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;
/// Port's invocation bodies carry inputs and one entity: tens of kilobytes at most.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: usize = 60;

/// Checked webhook settings. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub path: String,
    /// The HMAC key of `x-port-signature`; `None` only when verification was turned off.
    pub signing_key: Option<Secret>,
    pub timestamp_tolerance: Duration,
    pub max_body_bytes: usize,
    pub rate_limit_per_minute: u32,
    /// Port encrypts secret inputs with the first 32 bytes of the organization's client secret.
    pub decryption_secret: Secret,
}

impl WebhookSettings {
    /// `None` when `WEBHOOK_ENABLED` is off, unless `force` (the `serve-actions` command).
    pub fn from_env<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        port_client_secret: &Secret,
        force: bool,
    ) -> Result<Option<Self>, SettingError> {
        let enabled = env.flag(&[WEBHOOK_ENABLED], false)?;
        if !enabled && !force {
            return Ok(None);
        }
        let path = env
            .get(&[WEBHOOK_PATH])
            .unwrap_or_else(|| DEFAULT_PATH.to_owned());
        let path = path.trim().to_owned();
        if !path.starts_with('/') || path.len() < 2 || path.contains(char::is_whitespace) {
            return Err(SettingError {
                name: WEBHOOK_PATH.to_owned(),
                problem: format!("expected a URL path such as /webhook, got {path:?}"),
            });
        }
        if ["/health/live", "/health/ready", "/metrics", "/resync"].contains(&path.as_str()) {
            return Err(SettingError {
                name: WEBHOOK_PATH.to_owned(),
                problem: format!("{path:?} is taken by the daemon's own endpoints"),
            });
        }
        let verify = env.flag(&[WEBHOOK_VERIFY_SIGNATURE], true)?;
        let signing_key = verify.then(|| {
            env.get(&[WEBHOOK_SECRET])
                .map(Secret::new)
                .unwrap_or_else(|| port_client_secret.clone())
        });
        let timestamp_tolerance = Duration::from_secs(env.seconds(
            &[WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS],
            DEFAULT_TOLERANCE_SECONDS,
            false,
        )?);
        let max_body_bytes = env.number(&[WEBHOOK_MAX_BODY_BYTES], DEFAULT_MAX_BODY_BYTES)?;
        let rate = env.number(
            &[WEBHOOK_RATE_LIMIT_PER_MINUTE],
            DEFAULT_RATE_LIMIT_PER_MINUTE,
        )?;
        let rate_limit_per_minute = u32::try_from(rate).map_err(|_| SettingError {
            name: WEBHOOK_RATE_LIMIT_PER_MINUTE.to_owned(),
            problem: format!("expected at most {}, got {rate}", u32::MAX),
        })?;
        Ok(Some(WebhookSettings {
            path,
            signing_key,
            timestamp_tolerance,
            max_body_bytes,
            rate_limit_per_minute,
            decryption_secret: port_client_secret.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(
        pairs: &[(&str, &str)],
        force: bool,
    ) -> Result<Option<WebhookSettings>, SettingError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let env = Env::new(move |name: &str| {
            owned
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        });
        WebhookSettings::from_env(&env, &Secret::new("client-secret"), force)
    }

    #[test]
    fn off_unless_enabled_or_forced() {
        assert!(settings(&[], false).unwrap().is_none());
        let on = settings(&[], true).unwrap().unwrap();
        assert_eq!(on.path, "/webhook");
        assert_eq!(on.signing_key.unwrap().expose(), "client-secret");
        assert_eq!(on.timestamp_tolerance, Duration::from_secs(300));
    }

    #[test]
    fn webhook_secret_overrides_and_verification_can_be_turned_off() {
        let s = settings(
            &[(WEBHOOK_ENABLED, "true"), (WEBHOOK_SECRET, "other")],
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.signing_key.as_ref().unwrap().expose(), "other");
        assert!(!format!("{s:?}").contains("other"));
        let s = settings(&[(WEBHOOK_VERIFY_SIGNATURE, "false")], true)
            .unwrap()
            .unwrap();
        assert!(s.signing_key.is_none());
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (name, value) in [
            (WEBHOOK_PATH, "webhook"),
            (WEBHOOK_PATH, "/metrics"),
            (WEBHOOK_VERIFY_SIGNATURE, "maybe"),
            (WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS, "0"),
            (WEBHOOK_MAX_BODY_BYTES, "big"),
        ] {
            let err = settings(&[(name, value)], true).unwrap_err();
            assert_eq!(err.name, name);
        }
    }
}
