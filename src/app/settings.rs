//! The settings of the long-running commands (`run`, `serve-actions`): flags, then the
//! environment, then the optional YAML config file; every value checked before anything
//! starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::schedule::Schedule;
use crate::actions::WebhookSettings;
use crate::actions::settings as webhook;
use crate::aws::AwsSettings;
use crate::config::{self, Env, Layer, SettingError};
use crate::events::settings::{self as live_events, LiveEventsSettings};
use crate::integration::{self, IntegrationSettings};
use crate::port::{PortConfig, Secret};
use crate::sync::empty_reads::DeletionSettings;

pub const DEFAULT_LISTEN_ADDR: &str = "0.0.0.0:8000";
pub const DEFAULT_SHUTDOWN_GRACE_SECONDS: u64 = 25;
pub const DEFAULT_INTERVAL_MINUTES: u64 = 60;
pub const DEFAULT_MAPPING_FILE: &str = "mapping/port-app-config.yml";
pub const DEFAULT_BLUEPRINTS_DIR: &str = "blueprints";

pub const MAPPING_FILE: &str = "MAPPING_FILE";
pub const BLUEPRINTS_DIR: &str = "BLUEPRINTS_DIR";
pub const SCHEDULE: &str = "SCHEDULE";
pub const INTERVAL_MINUTES: [&str; 2] = [
    "RESYNC_INTERVAL_MINUTES",
    "OCEAN__SCHEDULED_RESYNC_INTERVAL",
];
pub const INTERVAL_SECONDS: &str = "RESYNC_INTERVAL_SECONDS";
pub const RESYNC_ON_START: &str = "RESYNC_ON_START";
pub const LISTEN_ADDR: &str = "LISTEN_ADDR";
pub const RESYNC_TOKEN: &str = "RESYNC_TOKEN";
pub const SHUTDOWN_GRACE_SECONDS: &str = "SHUTDOWN_GRACE_SECONDS";
pub const CONFIG_FILE: &str = "CONFIG_FILE";
pub use crate::blueprints::INITIALIZE_PORT_RESOURCES;

/// The names [`DaemonSettings`] itself reads (its parts read theirs: [`PortConfig::SETTINGS`],
/// [`AwsSettings::SETTINGS`], [`webhook::NAMES`], [`integration::settings::FILE_SETTINGS`]).
pub const SERVICE_SETTINGS: &[&str] = &[
    MAPPING_FILE,
    BLUEPRINTS_DIR,
    SCHEDULE,
    INTERVAL_MINUTES[0],
    INTERVAL_MINUTES[1],
    INTERVAL_SECONDS,
    RESYNC_ON_START,
    LISTEN_ADDR,
    RESYNC_TOKEN,
    SHUTDOWN_GRACE_SECONDS,
    INITIALIZE_PORT_RESOURCES[0],
    INITIALIZE_PORT_RESOURCES[1],
];

/// Read from the environment only: the logger and the AWS SDK read them before a config file
/// is opened (checked here so that a bad value still stops the start).
const ENVIRONMENT_ONLY: &[&str] = &[
    "LOG_FORMAT",
    "LOG_LEVEL",
    "RUST_LOG",
    CONFIG_FILE,
    live_events::DEFAULT_REGION_VARS[0],
    live_events::DEFAULT_REGION_VARS[1],
];

/// The names a config file may hold: every name the readers of [`DaemonSettings`] declare.
pub fn file_settings() -> Vec<&'static str> {
    [
        SERVICE_SETTINGS,
        PortConfig::SETTINGS,
        AwsSettings::SETTINGS,
        webhook::NAMES,
        integration::settings::FILE_SETTINGS,
        live_events::SETTINGS,
        DeletionSettings::SETTINGS,
    ]
    .concat()
}

/// Whether blueprints missing in Port are created at start (Ocean: initializePortResources).
pub fn bootstrap_blueprints<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<bool, SettingError> {
    crate::blueprints::initialize_port_resources(env)
}

/// Flag values given on the command line, by setting name.
#[derive(Debug, Default, Clone)]
pub struct Flags(pub Vec<(&'static str, String)>);

impl Flags {
    fn layer(self) -> Layer {
        Box::new(move |name| {
            self.0
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        })
    }
}

impl Flags {
    /// `--mapping`/`--blueprints` (or their environment variables) when given: given, they
    /// beat a config file even when they name the default path.
    pub fn with_files(mut self, mapping: Option<&PathBuf>, blueprints: Option<&PathBuf>) -> Self {
        if let Some(mapping) = mapping {
            self.0.push((MAPPING_FILE, mapping.display().to_string()));
        }
        if let Some(blueprints) = blueprints {
            self.0
                .push((BLUEPRINTS_DIR, blueprints.display().to_string()));
        }
        self
    }

    pub fn set(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.0.push((name, value.into()));
        self
    }
}

/// Everything `run` and `serve-actions` need, checked. `Debug` shows no secret.
#[derive(Debug)]
pub struct DaemonSettings {
    pub mapping: PathBuf,
    pub blueprints: PathBuf,
    pub schedule: Schedule,
    pub resync_on_start: bool,
    pub listen_addr: SocketAddr,
    pub resync_token: Option<Secret>,
    pub shutdown_grace: Duration,
    pub port: PortConfig,
    pub bootstrap_blueprints: bool,
    pub aws: AwsSettings,
    /// The self-service actions webhook, when `WEBHOOK_ENABLED` (or `serve-actions`).
    pub webhook: Option<WebhookSettings>,
    pub config_file: Option<PathBuf>,
    /// Registration in Port, MAPPING_SOURCE, polling.
    pub integration: IntegrationSettings,
    /// Live events (LIVE_EVENTS_QUEUE_URL, LIVE_EVENTS_API_KEY); `None` when off.
    pub live_events: Option<LiveEventsSettings>,
    /// Stale deletion's own settings (EMPTY_SCOPE_GUARD_MIN).
    pub deletion: DeletionSettings,
}

impl DaemonSettings {
    /// Resolves flags > `process` environment > config file (`--config` / `CONFIG_FILE`).
    pub fn resolve(
        flags: Flags,
        process: Layer,
        config_flag: Option<PathBuf>,
    ) -> Result<Self, SettingError> {
        let config_file = config_flag.or_else(|| {
            process(CONFIG_FILE)
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from)
        });
        let file = match &config_file {
            Some(path) => config::read_config_file(CONFIG_FILE, path, &file_settings())?,
            None => Default::default(),
        };
        let env = Env::layered(vec![
            flags.layer(),
            process,
            Box::new(move |name| file.get(name).cloned()),
        ]);
        Self::from_env(&env, config_file)
    }

    fn from_env(env: &Env<Layer>, config_file: Option<PathBuf>) -> Result<Self, SettingError> {
        check_logging(env)?;
        let schedule = schedule(env)?;
        let resync_on_start = env.flag(&[RESYNC_ON_START], true)?;
        let listen = env
            .get(&[LISTEN_ADDR])
            .unwrap_or_else(|| DEFAULT_LISTEN_ADDR.to_owned());
        let listen_addr = listen.trim().parse().map_err(|_| SettingError {
            name: LISTEN_ADDR.to_owned(),
            problem: format!("expected an address and port such as 0.0.0.0:8000, got {listen:?}"),
        })?;
        let resync_token = env.get(&[RESYNC_TOKEN]).map(Secret::new);
        let shutdown_grace = Duration::from_secs(env.seconds(
            &[SHUTDOWN_GRACE_SECONDS],
            DEFAULT_SHUTDOWN_GRACE_SECONDS,
            true,
        )?);
        let port = PortConfig::from_settings(env)?;
        let webhook = WebhookSettings::from_env(env, &port.client_secret, false)?;
        let bootstrap_blueprints = bootstrap_blueprints(env)?;
        let aws = AwsSettings::from_settings(env)?;
        let deletion = DeletionSettings::from_settings(env)?;
        Ok(DaemonSettings {
            deletion,
            mapping: env
                .get(&[MAPPING_FILE])
                .unwrap_or_else(|| DEFAULT_MAPPING_FILE.to_owned())
                .into(),
            blueprints: env
                .get(&[BLUEPRINTS_DIR])
                .unwrap_or_else(|| DEFAULT_BLUEPRINTS_DIR.to_owned())
                .into(),
            schedule,
            resync_on_start,
            listen_addr,
            resync_token,
            shutdown_grace,
            port,
            bootstrap_blueprints,
            aws,
            webhook,
            config_file,
            integration: IntegrationSettings::from_env(env)?,
            live_events: LiveEventsSettings::from_settings(env).map_err(|message| {
                // The reader's messages start with the setting at fault.
                let (name, problem) = message
                    .split_once(": ")
                    .unwrap_or((live_events::QUEUE_URL_VAR, &message));
                SettingError {
                    name: name.to_owned(),
                    problem: problem.to_owned(),
                }
            })?,
        })
    }
}

/// `SCHEDULE` (cron), `RESYNC_INTERVAL_MINUTES` or `RESYNC_INTERVAL_SECONDS`: at most one;
/// none means every 60 minutes.
fn schedule<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Schedule, SettingError> {
    let cron = env.get(&[SCHEDULE]);
    let minutes = env.get(&INTERVAL_MINUTES).map(|_| ());
    let seconds = env.get(&[INTERVAL_SECONDS]).map(|_| ());
    let given: Vec<&str> = [
        (cron.is_some(), SCHEDULE),
        (minutes.is_some(), INTERVAL_MINUTES[0]),
        (seconds.is_some(), INTERVAL_SECONDS),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if given.len() > 1 {
        return Err(SettingError {
            name: given[0].to_owned(),
            problem: format!(
                "conflicts with {}: set only one schedule",
                given[1..].join(", ")
            ),
        });
    }
    if let Some(expression) = cron {
        return Schedule::cron(SCHEDULE, &expression);
    }
    if seconds.is_some() {
        return Ok(Schedule::Every(Duration::from_secs(env.seconds(
            &[INTERVAL_SECONDS],
            0,
            false,
        )?)));
    }
    let minutes = env.number(&INTERVAL_MINUTES, DEFAULT_INTERVAL_MINUTES as usize)?;
    Ok(Schedule::Every(Duration::from_secs(minutes as u64 * 60)))
}

/// `LOG_FORMAT` and `LOG_LEVEL`/`RUST_LOG` were applied before the settings were read; a bad
/// value must still stop the start.
fn check_logging<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<(), SettingError> {
    if let Some(format) = env.get(&[ENVIRONMENT_ONLY[0]])
        && !["json", "text"].contains(&format.trim().to_ascii_lowercase().as_str())
    {
        return Err(SettingError {
            name: "LOG_FORMAT".to_owned(),
            problem: format!("expected json or text, got {format:?}"),
        });
    }
    for name in [ENVIRONMENT_ONLY[2], ENVIRONMENT_ONLY[1]] {
        if let Some(level) = env.get(&[name])
            && tracing_subscriber::EnvFilter::try_new(level.to_lowercase()).is_err()
        {
            return Err(SettingError {
                name: name.to_owned(),
                problem: format!(
                    "expected a level (error, warn, info, debug, trace) or a tracing filter, got {level:?}"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)]) -> Result<DaemonSettings, SettingError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let process: Layer = Box::new(move |name| {
            owned
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        });
        DaemonSettings::resolve(Flags::default(), process, None)
    }

    const CREDS: [(&str, &str); 2] = [("PORT_CLIENT_ID", "id"), ("PORT_CLIENT_SECRET", "s3cret")];

    #[test]
    fn defaults() {
        let s = resolve(&CREDS).unwrap();
        assert_eq!(s.schedule, Schedule::Every(Duration::from_secs(3600)));
        assert!(s.resync_on_start);
        assert_eq!(s.listen_addr.to_string(), "0.0.0.0:8000");
        assert_eq!(s.shutdown_grace, Duration::from_secs(25));
        assert!(s.resync_token.is_none());
    }

    #[test]
    fn ocean_interval_alias_and_no_secret_in_debug() {
        let s = resolve(&[
            CREDS[0],
            CREDS[1],
            ("OCEAN__SCHEDULED_RESYNC_INTERVAL", "15"),
            ("RESYNC_TOKEN", "tok3n"),
            ("RESYNC_ON_START", "false"),
        ])
        .unwrap();
        assert_eq!(s.schedule, Schedule::Every(Duration::from_secs(900)));
        assert!(!s.resync_on_start);
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("tok3n") && !debug.contains("s3cret"),
            "{debug}"
        );
    }

    #[test]
    fn bad_values_name_setting_and_value() {
        let cases = [
            (("SCHEDULE", "every hour"), "SCHEDULE"),
            (("LISTEN_ADDR", "localhost"), "LISTEN_ADDR"),
            (("SHUTDOWN_GRACE_SECONDS", "soon"), "SHUTDOWN_GRACE_SECONDS"),
            (("RESYNC_INTERVAL_MINUTES", "0"), "RESYNC_INTERVAL_MINUTES"),
            (("RESYNC_ON_START", "perhaps"), "RESYNC_ON_START"),
            (("LOG_FORMAT", "xml"), "LOG_FORMAT"),
        ];
        for ((name, value), expected) in cases {
            let err = resolve(&[CREDS[0], CREDS[1], (name, value)]).unwrap_err();
            assert_eq!(err.name, expected);
            assert!(err.to_string().contains(&format!("{value:?}")), "{err}");
        }
        let err = resolve(&[
            CREDS[0],
            CREDS[1],
            ("SCHEDULE", "0 * * * *"),
            ("RESYNC_INTERVAL_SECONDS", "5"),
        ])
        .unwrap_err();
        assert_eq!(err.name, "SCHEDULE");
    }

    #[test]
    fn bootstrap_flag_names_its_setting() {
        let err =
            resolve(&[CREDS[0], CREDS[1], ("INITIALIZE_PORT_RESOURCES", "maybe")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "INITIALIZE_PORT_RESOURCES: expected true or false, got \"maybe\""
        );
    }

    #[test]
    fn an_aws_setting_error_names_the_setting_at_fault() {
        for (name, value) in [
            ("ACCOUNT_STRATEGY", "everything"),
            ("EXCLUDE_ACCOUNT_IDS", "abc"),
            ("ORGANIZATION_ROLE_ARN", "org-reader"),
        ] {
            let err = resolve(&[CREDS[0], CREDS[1], (name, value)]).unwrap_err();
            assert_eq!(err.name, name, "{err}");
        }
    }

    #[test]
    fn a_config_file_holds_the_multi_account_settings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daemon.yml");
        std::fs::write(
            &file,
            "PORT_CLIENT_ID: id\nPORT_CLIENT_SECRET: x\nACCOUNT_STRATEGY: organization\n\
             ORGANIZATION_ROLE_ARN: arn:aws:iam::111111111111:role/org-reader\n\
             ACCOUNT_READ_ROLE_NAME: reader\nEXTERNAL_ID: xyz\nACCOUNT_IDS: 222222222222\n\
             EXCLUDE_ACCOUNT_IDS: 333333333333\nMAX_CONCURRENT_ACCOUNTS: 2\n\
             AWS_OPERATION_TIMEOUT_SECONDS: 30\n",
        )
        .unwrap();
        let s = DaemonSettings::resolve(Flags::default(), Box::new(|_| None), Some(file)).unwrap();
        assert_eq!(
            s.aws.account_strategy,
            crate::aws::AccountStrategy::Organization
        );
        assert_eq!(s.aws.account_read_role_name, "reader");
        assert_eq!(s.aws.max_concurrent_accounts, 2);
        assert!(s.aws.wants_account("222222222222"));
    }

    #[test]
    fn an_explicit_default_mapping_path_beats_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daemon.yml");
        std::fs::write(
            &file,
            "PORT_CLIENT_ID: id\nPORT_CLIENT_SECRET: x\nMAPPING_FILE: other.yml\nBLUEPRINTS_DIR: other\n",
        )
        .unwrap();
        let given = PathBuf::from(DEFAULT_MAPPING_FILE);
        let flags = Flags::default().with_files(Some(&given), None);
        let s = DaemonSettings::resolve(flags, Box::new(|_| None), Some(file.clone())).unwrap();
        assert_eq!(s.mapping, given);
        assert_eq!(s.blueprints, PathBuf::from("other"));
        let s = DaemonSettings::resolve(Flags::default(), Box::new(|_| None), Some(file)).unwrap();
        assert_eq!(s.mapping, PathBuf::from("other.yml"));
    }

    #[test]
    fn every_name_read_is_one_a_config_file_may_hold_or_environment_only() {
        let asked = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
        let record = asked.clone();
        let process: Layer = Box::new(move |name| {
            record.lock().unwrap().insert(name.to_owned());
            match name {
                "PORT_CLIENT_ID" | "PORT_CLIENT_SECRET" => Some("x".to_owned()),
                webhook::WEBHOOK_ENABLED => Some("true".to_owned()),
                _ => None,
            }
        });
        DaemonSettings::resolve(Flags::default(), process, None).unwrap();
        let allowed = file_settings();
        for name in asked.lock().unwrap().iter() {
            assert!(
                allowed.contains(&name.as_str()) || ENVIRONMENT_ONLY.contains(&name.as_str()),
                "{name} is read but a config file may not hold it"
            );
        }
    }

    #[test]
    fn flags_beat_environment_beats_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daemon.yml");
        std::fs::write(
            &file,
            "listen_addr: 127.0.0.1:9000\nshutdown_grace_seconds: 3\nresync_interval_seconds: 2\nPORT_CLIENT_ID: from-file\nPORT_CLIENT_SECRET: x\n",
        )
        .unwrap();
        let process: Layer = Box::new(|name| match name {
            "SHUTDOWN_GRACE_SECONDS" => Some("4".into()),
            "LISTEN_ADDR" => Some("127.0.0.1:9001".into()),
            _ => None,
        });
        let flags = Flags(vec![(LISTEN_ADDR, "127.0.0.1:9002".into())]);
        let s = DaemonSettings::resolve(flags, process, Some(file)).unwrap();
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:9002");
        assert_eq!(s.shutdown_grace, Duration::from_secs(4));
        assert_eq!(s.schedule, Schedule::Every(Duration::from_secs(2)));
        assert_eq!(s.port.client_id, "from-file");
    }
}
