//! What one resync reads: from the account strategy, the accounts to read (and with
//! which credentials) and where the account entities come from.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_organizations::types::Account;
use aws_types::SdkConfig;
use futures::stream::{self, StreamExt};

use super::accounts;
use super::assumed_roles::AssumedRoles;
use super::errors::AwsFailure;
use super::identity::CallerIdentity;
use super::scopes::{AccountContext, ScopePages};
use super::settings::{AccountStrategy, AwsSettings, account_of_role_arn, role_arn};

/// One account to read and how.
pub(super) struct Target {
    pub account: AccountContext,
    /// The role assumed to read it; None = the caller's own credentials.
    pub role_arn: Option<String>,
}

/// Where the account entities come from.
enum AccountListing {
    /// Single-account strategy: the organisation as the caller sees it, or the
    /// caller's own account.
    Caller {
        account: Box<AccountContext>,
        caller: CallerIdentity,
    },
    /// Organization strategy: ListAccounts, already narrowed by ACCOUNT_IDS and
    /// EXCLUDE_ACCOUNT_IDS, listed once from the management side.
    Listed {
        listed_by: Box<AccountContext>,
        accounts: Vec<Account>,
    },
    /// ACCOUNT_ROLE_ARNS: the target accounts by id.
    Targets { partition: String },
}

/// What one resync reads: the accounts and where the account entities come from.
pub(super) struct Plan {
    pub targets: Vec<Arc<Target>>,
    listing: AccountListing,
    /// Organization strategy: every account the (complete) ListAccounts returned, before
    /// ACCOUNT_IDS / EXCLUDE_ACCOUNT_IDS; what tells an account that left the organization
    /// from one left out by configuration.
    pub organization: Option<BTreeSet<String>>,
}

/// A failure that leaves nothing to read (the caller or the organisation unknown).
pub(super) struct PlanError {
    /// Empty when the caller's account itself is unknown.
    pub account_id: String,
    pub failure: AwsFailure,
}

/// Turns the account strategy into a [`Plan`].
pub(super) struct Planner<'a> {
    pub settings: &'a AwsSettings,
    /// The caller's own config.
    pub config: &'a SdkConfig,
    /// Where global APIs (Organizations) are called.
    pub home_region: &'a str,
    pub roles: &'a AssumedRoles,
}

impl Planner<'_> {
    pub(super) async fn plan(&self, caller: CallerIdentity) -> Result<Plan, PlanError> {
        match &self.settings.account_strategy {
            AccountStrategy::Single => Ok(self.single_plan(caller)),
            AccountStrategy::Organization => self.organization_plan(&caller).await,
            AccountStrategy::RoleArns(arns) => Ok(self.role_arns_plan(&caller, arns).await),
        }
    }

    fn single_plan(&self, caller: CallerIdentity) -> Plan {
        let targets = if self.settings.wants_account(&caller.account_id) {
            vec![Arc::new(Target {
                account: self.caller_context(&caller),
                role_arn: None,
            })]
        } else {
            tracing::info!(account_id = %caller.account_id, "the caller's account is left out by ACCOUNT_IDS / EXCLUDE_ACCOUNT_IDS");
            Vec::new()
        };
        Plan {
            targets,
            listing: AccountListing::Caller {
                account: Box::new(self.caller_context(&caller)),
                caller,
            },
            organization: None,
        }
    }

    async fn role_arns_plan(&self, caller: &CallerIdentity, arns: &[String]) -> Plan {
        let mut targets = Vec::new();
        for arn in arns {
            let account_id = account_of_role_arn(arn).unwrap_or_default().to_owned();
            if !self.settings.wants_account(&account_id) {
                tracing::debug!(account_id, "left out by ACCOUNT_IDS / EXCLUDE_ACCOUNT_IDS");
                continue;
            }
            let config = self.roles.config(arn, &account_id).await;
            targets.push(Arc::new(Target {
                account: AccountContext { account_id, config },
                role_arn: Some(arn.clone()),
            }));
        }
        Plan {
            targets,
            listing: AccountListing::Targets {
                partition: caller.partition().to_owned(),
            },
            organization: None,
        }
    }

    async fn organization_plan(&self, caller: &CallerIdentity) -> Result<Plan, PlanError> {
        let listed_by = match &self.settings.organization_role_arn {
            Some(arn) => {
                let account_id = account_of_role_arn(arn).unwrap_or_default().to_owned();
                let config = self.roles.config(arn, &account_id).await;
                AccountContext { account_id, config }
            }
            None => self.caller_context(caller),
        };
        let listed = accounts::list_all(&listed_by.config, self.home_region)
            .await
            .map_err(|failure| PlanError {
                account_id: listed_by.account_id.clone(),
                failure: match &self.settings.organization_role_arn {
                    Some(arn) => {
                        failure.within(format!("listing the organization's accounts as {arn}"))
                    }
                    None => failure.within("listing the organization's accounts"),
                },
            })?;
        let organization: BTreeSet<String> = listed
            .iter()
            .filter_map(|account| account.id().map(str::to_owned))
            .collect();
        let accounts: Vec<_> = listed
            .into_iter()
            .filter(|account| {
                account
                    .id()
                    .is_some_and(|id| self.settings.wants_account(id))
            })
            .collect();
        let mut targets = Vec::new();
        for account in &accounts {
            let Some(account_id) = account.id() else {
                continue;
            };
            if !accounts::is_active(account) {
                tracing::info!(account_id, "account is not ACTIVE; not read");
                continue;
            }
            targets.push(Arc::new(self.member_target(caller, account_id).await));
        }
        tracing::info!(
            listed = accounts.len(),
            read = targets.len(),
            "organization accounts resolved"
        );
        Ok(Plan {
            targets,
            listing: AccountListing::Listed {
                listed_by: Box::new(listed_by),
                accounts,
            },
            organization: Some(organization),
        })
    }

    /// An organisation member read through ACCOUNT_READ_ROLE_NAME. The caller's own
    /// account (usually the management account, which has no read role of its own
    /// unless one was created) is read with the caller's credentials.
    async fn member_target(&self, caller: &CallerIdentity, account_id: &str) -> Target {
        if account_id == caller.account_id {
            return Target {
                account: self.caller_context(caller),
                role_arn: None,
            };
        }
        let arn = role_arn(
            caller.partition(),
            account_id,
            &self.settings.account_read_role_name,
        );
        let config = self.roles.config(&arn, account_id).await;
        Target {
            account: AccountContext {
                account_id: account_id.to_owned(),
                config,
            },
            role_arn: Some(arn),
        }
    }

    fn caller_context(&self, caller: &CallerIdentity) -> AccountContext {
        AccountContext {
            account_id: caller.account_id.clone(),
            config: self.config.clone(),
        }
    }
}

impl Plan {
    /// The `AWS::Organizations::Account` pages: listed once per resync, not per account.
    pub(super) fn account_pages(&self, home_region: &str) -> ScopePages {
        let home = home_region.to_owned();
        match &self.listing {
            AccountListing::Caller { account, caller } => {
                accounts::fetch((**account).clone(), caller.clone(), home)
            }
            AccountListing::Listed {
                listed_by,
                accounts,
            } => accounts::pages_of((**listed_by).clone(), home, accounts.clone()),
            AccountListing::Targets { partition } => {
                let pages: Vec<_> = self
                    .targets
                    .iter()
                    .map(|target| {
                        Ok(accounts::bare_account_page(
                            &target.account,
                            partition,
                            &home,
                        ))
                    })
                    .collect();
                stream::iter(pages).boxed()
            }
        }
    }
}
