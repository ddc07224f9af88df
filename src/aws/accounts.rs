//! `AWS::Organizations::Account`: the organisation's accounts, once per resync.
//!
//! Falls back to the caller's own account when it is not in an organisation or may
//! not list it (a member account), so single-account users still get their account.
//! moto answers ListAccounts outside an organisation with an empty list instead of
//! AWSOrganizationsNotInUseException; an empty listing falls back too.

use aws_sdk_organizations::error::SdkError;
use aws_sdk_organizations::operation::list_accounts::{ListAccountsError, ListAccountsOutput};
use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};
use futures::stream::{self, BoxStream, StreamExt};

use super::calls::counted_client;
use super::errors::{AwsFailure, ScopeError, describe_sdk_error, sdk_failure};
use super::identity::CallerIdentity;
use super::raw::RawItem;
use super::scopes::{AccountContext, ScopePages, page};
use super::{Kind, Page};

const KIND: Kind = Kind::Account;

/// Every page of ListAccounts, or the caller's own account as the single item when
/// the organisation cannot be listed. `region` is the first configured region: the
/// client's region and the items' `__Region`.
pub(crate) fn fetch(account: AccountContext, caller: CallerIdentity, region: String) -> ScopePages {
    let client = counted_client!(aws_sdk_organizations, &account.config, &region);
    let mut paginator = client.list_accounts().into_paginator().send();
    let listing = Listing {
        pages: stream::poll_fn(move |context| paginator.poll_next(context)).boxed(),
        account,
        caller,
        region,
        listed_an_account: false,
        finished: false,
    };
    stream::unfold(listing, |mut listing| async move {
        let next = listing.next().await?;
        Some((next, listing))
    })
    .boxed()
}

/// Where the accounts listing stands.
struct Listing {
    pages: BoxStream<'static, Result<ListAccountsOutput, SdkError<ListAccountsError>>>,
    account: AccountContext,
    caller: CallerIdentity,
    region: String,
    listed_an_account: bool,
    finished: bool,
}

impl Listing {
    async fn next(&mut self) -> Option<Result<Page, ScopeError>> {
        if self.finished {
            return None;
        }
        match self.pages.next().await {
            Some(Ok(output)) => {
                let origin = self.account.origin(KIND, &self.region);
                let items: Vec<_> = output
                    .accounts
                    .unwrap_or_default()
                    .iter()
                    .map(|member| origin.wrap(account_item(member)))
                    .collect();
                self.listed_an_account |= !items.is_empty();
                Some(Ok(page(
                    KIND,
                    &self.account.account_id,
                    &self.region,
                    items,
                )))
            }
            // Only while nothing was listed: once part of the organisation came back, a
            // failure is a real error, not a sign of being outside an organisation.
            Some(Err(error)) if !self.listed_an_account && means_no_organization_access(&error) => {
                Some(Ok(self.own_account_only(&describe_sdk_error(
                    "ListAccounts",
                    &error,
                ))))
            }
            Some(Err(error)) => {
                self.finished = true;
                let failure = sdk_failure("ListAccounts", &error);
                Some(Err(self.account.scope_error(KIND, None, failure)))
            }
            // A real organisation always lists at least its management account. An
            // empty listing is treated like no organisation, so the caller's account is
            // synced rather than every account being dropped from the catalog.
            None if !self.listed_an_account => {
                Some(Ok(self.own_account_only("ListAccounts listed no account")))
            }
            None => None,
        }
    }

    fn own_account_only(&mut self, reason: &str) -> Page {
        self.finished = true;
        tracing::info!(
            account_id = %self.caller.account_id,
            reason,
            "cannot list the organization's accounts; syncing the caller's own account only"
        );
        let item = self
            .account
            .origin(KIND, &self.region)
            .wrap(own_account_item(&self.caller));
        page(KIND, &self.account.account_id, &self.region, vec![item])
    }
}

/// Every account of the organisation (every ListAccounts page), read with `config`.
pub(crate) async fn list_all(
    config: &aws_types::SdkConfig,
    region: &str,
) -> Result<Vec<Account>, AwsFailure> {
    let client = counted_client!(aws_sdk_organizations, config, region);
    let mut pages = client.list_accounts().into_paginator().send();
    let mut accounts = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| sdk_failure("ListAccounts", &error))?;
        accounts.extend(page.accounts.unwrap_or_default());
    }
    Ok(accounts)
}

/// An account we can read: State ACTIVE, or Status ACTIVE where AWS reports no State
/// (older responses carry only the deprecated Status).
pub(crate) fn is_active(account: &Account) -> bool {
    match &account.state {
        Some(state) => *state == AccountState::Active,
        None => account.status == Some(AccountStatus::Active),
    }
}

/// Listed accounts as pages of `AWS::Organizations::Account` items, `__AccountId` being
/// the account that listed them.
pub(crate) fn pages_of(
    listed_by: AccountContext,
    region: String,
    accounts: Vec<Account>,
) -> ScopePages {
    const PER_PAGE: usize = 100;
    let chunks: Vec<Vec<Account>> = accounts.chunks(PER_PAGE).map(<[Account]>::to_vec).collect();
    stream::iter(chunks)
        .map(move |chunk| {
            let origin = listed_by.origin(KIND, &region);
            let items = chunk
                .iter()
                .map(|member| origin.wrap(account_item(member)))
                .collect();
            Ok(page(KIND, &listed_by.account_id, &region, items))
        })
        .boxed()
}

/// An account known only by its id (an ACCOUNT_ROLE_ARNS target).
pub(crate) fn bare_account_page(account: &AccountContext, partition: &str, region: &str) -> Page {
    let caller = CallerIdentity {
        account_id: account.account_id.clone(),
        arn: format!("arn:{partition}:iam::{}:root", account.account_id),
    };
    let item = account.origin(KIND, region).wrap(own_account_item(&caller));
    page(KIND, &account.account_id, region, vec![item])
}

fn means_no_organization_access(error: &SdkError<ListAccountsError>) -> bool {
    error.as_service_error().is_some_and(|error| {
        error.is_aws_organizations_not_in_use_exception() || error.is_access_denied_exception()
    })
}

/// One member account as AWS's ListAccounts JSON names it.
pub(crate) fn account_item(account: &Account) -> RawItem {
    let mut item = RawItem::new();
    item.string("Id", account.id.as_deref())
        .string("Arn", account.arn.as_deref())
        .string("Email", account.email.as_deref())
        .string("Name", account.name.as_deref())
        .string("Status", account.status.as_ref().map(|v| v.as_str()))
        .string("State", account.state.as_ref().map(|v| v.as_str()))
        .strings(
            "Paths",
            account
                .paths
                .as_ref()
                .map(|paths| paths.iter().map(String::as_str)),
        )
        .string(
            "JoinedMethod",
            account.joined_method.as_ref().map(|v| v.as_str()),
        )
        .timestamp("JoinedTimestamp", account.joined_timestamp.as_ref());
    item
}

/// The caller's own account, as much of it as STS tells: its id doubles as its name.
fn own_account_item(caller: &CallerIdentity) -> RawItem {
    let id = caller.account_id.as_str();
    let arn = format!("arn:{}:iam::{id}:root", caller.partition());
    let mut item = RawItem::new();
    item.string("Id", Some(id))
        .string("Name", Some(id))
        .string("Arn", Some(&arn));
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_organizations::types::{AccountJoinedMethod, AccountState, AccountStatus};
    use aws_smithy_types::DateTime;
    use serde_json::{Value, json};

    #[test]
    fn converts_every_field_with_aws_names() {
        let account = Account::builder()
            .id("111111111111")
            .arn("arn:aws:organizations::123456789012:account/o-abc/111111111111")
            .email("dev@example.com")
            .name("dev")
            .status(AccountStatus::Active)
            .state(AccountState::PendingClosure)
            .paths("o-abc/r-root/ou-root-dev/111111111111/")
            .paths("o-abc/r-root/111111111111/")
            .joined_method(AccountJoinedMethod::Created)
            .joined_timestamp(DateTime::from_secs(1_700_000_000))
            .build();
        assert_eq!(
            Value::Object(account_item(&account).into_map()),
            json!({
                "Id": "111111111111",
                "Arn": "arn:aws:organizations::123456789012:account/o-abc/111111111111",
                "Email": "dev@example.com",
                "Name": "dev",
                "Status": "ACTIVE",
                "State": "PENDING_CLOSURE",
                "Paths": [
                    "o-abc/r-root/ou-root-dev/111111111111/",
                    "o-abc/r-root/111111111111/"
                ],
                "JoinedMethod": "CREATED",
                "JoinedTimestamp": "2023-11-14T22:13:20Z"
            })
        );
    }

    #[test]
    fn minimal_account_has_no_nulls() {
        let account = Account::builder().id("111111111111").build();
        assert_eq!(
            Value::Object(account_item(&account).into_map()),
            json!({"Id": "111111111111"})
        );
    }

    fn list_accounts_failure(error: ListAccountsError) -> SdkError<ListAccountsError> {
        let response = aws_sdk_organizations::config::http::HttpResponse::new(
            400.try_into().expect("valid status"),
            aws_smithy_types::body::SdkBody::empty(),
        );
        SdkError::service_error(error, response)
    }

    // moto cannot deny ListAccounts, so the AccessDenied branch is checked here.
    #[test]
    fn falls_back_only_when_not_in_or_not_allowed_to_list_an_organization() {
        use aws_sdk_organizations::types::error::{
            AccessDeniedException, AwsOrganizationsNotInUseException, TooManyRequestsException,
        };
        let denied = ListAccountsError::AccessDeniedException(
            AccessDeniedException::builder()
                .message("member account")
                .build(),
        );
        let not_in_use = ListAccountsError::AwsOrganizationsNotInUseException(
            AwsOrganizationsNotInUseException::builder().build(),
        );
        let throttled = ListAccountsError::TooManyRequestsException(
            TooManyRequestsException::builder().build(),
        );
        assert!(means_no_organization_access(&list_accounts_failure(denied)));
        assert!(means_no_organization_access(&list_accounts_failure(
            not_in_use
        )));
        assert!(!means_no_organization_access(&list_accounts_failure(
            throttled
        )));
        assert!(!means_no_organization_access(&SdkError::timeout_error(
            "slow"
        )));
    }

    #[test]
    fn only_active_accounts_are_read() {
        let with = |state: Option<AccountState>, status: Option<AccountStatus>| {
            Account::builder()
                .id("111111111111")
                .set_state(state)
                .set_status(status)
                .build()
        };
        assert!(is_active(&with(Some(AccountState::Active), None)));
        assert!(is_active(&with(None, Some(AccountStatus::Active))));
        // State wins over Status when both are present.
        assert!(!is_active(&with(
            Some(AccountState::Suspended),
            Some(AccountStatus::Active)
        )));
        assert!(!is_active(&with(Some(AccountState::PendingClosure), None)));
        assert!(!is_active(&with(Some(AccountState::Closed), None)));
        assert!(!is_active(&with(None, Some(AccountStatus::Suspended))));
        assert!(!is_active(&with(None, None)));
    }

    #[test]
    fn own_account_uses_the_caller_partition() {
        let caller = CallerIdentity {
            account_id: "222222222222".to_owned(),
            arn: "arn:aws-us-gov:sts::222222222222:assumed-role/sync/s".to_owned(),
        };
        assert_eq!(
            Value::Object(own_account_item(&caller).into_map()),
            json!({
                "Id": "222222222222",
                "Name": "222222222222",
                "Arn": "arn:aws-us-gov:iam::222222222222:root"
            })
        );
    }
}
