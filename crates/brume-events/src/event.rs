//! The stored form of an event and how it is keyed.

use brume_storage::key::{self, Element};
use brume_storage::{KeyRange, StorageError, Txn};
use serde::{Deserialize, Serialize};

/// The keyspace the outbox lives in.
pub const EVENTS_KEYSPACE: &str = "events";

/// Attempts before an event goes to the dead-letter handler, unless the event says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// One delivery to make.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    /// Which [`crate::Handler`] delivers it ("sqs", "lambda", "sns-http", ...).
    pub target: String,
    /// What it is, for the handler ("s3:ObjectCreated:Put", "invoke", ...).
    pub kind: String,
    pub payload: serde_json::Value,
    /// Failed deliveries so far.
    pub attempts: u32,
    pub max_attempts: u32,
    /// Milliseconds since the Unix epoch, by the dispatcher's clock.
    pub created_ms: u64,
    /// When the next delivery is due, in the same unit.
    pub due_ms: u64,
    /// Why the last delivery failed, for the dead-letter handler and for diagnostics.
    pub last_error: Option<String>,
}

impl Event {
    /// An event due at once. `now_ms` comes from the caller's clock (see
    /// [`crate::Dispatcher::now_ms`]), so tests can inject time.
    pub fn new(target: impl Into<String>, kind: impl Into<String>, payload: serde_json::Value, now_ms: u64) -> Self {
        Event {
            id: uuid::Uuid::new_v4().to_string(),
            target: target.into(),
            kind: kind.into(),
            payload,
            attempts: 0,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            created_ms: now_ms,
            due_ms: now_ms,
            last_error: None,
        }
    }

    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Delays the first delivery (e.g. SQS-style delivery delays).
    pub fn with_due_ms(mut self, due_ms: u64) -> Self {
        self.due_ms = due_ms;
        self
    }

    pub(crate) fn key(&self) -> Vec<u8> {
        key::encode(&[Element::from(self.due_ms), Element::from(self.id.as_str())])
    }
}

/// Writes `event` into the outbox as part of `txn`: it will be delivered if and only if
/// `txn` commits. Call [`crate::Dispatcher::notify`] after the commit.
pub fn enqueue(txn: &mut dyn Txn, event: &Event) -> Result<(), StorageError> {
    txn.put(EVENTS_KEYSPACE, &event.key(), &encode(event))
}

pub(crate) fn encode(event: &Event) -> Vec<u8> {
    // An `Event` is plain data: serializing it cannot fail.
    serde_json::to_vec(event).unwrap_or_default()
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Event, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// Every event due at or before `now_ms`.
pub(crate) fn due_range(now_ms: u64) -> KeyRange {
    // Keys start with the encoded due time, so the bare encoding of `now + 1` is above
    // every key due at or before `now` and below every later one.
    KeyRange {
        start: std::ops::Bound::Unbounded,
        end: std::ops::Bound::Excluded(key::encode(&[Element::from(now_ms.saturating_add(1))])),
    }
}

/// The due time recorded in an outbox key.
pub(crate) fn due_of(key_bytes: &[u8]) -> Option<u64> {
    match key::decode(key_bytes).ok()?.first()? {
        Element::Int(due) => u64::try_from(*due).ok(),
        _ => None,
    }
}

/// Up to `limit` events waiting in the outbox, soonest due first (for diagnostics, and for
/// checking that a service queued what it should).
pub fn pending(view: &dyn brume_storage::ReadView, limit: usize) -> Result<Vec<Event>, StorageError> {
    view.scan(EVENTS_KEYSPACE, &KeyRange::all(), brume_storage::Direction::Forward, limit)?
        .into_iter()
        .map(|(_, v)| decode(&v).map_err(|e| StorageError::Engine(format!("corrupt event: {e}"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_due_time() {
        let early = Event::new("t", "k", serde_json::Value::Null, 9);
        let late = Event::new("t", "k", serde_json::Value::Null, 10);
        assert!(early.key() < late.key());
        assert!(due_range(9).contains(&early.key()) && !due_range(9).contains(&late.key()));
        assert_eq!(due_of(&late.key()), Some(10));
        assert_eq!(decode(&encode(&late)).unwrap(), late);
    }
}
