//! Why an action run failed, and the HTTP status a synchronized run answers with.

use axum::http::StatusCode;

use super::decrypt::DecryptError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The inputs or the entity do not make a valid request.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    #[error(transparent)]
    NotFound(#[from] Missing),
    /// AWS's state forbids it.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// AWS answered with an error or could not be reached: the operation, AWS's error code and
    /// message as AWS gave them.
    #[error("{0}")]
    Aws(String),
}

/// The resource an action is about does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error("certificate {arn} does not exist in ACM ({region})")]
    Certificate { arn: String, region: String },
    #[error(
        "secret {name} does not exist in {region}; run the action with operation create or upsert"
    )]
    Secret { name: String, region: String },
}

/// Why AWS's state forbids what the action asks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "secret {name} already exists in {region}; run the action with operation update or upsert to add a version"
    )]
    SecretExists { name: String, region: String },
    #[error(
        "certificate {certificate} is not eligible for renewal (RenewalEligibility: {eligibility}); ACM renews only eligible ACM-issued certificates"
    )]
    NotEligibleForRenewal {
        certificate: String,
        eligibility: String,
    },
    #[error(
        "certificate {certificate} is in use by {}; detach it from those resources before deleting it",
        users_text(.users)
    )]
    CertificateInUse {
        certificate: String,
        /// The resources ACM names; empty when AWS refused without naming them.
        users: Vec<String>,
    },
}

fn users_text(users: &[String]) -> String {
    if users.is_empty() {
        "an AWS resource".to_owned()
    } else {
        users.join(", ")
    }
}

impl ActionError {
    pub fn status(&self) -> StatusCode {
        match self {
            ActionError::Invalid(_) | ActionError::Decrypt(_) => StatusCode::BAD_REQUEST,
            ActionError::NotFound(_) => StatusCode::NOT_FOUND,
            ActionError::Refused(_) => StatusCode::CONFLICT,
            ActionError::Aws(_) => StatusCode::BAD_GATEWAY,
        }
    }
}
