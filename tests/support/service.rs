//! The binary under test as a long-running child process (a daemon or `serve-actions`), with
//! its stderr captured for assertions; killed when dropped.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use port_emulator::Emulator;

use super::moto::{Moto, private_port};

const BIN: &str = env!("CARGO_BIN_EXE_port-aws-sync");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
/// A guard against a hung condition, not a performance expectation.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// The binary under test; `PORT_AWS_SYNC_BIN` overrides cargo's (for a build directory that
/// other checkouts share and may relink meanwhile).
pub fn bin() -> String {
    std::env::var("PORT_AWS_SYNC_BIN").unwrap_or_else(|_| BIN.to_owned())
}

/// What a long-running test process runs with: moto's AWS settings for `region` (also its
/// only AWS_REGIONS), the Port emulator's address and credentials, then `extra`, whose
/// entries win over the earlier ones.
pub fn env(
    moto: &Moto,
    emu: &Emulator,
    region: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env = moto.env(region);
    env.extend(
        [
            ("PORT_BASE_URL", emu.base_url()),
            ("PORT_CLIENT_ID", emu.client_id().to_owned()),
            ("PORT_CLIENT_SECRET", emu.client_secret().to_owned()),
            ("AWS_REGIONS", region.to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

pub struct Service {
    child: Mutex<Child>,
    pub port: u16,
    stderr: Arc<Mutex<String>>,
}

impl Service {
    /// Runs `port-aws-sync <args>` in the crate directory with only `env` (plus PATH, HOME
    /// and LISTEN_ADDR on a free loopback port).
    pub fn start(args: &[&str], env: &[(String, String)]) -> Service {
        let port = private_port();
        let mut child = Command::new(bin())
            .args(args)
            .current_dir(MANIFEST_DIR)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start port-aws-sync");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        std::thread::spawn({
            let stderr = stderr.clone();
            move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    stderr
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Service {
            child: Mutex::new(child),
            port,
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until `condition` holds, panicking with the process's log after [`PATIENCE`].
    pub async fn wait_for<F, Fut>(&self, what: &str, mut condition: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if condition().await {
                return;
            }
            let exited = self.child.lock().unwrap().try_wait();
            if let Ok(Some(status)) = exited {
                panic!(
                    "process exited ({status}) before {what}:\n{}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the exit (generously) and returns the exit code.
    pub async fn exit_code(&self) -> Option<i32> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let exited = self.child.lock().unwrap().try_wait().expect("wait");
            if let Some(status) = exited {
                // Let the reader drain the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "process did not exit:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([
                &format!("-{name}"),
                &self.child.lock().unwrap().id().to_string(),
            ])
            .status()
            .expect("run kill");
        assert!(status.success());
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}
