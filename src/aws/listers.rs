//! Which module lists each regional kind. A new regional kind is its own module (one
//! `fetch_region`) and one entry here; the fan-out reads this table.

use super::scopes::{AccountContext, ScopePages};
use super::{Kind, acm, secrets};

/// Every page of one kind in one region (the `String`) of one account.
pub(super) type RegionLister = fn(AccountContext, String) -> ScopePages;

const REGIONAL: [(Kind, RegionLister); 2] = [
    (Kind::AcmCertificate, acm::fetch_region),
    (Kind::Secret, secrets::fetch_region),
];

/// The lister of a regional kind; None for the organisation-wide accounts.
pub(super) fn region_lister(kind: Kind) -> Option<RegionLister> {
    REGIONAL
        .iter()
        .find(|(regional, _)| *regional == kind)
        .map(|(_, lister)| *lister)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A kind missing from the table would silently never be read.
    #[test]
    fn every_kind_but_accounts_has_a_region_lister() {
        for kind in Kind::ALL {
            assert_eq!(
                region_lister(kind).is_some(),
                kind != Kind::Account,
                "{kind}"
            );
        }
    }
}
