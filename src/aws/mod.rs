//! AWS sources: credentials, accounts, regions, one module per kind.
//!
//! [`AwsSources::load`] checks the set-up without calling any AWS API;
//! [`AwsSources::fetch`] then streams pages of raw items (AWS API items as JSON, see
//! [`raw`]) for one kind, scope by scope.
//!
//! A new regional kind is a variant of [`Kind`], a module whose `fetch_region` declares
//! its List call as a `scopes::ListCall`, and one entry in `listers`.

mod account_plan;
mod accounts;
mod acm;
mod assumed_roles;
mod cached_credentials;
pub mod calls;
mod errors;
mod fanout;
mod identity;
mod listers;
pub mod lookup;
mod one_account;
pub mod raw;
pub mod regions;
pub mod reread;
mod scopes;
mod sdk_setup;
mod secrets;
mod settings;
mod sources;

pub(crate) use errors::describe_sdk_error;
pub use errors::{AwsSetupError, ReadError, ScopeError};
pub use identity::CallerIdentity;
pub use one_account::OrganizationReader;
pub use sdk_setup::CREDENTIALS_CHECK_TIMEOUT;
pub use settings::{
    AccountStrategy, AwsSettings, account_of_role_arn, parse_region_list, role_arn,
};
pub use sources::{AwsSources, Organization, RegionFilter, every_region};

/// Kinds we sync; as_str() gives the Ocean kind name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Account,
    AcmCertificate,
    Secret,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Account, Kind::AcmCertificate, Kind::Secret];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Account => "AWS::Organizations::Account",
            Kind::AcmCertificate => "AWS::ACM::Certificate",
            Kind::Secret => "AWS::SecretsManager::Secret",
        }
    }

    /// The kind with this Ocean kind name (exact match, as in Ocean mapping files).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Accounts are listed once per resync; the other kinds once per region, each by
    /// its lister in `listers`.
    pub fn is_regional(self) -> bool {
        listers::region_lister(self).is_some()
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One API page of raw items from one scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub kind: Kind,
    pub account_id: String,
    pub region: String,
    pub items: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn kind_names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::Account.as_str(), "AWS::Organizations::Account");
        assert_eq!(Kind::AcmCertificate.as_str(), "AWS::ACM::Certificate");
        assert_eq!(Kind::Secret.as_str(), "AWS::SecretsManager::Secret");
        assert_eq!(Kind::from_name("aws::acm::certificate"), None);
        assert_eq!(Kind::from_name("AWS::S3::Bucket"), None);
    }
}
