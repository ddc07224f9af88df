//! State shared by the handlers, the middleware and the test handle.

use std::sync::atomic::{AtomicUsize, Ordering};
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
}
