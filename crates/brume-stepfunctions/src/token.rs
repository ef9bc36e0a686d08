//! Task tokens of `.waitForTaskToken` and activity tasks: `tok/<token>` records say which
//! execution waits and, once SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat came,
//! what they said; a [`Notify`] per token wakes the waiting task.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_storage::key;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::machine::Empty;
use crate::table::{self, Execution};
use crate::{StepFunctions, now_ms};

const PREFIX: &str = "brume-task-token:";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TaskToken {
    /// The waiting execution's record (`None` for EXPRESS executions).
    pub execution: Option<Vec<u8>>,
    pub outcome: Option<Outcome>,
    pub heartbeat_ms: u64,
    /// Set for the task of an activity: its place in the queue and whether a worker took it.
    #[serde(default)]
    pub activity: Option<table::ActivityClaim>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Outcome {
    Success(String),
    Failure { error: String, cause: String },
}

pub(crate) fn new_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{PREFIX}{}", uuid::Uuid::new_v4()))
}

pub(crate) fn token_key(token: &str) -> Vec<u8> {
    key::encode(&["tok".into(), token.into()])
}

fn check(token: &str) -> Result<(), AwsError> {
    use base64::Engine;
    let ours = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .is_some_and(|s| s.starts_with(PREFIX));
    if ours { Ok(()) } else { Err(AwsError::new(400, "InvalidToken", "Invalid Token: 'Invalid token'")) }
}

fn task_timed_out() -> AwsError {
    AwsError::new(400, "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendTaskSuccessInput {
    task_token: String,
    output: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendTaskFailureInput {
    task_token: String,
    error: Option<String>,
    cause: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendTaskHeartbeatInput {
    task_token: String,
}

impl StepFunctions {
    pub(crate) fn notifier(&self, token: &str) -> Arc<Notify> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).entry(token.to_string()).or_default().clone()
    }

    pub(crate) fn forget_token(&self, token: &str) {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).remove(token);
    }

    /// Creates the record of `token` for the execution stored at `execution`, unless it
    /// exists (a resumed task keeps its token and what was sent to it).
    pub(crate) async fn issue_token(&self, token: &str, execution: Option<Vec<u8>>) -> Result<(), AwsError> {
        let key = token_key(token);
        self.kv
            .transact(move |txn| {
                if table::get::<TaskToken>(txn, &key)?.is_none() {
                    table::put(
                        txn,
                        &key,
                        &TaskToken { execution, outcome: None, heartbeat_ms: now_ms(), activity: None },
                    )?;
                }
                Ok::<_, AwsError>(())
            })
            .await
    }

    pub(crate) fn token_record(&self, token: &str) -> Result<Option<TaskToken>, AwsError> {
        Ok(table::get(&*self.kv, &token_key(token))?)
    }

    pub(crate) async fn drop_token(&self, token: &str) {
        self.forget_token(token);
        let key = token_key(token);
        let dropped = self
            .kv
            .transact(move |txn| {
                txn.delete(table::KEYSPACE, &key)?;
                Ok::<_, AwsError>(())
            })
            .await;
        if let Err(e) = dropped {
            tracing::warn!(error = %e.message, "deleting a task token failed");
        }
    }

    /// Applies `f` to the token's record if its task still waits, then wakes the task.
    async fn answer(&self, token: &str, f: impl FnOnce(&mut TaskToken) + Send + 'static) -> Result<Empty, AwsError> {
        check(token)?;
        let key = token_key(token);
        self.kv
            .transact(move |txn| {
                let mut record: TaskToken = table::get(txn, &key)?.ok_or_else(task_timed_out)?;
                if record.outcome.is_some() {
                    return Err(task_timed_out());
                }
                if let Some(execution) = &record.execution {
                    let running = table::get::<Execution>(txn, execution)?.is_some_and(|e| e.status == "RUNNING");
                    if !running {
                        return Err(task_timed_out());
                    }
                }
                f(&mut record);
                table::put(txn, &key, &record)?;
                Ok::<_, AwsError>(())
            })
            .await?;
        self.notifier(token).notify_one();
        Ok(Empty {})
    }

    pub(crate) async fn send_task_success(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: SendTaskSuccessInput,
    ) -> Result<Empty, AwsError> {
        if input.output.len() > 262_144 {
            return Err(crate::error::validation(
                "1 validation error detected: Value at 'output' failed to satisfy constraint: Member must have length less than or equal to 262144",
            ));
        }
        if serde_json::from_str::<serde_json::Value>(&input.output).is_err() {
            return Err(AwsError::new(400, "InvalidOutput", "Invalid State Machine Execution Output"));
        }
        let output = input.output;
        self.answer(&input.task_token, move |r| r.outcome = Some(Outcome::Success(output))).await
    }

    pub(crate) async fn send_task_failure(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: SendTaskFailureInput,
    ) -> Result<Empty, AwsError> {
        let outcome =
            Outcome::Failure { error: input.error.unwrap_or_default(), cause: input.cause.unwrap_or_default() };
        self.answer(&input.task_token, move |r| r.outcome = Some(outcome)).await
    }

    pub(crate) async fn send_task_heartbeat(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: SendTaskHeartbeatInput,
    ) -> Result<Empty, AwsError> {
        self.answer(&input.task_token, |r| r.heartbeat_ms = now_ms()).await
    }
}
