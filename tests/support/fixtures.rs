//! Mapping files for the tests: fixtures in `tests/fixtures/`, and edited copies of the
//! shipped mapping (`mapping/port-app-config.yml`).

use std::path::{Path, PathBuf};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// `tests/fixtures/{name}`.
pub fn path(name: &str) -> PathBuf {
    Path::new(MANIFEST_DIR).join("tests/fixtures").join(name)
}

/// The text of `tests/fixtures/{name}`.
pub fn read(name: &str) -> String {
    std::fs::read_to_string(path(name)).unwrap_or_else(|error| panic!("fixture {name}: {error}"))
}

/// A copy of `tests/fixtures/{name}` in `dir`, under the same name.
pub fn copy_into(dir: &Path, name: &str) -> PathBuf {
    let copy = dir.join(name);
    std::fs::write(&copy, read(name)).expect("write the fixture copy");
    copy
}

/// The shipped mapping's text.
pub fn shipped_mapping() -> String {
    std::fs::read_to_string(Path::new(MANIFEST_DIR).join("mapping/port-app-config.yml"))
        .expect("shipped mapping")
}

/// A copy of the shipped mapping in `dir` (`port-app-config.yml`) changed by `edit`,
/// which must change something.
pub fn edited_mapping(dir: &Path, edit: impl FnOnce(String) -> String) -> PathBuf {
    let shipped = shipped_mapping();
    let edited = edit(shipped.clone());
    assert_ne!(edited, shipped, "the edit changed nothing");
    let path = dir.join("port-app-config.yml");
    std::fs::write(&path, edited).expect("write the mapping copy");
    path
}

/// [`edited_mapping`] with `from`, which the shipped mapping holds exactly once,
/// replaced by `to`.
pub fn mapping_with(dir: &Path, from: &str, to: &str) -> PathBuf {
    edited_mapping(dir, |shipped| {
        assert_eq!(
            shipped.matches(from).count(),
            1,
            "{from:?} once in the mapping"
        );
        shipped.replacen(from, to, 1)
    })
}

/// The shipped mapping as JSON, as written (what registration stores in Port).
pub fn shipped_mapping_json() -> serde_json::Value {
    serde_saphyr::from_str(&shipped_mapping()).expect("the shipped mapping is YAML")
}

/// The shipped mapping as JSON with the secret resource's `field` mapped by `expression`.
pub fn secret_mapping_with(field: &str, expression: &str) -> serde_json::Value {
    let mut mapping = shipped_mapping_json();
    let secret = mapping["resources"]
        .as_array_mut()
        .expect("resources")
        .iter_mut()
        .find(|r| r["kind"] == serde_json::json!("AWS::SecretsManager::Secret"))
        .expect("a secret resource");
    secret["port"]["entity"]["mappings"][field] = serde_json::json!(expression);
    mapping
}
