//! Assumed-role credentials resolved once and shared until close to expiry. Checking a
//! member account's role before reading it (one clear error when it is refused) and the
//! reads themselves then cost a single AssumeRole, with no extra call to test the role.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, future};

/// Credentials this close to expiry are renewed rather than handed out: a page read with
/// them must not outlive them.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
pub struct CachedCredentials<P> {
    inner: P,
    /// Held across the inner call so concurrent first uses wait for one AssumeRole.
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

impl<P> CachedCredentials<P> {
    pub fn new(inner: P) -> Self {
        CachedCredentials {
            inner,
            cached: tokio::sync::Mutex::new(None),
        }
    }
}

fn still_good(credentials: &Credentials, now: SystemTime) -> bool {
    credentials
        .expiry()
        .is_none_or(|expiry| expiry > now + RENEW_BEFORE_EXPIRY)
}

impl<P: ProvideCredentials> ProvideCredentials for CachedCredentials<P> {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let mut cached = self.cached.lock().await;
            if let Some(credentials) = cached.as_ref()
                && still_good(credentials, SystemTime::now())
            {
                return Ok(credentials.clone());
            }
            let fresh = self.inner.provide_credentials().await?;
            *cached = Some(fresh.clone());
            Ok(fresh)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        lifetime: Duration,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.calls.fetch_add(1, Ordering::SeqCst);
            future::ProvideCredentials::ready(Ok(Credentials::new(
                "AKID",
                "secret",
                None,
                Some(SystemTime::now() + self.lifetime),
                "test",
            )))
        }
    }

    #[tokio::test]
    async fn one_inner_call_while_fresh_and_a_new_one_near_expiry() {
        let calls = Arc::new(AtomicUsize::new(0));
        let fresh = CachedCredentials::new(Counting {
            calls: calls.clone(),
            lifetime: Duration::from_secs(3600),
        });
        for _ in 0..3 {
            fresh.provide_credentials().await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = Arc::new(AtomicUsize::new(0));
        let short = CachedCredentials::new(Counting {
            calls: calls.clone(),
            lifetime: Duration::from_secs(60),
        });
        short.provide_credentials().await.unwrap();
        short.provide_credentials().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
