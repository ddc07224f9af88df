//! Self-service actions end to end: `port-aws-sync serve-actions` as a child process, invoked
//! the way Port invokes a webhook (our shipped action definitions rendered, secret inputs
//! encrypted, bodies signed), acting on moto and reporting to the Port emulator.

mod support;

use std::path::Path;

use port_emulator::{Emulator, paths};
use serde_json::{Value, json};
use support::aws_proxy::{AwsProxy, Canned};
use support::moto::Moto;
use support::port_action::{invocation_body, now_seconds, signature_headers};
use support::seed;
use support::service::{self, Service};

const REGION: &str = "us-east-1";
const CLIENT_ID: &str = "actions-client";
/// Port encrypts secret inputs with the first 32 bytes of the client secret.
const CLIENT_SECRET: &str = "0123456789abcdefghijklmnopqrstuv-rest-of-secret";

struct Setup {
    moto: Moto,
    emu: Emulator,
    service: Service,
    http: reqwest::Client,
}

async fn emulator() -> Emulator {
    Emulator::builder()
        .credentials(CLIENT_ID, CLIENT_SECRET)
        .blueprints_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"))
        .start()
        .await
}

fn env(
    moto: &Moto,
    aws_endpoint: Option<&str>,
    emu: &Emulator,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    // The most talkative level the service allows: nothing secret may show even here.
    let mut env = service::env(moto, emu, REGION, &[("LOG_LEVEL", "debug")]);
    if let Some(endpoint) = aws_endpoint {
        env.push(("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned()));
    }
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

impl Setup {
    async fn start(extra: &[(&str, &str)]) -> Setup {
        let moto = Moto::start();
        Self::start_with(moto, None, extra).await
    }

    async fn start_with(moto: Moto, aws_endpoint: Option<&str>, extra: &[(&str, &str)]) -> Setup {
        Self::start_command(&["serve-actions"], moto, aws_endpoint, extra).await
    }

    async fn start_command(
        args: &[&str],
        moto: Moto,
        aws_endpoint: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Setup {
        Self::start_on(emulator().await, args, moto, aws_endpoint, extra).await
    }

    async fn start_on(
        emu: Emulator,
        args: &[&str],
        moto: Moto,
        aws_endpoint: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Setup {
        emu.record_bodies(true);
        let service = Service::start(args, &env(&moto, aws_endpoint, &emu, extra));
        let http = reqwest::Client::new();
        service
            .wait_for("GET /health/live", || {
                let request = http.get(service.url("/health/live")).send();
                async move { request.await.is_ok_and(|r| r.status() == 200) }
            })
            .await;
        Setup {
            moto,
            emu,
            service,
            http,
        }
    }

    async fn post(&self, body: &[u8], headers: &[(String, String)]) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.service.url("/webhook"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("POST /webhook");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Port's side of a run: the run is created, the body rendered from our action
    /// definition, signed now and posted.
    async fn invoke(
        &self,
        action: &str,
        run_id: &str,
        inputs: Value,
        entity: Value,
    ) -> (u16, Value) {
        self.emu.create_run(run_id, action);
        let body = invocation_body(action, run_id, inputs, entity, CLIENT_SECRET);
        self.post_signed(&serde_json::to_vec(&body).unwrap()).await
    }

    async fn create_secret(
        &self,
        run_id: &str,
        name: &str,
        value: &str,
        operation: &str,
    ) -> (u16, Value) {
        self.invoke(
            "create_aws_secret",
            run_id,
            secret_inputs(name, value, operation),
            Value::Null,
        )
        .await
    }

    async fn post_signed(&self, body: &[u8]) -> (u16, Value) {
        let headers = signature_headers(CLIENT_SECRET, now_seconds(), body);
        self.post(body, &headers).await
    }

    async fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.moto.sdk_config(REGION).await)
    }

    async fn acm(&self) -> aws_sdk_acm::Client {
        aws_sdk_acm::Client::new(&self.moto.sdk_config(REGION).await)
    }

    async fn secret_value(&self, name: &str) -> String {
        self.secrets()
            .await
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .expect("GetSecretValue")
            .secret_string
            .unwrap_or_default()
    }

    async fn version_count(&self, name: &str) -> usize {
        self.secrets()
            .await
            .list_secret_version_ids()
            .secret_id(name)
            .include_deprecated(true)
            .send()
            .await
            .expect("ListSecretVersionIds")
            .versions
            .unwrap_or_default()
            .len()
    }

    /// Waits until Port's run has a terminal status and returns the run.
    async fn finished_run(&self, run_id: &str) -> Value {
        self.service
            .wait_for(&format!("run {run_id} to end"), || {
                let status = self.emu.run(run_id).map(|r| r["status"].clone());
                async move {
                    matches!(
                        status.as_ref().and_then(Value::as_str),
                        Some("SUCCESS" | "FAILURE")
                    )
                }
            })
            .await;
        self.emu.run(run_id).unwrap()
    }

    fn run_log_text(&self, run_id: &str) -> String {
        self.emu
            .run_logs(run_id)
            .iter()
            .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Everything Port received or holds, as text.
    fn everything_sent_to_port(&self) -> String {
        let mut text = String::new();
        for request in self.emu.requests() {
            text.push_str(&request.uri);
            text.push_str(request.body.as_deref().unwrap_or_default());
        }
        for blueprint in ["awsSecret", "acmCertificate", "awsAccount"] {
            text.push_str(&serde_json::to_string(&self.emu.entities(blueprint)).unwrap());
        }
        text
    }
}

fn secret_inputs(name: &str, value: &str, operation: &str) -> Value {
    json!({"secretName": name, "secretValue": value, "operation": operation, "region": REGION})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_fresh_correctly_signed_requests_within_the_size_limit_are_served() {
    let s = Setup::start(&[("WEBHOOK_MAX_BODY_BYTES", "8192")]).await;
    s.emu.create_run("r_sig", "create_aws_secret");
    let body = serde_json::to_vec(&invocation_body(
        "create_aws_secret",
        "r_sig",
        secret_inputs("sig/one", "v1", "create"),
        Value::Null,
        CLIENT_SECRET,
    ))
    .unwrap();
    let now = now_seconds();

    let forged = signature_headers("not-the-client-secret-at-all-0123456789", now, &body);
    assert_eq!(s.post(&body, &forged).await, (401, json!("")));
    let stale = signature_headers(CLIENT_SECRET, now - 301, &body);
    assert_eq!(s.post(&body, &stale).await, (401, json!("")));
    assert_eq!(s.post(&body, &[]).await, (401, json!("")));
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let signed = signature_headers(CLIENT_SECRET, now, &body);
    assert_eq!(s.post(&tampered, &signed).await, (401, json!("")));

    let (status, reply) = s.post(&body, &signed).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], "SUCCESS");
    // The same delivery again, within the tolerance: a replay.
    assert_eq!(s.post(&body, &signed).await, (401, json!("")));
    // Milliseconds, as Port has been seen to send.
    s.emu.create_run("r_ms", "create_aws_secret");
    let body_ms = serde_json::to_vec(&invocation_body(
        "create_aws_secret",
        "r_ms",
        secret_inputs("sig/two", "v2", "create"),
        Value::Null,
        CLIENT_SECRET,
    ))
    .unwrap();
    let millis = signature_headers(CLIENT_SECRET, now * 1000 + 123, &body_ms);
    assert_eq!(s.post(&body_ms, &millis).await.0, 200);

    let oversized = serde_json::to_vec(&invocation_body(
        "create_aws_secret",
        "r_big",
        json!({"secretName": "sig/big", "secretValue": "x", "description": "d".repeat(9000)}),
        Value::Null,
        CLIENT_SECRET,
    ))
    .unwrap();
    assert_eq!(s.post_signed(&oversized).await.0, 413);

    let (status, reply) = s
        .post_signed(br#"{"action": "create_aws_secret", "inputs": {}}"#)
        .await;
    assert_eq!(status, 400);
    assert!(
        reply["error"].as_str().unwrap().contains("run id"),
        "{reply}"
    );
    let (status, reply) = s
        .post_signed(br#"{"runId": "r_x", "action": "drop_all_tables", "inputs": {}}"#)
        .await;
    assert_eq!(status, 400);
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("\"drop_all_tables\""),
        "{reply}"
    );

    // Only the two accepted runs reached AWS.
    let names: Vec<String> = s
        .secrets()
        .await
        .list_secrets()
        .send()
        .await
        .unwrap()
        .secret_list
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| e.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(s.service.stderr().contains("signature does not match"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_secret_value_reaches_aws_and_nothing_else() {
    let s = Setup::start(&[]).await;
    let value = "Pa55-w0rd-that-must-never-leak";
    let (status, reply) = s
        .invoke(
            "create_aws_secret",
            "r_enc",
            json!({"secretName": "app/db", "secretValue": value, "description": "db password"}),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    // The body really carried ciphertext, not the value.
    let body = invocation_body(
        "create_aws_secret",
        "r",
        json!({"secretValue": value}),
        Value::Null,
        CLIENT_SECRET,
    );
    assert_ne!(body["inputs"]["secretValue"], value);

    assert_eq!(s.secret_value("app/db").await, value);
    // The catalog followed at once, tied to the run.
    let arn = s
        .secrets()
        .await
        .describe_secret()
        .secret_id("app/db")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let entity = s
        .emu
        .entity("awsSecret", &arn)
        .expect("awsSecret entity upserted");
    assert_eq!(entity.meta.run_id.as_deref(), Some("r_enc"));
    assert_eq!(entity.properties["description"], "db password");
    let writes = s.emu.requests();
    assert!(
        writes
            .iter()
            .any(|r| r.path == paths::ENTITIES_BULK && r.uri.contains("run_id=r_enc")),
        "{writes:?}"
    );

    assert!(!s.everything_sent_to_port().contains(value));
    let logs = s.service.stderr();
    assert!(logs.contains("r_enc"), "the run is logged:\n{logs}");
    assert!(
        !logs.contains(value),
        "the secret value is in the logs:\n{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_upsert_make_versions_once_per_run() {
    let s = Setup::start(&[]).await;
    let (status, reply) = s.create_secret("r_up1", "svc/key", "one", "upsert").await;
    assert_eq!(status, 200, "{reply}");
    assert!(
        reply["summary"].as_str().unwrap().contains("created"),
        "{reply}"
    );
    assert_eq!(s.version_count("svc/key").await, 1);

    let (status, reply) = s.create_secret("r_cr", "svc/key", "two", "create").await;
    assert_eq!(status, 409, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("already exists"),
        "{reply}"
    );
    assert_eq!(s.secret_value("svc/key").await, "one");

    let (status, reply) = s.create_secret("r_nf", "svc/none", "x", "update").await;
    assert_eq!(status, 404, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("does not exist"),
        "{reply}"
    );

    let update = invocation_body(
        "create_aws_secret",
        "r_upd",
        json!({"secretName": "svc/key", "secretValue": "three", "operation": "update", "description": "rotated"}),
        Value::Null,
        CLIENT_SECRET,
    );
    s.emu.create_run("r_upd", "create_aws_secret");
    let bytes = serde_json::to_vec(&update).unwrap();
    let (status, reply) = s.post_signed(&bytes).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(s.secret_value("svc/key").await, "three");
    assert_eq!(s.version_count("svc/key").await, 2);
    let described = s
        .secrets()
        .await
        .describe_secret()
        .secret_id("svc/key")
        .send()
        .await
        .unwrap();
    assert_eq!(described.description.as_deref(), Some("rotated"));
    let stages = described.version_ids_to_stages.unwrap();
    let current: Vec<_> = stages
        .values()
        .filter(|s| s.contains(&"AWSCURRENT".to_owned()))
        .collect();
    let previous: Vec<_> = stages
        .values()
        .filter(|s| s.contains(&"AWSPREVIOUS".to_owned()))
        .collect();
    assert_eq!((current.len(), previous.len()), (1, 1), "{stages:?}");

    // Port redelivers the same run (a new signature one second later): no second version.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, reply) = s.post_signed(&bytes).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(s.version_count("svc/key").await, 2);
    assert_eq!(s.secret_value("svc/key").await, "three");

    // A redelivered create of a new secret succeeds without a second version either.
    let create = serde_json::to_vec(&invocation_body(
        "create_aws_secret",
        "r_new",
        secret_inputs("svc/new", "fresh", "create"),
        Value::Null,
        CLIENT_SECRET,
    ))
    .unwrap();
    s.emu.create_run("r_new", "create_aws_secret");
    assert_eq!(s.post_signed(&create).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, reply) = s.post_signed(&create).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(s.version_count("svc/new").await, 1);
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    reqwest::Url::parse_with_params("http://form.invalid/", pairs)
        .expect("form")
        .query()
        .unwrap_or_default()
        .to_owned()
}

/// A classic load balancer with an HTTPS listener on the certificate: ACM then reports it
/// in use (moto links the two as AWS does).
async fn attach_to_load_balancer(moto: &Moto, arn: &str) {
    let form = [
        ("Action", "CreateLoadBalancer"),
        ("Version", "2012-06-01"),
        ("LoadBalancerName", "web"),
        ("AvailabilityZones.member.1", "us-east-1a"),
        ("Listeners.member.1.Protocol", "HTTPS"),
        ("Listeners.member.1.LoadBalancerPort", "443"),
        ("Listeners.member.1.InstanceProtocol", "HTTP"),
        ("Listeners.member.1.InstancePort", "80"),
        ("Listeners.member.1.SSLCertificateId", arn),
    ];
    let response = reqwest::Client::new()
        .post(moto.endpoint())
        .header(
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/20240101/{REGION}/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=0",
                support::moto::ACCESS_KEY_ID
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&form))
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(status.is_success(), "{}", response.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_requested_and_deleted_asynchronously_unless_in_use() {
    let s = Setup::start(&[]).await;
    let (status, reply) = s
        .invoke(
            "request_acm_certificate",
            "r_req",
            json!({"domain_name": "app.example.com", "validation_method": "DNS", "region": REGION}),
            Value::Null,
        )
        .await;
    assert_eq!(status, 202, "{reply}");
    let run = s.finished_run("r_req").await;
    assert_eq!(
        run["status"],
        "SUCCESS",
        "{run}\n{}",
        s.run_log_text("r_req")
    );
    let certificates = s.acm().await.list_certificates().send().await.unwrap();
    let summaries = certificates.certificate_summary_list.unwrap();
    assert_eq!(summaries.len(), 1);
    let arn = summaries[0].certificate_arn.clone().unwrap();
    assert!(run["summary"].as_str().unwrap().contains(&arn), "{run}");
    assert!(
        run["link"]
            .to_string()
            .contains("console.aws.amazon.com/acm"),
        "{run}"
    );
    let logs = s.run_log_text("r_req");
    assert!(logs.contains("catalog updated: acmCertificate"), "{logs}");
    let entity = s
        .emu
        .entity("acmCertificate", &arn)
        .expect("certificate entity");
    assert_eq!(entity.meta.run_id.as_deref(), Some("r_req"));
    assert_eq!(entity.properties["status"], "PENDING_VALIDATION");
    assert_eq!(entity.relations["account"], support::moto::ACCOUNT_ID);

    // Redelivered request: the same certificate, not a second one.
    let body = serde_json::to_vec(&invocation_body(
        "request_acm_certificate",
        "r_req",
        json!({"domain_name": "app.example.com", "validation_method": "DNS", "region": REGION}),
        Value::Null,
        CLIENT_SECRET,
    ))
    .unwrap();
    // Port redelivers later, with a new timestamp: within the same second the identical
    // body and signature would be refused as a replay.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(s.post_signed(&body).await.0, 202);
    s.service
        .wait_for("the redelivered run to be logged", || {
            let n = s.emu.run_logs("r_req").len();
            async move { n >= 6 }
        })
        .await;
    let count = s
        .acm()
        .await
        .list_certificates()
        .send()
        .await
        .unwrap()
        .certificate_summary_list
        .unwrap()
        .len();
    assert_eq!(count, 1);

    let entity_json =
        json!({"identifier": arn, "blueprint": "acmCertificate", "properties": {"arn": arn}});
    attach_to_load_balancer(&s.moto, &arn).await;
    let (status, _) = s
        .invoke(
            "delete_acm_certificate",
            "r_del_used",
            json!({}),
            entity_json.clone(),
        )
        .await;
    assert_eq!(status, 202);
    let run = s.finished_run("r_del_used").await;
    assert_eq!(run["status"], "FAILURE");
    assert!(
        run["summary"].as_str().unwrap().contains("in use by"),
        "{run}"
    );
    assert!(s.run_log_text("r_del_used").contains("in use by"));
    assert!(s.emu.entity("acmCertificate", &arn).is_some());

    // Detached (a fresh moto certificate that nothing uses), deletion goes through.
    let free = seed::request_certificate(&s.acm().await, "free.example.com").await;
    let (status, _) = s
        .invoke(
            "request_acm_certificate",
            "r_req2",
            json!({"domain_name": "free.example.com"}),
            Value::Null,
        )
        .await;
    assert_eq!(status, 202);
    s.finished_run("r_req2").await;
    let requested_free = s
        .acm()
        .await
        .list_certificates()
        .send()
        .await
        .unwrap()
        .certificate_summary_list
        .unwrap()
        .into_iter()
        .filter(|c| c.domain_name.as_deref() == Some("free.example.com"))
        .filter_map(|c| c.certificate_arn)
        .find(|a| *a != free)
        .expect("the certificate the action requested");
    assert!(s.emu.entity("acmCertificate", &requested_free).is_some());
    let (status, _) = s
        .invoke(
            "delete_acm_certificate",
            "r_del",
            json!({}),
            json!({"identifier": requested_free, "blueprint": "acmCertificate", "properties": {}}),
        )
        .await;
    assert_eq!(status, 202);
    let run = s.finished_run("r_del").await;
    assert_eq!(
        run["status"],
        "SUCCESS",
        "{run}\n{}",
        s.run_log_text("r_del")
    );
    assert!(s.emu.entity("acmCertificate", &requested_free).is_none());
    let deletes = s.emu.requests();
    assert!(
        deletes.iter().any(|r| r.path == paths::ENTITY
            && r.method == "DELETE"
            && r.uri.contains("run_id=r_del")),
        "{deletes:?}"
    );
    let remaining = s
        .acm()
        .await
        .describe_certificate()
        .certificate_arn(&requested_free)
        .send()
        .await;
    assert!(remaining.is_err(), "the certificate is gone from ACM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_eligible_certificates_are_renewed() {
    let moto = Moto::start();
    // moto reports every certificate INELIGIBLE and has no RenewCertificate; the proxy makes
    // one certificate ELIGIBLE and answers RenewCertificate as ACM does.
    let acm = aws_sdk_acm::Client::new(&moto.sdk_config(REGION).await);
    let ineligible = seed::request_certificate(&acm, "old.example.com").await;
    let eligible = seed::request_certificate(&acm, "renew.example.com").await;
    let described = moto
        .call_json(
            "acm",
            REGION,
            "CertificateManager.DescribeCertificate",
            &json!({"CertificateArn": eligible}),
        )
        .await
        .replace("\"INELIGIBLE\"", "\"ELIGIBLE\"");
    let proxy = AwsProxy::start(&moto.endpoint()).await;
    proxy.answer(move |call| match call.operation.as_str() {
        "RenewCertificate" => Some(Canned {
            status: 200,
            content_type: "application/x-amz-json-1.1",
            body: "{}".to_owned(),
        }),
        _ => None,
    });
    let eligible_for_proxy = eligible.clone();
    let described_for_proxy = described.clone();
    proxy.answer(move |call| {
        (call.operation == "DescribeCertificate"
            && call
                .params
                .get("CertificateArn")
                .is_some_and(|a| *a == eligible_for_proxy))
        .then(|| Canned {
            status: 200,
            content_type: "application/x-amz-json-1.1",
            body: described_for_proxy.clone(),
        })
    });
    let s = Setup::start_with(moto, Some(&proxy.endpoint()), &[]).await;

    let entity = |arn: &str| json!({"identifier": arn, "blueprint": "acmCertificate", "properties": {"arn": arn}});
    let (status, _) = s
        .invoke(
            "renew_acm_certificate",
            "r_no",
            json!({}),
            entity(&ineligible),
        )
        .await;
    assert_eq!(status, 202);
    let run = s.finished_run("r_no").await;
    assert_eq!(run["status"], "FAILURE");
    assert!(
        run["summary"]
            .as_str()
            .unwrap()
            .contains("not eligible for renewal"),
        "{run}"
    );

    let (status, _) = s
        .invoke(
            "renew_acm_certificate",
            "r_yes",
            json!({}),
            entity(&eligible),
        )
        .await;
    assert_eq!(status, 202);
    let run = s.finished_run("r_yes").await;
    assert_eq!(
        run["status"],
        "SUCCESS",
        "{run}\n{}",
        s.run_log_text("r_yes")
    );
    let renewals = proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "RenewCertificate")
        .count();
    assert_eq!(
        renewals, 1,
        "exactly one RenewCertificate, for the eligible certificate"
    );
    let entity = s
        .emu
        .entity("acmCertificate", &eligible)
        .expect("entity upserted after renewal");
    assert_eq!(entity.properties["renewalEligibility"], "ELIGIBLE");
    assert_eq!(entity.meta.run_id.as_deref(), Some("r_yes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_payload_shapes_are_understood_and_unsigned_mode_is_explicit_and_loud() {
    let s = Setup::start(&[
        ("WEBHOOK_VERIFY_SIGNATURE", "false"),
        ("WEBHOOK_RATE_LIMIT_PER_MINUTE", "5"),
    ])
    .await;
    // The log is read from the process as it comes: wait for the line, do not race it.
    s.service
        .wait_for("the warning that signatures are not verified", || async {
            s.service
                .stderr()
                .contains("WEBHOOK_VERIFY_SIGNATURE=false")
        })
        .await;
    let sealed = port_aws_sync::actions::decrypt::encrypt("legacy-value", CLIENT_SECRET, [3; 16]);
    s.emu.create_run("r_legacy", "create_aws_secret");
    let legacy = json!({
        "action": "create_aws_secret",
        "resourceType": "run",
        "status": "TRIGGERED",
        "context": {"runId": "r_legacy", "entity": null, "blueprint": "awsSecret"},
        "payload": {
            "action": {"identifier": "create_aws_secret"},
            "properties": {"secretName": "legacy/one", "secretValue": sealed},
            "censoredProperties": ["secretValue"],
            "entity": null,
        },
    });
    let (status, reply) = s.post(legacy.to_string().as_bytes(), &[]).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(s.secret_value("legacy/one").await, "legacy-value");

    s.emu.create_run("r_v1", "create_aws_secret");
    let v1 = json!({
        "context": {"runId": "r_v1"},
        "action": {"identifier": "create_aws_secret"},
        "properties": {"secretName": "legacy/two", "secretValue": port_aws_sync::actions::decrypt::encrypt("v1-value", CLIENT_SECRET, [4; 16])},
    });
    let (status, reply) = s.post(v1.to_string().as_bytes(), &[]).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(s.secret_value("legacy/two").await, "v1-value");

    // A value that is not what Port's encryption produces fails the run, it is never used.
    s.emu.create_run("r_bad", "create_aws_secret");
    let bad = json!({
        "context": {"runId": "r_bad"},
        "action": {"identifier": "create_aws_secret"},
        "properties": {"secretName": "legacy/three", "secretValue": "not-encrypted"},
    });
    let (status, reply) = s.post(bad.to_string().as_bytes(), &[]).await;
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("secretValue"),
        "{reply}"
    );
    let missing = s
        .secrets()
        .await
        .describe_secret()
        .secret_id("legacy/three")
        .send()
        .await;
    assert!(missing.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_the_webhook_beside_its_resyncs_when_enabled() {
    let s = Setup::start_command(
        &["run"],
        Moto::start(),
        None,
        &[("WEBHOOK_ENABLED", "true"), ("RESYNC_ON_START", "false")],
    )
    .await;
    let (status, reply) = s
        .create_secret("r_daemon", "daemon/made", "from-port", "create")
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(s.secret_value("daemon/made").await, "from-port");
    // The webhook is served from the start, readiness follows Port's credential check: the
    // run above may have finished first.
    s.service
        .wait_for("/health/ready to answer 200", || {
            let request = s.http.get(s.service.url("/health/ready")).send();
            async move { request.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
}

const INTEGRATION: &str = "aws-sync";

/// The shipped mapping with the secret's title mapped by `expression`.
fn secret_title_mapping(expression: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("mapping/port-app-config.yml");
    let mut mapping: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let secret = mapping["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["kind"] == json!("AWS::SecretsManager::Secret"))
        .unwrap();
    secret["port"]["entity"]["mappings"]["title"] = json!(expression);
    mapping
}

/// An integration record a user already keeps a mapping in.
async fn emulator_with_mapping_in_port(config: Value) -> Emulator {
    Emulator::builder()
        .credentials(CLIENT_ID, CLIENT_SECRET)
        .blueprints_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints"))
        .integration(
            json!({"installationId": INTEGRATION, "installationAppType": "aws",
            "version": "0.0.1", "config": config}),
        )
        .start()
        .await
}

impl Setup {
    async fn title_after_creating(&self, run_id: &str, name: &str) -> Option<String> {
        let (status, reply) = self.create_secret(run_id, name, "v", "create").await;
        assert_eq!(status, 200, "{reply}");
        let arn = self
            .secrets()
            .await
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .unwrap()
            .arn
            .unwrap();
        self.emu.entity("awsSecret", &arn).and_then(|e| e.title)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_actions_registers_and_follows_the_catalog_with_ports_mapping() {
    let emu = emulator_with_mapping_in_port(secret_title_mapping(".Name + \" (from Port)\"")).await;
    let s = Setup::start_on(
        emu,
        &["serve-actions"],
        Moto::start(),
        None,
        &[("EVENT_LISTENER_INTERVAL_SECONDS", "1")],
    )
    .await;
    let record = s.emu.integration(INTEGRATION).unwrap();
    assert_eq!(
        record["version"],
        json!(env!("CARGO_PKG_VERSION")),
        "registered at start"
    );
    assert_eq!(
        s.title_after_creating("r_port1", "port/one")
            .await
            .as_deref(),
        Some("port/one (from Port)")
    );

    // A mapping edited in Port's UI is picked up by the next poll.
    s.emu
        .set_integration_config(INTEGRATION, secret_title_mapping(".Name + \" (v2)\""))
        .unwrap();
    s.service
        .wait_for("the poll to read the new mapping", || async {
            s.service
                .stderr()
                .matches("action runs and live events map with Port's mapping")
                .count()
                >= 2
        })
        .await;
    assert_eq!(
        s.title_after_creating("r_port2", "port/two")
            .await
            .as_deref(),
        Some("port/two (v2)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_actions_creates_the_integration_when_port_has_none() {
    let s = Setup::start(&[]).await;
    let record = s.emu.integration(INTEGRATION).expect("registered");
    assert_eq!(record["installationAppType"], json!("aws"));
    assert_eq!(record["version"], json!(env!("CARGO_PKG_VERSION")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemons_webhook_follows_the_catalog_with_ports_mapping() {
    let emu = emulator_with_mapping_in_port(secret_title_mapping(".Name + \" (from Port)\"")).await;
    let s = Setup::start_on(
        emu,
        &["run"],
        Moto::start(),
        None,
        &[("WEBHOOK_ENABLED", "true"), ("RESYNC_ON_START", "false")],
    )
    .await;
    // Registration comes before readiness.
    s.service
        .wait_for("/health/ready to answer 200", || {
            let request = s.http.get(s.service.url("/health/ready")).send();
            async move { request.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
    assert_eq!(
        s.title_after_creating("r_daemon_port", "daemon/port")
            .await
            .as_deref(),
        Some("daemon/port (from Port)")
    );
}
