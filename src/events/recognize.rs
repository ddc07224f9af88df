//! What an incoming event is about: an EventBridge event (CloudTrail API calls and service
//! events, ACM's own events) or the small body Ocean's AWS integration posts to its webhook,
//! turned into the one resource to read again, or into the reason it is ignored.
//!
//! Only identifiers are taken from an event, never state: the handler reads the resource
//! again, so an event that arrives late or twice cannot roll the catalog back.

use serde_json::Value;

use crate::aws::Kind;

const CLOUDTRAIL_CALL: &str = "AWS API Call via CloudTrail";
const CLOUDTRAIL_SERVICE_EVENT: &str = "AWS Service Event via CloudTrail";

/// ACM's own EventBridge events (source `aws.acm`), the certificate ARN in `resources[0]`.
const ACM_EVENTS: [&str; 5] = [
    "ACM Certificate Available",
    "ACM Certificate Approaching Expiration",
    "ACM Certificate Expired",
    "ACM Certificate Renewal Action Required",
    "ACM Certificate Revoked",
];

/// How the event reached us, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A CloudTrail API call or service event delivered by EventBridge.
    CloudTrail,
    /// An event a service sends to EventBridge itself (ACM's certificate events).
    Service,
    /// Ocean's webhook body `{resource_type, identifier, accountId, awsRegion}`.
    OceanWebhook,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::CloudTrail => "cloudtrail",
            Source::Service => "service",
            Source::OceanWebhook => "ocean_webhook",
        }
    }
}

/// One resource an event says may have changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub kind: Kind,
    /// A secret's name or ARN as the caller passed it, a certificate's ARN, an account id.
    pub resource: String,
    /// The account the event was recorded in (`account`, else `detail.recipientAccountId`;
    /// Ocean's `accountId`). For an organization account event it is the management account.
    pub account: Option<String>,
    /// The region the resource is in (the event's, or a replica's for replication calls).
    pub region: Option<String>,
    /// When it happened (the event's `time`), for the event-to-Port latency.
    pub time: Option<jiff::Timestamp>,
    pub source: Source,
    /// The CloudTrail event name or the event's detail-type.
    pub action: String,
}

/// Why an event leads to no read: acknowledged and counted, never an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// The call failed (`detail.errorCode`): nothing changed.
    FailedCall {
        event_name: String,
        error_code: String,
    },
    /// A read-only call changes nothing.
    ReadOnlyCall { event_name: String },
    /// Not an event about a kind port-aws-sync syncs.
    UnknownEvent {
        source: String,
        detail_type: String,
        event_name: Option<String>,
    },
    /// A known event without the field that names its resource.
    NoResource {
        event_name: String,
        field: &'static str,
    },
    /// A known event that changes nothing in the catalog (a failed account creation, a
    /// handshake that is no invitation).
    NoCatalogChange { event_name: String, why: String },
    /// Ocean's body names a resource type port-aws-sync does not sync.
    UnknownResourceType(String),
    /// Neither an EventBridge event nor Ocean's webhook body.
    Malformed(String),
    /// The mapping has no resource of this kind.
    UnmappedKind(Kind),
    /// The account is left out by ACCOUNT_IDS / EXCLUDE_ACCOUNT_IDS.
    AccountOutOfScope(String),
}

impl Ignored {
    /// A label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Ignored::FailedCall { .. } => "failed_call",
            Ignored::ReadOnlyCall { .. } => "read_only_call",
            Ignored::UnknownEvent { .. } => "unknown_event",
            Ignored::NoResource { .. } => "no_resource",
            Ignored::NoCatalogChange { .. } => "no_catalog_change",
            Ignored::UnknownResourceType(_) => "unknown_resource_type",
            Ignored::Malformed(_) => "malformed",
            Ignored::UnmappedKind(_) => "unmapped_kind",
            Ignored::AccountOutOfScope(_) => "account_out_of_scope",
        }
    }
}

impl std::fmt::Display for Ignored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ignored::FailedCall {
                event_name,
                error_code,
            } => write!(f, "{event_name} failed with {error_code}; nothing changed"),
            Ignored::ReadOnlyCall { event_name } => {
                write!(f, "{event_name} is a read-only call")
            }
            Ignored::UnknownEvent {
                source,
                detail_type,
                event_name,
            } => match event_name {
                Some(name) => write!(f, "{source} {name} ({detail_type}) is not handled"),
                None => write!(f, "{source} \"{detail_type}\" is not handled"),
            },
            Ignored::NoResource { event_name, field } => {
                write!(f, "{event_name} has no {field} naming its resource")
            }
            Ignored::NoCatalogChange { event_name, why } => write!(f, "{event_name}: {why}"),
            Ignored::UnknownResourceType(kind) => {
                write!(f, "resource_type {kind} is not a kind port-aws-sync syncs")
            }
            Ignored::Malformed(why) => f.write_str(why),
            Ignored::UnmappedKind(kind) => write!(f, "the mapping has no resource of kind {kind}"),
            Ignored::AccountOutOfScope(account) => {
                write!(
                    f,
                    "account {account} is left out by ACCOUNT_IDS / EXCLUDE_ACCOUNT_IDS"
                )
            }
        }
    }
}

/// The resources an event is about (at least one), or why it is ignored.
pub fn recognize(event: &Value) -> Result<Vec<LiveEvent>, Ignored> {
    let Some(object) = event.as_object() else {
        return Err(Ignored::Malformed(format!(
            "the event is JSON {}, not an object",
            json_type(event)
        )));
    };
    if object.contains_key("detail-type") || object.contains_key("detail") {
        eventbridge(event)
    } else if object.contains_key("resource_type") {
        ocean_body(event)
    } else {
        Err(Ignored::Malformed(
            "neither an EventBridge event (source, detail-type, detail) nor Ocean's webhook \
             body (resource_type, identifier, accountId, awsRegion)"
                .into(),
        ))
    }
}

fn eventbridge(event: &Value) -> Result<Vec<LiveEvent>, Ignored> {
    let source = text(&event["source"]).ok_or_else(|| {
        Ignored::Malformed("the EventBridge event has no string field source".into())
    })?;
    let detail_type = text(&event["detail-type"]).ok_or_else(|| {
        Ignored::Malformed("the EventBridge event has no string field detail-type".into())
    })?;
    let detail = &event["detail"];
    if !detail.is_object() {
        return Err(Ignored::Malformed(
            "the EventBridge event's detail is not an object".into(),
        ));
    }
    let envelope = Envelope {
        account: text(&event["account"]).or_else(|| text(&detail["recipientAccountId"])),
        region: text(&event["region"]).or_else(|| text(&detail["awsRegion"])),
        time: text(&event["time"]).and_then(|t| t.parse().ok()),
    };
    if detail_type == CLOUDTRAIL_CALL || detail_type == CLOUDTRAIL_SERVICE_EVENT {
        return cloudtrail(source, detail_type, detail, &envelope);
    }
    if source == "aws.acm" && ACM_EVENTS.contains(&detail_type) {
        let arn = text(&event["resources"][0]).ok_or_else(|| Ignored::NoResource {
            event_name: detail_type.to_owned(),
            field: "resources[0]",
        })?;
        return Ok(vec![envelope.event(
            Kind::AcmCertificate,
            arn,
            Source::Service,
            detail_type,
        )]);
    }
    Err(Ignored::UnknownEvent {
        source: source.to_owned(),
        detail_type: detail_type.to_owned(),
        event_name: None,
    })
}

/// What the envelope tells about every resource of one event.
struct Envelope<'a> {
    account: Option<&'a str>,
    region: Option<&'a str>,
    time: Option<jiff::Timestamp>,
}

impl Envelope<'_> {
    fn event(&self, kind: Kind, resource: &str, source: Source, action: &str) -> LiveEvent {
        LiveEvent {
            kind,
            resource: resource.to_owned(),
            account: self.account.map(str::to_owned),
            region: self.region.map(str::to_owned),
            time: self.time,
            source,
            action: action.to_owned(),
        }
    }
}

fn cloudtrail(
    source: &str,
    detail_type: &str,
    detail: &Value,
    envelope: &Envelope,
) -> Result<Vec<LiveEvent>, Ignored> {
    let event_name = text(&detail["eventName"]).unwrap_or_default();
    let unknown = || Ignored::UnknownEvent {
        source: source.to_owned(),
        detail_type: detail_type.to_owned(),
        event_name: Some(event_name.to_owned()),
    };
    let kind = match text(&detail["eventSource"]) {
        Some("secretsmanager.amazonaws.com") => Kind::Secret,
        Some("acm.amazonaws.com") => Kind::AcmCertificate,
        Some("organizations.amazonaws.com") => Kind::Account,
        _ => return Err(unknown()),
    };
    if let Some(error_code) = detail.get("errorCode").filter(|v| !v.is_null()) {
        return Err(Ignored::FailedCall {
            event_name: event_name.to_owned(),
            error_code: text(error_code).unwrap_or("an error").to_owned(),
        });
    }
    if detail["readOnly"] == Value::Bool(true) || is_read_only_name(event_name) {
        return Err(Ignored::ReadOnlyCall {
            event_name: event_name.to_owned(),
        });
    }
    let found = match kind {
        Kind::Secret => secret_resources(event_name, detail, envelope),
        Kind::AcmCertificate => {
            certificate_resource(event_name, detail).map(|found| found.map(|arn| vec![arn]))
        }
        Kind::Account => {
            account_resource(event_name, detail, envelope).map(|found| found.map(|id| vec![id]))
        }
    };
    let resources = found.ok_or_else(unknown)??;
    Ok(resources
        .into_iter()
        .map(|(resource, region)| {
            let mut live = envelope.event(kind, &resource, Source::CloudTrail, event_name);
            if let Some(region) = region {
                live.region = Some(region);
            }
            live
        })
        .collect())
}

/// A resource and, when it is not the event's region, its region.
type Found = (String, Option<String>);

/// `None`: an event name this kind does not handle.
type Resolved<T> = Option<Result<T, Ignored>>;

fn is_read_only_name(event_name: &str) -> bool {
    ["Get", "List", "Describe", "BatchGet", "Validate"]
        .iter()
        .any(|prefix| event_name.starts_with(prefix))
}

fn secret_resources(event_name: &str, detail: &Value, envelope: &Envelope) -> Resolved<Vec<Found>> {
    let request = &detail["requestParameters"];
    let response = &detail["responseElements"];
    let missing = |field| {
        Err(Ignored::NoResource {
            event_name: event_name.to_owned(),
            field,
        })
    };
    let one = |value: Option<&str>, field| match value {
        Some(id) => Ok(vec![(id.to_owned(), None)]),
        None => missing(field),
    };
    Some(match event_name {
        // The ARN names the very secret created; the name alone could be reused later.
        "CreateSecret" => one(
            text(&response["arn"]).or_else(|| text(&request["name"])),
            "responseElements.arn or requestParameters.name",
        ),
        // Older events spell the response's ARN key `aRN`.
        "DeleteSecret" => one(
            text(&response["aRN"])
                .or_else(|| text(&response["arn"]))
                .or_else(|| text(&request["secretId"])),
            "responseElements.aRN or requestParameters.secretId",
        ),
        "RotationSucceeded" => one(
            text(&detail["additionalEventData"]["SecretId"]),
            "additionalEventData.SecretId",
        ),
        // The replicas are secrets of their own, listed in their regions.
        "ReplicateSecretToRegions" | "RemoveRegionsFromReplication" => {
            let Some(id) = text(&request["secretId"]) else {
                return Some(missing("requestParameters.secretId"));
            };
            let replicas: Vec<&str> = if event_name == "ReplicateSecretToRegions" {
                array(&request["addReplicaRegions"])
                    .filter_map(|r| text(&r["region"]))
                    .collect()
            } else {
                array(&request["removeReplicaRegions"])
                    .filter_map(text)
                    .collect()
            };
            let name = secret_name(id);
            let mut found = vec![(id.to_owned(), None)];
            found.extend(
                replicas
                    .into_iter()
                    .filter(|region| Some(*region) != envelope.region)
                    .map(|region| (name.to_owned(), Some(region.to_owned()))),
            );
            Ok(found)
        }
        "UpdateSecret"
        | "PutSecretValue"
        | "UpdateSecretVersionStage"
        | "RestoreSecret"
        | "TagResource"
        | "UntagResource"
        | "RotateSecret"
        | "CancelRotateSecret"
        | "StopReplicationToReplica" => {
            one(text(&request["secretId"]), "requestParameters.secretId")
        }
        _ => return None,
    })
}

fn certificate_resource(event_name: &str, detail: &Value) -> Resolved<Found> {
    let request = &detail["requestParameters"];
    let response = &detail["responseElements"];
    let (arn, field) = match event_name {
        "RequestCertificate" | "ImportCertificate" => (
            // A re-import names the certificate in the request too.
            text(&response["certificateArn"]).or_else(|| text(&request["certificateArn"])),
            "responseElements.certificateArn",
        ),
        "DeleteCertificate"
        | "AddTagsToCertificate"
        | "RemoveTagsFromCertificate"
        | "RenewCertificate"
        | "UpdateCertificateOptions"
        | "ResendValidationEmail" => (
            text(&request["certificateArn"]),
            "requestParameters.certificateArn",
        ),
        _ => return None,
    };
    Some(
        arn.map(|arn| (arn.to_owned(), None))
            .ok_or_else(|| Ignored::NoResource {
                event_name: event_name.to_owned(),
                field,
            }),
    )
}

fn account_resource(event_name: &str, detail: &Value, envelope: &Envelope) -> Resolved<Found> {
    let request = &detail["requestParameters"];
    let no_change = |why: String| {
        Err(Ignored::NoCatalogChange {
            event_name: event_name.to_owned(),
            why,
        })
    };
    let (id, field) = match event_name {
        "CreateAccountResult" | "CloseAccountResult" => {
            let key = if event_name == "CreateAccountResult" {
                "createAccountStatus"
            } else {
                "closeAccountStatus"
            };
            let status = &detail["serviceEventDetails"][key];
            match text(&status["state"]) {
                Some("SUCCEEDED") | None => {}
                Some(state) => {
                    return Some(no_change(format!("the request ended in state {state}")));
                }
            }
            (
                text(&status["accountId"]),
                if key == "createAccountStatus" {
                    "serviceEventDetails.createAccountStatus.accountId"
                } else {
                    "serviceEventDetails.closeAccountStatus.accountId"
                },
            )
        }
        "InviteAccountToOrganization" => {
            let target = &request["target"];
            if text(&target["type"]).is_some_and(|t| t != "ACCOUNT") {
                return Some(no_change(
                    "the invitation names an email address, not an account".into(),
                ));
            }
            (text(&target["id"]), "requestParameters.target.id")
        }
        "AcceptHandshake" => {
            let handshake = &detail["responseElements"]["handshake"];
            if text(&handshake["action"]).is_some_and(|a| a != "INVITE") {
                return Some(no_change(
                    "the handshake is not an invitation to join".into(),
                ));
            }
            let party = array(&handshake["parties"])
                .find(|p| text(&p["type"]) == Some("ACCOUNT"))
                .and_then(|p| text(&p["id"]));
            (party, "responseElements.handshake.parties[type=ACCOUNT].id")
        }
        "RemoveAccountFromOrganization" | "MoveAccount" | "CloseAccount" => {
            (text(&request["accountId"]), "requestParameters.accountId")
        }
        // The account that leaves is the caller's.
        "LeaveOrganization" => (
            text(&detail["userIdentity"]["accountId"]).or(envelope.account),
            "userIdentity.accountId",
        ),
        _ => return None,
    };
    Some(
        id.map(|id| (id.to_owned(), None))
            .ok_or_else(|| Ignored::NoResource {
                event_name: event_name.to_owned(),
                field,
            }),
    )
}

/// Ocean AWS's webhook body, built by an EventBridge input transformer.
fn ocean_body(body: &Value) -> Result<Vec<LiveEvent>, Ignored> {
    let resource_type = text(&body["resource_type"]).ok_or_else(|| {
        Ignored::Malformed("Ocean's webhook body has no string field resource_type".into())
    })?;
    let kind = Kind::from_name(resource_type)
        .ok_or_else(|| Ignored::UnknownResourceType(resource_type.to_owned()))?;
    let identifier = text(&body["identifier"])
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            Ignored::Malformed("Ocean's webhook body has no string field identifier".into())
        })?;
    Ok(vec![LiveEvent {
        kind,
        resource: identifier.to_owned(),
        account: text(&body["accountId"]).map(str::to_owned),
        region: text(&body["awsRegion"]).map(str::to_owned),
        time: None,
        source: Source::OceanWebhook,
        action: text(&body["eventName"]).unwrap_or("webhook").to_owned(),
    }])
}

pub use crate::aws::reread::secret_name;

fn text(value: &Value) -> Option<&str> {
    value.as_str()
}

fn array(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
