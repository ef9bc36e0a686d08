//! RedriveExecution: a FAILED, TIMED_OUT or ABORTED STANDARD execution runs again from the
//! top-level state that did not succeed, with the input and variables it had there; the
//! states that succeeded before are not run again. The history goes on after an
//! `ExecutionRedriven` event. A Parallel or Map state that failed runs again whole.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::table::{self, Execution, Progress};
use crate::{StepFunctions, engine, error, now};

/// AWS redrives an execution up to 1000 times, within 14 days of its end.
const MAX_REDRIVES: u32 = 1000;
const REDRIVE_WINDOW_SECONDS: f64 = 14.0 * 24.0 * 3600.0;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedriveExecutionInput {
    execution_arn: String,
    client_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedriveExecutionOutput {
    redrive_date: f64,
}

/// Why `e` cannot be redriven at `now`, if it cannot.
fn not_redrivable(e: &Execution, now: f64) -> Option<String> {
    if !["FAILED", "TIMED_OUT", "ABORTED"].contains(&e.status.as_str()) {
        return Some(format!("Execution is {} and cannot be redriven", e.status));
    }
    if e.redrive_from.is_none() {
        return Some("Execution cannot be redriven as it did not enter any state".to_string());
    }
    if e.redrive_count >= MAX_REDRIVES {
        return Some(format!("Execution cannot be redriven as it has reached the redrive limit of {MAX_REDRIVES}"));
    }
    if e.stop.is_some_and(|stop| now - stop > REDRIVE_WINDOW_SECONDS) {
        return Some("Execution cannot be redriven as it ended more than 14 days ago".to_string());
    }
    None
}

/// DescribeExecution's `redriveStatus` and `redriveStatusReason`.
pub(crate) fn status(e: &Execution, now: f64) -> (&'static str, Option<String>) {
    match not_redrivable(e, now) {
        None => ("REDRIVABLE", None),
        Some(reason) => ("NOT_REDRIVABLE", Some(reason)),
    }
}

impl StepFunctions {
    pub(crate) async fn redrive_execution(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: RedriveExecutionInput,
    ) -> Result<RedriveExecutionOutput, AwsError> {
        let current = self.execution(&input.execution_arn).await?;
        let key = table::execution_key(&current.account, &current.region, &current.machine, &current.name);
        let arn = input.execution_arn.clone();
        let token = input.client_token.clone();
        let history_key = key.clone();
        let redriven = self
            .kv
            .transact(move |txn| {
                let mut e: Execution = table::get(txn, &key)?.ok_or_else(|| error::execution_does_not_exist(&arn))?;
                if token.is_some() && e.redrive_token == token {
                    return Ok((e.redrive_date.unwrap_or_else(now), None));
                }
                let time = now();
                if let Some(reason) = not_redrivable(&e, time) {
                    return Err(AwsError::new(400, "ExecutionNotRedrivable", reason));
                }
                let from = e.redrive_from.take().unwrap_or_default();
                e.redrive_count += 1;
                let id = table::last_event_id(txn, &key)? + 1;
                let event = json!({
                    "timestamp": time, "type": "ExecutionRedriven", "id": id, "previousEventId": id - 1,
                    "executionRedrivenEventDetails": { "redriveCount": e.redrive_count },
                });
                table::append_history(txn, &key, std::slice::from_ref(&event))?;
                e.status = "RUNNING".into();
                (e.error, e.cause, e.stop) = (None, None, None);
                e.redrive_date = Some(time);
                e.redrive_token = token;
                // The state runs again from its entry, its retriers counting afresh.
                e.progress = Some(Progress {
                    state: from.state,
                    input: from.input,
                    last_event: id,
                    variables: from.variables,
                    ..Progress::default()
                });
                table::put_execution(txn, &key, &e)?;
                Ok::<_, AwsError>((time, Some(e)))
            })
            .await?;
        let (redrive_date, execution) = redriven;
        if let Some(mut execution) = execution {
            execution.history = table::read_history(&*self.kv, &history_key)?;
            engine::spawn(&self, &execution);
        }
        Ok(RedriveExecutionOutput { redrive_date })
    }
}
