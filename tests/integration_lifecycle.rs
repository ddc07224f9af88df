//! Being a Port integration, one-shot `resync`: the real binary against moto and the Port
//! emulator. Registration, the mapping taken from Port (or pushed from the file), a bad or
//! empty mapping in Port refused before anything is written, and the resync state in Port.

mod support;

use std::path::Path;
use std::process::Command;

use port_emulator::{Emulator, EmulatorBuilder, RequestRecord, paths};
use serde_json::{Value, json};
use support::fixtures;
use support::moto::Moto;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const ID: &str = "aws-sync";
const OUR_DATASOURCE: &str = concat!(
    "port-ocean/aws-sync/",
    env!("CARGO_PKG_VERSION"),
    "/aws-sync/exporter"
);
/// Ocean's AWS integration installed under the same identifier.
const OCEAN_AWS_DATASOURCE: &str = "port-ocean/aws/0.2.90/aws-sync/exporter";
const REGION: &str = "us-east-1";

fn emulator() -> EmulatorBuilder {
    Emulator::builder().blueprints_dir(Path::new(MANIFEST_DIR).join("blueprints"))
}

struct Run {
    code: i32,
    stderr: String,
    requests: Vec<RequestRecord>,
}

impl Run {
    fn count(&self, method: &str, path: &str) -> usize {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    fn entity_writes_and_deletes(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| {
                r.method != "GET"
                    && (r
                        .path
                        .starts_with("/v1/blueprints/{blueprint_identifier}/entities")
                        || r.path
                            .starts_with("/v1/blueprints/{blueprint_identifier}/bulk")
                        || r.path == paths::ENTITY)
            })
            .count()
    }
}

async fn resync(emu: &Emulator, moto: &Moto, extra: &[(&str, &str)]) -> Run {
    command(emu, moto, &["resync"], extra).await
}

struct Output {
    run: Run,
    stdout: String,
}

async fn command(emu: &Emulator, moto: &Moto, args: &[&str], extra: &[(&str, &str)]) -> Run {
    command_output(emu, moto, args, extra).await.run
}

async fn command_output(
    emu: &Emulator,
    moto: &Moto,
    args: &[&str],
    extra: &[(&str, &str)],
) -> Output {
    emu.clear_requests();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let mut env = moto.env(REGION);
    env.extend(
        [
            ("AWS_REGIONS", REGION.to_owned()),
            ("PORT_BASE_URL", emu.base_url()),
            ("PORT_CLIENT_ID", emu.client_id().to_owned()),
            ("PORT_CLIENT_SECRET", emu.client_secret().to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let output = tokio::task::spawn_blocking(move || {
        Command::new(support::service::bin())
            .args(&args)
            .current_dir(MANIFEST_DIR)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .envs(env)
            .output()
            .expect("run port-aws-sync")
    })
    .await
    .unwrap();
    Output {
        run: Run {
            code: output.status.code().expect("exited"),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            requests: emu.requests(),
        },
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
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

fn stale_entity(name: &str) -> Value {
    json!({"identifier": format!("arn:aws:secretsmanager:{REGION}:123456789012:secret:{name}-AbCdEf"),
        "title": name, "properties": {}, "relations": {}})
}

#[tokio::test]
async fn first_start_registers_with_the_file_mapping_and_the_second_changes_nothing() {
    let moto = Moto::start();
    let arn = create_secret(&moto, "db-password").await;
    let emu = emulator().start().await;

    let first = resync(&emu, &moto, &[]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let record = emu.integration(ID).expect("registered");
    assert_eq!(record["installationAppType"], json!("aws"));
    assert_eq!(record["version"], json!(env!("CARGO_PKG_VERSION")));
    assert_eq!(record["changelogDestination"], json!({}));
    assert_eq!(
        record["config"],
        fixtures::shipped_mapping_json(),
        "the file as written"
    );
    assert_eq!(first.count("POST", paths::INTEGRATIONS), 1);
    assert!(emu.entity("awsSecret", &arn).is_some());
    assert!(
        first
            .stderr
            .contains("Port's mapping of integration aws-sync"),
        "{}",
        first.stderr
    );

    // Port's UI shows per-kind counts from the metrics posted to the record's ingest URL.
    let metrics = emu.ingested_metrics(ID);
    let secrets = metrics
        .iter()
        .find(|m| m["kind"] == json!("AWS::SecretsManager::Secret"))
        .expect("secret metrics");
    assert_eq!(secrets["syncState"], json!("completed"));
    let phase = &secrets["metrics"]["phase"];
    assert_eq!(
        phase["extract"]["object_count_type"]["raw_extracted"]["object_count"],
        json!(1)
    );
    assert_eq!(
        phase["load"]["object_count_type"]["loaded"]["object_count"],
        json!(1)
    );
    assert_eq!(first.count("POST", paths::INGEST_SYNC_METRICS), 1);
    // Raw samples for Port's mapping editor, never a secret value.
    let examples = emu.kind_examples(ID, "AWS::SecretsManager::Secret");
    assert_eq!(examples.len(), 1);
    assert_eq!(examples[0]["ARN"], json!(arn));
    assert!(!Value::Array(examples).to_string().contains("never-synced"));

    let second = resync(&emu, &moto, &[]).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    let metrics = emu.ingested_metrics(ID);
    let last_secrets = metrics
        .iter()
        .rev()
        .find(|m| m["kind"] == json!("AWS::SecretsManager::Secret"))
        .unwrap();
    let phase = &last_secrets["metrics"]["phase"];
    assert_eq!(
        phase["load"]["object_count_type"]["loaded"]["object_count"],
        json!(0)
    );
    assert_eq!(
        phase["load"]["object_count_type"]["skipped"]["object_count"],
        json!(1)
    );
    assert_eq!(second.count("POST", paths::INTEGRATIONS), 0);
    assert_eq!(second.count("PATCH", paths::INTEGRATION), 0);
    assert_eq!(second.count("PATCH", paths::INTEGRATION_CONFIG), 0);
    assert_eq!(
        emu.integration(ID).unwrap()["config"],
        fixtures::shipped_mapping_json()
    );
    assert_eq!(
        statuses(&emu),
        ["running", "completed", "running", "completed"]
    );
    let states = emu.resync_states(ID);
    let (start, end) = (&states[2], &states[3]);
    let started: jiff::Timestamp = start["lastResyncStart"].as_str().unwrap().parse().unwrap();
    let ended: jiff::Timestamp = end["lastResyncEnd"].as_str().unwrap().parse().unwrap();
    assert!(started <= ended);
    assert_eq!(start["lastResyncEnd"], Value::Null);
}

#[tokio::test]
async fn an_ocean_aws_integration_is_taken_over_and_its_mapping_used() {
    let moto = Moto::start();
    let arn = create_secret(&moto, "api-key").await;
    let mut ocean_mapping = fixtures::secret_mapping_with("title", ".Name + \" (from Port)\"");
    // The only entity in Port is stale: deleting all of it must be allowed.
    ocean_mapping["entityDeletionThreshold"] = json!(1);
    let emu = emulator()
        .integration(json!({"installationId": ID, "installationAppType": "aws",
            "version": "0.2.90", "config": ocean_mapping}))
        .entity_from("awsSecret", stale_entity("gone"), OCEAN_AWS_DATASOURCE)
        .start()
        .await;

    let run = resync(&emu, &moto, &[]).await;

    assert_eq!(run.code, 0, "{}", run.stderr);
    let record = emu.integration(ID).unwrap();
    assert_eq!(
        record["config"], ocean_mapping,
        "the mapping in Port is kept"
    );
    assert_eq!(record["version"], json!(env!("CARGO_PKG_VERSION")));
    assert_eq!(
        run.count("PATCH", paths::INTEGRATION),
        1,
        "one PATCH for the version"
    );
    assert_eq!(run.count("PATCH", paths::INTEGRATION_CONFIG), 0);
    let secret = emu.entity("awsSecret", &arn).expect("written");
    assert_eq!(secret.title.as_deref(), Some("api-key (from Port)"));
    assert_eq!(secret.meta.datasource, OUR_DATASOURCE);
    assert!(
        emu.entity(
            "awsSecret",
            stale_entity("gone")["identifier"].as_str().unwrap()
        )
        .is_none(),
        "Ocean's stale entity is ours now and deleted"
    );
}

#[tokio::test]
async fn a_jq_error_in_ports_mapping_fails_before_writing_and_a_fix_recovers() {
    let moto = Moto::start();
    let arn = create_secret(&moto, "db-password").await;
    let broken = fixtures::secret_mapping_with("identifier", ".ARN | (");
    let emu = emulator()
        .integration(json!({"installationId": ID, "installationAppType": "aws",
            "version": env!("CARGO_PKG_VERSION"), "config": broken}))
        .entity_from("awsSecret", stale_entity("old"), OUR_DATASOURCE)
        .start()
        .await;

    let failed = resync(&emu, &moto, &[]).await;
    assert_eq!(failed.code, 2, "{}", failed.stderr);
    for part in [
        "integration aws-sync config",
        "(AWS::SecretsManager::Secret)",
        "field `identifier`",
        "`.ARN | (`",
        "nothing was written",
    ] {
        assert!(failed.stderr.contains(part), "{part}: {}", failed.stderr);
    }
    assert_eq!(
        failed.entity_writes_and_deletes(),
        0,
        "{:#?}",
        failed.requests
    );
    assert_eq!(emu.entity_count("awsSecret"), 1, "nothing deleted");
    assert_eq!(statuses(&emu), ["running", "failed"]);
    assert!(emu.resync_states(ID)[1]["lastResyncEnd"].is_string());

    let mut fixed_mapping = fixtures::shipped_mapping_json();
    fixed_mapping["entityDeletionThreshold"] = json!(1);
    emu.save_and_resync(ID, fixed_mapping).unwrap();
    let fixed = resync(&emu, &moto, &[]).await;
    assert_eq!(fixed.code, 0, "{}", fixed.stderr);
    assert!(emu.entity("awsSecret", &arn).is_some());
    assert_eq!(emu.entity_count("awsSecret"), 1, "the stale entity went");
    assert_eq!(statuses(&emu).last().map(String::as_str), Some("completed"));
}

#[tokio::test]
async fn an_emptied_mapping_in_port_deletes_nothing() {
    let moto = Moto::start();
    create_secret(&moto, "db-password").await;
    let emu = emulator()
        .integration(json!({"installationId": ID, "installationAppType": "aws",
            "version": env!("CARGO_PKG_VERSION"), "config": {"resources": []}}))
        .entity_from("awsSecret", stale_entity("kept"), OUR_DATASOURCE)
        .start()
        .await;

    let run = resync(&emu, &moto, &[]).await;

    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("`resources: []`"), "{}", run.stderr);
    assert!(run.stderr.contains("would delete"), "{}", run.stderr);
    assert_eq!(run.entity_writes_and_deletes(), 0, "{:#?}", run.requests);
    assert_eq!(emu.entity_count("awsSecret"), 1);
    assert_eq!(statuses(&emu), ["running", "failed"]);
}

#[tokio::test]
async fn file_source_pushes_the_file_mapping_and_uses_it() {
    let moto = Moto::start();
    let arn = create_secret(&moto, "db-password").await;
    let users = fixtures::secret_mapping_with("title", ".Name + \" (edited in Port)\"");
    let emu = emulator()
        .integration(json!({"installationId": ID, "installationAppType": "aws",
            "version": env!("CARGO_PKG_VERSION"), "config": users}))
        .start()
        .await;

    let run = resync(&emu, &moto, &[("MAPPING_SOURCE", "file")]).await;

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        emu.integration(ID).unwrap()["config"],
        fixtures::shipped_mapping_json()
    );
    assert_eq!(run.count("PATCH", paths::INTEGRATION_CONFIG), 1);
    let secret = emu.entity("awsSecret", &arn).unwrap();
    assert_eq!(secret.title.as_deref(), Some("db-password"));
}

#[tokio::test]
async fn a_bad_mapping_file_exits_2_without_any_port_call() {
    let moto = Moto::start();
    let emu = emulator().start().await;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("m.yml");
    std::fs::write(&bad, "resources:\n  - kind: [unclosed\n").unwrap();

    let run = resync(&emu, &moto, &[("MAPPING_FILE", bad.to_str().unwrap())]).await;

    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.requests.is_empty(), "{:#?}", run.requests);
    assert!(emu.integration(ID).is_none());
}

#[tokio::test]
async fn offline_commands_use_ports_mapping_with_mapping_from_port() {
    let moto = Moto::start();
    create_secret(&moto, "db-password").await;
    let emu = emulator()
        .integration(json!({"installationId": ID, "installationAppType": "aws",
            "version": env!("CARGO_PKG_VERSION"),
            "config": fixtures::secret_mapping_with("title", ".Name + \" (from Port)\"")}))
        .start()
        .await;

    let dry = command_output(
        &emu,
        &moto,
        &["resync", "--dry-run", "--mapping-from-port"],
        &[],
    )
    .await;
    assert_eq!(dry.run.code, 0, "{}", dry.run.stderr);
    assert!(
        dry.stdout.contains("db-password (from Port)"),
        "{}",
        dry.stdout
    );
    let writes: Vec<&RequestRecord> = dry
        .run
        .requests
        .iter()
        .filter(|r| r.method != "GET" && r.path != paths::ACCESS_TOKEN)
        .collect();
    assert!(writes.is_empty(), "a dry run writes nothing: {writes:#?}");
    let local = command_output(&emu, &moto, &["resync", "--dry-run"], &[]).await;
    assert!(
        !local.stdout.contains("(from Port)"),
        "without the flag the file is used"
    );

    emu.set_integration_config(ID, fixtures::secret_mapping_with("identifier", ".ARN | ("))
        .unwrap();
    let invalid = command(&emu, &moto, &["validate", "--mapping-from-port"], &[]).await;
    assert_eq!(invalid.code, 2, "{}", invalid.stderr);
    assert!(
        invalid.stderr.contains("integration aws-sync config"),
        "{}",
        invalid.stderr
    );
    assert!(invalid.stderr.contains("`.ARN | (`"), "{}", invalid.stderr);

    let refused = command(&emu, &moto, &["resync", "--mapping-from-port"], &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.requests.is_empty());
}

fn log_messages(emu: &Emulator) -> Vec<String> {
    emu.ingested_logs(ID)
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_resyncs_outcome_is_posted_to_the_log_ingest_url() {
    let moto = Moto::start();
    create_secret(&moto, "db-password").await;
    let emu = emulator().start().await;

    let run = resync(&emu, &moto, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.count("POST", paths::INGEST_LOGS),
        1,
        "one post per resync"
    );
    let logs = emu.ingested_logs(ID);
    assert_eq!(logs[0]["message"], json!("resync completed"));
    assert_eq!(logs[0]["level"], json!("INFO"));
    for log in &logs {
        let at = log["timestamp"].as_str().unwrap();
        assert!(at.parse::<jiff::Timestamp>().is_ok(), "{log}");
        assert_eq!(log["extra"]["integration"], json!(ID), "{log}");
    }
    let messages = log_messages(&emu);
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("awsSecret:") && m.contains("1 created")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("stale deletion:")),
        "{messages:?}"
    );
    assert!(!messages.join("\n").contains("never-synced"));

    emu.set_integration_config(ID, fixtures::secret_mapping_with("title", ".Name | ("))
        .unwrap();
    let failed = resync(&emu, &moto, &[]).await;
    assert_eq!(failed.code, 2, "{}", failed.stderr);
    let last = emu.ingested_logs(ID).last().cloned().unwrap();
    assert_eq!(last["level"], json!("ERROR"));
    let message = last["message"].as_str().unwrap();
    assert!(
        message.starts_with("resync could not start: integration aws-sync config"),
        "{message}"
    );
    assert_eq!(last["extra"]["resyncState"], json!("failed"));
}

#[tokio::test]
async fn a_log_ingest_that_fails_never_fails_the_resync() {
    let moto = Moto::start();
    let arn = create_secret(&moto, "db-password").await;
    let emu = emulator()
        .faults(port_emulator::Faults {
            rate_limit_rate: 1.0,
            retry_after_secs: 0,
            endpoints: vec![format!("POST {}", paths::INGEST_LOGS)],
            ..port_emulator::Faults::default()
        })
        .start()
        .await;

    let run = resync(&emu, &moto, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.count("POST", paths::INGEST_LOGS) >= 1);
    assert!(emu.ingested_logs(ID).is_empty());
    assert!(
        run.stderr
            .contains("could not send the resync's log lines to Port"),
        "{}",
        run.stderr
    );
    assert_eq!(statuses(&emu), ["running", "completed"]);
    assert!(emu.entity("awsSecret", &arn).is_some());
}
