//! State shared by the handlers, the middleware and the test handle.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::auth::AuthState;
use crate::faults::FaultEngine;
use crate::request_log::RequestLog;
use crate::store::Store;

pub type Shared = Arc<AppState>;

pub struct AppState {
    store: Mutex<Store>,
    auth: Mutex<AuthState>,
    faults: Mutex<FaultEngine>,
    log: Mutex<RequestLog>,
    body_limit: AtomicUsize,
    record_bodies: AtomicBool,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

/// A poisoned lock only means a handler panicked mid-request; the data is still what the
/// emulator has, so keep serving rather than cascading the panic into every later request.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AppState {
    pub fn new(store: Store, auth: AuthState, faults: FaultEngine, body_limit: usize) -> Self {
        AppState {
            store: Mutex::new(store),
            auth: Mutex::new(auth),
            faults: Mutex::new(faults),
            log: Mutex::new(RequestLog::default()),
            body_limit: AtomicUsize::new(body_limit),
            record_bodies: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            peak_in_flight: AtomicUsize::new(0),
        }
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub fn auth(&self) -> MutexGuard<'_, AuthState> {
        lock(&self.auth)
    }

    pub fn faults(&self) -> MutexGuard<'_, FaultEngine> {
        lock(&self.faults)
    }

    pub fn log(&self) -> MutexGuard<'_, RequestLog> {
        lock(&self.log)
    }

    pub fn body_limit(&self) -> usize {
        self.body_limit.load(Ordering::Relaxed)
    }

    pub fn set_body_limit(&self, bytes: usize) {
        self.body_limit.store(bytes, Ordering::Relaxed);
    }

    /// Whether the request log keeps each request's body (off: bulk bodies are large).
    pub fn records_bodies(&self) -> bool {
        self.record_bodies.load(Ordering::Relaxed)
    }

    pub fn set_record_bodies(&self, on: bool) {
        self.record_bodies.store(on, Ordering::Relaxed);
    }

    /// Marks a Port request as started; returns a guard that marks it finished on drop.
    pub fn request_started(&self) -> InFlightGuard<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlightGuard(&self.in_flight)
    }

    /// The most Port requests handled at the same time since start.
    pub fn peak_in_flight(&self) -> usize {
        self.peak_in_flight.load(Ordering::SeqCst)
    }
}

pub struct InFlightGuard<'a>(&'a AtomicUsize);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
