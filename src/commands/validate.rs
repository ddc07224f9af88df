//! `validate`: configuration checks only, no AWS or Port access.

use super::Exit;
use crate::app::{SetupError, load_files};
use crate::cli::ConfigFiles;

pub fn run(files: &ConfigFiles) -> Result<Exit, SetupError> {
    let loaded = load_files(files.mapping(), files.blueprints())?;
    let expressions: usize = loaded
        .mapping
        .resources
        .iter()
        .map(|r| 1 + r.fields().count() + usize::from(r.items_to_parse.is_some()))
        .sum();
    eprintln!(
        "{}: {} resource(s), {} jq expression(s) compiled; {} blueprint(s) in {}: OK",
        files.mapping().display(),
        loaded.mapping.resources.len(),
        expressions,
        loaded.blueprints.by_id.len(),
        files.blueprints().display()
    );
    Ok(Exit::Success)
}
