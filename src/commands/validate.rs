//! `validate`: configuration checks only, no AWS or Port access.

use crate::cli::{ConfigFiles, Exit};

pub fn run(files: &ConfigFiles) -> Exit {
    let Some(loaded) = super::load(files) else {
        return Exit::Config;
    };
    let expressions: usize = loaded
        .mapping
        .resources
        .iter()
        .map(|r| 1 + r.fields().count() + usize::from(r.items_to_parse.is_some()))
        .sum();
    eprintln!(
        "{}: {} resource(s), {} jq expression(s) compiled; {} blueprint(s) in {}: OK",
        files.mapping.display(),
        loaded.mapping.resources.len(),
        expressions,
        loaded.blueprints.by_id.len(),
        files.blueprints.display()
    );
    Exit::Success
}
