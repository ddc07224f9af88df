//! The one way settings are read: an [`Env`] of layers (flags, the environment, a config file),
//! each name looked up with its Ocean `OCEAN__...` alias so an Ocean AWS integration's
//! deployment can switch over unchanged. Readers (`PortConfig::from_settings`,
//! `AwsSettings::from_settings`, `WebhookSettings::from_env`, the service settings) each
//! declare the names they read; the names a config file may hold are derived from those lists.

use std::fmt;

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

/// Looks settings up by name and by their Ocean alias, in one or more layers (for the daemon:
/// flags, then the environment, then the config file).
pub struct Env<F: Fn(&str) -> Option<String>> {
    layers: Vec<F>,
}

/// One source of settings in a layered [`Env`].
pub type Layer = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl Env<fn(&str) -> Option<String>> {
    pub fn process() -> Self {
        Env::new(process_var)
    }
}

fn process_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Env<Layer> {
    /// Settings from `layers`, the first layer that has any of a setting's names winning: a
    /// setting's alias in an earlier layer beats its main name in a later one.
    pub fn layered(layers: Vec<Layer>) -> Self {
        Env { layers }
    }

    /// The process environment as a layer.
    pub fn process_layer() -> Layer {
        Box::new(process_var)
    }
}

/// Settings given as (name, value) pairs, for tests of the readers.
#[cfg(test)]
pub(crate) fn pairs(
    pairs: &'static [(&'static str, &'static str)],
) -> Env<impl Fn(&str) -> Option<String>> {
    Env::new(move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn new(lookup: F) -> Self {
        Env {
            layers: vec![lookup],
        }
    }

    /// The first of `names` that is set to something other than blank.
    pub fn get(&self, names: &[&str]) -> Option<String> {
        self.layers.iter().find_map(|lookup| {
            names
                .iter()
                .find_map(|n| lookup(n).filter(|v| !v.trim().is_empty()))
        })
    }

    /// A whole number of seconds, or `default`; zero only when `allow_zero`.
    pub fn seconds(
        &self,
        names: &[&str],
        default: u64,
        allow_zero: bool,
    ) -> Result<u64, SettingError> {
        match self.get(names) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| allow_zero || *n > 0)
                .ok_or(SettingError {
                    name: names[0].to_owned(),
                    problem: format!(
                        "expected a {} whole number of seconds, got {v:?}",
                        if allow_zero {
                            "non-negative"
                        } else {
                            "positive"
                        }
                    ),
                }),
        }
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

    /// The value of a setting that has no default.
    pub fn required(&self, names: &[&str]) -> Result<String, SettingError> {
        self.get(names).ok_or_else(|| SettingError {
            name: names[0].to_owned(),
            problem: format!(
                "is required to write to Port (also read as {})",
                names[1..].join(", ")
            ),
        })
    }
}

/// Reads a YAML config file: a flat mapping of setting names (any case, e.g. `SCHEDULE` or
/// `schedule`) to scalars. Names outside `allowed` are refused so a typo is not silently
/// ignored. `setting` names the setting that pointed at the file, for error messages.
pub fn read_config_file(
    setting: &str,
    path: &std::path::Path,
    allowed: &[&str],
) -> Result<std::collections::BTreeMap<String, String>, SettingError> {
    let fail = |problem: String| SettingError {
        name: setting.to_owned(),
        problem,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read {:?}: {e}", path.display())))?;
    if text.trim().is_empty() {
        return Ok(Default::default());
    }
    let parsed: serde_json::Map<String, serde_json::Value> = serde_saphyr::from_str(&text)
        .map_err(|e| {
            fail(format!(
                "{:?} is not a YAML mapping of settings: {e}",
                path.display()
            ))
        })?;
    let mut settings = std::collections::BTreeMap::new();
    for (key, value) in parsed {
        let name = key.trim().to_ascii_uppercase().replace('-', "_");
        if !allowed.contains(&name.as_str()) {
            return Err(fail(format!(
                "{:?}: `{key}` is not a setting the config file accepts (one of {})",
                path.display(),
                allowed.join(", ")
            )));
        }
        let value = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => continue,
            other => {
                return Err(fail(format!(
                    "{:?}: `{key}` must be a string, number or boolean, got {other}",
                    path.display()
                )));
            }
        };
        settings.insert(name, value);
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_layers_win_even_over_aliases() {
        let flags: Layer = Box::new(|n| (n == "OCEAN__PORT__CLIENT_ID").then(|| "flag".into()));
        let process: Layer = Box::new(|n| (n == "PORT_CLIENT_ID").then(|| "env".into()));
        let env = Env::layered(vec![flags, process]);
        assert_eq!(
            env.get(&["PORT_CLIENT_ID", "OCEAN__PORT__CLIENT_ID"])
                .as_deref(),
            Some("flag")
        );
        let env = Env::layered(vec![Box::new(|_| None), Box::new(|_| Some("7".into()))]);
        assert_eq!(env.seconds(&["X"], 25, false), Ok(7));
        let env = Env::new(|_| Some("-1".into()));
        let err = env
            .seconds(&["SHUTDOWN_GRACE_SECONDS"], 25, true)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "SHUTDOWN_GRACE_SECONDS: expected a non-negative whole number of seconds, got \"-1\""
        );
    }

    #[test]
    fn config_file_is_a_flat_mapping_of_known_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yml");
        std::fs::write(
            &path,
            "schedule: '0 * * * *'\nRESYNC_ON_START: false\nshutdown_grace_seconds: 5\n",
        )
        .unwrap();
        let allowed = ["SCHEDULE", "RESYNC_ON_START", "SHUTDOWN_GRACE_SECONDS"];
        let read = read_config_file("CONFIG_FILE", &path, &allowed).unwrap();
        assert_eq!(read["SCHEDULE"], "0 * * * *");
        assert_eq!(read["RESYNC_ON_START"], "false");
        assert_eq!(read["SHUTDOWN_GRACE_SECONDS"], "5");
        std::fs::write(&path, "scheduel: x\n").unwrap();
        let err = read_config_file("CONFIG_FILE", &path, &allowed).unwrap_err();
        assert_eq!(err.name, "CONFIG_FILE");
        assert!(err.problem.contains("`scheduel`"), "{err}");
    }
}
