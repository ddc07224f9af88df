//! One request to Port, authenticated, bounded by the shared in-flight limit, retried per the
//! policy, and counted.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::{Method, Url};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::auth::{AccessToken, TokenCache};
use super::config::{PortConfig, RetryPolicy};
use super::error::PortError;
use super::retry::{is_retryable, requested_wait, wait_before_retry};
use super::stats::{StatsRecorder, operation};

/// A request before it is sent: the path as segments (each percent-encoded on its own, so an
/// identifier such as an ARN with `/` stays one segment).
pub(crate) struct ApiRequest {
    pub operation: &'static str,
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
    /// A URL Port handed out (an integration's ingest URLs), used instead of the base URL
    /// and the segments.
    pub absolute: Option<Url>,
}

impl ApiRequest {
    pub fn new(operation: &'static str, method: Method, segments: &[&str]) -> Self {
        ApiRequest {
            operation,
            method,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: None,
            absolute: None,
        }
    }

    /// A request to a URL Port gave us rather than one under the API's base URL.
    pub fn to_url(operation: &'static str, method: Method, url: Url) -> Self {
        let mut request = Self::new(operation, method, &[]);
        request.absolute = Some(url);
        request
    }

    pub fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(serde_json::to_vec(body).expect("a JSON value serializes"));
        self
    }

    pub fn raw_json(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }
}

/// Port's final answer to a request (after retries): any status; callers decide what it means.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    pub status: u16,
    pub body: Value,
}

impl ApiResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn into_error(self, operation: &'static str) -> PortError {
        PortError::from_response(operation, self.status, &self.body)
    }
}

pub(crate) struct Transport {
    http: reqwest::Client,
    base_url: Url,
    client_id: String,
    client_secret: super::config::Secret,
    retry: RetryPolicy,
    in_flight: Arc<Semaphore>,
    tokens: TokenCache,
    pub stats: StatsRecorder,
}

enum Attempt {
    Answered {
        status: u16,
        body: Value,
        requested_wait: Option<Duration>,
    },
    NoResponse(reqwest::Error),
}

fn now_epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Transport {
    pub fn new(config: &PortConfig) -> Result<Self, PortError> {
        let base_url = Url::parse(&config.base_url).map_err(|e| PortError::InvalidBaseUrl {
            url: config.base_url.clone(),
            reason: e.to_string(),
        })?;
        if base_url.cannot_be_a_base() || !matches!(base_url.scheme(), "http" | "https") {
            return Err(PortError::InvalidBaseUrl {
                url: config.base_url.clone(),
                reason: "not an http(s) URL".into(),
            });
        }
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent())
            .timeout(config.request_timeout)
            .build()
            .map_err(PortError::HttpClient)?;
        Ok(Transport {
            http,
            base_url,
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            retry: config.retry.clone(),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            tokens: TokenCache::default(),
            stats: StatsRecorder::default(),
        })
    }

    fn url(&self, request: &ApiRequest) -> Url {
        if let Some(url) = &request.absolute {
            return url.clone();
        }
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .expect("checked at construction: the base URL can be a base")
            .pop_if_empty()
            .extend(&request.segments);
        if !request.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &request.query {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    /// One HTTP attempt, holding an in-flight permit until the body is read.
    async fn attempt(&self, request: &ApiRequest, token: Option<&AccessToken>) -> Attempt {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut builder = self.http.request(request.method.clone(), self.url(request));
        if let Some(token) = token {
            builder = builder.bearer_auth(token.value.expose());
        }
        if let Some(body) = &request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::NoResponse(e),
        };
        let status = response.status().as_u16();
        let requested_wait = requested_wait(response.headers(), now_epoch_secs());
        match response.bytes().await {
            Ok(bytes) => Attempt::Answered {
                status,
                // Gateways answer with HTML or text; keep it as a string for the error message.
                body: serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())),
                requested_wait,
            },
            Err(e) => Attempt::NoResponse(e),
        }
    }

    /// Sends `request` until it gets a final answer: retryable statuses and network errors are
    /// retried per the policy; the last retryable failure becomes an error. `token` is asked
    /// before every attempt, so a retry that comes after a long wait (a `Retry-After`, a capped
    /// backoff) goes out with a fresh token rather than one that expired while waiting. The
    /// answer comes with the token it was sent with.
    async fn with_retries<F>(
        &self,
        request: &ApiRequest,
        token: impl Fn() -> F,
    ) -> Result<(ApiResponse, Option<AccessToken>), PortError>
    where
        F: std::future::Future<Output = Result<Option<AccessToken>, PortError>>,
    {
        let started = Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let current = token().await?;
            let (failure, asked) = match self.attempt(request, current.as_ref()).await {
                Attempt::Answered {
                    status,
                    body,
                    requested_wait,
                } => {
                    self.stats.response(request.operation, status);
                    if !is_retryable(status) {
                        return Ok((ApiResponse { status, body }, current));
                    }
                    let error = PortError::from_response(request.operation, status, &body);
                    (error, requested_wait)
                }
                Attempt::NoResponse(source) => {
                    self.stats.network_error(request.operation);
                    let error = PortError::Transport {
                        operation: request.operation,
                        source,
                    };
                    (error, None)
                }
            };
            let wait = wait_before_retry(&self.retry, attempts, asked, rand::random::<f64>());
            if attempts >= self.retry.max_attempts
                || started.elapsed() + wait > self.retry.max_elapsed
            {
                tracing::warn!(operation = request.operation, attempts, error = %failure, "giving up");
                return Err(failure);
            }
            tracing::debug!(
                operation = request.operation,
                attempts,
                wait_ms = wait.as_millis() as u64,
                error = %failure,
                "retrying"
            );
            self.stats.retry();
            tokio::time::sleep(wait).await;
        }
    }

    async fn fetch_token(&self) -> Result<AccessToken, PortError> {
        let body = json!({"clientId": self.client_id, "clientSecret": self.client_secret.expose()});
        let request = ApiRequest::new(
            operation::AUTH,
            Method::POST,
            &["v1", "auth", "access_token"],
        )
        .json(&body);
        let obtained_at = Instant::now();
        let (response, _) = self.with_retries(&request, || async { Ok(None) }).await?;
        self.stats.token_fetch();
        if !response.is_success() {
            let message = response.body["message"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            return Err(PortError::Authentication {
                status: response.status,
                message,
            });
        }
        let token = response.body["accessToken"].as_str();
        let expires_in = response.body["expiresIn"].as_f64();
        match (token, expires_in) {
            (Some(token), Some(secs)) if secs > 0.0 => Ok(AccessToken::new(
                token.to_string(),
                Duration::from_secs_f64(secs),
                obtained_at,
            )),
            _ => Err(PortError::UnexpectedResponse {
                operation: operation::AUTH,
                detail: "no accessToken/expiresIn in the token response".into(),
            }),
        }
    }

    /// Sends an authenticated request. A 401 gets one retry with a fresh token.
    pub async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, PortError> {
        let token = || async { self.tokens.get(|| self.fetch_token()).await.map(Some) };
        let (response, sent_with) = self.with_retries(request, token).await?;
        if response.status != 401 {
            return Ok(response);
        }
        if let Some(rejected) = sent_with {
            self.tokens.invalidate(&rejected).await;
        }
        self.stats.reauthentication();
        let (response, _) = self.with_retries(request, token).await?;
        Ok(response)
    }
}
