//! The credentials that read one account, chosen as a resync would: the caller's own for its
//! account, the role of ACCOUNT_ROLE_ARNS or the organization's read role for the others.
//! For live events, which name one resource in one account.

use aws_types::SdkConfig;

use super::AwsSources;
use super::settings::{AccountStrategy, account_of_role_arn, role_arn};

/// Who lists the organization's accounts, and with which credentials.
#[derive(Debug, Clone)]
pub struct OrganizationReader {
    /// The account the resync names as `__AccountId` of account items.
    pub account_id: String,
    pub config: SdkConfig,
    /// Where Organizations is called.
    pub region: String,
}

impl AwsSources {
    /// The SDK config a resync reads `account_id` with; `None` when a resync does not read
    /// that account (another account than the caller's in the single-account strategy, an
    /// account without a role in ACCOUNT_ROLE_ARNS, or one left out by ACCOUNT_IDS /
    /// EXCLUDE_ACCOUNT_IDS).
    pub async fn account_config(&self, account_id: &str) -> Result<Option<SdkConfig>, String> {
        if !self.settings().wants_account(account_id) {
            return Ok(None);
        }
        let caller = self.caller_identity().await?;
        if caller.account_id == account_id {
            return Ok(Some(self.caller_context(&caller).config));
        }
        Ok(match &self.settings().account_strategy {
            AccountStrategy::Single => None,
            AccountStrategy::RoleArns(arns) => {
                match arns
                    .iter()
                    .find(|arn| account_of_role_arn(arn) == Some(account_id))
                {
                    Some(arn) => Some(self.assumed_config(arn, account_id).await),
                    None => None,
                }
            }
            AccountStrategy::Organization => {
                let arn = role_arn(
                    caller.partition(),
                    account_id,
                    &self.settings().account_read_role_name,
                );
                Some(self.assumed_config(&arn, account_id).await)
            }
        })
    }

    /// Who reads the organization's accounts: ORGANIZATION_ROLE_ARN or the caller. `None`
    /// with ACCOUNT_ROLE_ARNS, where accounts are not listed from the organization.
    pub async fn organization_reader(&self) -> Result<Option<OrganizationReader>, String> {
        let region = self.home_region().to_owned();
        match &self.settings().account_strategy {
            AccountStrategy::RoleArns(_) => Ok(None),
            AccountStrategy::Organization | AccountStrategy::Single => {
                if let (AccountStrategy::Organization, Some(arn)) = (
                    &self.settings().account_strategy,
                    &self.settings().organization_role_arn,
                ) {
                    let account_id = account_of_role_arn(arn).unwrap_or_default().to_owned();
                    let config = self.assumed_config(arn, &account_id).await;
                    return Ok(Some(OrganizationReader {
                        account_id,
                        config,
                        region,
                    }));
                }
                let caller = self.caller_identity().await?;
                Ok(Some(OrganizationReader {
                    account_id: caller.account_id.clone(),
                    config: self.caller_context(&caller).config,
                    region,
                }))
            }
        }
    }
}
