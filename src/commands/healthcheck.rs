//! `healthcheck`: GETs the daemon's liveness endpoint; for container HEALTHCHECKs in images
//! without curl.

use std::time::Duration;

use super::Exit;
use crate::app::settings::DEFAULT_LISTEN_ADDR;

/// The URL probed: `--url`, else `/health/live` on LISTEN_ADDR's port on the loopback.
pub fn url(explicit: Option<&str>) -> String {
    if let Some(url) = explicit {
        return url.to_owned();
    }
    let listen = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| DEFAULT_LISTEN_ADDR.to_owned());
    let port = listen
        .rsplit_once(':')
        .map_or("8000", |(_, port)| port)
        .trim();
    format!("http://127.0.0.1:{port}/health/live")
}

pub async fn run(explicit: Option<&str>) -> Exit {
    let url = url(explicit);
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failures;
        }
    };
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => Exit::Success,
        Ok(response) => {
            eprintln!("unhealthy: {url} answered {}", response.status());
            Exit::Failures
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            Exit::Failures
        }
    }
}
