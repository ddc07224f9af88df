//! When to retry and how long to wait.

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::config::RetryPolicy;

/// 408, 429 and the 5xx a gateway or an overloaded Port answers; other statuses are final.
pub(crate) fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The wait Port asks for: `Retry-After` (seconds) and `x-ratelimit-reset` (epoch seconds),
/// the longer of the two when both are present.
pub(crate) fn requested_wait(headers: &HeaderMap, now_epoch_secs: u64) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    let retry_after = number("retry-after").map(Duration::from_secs_f64);
    let reset = number("x-ratelimit-reset")
        .map(|epoch| Duration::from_secs_f64((epoch - now_epoch_secs as f64).max(0.0)));
    match (retry_after, reset) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The wait before retry number `retry` (1 for the first retry). `jitter` is uniform in [0, 1):
/// half the exponential backoff is fixed and half random, so clients that failed together do not
/// retry together. A wait Port asked for is honoured, plus a little jitter, within the cap.
pub(crate) fn wait_before_retry(
    policy: &RetryPolicy,
    retry: u32,
    requested: Option<Duration>,
    jitter: f64,
) -> Duration {
    let jitter = jitter.clamp(0.0, 1.0);
    let wait = match requested {
        Some(asked) => asked + policy.initial_backoff.mul_f64(jitter / 2.0),
        None => {
            let exponent = retry.saturating_sub(1).min(20);
            let backoff = policy
                .initial_backoff
                .saturating_mul(1u32 << exponent)
                .min(policy.max_backoff);
            backoff.mul_f64(0.5 + jitter / 2.0)
        }
    };
    wait.min(policy.max_backoff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(300),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
        }
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(s), "{s}");
        }
        for s in [200, 207, 400, 401, 403, 404, 409, 413, 422, 501] {
            assert!(!is_retryable(s), "{s}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = policy();
        assert_eq!(
            wait_before_retry(&p, 1, None, 0.0),
            Duration::from_millis(150)
        );
        assert_eq!(wait_before_retry(&p, 1, None, 0.999_999).as_millis(), 299);
        assert_eq!(
            wait_before_retry(&p, 3, None, 0.0),
            Duration::from_millis(600)
        );
        assert_eq!(
            wait_before_retry(&p, 30, None, 0.999),
            Duration::from_millis(9995)
        );
    }

    #[test]
    fn requested_waits_are_honoured_within_the_cap() {
        let p = policy();
        let asked = Some(Duration::from_secs(2));
        assert_eq!(wait_before_retry(&p, 1, asked, 0.0), Duration::from_secs(2));
        assert_eq!(
            wait_before_retry(&p, 1, asked, 0.5),
            Duration::from_millis(2075)
        );
        let too_long = Some(Duration::from_secs(3600));
        assert_eq!(wait_before_retry(&p, 1, too_long, 0.0), p.max_backoff);
    }

    #[test]
    fn reads_retry_after_and_ratelimit_reset() {
        let mut h = HeaderMap::new();
        assert_eq!(requested_wait(&h, 1000), None);
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(requested_wait(&h, 1000), Some(Duration::from_secs(3)));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1005"));
        assert_eq!(requested_wait(&h, 1000), Some(Duration::from_secs(5)));
        h.remove("retry-after");
        h.insert("x-ratelimit-reset", HeaderValue::from_static("900"));
        assert_eq!(
            requested_wait(&h, 1000),
            Some(Duration::ZERO),
            "a past reset: go now"
        );
        h.insert("x-ratelimit-reset", HeaderValue::from_static("soon"));
        assert_eq!(requested_wait(&h, 1000), None);
    }
}
