//! The mapping authoring loop through the real binary: capture raw items with
//! `resync --dry-run --dump-raw` (against moto), then replay them offline with `map`.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::certs::KeySpec;
use support::fixtures;
use support::moto::Moto;
use support::seed;

const BIN: &str = env!("CARGO_BIN_EXE_port-aws-sync");
const REGION: &str = "eu-west-1";

/// Every kind of the shipped mapping, its dump file and the blueprint its entities go to.
const KINDS: [(&str, &str, &str); 3] = [
    (
        "AWS::Organizations::Account",
        "AWS_Organizations_Account.ndjson",
        "awsAccount",
    ),
    (
        "AWS::ACM::Certificate",
        "AWS_ACM_Certificate.ndjson",
        "acmCertificate",
    ),
    (
        "AWS::SecretsManager::Secret",
        "AWS_SecretsManager_Secret.ndjson",
        "awsSecret",
    ),
];

fn crate_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The binary with an empty environment (no AWS settings at all) and the shipped files.
fn port_aws_sync(home: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // A HOME without ~/.aws: no profile of the machine can leak in.
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(home)
        // The shipped files; a test's own `--mapping` or `--blueprints` flag overrides them.
        .env("MAPPING_FILE", crate_path("mapping/port-app-config.yml"))
        .env("BLUEPRINTS_DIR", crate_path("blueprints"));
    command
}

fn run(command: &mut Command, stdin: Option<&str>) -> Output {
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run port-aws-sync");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("port-aws-sync finishes")
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8(output.stdout.clone())
        .expect("UTF-8 stdout")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

fn blueprint(line: &str) -> String {
    let entity: Value = serde_json::from_str(line).expect("entity line is JSON");
    entity["blueprint"]
        .as_str()
        .expect("blueprint is a string")
        .to_owned()
}

/// A few certificates and secrets in one region; accounts fall back to moto's own account.
async fn seed(moto: &Moto) {
    let config = moto.sdk_config(REGION).await;
    let acm = aws_sdk_acm::Client::new(&config);
    for (key, domain) in [
        (KeySpec::EcP256, "ec.example.com"),
        (KeySpec::Rsa(2048), "rsa.example.com"),
    ] {
        seed::import_certificate(&acm, key, domain).await;
    }
    seed::request_certificate(&acm, "requested.example.com").await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    for (name, tags) in [
        ("db-password", vec![("team", "payments")]),
        ("api-key", vec![]),
        ("rotated", vec![("env", "prod"), ("team", "core")]),
    ] {
        seed::secret(&secrets, name, "never-read", &tags)
            .description(format!("the {name} secret"))
            .send()
            .await
            .expect("create secret");
    }
}

fn resync(moto: &Moto, home: &Path, args: &[&str]) -> Output {
    let mut command = port_aws_sync(home);
    command
        .envs(moto.env(REGION))
        .args(["resync", "--dry-run"])
        .args(args);
    run(&mut command, None)
}

fn map(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = port_aws_sync(home);
    command.arg("map").args(args);
    run(&mut command, stdin)
}

fn dumped_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dump directory exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn dump_raw_then_map_reproduces_exactly_the_dry_run_entities_of_every_kind() {
    let moto = Moto::start();
    seed(&moto).await;
    let home = tempfile::tempdir().unwrap();
    let dump = home.path().join("captured/raw");

    let dry_run = resync(&moto, home.path(), &["--dump-raw", dump.to_str().unwrap()]);

    assert_eq!(code(&dry_run), 0, "{}", stderr(&dry_run));
    let entities = stdout_lines(&dry_run);
    let mut expected_names: Vec<String> = KINDS.iter().map(|(_, f, _)| f.to_string()).collect();
    expected_names.sort();
    assert_eq!(dumped_files(&dump), expected_names);
    let counts = [("awsAccount", 1), ("acmCertificate", 3), ("awsSecret", 3)];
    for (blueprint_id, count) in counts {
        let produced = entities
            .iter()
            .filter(|l| blueprint(l) == blueprint_id)
            .count();
        assert_eq!(produced, count, "{blueprint_id}: {entities:#?}");
    }

    for (kind, file, blueprint_id) in KINDS {
        let path = dump.join(file);
        let raw = std::fs::read_to_string(&path).unwrap();
        for line in raw.lines() {
            let item: Value = serde_json::from_str(line).expect("one raw item per line");
            assert_eq!(item["__Kind"], kind, "{line}");
            assert_eq!(item["__Region"], REGION, "{line}");
            assert!(item["__ExtraContext"].is_object(), "{line}");
        }

        let replay = map(
            home.path(),
            &["--kind", kind, "--input", path.to_str().unwrap()],
            None,
        );

        assert_eq!(code(&replay), 0, "{kind}: {}", stderr(&replay));
        let of_kind: Vec<String> = entities
            .iter()
            .filter(|l| blueprint(l) == blueprint_id)
            .cloned()
            .collect();
        assert_eq!(
            sorted(stdout_lines(&replay)),
            sorted(of_kind.clone()),
            "{kind}"
        );
        let n = of_kind.len();
        assert!(
            stderr(&replay).contains(&format!(
                "map {kind}: {n} items, {n} entities, 0 filtered out, 0 skipped \
                 (no identifier or blueprint), 0 failed, 0 bad line(s)"
            )),
            "{}",
            stderr(&replay)
        );
    }
}

#[tokio::test]
async fn kind_limits_what_the_dry_run_fetches_prints_and_dumps() {
    let moto = Moto::start();
    seed(&moto).await;
    let home = tempfile::tempdir().unwrap();
    let dump = home.path().join("acm-only");

    let only_acm = resync(
        &moto,
        home.path(),
        &[
            "--kind",
            "AWS::ACM::Certificate",
            "--dump-raw",
            dump.to_str().unwrap(),
        ],
    );

    assert_eq!(code(&only_acm), 0, "{}", stderr(&only_acm));
    let entities = stdout_lines(&only_acm);
    assert_eq!(entities.len(), 3, "{entities:#?}");
    assert!(entities.iter().all(|l| blueprint(l) == "acmCertificate"));
    assert_eq!(dumped_files(&dump), ["AWS_ACM_Certificate.ndjson"]);
    let summary = stderr(&only_acm);
    assert!(
        summary.contains("AWS::ACM::Certificate: 3 items fetched"),
        "{summary}"
    );
    assert!(
        !summary.contains("AWS::SecretsManager::Secret:"),
        "{summary}"
    );
    assert!(
        !summary.contains("AWS::Organizations::Account:"),
        "{summary}"
    );

    let two = resync(
        &moto,
        home.path(),
        &[
            "--kind",
            "AWS::SecretsManager::Secret",
            "--kind",
            "AWS::Organizations::Account",
        ],
    );

    assert_eq!(code(&two), 0, "{}", stderr(&two));
    let mut blueprints: Vec<String> = stdout_lines(&two).iter().map(|l| blueprint(l)).collect();
    blueprints.sort();
    assert_eq!(
        blueprints,
        ["awsAccount", "awsSecret", "awsSecret", "awsSecret"]
    );
    assert!(
        !stderr(&two).contains("AWS::ACM::Certificate:"),
        "{}",
        stderr(&two)
    );
}

#[test]
fn an_unknown_or_unmapped_kind_stops_the_dry_run_with_exit_2_before_any_aws_access() {
    let home = tempfile::tempdir().unwrap();
    // No AWS environment at all: the kind is checked first.
    let unknown = run(
        port_aws_sync(home.path()).args(["resync", "--dry-run", "--kind", "AWS::S3::Bucket"]),
        None,
    );
    assert_eq!(code(&unknown), 2, "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains(
            "--kind AWS::S3::Bucket: not a kind port-aws-sync fetches; valid kinds: \
             AWS::Organizations::Account, AWS::ACM::Certificate, AWS::SecretsManager::Secret"
        ),
        "{}",
        stderr(&unknown)
    );
    assert!(unknown.stdout.is_empty());

    let only_acm = fixtures::copy_into(home.path(), "acm-only.yml");
    let unmapped = run(
        port_aws_sync(home.path())
            .arg("--mapping")
            .arg(&only_acm)
            .args([
                "resync",
                "--dry-run",
                "--kind",
                "AWS::ACM::Certificate",
                "--kind",
                "AWS::SecretsManager::Secret",
            ]),
        None,
    );
    assert_eq!(code(&unmapped), 2, "{}", stderr(&unmapped));
    assert!(
        stderr(&unmapped).contains(&format!(
            "--kind AWS::SecretsManager::Secret: {} does not map this kind; valid kinds: \
             AWS::ACM::Certificate",
            only_acm.display()
        )),
        "{}",
        stderr(&unmapped)
    );
}

#[test]
fn a_dump_directory_that_cannot_be_created_is_a_clear_configuration_error() {
    let home = tempfile::tempdir().unwrap();
    let blocker = home.path().join("a-file");
    std::fs::write(&blocker, "in the way").unwrap();
    let target = blocker.join("raw");
    let output = run(
        port_aws_sync(home.path())
            // Credentials and region resolve from these without any call; nothing listens there.
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION)
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .args(["resync", "--dry-run", "--dump-raw"])
            .arg(&target),
        None,
    );
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!(
            "error: --dump-raw: cannot write raw items to {}",
            target.display()
        )),
        "{}",
        stderr(&output)
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn dump_raw_and_kind_need_dry_run() {
    let home = tempfile::tempdir().unwrap();
    let output = run(
        port_aws_sync(home.path()).args(["resync", "--dump-raw", "raw"]),
        None,
    );
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("--dry-run"), "{}", stderr(&output));
}

// ---------------------------------------------------------------- map on its own

const KIND: &str = "AWS::SecretsManager::Secret";

fn secret(arn: &str, name: &str) -> String {
    serde_json::json!({"ARN": arn, "Name": name, "__Kind": KIND}).to_string()
}

fn entity(arn: &str, name: &str, generation: u64) -> String {
    format!(
        r#"{{"identifier":"{arn}","blueprint":"awsSecret","title":"{name}","properties":{{"generation":{generation}}},"relations":{{}}}}"#
    )
}

/// `map` with the numbered mapping and a blueprints directory that does not exist.
fn map_numbered(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mapping = fixtures::copy_into(home, "numbered.yml");
    let mut command = port_aws_sync(home);
    command
        .arg("--mapping")
        .arg(&mapping)
        .args(["--blueprints", "no-such-dir", "map", "--kind", KIND])
        .args(args);
    run(&mut command, stdin)
}

#[test]
fn map_names_the_line_and_expression_of_an_item_failure_and_maps_the_other_lines() {
    let home = tempfile::tempdir().unwrap();
    let input = home.path().join("secrets.ndjson");
    // An identifier that is not a string fails the item (a failing property would not).
    let bad = serde_json::json!({"ARN": ["arn:x"], "Name": "2", "__Kind": KIND}).to_string();
    std::fs::write(
        &input,
        [secret("arn:1", "1"), bad, secret("arn:3", "3")].join("\n"),
    )
    .unwrap();

    let output = map_numbered(home.path(), &["--input", input.to_str().unwrap()], None);

    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_eq!(
        stdout_lines(&output),
        [entity("arn:1", "1", 1), entity("arn:3", "3", 3)]
    );
    let errors = stderr(&output);
    let error_line = errors
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {errors}"));
    assert_eq!(
        error_line,
        format!(
            "error: {} line 2: resources[0] (AWS::SecretsManager::Secret), field \
             `identifier`, expression `.ARN`: expected a string, got [\"arn:x\"]",
            input.display()
        ),
        "{errors}"
    );
    assert!(
        errors.ends_with(&format!(
            "map {KIND}: 3 items, 2 entities, 0 filtered out, 0 skipped \
             (no identifier or blueprint), 1 failed, 0 bad line(s)\n"
        )),
        "{errors}"
    );
}

#[test]
fn map_writes_a_failing_property_as_null_and_reports_the_field_once() {
    let home = tempfile::tempdir().unwrap();
    let input = home.path().join("secrets.ndjson");
    std::fs::write(
        &input,
        [
            secret("arn:1", "1"),
            secret("arn:x", "not-a-number"),
            secret("arn:y", "nor-this"),
        ]
        .join("\n"),
    )
    .unwrap();

    let output = map_numbered(home.path(), &["--input", input.to_str().unwrap()], None);

    // As in Ocean: the entity is written with the field null; the run is not a failure.
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let null_generation = |arn: &str, name: &str| {
        format!(
            r#"{{"identifier":"{arn}","blueprint":"awsSecret","title":"{name}","properties":{{"generation":null}},"relations":{{}}}}"#
        )
    };
    assert_eq!(
        stdout_lines(&output),
        [
            entity("arn:1", "1", 1),
            null_generation("arn:x", "not-a-number"),
            null_generation("arn:y", "nor-this"),
        ]
    );
    let errors = stderr(&output);
    let warnings: Vec<&str> = errors
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{errors}");
    assert!(
        warnings[0].starts_with(&format!(
            "warning: {}: resources[0] (AWS::SecretsManager::Secret), field \
             `properties.generation`, expression `.Name | tonumber`: ",
            input.display()
        )),
        "{errors}"
    );
    assert!(
        warnings[0].ends_with("(on 2 item(s), e.g. entity arn:x; written as null)"),
        "{errors}"
    );
    assert!(!errors.contains("error:"), "{errors}");
    assert!(
        errors.ends_with(&format!(
            "map {KIND}: 3 items, 3 entities, 0 filtered out, 0 skipped \
             (no identifier or blueprint), 0 failed, 0 bad line(s)\n"
        )),
        "{errors}"
    );
}

#[test]
fn map_skips_a_line_that_is_not_json_reports_it_and_goes_on() {
    let home = tempfile::tempdir().unwrap();
    let input = format!(
        "{}\n\n{{\"ARN\": \"arn:broken\",\n  \n{}\n",
        secret("arn:1", "1"),
        secret("arn:2", "2")
    );

    let output = map_numbered(home.path(), &["--input", "-"], Some(&input));

    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_eq!(
        stdout_lines(&output),
        [entity("arn:1", "1", 1), entity("arn:2", "2", 2)]
    );
    let errors = stderr(&output);
    assert!(
        errors.contains(
            "error: stdin line 3: not a JSON value, line skipped: EOF while parsing a value \
             at column 21"
        ),
        "{errors}"
    );
    assert!(
        errors.contains("2 items, 2 entities, 0 filtered out, 0 skipped (no identifier or blueprint), 0 failed, 1 bad line(s)"),
        "{errors}"
    );
}

#[test]
fn map_reads_stdin_by_default_and_counts_filtered_items_without_printing_them() {
    let home = tempfile::tempdir().unwrap();
    let input = [
        secret("arn:1", "1"),
        secret("arn:skip", "skip-me"),
        secret("arn:2", "2"),
    ]
    .join("\n");

    let output = map_numbered(home.path(), &[], Some(&input));

    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        stdout_lines(&output),
        [entity("arn:1", "1", 1), entity("arn:2", "2", 2)]
    );
    let errors = stderr(&output);
    assert!(!errors.contains("error"), "{errors}");
    assert!(
        errors.contains(&format!(
            "map {KIND}: 3 items, 2 entities, 1 filtered out, 0 skipped \
             (no identifier or blueprint), 0 failed, 0 bad line(s)"
        )),
        "{errors}"
    );
}

#[test]
fn map_with_a_kind_the_mapping_does_not_map_lists_its_kinds_and_exits_2() {
    let home = tempfile::tempdir().unwrap();
    let mapping = fixtures::copy_into(home.path(), "numbered.yml");

    let output = run(
        port_aws_sync(home.path())
            .arg("--mapping")
            .arg(&mapping)
            .args(["map", "--kind", "AWS::ACM::Certificate"]),
        Some(&secret("arn:1", "1")),
    );

    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    assert!(
        stderr(&output).contains(&format!(
            "error: --kind AWS::ACM::Certificate: {} has no resource for this kind; it maps \
             AWS::SecretsManager::Secret, Custom::Other",
            mapping.display()
        )),
        "{}",
        stderr(&output)
    );
}

#[test]
fn map_configuration_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let broken = home.path().join("broken.yml");
    std::fs::write(
        &broken,
        fixtures::read("numbered.yml").replace(".Name | tonumber", ".Name | tonumber("),
    )
    .unwrap();
    let bad_mapping = run(
        port_aws_sync(home.path())
            .arg("--mapping")
            .arg(&broken)
            .args(["map", "--kind", KIND]),
        Some(""),
    );
    assert_eq!(code(&bad_mapping), 2, "{}", stderr(&bad_mapping));
    assert!(
        stderr(&bad_mapping)
            .contains("field `properties.generation`: invalid jq expression `.Name | tonumber(`"),
        "{}",
        stderr(&bad_mapping)
    );

    let missing_input = map_numbered(home.path(), &["--input", "nowhere.ndjson"], None);
    assert_eq!(code(&missing_input), 2, "{}", stderr(&missing_input));
    assert!(
        stderr(&missing_input).contains("error: --input nowhere.ndjson: "),
        "{}",
        stderr(&missing_input)
    );
}

#[test]
fn map_prints_the_shipped_mapping_entities_in_the_dry_run_serialization() {
    // A raw item as the dump writes it, and the entity as `resync --dry-run` prints it.
    let home = tempfile::tempdir().unwrap();
    let item = r#"{"CertificateArn":"arn:aws:acm:eu-west-1:123456789012:certificate/abc","DomainName":"a.example.com","Status":"ISSUED","Type":"IMPORTED","KeyAlgorithm":"EC_prime256v1","InUse":false,"RenewalEligibility":"INELIGIBLE","NotAfter":"2026-01-01T00:00:00Z","CreatedAt":"2025-01-01T00:00:00Z","__Kind":"AWS::ACM::Certificate","__AccountId":"123456789012","__Region":"eu-west-1","__ExtraContext":{"AccountId":"123456789012","Region":"eu-west-1"}}"#;

    let output = map(
        home.path(),
        &["--kind", "AWS::ACM::Certificate"],
        Some(item),
    );

    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        stdout_lines(&output),
        [
            r#"{"identifier":"arn:aws:acm:eu-west-1:123456789012:certificate/abc","blueprint":"acmCertificate","title":"a.example.com","properties":{"status":"ISSUED","type":"IMPORTED","arn":"arn:aws:acm:eu-west-1:123456789012:certificate/abc","renewalEligibility":"INELIGIBLE","keyAlgorithm":"EC_prime256v1","inUse":false,"createdAt":"2025-01-01T00:00:00Z","expirationDate":"2026-01-01T00:00:00Z"},"relations":{"account":"123456789012"}}"#
        ]
    );
}

/// A mapping with a search-query relation and identifier, as Port's docs write them.
const SEARCH_QUERIES: &str = r#"
resources:
  - kind: AWS::SecretsManager::Secret
    port:
      entity:
        mappings:
          identifier: .ARN
          blueprint: '"awsSecret"'
          relations:
            account:
              combinator: '"and"'
              rules:
                - {property: '"email"', operator: '"="', value: "'owner-' + .__AccountId + '@example.com'"}
  - kind: AWS::SecretsManager::Secret
    port:
      entity:
        mappings:
          identifier: {combinator: '"and"', rules: [{property: '"$identifier"', operator: '"="', value: .__AccountId}]}
          blueprint: '"awsAccount"'
          relations:
            account: {combinator: '"and"', rules: [{property: '"email"', operator: '"="', value: .Owner}]}
"#;

#[test]
fn validate_and_map_take_search_queries_as_resync_sends_them() {
    let home = tempfile::tempdir().unwrap();
    let mapping = home.path().join("search.yml");
    std::fs::write(&mapping, SEARCH_QUERIES).unwrap();
    let mapping = mapping.to_str().unwrap();

    // The relation of the second resource is not in the awsAccount blueprint: named by its
    // place and its query's expressions.
    let validate = run(
        port_aws_sync(home.path()).args(["--mapping", mapping, "validate"]),
        None,
    );
    assert_eq!(code(&validate), 2, "{}", stderr(&validate));
    assert!(
        stderr(&validate).contains(
            "resources[1] (AWS::SecretsManager::Secret), field `relations.account` \
             (`search query [\"and\", \"email\", \"=\", .Owner]`): blueprint `awsAccount`"
        ),
        "{}",
        stderr(&validate)
    );

    let fixed = SEARCH_QUERIES.replace(
        "          relations:\n            account: {combinator: '\"and\"', rules: [{property: '\"email\"', operator: '\"=\"', value: .Owner}]}\n",
        "",
    );
    std::fs::write(home.path().join("search.yml"), fixed).unwrap();
    let validate = run(
        port_aws_sync(home.path()).args(["--mapping", mapping, "validate"]),
        None,
    );
    assert_eq!(code(&validate), 0, "{}", stderr(&validate));

    let item = serde_json::json!({"ARN": "arn:1", "__AccountId": "123456789012", "__Kind": KIND});
    let output = run(
        port_aws_sync(home.path()).args(["--mapping", mapping, "map", "--kind", KIND]),
        Some(&item.to_string()),
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        stdout_lines(&output),
        [
            r#"{"identifier":"arn:1","blueprint":"awsSecret","properties":{},"relations":{"account":{"combinator":"and","rules":[{"property":"email","operator":"=","value":"owner-123456789012@example.com"}]}}}"#,
            r#"{"identifier":{"combinator":"and","rules":[{"property":"$identifier","operator":"=","value":"123456789012"}]},"blueprint":"awsAccount","properties":{},"relations":{}}"#,
        ]
    );
}
