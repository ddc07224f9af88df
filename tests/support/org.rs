//! An AWS Organization in moto: the management account and members, each holding
//! certificates and secrets in a list of regions.
//!
//! moto keeps separate state per account and maps credentials obtained by AssumeRole to
//! the account of the role ARN, so each member is seeded through its own assumed-role
//! credentials and can be read back through the `organization` strategy.

use aws_sdk_sts::config::Credentials;
use aws_types::SdkConfig;

use super::certs::{KeySpec, self_signed};
use super::moto::{ACCOUNT_ID as MANAGEMENT, Moto};
use super::seed;

/// What to create.
#[derive(Debug, Clone)]
pub struct OrgSpec {
    /// Accounts besides the management account.
    pub members: usize,
    pub regions: Vec<String>,
    /// Per account and region.
    pub secrets: usize,
    /// Per account and region; all share one imported self-signed certificate.
    pub certificates: usize,
}

/// moto with an organisation, as seeded from an [`OrgSpec`].
pub struct Org {
    pub moto: Moto,
    pub members: Vec<String>,
}

impl Org {
    /// The management account first, then the members in creation order.
    pub fn accounts(&self) -> Vec<String> {
        let mut all = vec![MANAGEMENT.to_owned()];
        all.extend(self.members.iter().cloned());
        all
    }
}

/// The management account and two members, each holding one certificate and `secrets`
/// secrets in each of `regions`.
pub async fn organization(regions: &[&str], secrets: usize) -> Org {
    seed(&OrgSpec {
        members: 2,
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        secrets,
        certificates: 1,
    })
    .await
}

/// Starts moto and creates the organisation, its members and their resources.
pub async fn seed(spec: &OrgSpec) -> Org {
    let moto = Moto::start();
    let management = moto.sdk_config("us-east-1").await;
    let members = seed::create_organization(&management, &seed::member_names(spec.members))
        .await
        .into_iter()
        .map(|member| member.id)
        .collect();
    let org = Org { moto, members };
    let certificate =
        (spec.certificates > 0).then(|| self_signed(KeySpec::Rsa(2048), "multi.example.com"));
    for account in org.accounts() {
        for region in &spec.regions {
            let config = account_config(&org.moto, &account, region).await;
            if let Some(certificate) = &certificate {
                let acm = aws_sdk_acm::Client::new(&config);
                for _ in 0..spec.certificates {
                    seed::import(&acm, certificate).await;
                }
            }
            let secrets = &aws_sdk_secretsmanager::Client::new(&config);
            seed::in_parallel(0..spec.secrets, |n| {
                let name = format!("app/{account}/{region}/{n}");
                async move {
                    seed::create_secret(secrets, &name, "never read").await;
                }
            })
            .await;
        }
    }
    org
}

/// SDK config acting in `account`: the static credentials for the management account,
/// credentials of a role assumed in it for the others (moto needs no role to exist).
pub async fn account_config(moto: &Moto, account: &str, region: &str) -> SdkConfig {
    let base = moto.sdk_config(region).await;
    if account == MANAGEMENT {
        return base;
    }
    let assumed = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn(format!(
            "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        ))
        .role_session_name("seed")
        .send()
        .await
        .expect("assume role for seeding")
        .credentials
        .expect("assumed credentials");
    moto.config_loader(region)
        .credentials_provider(Credentials::new(
            assumed.access_key_id,
            assumed.secret_access_key,
            Some(assumed.session_token),
            None,
            "seed",
        ))
        .load()
        .await
}
