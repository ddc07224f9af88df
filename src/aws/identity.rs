//! Who we are: the caller's account and partition, from STS GetCallerIdentity.

use aws_types::SdkConfig;

use super::calls::counted_client;
use super::errors::{AwsFailure, sdk_failure};

/// The identity the configured credentials belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account_id: String,
    /// e.g. `arn:aws:sts::123456789012:assumed-role/sync/session`.
    pub arn: String,
}

impl CallerIdentity {
    /// `aws`, `aws-cn`, `aws-us-gov`…: the second field of the caller's ARN.
    pub fn partition(&self) -> &str {
        partition_of_arn(&self.arn).unwrap_or("aws")
    }
}

fn partition_of_arn(arn: &str) -> Option<&str> {
    let mut fields = arn.split(':');
    match (fields.next(), fields.next()) {
        (Some("arn"), Some(partition)) if !partition.is_empty() => Some(partition),
        _ => None,
    }
}

/// Calls STS GetCallerIdentity in `region`. The error's message is ready to show.
pub(crate) async fn get_caller_identity(
    config: &SdkConfig,
    region: &str,
) -> Result<CallerIdentity, AwsFailure> {
    let client = counted_client!(aws_sdk_sts, config, region);
    let output = client.get_caller_identity().send().await.map_err(|error| {
        let failure = sdk_failure("GetCallerIdentity", &error);
        AwsFailure {
            message: format!(
                "could not resolve the caller's account ({})",
                failure.message
            ),
            code: failure.code,
        }
    })?;
    match (output.account, output.arn) {
        (Some(account_id), Some(arn)) => Ok(CallerIdentity { account_id, arn }),
        _ => Err(AwsFailure::uncoded(
            "could not resolve the caller's account (GetCallerIdentity: response without Account or Arn)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_comes_from_the_caller_arn() {
        let identity = |arn: &str| CallerIdentity {
            account_id: "123456789012".to_owned(),
            arn: arn.to_owned(),
        };
        assert_eq!(
            identity("arn:aws:sts::123456789012:assumed-role/r/s").partition(),
            "aws"
        );
        assert_eq!(
            identity("arn:aws-cn:iam::123456789012:user/u").partition(),
            "aws-cn"
        );
        assert_eq!(
            identity("arn:aws-us-gov:iam::123456789012:root").partition(),
            "aws-us-gov"
        );
        assert_eq!(identity("not an arn").partition(), "aws");
    }
}
