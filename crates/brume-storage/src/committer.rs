//! The single writer shared by every engine: it runs transaction closures one after the
//! other over an in-memory overlay, then applies the whole group with one engine commit
//! (and, for [`Durability::Always`], one fsync). Grouping is natural: while one group is
//! being committed, the transactions that arrive queue up and form the next group.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::kv::{Direction, KeyRange, Kv, KvPair, ReadView, StorageFuture, Txn, TxnFn};
use crate::{Durability, StorageError};

/// With [`Durability::Default`], how long a commit may stay in the OS cache before the
/// writer fsyncs it.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// An upper bound on a group, so one group's overlay (which every read in it consults)
/// stays small.
const MAX_GROUP: usize = 1024;

/// Pending writes by keyspace and key; `None` is a deletion.
pub(crate) type WriteSet = BTreeMap<String, BTreeMap<Vec<u8>, Option<Vec<u8>>>>;

/// What an engine offers the writer. Reads through [`ReadView`] see the latest applied
/// state.
pub(crate) trait Engine: ReadView + 'static {
    fn snapshot(&self) -> Result<Box<dyn ReadView>, StorageError>;

    /// Applies `writes` atomically. On return they have reached the OS (they survive the
    /// death of the process); with `sync` they are on disk.
    fn apply(&self, writes: &WriteSet, sync: bool) -> Result<(), StorageError>;

    /// Puts everything applied so far on disk.
    fn sync(&self) -> Result<(), StorageError>;
}

/// Keyspace names are used verbatim by engines, so keep them plain.
pub(crate) fn check_keyspace(name: &str) -> Result<(), StorageError> {
    let valid = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid { Ok(()) } else { Err(StorageError::InvalidKeyspace(name.to_string())) }
}

enum Job {
    Txn { f: TxnFn, reply: oneshot::Sender<Result<(), StorageError>> },
    Flush { reply: oneshot::Sender<Result<(), StorageError>> },
}

/// A [`Kv`] over any [`Engine`], with the writer thread that owns all writes.
pub(crate) struct EngineKv<E: Engine> {
    engine: Arc<E>,
    jobs: Option<Sender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl<E: Engine> EngineKv<E> {
    pub(crate) fn start(engine: E, durability: Durability) -> Result<Self, StorageError> {
        let engine = Arc::new(engine);
        let (jobs, rx) = mpsc::channel();
        let writer_engine = Arc::clone(&engine);
        let writer = std::thread::Builder::new()
            .name("brume-kv-writer".into())
            .spawn(move || Writer { engine: writer_engine, durability, unsynced_since: None }.run(rx))?;
        Ok(Self { engine, jobs: Some(jobs), writer: Some(writer) })
    }

    fn submit(&self, job: impl FnOnce(oneshot::Sender<Result<(), StorageError>>) -> Job) -> StorageFuture {
        let (reply, done) = oneshot::channel();
        let sent = self.jobs.as_ref().is_some_and(|jobs| jobs.send(job(reply)).is_ok());
        Box::pin(async move {
            if !sent {
                return Err(StorageError::Closed);
            }
            done.await.unwrap_or(Err(StorageError::Closed))
        })
    }
}

impl<E: Engine> Drop for EngineKv<E> {
    /// Closing the queue makes the writer finish the queued work, fsync and exit; joining it
    /// means the engine is closed (and its directory lock released) when the store is dropped.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("storage writer thread panicked");
        }
    }
}

impl<E: Engine> ReadView for EngineKv<E> {
    fn get(&self, keyspace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        check_keyspace(keyspace)?;
        self.engine.get(keyspace, key)
    }

    fn scan(
        &self,
        keyspace: &str,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        check_keyspace(keyspace)?;
        self.engine.scan(keyspace, range, direction, limit)
    }
}

impl<E: Engine> Kv for EngineKv<E> {
    fn snapshot(&self) -> Result<Box<dyn ReadView>, StorageError> {
        self.engine.snapshot()
    }

    fn transact_dyn(&self, f: TxnFn) -> StorageFuture {
        self.submit(|reply| Job::Txn { f, reply })
    }

    fn flush(&self) -> StorageFuture {
        self.submit(|reply| Job::Flush { reply })
    }
}

struct Writer<E: Engine> {
    engine: Arc<E>,
    durability: Durability,
    /// When the oldest commit not yet fsynced was applied (only with `Durability::Default`).
    unsynced_since: Option<Instant>,
}

impl<E: Engine> Writer<E> {
    fn run(mut self, rx: Receiver<Job>) {
        loop {
            let first = match self.unsynced_since {
                None => match rx.recv() {
                    Ok(job) => Some(job),
                    Err(_) => break,
                },
                Some(since) => match rx.recv_timeout(FLUSH_INTERVAL.saturating_sub(since.elapsed())) {
                    Ok(job) => Some(job),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            if let Some(first) = first {
                let mut group = vec![first];
                while group.len() < MAX_GROUP
                    && let Ok(job) = rx.try_recv()
                {
                    group.push(job);
                }
                self.run_group(group);
            }
            // A failed background fsync is logged by `sync` and retried at the next interval.
            if self.unsynced_since.is_some_and(|since| since.elapsed() >= FLUSH_INTERVAL) {
                let _ = self.sync();
            }
        }
        if self.unsynced_since.is_some() {
            let _ = self.sync();
        }
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        let result = self.engine.sync();
        match &result {
            Ok(()) => self.unsynced_since = None,
            Err(e) => tracing::error!(error = %e, "storage background fsync failed"),
        }
        result
    }

    fn run_group(&mut self, group: Vec<Job>) {
        let mut writes = WriteSet::new();
        // Each transaction's answer, sent only after the group is applied: a transaction
        // that declined may have read the uncommitted writes of an earlier one.
        let mut txn_replies = Vec::new();
        let mut flush_replies = Vec::new();
        for job in group {
            match job {
                Job::Flush { reply } => flush_replies.push(reply),
                Job::Txn { f, reply } => {
                    let mut txn =
                        Overlay { writes: WriteSet::new(), below: Layered { writes: &writes, below: &*self.engine } };
                    let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut txn)));
                    let own = txn.writes;
                    match outcome {
                        Ok(true) => {
                            merge(&mut writes, own);
                            txn_replies.push((reply, true));
                        }
                        Ok(false) => txn_replies.push((reply, false)),
                        Err(panic) => {
                            let message = panic
                                .downcast_ref::<&str>()
                                .map(|s| s.to_string())
                                .or_else(|| panic.downcast_ref::<String>().cloned())
                                .unwrap_or_default();
                            let _ = reply.send(Err(StorageError::Panicked(message)));
                        }
                    }
                }
            }
        }
        let sync_now = self.durability == Durability::Always;
        let applied = if writes.is_empty() { Ok(()) } else { self.engine.apply(&writes, sync_now) };
        if applied.is_ok() && !writes.is_empty() && !sync_now && self.unsynced_since.is_none() {
            self.unsynced_since = Some(Instant::now());
        }
        for (reply, committed) in txn_replies {
            let answer = match &applied {
                Err(e) if committed => Err(copy_error(e)),
                _ => Ok(()),
            };
            let _ = reply.send(answer);
        }
        if !flush_replies.is_empty() {
            let synced = self.sync();
            for reply in flush_replies {
                let _ = reply.send(synced.as_ref().map(|_| ()).map_err(copy_error));
            }
        }
    }
}

/// Errors are not `Clone`, but one failed commit has to be reported to every transaction
/// of its group.
fn copy_error(e: &StorageError) -> StorageError {
    match e {
        StorageError::Io(io) => StorageError::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => StorageError::Engine(other.to_string()),
    }
}

fn merge(into: &mut WriteSet, from: WriteSet) {
    for (keyspace, keys) in from {
        into.entry(keyspace).or_default().extend(keys);
    }
}

/// Pending writes seen over another view.
struct Layered<'a> {
    writes: &'a WriteSet,
    below: &'a dyn ReadView,
}

impl ReadView for Layered<'_> {
    fn get(&self, keyspace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.writes.get(keyspace).and_then(|keys| keys.get(key)) {
            Some(pending) => Ok(pending.clone()),
            None => self.below.get(keyspace, key),
        }
    }

    fn scan(
        &self,
        keyspace: &str,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        let Some(keys) = self.writes.get(keyspace) else {
            return self.below.scan(keyspace, range, direction, limit);
        };
        if range.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut pending: Vec<_> = keys.range::<[u8], _>(range.as_bounds()).collect();
        if direction == Direction::Reverse {
            pending.reverse();
        }
        // Each pending write hides at most one key below, so asking for that many more
        // keys is enough to fill `limit`.
        let base = self.below.scan(keyspace, range, direction, limit.saturating_add(pending.len()))?;
        let before = |a: &[u8], b: &[u8]| match direction {
            Direction::Forward => a < b,
            Direction::Reverse => a > b,
        };
        let mut out = Vec::new();
        let mut pending = pending.into_iter().peekable();
        let mut base = base.into_iter().peekable();
        while out.len() < limit {
            let take_pending = match (pending.peek(), base.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((pk, _)), Some((bk, _))) => {
                    if pk.as_slice() == bk.as_slice() {
                        base.next();
                        true
                    } else {
                        before(pk, bk)
                    }
                }
            };
            if take_pending {
                if let Some((key, Some(value))) = pending.next() {
                    out.push((key.clone(), value.clone()));
                }
            } else if let Some(pair) = base.next() {
                out.push(pair);
            }
        }
        Ok(out)
    }
}

/// One transaction's own writes over the group's pending writes over the engine.
struct Overlay<'a> {
    writes: WriteSet,
    below: Layered<'a>,
}

impl Overlay<'_> {
    fn view(&self) -> Layered<'_> {
        Layered { writes: &self.writes, below: &self.below }
    }
}

impl ReadView for Overlay<'_> {
    fn get(&self, keyspace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        check_keyspace(keyspace)?;
        self.view().get(keyspace, key)
    }

    fn scan(
        &self,
        keyspace: &str,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        check_keyspace(keyspace)?;
        self.view().scan(keyspace, range, direction, limit)
    }
}

impl Txn for Overlay<'_> {
    fn put(&mut self, keyspace: &str, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        check_keyspace(keyspace)?;
        self.writes.entry(keyspace.to_string()).or_default().insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, keyspace: &str, key: &[u8]) -> Result<(), StorageError> {
        check_keyspace(keyspace)?;
        self.writes.entry(keyspace.to_string()).or_default().insert(key.to_vec(), None);
        Ok(())
    }
}
