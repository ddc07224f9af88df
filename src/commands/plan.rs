//! `plan`: read Port and AWS, write nothing, and print what a resync would do. Exit codes as
//! `terraform plan -detailed-exitcode`: 0 no changes, 2 changes, 1 any error (configuration
//! errors included; `dispatch` maps them), also when AWS was read incompletely.
//!
//! Port is only asked for a token, the entity searches and the integration's record (read, for
//! the empty-read guard's memory, as the following resync would): no blueprint is created,
//! the integration is not registered, no state is reported.

use std::io::Write;

use super::{CommandError, Exit};
use crate::app::{SetupError, load_files};
use crate::cli::{ConfigFiles, PlanArgs, PlanOutput};
use crate::config::Env;
use crate::integration::{self, empty_reads::Memory};
use crate::port::{PortClient, PortConfig};
use crate::sync::Resync;
use crate::sync::empty_reads::{DeletionSettings, EmptyReads};

pub async fn run(files: &ConfigFiles, args: &PlanArgs) -> Result<Exit, CommandError> {
    let loaded = load_files(files.mapping(), files.blueprints())?;
    let env = Env::process();
    let port_config = PortConfig::from_settings(&env).map_err(SetupError::from)?;
    let deletion = DeletionSettings::from_settings(&env).map_err(SetupError::from)?;
    let port = PortClient::new(port_config).map_err(SetupError::PortClient)?;
    let sources = super::aws_sources().await?;
    let empty_before = empty_reads_in_port(&port).await;
    let resync = Resync {
        mapping: &loaded.mapping,
        blueprints: &loaded.blueprints,
        sources: &sources,
        port: &port,
        // Never acted on by `plan`: a blueprint missing in Port is shown as one to create
        // when the resync would create it.
        bootstrap_blueprints: crate::app::settings::bootstrap_blueprints(&env)
            .map_err(SetupError::from)?,
        deletion,
        empty_before: &empty_before,
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

/// The empty reads the following resync would confirm, as Port remembers them; none when the
/// record cannot be read (not registered yet, no permission): every empty read is then shown
/// held back, which is what a resync without that memory does.
async fn empty_reads_in_port(port: &PortClient) -> EmptyReads {
    match port.get_integration().await {
        Ok(Some(record)) => {
            let memory = integration::empty_reads::from_record(&record);
            if !matches!(memory, Memory::Remembered(_) | Memory::Missing) {
                tracing::warn!("{memory}");
            }
            memory.empty_reads()
        }
        Ok(None) => EmptyReads::default(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the integration's record in Port; every empty read is shown held back");
            EmptyReads::default()
        }
    }
}
