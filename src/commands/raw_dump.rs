//! `resync --dry-run --dump-raw DIR`: the raw items of each kind, one per line, exactly as the
//! mapping sees them, so `map` can replay them offline.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::aws::{Kind, Page};

/// `AWS::ACM::Certificate` → `AWS_ACM_Certificate.ndjson`.
pub fn file_name(kind: &str) -> String {
    format!("{}.ndjson", kind.replace("::", "_"))
}

/// A write to the dump that failed, with the file it was for.
#[derive(Debug)]
pub struct DumpError {
    pub path: PathBuf,
    pub error: io::Error,
}

impl std::fmt::Display for DumpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot write raw items to {}: {}",
            self.path.display(),
            self.error
        )
    }
}

struct KindFile {
    path: PathBuf,
    out: BufWriter<File>,
}

/// One NDJSON file per kind, created (or truncated) up front so that a kind that fetched
/// nothing still leaves an empty file behind.
pub struct RawDump {
    files: BTreeMap<Kind, KindFile>,
    /// The first write error; later pages are not written.
    error: Option<DumpError>,
}

impl RawDump {
    /// Creates `dir` if missing and one empty file per kind.
    pub fn create(dir: &Path, kinds: &[Kind]) -> Result<Self, DumpError> {
        std::fs::create_dir_all(dir).map_err(|error| DumpError {
            path: dir.to_owned(),
            error,
        })?;
        let mut files = BTreeMap::new();
        for kind in kinds {
            let path = dir.join(file_name(kind.as_str()));
            let file = File::create(&path).map_err(|error| DumpError {
                path: path.clone(),
                error,
            })?;
            files.insert(
                *kind,
                KindFile {
                    path,
                    out: BufWriter::new(file),
                },
            );
        }
        Ok(Self { files, error: None })
    }

    /// Appends the page's items to its kind's file.
    pub fn write(&mut self, page: &Page) {
        if self.error.is_some() {
            return;
        }
        let Some(file) = self.files.get_mut(&page.kind) else {
            return;
        };
        let result = page.items.iter().try_for_each(|item| {
            serde_json::to_writer(&mut file.out, item)?;
            file.out.write_all(b"\n")
        });
        if let Err(error) = result {
            self.error = Some(DumpError {
                path: file.path.clone(),
                error,
            });
        }
    }

    /// Flushes every file; the first error of the whole dump, if any.
    pub fn finish(self) -> Result<(), DumpError> {
        let mut first = self.error;
        for (_, mut file) in self.files {
            if let Err(error) = file.out.flush() {
                first.get_or_insert(DumpError {
                    path: file.path,
                    error,
                });
            }
        }
        first.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn file_names_replace_double_colons() {
        assert_eq!(
            file_name("AWS::ACM::Certificate"),
            "AWS_ACM_Certificate.ndjson"
        );
        assert_eq!(
            file_name("AWS::Organizations::Account"),
            "AWS_Organizations_Account.ndjson"
        );
    }

    #[test]
    fn writes_one_item_per_line_per_kind_and_empty_files_for_kinds_without_items() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("new/raw");
        let mut dump = RawDump::create(&target, &[Kind::AcmCertificate, Kind::Secret]).unwrap();
        let page = |items| Page {
            kind: Kind::AcmCertificate,
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            items,
        };
        dump.write(&page(vec![
            json!({"B": 1, "A": "x"}),
            json!({"__Kind": "k"}),
        ]));
        dump.write(&page(vec![json!({"C": [1, 2]})]));
        dump.finish().unwrap();
        let acm = std::fs::read_to_string(target.join("AWS_ACM_Certificate.ndjson")).unwrap();
        assert_eq!(
            acm,
            "{\"B\":1,\"A\":\"x\"}\n{\"__Kind\":\"k\"}\n{\"C\":[1,2]}\n"
        );
        let secrets =
            std::fs::read_to_string(target.join("AWS_SecretsManager_Secret.ndjson")).unwrap();
        assert_eq!(secrets, "");
    }

    #[test]
    fn a_directory_that_cannot_be_created_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let err = RawDump::create(&blocker.join("sub"), &[Kind::Account])
            .err()
            .expect("a file is in the way");
        assert!(
            err.to_string().starts_with(&format!(
                "cannot write raw items to {}",
                blocker.join("sub").display()
            )),
            "{err}"
        );
    }
}
