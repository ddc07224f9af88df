//! What a long-running command loads and checks before serving.

use std::sync::Arc;

use super::{DaemonSettings, Loaded, SetupError, load_files};
use crate::actions::{ActionBackend, Webhook, WebhookSettings};
use crate::aws::AwsSources;
use crate::mapping::CurrentMapping;
use crate::port::PortClient;

/// The files, a Port client, the AWS sources and the listening socket.
pub struct Startup {
    pub loaded: Loaded,
    pub port: PortClient,
    pub sources: AwsSources,
    pub listener: tokio::net::TcpListener,
}

impl Startup {
    pub async fn load(settings: &DaemonSettings) -> Result<Startup, SetupError> {
        let loaded = load_files(&settings.mapping, &settings.blueprints)?;
        let port = PortClient::new(settings.port.clone()).map_err(SetupError::PortClient)?;
        let sources = AwsSources::load(&settings.aws).await?;
        let listener = tokio::net::TcpListener::bind(settings.listen_addr)
            .await
            .map_err(|error| SetupError::Listen {
                addr: settings.listen_addr,
                error,
            })?;
        Ok(Startup {
            loaded,
            port,
            sources,
            listener,
        })
    }
}

/// The self-service actions webhook, acting with the sources' credentials and following the
/// catalog with the mapping `current` holds at each run.
pub fn webhook(
    settings: &WebhookSettings,
    sources: &AwsSources,
    mapping: Arc<CurrentMapping>,
    port: &PortClient,
) -> Arc<Webhook> {
    let backend = ActionBackend::new(sources, settings, mapping, port.clone());
    Arc::new(Webhook::new(settings, backend, port.clone()))
}
