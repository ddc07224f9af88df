//! `port-aws-sync resync` end to end: the real binary, run as a child process with a clean
//! environment, against moto (AWS) and the Port emulator (in this process).
//!
//! Each test seeds moto through the AWS SDK, builds the entities it expects from what it
//! seeded (the shipped mapping, `mapping/port-app-config.yml`, applied by hand), runs the CLI
//! and checks what a user sees: the exit code, the report on stderr, the catalog in Port and
//! the requests Port received.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use port_emulator::{Emulator, EmulatorBuilder, Faults, RateLimitHint, RequestRecord, paths};
use serde_json::{Map, Value, json};
use support::certs::KeySpec;
use support::fixtures;
use support::moto::{ACCOUNT_ID, Moto};
use support::seed;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
/// What Port records as `$datasource` for our writes (the default integration identifier).
const OUR_DATASOURCE: &str = concat!(
    "port-ocean/aws-sync/",
    env!("CARGO_PKG_VERSION"),
    "/aws-sync/exporter"
);
/// Ocean's AWS integration installed with the same integration identifier: a user migrating
/// from it expects us to take its entities over.
const OCEAN_AWS_DATASOURCE: &str = "port-ocean/aws/0.1.0/aws-sync/exporter";
/// Another Ocean integration whose identifier merely ends like ours.
const OTHER_INTEGRATION_DATASOURCE: &str = "port-ocean/aws/0.1.0/legacy-aws-sync/exporter";
/// Someone else's writer altogether.
const OTHER_WRITER_DATASOURCE: &str = "terraform-provider-port/2.1.0";
const BLUEPRINTS: [&str; 3] = ["awsAccount", "acmCertificate", "awsSecret"];
const REGIONS: &str = "us-east-1,eu-west-1";

// ---------------------------------------------------------------- expected entities

/// Entities by (blueprint, identifier): title, properties and relations, with nulls left out
/// and timestamps in one spelling, so Port's copy and ours compare by content.
type Catalog = BTreeMap<(String, String), Value>;

/// One entity, as the tests seed it (in AWS or straight into Port) and expect it in Port.
#[derive(Debug, Clone)]
struct Seeded {
    blueprint: &'static str,
    identifier: String,
    content: Value,
}

fn content(
    title: Option<&str>,
    properties: &Map<String, Value>,
    relations: &Map<String, Value>,
) -> Value {
    json!({
        "title": title,
        "properties": normalized(&Value::Object(properties.clone())),
        "relations": normalized(&Value::Object(relations.clone())),
    })
}

/// Nulls dropped (Port treats null and missing alike), date-times as one canonical string.
fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        Value::String(s) if s.len() >= 20 && s.as_bytes()[10] == b'T' => s
            .parse::<jiff::Timestamp>()
            .map(|t| Value::String(t.to_string()))
            .unwrap_or_else(|_| value.clone()),
        other => other.clone(),
    }
}

fn entity(
    blueprint: &'static str,
    identifier: &str,
    title: &str,
    properties: Value,
    relations: Value,
) -> Seeded {
    let (Value::Object(properties), Value::Object(relations)) = (properties, relations) else {
        panic!("properties and relations are objects");
    };
    Seeded {
        blueprint,
        identifier: identifier.to_owned(),
        content: content(Some(title), &properties, &relations),
    }
}

fn expected<'a>(entities: impl IntoIterator<Item = &'a Seeded>) -> Catalog {
    entities
        .into_iter()
        .map(|s| {
            (
                (s.blueprint.to_owned(), s.identifier.clone()),
                s.content.clone(),
            )
        })
        .collect()
}

fn key(s: &Seeded) -> (String, String) {
    (s.blueprint.to_owned(), s.identifier.clone())
}

/// RFC 3339 UTC, or null when AWS did not say.
fn timestamp(value: Option<&DateTime>) -> Value {
    value.map_or(Value::Null, |t| {
        json!(
            t.fmt(Format::DateTime)
                .expect("timestamp in RFC 3339 range")
        )
    })
}

/// Without an organization, the only account is the caller's own (STS GetCallerIdentity).
fn caller_account() -> Seeded {
    entity(
        "awsAccount",
        ACCOUNT_ID,
        ACCOUNT_ID,
        json!({"arn": format!("arn:aws:iam::{ACCOUNT_ID}:root")}),
        json!({}),
    )
}

async fn secrets_client(moto: &Moto, region: &str) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto.sdk_config(region).await)
}

async fn acm_client(moto: &Moto, region: &str) -> aws_sdk_acm::Client {
    aws_sdk_acm::Client::new(&moto.sdk_config(region).await)
}

async fn create_secret(moto: &Moto, region: &str, name: &str, tags: &[(&str, &str)]) -> Seeded {
    let client = secrets_client(moto, region).await;
    let description = format!("the {name} secret");
    let arn = seed::secret(&client, name, "never-synced", tags)
        .description(&description)
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
    let tags: Map<String, Value> = tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    entity(
        "awsSecret",
        &arn,
        name,
        json!({
            "description": description,
            "region": region,
            "arn": arn,
            "createdAt": timestamp(described.created_date()),
            "lastUpdatedAt": timestamp(described.last_changed_date()),
            "rotationEnabled": false,
            "tags": tags,
        }),
        json!({"account": ACCOUNT_ID}),
    )
}

async fn delete_secret(moto: &Moto, region: &str, arn: &str) {
    secrets_client(moto, region)
        .await
        .delete_secret()
        .secret_id(arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete secret");
}

/// The expected entity of a certificate: what we chose when seeding, plus what ACM decided
/// (status, renewal eligibility, dates) read back with DescribeCertificate.
async fn certificate(
    client: &aws_sdk_acm::Client,
    arn: &str,
    kind: &str,
    key_algorithm: &str,
) -> Seeded {
    let described = client
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .expect("describe certificate")
        .certificate
        .expect("certificate detail");
    entity(
        "acmCertificate",
        arn,
        described.domain_name().expect("domain name"),
        json!({
            "status": described.status().map(|s| s.as_str()),
            "type": kind,
            "arn": arn,
            "renewalEligibility": described.renewal_eligibility().map(|s| s.as_str()),
            "keyAlgorithm": key_algorithm,
            "inUse": false,
            "createdAt": timestamp(described.created_at()),
            "expirationDate": timestamp(described.not_after()),
        }),
        json!({"account": ACCOUNT_ID}),
    )
}

async fn import_certificate(moto: &Moto, region: &str, key: KeySpec, domain: &str) -> Seeded {
    let client = acm_client(moto, region).await;
    let arn = seed::import_certificate(&client, key, domain).await;
    certificate(&client, &arn, "IMPORTED", &key.acm_name()).await
}

/// An Amazon-issued certificate waiting for validation (moto makes it RSA 2048).
async fn request_certificate(moto: &Moto, region: &str, domain: &str) -> Seeded {
    let client = acm_client(moto, region).await;
    let arn = seed::request_certificate(&client, domain).await;
    certificate(&client, &arn, "AMAZON_ISSUED", "RSA_2048").await
}

async fn delete_certificate(moto: &Moto, region: &str, arn: &str) {
    acm_client(moto, region)
        .await
        .delete_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .expect("delete certificate");
}

/// The region an ARN lives in.
fn region_of(arn: &str) -> &str {
    arn.split(':').nth(3).expect("ARN with a region")
}

// ---------------------------------------------------------------- Port side

fn emulator() -> EmulatorBuilder {
    Emulator::builder()
}

/// An emulator that already has our blueprints (as after an earlier resync).
fn emulator_with_blueprints() -> EmulatorBuilder {
    Emulator::builder().blueprints_dir(Path::new(MANIFEST_DIR).join("blueprints"))
}

/// Everything in the emulator's catalog, in the mapped blueprints.
fn catalog(emu: &Emulator) -> Catalog {
    BLUEPRINTS
        .iter()
        .flat_map(|bp| emu.entities(bp))
        .map(|e| {
            (
                (e.blueprint.clone(), e.identifier.clone()),
                content(e.title.as_deref(), &e.properties, &e.relations),
            )
        })
        .collect()
}

fn datasources(emu: &Emulator) -> BTreeMap<(String, String), String> {
    BLUEPRINTS
        .iter()
        .flat_map(|bp| emu.entities(bp))
        .map(|e| ((e.blueprint, e.identifier), e.meta.datasource))
        .collect()
}

/// An entity as a writer other than this resync left it in Port.
fn port_entity(s: &Seeded) -> Value {
    json!({
        "identifier": s.identifier,
        "title": s.content["title"],
        "properties": s.content["properties"],
        "relations": s.content["relations"],
    })
}

// ---------------------------------------------------------------- running the CLI

/// What one `port-aws-sync resync` did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    /// The Port requests of this run, in order of completion.
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

    fn count(&self, method: &str, path: &str) -> usize {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    /// Entity writes and deletes: what must not happen when nothing may change.
    fn entity_writes(&self) -> usize {
        self.count("POST", paths::ENTITIES_BULK)
            + self.count("POST", paths::ENTITIES)
            + self.count("POST", paths::ENTITIES_BULK_DELETE)
            + self.count("DELETE", paths::ENTITY)
    }

    /// The report's numbers for one blueprint: in Port before, mapped, unchanged, created,
    /// updated, failed, deleted.
    #[track_caller]
    fn counts(&self, blueprint: &str) -> [u64; 7] {
        let prefix = format!("  {blueprint}: ");
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no report line for {blueprint} in:\n{}", self.stderr));
        let numbers: Vec<u64> = line[prefix.len()..]
            .split(", ")
            .map(|part| {
                part.split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected report line {line:?}"))
            })
            .collect();
        numbers
            .try_into()
            .unwrap_or_else(|_| panic!("unexpected report line {line:?}"))
    }

    #[track_caller]
    fn deletion_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("  stale deletion: "))
            .unwrap_or_else(|| panic!("no stale deletion line in:\n{}", self.stderr))
    }
}

/// The environment a deployment would set: AWS (moto) and Port (the emulator).
fn cli_env(aws: &[(String, String)], emu: &Emulator) -> Vec<(String, String)> {
    let mut env = aws.to_vec();
    env.extend(
        [
            ("AWS_REGIONS", REGIONS.to_owned()),
            ("PORT_BASE_URL", emu.base_url()),
            ("PORT_CLIENT_ID", emu.client_id().to_owned()),
            ("PORT_CLIENT_SECRET", emu.client_secret().to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    env
}

/// Runs `port-aws-sync resync <args>` with only `env` (later entries win), from the crate
/// directory so the default mapping and blueprints are found, and collects the Port requests
/// it made.
/// [`cli_env`] reading us-east-1 and ap-southwest-9: a well-formed region moto does not know,
/// where it answers 500, like a region in an outage. One attempt keeps the test quick.
fn env_with_a_failing_region(moto: &Moto, emu: &Emulator) -> Vec<(String, String)> {
    let mut env = cli_env(&moto.env("us-east-1"), emu);
    env.push((
        "AWS_REGIONS".to_owned(),
        "us-east-1,ap-southwest-9".to_owned(),
    ));
    env.push(("AWS_MAX_ATTEMPTS".to_owned(), "1".to_owned()));
    env
}

async fn resync(emu: &Emulator, env: Vec<(String, String)>, args: &[&str]) -> Run {
    emu.clear_requests();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let output = tokio::task::spawn_blocking(move || {
        let home = tempfile::tempdir().expect("temporary HOME");
        Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
            .arg("resync")
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
        code: output
            .status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {:?}", output.status)),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        requests: emu.requests(),
    }
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn first_resync_bootstraps_blueprints_and_creates_exactly_the_mapped_entities() {
    let moto = Moto::start();
    let seeded = vec![
        caller_account(),
        import_certificate(&moto, "eu-west-1", KeySpec::EcP256, "ec.example.com").await,
        import_certificate(&moto, "us-east-1", KeySpec::Rsa(2048), "rsa.example.com").await,
        request_certificate(&moto, "us-east-1", "requested.example.com").await,
        create_secret(
            &moto,
            "us-east-1",
            "db-password",
            &[("team", "payments"), ("env", "prod")],
        )
        .await,
        create_secret(&moto, "eu-west-1", "api-key", &[]).await,
    ];
    let emu = emulator().start().await;

    let run = resync(&emu, cli_env(&moto.env("us-east-1"), &emu), &[]).await;

    run.assert_exit(0);
    assert_eq!(catalog(&emu), expected(&seeded));
    for (entity, datasource) in datasources(&emu) {
        assert_eq!(datasource, OUR_DATASOURCE, "{entity:?}");
    }
    // [in Port before, mapped, unchanged, created, updated, failed, deleted]
    // With createMissingRelatedEntities the blueprints are written side by side: Port may
    // first create the account as the missing target of a certificate's or secret's
    // relation, and the account's own upsert then counts as an update.
    let account = run.counts("awsAccount");
    assert_eq!(
        [
            account[0],
            account[1],
            account[2],
            account[3] + account[4],
            account[5],
            account[6]
        ],
        [0, 1, 0, 1, 0, 0],
        "{account:?}"
    );
    assert_eq!(run.counts("acmCertificate"), [0, 3, 0, 3, 0, 0, 0]);
    assert_eq!(run.counts("awsSecret"), [0, 2, 0, 2, 0, 0, 0]);
    assert_eq!(run.deletion_line(), "  stale deletion: ran");

    // Blueprints were created bare (a relation may not point at a blueprint that does not
    // exist yet), then completed with their relations.
    let blueprint_writes: Vec<(&str, &str, u16)> = run
        .requests
        .iter()
        .filter(|r| {
            r.path == paths::BLUEPRINTS || (r.path == paths::BLUEPRINT && r.method != "GET")
        })
        .map(|r| (r.method.as_str(), r.uri.as_str(), r.status))
        .collect();
    assert_eq!(
        blueprint_writes,
        [
            ("POST", "/v1/blueprints", 201),
            ("POST", "/v1/blueprints", 201),
            ("POST", "/v1/blueprints", 201),
            ("PATCH", "/v1/blueprints/acmCertificate", 200),
            ("PATCH", "/v1/blueprints/awsSecret", 200),
        ]
    );
    for id in BLUEPRINTS {
        let file: Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(MANIFEST_DIR).join(format!("blueprints/{id}.json")))
                .expect("blueprint file"),
        )
        .expect("blueprint JSON");
        let in_port = emu.blueprint(id).unwrap_or_else(|| panic!("{id} created"));
        assert_eq!(
            in_port["schema"]["properties"], file["schema"]["properties"],
            "{id}"
        );
        assert_eq!(in_port["relations"], file["relations"], "{id}");
    }

    // One token, one read per blueprint, one bulk write per blueprint (fewer than 20 each).
    assert_eq!(run.count("POST", paths::ACCESS_TOKEN), 1);
    assert_eq!(run.count("POST", paths::ENTITIES_SEARCH), 3);
    assert_eq!(run.count("POST", paths::ENTITIES_BULK), 3);
    assert_eq!(run.count("POST", paths::ENTITIES_BULK_DELETE), 0);
    for bulk in run
        .requests
        .iter()
        .filter(|r| r.path == paths::ENTITIES_BULK)
    {
        assert_eq!(bulk.status, 200, "{bulk:?}");
        assert!(
            bulk.uri
                .ends_with("?upsert=true&merge=true&create_missing_related_entities=true"),
            "Ocean's defaults: {}",
            bulk.uri
        );
    }
}

#[tokio::test]
async fn second_resync_without_aws_changes_writes_nothing() {
    let moto = Moto::start();
    let seeded = vec![
        caller_account(),
        import_certificate(&moto, "us-east-1", KeySpec::EcP256, "ec.example.com").await,
        create_secret(&moto, "us-east-1", "db-password", &[("team", "payments")]).await,
        create_secret(&moto, "eu-west-1", "api-key", &[]).await,
    ];
    let emu = emulator().start().await;
    let env = cli_env(&moto.env("us-east-1"), &emu);
    resync(&emu, env.clone(), &[]).await.assert_exit(0);
    let after_first = catalog(&emu);
    assert_eq!(after_first, expected(&seeded));

    let run = resync(&emu, env, &[]).await;

    run.assert_exit(0);
    assert_eq!(run.entity_writes(), 0, "{:#?}", run.requests);
    assert_eq!(run.count("POST", paths::BLUEPRINTS), 0, "blueprints exist");
    assert_eq!(
        run.count("PATCH", paths::BLUEPRINT),
        0,
        "blueprints are left alone"
    );
    assert_eq!(catalog(&emu), after_first);
    assert_eq!(run.counts("awsAccount"), [1, 1, 1, 0, 0, 0, 0]);
    assert_eq!(run.counts("acmCertificate"), [1, 1, 1, 0, 0, 0, 0]);
    assert_eq!(run.counts("awsSecret"), [2, 2, 2, 0, 0, 0, 0]);
    assert_eq!(run.deletion_line(), "  stale deletion: ran");
}

#[tokio::test]
async fn resources_deleted_in_aws_are_deleted_in_port_and_only_ours() {
    let moto = Moto::start();
    let account = caller_account();
    let kept_secret = create_secret(&moto, "us-east-1", "kept", &[]).await;
    let gone_secret = create_secret(&moto, "eu-west-1", "gone", &[("env", "dev")]).await;
    let migrated_secret = create_secret(&moto, "us-east-1", "from-ocean", &[]).await;
    let kept_cert = request_certificate(&moto, "us-east-1", "kept.example.com").await;
    let gone_cert = request_certificate(&moto, "eu-west-1", "gone.example.com").await;
    let ours = [
        &account,
        &kept_secret,
        &gone_secret,
        &migrated_secret,
        &kept_cert,
        &gone_cert,
    ];

    // Left in Port by Ocean's AWS integration under the same integration identifier: an
    // outdated copy of a live secret, and a certificate deleted from AWS long ago.
    let mut outdated = migrated_secret.clone();
    outdated.content["title"] = json!("renamed since");
    outdated.content["properties"] = json!({"description": "as Ocean wrote it"});
    let ocean_stale = entity(
        "acmCertificate",
        "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
        "decommissioned.example.com",
        json!({"status": "EXPIRED"}),
        json!({}),
    );
    // Written by others: never ours to delete.
    let other_integration = entity(
        "awsSecret",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:legacy-AbCdEf",
        "legacy",
        json!({"description": "synced by another integration"}),
        json!({}),
    );
    let other_writer = entity(
        "acmCertificate",
        "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-1111-1111-1111-111111111111",
        "terraform.example.com",
        json!({"status": "ISSUED"}),
        json!({}),
    );
    let foreign = [&other_integration, &other_writer];
    let emu = emulator_with_blueprints()
        .entity_from("awsSecret", port_entity(&outdated), OCEAN_AWS_DATASOURCE)
        .entity_from(
            "acmCertificate",
            port_entity(&ocean_stale),
            OCEAN_AWS_DATASOURCE,
        )
        .entity_from(
            "awsSecret",
            port_entity(&other_integration),
            OTHER_INTEGRATION_DATASOURCE,
        )
        .entity_from(
            "acmCertificate",
            port_entity(&other_writer),
            OTHER_WRITER_DATASOURCE,
        )
        .start()
        .await;
    let env = cli_env(&moto.env("us-east-1"), &emu);

    // Ocean's entities are taken over: the live one is updated, the stale one deleted.
    let first = resync(&emu, env.clone(), &[]).await;
    first.assert_exit(0);
    assert_eq!(catalog(&emu), expected(ours.into_iter().chain(foreign)));
    assert_eq!(first.counts("awsSecret"), [1, 3, 0, 2, 1, 0, 0]);
    assert_eq!(first.counts("acmCertificate"), [1, 2, 0, 2, 0, 0, 1]);
    let owners = datasources(&emu);
    assert_eq!(owners[&key(&migrated_secret)], OUR_DATASOURCE, "taken over");
    assert_eq!(
        owners[&key(&other_integration)],
        OTHER_INTEGRATION_DATASOURCE
    );
    assert_eq!(owners[&key(&other_writer)], OTHER_WRITER_DATASOURCE);

    delete_secret(
        &moto,
        region_of(&gone_secret.identifier),
        &gone_secret.identifier,
    )
    .await;
    delete_certificate(
        &moto,
        region_of(&gone_cert.identifier),
        &gone_cert.identifier,
    )
    .await;
    let before = catalog(&emu);

    let second = resync(&emu, env, &[]).await;

    second.assert_exit(0);
    let after = catalog(&emu);
    let deleted: BTreeSet<_> = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .cloned()
        .collect();
    assert_eq!(
        deleted,
        BTreeSet::from([key(&gone_secret), key(&gone_cert)])
    );
    assert_eq!(
        after,
        expected(
            [&account, &kept_secret, &migrated_secret, &kept_cert]
                .into_iter()
                .chain(foreign)
        )
    );
    assert_eq!(
        datasources(&emu)[&key(&other_integration)],
        OTHER_INTEGRATION_DATASOURCE
    );
    assert_eq!(
        datasources(&emu)[&key(&other_writer)],
        OTHER_WRITER_DATASOURCE
    );
    assert_eq!(second.counts("awsSecret"), [3, 2, 2, 0, 0, 0, 1]);
    assert_eq!(second.counts("acmCertificate"), [2, 1, 1, 0, 0, 0, 1]);
    assert_eq!(
        second.count("POST", paths::ENTITIES_BULK),
        0,
        "nothing else changed"
    );
    assert_eq!(second.count("POST", paths::ENTITIES_BULK_DELETE), 2);
}

#[tokio::test]
async fn faults_retries_and_a_token_refresh_still_give_the_exact_catalog() {
    let moto = Moto::start();
    let seeded = vec![
        caller_account(),
        request_certificate(&moto, "us-east-1", "one.example.com").await,
        request_certificate(&moto, "eu-west-1", "two.example.com").await,
        create_secret(&moto, "us-east-1", "db-password", &[("team", "payments")]).await,
        create_secret(&moto, "eu-west-1", "api-key", &[]).await,
    ];
    let stale = entity(
        "awsSecret",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:deleted-AbCdEf",
        "deleted",
        json!({}),
        json!({"account": ACCOUNT_ID}),
    );
    // 300 ms per request makes the resync outlive the 2-second token (refreshed at 1.8 s).
    let emu = emulator_with_blueprints()
        .entity_from("awsSecret", port_entity(&stale), OUR_DATASOURCE)
        .token_lifetime(Duration::from_secs(2))
        .faults(Faults {
            latency_ms: 300,
            server_error_rate: 0.2,
            rate_limit_rate: 0.1,
            retry_after_secs: 1,
            rate_limit_hint: RateLimitHint::RetryAfter,
            seed: 17,
            ..Faults::default()
        })
        .start()
        .await;

    let run = resync(&emu, cli_env(&moto.env("us-east-1"), &emu), &[]).await;

    run.assert_exit(0);
    assert_eq!(
        catalog(&emu),
        expected(&seeded),
        "the stale secret is gone, the rest written"
    );
    let answered = |status: u16| run.requests.iter().filter(|r| r.status == status).count();
    let server_errors: usize = [500, 502, 503, 504].into_iter().map(answered).sum();
    assert!(
        server_errors > 0,
        "no 5xx was injected: {:#?}",
        run.requests
    );
    assert!(
        answered(429) > 0,
        "no 429 was injected: {:#?}",
        run.requests
    );
    let tokens = run
        .requests
        .iter()
        .filter(|r| r.path == paths::ACCESS_TOKEN && r.status == 200)
        .count();
    assert!(
        tokens >= 2,
        "the resync should have outlived its first token: {:#?}",
        run.requests
    );
    assert!(!run.stderr.contains("; retries 0\n"), "{}", run.stderr);
}

/// More changed entities than one write batch (20 × PORT_MAX_IN_FLIGHT) go out while AWS is
/// still read: the catalog, the counts, retries and stale deletion come out as for one batch.
#[tokio::test]
async fn writes_sent_during_extraction_give_the_exact_catalog_and_report() {
    let moto = Moto::start();
    let mut seeded = vec![caller_account()];
    for n in 0..45 {
        let region = ["us-east-1", "eu-west-1"][n % 2];
        seeded.push(create_secret(&moto, region, &format!("service-{n:02}"), &[]).await);
    }
    let stale = entity(
        "awsSecret",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:deleted-AbCdEf",
        "deleted",
        json!({}),
        json!({"account": ACCOUNT_ID}),
    );
    let emu = emulator_with_blueprints()
        .entity_from("awsSecret", port_entity(&stale), OUR_DATASOURCE)
        .faults(Faults {
            rate_limit_next: 2,
            retry_after_secs: 0,
            endpoints: vec![format!("POST {}", paths::ENTITIES_BULK)],
            ..Faults::default()
        })
        .start()
        .await;
    let mut env = cli_env(&moto.env("us-east-1"), &emu);
    // Batches of 20: two whole ones are sent before extraction ends, 5 secrets after.
    env.push(("PORT_MAX_IN_FLIGHT".to_owned(), "1".to_owned()));

    let run = resync(&emu, env.clone(), &[]).await;

    run.assert_exit(0);
    assert_eq!(catalog(&emu), expected(&seeded));
    assert_eq!(run.counts("awsSecret"), [1, 45, 0, 45, 0, 0, 1]);
    // The stale secret's relation made Port create a bare account entity, which is updated.
    assert_eq!(run.counts("awsAccount"), [1, 1, 0, 0, 1, 0, 0]);
    assert_eq!(run.deletion_line(), "  stale deletion: ran");
    let bulk_ok = run
        .requests
        .iter()
        .filter(|r| r.path == paths::ENTITIES_BULK && r.status == 200)
        .count();
    assert_eq!(bulk_ok, 4, "3 batches of secrets and 1 of accounts");
    assert_eq!(
        run.count("POST", paths::ENTITIES_BULK),
        6,
        "2 retried after 429"
    );

    let again = resync(&emu, env, &[]).await;
    again.assert_exit(0);
    assert_eq!(again.entity_writes(), 0, "{:#?}", again.requests);
}

#[tokio::test]
async fn aws_unreachable_after_a_good_resync_deletes_nothing() {
    let moto = Moto::start();
    let seeded = vec![
        caller_account(),
        request_certificate(&moto, "us-east-1", "one.example.com").await,
        create_secret(&moto, "eu-west-1", "api-key", &[]).await,
    ];
    let emu = emulator().start().await;
    let env = cli_env(&moto.env("us-east-1"), &emu);
    resync(&emu, env.clone(), &[]).await.assert_exit(0);
    assert_eq!(catalog(&emu), expected(&seeded));

    drop(moto);
    let mut env = env;
    env.push(("AWS_MAX_ATTEMPTS".to_owned(), "1".to_owned()));
    let run = resync(&emu, env, &[]).await;

    run.assert_exit(1);
    assert_eq!(
        catalog(&emu),
        expected(&seeded),
        "nothing deleted or changed"
    );
    assert_eq!(run.entity_writes(), 0, "{:#?}", run.requests);
    assert_eq!(run.count("POST", paths::ENTITIES_BULK_DELETE), 0);
    // No scope was read: every entity is held back with its scope named.
    let deletion = run.deletion_line();
    assert!(
        deletion
            .contains("held back: AWS::ACM::Certificate in 123456789012 us-east-1: read failed")
            && deletion.contains(
                "held back: AWS::Organizations::Account of account 123456789012: read failed"
            ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("GetCallerIdentity"), "{}", run.stderr);
}

#[tokio::test]
async fn a_failing_region_keeps_its_entities_and_the_good_region_loses_its_stale_ones() {
    let moto = Moto::start();
    let seeded = [
        caller_account(),
        request_certificate(&moto, "us-east-1", "one.example.com").await,
        create_secret(&moto, "us-east-1", "db-password", &[]).await,
    ];
    let stale_but_unknown = entity(
        "awsSecret",
        "arn:aws:secretsmanager:ap-southwest-9:123456789012:secret:maybe-AbCdEf",
        "maybe",
        json!({"region": "ap-southwest-9"}),
        json!({"account": ACCOUNT_ID}),
    );
    let stale_in_the_good_region = entity(
        "awsSecret",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf",
        "gone",
        json!({"region": "us-east-1"}),
        json!({"account": ACCOUNT_ID}),
    );
    let emu = emulator_with_blueprints()
        .entity_from("awsSecret", port_entity(&stale_but_unknown), OUR_DATASOURCE)
        .entity_from(
            "awsSecret",
            port_entity(&stale_in_the_good_region),
            OUR_DATASOURCE,
        )
        .start()
        .await;
    let env = env_with_a_failing_region(&moto, &emu);

    let run = resync(&emu, env, &[]).await;

    run.assert_exit(1);
    assert_eq!(
        catalog(&emu),
        expected(seeded.iter().chain([&stale_but_unknown])),
        "the good region is written and its stale entity deleted; the failed region's survives"
    );
    assert_eq!(run.count("POST", paths::ENTITIES_BULK_DELETE), 1);
    for kind in ["AWS::SecretsManager::Secret", "AWS::ACM::Certificate"] {
        let scope = format!("error: {kind} in account {ACCOUNT_ID}, region ap-southwest-9: ");
        assert!(
            run.stderr.contains(&scope),
            "{scope} not in:\n{}",
            run.stderr
        );
    }
    assert_eq!(
        run.deletion_line(),
        "  stale deletion: ran (1 stale entit(ies) held back: AWS::SecretsManager::Secret in \
         123456789012 ap-southwest-9: read failed)",
        "{}",
        run.stderr
    );
}

/// Two stale secrets owned by us, one per region of `REGIONS`: what a scope's deletion rule
/// acts on.
fn stale_secret_per_region() -> [Seeded; 2] {
    ["us-east-1", "eu-west-1"].map(|region| {
        entity(
            "awsSecret",
            &format!("arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:gone-AbCdEf"),
            "gone",
            json!({"region": region}),
            json!({"account": ACCOUNT_ID}),
        )
    })
}

fn emulator_holding(stale: &[Seeded]) -> EmulatorBuilder {
    stale.iter().fold(emulator_with_blueprints(), |emu, s| {
        emu.entity_from(s.blueprint, port_entity(s), OUR_DATASOURCE)
    })
}

/// One secret in eu-west-1 named `troubled` goes wrong as `mapping_line` makes it (the shipped
/// mapping's line `line` replaced): eu-west-1 keeps its stale secret, held back for `why`, while
/// us-east-1 loses its own; the fine secrets of both regions are written; exit 1.
async fn a_troubled_item_keeps_its_scopes_stale_secret(
    troubled: &str,
    line: &str,
    mapping_line: &str,
    why: &str,
) {
    let moto = Moto::start();
    let written = [
        caller_account(),
        create_secret(&moto, "us-east-1", "fine-east", &[]).await,
        create_secret(&moto, "eu-west-1", "fine-west", &[]).await,
    ];
    create_secret(&moto, "eu-west-1", troubled, &[]).await;
    let [gone_east, gone_west] = stale_secret_per_region();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mapping = fixtures::edited_mapping(dir.path(), |m| m.replace(line, mapping_line));
    let emu = emulator_holding(&[gone_east, gone_west.clone()])
        .start()
        .await;

    let run = resync(
        &emu,
        cli_env(&moto.env("us-east-1"), &emu),
        &["--mapping", mapping.to_str().expect("UTF-8 path")],
    )
    .await;

    run.assert_exit(1);
    assert_eq!(
        catalog(&emu),
        expected(written.iter().chain([&gone_west])),
        "us-east-1's stale secret deleted; eu-west-1 keeps its own"
    );
    assert_eq!(
        run.deletion_line(),
        format!(
            "  stale deletion: ran (1 stale entit(ies) held back: AWS::SecretsManager::Secret in \
             {ACCOUNT_ID} eu-west-1: {why})"
        ),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn an_item_that_fails_to_map_keeps_its_scopes_stale_entities_and_other_scopes_lose_theirs() {
    a_troubled_item_keeps_its_scopes_stale_secret(
        "cannot-map",
        "          identifier: .ARN\n",
        "          identifier: 'if .Name == \"cannot-map\" then error(\"no\") else .ARN end'\n",
        "1 item(s) not mapped",
    )
    .await;
}

#[tokio::test]
async fn a_write_port_refuses_keeps_its_scopes_stale_entities_and_other_scopes_lose_theirs() {
    // The blueprint declares `description` a string: Port refuses a number.
    a_troubled_item_keeps_its_scopes_stale_secret(
        "refused",
        "            description: .Description\n",
        "            description: 'if .Name == \"refused\" then 42 else .Description end'\n",
        "1 write(s) refused",
    )
    .await;
}

#[tokio::test]
async fn deleting_more_than_the_threshold_is_refused_and_says_why() {
    let moto = Moto::start();
    let account = caller_account();
    let kept = create_secret(&moto, "us-east-1", "kept", &[]).await;
    let mut gone = Vec::new();
    for name in ["one", "two", "three"] {
        gone.push(create_secret(&moto, "eu-west-1", name, &[]).await);
    }
    gone.push(request_certificate(&moto, "us-east-1", "gone.example.com").await);
    let dir = tempfile::tempdir().expect("temporary directory");
    let mapping =
        fixtures::edited_mapping(dir.path(), |m| format!("entityDeletionThreshold: 0.5\n{m}"));
    let mapping = mapping.to_str().expect("UTF-8 path");
    let emu = emulator().start().await;
    let env = cli_env(&moto.env("us-east-1"), &emu);
    resync(&emu, env.clone(), &["--mapping", mapping])
        .await
        .assert_exit(0);
    let before = catalog(&emu);
    assert_eq!(before, expected(gone.iter().chain([&account, &kept])));

    for s in &gone {
        let region = region_of(&s.identifier);
        match s.blueprint {
            "awsSecret" => delete_secret(&moto, region, &s.identifier).await,
            _ => delete_certificate(&moto, region, &s.identifier).await,
        }
    }
    let run = resync(&emu, env, &["--mapping", mapping]).await;

    // Not a failure: AWS was read completely and Port took every write; the report says why
    // nothing was deleted.
    run.assert_exit(0);
    assert_eq!(catalog(&emu), before, "nothing deleted");
    assert_eq!(run.entity_writes(), 0, "{:#?}", run.requests);
    assert_eq!(
        run.deletion_line(),
        "  stale deletion: did not run (skipped: 4 of 6 entities would be deleted, more than \
         entityDeletionThreshold (0.5))"
    );
}

#[tokio::test]
async fn without_creating_missing_related_entities_accounts_are_written_first() {
    let moto = Moto::start();
    let seeded = vec![
        caller_account(),
        request_certificate(&moto, "us-east-1", "one.example.com").await,
        create_secret(&moto, "eu-west-1", "api-key", &[]).await,
        create_secret(&moto, "us-east-1", "db-password", &[]).await,
    ];
    let dir = tempfile::tempdir().expect("temporary directory");
    let mapping = fixtures::edited_mapping(dir.path(), |m| {
        m.replace(
            "createMissingRelatedEntities: true",
            "createMissingRelatedEntities: false",
        )
    });
    let emu = emulator().start().await;

    let run = resync(
        &emu,
        cli_env(&moto.env("us-east-1"), &emu),
        &["--mapping", mapping.to_str().expect("UTF-8 path")],
    )
    .await;

    run.assert_exit(0);
    assert_eq!(catalog(&emu), expected(&seeded));
    for blueprint in BLUEPRINTS {
        assert_eq!(run.counts(blueprint)[5], 0, "{blueprint}: no entity failed");
    }
    let bulk: Vec<&RequestRecord> = run
        .requests
        .iter()
        .filter(|r| r.path == paths::ENTITIES_BULK)
        .collect();
    let written: Vec<&str> = bulk
        .iter()
        .map(|r| r.uri.split('/').nth(3).expect("blueprint in the path"))
        .collect();
    assert_eq!(written.len(), 3, "one request per blueprint: {bulk:#?}");
    assert_eq!(
        written[0], "awsAccount",
        "relation targets first: {written:?}"
    );
    for request in bulk {
        assert_eq!(
            request.status, 200,
            "every entity accepted at once: {request:?}"
        );
        assert!(
            request
                .uri
                .contains("create_missing_related_entities=false"),
            "{}",
            request.uri
        );
    }
}

/// A first resync larger than the write queue's bound (4 batches of 20 × PORT_MAX_IN_FLIGHT)
/// without createMissingRelatedEntities: the full queue is written while AWS is still read,
/// and secrets whose account had not been written yet are tried again at the end. The
/// catalog comes out exact, with no entity failed, and a second resync writes nothing.
#[tokio::test]
async fn a_first_resync_beyond_the_write_queue_bound_gives_the_exact_catalog() {
    let moto = Moto::start();
    let mut seeded = vec![caller_account()];
    for n in 0..120 {
        let region = ["us-east-1", "eu-west-1"][n % 2];
        seeded.push(create_secret(&moto, region, &format!("queued-{n:03}"), &[]).await);
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let mapping = fixtures::edited_mapping(dir.path(), |m| {
        m.replace(
            "createMissingRelatedEntities: true",
            "createMissingRelatedEntities: false",
        )
    });
    let emu = emulator().start().await;
    let mut env = cli_env(&moto.env("us-east-1"), &emu);
    env.push(("PORT_MAX_IN_FLIGHT".to_owned(), "1".to_owned()));
    let args = ["--mapping", mapping.to_str().expect("UTF-8 path")];

    let run = resync(&emu, env.clone(), &args).await;

    run.assert_exit(0);
    assert_eq!(catalog(&emu), expected(&seeded));
    assert_eq!(run.counts("awsSecret")[5], 0, "no secret failed");
    assert_eq!(run.counts("awsSecret")[1], 120);
    let again = resync(&emu, env, &args).await;
    again.assert_exit(0);
    assert_eq!(again.entity_writes(), 0, "{:#?}", again.requests);
}

/// Stale entities whose identifiers, 4.5 MB of them, are more than a resync keeps in memory
/// (4 MiB per blueprint): their identifiers are read back from Port with one more
/// identifier-only search, and exactly the stale ones are deleted.
#[tokio::test]
async fn stale_entities_beyond_the_identifier_budget_are_still_deleted() {
    let moto = Moto::start();
    let seeded = vec![
        caller_account(),
        create_secret(&moto, "us-east-1", "alive", &[]).await,
    ];
    let dir = tempfile::tempdir().expect("temporary directory");
    let mapping = fixtures::edited_mapping(dir.path(), |m| {
        m.replace(
            "enableMergeEntity: true",
            "enableMergeEntity: true\nentityDeletionThreshold: 1",
        )
    });
    let mut builder = emulator_with_blueprints();
    let prefix = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stale-";
    for n in 0..4500 {
        let mut identifier = format!("{prefix}{n:04}-");
        identifier.extend(std::iter::repeat_n('x', 1000 - identifier.len()));
        let stale = entity(
            "awsSecret",
            &identifier,
            "stale",
            json!({}),
            json!({"account": ACCOUNT_ID}),
        );
        builder = builder.entity_from("awsSecret", port_entity(&stale), OUR_DATASOURCE);
    }
    let emu = builder.start().await;
    emu.record_bodies(true);

    let run = resync(
        &emu,
        cli_env(&moto.env("us-east-1"), &emu),
        &["--mapping", mapping.to_str().expect("UTF-8 path")],
    )
    .await;

    run.assert_exit(0);
    assert_eq!(run.counts("awsSecret")[6], 4500, "stale secrets deleted");
    assert_eq!(
        emu.entity_count("awsSecret"),
        1,
        "only the live secret is left"
    );
    assert_eq!(catalog(&emu), expected(&seeded));
    let identifier_reads = run
        .requests
        .iter()
        .filter(|r| r.path == paths::ENTITIES_SEARCH)
        .filter(|r| {
            let body: Value = serde_json::from_str(r.body.as_deref().unwrap_or("{}"))
                .expect("search bodies are JSON");
            body.get("include") == Some(&json!(["identifier"]))
        })
        .count();
    assert_eq!(
        identifier_reads, 5,
        "4500 identifiers read back in pages of 1000"
    );
}

#[tokio::test]
async fn credentials_port_refuses_exit_2_with_nothing_written() {
    let moto = Moto::start();
    create_secret(&moto, "us-east-1", "db-password", &[]).await;
    let emu = emulator().start().await;
    let mut env = cli_env(&moto.env("us-east-1"), &emu);
    env.push(("PORT_CLIENT_SECRET".to_owned(), "not-the-secret".to_owned()));

    let run = resync(&emu, env, &[]).await;

    run.assert_exit(2);
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("not-the-secret"),
        "the secret leaked: {}",
        run.stderr
    );
    assert!(emu.blueprints().is_empty(), "no blueprint created");
    assert!(catalog(&emu).is_empty());
    let endpoints: BTreeSet<&str> = run.requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        endpoints,
        BTreeSet::from([paths::ACCESS_TOKEN]),
        "{:#?}",
        run.requests
    );
}

/// The Ocean-style mapping with search queries, as Port's docs write them (every value jq): the
/// secrets relate to their account by the account's `email`, and a second resource updates
/// the account entity that the query `$identifier = <account id>` matches, an entity made
/// elsewhere.
const SEARCH_QUERY_MAPPING: &str = r#"
resources:
  - kind: AWS::SecretsManager::Secret
    selector:
      query: .tag.Key | IN("team", "env")
    port:
      itemsToParse: .Tags
      itemsToParseName: tag
      entity:
        mappings:
          identifier: .Name + '/' + .tag.Key
          title: .tag.Key + '=' + .tag.Value
          blueprint: "'awsSecret'"
          properties:
            arn: .ARN
          relations:
            account:
              combinator: '"and"'
              rules:
                - property: '"email"'
                  operator: '"="'
                  value: "'owner-' + .__AccountId + '@example.com'"
  - kind: AWS::SecretsManager::Secret
    selector:
      query: 'true'
    port:
      entity:
        mappings:
          identifier:
            combinator: '"and"'
            rules:
              - {property: '"$identifier"', operator: '"="', value: .__AccountId}
          blueprint: '"awsAccount"'
          properties:
            status: "'HAS_SECRETS'"
"#;

#[tokio::test]
async fn search_query_relations_and_identifiers_are_resolved_by_port_and_never_make_the_entity_they_reach_stale()
 {
    let moto = Moto::start();
    let secret = create_secret(
        &moto,
        "us-east-1",
        "db-password",
        &[("team", "payments"), ("env", "prod")],
    )
    .await;
    let arn = secret.content["properties"]["arn"].clone();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mapping = dir.path().join("search-queries.yml");
    std::fs::write(&mapping, SEARCH_QUERY_MAPPING).expect("write the mapping");
    let args = ["--mapping", mapping.to_str().expect("UTF-8 path")];
    // The account was made by another integration: ours only finds it by query.
    let emu = emulator_with_blueprints()
        .entity_from(
            "awsAccount",
            json!({"identifier": ACCOUNT_ID, "title": "Production",
                   "properties": {"email": format!("owner-{ACCOUNT_ID}@example.com")}}),
            "another-integration",
        )
        .start()
        .await;
    let env = cli_env(&moto.env("us-east-1"), &emu);

    let first = resync(&emu, env.clone(), &args).await;

    first.assert_exit(0);
    let secrets: Catalog = emu
        .entities("awsSecret")
        .into_iter()
        .map(|e| {
            (
                (e.blueprint.clone(), e.identifier.clone()),
                content(e.title.as_deref(), &e.properties, &e.relations),
            )
        })
        .collect();
    let tag_entity = |key: &str, value: &str| {
        entity(
            "awsSecret",
            &format!("db-password/{key}"),
            &format!("{key}={value}"),
            json!({"arn": arn}),
            json!({"account": ACCOUNT_ID}),
        )
    };
    assert_eq!(
        secrets,
        expected(&[tag_entity("team", "payments"), tag_entity("env", "prod")]),
        "the relation resolved to the account whose email matched"
    );
    let account = emu
        .entity("awsAccount", ACCOUNT_ID)
        .expect("the account stays");
    assert_eq!(
        account.title.as_deref(),
        Some("Production"),
        "merged, not replaced"
    );
    assert_eq!(account.properties["status"], json!("HAS_SECRETS"));
    assert_eq!(
        emu.entity_count("awsAccount"),
        1,
        "no entity is created from a query"
    );
    // One write for the account however many secrets found it by the same query.
    assert_eq!(first.counts("awsAccount"), [0, 1, 0, 0, 1, 0, 0]);
    assert_eq!(first.counts("awsSecret"), [0, 2, 0, 2, 0, 0, 0]);

    // Port keeps only what the queries resolved to, so they are written again; the account,
    // now last written by us, is not stale although no entity of ours names it.
    let second = resync(&emu, env.clone(), &args).await;
    second.assert_exit(0);
    assert_eq!(second.counts("awsSecret"), [2, 2, 0, 0, 2, 0, 0]);
    assert_eq!(second.counts("awsAccount"), [1, 1, 0, 0, 1, 0, 0]);
    assert_eq!(second.deletion_line(), "  stale deletion: ran");

    // The secret is gone: its entities go, the account it updated stays.
    let client = secrets_client(&moto, "us-east-1").await;
    client
        .delete_secret()
        .secret_id(arn.as_str().expect("ARN"))
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete the secret");
    let third = resync(&emu, env, &args).await;
    third.assert_exit(0);
    assert_eq!(emu.entity_count("awsSecret"), 0);
    assert!(emu.entity("awsAccount", ACCOUNT_ID).is_some());
    assert_eq!(
        third.deletion_line(),
        "  stale deletion: ran (1 stale entit(ies) held back: the mapping writes this blueprint \
         through a search-query identifier (which entities it updated only Port knows))"
    );
}

/// A mapping written the way Port's docs and Ocean's integrations write them: single-quoted jq
/// strings, `IN`, `itemsToParse` with `itemsToParseName`, and a property that fails on some
/// items. Ocean writes one entity per selected tag, without the tag list in the record each
/// sees, and the failing property as null.
const OCEAN_STYLE_MAPPING: &str = r#"
resources:
  - kind: AWS::SecretsManager::Secret
    selector:
      query: .tag.Key | IN("team", "env")
    port:
      itemsToParse: .Tags
      itemsToParseName: tag
      entity:
        mappings:
          identifier: .Name + '/' + .tag.Key
          title: .tag.Key + '=' + .tag.Value
          blueprint: "'awsSecret'"
          properties:
            description: if has("Tags") then 'the tag list is still there' else 'tag ' + .tag.Key + ' of ' + .Name end
            region: .__Region
            arn: .ARN
            tags: '{(.tag.Key): .tag.Value}'
            kmsKeyId: .tag.Value | if . == "prod" then error("not this one") else 'key-' + . end
          relations:
            account: .__AccountId
"#;

#[tokio::test]
async fn an_ocean_style_mapping_is_synced_as_ocean_maps_it() {
    let moto = Moto::start();
    let secret = create_secret(
        &moto,
        "us-east-1",
        "db-password",
        &[("team", "payments"), ("env", "prod"), ("cost", "x")],
    )
    .await;
    let arn = secret.content["properties"]["arn"].clone();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mapping = dir.path().join("ocean-style.yml");
    std::fs::write(&mapping, OCEAN_STYLE_MAPPING).expect("write the mapping");
    let emu = emulator().start().await;

    let run = resync(
        &emu,
        cli_env(&moto.env("us-east-1"), &emu),
        &["--mapping", mapping.to_str().expect("UTF-8 path")],
    )
    .await;

    // A failing property is reported, not an item failure: the run succeeds.
    run.assert_exit(0);
    let secrets: Catalog = emu
        .entities("awsSecret")
        .into_iter()
        .map(|e| {
            (
                (e.blueprint.clone(), e.identifier.clone()),
                content(e.title.as_deref(), &e.properties, &e.relations),
            )
        })
        .collect();
    let tag_entity = |key: &str, value: &str, kms: Value| {
        entity(
            "awsSecret",
            &format!("db-password/{key}"),
            &format!("{key}={value}"),
            json!({
                "description": format!("tag {key} of db-password"),
                "region": "us-east-1",
                "arn": arn,
                "tags": {key: value},
                "kmsKeyId": kms,
            }),
            json!({"account": ACCOUNT_ID}),
        )
    };
    assert_eq!(
        secrets,
        expected(&[
            tag_entity("team", "payments", json!("key-payments")),
            tag_entity("env", "prod", Value::Null),
        ])
    );
    assert_eq!(run.counts("awsSecret"), [0, 2, 0, 2, 0, 0, 0]);
    assert_eq!(run.deletion_line(), "  stale deletion: ran");
    let warning = run
        .stderr
        .lines()
        .find(|l| l.contains("misconfigured field"))
        .unwrap_or_else(|| panic!("no field warning in:\n{}", run.stderr));
    assert!(
        warning.contains("field `properties.kmsKeyId`")
            && warning.ends_with("(on 1 item(s), e.g. entity db-password/env; written as null)"),
        "{warning}"
    );
}

/// `n` secrets of ours in Port in eu-west-1 that AWS no longer lists.
fn stale_secrets_in_west(n: usize) -> Vec<Seeded> {
    (0..n)
        .map(|i| {
            entity(
                "awsSecret",
                &format!("arn:aws:secretsmanager:eu-west-1:{ACCOUNT_ID}:secret:old-{i:02}-AbCdEf"),
                &format!("old-{i:02}"),
                json!({"region": "eu-west-1"}),
                json!({"account": ACCOUNT_ID}),
            )
        })
        .collect()
}

/// The empty-read guard's memory the integration record holds (`spec.portAwsSync`).
fn remembered_empty_reads(emu: &Emulator) -> Value {
    let record = emu.integration("aws-sync").expect("registered");
    record["spec"]["portAwsSync"]["emptyReads"].clone()
}

#[tokio::test]
async fn a_scope_going_from_50_entities_to_none_is_held_once_and_deleted_by_the_confirming_run() {
    let moto = Moto::start();
    let written = [
        caller_account(),
        create_secret(&moto, "us-east-1", "kept", &[]).await,
    ];
    // eu-west-1 lists no secret at all; Port holds 50 of ours there.
    let gone = stale_secrets_in_west(50);
    let emu = emulator_holding(&gone).start().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    // 50 of 52 is above Ocean's default threshold: the guard, not the threshold, is tested.
    let mapping =
        fixtures::edited_mapping(dir.path(), |m| format!("entityDeletionThreshold: 1\n{m}"));
    let args = ["--mapping", mapping.to_str().expect("UTF-8 path")];
    let env = cli_env(&moto.env("us-east-1"), &emu);

    let first = resync(&emu, env.clone(), &args).await;

    // Held back is not a failure.
    first.assert_exit(0);
    assert_eq!(
        catalog(&emu),
        expected(written.iter().chain(&gone)),
        "nothing deleted on the first empty read"
    );
    assert_eq!(first.count("POST", paths::ENTITIES_BULK_DELETE), 0);
    assert_eq!(
        first.deletion_line(),
        format!(
            "  stale deletion: ran (50 stale entit(ies) held back: AWS::SecretsManager::Secret in \
             {ACCOUNT_ID} eu-west-1 listed no item while Port holds 50 of its entities \
             (EMPTY_SCOPE_GUARD_MIN); deleted when the next resync lists it empty again)"
        )
    );
    let memory = remembered_empty_reads(&emu);
    assert_eq!(
        memory["scopes"],
        json!([{"kind": "AWS::SecretsManager::Secret", "account": ACCOUNT_ID,
                "region": "eu-west-1", "inPort": 50}]),
        "{memory}"
    );
    assert_eq!(
        first.count("PATCH", paths::INTEGRATION),
        1,
        "one write keeps the memory"
    );

    let second = resync(&emu, env.clone(), &args).await;

    second.assert_exit(0);
    assert_eq!(
        catalog(&emu),
        expected(&written),
        "the confirming run deletes the 50"
    );
    assert_eq!(second.counts("awsSecret")[6], 50);
    assert!(
        second.stderr.contains(&format!(
            "deleted 50 awsSecret of AWS::SecretsManager::Secret in {ACCOUNT_ID} eu-west-1"
        )),
        "{}",
        second.stderr
    );
    assert_eq!(remembered_empty_reads(&emu), Value::Null, "memory cleared");
    // Port's resync logs say it per blueprint, scope and reason, for both runs.
    let summaries: Vec<Value> = emu
        .ingested_logs("aws-sync")
        .into_iter()
        .filter(|l| l["message"] == "stale deletion by blueprint and scope")
        .map(|l| l["extra"]["deletion"].clone())
        .collect();
    assert_eq!(summaries.len(), 2, "{summaries:?}");
    assert_eq!(summaries[0]["heldBack"][0]["reason"], "scope-listed-empty");
    assert_eq!(summaries[0]["heldBack"][0]["count"], 50);
    assert_eq!(
        summaries[1]["deleted"],
        json!([{"blueprint": "awsSecret", "count": 50, "scope":
            {"kind": "AWS::SecretsManager::Secret", "account": ACCOUNT_ID, "region": "eu-west-1"}}])
    );
    let held_metric: Vec<Value> = emu
        .ingested_metrics("aws-sync")
        .into_iter()
        .filter(|m| m["kind"] == "AWS::SecretsManager::Secret")
        .map(|m| m["metrics"]["phase"]["delete"]["object_count_type"].clone())
        .collect();
    assert_eq!(held_metric[0]["held_back"]["object_count"], 50);
    assert_eq!(held_metric[1]["deleted"]["object_count"], 50);

    // Steady state: nothing read empty, nothing stored, no request for the guard.
    let third = resync(&emu, env, &args).await;
    third.assert_exit(0);
    assert_eq!(third.count("PATCH", paths::INTEGRATION), 0);
}

#[tokio::test]
async fn an_empty_read_is_held_again_when_ports_memory_is_not_from_the_last_resync() {
    let moto = Moto::start();
    create_secret(&moto, "us-east-1", "kept", &[]).await;
    let gone = stale_secrets_in_west(20);
    let emu = emulator_holding(&gone).start().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mapping =
        fixtures::edited_mapping(dir.path(), |m| format!("entityDeletionThreshold: 1\n{m}"));
    let args = ["--mapping", mapping.to_str().expect("UTF-8 path")];
    let env = cli_env(&moto.env("us-east-1"), &emu);
    resync(&emu, env.clone(), &args).await.assert_exit(0);
    // A later run that could not store its own memory: Port's is one resync old.
    let state = json!({"status": "running", "lastResyncStart": "2099-01-01T00:00:00Z",
                       "lastResyncEnd": null});
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/v1/auth/access_token", emu.base_url()))
        .json(&json!({"clientId": emu.client_id(), "clientSecret": emu.client_secret()}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token body");
    let update = http
        .patch(format!(
            "{}/v1/integration/aws-sync/resync-state",
            emu.base_url()
        ))
        .bearer_auth(token["accessToken"].as_str().expect("accessToken"))
        .json(&state)
        .send()
        .await
        .expect("PATCH resync-state");
    assert!(update.status().is_success(), "{}", update.status());

    let run = resync(&emu, env, &args).await;

    run.assert_exit(0);
    assert_eq!(
        run.count("POST", paths::ENTITIES_BULK_DELETE),
        0,
        "held again"
    );
    assert_eq!(emu.entities("awsSecret").len(), 21);
    assert!(
        run.deletion_line()
            .contains("20 stale entit(ies) held back"),
        "{}",
        run.stderr
    );
}

/// The shipped mapping without any region or account field (no `region`, `arn` property, no
/// account relation), with `identifier` as given.
fn mapping_without_scope_fields(dir: &Path, identifier: &str) -> std::path::PathBuf {
    fixtures::edited_mapping(dir, |m| {
        m.replace("            region: .__Region\n", "")
            .replace("            arn: .ARN\n", "")
            .replace(
                "          relations:\n            account: .__AccountId\n",
                "          relations: {}\n",
            )
            .replace(
                "          identifier: .ARN\n",
                &format!("          identifier: {identifier}\n"),
            )
    })
}

/// A secret in Port as a mapping without scope fields writes it.
fn bare_secret(identifier: &str) -> Value {
    json!({"identifier": identifier, "title": "gone", "properties": {}, "relations": {}})
}

#[tokio::test]
async fn without_region_or_account_fields_an_arn_identifier_still_scopes_deletion_and_a_plain_one_keeps_all()
 {
    let moto = Moto::start();
    create_secret(&moto, "us-east-1", "fine", &[]).await;
    let gone_east = format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:gone-AbCdEf");
    let kept_failed =
        format!("arn:aws:secretsmanager:ap-southwest-9:{ACCOUNT_ID}:secret:maybe-AbCdEf");
    let emu = emulator_with_blueprints()
        .entity_from("awsSecret", bare_secret(&gone_east), OUR_DATASOURCE)
        .entity_from("awsSecret", bare_secret(&kept_failed), OUR_DATASOURCE)
        .entity_from("awsSecret", bare_secret("plain-name"), OUR_DATASOURCE)
        .start()
        .await;
    let mut env = env_with_a_failing_region(&moto, &emu);
    // Each run uses its --mapping, not the one the first run stored in Port.
    env.push(("MAPPING_SOURCE".to_owned(), "file".to_owned()));
    let dir = tempfile::tempdir().expect("temporary directory");
    let mapping = mapping_without_scope_fields(dir.path(), ".ARN");

    let run = resync(&emu, env.clone(), &["--mapping", mapping.to_str().unwrap()]).await;

    run.assert_exit(1);
    let ids = |emu: &Emulator| -> BTreeSet<String> {
        emu.entities("awsSecret")
            .into_iter()
            .map(|e| e.identifier)
            .collect()
    };
    let left = ids(&emu);
    assert!(
        !left.contains(&gone_east),
        "its ARN names us-east-1, read completely:\n{}",
        run.stderr
    );
    assert!(
        left.contains(&kept_failed),
        "its ARN names the failed region"
    );
    assert!(
        left.contains("plain-name"),
        "scope unknown and the resync was incomplete"
    );

    // A plain identifier and no scope fields: nothing of a failed scope is ever deleted. The
    // only deletion is the ARN-named copy of `fine` (its ARN names a clean scope).
    let plain_dir = tempfile::tempdir().expect("temporary directory");
    let plain = mapping_without_scope_fields(plain_dir.path(), ".Name");
    for _ in 0..2 {
        let run = resync(&emu, env.clone(), &["--mapping", plain.to_str().unwrap()]).await;
        run.assert_exit(1);
        assert!(
            run.deletion_line().contains(
                "1 stale entit(ies) held back: scope unknown (no ARN, account and region in the \
                 entity) and this resync was incomplete"
            ),
            "{}",
            run.stderr
        );
    }
    assert_eq!(
        ids(&emu),
        BTreeSet::from([
            "fine".to_owned(),
            kept_failed.clone(),
            "plain-name".to_owned()
        ])
    );
    assert!(ids(&emu).contains(&kept_failed));
    assert!(ids(&emu).contains("plain-name"));
}

#[tokio::test]
async fn entities_ocean_wrote_follow_the_same_scope_rules_and_another_integrations_are_untouched() {
    let moto = Moto::start();
    create_secret(&moto, "us-east-1", "fine", &[]).await;
    let in_region = |region: &str, name: &str| {
        entity(
            "awsSecret",
            &format!("arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{name}-AbCdEf"),
            name,
            json!({"region": region}),
            json!({"account": ACCOUNT_ID}),
        )
    };
    let gone = in_region("us-east-1", "gone");
    let failed = in_region("ap-southwest-9", "maybe");
    let theirs = in_region("us-east-1", "not-ours");
    let emu = emulator_with_blueprints()
        .entity_from("awsSecret", port_entity(&gone), OCEAN_AWS_DATASOURCE)
        .entity_from("awsSecret", port_entity(&failed), OCEAN_AWS_DATASOURCE)
        .entity_from(
            "awsSecret",
            port_entity(&theirs),
            OTHER_INTEGRATION_DATASOURCE,
        )
        .start()
        .await;
    let env = env_with_a_failing_region(&moto, &emu);

    let run = resync(&emu, env, &[]).await;

    run.assert_exit(1);
    let left: BTreeSet<String> = emu
        .entities("awsSecret")
        .into_iter()
        .map(|e| e.identifier)
        .collect();
    assert!(
        !left.contains(&gone.identifier),
        "Ocean's, in a clean scope: deleted"
    );
    assert!(
        left.contains(&failed.identifier),
        "Ocean's, in the failed scope: kept"
    );
    assert!(
        left.contains(&theirs.identifier),
        "another integration's: never ours"
    );
    assert!(
        run.stderr.contains(&format!(
            "deleted 1 awsSecret of AWS::SecretsManager::Secret in {ACCOUNT_ID} us-east-1"
        )),
        "{}",
        run.stderr
    );
}
