//! One module per subcommand; shared start-up checks live here.

pub mod dry_run;
pub mod healthcheck;
pub mod map;
pub mod raw_dump;
pub mod resync;
pub mod run;
pub mod serve_actions;
pub mod serve_events;
pub mod validate;

use std::io::{self, Write};

use crate::aws::{AwsSettings, AwsSources, Kind};
use crate::blueprints::Blueprints;
use crate::cli::ConfigFiles;
use crate::entity::Entity;
use crate::mapping::Mapping;

/// One entity as a line of NDJSON: the one serialization `resync --dry-run` and `map` print.
pub fn write_entity(out: &mut impl Write, entity: &Entity) -> io::Result<()> {
    serde_json::to_writer(&mut *out, entity)?;
    out.write_all(b"\n")
}

/// The mapping and blueprints, loaded and checked against each other.
pub struct Loaded {
    pub mapping: Mapping,
    pub blueprints: Blueprints,
}

/// Loads and validates the configuration files. Every problem is printed; `None` means the
/// caller must stop with exit code 2 before touching AWS or Port.
pub fn load(files: &ConfigFiles) -> Option<Loaded> {
    let mapping = match Mapping::load(&files.mapping) {
        Ok(mapping) => mapping,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    let blueprints = match Blueprints::load_dir(&files.blueprints) {
        Ok(blueprints) => blueprints,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    let findings = crate::validate::check(&mapping, &blueprints, |kind| {
        Kind::from_name(kind).is_some()
    });
    for warning in &findings.warnings {
        tracing::warn!("{}: {warning}", files.mapping.display());
    }
    if !findings.problems.is_empty() {
        for problem in &findings.problems {
            eprintln!("error: {}: {problem}", files.mapping.display());
        }
        return None;
    }
    Some(Loaded {
        mapping,
        blueprints,
    })
}

/// The AWS sources from the environment; `None` (after printing why) means exit 2.
pub async fn aws_sources() -> Option<AwsSources> {
    let loaded = match AwsSettings::from_env() {
        Ok(settings) => AwsSources::load(&settings).await,
        Err(e) => Err(e),
    };
    loaded.map_err(|e| eprintln!("error: {e}")).ok()
}
