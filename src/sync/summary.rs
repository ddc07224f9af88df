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
    for error in &extraction.field_errors {
        let _ = writeln!(out, "  warning: misconfigured field: {error}");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::FieldError;

    #[test]
    fn a_misconfigured_field_is_listed_once_with_its_example() {
        let extraction = Extraction {
            field_errors: vec![FieldError {
                resource: "resources[0] (AWS::ACM::Certificate)".to_owned(),
                field: "properties.count".to_owned(),
                expression: ".count | ascii_downcase".to_owned(),
                message: "cannot use 3 as string".to_owned(),
                example: "arn:1".to_owned(),
                items: 4,
            }],
            ..Extraction::default()
        };
        assert_eq!(
            render(&extraction),
            "summary:\n  warning: misconfigured field: resources[0] (AWS::ACM::Certificate), field \
             `properties.count`, expression `.count | ascii_downcase`: cannot use 3 as string \
             (on 4 item(s), e.g. entity arn:1; written as null)\n"
        );
        // The entities were written: deletion is not held back.
        assert!(extraction.is_complete());
    }
}
