//! The durable engine: fjall, a log-structured store whose journal makes every commit
//! survive the death of the process as soon as it is written to the OS, and survive power
//! loss once the journal is fsynced. Each Brume keyspace is a fjall keyspace.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use fjall::{Database, KeyspaceCreateOptions, PersistMode, Readable};
use rustc_hash::FxHashMap;

use crate::StorageError;
use crate::committer::{Engine, Syncer, WriteSet};
use crate::kv::{Direction, KeyRange, KvPair, ReadView};

/// How long a checkpoint waits for fjall to write the memtables out: short of the 10 s a
/// container runtime gives a stopped process before it kills it.
const CHECKPOINT_WAIT: Duration = Duration::from_secs(8);

pub(crate) struct DiskEngine {
    db: Database,
    dir: PathBuf,
    /// Open keyspace handles: opening one takes the engine's global lock, so do it once.
    /// Looked up on every read and write; the names are Brume's own, so a fast hash.
    keyspaces: Arc<RwLock<FxHashMap<String, fjall::Keyspace>>>,
}

impl DiskEngine {
    pub(crate) fn open(dir: &Path) -> Result<Self, StorageError> {
        // The journal is persisted by the writer, at the point the durability level says.
        // One background worker: with more, fjall 3.1's first worker hands every compaction
        // request back to the queue and takes it again at once, spinning on a core for as
        // long as another worker compacts. One worker flushes and compacts in turn; under
        // sustained writes the store is faster so, and its writers' latency tail shorter.
        let db = Database::builder(dir).manual_journal_persist(true).worker_threads(1).open()?;
        Ok(Self { db, dir: dir.to_path_buf(), keyspaces: Arc::default() })
    }

    /// A view of the store as of now.
    fn view(&self) -> DiskSnapshot {
        DiskSnapshot { db: self.db.clone(), keyspaces: Arc::clone(&self.keyspaces), snapshot: self.db.snapshot() }
    }
}

/// The handle of `name`, created only when `create` (reads of a keyspace never written
/// find it empty without creating it).
fn handle(
    db: &Database,
    keyspaces: &RwLock<FxHashMap<String, fjall::Keyspace>>,
    name: &str,
    create: bool,
) -> Result<Option<fjall::Keyspace>, StorageError> {
    if let Some(ks) = keyspaces.read().unwrap_or_else(|p| p.into_inner()).get(name) {
        return Ok(Some(ks.clone()));
    }
    if !create && !db.keyspace_exists(name) {
        return Ok(None);
    }
    let ks = db.keyspace(name, KeyspaceCreateOptions::default)?;
    keyspaces.write().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), ks.clone());
    Ok(Some(ks))
}

fn collect(iter: fjall::Iter, direction: Direction, limit: usize) -> Result<Vec<KvPair>, StorageError> {
    let to_pair = |guard: fjall::Guard| -> Result<KvPair, StorageError> {
        let (k, v) = guard.into_inner()?;
        Ok((k.to_vec(), v.to_vec()))
    };
    match direction {
        Direction::Forward => iter.take(limit).map(to_pair).collect(),
        Direction::Reverse => iter.rev().take(limit).map(to_pair).collect(),
    }
}

fn owned_bounds(range: &KeyRange) -> (std::ops::Bound<Vec<u8>>, std::ops::Bound<Vec<u8>>) {
    (range.start.clone(), range.end.clone())
}

/// Plain reads go through a snapshot of their own: fjall's `Keyspace::get` and `range` read
/// at the newest sequence number, so they can see some writes of a group being applied and
/// not yet the others; a snapshot reads at the last group applied in full.
impl ReadView for DiskEngine {
    fn get(&self, keyspace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.view().get(keyspace, key)
    }

    fn scan(
        &self,
        keyspace: &str,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        self.view().scan(keyspace, range, direction, limit)
    }
}

impl Engine for DiskEngine {
    fn snapshot(&self) -> Result<Box<dyn ReadView>, StorageError> {
        Ok(Box::new(self.view()))
    }

    fn apply(&self, writes: &WriteSet) -> Result<(), StorageError> {
        let mut batch = self.db.batch().durability(Some(PersistMode::Buffer));
        for (keyspace, keys) in writes {
            let Some(ks) = handle(&self.db, &self.keyspaces, keyspace, true)? else {
                continue;
            };
            for (key, value) in keys {
                match value {
                    Some(value) => batch.insert(&ks, key.as_slice(), value.as_slice()),
                    None => batch.remove(&ks, key.as_slice()),
                }
            }
        }
        batch.commit()?;
        Ok(())
    }

    fn syncer(&self) -> Result<Box<dyn Syncer>, StorageError> {
        let newest = newest_journal(&self.dir)?;
        Ok(Box::new(JournalSyncer { dir: self.dir.clone(), db: self.db.clone(), newest, open: None }))
    }

    /// fjall reads its whole active journal at every open and replays what its tables do
    /// not hold yet into the memtables, and a keyspace's memtable goes to a table only
    /// once it holds 64 MiB: a store stopped with 35 MB in its journal took 0.22-0.29 s
    /// to open, every time. Writing every memtable out first leaves the journal only to
    /// be read past (0.13 s for the same store; the journal itself goes only once fjall
    /// rotates it, past 64 MB). fjall's `rotate_memtable` is public but
    /// undocumented (the version is pinned); its own waiting variant would wait forever
    /// for a flush that keeps failing (a full disk), so the wait here is bounded: what is
    /// not in a table by then is still in the journal.
    fn checkpoint(&self) -> Result<(), StorageError> {
        let mut rotated = Vec::new();
        for name in self.db.list_keyspace_names() {
            if let Some(ks) = handle(&self.db, &self.keyspaces, &name, false)?
                && ks.rotate_memtable()?
            {
                rotated.push(ks);
            }
        }
        let deadline = Instant::now() + CHECKPOINT_WAIT;
        while rotated.iter().any(|ks| ks.sealed_memtable_count() > 0) {
            if Instant::now() >= deadline {
                tracing::warn!("memtables not written to tables within {CHECKPOINT_WAIT:?}; the journal keeps them");
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

/// Fsyncs fjall's active journal through a file handle of its own. fjall's `persist` holds
/// the journal lock while the disk works, which would stop the writer from appending the
/// next group meanwhile; an fsync through another handle of the same file does not.
///
/// This relies on how fjall 3 (pinned in Cargo.toml) keeps its journal: files `<n>.jnl` in
/// the database directory, appended to one at a time; a rotation fsyncs the sealed `<n>.jnl`
/// before it creates `<n+1>.jnl` and fsyncs the directory. So syncing the newest journal
/// puts on disk everything applied before the sync began. If no journal file is found,
/// fjall's own `persist` is used.
struct JournalSyncer {
    dir: PathBuf,
    db: Database,
    newest: Option<u64>,
    open: Option<(u64, File)>,
}

impl Syncer for JournalSyncer {
    fn sync(&mut self) -> Result<(), StorageError> {
        let Some(mut newest) = self.newest else {
            self.db.persist(PersistMode::SyncAll)?;
            return Ok(());
        };
        while self.dir.join(journal_name(newest + 1)).exists() {
            newest += 1;
        }
        self.newest = Some(newest);
        let file = match &mut self.open {
            Some((id, file)) if *id == newest => file,
            open => &mut open.insert((newest, File::open(self.dir.join(journal_name(newest)))?)).1,
        };
        file.sync_data()?;
        Ok(())
    }
}

fn journal_name(id: u64) -> String {
    format!("{id}.jnl")
}

/// The number of the newest `<n>.jnl` in `dir`, if there is one.
fn newest_journal(dir: &Path) -> Result<Option<u64>, StorageError> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".jnl")).and_then(|n| n.parse::<u64>().ok()) {
            newest = newest.max(Some(id));
        }
    }
    Ok(newest)
}

struct DiskSnapshot {
    db: Database,
    keyspaces: Arc<RwLock<FxHashMap<String, fjall::Keyspace>>>,
    snapshot: fjall::Snapshot,
}

impl ReadView for DiskSnapshot {
    fn get(&self, keyspace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(ks) = handle(&self.db, &self.keyspaces, keyspace, false)? else {
            return Ok(None);
        };
        Ok(self.snapshot.get(&ks, key)?.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        keyspace: &str,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let Some(ks) = handle(&self.db, &self.keyspaces, keyspace, false)? else {
            return Ok(Vec::new());
        };
        collect(self.snapshot.range(&ks, owned_bounds(range)), direction, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_syncer_finds_fjalls_journal() {
        let dir = tempfile::tempdir().unwrap();
        let engine = DiskEngine::open(dir.path()).unwrap();
        assert!(newest_journal(dir.path()).unwrap().is_some(), "fjall's journal layout changed: {dir:?}");
        let mut syncer = engine.syncer().unwrap();
        syncer.sync().unwrap();
    }

    #[test]
    fn a_checkpoint_leaves_nothing_to_replay() {
        let dir = tempfile::tempdir().unwrap();
        let engine = DiskEngine::open(dir.path()).unwrap();
        let mut writes = WriteSet::new();
        writes.entry("t".to_string()).or_default().insert(b"k".to_vec(), Some(b"v".to_vec()));
        engine.apply(&writes).unwrap();
        let ks = handle(&engine.db, &engine.keyspaces, "t", false).unwrap().unwrap();
        assert_eq!(ks.table_count(), 0);
        engine.checkpoint().unwrap();
        assert_eq!((ks.table_count(), ks.sealed_memtable_count()), (1, 0));
        // Nothing written since: nothing to do.
        engine.checkpoint().unwrap();
        assert_eq!(ks.table_count(), 1);
        drop((ks, engine));
        let engine = DiskEngine::open(dir.path()).unwrap();
        assert_eq!(engine.get("t", b"k").unwrap(), Some(b"v".to_vec()));
    }

    #[test]
    fn the_syncer_follows_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::builder(dir.path().join("db")).open().unwrap();
        for n in [3, 4] {
            std::fs::write(dir.path().join(journal_name(n)), b"").unwrap();
        }
        let mut syncer = JournalSyncer {
            dir: dir.path().to_path_buf(),
            db,
            newest: newest_journal(dir.path()).unwrap(),
            open: None,
        };
        syncer.sync().unwrap();
        assert_eq!(syncer.open.as_ref().map(|(id, _)| *id), Some(4));
        std::fs::write(dir.path().join(journal_name(5)), b"").unwrap();
        std::fs::write(dir.path().join(journal_name(6)), b"").unwrap();
        syncer.sync().unwrap();
        assert_eq!(syncer.open.as_ref().map(|(id, _)| *id), Some(6));
    }
}
