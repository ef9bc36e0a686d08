//! CloudWatch Logs' records in the `logs` keyspace.
//!
//! - `group/<account>/<region>/<name>` → [`Group`]
//! - `stream/<account>/<region>/<group>/<name>` → [`Stream`]
//! - `ev/<account>/<region>/<group>/<timestamp>/<seq>` → [`Event`]: a group's events in
//!   (timestamp, ingestion order) order, so FilterLogEvents and `aws logs tail` read one
//!   range of the group whatever the streams; `seq` is the group's ingestion counter
//! - `sev/<account>/<region>/<group>/<stream>/<timestamp>/<seq>` → nothing: one stream's
//!   events in the same order, pointing at their `ev` records, for GetLogEvents

use std::collections::BTreeMap;

use brume_storage::key::{self, Element};
use brume_storage::{KeyRange, StorageError};
use serde::{Deserialize, Serialize};

pub const KEYSPACE: &str = "logs";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub created_ms: i64,
    pub retention_days: Option<i32>,
    /// `STANDARD`, `INFREQUENT_ACCESS` or `DELIVERY`, as created.
    pub class: String,
    pub tags: BTreeMap<String, String>,
    pub stored_bytes: i64,
    /// The last ingestion sequence number given to one of the group's events.
    pub seq: u64,
}

impl Group {
    pub fn new(name: &str, created_ms: i64) -> Group {
        Group {
            name: name.to_string(),
            created_ms,
            retention_days: None,
            class: "STANDARD".into(),
            tags: BTreeMap::new(),
            stored_bytes: 0,
            seq: 0,
        }
    }

    /// The oldest timestamp still within the retention period at `now_ms`.
    pub fn cutoff(&self, now_ms: i64) -> i64 {
        self.retention_days.map_or(0, |d| now_ms - i64::from(d) * DAY_MS).max(0)
    }
}

pub const DAY_MS: i64 = 86_400_000;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stream {
    pub name: String,
    pub created_ms: i64,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub last_ingestion_ms: Option<i64>,
    pub stored_bytes: i64,
    /// PutLogEvents calls accepted, behind the sequence tokens (which AWS no longer checks).
    pub puts: u64,
}

impl Stream {
    pub fn new(name: &str, created_ms: i64) -> Stream {
        Stream {
            name: name.to_string(),
            created_ms,
            first_event_ms: None,
            last_event_ms: None,
            last_ingestion_ms: None,
            stored_bytes: 0,
            puts: 0,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    pub stream: String,
    pub message: String,
    pub ingestion_ms: i64,
}

/// What an event counts for in `storedBytes`: its message and AWS's 26 bytes of overhead.
pub fn event_size(message: &str) -> i64 {
    message.len() as i64 + 26
}

pub fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}")
}

pub fn stream_arn(region: &str, account: &str, group: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{name}")
}

/// A sequence token in AWS's 56-digit form.
pub fn sequence_token(n: u64) -> String {
    format!("{n:056}")
}

pub fn group_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    key::encode(&["group".into(), account.into(), region.into(), name.into()])
}

pub fn groups_of(account: &str, region: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["group".into(), account.into(), region.into()]))
}

/// Every group of every account and region, for the retention sweep.
pub fn all_groups() -> KeyRange {
    KeyRange::prefix(&key::encode(&["group".into()]))
}

/// `(account, region)` of a `group` key.
pub fn owner_of_group_key(k: &[u8]) -> Result<(String, String), StorageError> {
    match key::decode(k).map_err(|e| StorageError::Engine(format!("corrupt logs key: {e}")))?.as_slice() {
        [_, Element::String(account), Element::String(region), _] => Ok((account.clone(), region.clone())),
        _ => Err(StorageError::Engine("corrupt logs group key".into())),
    }
}

pub fn stream_key(account: &str, region: &str, group: &str, name: &str) -> Vec<u8> {
    key::encode(&["stream".into(), account.into(), region.into(), group.into(), name.into()])
}

pub fn streams_of(account: &str, region: &str, group: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["stream".into(), account.into(), region.into(), group.into()]))
}

pub fn event_key(account: &str, region: &str, group: &str, timestamp: i64, seq: u64) -> Vec<u8> {
    key::encode(&["ev".into(), account.into(), region.into(), group.into(), timestamp.into(), seq.into()])
}

/// A group's events with `from_ms <= timestamp <= to_ms`.
pub fn group_events(account: &str, region: &str, group: &str, from_ms: i64, to_ms: i64) -> KeyRange {
    let at = |t: i64| key::encode(&["ev".into(), account.into(), region.into(), group.into(), t.into()]);
    KeyRange::between(&at(from_ms), &at(to_ms.saturating_add(1)))
}

pub fn stream_event_key(account: &str, region: &str, group: &str, stream: &str, timestamp: i64, seq: u64) -> Vec<u8> {
    key::encode(&[
        "sev".into(),
        account.into(),
        region.into(),
        group.into(),
        stream.into(),
        timestamp.into(),
        seq.into(),
    ])
}

/// A stream's events with `from_ms <= timestamp <= to_ms`.
pub fn stream_events(account: &str, region: &str, group: &str, stream: &str, from_ms: i64, to_ms: i64) -> KeyRange {
    let at =
        |t: i64| key::encode(&["sev".into(), account.into(), region.into(), group.into(), stream.into(), t.into()]);
    KeyRange::between(&at(from_ms), &at(to_ms.saturating_add(1)))
}

/// Every `sev` record of a group (all its streams), for DeleteLogGroup.
pub fn group_stream_events(account: &str, region: &str, group: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["sev".into(), account.into(), region.into(), group.into()]))
}

/// `(timestamp, seq)`: the last two elements of an `ev` or `sev` key.
pub fn position_of(k: &[u8]) -> Result<(i64, u64), StorageError> {
    let elements = key::decode(k).map_err(|e| StorageError::Engine(format!("corrupt logs key: {e}")))?;
    match elements.as_slice() {
        [.., Element::Int(t), Element::Int(s)] => Ok((*t as i64, *s as u64)),
        _ => Err(StorageError::Engine("corrupt logs key".into())),
    }
}

pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Engine(format!("corrupt logs record: {e}")))
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize")
}
