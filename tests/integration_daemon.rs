//! Being a Port integration, `run`: the real daemon polls its integration in Port and resyncs
//! when the mapping changes there or a resync is requested (both ways Port offers), one at a
//! time with one queued, reporting each resync's state; SIGTERM reports `aborted`.
//! No timing assertions: conditions are awaited with generous deadlines; durations are printed.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use port_emulator::{Emulator, Faults, paths};
use serde_json::{Value, json};
use support::fixtures;
use support::moto::Moto;
use support::service::{self, Service};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const ID: &str = "aws-sync";
const REGION: &str = "us-east-1";
const POLL_SECONDS: &str = "1";

async fn emulator() -> Emulator {
    Emulator::builder()
        .blueprints_dir(Path::new(MANIFEST_DIR).join("blueprints"))
        .start()
        .await
}

fn daemon(moto: &Moto, emu: &Emulator, extra: &[(&str, &str)]) -> Service {
    let mut settings = vec![
        ("EVENT_LISTENER_INTERVAL_SECONDS", POLL_SECONDS),
        ("RESYNC_INTERVAL_MINUTES", "600"),
    ];
    settings.extend_from_slice(extra);
    Service::start(&["run"], &service::env(moto, emu, REGION, &settings))
}

async fn create_secret(moto: &Moto, name: &str) -> String {
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config(REGION).await);
    support::seed::create_secret(&client, name, "never-synced").await
}

fn statuses(emu: &Emulator) -> Vec<String> {
    emu.resync_states(ID)
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until Port has `n` resync states, the last one finished.
async fn wait_for_states(daemon: &Service, emu: &Emulator, n: usize) {
    daemon
        .wait_for(&format!("{n} resync states in Port"), || async {
            let s = statuses(emu);
            s.len() >= n && s.last().is_some_and(|l| l != "running")
        })
        .await;
}

/// Resyncs never overlap: every `running` is followed by an end before the next `running`.
fn assert_one_at_a_time(emu: &Emulator) {
    let s = statuses(emu);
    for pair in s.chunks(2) {
        assert_eq!(pair[0], "running", "{s:?}");
        if let Some(end) = pair.get(1) {
            assert_ne!(end, "running", "two resyncs overlapped: {s:?}");
        }
    }
}

async fn token(emu: &Emulator) -> String {
    let reply: Value = reqwest::Client::new()
        .post(format!("{}{}", emu.base_url(), paths::ACCESS_TOKEN))
        .json(&json!({"clientId": emu.client_id(), "clientSecret": emu.client_secret()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["accessToken"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_mapping_change_in_port_is_applied_by_the_next_poll() {
    let moto = Moto::start();
    let arn = create_secret(&moto, "db-password").await;
    let emu = emulator().await;
    let daemon = daemon(&moto, &emu, &[]);
    wait_for_states(&daemon, &emu, 2).await;
    assert_eq!(statuses(&emu), ["running", "completed"]);
    assert_eq!(
        emu.entity("awsSecret", &arn).unwrap().title.as_deref(),
        Some("db-password")
    );

    let changed_at = Instant::now();
    emu.set_integration_config(
        ID,
        fixtures::secret_mapping_with("title", ".Name + \" (edited)\""),
    )
    .unwrap();
    daemon
        .wait_for("the changed title in Port", || async {
            emu.entity("awsSecret", &arn).unwrap().title.as_deref() == Some("db-password (edited)")
        })
        .await;
    println!(
        "mapping change in Port -> entity written: {:.2}s (poll interval {POLL_SECONDS}s)",
        changed_at.elapsed().as_secs_f64()
    );
    wait_for_states(&daemon, &emu, 4).await;
    // One change, one resync: later polls see nothing new.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(statuses(&emu).len(), 4, "{:?}", statuses(&emu));
    daemon
        .wait_for("the reason in the log", || async {
            daemon.stderr().contains("mapping changed in Port")
        })
        .await;
}

#[tokio::test]
async fn resync_requests_both_ways_start_exactly_one_each_and_idle_polls_only_get() {
    let moto = Moto::start();
    create_secret(&moto, "db-password").await;
    // The test calls Port too, with a token of its own.
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(MANIFEST_DIR).join("blueprints"))
        .allow_concurrent_tokens()
        .start()
        .await;
    let daemon = daemon(&moto, &emu, &[]);
    wait_for_states(&daemon, &emu, 2).await;

    // Idle: only the poll's two GETs go to Port.
    emu.clear_requests();
    let idle = Duration::from_secs(5);
    tokio::time::sleep(idle).await;
    let counts = emu.request_counts();
    let polls = counts.count("GET", paths::INTEGRATION);
    assert!(polls >= 2, "{counts:?}");
    assert_eq!(
        counts.total(),
        polls + counts.count("GET", paths::INTEGRATION_RESYNC_REQUEST),
        "{counts:?}"
    );
    println!(
        "idle polling: {} Port requests in {}s = {:.0}/hour at a {POLL_SECONDS}s interval \
         ({:.0}/hour at the default 60s)",
        counts.total(),
        idle.as_secs(),
        counts.total() as f64 * 3600.0 / idle.as_secs_f64(),
        counts.total() as f64 * 60.0 / idle.as_secs_f64()
    );

    let token = token(&emu).await;
    let http = reqwest::Client::new();
    let posted = http
        .post(format!("{}/v1/integration/{ID}/resync", emu.base_url()))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success());
    wait_for_states(&daemon, &emu, 4).await;

    let patched = http
        .patch(format!("{}/v1/integration/{ID}", emu.base_url()))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(patched.status().is_success());
    wait_for_states(&daemon, &emu, 6).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        statuses(&emu).len(),
        6,
        "one resync per request: {:?}",
        statuses(&emu)
    );
    assert_one_at_a_time(&emu);
}

#[tokio::test]
async fn requests_during_a_resync_queue_exactly_one_more() {
    let moto = Moto::start();
    create_secret(&moto, "db-password").await;
    let emu = emulator().await;
    let daemon = daemon(&moto, &emu, &[]);
    wait_for_states(&daemon, &emu, 2).await;

    // Slow resyncs: every entity search takes 6 s.
    emu.set_faults(Faults {
        latency_ms: 6000,
        endpoints: vec![format!("POST {}", paths::ENTITIES_SEARCH)],
        ..Faults::default()
    });
    emu.request_resync(ID);
    daemon
        .wait_for("a running resync", || async { statuses(&emu).len() == 3 })
        .await;
    // A Save & Resync and two more clicks while it runs.
    emu.save_and_resync(
        ID,
        fixtures::secret_mapping_with("title", ".Name + \" (v2)\""),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    emu.request_resync(ID);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    emu.request_resync(ID);
    wait_for_states(&daemon, &emu, 6).await;
    emu.clear_faults();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        statuses(&emu),
        [
            "running",
            "completed",
            "running",
            "completed",
            "running",
            "completed"
        ],
        "the running one and exactly one queued"
    );
    assert_one_at_a_time(&emu);
}

#[tokio::test]
async fn a_bad_mapping_in_port_fails_that_resync_and_the_fix_is_picked_up() {
    let moto = Moto::start();
    let arn = create_secret(&moto, "db-password").await;
    let emu = emulator().await;
    let daemon = daemon(&moto, &emu, &[]);
    wait_for_states(&daemon, &emu, 2).await;

    emu.save_and_resync(ID, fixtures::secret_mapping_with("title", ".Name | ("))
        .unwrap();
    wait_for_states(&daemon, &emu, 4).await;
    assert_eq!(statuses(&emu)[3], "failed");
    daemon
        .wait_for("the failed resync's cause in the log", || async {
            daemon.stderr().contains("integration aws-sync config")
                && daemon.stderr().contains("`.Name | (`")
        })
        .await;
    assert_eq!(
        emu.entity("awsSecret", &arn).unwrap().title.as_deref(),
        Some("db-password"),
        "nothing written with the bad mapping"
    );

    emu.save_and_resync(ID, fixtures::secret_mapping_with("title", ".Name + \"!\""))
        .unwrap();
    wait_for_states(&daemon, &emu, 6).await;
    assert_eq!(statuses(&emu)[5], "completed");
    assert_eq!(
        emu.entity("awsSecret", &arn).unwrap().title.as_deref(),
        Some("db-password!")
    );
}

#[tokio::test]
async fn sigterm_during_a_resync_reports_aborted() {
    let moto = Moto::start();
    create_secret(&moto, "db-password").await;
    let emu = emulator().await;
    emu.set_faults(Faults {
        latency_ms: 3000,
        endpoints: vec![format!("POST {}", paths::ENTITIES_SEARCH)],
        ..Faults::default()
    });
    let daemon = daemon(&moto, &emu, &[]);
    daemon
        .wait_for("a running resync", || async { statuses(&emu).len() == 1 })
        .await;
    daemon.signal("TERM");
    assert_eq!(daemon.exit_code().await, Some(0), "{}", daemon.stderr());
    assert_eq!(statuses(&emu), ["running", "aborted"]);
    let end = &emu.resync_states(ID)[1];
    assert!(end["lastResyncEnd"].is_string(), "{end}");
}

#[tokio::test]
async fn once_resyncs_and_exits_with_its_code() {
    let moto = Moto::start();
    let arn = create_secret(&moto, "db-password").await;
    let emu = emulator().await;
    let daemon = daemon(&moto, &emu, &[("OCEAN__EVENT_LISTENER__TYPE", "ONCE")]);
    assert_eq!(daemon.exit_code().await, Some(0), "{}", daemon.stderr());
    assert_eq!(statuses(&emu), ["running", "completed"]);
    assert!(emu.entity("awsSecret", &arn).is_some());
    // The daemon's resyncs post their outcome to the log ingest URL too.
    let logs = emu.ingested_logs(ID);
    assert_eq!(
        logs.first().map(|l| &l["message"]),
        Some(&json!("resync completed"))
    );
}

#[tokio::test]
async fn once_exits_1_when_port_keeps_the_resync_from_starting() {
    let moto = Moto::start();
    let arn = create_secret(&moto, "db-password").await;
    // Port answers everything but the entity reads the resync starts with.
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(MANIFEST_DIR).join("blueprints"))
        .faults(Faults {
            server_error_rate: 1.0,
            endpoints: vec![format!("POST {}", paths::ENTITIES_SEARCH)],
            ..Faults::default()
        })
        .start()
        .await;
    let daemon = daemon(&moto, &emu, &[("EVENT_LISTENER_TYPE", "ONCE")]);
    assert_eq!(daemon.exit_code().await, Some(1), "{}", daemon.stderr());
    assert_eq!(statuses(&emu), ["running", "failed"]);
    assert!(
        daemon
            .stderr()
            .contains("reading the entities of blueprint"),
        "{}",
        daemon.stderr()
    );
    assert!(emu.entity("awsSecret", &arn).is_none(), "nothing written");
}

#[tokio::test]
async fn once_exits_2_for_a_bad_mapping_in_port() {
    let moto = Moto::start();
    let arn = create_secret(&moto, "db-password").await;
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(MANIFEST_DIR).join("blueprints"))
        .integration(json!({"installationId": ID, "installationAppType": "aws",
            "version": env!("CARGO_PKG_VERSION"),
            "config": fixtures::secret_mapping_with("title", ".Name | (")}))
        .start()
        .await;
    let daemon = daemon(&moto, &emu, &[("EVENT_LISTENER_TYPE", "ONCE")]);
    assert_eq!(daemon.exit_code().await, Some(2), "{}", daemon.stderr());
    assert_eq!(statuses(&emu), ["running", "failed"]);
    let stderr = daemon.stderr();
    assert!(
        stderr.contains("integration aws-sync config") && stderr.contains("`.Name | (`"),
        "{stderr}"
    );
    assert!(emu.entity("awsSecret", &arn).is_none(), "nothing written");
}

#[tokio::test]
async fn failed_polls_are_logged_and_counted_and_the_daemon_goes_on() {
    let moto = Moto::start();
    create_secret(&moto, "db-password").await;
    let emu = emulator().await;
    let daemon = daemon(&moto, &emu, &[]);
    wait_for_states(&daemon, &emu, 2).await;

    assert!(emu.remove_integration(ID));
    let http = reqwest::Client::new();
    let metric = "port_aws_sync_integration_poll_failures_total";
    daemon
        .wait_for("failed polls counted", || async {
            let Ok(response) = http.get(daemon.url("/metrics")).send().await else {
                return false;
            };
            let text = response.text().await.unwrap_or_default();
            text.lines()
                .filter(|l| l.starts_with(metric))
                .any(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) >= Some(2.0))
        })
        .await;
    assert!(
        daemon
            .stderr()
            .contains("polling the integration in Port failed")
    );
    let live = http.get(daemon.url("/health/live")).send().await.unwrap();
    assert!(live.status().is_success(), "the daemon goes on");
}

#[tokio::test]
async fn the_daemon_holds_an_empty_read_once_and_its_next_resync_confirms_it_from_memory() {
    let moto = Moto::start();
    // us-east-1 lists no secret; Port holds 50 of ours there.
    let datasource = concat!(
        "port-ocean/aws-sync/",
        env!("CARGO_PKG_VERSION"),
        "/aws-sync/exporter"
    );
    let gone: Vec<String> = (0..50)
        .map(|i| format!("arn:aws:secretsmanager:{REGION}:123456789012:secret:old-{i:02}-AbCdEf"))
        .collect();
    let emu = gone
        .iter()
        .fold(
            Emulator::builder()
                .blueprints_dir(Path::new(MANIFEST_DIR).join("blueprints"))
                .allow_concurrent_tokens(),
            |emu, id| {
                emu.entity_from(
                    "awsSecret",
                    json!({"identifier": id, "title": "old", "properties": {"region": REGION},
                           "relations": {}}),
                    datasource,
                )
            },
        )
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mapping =
        fixtures::edited_mapping(dir.path(), |m| format!("entityDeletionThreshold: 1\n{m}"));
    let daemon = daemon(&moto, &emu, &[("MAPPING_FILE", mapping.to_str().unwrap())]);
    wait_for_states(&daemon, &emu, 2).await;
    assert_eq!(
        statuses(&emu),
        ["running", "completed"],
        "held back is no failure"
    );
    assert_eq!(emu.entity_count("awsSecret"), 50, "held back once");
    assert!(
        daemon.stderr().contains("stale entities held back"),
        "{}",
        daemon.stderr()
    );

    // Port loses its copy of the memory: the daemon still has its own.
    let token = token(&emu).await;
    let http = reqwest::Client::new();
    let wiped = http
        .patch(format!("{}/v1/integration/{ID}", emu.base_url()))
        .bearer_auth(&token)
        .json(&json!({"spec": {}}))
        .send()
        .await
        .unwrap();
    assert!(wiped.status().is_success());
    let asked = http
        .post(format!("{}/v1/integration/{ID}/resync", emu.base_url()))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(asked.status().is_success());
    wait_for_states(&daemon, &emu, 4).await;

    assert_eq!(statuses(&emu)[3], "completed");
    assert_eq!(
        emu.entity_count("awsSecret"),
        0,
        "the confirming resync deletes the 50"
    );
}
