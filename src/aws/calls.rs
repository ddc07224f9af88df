//! Counts every AWS API attempt by service, operation and HTTP status (`network_error` when no
//! response came), process-wide, for the daemon's `/metrics`. Installed on each client the
//! sources build; the credentials provider's own STS calls (AssumeRole) are not seen here.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// (service, operation, status) → attempts.
pub type CallCounts = BTreeMap<(String, String, String), u64>;

fn counts() -> &'static Mutex<CallCounts> {
    static COUNTS: OnceLock<Mutex<CallCounts>> = OnceLock::new();
    COUNTS.get_or_init(Default::default)
}

/// Attempts so far (retries count as attempts), for folding into metrics.
pub fn snapshot() -> CallCounts {
    counts().lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CallCounter;

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "port-aws-sync call counter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            // "Secrets Manager" → "secretsmanager", the name IAM and endpoints use.
            .map(|m| {
                (
                    m.service().replace(' ', "").to_lowercase(),
                    m.name().to_owned(),
                )
            })
            .unwrap_or_else(|| ("unknown".to_owned(), "unknown".to_owned()));
        let status = context.response().map_or_else(
            || "network_error".to_owned(),
            |r| r.status().as_u16().to_string(),
        );
        *counts()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((service, operation, status))
            .or_default() += 1;
        Ok(())
    }
}

/// A `$sdk` client (e.g. `aws_sdk_acm`) calling `$region` with `$config`'s credentials,
/// every attempt counted by [`CallCounter`].
macro_rules! counted_client {
    ($sdk:ident, $config:expr, $region:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config)
                .region($sdk::config::Region::new(String::from($region)))
                .interceptor($crate::aws::calls::CallCounter)
                .build(),
        )
    };
}
pub(crate) use counted_client;
