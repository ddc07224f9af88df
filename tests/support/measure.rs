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
