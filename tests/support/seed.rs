//! Seeding moto through the real SDK: an organisation's member accounts, certificates
//! (imported or requested) and secrets. Each returns what AWS gave back (ids, ARNs); a
//! failed call panics with the operation's name.

use std::future::Future;

use aws_sdk_acm::primitives::Blob;
use aws_sdk_secretsmanager::operation::create_secret::builders::CreateSecretFluentBuilder;
use aws_sdk_secretsmanager::types::Tag;
use aws_types::SdkConfig;
use futures::StreamExt;

use super::certs::{KeySpec, SelfSigned, self_signed};

/// Seeding requests in flight at once: moto answers several at a time, and seeding
/// thousands of resources one by one takes minutes.
pub const SEED_CONCURRENCY: usize = 16;

/// Runs `seed` for every item, [`SEED_CONCURRENCY`] at a time.
pub async fn in_parallel<T, F, Fut>(items: impl IntoIterator<Item = T>, seed: F)
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = ()>,
{
    futures::stream::iter(items)
        .map(seed)
        .buffer_unordered(SEED_CONCURRENCY)
        .collect::<()>()
        .await;
}

/// A member account as created: the id moto gave it and the name and email we chose.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub email: String,
}

/// Creates the organisation (all features) with the caller as management account, and
/// one member account per name, email `{name}@example.com`.
pub async fn create_organization(config: &SdkConfig, names: &[String]) -> Vec<Member> {
    let client = aws_sdk_organizations::Client::new(config);
    client
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("CreateOrganization");
    let mut members = Vec::new();
    for name in names {
        let email = format!("{name}@example.com");
        let created = client
            .create_account()
            .account_name(name)
            .email(&email)
            .send()
            .await
            .expect("CreateAccount");
        let id = created
            .create_account_status
            .and_then(|status| status.account_id)
            .expect("moto creates accounts at once");
        members.push(Member {
            id,
            name: name.clone(),
            email,
        });
    }
    members
}

/// `member-0`, `member-1`…: names for `count` member accounts.
pub fn member_names(count: usize) -> Vec<String> {
    (0..count).map(|n| format!("member-{n}")).collect()
}

/// Imports `certificate` into ACM; its ARN.
pub async fn import(client: &aws_sdk_acm::Client, certificate: &SelfSigned) -> String {
    client
        .import_certificate()
        .certificate(Blob::new(certificate.certificate_pem.clone()))
        .private_key(Blob::new(certificate.private_key_pem.clone()))
        .send()
        .await
        .expect("ImportCertificate")
        .certificate_arn
        .expect("imported certificate ARN")
}

/// Imports a new self-signed certificate for `domain`; its ARN.
pub async fn import_certificate(
    client: &aws_sdk_acm::Client,
    key: KeySpec,
    domain: &str,
) -> String {
    import(client, &self_signed(key, domain)).await
}

/// Requests an Amazon-issued certificate for `domain` (moto makes it RSA 2048, pending
/// validation); its ARN.
pub async fn request_certificate(client: &aws_sdk_acm::Client, domain: &str) -> String {
    client
        .request_certificate()
        .domain_name(domain)
        .send()
        .await
        .expect("RequestCertificate")
        .certificate_arn
        .expect("requested certificate ARN")
}

/// A CreateSecret request for `name` with `tags` and the secret string `value`; the
/// caller adds what else it needs (description, KMS key) and sends it.
pub fn secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: &str,
    tags: &[(&str, &str)],
) -> CreateSecretFluentBuilder {
    tags.iter().fold(
        client.create_secret().name(name).secret_string(value),
        |request, (key, value)| request.tags(Tag::builder().key(*key).value(*value).build()),
    )
}

/// Creates the secret `name` with nothing but a value; its ARN.
pub async fn create_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: &str,
) -> String {
    secret(client, name, value, &[])
        .send()
        .await
        .expect("CreateSecret")
        .arn
        .expect("created secret ARN")
}
