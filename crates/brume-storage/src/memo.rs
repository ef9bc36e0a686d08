//! Memoized decoding of stored records.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Decoded values by record key, each with the bytes it was decoded from.
type Entries<T> = HashMap<Vec<u8>, (Vec<u8>, Arc<T>)>;

/// Records decoded from their stored bytes, by key, kept with those bytes. A decoded copy
/// is only handed out for exactly the bytes it came from, so this memoizes a pure function
/// and cannot go stale: a record rewritten, deleted and re-created, or wiped by a reset
/// simply decodes afresh. Meant for records that every request of a service reads and that
/// rarely change (an S3 bucket's), whose decoding costs more than the request's own work;
/// the caller still reads the record, in its own snapshot or transaction, every time.
pub struct DecodeMemo<T> {
    entries: Mutex<Option<Entries<T>>>,
    capacity: usize,
}

impl<T> DecodeMemo<T> {
    /// A memo of up to `capacity` keys; beyond that it starts afresh, so that records
    /// created and dropped by the thousand (test suites) do not accumulate.
    pub const fn new(capacity: usize) -> Self {
        DecodeMemo { entries: Mutex::new(None), capacity }
    }

    /// The value decoded from `bytes`, the record stored under `key`.
    pub fn decode<E>(&self, key: &[u8], bytes: &[u8], decode: impl FnOnce(&[u8]) -> Result<T, E>) -> Result<Arc<T>, E> {
        if let Some((stored, value)) = self.lock().as_ref().and_then(|m| m.get(key))
            && stored.as_slice() == bytes
        {
            return Ok(Arc::clone(value));
        }
        // Decoded without the lock held: other requests' look-ups need not wait for it.
        let value = Arc::new(decode(bytes)?);
        let mut entries = self.lock();
        let memo = entries.get_or_insert_with(HashMap::new);
        if memo.len() >= self.capacity {
            memo.clear();
        }
        memo.insert(key.to_vec(), (bytes.to_vec(), Arc::clone(&value)));
        Ok(value)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Entries<T>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::DecodeMemo;

    /// The value for `bytes`, and whether it was decoded afresh.
    fn get(memo: &DecodeMemo<usize>, key: &[u8], bytes: &[u8]) -> (usize, bool) {
        let mut decoded = false;
        let value = memo
            .decode(key, bytes, |b| {
                decoded = true;
                Ok::<_, ()>(b.len())
            })
            .unwrap();
        (*value, decoded)
    }

    #[test]
    fn a_value_is_reused_only_for_the_same_bytes() {
        let memo = DecodeMemo::new(2);
        assert_eq!(get(&memo, b"k", b"abc"), (3, true));
        assert_eq!(get(&memo, b"k", b"abc"), (3, false));
        assert_eq!(get(&memo, b"k", b"abcd"), (4, true));
        assert_eq!(get(&memo, b"j", b"abc"), (3, true));
        assert_eq!(get(&memo, b"k", b"abcd"), (4, false));
        // Full: a third key starts the memo afresh.
        assert_eq!(get(&memo, b"i", b"ab"), (2, true));
        assert_eq!(get(&memo, b"k", b"abcd"), (4, true));
    }
}
