//! What the user chose: which accounts and regions to read and how many at once.

use std::collections::BTreeSet;
use std::time::Duration;

use super::errors::AwsSetupError;
use crate::config::{Env, SettingError};

/// How the accounts to read are found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AccountStrategy {
    /// The credentials' own account (the default).
    #[default]
    Single,
    /// Every ACTIVE account of the organisation, each read through a role assumed in it.
    Organization,
    /// The accounts of an explicit list of role ARNs (`ACCOUNT_ROLE_ARNS`).
    RoleArns(Vec<String>),
}

/// User settings for the sources (the CLI fills it from env/flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// Regions to read ACM and Secrets Manager in; None = the SDK's configured region
    /// (AWS_REGION, the profile's region…), unless `all_regions`.
    pub regions: Option<Vec<String>>,
    /// `AWS_REGIONS=all`: each account's enabled regions, discovered through the Account
    /// service's ListRegions.
    pub all_regions: bool,
    /// How many regions (per account) are fetched at the same time.
    pub region_concurrency: usize,
    pub account_strategy: AccountStrategy,
    /// Role assumed (from the caller's credentials) to list the organisation's accounts.
    pub organization_role_arn: Option<String>,
    /// Name of the role assumed in each member account (organization strategy).
    pub account_read_role_name: String,
    /// ExternalId sent with every AssumeRole into a member account.
    pub external_id: Option<String>,
    /// Only these accounts (None = all).
    pub account_ids: Option<BTreeSet<String>>,
    /// Never these accounts.
    pub exclude_account_ids: BTreeSet<String>,
    /// How many accounts are read at the same time.
    pub max_concurrent_accounts: usize,
    /// Upper bound on one AWS operation, retries included.
    pub operation_timeout: Duration,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            regions: None,
            all_regions: false,
            region_concurrency: Self::DEFAULT_REGION_CONCURRENCY,
            account_strategy: AccountStrategy::Single,
            organization_role_arn: None,
            account_read_role_name: Self::DEFAULT_ACCOUNT_READ_ROLE_NAME.to_owned(),
            external_id: None,
            account_ids: None,
            exclude_account_ids: BTreeSet::new(),
            max_concurrent_accounts: Self::DEFAULT_MAX_CONCURRENT_ACCOUNTS,
            operation_timeout: Self::DEFAULT_OPERATION_TIMEOUT,
        }
    }
}

impl AwsSettings {
    pub const DEFAULT_REGION_CONCURRENCY: usize = 4;
    pub const DEFAULT_MAX_CONCURRENT_ACCOUNTS: usize = 4;
    pub const DEFAULT_ACCOUNT_READ_ROLE_NAME: &'static str = "port-aws-sync-read";
    pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(120);
    pub const REGIONS_VAR: &'static str = "AWS_REGIONS";
    pub const REGION_CONCURRENCY_VAR: &'static str = "AWS_REGION_CONCURRENCY";
    pub const ACCOUNT_STRATEGY_VAR: &'static str = "ACCOUNT_STRATEGY";
    pub const ORGANIZATION_ROLE_ARN_VAR: &'static str = "ORGANIZATION_ROLE_ARN";
    pub const ACCOUNT_READ_ROLE_NAME_VAR: &'static str = "ACCOUNT_READ_ROLE_NAME";
    pub const ACCOUNT_ROLE_ARNS_VAR: &'static str = "ACCOUNT_ROLE_ARNS";
    pub const EXTERNAL_ID_VAR: &'static str = "EXTERNAL_ID";
    pub const ACCOUNT_IDS_VAR: &'static str = "ACCOUNT_IDS";
    pub const EXCLUDE_ACCOUNT_IDS_VAR: &'static str = "EXCLUDE_ACCOUNT_IDS";
    pub const MAX_CONCURRENT_ACCOUNTS_VAR: &'static str = "MAX_CONCURRENT_ACCOUNTS";
    pub const OPERATION_TIMEOUT_VAR: &'static str = "AWS_OPERATION_TIMEOUT_SECONDS";

    /// Every name [`Self::from_settings`] reads.
    pub const SETTINGS: &'static [&'static str] = &[
        Self::REGIONS_VAR,
        Self::REGION_CONCURRENCY_VAR,
        Self::ACCOUNT_STRATEGY_VAR,
        Self::ORGANIZATION_ROLE_ARN_VAR,
        Self::ACCOUNT_READ_ROLE_NAME_VAR,
        Self::ACCOUNT_ROLE_ARNS_VAR,
        Self::EXTERNAL_ID_VAR,
        Self::ACCOUNT_IDS_VAR,
        Self::EXCLUDE_ACCOUNT_IDS_VAR,
        Self::MAX_CONCURRENT_ACCOUNTS_VAR,
        Self::OPERATION_TIMEOUT_VAR,
    ];

    /// The settings from an [`Env`] (flags, environment, config file); a bad value is named
    /// by the setting that holds it.
    pub fn from_settings<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
    ) -> Result<Self, SettingError> {
        Self::from_lookup(|name| env.get(&[name])).map_err(|error| match error {
            AwsSetupError::InvalidSetting {
                name,
                value,
                reason,
            } => SettingError {
                name: name.to_owned(),
                problem: format!("invalid value {value:?}: {reason}"),
            },
            other => SettingError {
                name: Self::REGIONS_VAR.to_owned(),
                problem: other.to_string(),
            },
        })
    }

    /// Whether an account takes part in the sync: ACCOUNT_IDS and EXCLUDE_ACCOUNT_IDS.
    pub fn wants_account(&self, account_id: &str) -> bool {
        !self.exclude_account_ids.contains(account_id)
            && self
                .account_ids
                .as_ref()
                .is_none_or(|only| only.contains(account_id))
    }

    /// Reads `AWS_REGIONS` (comma-separated) and `AWS_REGION_CONCURRENCY`. Region names
    /// are checked later, by [`super::AwsSources::load`], together with AWS_REGION.
    pub fn from_env() -> Result<Self, AwsSetupError> {
        let env = Env::process();
        Self::from_lookup(|name| env.get(&[name]))
    }

    /// The parser behind [`Self::from_settings`], with the variables read through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AwsSetupError> {
        // Unset and blank are the same: "use the default".
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let region_list = get(Self::REGIONS_VAR);
        let all_regions = region_list
            .as_deref()
            .is_some_and(|list| list.trim().eq_ignore_ascii_case("all"));
        let regions = region_list
            .filter(|_| !all_regions)
            .and_then(|list| parse_region_list(&list));
        let region_concurrency = match get(Self::REGION_CONCURRENCY_VAR) {
            None => Self::DEFAULT_REGION_CONCURRENCY,
            Some(value) => parse_count(Self::REGION_CONCURRENCY_VAR, &value)?,
        };
        let max_concurrent_accounts = match get(Self::MAX_CONCURRENT_ACCOUNTS_VAR) {
            None => Self::DEFAULT_MAX_CONCURRENT_ACCOUNTS,
            Some(value) => parse_count(Self::MAX_CONCURRENT_ACCOUNTS_VAR, &value)?,
        };
        let operation_timeout = match get(Self::OPERATION_TIMEOUT_VAR) {
            None => Self::DEFAULT_OPERATION_TIMEOUT,
            Some(value) => {
                Duration::from_secs(parse_count(Self::OPERATION_TIMEOUT_VAR, &value)? as u64)
            }
        };
        let role_arns = match get(Self::ACCOUNT_ROLE_ARNS_VAR) {
            None => Vec::new(),
            Some(list) => parse_role_arns(&list)?,
        };
        let account_strategy = match get(Self::ACCOUNT_STRATEGY_VAR)
            .map(|value| value.trim().to_ascii_lowercase())
            .as_deref()
        {
            None if role_arns.is_empty() => AccountStrategy::Single,
            None => AccountStrategy::RoleArns(role_arns),
            Some("single" | "single-account") if role_arns.is_empty() => AccountStrategy::Single,
            Some("organization" | "organisation") if role_arns.is_empty() => {
                AccountStrategy::Organization
            }
            Some("role-arns" | "roles") if !role_arns.is_empty() => {
                AccountStrategy::RoleArns(role_arns)
            }
            Some("role-arns" | "roles") => {
                return Err(AwsSetupError::InvalidSetting {
                    name: Self::ACCOUNT_ROLE_ARNS_VAR,
                    value: String::new(),
                    reason: "ACCOUNT_STRATEGY=role-arns needs a comma-separated list of role ARNs",
                });
            }
            Some("single" | "single-account" | "organization" | "organisation") => {
                return Err(AwsSetupError::InvalidSetting {
                    name: Self::ACCOUNT_ROLE_ARNS_VAR,
                    value: get(Self::ACCOUNT_ROLE_ARNS_VAR).unwrap_or_default(),
                    reason: "role ARNs are only used with ACCOUNT_STRATEGY=role-arns (or unset)",
                });
            }
            Some(other) => {
                return Err(AwsSetupError::InvalidSetting {
                    name: Self::ACCOUNT_STRATEGY_VAR,
                    value: other.to_owned(),
                    reason: "expected single, organization or role-arns",
                });
            }
        };
        let organization_role_arn = match get(Self::ORGANIZATION_ROLE_ARN_VAR) {
            None => None,
            Some(arn) => Some(check_role_arn(Self::ORGANIZATION_ROLE_ARN_VAR, arn.trim())?),
        };
        let account_read_role_name = match get(Self::ACCOUNT_READ_ROLE_NAME_VAR) {
            None => Self::DEFAULT_ACCOUNT_READ_ROLE_NAME.to_owned(),
            Some(name) => check_role_name(name.trim())?,
        };
        let account_ids = match get(Self::ACCOUNT_IDS_VAR) {
            None => None,
            Some(list) => Some(parse_account_ids(Self::ACCOUNT_IDS_VAR, &list)?),
        };
        let exclude_account_ids = match get(Self::EXCLUDE_ACCOUNT_IDS_VAR) {
            None => BTreeSet::new(),
            Some(list) => parse_account_ids(Self::EXCLUDE_ACCOUNT_IDS_VAR, &list)?,
        };
        Ok(Self {
            regions,
            all_regions,
            region_concurrency,
            account_strategy,
            organization_role_arn,
            account_read_role_name,
            external_id: get(Self::EXTERNAL_ID_VAR).map(|id| id.trim().to_owned()),
            account_ids,
            exclude_account_ids,
            max_concurrent_accounts,
            operation_timeout,
        })
    }
}

/// `arn:{partition}:iam::{account}:role/{name}`: the role a member account is read through.
pub fn role_arn(partition: &str, account_id: &str, role_name: &str) -> String {
    format!("arn:{partition}:iam::{account_id}:role/{role_name}")
}

/// The account id of an IAM role ARN (`arn:aws:iam::123456789012:role/path/name`), when
/// it has that shape.
pub fn account_of_role_arn(arn: &str) -> Option<&str> {
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    match fields.as_slice() {
        ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty()
                && is_account_id(account)
                && resource
                    .strip_prefix("role/")
                    .is_some_and(|name| !name.is_empty()) =>
        {
            Some(account)
        }
        _ => None,
    }
}

/// Twelve digits.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

fn check_role_arn(setting: &'static str, arn: &str) -> Result<String, AwsSetupError> {
    match account_of_role_arn(arn) {
        Some(_) => Ok(arn.to_owned()),
        None => Err(AwsSetupError::InvalidSetting {
            name: setting,
            value: arn.to_owned(),
            reason: "expected an IAM role ARN such as arn:aws:iam::123456789012:role/name",
        }),
    }
}

fn check_role_name(name: &str) -> Result<String, AwsSetupError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    if valid {
        Ok(name.to_owned())
    } else {
        Err(AwsSetupError::InvalidSetting {
            name: AwsSettings::ACCOUNT_READ_ROLE_NAME_VAR,
            value: name.to_owned(),
            reason: "expected an IAM role name (letters, digits and +=,.@_-), without the ARN",
        })
    }
}

fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
}

fn parse_role_arns(list: &str) -> Result<Vec<String>, AwsSetupError> {
    let mut arns: Vec<String> = Vec::new();
    for arn in split_list(list) {
        let arn = check_role_arn(AwsSettings::ACCOUNT_ROLE_ARNS_VAR, arn)?;
        if !arns.contains(&arn) {
            arns.push(arn);
        }
    }
    Ok(arns)
}

fn parse_account_ids(setting: &'static str, list: &str) -> Result<BTreeSet<String>, AwsSetupError> {
    split_list(list)
        .map(|id| {
            if is_account_id(id) {
                Ok(id.to_owned())
            } else {
                Err(AwsSetupError::InvalidSetting {
                    name: setting,
                    value: id.to_owned(),
                    reason: "expected 12-digit AWS account ids, comma-separated",
                })
            }
        })
        .collect()
}

/// `" eu-west-1, us-east-1,,eu-west-1"` → `["eu-west-1", "us-east-1"]`: trimmed, empty
/// entries dropped, duplicates dropped keeping the first. None when nothing is left,
/// so an empty AWS_REGIONS means "the configured region" rather than "no region".
pub fn parse_region_list(list: &str) -> Option<Vec<String>> {
    let mut regions: Vec<String> = Vec::new();
    for name in list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        if !regions.iter().any(|seen| seen == name) {
            regions.push(name.to_owned());
        }
    }
    (!regions.is_empty()).then_some(regions)
}

fn parse_count(setting: &'static str, value: &str) -> Result<usize, AwsSetupError> {
    match value.trim().parse::<usize>() {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err(AwsSetupError::InvalidSetting {
            name: setting,
            value: value.to_owned(),
            reason: "expected a whole number of at least 1",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<AwsSettings, AwsSetupError> {
        AwsSettings::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        assert_eq!(settings(&[]).unwrap(), AwsSettings::default());
        assert_eq!(AwsSettings::default().region_concurrency, 4);
    }

    #[test]
    fn region_list_is_trimmed_deduplicated_and_ordered() {
        let parsed = settings(&[("AWS_REGIONS", " eu-west-1, us-east-1,,eu-west-1 ,")]).unwrap();
        assert_eq!(
            parsed.regions,
            Some(vec!["eu-west-1".to_owned(), "us-east-1".to_owned()])
        );
    }

    #[test]
    fn empty_region_list_means_configured_region() {
        assert_eq!(settings(&[("AWS_REGIONS", " , ")]).unwrap().regions, None);
        assert_eq!(settings(&[("AWS_REGIONS", "")]).unwrap().regions, None);
    }

    #[test]
    fn region_concurrency_is_parsed_and_checked() {
        assert_eq!(
            settings(&[("AWS_REGION_CONCURRENCY", " 8 ")])
                .unwrap()
                .region_concurrency,
            8
        );
        for bad in ["0", "-1", "four", "2.5"] {
            let error = settings(&[("AWS_REGION_CONCURRENCY", bad)]).unwrap_err();
            assert!(
                matches!(
                    error,
                    AwsSetupError::InvalidSetting {
                        name: "AWS_REGION_CONCURRENCY",
                        ..
                    }
                ),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn account_settings_default_to_the_single_account() {
        let parsed = settings(&[]).unwrap();
        assert_eq!(parsed.account_strategy, AccountStrategy::Single);
        assert_eq!(parsed.max_concurrent_accounts, 4);
        assert_eq!(parsed.account_read_role_name, "port-aws-sync-read");
        assert!(!parsed.all_regions);
        assert!(parsed.wants_account("111111111111"));
    }

    #[test]
    fn invalid_strategy_names_the_setting() {
        let error = settings(&[("ACCOUNT_STRATEGY", "everything")]).unwrap_err();
        assert!(
            matches!(
                &error,
                AwsSetupError::InvalidSetting {
                    name: "ACCOUNT_STRATEGY",
                    value,
                    ..
                } if value == "everything"
            ),
            "{error}"
        );
        assert!(error.to_string().contains("ACCOUNT_STRATEGY"), "{error}");
    }

    #[test]
    fn organization_strategy_with_role_and_filters() {
        let parsed = settings(&[
            ("ACCOUNT_STRATEGY", " Organization "),
            (
                "ORGANIZATION_ROLE_ARN",
                "arn:aws:iam::111111111111:role/org-reader",
            ),
            ("ACCOUNT_READ_ROLE_NAME", "reader"),
            ("EXTERNAL_ID", "xyz"),
            ("ACCOUNT_IDS", "222222222222, 333333333333"),
            ("EXCLUDE_ACCOUNT_IDS", "333333333333"),
            ("MAX_CONCURRENT_ACCOUNTS", "8"),
            ("AWS_REGIONS", "ALL"),
        ])
        .unwrap();
        assert_eq!(parsed.account_strategy, AccountStrategy::Organization);
        assert_eq!(
            parsed.organization_role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/org-reader")
        );
        assert_eq!(parsed.account_read_role_name, "reader");
        assert_eq!(parsed.external_id.as_deref(), Some("xyz"));
        assert_eq!(parsed.max_concurrent_accounts, 8);
        assert!(parsed.all_regions);
        assert_eq!(parsed.regions, None);
        assert!(parsed.wants_account("222222222222"));
        assert!(!parsed.wants_account("333333333333"), "excluded wins");
        assert!(!parsed.wants_account("444444444444"), "not listed");
    }

    #[test]
    fn role_arns_imply_their_strategy_and_are_checked() {
        let parsed = settings(&[(
            "ACCOUNT_ROLE_ARNS",
            "arn:aws:iam::222222222222:role/r, arn:aws-cn:iam::333333333333:role/path/r,",
        )])
        .unwrap();
        assert_eq!(
            parsed.account_strategy,
            AccountStrategy::RoleArns(vec![
                "arn:aws:iam::222222222222:role/r".to_owned(),
                "arn:aws-cn:iam::333333333333:role/path/r".to_owned(),
            ])
        );
        for (vars, name) in [
            (
                vec![("ACCOUNT_ROLE_ARNS", "arn:aws:iam::22:role/r")],
                "ACCOUNT_ROLE_ARNS",
            ),
            (
                vec![("ACCOUNT_ROLE_ARNS", "arn:aws:iam::222222222222:user/u")],
                "ACCOUNT_ROLE_ARNS",
            ),
            (vec![("ACCOUNT_STRATEGY", "role-arns")], "ACCOUNT_ROLE_ARNS"),
            (
                vec![
                    ("ACCOUNT_STRATEGY", "organization"),
                    ("ACCOUNT_ROLE_ARNS", "arn:aws:iam::222222222222:role/r"),
                ],
                "ACCOUNT_ROLE_ARNS",
            ),
            (vec![("ACCOUNT_IDS", "12345")], "ACCOUNT_IDS"),
            (
                vec![("EXCLUDE_ACCOUNT_IDS", "abcdefghijkl")],
                "EXCLUDE_ACCOUNT_IDS",
            ),
            (
                vec![("ORGANIZATION_ROLE_ARN", "org-reader")],
                "ORGANIZATION_ROLE_ARN",
            ),
            (
                vec![("ACCOUNT_READ_ROLE_NAME", "arn:aws:iam::1:role/x")],
                "ACCOUNT_READ_ROLE_NAME",
            ),
            (
                vec![("MAX_CONCURRENT_ACCOUNTS", "0")],
                "MAX_CONCURRENT_ACCOUNTS",
            ),
            (
                vec![("AWS_OPERATION_TIMEOUT_SECONDS", "soon")],
                "AWS_OPERATION_TIMEOUT_SECONDS",
            ),
        ] {
            let error = settings(&vars).unwrap_err();
            assert!(
                matches!(&error, AwsSetupError::InvalidSetting { name: n, .. } if *n == name),
                "{vars:?}: {error}"
            );
        }
    }

    #[test]
    fn a_bad_value_is_reported_under_its_own_setting() {
        let cases = [
            ("ACCOUNT_STRATEGY", "everything"),
            ("ACCOUNT_IDS", "12345"),
            ("MAX_CONCURRENT_ACCOUNTS", "0"),
            ("AWS_OPERATION_TIMEOUT_SECONDS", "soon"),
            ("AWS_REGION_CONCURRENCY", "four"),
        ];
        for (name, value) in cases {
            let env = Env::new(move |asked: &str| (asked == name).then(|| value.to_owned()));
            let error = AwsSettings::from_settings(&env).unwrap_err();
            assert_eq!(error.name, name, "{error}");
            assert!(error.to_string().contains(&format!("{value:?}")), "{error}");
        }
    }

    #[test]
    fn every_name_read_is_declared() {
        let asked = std::sync::Mutex::new(std::collections::BTreeSet::new());
        let env = Env::new(|name: &str| {
            asked.lock().unwrap().insert(name.to_owned());
            None
        });
        AwsSettings::from_settings(&env).unwrap();
        let asked = asked.into_inner().unwrap();
        for name in &asked {
            assert!(AwsSettings::SETTINGS.contains(&name.as_str()), "{name}");
        }
        assert_eq!(asked.len(), AwsSettings::SETTINGS.len());
    }

    #[test]
    fn role_arn_is_built_in_the_caller_partition() {
        assert_eq!(
            role_arn("aws", "222222222222", "reader"),
            "arn:aws:iam::222222222222:role/reader"
        );
        assert_eq!(
            role_arn("aws-us-gov", "222222222222", "reader"),
            "arn:aws-us-gov:iam::222222222222:role/reader"
        );
        assert_eq!(
            role_arn("aws-cn", "222222222222", "reader"),
            "arn:aws-cn:iam::222222222222:role/reader"
        );
        assert_eq!(
            account_of_role_arn("arn:aws-cn:iam::222222222222:role/a/b"),
            Some("222222222222")
        );
        assert_eq!(account_of_role_arn("arn:aws:iam::222222222222:role/"), None);
        assert_eq!(
            account_of_role_arn("arn:aws:sts::222222222222:role/x"),
            None
        );
    }
}
