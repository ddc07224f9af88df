//! The real AWS SDK against the synthetic endpoint: its pages parse, its tokens lead through
//! the whole list, and the items carry the fields the listers read.

use aws_sdk_acm::types::{CertificateStatus, Filters, KeyAlgorithm};
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_synthetic::server::router;
use aws_synthetic::settings::Catalog;

async fn serve(catalog: Catalog) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(catalog)).await.unwrap() });
    url
}

fn catalog(secrets: usize, certificates: usize) -> Catalog {
    Catalog {
        account_id: "210987654321".into(),
        secrets_per_region: secrets,
        certificates_per_region: certificates,
    }
}

fn credentials() -> Credentials {
    Credentials::new("AKIDSYNTHETIC", "synthetic-secret", None, None, "test")
}

#[tokio::test]
async fn list_secrets_pages_through_the_sdk_paginator() {
    let url = serve(catalog(250, 0)).await;
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("ap-south-1"))
        .endpoint_url(&url)
        .credentials_provider(credentials())
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    let pages: Vec<_> = client
        .list_secrets()
        .max_results(100)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("every page parses");
    let sizes: Vec<usize> = pages.iter().map(|p| p.secret_list().len()).collect();
    assert_eq!(sizes, [100, 100, 50]);

    let entries: Vec<_> = pages.iter().flat_map(|p| p.secret_list()).collect();
    let mut arns: Vec<&str> = entries.iter().filter_map(|e| e.arn()).collect();
    arns.sort_unstable();
    arns.dedup();
    assert_eq!(arns.len(), 250, "every ARN distinct");
    assert!(
        arns.iter()
            .all(|a| a.starts_with("arn:aws:secretsmanager:ap-south-1:210987654321:secret:"))
    );

    // Secret 0 has everything but a description; secret 1 has a description, no rotation.
    let first = entries[0];
    assert_eq!(first.name(), Some("bench/app-000/secret-0000000"));
    assert_eq!(first.description(), None);
    assert_eq!(first.rotation_enabled(), Some(true));
    assert_eq!(
        first
            .rotation_rules()
            .and_then(|r| r.automatically_after_days()),
        Some(30)
    );
    assert!(
        first
            .kms_key_id()
            .unwrap()
            .starts_with("arn:aws:kms:ap-south-1:210987654321:key/")
    );
    assert_eq!(first.created_date().unwrap().secs(), 1_735_689_600);
    assert_eq!(first.tags().len(), 2);
    let versions = first.secret_versions_to_stages().unwrap();
    assert_eq!(
        versions.values().collect::<Vec<_>>(),
        [&vec!["AWSCURRENT".to_owned()]]
    );
    let second = entries[1];
    assert!(second.description().unwrap().contains("synthetic secret 1"));
    assert_eq!(second.rotation_enabled(), None);
    // Epoch seconds with milliseconds, as AWS sends them; the SDK parses a float.
    let changed = second.last_changed_date().unwrap();
    assert_eq!(changed.secs(), 1_735_689_600 - 600 + 3_600);
    assert_eq!((changed.subsec_nanos() + 500_000) / 1_000_000, 1);
}

#[tokio::test]
async fn list_certificates_as_the_lister_asks_returns_every_key_type() {
    let url = serve(catalog(0, 2500)).await;
    let config = aws_sdk_acm::Config::builder()
        .behavior_version(aws_sdk_acm::config::BehaviorVersion::latest())
        .region(aws_sdk_acm::config::Region::new("eu-west-1"))
        .endpoint_url(&url)
        .credentials_provider(credentials())
        .build();
    let client = aws_sdk_acm::Client::from_conf(config);
    let every_key_type = KeyAlgorithm::values()
        .iter()
        .map(|k| KeyAlgorithm::from(*k));
    let every_status = CertificateStatus::values()
        .iter()
        .map(|s| CertificateStatus::from(*s));
    let pages: Vec<_> = client
        .list_certificates()
        .includes(
            Filters::builder()
                .set_key_types(Some(every_key_type.collect()))
                .build(),
        )
        .set_certificate_statuses(Some(every_status.collect()))
        .max_items(1000)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("every page parses");
    let sizes: Vec<usize> = pages
        .iter()
        .map(|p| p.certificate_summary_list().len())
        .collect();
    assert_eq!(sizes, [1000, 1000, 500]);
    let summaries: Vec<_> = pages
        .iter()
        .flat_map(|p| p.certificate_summary_list())
        .collect();
    let ec = summaries
        .iter()
        .filter(|s| s.key_algorithm() == Some(&KeyAlgorithm::EcPrime256v1))
        .count();
    assert_eq!(ec, 625);
    let first = summaries[0];
    assert_eq!(first.status(), Some(&CertificateStatus::Issued));
    assert_eq!(first.in_use(), Some(true));
    assert!(first.issued_at().is_some() && first.imported_at().is_none());
    assert_eq!(first.subject_alternative_name_summaries().len(), 2);

    // Asked for nothing, ACM lists RSA_1024 and RSA_2048 only.
    let default = client.list_certificates().send().await.unwrap();
    assert_eq!(default.certificate_summary_list().len(), 1000);
    assert!(
        default
            .certificate_summary_list()
            .iter()
            .all(|s| s.key_algorithm() == Some(&KeyAlgorithm::Rsa2048))
    );
    assert!(default.next_token().is_some());
}
