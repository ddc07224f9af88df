//! Live events: the catalog follows AWS between resyncs. An event (from SQS or the webhook)
//! names a resource; [`recognize`] finds which, [`coalesce`] turns bursts into one read.

pub mod coalesce;
pub mod engine;
pub mod failure;
pub mod handler;
pub mod metrics;
pub mod queue;
pub mod recognize;
pub mod service;
pub mod settings;
pub mod webhook;

pub use coalesce::{Added, Coalescer};
pub use failure::Failure;
pub use handler::{Handled, LiveHandler};
pub use recognize::{Ignored, LiveEvent, Source, recognize, secret_name};

use crate::aws::Kind;
use crate::aws::lookup::account_of_arn;

/// One resource, the same whichever way an event named it (a secret by name or by ARN).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    pub kind: Kind,
    /// None for organization accounts, which belong to the organization.
    pub account: Option<String>,
    /// None for organization accounts, which are global.
    pub region: Option<String>,
    /// A secret's name, a certificate's ARN, an account's id.
    pub id: String,
}

impl LiveEvent {
    pub fn key(&self) -> ResourceKey {
        match self.kind {
            Kind::Account => ResourceKey {
                kind: self.kind,
                account: None,
                region: None,
                id: self.resource.clone(),
            },
            Kind::Secret | Kind::AcmCertificate => {
                let is_arn = self.resource.starts_with("arn:");
                // A replica is read in its own region, whatever region its primary's ARN has.
                let region = match (&self.region, is_arn) {
                    (Some(region), false) => Some(region.clone()),
                    (region, _) => region_of_arn(&self.resource)
                        .map(str::to_owned)
                        .or_else(|| region.clone()),
                };
                ResourceKey {
                    kind: self.kind,
                    account: account_of_arn(&self.resource)
                        .map(str::to_owned)
                        .or_else(|| self.account.clone()),
                    region,
                    id: match self.kind {
                        Kind::Secret => secret_name(&self.resource).to_owned(),
                        _ => self.resource.clone(),
                    },
                }
            }
        }
    }
}

/// The region in an ARN (`arn:partition:service:region:account:resource`).
pub fn region_of_arn(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?
        .split(':')
        .nth(2)
        .filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests;
