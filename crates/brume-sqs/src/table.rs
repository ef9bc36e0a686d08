//! SQS's records in the `sqs` keyspace.
//!
//! - `queue/<account>/<name>` → [`Queue`]
//! - `msg/<account>/<name>/<visible at ms>/<seq>` → [`Message`]: a queue's messages in the
//!   order they become visible, so the receivable ones are a prefix of the range and the
//!   next one to wake a long poll is the first key after it
//! - `seq` → the counter behind message order and FIFO sequence numbers

use std::collections::BTreeMap;

use brume_storage::key::{self, Element};
use brume_storage::{KeyRange, StorageError};
use serde::{Deserialize, Serialize};

pub const KEYSPACE: &str = "sqs";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Queue {
    pub account: String,
    pub region: String,
    pub name: String,
    /// Settable attributes as SQS names them (`VisibilityTimeout`, `RedrivePolicy`…).
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub created: i64,
    pub last_modified: i64,
    /// When the last PurgeQueue ran (ms), for the one-purge-a-minute rule.
    pub last_purge_ms: Option<u64>,
}

impl Queue {
    pub fn arn(&self) -> String {
        format!("arn:aws:sqs:{}:{}:{}", self.region, self.account, self.name)
    }

    pub fn number(&self, name: &str, default: u64) -> u64 {
        self.attributes.get(name).and_then(|v| v.parse().ok()).unwrap_or(default)
    }
}

/// Message attributes are stored as other services send them.
pub use brume_core::clients::MessageAttribute as AttributeValue;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub body: String,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub sent_ms: u64,
    pub seq: u64,
    pub receive_count: u64,
    pub first_receive_ms: Option<u64>,
    /// Changes at every receive, so a stale receipt handle no longer matches.
    pub receipt_token: String,
    pub visible_ms: u64,
    /// The queue the message was moved from to this dead-letter queue, if it was.
    pub dead_letter_source: Option<String>,
}

pub fn queue_key(account: &str, name: &str) -> Vec<u8> {
    key::encode(&["queue".into(), account.into(), name.into()])
}

pub fn queues_of(account: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["queue".into(), account.into()]))
}

pub fn message_key(account: &str, name: &str, visible_ms: u64, seq: u64) -> Vec<u8> {
    key::encode(&["msg".into(), account.into(), name.into(), Element::from(visible_ms), Element::from(seq)])
}

/// All messages of a queue, and those visible at `now_ms`.
pub fn messages_of(account: &str, name: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["msg".into(), account.into(), name.into()]))
}

pub fn visible_at(account: &str, name: &str, now_ms: u64) -> KeyRange {
    let prefix = key::encode(&["msg".into(), account.into(), name.into()]);
    KeyRange::between(&prefix, &key::encode(&["msg".into(), account.into(), name.into(), Element::from(now_ms + 1)]))
}

pub fn seq_key() -> Vec<u8> {
    key::encode(&["seq".into()])
}

pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Engine(format!("corrupt sqs record: {e}")))
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize")
}
