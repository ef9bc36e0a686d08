//! The durable engine: fjall, a log-structured store whose journal makes every commit
//! survive the death of the process as soon as it is written to the OS, and survive power
//! loss once the journal is fsynced. Each Brume keyspace is a fjall keyspace.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use fjall::{Database, KeyspaceCreateOptions, PersistMode, Readable};

use crate::StorageError;
use crate::committer::{Engine, WriteSet};
use crate::kv::{Direction, KeyRange, KvPair, ReadView};

pub(crate) struct DiskEngine {
    db: Database,
    /// Open keyspace handles: opening one takes the engine's global lock, so do it once.
    keyspaces: Arc<RwLock<HashMap<String, fjall::Keyspace>>>,
}

impl DiskEngine {
    pub(crate) fn open(dir: &Path) -> Result<Self, StorageError> {
        // The journal is persisted by the writer, at the point the durability level says.
        let db = Database::builder(dir).manual_journal_persist(true).open()?;
        Ok(Self { db, keyspaces: Arc::default() })
    }
}

/// The handle of `name`, created only when `create` (reads of a keyspace never written
/// find it empty without creating it).
fn handle(
    db: &Database,
    keyspaces: &RwLock<HashMap<String, fjall::Keyspace>>,
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

impl ReadView for DiskEngine {
    fn get(&self, keyspace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(ks) = handle(&self.db, &self.keyspaces, keyspace, false)? else {
            return Ok(None);
        };
        Ok(ks.get(key)?.map(|v| v.to_vec()))
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
        collect(ks.range(owned_bounds(range)), direction, limit)
    }
}

impl Engine for DiskEngine {
    fn snapshot(&self) -> Result<Box<dyn ReadView>, StorageError> {
        Ok(Box::new(DiskSnapshot {
            db: self.db.clone(),
            keyspaces: Arc::clone(&self.keyspaces),
            snapshot: self.db.snapshot(),
        }))
    }

    fn apply(&self, writes: &WriteSet, sync: bool) -> Result<(), StorageError> {
        let mode = if sync { PersistMode::SyncAll } else { PersistMode::Buffer };
        let mut batch = self.db.batch().durability(Some(mode));
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

    fn sync(&self) -> Result<(), StorageError> {
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }
}

struct DiskSnapshot {
    db: Database,
    keyspaces: Arc<RwLock<HashMap<String, fjall::Keyspace>>>,
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
