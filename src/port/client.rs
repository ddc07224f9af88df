//! The client handle: cheap to clone, every clone sharing the token, the in-flight limit and
//! the counters.

use std::sync::Arc;

use super::config::PortConfig;
use super::error::PortError;
use super::stats::ClientStats;
use super::transport::Transport;

#[derive(Clone)]
pub struct PortClient {
    pub(crate) transport: Arc<Transport>,
    config: Arc<PortConfig>,
}

impl std::fmt::Debug for PortClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PortClient {
    /// Checks the configuration and builds the HTTP client; nothing is sent until the first
    /// call (which fetches the access token).
    pub fn new(config: PortConfig) -> Result<Self, PortError> {
        let transport = Transport::new(&config)?;
        Ok(PortClient {
            transport: Arc::new(transport),
            config: Arc::new(config),
        })
    }

    pub fn config(&self) -> &PortConfig {
        &self.config
    }

    pub fn integration_identifier(&self) -> &str {
        &self.config.integration_identifier
    }

    pub(crate) fn max_in_flight(&self) -> usize {
        self.config.max_in_flight.max(1)
    }

    /// Counters since the client was built.
    pub fn stats(&self) -> ClientStats {
        self.transport.stats.snapshot()
    }
}
