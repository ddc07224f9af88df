//! `resync --dry-run`: extract and transform, print one entity per line, write nothing.

use std::io::Write;

use crate::cli::{ConfigFiles, Exit};
use crate::sync::{extract, mapped_kinds, summary};

pub async fn run(files: &ConfigFiles) -> Exit {
    let Some(loaded) = super::load(files) else {
        return Exit::Config;
    };
    let Some(sources) = super::aws_sources().await else {
        return Exit::Config;
    };
    let kinds = mapped_kinds(&loaded.mapping);
    tracing::info!(
        kinds = ?kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        regions = ?sources.regions(),
        "dry-run: fetching and mapping; nothing is written to Port"
    );
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_error = None;
    let extraction = extract(&sources, &loaded.mapping, &kinds, |entity| {
        if write_error.is_none()
            && let Err(e) = serde_json::to_writer(&mut out, &entity)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
        {
            write_error = Some(e);
        }
    })
    .await;
    if let Err(e) = out.flush() {
        write_error.get_or_insert(e);
    }
    eprint!("{}", summary::render(&extraction));
    if let Some(e) = write_error {
        eprintln!("error: writing entities to stdout failed: {e}");
        return Exit::Failures;
    }
    if extraction.is_complete() {
        Exit::Success
    } else {
        Exit::Failures
    }
}
