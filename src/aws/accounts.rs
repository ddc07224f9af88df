//! `AWS::Organizations::Account`: the organisation's accounts, once per resync.
//!
//! Falls back to the caller's own account when it is not in an organisation or may
//! not list it (a member account), so single-account users still get their account.

use aws_sdk_organizations::config::Region;
use aws_sdk_organizations::error::SdkError;
use aws_sdk_organizations::operation::list_accounts::{ListAccountsError, ListAccountsOutput};
use aws_sdk_organizations::types::Account;
use futures::stream::{self, BoxStream, StreamExt};

use super::errors::{ScopeError, describe_sdk_error};
use super::identity::CallerIdentity;
use super::raw::RawItem;
use super::scopes::{AccountContext, page};
use super::{Kind, Page};

const KIND: Kind = Kind::Account;

/// Every page of ListAccounts, or the caller's own account as the single item when
/// the organisation cannot be listed. `region` is the first configured region: the
/// client's region and the items' `__Region`.
pub(crate) fn fetch(
    account: AccountContext,
    caller: CallerIdentity,
    region: String,
) -> BoxStream<'static, Result<Page, ScopeError>> {
    let config = aws_sdk_organizations::config::Builder::from(&account.config)
        .region(Region::new(region.clone()))
        .build();
    let client = aws_sdk_organizations::Client::from_conf(config);
    let mut paginator = client.list_accounts().into_paginator().send();
    let pages = stream::poll_fn(move |context| paginator.poll_next(context)).boxed();

    struct State {
        pages: BoxStream<'static, Result<ListAccountsOutput, SdkError<ListAccountsError>>>,
        account: AccountContext,
        caller: CallerIdentity,
        region: String,
        listed_a_page: bool,
    }
    let state = State {
        pages,
        account,
        caller,
        region,
        listed_a_page: false,
    };
    stream::unfold(state, |mut state| async move {
        // The paginator ends after an error, so the stream ends there too.
        let result = state.pages.next().await?;
        let origin = state.account.origin(KIND, &state.region);
        let next = match result {
            Ok(output) => {
                state.listed_a_page = true;
                let items = output
                    .accounts
                    .unwrap_or_default()
                    .iter()
                    .map(|member| origin.wrap(account_item(member)))
                    .collect();
                Ok(page(KIND, &state.account.account_id, &state.region, items))
            }
            // Only before the first page: once part of the organisation was listed, a
            // failure is a real error, not a sign of being outside an organisation.
            Err(error) if !state.listed_a_page && means_no_organization_access(&error) => {
                tracing::info!(
                    account_id = %state.caller.account_id,
                    reason = %describe_sdk_error("ListAccounts", &error),
                    "cannot list the organization's accounts; syncing the caller's own account only"
                );
                let item = origin.wrap(own_account_item(&state.caller));
                Ok(page(
                    KIND,
                    &state.account.account_id,
                    &state.region,
                    vec![item],
                ))
            }
            Err(error) => Err(state.account.scope_error(
                KIND,
                None,
                describe_sdk_error("ListAccounts", &error),
            )),
        };
        Some((next, state))
    })
    .boxed()
}

fn means_no_organization_access(error: &SdkError<ListAccountsError>) -> bool {
    error.as_service_error().is_some_and(|error| {
        error.is_aws_organizations_not_in_use_exception() || error.is_access_denied_exception()
    })
}

/// One member account as AWS's ListAccounts JSON names it.
fn account_item(account: &Account) -> RawItem {
    let mut item = RawItem::new();
    item.string("Id", account.id.as_deref())
        .string("Arn", account.arn.as_deref())
        .string("Email", account.email.as_deref())
        .string("Name", account.name.as_deref())
        .string("Status", account.status.as_ref().map(|v| v.as_str()))
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
    use aws_sdk_organizations::types::{AccountJoinedMethod, AccountStatus};
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
                "JoinedMethod": "CREATED",
                "JoinedTimestamp": "2023-11-14T22:13:20Z"
            })
        );
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
