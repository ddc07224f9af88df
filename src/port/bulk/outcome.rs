//! What a bulk write or delete came to, per entity.

use super::super::error::PortError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertedEntity {
    pub identifier: String,
    /// True when Port created it, false when it updated an existing one.
    pub created: bool,
}

/// An entity Port did not write (or delete), with Port's reason. `status_code` is `None` when
/// no response explains it (network failure, or refused before sending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEntity {
    pub identifier: String,
    pub status_code: Option<u16>,
    /// Port's error code (e.g. `missing_related_entity`), or ours when Port gave none
    /// (`entity_too_large`, `missing_result`, `blueprint_mismatch`).
    pub error: String,
    pub message: String,
}

impl FailedEntity {
    pub(crate) fn from_error(identifier: &str, error: &PortError) -> Self {
        FailedEntity {
            identifier: identifier.to_string(),
            status_code: error.status(),
            error: error.code(),
            message: error.message(),
        }
    }

    /// Port could not take it now (unreachable, 429, 5xx): the same write may pass later.
    pub fn is_transient(&self) -> bool {
        self.error == "network_error" || matches!(self.status_code, Some(429 | 500..))
    }

    /// Port refused it because a relation target does not exist (yet).
    pub fn is_missing_target(&self) -> bool {
        self.status_code == Some(404)
    }
}

/// Every entity of a bulk upsert ends up in exactly one list, in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    pub succeeded: Vec<UpsertedEntity>,
    pub failed: Vec<FailedEntity>,
}

impl BulkOutcome {
    pub fn is_complete_success(&self) -> bool {
        self.failed.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkDeleteOutcome {
    /// Identifiers Port reports deleted.
    pub deleted: Vec<String>,
    /// Identifiers Port did not report deleted although their request succeeded (they did not
    /// exist).
    pub not_found: Vec<String>,
    pub failed: Vec<FailedEntity>,
}

pub(crate) type EntityResult = Result<UpsertedEntity, FailedEntity>;

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status_code: Option<u16>, error: &str) -> FailedEntity {
        FailedEntity {
            identifier: "a".into(),
            status_code,
            error: error.into(),
            message: String::new(),
        }
    }

    #[test]
    fn unreachable_busy_or_failing_port_is_transient() {
        assert!(refused(None, "network_error").is_transient());
        assert!(refused(Some(429), "rate_limited").is_transient());
        assert!(refused(Some(503), "service_unavailable").is_transient());
        assert!(!refused(Some(422), "invalid_request").is_transient());
        assert!(!refused(None, "entity_too_large").is_transient());
    }
}
