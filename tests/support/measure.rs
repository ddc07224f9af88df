//! Runs a child process to completion and reports what it cost: wall time, CPU time and
//! peak RSS, from `wait4` (this child only, unlike `getrusage(RUSAGE_CHILDREN)`, which
//! keeps the largest of every child reaped so far).

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One finished child.
pub struct Measured {
    pub exit: i32,
    pub wall: Duration,
    pub user: Duration,
    pub sys: Duration,
    /// Linux `ru_maxrss`: KiB.
    pub peak_rss_kib: i64,
    pub stderr: String,
}

impl Measured {
    pub fn cpu(&self) -> Duration {
        self.user + self.sys
    }

    pub fn peak_rss_mib(&self) -> f64 {
        self.peak_rss_kib as f64 / 1024.0
    }
}

/// Runs `command` with stdin and stdout closed and stderr kept, and waits for it. Blocking:
/// call it from `spawn_blocking` when servers of this process must go on answering it.
pub fn run(mut command: Command) -> Measured {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("stderr");
    let started = Instant::now();
    #[allow(clippy::zombie_processes, reason = "wait4 below reaps it")]
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log).expect("stderr file"))
        .spawn()
        .expect("start the child");
    let (exit, usage) = wait4(child.id());
    let wall = started.elapsed();
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Measured {
        exit,
        wall,
        user: time(usage.ru_utime),
        sys: time(usage.ru_stime),
        peak_rss_kib: usage.ru_maxrss,
        stderr: std::fs::read_to_string(&log).unwrap_or_default(),
    }
}

/// `bin resync` in the crate directory with only `env` (plus PATH and a fresh HOME),
/// measured, on a blocking thread so the emulators of this process keep answering it.
pub async fn resync(bin: std::path::PathBuf, env: Vec<(String, String)>) -> Measured {
    command(bin, "resync", env).await
}

/// [`resync`] for any subcommand.
pub async fn command(
    bin: std::path::PathBuf,
    subcommand: &'static str,
    env: Vec<(String, String)>,
) -> Measured {
    tokio::task::spawn_blocking(move || {
        let home = tempfile::tempdir().expect("temporary HOME");
        let mut command = Command::new(&bin);
        command
            .arg(subcommand)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .envs(env);
        run(command)
    })
    .await
    .expect("the runner does not panic")
}

/// Waits for the child and returns its exit code and resource usage. The `Child` handle is
/// not waited on afterwards: dropping it does not reap.
fn wait4(pid: u32) -> (i32, libc::rusage) {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid as libc::pid_t, "wait4 failed");
    let exit = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (exit, usage)
}
