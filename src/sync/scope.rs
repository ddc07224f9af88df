//! Scopes: the units a resync reads AWS in, and which of them it read completely.
//!
//! A scope is (kind, account, region) for a regional kind and the organization's listing for
//! accounts. Stale deletion is decided per scope: an entity this resync did not produce is
//! deleted only when the scope it belongs to was read completely (every page, no error) and
//! everything read in it mapped and was written. A scope that failed keeps all its entities.
//!
//! Which scope an entity *in Port* belongs to is recovered from the entity itself, with no
//! extra Port request and whatever the user's mapping writes:
//! - an ARN in its identifier or in any string property (`arn:partition:service:region:
//!   account:…`) names the kind (by its service), the account and the region: the shipped
//!   mapping and most real ones hold one;
//! - else an account id (a relation or property whose name contains `account`, 12 digits) and
//!   a `region` property, with the kind of the blueprint when one kind feeds it;
//! - entities of a blueprint fed by the accounts kind belong to the organization's listing.
//!
//! An entity whose scope cannot be told is deleted only after a resync complete everywhere,
//! so no mapping can make a failed scope lose entities.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::aws::{Kind, Page, ScopeError};

/// One scope. For the accounts kind (listed once for the organization) `account` and
/// `region` are empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScopeKey {
    pub kind: Kind,
    pub account: String,
    pub region: String,
}

impl ScopeKey {
    pub fn new(kind: Kind, account: &str, region: &str) -> Self {
        if kind.is_regional() {
            ScopeKey {
                kind,
                account: account.to_owned(),
                region: region.to_owned(),
            }
        } else {
            Self::organization(kind)
        }
    }

    pub fn organization(kind: Kind) -> Self {
        ScopeKey {
            kind,
            account: String::new(),
            region: String::new(),
        }
    }

    /// The account entity of account `id`: a scope of its own, never listed by itself, so
    /// [`ScopeLedger::unclean`] judges it by the organization's listing.
    pub fn of_account_entity(id: &str) -> Self {
        ScopeKey {
            kind: Kind::Account,
            account: id.to_owned(),
            region: String::new(),
        }
    }

    pub fn of_page(page: &Page) -> Self {
        Self::new(page.kind, &page.account_id, &page.region)
    }

    pub fn of_error(error: &ScopeError) -> Self {
        Self::new(
            error.kind,
            &error.account_id,
            error.region.as_deref().unwrap_or_default(),
        )
    }
}

impl ScopeKey {
    /// `{kind, account, region}`; account and region null for the organization's listing.
    pub fn to_json(&self) -> serde_json::Value {
        if self.account.is_empty() {
            serde_json::json!({"kind": self.kind.as_str(), "account": null, "region": null})
        } else {
            serde_json::json!({"kind": self.kind.as_str(), "account": self.account,
                               "region": self.region})
        }
    }
}

impl std::fmt::Display for ScopeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.account.is_empty() {
            write!(f, "{} (organization)", self.kind)
        } else if self.region.is_empty() {
            write!(f, "{} of account {}", self.kind, self.account)
        } else {
            write!(f, "{} in {} {}", self.kind, self.account, self.region)
        }
    }
}

/// How one scope went this resync.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ScopeRead {
    pub pages: u64,
    /// Items AWS listed in it (before any selector): zero on a complete read is what the
    /// empty-read guard looks at.
    pub items: u64,
    pub error: Option<ScopeError>,
    pub unmapped_items: u64,
    pub refused_writes: u64,
}

/// Why an entity of a scope may not be deleted this resync.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unclean {
    /// The scope was not read: not fetched this resync (region or account left out, the
    /// account's regions unknown…).
    NotRead,
    /// Reading it failed, with AWS's error code when it gave one.
    Failed { code: Option<String> },
    /// Some of its items could not be mapped.
    UnmappedItems(u64),
    /// Port refused some of its writes.
    RefusedWrites(u64),
}

impl std::fmt::Display for Unclean {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unclean::NotRead => f.write_str("not read this resync"),
            Unclean::Failed { code: Some(code) } => write!(f, "read failed ({code})"),
            Unclean::Failed { code: None } => f.write_str("read failed"),
            Unclean::UnmappedItems(n) => write!(f, "{n} item(s) not mapped"),
            Unclean::RefusedWrites(n) => write!(f, "{n} write(s) refused"),
        }
    }
}

/// Every scope this resync touched, and how it went.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ScopeLedger {
    pub scopes: BTreeMap<ScopeKey, ScopeRead>,
    /// Every account a complete ListAccounts returned (before ACCOUNT_IDS /
    /// EXCLUDE_ACCOUNT_IDS), when the organization was listed and the listing completed;
    /// `None` otherwise (single account, ACCOUNT_ROLE_ARNS, or ListAccounts failed).
    pub organization: Option<BTreeSet<String>>,
}

impl ScopeLedger {
    pub fn page(&mut self, page: &Page) {
        let read = self.scopes.entry(ScopeKey::of_page(page)).or_default();
        read.pages += 1;
        read.items += page.items.len() as u64;
    }

    /// The account of `scope` is not in the organization: a complete ListAccounts did not
    /// return it. Not the same as left out by ACCOUNT_IDS / EXCLUDE_ACCOUNT_IDS (still listed),
    /// and never true when the listing failed or was not made.
    pub fn left_organization(&self, scope: &ScopeKey) -> bool {
        !scope.account.is_empty()
            && self
                .organization
                .as_ref()
                .is_some_and(|members| !members.contains(&scope.account))
    }

    /// Read completely, everything in it clean, and AWS listed no item in it.
    pub fn listed_empty(&self, scope: &ScopeKey) -> bool {
        self.unclean(scope).is_none() && self.scopes.get(scope).is_some_and(|r| r.items == 0)
    }

    pub fn failed(&mut self, error: &ScopeError) {
        self.scopes
            .entry(ScopeKey::of_error(error))
            .or_default()
            .error = Some(error.clone());
    }

    pub fn unmapped_item(&mut self, scope: ScopeKey) {
        self.scopes.entry(scope).or_default().unmapped_items += 1;
    }

    pub fn refused_write(&mut self, scope: ScopeKey) {
        self.scopes.entry(scope).or_default().refused_writes += 1;
    }

    /// `None` when the scope's entities may be deleted: read completely, everything in it
    /// mapped and written.
    pub fn unclean(&self, scope: &ScopeKey) -> Option<Unclean> {
        let Some(read) = self.scopes.get(scope) else {
            return Some(self.wider_failure(scope).unwrap_or(Unclean::NotRead));
        };
        if let Some(error) = &read.error {
            return Some(Unclean::Failed {
                code: error.code.clone(),
            });
        }
        if read.pages == 0 {
            return Some(self.wider_failure(scope).unwrap_or(Unclean::NotRead));
        }
        if read.unmapped_items > 0 {
            return Some(Unclean::UnmappedItems(read.unmapped_items));
        }
        if read.refused_writes > 0 {
            return Some(Unclean::RefusedWrites(read.refused_writes));
        }
        None
    }
}

impl ScopeLedger {
    /// A failure that covers `scope` without naming its region: the account could not be
    /// entered (its role refused, its regions unknown), or no account could be (the caller's
    /// identity unknown).
    fn wider_failure(&self, scope: &ScopeKey) -> Option<Unclean> {
        let account_wide = ScopeKey {
            kind: scope.kind,
            account: scope.account.clone(),
            region: String::new(),
        };
        let region_of_no_account = ScopeKey {
            kind: scope.kind,
            account: String::new(),
            region: scope.region.clone(),
        };
        let everywhere = ScopeKey {
            kind: scope.kind,
            account: String::new(),
            region: String::new(),
        };
        [account_wide, region_of_no_account, everywhere]
            .iter()
            .filter(|wider| *wider != scope)
            .find_map(|wider| self.scopes.get(wider)?.error.as_ref())
            .map(|error| Unclean::Failed {
                code: error.code.clone(),
            })
    }
}

/// The kind an AWS service name in an ARN stands for.
fn kind_of_service(service: &str) -> Option<Kind> {
    match service {
        "acm" => Some(Kind::AcmCertificate),
        "secretsmanager" => Some(Kind::Secret),
        "organizations" => Some(Kind::Account),
        _ => None,
    }
}

/// `arn:partition:service:region:account:resource` → (kind, account, region).
fn parse_arn(text: &str) -> Option<(Kind, &str, &str)> {
    let mut fields = text.splitn(6, ':');
    let (arn, partition, service, region, account) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    fields.next()?;
    if arn != "arn" || partition.is_empty() {
        return None;
    }
    Some((kind_of_service(service)?, account, region))
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The scope of an entity as Port holds it (`identifier`, `properties`, `relations`).
/// `blueprint_kind` is the one kind that feeds its blueprint, when there is exactly one.
pub fn scope_of_entity(entity: &Value, blueprint_kind: Option<Kind>) -> Option<ScopeKey> {
    let empty = Map::new();
    let properties = entity
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let relations = entity
        .get("relations")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if blueprint_kind == Some(Kind::Account) {
        // An account entity named by its account id stands for that account: left out by
        // ACCOUNT_IDS / EXCLUDE_ACCOUNT_IDS it is not read (kept while anything failed, as
        // the account's other entities are, which deleting it would take along as
        // dependents); gone from a complete ListAccounts, it left the organization.
        return Some(
            match entity
                .get("identifier")
                .and_then(Value::as_str)
                .filter(|id| is_account_id(id))
            {
                Some(id) => ScopeKey::of_account_entity(id),
                None => ScopeKey::organization(Kind::Account),
            },
        );
    }
    let identifier = entity.get("identifier").and_then(Value::as_str);
    let arn = identifier
        .into_iter()
        .chain(properties.values().filter_map(Value::as_str))
        .find_map(parse_arn);
    if let Some((kind, account, region)) = arn
        && (blueprint_kind.is_none() || blueprint_kind == Some(kind))
    {
        return Some(ScopeKey::new(kind, account, region));
    }
    let kind = blueprint_kind?;
    let account = relations
        .iter()
        .chain(properties.iter())
        .filter(|(name, _)| name.to_ascii_lowercase().contains("account"))
        .find_map(|(_, value)| value.as_str().filter(|v| is_account_id(v)))?;
    let region = properties
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("region"))
        .and_then(|(_, value)| value.as_str())?;
    Some(ScopeKey::new(kind, account, region))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CERT: &str = "arn:aws:acm:eu-west-1:222222222222:certificate/abc";
    const SECRET: &str =
        "arn:aws-us-gov:secretsmanager:us-gov-west-1:333333333333:secret:db-AbCdEf";

    #[test]
    fn an_arn_in_the_identifier_or_a_property_names_the_scope() {
        let by_id = json!({"identifier": CERT, "properties": {}});
        assert_eq!(
            scope_of_entity(&by_id, None),
            Some(ScopeKey::new(
                Kind::AcmCertificate,
                "222222222222",
                "eu-west-1"
            ))
        );
        let by_property = json!({"identifier": "db", "properties": {"title": "x", "arn": SECRET}});
        assert_eq!(
            scope_of_entity(&by_property, Some(Kind::Secret)),
            Some(ScopeKey::new(Kind::Secret, "333333333333", "us-gov-west-1"))
        );
    }

    #[test]
    fn account_and_region_fields_name_the_scope_of_a_blueprint_fed_by_one_kind() {
        let entity = json!({"identifier": "db", "properties": {"region": "eu-west-1"},
                            "relations": {"account": "222222222222"}});
        assert_eq!(
            scope_of_entity(&entity, Some(Kind::Secret)),
            Some(ScopeKey::new(Kind::Secret, "222222222222", "eu-west-1"))
        );
        // Without the kind, or without a region, the scope cannot be told.
        assert_eq!(scope_of_entity(&entity, None), None);
        let no_region = json!({"identifier": "db", "relations": {"account": "222222222222"}});
        assert_eq!(scope_of_entity(&no_region, Some(Kind::Secret)), None);
        assert_eq!(
            scope_of_entity(
                &json!({"identifier": "my-cert"}),
                Some(Kind::AcmCertificate)
            ),
            None
        );
    }

    #[test]
    fn account_entities_are_judged_by_the_organization_listing() {
        let account = json!({"identifier": "222222222222"});
        let scope = ScopeKey::of_account_entity("222222222222");
        assert_eq!(
            scope_of_entity(&account, Some(Kind::Account)),
            Some(scope.clone())
        );
        let other = json!({"identifier": "prod"});
        assert_eq!(
            scope_of_entity(&other, Some(Kind::Account)),
            Some(ScopeKey::organization(Kind::Account))
        );
        // Not listed by itself: not read, or failed with the listing; left when a complete
        // listing lacks it.
        let mut ledger = ScopeLedger::default();
        assert_eq!(ledger.unclean(&scope), Some(Unclean::NotRead));
        ledger.organization = Some(["333333333333".to_owned()].into());
        assert!(ledger.left_organization(&scope));
        ledger.failed(&ScopeError {
            kind: Kind::Account,
            account_id: String::new(),
            region: None,
            message: "ListAccounts: AccessDenied".into(),
            code: Some("AccessDenied".into()),
        });
        assert!(matches!(
            ledger.unclean(&scope),
            Some(Unclean::Failed { .. })
        ));
    }

    #[test]
    fn an_account_that_could_not_be_entered_fails_every_scope_of_it() {
        let mut ledger = ScopeLedger::default();
        ledger.failed(&ScopeError {
            kind: Kind::Secret,
            account_id: "222222222222".into(),
            region: None,
            message: "reading through arn:aws:iam::222222222222:role/r: AccessDenied".into(),
            code: Some("AccessDenied".into()),
        });
        let denied = Some(Unclean::Failed {
            code: Some("AccessDenied".into()),
        });
        let scope = ScopeKey::new(Kind::Secret, "222222222222", "eu-west-1");
        assert_eq!(ledger.unclean(&scope), denied);
        let other_account = ScopeKey::new(Kind::Secret, "333333333333", "eu-west-1");
        assert_eq!(ledger.unclean(&other_account), Some(Unclean::NotRead));
        // No account known at all: every scope of the kind failed, in a region or everywhere.
        let mut in_region = ScopeLedger::default();
        in_region.failed(&ScopeError {
            kind: Kind::Secret,
            account_id: String::new(),
            region: Some("eu-west-1".into()),
            message: "GetCallerIdentity: …".into(),
            code: None,
        });
        assert_eq!(
            in_region.unclean(&other_account),
            Some(Unclean::Failed { code: None })
        );
        let mut nowhere = ScopeLedger::default();
        nowhere.failed(&ScopeError {
            kind: Kind::Secret,
            account_id: String::new(),
            region: None,
            message: "GetCallerIdentity: …".into(),
            code: Some("ExpiredToken".into()),
        });
        assert_eq!(
            nowhere.unclean(&other_account),
            Some(Unclean::Failed {
                code: Some("ExpiredToken".into())
            })
        );
    }

    #[test]
    fn a_scope_is_clean_only_when_read_completely_and_everything_in_it_mapped_and_written() {
        let mut ledger = ScopeLedger::default();
        let page = |region: &str| Page {
            kind: Kind::Secret,
            account_id: "222222222222".into(),
            region: region.into(),
            items: vec![],
        };
        ledger.page(&page("eu-west-1"));
        ledger.page(&page("us-east-1"));
        ledger.failed(&ScopeError {
            kind: Kind::Secret,
            account_id: "222222222222".into(),
            region: Some("us-east-1".into()),
            message: "ListSecrets: AccessDeniedException: no".into(),
            code: Some("AccessDeniedException".into()),
        });
        let west = ScopeKey::new(Kind::Secret, "222222222222", "eu-west-1");
        let east = ScopeKey::new(Kind::Secret, "222222222222", "us-east-1");
        let north = ScopeKey::new(Kind::Secret, "222222222222", "eu-north-1");
        assert_eq!(ledger.unclean(&west), None);
        assert_eq!(
            ledger.unclean(&east),
            Some(Unclean::Failed {
                code: Some("AccessDeniedException".into())
            })
        );
        assert_eq!(ledger.unclean(&north), Some(Unclean::NotRead));
        ledger.unmapped_item(west.clone());
        assert_eq!(ledger.unclean(&west), Some(Unclean::UnmappedItems(1)));
        let mut other = ScopeLedger::default();
        other.page(&page("eu-west-1"));
        other.refused_write(west.clone());
        assert_eq!(other.unclean(&west), Some(Unclean::RefusedWrites(1)));
    }
}
