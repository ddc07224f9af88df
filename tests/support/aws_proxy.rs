//! A recording HTTP proxy in front of moto: forwards every AWS call, logs it (service,
//! operation, a few parameters) and can answer some calls itself, to stand in for what
//! moto cannot do: refuse an AssumeRole or a region (moto allows every call), or answer
//! an operation it does not implement (Account ListRegions).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;

/// One call that reached the proxy.
#[derive(Debug, Clone)]
pub struct Call {
    /// The service signed for (`sts`, `acm`, `secretsmanager`, `account`…).
    pub service: String,
    /// The region signed for.
    pub region: String,
    /// The access key the call was signed with (moto maps it to an account).
    pub access_key: String,
    /// `AssumeRole`, `ListCertificates`, `listRegions`…
    pub operation: String,
    /// Form parameters of query-protocol calls (STS), e.g. RoleArn, RoleSessionName; top-level
    /// string fields of JSON-protocol calls, e.g. CertificateArn.
    pub params: BTreeMap<String, String>,
}

/// A canned answer: status, content type, body.
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

type Rule = Box<dyn Fn(&Call) -> Option<Canned> + Send + Sync>;

/// What the proxy saw running at the same time among the regional list calls (ACM,
/// Secrets Manager), told apart by access key (= by account).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    /// Most accounts with a list call in flight at once.
    pub accounts: usize,
    /// Most list calls in flight at once for one account.
    pub per_account: usize,
}

#[derive(Default)]
struct InFlight {
    by_key: BTreeMap<String, usize>,
    most: Overlap,
}

struct Shared {
    upstream: String,
    list_delay: Mutex<std::time::Duration>,
    in_flight: Mutex<InFlight>,
    client: reqwest::Client,
    calls: Mutex<Vec<Call>>,
    rules: Mutex<Vec<Rule>>,
}

pub struct AwsProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl AwsProxy {
    /// Starts the proxy on a free loopback port, forwarding to `upstream`.
    pub async fn start(upstream: &str) -> AwsProxy {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            list_delay: Mutex::new(std::time::Duration::ZERO),
            in_flight: Mutex::new(InFlight::default()),
            client: reqwest::Client::new(),
            calls: Mutex::new(Vec::new()),
            rules: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("proxy serves");
        });
        AwsProxy {
            address,
            shared,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Adds a rule: the first rule returning Some answers the call instead of moto.
    pub fn answer(&self, rule: impl Fn(&Call) -> Option<Canned> + Send + Sync + 'static) {
        self.shared.rules.lock().unwrap().push(Box::new(rule));
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Holds every ACM and Secrets Manager call this long before forwarding it, so
    /// calls that may overlap do.
    pub fn delay_list_calls(&self, delay: std::time::Duration) {
        *self.shared.list_delay.lock().unwrap() = delay;
    }

    pub fn overlap(&self) -> Overlap {
        self.shared.in_flight.lock().unwrap().most
    }

    pub fn clear_calls(&self) {
        self.shared.calls.lock().unwrap().clear();
    }

    /// How many calls each `service:operation` received.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for call in self.calls() {
            *counts
                .entry(format!("{}:{}", call.service, call.operation))
                .or_default() += 1;
        }
        counts
    }
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An STS (query protocol) AccessDenied error, as AWS sends it.
pub fn sts_access_denied(message: &str) -> Canned {
    Canned {
        status: 403,
        content_type: "text/xml",
        body: format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
             <Code>AccessDenied</Code><Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
        ),
    }
}

/// A JSON-protocol AccessDeniedException (ACM, Secrets Manager).
pub fn json_access_denied(message: &str) -> Canned {
    Canned {
        status: 400,
        content_type: "application/x-amz-json-1.1",
        body: serde_json::json!({"__type": "AccessDeniedException", "message": message})
            .to_string(),
    }
}

/// A JSON-protocol ThrottlingException (Secrets Manager, ACM): AWS's rate limit.
pub fn json_throttling() -> Canned {
    Canned {
        status: 400,
        content_type: "application/x-amz-json-1.1",
        body: serde_json::json!({"__type": "ThrottlingException", "message": "Rate exceeded"})
            .to_string(),
    }
}

/// A rule answering `operation` with `answer` for its first `times` calls, then letting
/// the calls through to moto: a failure that recovers.
pub fn first_calls(
    operation: &'static str,
    times: usize,
    answer: fn() -> Canned,
) -> impl Fn(&Call) -> Option<Canned> + Send + Sync + 'static {
    let seen = std::sync::atomic::AtomicUsize::new(0);
    move |call| {
        (call.operation == operation
            && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < times)
            .then(answer)
    }
}

async fn forward(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = describe(&uri, &headers, &body);
    let canned = shared
        .rules
        .lock()
        .unwrap()
        .iter()
        .find_map(|rule| rule(&call));
    shared.calls.lock().unwrap().push(call);
    if let Some(canned) = canned {
        return Response::builder()
            .status(canned.status)
            .header("content-type", canned.content_type)
            .header("x-amzn-requestid", "proxy")
            .body(Body::from(canned.body))
            .expect("canned response");
    }
    let listing = matches!(call_service(&headers).as_str(), "acm" | "secretsmanager");
    let key = call_access_key(&headers);
    if listing {
        let delay = record_start(&shared, &key);
        tokio::time::sleep(delay).await;
    }
    let response = send_upstream(&shared, method, &uri, &headers, body).await;
    if listing && let Some(count) = shared.in_flight.lock().unwrap().by_key.get_mut(&key) {
        *count -= 1;
    }
    response
}

/// Counts a list call in and returns how long to hold it.
fn record_start(shared: &Shared, key: &str) -> std::time::Duration {
    let mut in_flight = shared.in_flight.lock().unwrap();
    *in_flight.by_key.entry(key.to_owned()).or_default() += 1;
    let accounts = in_flight
        .by_key
        .values()
        .filter(|count| **count > 0)
        .count();
    let per_account = in_flight.by_key.values().copied().max().unwrap_or(0);
    in_flight.most.accounts = in_flight.most.accounts.max(accounts);
    in_flight.most.per_account = in_flight.most.per_account.max(per_account);
    *shared.list_delay.lock().unwrap()
}

fn call_service(headers: &HeaderMap) -> String {
    credential_scope(headers)
        .get(3)
        .cloned()
        .unwrap_or_default()
}

fn call_access_key(headers: &HeaderMap) -> String {
    credential_scope(headers)
        .first()
        .cloned()
        .unwrap_or_default()
}

/// `Credential=AKID/20240101/us-east-1/sts/aws4_request` → its five parts.
fn credential_scope(headers: &HeaderMap) -> Vec<String> {
    headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|authorization| authorization.split("Credential=").nth(1))
        .and_then(|rest| rest.split([',', ' ']).next())
        .map(|credential| credential.split('/').map(str::to_owned).collect())
        .unwrap_or_default()
}

async fn send_upstream(
    shared: &Shared,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = shared
        .client
        .request(method, format!("{}{path}", shared.upstream))
        .body(body);
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(upstream) => {
            let mut response = Response::builder().status(upstream.status());
            for (name, value) in upstream.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    response = response.header(name, value);
                }
            }
            let bytes = upstream.bytes().await.unwrap_or_default();
            response
                .body(Body::from(bytes))
                .expect("forwarded response")
        }
        Err(error) => Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::from(error.to_string()))
            .expect("error response"),
    }
}

fn describe(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Call {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let scope = credential_scope(headers);
    let part = |index: usize| scope.get(index).cloned().unwrap_or_default();
    let params: BTreeMap<String, String> =
        if header("content-type").starts_with("application/x-www-form-urlencoded") {
            url_decode_form(&String::from_utf8_lossy(body))
        } else if header("content-type").starts_with("application/x-amz-json") {
            json_string_fields(body)
        } else {
            BTreeMap::new()
        };
    let target = header("x-amz-target");
    let operation = if let Some(action) = params.get("Action") {
        action.clone()
    } else if let Some((_, operation)) = target.rsplit_once('.') {
        operation.to_owned()
    } else {
        uri.path().trim_start_matches('/').to_owned()
    };
    Call {
        service: part(3),
        region: part(2),
        access_key: part(0),
        operation,
        params,
    }
}

/// The top-level string fields of a JSON-protocol body (e.g. CertificateArn).
fn json_string_fields(body: &[u8]) -> BTreeMap<String, String> {
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
        .map(|fields| {
            fields
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn url_decode_form(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (percent_decode(key), percent_decode(value)))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        index += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
