//! Helpers shared by the emulator's integration tests: a raw HTTP caller and blueprints.
#![allow(dead_code)]

use port_emulator::Emulator;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const UA: &str = "port-ocean/aws-sync/0.1.0/aws-sync/exporter";

/// Talks to the emulator like any HTTP client would, with a bearer token.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub user_agent: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

pub async fn token(emu: &Emulator) -> String {
    let reply = raw(
        &reqwest::Client::new(),
        Method::POST,
        &format!("{}/v1/auth/access_token", emu.base_url()),
        None,
        Some(json!({"clientId": emu.client_id(), "clientSecret": emu.client_secret()})),
        UA,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["accessToken"].as_str().unwrap().to_string()
}

pub async fn raw(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
    user_agent: &str,
) -> Reply {
    let mut req = http.request(method, url).header("user-agent", user_agent);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request reaches the emulator");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        headers,
        body,
    }
}

impl Api {
    pub async fn connect(emu: &Emulator) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: emu.base_url(),
            token: token(emu).await,
            user_agent: UA.to_string(),
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{}", self.base, path);
        raw(
            &self.http,
            method,
            &url,
            Some(&self.token),
            body,
            &self.user_agent,
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn bulk(&self, blueprint: &str, query: &str, entities: Value) -> Reply {
        let path = format!("/v1/blueprints/{blueprint}/entities/bulk?{query}");
        self.post(&path, json!({"entities": entities})).await
    }

    pub async fn search(&self, blueprint: &str, body: Value) -> Reply {
        self.post(&format!("/v1/blueprints/{blueprint}/entities/search"), body)
            .await
    }
}

/// A small catalog: secrets relate to an account (single) and to regions (many).
pub fn blueprints() -> Vec<Value> {
    vec![
        json!({"identifier": "awsAccount", "title": "AWS account", "schema": {"properties": {
            "email": {"type": "string"}}}}),
        json!({"identifier": "region", "title": "Region", "schema": {"properties": {}}}),
        json!({"identifier": "awsSecret", "title": "Secret", "schema": {
        "properties": {
            "arn": {"type": "string"},
            "link": {"type": "string", "format": "url"},
            "createdDate": {"type": "string", "format": "date-time"},
            "rotationDays": {"type": "number"},
            "rotationEnabled": {"type": "boolean"},
            "tags": {"type": "object"},
            "replicas": {"type": "array", "items": {"type": "string"}},
            "status": {"type": "string", "enum": ["ACTIVE", "DELETED"]}
        },
        "required": ["arn"]},
        "relations": {
            "account": {"target": "awsAccount", "required": false, "many": false},
            "regions": {"target": "region", "required": false, "many": true}
        }}),
    ]
}

pub async fn emulator() -> Emulator {
    Emulator::builder().blueprints(blueprints()).start().await
}

pub fn secret(id: &str) -> Value {
    json!({"identifier": id, "title": id, "properties": {"arn": format!("arn:{id}")}})
}
