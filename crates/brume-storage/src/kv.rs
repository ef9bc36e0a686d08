//! The ordered, transactional key-value interface every service uses.

use std::future::Future;
use std::ops::Bound;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::StorageError;

/// A key and its value, as returned by scans.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// The order in which a scan walks its range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Reverse,
}

/// The bounds of a scan over one keyspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
}

impl KeyRange {
    /// Every key of the keyspace.
    pub fn all() -> Self {
        Self { start: Bound::Unbounded, end: Bound::Unbounded }
    }

    /// Every key that starts with `prefix` (with the tuple encoding, every record under a
    /// tuple prefix).
    pub fn prefix(prefix: &[u8]) -> Self {
        Self { start: Bound::Included(prefix.to_vec()), end: prefix_end(prefix) }
    }

    /// `start..end`: from `start` included to `end` excluded.
    pub fn between(start: &[u8], end: &[u8]) -> Self {
        Self { start: Bound::Included(start.to_vec()), end: Bound::Excluded(end.to_vec()) }
    }

    /// The bounds borrowed, in the form `BTreeMap::range` and the engines take.
    pub fn as_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (as_ref(&self.start), as_ref(&self.end))
    }

    /// True when no key can lie in the range. `BTreeMap::range` panics on such ranges, so
    /// every implementation checks this first.
    pub fn is_empty(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
            _ => false,
        }
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        let after_start = match &self.start {
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
            Bound::Unbounded => true,
        };
        let before_end = match &self.end {
            Bound::Included(e) => key <= e.as_slice(),
            Bound::Excluded(e) => key < e.as_slice(),
            Bound::Unbounded => true,
        };
        after_start && before_end
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The first key after every key starting with `prefix`: drop trailing 0xFF bytes and
/// increment the last remaining one; a prefix of only 0xFF bytes has no upper bound.
fn prefix_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != 0xFF {
            end.push(last + 1);
            return Bound::Excluded(end);
        }
    }
    Bound::Unbounded
}

/// Reads over one consistent state: the latest committed state ([`Kv`] itself), a
/// point-in-time [`Kv::snapshot`], or a transaction's view including its own writes.
pub trait ReadView: Send + Sync {
    fn get(&self, keyspace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// At most `limit` pairs of `range`, in key order (`Forward`) or reverse key order.
    fn scan(
        &self,
        keyspace: &str,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError>;
}

/// A transaction in progress: reads see its own writes; writes are applied atomically when
/// the transaction closure returns `Ok`, and not at all otherwise.
pub trait Txn: ReadView {
    fn put(&mut self, keyspace: &str, key: &[u8], value: &[u8]) -> Result<(), StorageError>;
    fn delete(&mut self, keyspace: &str, key: &[u8]) -> Result<(), StorageError>;
}

/// The object-safe form of a transaction: the closure runs exactly once and returns whether
/// its writes are to be committed. `<dyn Kv>::transact` wraps it with typed results.
pub type TxnFn = Box<dyn FnOnce(&mut dyn Txn) -> bool + Send>;

/// A future that does not borrow the store: the caller may drop its handle while waiting.
pub type StorageFuture = Pin<Box<dyn Future<Output = Result<(), StorageError>> + Send>>;

/// Ordered byte keys in named keyspaces (one per service: "s3", "sqs", "events", ...).
///
/// Transactions are serializable: they run one after the other on a single writer, which
/// groups the transactions waiting at the same moment into one engine commit and, with
/// [`crate::Durability::Always`], one fsync.
pub trait Kv: ReadView {
    /// A consistent point-in-time view; later commits are not visible through it.
    fn snapshot(&self) -> Result<Box<dyn ReadView>, StorageError>;

    /// Runs `f` on the writer and resolves once its writes are as durable as the store's
    /// level promises (or at once if `f` declined to commit). Prefer `<dyn Kv>::transact`.
    fn transact_dyn(&self, f: TxnFn) -> StorageFuture;

    /// Resolves once everything committed so far is on disk.
    fn flush(&self) -> StorageFuture;

    /// [`Kv::flush`], and the engine's log moved into its tables, so that the next open
    /// of the store replays nothing into memory: for a graceful shutdown. The store stays
    /// usable.
    fn close(&self) -> StorageFuture;
}

impl dyn Kv + '_ {
    /// Runs `f` as one atomic transaction and returns its result once the writes are
    /// durable. When `f` returns `Err`, nothing it wrote is applied.
    ///
    /// `f` runs on the store's writer thread, so it must not block on anything but the
    /// transaction itself.
    pub async fn transact<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut dyn Txn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let slot = Arc::new(Mutex::new(None));
        let filled = Arc::clone(&slot);
        self.transact_dyn(Box::new(move |txn| {
            let result = f(txn);
            let commit = result.is_ok();
            *filled.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            commit
        }))
        .await?;
        let result = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        result.unwrap_or_else(|| Err(StorageError::Closed.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges() {
        assert_eq!(KeyRange::prefix(b"ab").end, Bound::Excluded(b"ac".to_vec()));
        assert_eq!(KeyRange::prefix(b"a\xff\xff").end, Bound::Excluded(b"b".to_vec()));
        assert_eq!(KeyRange::prefix(b"\xff").end, Bound::Unbounded);
        assert_eq!(KeyRange::prefix(b"").end, Bound::Unbounded);
        let r = KeyRange::prefix(b"ab");
        assert!(r.contains(b"ab") && r.contains(b"ab\xff\xff") && !r.contains(b"ac"));
    }

    #[test]
    fn empty_ranges() {
        assert!(KeyRange::between(b"b", b"a").is_empty());
        assert!(KeyRange::between(b"a", b"a").is_empty());
        assert!(!KeyRange::between(b"a", b"b").is_empty());
        let point = KeyRange { start: Bound::Included(b"a".to_vec()), end: Bound::Included(b"a".to_vec()) };
        assert!(!point.is_empty());
        assert!(!KeyRange::all().is_empty());
    }
}
