//! What a successful action did: a summary for the run, a link to the resource, and the change
//! the catalog should follow.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum CatalogChange {
    /// Map this raw item and upsert the entities it gives.
    Upsert(Value),
    /// Map this raw item (as it was before the deletion) and delete the entities it gives.
    Delete(Value),
    Nothing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub summary: String,
    pub link: Option<String>,
    pub catalog: CatalogChange,
}

/// A 64-hex-digit token unique to a run: the same run (a redelivered webhook) always gets the
/// same token, which AWS uses to make the second call a no-op.
pub fn run_token(run_id: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(format!("port-aws-sync/run/{run_id}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The AWS console page of a resource, with query values encoded.
pub fn console_link(
    region: &str,
    path: &str,
    query: &[(&str, &str)],
    fragment: Option<&str>,
) -> Option<String> {
    let base = format!("https://{region}.console.aws.amazon.com/{path}");
    let mut url = reqwest::Url::parse_with_params(&base, query).ok()?;
    url.set_fragment(fragment);
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_tokens_are_stable_distinct_and_fit_aws_limits() {
        let a = run_token("r_abc");
        assert_eq!(a, run_token("r_abc"));
        assert_ne!(a, run_token("r_abd"));
        // ClientRequestToken: 32–64 characters; IdempotencyToken: \w{1,32} (we use a prefix).
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn console_links_encode_names() {
        let link = console_link(
            "eu-west-1",
            "secretsmanager/secret",
            &[("name", "app/db password"), ("region", "eu-west-1")],
            None,
        )
        .unwrap();
        assert_eq!(
            link,
            "https://eu-west-1.console.aws.amazon.com/secretsmanager/secret?name=app%2Fdb+password&region=eu-west-1"
        );
    }
}
