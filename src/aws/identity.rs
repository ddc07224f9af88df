//! Who we are: the caller's account and partition, from STS GetCallerIdentity.

use aws_sdk_sts::config::Region;
use aws_types::SdkConfig;

use super::errors::describe_sdk_error;

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

/// Calls STS GetCallerIdentity in `region`. The error is a ready-to-show message.
pub(crate) async fn get_caller_identity(
    config: &SdkConfig,
    region: &str,
) -> Result<CallerIdentity, String> {
    let sts_config = aws_sdk_sts::config::Builder::from(config)
        .region(Region::new(region.to_owned()))
        .interceptor(crate::aws::calls::CallCounter)
        .build();
    let client = aws_sdk_sts::Client::from_conf(sts_config);
    let output = client.get_caller_identity().send().await.map_err(|error| {
        format!(
            "could not resolve the caller's account ({})",
            describe_sdk_error("GetCallerIdentity", &error)
        )
    })?;
    match (output.account, output.arn) {
        (Some(account_id), Some(arn)) => Ok(CallerIdentity { account_id, arn }),
        _ => Err("could not resolve the caller's account (GetCallerIdentity: response without Account or Arn)".to_owned()),
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
