//! `port-aws-sync run` end to end: the real binary as a child process against a private moto
//! and the in-process Port emulator, observed through its HTTP endpoints, its logs and the
//! emulator's records. No timing assertions: conditions are awaited with generous deadlines.

mod support;

use std::process::{Command, Stdio};
use std::time::Instant;

use port_emulator::{Emulator, Faults, paths};
use serde_json::{Value, json};
use support::moto::{Moto, free_port};
use support::seed;
use support::service::{self, Service, bin};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const REGION: &str = "us-east-1";
const BLUEPRINTS: [&str; 3] = ["awsAccount", "acmCertificate", "awsSecret"];

/// `port-aws-sync run` as a child process, with its HTTP endpoints.
struct Daemon {
    service: Service,
    http: reqwest::Client,
}

impl std::ops::Deref for Daemon {
    type Target = Service;

    fn deref(&self) -> &Service {
        &self.service
    }
}

impl Daemon {
    fn start(env: &[(String, String)]) -> Daemon {
        Daemon {
            service: Service::start(&["run"], env),
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = self.http.get(self.url(path)).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    async fn ready(&self) -> Option<Value> {
        match self.get("/health/ready").await {
            Some((200, body)) => serde_json::from_str(&body).ok(),
            _ => None,
        }
    }

    async fn metrics(&self) -> Metrics {
        let (status, body) = self.get("/metrics").await.expect("GET /metrics");
        assert_eq!(status, 200, "{body}");
        Metrics(body)
    }
}

/// The `/metrics` text.
struct Metrics(String);

impl Metrics {
    /// The value of the sample `name{labels}` (labels as written, e.g. `result="success"`),
    /// 0 when absent.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        self.0
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
                let rest = rest.trim_end_matches('}');
                let have: Vec<&str> = if rest.is_empty() {
                    Vec::new()
                } else {
                    rest.split(',').collect()
                };
                (metric == name
                    && wanted.len() == have.len()
                    && wanted.iter().all(|w| have.contains(&w.as_str())))
                .then(|| value.parse().ok())
                .flatten()
            })
            .next()
            .unwrap_or(0.0)
    }
}

async fn emulator(faults: Faults) -> Emulator {
    Emulator::builder().faults(faults).start().await
}

fn env(moto: &Moto, emu: &Emulator, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = service::env(moto, emu, REGION, &[("LOG_LEVEL", "info")]);
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

async fn seed_secrets(moto: &Moto, count: usize) {
    let client = &aws_sdk_secretsmanager::Client::new(&moto.sdk_config(REGION).await);
    seed::in_parallel(0..count, |i| async move {
        seed::create_secret(client, &format!("daemon/secret-{i:04}"), "not-synced").await;
    })
    .await;
}

fn search_latency(ms: u64) -> Faults {
    Faults {
        latency_ms: ms,
        endpoints: vec![format!("POST {}", paths::ENTITIES_SEARCH)],
        ..Faults::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_resyncs_repeat_and_health_and_metrics_match_what_was_written() {
    let moto = Moto::start();
    seed_secrets(&moto, 3).await;
    let emu = emulator(Faults::default()).await;
    let daemon = Daemon::start(&env(
        &moto,
        &emu,
        &[("RESYNC_INTERVAL_SECONDS", "1"), ("RESYNC_TOKEN", "tok3n")],
    ));

    daemon
        .wait_for("three successful resyncs", || async {
            daemon_metric(
                &daemon,
                "port_aws_sync_resyncs_total",
                &[("result", "success")],
            )
            .await
                >= 3.0
        })
        .await;

    let ready = daemon.ready().await.expect("ready");
    assert_eq!(ready["ready"], json!(true), "{ready}");
    assert_eq!(ready["lastResync"]["result"], json!("success"), "{ready}");
    assert!(ready["lastSuccessAt"].is_string(), "{ready}");
    let (live, _) = daemon.get("/health/live").await.expect("live");
    assert_eq!(live, 200);
    // The container HEALTHCHECK: exit 0 against the daemon, 1 where nothing listens.
    let healthcheck = |url: String| {
        Command::new(bin())
            .args(["healthcheck", "--url", &url])
            .env_clear()
            .output()
            .expect("run healthcheck")
            .status
            .code()
    };
    assert_eq!(healthcheck(daemon.url("/health/live")), Some(0));
    assert_eq!(
        healthcheck(format!("http://127.0.0.1:{}/health/live", free_port())),
        Some(1)
    );

    let metrics = daemon.metrics().await;
    for blueprint in BLUEPRINTS {
        // An account may first be created by Port as the missing target of a secret's
        // relation, and then be updated by its own upsert: count both.
        let written: f64 = ["created", "updated"]
            .iter()
            .map(|phase| {
                metrics.value(
                    "port_aws_sync_entities_total",
                    &[("blueprint", blueprint), ("phase", phase)],
                )
            })
            .sum();
        assert_eq!(
            written as usize,
            emu.entity_count(blueprint),
            "created {blueprint}\n{}",
            metrics.0
        );
    }
    assert_eq!(emu.entity_count("awsSecret"), 3);
    let fetched = metrics.value(
        "port_aws_sync_aws_items_total",
        &[
            ("kind", "AWS::SecretsManager::Secret"),
            ("phase", "fetched"),
        ],
    );
    let resyncs = metrics.value("port_aws_sync_resyncs_total", &[("result", "success")]);
    assert!(
        fetched >= 3.0 * resyncs,
        "{fetched} secrets fetched in {resyncs} resyncs"
    );
    // Steady state writes nothing, so every upsert Port saw was counted by the first resync.
    let upserts = metrics.value(
        "port_aws_sync_port_requests_total",
        &[("operation", "bulk_upsert"), ("status", "200")],
    );
    assert_eq!(
        upserts as u64,
        emu.request_counts().count("POST", paths::ENTITIES_BULK),
        "{}",
        metrics.0
    );
    assert!(metrics.value("port_aws_sync_last_success_timestamp_seconds", &[]) > 1.0e9);
    // One region, three secrets: each finished resync listed them with one ListSecrets call
    // (a resync running at the scrape may have made one more).
    let list_secrets = metrics.value(
        "port_aws_sync_aws_requests_total",
        &[
            ("service", "secretsmanager"),
            ("operation", "ListSecrets"),
            ("status", "200"),
        ],
    );
    assert!(
        list_secrets >= resyncs && list_secrets <= resyncs + 1.0,
        "{list_secrets} ListSecrets in {resyncs} resyncs\n{}",
        metrics.0
    );

    // POST /resync needs the token; with it, 202 or 409 (a scheduled one may be running).
    let post = |token: Option<&str>| {
        let mut request = daemon.http.post(daemon.url("/resync"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            request
                .send()
                .await
                .expect("POST /resync")
                .status()
                .as_u16()
        }
    };
    assert_eq!(post(None).await, 401);
    assert_eq!(post(Some("wrong")).await, 401);
    assert!([202, 409].contains(&post(Some("tok3n")).await));
}

async fn daemon_metric(daemon: &Daemon, name: &str, labels: &[(&str, &str)]) -> f64 {
    match daemon.get("/metrics").await {
        Some((200, body)) => Metrics(body).value(name, labels),
        _ => 0.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_resync_makes_the_next_ticks_skip_instead_of_overlapping() {
    let moto = Moto::start();
    seed_secrets(&moto, 2).await;
    // Every resync reads the three blueprints at once; each read takes 2.5 s, so 1 s ticks
    // land while a resync runs.
    let emu = emulator(search_latency(2500)).await;
    let daemon = Daemon::start(&env(&moto, &emu, &[("RESYNC_INTERVAL_SECONDS", "1")]));
    daemon
        .wait_for("two finished resyncs and a skipped tick", || async {
            let metrics = match daemon.get("/metrics").await {
                Some((200, body)) => Metrics(body),
                _ => return false,
            };
            metrics.value("port_aws_sync_resyncs_total", &[("result", "success")]) >= 2.0
                && metrics.value(
                    "port_aws_sync_resyncs_skipped_total",
                    &[("trigger", "schedule")],
                ) >= 1.0
        })
        .await;
    assert!(daemon.stderr().contains("skipped"), "{}", daemon.stderr());
    // One resync holds at most one search per blueprint in flight; two overlapping would
    // have doubled that.
    assert!(
        emu.peak_concurrent_requests() <= BLUEPRINTS.len(),
        "peak {} concurrent Port requests",
        emu.peak_concurrent_requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_resync_exits_0_and_deletes_nothing() {
    let moto = Moto::start();
    seed_secrets(&moto, 2).await;
    let emu = Emulator::builder()
        .blueprints_dir(format!("{MANIFEST_DIR}/blueprints"))
        .entity_from(
            "awsSecret",
            json!({"identifier": "arn:aws:secretsmanager:us-east-1:123456789012:secret:stale", "title": "stale", "properties": {}, "relations": {}}),
            format!("port-ocean/aws-sync/{}/aws-sync/exporter", env!("CARGO_PKG_VERSION")),
        )
        .faults(search_latency(3000))
        .start()
        .await;
    let daemon = Daemon::start(&env(&moto, &emu, &[("RESYNC_INTERVAL_MINUTES", "60")]));
    daemon
        .wait_for("the first resync to be running", || async {
            daemon
                .ready()
                .await
                .is_some_and(|r| r["resyncRunning"] == json!(true))
        })
        .await;
    daemon.signal("TERM");
    assert_eq!(daemon.exit_code().await, Some(0), "{}", daemon.stderr());
    let log = daemon.stderr();
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(log.contains("skipped: shutting down"), "{log}");
    assert!(!log.contains("did not finish within"), "{log}");
    assert!(
        emu.entity(
            "awsSecret",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:stale"
        )
        .is_some(),
        "the stale entity was deleted"
    );
    assert_eq!(
        emu.request_counts()
            .count("POST", paths::ENTITIES_BULK_DELETE),
        0
    );
}

/// Runs `run` with `env` and no AWS or Port behind it; settings are checked before either.
fn run_with(env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(bin())
        .arg("run")
        .args(args)
        .current_dir(MANIFEST_DIR)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PORT_CLIENT_ID", "id")
        .env("PORT_CLIENT_SECRET", "very-secret-value")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run port-aws-sync");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_settings_exit_2_naming_the_setting_and_value() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 5] = [
        (&[("SCHEDULE", "61 * * * *")], "SCHEDULE", "61 * * * *"),
        (
            &[("SCHEDULE", "*/5 * * * * *")],
            "SCHEDULE",
            "*/5 * * * * *",
        ),
        (
            &[("LISTEN_ADDR", "everywhere")],
            "LISTEN_ADDR",
            "everywhere",
        ),
        (
            &[("OCEAN__SCHEDULED_RESYNC_INTERVAL", "soon")],
            "RESYNC_INTERVAL_MINUTES",
            "soon",
        ),
        (
            &[("SHUTDOWN_GRACE_SECONDS", "-3")],
            "SHUTDOWN_GRACE_SECONDS",
            "-3",
        ),
    ];
    for (env, name, value) in cases {
        let (code, stderr) = run_with(env, &[]);
        assert_eq!(code, Some(2), "{env:?}: {stderr}");
        assert!(
            stderr.contains(name) && stderr.contains(value),
            "{env:?}: {stderr}"
        );
        assert!(!stderr.contains("very-secret-value"));
    }
    let (code, stderr) = run_with(&[], &["--schedule", "0 25 * * *"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("SCHEDULE") && stderr.contains("0 25 * * *"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("daemon.yml");
    std::fs::write(&file, "resync_on_start: sometimes\n").unwrap();
    let (code, stderr) = run_with(&[("CONFIG_FILE", file.to_str().unwrap())], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("RESYNC_ON_START") && stderr.contains("sometimes"),
        "{stderr}"
    );
}

#[test]
fn config_file_precedence_and_the_setting_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("daemon.yml");
    std::fs::write(&file, "MAPPING_FILE: from-the-config-file.yml\n").unwrap();
    let config = file.to_str().unwrap();
    // The file's mapping is used when no flag names one...
    let (code, stderr) = run_with(&[], &["--config", config]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("from-the-config-file.yml"), "{stderr}");
    // ...and an explicit --mapping wins, even when it names the default path.
    let (code, stderr) = run_with(
        &[],
        &[
            "--config",
            config,
            "--mapping",
            "mapping/port-app-config.yml",
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("from-the-config-file.yml"), "{stderr}");

    // The multi-account settings belong in a config file too, and a bad one is named as it is.
    std::fs::write(
        &file,
        "ACCOUNT_STRATEGY: everything\nACCOUNT_READ_ROLE_NAME: reader\n",
    )
    .unwrap();
    let (code, stderr) = run_with(&[], &["--config", config]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("ACCOUNT_STRATEGY") && stderr.contains("everything"),
        "{stderr}"
    );
    assert!(!stderr.contains("AWS_REGION_CONCURRENCY"), "{stderr}");
    assert!(!stderr.contains("CONFIG_FILE"), "{stderr}");
}

/// VmRSS, RssAnon (heap, stacks) and RssFile (mapped binary and libraries), KiB.
fn rss_kib(pid: u32) -> [u64; 3] {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    ["VmRSS:", "RssAnon:", "RssFile:"].map(|field| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect(field)
    })
}

/// Numbers, not assertions: time from start to ready, and idle RSS after 10 and after 100
/// scheduled resyncs of a 1,000-entity catalog. `scripts/bench-daemon.sh` runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with scripts/bench-daemon.sh"]
async fn bench_idle_rss_and_time_to_ready() {
    let moto = Moto::start();
    let client = &aws_sdk_secretsmanager::Client::new(&moto.sdk_config(REGION).await);
    seed::in_parallel(0..999, |i| async move {
        seed::create_secret(client, &format!("bench/secret-{i:04}"), "x").await;
    })
    .await;
    let emu = emulator(Faults::default()).await;
    let started = Instant::now();
    // Allocator and runtime knobs to compare (MIMALLOC_*, TOKIO_WORKER_THREADS) pass through.
    let mut daemon_env = env(
        &moto,
        &emu,
        &[("RESYNC_INTERVAL_SECONDS", "1"), ("LOG_LEVEL", "warn")],
    );
    daemon_env.extend(
        std::env::vars().filter(|(k, _)| k.starts_with("MIMALLOC_") || k == "TOKIO_WORKER_THREADS"),
    );
    let daemon = Daemon::start(&daemon_env);
    daemon
        .wait_for("ready", || async { daemon.ready().await.is_some() })
        .await;
    let to_ready = started.elapsed();
    let pid = daemon.pid();
    // At ready the first resync has only just been asked for.
    let mut samples = vec![(0.0, rss_kib(pid))];
    // Waited for in steps so each wait stays well within PATIENCE.
    for target in [
        1.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0,
    ] {
        daemon
            .wait_for("resyncs to finish, then an idle moment", || async {
                let m = match daemon.get("/metrics").await {
                    Some((200, body)) => Metrics(body),
                    _ => return false,
                };
                m.value("port_aws_sync_resyncs_total", &[("result", "success")]) >= target
                    && m.value("port_aws_sync_resync_running", &[]) == 0.0
            })
            .await;
        samples.push((target, rss_kib(pid)));
    }
    let entities: usize = BLUEPRINTS.iter().map(|b| emu.entity_count(b)).sum();
    let metrics = daemon.metrics().await;
    let duration_sum = metrics.value("port_aws_sync_resync_duration_seconds_sum", &[]);
    let duration_count = metrics.value("port_aws_sync_resync_duration_seconds_count", &[]);
    println!("catalog: {entities} entities in Port");
    println!("time from start to ready: {} ms", to_ready.as_millis());
    let mib = |kib: u64| kib as f64 / 1024.0;
    for (n, [rss, anon, file]) in &samples {
        println!(
            "idle RSS after {n} resyncs: {:.1} MiB (anonymous {:.1}, file-backed {:.1})",
            mib(*rss),
            mib(*anon),
            mib(*file)
        );
    }
    println!(
        "mean resync duration: {:.2} s over {duration_count} resyncs (skipped ticks: {})",
        duration_sum / duration_count,
        metrics.value(
            "port_aws_sync_resyncs_skipped_total",
            &[("trigger", "schedule")]
        )
    );
}
