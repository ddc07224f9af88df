//! The two kinds of failure the sources report: set-up problems found before any AWS
//! API call (fatal, the CLI exits 2) and per-scope failures during a fetch (the other
//! scopes go on).

use std::fmt;

use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

use super::Kind;

/// A configuration problem found before any AWS API call.
#[derive(Debug, thiserror::Error)]
pub enum AwsSetupError {
    #[error(
        "unknown AWS region {name:?}: expected a region name such as eu-west-1 or us-gov-west-1 (check AWS_REGIONS and AWS_REGION)"
    )]
    UnknownRegion { name: String },

    #[error(
        "no AWS region configured: set AWS_REGIONS (a comma-separated list), AWS_REGION, or a region in your AWS profile"
    )]
    NoRegion,

    #[error(
        "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a profile in ~/.aws/config (SSO, assume-role, credential_process), or run with a web identity token, container or instance role ({detail})"
    )]
    NoCredentials { detail: String },

    #[error("invalid {name}={value:?}: {reason}")]
    InvalidSetting {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// One scope (kind × account × region) that could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeError {
    pub kind: Kind,
    /// The account the scope belongs to; empty when the caller's account itself could
    /// not be resolved.
    pub account_id: String,
    /// None for organisation-wide kinds (accounts).
    pub region: Option<String>,
    pub message: String,
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        match (self.account_id.is_empty(), &self.region) {
            (false, Some(region)) => write!(f, " in account {}, region {region}", self.account_id)?,
            (false, None) => write!(f, " in account {}", self.account_id)?,
            (true, Some(region)) => write!(f, " in region {region}")?,
            (true, None) => {}
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScopeError {}

/// `"<Operation>: <AWS error code>: <AWS message>"` for a service error, or the whole
/// error chain for a transport failure (DNS, connection refused, timeout…), so an
/// operator can tell a permission problem from a network one.
pub(crate) fn describe_sdk_error<E>(operation: &str, error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{operation}: {code}: {message}"),
        (Some(code), None) => format!("{operation}: {code}"),
        _ => match (assume_role_refusal(error), error.raw_response()) {
            (Some(refusal), _) => format!("{operation}: could not assume the role: {refusal}"),
            (None, Some(response)) => format!(
                "{operation}: HTTP {} without an AWS error code ({})",
                response.status().as_u16(),
                error_chain(error)
            ),
            (None, None) => format!("{operation}: {}", error_chain(error)),
        },
    }
}

/// `"<code>: <message>"` of an STS AssumeRole refusal somewhere in `error`'s chain: a
/// call made with assumed-role credentials fails before it is sent when the role cannot
/// be assumed, and the SDK buries the reason several errors deep.
fn assume_role_refusal(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    let mut current = Some(error);
    while let Some(cause) = current {
        if let Some(refusal) = cause.downcast_ref::<AssumeRoleError>() {
            return Some(match (refusal.code(), refusal.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => refusal.to_string(),
            });
        }
        current = cause.source();
    }
    None
}

/// `outer: inner: innermost`: each error's own message, once. Unlike the SDK's
/// `DisplayErrorContext` this leaves out Debug dumps, which repeat the messages in
/// Rust syntax and include whole HTTP responses.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut messages = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !messages.iter().any(|seen| seen.contains(&message)) {
            messages.push(message);
        }
        source = cause.source();
    }
    messages.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(account_id: &str, region: Option<&str>) -> ScopeError {
        ScopeError {
            kind: Kind::AcmCertificate,
            account_id: account_id.to_owned(),
            region: region.map(str::to_owned),
            message: "ListCertificates: AccessDeniedException: not allowed".to_owned(),
        }
    }

    #[test]
    fn scope_error_names_kind_account_and_region() {
        assert_eq!(
            error("123456789012", Some("eu-west-1")).to_string(),
            "AWS::ACM::Certificate in account 123456789012, region eu-west-1: ListCertificates: AccessDeniedException: not allowed"
        );
    }

    #[test]
    fn transport_failures_are_described_by_their_whole_chain() {
        let error: SdkError<aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError> =
            SdkError::timeout_error(std::io::Error::other("no answer in 3s"));
        assert_eq!(
            describe_sdk_error("GetCallerIdentity", &error),
            "GetCallerIdentity: request has timed out: no answer in 3s"
        );
    }

    #[test]
    fn scope_error_leaves_out_what_is_unknown() {
        assert_eq!(
            error("123456789012", None).to_string(),
            "AWS::ACM::Certificate in account 123456789012: ListCertificates: AccessDeniedException: not allowed"
        );
        assert_eq!(
            error("", Some("eu-west-1")).to_string(),
            "AWS::ACM::Certificate in region eu-west-1: ListCertificates: AccessDeniedException: not allowed"
        );
    }
}
