//! One resource read again for a live event, in the raw shape a resync lists it, or the
//! knowledge that it is gone (with what is known of it, so the mapping can name the entity to
//! delete). Any other answer (AccessDenied, throttling, a timeout) is an error: nothing may be
//! deleted on a doubt.

use aws_sdk_organizations::operation::describe_account::DescribeAccountError;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::SecretListEntry;
use aws_types::SdkConfig;
use serde_json::Value;

use super::Kind;
use super::errors::{ReadError, read_error};
use super::lookup::{self, account_of_arn};
use super::raw::{Origin, RawItem};

#[derive(Debug, Clone, PartialEq)]
pub enum Reread {
    /// The resource as a resync lists it.
    Present(Value),
    /// AWS says it is gone; the item is what is known of it, to map the entity to delete.
    Gone(Value),
    /// AWS says it is gone, but nothing names it well enough to map (a secret known only by
    /// a name whose ARN is unknown); the next resync removes its entity.
    GoneUnnamed,
}

/// A secret by name or ARN, with one DescribeSecret. One scheduled for deletion counts as
/// gone, as ListSecrets hides it.
///
/// DescribeSecret answers every field of a ListSecrets entry (its `VersionIdsToStages` is
/// ListSecrets' `SecretVersionsToStages`; only `ReplicationStatus` is its own, and a listed
/// item has none), so [`list_entry`] gives the item a resync maps. It is also the read AWS
/// documents as current: ListSecrets "might not reflect changes from the last five minutes",
/// so a secret just created could look gone to it.
pub async fn secret(config: &SdkConfig, region: &str, id: &str) -> Result<Reread, ReadError> {
    let client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(config)
            .region(aws_sdk_secretsmanager::config::Region::new(
                region.to_owned(),
            ))
            .interceptor(super::calls::CallCounter)
            .build(),
    );
    let described = match client.describe_secret().secret_id(id).send().await {
        Ok(output) => output,
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(match id.starts_with("arn:") {
                true => {
                    let entry = SecretListEntry::builder()
                        .arn(id)
                        .name(secret_name(id))
                        .build();
                    Reread::Gone(
                        secret_origin(id, region).wrap(super::secrets::secret_item(&entry)),
                    )
                }
                false => Reread::GoneUnnamed,
            });
        }
        Err(error) => return Err(read_error("DescribeSecret", &error)),
    };
    let arn = described.arn.clone().unwrap_or_default();
    let item =
        secret_origin(&arn, region).wrap(super::secrets::secret_item(&list_entry(&described)));
    // ListSecrets hides a secret scheduled for deletion, so a resync would not list it.
    if described.deleted_date.is_some() {
        return Ok(Reread::Gone(item));
    }
    Ok(Reread::Present(item))
}

fn secret_origin<'a>(arn: &'a str, region: &'a str) -> Origin<'a> {
    Origin {
        kind: Kind::Secret,
        account_id: account_of_arn(arn).unwrap_or_default(),
        region,
    }
}

/// DescribeSecret's answer as the ListSecrets entry of the same secret: every field of
/// `SecretListEntry`, the versions under ListSecrets' name.
fn list_entry(described: &DescribeSecretOutput) -> SecretListEntry {
    SecretListEntry::builder()
        .set_arn(described.arn.clone())
        .set_name(described.name.clone())
        .set_type(described.r#type.clone())
        .set_description(described.description.clone())
        .set_kms_key_id(described.kms_key_id.clone())
        .set_rotation_enabled(described.rotation_enabled)
        .set_rotation_lambda_arn(described.rotation_lambda_arn.clone())
        .set_rotation_rules(described.rotation_rules.clone())
        .set_external_secret_rotation_metadata(described.external_secret_rotation_metadata.clone())
        .set_external_secret_rotation_role_arn(described.external_secret_rotation_role_arn.clone())
        .set_last_rotated_date(described.last_rotated_date)
        .set_last_changed_date(described.last_changed_date)
        .set_last_accessed_date(described.last_accessed_date)
        .set_deleted_date(described.deleted_date)
        .set_next_rotation_date(described.next_rotation_date)
        .set_tags(described.tags.clone())
        .set_secret_versions_to_stages(described.version_ids_to_stages.clone())
        .set_owning_service(described.owning_service.clone())
        .set_created_date(described.created_date)
        .set_primary_region(described.primary_region.clone())
        .build()
}

/// A certificate by ARN (DescribeCertificate, in ListCertificates' item shape).
pub async fn certificate(config: &SdkConfig, region: &str, arn: &str) -> Result<Reread, ReadError> {
    Ok(
        match lookup::describe_certificate(config, region, arn).await? {
            Some(described) => Reread::Present(described.item),
            None => {
                let mut item = RawItem::new();
                item.string("CertificateArn", Some(arn));
                let origin = Origin {
                    kind: Kind::AcmCertificate,
                    account_id: account_of_arn(arn).unwrap_or_default(),
                    region,
                };
                Reread::Gone(origin.wrap(item))
            }
        },
    )
}

/// An organization account by id, as ListAccounts lists it; `reader` is the account that
/// lists them (the items' `__AccountId`).
pub async fn account(reader: &super::OrganizationReader, id: &str) -> Result<Reread, ReadError> {
    let client = aws_sdk_organizations::Client::from_conf(
        aws_sdk_organizations::config::Builder::from(&reader.config)
            .region(aws_sdk_organizations::config::Region::new(
                reader.region.clone(),
            ))
            .interceptor(super::calls::CallCounter)
            .build(),
    );
    let origin = Origin {
        kind: Kind::Account,
        account_id: &reader.account_id,
        region: &reader.region,
    };
    match client.describe_account().account_id(id).send().await {
        Ok(output) => match output.account {
            Some(account) => Ok(Reread::Present(
                origin.wrap(super::accounts::account_item(&account)),
            )),
            None => Err(format!("DescribeAccount of {id} answered without the account").into()),
        },
        Err(error)
            if error
                .as_service_error()
                .is_some_and(DescribeAccountError::is_account_not_found_exception) =>
        {
            let mut item = RawItem::new();
            item.string("Id", Some(id));
            Ok(Reread::Gone(origin.wrap(item)))
        }
        Err(error) => Err(read_error("DescribeAccount", &error)),
    }
}

/// A secret's name: the ARN ends in the name, a hyphen and six characters Secrets Manager
/// adds; anything else is a name already.
pub fn secret_name(id: &str) -> &str {
    let parts: Vec<&str> = id.splitn(7, ':').collect();
    let [_, _, "secretsmanager", _, _, "secret", name] = parts.as_slice() else {
        return id;
    };
    match name.char_indices().rev().nth(6) {
        Some((at, '-')) => &name[..at],
        _ => name,
    }
}
