//! The engine end to end over an in-memory store, with Lambda, SQS and SNS faked: history
//! sequences, Retry and Catch, and resuming saved progress as after a restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use brume_core::clients::{
    AwsSdkClient, LambdaClient, LambdaResult, LogEvent, LogsClient, MessageAttribute, OutgoingMessage, ReceivedMessage,
    SnsClient, SqsClient,
};
use brume_core::{AwsError, RequestContext};
use brume_storage::Storage;
use serde_json::{Value, json};

use crate::StepFunctions;
use crate::execution::{ExecutionArnInput, StartExecutionInput};
use crate::machine::CreateStateMachineInput;
use crate::table::{self, Execution, Progress};

/// A function `flaky` that fails its first `failures` calls with `Flaky`, and `echo`.
struct FakeLambda {
    calls: AtomicU32,
    failures: u32,
}

#[async_trait::async_trait]
impl LambdaClient for FakeLambda {
    async fn invoke(&self, _: &str, _: &str, function: &str, payload: Vec<u8>) -> Result<LambdaResult, AwsError> {
        if function == "missing" {
            return Err(AwsError::new(404, "ResourceNotFoundException", "Function not found"));
        }
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if function.ends_with(":flaky") && call < self.failures {
            return Ok(LambdaResult {
                payload: br#"{"errorType":"Flaky","errorMessage":"try again"}"#.to_vec(),
                function_error: Some("Unhandled".into()),
                executed_version: "$LATEST".into(),
            });
        }
        Ok(LambdaResult { payload, function_error: None, executed_version: "$LATEST".into() })
    }
}

struct NoQueues;

#[async_trait::async_trait]
impl SqsClient for NoQueues {
    async fn send_message(&self, _: &str, _: OutgoingMessage) -> Result<String, AwsError> {
        Err(AwsError::new(400, "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist."))
    }
    async fn receive_messages(
        &self,
        _: &str,
        _: usize,
        _: Option<u64>,
        _: Duration,
    ) -> Result<Vec<ReceivedMessage>, AwsError> {
        Ok(Vec::new())
    }
    async fn delete_messages(&self, _: &str, _: Vec<String>) -> Result<(), AwsError> {
        Ok(())
    }
}

#[async_trait::async_trait]
impl SnsClient for NoQueues {
    async fn publish(&self, _: &str, _: String, _: BTreeMap<String, MessageAttribute>) -> Result<String, AwsError> {
        Err(AwsError::new(404, "NotFound", "Topic does not exist"))
    }
}

#[async_trait::async_trait]
impl LogsClient for NoQueues {
    async fn put_log_events(&self, _: &str, _: &str, _: &str, _: &str, _: Vec<LogEvent>) -> Result<(), AwsError> {
        Ok(())
    }
}

#[async_trait::async_trait]
impl AwsSdkClient for NoQueues {
    async fn call(&self, _: &str, operation: &str, _: &str, _: &str, _: Value) -> Result<Value, AwsError> {
        Err(AwsError::new(400, "UnknownOperationException", format!("no operation {operation}")))
    }
}

fn service(storage: &Storage, failures: u32) -> Arc<StepFunctions> {
    let lambda = Arc::new(FakeLambda { calls: AtomicU32::new(0), failures });
    StepFunctions::new(
        storage.kv.clone(),
        lambda,
        Arc::new(NoQueues),
        Arc::new(NoQueues),
        Arc::new(NoQueues),
        Arc::new(crate::map_items::NoS3),
    )
}

fn ctx() -> RequestContext {
    RequestContext::new("000000000000", "us-east-1")
}

fn from<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("input")
}

async fn create(sfn: &Arc<StepFunctions>, name: &str, definition: Value) -> String {
    let input = from::<CreateStateMachineInput>(json!({
        "name": name, "definition": definition.to_string(), "roleArn": "arn:aws:iam::000000000000:role/r",
    }));
    let out = serde_json::to_value(sfn.clone().create_state_machine(ctx(), input).await.expect("created")).unwrap();
    out["stateMachineArn"].as_str().unwrap().to_string()
}

async fn start(sfn: &Arc<StepFunctions>, machine: &str, input: Value) -> String {
    let start = from::<StartExecutionInput>(json!({ "stateMachineArn": machine, "input": input.to_string() }));
    let out = serde_json::to_value(sfn.clone().start_execution(ctx(), start).await.expect("started")).unwrap();
    out["executionArn"].as_str().unwrap().to_string()
}

/// The execution once it is no longer running.
async fn finished(sfn: &Arc<StepFunctions>, arn: &str) -> Value {
    for _ in 0..1000 {
        let input = from::<ExecutionArnInput>(json!({ "executionArn": arn }));
        let described = serde_json::to_value(sfn.clone().describe_execution(ctx(), input).await.unwrap()).unwrap();
        if described["status"] != "RUNNING" {
            return described;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{arn} still running");
}

fn history(storage: &Storage, arn: &str) -> Vec<String> {
    table::read_history(&*storage.kv, &key_of(arn))
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

/// The key of the execution `arn`.
fn key_of(arn: &str) -> Vec<u8> {
    let parts: Vec<&str> = arn.split(':').collect();
    table::execution_key(parts[4], parts[3], parts[6], parts[7])
}

/// The status record of the execution `arn`, which its nested saves read.
fn stored_status(storage: &Storage, arn: &str) -> Option<String> {
    table::get(&*storage.kv, &table::status_key(&key_of(arn))).unwrap()
}

#[tokio::test]
async fn retries_then_succeeds_with_one_entered_and_one_exited_event() {
    let storage = Storage::in_memory();
    let sfn = service(&storage, 1);
    let machine = create(
        &sfn,
        "retry",
        json!({
            "StartAt": "Call",
            "States": {"Call": {
                "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:flaky",
                "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                "End": true,
            }},
        }),
    )
    .await;
    let arn = start(&sfn, &machine, json!({"v": 1})).await;
    let done = finished(&sfn, &arn).await;
    assert_eq!(done["status"], "SUCCEEDED");
    assert_eq!(serde_json::from_str::<Value>(done["output"].as_str().unwrap()).unwrap(), json!({"v": 1}));
    assert_eq!(
        history(&storage, &arn),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionFailed",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded",
        ]
    );
}

#[tokio::test]
async fn service_errors_are_caught_by_their_prefixed_names() {
    let storage = Storage::in_memory();
    let sfn = service(&storage, 0);
    let machine = create(&sfn, "catch", json!({
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "missing"},
                "Catch": [{"ErrorEquals": ["Lambda.ResourceNotFoundException"], "ResultPath": "$.err", "Next": "Sent"}],
                "End": true,
            },
            "Sent": {
                "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": "http://localhost/000000000000/none", "MessageBody": "x"},
                "End": true,
            },
        },
    }))
    .await;
    let arn = start(&sfn, &machine, json!({})).await;
    let done = finished(&sfn, &arn).await;
    assert_eq!(done["status"], "FAILED");
    assert_eq!(done["error"], "SQS.QueueDoesNotExistException");
    let types = history(&storage, &arn);
    assert_eq!(types[5], "TaskStateExited", "{types:?}");
    assert_eq!(types.last().unwrap(), "ExecutionFailed");
}

/// Stores execution `name` of `machine` as a crash would have left it: running, with
/// `history` and `progress`.
async fn crashed(
    storage: &Storage,
    sfn: &Arc<StepFunctions>,
    machine: &str,
    name: &str,
    history: Vec<Value>,
    progress: Progress,
) -> String {
    let described = sfn.clone().describe_state_machine(ctx(), from(json!({ "stateMachineArn": machine }))).await;
    let definition = serde_json::to_value(described.unwrap()).unwrap()["definition"].as_str().unwrap().to_string();
    let machine_name = machine.rsplit(':').next().unwrap().to_string();
    let arn = format!("arn:aws:states:us-east-1:000000000000:execution:{machine_name}:{name}");
    let execution = Execution {
        account: "000000000000".into(),
        region: "us-east-1".into(),
        machine: machine_name.clone(),
        name: name.into(),
        machine_arn: machine.into(),
        arn: arn.clone(),
        status: "RUNNING".into(),
        input: "{}".into(),
        output: None,
        error: None,
        cause: None,
        start: crate::now(),
        stop: None,
        definition,
        role_arn: "arn:aws:iam::000000000000:role/r".into(),
        machine_updated: 0.0,
        revision_id: "r".into(),
        history,
        progress: Some(progress),
        ..Execution::default()
    };
    let key = table::execution_key("000000000000", "us-east-1", &machine_name, name);
    storage
        .kv
        .transact(move |txn| {
            table::put_execution(txn, &key, &execution)?;
            table::append_history(txn, &key, &execution.history)
        })
        .await
        .unwrap();
    arn
}

#[tokio::test]
async fn a_retry_back_off_saved_before_a_crash_runs_the_task_again() {
    let storage = Storage::in_memory();
    let sfn = service(&storage, 0);
    let machine = create(
        &sfn,
        "backoff",
        json!({
            "StartAt": "Call",
            "States": {"Call": {
                "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:flaky",
                "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                "End": true,
            }},
        }),
    )
    .await;
    let events: Vec<Value> = [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionFailed",
    ]
    .iter()
    .enumerate()
    .map(|(i, kind)| json!({"timestamp": 1.0, "type": kind, "id": i + 1, "previousEventId": i}))
    .collect();
    let progress = Progress {
        state: "Call".into(),
        input: json!({"again": true}),
        started: true,
        entered_event: 2,
        attempts: vec![1],
        retry_count: 1,
        until_ms: Some(crate::now_ms()),
        last_event: 5,
        ..Progress::default()
    };
    let arn = crashed(&storage, &sfn, &machine, "backoff", events, progress).await;
    crate::engine::resume_all(&sfn).unwrap();
    let done = finished(&sfn, &arn).await;
    assert_eq!(done["status"], "SUCCEEDED");
    assert_eq!(serde_json::from_str::<Value>(done["output"].as_str().unwrap()).unwrap(), json!({"again": true}));
    assert_eq!(
        history(&storage, &arn)[5..],
        [
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[tokio::test]
async fn saved_progress_in_a_wait_resumes_at_its_deadline() {
    let storage = Storage::in_memory();
    let sfn = service(&storage, 0);
    let machine = create(
        &sfn,
        "resume",
        json!({
            "StartAt": "W",
            "States": {
                "W": {"Type": "Wait", "Seconds": 3600, "Next": "P"},
                "P": {"Type": "Pass", "Result": "after", "ResultPath": "$.r", "End": true},
            },
        }),
    )
    .await;
    let entered = json!({
        "timestamp": 1.0, "type": "WaitStateEntered", "id": 2, "previousEventId": 0,
        "stateEnteredEventDetails": {"name": "W", "input": "{}", "inputDetails": {"truncated": false}},
    });
    let started = json!({"timestamp": 1.0, "type": "ExecutionStarted", "id": 1, "previousEventId": 0});
    let progress = Progress {
        state: "W".into(),
        input: json!({}),
        started: true,
        entered_event: 2,
        until_ms: Some(crate::now_ms()),
        last_event: 2,
        ..Progress::default()
    };
    let arn = crashed(&storage, &sfn, &machine, "saved", vec![started, entered], progress).await;
    crate::engine::resume_all(&sfn).unwrap();
    let done = finished(&sfn, &arn).await;
    assert_eq!(done["status"], "SUCCEEDED");
    assert_eq!(serde_json::from_str::<Value>(done["output"].as_str().unwrap()).unwrap(), json!({"r": "after"}));
    assert_eq!(
        history(&storage, &arn),
        [
            "ExecutionStarted",
            "WaitStateEntered",
            "WaitStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded",
        ]
    );
}

#[tokio::test]
async fn the_status_record_follows_stop_and_redrive() {
    let storage = Storage::in_memory();
    let sfn = service(&storage, 0);
    let waits = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let machine = create(&sfn, "long", waits).await;
    let arn = start(&sfn, &machine, json!({})).await;
    assert_eq!(stored_status(&storage, &arn).as_deref(), Some("RUNNING"));
    let stop = || from::<crate::execution::StopExecutionInput>(json!({ "executionArn": arn }));
    sfn.clone().stop_execution(ctx(), stop()).await.unwrap();
    assert_eq!(stored_status(&storage, &arn).as_deref(), Some("ABORTED"));
    let redrive = from::<crate::redrive::RedriveExecutionInput>(json!({ "executionArn": arn }));
    sfn.clone().redrive_execution(ctx(), redrive).await.unwrap();
    assert_eq!(stored_status(&storage, &arn).as_deref(), Some("RUNNING"));
    sfn.clone().stop_execution(ctx(), stop()).await.unwrap();
    assert_eq!(stored_status(&storage, &arn).as_deref(), Some("ABORTED"));
}

#[tokio::test]
async fn a_map_stored_before_status_records_resumes_and_ends_with_one() {
    let storage = Storage::in_memory();
    let sfn = service(&storage, 0);
    let machine = create(
        &sfn,
        "old",
        json!({
            "StartAt": "Each",
            "States": {"Each": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "End": true,
                "ItemProcessor": {"StartAt": "Call", "States": {"Call": {
                    "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:echo", "End": true,
                }}},
            }},
        }),
    )
    .await;
    let events: Vec<Value> = ["ExecutionStarted", "MapStateEntered"]
        .iter()
        .enumerate()
        .map(|(i, kind)| json!({"timestamp": 1.0, "type": kind, "id": i + 1, "previousEventId": i}))
        .collect();
    let progress = Progress {
        state: "Each".into(),
        input: json!({"items": [1, 2, 3]}),
        started: true,
        entered_event: 2,
        last_event: 2,
        ..Progress::default()
    };
    let arn = crashed(&storage, &sfn, &machine, "old", events, progress).await;
    // A data directory from before status records has the execution's record only.
    let status = table::status_key(&key_of(&arn));
    storage.kv.transact(move |txn| txn.delete(table::KEYSPACE, &status)).await.unwrap();
    assert_eq!(table::execution_status(&*storage.kv, &key_of(&arn)).unwrap().as_deref(), Some("RUNNING"));
    crate::engine::resume_all(&sfn).unwrap();
    let done = finished(&sfn, &arn).await;
    assert_eq!(done["status"], "SUCCEEDED");
    assert_eq!(serde_json::from_str::<Value>(done["output"].as_str().unwrap()).unwrap(), json!([1, 2, 3]));
    assert_eq!(history(&storage, &arn).iter().filter(|t| *t == "MapIterationSucceeded").count(), 3);
    assert_eq!(stored_status(&storage, &arn).as_deref(), Some("SUCCEEDED"));
}
