//! The single writer shared by every engine: it runs transaction closures one after the
//! other over an in-memory overlay, then applies the whole group with one engine commit.
//! Grouping is natural: while one group is being committed, the transactions that arrive
//! queue up and form the next group.
//!
//! The writer never waits for the disk: a sync thread fsyncs. With [`Durability::Always`]
//! the writer hands each applied group to it and goes on applying the next one, while the
//! sync thread fsyncs everything applied so far and only then answers the group's
//! transactions; so one fsync covers every group applied while the previous one ran. Other
//! readers may see a write up to one fsync before it is acknowledged (it has reached the OS
//! by then, so it survives `kill -9`); a transaction that read it is acknowledged only once
//! it is on disk too, because its own group is synced after. With [`Durability::Default`]
//! the writer answers at once and the sync thread fsyncs within [`FLUSH_INTERVAL`]. Either
//! thread hands a group's answers to one task on the runtime (see [`Courier`]).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;

use crate::kv::{Direction, KeyRange, Kv, KvPair, ReadView, StorageFuture, Txn, TxnFn};
use crate::recent::{Recent, Remembering};
use crate::{Durability, StorageError};

/// With [`Durability::Default`], how long a commit may stay in the OS cache before it is
/// fsynced.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// An upper bound on a group, so one group's overlay (which every read in it consults)
/// stays small.
const MAX_GROUP: usize = 1024;

/// The writer's stack: transactions run on it, and services' conditions recurse with the
/// nesting of their input (DynamoDB's expressions, up to 600 levels), deeper than the
/// default 2 MiB holds in a debug build. Untouched stack pages cost no memory.
const WRITER_STACK: usize = 8 << 20;

/// Pending writes by keyspace and key; `None` is a deletion.
pub(crate) type WriteSet = BTreeMap<String, BTreeMap<Vec<u8>, Option<Vec<u8>>>>;

/// What an engine offers the writer. Reads through [`ReadView`] see the latest applied
/// state.
pub(crate) trait Engine: ReadView + 'static {
    fn snapshot(&self) -> Result<Box<dyn ReadView>, StorageError>;

    /// Applies `writes` atomically. On return they have reached the OS (they survive the
    /// death of the process).
    fn apply(&self, writes: &WriteSet) -> Result<(), StorageError>;

    /// What puts applied writes on disk; it may run on another thread than `apply`.
    fn syncer(&self) -> Result<Box<dyn Syncer>, StorageError>;

    /// Moves everything applied so far from the engine's log into its tables, so that
    /// opening the store again has nothing to replay into memory. Engines without a log do
    /// nothing.
    fn checkpoint(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

/// Puts everything applied before the call on disk, without holding up concurrent
/// [`Engine::apply`] calls for longer than they would wait anyway.
pub(crate) trait Syncer: Send + 'static {
    fn sync(&mut self) -> Result<(), StorageError>;
}

/// Keyspace names are used verbatim by engines, so keep them plain.
pub(crate) fn check_keyspace(name: &str) -> Result<(), StorageError> {
    let valid = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid { Ok(()) } else { Err(StorageError::InvalidKeyspace(name.to_string())) }
}

enum Job {
    Txn {
        f: TxnFn,
        reply: Reply,
    },
    /// Answered once everything before it is on disk; with `checkpoint`, in the engine's
    /// tables too.
    Flush {
        reply: Reply,
        checkpoint: bool,
    },
}

/// A [`Kv`] over any [`Engine`], with the writer thread that owns all writes.
pub(crate) struct EngineKv<E: Engine> {
    engine: Arc<E>,
    /// The writer's memory, which plain reads consult too (see [`EngineKv::get`]).
    recent: Arc<Mutex<Recent>>,
    courier: Courier,
    jobs: Option<Sender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl<E: Engine> EngineKv<E> {
    pub(crate) fn start(engine: E, durability: Durability) -> Result<Self, StorageError> {
        let engine = Arc::new(engine);
        let (jobs, rx) = mpsc::channel();
        let courier = Courier::default();
        let sync = SyncThread::start(engine.syncer()?, courier.clone())?;
        let writer_engine = Arc::clone(&engine);
        let recent = Arc::<Mutex<Recent>>::default();
        let writer_recent = Arc::clone(&recent);
        let writer_courier = courier.clone();
        let writer =
            std::thread::Builder::new().name("brume-kv-writer".into()).stack_size(WRITER_STACK).spawn(move || {
                Writer { engine: writer_engine, durability, sync, recent: writer_recent, courier: writer_courier }
                    .run(rx)
            })?;
        Ok(Self { engine, recent, courier, jobs: Some(jobs), writer: Some(writer) })
    }

    fn submit(&self, job: impl FnOnce(Reply) -> Job) -> StorageFuture {
        self.courier.start();
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
    /// A key the writer touched lately is served from its memory, which is current (every
    /// write goes through the writer): a lookup in a map instead of a walk through the
    /// memtable, whose versions of hot keys make it long. The writer holds the memory's
    /// lock while it applies a group and records it, so a read that found the group's
    /// writes in the engine can no longer find an older value in memory; a read that finds
    /// the lock taken goes to the engine rather than wait. Reads do not add to the memory:
    /// a value read from the engine may be replaced before it would be remembered.
    fn get(&self, keyspace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        check_keyspace(keyspace)?;
        if let Ok(recent) = self.recent.try_lock()
            && let Some(value) = recent.peek(keyspace, key)
        {
            return Ok(value);
        }
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
        self.submit(|reply| Job::Flush { reply, checkpoint: false })
    }

    fn close(&self) -> StorageFuture {
        self.submit(|reply| Job::Flush { reply, checkpoint: true })
    }
}

type Reply = oneshot::Sender<Result<(), StorageError>>;

/// One applied group: each transaction's reply with the answer it gets once the group is as
/// durable as the level promises, and the flushes that waited for it.
struct Applied {
    replies: Vec<(Reply, Result<(), StorageError>)>,
    flushes: Vec<Reply>,
}

struct Writer<E: Engine> {
    engine: Arc<E>,
    durability: Durability,
    sync: SyncThread,
    /// What transactions read and wrote lately; plain reads consult it too.
    recent: Arc<Mutex<Recent>>,
    courier: Courier,
}

impl<E: Engine> Writer<E> {
    fn run(mut self, rx: Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP
                && let Ok(job) = rx.try_recv()
            {
                group.push(job);
            }
            let (mut applied, wrote) = self.run_group(group);
            if self.durability == Durability::Default {
                // Reaching the OS is all this level promises before answering; the sync
                // thread fsyncs within FLUSH_INTERVAL.
                self.courier.deliver(std::mem::take(&mut applied.replies));
                if wrote {
                    self.sync.dirty();
                }
            }
            if !applied.replies.is_empty() || !applied.flushes.is_empty() {
                self.sync.send(applied);
            }
        }
        self.sync.finish();
    }

    /// Runs a group's transactions and applies their writes in one engine commit; returns
    /// the answers and whether anything was written.
    fn run_group(&mut self, group: Vec<Job>) -> (Applied, bool) {
        let mut writes = WriteSet::new();
        // Each transaction's answer, sent only after the group is applied: a transaction
        // that declined may have read the uncommitted writes of an earlier one.
        let mut txn_replies = Vec::new();
        let mut flushes = Vec::new();
        let mut checkpoints = Vec::new();
        let engine = Remembering { recent: &self.recent, engine: &*self.engine };
        for job in group {
            match job {
                Job::Flush { reply, checkpoint: false } => flushes.push(reply),
                Job::Flush { reply, checkpoint: true } => checkpoints.push(reply),
                Job::Txn { f, reply } => {
                    let mut txn =
                        Overlay { writes: WriteSet::new(), below: Layered { writes: &writes, below: &engine } };
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
        // Held from before the engine shows the writes until the memory has them too, so
        // that no plain read sees a write in the engine and then the older value remembered
        // (see `EngineKv::get`).
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let applied = if writes.is_empty() { Ok(()) } else { self.engine.apply(&writes) };
        let wrote = applied.is_ok() && !writes.is_empty();
        match &applied {
            Ok(()) => recent.applied(writes),
            Err(_) => recent.clear(),
        }
        drop(recent);
        // On the writer, so that no write comes between the group and the checkpoint.
        if !checkpoints.is_empty() {
            match self.engine.checkpoint() {
                Ok(()) => flushes.append(&mut checkpoints),
                Err(e) => {
                    tracing::error!(error = %e, "storage checkpoint failed");
                    for reply in checkpoints {
                        let _ = reply.send(Err(copy_error(&e)));
                    }
                }
            }
        }
        let replies = txn_replies
            .into_iter()
            .map(|(reply, committed)| {
                let answer = match &applied {
                    Err(e) if committed => Err(copy_error(e)),
                    _ => Ok(()),
                };
                (reply, answer)
            })
            .collect();
        (Applied { replies, flushes }, wrote)
    }
}

/// Transactions' answers, sent on drop by whichever thread drops them.
struct Answers(Vec<(Reply, Result<(), StorageError>)>);

impl Drop for Answers {
    fn drop(&mut self) {
        for (reply, answer) in self.0.drain(..) {
            let _ = reply.send(answer);
        }
    }
}

/// Carries a group's answers from the writer or sync thread to a task on the runtime that
/// submits transactions, which sends them. A transaction's task woken from outside the
/// runtime costs a lock on the runtime's shared queue and often a futex to unpark a worker;
/// woken from a worker, it goes on that worker's own queue. So this thread wakes one task
/// per group instead of one per transaction. Answers that no task takes (no runtime has
/// submitted yet, or its runtime stopped) are sent by the thread that has them, so none is
/// lost.
#[derive(Clone, Default)]
struct Courier(Arc<CourierState>);

#[derive(Default)]
struct CourierState {
    /// Whether a task is taking answers, so that submitters need not take the lock.
    running: AtomicBool,
    task: Mutex<Option<UnboundedSender<Answers>>>,
}

impl Courier {
    /// Starts the task on the caller's runtime if none is running. Only on a multi-thread
    /// runtime, whose workers run it whoever submits: a current-thread runtime runs tasks
    /// only while a caller blocks on it, and answers left with an idle one would never come.
    fn start(&self) {
        if self.0.running.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = Handle::try_current() else {
            return;
        };
        if runtime.runtime_flavor() != RuntimeFlavor::MultiThread {
            return;
        }
        let mut task = self.0.task.lock().unwrap_or_else(|p| p.into_inner());
        if task.is_none() {
            let (to_task, mut answers) = unbounded_channel::<Answers>();
            // Dropping the answers sends them.
            runtime.spawn(async move { while answers.recv().await.is_some() {} });
            *task = Some(to_task);
            self.0.running.store(true, Ordering::Release);
        }
    }

    fn deliver(&self, answers: Vec<(Reply, Result<(), StorageError>)>) {
        if answers.is_empty() {
            return;
        }
        let answers = Answers(answers);
        let mut task = self.0.task.lock().unwrap_or_else(|p| p.into_inner());
        let Some(to_task) = task.as_ref() else {
            return;
        };
        if let Err(unsent) = to_task.send(answers) {
            // The task's runtime stopped: answer here, and let the next submitter start one.
            *task = None;
            self.0.running.store(false, Ordering::Release);
            drop(task);
            drop(unsent);
        }
    }
}

enum ToSync {
    /// Answer these once everything applied so far is on disk.
    Group(Applied),
    /// Something was applied that no fsync covers yet: fsync it within FLUSH_INTERVAL.
    Dirty,
}

/// The thread that fsyncs, so that the writer never waits for the disk. It fsyncs when a
/// group waits for it (`Durability::Always`, or a flush), then answers every group applied
/// before the fsync began; and within [`FLUSH_INTERVAL`] of a write nobody waits for.
struct SyncThread {
    to_sync: Sender<ToSync>,
    /// Set by the writer when it applies a write, cleared by the sync thread just before it
    /// fsyncs: a write applied after the clearing sets it again and gets a later fsync.
    dirty: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl SyncThread {
    fn start(mut syncer: Box<dyn Syncer>, courier: Courier) -> Result<Self, StorageError> {
        let (to_sync, rx) = mpsc::channel::<ToSync>();
        let dirty = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&dirty);
        let handle = std::thread::Builder::new().name("brume-kv-sync".into()).spawn(move || {
            let mut due: Option<Instant> = None;
            loop {
                let message = match due {
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    Some(due) => rx.recv_timeout(due.saturating_duration_since(Instant::now())),
                };
                let mut waiting = Vec::new();
                match message {
                    Ok(ToSync::Dirty) => {
                        due.get_or_insert_with(|| Instant::now() + FLUSH_INTERVAL);
                        continue;
                    }
                    Ok(ToSync::Group(applied)) => waiting.push(applied),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        if due.is_some() {
                            flag.store(false, Ordering::SeqCst);
                            let _ = sync_logged(&mut *syncer);
                        }
                        break;
                    }
                }
                for message in rx.try_iter() {
                    if let ToSync::Group(applied) = message {
                        waiting.push(applied);
                    }
                }
                flag.store(false, Ordering::SeqCst);
                due = None;
                let synced = sync_logged(&mut *syncer);
                let failure = || synced.as_ref().map(|_| ()).map_err(copy_error);
                for applied in waiting {
                    courier.deliver(
                        applied
                            .replies
                            .into_iter()
                            .map(|(reply, answer)| (reply, answer.and_then(|()| failure())))
                            .collect(),
                    );
                    for reply in applied.flushes {
                        let _ = reply.send(failure());
                    }
                }
            }
        })?;
        Ok(Self { to_sync, dirty, handle })
    }

    fn send(&self, applied: Applied) {
        // The thread only stops once `to_sync` is dropped, in `finish`.
        let _ = self.to_sync.send(ToSync::Group(applied));
    }

    fn dirty(&self) {
        if !self.dirty.swap(true, Ordering::SeqCst) {
            let _ = self.to_sync.send(ToSync::Dirty);
        }
    }

    /// Lets the thread answer what it holds, fsync and exit, and waits for it.
    fn finish(self) {
        drop(self.to_sync);
        if self.handle.join().is_err() {
            tracing::error!("storage sync thread panicked");
        }
    }
}

/// A failed fsync is logged here and reported to whoever waited for it; a background one
/// is retried with the next write.
fn sync_logged(syncer: &mut dyn Syncer) -> Result<(), StorageError> {
    let result = syncer.sync();
    if let Err(e) = &result {
        tracing::error!(error = %e, "storage fsync failed");
    }
    result
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

    /// The pending writes in `keyspace`, whose name is copied only by its first write.
    fn writes_in(&mut self, keyspace: &str) -> Result<&mut BTreeMap<Vec<u8>, Option<Vec<u8>>>, StorageError> {
        check_keyspace(keyspace)?;
        if !self.writes.contains_key(keyspace) {
            self.writes.insert(keyspace.to_string(), BTreeMap::new());
        }
        Ok(self.writes.get_mut(keyspace).expect("inserted above"))
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
        self.writes_in(keyspace)?.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, keyspace: &str, key: &[u8]) -> Result<(), StorageError> {
        self.writes_in(keyspace)?.insert(key.to_vec(), None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::memory::MemoryEngine;

    /// The in-memory engine, counting the fsyncs and the checkpoints asked of it.
    struct Counted(MemoryEngine, Arc<AtomicUsize>, Arc<AtomicUsize>);

    struct Counter(Arc<AtomicUsize>);

    impl Syncer for Counter {
        fn sync(&mut self) -> Result<(), StorageError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    impl ReadView for Counted {
        fn get(&self, keyspace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
            self.0.get(keyspace, key)
        }

        fn scan(&self, ks: &str, range: &KeyRange, dir: Direction, limit: usize) -> Result<Vec<KvPair>, StorageError> {
            self.0.scan(ks, range, dir, limit)
        }
    }

    impl Engine for Counted {
        fn snapshot(&self) -> Result<Box<dyn ReadView>, StorageError> {
            self.0.snapshot()
        }

        fn apply(&self, writes: &WriteSet) -> Result<(), StorageError> {
            self.0.apply(writes)
        }

        fn syncer(&self) -> Result<Box<dyn Syncer>, StorageError> {
            Ok(Box::new(Counter(Arc::clone(&self.1))))
        }

        fn checkpoint(&self) -> Result<(), StorageError> {
            self.2.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    /// A store over [`Counted`], with its fsync and checkpoint counts.
    fn counted(durability: Durability) -> (Arc<dyn Kv>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let (syncs, checkpoints) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let engine = Counted(MemoryEngine::default(), Arc::clone(&syncs), Arc::clone(&checkpoints));
        (Arc::new(EngineKv::start(engine, durability).unwrap()), syncs, checkpoints)
    }

    fn store(durability: Durability) -> (Arc<dyn Kv>, Arc<AtomicUsize>) {
        let (kv, syncs, _) = counted(durability);
        (kv, syncs)
    }

    async fn put(kv: &dyn Kv, key: &str) {
        let key = key.to_string();
        kv.transact(move |txn| txn.put("t", key.as_bytes(), b"v")).await.unwrap();
    }

    #[tokio::test]
    async fn default_level_fsyncs_in_the_background_within_the_interval() {
        let (kv, syncs) = store(Durability::Default);
        put(&*kv, "a").await;
        put(&*kv, "b").await;
        let deadline = Instant::now() + FLUSH_INTERVAL * 10;
        while syncs.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            tokio::time::sleep(FLUSH_INTERVAL / 4).await;
        }
        let after_writes = syncs.load(Ordering::SeqCst);
        assert!(after_writes >= 1, "no background fsync");
        // Nothing written since: no more fsyncs, until a flush asks for one.
        tokio::time::sleep(FLUSH_INTERVAL * 2).await;
        assert_eq!(syncs.load(Ordering::SeqCst), after_writes);
        kv.flush().await.unwrap();
        assert_eq!(syncs.load(Ordering::SeqCst), after_writes + 1);
    }

    #[tokio::test]
    async fn close_checkpoints_the_engine_and_a_flush_does_not() {
        let (kv, syncs, checkpoints) = counted(Durability::Default);
        put(&*kv, "a").await;
        kv.flush().await.unwrap();
        assert_eq!(checkpoints.load(Ordering::SeqCst), 0);
        let synced = syncs.load(Ordering::SeqCst);
        kv.close().await.unwrap();
        assert_eq!(checkpoints.load(Ordering::SeqCst), 1);
        assert!(syncs.load(Ordering::SeqCst) > synced, "a close is answered after an fsync");
    }

    /// The answers of a store used from one runtime after another go through a task on the
    /// first runtime that submitted; once that runtime is gone they must still come.
    #[test]
    fn answers_come_after_the_runtime_that_carried_them_stops() {
        for durability in [Durability::Default, Durability::Always] {
            let (kv, _) = store(durability);
            for n in 0..3 {
                let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
                runtime.block_on(async {
                    for k in 0..20 {
                        put(&*kv, &format!("{n}/{k}")).await;
                    }
                });
                drop(runtime);
            }
            // From a current-thread runtime, and with a multi-thread one idle beside it.
            let idle = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
            idle.block_on(put(&*kv, "idle"));
            let current = tokio::runtime::Builder::new_current_thread().build().unwrap();
            current.block_on(put(&*kv, "current"));
            let count = kv.scan("t", &KeyRange::all(), Direction::Forward, usize::MAX).unwrap().len();
            assert_eq!(count, 62);
        }
    }

    #[tokio::test]
    async fn always_level_answers_after_an_fsync() {
        let (kv, syncs) = store(Durability::Always);
        for n in 1..=3 {
            put(&*kv, &n.to_string()).await;
            assert_eq!(syncs.load(Ordering::SeqCst), n);
        }
    }
}
