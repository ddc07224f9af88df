//! The daemon's settings: flags, then the environment, then the optional YAML config file;
//! every value checked before anything starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::schedule::Schedule;
use crate::actions::WebhookSettings;
use crate::actions::settings as webhook;
use crate::aws::AwsSettings;
use crate::config::{self, Env, Layer, SettingError};
use crate::port::{PortConfig, Secret};

pub const DEFAULT_LISTEN_ADDR: &str = "0.0.0.0:8000";
pub const DEFAULT_SHUTDOWN_GRACE_SECONDS: u64 = 25;
pub const DEFAULT_INTERVAL_MINUTES: u64 = 60;
pub const DEFAULT_MAPPING_FILE: &str = "mapping/port-app-config.yml";
pub const DEFAULT_BLUEPRINTS_DIR: &str = "blueprints";

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

/// Settings a config file may hold (AWS credentials and logging stay in the environment: the
/// AWS SDK and the logger read them before the file is opened).
pub const FILE_SETTINGS: &[&str] = &[
    "MAPPING_FILE",
    "BLUEPRINTS_DIR",
    SCHEDULE,
    "RESYNC_INTERVAL_MINUTES",
    "OCEAN__SCHEDULED_RESYNC_INTERVAL",
    INTERVAL_SECONDS,
    RESYNC_ON_START,
    LISTEN_ADDR,
    RESYNC_TOKEN,
    SHUTDOWN_GRACE_SECONDS,
    "PORT_CLIENT_ID",
    "OCEAN__PORT__CLIENT_ID",
    "PORT_CLIENT_SECRET",
    "OCEAN__PORT__CLIENT_SECRET",
    "PORT_BASE_URL",
    "OCEAN__PORT__BASE_URL",
    "INTEGRATION_IDENTIFIER",
    "OCEAN__INTEGRATION__IDENTIFIER",
    "PORT_MAX_IN_FLIGHT",
    "INITIALIZE_PORT_RESOURCES",
    "OCEAN__INITIALIZE_PORT_RESOURCES",
    "AWS_REGIONS",
    "AWS_REGION_CONCURRENCY",
    webhook::WEBHOOK_ENABLED,
    webhook::WEBHOOK_PATH,
    webhook::WEBHOOK_SECRET,
    webhook::WEBHOOK_VERIFY_SIGNATURE,
    webhook::WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS,
    webhook::WEBHOOK_MAX_BODY_BYTES,
    webhook::WEBHOOK_RATE_LIMIT_PER_MINUTE,
];

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

/// The global `--mapping`/`--blueprints` as flags. They (or their environment variables) count
/// only when they differ from the defaults, so a config file can set them.
pub fn file_flags(files: &crate::cli::ConfigFiles) -> Vec<(&'static str, String)> {
    let mut flags = Vec::new();
    if files.mapping.as_os_str() != DEFAULT_MAPPING_FILE {
        flags.push(("MAPPING_FILE", files.mapping.display().to_string()));
    }
    if files.blueprints.as_os_str() != DEFAULT_BLUEPRINTS_DIR {
        flags.push(("BLUEPRINTS_DIR", files.blueprints.display().to_string()));
    }
    flags
}

/// Everything `run` needs, checked. `Debug` shows no secret.
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
    /// Registration in Port, MAPPING_SOURCE, polling (issue 13).
    pub integration: crate::integration::IntegrationSettings,
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
            Some(path) => config::read_config_file(
                CONFIG_FILE,
                path,
                &[FILE_SETTINGS, crate::integration::settings::FILE_SETTINGS].concat(),
            )?,
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
        let port = config::port_config(env)?;
        let webhook = WebhookSettings::from_env(env, &port.client_secret, false)?;
        let bootstrap_blueprints = config::bootstrap_blueprints(env)?;
        let aws = AwsSettings::from_lookup(|name| env.get(&[name])).map_err(|e| SettingError {
            name: "AWS_REGION_CONCURRENCY".to_owned(),
            problem: e.to_string(),
        })?;
        Ok(DaemonSettings {
            mapping: env
                .get(&["MAPPING_FILE"])
                .unwrap_or_else(|| DEFAULT_MAPPING_FILE.to_owned())
                .into(),
            blueprints: env
                .get(&["BLUEPRINTS_DIR"])
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
            integration: crate::integration::IntegrationSettings::from_env(env)?,
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
    if let Some(format) = env.get(&["LOG_FORMAT"])
        && !["json", "text"].contains(&format.trim().to_ascii_lowercase().as_str())
    {
        return Err(SettingError {
            name: "LOG_FORMAT".to_owned(),
            problem: format!("expected json or text, got {format:?}"),
        });
    }
    for name in ["RUST_LOG", "LOG_LEVEL"] {
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
