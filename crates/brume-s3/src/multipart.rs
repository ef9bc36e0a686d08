//! Multipart uploads. Records: `mpu/<bucket>/<key>/<upload id>` → [`Upload`].

use brume_storage::key;
use brume_storage::{Direction, KeyRange, ReadView, StorageError};
use serde::{Deserialize, Serialize};

use crate::table::{self, KEYSPACE};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub initiated: f64,
}

fn uploads_prefix(bucket: &str) -> Vec<u8> {
    key::encode(&["mpu".into(), bucket.into()])
}

/// Up to `limit` uploads in progress in `bucket`.
pub fn uploads_of(view: &dyn ReadView, bucket: &str, limit: usize) -> Result<Vec<Upload>, StorageError> {
    view.scan(KEYSPACE, &KeyRange::prefix(&uploads_prefix(bucket)), Direction::Forward, limit)?
        .into_iter()
        .map(|(_, v)| table::decode(&v))
        .collect()
}
