//! Logs go to stderr so stdout stays clean for entity output.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// `LOG_FORMAT=json|text` (default text); level from `RUST_LOG`, else `LOG_LEVEL`, else info.
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("LOG_LEVEL").ok())
        .map(|level| EnvFilter::new(level.to_lowercase()))
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.with_target(false).init();
    }
}
