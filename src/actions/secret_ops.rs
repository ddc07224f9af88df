//! `create_aws_secret`: CreateSecret / PutSecretValue / UpdateSecret, made idempotent per run
//! with a ClientRequestToken derived from the run id.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::Region;
use aws_types::SdkConfig;

use super::error::{ActionError, Missing, Refusal};
use super::outcome::{CatalogChange, Done, console_link, run_token};
use super::requests::{SecretOperation, SecretRequest};
use crate::aws::lookup;

pub async fn apply(
    config: &SdkConfig,
    region: &str,
    request: &SecretRequest,
    run_id: &str,
) -> Result<Done, ActionError> {
    let client = Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(config)
            .region(Region::new(region.to_owned()))
            .interceptor(crate::aws::calls::CallCounter)
            .build(),
    );
    let token = run_token(run_id);
    let name = &request.name;
    let what = match request.operation {
        SecretOperation::Create => create(&client, request, &token)
            .await
            .map_err(|e| e.into_action_error(request, region))?,
        SecretOperation::Update => update(&client, request, &token, region).await?,
        SecretOperation::Upsert => match create(&client, request, &token).await {
            Err(CreateError::Exists) => update(&client, request, &token, region).await?,
            other => other.map_err(|e| e.into_action_error(request, region))?,
        },
    };
    let item = lookup::secret(config, region, name)
        .await
        .map_err(ActionError::Aws)?;
    Ok(Done {
        summary: format!("Secret {name} {what} in {region}"),
        link: console_link(
            region,
            "secretsmanager/secret",
            &[("name", name), ("region", region)],
            None,
        ),
        catalog: item.map_or(CatalogChange::Nothing, CatalogChange::Upsert),
    })
}

async fn create(
    client: &Client,
    request: &SecretRequest,
    token: &str,
) -> Result<&'static str, CreateError> {
    let sent = client
        .create_secret()
        .name(&request.name)
        .secret_string(request.value.expose())
        .set_description(request.description.clone())
        .client_request_token(token)
        .send()
        .await;
    match sent {
        Ok(_) => Ok("created"),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_exists_exception()) =>
        {
            if version_exists(client, &request.name, token).await {
                Ok("already created by this run (redelivered webhook): nothing changed")
            } else {
                Err(CreateError::Exists)
            }
        }
        Err(error) => Err(CreateError::Failed(ActionError::Aws(
            crate::aws::describe_sdk_error("CreateSecret", &error),
        ))),
    }
}

enum CreateError {
    /// The secret exists (and not because this run created it): upsert goes on to update.
    Exists,
    Failed(ActionError),
}

impl CreateError {
    /// For `operation: create`, where an existing secret is refused.
    fn into_action_error(self, request: &SecretRequest, region: &str) -> ActionError {
        match self {
            CreateError::Failed(error) => error,
            CreateError::Exists => ActionError::Refused(Refusal::SecretExists {
                name: request.name.clone(),
                region: region.to_owned(),
            }),
        }
    }
}

async fn update(
    client: &Client,
    request: &SecretRequest,
    token: &str,
    region: &str,
) -> Result<&'static str, ActionError> {
    let not_found = || {
        ActionError::NotFound(Missing::Secret {
            name: request.name.clone(),
            region: region.to_owned(),
        })
    };
    let put = client
        .put_secret_value()
        .secret_id(&request.name)
        .secret_string(request.value.expose())
        .client_request_token(token)
        .send()
        .await;
    match put {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Err(not_found());
        }
        Err(error) => {
            return Err(ActionError::Aws(crate::aws::describe_sdk_error(
                "PutSecretValue",
                &error,
            )));
        }
    }
    if let Some(description) = &request.description {
        client
            .update_secret()
            .secret_id(&request.name)
            .description(description)
            .send()
            .await
            .map_err(|e| ActionError::Aws(crate::aws::describe_sdk_error("UpdateSecret", &e)))?;
    }
    Ok("updated with a new version")
}

/// Whether the secret has a version made with `token`, i.e. an earlier delivery of this run
/// created it.
async fn version_exists(client: &Client, name: &str, token: &str) -> bool {
    client
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .ok()
        .and_then(|d| d.version_ids_to_stages)
        .is_some_and(|versions| versions.contains_key(token))
}
