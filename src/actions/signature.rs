//! Port's webhook signature: `x-port-signature: v1,<base64 HMAC-SHA256("{timestamp}.{body}")>`
//! keyed with the client secret, and `x-port-timestamp` in seconds (milliseconds seen too).
//! A request passes when one of its signatures matches, its timestamp is within the tolerance
//! and the same signature was not accepted before within that tolerance (a replay).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::port::Secret;

pub const TIMESTAMP_HEADER: &str = "x-port-timestamp";
pub const SIGNATURE_HEADER: &str = "x-port-signature";

/// Timestamps at or above this are milliseconds (1e12 s is in the year 33658).
const MILLISECONDS_FROM: u64 = 1_000_000_000_000;

/// Why a request was refused. The client only ever sees 401 with no detail; the reason is
/// logged for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    MissingHeaders,
    BadTimestamp,
    StaleTimestamp,
    BadSignature,
    Replayed,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::MissingHeaders => "missing x-port-timestamp or x-port-signature",
            Rejection::BadTimestamp => "x-port-timestamp is not a number",
            Rejection::StaleTimestamp => "x-port-timestamp outside the tolerance",
            Rejection::BadSignature => "signature does not match",
            Rejection::Replayed => "signature already used (replay)",
        }
    }
}

pub struct Verifier {
    key: Secret,
    tolerance: Duration,
    /// Accepted signatures until they fall out of the tolerance window.
    seen: Mutex<HashMap<Vec<u8>, SystemTime>>,
}

impl Verifier {
    pub fn new(key: Secret, tolerance: Duration) -> Self {
        Verifier {
            key,
            tolerance,
            seen: Mutex::new(HashMap::new()),
        }
    }

    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Rejection> {
        let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
            return Err(Rejection::MissingHeaders);
        };
        let sent_at = parse_timestamp(timestamp.trim())?;
        let distance = match now.duration_since(sent_at) {
            Ok(age) => age,
            Err(ahead) => ahead.duration(),
        };
        if distance > self.tolerance {
            return Err(Rejection::StaleTimestamp);
        }
        let expected = mac(self.key.expose(), timestamp.trim(), body);
        let matched = signature
            .split_whitespace()
            .filter_map(|one| one.strip_prefix("v1,"))
            .filter_map(|encoded| STANDARD.decode(encoded).ok())
            .find(|candidate| expected.clone().verify_slice(candidate).is_ok())
            .ok_or(Rejection::BadSignature)?;
        self.remember(matched, now)
    }

    fn remember(&self, signature: Vec<u8>, now: SystemTime) -> Result<(), Rejection> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Past twice the tolerance a replay is refused for its timestamp anyway.
        let horizon = self.tolerance * 2;
        seen.retain(|_, at| now.duration_since(*at).map_or(true, |age| age <= horizon));
        if seen.contains_key(&signature) {
            return Err(Rejection::Replayed);
        }
        seen.insert(signature, now);
        Ok(())
    }
}

fn parse_timestamp(text: &str) -> Result<SystemTime, Rejection> {
    let number: u64 = text.parse().map_err(|_| Rejection::BadTimestamp)?;
    let since_epoch = if number >= MILLISECONDS_FROM {
        Duration::from_millis(number)
    } else {
        Duration::from_secs(number)
    };
    UNIX_EPOCH
        .checked_add(since_epoch)
        .ok_or(Rejection::BadTimestamp)
}

/// HMAC-SHA256 of `"{timestamp}.{body}"`, the content Port signs.
fn mac(key: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// `v1,<base64>` for `body` sent at `timestamp`: what Port puts in `x-port-signature`.
pub fn sign(key: &str, timestamp: &str, body: &[u8]) -> String {
    let signature = mac(key, timestamp, body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "port-client-secret";

    fn verifier() -> Verifier {
        Verifier::new(Secret::new(KEY), Duration::from_secs(300))
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn accepts_seconds_and_milliseconds_once() {
        let v = verifier();
        let body = br#"{"runId":"r_1"}"#;
        let signature = sign(KEY, "1700000000", body);
        assert_eq!(
            v.verify(
                Some("1700000000"),
                Some(&signature),
                body,
                at(1_700_000_100)
            ),
            Ok(())
        );
        assert_eq!(
            v.verify(
                Some("1700000000"),
                Some(&signature),
                body,
                at(1_700_000_101)
            ),
            Err(Rejection::Replayed)
        );
        let millis = sign(KEY, "1700000000123", body);
        assert_eq!(
            v.verify(
                Some("1700000000123"),
                Some(&millis),
                body,
                at(1_700_000_000)
            ),
            Ok(())
        );
    }

    #[test]
    fn refuses_tampering_other_keys_and_stale_or_future_timestamps() {
        let v = verifier();
        let body = br#"{"runId":"r_1"}"#;
        let signature = sign(KEY, "1700000000", body);
        let now = at(1_700_000_000);
        assert_eq!(
            v.verify(
                Some("1700000000"),
                Some(&signature),
                b"{\"runId\":\"r_2\"}",
                now
            ),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            v.verify(Some("1700000001"), Some(&signature), body, now),
            Err(Rejection::BadSignature)
        );
        let other = sign("another-secret", "1700000000", body);
        assert_eq!(
            v.verify(Some("1700000000"), Some(&other), body, now),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            v.verify(
                Some("1700000000"),
                Some(&signature),
                body,
                at(1_700_000_301)
            ),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            v.verify(
                Some("1700000000"),
                Some(&signature),
                body,
                at(1_699_999_699)
            ),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            v.verify(Some("soon"), Some(&signature), body, now),
            Err(Rejection::BadTimestamp)
        );
        assert_eq!(
            v.verify(None, Some(&signature), body, now),
            Err(Rejection::MissingHeaders)
        );
        let bare = signature.trim_start_matches("v1,").to_owned();
        assert_eq!(
            v.verify(Some("1700000000"), Some(&bare), body, now),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn signature_matches_an_independent_implementation() {
        // Python: base64(hmac.new(key, b'1700000000.{"runId":"r_1"}', sha256).digest())
        assert_eq!(
            sign(KEY, "1700000000", br#"{"runId":"r_1"}"#),
            "v1,EpVUt14v76Q1echi3rvD6sVx0Su54KhSmUQSozgcD1c="
        );
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let v = verifier();
        let body = b"{}";
        let good = sign(KEY, "1700000000", body);
        let header = format!("v1,AAAA {good}");
        assert_eq!(
            v.verify(Some("1700000000"), Some(&header), body, at(1_700_000_000)),
            Ok(())
        );
    }
}
