//! Temporary credentials kept in STS's keyspace, so that credentials issued before a
//! restart are still accepted after it.

use std::sync::Arc;

use brume_auth::{PersistenceError, SessionCredentials, SessionPersistence};
use brume_storage::{Direction, KeyRange, Kv, StorageError, Txn};
use tokio::runtime::Handle;

/// The keyspace STS owns.
pub const KEYSPACE: &str = "sts";
const PREFIX: &[u8] = b"session/";

/// [`SessionPersistence`] over the storage layer. Its calls block on a storage commit, so
/// they must run off the async workers (in `spawn_blocking`), as STS does.
pub struct KvSessions {
    kv: Arc<dyn Kv>,
    runtime: Handle,
}

impl KvSessions {
    pub fn new(kv: Arc<dyn Kv>, runtime: Handle) -> Self {
        KvSessions { kv, runtime }
    }
}

fn key(access_key_id: &str) -> Vec<u8> {
    [PREFIX, access_key_id.as_bytes()].concat()
}

impl SessionPersistence for KvSessions {
    fn load_all(&self) -> Result<Vec<SessionCredentials>, PersistenceError> {
        let pairs = self.kv.scan(KEYSPACE, &KeyRange::prefix(PREFIX), Direction::Forward, usize::MAX)?;
        pairs
            .into_iter()
            .map(|(_, v)| serde_json::from_slice(&v).map_err(|e| Box::new(e) as PersistenceError))
            .collect()
    }

    fn save(&self, session: &SessionCredentials) -> Result<(), PersistenceError> {
        let k = key(&session.access_key_id);
        let v = serde_json::to_vec(session)?;
        let kv = self.kv.clone();
        self.runtime
            .block_on(kv.transact(move |txn: &mut dyn Txn| txn.put(KEYSPACE, &k, &v)))
            .map_err(|e: StorageError| Box::new(e) as PersistenceError)
    }

    fn remove(&self, access_key_id: &str) -> Result<(), PersistenceError> {
        let k = key(access_key_id);
        let kv = self.kv.clone();
        self.runtime
            .block_on(kv.transact(move |txn: &mut dyn Txn| txn.delete(KEYSPACE, &k)))
            .map_err(|e: StorageError| Box::new(e) as PersistenceError)
    }
}
