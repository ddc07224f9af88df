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
    #[error("{0}")]
    NotFound(String),
    /// AWS's state forbids it: the secret exists, the certificate is in use or not eligible.
    #[error("{0}")]
    Refused(String),
    /// AWS answered with an error or could not be reached.
    #[error("{0}")]
    Aws(String),
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
