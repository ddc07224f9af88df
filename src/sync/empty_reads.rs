//! The empty-read guard. AWS answering "nothing here" for a scope that held many entities is
//! more often a wrong answer (a role pointed at the wrong account, a policy that lists nothing
//! instead of refusing, an eventual-consistency blip) than a real mass deletion. So a scope
//! read completely with zero items, whose entities in Port number at least
//! `EMPTY_SCOPE_GUARD_MIN`, keeps them for that resync ([`super::plan::Held::EmptyRead`]);
//! the next resync that reads the same scope completely and empty again confirms it and
//! deletes. An account that left the organization is not guarded: its scopes are not read.
//!
//! The guard needs one fact from the previous resync: which scopes it read empty. That is
//! [`EmptyReads`], a value the resync takes in and hands back (`ResyncReport::empty_reads`);
//! where it is kept between resyncs (the daemon's memory, Port's integration record for
//! one-shot runs) is `integration::empty_reads`' business. Missing or stale memory is an
//! empty `EmptyReads`: the scope is held once more, never deleted early.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::plan::Observed;
use super::scope::{ScopeKey, ScopeLedger};
use crate::aws::Kind;
use crate::config::{Env, SettingError};

pub const EMPTY_SCOPE_GUARD_MIN: &str = "EMPTY_SCOPE_GUARD_MIN";
pub const DEFAULT_EMPTY_SCOPE_GUARD_MIN: u64 = 10;

/// The settings of stale deletion that are not in the mapping (`entityDeletionThreshold` is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletionSettings {
    /// Entities a scope must hold in Port for an empty read of it to be held back; 0 turns the
    /// guard off.
    pub empty_scope_guard_min: u64,
}

impl Default for DeletionSettings {
    fn default() -> Self {
        DeletionSettings {
            empty_scope_guard_min: DEFAULT_EMPTY_SCOPE_GUARD_MIN,
        }
    }
}

impl DeletionSettings {
    /// The names [`Self::from_settings`] reads.
    pub const SETTINGS: &'static [&'static str] = &[EMPTY_SCOPE_GUARD_MIN];

    pub fn from_settings<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
    ) -> Result<Self, SettingError> {
        let empty_scope_guard_min = match env.get(&[EMPTY_SCOPE_GUARD_MIN]) {
            None => DEFAULT_EMPTY_SCOPE_GUARD_MIN,
            Some(v) => v.trim().parse().map_err(|_| SettingError {
                name: EMPTY_SCOPE_GUARD_MIN.to_owned(),
                problem: format!(
                    "expected a whole number of entities (0 turns the empty-read guard off), got {v:?}"
                ),
            })?,
        };
        Ok(DeletionSettings {
            empty_scope_guard_min,
        })
    }
}

/// Scopes a resync read completely and found empty while Port held at least the guard's
/// minimum of their entities, with how many Port held.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EmptyReads(pub BTreeMap<ScopeKey, u64>);

impl EmptyReads {
    /// The empty reads of this resync: `ledger` says which scopes were read completely and
    /// empty, `observed` how many entities of each Port holds.
    pub fn observe(observed: &Observed, ledger: &ScopeLedger, min: u64) -> Self {
        if min == 0 {
            return EmptyReads::default();
        }
        let per_scope = observed.per_scope();
        EmptyReads(
            observed
                .scopes
                .iter()
                .zip(per_scope)
                .filter(|(scope, n)| *n >= min && ledger.listed_empty(scope))
                .map(|(scope, n)| (scope.clone(), n))
                .collect(),
        )
    }

    pub fn get(&self, scope: &ScopeKey) -> Option<u64> {
        self.0.get(scope).copied()
    }

    pub fn contains(&self, scope: &ScopeKey) -> bool {
        self.0.contains_key(scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As stored between resyncs: `[{kind, account, region, inPort}]`.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|(scope, n)| {
                    json!({"kind": scope.kind.as_str(), "account": scope.account,
                           "region": scope.region, "inPort": n})
                })
                .collect(),
        )
    }

    /// [`Self::to_json`] read back; `None` when anything in it is not as written (then nothing
    /// is confirmed).
    pub fn from_json(value: &Value) -> Option<Self> {
        let mut reads = BTreeMap::new();
        for entry in value.as_array()? {
            let text = |key: &str| entry.get(key).and_then(Value::as_str);
            let kind = Kind::from_name(text("kind")?)?;
            let scope = ScopeKey::new(kind, text("account")?, text("region")?);
            reads.insert(scope, entry.get("inPort")?.as_u64()?);
        }
        Some(EmptyReads(reads))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Page;

    const WEST: &str = "arn:aws:secretsmanager:eu-west-1:222222222222:secret:";

    fn observed(n: usize) -> Observed {
        let mut observed = Observed::default();
        let entities: Vec<Value> = (0..n)
            .map(|i| json!({"identifier": format!("{WEST}s{i}")}))
            .collect();
        observed.add("awsSecret", &entities, None, None);
        observed.seal();
        observed
    }

    fn listed(items: usize) -> ScopeLedger {
        let mut ledger = ScopeLedger::default();
        ledger.page(&Page {
            kind: Kind::Secret,
            account_id: "222222222222".into(),
            region: "eu-west-1".into(),
            items: vec![json!({}); items],
        });
        ledger
    }

    #[test]
    fn an_empty_complete_read_of_a_scope_holding_the_minimum_is_an_empty_read() {
        let west = ScopeKey::new(Kind::Secret, "222222222222", "eu-west-1");
        let reads = EmptyReads::observe(&observed(10), &listed(0), 10);
        assert_eq!(reads.get(&west), Some(10));
        // Fewer entities than the minimum, an item listed, the guard off, or not read: none.
        assert!(EmptyReads::observe(&observed(9), &listed(0), 10).is_empty());
        assert!(EmptyReads::observe(&observed(50), &listed(1), 10).is_empty());
        assert!(EmptyReads::observe(&observed(50), &listed(0), 0).is_empty());
        assert!(EmptyReads::observe(&observed(50), &ScopeLedger::default(), 10).is_empty());
        // Stored and read back as it was; anything else reads as nothing.
        assert_eq!(EmptyReads::from_json(&reads.to_json()), Some(reads));
        assert_eq!(
            EmptyReads::from_json(&json!([{"kind": "x", "account": "1", "region": "r"}])),
            None
        );
    }

    #[test]
    fn the_minimum_is_a_setting_where_zero_turns_the_guard_off() {
        let env = |v: Option<&'static str>| Env::new(move |_: &str| v.map(String::from));
        assert_eq!(
            DeletionSettings::from_settings(&env(None))
                .unwrap()
                .empty_scope_guard_min,
            10
        );
        assert_eq!(
            DeletionSettings::from_settings(&env(Some("0")))
                .unwrap()
                .empty_scope_guard_min,
            0
        );
        let err = DeletionSettings::from_settings(&env(Some("many"))).unwrap_err();
        assert_eq!(err.name, EMPTY_SCOPE_GUARD_MIN);
    }
}
