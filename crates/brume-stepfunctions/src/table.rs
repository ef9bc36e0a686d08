//! Step Functions' records in the `states` keyspace.
//!
//! - `sm/<account>/<region>/<name>` → [`StateMachine`]
//! - `ex/<account>/<region>/<machine>/<execution>` → [`Execution`]: its summary, the
//!   definition it runs, its history so far and, while it runs, its [`Progress`]
//! - `exs` + execution key → its status alone (see [`status_key`]), written with it
//!
//! - `tok/<token>` → [`crate::token::TaskToken`]
//! - `act/<account>/<region>/<name>` → [`Activity`]
//! - `aq/<account>/<region>/<activity>/<scheduled ns>/<token>` → [`QueuedTask`]: the
//!   activity's tasks no worker took yet, oldest first
//! - `smv/<account>/<region>/<machine>/<number>` → [`Version`]; `smvn/…/<machine>` → the last
//!   version number given; `sma/…/<machine>/<alias>` → [`Alias`]
//! - `exv/<account>/<region>/<machine>/<execution>` → [`ExecutionTarget`] of an execution started
//!   through a version or an alias
//! - `nest` + execution key + path → [`Nested`]: where a Parallel branch or a Map iteration of a
//!   running STANDARD execution is, or how it ended (see [`nested_key`])
//!
//! Express executions are never stored: they live in memory only, as AWS keeps no record
//! of them beyond their logs.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_storage::key::{self, Element};
use brume_storage::{Direction, KeyRange, ReadView, StorageError, Txn};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const KEYSPACE: &str = "states";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateMachine {
    pub account: String,
    pub region: String,
    pub name: String,
    pub definition: String,
    pub role_arn: String,
    /// `STANDARD` or `EXPRESS`.
    pub kind: String,
    pub created: f64,
    pub updated: f64,
    pub revision_id: String,
    pub logging: Option<Value>,
    pub tracing: Option<Value>,
    pub tags: BTreeMap<String, String>,
}

impl StateMachine {
    pub fn arn(&self) -> String {
        format!("arn:aws:states:{}:{}:stateMachine:{}", self.region, self.account, self.name)
    }
}

/// Where a running STANDARD execution is, saved at each transition of its top-level states
/// so that a restart resumes it there.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    /// The state being run and its raw input.
    pub state: String,
    pub input: Value,
    /// When the state was entered (`$$.State.EnteredTime`).
    pub entered: String,
    /// Whether its `…StateEntered` event has been recorded, and its id.
    pub started: bool,
    #[serde(default)]
    pub entered_event: u64,
    /// How many times each of its retriers has retried.
    pub attempts: Vec<u32>,
    pub retry_count: u32,
    /// The end of the wait in progress (a Wait state or a retry's back-off), in ms.
    pub until_ms: Option<u64>,
    /// The id of the last history event of the top-level sequence.
    pub last_event: u64,
    /// The token of a `.waitForTaskToken` task whose request was sent: a resumed task
    /// waits for it again rather than sending anew.
    #[serde(default)]
    pub token: Option<String>,
    /// The workflow variables in scope (Assign), shared until one is assigned.
    #[serde(default)]
    pub variables: Arc<Map<String, Value>>,
    /// Where a nested sequence (a Parallel branch, a Map iteration) is in its execution; `None`
    /// at the top level. Its progress is saved as a [`Nested`] record under this path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A Parallel branch or a Map iteration of a running STANDARD execution: where it is, or how
/// it ended, so that a resumed execution continues it or answers its result without running
/// it again. `last_event` is the id of the sequence's last event.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Nested {
    Running(Progress),
    Succeeded { output: Value, last_event: u64 },
    Failed { error: String, cause: String, last_event: u64 },
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Execution {
    pub account: String,
    pub region: String,
    pub machine: String,
    pub name: String,
    pub machine_arn: String,
    pub arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start: f64,
    pub stop: Option<f64>,
    /// The state machine as it was when the execution started.
    pub definition: String,
    pub role_arn: String,
    pub machine_updated: f64,
    pub revision_id: String,
    /// The history in memory. It is stored event by event under [`history_prefix`],
    /// appended at each transition and never rewritten, not in this record.
    #[serde(skip)]
    pub history: Vec<Value>,
    pub progress: Option<Progress>,
    /// Where a failed, timed out or aborted execution stopped: RedriveExecution goes on there.
    #[serde(default)]
    pub redrive_from: Option<Progress>,
    #[serde(default)]
    pub redrive_count: u32,
    #[serde(default)]
    pub redrive_date: Option<f64>,
    /// The clientToken of the last redrive, which answers a retried request again.
    #[serde(default)]
    pub redrive_token: Option<String>,
}

/// An activity: workers poll it with GetActivityTask for the tasks of the Task states
/// whose Resource is its ARN.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Activity {
    pub account: String,
    pub region: String,
    pub name: String,
    pub created: f64,
    pub tags: BTreeMap<String, String>,
    pub encryption: Value,
}

impl Activity {
    pub fn arn(&self) -> String {
        format!("arn:aws:states:{}:{}:activity:{}", self.region, self.account, self.name)
    }
}

/// A task waiting in its activity's queue for a worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueuedTask {
    pub token: String,
    pub input: String,
}

/// What the task token of an activity task knows beyond a `.waitForTaskToken` one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ActivityClaim {
    /// Where the task waits in its queue until a worker takes it.
    pub queue_key: Vec<u8>,
    /// When TimeoutSeconds runs out, counted from the scheduling (ms).
    pub deadline_ms: Option<u64>,
    /// Whether a worker took it, and the name it gave.
    pub taken: bool,
    pub worker: Option<String>,
}

pub fn activity_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    key::encode(&["act".into(), account.into(), region.into(), name.into()])
}

pub fn activities_prefix(account: &str, region: &str) -> Vec<u8> {
    key::encode(&["act".into(), account.into(), region.into()])
}

pub fn activity_queue_prefix(account: &str, region: &str, name: &str) -> Vec<u8> {
    key::encode(&["aq".into(), account.into(), region.into(), name.into()])
}

pub fn queued_task_key(account: &str, region: &str, name: &str, scheduled_ns: i128, token: &str) -> Vec<u8> {
    key::encode(&["aq".into(), account.into(), region.into(), name.into(), Element::Int(scheduled_ns), token.into()])
}

pub fn machine_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    key::encode(&["sm".into(), account.into(), region.into(), name.into()])
}

pub fn machines_prefix(account: &str, region: &str) -> Vec<u8> {
    key::encode(&["sm".into(), account.into(), region.into()])
}

pub fn execution_key(account: &str, region: &str, machine: &str, name: &str) -> Vec<u8> {
    key::encode(&["ex".into(), account.into(), region.into(), machine.into(), name.into()])
}

/// Where the status of the execution stored at `execution_key` is kept apart from it: a save of
/// a Map iteration or a Parallel branch checks that the execution still runs without reading
/// the execution's record, which holds its input and may be megabytes long.
pub fn status_key(execution_key: &[u8]) -> Vec<u8> {
    [key::encode(&["exs".into()]).as_slice(), execution_key].concat()
}

/// Stores `execution` at `execution_key`, with its status record.
pub fn put_execution(txn: &mut dyn Txn, execution_key: &[u8], execution: &Execution) -> Result<(), StorageError> {
    put(txn, execution_key, execution)?;
    put(txn, &status_key(execution_key), &execution.status)
}

/// The status of the execution stored at `execution_key` (`None`: there is none). A data
/// directory from before status records has the status in the execution's record only.
pub fn execution_status(view: &dyn ReadView, execution_key: &[u8]) -> Result<Option<String>, StorageError> {
    if let Some(status) = get(view, &status_key(execution_key))? {
        return Ok(Some(status));
    }
    #[derive(Deserialize)]
    struct Status {
        status: String,
    }
    Ok(get::<Status>(view, execution_key)?.map(|e| e.status))
}

/// Writes the status records missing from `executions` (key and status), stored before there
/// were any: their saves read the small record from then on.
pub fn migrate_statuses(txn: &mut dyn Txn, executions: &[(Vec<u8>, String)]) -> Result<(), StorageError> {
    for (key, status) in executions {
        if txn.get(KEYSPACE, &status_key(key))?.is_none() {
            put(txn, &status_key(key), status)?;
        }
    }
    Ok(())
}

/// Where the history events of the execution stored at `execution_key` are kept, each
/// under its id.
pub fn history_prefix(execution_key: &[u8]) -> Vec<u8> {
    [key::encode(&["hist".into()]).as_slice(), execution_key].concat()
}

/// Stores `events` (each with its `id`) in the history of the execution at `execution_key`.
pub fn append_history(txn: &mut dyn Txn, execution_key: &[u8], events: &[Value]) -> Result<(), StorageError> {
    let prefix = history_prefix(execution_key);
    for event in events {
        let id = event["id"].as_u64().unwrap_or(0);
        txn.put(KEYSPACE, &[prefix.as_slice(), &id.to_be_bytes()].concat(), &encode(event))?;
    }
    Ok(())
}

/// The stored history of the execution at `execution_key`, oldest first.
pub fn read_history(view: &dyn ReadView, execution_key: &[u8]) -> Result<Vec<Value>, StorageError> {
    scan(view, &history_prefix(execution_key))
}

/// The id of the last stored event of the execution at `execution_key` (0: none).
pub fn last_event_id(view: &dyn ReadView, execution_key: &[u8]) -> Result<u64, StorageError> {
    let last = view.scan(KEYSPACE, &KeyRange::prefix(&history_prefix(execution_key)), Direction::Reverse, 1)?;
    Ok(last.first().and_then(|(_, v)| decode::<Value>(v).ok()).and_then(|e| e["id"].as_u64()).unwrap_or(0))
}

/// Forgets the history of the execution at `execution_key`.
pub fn delete_history(txn: &mut dyn Txn, execution_key: &[u8]) -> Result<(), StorageError> {
    let prefix = history_prefix(execution_key);
    for (key, _) in txn.scan(KEYSPACE, &KeyRange::prefix(&prefix), Direction::Forward, usize::MAX)? {
        txn.delete(KEYSPACE, &key)?;
    }
    Ok(())
}

/// Where the [`Nested`] records of the execution stored at `execution_key` are kept.
pub fn nested_prefix(execution_key: &[u8]) -> Vec<u8> {
    [key::encode(&["nest".into()]).as_slice(), execution_key].concat()
}

/// The record of the nested sequence at `path` (`<state>@<entered event>.<retry count>#<branch>`
/// or `…[<item index>]`, after its parent's path) of the execution stored at `execution_key`.
pub fn nested_key(execution_key: &[u8], path: &str) -> Vec<u8> {
    [nested_prefix(execution_key).as_slice(), path.as_bytes()].concat()
}

/// Whether the execution at `execution_key` has nested records.
pub fn has_nested(view: &dyn ReadView, execution_key: &[u8]) -> Result<bool, StorageError> {
    Ok(!view.scan(KEYSPACE, &KeyRange::prefix(&nested_prefix(execution_key)), Direction::Forward, 1)?.is_empty())
}

/// Forgets the nested records of the execution at `execution_key`.
pub fn delete_nested(txn: &mut dyn Txn, execution_key: &[u8]) -> Result<(), StorageError> {
    let prefix = nested_prefix(execution_key);
    for (key, _) in txn.scan(KEYSPACE, &KeyRange::prefix(&prefix), Direction::Forward, usize::MAX)? {
        txn.delete(KEYSPACE, &key)?;
    }
    Ok(())
}

pub fn executions_prefix(account: &str, region: &str, machine: &str) -> Vec<u8> {
    key::encode(&["ex".into(), account.into(), region.into(), machine.into()])
}

pub fn all_executions_prefix() -> Vec<u8> {
    key::encode(&[Element::String("ex".into())])
}

pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Engine(format!("corrupt states record: {e}")))
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize")
}

pub fn get<T: serde::de::DeserializeOwned>(view: &dyn ReadView, key: &[u8]) -> Result<Option<T>, StorageError> {
    view.get(KEYSPACE, key)?.map(|b| decode(&b)).transpose()
}

pub fn put<T: Serialize>(txn: &mut dyn Txn, key: &[u8], value: &T) -> Result<(), StorageError> {
    txn.put(KEYSPACE, key, &encode(value))
}

/// Every record under `prefix`, in key order.
pub fn scan<T: serde::de::DeserializeOwned>(view: &dyn ReadView, prefix: &[u8]) -> Result<Vec<T>, StorageError> {
    view.scan(KEYSPACE, &KeyRange::prefix(prefix), Direction::Forward, usize::MAX)?
        .iter()
        .map(|(_, v)| decode(v))
        .collect()
}

/// A published version of a state machine: its definition and configuration when published.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Version {
    pub account: String,
    pub region: String,
    pub machine: String,
    pub number: u64,
    pub definition: String,
    pub role_arn: String,
    pub kind: String,
    pub logging: Option<Value>,
    pub tracing: Option<Value>,
    pub revision_id: String,
    pub description: Option<String>,
    pub created: f64,
}

impl Version {
    pub fn arn(&self) -> String {
        format!("arn:aws:states:{}:{}:stateMachine:{}:{}", self.region, self.account, self.machine, self.number)
    }
}

/// One version an alias routes to, and the percentage of executions it gets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub state_machine_version_arn: String,
    pub weight: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Alias {
    pub account: String,
    pub region: String,
    pub machine: String,
    pub name: String,
    pub description: Option<String>,
    pub routing: Vec<Route>,
    pub created: f64,
    pub updated: f64,
}

impl Alias {
    pub fn arn(&self) -> String {
        format!("arn:aws:states:{}:{}:stateMachine:{}:{}", self.region, self.account, self.machine, self.name)
    }
}

/// The version (and alias) an execution started through a qualified state machine ARN runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecutionTarget {
    pub execution: String,
    pub version_arn: String,
    pub alias_arn: Option<String>,
}

pub fn version_key(account: &str, region: &str, machine: &str, number: u64) -> Vec<u8> {
    key::encode(&["smv".into(), account.into(), region.into(), machine.into(), Element::Int(number.into())])
}

pub fn versions_prefix(account: &str, region: &str, machine: &str) -> Vec<u8> {
    key::encode(&["smv".into(), account.into(), region.into(), machine.into()])
}

/// The last version number given to a machine's versions, kept apart from them so that a
/// deleted version's number is never given again.
pub fn version_counter_key(account: &str, region: &str, machine: &str) -> Vec<u8> {
    key::encode(&["smvn".into(), account.into(), region.into(), machine.into()])
}

pub fn alias_key(account: &str, region: &str, machine: &str, name: &str) -> Vec<u8> {
    key::encode(&["sma".into(), account.into(), region.into(), machine.into(), name.into()])
}

pub fn aliases_prefix(account: &str, region: &str, machine: &str) -> Vec<u8> {
    key::encode(&["sma".into(), account.into(), region.into(), machine.into()])
}

pub fn target_key(account: &str, region: &str, machine: &str, execution: &str) -> Vec<u8> {
    key::encode(&["exv".into(), account.into(), region.into(), machine.into(), execution.into()])
}

pub fn targets_prefix(account: &str, region: &str, machine: &str) -> Vec<u8> {
    key::encode(&["exv".into(), account.into(), region.into(), machine.into()])
}
