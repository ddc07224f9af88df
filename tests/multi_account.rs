//! Many accounts, many regions: `AwsSources` against moto, through a recording proxy.
//!
//! The organisation of three accounts is seeded by `support::org` and read back through
//! the strategies. What moto cannot do is stood in for by the proxy
//! (`support::aws_proxy`): refusing an AssumeRole or a region (moto allows every call)
//! and answering Account ListRegions (moto does not implement it).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_sts::config::Region;
use futures::StreamExt;
use port_aws_sync::aws::{
    AccountStrategy, AwsSettings, AwsSources, Kind, Page, RegionFilter, ScopeError, every_region,
};
use serde_json::Value;
use support::aws_proxy::{AwsProxy, Canned, json_access_denied, sts_access_denied};
use support::moto::{ACCOUNT_ID as MANAGEMENT, credentials};
use support::org::organization;

const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
const READ_ROLE: &str = "port-aws-sync-read";

fn org_settings(regions: &[&str]) -> AwsSettings {
    AwsSettings {
        regions: Some(regions.iter().map(|r| (*r).to_owned()).collect()),
        account_strategy: AccountStrategy::Organization,
        ..AwsSettings::default()
    }
}

async fn sources_through(proxy: &AwsProxy, settings: &AwsSettings) -> AwsSources {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .endpoint_url(proxy.endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials())
        .retry_config(RetryConfig::standard().with_max_attempts(1));
    AwsSources::load_with(loader, settings)
        .await
        .expect("sources load")
}

async fn fetch(
    sources: &AwsSources,
    kinds: Vec<(Kind, RegionFilter)>,
) -> (Vec<Page>, Vec<ScopeError>) {
    let mut pages = Vec::new();
    let mut errors = Vec::new();
    let mut stream = sources.fetch_kinds(kinds);
    while let Some(result) = stream.next().await {
        match result {
            Ok(page) => pages.push(page),
            Err(error) => errors.push(error),
        }
    }
    (pages, errors)
}

fn all_kinds() -> Vec<(Kind, RegionFilter)> {
    Kind::ALL.into_iter().map(|k| (k, every_region())).collect()
}

/// (account, region) of every item of `kind`, checking each item's envelope against
/// its own ARN: `__AccountId` is the account the item lives in.
fn scopes_of(pages: &[Page], kind: Kind) -> BTreeMap<(String, String), usize> {
    let arn_field = match kind {
        Kind::AcmCertificate => "CertificateArn",
        Kind::Secret => "ARN",
        Kind::Account => "Arn",
    };
    let mut scopes = BTreeMap::new();
    for page in pages.iter().filter(|page| page.kind == kind) {
        for item in &page.items {
            let account = item["__AccountId"].as_str().expect("__AccountId");
            let region = item["__Region"].as_str().expect("__Region");
            assert_eq!(account, page.account_id, "{item:#}");
            assert_eq!(region, page.region, "{item:#}");
            assert_eq!(item["__ExtraContext"]["AccountId"], account);
            if kind != Kind::Account {
                let arn: Vec<&str> = item[arn_field].as_str().expect("ARN").split(':').collect();
                assert_eq!(arn[3], region, "region in {item:#}");
                assert_eq!(arn[4], account, "account in {item:#}");
            }
            *scopes
                .entry((account.to_owned(), region.to_owned()))
                .or_default() += 1;
        }
    }
    scopes
}

fn expected_scopes(
    accounts: &[String],
    regions: &[&str],
    per_scope: usize,
) -> BTreeMap<(String, String), usize> {
    accounts
        .iter()
        .flat_map(|account| {
            regions
                .iter()
                .map(move |region| ((account.clone(), (*region).to_owned()), per_scope))
        })
        .collect()
}

fn assume_role_calls(proxy: &AwsProxy) -> Vec<BTreeMap<String, String>> {
    proxy
        .calls()
        .into_iter()
        .filter(|call| call.operation == "AssumeRole")
        .map(|call| call.params)
        .collect()
}

fn account_ids(pages: &[Page]) -> BTreeSet<String> {
    pages
        .iter()
        .filter(|page| page.kind == Kind::Account)
        .flat_map(|page| &page.items)
        .map(|item| item["Id"].as_str().expect("Id").to_owned())
        .collect()
}

#[tokio::test]
async fn organization_reads_every_account_through_its_role_once() {
    let org = organization(&REGIONS, 2).await;
    let proxy = AwsProxy::start(&org.moto.endpoint()).await;
    let settings = AwsSettings {
        external_id: Some("port-external".to_owned()),
        ..org_settings(&REGIONS)
    };
    let sources = sources_through(&proxy, &settings).await;

    let (pages, errors) = fetch(&sources, all_kinds()).await;
    assert!(errors.is_empty(), "{errors:#?}");
    let accounts = org.accounts();
    assert_eq!(
        scopes_of(&pages, Kind::AcmCertificate),
        expected_scopes(&accounts, &REGIONS, 1)
    );
    assert_eq!(
        scopes_of(&pages, Kind::Secret),
        expected_scopes(&accounts, &REGIONS, 2)
    );
    // Account entities: listed once, from the management account, not per member.
    let account_items: Vec<&Value> = pages
        .iter()
        .filter(|page| page.kind == Kind::Account)
        .flat_map(|page| &page.items)
        .collect();
    assert_eq!(account_items.len(), 3);
    assert_eq!(
        account_ids(&pages),
        accounts.iter().cloned().collect::<BTreeSet<_>>()
    );
    for item in &account_items {
        assert_eq!(item["__AccountId"], MANAGEMENT);
        assert_eq!(item["State"], "ACTIVE");
    }
    assert_eq!(proxy.counts()["organizations:ListAccounts"], 1);

    // One AssumeRole per member (two kinds × two regions share it), none for the
    // management account, which is read with the caller's credentials.
    let assumed = assume_role_calls(&proxy);
    let mut roles: Vec<(String, String, String)> = assumed
        .iter()
        .map(|params| {
            (
                params["RoleArn"].clone(),
                params["RoleSessionName"].clone(),
                params["ExternalId"].clone(),
            )
        })
        .collect();
    roles.sort();
    let mut expected: Vec<(String, String, String)> = org
        .members
        .iter()
        .map(|member| {
            (
                format!("arn:aws:iam::{member}:role/{READ_ROLE}"),
                format!("port-aws-sync-{member}"),
                "port-external".to_owned(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(roles, expected);
    // Checking a member's role is that AssumeRole itself: no call made just to test it.
    // (The one GetCallerIdentity is the caller's own, for its account and partition.)
    assert_eq!(
        proxy
            .counts()
            .get("sts:GetCallerIdentity")
            .copied()
            .unwrap_or(0),
        1,
        "{:?}",
        proxy.counts()
    );

    // A second resync reuses the cached credentials: no new AssumeRole.
    proxy.clear_calls();
    let (pages, errors) = fetch(&sources, all_kinds()).await;
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(scopes_of(&pages, Kind::Secret).len(), 6);
    assert!(assume_role_calls(&proxy).is_empty(), "{:?}", proxy.counts());
}

#[tokio::test]
async fn a_refused_role_and_a_denied_region_are_reported_and_the_rest_is_delivered() {
    let org = organization(&REGIONS, 1).await;
    let proxy = AwsProxy::start(&org.moto.endpoint()).await;
    let refused = org.members[0].clone();
    let healthy = org.members[1].clone();
    let refused_arn = format!("arn:aws:iam::{refused}:role/{READ_ROLE}");
    proxy.answer(move |call| {
        (call.operation == "AssumeRole" && call.params.get("RoleArn") == Some(&refused_arn))
            .then(|| sts_access_denied("not authorized to perform: sts:AssumeRole"))
    });
    // The healthy member's Secrets Manager denies us in us-east-1 (an SCP, say). moto
    // tells accounts apart by access key, and the sources assume the member's role once
    // and keep its credentials, so a first pass learns which key reads that member.
    let denied_key: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    {
        let healthy = healthy.clone();
        let denied_key = denied_key.clone();
        proxy.answer(move |call| {
            let key = denied_key.lock().unwrap().clone();
            (call.service == "secretsmanager"
                && call.region == "us-east-1"
                && key.is_some_and(|key| key == call.access_key))
            .then(|| json_access_denied(&format!("denied in {healthy}")))
        });
    }
    let sources = sources_through(&proxy, &org_settings(&REGIONS)).await;
    let (first_pages, _) = fetch(&sources, vec![(Kind::AcmCertificate, every_region())]).await;
    assert!(!first_pages.is_empty());
    let member_keys: BTreeSet<String> = proxy
        .calls()
        .iter()
        .filter(|call| call.operation == "ListCertificates" && call.access_key != "testing")
        .map(|call| call.access_key.clone())
        .collect();
    assert_eq!(member_keys.len(), 1, "only the healthy member was read");
    *denied_key.lock().unwrap() = member_keys.into_iter().next();

    let (pages, mut errors) = fetch(&sources, all_kinds()).await;
    errors.sort_by(|a, b| (a.kind, &a.region).cmp(&(b.kind, &b.region)));
    let summary: Vec<(Kind, String, Option<String>)> = errors
        .iter()
        .map(|error| (error.kind, error.account_id.clone(), error.region.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Kind::AcmCertificate, refused.clone(), None),
            (Kind::Secret, refused.clone(), None),
            (Kind::Secret, healthy.clone(), Some("us-east-1".to_owned())),
        ],
        "{errors:#?}"
    );
    eprintln!("refused role: {}\ndenied region: {}", errors[0], errors[2]);
    assert!(errors[0].message.contains("AccessDenied"), "{}", errors[0]);
    assert!(
        errors[0].message.contains(&format!("role/{READ_ROLE}")),
        "{}",
        errors[0]
    );
    assert!(
        errors[2].message.contains("AccessDeniedException"),
        "{}",
        errors[2]
    );
    // The AWS error codes are values too: STS's for the refused role, the service's
    // for the denied region.
    assert_eq!(
        errors[0].code.as_deref(),
        Some("AccessDenied"),
        "{}",
        errors[0]
    );
    assert_eq!(
        errors[1].code.as_deref(),
        Some("AccessDenied"),
        "{}",
        errors[1]
    );
    assert_eq!(
        errors[2].code.as_deref(),
        Some("AccessDeniedException"),
        "{}",
        errors[2]
    );

    let delivered = [MANAGEMENT.to_owned(), healthy.clone()];
    assert_eq!(
        scopes_of(&pages, Kind::AcmCertificate),
        expected_scopes(&delivered, &REGIONS, 1)
    );
    let mut secrets = expected_scopes(&delivered, &REGIONS, 1);
    secrets.remove(&(healthy.clone(), "us-east-1".to_owned()));
    assert_eq!(scopes_of(&pages, Kind::Secret), secrets);
    // The refused account is still an account entity: it exists in the organisation.
    assert!(account_ids(&pages).contains(&refused));
}

#[tokio::test]
async fn account_filters_leave_accounts_out_without_failures() {
    let org = organization(&REGIONS, 1).await;
    let proxy = AwsProxy::start(&org.moto.endpoint()).await;
    let excluded = org.members[0].clone();
    let kept = org.members[1].clone();
    let settings = AwsSettings {
        exclude_account_ids: BTreeSet::from([excluded.clone()]),
        ..org_settings(&REGIONS)
    };
    let sources = sources_through(&proxy, &settings).await;
    let (pages, errors) = fetch(&sources, all_kinds()).await;
    assert!(errors.is_empty(), "{errors:#?}");
    let read = [MANAGEMENT.to_owned(), kept.clone()];
    assert_eq!(
        scopes_of(&pages, Kind::Secret),
        expected_scopes(&read, &REGIONS, 1)
    );
    assert_eq!(account_ids(&pages), read.iter().cloned().collect());
    assert!(
        assume_role_calls(&proxy)
            .iter()
            .all(|params| !params["RoleArn"].contains(&excluded))
    );

    // ACCOUNT_IDS: only the listed ones.
    let settings = AwsSettings {
        account_ids: Some(BTreeSet::from([excluded.clone()])),
        ..org_settings(&REGIONS)
    };
    let sources = sources_through(&proxy, &settings).await;
    let (pages, errors) = fetch(&sources, all_kinds()).await;
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        scopes_of(&pages, Kind::AcmCertificate),
        expected_scopes(std::slice::from_ref(&excluded), &REGIONS, 1)
    );
    assert_eq!(account_ids(&pages), BTreeSet::from([excluded]));
}

#[tokio::test]
async fn role_arn_list_reads_exactly_those_accounts() {
    let org = organization(&REGIONS, 1).await;
    let proxy = AwsProxy::start(&org.moto.endpoint()).await;
    let arns: Vec<String> = org
        .members
        .iter()
        .map(|member| format!("arn:aws:iam::{member}:role/custom-reader"))
        .collect();
    let settings = AwsSettings {
        regions: Some(vec!["eu-west-1".to_owned()]),
        account_strategy: AccountStrategy::RoleArns(arns),
        ..AwsSettings::default()
    };
    let sources = sources_through(&proxy, &settings).await;
    let (pages, errors) = fetch(&sources, all_kinds()).await;
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        scopes_of(&pages, Kind::Secret),
        expected_scopes(&org.members, &["eu-west-1"], 1)
    );
    // Account entities: the listed accounts, each under its own id.
    assert_eq!(account_ids(&pages), org.members.iter().cloned().collect());
    assert!(!proxy.counts().contains_key("organizations:ListAccounts"));
}

#[tokio::test]
async fn accounts_and_regions_run_side_by_side_within_their_bounds() {
    const FOUR: [&str; 4] = ["eu-west-1", "us-east-1", "us-west-2", "ap-south-1"];
    let org = organization(&FOUR, 1).await;
    let proxy = AwsProxy::start(&org.moto.endpoint()).await;
    proxy.delay_list_calls(std::time::Duration::from_millis(150));
    let settings = AwsSettings {
        max_concurrent_accounts: 2,
        region_concurrency: 3,
        ..org_settings(&FOUR)
    };
    let sources = sources_through(&proxy, &settings).await;
    let (pages, errors) = fetch(&sources, all_kinds()).await;
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(scopes_of(&pages, Kind::Secret).len(), 12);
    // 3 accounts × 4 regions × 2 kinds = 24 scopes of 150 ms each: bounded by 2
    // accounts and 3 scopes per account, and reaching both bounds.
    assert_eq!(
        proxy.overlap(),
        support::aws_proxy::Overlap {
            accounts: 2,
            per_account: 3
        }
    );
}

fn list_regions_answer(
    regions: &'static [&'static str],
) -> impl Fn(&support::aws_proxy::Call) -> Option<Canned> {
    move |call| {
        (call.service == "account" && call.operation.eq_ignore_ascii_case("listRegions")).then(
            || {
                let regions: Vec<Value> = regions
                    .iter()
                    .map(|name| serde_json::json!({"RegionName": name, "RegionOptStatus": "ENABLED_BY_DEFAULT"}))
                    .collect();
                Canned {
                    status: 200,
                    content_type: "application/json",
                    body: serde_json::json!({ "Regions": regions }).to_string(),
                }
            },
        )
    }
}

#[tokio::test]
async fn all_regions_are_discovered_per_account_and_region_policies_narrow_each_kind() {
    const SEEDED: [&str; 3] = ["eu-west-1", "us-east-1", "ap-south-1"];
    let org = organization(&SEEDED, 1).await;
    let proxy = AwsProxy::start(&org.moto.endpoint()).await;
    // moto has no Account ListRegions: the proxy answers it as AWS would.
    proxy.answer(list_regions_answer(&SEEDED));
    let settings = AwsSettings {
        regions: None,
        all_regions: true,
        ..org_settings(&[])
    };
    let sources = sources_through(&proxy, &settings).await;

    // Certificates: allow eu-west-1 and ap-south-1 but deny ap-south-1 → eu-west-1 only.
    // Secrets: deny eu-west-1 → the other two.
    let acm: RegionFilter = Arc::new(|region: &str| region == "eu-west-1");
    let secrets: RegionFilter = Arc::new(|region: &str| region != "eu-west-1");
    let (pages, errors) = fetch(
        &sources,
        vec![(Kind::AcmCertificate, acm), (Kind::Secret, secrets)],
    )
    .await;
    assert!(errors.is_empty(), "{errors:#?}");
    let accounts = org.accounts();
    assert_eq!(
        scopes_of(&pages, Kind::AcmCertificate),
        expected_scopes(&accounts, &["eu-west-1"], 1)
    );
    assert_eq!(
        scopes_of(&pages, Kind::Secret),
        expected_scopes(&accounts, &["us-east-1", "ap-south-1"], 1)
    );
    // Discovered once per account, with the account's own credentials.
    assert_eq!(proxy.counts()["account:listRegions"], 3);
    // No call went to a region nobody asked for.
    assert!(
        proxy
            .calls()
            .iter()
            .all(|call| call.service != "acm" || call.region == "eu-west-1")
    );
}

#[tokio::test]
async fn without_list_regions_each_account_reports_its_discovery_failure() {
    // What plain moto does with AWS_REGIONS=all: ListRegions is not implemented, so
    // every account's regional kinds fail, named by account, and accounts still list.
    let org = organization(&["us-east-1"], 0).await;
    let proxy = AwsProxy::start(&org.moto.endpoint()).await;
    let settings = AwsSettings {
        regions: None,
        all_regions: true,
        ..org_settings(&[])
    };
    let sources = sources_through(&proxy, &settings).await;
    let (pages, errors) = fetch(&sources, all_kinds()).await;
    let failed: BTreeSet<(Kind, String)> = errors
        .iter()
        .map(|error| {
            assert_eq!(error.region, None);
            assert!(error.message.contains("ListRegions"), "{error}");
            (error.kind, error.account_id.clone())
        })
        .collect();
    let expected: BTreeSet<(Kind, String)> = org
        .accounts()
        .into_iter()
        .flat_map(|account| {
            [
                (Kind::AcmCertificate, account.clone()),
                (Kind::Secret, account),
            ]
        })
        .collect();
    assert_eq!(failed, expected);
    assert_eq!(account_ids(&pages).len(), 3);
}

/// The binary with `args`, reading the organization through `proxy` with nothing else from
/// the environment (one attempt per AWS call, to keep refusals quick).
fn organization_command(
    proxy: &AwsProxy,
    home: &std::path::Path,
    args: &[&str],
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_port-aws-sync"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_REGIONS", REGIONS.join(","))
        .env("ACCOUNT_STRATEGY", "organization")
        .env("AWS_MAX_ATTEMPTS", "1");
    command
}

/// The whole command, `resync --dry-run`, on an organisation whose first member refuses
/// the read role: the others' entities are printed with relations to their own
/// accounts, the refused account is named on stderr, and the exit code is 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_over_an_organization_reports_the_refused_account_and_exits_1() {
    let org = organization(&REGIONS, 1).await;
    let proxy = AwsProxy::start(&org.moto.endpoint()).await;
    let refused = org.members[0].clone();
    let refused_arn = format!("arn:aws:iam::{refused}:role/{READ_ROLE}");
    proxy.answer(move |call| {
        (call.operation == "AssumeRole" && call.params.get("RoleArn") == Some(&refused_arn))
            .then(|| sts_access_denied("not authorized to perform: sts:AssumeRole"))
    });
    let home = tempfile::tempdir().expect("empty HOME");
    let mut command = organization_command(&proxy, home.path(), &["resync", "--dry-run"]);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run port-aws-sync");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&refused),
        "stderr names the account:\n{stderr}"
    );

    let mut certificate_accounts = BTreeMap::new();
    let mut account_entities = BTreeSet::new();
    for line in stdout.lines() {
        let entity: Value = serde_json::from_str(line).expect("NDJSON");
        match entity["blueprint"].as_str() {
            Some("acmCertificate") => {
                let arn = entity["identifier"].as_str().expect("identifier");
                let owner = arn.split(':').nth(4).expect("account in ARN").to_owned();
                assert_eq!(entity["relations"]["account"], owner.as_str(), "{entity}");
                *certificate_accounts.entry(owner).or_insert(0) += 1;
            }
            Some("awsAccount") => {
                account_entities.insert(entity["identifier"].as_str().unwrap().to_owned());
            }
            _ => {}
        }
    }
    assert_eq!(
        certificate_accounts,
        BTreeMap::from([(MANAGEMENT.to_owned(), 2), (org.members[1].clone(), 2)])
    );
    assert_eq!(account_entities, org.accounts().into_iter().collect());
}

/// The whole `resync` on an organisation whose first member refuses the read role, with a
/// stale secret of each account in Port: the broken account keeps its own, the two others
/// lose theirs, the exit code is 1 and the report names the account's scope and AWS's code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_member_role_keeps_that_accounts_entities_and_the_others_lose_their_stale_ones() {
    let org = organization(&REGIONS, 1).await;
    let proxy = AwsProxy::start(&org.moto.endpoint()).await;
    let refused = org.members[0].clone();
    let refused_arn = format!("arn:aws:iam::{refused}:role/{READ_ROLE}");
    proxy.answer(move |call| {
        (call.operation == "AssumeRole" && call.params.get("RoleArn") == Some(&refused_arn))
            .then(|| sts_access_denied("not authorized to perform: sts:AssumeRole"))
    });
    let stale = |account: &str| {
        let arn = format!("arn:aws:secretsmanager:eu-west-1:{account}:secret:gone-AbCdEf");
        serde_json::json!({"identifier": arn, "title": "gone",
            "properties": {"region": "eu-west-1"}, "relations": {"account": account}})
    };
    let ours = concat!(
        "port-ocean/aws-sync/",
        env!("CARGO_PKG_VERSION"),
        "/aws-sync/exporter"
    );
    let accounts = org.accounts();
    let emu = accounts
        .iter()
        .fold(
            port_emulator::Emulator::builder().blueprints_dir(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"),
            ),
            |emu, account| emu.entity_from("awsSecret", stale(account), ours),
        )
        .start()
        .await;
    let home = tempfile::tempdir().expect("empty HOME");
    let mut command = organization_command(&proxy, home.path(), &["resync"]);
    command
        .env("PORT_BASE_URL", emu.base_url())
        .env("PORT_CLIENT_ID", emu.client_id())
        .env("PORT_CLIENT_SECRET", emu.client_secret());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run port-aws-sync");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");

    let secrets: BTreeSet<String> = emu
        .entities("awsSecret")
        .into_iter()
        .map(|e| e.identifier)
        .collect();
    for account in &accounts {
        let gone = stale(account)["identifier"].as_str().unwrap().to_owned();
        assert_eq!(
            secrets.contains(&gone),
            *account == refused,
            "{account}'s stale secret (refused: {refused}):\n{stderr}"
        );
    }
    // Every account still has a secret in Port: the others' written, the refused one's kept.
    let written: BTreeSet<&str> = secrets
        .iter()
        .map(|arn| arn.split(':').nth(4).expect("account in the ARN"))
        .collect();
    assert_eq!(written.len(), 3, "{secrets:?}");
    let deletion = stderr
        .lines()
        .find(|l| l.starts_with("  stale deletion: "))
        .unwrap_or_else(|| panic!("no deletion line:\n{stderr}"));
    assert!(
        deletion.contains(&format!(
            "held back: AWS::SecretsManager::Secret in {refused} eu-west-1: read failed (AccessDenied)"
        )),
        "{deletion}"
    );
}

/// `resync` of the organization through `proxy` into `emu`; (exit code, stderr).
async fn resync_into(
    proxy: &AwsProxy,
    emu: &port_emulator::Emulator,
    extra: &[(&str, &str)],
) -> (Option<i32>, String) {
    let home = tempfile::tempdir().expect("empty HOME");
    let mut command = organization_command(proxy, home.path(), &["resync"]);
    command
        .env("PORT_BASE_URL", emu.base_url())
        .env("PORT_CLIENT_ID", emu.client_id())
        .env("PORT_CLIENT_SECRET", emu.client_secret())
        .envs(extra.iter().copied());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run port-aws-sync");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// An account that left the organization loses its entities even in a resync where other
/// scopes failed; one left out by EXCLUDE_ACCOUNT_IDS (still a member) keeps them then; and
/// while ListAccounts fails, nothing of the account that left is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_that_left_the_organization_goes_even_when_others_failed_and_never_on_a_failed_listing()
 {
    let org = organization(&REGIONS, 1).await;
    let proxy = AwsProxy::start(&org.moto.endpoint()).await;
    let (refused, excluded) = (org.members[0].clone(), org.members[1].clone());
    const LEFT: &str = "999999999999";
    let stale = |account: &str| {
        let arn = format!("arn:aws:secretsmanager:eu-west-1:{account}:secret:gone-AbCdEf");
        serde_json::json!({"identifier": arn, "title": "gone",
            "properties": {"region": "eu-west-1"}, "relations": {"account": account}})
    };
    let id = |account: &str| stale(account)["identifier"].as_str().unwrap().to_owned();
    let ours = concat!(
        "port-ocean/aws-sync/",
        env!("CARGO_PKG_VERSION"),
        "/aws-sync/exporter"
    );
    let emu = [MANAGEMENT, &refused, &excluded, LEFT]
        .iter()
        .fold(
            port_emulator::Emulator::builder().blueprints_dir(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"),
            ),
            |emu, account| emu.entity_from("awsSecret", stale(account), ours),
        )
        .start()
        .await;
    let in_port = || -> BTreeSet<String> {
        emu.entities("awsSecret")
            .into_iter()
            .map(|e| e.identifier)
            .collect()
    };
    let listing_refused = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let refused_arn = format!("arn:aws:iam::{refused}:role/{READ_ROLE}");
    proxy.answer({
        let listing_refused = listing_refused.clone();
        move |call| {
            if call.operation == "ListAccounts"
                && listing_refused.load(std::sync::atomic::Ordering::SeqCst)
            {
                return Some(json_access_denied("not allowed to list accounts"));
            }
            (call.operation == "AssumeRole" && call.params.get("RoleArn") == Some(&refused_arn))
                .then(|| sts_access_denied("not authorized to perform: sts:AssumeRole"))
        }
    });

    let (code, stderr) = resync_into(&proxy, &emu, &[]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        in_port().contains(&id(LEFT)),
        "ListAccounts failed: nobody is known to have left:\n{stderr}"
    );
    assert!(in_port().contains(&id(MANAGEMENT)), "{stderr}");

    listing_refused.store(false, std::sync::atomic::Ordering::SeqCst);
    let (code, stderr) =
        resync_into(&proxy, &emu, &[("EXCLUDE_ACCOUNT_IDS", excluded.as_str())]).await;

    assert_eq!(code, Some(1), "the refused role is a failure:\n{stderr}");
    let left = in_port();
    assert!(
        !left.contains(&id(LEFT)),
        "the account that left goes:\n{stderr}"
    );
    assert!(
        !left.contains(&id(MANAGEMENT)),
        "a clean scope loses its stale one"
    );
    assert!(
        left.contains(&id(&refused)),
        "the failed account keeps its own"
    );
    assert!(
        left.contains(&id(&excluded)),
        "an excluded member is not read: kept while something failed:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "deleted 1 awsSecret of AWS::SecretsManager::Secret in {LEFT} eu-west-1"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "held back: AWS::SecretsManager::Secret in {excluded} eu-west-1: not read this resync"
        )),
        "{stderr}"
    );
}
