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
    /// AWS's error code (`AccessDeniedException`, `ThrottlingException`, STS
    /// AssumeRole's `AccessDenied`…) when AWS answered with one; None for transport
    /// failures and for failures of our own.
    pub code: Option<String>,
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
        write!(f, ": {}", self.message)?;
        match &self.code {
            // Most messages already quote the code; it is named only where they do not.
            Some(code) if !self.message.contains(code.as_str()) => {
                write!(f, " (AWS error code {code})")
            }
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ScopeError {}

/// A failed AWS call: the text an operator reads and, kept apart, AWS's error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AwsFailure {
    pub message: String,
    pub code: Option<String>,
}

impl AwsFailure {
    /// A failure of our own, with no AWS error code.
    pub(crate) fn uncoded(message: impl Into<String>) -> Self {
        AwsFailure {
            message: message.into(),
            code: None,
        }
    }

    /// The same failure, its message behind `context` (`"{context}: {message}"`).
    pub(crate) fn within(self, context: impl fmt::Display) -> Self {
        AwsFailure {
            message: format!("{context}: {}", self.message),
            code: self.code,
        }
    }
}

/// [`sdk_failure`]'s message only.
pub(crate) fn describe_sdk_error<E>(operation: &str, error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    sdk_failure(operation, error).message
}

/// `"<Operation>: <AWS error code>: <AWS message>"` for a service error, or the whole
/// error chain for a transport failure (DNS, connection refused, timeout…), so an
/// operator can tell a permission problem from a network one. The code is kept as a
/// value too: the service's, or that of an STS AssumeRole refusal behind the call.
pub(crate) fn sdk_failure<E>(operation: &str, error: &SdkError<E, HttpResponse>) -> AwsFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let coded = |code: &str, message: String| AwsFailure {
        message,
        code: Some(code.to_owned()),
    };
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => coded(code, format!("{operation}: {code}: {message}")),
        (Some(code), None) => coded(code, format!("{operation}: {code}")),
        _ => match (assume_role_refusal(error), error.raw_response()) {
            (Some(refusal), _) => AwsFailure {
                message: format!(
                    "{operation}: could not assume the role: {}",
                    refusal.message
                ),
                code: refusal.code,
            },
            (None, Some(response)) => AwsFailure::uncoded(format!(
                "{operation}: HTTP {} without an AWS error code ({})",
                response.status().as_u16(),
                error_chain(error)
            )),
            (None, None) => AwsFailure::uncoded(format!("{operation}: {}", error_chain(error))),
        },
    }
}

/// A failed read of one resource (for live events): what an operator reads, and whether
/// trying again soon may succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub message: String,
    /// Throttling, a 5xx, a timeout or a dropped connection; not a refusal (AccessDenied)
    /// nor a bad request, which fail again the same way.
    pub transient: bool,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for ReadError {
    /// A failure of our own (a missing field, no region): not worth trying again.
    fn from(message: String) -> Self {
        ReadError {
            message,
            transient: false,
        }
    }
}

/// The error codes AWS uses for throttling and passing service failures (the SDKs' own
/// list of throttling and transient codes).
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServiceError",
    "InternalServiceErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ConcurrentModificationException",
];

/// [`sdk_failure`]'s message, and whether the failure is transient.
pub(crate) fn read_error<E>(operation: &str, error: &SdkError<E, HttpResponse>) -> ReadError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let transient = match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => {
            error
                .code()
                .is_some_and(|code| TRANSIENT_CODES.contains(&code))
                || error
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 429 || r.status().is_server_error())
        }
    };
    ReadError {
        message: sdk_failure(operation, error).message,
        transient,
    }
}

/// A credentials provider's failure (e.g. an assumed role refused): its whole chain,
/// and the code of the STS AssumeRole refusal in it, if any.
pub(crate) fn credentials_failure(error: &(dyn std::error::Error + 'static)) -> AwsFailure {
    AwsFailure {
        message: error_chain(error),
        code: assume_role_refusal(error).and_then(|refusal| refusal.code),
    }
}

/// `"<code>: <message>"` of an STS AssumeRole refusal somewhere in `error`'s chain, and
/// its code: a call made with assumed-role credentials fails before it is sent when
/// the role cannot be assumed, and the SDK buries the reason several errors deep.
fn assume_role_refusal(error: &(dyn std::error::Error + 'static)) -> Option<AwsFailure> {
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    let mut current = Some(error);
    while let Some(cause) = current {
        if let Some(refusal) = cause.downcast_ref::<AssumeRoleError>() {
            let code = refusal.code().map(str::to_owned);
            let message = match (refusal.code(), refusal.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => refusal.to_string(),
            };
            return Some(AwsFailure { message, code });
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
            code: Some("AccessDeniedException".to_owned()),
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
        assert_eq!(sdk_failure("GetCallerIdentity", &error).code, None);
    }

    fn http_400() -> HttpResponse {
        HttpResponse::new(
            400.try_into().expect("valid status"),
            aws_smithy_types::body::SdkBody::empty(),
        )
    }

    fn metadata(code: &str, message: &str) -> aws_sdk_sts::error::ErrorMetadata {
        aws_sdk_sts::error::ErrorMetadata::builder()
            .code(code)
            .message(message)
            .build()
    }

    #[test]
    fn throttling_and_timeouts_are_transient_refusals_are_not() {
        use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError;
        let service = |code: &str, status: u16| {
            SdkError::service_error(
                DescribeSecretError::generic(metadata(code, "from AWS")),
                HttpResponse::new(
                    status.try_into().expect("valid status"),
                    aws_smithy_types::body::SdkBody::empty(),
                ),
            )
        };
        let throttled = read_error("DescribeSecret", &service("ThrottlingException", 400));
        assert_eq!(
            throttled,
            ReadError {
                message: "DescribeSecret: ThrottlingException: from AWS".to_owned(),
                transient: true,
            }
        );
        assert!(read_error("DescribeSecret", &service("InternalServiceError", 500)).transient);
        assert!(read_error("DescribeSecret", &service("SomethingNew", 503)).transient);
        assert!(!read_error("DescribeSecret", &service("AccessDeniedException", 400)).transient);
        assert!(
            !read_error("DescribeSecret", &service("InvalidParameterException", 400)).transient
        );
        let timeout: SdkError<DescribeSecretError> =
            SdkError::timeout_error(std::io::Error::other("no answer in 3s"));
        assert!(read_error("DescribeSecret", &timeout).transient);
    }

    #[test]
    fn service_errors_keep_their_code_apart_from_the_message() {
        use aws_sdk_acm::operation::list_certificates::ListCertificatesError;
        let error = SdkError::service_error(
            ListCertificatesError::generic(metadata("ThrottlingException", "Rate exceeded")),
            http_400(),
        );
        assert_eq!(
            sdk_failure("ListCertificates", &error),
            AwsFailure {
                message: "ListCertificates: ThrottlingException: Rate exceeded".to_owned(),
                code: Some("ThrottlingException".to_owned()),
            }
        );
        assert_eq!(
            describe_sdk_error("ListCertificates", &error),
            "ListCertificates: ThrottlingException: Rate exceeded"
        );
    }

    fn refused_role() -> aws_credential_types::provider::error::CredentialsError {
        use aws_sdk_sts::operation::assume_role::AssumeRoleError;
        aws_credential_types::provider::error::CredentialsError::provider_error(
            SdkError::service_error(
                AssumeRoleError::generic(metadata("AccessDenied", "not authorized")),
                http_400(),
            ),
        )
    }

    #[test]
    fn an_assume_role_refusal_keeps_the_sts_code() {
        let failure = credentials_failure(&refused_role());
        assert_eq!(failure.code.as_deref(), Some("AccessDenied"));
        // A call made with the refused credentials fails before it is sent; the STS
        // refusal behind it is what the operator needs.
        let call: SdkError<aws_sdk_secretsmanager::operation::list_secrets::ListSecretsError> =
            SdkError::construction_failure(refused_role());
        assert_eq!(
            sdk_failure("ListSecrets", &call),
            AwsFailure {
                message: "ListSecrets: could not assume the role: AccessDenied: not authorized"
                    .to_owned(),
                code: Some("AccessDenied".to_owned()),
            }
        );
    }

    #[test]
    fn context_keeps_the_code() {
        let failure = AwsFailure {
            message: "ListAccounts: AccessDeniedException: no".to_owned(),
            code: Some("AccessDeniedException".to_owned()),
        }
        .within("listing the organization's accounts");
        assert_eq!(
            failure.message,
            "listing the organization's accounts: ListAccounts: AccessDeniedException: no"
        );
        assert_eq!(failure.code.as_deref(), Some("AccessDeniedException"));
        assert_eq!(AwsFailure::uncoded("no credentials provider").code, None);
    }

    #[test]
    fn display_names_the_code_only_where_the_message_does_not() {
        let mut error = error("123456789012", Some("eu-west-1"));
        error.message = "could not assume the role: the role was refused".to_owned();
        error.code = Some("AccessDenied".to_owned());
        assert_eq!(
            error.to_string(),
            "AWS::ACM::Certificate in account 123456789012, region eu-west-1: could not assume the role: the role was refused (AWS error code AccessDenied)"
        );
        error.code = None;
        assert_eq!(
            error.to_string(),
            "AWS::ACM::Certificate in account 123456789012, region eu-west-1: could not assume the role: the role was refused"
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
