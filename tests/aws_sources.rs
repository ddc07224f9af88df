//! The AWS sources against moto: the real AWS SDK over HTTP, no mocks.
//!
//! Every test starts its own moto server, seeds it through the SDK and reads it back
//! through `AwsSources`. The tests of `AwsSources::load` from the environment re-run
//! this test binary as a child process with a cleared environment, since environment
//! variables are shared by all the tests running in this process.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::process::Command;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_types::SdkConfig;
use futures::StreamExt;
use port_aws_sync::aws::{AwsSettings, AwsSetupError, AwsSources, Kind, Page, ScopeError};
use regex::Regex;
use serde_json::{Value, json};
use support::certs::KeySpec;
use support::moto::{ACCOUNT_ID, Moto};
use support::seed;

static RFC3339_UTC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$").expect("valid regex")
});

fn settings(regions: &[&str]) -> AwsSettings {
    AwsSettings {
        regions: Some(regions.iter().map(|r| (*r).to_owned()).collect()),
        ..AwsSettings::default()
    }
}

async fn sources(moto: &Moto, regions: &[&str]) -> AwsSources {
    AwsSources::load_with(moto.config_loader(regions[0]), &settings(regions))
        .await
        .expect("sources load against moto")
}

/// All pages and scope errors of one fetch, in arrival order.
async fn fetch_all(sources: &AwsSources, kind: Kind) -> (Vec<Page>, Vec<ScopeError>) {
    let results: Vec<_> = sources.fetch(kind).collect().await;
    let mut pages = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(page) => pages.push(page),
            Err(error) => errors.push(error),
        }
    }
    (pages, errors)
}

fn items(pages: &[Page]) -> Vec<&Value> {
    pages.iter().flat_map(|page| &page.items).collect()
}

fn text<'a>(item: &'a Value, field: &str) -> &'a str {
    item[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} should be a string in {item:#}"))
}

/// Every page's items carry the envelope of the page's scope.
fn assert_envelopes(pages: &[Page], kind: Kind) {
    for page in pages {
        assert_eq!(page.kind, kind);
        assert_eq!(page.account_id, ACCOUNT_ID);
        for item in &page.items {
            assert_eq!(item["__Kind"], kind.as_str(), "{item:#}");
            assert_eq!(item["__AccountId"], ACCOUNT_ID, "{item:#}");
            assert_eq!(item["__Region"], page.region.as_str(), "{item:#}");
            assert_eq!(
                item["__ExtraContext"],
                json!({"AccountId": ACCOUNT_ID, "Region": page.region}),
                "{item:#}"
            );
        }
    }
}

/// Absent fields are left out, never written as null.
fn assert_no_nulls(value: &Value) {
    match value {
        Value::Null => panic!("null found in raw item"),
        Value::Array(values) => values.iter().for_each(assert_no_nulls),
        Value::Object(map) => map.values().for_each(assert_no_nulls),
        _ => {}
    }
}

fn assert_rfc3339(item: &Value, field: &str) {
    let value = text(item, field);
    assert!(
        RFC3339_UTC.is_match(value),
        "{field} = {value:?} is not RFC 3339 UTC with T"
    );
}

// ---------------------------------------------------------------- accounts

#[tokio::test]
async fn accounts_lists_every_member_of_the_organization_across_pages() {
    let moto = Moto::start();
    // moto pages ListAccounts by 100: 104 members + the management account make 2 pages.
    let members: Vec<String> = seed::create_organization(
        &moto.sdk_config("us-east-1").await,
        &seed::member_names(104),
    )
    .await
    .into_iter()
    .map(|member| member.id)
    .collect();
    let sources = sources(&moto, &["eu-west-1", "us-east-1"]).await;

    let (pages, errors) = fetch_all(&sources, Kind::Account).await;

    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        pages.len() >= 2,
        "expected several pages, got {}",
        pages.len()
    );
    assert!(
        pages.iter().all(|page| page.region == "eu-west-1"),
        "accounts use the first region"
    );
    assert_envelopes(&pages, Kind::Account);
    let items = items(&pages);
    let ids: BTreeSet<&str> = items.iter().map(|item| text(item, "Id")).collect();
    assert_eq!(items.len(), members.len() + 1, "each account once");
    assert!(ids.contains(ACCOUNT_ID), "management account listed");
    for id in &members {
        assert!(ids.contains(id.as_str()), "member {id} missing");
    }
    let member = items
        .iter()
        .find(|item| item["Name"] == "member-7")
        .expect("member-7 listed");
    assert_eq!(member["Email"], "member-7@example.com");
    assert_eq!(member["Status"], "ACTIVE");
    assert_eq!(member["State"], "ACTIVE");
    assert_eq!(member["JoinedMethod"], "CREATED");
    assert!(text(member, "Arn").starts_with("arn:aws:organizations::"));
    assert_rfc3339(member, "JoinedTimestamp");
    items.iter().for_each(|item| assert_no_nulls(item));
}

#[tokio::test]
async fn accounts_fall_back_to_the_caller_account_without_an_organization() {
    let moto = Moto::start();
    let sources = sources(&moto, &["eu-central-1", "us-east-1"]).await;

    let (pages, errors) = fetch_all(&sources, Kind::Account).await;

    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        items(&pages),
        vec![&json!({
            "Id": ACCOUNT_ID,
            "Name": ACCOUNT_ID,
            "Arn": format!("arn:aws:iam::{ACCOUNT_ID}:root"),
            "__Kind": "AWS::Organizations::Account",
            "__AccountId": ACCOUNT_ID,
            "__Region": "eu-central-1",
            "__ExtraContext": {"AccountId": ACCOUNT_ID, "Region": "eu-central-1"}
        })]
    );
}

// ---------------------------------------------------------------- ACM

#[tokio::test]
async fn acm_lists_certificates_of_every_key_type_in_every_region() {
    let moto = Moto::start();
    let ireland = aws_sdk_acm::Client::new(&moto.sdk_config("eu-west-1").await);
    let virginia = aws_sdk_acm::Client::new(&moto.sdk_config("us-east-1").await);
    let ec = seed::import_certificate(&ireland, KeySpec::EcP256, "ec.example.com").await;
    let rsa4096 = seed::import_certificate(&ireland, KeySpec::Rsa(4096), "big.example.com").await;
    let rsa2048 =
        seed::import_certificate(&virginia, KeySpec::Rsa(2048), "plain.example.com").await;
    let requested = virginia
        .request_certificate()
        .domain_name("requested.example.com")
        .subject_alternative_names("www.requested.example.com")
        .send()
        .await
        .expect("request certificate")
        .certificate_arn
        .expect("requested certificate ARN");
    let sources = sources(&moto, &["eu-west-1", "us-east-1"]).await;

    let (pages, errors) = fetch_all(&sources, Kind::AcmCertificate).await;

    assert!(errors.is_empty(), "{errors:?}");
    assert_envelopes(&pages, Kind::AcmCertificate);
    let by_arn: BTreeMap<&str, &Value> = items(&pages)
        .into_iter()
        .map(|item| (text(item, "CertificateArn"), item))
        .collect();
    assert_eq!(by_arn.len(), 4, "{by_arn:#?}");
    let key_algorithm = |arn: &str| by_arn[arn]["KeyAlgorithm"].clone();
    assert_eq!(key_algorithm(&ec), "EC_prime256v1");
    assert_eq!(key_algorithm(&rsa4096), "RSA_4096");
    assert_eq!(key_algorithm(&rsa2048), "RSA_2048");
    assert_eq!(by_arn[ec.as_str()]["__Region"], "eu-west-1");
    assert_eq!(by_arn[requested.as_str()]["__Region"], "us-east-1");

    let imported = by_arn[ec.as_str()];
    assert_eq!(imported["DomainName"], "ec.example.com");
    assert_eq!(imported["Type"], "IMPORTED");
    assert_eq!(imported["Status"], "ISSUED");
    assert_eq!(imported["InUse"], false);
    for field in ["NotBefore", "NotAfter", "ImportedAt"] {
        assert_rfc3339(imported, field);
    }
    let amazon_issued = by_arn[requested.as_str()];
    assert_eq!(amazon_issued["Type"], "AMAZON_ISSUED");
    assert_eq!(amazon_issued["DomainName"], "requested.example.com");
    // Listed although not issued: every certificate status is asked for.
    assert_eq!(amazon_issued["Status"], "PENDING_VALIDATION");
    assert_rfc3339(amazon_issued, "CreatedAt");
    by_arn.values().for_each(|item| assert_no_nulls(item));
}

// ---------------------------------------------------------------- secrets

const SECRET_VALUE_MARKER: &str = "do-not-leak";

async fn create_secret(client: &aws_sdk_secretsmanager::Client, name: &str, tags: &[(&str, &str)]) {
    let value = format!("{SECRET_VALUE_MARKER}-{name}");
    seed::secret(client, name, &value, tags)
        .description(format!("the {name} secret"))
        .send()
        .await
        .expect("create secret");
}

#[tokio::test]
async fn secrets_lists_metadata_with_tags_in_every_region_and_never_values() {
    let moto = Moto::start();
    let ireland = aws_sdk_secretsmanager::Client::new(&moto.sdk_config("eu-west-1").await);
    let frankfurt = aws_sdk_secretsmanager::Client::new(&moto.sdk_config("eu-central-1").await);
    create_secret(
        &ireland,
        "db-password",
        &[("team", "payments"), ("env", "prod")],
    )
    .await;
    create_secret(&ireland, "api-key", &[("team", "search")]).await;
    create_secret(&ireland, "untagged", &[]).await;
    create_secret(&frankfurt, "eu-db-password", &[("team", "payments")]).await;
    create_secret(&frankfurt, "eu-api-key", &[]).await;
    let sources = sources(&moto, &["eu-west-1", "eu-central-1"]).await;

    let (pages, errors) = fetch_all(&sources, Kind::Secret).await;

    assert!(errors.is_empty(), "{errors:?}");
    assert_envelopes(&pages, Kind::Secret);
    let names_in = |region: &str| -> BTreeSet<String> {
        items(&pages)
            .into_iter()
            .filter(|item| item["__Region"] == region)
            .map(|item| text(item, "Name").to_owned())
            .collect()
    };
    assert_eq!(
        names_in("eu-west-1"),
        BTreeSet::from(["api-key", "db-password", "untagged"].map(String::from))
    );
    assert_eq!(
        names_in("eu-central-1"),
        BTreeSet::from(["eu-api-key", "eu-db-password"].map(String::from))
    );

    let all = items(&pages);
    let secret = all
        .iter()
        .find(|item| item["Name"] == "db-password")
        .expect("db-password");
    assert_eq!(
        secret["Tags"],
        json!([{"Key": "team", "Value": "payments"}, {"Key": "env", "Value": "prod"}])
    );
    assert_eq!(secret["Description"], "the db-password secret");
    assert!(
        text(secret, "ARN")
            .starts_with("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-password")
    );
    assert_rfc3339(secret, "CreatedDate");
    assert_rfc3339(secret, "LastChangedDate");
    let versions = secret["SecretVersionsToStages"]
        .as_object()
        .expect("versions object");
    assert_eq!(versions.len(), 1);
    assert_eq!(versions.values().next(), Some(&json!(["AWSCURRENT"])));
    all.iter().for_each(|item| assert_no_nulls(item));

    let serialized = serde_json::to_string(&all).expect("items serialize");
    assert!(
        !serialized.contains(SECRET_VALUE_MARKER),
        "a secret value leaked: {serialized}"
    );
    assert!(!serialized.contains("SecretString"), "{serialized}");
}

#[tokio::test]
async fn secrets_arrive_completely_across_pages() {
    let moto = Moto::start();
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config("eu-west-1").await);
    for n in 0..130 {
        create_secret(&client, &format!("secret-{n:03}"), &[]).await;
    }
    let sources = sources(&moto, &["eu-west-1"]).await;

    let (pages, errors) = fetch_all(&sources, Kind::Secret).await;

    assert!(errors.is_empty(), "{errors:?}");
    let sizes: Vec<usize> = pages.iter().map(|page| page.items.len()).collect();
    assert_eq!(sizes, [100, 30], "pages of at most 100");
    let names: BTreeSet<&str> = items(&pages)
        .iter()
        .map(|item| text(item, "Name"))
        .collect();
    let expected: BTreeSet<String> = (0..130).map(|n| format!("secret-{n:03}")).collect();
    assert_eq!(names, expected.iter().map(String::as_str).collect());
}

// ---------------------------------------------------------------- failures

#[tokio::test]
async fn a_failing_region_is_reported_while_the_other_regions_succeed() {
    let moto = Moto::start();
    create_secret(
        &aws_sdk_secretsmanager::Client::new(&moto.sdk_config("eu-west-1").await),
        "ireland",
        &[],
    )
    .await;
    create_secret(
        &aws_sdk_secretsmanager::Client::new(&moto.sdk_config("us-east-1").await),
        "virginia",
        &[],
    )
    .await;
    // A well-formed region name moto does not know: it answers HTTP 500 there, as a
    // region with an outage (or not enabled for the account) would fail.
    let regions = ["eu-west-1", "ap-southwest-9", "us-east-1"];
    let loader = moto
        .config_loader("eu-west-1")
        .retry_config(RetryConfig::standard().with_max_attempts(1));
    let sources = AwsSources::load_with(loader, &settings(&regions))
        .await
        .expect("load");

    let (pages, errors) = fetch_all(&sources, Kind::Secret).await;

    let names: BTreeSet<&str> = items(&pages)
        .iter()
        .map(|item| text(item, "Name"))
        .collect();
    assert_eq!(names, BTreeSet::from(["ireland", "virginia"]));
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0];
    assert_eq!(error.kind, Kind::Secret);
    assert_eq!(error.account_id, ACCOUNT_ID);
    assert_eq!(error.region.as_deref(), Some("ap-southwest-9"));
    assert!(
        error.message.contains("ListSecrets") && error.message.contains("500"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("AWS::SecretsManager::Secret in account 123456789012, region ap-southwest-9: ListSecrets"),
        "{error}"
    );
}

#[tokio::test]
async fn every_scope_fails_when_the_caller_account_cannot_be_resolved() {
    // Nothing listens on this port: STS GetCallerIdentity, the first call, fails.
    let endpoint = format!("http://127.0.0.1:{}", support::moto::free_port());
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .empty_test_environment()
        .endpoint_url(endpoint)
        .credentials_provider(support::moto::credentials())
        .retry_config(RetryConfig::standard().with_max_attempts(1));
    let sources = AwsSources::load_with(loader, &settings(&["eu-west-1", "us-east-1"]))
        .await
        .expect("load calls no AWS API, so it succeeds");

    for (kind, regions) in [
        (
            Kind::AcmCertificate,
            vec![Some("eu-west-1"), Some("us-east-1")],
        ),
        (Kind::Secret, vec![Some("eu-west-1"), Some("us-east-1")]),
        (Kind::Account, vec![None]),
    ] {
        let (pages, errors) = fetch_all(&sources, kind).await;
        assert!(pages.is_empty(), "{pages:?}");
        let failed: Vec<Option<&str>> = errors.iter().map(|e| e.region.as_deref()).collect();
        assert_eq!(failed, regions, "{errors:?}");
        for error in &errors {
            assert_eq!(error.kind, kind);
            assert!(error.message.contains("GetCallerIdentity"), "{error}");
        }
    }
}

// ---------------------------------------------------------------- load

#[tokio::test]
async fn load_rejects_misspelled_regions_before_any_call() {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .empty_test_environment()
        .credentials_provider(support::moto::credentials());
    let error = AwsSources::load_with(loader, &settings(&["eu-west-1", "us-easy-1"]))
        .await
        .expect_err("us-easy-1 is not a region");
    assert!(
        matches!(&error, AwsSetupError::UnknownRegion { name } if name == "us-easy-1"),
        "{error}"
    );
    assert!(error.to_string().contains("us-easy-1"), "{error}");
}

#[tokio::test]
async fn load_without_any_region_fails() {
    let config = SdkConfig::builder()
        .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
            support::moto::credentials(),
        ))
        .build();
    let error = AwsSources::from_sdk_config(config, &AwsSettings::default())
        .await
        .expect_err("no region anywhere");
    assert!(matches!(error, AwsSetupError::NoRegion), "{error}");
}

#[tokio::test]
async fn load_uses_the_configured_region_when_no_regions_are_listed() {
    let moto = Moto::start();
    let sources =
        AwsSources::load_with(moto.config_loader("ca-central-1"), &AwsSettings::default())
            .await
            .expect("load");
    assert_eq!(sources.regions(), ["ca-central-1"]);
}

/// Selects what the child process does; unset in a normal test run.
const CHILD_MODE_VAR: &str = "AWS_SOURCES_TEST_CHILD";
const CHILD_RESULT_PREFIX: &str = "CHILD-RESULT ";

/// Runs `child_process_entry` in a fresh process whose environment holds only `env`
/// (plus a HOME without AWS files), and returns the JSON it printed.
fn run_child(mode: &str, env: &[(String, String)]) -> Value {
    let home = tempfile::tempdir().expect("temporary HOME");
    let output = Command::new(std::env::current_exe().expect("test binary path"))
        .args([
            "child_process_entry",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env(CHILD_MODE_VAR, mode)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .output()
        .expect("run the test binary as a child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|line| {
            line.split_once(CHILD_RESULT_PREFIX)
                .map(|(_, result)| result)
        })
        .unwrap_or_else(|| panic!("child printed no result: {stdout}"));
    serde_json::from_str(line).expect("child result is JSON")
}

/// The child side of the environment tests: `AwsSources::load` exactly as the CLI
/// calls it, configured by nothing but environment variables.
#[tokio::test]
#[ignore = "entry point of the child process started by the load-from-environment tests"]
async fn child_process_entry() {
    let Ok(mode) = std::env::var(CHILD_MODE_VAR) else {
        eprintln!("{CHILD_MODE_VAR} unset: not started as a child, nothing to do");
        return;
    };
    let started = Instant::now();
    let loaded = match AwsSettings::from_env() {
        Ok(settings) => AwsSources::load(&settings).await,
        Err(error) => Err(error),
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let result = match (mode.as_str(), loaded) {
        ("load", Err(error)) => json!({"error": error.to_string(), "elapsed_ms": elapsed_ms}),
        ("load", Ok(sources)) => json!({"regions": sources.regions(), "elapsed_ms": elapsed_ms}),
        ("fetch-secrets", Ok(sources)) => {
            let (pages, errors) = fetch_all(&sources, Kind::Secret).await;
            json!({
                "regions": sources.regions(),
                "names": items(&pages).iter().map(|item| text(item, "Name")).collect::<Vec<_>>(),
                "errors": errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        }
        (mode, loaded) => panic!("unexpected child mode {mode} / {:?}", loaded.err()),
    };
    println!("{CHILD_RESULT_PREFIX}{result}");
}

#[test]
fn load_without_credentials_fails_fast_with_a_helpful_message() {
    // An instance metadata service that accepts connections and never answers: the
    // worst case off EC2, where the credential chain ends.
    let silent_imds = TcpListener::bind("127.0.0.1:0").expect("bind");
    let imds_endpoint = format!("http://{}", silent_imds.local_addr().expect("address"));
    let started = Instant::now();

    let result = run_child(
        "load",
        &[
            ("AWS_REGION".to_owned(), "eu-west-1".to_owned()),
            (
                "AWS_EC2_METADATA_SERVICE_ENDPOINT".to_owned(),
                imds_endpoint,
            ),
        ],
    );

    let error = result["error"]
        .as_str()
        .unwrap_or_else(|| panic!("load should fail: {result}"));
    assert!(error.starts_with("no AWS credentials found"), "{error}");
    assert!(
        error.contains("AWS_ACCESS_KEY_ID") && error.contains("AWS_PROFILE"),
        "{error}"
    );
    let bound = port_aws_sync::aws::CREDENTIALS_CHECK_TIMEOUT + Duration::from_secs(2);
    let took = Duration::from_millis(result["elapsed_ms"].as_u64().expect("elapsed_ms"));
    assert!(took <= bound, "load took {took:?}");
    assert!(
        started.elapsed() < bound + Duration::from_secs(10),
        "child took {:?}",
        started.elapsed()
    );
}

#[test]
fn load_from_an_empty_environment_reports_no_region_quickly() {
    let silent_imds = TcpListener::bind("127.0.0.1:0").expect("bind");
    let imds_endpoint = format!("http://{}", silent_imds.local_addr().expect("address"));

    let result = run_child(
        "load",
        &[(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT".to_owned(),
            imds_endpoint,
        )],
    );

    let error = result["error"]
        .as_str()
        .unwrap_or_else(|| panic!("load should fail: {result}"));
    assert!(error.starts_with("no AWS region configured"), "{error}");
    let took = Duration::from_millis(result["elapsed_ms"].as_u64().expect("elapsed_ms"));
    assert!(
        took <= port_aws_sync::aws::CREDENTIALS_CHECK_TIMEOUT,
        "load took {took:?}"
    );
}

#[test]
fn load_reads_regions_credentials_and_endpoint_from_the_environment() {
    let moto = Moto::start();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config("us-east-1").await);
        create_secret(&client, "from-env", &[]).await;
    });
    let mut env = moto.env("eu-west-1");
    env.push((
        "AWS_REGIONS".to_owned(),
        " eu-west-1, us-east-1 ,eu-west-1".to_owned(),
    ));

    let result = run_child("fetch-secrets", &env);

    assert_eq!(result["regions"], json!(["eu-west-1", "us-east-1"]));
    assert_eq!(result["names"], json!(["from-env"]));
    assert_eq!(result["errors"], json!([]));
}

#[test]
fn load_from_the_environment_rejects_a_misspelled_aws_region() {
    let result = run_child(
        "load",
        &[
            ("AWS_REGION".to_owned(), "eu-west".to_owned()),
            ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
        ],
    );
    let error = result["error"]
        .as_str()
        .unwrap_or_else(|| panic!("load should fail: {result}"));
    assert!(
        error.starts_with("unknown AWS region \"eu-west\""),
        "{error}"
    );
}
