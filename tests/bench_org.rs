//! Benchmark (numbers, no timed assertions): the release binary's `resync` over an AWS
//! Organization, `ACCOUNT_STRATEGY=organization`, against moto through the recording proxy
//! and into the Port emulator. Run with `scripts/bench-org.sh`.
//!
//! Three runs, each a fresh process as a CronJob would start it: a first resync into an empty
//! Port, a steady-state one with nothing changed in AWS, and `plan` at that steady state
//! (`plan` needs the blueprints in Port, which the first resync creates). For each: wall time, CPU time
//! and peak RSS of the child (`wait4`), AWS calls per operation beside the fewest pages the
//! APIs allow, and Port requests per endpoint.
//!
//! Sizes from the environment: `BENCH_ACCOUNTS` (management account included, default 3),
//! `BENCH_SECRETS` per account and region (default 1,000), `BENCH_CERTIFICATES` per account
//! and region (default 1), `BENCH_PORT_LATENCY_MS` added to every Port request (default 20).
//! Regions: four.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use port_emulator::{Emulator, Faults, paths};
use support::aws_proxy::AwsProxy;
use support::measure::{self, Measured};
use support::org::{self, Org, OrgSpec};

const REGIONS: [&str; 4] = ["eu-west-1", "us-east-1", "us-west-2", "ap-south-1"];
const BLUEPRINTS: [&str; 3] = ["awsAccount", "acmCertificate", "awsSecret"];

/// The largest page each list operation may return (the SDK asks for these).
const LIST_ACCOUNTS_PAGE: usize = 20;
const LIST_CERTIFICATES_PAGE: usize = 1000;
const LIST_SECRETS_PAGE: usize = 100;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|value| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{name} must be a whole number, got {value:?}"))
        })
        .unwrap_or(default)
}

/// What one run did, beside what it cost.
struct Run {
    measured: Measured,
    aws: BTreeMap<String, usize>,
    port: port_emulator::RequestCounts,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with scripts/bench-org.sh"]
async fn bench_org_resync() {
    let accounts = setting("BENCH_ACCOUNTS", 3);
    assert!(
        accounts >= 1,
        "BENCH_ACCOUNTS counts the management account"
    );
    let spec = OrgSpec {
        members: accounts - 1,
        regions: REGIONS.map(str::to_owned).to_vec(),
        secrets: setting("BENCH_SECRETS", 1000),
        certificates: setting("BENCH_CERTIFICATES", 1),
    };
    let latency_ms = setting("BENCH_PORT_LATENCY_MS", 20) as u64;

    // Copied first: seeding takes minutes, and another checkout sharing the target
    // directory may rebuild the binary in place meanwhile.
    let bin_dir = tempfile::tempdir().expect("temporary directory");
    let bin = bin_dir.path().join("port-aws-sync");
    // PORT_AWS_SYNC_BIN: a release binary measured with a debug-built harness.
    std::fs::copy(support::service::bin(), &bin).expect("copy the binary");

    let seeding = Instant::now();
    let org = org::seed(&spec).await;
    let scopes = accounts * REGIONS.len();
    let entities = accounts + scopes * (spec.secrets + spec.certificates);
    eprintln!(
        "seeded {accounts} accounts × {} regions × ({} secrets + {} certificates) in {:.1} s",
        REGIONS.len(),
        spec.secrets,
        spec.certificates,
        seeding.elapsed().as_secs_f64()
    );
    let proxy = AwsProxy::start(&org.moto.endpoint()).await;
    let emu = Emulator::builder()
        .faults(Faults {
            latency_ms,
            ..Faults::default()
        })
        .start()
        .await;

    let first = cli(&bin, "resync", &org, &proxy, &emu).await;
    let in_port: usize = BLUEPRINTS.iter().map(|bp| emu.entity_count(bp)).sum();
    let steady = cli(&bin, "resync", &org, &proxy, &emu).await;
    let plan_steady = cli(&bin, "plan", &org, &proxy, &emu).await;
    for run in [&first, &steady, &plan_steady] {
        assert_eq!(run.measured.exit, 0, "stderr:\n{}", run.measured.stderr);
    }

    assert_eq!(in_port, entities, "the first resync wrote every entity");

    println!(
        "\norganization resync: {accounts} accounts × {} regions × ({} secrets + {} \
         certificates) + {accounts} account entities = {entities} entities; Port latency \
         {latency_ms} ms per request",
        REGIONS.len(),
        spec.secrets,
        spec.certificates,
    );
    println!(
        "{:<14} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}",
        "", "wall", "CPU", "user", "sys", "peak RSS", "Port reqs"
    );
    for (name, run) in [
        ("first run", &first),
        ("steady state", &steady),
        ("plan, steady", &plan_steady),
    ] {
        let m = &run.measured;
        println!(
            "{name:<14} {:>8.2}s {:>8.2}s {:>8.2}s {:>9.2}s {:>6.1} MiB {:>10}",
            m.wall.as_secs_f64(),
            m.cpu().as_secs_f64(),
            m.user.as_secs_f64(),
            m.sys.as_secs_f64(),
            m.peak_rss_mib(),
            run.port.total(),
        );
    }
    let minimum = minimum_calls(accounts, &spec);
    for (name, run) in [
        ("first run", &first),
        ("steady state", &steady),
        ("plan, steady state", &plan_steady),
    ] {
        println!("\nAWS calls, {name}:");
        println!("  {:<40} {:>6} {:>8}", "operation", "calls", "minimum");
        let mut operations: Vec<&String> = run.aws.keys().chain(minimum.keys()).collect();
        operations.sort();
        operations.dedup();
        for operation in operations {
            println!(
                "  {operation:<40} {:>6} {:>8}",
                run.aws.get(operation).copied().unwrap_or(0),
                minimum.get(operation).copied().unwrap_or(0),
            );
        }
        println!(
            "  {:<40} {:>6} {:>8}",
            "total",
            run.aws.values().sum::<usize>(),
            minimum.values().sum::<usize>()
        );
        println!("\nPort requests, {name}:\n{}", run.port);
        println!(
            "  bulk writes {}, searches {}",
            run.port.count("POST", paths::ENTITIES_BULK),
            run.port.count("POST", paths::ENTITIES_SEARCH),
        );
        println!("  report:");
        for line in run.measured.stderr.lines().filter(|l| l.starts_with("  ")) {
            println!("  {line}");
        }
    }
}

/// The fewest calls a resync can make: every page of every list, plus the one AssumeRole
/// per member account that reading it through its role needs. The management account is
/// read with the caller's credentials.
fn minimum_calls(accounts: usize, spec: &OrgSpec) -> BTreeMap<String, usize> {
    let scopes = accounts * spec.regions.len();
    // An empty list is still one page.
    let pages = |items: usize, page: usize| items.div_ceil(page).max(1);
    BTreeMap::from([
        (
            "organizations:ListAccounts".to_owned(),
            pages(accounts, LIST_ACCOUNTS_PAGE),
        ),
        ("sts:AssumeRole".to_owned(), accounts - 1),
        (
            "acm:ListCertificates".to_owned(),
            scopes * pages(spec.certificates, LIST_CERTIFICATES_PAGE),
        ),
        (
            "secretsmanager:ListSecrets".to_owned(),
            scopes * pages(spec.secrets, LIST_SECRETS_PAGE),
        ),
    ])
}

/// One `port-aws-sync <subcommand>` process, as a deployment would run it: the caller's
/// credentials are the management account's, AWS is reached through the proxy.
async fn cli(
    bin: &Path,
    subcommand: &'static str,
    org: &Org,
    proxy: &AwsProxy,
    emu: &Emulator,
) -> Run {
    proxy.clear_calls();
    emu.clear_requests();
    let mut env = org.moto.env("us-east-1");
    env.extend(
        [
            ("AWS_ENDPOINT_URL", proxy.endpoint()),
            ("AWS_REGIONS", REGIONS.join(",")),
            ("ACCOUNT_STRATEGY", "organization".to_owned()),
            ("PORT_BASE_URL", emu.base_url()),
            ("PORT_CLIENT_ID", emu.client_id().to_owned()),
            ("PORT_CLIENT_SECRET", emu.client_secret().to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    // Allocator experiments: MIMALLOC_SHOW_STATS=1, MIMALLOC_PURGE_DELAY=0…
    env.extend(std::env::vars().filter(|(name, _)| name.starts_with("MIMALLOC_")));
    let measured = measure::command(bin.to_owned(), subcommand, env).await;
    Run {
        measured,
        aws: proxy.counts(),
        port: emu.request_counts(),
    }
}
