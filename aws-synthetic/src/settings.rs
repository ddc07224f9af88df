//! The server's settings, from environment variables (named in every error).

use std::net::SocketAddr;

pub const BIND: &str = "AWS_SYNTHETIC_BIND";
pub const ACCOUNT_ID: &str = "AWS_SYNTHETIC_ACCOUNT_ID";
pub const SECRETS_PER_REGION: &str = "AWS_SYNTHETIC_SECRETS_PER_REGION";
pub const CERTIFICATES_PER_REGION: &str = "AWS_SYNTHETIC_CERTIFICATES_PER_REGION";

/// moto's default account, so ARNs name the account STS (moto) says the caller is in.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";

/// What every region holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// The 12-digit account in every ARN.
    pub account_id: String,
    pub secrets_per_region: usize,
    pub certificates_per_region: usize,
}

#[derive(Debug, PartialEq)]
pub struct Settings {
    pub bind: SocketAddr,
    pub catalog: Catalog,
}

impl Settings {
    /// Reads the settings through `var` (the process environment in the binary).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let bind = match var(BIND) {
            None => SocketAddr::from(([127, 0, 0, 1], 0)),
            Some(text) => text.parse().map_err(|_| {
                format!("{BIND} must be an address such as 127.0.0.1:4599, got {text:?}")
            })?,
        };
        let account_id = var(ACCOUNT_ID).unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_owned());
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{ACCOUNT_ID} must be 12 digits, got {account_id:?}"
            ));
        }
        let count = |name: &str, default: usize| match var(name) {
            None => Ok(default),
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| format!("{name} must be a whole number, got {text:?}")),
        };
        Ok(Settings {
            bind,
            catalog: Catalog {
                account_id,
                secrets_per_region: count(SECRETS_PER_REGION, 1000)?,
                certificates_per_region: count(CERTIFICATES_PER_REGION, 100)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        Settings::from_vars(|name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn defaults_and_overrides() {
        let defaults = from(&[]).unwrap();
        assert_eq!(defaults.bind.ip().to_string(), "127.0.0.1");
        assert_eq!(defaults.catalog.account_id, DEFAULT_ACCOUNT_ID);
        let set = from(&[
            (SECRETS_PER_REGION, "250000"),
            (CERTIFICATES_PER_REGION, "0"),
        ])
        .unwrap();
        assert_eq!(set.catalog.secrets_per_region, 250_000);
        assert_eq!(set.catalog.certificates_per_region, 0);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let error = from(&[(SECRETS_PER_REGION, "10k")]).unwrap_err();
        assert!(error.starts_with(SECRETS_PER_REGION), "{error}");
        let error = from(&[(ACCOUNT_ID, "12345")]).unwrap_err();
        assert!(error.starts_with(ACCOUNT_ID), "{error}");
    }
}
