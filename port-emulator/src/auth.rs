//! Client credentials, access tokens and the bearer check in front of every other route.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::request_input::parse_object;
use crate::state::Shared;

/// Who made a request: the client id behind its token and its `User-Agent` (which Port records
/// as the `$datasource` of what it writes).
#[derive(Debug, Clone)]
pub struct Actor {
    pub client_id: String,
    pub user_agent: String,
}

struct IssuedToken {
    client_id: String,
    expires_at: Instant,
}

pub enum TokenCheck {
    Valid(String),
    Expired,
    Unknown,
}

pub struct AuthState {
    credentials: HashMap<String, String>,
    token_lifetime: Duration,
    /// Port keeps one active token per credential set: issuing a new one retires the old.
    single_active_token: bool,
    tokens: HashMap<String, IssuedToken>,
    issued: u64,
    salt: u64,
}

impl AuthState {
    pub fn new(
        credentials: HashMap<String, String>,
        token_lifetime: Duration,
        single_active_token: bool,
    ) -> Self {
        let salt = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed);
        AuthState {
            credentials,
            token_lifetime,
            single_active_token,
            tokens: HashMap::new(),
            issued: 0,
            salt,
        }
    }

    pub fn add_credentials(&mut self, client_id: String, client_secret: String) {
        self.credentials.insert(client_id, client_secret);
    }

    pub fn set_token_lifetime(&mut self, lifetime: Duration) {
        self.token_lifetime = lifetime;
    }

    pub fn issue(&mut self, client_id: &str, client_secret: &str) -> Option<(String, Duration)> {
        if self.credentials.get(client_id).map(String::as_str) != Some(client_secret) {
            return None;
        }
        if self.single_active_token {
            self.tokens.retain(|_, t| t.client_id != client_id);
        }
        self.issued += 1;
        let token = format!(
            "emu.{:016x}.{:x}",
            self.salt.rotate_left(17) ^ self.issued.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            self.issued
        );
        self.tokens.insert(
            token.clone(),
            IssuedToken {
                client_id: client_id.to_string(),
                expires_at: Instant::now() + self.token_lifetime,
            },
        );
        Some((token, self.token_lifetime))
    }

    pub fn check(&self, token: &str) -> TokenCheck {
        match self.tokens.get(token) {
            None => TokenCheck::Unknown,
            Some(t) if Instant::now() >= t.expires_at => TokenCheck::Expired,
            Some(t) => TokenCheck::Valid(t.client_id.clone()),
        }
    }

    /// Forget every token, as if Port had revoked them (the next call answers 401).
    pub fn revoke_all(&mut self) {
        self.tokens.clear();
    }

    /// Make every issued token expired now.
    pub fn expire_all(&mut self) {
        let now = Instant::now();
        for token in self.tokens.values_mut() {
            token.expires_at = now;
        }
    }
}

/// `POST /v1/auth/access_token`.
pub async fn access_token(State(state): State<Shared>, body: Bytes) -> Response {
    match issue_token(&state, &body) {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

fn issue_token(state: &Shared, body: &Bytes) -> Result<Value, ApiError> {
    let map = parse_object(body, &["clientId", "clientSecret"])?;
    let field = |name: &str| match map.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::invalid_request(format!(
            "body/{name} must be string"
        ))),
        None => Err(ApiError::invalid_request(format!(
            "body must have required property '{name}'"
        ))),
    };
    let (client_id, client_secret) = (field("clientId")?, field("clientSecret")?);
    let issued = state.auth().issue(&client_id, &client_secret);
    let (token, lifetime) =
        issued.ok_or_else(|| ApiError::unauthorized("Invalid client credentials"))?;
    // Whole seconds as Port sends them; a sub-second lifetime (tests only) stays fractional.
    let expires_in = if lifetime.subsec_nanos() == 0 {
        json!(lifetime.as_secs())
    } else {
        json!(lifetime.as_secs_f64())
    };
    Ok(json!({"ok": true, "accessToken": token, "expiresIn": expires_in, "tokenType": "Bearer"}))
}

/// Middleware: rejects requests without a valid, unexpired bearer token and hands the handler
/// an [`Actor`].
pub async fn require_bearer(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let Some(token) = token else {
        return ApiError::unauthorized("Missing bearer access token").into_response();
    };
    let client_id = match state.auth().check(token) {
        TokenCheck::Valid(client_id) => client_id,
        TokenCheck::Expired => {
            return ApiError::unauthorized("Access token has expired").into_response();
        }
        TokenCheck::Unknown => {
            return ApiError::unauthorized("Invalid access token").into_response();
        }
    };
    let user_agent = req
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    req.extensions_mut().insert(Actor {
        client_id,
        user_agent,
    });
    next.run(req).await
}
