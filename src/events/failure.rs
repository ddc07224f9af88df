//! Why a resource could not be brought up to date, and whether trying again soon may help:
//! the webhook retries transient failures itself (SQS redelivers every failure).

use crate::aws::ReadError;
use crate::port::PortError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// AWS throttling or a passing AWS failure, Port unreachable or answering 429/5xx.
    pub transient: bool,
}

impl Failure {
    /// A failure that will fail again the same way (a refusal, a mapping error).
    pub fn lasting(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            transient: false,
        }
    }

    /// A Port failure, `context` first.
    pub fn port(context: impl std::fmt::Display, error: &PortError) -> Self {
        let transient = match error {
            PortError::Transport { .. } => true,
            other => other
                .status()
                .is_some_and(|status| status == 429 || status >= 500),
        };
        Failure {
            message: format!("{context}: {error}"),
            transient,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ReadError> for Failure {
    fn from(error: ReadError) -> Self {
        Failure {
            message: error.message,
            transient: error.transient,
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::lasting(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(status: u16) -> PortError {
        PortError::Api {
            operation: "bulk_upsert",
            status,
            error: "some_error".into(),
            message: "from Port".into(),
        }
    }

    #[test]
    fn port_busy_or_failing_is_transient_a_refusal_is_not() {
        for status in [429, 500, 502, 503] {
            assert!(
                Failure::port("writing", &port(status)).transient,
                "{status}"
            );
        }
        for status in [400, 404, 422] {
            assert!(
                !Failure::port("writing", &port(status)).transient,
                "{status}"
            );
        }
        assert_eq!(
            Failure::port("writing awsSecret a", &port(503)).message,
            "writing awsSecret a: Port answered 503 to bulk_upsert: some_error: from Port"
        );
        assert!(!Failure::from("no region for a".to_owned()).transient);
    }
}
