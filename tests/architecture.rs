//! The floors of docs/architecture.md, enforced: a module may use modules on its own floor's
//! lower floors only, so data flows one way and the edge stays thin.

use std::path::Path;

/// Lowest first. Modules of one floor do not use each other, except at the edge.
const FLOORS: &[&[&str]] = &[
    &["config", "entity", "logging"],
    &["aws", "mapping", "blueprints", "port"],
    &["validate"],
    &["sync"],
    &["actions", "integration"],
    &["events"],
    &["app"],
    &["daemon"],
    &["cli", "commands"],
];

fn floor_of(module: &str) -> Option<usize> {
    FLOORS.iter().position(|floor| floor.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::name` paths of a file (in `use` lines and in code alike).
fn crate_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        found.push(name);
    }
    found
}

#[test]
fn no_module_uses_one_on_a_higher_floor() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(own) = floor_of(&top) else {
            violations.push(format!(
                "{top}: not on any floor (add it to FLOORS and to docs/architecture.md)"
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for used in crate_paths(&text) {
            let Some(floor) = floor_of(&used) else {
                continue;
            };
            let edge = own == FLOORS.len() - 1;
            if used != top && (floor > own || (floor == own && !edge)) {
                violations.push(format!("{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
