//! `port-aws-sync resync` at scale: 10,000 secrets and 1,000 certificates seeded into moto,
//! synced into the Port emulator (in this process) with 20 ms added to every Port request.
//!
//! `cargo bench --bench resync [-- SECRETS CERTIFICATES]` runs the binary twice, a first resync
//! into an empty Port and a steady-state one with nothing changed in AWS, and prints for each:
//! wall time, the child's CPU time (user + sys) and peak RSS (from `wait4`), and the Port
//! requests by endpoint. It asserts nothing. Needs moto (`scripts/moto-venv.sh`; or
//! `MOTO_SERVER=/path/to/moto_server`). Under `cargo test --all-targets` it runs once with 40
//! secrets and 4 certificates, to keep it working.

#[path = "../tests/support/moto.rs"]
#[allow(dead_code)]
mod moto;

#[path = "../tests/support/measure.rs"]
#[allow(dead_code)]
mod measure;

#[path = "../tests/support/certs.rs"]
#[allow(dead_code)]
mod certs;

#[path = "../tests/support/seed.rs"]
#[allow(dead_code)]
mod seed;

use std::path::Path;
use std::time::{Duration, Instant};

use moto::Moto;
use port_emulator::{Emulator, Faults, RequestCounts, paths};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const LATENCY_MS: u64 = 20;

/// One run of the CLI, measured.
struct Measured {
    exit: i32,
    wall: Duration,
    user: Duration,
    sys: Duration,
    peak_rss_kib: i64,
    stderr: String,
    requests: RequestCounts,
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this as a quick smoke test.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let mut args = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.parse::<usize>().expect("counts are whole numbers"));
    let (secrets, certificates) = if benchmarking {
        (10_000, 1_000)
    } else {
        (40, 4)
    };
    let secrets = args.next().unwrap_or(secrets);
    let certificates = args.next().unwrap_or(certificates);
    // moto validates a requested certificate 60 s after the request (PENDING_VALIDATION ->
    // ISSUED): a real AWS change that would land in the steady-state run. Read by the moto
    // server this process starts.
    // SAFETY: no other thread runs yet.
    unsafe { std::env::set_var("MOTO_ACM_VALIDATION_WAIT", "86400") };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(bench(secrets, certificates));
}

async fn bench(secrets: usize, certificates: usize) {
    // Copied first: seeding takes minutes, and another checkout sharing the target directory
    // may rebuild the binary in place meanwhile.
    let bin_dir = tempfile::tempdir().expect("temporary directory");
    let bin = bin_dir.path().join("port-aws-sync");
    std::fs::copy(env!("CARGO_BIN_EXE_port-aws-sync"), &bin).expect("copy the binary");
    let moto = Moto::start();
    let seeding = Instant::now();
    seed(&moto, secrets, certificates).await;
    eprintln!(
        "seeded {secrets} secrets and {certificates} certificates in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let emu = Emulator::builder()
        .faults(Faults {
            latency_ms: LATENCY_MS,
            ..Faults::default()
        })
        .start()
        .await;

    let first = run(&bin, &moto, &emu).await;
    let steady = run(&bin, &moto, &emu).await;
    for m in [&first, &steady] {
        if m.exit != 0 {
            eprintln!("resync exited {}:\n{}", m.exit, m.stderr);
        }
    }

    let entities = secrets + certificates + 1;
    println!(
        "resync of {secrets} secrets + {certificates} certificates + 1 account \
         ({entities} entities, {} regions), Port latency {LATENCY_MS} ms per request",
        REGIONS.len()
    );
    println!(
        "{:<14} {:>5} {:>9} {:>9} {:>9} {:>10}",
        "", "exit", "wall", "user", "sys", "peak RSS"
    );
    for (name, m) in [("first run", &first), ("steady state", &steady)] {
        println!(
            "{name:<14} {:>5} {:>8.2}s {:>8.2}s {:>8.2}s {:>7.1} MiB",
            m.exit,
            m.wall.as_secs_f64(),
            m.user.as_secs_f64(),
            m.sys.as_secs_f64(),
            m.peak_rss_kib as f64 / 1024.0
        );
    }
    let bound = secrets.div_ceil(20) + certificates.div_ceil(20) + 1;
    for (name, m) in [("first run", &first), ("steady state", &steady)] {
        println!("\nPort requests, {name}:\n{}", m.requests);
        println!(
            "  bulk writes {} (at most {bound} = ceil(N/20) per blueprint), searches {}, tokens {}",
            m.requests.count("POST", paths::ENTITIES_BULK),
            m.requests.count("POST", paths::ENTITIES_SEARCH),
            m.requests.count("POST", paths::ACCESS_TOKEN),
        );
        println!("  report:");
        for line in m.stderr.lines().filter(|l| l.starts_with("  ")) {
            println!("  {line}");
        }
    }
}

async fn seed(moto: &Moto, secrets: usize, certificates: usize) {
    let mut secret_clients = Vec::new();
    let mut acm_clients = Vec::new();
    for region in REGIONS {
        let config = moto.sdk_config(region).await;
        secret_clients.push(aws_sdk_secretsmanager::Client::new(&config));
        acm_clients.push(aws_sdk_acm::Client::new(&config));
    }
    let secret_clients = &secret_clients;
    seed::in_parallel(0..secrets, |i| async move {
        let name = format!("bench/service-{i:05}/db-password");
        let team = format!("team-{}", i % 17);
        seed::secret(
            &secret_clients[i % REGIONS.len()],
            &name,
            "never-synced",
            &[("team", team.as_str())],
        )
        .description(format!("database password of service {i}"))
        .send()
        .await
        .expect("create secret");
    })
    .await;
    let acm_clients = &acm_clients;
    seed::in_parallel(0..certificates, |i| async move {
        let domain = format!("service-{i:04}.bench.example.com");
        seed::request_certificate(&acm_clients[i % REGIONS.len()], &domain).await;
    })
    .await;
}

/// Runs `port-aws-sync resync` as the tests do (clean environment, crate directory) and
/// measures it with `wait4`.
async fn run(bin: &Path, moto: &Moto, emu: &Emulator) -> Measured {
    emu.clear_requests();
    let mut env = moto.env(REGIONS[0]);
    env.extend(
        [
            ("AWS_REGIONS", REGIONS.join(",")),
            ("PORT_BASE_URL", emu.base_url()),
            ("PORT_CLIENT_ID", emu.client_id().to_owned()),
            ("PORT_CLIENT_SECRET", emu.client_secret().to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let measured = measure::resync(bin.to_owned(), env).await;
    Measured {
        exit: measured.exit,
        wall: measured.wall,
        user: measured.user,
        sys: measured.sys,
        peak_rss_kib: measured.peak_rss_kib,
        stderr: measured.stderr,
        requests: emu.request_counts(),
    }
}
