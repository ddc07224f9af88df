//! `plan`: read Port and AWS, write nothing, and print what a resync would do. Exit codes as
//! `terraform plan -detailed-exitcode`: 0 no changes, 2 changes, 1 any error (configuration
//! errors included; `dispatch` maps them), also when AWS was read incompletely.
//!
//! Port is only asked for a token and the entity searches: no blueprint is created, the
//! integration is not registered, no state is reported.

use std::io::Write;

use super::{CommandError, Exit};
use crate::app::{SetupError, load_files};
use crate::cli::{ConfigFiles, PlanArgs, PlanOutput};
use crate::config::Env;
use crate::port::{PortClient, PortConfig};
use crate::sync::Resync;

pub async fn run(files: &ConfigFiles, args: &PlanArgs) -> Result<Exit, CommandError> {
    let loaded = load_files(files.mapping(), files.blueprints())?;
    let env = Env::process();
    let port_config = PortConfig::from_settings(&env).map_err(SetupError::from)?;
    let port = PortClient::new(port_config).map_err(SetupError::PortClient)?;
    let sources = super::aws_sources().await?;
    let resync = Resync {
        mapping: &loaded.mapping,
        blueprints: &loaded.blueprints,
        sources: &sources,
        port: &port,
        bootstrap_blueprints: false,
    };
    let preview = resync.preview().await.map_err(CommandError::Resync)?;
    let printed = match args.output {
        PlanOutput::Text => preview.render_text(args.limit),
        PlanOutput::Json => format!("{:#}\n", preview.to_json()),
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(printed.as_bytes())
        .and_then(|()| stdout.flush())
    {
        eprintln!("error: writing the plan to stdout failed: {e}");
        return Ok(Exit::Failures);
    }
    if !preview.extraction.is_complete() {
        for error in &preview.extraction.scope_errors {
            eprintln!("error: {error}");
        }
        if preview.extraction.item_failure_count > 0 {
            eprintln!(
                "error: {} item(s) could not be mapped",
                preview.extraction.item_failure_count
            );
        }
        return Ok(Exit::Failures);
    }
    Ok(if preview.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    })
}
