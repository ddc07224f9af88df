//! The mapping and the blueprints, loaded and checked against each other.

use std::path::Path;

use super::SetupError;
use crate::aws::Kind;
use crate::blueprints::Blueprints;
use crate::mapping::Mapping;

pub struct Loaded {
    pub mapping: Mapping,
    pub blueprints: Blueprints,
}

/// Loads both files and cross-checks them (every jq expression compiled, every mapped
/// blueprint, property and relation known). Warnings (kinds we do not fetch) are logged.
pub fn load_files(mapping_file: &Path, blueprints_dir: &Path) -> Result<Loaded, SetupError> {
    let mapping = Mapping::load(mapping_file)?;
    let blueprints = Blueprints::load_dir(blueprints_dir)?;
    let findings = crate::validate::check(&mapping, &blueprints, |kind| {
        Kind::from_name(kind).is_some()
    });
    for warning in &findings.warnings {
        tracing::warn!("{}: {warning}", mapping_file.display());
    }
    if !findings.problems.is_empty() {
        return Err(SetupError::Invalid {
            file: mapping_file.to_owned(),
            problems: findings.problems,
        });
    }
    Ok(Loaded {
        mapping,
        blueprints,
    })
}
