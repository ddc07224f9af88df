//! `peak-rss [--output FILE] [--] COMMAND [ARGS…]`: runs COMMAND with this process's stdio,
//! waits for it with `wait4` and prints one line of what it cost:
//!
//! `peak_rss_kib=52344 wall_s=3.201 user_s=1.020 sys_s=0.310 cpu_s=1.330 exit=0`
//!
//! to FILE (else stderr), then exits with COMMAND's exit code (128 + signal if killed).
//!
//! Why a parent of its own: Linux's `ru_maxrss` of a child starts from the memory of the
//! process it was forked (or vforked) from, so a child of a large test harness reports at
//! least the harness's size. This parent holds about 2 MiB, below anything it measures.

use std::ffi::OsString;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: peak-rss [--output FILE] [--] COMMAND [ARGS...]";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    let mut output = None;
    while let Some(arg) = args.peek() {
        if arg == "--output" {
            args.next();
            match args.next() {
                Some(file) => output = Some(file),
                None => return usage("--output needs a file"),
            }
        } else if arg == "--" {
            args.next();
            break;
        } else {
            break;
        }
    }
    let Some(program) = args.next() else {
        return usage("no command given");
    };
    let rest: Vec<OsString> = args.collect();

    let started = Instant::now();
    #[allow(clippy::zombie_processes, reason = "wait4 below reaps it")]
    let child = match Command::new(&program).args(&rest).spawn() {
        Ok(child) => child,
        Err(error) => {
            eprintln!(
                "peak-rss: cannot start {}: {error}",
                program.to_string_lossy()
            );
            return ExitCode::from(127);
        }
    };
    let (status, usage) = match wait4(child.id()) {
        Ok(reaped) => reaped,
        Err(error) => {
            eprintln!("peak-rss: wait4: {error}");
            return ExitCode::from(125);
        }
    };
    let wall = started.elapsed();
    let exit = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    let seconds = |t: libc::timeval| {
        (Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64))
            .as_secs_f64()
    };
    let (user, sys) = (seconds(usage.ru_utime), seconds(usage.ru_stime));
    let line = format!(
        "peak_rss_kib={} wall_s={:.3} user_s={user:.3} sys_s={sys:.3} cpu_s={:.3} exit={exit}\n",
        usage.ru_maxrss,
        wall.as_secs_f64(),
        user + sys,
    );
    match &output {
        Some(file) => {
            if let Err(error) = std::fs::write(file, &line) {
                eprintln!("peak-rss: cannot write {}: {error}", file.to_string_lossy());
                return ExitCode::from(125);
            }
        }
        None => eprint!("{line}"),
    }
    ExitCode::from(exit.clamp(0, 255) as u8)
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("peak-rss: {problem}\n{USAGE}");
    ExitCode::from(2)
}

/// Waits for this child only (unlike `getrusage(RUSAGE_CHILDREN)`) and returns its wait
/// status and resource usage.
fn wait4(pid: u32) -> std::io::Result<(i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is plain data, which wait4 fills for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if reaped == pid as libc::pid_t {
            return Ok((status, usage));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}
