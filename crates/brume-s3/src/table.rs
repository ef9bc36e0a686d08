//! S3's stored records and their keys in the `s3` keyspace.
//!
//! - `bucket/<name>` → [`Bucket`]
//! - `cur/<bucket>/<key>` → the current [`Version`] of an object (what GET and listings
//!   see; a delete marker when the newest version is one)
//! - `ver/<bucket>/<key>/<seq>` → every [`Version`], newest first (`seq` counts down)
//! - `seq` → the counter behind version order
//!
//! Keys use the order-preserving tuple encoding, so `cur/<bucket>/…` scans in the byte
//! order of object keys, as S3 lists them.

use std::collections::BTreeMap;

use brume_storage::key::{self, Element};
use brume_storage::{Direction, KeyRange, ReadView, StorageError, Txn};
use serde::{Deserialize, Serialize};

pub const KEYSPACE: &str = "s3";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bucket {
    pub name: String,
    pub account: String,
    pub region: String,
    pub created: f64,
    /// `None` until versioning is first configured; then `Enabled` or `Suspended`.
    pub versioning: Option<String>,
    /// Stored bucket configurations (CORS, tagging, policy…) as their canonical values.
    #[serde(default)]
    pub config: BTreeMap<String, serde_json::Value>,
}

/// Where an object's bytes are: its blobs in order (one for a simple upload, one per part
/// for a multipart upload), with their lengths — or, for a small object, the bytes
/// themselves.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Content {
    pub blobs: Vec<(String, u64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<brume_core::value::Blob>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: String,
    pub value: String,
    /// `FULL_OBJECT` or `COMPOSITE`.
    pub kind: String,
}

/// One version of an object, or a delete marker.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Version {
    pub key: String,
    /// `null` for versions written while versioning was off or suspended.
    pub version_id: String,
    pub seq: u64,
    pub delete_marker: bool,
    pub last_modified: f64,
    pub size: u64,
    pub etag: String,
    pub content: Content,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The `Expires` header, as a timestamp.
    pub expires: Option<f64>,
    pub storage_class: Option<String>,
    pub checksum: Option<Checksum>,
    /// Part sizes of a multipart object, for `PartNumber` reads.
    #[serde(default)]
    pub parts: Vec<u64>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub owner: String,
}

pub fn bucket_key(name: &str) -> Vec<u8> {
    key::encode(&["bucket".into(), name.into()])
}

pub fn all_buckets() -> KeyRange {
    KeyRange::prefix(&key::encode(&["bucket".into()]))
}

pub fn current_key(bucket: &str, key: &str) -> Vec<u8> {
    key::encode(&["cur".into(), bucket.into(), key.into()])
}

/// The prefix of the current versions of `bucket`'s keys that start with `prefix`.
pub fn current_prefix(bucket: &str, prefix: &str) -> Vec<u8> {
    let mut k = key::encode(&["cur".into(), bucket.into(), prefix.into()]);
    // Drop the string terminator so every longer key matches.
    k.pop();
    k
}

pub fn version_key(bucket: &str, key: &str, seq: u64) -> Vec<u8> {
    key::encode(&["ver".into(), bucket.into(), key.into(), Element::Int(i128::from(u64::MAX - seq))])
}

pub fn versions_of(bucket: &str, key: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["ver".into(), bucket.into(), key.into()]))
}

/// The prefix of all versions of `bucket`'s keys that start with `prefix`.
pub fn versions_prefix(bucket: &str, prefix: &str) -> Vec<u8> {
    let mut k = key::encode(&["ver".into(), bucket.into(), prefix.into()]);
    k.pop();
    k
}

/// The object key of a `cur/` or `ver/` record key.
pub fn object_key_of(record_key: &[u8]) -> Option<String> {
    match key::decode(record_key).ok()?.get(2)? {
        Element::String(s) => Some(s.clone()),
        _ => None,
    }
}

pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Engine(format!("corrupt s3 record: {e}")))
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize")
}

pub fn get_bucket(view: &dyn ReadView, name: &str) -> Result<Option<Bucket>, StorageError> {
    view.get(KEYSPACE, &bucket_key(name))?.map(|b| decode(&b)).transpose()
}

pub fn get_current(view: &dyn ReadView, bucket: &str, key: &str) -> Result<Option<Version>, StorageError> {
    view.get(KEYSPACE, &current_key(bucket, key))?.map(|b| decode(&b)).transpose()
}

/// The version of `key` with id `version_id`, and its record key.
pub fn find_version(
    view: &dyn ReadView,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<(Vec<u8>, Version)>, StorageError> {
    for (k, v) in view.scan(KEYSPACE, &versions_of(bucket, key), Direction::Forward, usize::MAX)? {
        let version: Version = decode(&v)?;
        if version.version_id == version_id {
            return Ok(Some((k, version)));
        }
    }
    Ok(None)
}

/// The `null` version of `key`, if any. Usually it is the current one (always, in a bucket
/// that never had versioning), found by its sequence number without a scan: each overwrite
/// leaves the replaced version's record behind as a tombstone until the store compacts,
/// and a scan of the key's versions would step over every one.
fn find_null_version(view: &dyn ReadView, bucket: &str, key: &str) -> Result<Option<(Vec<u8>, Version)>, StorageError> {
    match get_current(view, bucket, key)? {
        Some(current) if current.version_id == "null" => Ok(Some((version_key(bucket, key, current.seq), current))),
        _ => find_version(view, bucket, key, "null"),
    }
}

/// The next version sequence number.
pub fn next_seq(txn: &mut dyn Txn) -> Result<u64, StorageError> {
    let k = key::encode(&["seq".into()]);
    let current = match txn.get(KEYSPACE, &k)? {
        Some(b) => u64::from_be_bytes(b.try_into().map_err(|_| StorageError::Engine("corrupt s3 sequence".into()))?),
        None => 0,
    };
    txn.put(KEYSPACE, &k, &(current + 1).to_be_bytes())?;
    Ok(current + 1)
}

/// Writes `version` as the newest version of its key and makes it current. Versions with
/// the same `null` id are replaced (their record is removed); their blobs are returned for
/// deletion once the transaction is committed.
pub fn put_version(txn: &mut dyn Txn, bucket: &str, version: &Version) -> Result<Vec<String>, StorageError> {
    let mut dead = Vec::new();
    if version.version_id == "null"
        && let Some((k, old)) = find_null_version(txn, bucket, &version.key)?
    {
        txn.delete(KEYSPACE, &k)?;
        dead.extend(old.content.blobs.into_iter().map(|(b, _)| b));
    }
    txn.put(KEYSPACE, &version_key(bucket, &version.key, version.seq), &encode(version))?;
    txn.put(KEYSPACE, &current_key(bucket, &version.key), &encode(version))?;
    Ok(dead)
}

/// Removes one version; when it was the current one, the next newest becomes current.
/// Returns the blobs to delete after commit.
pub fn remove_version(
    txn: &mut dyn Txn,
    bucket: &str,
    record_key: &[u8],
    version: &Version,
) -> Result<Vec<String>, StorageError> {
    txn.delete(KEYSPACE, record_key)?;
    let next = txn.scan(KEYSPACE, &versions_of(bucket, &version.key), Direction::Forward, 1)?;
    match next.first() {
        Some((_, v)) => txn.put(KEYSPACE, &current_key(bucket, &version.key), v)?,
        None => txn.delete(KEYSPACE, &current_key(bucket, &version.key))?,
    }
    Ok(version.content.blobs.iter().map(|(b, _)| b.clone()).collect())
}
