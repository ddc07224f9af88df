//! A private moto server (a real implementation of the AWS APIs) per test.
//!
//! The binary is `$MOTO_SERVER`, else `moto_server` on PATH, else
//! `.venv/bin/moto_server` in the crate directory. Each [`Moto`] runs its own server
//! on a free loopback port, so tests can run in parallel without sharing state.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_sdk_sts::config::{Credentials, Region};
use aws_types::SdkConfig;

/// Access key pair moto accepts (it checks nothing); never real credentials.
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";
/// The account moto puts every resource in.
pub const ACCOUNT_ID: &str = "123456789012";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const START_ATTEMPTS: usize = 3;

pub struct Moto {
    child: Child,
    port: u16,
    log: tempfile::NamedTempFile,
}

impl Moto {
    /// Starts a moto server and waits until it accepts connections.
    pub fn start() -> Moto {
        let binary = moto_server_binary();
        let mut last_failure = String::new();
        // A port found free can be taken before moto binds it; try another one then.
        for _ in 0..START_ATTEMPTS {
            match Self::start_on(&binary, private_port()) {
                Ok(moto) => return moto,
                Err(failure) => last_failure = failure,
            }
        }
        panic!(
            "moto_server ({}) did not start: {last_failure}",
            binary.display()
        );
    }

    fn start_on(binary: &Path, port: u16) -> Result<Moto, String> {
        let log = tempfile::NamedTempFile::new().expect("temporary file for the moto log");
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.reopen().expect("moto log file"))
            .stderr(log.reopen().expect("moto log file"))
            .spawn()
            .map_err(|error| format!("cannot run it: {error}"))?;
        let mut moto = Moto { child, port, log };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(moto);
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("it exited with {status}: {}", moto.log_text()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer on port {port} after {STARTUP_TIMEOUT:?}: {}",
                    moto.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for a child process (the CLI, or a test re-running itself) so the
    /// standard AWS configuration chain reaches this moto.
    pub fn env(&self, region: &str) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
            ("AWS_REGION", region.to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// An aws-config loader aimed at this moto that ignores the host's AWS
    /// environment variables.
    pub fn config_loader(&self, region: &str) -> ConfigLoader {
        aws_config::defaults(BehaviorVersion::latest())
            .empty_test_environment()
            .endpoint_url(self.endpoint())
            .region(Region::new(region.to_owned()))
            .credentials_provider(credentials())
    }

    /// SDK config for seeding moto with any AWS SDK client.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        self.config_loader(region).load().await
    }

    /// Calls an AWS JSON-protocol operation (`target` such as
    /// `CertificateManager.DescribeCertificate`) over plain HTTP, without the SDK, and
    /// returns the response body as moto sent it. moto checks no signature; it routes
    /// on the service named in the Authorization header's credential scope.
    ///
    /// For reading back what AWS reports exactly: the SDK parses epoch-second
    /// timestamps through an f64, so its values are not the ones on the wire.
    pub async fn call_json(
        &self,
        service: &str,
        region: &str,
        target: &str,
        body: &serde_json::Value,
    ) -> String {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20240101/{region}/{service}/aws4_request, \
             SignedHeaders=host;x-amz-target, Signature=0"
        );
        let response = reqwest::Client::new()
            .post(self.endpoint())
            .header("X-Amz-Target", target)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("Authorization", authorization)
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|error| panic!("{target} to moto: {error}"));
        let status = response.status();
        let text = response
            .text()
            .await
            .unwrap_or_else(|error| panic!("{target} response body: {error}"));
        assert!(status.is_success(), "{target}: HTTP {status}: {text}");
        text
    }

    fn log_text(&self) -> String {
        let mut text = String::new();
        let _ = self
            .log
            .reopen()
            .and_then(|mut file| file.read_to_string(&mut text));
        text
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("moto_server"))
            .find(|candidate| candidate.is_file())
    });
    if let Some(path) = on_path {
        return path;
    }
    let in_venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    if in_venv.is_file() {
        return in_venv;
    }
    panic!(
        "moto_server not found. Install moto in a virtualenv next to Cargo.toml:\n  \
         python3 -m venv .venv && .venv/bin/pip install 'moto[server]'\n\
         or put moto_server on PATH, or set MOTO_SERVER=/path/to/moto_server"
    );
}

/// The static test credentials moto accepts.
pub fn credentials() -> Credentials {
    Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "moto")
}

/// A free loopback port below the kernel's ephemeral range (32768 and up on Linux), where
/// servers of other tests binding port 0 cannot land on it between the check and moto's own
/// bind: else the readiness check could be answered by another test's Port emulator.
pub fn private_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(7919);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (seed.wrapping_add(n.wrapping_mul(104_729)) % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
        .port()
}
