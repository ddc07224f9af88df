//! The handle tests and the binary use: build, start, inspect, inject faults, stop.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::auth::AuthState;
use crate::body_limit::PORT_BODY_LIMIT;
use crate::faults::{FaultEngine, Faults};
use crate::integration::{self, Integration};
use crate::request_log::{RequestCounts, RequestRecord};
use crate::runs::new_run;
use crate::seed::{DEFAULT_SEED_DATASOURCE, add_blueprints, read_blueprint_dir, seed_entity};
use crate::state::{AppState, Shared};
use crate::store::{Store, StoredEntity};
use crate::timefmt::now_rfc3339;

pub const DEFAULT_CLIENT_ID: &str = "emulator-client-id";
pub const DEFAULT_CLIENT_SECRET: &str = "emulator-client-secret";
/// Port's tokens live about three hours.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3 * 60 * 60);

#[derive(Debug)]
pub enum StartError {
    Seed(String),
    Bind(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Seed(why) => write!(f, "cannot seed the emulator: {why}"),
            StartError::Bind(e) => write!(f, "cannot bind the emulator: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Configures an [`Emulator`] before it starts.
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    credentials: Vec<(String, String)>,
    token_lifetime: Duration,
    single_active_token: bool,
    blueprints: Vec<Value>,
    blueprint_dirs: Vec<PathBuf>,
    entities: Vec<(String, Value, String)>,
    integrations: Vec<Value>,
    faults: Faults,
    body_limit: usize,
    bind: SocketAddr,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            credentials: Vec::new(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            single_active_token: true,
            blueprints: Vec::new(),
            blueprint_dirs: Vec::new(),
            entities: Vec::new(),
            integrations: Vec::new(),
            faults: Faults::default(),
            body_limit: PORT_BODY_LIMIT,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl EmulatorBuilder {
    /// Client credentials to accept (several may be added). Without any, the emulator accepts
    /// [`DEFAULT_CLIENT_ID`] / [`DEFAULT_CLIENT_SECRET`].
    pub fn credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.credentials
            .push((client_id.into(), client_secret.into()));
        self
    }

    /// How long issued tokens live (`expiresIn`); Port's last about three hours.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Port keeps one active token per credential set (a new token retires the previous one);
    /// this lets several coexist.
    pub fn allow_concurrent_tokens(mut self) -> Self {
        self.single_active_token = false;
        self
    }

    pub fn blueprint(mut self, blueprint: Value) -> Self {
        self.blueprints.push(blueprint);
        self
    }

    pub fn blueprints(mut self, blueprints: impl IntoIterator<Item = Value>) -> Self {
        self.blueprints.extend(blueprints);
        self
    }

    /// Every `*.json` file of `dir` (one blueprint or an array of them per file).
    pub fn blueprints_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.blueprint_dirs.push(dir.into());
        self
    }

    /// An entity present at start, written by [`DEFAULT_SEED_DATASOURCE`].
    pub fn entity(self, blueprint: impl Into<String>, entity: Value) -> Self {
        self.entity_from(blueprint, entity, DEFAULT_SEED_DATASOURCE)
    }

    /// An entity present at start, recorded as written by `datasource` (a `User-Agent`).
    pub fn entity_from(
        mut self,
        blueprint: impl Into<String>,
        entity: Value,
        datasource: impl Into<String>,
    ) -> Self {
        self.entities
            .push((blueprint.into(), entity, datasource.into()));
        self
    }

    /// An integration record present at start (e.g. one Ocean registered): `installationId`
    /// plus any fields of the record (`config`, `installationAppType`, `version`, ...), the
    /// rest as Port fills it in.
    pub fn integration(mut self, record: Value) -> Self {
        self.integrations.push(record);
        self
    }

    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// The request body limit (Port's is 1 MiB); lower it to provoke 413s.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Where to listen; 127.0.0.1 on a free port by default.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Starts the emulator; panics when it cannot (for tests: a bad seed is a broken test).
    pub async fn start(self) -> Emulator {
        match self.try_start().await {
            Ok(emulator) => emulator,
            Err(e) => panic!("{e}"),
        }
    }

    pub async fn try_start(self) -> Result<Emulator, StartError> {
        let mut credentials = self.credentials;
        if credentials.is_empty() {
            credentials.push((DEFAULT_CLIENT_ID.into(), DEFAULT_CLIENT_SECRET.into()));
        }
        let mut store = Store::default();
        let mut blueprints = Vec::new();
        for dir in &self.blueprint_dirs {
            blueprints.extend(read_blueprint_dir(dir).map_err(StartError::Seed)?);
        }
        blueprints.extend(self.blueprints);
        add_blueprints(&mut store, blueprints).map_err(StartError::Seed)?;
        for (blueprint, entity, datasource) in &self.entities {
            seed_entity(&mut store, blueprint, entity, datasource)
                .map_err(|e| StartError::Seed(format!("entity in {blueprint}: {e}")))?;
        }
        let auth = AuthState::new(
            credentials.iter().cloned().collect::<HashMap<_, _>>(),
            self.token_lifetime,
            self.single_active_token,
        );
        let state: Shared = Arc::new(AppState::new(
            store,
            auth,
            FaultEngine::new(self.faults),
            self.body_limit,
        ));
        let listener = tokio::net::TcpListener::bind(self.bind)
            .await
            .map_err(StartError::Bind)?;
        let addr = listener.local_addr().map_err(StartError::Bind)?;
        for record in &self.integrations {
            seed_integration(&state, &format!("http://{addr}"), record)?;
        }
        let app = crate::router::build(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "port-emulator server stopped");
            }
        });
        tracing::debug!(%addr, "port-emulator listening");
        Ok(Emulator {
            state,
            addr,
            credentials: credentials[0].clone(),
            stop: Some(stop),
            server: Some(server),
        })
    }
}

fn seed_integration(state: &Shared, base: &str, record: &Value) -> Result<(), StartError> {
    let id = record["installationId"]
        .as_str()
        .ok_or_else(|| StartError::Seed("an integration needs an installationId".into()))?;
    let fields = record.as_object().cloned().unwrap_or_default();
    if let Some(config) = fields.get("config") {
        integration::check_config(config, "config")
            .map_err(|e| StartError::Seed(format!("integration {id}: {}", e.message)))?;
    }
    let now = now_rfc3339();
    let mut json = integration::new_record(id, base, DEFAULT_SEED_DATASOURCE, &now);
    json.extend(fields);
    state.store().integrations.by_id.insert(
        id.to_string(),
        Integration {
            json,
            ..Integration::default()
        },
    );
    Ok(())
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    state: Shared,
    addr: SocketAddr,
    credentials: (String, String),
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first accepted client id.
    pub fn client_id(&self) -> &str {
        &self.credentials.0
    }

    pub fn client_secret(&self) -> &str {
        &self.credentials.1
    }

    /// Entities of a blueprint with their metadata, ordered by identifier.
    pub fn entities(&self, blueprint: &str) -> Vec<StoredEntity> {
        self.state.store().entities_of(blueprint).cloned().collect()
    }

    pub fn entity(&self, blueprint: &str, identifier: &str) -> Option<StoredEntity> {
        self.state.store().entity(blueprint, identifier).cloned()
    }

    pub fn entity_count(&self, blueprint: &str) -> usize {
        self.state.store().entities_of(blueprint).count()
    }

    /// A blueprint as `GET /v1/blueprints/{identifier}` returns it.
    pub fn blueprint(&self, identifier: &str) -> Option<Value> {
        self.state
            .store()
            .blueprint(identifier)
            .map(|b| Value::Object(b.json.clone()))
    }

    pub fn blueprints(&self) -> Vec<Value> {
        let store = self.state.store();
        store
            .blueprints
            .values()
            .map(|b| Value::Object(b.json.clone()))
            .collect()
    }

    /// Adds blueprints (validated; relations may point at each other).
    pub fn add_blueprints(
        &self,
        blueprints: impl IntoIterator<Item = Value>,
    ) -> Result<(), String> {
        add_blueprints(&mut self.state.store(), blueprints.into_iter().collect())
    }

    /// Writes entities as if `datasource` had upserted them (validated against the blueprint;
    /// missing related entities are created).
    pub fn seed_entities(
        &self,
        blueprint: &str,
        entities: impl IntoIterator<Item = Value>,
        datasource: &str,
    ) -> Result<(), String> {
        let mut store = self.state.store();
        entities
            .into_iter()
            .try_for_each(|e| seed_entity(&mut store, blueprint, &e, datasource))
    }

    /// Creates an action run in progress, as Port does when a user triggers an action.
    pub fn create_run(&self, run_id: &str, action: &str) {
        self.state
            .store()
            .runs
            .insert(run_id.to_string(), new_run(run_id, action));
    }

    /// A run as `GET /v1/actions/runs/{run_id}` returns it.
    pub fn run(&self, run_id: &str) -> Option<Value> {
        self.state
            .store()
            .runs
            .get(run_id)
            .map(|r| Value::Object(r.json.clone()))
    }

    pub fn run_logs(&self, run_id: &str) -> Vec<Value> {
        self.state
            .store()
            .runs
            .get(run_id)
            .map(|r| r.logs.clone())
            .unwrap_or_default()
    }

    /// An integration record as `GET /v1/integration/{id}` returns it.
    pub fn integration(&self, id: &str) -> Option<Value> {
        self.with_integration(id, |i| Value::Object(i.json.clone()))
    }

    /// Every resync state the integration reported, in order.
    pub fn resync_states(&self, id: &str) -> Vec<Value> {
        self.with_integration(id, |i| i.resync_states.clone())
            .unwrap_or_default()
    }

    /// The latest resync request (`{id, updatedAt}`).
    pub fn resync_request(&self, id: &str) -> Option<Value> {
        self.with_integration(id, |i| i.resync_request.clone())
            .flatten()
    }

    /// The raw examples last posted for `kind`.
    pub fn kind_examples(&self, id: &str, kind: &str) -> Vec<Value> {
        self.with_integration(id, |i| i.examples.get(kind).cloned())
            .flatten()
            .unwrap_or_default()
    }

    /// Every kind's sync metrics posted to the metrics ingest URL, in order.
    pub fn ingested_metrics(&self, id: &str) -> Vec<Value> {
        self.with_integration(id, |i| i.metrics.clone())
            .unwrap_or_default()
    }

    /// Every log line posted to the log ingest URL, in order.
    pub fn ingested_logs(&self, id: &str) -> Vec<Value> {
        self.with_integration(id, |i| i.logs.clone())
            .unwrap_or_default()
    }

    /// What a user does in Port's UI with "Save & Resync": stores the mapping (checked as
    /// `PATCH .../config` checks it) and requests a resync.
    pub fn save_and_resync(&self, id: &str, config: Value) -> Result<(), String> {
        let mut store = self.state.store();
        let now = now_rfc3339();
        integration::set_config(&mut store.integrations, id, config, "user", &now)
            .map_err(|e| e.message)?;
        store.integrations.request_resync(id, &now);
        Ok(())
    }

    /// A mapping change without a resync request (`PATCH .../config` by a user's script).
    pub fn set_integration_config(&self, id: &str, config: Value) -> Result<(), String> {
        let mut store = self.state.store();
        integration::set_config(&mut store.integrations, id, config, "user", &now_rfc3339())
            .map(|_| ())
            .map_err(|e| e.message)
    }

    /// Deletes an integration, as a user removing it from Data Sources.
    pub fn remove_integration(&self, id: &str) -> bool {
        self.state.store().integrations.by_id.remove(id).is_some()
    }

    /// A resync requested without a mapping change (the UI's "Resync" button).
    pub fn request_resync(&self, id: &str) -> Option<Value> {
        self.state
            .store()
            .integrations
            .request_resync(id, &now_rfc3339())
    }

    fn with_integration<T>(&self, id: &str, f: impl FnOnce(&Integration) -> T) -> Option<T> {
        self.state.store().integrations.by_id.get(id).map(f)
    }

    /// Counts of Port requests by (method, path template, status); admin calls are not counted.
    pub fn request_counts(&self) -> RequestCounts {
        self.state.log().counts()
    }

    /// Every Port request answered so far, in order of completion.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.log().records().to_vec()
    }

    /// The most Port requests the emulator was handling at the same time (latency included),
    /// to check a client's concurrency bound.
    pub fn peak_concurrent_requests(&self) -> usize {
        self.state.peak_in_flight()
    }

    /// Keeps every request body in [`Emulator::requests`] from now on (to check what a client
    /// sent, e.g. that no secret reached Port).
    pub fn record_bodies(&self, on: bool) {
        self.state.set_record_bodies(on);
    }

    pub fn clear_requests(&self) {
        self.state.log().clear();
    }

    /// Replaces the active faults (and restarts their random sequence from `faults.seed`).
    pub fn set_faults(&self, faults: Faults) {
        *self.state.faults() = FaultEngine::new(faults);
    }

    pub fn clear_faults(&self) {
        self.set_faults(Faults::default());
    }

    pub fn set_body_limit(&self, bytes: usize) {
        self.state.set_body_limit(bytes);
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.state.auth().set_token_lifetime(lifetime);
    }

    pub fn add_credentials(&self, client_id: &str, client_secret: &str) {
        self.state
            .auth()
            .add_credentials(client_id.to_string(), client_secret.to_string());
    }

    /// Invalidates every issued token: the next call with one gets 401 "Invalid access token".
    pub fn revoke_tokens(&self) {
        self.state.auth().revoke_all();
    }

    /// Makes every issued token expired: the next call with one gets 401 "Access token has
    /// expired".
    pub fn expire_tokens(&self) {
        self.state.auth().expire_all();
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
