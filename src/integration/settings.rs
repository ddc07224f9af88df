//! The integration's settings, with the `OCEAN__` names Ocean's AWS integration is deployed
//! with.

use std::time::Duration;

use crate::config::{Env, SettingError};

pub const MAPPING_SOURCE: &str = "MAPPING_SOURCE";
pub const INTEGRATION_TYPE: [&str; 2] = ["INTEGRATION_TYPE", "OCEAN__INTEGRATION__TYPE"];
pub const EVENT_LISTENER_TYPE: [&str; 2] = ["EVENT_LISTENER_TYPE", "OCEAN__EVENT_LISTENER__TYPE"];
pub const EVENT_LISTENER_INTERVAL: [&str; 2] = [
    "EVENT_LISTENER_INTERVAL_SECONDS",
    "OCEAN__EVENT_LISTENER__INTERVAL",
];
/// The names a daemon config file may also set.
pub const FILE_SETTINGS: &[&str] = &[
    MAPPING_SOURCE,
    INTEGRATION_TYPE[0],
    INTEGRATION_TYPE[1],
    EVENT_LISTENER_TYPE[0],
    EVENT_LISTENER_TYPE[1],
    EVENT_LISTENER_INTERVAL[0],
    EVENT_LISTENER_INTERVAL[1],
];

/// The app type Ocean's AWS integration registers, so Port shows the AWS logo and docs.
pub const DEFAULT_INTEGRATION_TYPE: &str = "aws";
pub const DEFAULT_POLL_INTERVAL_SECONDS: u64 = 60;

/// Where every resync's mapping comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingSource {
    /// The integration's `config` in Port, read at the start of every resync; the local file
    /// only seeds an empty record.
    Port,
    /// The local file only (GitOps); Port's copy is overwritten with it when it differs.
    File,
}

impl MappingSource {
    pub fn as_str(self) -> &'static str {
        match self {
            MappingSource::Port => "port",
            MappingSource::File => "file",
        }
    }
}

/// How the daemon learns that Port wants a resync (Ocean's event listener types we support).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerType {
    /// Poll the integration every interval.
    Polling,
    /// One resync, then exit.
    Once,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationSettings {
    pub mapping_source: MappingSource,
    pub integration_type: String,
    pub listener: ListenerType,
    pub poll_interval: Duration,
    /// Fill a record whose mapping was never set with the local file (Ocean's
    /// `initializePortResources`).
    pub initialize_port_resources: bool,
}

impl IntegrationSettings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, SettingError> {
        let mapping_source = match env.get(&[MAPPING_SOURCE]) {
            None => MappingSource::Port,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "port" => MappingSource::Port,
                "file" => MappingSource::File,
                _ => {
                    return Err(SettingError {
                        name: MAPPING_SOURCE.to_owned(),
                        problem: format!("expected port or file, got {v:?}"),
                    });
                }
            },
        };
        let listener = match env.get(&EVENT_LISTENER_TYPE) {
            None => ListenerType::Polling,
            Some(v) => match v.trim().to_ascii_uppercase().as_str() {
                "POLLING" => ListenerType::Polling,
                "ONCE" => ListenerType::Once,
                _ => {
                    return Err(SettingError {
                        name: EVENT_LISTENER_TYPE[0].to_owned(),
                        problem: format!(
                            "expected POLLING or ONCE, got {v:?} (WEBHOOKS_ONLY and KAFKA are \
                             not supported)"
                        ),
                    });
                }
            },
        };
        let poll_interval = Duration::from_secs(env.seconds(
            &EVENT_LISTENER_INTERVAL,
            DEFAULT_POLL_INTERVAL_SECONDS,
            false,
        )?);
        Ok(IntegrationSettings {
            mapping_source,
            integration_type: env
                .get(&INTEGRATION_TYPE)
                .unwrap_or_else(|| DEFAULT_INTEGRATION_TYPE.to_owned()),
            listener,
            poll_interval,
            initialize_port_resources: crate::blueprints::initialize_port_resources(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::pairs as env;

    #[test]
    fn defaults_are_port_mapping_polling_every_minute_as_aws() {
        let s = IntegrationSettings::from_env(&env(&[])).unwrap();
        assert_eq!(s.mapping_source, MappingSource::Port);
        assert_eq!(s.listener, ListenerType::Polling);
        assert_eq!(s.poll_interval, Duration::from_secs(60));
        assert_eq!(s.integration_type, "aws");
        assert!(s.initialize_port_resources);
    }

    #[test]
    fn ocean_names_are_read_and_bad_values_named() {
        let s = IntegrationSettings::from_env(&env(&[
            ("OCEAN__EVENT_LISTENER__TYPE", "once"),
            ("OCEAN__EVENT_LISTENER__INTERVAL", "5"),
            ("OCEAN__INTEGRATION__TYPE", "aws-v3"),
            ("MAPPING_SOURCE", "File"),
        ]))
        .unwrap();
        assert_eq!(s.listener, ListenerType::Once);
        assert_eq!(s.poll_interval, Duration::from_secs(5));
        assert_eq!(s.integration_type, "aws-v3");
        assert_eq!(s.mapping_source, MappingSource::File);
        let err = IntegrationSettings::from_env(&env(&[("MAPPING_SOURCE", "git")])).unwrap_err();
        assert_eq!(err.name, "MAPPING_SOURCE");
        let err =
            IntegrationSettings::from_env(&env(&[("EVENT_LISTENER_TYPE", "KAFKA")])).unwrap_err();
        assert!(err.problem.contains("not supported"), "{err}");
        let err = IntegrationSettings::from_env(&env(&[("EVENT_LISTENER_INTERVAL_SECONDS", "0")]))
            .unwrap_err();
        assert_eq!(err.name, "EVENT_LISTENER_INTERVAL_SECONDS");
    }
}
