//! Scopes: the unit of fetching (one kind in one account and one region), and the one
//! way a paginated List call becomes a scope's pages. The fan-out over accounts and
//! regions is in `fanout`.

use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_types::SdkConfig;
use std::task::{Context, Poll};

use futures::stream::{self, BoxStream, StreamExt};

use super::errors::{AwsFailure, ScopeError, sdk_failure};
use super::raw::{Origin, RawItem};
use super::{Kind, Page};

/// The pages of one or more scopes as they arrive, a failed scope as its error.
pub(crate) type ScopePages = BoxStream<'static, Result<Page, ScopeError>>;

/// The account a scope reads and the SDK config (credentials included) to read it
/// with: the caller's own credentials, or those of a role assumed in the account.
#[derive(Debug, Clone)]
pub(crate) struct AccountContext {
    pub account_id: String,
    pub config: SdkConfig,
}

impl AccountContext {
    pub(crate) fn origin<'a>(&'a self, kind: Kind, region: &'a str) -> Origin<'a> {
        Origin {
            kind,
            account_id: &self.account_id,
            region,
        }
    }

    pub(crate) fn scope_error(
        &self,
        kind: Kind,
        region: Option<&str>,
        failure: AwsFailure,
    ) -> ScopeError {
        ScopeError {
            kind,
            account_id: self.account_id.clone(),
            region: region.map(str::to_owned),
            message: failure.message,
            code: failure.code,
        }
    }
}

/// What a regional kind's List call is: which kind its items are, the operation's
/// name (for errors), where a response keeps its items and how one item is named in
/// AWS's JSON.
pub(crate) struct ListCall<Output, Item> {
    pub kind: Kind,
    pub operation: &'static str,
    pub items: fn(Output) -> Vec<Item>,
    pub item: fn(&Item) -> RawItem,
}

impl<Output, Item> ListCall<Output, Item> {
    /// Every page of a paginated call in one region of one account: each response's
    /// items wrapped with their origin into a [`Page`], a failed call into the
    /// scope's [`ScopeError`]. `next_response` polls the call's paginator
    /// (`move |context| paginator.poll_next(context)`).
    pub(crate) fn pages<E>(
        &self,
        account: AccountContext,
        region: String,
        next_response: impl FnMut(
            &mut Context<'_>,
        ) -> Poll<Option<Result<Output, SdkError<E, HttpResponse>>>>
        + Send
        + 'static,
    ) -> ScopePages
    where
        Output: 'static,
        Item: 'static,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let ListCall {
            kind,
            operation,
            items,
            item,
        } = *self;
        stream::poll_fn(next_response)
            .map(move |response| match response {
                Ok(output) => {
                    let origin = account.origin(kind, &region);
                    let wrapped = items(output)
                        .iter()
                        .map(|one| origin.wrap(item(one)))
                        .collect();
                    Ok(page(kind, &account.account_id, &region, wrapped))
                }
                Err(error) => {
                    Err(account.scope_error(kind, Some(&region), sdk_failure(operation, &error)))
                }
            })
            .boxed()
    }
}

// Derived Clone/Copy would ask the same of Output and Item; the fields are all Copy.
impl<Output, Item> Clone for ListCall<Output, Item> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Output, Item> Copy for ListCall<Output, Item> {}

/// A page of items from one scope, logged as it arrives.
pub(crate) fn page(
    kind: Kind,
    account_id: &str,
    region: &str,
    items: Vec<serde_json::Value>,
) -> Page {
    tracing::debug!(
        kind = kind.as_str(),
        account_id,
        region,
        count = items.len(),
        "fetched page"
    );
    Page {
        kind,
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        items,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use aws_sdk_secretsmanager::operation::list_secrets::ListSecretsError;

    const NAMES: ListCall<Vec<&'static str>, &'static str> = ListCall {
        kind: Kind::Secret,
        operation: "ListSecrets",
        items: |output| output,
        item: |name| {
            let mut item = RawItem::new();
            item.string("Name", Some(name));
            item
        },
    };

    fn account() -> AccountContext {
        AccountContext {
            account_id: "123456789012".to_owned(),
            config: SdkConfig::builder().build(),
        }
    }

    #[tokio::test]
    async fn list_pages_wrap_items_and_a_failed_call_is_the_scope_error() {
        let denied = SdkError::service_error(
            ListSecretsError::generic(
                aws_sdk_secretsmanager::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not allowed")
                    .build(),
            ),
            HttpResponse::new(
                400.try_into().expect("valid status"),
                aws_smithy_types::body::SdkBody::empty(),
            ),
        );
        let mut responses = stream::iter(vec![Ok(vec!["db", "api"]), Err(denied)]);
        let results: Vec<_> = NAMES
            .pages(account(), "eu-west-1".to_owned(), move |context| {
                responses.poll_next_unpin(context)
            })
            .collect()
            .await;
        let [Ok(first), Err(failed)] = &results[..] else {
            panic!("one page then one error: {results:?}");
        };
        assert_eq!(
            (first.kind, first.region.as_str()),
            (Kind::Secret, "eu-west-1")
        );
        assert_eq!(first.account_id, "123456789012");
        let names: Vec<_> = first.items.iter().map(|item| &item["Name"]).collect();
        assert_eq!(names, [&json!("db"), &json!("api")]);
        assert_eq!(first.items[0]["__Region"], json!("eu-west-1"));
        assert_eq!(
            failed,
            &ScopeError {
                kind: Kind::Secret,
                account_id: "123456789012".to_owned(),
                region: Some("eu-west-1".to_owned()),
                message: "ListSecrets: AccessDeniedException: not allowed".to_owned(),
                code: Some("AccessDeniedException".to_owned()),
            }
        );
    }
}
