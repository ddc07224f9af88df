//! The access token: fetched once, shared, refreshed before it expires and after a 401.
//! Concurrent callers that find it stale wait for one refresh instead of each fetching one
//! (Port keeps one active token per credential set, so parallel fetches would retire each
//! other's tokens).

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::config::Secret;

/// Refresh this long before expiry: a tenth of the lifetime, at most a minute.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(60))
}

#[derive(Clone)]
pub(crate) struct AccessToken {
    pub value: Secret,
    refresh_at: Instant,
}

impl AccessToken {
    pub fn new(value: String, expires_in: Duration, obtained_at: Instant) -> Self {
        AccessToken {
            value: Secret::new(value),
            refresh_at: obtained_at + expires_in - refresh_margin(expires_in),
        }
    }

    fn is_fresh(&self) -> bool {
        Instant::now() < self.refresh_at
    }
}

#[derive(Default)]
pub(crate) struct TokenCache {
    current: Mutex<Option<AccessToken>>,
}

impl TokenCache {
    /// The current token, or a new one from `fetch` when there is none or it is about to
    /// expire. The lock is held during the fetch so concurrent callers share it.
    pub async fn get<F, Fut, E>(&self, fetch: F) -> Result<AccessToken, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<AccessToken, E>>,
    {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref().filter(|t| t.is_fresh()) {
            return Ok(token.clone());
        }
        let token = fetch().await?;
        *current = Some(token.clone());
        Ok(token)
    }

    /// Drops `rejected` (Port answered 401 to it) unless another caller already replaced it.
    pub async fn invalidate(&self, rejected: &AccessToken) {
        let mut current = self.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|t| t.value.expose() == rejected.value.expose())
        {
            *current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_ahead_of_expiry() {
        let now = Instant::now();
        let long = AccessToken::new("a".into(), Duration::from_secs(10800), now);
        assert_eq!(long.refresh_at - now, Duration::from_secs(10740));
        let short = AccessToken::new("b".into(), Duration::from_secs(2), now);
        assert_eq!(short.refresh_at - now, Duration::from_millis(1800));
    }
}
