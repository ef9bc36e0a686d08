//! AWS Step Functions (awsJson 1.0) for Brume: state machines in the Amazon States
//! Language, executions run by Brume and persisted at each transition, and their history.
//!
//! - [`asl`]: the language as pure functions of their inputs (validation, paths, payload
//!   templates, intrinsic functions, Choice rules, Retry and Catch), no IO.
//! - `machine`: the state machine operations and tags.
//! - `execution`: the execution operations (start, describe, list, stop, history).
//! - `integration`: what Task resources call (Lambda, SQS, SNS, DynamoDB, nested executions,
//!   and any service's operation through `aws-sdk:`); `token`: the task tokens
//!   of `.waitForTaskToken` tasks and SendTaskSuccess/Failure/Heartbeat.
//! - `activity`: activities, GetActivityTask, and the Task states that schedule their tasks.
//! - `logging`: `loggingConfiguration` and the delivery of history events to CloudWatch Logs.
//! - `version`: published versions of state machines and the aliases that route to them.
//! - `map_run`: distributed Maps, their child executions and the Map run operations;
//!   `map_items`: their ItemReader, ItemBatcher and ResultWriter.
//! - `engine`: runs a definition, recording AWS's history events; a STANDARD execution
//!   saves its progress at each transition of its top-level states and [`start`] resumes
//!   the running ones after a restart.

mod activity;
pub mod asl;
mod engine;
mod error;
mod execution;
mod integration;
mod logging;
mod machine;
mod map_items;
mod map_run;
mod redrive;
mod table;
mod test_state;
#[cfg(test)]
mod tests;
mod token;
mod version;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use brume_core::clients::{AwsSdkClient, LambdaClient, LogsClient, SqsClient};
use brume_protocol::{Service, ServiceBuilder};
use brume_storage::Kv;

pub use integration::Executions;
pub use table::KEYSPACE;

/// Step Functions' state: the store, the services tasks call, and the running executions.
pub struct StepFunctions {
    kv: Arc<dyn Kv>,
    lambda: Arc<dyn LambdaClient>,
    sqs: Arc<dyn SqsClient>,
    /// Where executions log their history events.
    logs: Arc<dyn LogsClient>,
    /// Any service's operation, for `aws-sdk` integrations and the optimized ones built on it.
    sdk: Arc<dyn AwsSdkClient>,
    /// Wakes the task waiting for a task token when it is answered.
    tokens: Mutex<HashMap<String, Arc<tokio::sync::Notify>>>,
    /// The tasks running executions, by execution ARN, so StopExecution can end them.
    running: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// Wakes the GetActivityTask calls polling an activity's queue, by the queue's key.
    activity_polls: Mutex<HashMap<Vec<u8>, Arc<tokio::sync::Notify>>>,
    /// What distributed Maps read their items from and write their results to.
    s3: Arc<dyn brume_core::clients::S3Client>,
}

impl StepFunctions {
    pub fn new(
        kv: Arc<dyn Kv>,
        lambda: Arc<dyn LambdaClient>,
        sqs: Arc<dyn SqsClient>,
        logs: Arc<dyn LogsClient>,
        sdk: Arc<dyn AwsSdkClient>,
        s3: Arc<dyn brume_core::clients::S3Client>,
    ) -> Arc<StepFunctions> {
        let (tokens, running, activity_polls) = (Mutex::default(), Mutex::default(), Mutex::default());
        Arc::new(StepFunctions { kv, lambda, sqs, logs, sdk, tokens, running, activity_polls, s3 })
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, tokio::task::AbortHandle>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Resumes the STANDARD executions that were running when Brume stopped.
pub fn start(state: &Arc<StepFunctions>) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = engine::resume_all(&state) {
            tracing::error!(error = %e, "resuming Step Functions executions failed");
        }
    });
}

/// The Step Functions service, ready for the gateway.
pub fn service(state: Arc<StepFunctions>) -> Service {
    ServiceBuilder::new("stepfunctions", state)
        .op("CreateStateMachine", StepFunctions::create_state_machine)
        .op("DescribeStateMachine", StepFunctions::describe_state_machine)
        .op("UpdateStateMachine", StepFunctions::update_state_machine)
        .op("DeleteStateMachine", StepFunctions::delete_state_machine)
        .op("ListStateMachines", StepFunctions::list_state_machines)
        .op("ValidateStateMachineDefinition", StepFunctions::validate_state_machine_definition)
        .op("TagResource", StepFunctions::tag_resource)
        .op("UntagResource", StepFunctions::untag_resource)
        .op("ListTagsForResource", StepFunctions::list_tags_for_resource)
        .op("StartExecution", StepFunctions::start_execution)
        .op("StartSyncExecution", StepFunctions::start_sync_execution)
        .op("DescribeExecution", StepFunctions::describe_execution)
        .op("ListExecutions", StepFunctions::list_executions)
        .op("StopExecution", StepFunctions::stop_execution)
        .op("RedriveExecution", StepFunctions::redrive_execution)
        .op("TestState", StepFunctions::test_state)
        .op("GetExecutionHistory", StepFunctions::get_execution_history)
        .op("DescribeStateMachineForExecution", StepFunctions::describe_state_machine_for_execution)
        .op("SendTaskSuccess", StepFunctions::send_task_success)
        .op("SendTaskFailure", StepFunctions::send_task_failure)
        .op("SendTaskHeartbeat", StepFunctions::send_task_heartbeat)
        .op("DescribeMapRun", StepFunctions::describe_map_run)
        .op("ListMapRuns", StepFunctions::list_map_runs)
        .op("UpdateMapRun", StepFunctions::update_map_run)
        .op("CreateActivity", StepFunctions::create_activity)
        .op("DescribeActivity", StepFunctions::describe_activity)
        .op("ListActivities", StepFunctions::list_activities)
        .op("DeleteActivity", StepFunctions::delete_activity)
        .op("GetActivityTask", StepFunctions::get_activity_task)
        .op("PublishStateMachineVersion", StepFunctions::publish_state_machine_version)
        .op("ListStateMachineVersions", StepFunctions::list_state_machine_versions)
        .op("DeleteStateMachineVersion", StepFunctions::delete_state_machine_version)
        .op("CreateStateMachineAlias", StepFunctions::create_state_machine_alias)
        .op("DescribeStateMachineAlias", StepFunctions::describe_state_machine_alias)
        .op("UpdateStateMachineAlias", StepFunctions::update_state_machine_alias)
        .op("DeleteStateMachineAlias", StepFunctions::delete_state_machine_alias)
        .op("ListStateMachineAliases", StepFunctions::list_state_machine_aliases)
        .build()
}

pub(crate) fn now() -> f64 {
    brume_core::value::Timestamp::now().0
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

/// `2026-11-27T02:32:07.123Z`, as the context object and Wait's Timestamp write times.
pub(crate) fn iso(ms: u64) -> String {
    brume_core::value::Timestamp::from_unix_millis(ms).iso8601()
}

/// A page token: the position to go on from, opaque to clients.
pub(crate) fn encode_token(position: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("brume:{position}"))
}

pub(crate) fn decode_token(token: &str) -> Result<usize, brume_core::AwsError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("brume:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| error::invalid_token(token))
}

/// Names of state machines and executions: 1 to 80 characters, none of whitespace,
/// brackets, wildcards, punctuation AWS reserves, or control characters.
pub(crate) fn check_name(name: &str) -> Result<(), brume_core::AwsError> {
    let bad = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
            || ('\u{7f}'..='\u{9f}').contains(&c)
            || ('\u{fffe}'..='\u{ffff}').contains(&c)
    };
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(bad) {
        return Err(error::invalid_name(name));
    }
    Ok(())
}
