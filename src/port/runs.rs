//! Action runs: the terminal status of a run we served and log lines on its page.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::PortClient;
use super::error::PortError;
use super::stats::operation;
use super::transport::ApiRequest;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Success,
    Failure,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Success => "SUCCESS",
            RunStatus::Failure => "FAILURE",
        }
    }
}

impl PortClient {
    /// `PATCH /v1/actions/runs/{run_id}` with the terminal status, a summary and a link.
    pub async fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        summary: &str,
        link: Option<&str>,
    ) -> Result<(), PortError> {
        let mut body = Map::new();
        body.insert("status".into(), json!(status.as_str()));
        body.insert("summary".into(), json!(summary));
        if let Some(link) = link {
            body.insert("link".into(), json!(link));
        }
        let request = ApiRequest::new(
            operation::UPDATE_RUN,
            Method::PATCH,
            &["v1", "actions", "runs", run_id],
        )
        .json(&Value::Object(body));
        let response = self.transport.send(&request).await?;
        if response.is_success() {
            Ok(())
        } else {
            Err(response.into_error(operation::UPDATE_RUN))
        }
    }

    /// `POST /v1/actions/runs/{run_id}/logs`: one line on the run's page.
    pub async fn add_run_log(&self, run_id: &str, message: &str) -> Result<(), PortError> {
        let request = ApiRequest::new(
            operation::ADD_RUN_LOG,
            Method::POST,
            &["v1", "actions", "runs", run_id, "logs"],
        )
        .json(&json!({"message": message}));
        let response = self.transport.send(&request).await?;
        if response.is_success() {
            Ok(())
        } else {
            Err(response.into_error(operation::ADD_RUN_LOG))
        }
    }
}
