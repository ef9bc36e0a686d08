//! The in-memory engine behind `--ephemeral`.
//!
//! Each keyspace is an `Arc`'d `BTreeMap`; a snapshot clones the `Arc`s, and a commit copies
//! a keyspace only while a snapshot still shares it (copy-on-write), so reads of the latest
//! state never copy anything.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::StorageError;
use crate::committer::{Engine, Syncer, WriteSet};
use crate::kv::{Direction, KeyRange, KvPair, ReadView};

type Keyspace = BTreeMap<Vec<u8>, Vec<u8>>;
type Keyspaces = BTreeMap<String, Arc<Keyspace>>;

#[derive(Default)]
pub(crate) struct MemoryEngine {
    state: RwLock<Keyspaces>,
}

impl MemoryEngine {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keyspaces> {
        // A panic cannot leave the maps half-updated (see `apply`), so poisoning is moot.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }
}

fn get_in(state: &Keyspaces, keyspace: &str, key: &[u8]) -> Option<Vec<u8>> {
    state.get(keyspace).and_then(|keys| keys.get(key)).cloned()
}

fn scan_in(state: &Keyspaces, keyspace: &str, range: &KeyRange, direction: Direction, limit: usize) -> Vec<KvPair> {
    let Some(keys) = state.get(keyspace) else {
        return Vec::new();
    };
    if range.is_empty() {
        return Vec::new();
    }
    let iter = keys.range::<[u8], _>(range.as_bounds()).map(|(k, v)| (k.clone(), v.clone()));
    match direction {
        Direction::Forward => iter.take(limit).collect(),
        Direction::Reverse => iter.rev().take(limit).collect(),
    }
}

impl ReadView for MemoryEngine {
    fn get(&self, keyspace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(get_in(&self.read(), keyspace, key))
    }

    fn scan(
        &self,
        keyspace: &str,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        Ok(scan_in(&self.read(), keyspace, range, direction, limit))
    }
}

impl Engine for MemoryEngine {
    fn snapshot(&self) -> Result<Box<dyn ReadView>, StorageError> {
        Ok(Box::new(MemorySnapshot(self.read().clone())))
    }

    fn apply(&self, writes: &WriteSet) -> Result<(), StorageError> {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        for (keyspace, keys) in writes {
            let map = Arc::make_mut(state.entry(keyspace.clone()).or_default());
            for (key, value) in keys {
                match value {
                    Some(value) => map.insert(key.clone(), value.clone()),
                    None => map.remove(key),
                };
            }
        }
        Ok(())
    }

    fn syncer(&self) -> Result<Box<dyn Syncer>, StorageError> {
        Ok(Box::new(NothingToSync))
    }
}

struct NothingToSync;

impl Syncer for NothingToSync {
    fn sync(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
}

struct MemorySnapshot(Keyspaces);

impl ReadView for MemorySnapshot {
    fn get(&self, keyspace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(get_in(&self.0, keyspace, key))
    }

    fn scan(
        &self,
        keyspace: &str,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        Ok(scan_in(&self.0, keyspace, range, direction, limit))
    }
}
