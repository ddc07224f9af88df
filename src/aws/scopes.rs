//! Scopes: the unit of fetching (one kind in one account and one region). The fan-out
//! over accounts and regions is in `sources`.

use aws_types::SdkConfig;

use super::errors::ScopeError;
use super::raw::Origin;
use super::{Kind, Page};

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
        message: String,
    ) -> ScopeError {
        ScopeError {
            kind,
            account_id: self.account_id.clone(),
            region: region.map(str::to_owned),
            message,
        }
    }
}

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
