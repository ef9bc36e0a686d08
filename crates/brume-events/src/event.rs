//! The stored form of an event and how it is keyed.

use std::ops::Bound;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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
    /// Due when made: it goes to the ready queue rather than the schedule.
    fn due_at_once(&self) -> bool {
        self.due_ms <= self.created_ms
    }
}

/// Key prefixes of the two parts of the outbox. Ready events are keyed by the order their
/// transactions ran in, so the dispatcher reads them from a cursor and never walks back over
/// the deletions of the ones it delivered (the store keeps deleted keys as tombstones until
/// it compacts, and a scan from the start would step over every one). Scheduled events
/// (delayed, or retried after a back-off) are keyed by due time.
const READY: i64 = 0;
const SCHEDULED: i64 = 1;

/// The next ready-queue position. Transactions run one at a time and commit in that order,
/// so positions taken inside them become visible in increasing order; one counter serves
/// every store of the process. It starts at the wall clock in nanoseconds, so positions
/// taken after a restart sort after those stored before it.
fn next_position() -> u64 {
    static NEXT: LazyLock<AtomicU64> = LazyLock::new(|| {
        AtomicU64::new(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64))
    });
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Events this process has written into outboxes (committed or not).
static ENQUEUED: AtomicU64 = AtomicU64::new(0);

/// How many events this process has enqueued so far. A caller that reads it before and
/// after some work knows whether the work may have queued events (and so whether to
/// [`crate::Dispatcher::notify`]): waking the dispatcher after every request made it scan
/// the outbox once per request.
pub fn enqueued() -> u64 {
    ENQUEUED.load(Ordering::SeqCst)
}

/// Writes `event` into the outbox as part of `txn`: it will be delivered if and only if
/// `txn` commits. Call [`crate::Dispatcher::notify`] after the commit.
pub fn enqueue(txn: &mut dyn Txn, event: &Event) -> Result<(), StorageError> {
    // Counted before the commit, so that a count read after it includes this event.
    ENQUEUED.fetch_add(1, Ordering::SeqCst);
    let key = if event.due_at_once() {
        key::encode(&[READY.into(), next_position().into(), event.id.as_str().into()])
    } else {
        key::encode(&[SCHEDULED.into(), event.due_ms.into(), event.id.as_str().into()])
    };
    txn.put(EVENTS_KEYSPACE, &key, &encode(event))
}

pub(crate) fn encode(event: &Event) -> Vec<u8> {
    // An `Event` is plain data: serializing it cannot fail.
    serde_json::to_vec(event).unwrap_or_default()
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Event, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// The ready queue after `cursor` (the last key read from it), or all of it.
pub(crate) fn ready_after(cursor: Option<&[u8]>) -> KeyRange {
    KeyRange {
        start: match cursor {
            Some(key) => Bound::Excluded(key.to_vec()),
            None => Bound::Included(key::encode(&[READY.into()])),
        },
        end: Bound::Excluded(key::encode(&[SCHEDULED.into()])),
    }
}

/// Scheduled events due at or before `now_ms`; with `u64::MAX`, all of them.
pub(crate) fn scheduled_until(now_ms: u64) -> KeyRange {
    // The bare prefix `(SCHEDULED, now + 1)` is above every key due at or before `now` and
    // below every later one.
    let end = match now_ms.checked_add(1) {
        Some(after) => key::encode(&[SCHEDULED.into(), after.into()]),
        None => key::encode(&[(SCHEDULED + 1).into()]),
    };
    KeyRange { start: Bound::Included(key::encode(&[SCHEDULED.into()])), end: Bound::Excluded(end) }
}

/// Keys of the earlier layout, `(due time, id)`: a due time (milliseconds since 1970) sorts
/// after both parts' prefixes. Such events are moved into the current layout at start.
pub(crate) fn earlier_layout() -> KeyRange {
    KeyRange { start: Bound::Included(key::encode(&[(SCHEDULED + 1).into()])), end: Bound::Unbounded }
}

/// The due time recorded in a scheduled event's key.
pub(crate) fn due_of(key_bytes: &[u8]) -> Option<u64> {
    match key::decode(key_bytes).ok()?.get(..2)? {
        [Element::Int(part), Element::Int(due)] if *part == i128::from(SCHEDULED) => u64::try_from(*due).ok(),
        _ => None,
    }
}

/// Up to `limit` events waiting in the outbox, the ready ones first, then the scheduled
/// ones soonest due first (for diagnostics, and for checking that a service queued what it
/// should).
pub fn pending(view: &dyn brume_storage::ReadView, limit: usize) -> Result<Vec<Event>, StorageError> {
    view.scan(EVENTS_KEYSPACE, &KeyRange::all(), brume_storage::Direction::Forward, limit)?
        .into_iter()
        .map(|(_, v)| decode(&v).map_err(|e| StorageError::Engine(format!("corrupt event: {e}"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use brume_storage::{Direction, Kv, Storage};

    fn ids(kv: &dyn Kv, range: &KeyRange) -> Vec<(Vec<u8>, String)> {
        let found = kv.scan(EVENTS_KEYSPACE, range, Direction::Forward, usize::MAX).unwrap();
        found.into_iter().map(|(k, v)| (k, decode(&v).unwrap().id)).collect()
    }

    #[tokio::test]
    async fn ready_events_keep_commit_order_and_scheduled_ones_their_due_time() {
        let storage = Storage::in_memory();
        let event = |id: &str, due: u64| {
            let mut e = Event::new("t", "k", serde_json::Value::Null, 10).with_due_ms(due);
            e.id = id.into();
            e
        };
        for e in [event("z-first", 10), event("later", 20), event("a-second", 5), event("soon", 15)] {
            storage.kv.transact(move |txn: &mut dyn Txn| enqueue(txn, &e)).await.unwrap();
        }
        let ready = ids(&*storage.kv, &ready_after(None));
        assert_eq!(ready.iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>(), ["z-first", "a-second"]);
        let rest = ids(&*storage.kv, &ready_after(Some(&ready[0].0)));
        assert_eq!(rest.iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>(), ["a-second"]);
        assert!(ids(&*storage.kv, &scheduled_until(14)).is_empty());
        let due = ids(&*storage.kv, &scheduled_until(20));
        assert_eq!(due.iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>(), ["soon", "later"]);
        assert_eq!(due_of(&due[1].0), Some(20));
        assert_eq!(due_of(&ready[0].0), None);
        assert_eq!(ids(&*storage.kv, &scheduled_until(u64::MAX)).len(), 2);
    }
}
