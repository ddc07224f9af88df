//! `resync --dry-run`: extract and transform, print one entity per line, write nothing.
//! `--kind` limits it to some kinds; `--dump-raw DIR` also saves the raw items for `map`.

use super::Exit;
use crate::app::{SetupError, load_files};
use crate::aws::Kind;
use crate::cli::{ConfigFiles, ResyncArgs};
use crate::mapping::Mapping;
use crate::sync::{extract_observed, mapped_kinds, summary};

use super::raw_dump::RawDump;

pub async fn run(files: &ConfigFiles, args: &ResyncArgs) -> Result<Exit, SetupError> {
    let loaded = load_files(files.mapping(), files.blueprints())?;
    let kinds = select_kinds(&loaded.mapping, &args.kinds).map_err(SetupError::Usage)?;
    let sources = super::aws_sources().await?;
    let mut dump = args
        .dump_raw
        .as_deref()
        .map(|dir| RawDump::create(dir, &kinds))
        .transpose()
        .map_err(|e| SetupError::Usage(format!("--dump-raw: {e}")))?;
    tracing::info!(
        kinds = ?kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        regions = ?sources.regions(),
        dump_raw = ?args.dump_raw,
        "dry-run: fetching and mapping; nothing is written to Port"
    );
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_error = None;
    let extraction = extract_observed(
        &sources,
        &loaded.mapping,
        &kinds,
        |page| {
            if let Some(dump) = &mut dump {
                dump.write(page);
            }
        },
        |entity| {
            if write_error.is_none()
                && let Err(e) = super::write_entity(&mut out, &entity)
            {
                write_error = Some(e);
            }
        },
    )
    .await;
    if let Err(e) = std::io::Write::flush(&mut out) {
        write_error.get_or_insert(e);
    }
    eprint!("{}", summary::render(&extraction));
    let mut exit = if extraction.is_complete() {
        Exit::Success
    } else {
        Exit::Failures
    };
    if let Some(Err(e)) = dump.map(RawDump::finish) {
        eprintln!("error: --dump-raw: {e}");
        exit = Exit::Failures;
    }
    if let Some(e) = write_error {
        eprintln!("error: writing entities to stdout failed: {e}");
        exit = Exit::Failures;
    }
    Ok(exit)
}

/// The kinds to fetch: every mapped kind this tool supports, or those `--kind` names, in the
/// mapping's order. An unknown or unmapped name is a usage error listing the valid kinds.
pub fn select_kinds(mapping: &Mapping, requested: &[String]) -> Result<Vec<Kind>, String> {
    let valid = mapped_kinds(mapping);
    if requested.is_empty() {
        return Ok(valid);
    }
    let list = || {
        valid
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for name in requested {
        let Some(kind) = Kind::from_name(name) else {
            return Err(format!(
                "--kind {name}: not a kind port-aws-sync fetches; valid kinds: {}",
                list()
            ));
        };
        if !valid.contains(&kind) {
            return Err(format!(
                "--kind {name}: {} does not map this kind; valid kinds: {}",
                mapping.file.display(),
                list()
            ));
        }
    }
    Ok(valid
        .into_iter()
        .filter(|kind| requested.iter().any(|name| name == kind.as_str()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn mapping(kinds: &[&str]) -> Mapping {
        let mut yaml = String::from("resources:\n");
        for kind in kinds {
            yaml.push_str(&format!(
                "  - kind: {kind}\n    port:\n      entity:\n        mappings:\n          \
                 identifier: .Id\n          blueprint: '\"b\"'\n"
            ));
        }
        Mapping::from_yaml(&yaml, Path::new("m.yml")).unwrap()
    }

    #[test]
    fn no_kind_means_every_supported_mapped_kind() {
        let m = mapping(&[
            "AWS::SecretsManager::Secret",
            "Custom::Thing",
            "AWS::ACM::Certificate",
        ]);
        assert_eq!(
            select_kinds(&m, &[]).unwrap(),
            [Kind::Secret, Kind::AcmCertificate]
        );
    }

    #[test]
    fn kinds_are_limited_deduplicated_and_in_mapping_order() {
        let m = mapping(&[
            "AWS::Organizations::Account",
            "AWS::ACM::Certificate",
            "AWS::SecretsManager::Secret",
        ]);
        let requested = [
            "AWS::SecretsManager::Secret".to_owned(),
            "AWS::Organizations::Account".to_owned(),
            "AWS::SecretsManager::Secret".to_owned(),
        ];
        assert_eq!(
            select_kinds(&m, &requested).unwrap(),
            [Kind::Account, Kind::Secret]
        );
    }

    #[test]
    fn unknown_and_unmapped_kinds_list_the_valid_ones() {
        let m = mapping(&["AWS::ACM::Certificate", "AWS::SecretsManager::Secret"]);
        let err = select_kinds(&m, &["AWS::S3::Bucket".into()]).unwrap_err();
        assert_eq!(
            err,
            "--kind AWS::S3::Bucket: not a kind port-aws-sync fetches; valid kinds: \
             AWS::ACM::Certificate, AWS::SecretsManager::Secret"
        );
        let err = select_kinds(&m, &["AWS::Organizations::Account".into()]).unwrap_err();
        assert_eq!(
            err,
            "--kind AWS::Organizations::Account: m.yml does not map this kind; valid kinds: \
             AWS::ACM::Certificate, AWS::SecretsManager::Secret"
        );
    }
}
