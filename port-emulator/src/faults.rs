//! Faults injected on demand: added latency, 5xx answers and 429 rate limiting, decided by a
//! seeded generator so a run can be reproduced.

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::api_error::ApiError;
use crate::state::Shared;
use crate::timefmt::now_epoch_secs;

/// What to inject. `Faults::default()` injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Faults {
    /// Added before every affected request is handled.
    pub latency_ms: u64,
    /// Probability (0..=1) that an affected request answers 500, 502, 503 or 504.
    pub server_error_rate: f64,
    /// The next N affected requests answer 503, before any random draw.
    pub server_error_next: u32,
    /// Probability (0..=1) that an affected request answers 429.
    pub rate_limit_rate: f64,
    /// The next N affected requests answer 429, before any random draw.
    pub rate_limit_next: u32,
    /// Seconds a 429 tells the client to wait.
    pub retry_after_secs: u64,
    /// Which headers a 429 carries.
    pub rate_limit_hint: RateLimitHint,
    /// Seed of the random draws.
    pub seed: u64,
    /// Affected endpoints as `"METHOD /path/template"` (see [`crate::paths`]); empty means every
    /// Port endpoint, the token endpoint included.
    pub endpoints: Vec<String>,
}

/// Port sends `x-ratelimit-*` headers and sometimes `Retry-After`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RateLimitHint {
    /// `Retry-After` and `x-ratelimit-reset`.
    #[default]
    Both,
    RetryAfter,
    ResetEpoch,
    /// A bare 429.
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Injected {
    RateLimited {
        retry_after_secs: u64,
        hint: RateLimitHint,
    },
    ServerError(StatusCode),
}

/// splitmix64: tiny, seedable and good enough to draw fault decisions.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Clone)]
pub struct FaultEngine {
    faults: Faults,
    rng: SplitMix64,
    rate_limits_left: u32,
    server_errors_left: u32,
}

impl FaultEngine {
    pub fn new(faults: Faults) -> Self {
        FaultEngine {
            rng: SplitMix64(faults.seed),
            rate_limits_left: faults.rate_limit_next,
            server_errors_left: faults.server_error_next,
            faults,
        }
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The latency to add and the fault to answer with, if any, for one request to `endpoint`
    /// (`"METHOD /template"`).
    pub fn decide(&mut self, endpoint: &str) -> (Duration, Option<Injected>) {
        let f = &self.faults;
        if !f.endpoints.is_empty() && !f.endpoints.iter().any(|e| e == endpoint) {
            return (Duration::ZERO, None);
        }
        let latency = Duration::from_millis(f.latency_ms);
        let rate_limited = Injected::RateLimited {
            retry_after_secs: f.retry_after_secs,
            hint: f.rate_limit_hint,
        };
        if self.rate_limits_left > 0 {
            self.rate_limits_left -= 1;
            return (latency, Some(rate_limited));
        }
        if self.server_errors_left > 0 {
            self.server_errors_left -= 1;
            return (
                latency,
                Some(Injected::ServerError(StatusCode::SERVICE_UNAVAILABLE)),
            );
        }
        // Both draws happen on every request so one rate does not shift the other's sequence.
        let (rate_draw, error_draw, status_draw) = (
            self.rng.next_f64(),
            self.rng.next_f64(),
            self.rng.next_u64(),
        );
        if rate_draw < self.faults.rate_limit_rate {
            return (latency, Some(rate_limited));
        }
        if error_draw < self.faults.server_error_rate {
            const STATUSES: [StatusCode; 4] = [
                StatusCode::INTERNAL_SERVER_ERROR,
                StatusCode::BAD_GATEWAY,
                StatusCode::SERVICE_UNAVAILABLE,
                StatusCode::GATEWAY_TIMEOUT,
            ];
            let status = STATUSES[(status_draw % STATUSES.len() as u64) as usize];
            return (latency, Some(Injected::ServerError(status)));
        }
        (latency, None)
    }
}

impl IntoResponse for Injected {
    fn into_response(self) -> Response {
        match self {
            Injected::RateLimited {
                retry_after_secs,
                hint,
            } => {
                let mut response = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_exceeded",
                    "Too many requests, please retry later",
                )
                .into_response();
                let headers = response.headers_mut();
                headers.insert("x-ratelimit-limit", HeaderValue::from_static("100"));
                headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
                if matches!(hint, RateLimitHint::Both | RateLimitHint::RetryAfter) {
                    headers.insert("retry-after", HeaderValue::from(retry_after_secs));
                }
                if matches!(hint, RateLimitHint::Both | RateLimitHint::ResetEpoch) {
                    let reset = now_epoch_secs() + retry_after_secs;
                    headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
                }
                response
            }
            // Gateways in front of Port answer 502/504 with HTML, not Port's JSON: clients must
            // cope with both.
            Injected::ServerError(status)
                if status == StatusCode::BAD_GATEWAY || status == StatusCode::GATEWAY_TIMEOUT =>
            {
                let body = format!("<html><body><h1>{status}</h1></body></html>");
                (status, [("content-type", "text/html")], body).into_response()
            }
            Injected::ServerError(status) => {
                ApiError::new(status, "internal_error", "Injected fault").into_response()
            }
        }
    }
}

/// Middleware applying the configured faults to Port routes.
pub async fn inject(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let endpoint = format!("{} {}", req.method(), template);
    let (latency, injected) = state.faults().decide(&endpoint);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match injected {
        Some(fault) => fault.into_response(),
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_decisions() {
        let faults = Faults {
            server_error_rate: 0.3,
            rate_limit_rate: 0.1,
            seed: 42,
            ..Faults::default()
        };
        let draw = |mut engine: FaultEngine| -> Vec<_> {
            (0..200).map(|_| engine.decide("POST /x").1).collect()
        };
        let a = draw(FaultEngine::new(faults.clone()));
        assert_eq!(a, draw(FaultEngine::new(faults)));
        let errors = a
            .iter()
            .filter(|d| matches!(d, Some(Injected::ServerError(_))))
            .count();
        let limited = a
            .iter()
            .filter(|d| matches!(d, Some(Injected::RateLimited { .. })))
            .count();
        // Loose bounds: the draws follow the rates, not exactly.
        assert!(
            (30..=80).contains(&errors),
            "{errors} server errors out of 200"
        );
        assert!(
            (5..=40).contains(&limited),
            "{limited} rate limits out of 200"
        );
    }

    #[test]
    fn next_n_come_first_then_stop() {
        let mut engine = FaultEngine::new(Faults {
            rate_limit_next: 2,
            server_error_next: 1,
            ..Faults::default()
        });
        let kinds: Vec<_> = (0..5).map(|_| engine.decide("GET /y").1).collect();
        assert!(matches!(kinds[0], Some(Injected::RateLimited { .. })));
        assert!(matches!(kinds[1], Some(Injected::RateLimited { .. })));
        assert_eq!(
            kinds[2],
            Some(Injected::ServerError(StatusCode::SERVICE_UNAVAILABLE))
        );
        assert_eq!(&kinds[3..], &[None, None]);
    }

    #[test]
    fn latency_applies_to_affected_endpoints_only() {
        let mut engine = FaultEngine::new(Faults {
            latency_ms: 250,
            endpoints: vec!["GET /slow".into()],
            ..Faults::default()
        });
        assert_eq!(
            engine.decide("GET /slow"),
            (Duration::from_millis(250), None)
        );
        assert_eq!(engine.decide("GET /fast"), (Duration::ZERO, None));
    }

    #[test]
    fn endpoint_filter_spares_other_endpoints() {
        let mut engine = FaultEngine::new(Faults {
            server_error_next: 5,
            endpoints: vec!["POST /bulk".into()],
            ..Faults::default()
        });
        assert_eq!(engine.decide("POST /auth").1, None);
        assert!(engine.decide("POST /bulk").1.is_some());
    }
}
