//! `--mapping-from-port` for `resync --dry-run`, `map` and `validate`: the integration's
//! mapping in Port, written to a file named after it, used where the mapping file would be.

use std::path::PathBuf;

use crate::config::Env;
use crate::port::{PortClient, PortConfig};

/// A mapping fetched from Port into a file of its own, removed on drop.
pub struct PortMappingFile {
    dir: PathBuf,
    pub path: PathBuf,
}

impl Drop for PortMappingFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads the integration's mapping (Port settings from the environment) into
/// `{tmp}/integration {id} config`, so every message about it names it so.
pub async fn fetch() -> Result<PortMappingFile, String> {
    let port_config = PortConfig::from_settings(&Env::process()).map_err(|e| e.to_string())?;
    let port = PortClient::new(port_config).map_err(|e| e.to_string())?;
    let id = port.integration_identifier().to_owned();
    let record = port
        .get_integration()
        .await
        .map_err(|e| format!("--mapping-from-port: {e}"))?
        .ok_or_else(|| format!("--mapping-from-port: Port has no integration {id}"))?;
    if record.config_is_unset() {
        return Err(format!(
            "--mapping-from-port: {}: no mapping is stored in Port",
            super::mapping_source::port_config_name(&id)
        ));
    }
    let dir = std::env::temp_dir().join(format!(
        "port-aws-sync-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(super::mapping_source::port_config_name(&id));
    let file = PortMappingFile { dir, path };
    // JSON is YAML: the mapping parser reads it as it reads a file.
    let text = serde_json::to_string_pretty(&record.config).expect("JSON serializes");
    std::fs::write(&file.path, text).map_err(|e| format!("{}: {e}", file.path.display()))?;
    tracing::info!(integration = %id, updated_at = ?record.updated_at, "using the mapping stored in Port");
    Ok(file)
}
