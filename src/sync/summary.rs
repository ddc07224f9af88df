//! The end-of-run summary a person reads on stderr.

use std::fmt::Write;

use super::extract::Extraction;

/// One line per kind: items fetched, entities produced, filtered, skipped, failed, scopes.
pub fn render(extraction: &Extraction) -> String {
    let mut out = String::from("summary:\n");
    for (kind, summary) in &extraction.kinds {
        let s = &summary.stats;
        let _ = writeln!(
            out,
            "  {kind}: {} items fetched, {} entities, {} filtered out, {} skipped (no identifier or blueprint), {} failed; {} account(s), {} region(s){}",
            s.items,
            s.entities,
            s.filtered,
            s.skipped,
            s.failed,
            summary.accounts.len(),
            summary.regions.len(),
            if summary.failed_scopes > 0 {
                format!(", {} scope(s) failed", summary.failed_scopes)
            } else {
                String::new()
            }
        );
    }
    if !extraction.null_fields.is_empty() {
        let _ = writeln!(
            out,
            "  fields that mapped to null for some items (kept as null): {}",
            extraction.null_fields.join(", ")
        );
    }
    for error in &extraction.scope_errors {
        let _ = writeln!(out, "  error: {error}");
    }
    if extraction.item_failure_count > 0 {
        let _ = writeln!(
            out,
            "  {} item(s) could not be mapped (the first {} are logged above)",
            extraction.item_failure_count,
            extraction.item_failures.len()
        );
    }
    out
}
