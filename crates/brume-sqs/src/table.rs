//! SQS's records in the `sqs` keyspace.
//!
//! - `queue/<account>/<name>` → [`Queue`]
//! - `msg/<account>/<name>/<visible at ms>/<seq>` → [`Message`]: a queue's messages in the
//!   order they become visible, so the receivable ones are a prefix of the range and the
//!   next one to wake a long poll is the first key after it
//! - `seq` → the counter behind message order and FIFO sequence numbers
//!
//! FIFO queues add, kept in step by [`insert`] and [`remove`]:
//! - `grp/<account>/<name>/<group>` → [`Group`]: how many messages the group holds and
//!   which are in flight (a group with one in flight is blocked)
//! - `gmsg/<account>/<name>/<group>/<seq>` → the message's visible time: the group's
//!   messages in send order, pointing at their `msg` records
//! - `dedup/<account>/<name>/<scope>/<deduplication id>` → [`Dedup`], for five minutes
//! - `attempt/<account>/<name>/<ReceiveRequestAttemptId>` → [`Attempt`], for five minutes
//!
//! `task/<source arn>/<started ms>/<id>` → [`MoveTask`]: message move tasks out of
//! dead-letter queues.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use brume_storage::key::{self, Element};
use brume_storage::{KeyRange, StorageError, Txn};
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

/// `(account, name)` of a queue ARN, the inverse of [`Queue::arn`].
pub fn parse_arn(arn: &str) -> Option<(String, String)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("sqs"), Some(_), Some(account), Some(name)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Some((account.to_string(), name.to_string()))
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
    #[serde(default)]
    pub system_attributes: BTreeMap<String, AttributeValue>,
    /// FIFO queues (and fair standard queues): the message group.
    #[serde(default)]
    pub group_id: Option<String>,
    #[serde(default)]
    pub dedup_id: Option<String>,
}

impl Message {
    /// FIFO's SequenceNumber: the store-wide counter, as the 20-digit decimal SQS writes.
    pub fn sequence_number(&self) -> String {
        format!("{:020}", self.seq)
    }
}

/// A FIFO message group: its message count, and the visible-again time of each of its
/// messages that has been received (in flight while that time is in the future).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Group {
    pub count: u64,
    pub received: BTreeMap<u64, u64>,
}

impl Group {
    pub fn blocked(&self, now_ms: u64) -> bool {
        self.received.values().any(|until| *until > now_ms)
    }
}

/// A FIFO deduplication record: what the first send answered.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dedup {
    pub message_id: String,
    pub seq: u64,
    pub expires_ms: u64,
}

/// A FIFO receive attempt, so a retried ReceiveMessage gets the same messages.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attempt {
    pub expires_ms: u64,
    /// (visible time, seq, receipt token) of each message received.
    pub received: Vec<(u64, u64, String)>,
}

/// A message move task (StartMessageMoveTask), in its last known state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MoveTask {
    pub id: String,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub max_per_second: Option<u64>,
    pub status: String,
    pub moved: u64,
    pub to_move: u64,
    pub started_ms: u64,
    pub failure_reason: Option<String>,
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

/// A queue's messages visible from `from_ms` on (pass the queue's mark), and those of them
/// visible at `now_ms`.
pub fn messages_from(account: &str, name: &str, from_ms: u64) -> KeyRange {
    let start = key::encode(&["msg".into(), account.into(), name.into(), Element::from(from_ms)]);
    let end = KeyRange::prefix(&key::encode(&["msg".into(), account.into(), name.into()])).end;
    KeyRange { start: std::ops::Bound::Included(start), end }
}

pub fn visible_at(account: &str, name: &str, from_ms: u64, now_ms: u64) -> KeyRange {
    let start = key::encode(&["msg".into(), account.into(), name.into(), Element::from(from_ms)]);
    KeyRange::between(&start, &key::encode(&["msg".into(), account.into(), name.into(), Element::from(now_ms + 1)]))
}

pub fn group_key(account: &str, name: &str, group: &str) -> Vec<u8> {
    key::encode(&["grp".into(), account.into(), name.into(), group.into()])
}

/// The group id a `grp` key names.
pub fn group_of_key(k: &[u8]) -> Option<String> {
    match key::decode(k).ok()?.pop()? {
        Element::String(id) => Some(id),
        _ => None,
    }
}

pub fn groups_of(account: &str, name: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["grp".into(), account.into(), name.into()]))
}

fn group_message_key(account: &str, name: &str, group: &str, seq: u64) -> Vec<u8> {
    key::encode(&["gmsg".into(), account.into(), name.into(), group.into(), Element::from(seq)])
}

/// A group's messages in send order; values are `(visible time, seq)`.
pub fn group_messages(account: &str, name: &str, group: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["gmsg".into(), account.into(), name.into(), group.into()]))
}

pub fn dedup_key(account: &str, name: &str, scope: &str, id: &str) -> Vec<u8> {
    key::encode(&["dedup".into(), account.into(), name.into(), scope.into(), id.into()])
}

pub fn attempt_key(account: &str, name: &str, id: &str) -> Vec<u8> {
    key::encode(&["attempt".into(), account.into(), name.into(), id.into()])
}

pub fn task_key(source_arn: &str, started_ms: u64, id: &str) -> Vec<u8> {
    key::encode(&["task".into(), source_arn.into(), Element::from(started_ms), id.into()])
}

/// Move tasks out of one queue, oldest first; with `None`, every queue's.
pub fn tasks_of(source_arn: Option<&str>) -> KeyRange {
    match source_arn {
        Some(arn) => KeyRange::prefix(&key::encode(&["task".into(), arn.into()])),
        None => KeyRange::prefix(&key::encode(&["task".into()])),
    }
}

/// A queue's records of the given kinds (`msg`, `grp`, `gmsg`, `dedup`, `attempt`), for
/// PurgeQueue and DeleteQueue.
pub fn queue_records(account: &str, name: &str, kinds: &[&str]) -> Vec<KeyRange> {
    kinds
        .iter()
        .copied()
        .map(|kind| KeyRange::prefix(&key::encode(&[kind.into(), account.into(), name.into()])))
        .collect()
}

pub fn is_fifo(name: &str) -> bool {
    name.ends_with(".fifo")
}

/// Where each queue's live messages start: every live `msg` record of a queue is visible at
/// or after its mark. Deleted messages leave tombstones that a range scan would otherwise
/// step over one by one, and a busy queue leaves many; scans start at the mark instead.
/// Marks live in memory (zero, always safe, after a restart). They change only inside
/// transactions, which the store runs one at a time: [`insert`] lowers a mark, and a
/// receive raises it to the first live message its scan found.
#[derive(Default)]
pub struct Marks(Mutex<HashMap<(String, String), Arc<AtomicU64>>>);

impl Marks {
    pub fn of(&self, account: &str, name: &str) -> Arc<AtomicU64> {
        let mut marks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        marks.entry((account.to_string(), name.to_string())).or_default().clone()
    }

    pub fn get(&self, account: &str, name: &str) -> u64 {
        self.of(account, name).load(Ordering::Acquire)
    }

    /// Forgets a deleted queue's mark.
    pub fn forget(&self, account: &str, name: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&(account.to_string(), name.to_string()));
    }
}

/// Stores `m` in queue `account`/`name`, lowering the queue's mark to it and keeping a FIFO
/// queue's group records in step.
pub fn insert(txn: &mut dyn Txn, marks: &Marks, account: &str, name: &str, m: &Message) -> Result<(), StorageError> {
    marks.of(account, name).fetch_min(m.visible_ms, Ordering::AcqRel);
    txn.put(KEYSPACE, &message_key(account, name, m.visible_ms, m.seq), &encode(m))?;
    let Some(group) = m.group_id.as_deref().filter(|_| is_fifo(name)) else { return Ok(()) };
    txn.put(KEYSPACE, &group_message_key(account, name, group, m.seq), &encode(&(m.visible_ms, m.seq)))?;
    let gk = group_key(account, name, group);
    let mut g: Group = txn.get(KEYSPACE, &gk)?.map(|b| decode(&b)).transpose()?.unwrap_or_default();
    g.count += 1;
    if m.receive_count > 0 {
        g.received.insert(m.seq, m.visible_ms);
    }
    txn.put(KEYSPACE, &gk, &encode(&g))
}

/// Removes `m` (as it is stored) from queue `account`/`name`.
pub fn remove(txn: &mut dyn Txn, account: &str, name: &str, m: &Message) -> Result<(), StorageError> {
    txn.delete(KEYSPACE, &message_key(account, name, m.visible_ms, m.seq))?;
    let Some(group) = m.group_id.as_deref().filter(|_| is_fifo(name)) else { return Ok(()) };
    txn.delete(KEYSPACE, &group_message_key(account, name, group, m.seq))?;
    let gk = group_key(account, name, group);
    let mut g: Group = txn.get(KEYSPACE, &gk)?.map(|b| decode(&b)).transpose()?.unwrap_or_default();
    g.count = g.count.saturating_sub(1);
    g.received.remove(&m.seq);
    if g.count == 0 { txn.delete(KEYSPACE, &gk) } else { txn.put(KEYSPACE, &gk, &encode(&g)) }
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
