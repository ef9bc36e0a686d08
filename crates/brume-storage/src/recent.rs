//! The writer's memory of the keys it touched lately, which plain reads consult too.
//!
//! Every write goes through the one writer, so a value it read or wrote stays the current
//! value of its key until the writer itself writes the key again, and then it updates its
//! memory. Transactions read the same few keys over and over (a table's definition and
//! counts, a bucket, an object's current record, a queue); served from here, those reads
//! skip the engine's lookup, which in a large memtable is a walk through cache misses that
//! cost the writer more than the rest of a write.
//!
//! Memory is bounded by two generations: entries go into the young one; when it holds
//! [`GENERATION_BYTES`], it becomes the old one and the previous old one is forgotten. A
//! hit in the old generation moves the entry back to the young one, so keys read often
//! stay. Keys come from requests, so the maps use the standard (keyed) hasher.

use std::collections::HashMap;
use std::mem;
use std::sync::{Mutex, MutexGuard};

use crate::StorageError;
use crate::committer::WriteSet;
use crate::kv::{Direction, KeyRange, KvPair, ReadView};

/// How many bytes of keys and values one generation holds (so at most twice that in all).
const GENERATION_BYTES: usize = 4 << 20;

/// Values larger than this are not remembered: the records read on every write are small,
/// and a large one would turn the generations over (and be copied on every hit).
const LARGEST_VALUE: usize = 64 << 10;

/// What an entry costs besides its bytes: the map slot and two allocations, roughly.
const ENTRY_OVERHEAD: usize = 64;

type Value = Option<Vec<u8>>;

#[derive(Default)]
struct Generation {
    keys: HashMap<String, HashMap<Vec<u8>, Value>>,
    bytes: usize,
}

impl Generation {
    fn get(&self, keyspace: &str, key: &[u8]) -> Option<&Value> {
        self.keys.get(keyspace)?.get(key)
    }

    /// Removes `key`, and its cost from the generation's bytes.
    fn take(&mut self, keyspace: &str, key: &[u8]) -> Option<Value> {
        let value = self.keys.get_mut(keyspace)?.remove(key)?;
        self.bytes -= cost(key.len(), &value);
        Some(value)
    }
}

fn cost(key_len: usize, value: &Value) -> usize {
    key_len + value.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD
}

/// The latest value (or absence) of recently read or written keys.
#[derive(Default)]
pub(crate) struct Recent {
    young: Generation,
    old: Generation,
}

impl Recent {
    /// The remembered value of `key`: `Some(None)` when it is known to be absent, `None`
    /// when it is not remembered.
    pub(crate) fn get(&mut self, keyspace: &str, key: &[u8]) -> Option<Value> {
        if let Some(value) = self.young.get(keyspace, key) {
            return Some(value.clone());
        }
        let value = self.old.take(keyspace, key)?;
        self.insert(keyspace, key.to_vec(), value.clone());
        Some(value)
    }

    /// [`Recent::get`] without moving a hit to the young generation, for readers other
    /// than the writer: what is remembered stays the writer's choice.
    pub(crate) fn peek(&self, keyspace: &str, key: &[u8]) -> Option<Value> {
        self.young.get(keyspace, key).or_else(|| self.old.get(keyspace, key)).cloned()
    }

    /// Remembers `value` as the current value of `key`.
    pub(crate) fn insert(&mut self, keyspace: &str, key: Vec<u8>, value: Value) {
        if value.as_ref().is_some_and(|v| v.len() > LARGEST_VALUE) {
            // Not remembered; whatever was remembered of the key is stale now.
            self.young.take(keyspace, &key);
            self.old.take(keyspace, &key);
            return;
        }
        let key_len = key.len();
        let added = cost(key_len, &value);
        if self.young.bytes + added > GENERATION_BYTES {
            self.turn_over();
        }
        let keys = match self.young.keys.get_mut(keyspace) {
            Some(keys) => keys,
            None => self.young.keys.entry(keyspace.to_string()).or_default(),
        };
        self.young.bytes += added;
        if let Some(previous) = keys.insert(key, value) {
            self.young.bytes -= cost(key_len, &previous);
        }
    }

    /// The young generation becomes the old one. Freeing the previous old one (thousands of
    /// entries) and growing a new map from nothing would stall the writer, and every request
    /// waiting on it, for a good part of a millisecond: the new maps start at the size the
    /// last ones reached, and the forgotten generation is freed on a thread of its own.
    fn turn_over(&mut self) {
        let mut young = Generation::default();
        for (keyspace, keys) in &self.young.keys {
            young.keys.insert(keyspace.clone(), HashMap::with_capacity(keys.len()));
        }
        let forgotten = mem::replace(&mut self.old, mem::replace(&mut self.young, young));
        let freeing = move || drop(forgotten);
        if let Err(e) = std::thread::Builder::new().name("brume-kv-free".into()).spawn(freeing) {
            tracing::warn!(error = %e, "freeing the writer's old generation on the writer");
        }
    }

    /// Remembers what a group just applied.
    pub(crate) fn applied(&mut self, writes: WriteSet) {
        for (keyspace, keys) in writes {
            for (key, value) in keys {
                self.insert(&keyspace, key, value);
            }
        }
    }

    /// Forgets everything: after a failed commit, the engine's state is not known.
    pub(crate) fn clear(&mut self) {
        *self = Recent::default();
    }
}

/// The engine as the writer reads it: remembered keys from [`Recent`], the rest from the
/// engine (and then remembered). Scans always go to the engine.
pub(crate) struct Remembering<'a> {
    pub(crate) recent: &'a Mutex<Recent>,
    pub(crate) engine: &'a dyn ReadView,
}

impl Remembering<'_> {
    fn recent(&self) -> MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ReadView for Remembering<'_> {
    fn get(&self, keyspace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(value) = self.recent().get(keyspace, key) {
            return Ok(value);
        }
        let value = self.engine.get(keyspace, key)?;
        self.recent().insert(keyspace, key.to_vec(), value.clone());
        Ok(value)
    }

    fn scan(
        &self,
        keyspace: &str,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        self.engine.scan(keyspace, range, direction, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_values_and_absences() {
        let mut recent = Recent::default();
        assert_eq!(recent.get("t", b"k"), None);
        recent.insert("t", b"k".to_vec(), Some(b"v".to_vec()));
        recent.insert("t", b"gone".to_vec(), None);
        assert_eq!(recent.get("t", b"k"), Some(Some(b"v".to_vec())));
        assert_eq!(recent.get("t", b"gone"), Some(None));
        assert_eq!(recent.get("other", b"k"), None);
        assert_eq!(recent.peek("t", b"gone"), Some(None));
    }

    #[test]
    fn a_write_replaces_what_was_remembered_in_either_generation() {
        let mut recent = Recent::default();
        recent.insert("t", b"k".to_vec(), Some(b"old".to_vec()));
        recent.old = mem::take(&mut recent.young);
        let mut writes = WriteSet::new();
        writes.entry("t".to_string()).or_default().insert(b"k".to_vec(), Some(b"new".to_vec()));
        recent.applied(writes);
        assert_eq!(recent.get("t", b"k"), Some(Some(b"new".to_vec())));
        // Turning over forgets the stale copy, never brings it back.
        recent.old = mem::take(&mut recent.young);
        assert_eq!(recent.get("t", b"k"), Some(Some(b"new".to_vec())));
    }

    #[test]
    fn memory_stays_within_two_generations() {
        let mut recent = Recent::default();
        let value = vec![0u8; 1000];
        for n in 0..50_000u32 {
            recent.insert("t", n.to_be_bytes().to_vec(), Some(value.clone()));
        }
        assert!(recent.young.bytes <= GENERATION_BYTES && recent.old.bytes <= GENERATION_BYTES);
        // The newest keys are remembered, the first ones forgotten.
        assert!(recent.get("t", &49_999u32.to_be_bytes()).is_some());
        assert_eq!(recent.get("t", &0u32.to_be_bytes()), None);
    }

    #[test]
    fn a_large_value_is_not_remembered_and_forgets_the_smaller_one() {
        let mut recent = Recent::default();
        recent.insert("t", b"k".to_vec(), Some(b"small".to_vec()));
        recent.insert("t", b"o".to_vec(), Some(b"small".to_vec()));
        recent.old = mem::take(&mut recent.young);
        recent.insert("t", b"k".to_vec(), Some(b"newer".to_vec()));
        recent.insert("t", b"k".to_vec(), Some(vec![0; LARGEST_VALUE + 1]));
        recent.insert("t", b"o".to_vec(), Some(vec![0; LARGEST_VALUE + 1]));
        assert_eq!(recent.get("t", b"k"), None);
        assert_eq!(recent.get("t", b"o"), None);
        assert_eq!(recent.young.bytes, 0);
    }

    #[test]
    fn a_peek_finds_both_generations_and_moves_nothing() {
        let mut recent = Recent::default();
        recent.insert("t", b"old".to_vec(), Some(b"v".to_vec()));
        recent.old = mem::take(&mut recent.young);
        recent.insert("t", b"young".to_vec(), Some(b"w".to_vec()));
        assert_eq!(recent.peek("t", b"old"), Some(Some(b"v".to_vec())));
        assert_eq!(recent.peek("t", b"young"), Some(Some(b"w".to_vec())));
        assert_eq!(recent.peek("t", b"other"), None);
        recent.old = mem::take(&mut recent.young);
        assert_eq!(recent.peek("t", b"old"), None);
    }

    #[test]
    fn a_hit_in_the_old_generation_survives_the_next_turn() {
        let mut recent = Recent::default();
        recent.insert("t", b"hot".to_vec(), Some(b"v".to_vec()));
        recent.old = mem::take(&mut recent.young);
        assert!(recent.get("t", b"hot").is_some());
        recent.old = mem::take(&mut recent.young);
        assert!(recent.get("t", b"hot").is_some());
    }
}
