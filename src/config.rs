//! Settings read from the environment, with Ocean's `OCEAN__...` names accepted as aliases so
//! an Ocean AWS integration's deployment can switch over unchanged.

use std::fmt;

use crate::port::{
    DEFAULT_BASE_URL, DEFAULT_INTEGRATION_IDENTIFIER, DEFAULT_MAX_IN_FLIGHT, PortConfig,
};

/// A setting that is missing or malformed; the CLI exits 2 with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub name: String,
    pub problem: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.problem)
    }
}

impl std::error::Error for SettingError {}

/// Looks settings up by name and by their Ocean alias.
pub struct Env<F: Fn(&str) -> Option<String>> {
    lookup: F,
}

impl Env<fn(&str) -> Option<String>> {
    pub fn process() -> Self {
        Env {
            lookup: |name| std::env::var(name).ok(),
        }
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn new(lookup: F) -> Self {
        Env { lookup }
    }

    /// The first of `names` that is set to something other than blank.
    pub fn get(&self, names: &[&str]) -> Option<String> {
        names
            .iter()
            .find_map(|n| (self.lookup)(n).filter(|v| !v.trim().is_empty()))
    }

    pub fn flag(&self, names: &[&str], default: bool) -> Result<bool, SettingError> {
        match self.get(names) {
            None => Ok(default),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(SettingError {
                    name: names[0].to_owned(),
                    problem: format!("expected true or false, got {v:?}"),
                }),
            },
        }
    }

    pub fn number(&self, names: &[&str], default: usize) -> Result<usize, SettingError> {
        match self.get(names) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(SettingError {
                    name: names[0].to_owned(),
                    problem: format!("expected a positive whole number, got {v:?}"),
                }),
        }
    }

    fn required(&self, names: &[&str]) -> Result<String, SettingError> {
        self.get(names).ok_or_else(|| SettingError {
            name: names[0].to_owned(),
            problem: format!(
                "is required to write to Port (also read as {})",
                names[1..].join(", ")
            ),
        })
    }
}

/// Port connection settings.
pub fn port_config<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<PortConfig, SettingError> {
    let client_id = env.required(&["PORT_CLIENT_ID", "OCEAN__PORT__CLIENT_ID"])?;
    let client_secret = env.required(&["PORT_CLIENT_SECRET", "OCEAN__PORT__CLIENT_SECRET"])?;
    let mut config = PortConfig::new(client_id, client_secret);
    config.base_url = env
        .get(&["PORT_BASE_URL", "OCEAN__PORT__BASE_URL"])
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    config.integration_identifier = env
        .get(&["INTEGRATION_IDENTIFIER", "OCEAN__INTEGRATION__IDENTIFIER"])
        .unwrap_or_else(|| DEFAULT_INTEGRATION_IDENTIFIER.to_owned());
    config.max_in_flight = env.number(&["PORT_MAX_IN_FLIGHT"], DEFAULT_MAX_IN_FLIGHT)?;
    Ok(config)
}

/// Whether blueprints missing in Port are created at start (Ocean: initializePortResources).
pub fn bootstrap_blueprints<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<bool, SettingError> {
    env.flag(
        &[
            "INITIALIZE_PORT_RESOURCES",
            "OCEAN__INITIALIZE_PORT_RESOURCES",
        ],
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::new(move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn ocean_names_are_aliases() {
        let config = port_config(&env(&[
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
        let err = port_config(&env(&[("PORT_CLIENT_ID", "id")])).unwrap_err();
        assert_eq!(err.name, "PORT_CLIENT_SECRET");
        let err =
            bootstrap_blueprints(&env(&[("INITIALIZE_PORT_RESOURCES", "maybe")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "INITIALIZE_PORT_RESOURCES: expected true or false, got \"maybe\""
        );
        let err = port_config(&env(&[
            ("PORT_CLIENT_ID", "i"),
            ("PORT_CLIENT_SECRET", "s"),
            ("PORT_MAX_IN_FLIGHT", "0"),
        ]))
        .unwrap_err();
        assert_eq!(err.name, "PORT_MAX_IN_FLIGHT");
    }
}
