//! The command line end to end: the real `port-aws-sync` binary run as a child process
//! with a clean environment, the shipped mapping and blueprints, and a private moto.
//!
//! Expectations are built here from what the tests seeded (names, tags, key types,
//! the ARNs and account ids the seeding calls returned) and from what moto reports
//! when asked directly over HTTP (dates, statuses), never by running our own code.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::types::RotationRulesType;
use aws_types::SdkConfig;
use regex::Regex;
use serde_json::{Map, Value, json};
use support::certs::KeySpec;
use support::fixtures;
use support::moto::Moto;
use support::seed::{self, Member};

const BIN: &str = env!("CARGO_BIN_EXE_port-aws-sync");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Only a guard against a hung child: every run here ends in seconds.
const CHILD_TIMEOUT: Duration = Duration::from_secs(180);

const ACCOUNT_KIND: &str = "AWS::Organizations::Account";
const CERTIFICATE_KIND: &str = "AWS::ACM::Certificate";
const SECRET_KIND: &str = "AWS::SecretsManager::Secret";

// ---------------------------------------------------------------- running the binary

/// One run of the binary: exit code and both streams.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_exit(&self, expected: i32) {
        assert_eq!(
            self.code,
            Some(expected),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
    }

    fn assert_stderr_contains(&self, needle: &str) {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
    }

    /// stdout as NDJSON, sorted by (blueprint, identifier).
    fn entities(&self) -> Vec<Value> {
        let mut entities: Vec<Value> = self
            .stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("stdout line is not JSON ({error}): {line}"))
            })
            .collect();
        entities.sort_by_key(sort_key);
        entities
    }
}

fn sort_key(entity: &Value) -> (String, String) {
    let field = |name: &str| {
        entity[name]
            .as_str()
            .unwrap_or_else(|| panic!("entity without a string {name}: {entity}"))
            .to_owned()
    };
    (field("blueprint"), field("identifier"))
}

/// `port-aws-sync <args>` in the crate directory (so the default `mapping/` and
/// `blueprints/` are the shipped ones), with nothing of the test's environment but
/// PATH, a HOME without AWS files, and `env`.
fn port_aws_sync(args: &[&str], env: &[(String, String)]) -> Run {
    let home = tempfile::tempdir().expect("temporary HOME");
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(MANIFEST_DIR)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start port-aws-sync");
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for port-aws-sync") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "port-aws-sync {args:?} did not exit within {CHILD_TIMEOUT:?}; stderr:\n{}",
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).expect("read child output");
        String::from_utf8(bytes).expect("child output is UTF-8")
    })
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// An AWS endpoint that records every connection made to it and closes it at once, so
/// a test can tell that no AWS call was made (and a wrong call fails fast).
struct Tripwire {
    endpoint: String,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    acceptor: Option<JoinHandle<()>>,
}

impl Tripwire {
    fn new() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let acceptor = std::thread::spawn({
            let stop = stop.clone();
            let connections = connections.clone();
            move || {
                loop {
                    // Read the flag before draining: a connection made before stop was
                    // set is in the queue by then, so the last drain sees it.
                    let stopping = stop.load(Ordering::SeqCst);
                    while let Ok((stream, _)) = listener.accept() {
                        connections.fetch_add(1, Ordering::SeqCst);
                        drop(stream);
                    }
                    if stopping {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        });
        Tripwire {
            endpoint,
            stop,
            connections,
            acceptor: Some(acceptor),
        }
    }

    /// How many connections were made; call after the child exited.
    fn connections(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.join().expect("tripwire thread");
        }
        self.connections.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------- what moto reports

/// `"2020-02-17T19:41:06.257Z"` from the epoch seconds text `1581968466.257`, digit for
/// digit: the fraction is kept as sent (trailing zeros dropped), as RFC 3339 in UTC.
fn rfc3339_from_epoch_text(text: &str) -> String {
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    let seconds: i64 = seconds
        .parse()
        .unwrap_or_else(|_| panic!("not epoch seconds: {text}"));
    let fraction = fraction.trim_end_matches('0');
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    );
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[test]
fn epoch_text_converts_digit_for_digit() {
    for (text, expected) in [
        ("0", "1970-01-01T00:00:00Z"),
        ("951782400", "2000-02-29T00:00:00Z"),
        ("1700000000", "2023-11-14T22:13:20Z"),
        ("1795325290.0", "2026-11-22T05:28:10Z"),
        ("1581968466.257", "2020-02-17T19:41:06.257Z"),
        ("1795325174.759089", "2026-11-22T05:26:14.759089Z"),
        ("1795325174.784080", "2026-11-22T05:26:14.78408Z"),
    ] {
        assert_eq!(rfc3339_from_epoch_text(text), expected, "{text}");
    }
}

/// A timestamp field of a raw moto response as RFC 3339, or null when moto left it
/// out or sent null. Read from the text, since a JSON parser would go through an f64.
fn timestamp(raw: &str, field: &str) -> Value {
    let pattern =
        Regex::new(&format!(r#""{field}":\s*(null|-?[0-9]+(?:\.[0-9]+)?)"#)).expect("valid regex");
    let mut found = pattern.captures_iter(raw).map(|c| c[1].to_owned());
    let value = match found.next() {
        None => return Value::Null,
        Some(text) if text == "null" => return Value::Null,
        Some(text) => text,
    };
    assert!(found.next().is_none(), "{field} twice in {raw}");
    Value::from(rfc3339_from_epoch_text(&value))
}

fn parse(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|error| panic!("moto sent bad JSON ({error}): {raw}"))
}

/// A field of a moto response as the mapping's plain `.Field` yields it: null when absent.
fn field(object: &Value, name: &str) -> Value {
    object.get(name).cloned().unwrap_or(Value::Null)
}

// ---------------------------------------------------------------- seeding

async fn caller_account_id(config: &SdkConfig) -> String {
    aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity")
        .account
        .expect("caller account id")
}

/// A certificate as seeded.
struct Certificate {
    arn: String,
    region: &'static str,
    domain: String,
    /// What ACM calls the key: fixed by the key we made or asked for.
    key_algorithm: String,
    r#type: &'static str,
}

async fn import_certificate(
    config: &SdkConfig,
    region: &'static str,
    key: KeySpec,
    domain: &str,
) -> Certificate {
    let arn = seed::import_certificate(&aws_sdk_acm::Client::new(config), key, domain).await;
    Certificate {
        arn,
        region,
        domain: domain.to_owned(),
        key_algorithm: key.acm_name(),
        r#type: "IMPORTED",
    }
}

async fn request_certificate(
    config: &SdkConfig,
    region: &'static str,
    domain: &str,
) -> Certificate {
    let arn = seed::request_certificate(&aws_sdk_acm::Client::new(config), domain).await;
    Certificate {
        arn,
        region,
        domain: domain.to_owned(),
        // ACM's key algorithm when RequestCertificate names none.
        key_algorithm: "RSA_2048".to_owned(),
        r#type: "AMAZON_ISSUED",
    }
}

/// A secret as seeded.
struct Secret {
    arn: String,
    name: String,
    region: &'static str,
    description: Option<String>,
    tags: Vec<(String, String)>,
}

async fn create_secret(
    config: &SdkConfig,
    region: &'static str,
    name: &str,
    description: Option<&str>,
    tags: &[(&str, &str)],
    kms_key_id: Option<&str>,
) -> Secret {
    let client = aws_sdk_secretsmanager::Client::new(config);
    let created = seed::secret(&client, name, "not-for-the-catalog", tags)
        .set_description(description.map(str::to_owned))
        .set_kms_key_id(kms_key_id.map(str::to_owned))
        .send()
        .await
        .expect("CreateSecret");
    Secret {
        arn: created.arn.expect("secret ARN"),
        name: created.name.expect("secret name"),
        region,
        description: description.map(str::to_owned),
        tags: tags
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
    }
}

// ---------------------------------------------------------------- expected entities

async fn expected_account(moto: &Moto, id: &str, seeded: Option<&Member>) -> Value {
    let raw = moto
        .call_json(
            "organizations",
            "us-east-1",
            "AWSOrganizationsV20161128.DescribeAccount",
            &json!({"AccountId": id}),
        )
        .await;
    let account = &parse(&raw)["Account"];
    let (name, email) = match seeded {
        Some(member) => (json!(member.name), json!(member.email)),
        // The management account: moto names it.
        None => (field(account, "Name"), field(account, "Email")),
    };
    json!({
        "identifier": id,
        "blueprint": "awsAccount",
        "title": name,
        "properties": {
            "arn": field(account, "Arn"),
            "email": email,
            "status": field(account, "Status"),
            "joined_method": field(account, "JoinedMethod"),
            "joined_timestamp": timestamp(&raw, "JoinedTimestamp"),
        },
        "relations": {}
    })
}

async fn expected_certificate(moto: &Moto, certificate: &Certificate, account_id: &str) -> Value {
    let raw = moto
        .call_json(
            "acm",
            certificate.region,
            "CertificateManager.DescribeCertificate",
            &json!({"CertificateArn": certificate.arn}),
        )
        .await;
    let detail = &parse(&raw)["Certificate"];
    let in_use = detail["InUseBy"]
        .as_array()
        .is_some_and(|users| !users.is_empty());
    json!({
        "identifier": certificate.arn,
        "blueprint": "acmCertificate",
        "title": certificate.domain,
        "properties": {
            "status": field(detail, "Status"),
            "type": certificate.r#type,
            "arn": certificate.arn,
            "renewalEligibility": field(detail, "RenewalEligibility"),
            "keyAlgorithm": certificate.key_algorithm,
            "inUse": in_use,
            "createdAt": timestamp(&raw, "CreatedAt"),
            "expirationDate": timestamp(&raw, "NotAfter"),
        },
        "relations": {"account": account_id}
    })
}

async fn expected_secret(moto: &Moto, secret: &Secret, account_id: &str) -> Value {
    let raw = moto
        .call_json(
            "secretsmanager",
            secret.region,
            "secretsmanager.DescribeSecret",
            &json!({"SecretId": secret.arn}),
        )
        .await;
    let described = parse(&raw);
    let tags: Map<String, Value> = secret
        .tags
        .iter()
        .map(|(key, value)| (key.clone(), Value::from(value.as_str())))
        .collect();
    json!({
        "identifier": secret.arn,
        "blueprint": "awsSecret",
        "title": secret.name,
        "properties": {
            "description": secret.description,
            "region": secret.region,
            "arn": secret.arn,
            "createdAt": timestamp(&raw, "CreatedDate"),
            "lastUpdatedAt": timestamp(&raw, "LastChangedDate"),
            "lastAccessedAt": timestamp(&raw, "LastAccessedDate"),
            "lastRotatedAt": timestamp(&raw, "LastRotatedDate"),
            "rotationEnabled": described.get("RotationEnabled").cloned().unwrap_or(json!(false)),
            "rotationLambdaArn": field(&described, "RotationLambdaARN"),
            "rotationRules": field(&described, "RotationRules"),
            "kmsKeyId": field(&described, "KmsKeyId"),
            "primaryRegion": field(&described, "PrimaryRegion"),
            "tags": tags,
        },
        "relations": {"account": account_id}
    })
}

// ---------------------------------------------------------------- the summary

/// The numbers of one kind's summary line on stderr.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    items: u64,
    entities: u64,
    filtered: u64,
    skipped: u64,
    failed: u64,
    accounts: u64,
    regions: u64,
    failed_scopes: u64,
}

impl Summary {
    fn ok(count: u64, regions: u64) -> Summary {
        Summary {
            items: count,
            entities: count,
            filtered: 0,
            skipped: 0,
            failed: 0,
            accounts: 1,
            regions,
            failed_scopes: 0,
        }
    }
}

static SUMMARY_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^  (\S+): (\d+) items fetched, (\d+) entities, (\d+) filtered out, (\d+) skipped \(no identifier or blueprint\), (\d+) failed; (\d+) account\(s\), (\d+) region\(s\)(?:, (\d+) scope\(s\) failed)?$",
    )
    .expect("valid regex")
});

/// Every kind's summary line, by kind.
fn summaries(stderr: &str) -> BTreeMap<String, Summary> {
    let start = stderr
        .lines()
        .position(|line| line == "summary:")
        .unwrap_or_else(|| panic!("no summary on stderr:\n{stderr}"));
    stderr
        .lines()
        .skip(start + 1)
        .filter_map(|line| SUMMARY_LINE.captures(line))
        .map(|c| {
            let number = |i: usize| c.get(i).map_or(0, |m| m.as_str().parse().expect("count"));
            let summary = Summary {
                items: number(2),
                entities: number(3),
                filtered: number(4),
                skipped: number(5),
                failed: number(6),
                accounts: number(7),
                regions: number(8),
                failed_scopes: number(9),
            };
            (c[1].to_owned(), summary)
        })
        .collect()
}

fn moto_env(moto: &Moto, regions: &str) -> Vec<(String, String)> {
    let mut env = moto.env("us-east-1");
    env.push(("AWS_REGIONS".to_owned(), regions.to_owned()));
    env
}

// ---------------------------------------------------------------- 1. the whole pipeline

#[tokio::test]
async fn dry_run_prints_exactly_the_entities_of_the_seeded_organization() {
    let moto = Moto::start();
    let virginia = moto.sdk_config("us-east-1").await;
    let ireland = moto.sdk_config("eu-west-1").await;
    let caller = caller_account_id(&virginia).await;
    let names = ["payments-prod", "search-dev"].map(str::to_owned);
    let members = seed::create_organization(&virginia, &names).await;

    let mut certificates = vec![
        import_certificate(&ireland, "eu-west-1", KeySpec::EcP256, "ec.example.com").await,
        import_certificate(
            &virginia,
            "us-east-1",
            KeySpec::Rsa(4096),
            "rsa4096.example.com",
        )
        .await,
        import_certificate(
            &ireland,
            "eu-west-1",
            KeySpec::Rsa(2048),
            "rsa2048.example.com",
        )
        .await,
    ];

    let payments_db = create_secret(
        &virginia,
        "us-east-1",
        "payments/db",
        Some("payments database"),
        &[("team", "payments"), ("env", "prod")],
        Some("alias/payments"),
    )
    .await;
    // Rotation on, without a Lambda: moto then rotates at once and reports it.
    aws_sdk_secretsmanager::Client::new(&virginia)
        .rotate_secret()
        .secret_id(&payments_db.arn)
        .rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await
        .expect("RotateSecret");
    let secrets = vec![
        payments_db,
        create_secret(
            &virginia,
            "us-east-1",
            "search/api-key",
            Some("search API key"),
            &[("team", "search")],
            None,
        )
        .await,
        create_secret(
            &ireland,
            "eu-west-1",
            "payments/eu-db",
            Some("payments database, EU"),
            &[("team", "payments")],
            None,
        )
        .await,
        create_secret(&ireland, "eu-west-1", "untagged", None, &[], None).await,
    ];
    // Requested last: moto validates it after a minute, and the run follows at once.
    certificates.push(request_certificate(&virginia, "us-east-1", "requested.example.com").await);

    let mut expected = vec![expected_account(&moto, &caller, None).await];
    for member in &members {
        expected.push(expected_account(&moto, &member.id, Some(member)).await);
    }
    for certificate in &certificates {
        expected.push(expected_certificate(&moto, certificate, &caller).await);
    }
    for secret in &secrets {
        expected.push(expected_secret(&moto, secret, &caller).await);
    }
    expected.sort_by_key(sort_key);

    let run = port_aws_sync(
        &["resync", "--dry-run"],
        &moto_env(&moto, "us-east-1,eu-west-1"),
    );

    run.assert_exit(0);
    let entities = run.entities();
    let keys = |list: &[Value]| list.iter().map(sort_key).collect::<Vec<_>>();
    assert_eq!(keys(&entities), keys(&expected), "{}", run.stderr);
    for (entity, expected) in entities.iter().zip(&expected) {
        assert_eq!(entity, expected);
    }
    // The key types ListCertificates leaves out unless asked for are there.
    let key_algorithms: BTreeSet<&str> = entities
        .iter()
        .filter_map(|entity| entity["properties"]["keyAlgorithm"].as_str())
        .collect();
    assert_eq!(
        key_algorithms,
        BTreeSet::from(["EC_prime256v1", "RSA_2048", "RSA_4096"])
    );
    assert_eq!(
        summaries(&run.stderr),
        BTreeMap::from([
            (
                ACCOUNT_KIND.to_owned(),
                Summary::ok(1 + members.len() as u64, 1)
            ),
            (
                CERTIFICATE_KIND.to_owned(),
                Summary::ok(certificates.len() as u64, 2)
            ),
            (SECRET_KIND.to_owned(), Summary::ok(secrets.len() as u64, 2)),
        ]),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------- 2. a broken jq expression

#[test]
fn dry_run_with_a_jq_syntax_error_stops_before_any_aws_call() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mapping = fixtures::mapping_with(
        dir.path(),
        "keyAlgorithm: .KeyAlgorithm\n",
        "keyAlgorithm: .KeyAlgorithm | ascii_downcase(\n",
    );
    let aws = Tripwire::new();

    let run = port_aws_sync(
        &[
            "resync",
            "--dry-run",
            "--mapping",
            mapping.to_str().expect("UTF-8 path"),
        ],
        &vars(&[
            ("AWS_ENDPOINT_URL", &aws.endpoint),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_REGIONS", "us-east-1,eu-west-1"),
        ]),
    );

    run.assert_exit(2);
    assert_eq!(run.stdout, "");
    run.assert_stderr_contains(&format!(
        "{}: resources[1] (AWS::ACM::Certificate), field `properties.keyAlgorithm`: \
         invalid jq expression `.KeyAlgorithm | ascii_downcase(`",
        mapping.display()
    ));
    assert_eq!(
        aws.connections(),
        0,
        "an AWS call was made:\n{}",
        run.stderr
    );
}

// ---------------------------------------------------------------- 3. validate

#[test]
fn validate_accepts_the_shipped_files() {
    let run = port_aws_sync(&["validate"], &[]);
    run.assert_exit(0);
    run.assert_stderr_contains("mapping/port-app-config.yml: 3 resource(s)");
    run.assert_stderr_contains(": OK");
}

#[test]
fn validate_names_a_mapped_property_the_blueprint_lacks() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let shipped = Path::new(MANIFEST_DIR).join("blueprints");
    for entry in std::fs::read_dir(&shipped).expect("shipped blueprints") {
        let path = entry.expect("blueprint entry").path();
        let mut blueprint: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read blueprint"))
                .expect("blueprint JSON");
        if blueprint["identifier"] == "acmCertificate" {
            let properties = blueprint["schema"]["properties"]
                .as_object_mut()
                .expect("properties");
            assert!(properties.remove("keyAlgorithm").is_some());
        }
        std::fs::write(
            dir.path().join(path.file_name().expect("file name")),
            blueprint.to_string(),
        )
        .expect("write blueprint copy");
    }
    let blueprints = dir.path().to_str().expect("UTF-8 path");

    let run = port_aws_sync(&["validate", "--blueprints", blueprints], &[]);

    run.assert_exit(2);
    run.assert_stderr_contains(
        "resources[1] (AWS::ACM::Certificate), field `properties.keyAlgorithm` (`.KeyAlgorithm`): \
         blueprint `acmCertificate`",
    );
    run.assert_stderr_contains("has no property `keyAlgorithm`");
}

#[test]
fn validate_names_the_file_and_line_of_a_yaml_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let broken = "          title: .DomainName: of\n";
    let mapping = fixtures::mapping_with(dir.path(), "          title: .DomainName\n", broken);
    let text = std::fs::read_to_string(&mapping).expect("mapping copy");
    let line = 1 + text
        .lines()
        .position(|l| l == broken.trim_end_matches('\n'))
        .expect("line");

    let run = port_aws_sync(
        &[
            "validate",
            "--mapping",
            mapping.to_str().expect("UTF-8 path"),
        ],
        &[],
    );

    run.assert_exit(2);
    run.assert_stderr_contains(&format!("error: {}", mapping.display()));
    let at_line = Regex::new(&format!(r"\bline {line}\b")).expect("valid regex");
    assert!(
        at_line.is_match(&run.stderr),
        "line {line}?\n{}",
        run.stderr
    );
}

#[test]
fn validate_names_a_missing_mapping_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("no-such-mapping.yml");

    let run = port_aws_sync(
        &[
            "validate",
            "--mapping",
            missing.to_str().expect("UTF-8 path"),
        ],
        &[],
    );

    run.assert_exit(2);
    run.assert_stderr_contains(&format!(
        "error: {}: cannot read the mapping file",
        missing.display()
    ));
}

// ---------------------------------------------------------------- 4. AWS set-up errors

#[test]
fn dry_run_rejects_an_unknown_region_before_any_aws_call() {
    let aws = Tripwire::new();

    let run = port_aws_sync(
        &["resync", "--dry-run"],
        &vars(&[
            ("AWS_ENDPOINT_URL", &aws.endpoint),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_REGIONS", "us-east-1,eu-wset-1"),
        ]),
    );

    run.assert_exit(2);
    assert_eq!(run.stdout, "");
    run.assert_stderr_contains("unknown AWS region \"eu-wset-1\"");
    assert_eq!(
        aws.connections(),
        0,
        "an AWS call was made:\n{}",
        run.stderr
    );
}

#[test]
fn dry_run_without_credentials_explains_where_they_come_from() {
    let aws = Tripwire::new();
    // Nothing answers there: the credential chain ends at once, without the network.
    let metadata_service = format!("http://127.0.0.1:{}", support::moto::free_port());

    let run = port_aws_sync(
        &["resync", "--dry-run"],
        &vars(&[
            ("AWS_ENDPOINT_URL", &aws.endpoint),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &metadata_service),
            ("AWS_REGIONS", "eu-west-1"),
        ]),
    );

    run.assert_exit(2);
    assert_eq!(run.stdout, "");
    run.assert_stderr_contains("error: no AWS credentials found");
    run.assert_stderr_contains("AWS_ACCESS_KEY_ID");
    run.assert_stderr_contains("AWS_PROFILE");
    assert_eq!(
        aws.connections(),
        0,
        "an AWS call was made:\n{}",
        run.stderr
    );
}

// ---------------------------------------------------------------- 5. a failing region

#[tokio::test]
async fn a_failing_region_is_named_and_the_good_region_still_printed() {
    let moto = Moto::start();
    let virginia = moto.sdk_config("us-east-1").await;
    let caller = caller_account_id(&virginia).await;
    let certificate = request_certificate(&virginia, "us-east-1", "good.example.com").await;
    let secret = create_secret(&virginia, "us-east-1", "good", None, &[], None).await;
    // A well-formed region name moto does not know: it answers HTTP 500 there, as a
    // region with an outage would fail.
    let bad_region = "ap-southwest-9";

    let run = port_aws_sync(
        &["resync", "--dry-run"],
        &moto_env(&moto, &format!("us-east-1,{bad_region}")),
    );

    run.assert_exit(1);
    for kind in [CERTIFICATE_KIND, SECRET_KIND] {
        run.assert_stderr_contains(&format!(
            "error: {kind} in account {caller}, region {bad_region}: "
        ));
    }
    let printed: BTreeSet<(String, String)> = run.entities().iter().map(sort_key).collect();
    assert_eq!(
        printed,
        BTreeSet::from([
            ("acmCertificate".to_owned(), certificate.arn.clone()),
            ("awsAccount".to_owned(), caller.clone()),
            ("awsSecret".to_owned(), secret.arn.clone()),
        ]),
        "{}",
        run.stderr
    );
    let failed_region = |count| Summary {
        failed_scopes: 1,
        ..Summary::ok(count, 1)
    };
    assert_eq!(
        summaries(&run.stderr),
        BTreeMap::from([
            (ACCOUNT_KIND.to_owned(), Summary::ok(1, 1)),
            (CERTIFICATE_KIND.to_owned(), failed_region(1)),
            (SECRET_KIND.to_owned(), failed_region(1)),
        ]),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------- 6. usage

#[test]
fn help_lists_the_commands() {
    let run = port_aws_sync(&["--help"], &[]);
    run.assert_exit(0);
    let commands: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(commands.contains(&"resync"), "{}", run.stdout);
    assert!(commands.contains(&"validate"), "{}", run.stdout);

    let run = port_aws_sync(&["resync", "--help"], &[]);
    run.assert_exit(0);
    assert!(run.stdout.contains("--dry-run"), "{}", run.stdout);
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let run = port_aws_sync(&["resync", "--dry-run", "--frobnicate"], &[]);
    run.assert_exit(2);
    assert_eq!(run.stdout, "");
    run.assert_stderr_contains("--frobnicate");
}
