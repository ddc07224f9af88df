//! `port-aws-sync plan` end to end: the real binary against moto (AWS) and the Port emulator.
//! A plan lists exactly what the following resync then does, writes nothing, and exits as
//! `terraform plan -detailed-exitcode` (0 no changes, 2 changes, 1 any error).

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use port_emulator::{Emulator, RequestRecord, paths};
use serde_json::{Value, json};
use support::moto::{ACCOUNT_ID, Moto};
use support::seed;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const OUR_DATASOURCE: &str = concat!(
    "port-ocean/aws-sync/",
    env!("CARGO_PKG_VERSION"),
    "/aws-sync/exporter"
);

/// A secret as the shipped mapping writes it.
struct Secret {
    arn: String,
    entity: Value,
}

fn timestamp(value: Option<&DateTime>) -> Value {
    value.map_or(Value::Null, |t| {
        json!(
            t.fmt(Format::DateTime)
                .expect("timestamp in RFC 3339 range")
        )
    })
}

async fn create_secret(moto: &Moto, region: &str, name: &str) -> Secret {
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config(region).await);
    let arn = seed::secret(&client, name, "never-synced", &[])
        .description(format!("the {name} secret"))
        .send()
        .await
        .expect("create secret")
        .arn
        .expect("created secret ARN");
    let described = client
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .expect("describe secret");
    let entity = json!({
        "identifier": arn,
        "title": name,
        "properties": {
            "description": format!("the {name} secret"),
            "region": region,
            "arn": arn,
            "createdAt": timestamp(described.created_date()),
            "lastUpdatedAt": timestamp(described.last_changed_date()),
            "rotationEnabled": false,
            "tags": {},
        },
        "relations": {"account": ACCOUNT_ID},
    });
    Secret { arn, entity }
}

async fn request_certificate(moto: &Moto, region: &str, domain: &str) -> String {
    let client = aws_sdk_acm::Client::new(&moto.sdk_config(region).await);
    seed::request_certificate(&client, domain).await
}

/// A secret entity in Port that AWS no longer lists.
fn stale_secret(region: &str, name: &str) -> Value {
    json!({
        "identifier": format!("arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{name}-AbCdEf"),
        "title": name,
        "properties": {"region": region},
        "relations": {"account": ACCOUNT_ID},
    })
}

/// The caller's account as the shipped mapping writes it (no organization in moto).
fn caller_account() -> Value {
    json!({"identifier": ACCOUNT_ID, "title": ACCOUNT_ID,
           "properties": {"arn": format!("arn:aws:iam::{ACCOUNT_ID}:root")}, "relations": {}})
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    requests: Vec<RequestRecord>,
}

impl Run {
    #[track_caller]
    fn assert_exit(&self, code: i32) {
        assert_eq!(
            self.code, code,
            "exit code; stderr:\n{}\nstdout:\n{}",
            self.stderr, self.stdout
        );
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("plan --output json: {e}:\n{}", self.stdout))
    }

    /// (method, path template) of every Port request, each once.
    fn calls(&self) -> BTreeSet<(String, String)> {
        self.requests
            .iter()
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect()
    }

    /// The resync report's numbers for one blueprint: in Port before, mapped, unchanged,
    /// created, updated, failed, deleted.
    #[track_caller]
    fn counts(&self, blueprint: &str) -> Vec<u64> {
        let prefix = format!("  {blueprint}: ");
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no report line for {blueprint} in:\n{}", self.stderr));
        line[prefix.len()..]
            .split(", ")
            .map(|part| part.split(' ').next().unwrap().parse().unwrap())
            .collect()
    }
}

fn cli_env(moto: &Moto, emu: &Emulator, regions: &str) -> Vec<(String, String)> {
    let mut env = moto.env("us-east-1");
    env.extend(
        [
            ("AWS_REGIONS", regions.to_owned()),
            ("PORT_BASE_URL", emu.base_url()),
            ("PORT_CLIENT_ID", emu.client_id().to_owned()),
            ("PORT_CLIENT_SECRET", emu.client_secret().to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    env
}

/// `port-aws-sync <args>` with only `env`, from the crate directory (shipped mapping and
/// blueprints), and the Port requests it made.
async fn cli(emu: &Emulator, env: &[(String, String)], args: &[&str]) -> Run {
    emu.clear_requests();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let env = env.to_vec();
    let output = tokio::task::spawn_blocking(move || {
        let home = tempfile::tempdir().expect("temporary HOME");
        Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
            .args(&args)
            .current_dir(MANIFEST_DIR)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .envs(env)
            .output()
            .expect("run port-aws-sync")
    })
    .await
    .expect("the CLI runner does not panic");
    Run {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        requests: emu.requests(),
    }
}

/// What `plan` may ask Port: a token, blueprint reads, entity searches and the integration's
/// record (the empty-read guard's memory); never a write.
#[track_caller]
fn assert_reads_only(run: &Run) {
    let allowed: BTreeSet<(String, String)> = [
        ("POST", paths::ACCESS_TOKEN),
        ("GET", paths::BLUEPRINTS),
        ("GET", paths::BLUEPRINT),
        ("POST", paths::ENTITIES_SEARCH),
        ("GET", paths::INTEGRATION),
    ]
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .into();
    let calls = run.calls();
    assert!(
        calls.is_subset(&allowed),
        "plan made other Port calls: {:?}",
        calls.difference(&allowed).collect::<Vec<_>>()
    );
    assert!(calls.contains(&("POST".to_owned(), paths::ENTITIES_SEARCH.to_owned())));
}

fn identifiers(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|e| e["identifier"].as_str().expect("identifier").to_owned())
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn catalog(emu: &Emulator) -> Vec<(String, String, Value, Value)> {
    ["awsAccount", "acmCertificate", "awsSecret"]
        .iter()
        .flat_map(|bp| emu.entities(bp))
        .map(|e| {
            (
                e.blueprint,
                e.identifier,
                Value::Object(e.properties),
                Value::Object(e.relations),
            )
        })
        .collect()
}

#[tokio::test]
async fn plan_lists_exactly_what_the_following_resync_does_and_writes_nothing() {
    let moto = Moto::start();
    let cert = request_certificate(&moto, "us-east-1", "new.example.com").await;
    let changed = create_secret(&moto, "us-east-1", "db-password").await;
    let new_west = create_secret(&moto, "eu-west-1", "api-key").await;
    let new_east = create_secret(&moto, "us-east-1", "token").await;
    let mut in_port = changed.entity.clone();
    in_port["properties"]["description"] = json!("an old description");
    let gone = stale_secret("us-east-1", "gone");
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(MANIFEST_DIR).join("blueprints"))
        .entity_from("awsAccount", caller_account(), OUR_DATASOURCE)
        .entity_from("awsSecret", in_port, OUR_DATASOURCE)
        .entity_from("awsSecret", gone.clone(), OUR_DATASOURCE)
        .start()
        .await;
    let env = cli_env(&moto, &emu, "us-east-1,eu-west-1");
    let before = catalog(&emu);

    let plan = cli(&emu, &env, &["plan", "--output", "json"]).await;

    plan.assert_exit(2);
    assert_reads_only(&plan);
    assert_eq!(catalog(&emu), before, "plan changed the catalog");
    let json = plan.json();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["changes"], true);
    assert_eq!(json["complete"], true);
    assert_eq!(
        json["summary"],
        json!({"create": 3, "update": 1, "delete": 1, "held": 0})
    );
    assert_eq!(json["failed_scopes"], json!([]));
    assert_eq!(json["deletion"]["skipped"], Value::Null);
    let bps = &json["blueprints"];
    assert_eq!(
        identifiers(&bps["acmCertificate"]["create"]),
        [cert.as_str()]
    );
    assert_eq!(
        bps["acmCertificate"]["create"][0]["entity"]["properties"]["arn"],
        json!(cert)
    );
    assert_eq!(
        identifiers(&bps["awsSecret"]["create"]),
        sorted(vec![new_west.arn.clone(), new_east.arn.clone()])
    );
    assert_eq!(
        bps["awsSecret"]["update"],
        json!([{"identifier": changed.arn, "changes": [{
            "field": "properties.description",
            "before": "an old description",
            "after": "the db-password secret",
        }]}])
    );
    assert_eq!(
        bps["awsSecret"]["delete"],
        json!([{
            "identifier": gone["identifier"],
            "scope": {"kind": "AWS::SecretsManager::Secret", "account": ACCOUNT_ID,
                      "region": "us-east-1"},
            "rule": "scope-read-completely",
            "reason": format!("not listed by AWS::SecretsManager::Secret in {ACCOUNT_ID} \
                               us-east-1, which was read completely"),
        }])
    );
    assert_eq!(bps["awsAccount"]["unchanged"], 1);
    assert_eq!(bps["awsAccount"]["create"], json!([]));

    let text = cli(&emu, &env, &["plan", "--limit", "1"]).await;
    text.assert_exit(2);
    assert_reads_only(&text);
    let first = text.stdout.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "Plan: 3 to create, 1 to update, 1 to delete; 0 deletion(s) held back."
    );
    for line in [
        format!("  ~ {}", changed.arn),
        "      properties.description: \"an old description\" → \"the db-password secret\""
            .to_owned(),
        "  … 1 more to create (--limit 1)".to_owned(),
        format!(
            "  - {}  (not listed by AWS::SecretsManager::Secret in {ACCOUNT_ID} us-east-1, \
             which was read completely)",
            gone["identifier"].as_str().unwrap()
        ),
    ] {
        assert!(
            text.stdout.lines().any(|l| l == line),
            "{line:?} not in:\n{}",
            text.stdout
        );
    }
    assert!(
        text.stdout.find("Plan:") < text.stdout.find("awsSecret:"),
        "summary first:\n{}",
        text.stdout
    );

    let resync = cli(&emu, &env, &["resync"]).await;
    resync.assert_exit(0);
    // in Port before, mapped, unchanged, created, updated, failed, deleted
    assert_eq!(resync.counts("awsSecret"), [2, 3, 0, 2, 1, 0, 1]);
    assert_eq!(resync.counts("acmCertificate"), [0, 1, 0, 1, 0, 0, 0]);
    assert_eq!(resync.counts("awsAccount"), [1, 1, 1, 0, 0, 0, 0]);
    let secrets: BTreeSet<String> = emu
        .entities("awsSecret")
        .into_iter()
        .map(|e| e.identifier)
        .collect();
    assert_eq!(
        secrets,
        [&changed.arn, &new_west.arn, &new_east.arn]
            .map(String::clone)
            .into(),
        "the resync created and deleted what the plan listed"
    );
    let description = emu
        .entities("awsSecret")
        .into_iter()
        .find(|e| e.identifier == changed.arn)
        .map(|e| e.properties["description"].clone());
    assert_eq!(description, Some(json!("the db-password secret")));

    let again = cli(&emu, &env, &["plan"]).await;
    again.assert_exit(0);
    assert_reads_only(&again);
    assert!(
        again
            .stdout
            .starts_with("Plan: 0 to create, 0 to update, 0 to delete; 0 deletion(s) held back."),
        "{}",
        again.stdout
    );
}

#[tokio::test]
async fn a_deletion_held_back_by_a_failing_region_is_listed_with_its_reason_and_exits_1() {
    let moto = Moto::start();
    let kept = create_secret(&moto, "us-east-1", "db-password").await;
    let unknown = stale_secret("ap-southwest-9", "maybe");
    let gone = stale_secret("us-east-1", "gone");
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(MANIFEST_DIR).join("blueprints"))
        .entity_from("awsSecret", kept.entity.clone(), OUR_DATASOURCE)
        .entity_from("awsSecret", unknown.clone(), OUR_DATASOURCE)
        .entity_from("awsSecret", gone.clone(), OUR_DATASOURCE)
        .start()
        .await;
    // A well-formed region moto does not know answers 500, like a region in an outage.
    let mut env = cli_env(&moto, &emu, "us-east-1,ap-southwest-9");
    env.push(("AWS_MAX_ATTEMPTS".to_owned(), "1".to_owned()));

    let plan = cli(&emu, &env, &["plan", "--output", "json"]).await;

    plan.assert_exit(1);
    assert_reads_only(&plan);
    let json = plan.json();
    assert_eq!(json["complete"], false);
    let secrets = &json["blueprints"]["awsSecret"];
    assert_eq!(
        identifiers(&secrets["delete"]),
        [gone["identifier"].as_str().unwrap()]
    );
    assert_eq!(
        secrets["held"],
        json!([{
            "identifier": unknown["identifier"],
            "scope": {"kind": "AWS::SecretsManager::Secret", "account": ACCOUNT_ID,
                      "region": "ap-southwest-9"},
            "rule": "scope-read-failed",
            "reason": format!("AWS::SecretsManager::Secret in {ACCOUNT_ID} ap-southwest-9: read failed"),
        }])
    );
    let failed: Vec<(&str, &str)> = json["failed_scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["region"].as_str().unwrap()))
        .collect();
    assert!(
        failed.contains(&("AWS::SecretsManager::Secret", "ap-southwest-9")),
        "{failed:?}"
    );
    assert!(
        plan.stderr.contains(
            "error: AWS::SecretsManager::Secret in account 123456789012, region ap-southwest-9"
        ),
        "{}",
        plan.stderr
    );

    let text = cli(&emu, &env, &["plan"]).await;
    text.assert_exit(1);
    let held = format!(
        "  ! {}  (held back: AWS::SecretsManager::Secret in {ACCOUNT_ID} ap-southwest-9: read failed)",
        unknown["identifier"].as_str().unwrap()
    );
    assert!(
        text.stdout.lines().any(|l| l == held),
        "{held:?} not in:\n{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("Failed scopes (their entities are kept):")
    );
}

#[tokio::test]
async fn errors_exit_1_configuration_errors_included_and_nothing_is_asked_of_port() {
    let moto = Moto::start();
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(MANIFEST_DIR).join("blueprints"))
        .start()
        .await;
    let env = cli_env(&moto, &emu, "us-east-1");
    let dir = tempfile::tempdir().expect("temporary directory");
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "resources:\n  - kind: [unclosed\n").expect("write mapping");

    let run = cli(&emu, &env, &["plan", "--mapping", bad.to_str().unwrap()]).await;
    run.assert_exit(1);
    assert!(run.stderr.contains("bad.yml"), "{}", run.stderr);
    assert!(run.requests.is_empty(), "{:?}", run.calls());

    let usage = cli(&emu, &env, &["plan", "--output", "xml"]).await;
    usage.assert_exit(1);

    let mut refused = env.clone();
    refused.push(("PORT_CLIENT_SECRET".to_owned(), "wrong".to_owned()));
    let run = cli(&emu, &refused, &["plan"]).await;
    run.assert_exit(1);
    assert!(run.stderr.contains("error:"), "{}", run.stderr);
    assert!(
        run.calls()
            .iter()
            .all(|(m, p)| m == "POST" && p == paths::ACCESS_TOKEN),
        "{:?}",
        run.calls()
    );
}

#[tokio::test]
async fn a_mapping_change_is_planned_against_the_live_catalog() {
    let moto = Moto::start();
    let secret = create_secret(&moto, "us-east-1", "db-password").await;
    let emu = Emulator::builder()
        .blueprints_dir(Path::new(MANIFEST_DIR).join("blueprints"))
        .entity_from("awsAccount", caller_account(), OUR_DATASOURCE)
        .entity_from("awsSecret", secret.entity.clone(), OUR_DATASOURCE)
        .start()
        .await;
    let env = cli_env(&moto, &emu, "us-east-1");
    let unchanged = cli(&emu, &env, &["plan"]).await;
    unchanged.assert_exit(0);

    let dir = tempfile::tempdir().expect("temporary directory");
    let mapping = support::fixtures::edited_mapping(dir.path(), |m| {
        m.replace(
            "title: .Name\n          blueprint: '\"awsSecret\"'",
            "title: (.Name + \" (prod)\")\n          blueprint: '\"awsSecret\"'",
        )
    });
    let run = cli(
        &emu,
        &env,
        &[
            "--mapping",
            mapping.to_str().unwrap(),
            "plan",
            "--output",
            "json",
        ],
    )
    .await;
    run.assert_exit(2);
    assert_reads_only(&run);
    assert_eq!(
        run.json()["blueprints"]["awsSecret"]["update"],
        json!([{"identifier": secret.arn, "changes": [{
            "field": "title", "before": "db-password", "after": "db-password (prod)"}]}])
    );
}

#[tokio::test]
async fn blueprints_missing_in_port_are_planned_as_created_with_all_their_entities() {
    let moto = Moto::start();
    let secret = create_secret(&moto, "us-east-1", "db-password").await;
    let cert = request_certificate(&moto, "us-east-1", "new.example.com").await;
    // A Port that has none of the mapped blueprints yet.
    let emu = Emulator::builder().start().await;
    let env = cli_env(&moto, &emu, "us-east-1");

    let run = cli(&emu, &env, &["plan", "--output", "json"]).await;

    run.assert_exit(2);
    assert_reads_only(&run);
    let plan = run.json();
    assert_eq!(
        plan["blueprints_to_create"],
        json!(["acmCertificate", "awsAccount", "awsSecret"])
    );
    assert_eq!(
        identifiers(&plan["blueprints"]["awsSecret"]["create"]),
        std::slice::from_ref(&secret.arn)
    );
    assert_eq!(
        identifiers(&plan["blueprints"]["acmCertificate"]["create"]),
        [cert]
    );
    assert_eq!(
        identifiers(&plan["blueprints"]["awsAccount"]["create"]),
        [ACCOUNT_ID]
    );
    assert!(emu.blueprints().is_empty(), "plan creates nothing");
    let text = cli(&emu, &env, &["plan"]).await;
    text.assert_exit(2);
    assert!(
        text.stdout.contains(
            "Blueprints to create (missing in Port): acmCertificate, awsAccount, awsSecret."
        ),
        "{}",
        text.stdout
    );

    // The resync then creates exactly that.
    cli(&emu, &env, &["resync"]).await.assert_exit(0);
    assert_eq!(
        emu.entity("awsSecret", &secret.arn).map(|e| e.identifier),
        Some(secret.arn)
    );
    assert_eq!(emu.entity_count("acmCertificate"), 1);
    cli(&emu, &env, &["plan"]).await.assert_exit(0);
}

#[tokio::test]
async fn an_empty_read_the_guard_holds_is_shown_held_and_the_confirming_run_as_deletes() {
    let moto = Moto::start();
    let emu = (0..12)
        .fold(
            Emulator::builder().blueprints_dir(Path::new(MANIFEST_DIR).join("blueprints")),
            |emu, i| {
                emu.entity_from(
                    "awsSecret",
                    stale_secret("eu-west-1", &format!("old-{i:02}")),
                    OUR_DATASOURCE,
                )
            },
        )
        .start()
        .await;
    let env = cli_env(&moto, &emu, "us-east-1,eu-west-1");
    let dir = tempfile::tempdir().expect("temporary directory");
    let mapping = support::fixtures::edited_mapping(dir.path(), |m| {
        format!("entityDeletionThreshold: 1\n{m}")
    });
    let mapping = mapping.to_str().expect("UTF-8 path");

    let first = cli(
        &emu,
        &env,
        &["plan", "--mapping", mapping, "--output", "json"],
    )
    .await;
    let held = &first.json()["blueprints"]["awsSecret"]["held"];
    assert_eq!(held.as_array().map(Vec::len), Some(12), "{held}");
    assert_eq!(held[0]["rule"], "scope-listed-empty");
    cli(&emu, &env, &["resync", "--mapping", mapping])
        .await
        .assert_exit(0);
    assert_eq!(emu.entity_count("awsSecret"), 12, "held back");

    let second = cli(
        &emu,
        &env,
        &["plan", "--mapping", mapping, "--output", "json"],
    )
    .await;
    second.assert_exit(2);
    let deletes = &second.json()["blueprints"]["awsSecret"]["delete"];
    assert_eq!(deletes.as_array().map(Vec::len), Some(12), "{deletes}");
    assert_eq!(deletes[0]["rule"], "scope-listed-empty-twice");
    cli(&emu, &env, &["resync", "--mapping", mapping])
        .await
        .assert_exit(0);
    assert_eq!(
        emu.entity_count("awsSecret"),
        0,
        "the confirming run deletes as planned"
    );
}
