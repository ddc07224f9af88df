//! Live-events settings: the SQS queues and how they are consumed.

use std::time::Duration;

use super::engine::RetryPolicy;
use crate::config::Env;

pub const QUEUE_URL_VAR: &str = "LIVE_EVENTS_QUEUE_URL";
pub const CONCURRENCY_VAR: &str = "LIVE_EVENTS_CONCURRENCY";
pub const COALESCE_MS_VAR: &str = "LIVE_EVENTS_COALESCE_MS";
pub const API_KEY_VAR: &str = "LIVE_EVENTS_API_KEY";
pub const WEBHOOK_ATTEMPTS_VAR: &str = "LIVE_EVENTS_WEBHOOK_ATTEMPTS";
/// Where a queue URL that names no region is read (the AWS SDK's own variables).
pub const DEFAULT_REGION_VARS: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];

/// Every name [`LiveEventsSettings::from_settings`] reads that a config file may hold.
pub const SETTINGS: &[&str] = &[
    QUEUE_URL_VAR,
    CONCURRENCY_VAR,
    COALESCE_MS_VAR,
    API_KEY_VAR,
    WEBHOOK_ATTEMPTS_VAR,
];

/// One queue and the region its client signs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub url: String,
    pub region: String,
}

#[derive(Debug, Clone)]
pub struct LiveEventsSettings {
    /// May be empty when only the webhook is on.
    pub queues: Vec<Queue>,
    /// Turns the webhook on; compared with the `x-port-aws-ocean-api-key` header.
    pub api_key: Option<crate::port::Secret>,
    /// Resources read and written at once.
    pub concurrency: usize,
    /// Events for one resource within this window make one read.
    pub coalesce_window: Duration,
    /// How a webhook event that failed transiently is tried again.
    pub webhook_retry: RetryPolicy,
}

impl LiveEventsSettings {
    /// Reads wait on AWS mostly; Port requests stay bounded by PORT_MAX_IN_FLIGHT.
    pub const DEFAULT_CONCURRENCY: usize = 32;
    pub const DEFAULT_COALESCE: Duration = Duration::from_millis(1_000);
    /// Attempts of a webhook event in all: waits of about 1, 2, 4 and 8 s, 15 s in all,
    /// outlasting a burst of throttling without holding an event for minutes.
    pub const DEFAULT_WEBHOOK_ATTEMPTS: u32 = 5;
    const WEBHOOK_FIRST_WAIT: Duration = Duration::from_secs(1);
    const WEBHOOK_MAX_WAIT: Duration = Duration::from_secs(30);

    /// The settings from an [`Env`] (flags, environment, config file), as every reader's.
    pub fn from_settings<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
    ) -> Result<Option<Self>, String> {
        let region = env.get(&DEFAULT_REGION_VARS);
        Self::from_lookup(|name| env.get(&[name]), region.as_deref())
    }

    /// `None` when neither LIVE_EVENTS_QUEUE_URL nor LIVE_EVENTS_API_KEY is set (live events
    /// off). `default_region` (AWS_REGION) is used for URLs whose host names no region.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        default_region: Option<&str>,
    ) -> Result<Option<Self>, String> {
        let list = lookup(QUEUE_URL_VAR).unwrap_or_default();
        let api_key = lookup(API_KEY_VAR)
            .filter(|v| !v.is_empty())
            .map(crate::port::Secret::new);
        if list.trim().is_empty() && api_key.is_none() {
            return Ok(None);
        }
        let mut queues = Vec::new();
        for url in list.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| format!("{QUEUE_URL_VAR}: {url:?} is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(format!("{QUEUE_URL_VAR}: {url:?} is not an http(s) URL"));
            }
            let region = parsed
                .host_str()
                .and_then(region_of_queue_host)
                .or(default_region)
                .ok_or_else(|| {
                    format!("{QUEUE_URL_VAR}: the host of {url:?} names no region; set AWS_REGION")
                })?;
            queues.push(Queue {
                url: url.to_owned(),
                region: region.to_owned(),
            });
        }
        let whole = |name: &str, default: u64| -> Result<u64, String> {
            match lookup(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(default),
                Some(value) => value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("{name}: expected a whole number, got {value:?}")),
            }
        };
        let concurrency = whole(CONCURRENCY_VAR, Self::DEFAULT_CONCURRENCY as u64)?;
        if concurrency == 0 {
            return Err(format!("{CONCURRENCY_VAR}: expected at least 1"));
        }
        let window = whole(COALESCE_MS_VAR, Self::DEFAULT_COALESCE.as_millis() as u64)?;
        let attempts = whole(WEBHOOK_ATTEMPTS_VAR, Self::DEFAULT_WEBHOOK_ATTEMPTS.into())?;
        if attempts == 0 || attempts > 20 {
            return Err(format!(
                "{WEBHOOK_ATTEMPTS_VAR}: expected 1 (no retry) to 20, got {attempts}"
            ));
        }
        Ok(Some(LiveEventsSettings {
            queues,
            api_key,
            concurrency: concurrency as usize,
            coalesce_window: Duration::from_millis(window),
            webhook_retry: RetryPolicy {
                attempts: attempts as u32,
                first_wait: Self::WEBHOOK_FIRST_WAIT,
                max_wait: Self::WEBHOOK_MAX_WAIT,
            },
        }))
    }
}

/// `sqs.<region>.amazonaws.com[.cn]` or the legacy `<region>.queue.amazonaws.com`.
fn region_of_queue_host(host: &str) -> Option<&str> {
    let labels: Vec<&str> = host.split('.').collect();
    match labels.as_slice() {
        ["sqs", region, "amazonaws", ..] => Some(region),
        [region, "queue", "amazonaws", ..] => Some(region),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        vars: &[(&str, &str)],
        region: Option<&str>,
    ) -> Result<Option<LiveEventsSettings>, String> {
        LiveEventsSettings::from_lookup(
            |name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            },
            region,
        )
    }

    #[test]
    fn off_without_a_queue_or_an_api_key() {
        assert!(parse(&[], None).unwrap().is_none());
        assert!(parse(&[(QUEUE_URL_VAR, " ")], None).unwrap().is_none());
        let webhook_only = parse(&[(API_KEY_VAR, "k")], None).unwrap().unwrap();
        assert!(webhook_only.queues.is_empty());
        assert_eq!(webhook_only.api_key.unwrap().expose(), "k");
    }

    #[test]
    fn region_comes_from_the_host_else_aws_region() {
        let settings = parse(
            &[(
                QUEUE_URL_VAR,
                "https://sqs.eu-west-1.amazonaws.com/123456789012/a, https://us-east-2.queue.amazonaws.com/123456789012/b,http://127.0.0.1:5000/123456789012/c",
            )],
            Some("ap-south-1"),
        )
        .unwrap()
        .unwrap();
        let regions: Vec<_> = settings.queues.iter().map(|q| q.region.as_str()).collect();
        assert_eq!(regions, ["eu-west-1", "us-east-2", "ap-south-1"]);
        assert_eq!(
            settings.queues[2].url,
            "http://127.0.0.1:5000/123456789012/c"
        );
        assert_eq!(
            settings.concurrency,
            LiveEventsSettings::DEFAULT_CONCURRENCY
        );
        assert_eq!(
            settings.coalesce_window,
            LiveEventsSettings::DEFAULT_COALESCE
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        let error = parse(&[(QUEUE_URL_VAR, "http://localhost/q")], None).unwrap_err();
        assert!(
            error.contains("LIVE_EVENTS_QUEUE_URL") && error.contains("AWS_REGION"),
            "{error}"
        );
        let error = parse(&[(QUEUE_URL_VAR, "queue-name")], Some("eu-west-1")).unwrap_err();
        assert!(
            error.starts_with("LIVE_EVENTS_QUEUE_URL: \"queue-name\" is not a URL"),
            "{error}"
        );
        let url = (QUEUE_URL_VAR, "https://sqs.eu-west-1.amazonaws.com/1/q");
        let error = parse(&[url, (CONCURRENCY_VAR, "0")], None).unwrap_err();
        assert_eq!(error, "LIVE_EVENTS_CONCURRENCY: expected at least 1");
        let error = parse(&[url, (WEBHOOK_ATTEMPTS_VAR, "0")], None).unwrap_err();
        assert_eq!(
            error,
            "LIVE_EVENTS_WEBHOOK_ATTEMPTS: expected 1 (no retry) to 20, got 0"
        );
        let error = parse(&[url, (COALESCE_MS_VAR, "soon")], None).unwrap_err();
        assert_eq!(
            error,
            "LIVE_EVENTS_COALESCE_MS: expected a whole number, got \"soon\""
        );
    }
}
