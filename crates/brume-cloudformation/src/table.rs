//! CloudFormation's records in the `cloudformation` keyspace.
//!
//! - `stack/<account>/<region>/<stack id>` → [`Stack`]: every stack, deleted ones included
//!   (DescribeStacks by id and ListStacks still show them)
//! - `name/<account>/<region>/<stack name>` → the id of the live stack of that name
//! - `event/<stack id>/<sequence>` → [`Event`], oldest first
//! - `changeset/<stack id>/<change set name>` → [`ChangeSet`]

use std::collections::{BTreeMap, BTreeSet};

use brume_storage::key;
use brume_storage::{KeyRange, StorageError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const KEYSPACE: &str = "cloudformation";

/// A stack, with the engine's progress through its current operation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stack {
    pub id: String,
    pub name: String,
    pub account: String,
    pub region: String,
    pub status: String,
    pub reason: Option<String>,
    pub created: f64,
    pub updated: Option<f64>,
    pub deleted: Option<f64>,
    pub template: Template,
    pub capabilities: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub notification_arns: Vec<String>,
    pub disable_rollback: bool,
    /// OnFailure DELETE: a failed creation deletes the stack after rolling back.
    pub delete_on_failure: bool,
    pub termination_protection: bool,
    pub policy: Option<String>,
    /// DeleteStack was called during the creation: it stops after the current wave.
    #[serde(default)]
    pub delete_requested: bool,
    pub timeout: Option<i64>,
    pub role_arn: Option<String>,
    /// As given to CreateStack or UpdateStack, returned as it is.
    #[serde(default)]
    pub rollback_configuration: Option<Value>,
    /// The ClientRequestToken of the operation under way or last done: a retry with it
    /// starts nothing, and the operation's events carry it.
    #[serde(default)]
    pub client_request_token: Option<String>,
    pub change_set_id: Option<String>,
    pub outputs: Vec<StoredOutput>,
    pub resources: BTreeMap<String, Resource>,
    /// During an update: the stack as it was, to roll back to.
    pub previous: Option<Template>,
    pub previous_resources: Option<BTreeMap<String, Resource>>,
    pub previous_outputs: Option<Vec<StoredOutput>>,
    /// The resources the current operation has finished with.
    pub done: BTreeSet<String>,
    /// Physical resources to delete in the cleanup phase: replaced ones (update) or new
    /// ones (update rollback).
    pub cleanup: Vec<Resource>,
    /// Logical ids DeleteStack was told to keep.
    pub retain: Vec<String>,
    pub event_seq: u64,
}

/// A template with the parameter values it was deployed with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Template {
    /// As given (TemplateBody, or the object TemplateURL named).
    pub body: String,
    /// Parsed, short forms expanded.
    pub parsed: Value,
    pub description: Option<String>,
    /// The values given, by key.
    pub given: BTreeMap<String, String>,
    /// After defaults, as the template functions take them.
    pub parameters: Map<String, Value>,
    pub no_echo: BTreeSet<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Resource {
    pub logical_id: String,
    pub kind: String,
    pub physical_id: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub updated: f64,
    /// Resolved, as last applied.
    pub properties: Value,
    pub attributes: Map<String, Value>,
    pub depends_on: BTreeSet<String>,
    pub deletion_policy: Option<String>,
    #[serde(default)]
    pub update_replace_policy: Option<String>,
    /// The creation attempt that made it, which its generated name derives from.
    #[serde(default)]
    pub attempt: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredOutput {
    pub key: String,
    pub value: String,
    pub description: Option<String>,
    pub export_name: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub kind: String,
    pub status: String,
    pub reason: Option<String>,
    pub properties: Option<String>,
    pub time: f64,
    #[serde(default)]
    pub client_request_token: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChangeSet {
    pub id: String,
    pub name: String,
    pub stack_id: String,
    pub stack_name: String,
    /// `CREATE` or `UPDATE`.
    pub kind: String,
    pub description: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub execution_status: String,
    pub created: f64,
    pub template: Template,
    pub capabilities: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub notification_arns: Vec<String>,
    pub changes: Vec<Value>,
    pub on_failure_delete: bool,
    pub disable_rollback: bool,
}

pub fn stack_key(account: &str, region: &str, id: &str) -> Vec<u8> {
    key::encode(&["stack".into(), account.into(), region.into(), id.into()])
}

pub fn stacks_of(account: &str, region: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["stack".into(), account.into(), region.into()]))
}

pub fn all_stacks() -> KeyRange {
    KeyRange::prefix(&key::encode(&["stack".into()]))
}

pub fn name_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    key::encode(&["name".into(), account.into(), region.into(), name.into()])
}

pub fn event_key(stack_id: &str, seq: u64) -> Vec<u8> {
    key::encode(&["event".into(), stack_id.into(), seq.into()])
}

pub fn events_of(stack_id: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["event".into(), stack_id.into()]))
}

pub fn change_set_key(stack_id: &str, name: &str) -> Vec<u8> {
    key::encode(&["changeset".into(), stack_id.into(), name.into()])
}

pub fn change_sets_of(stack_id: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["changeset".into(), stack_id.into()]))
}

pub fn all_change_sets() -> KeyRange {
    KeyRange::prefix(&key::encode(&["changeset".into()]))
}

pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Engine(format!("corrupt cloudformation record: {e}")))
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize")
}
