//! S3's stored records and their keys in the `s3` keyspace.
//!
//! - `bucket/<name>` → [`Bucket`]
//! - `cur/<bucket>/<key>` → the current [`Version`] of an object, its newest (what GET and
//!   listings see; a delete marker when the newest version is one)
//! - `ver/<bucket>/<key>/<seq>` → the object's noncurrent versions, newest first (`seq`
//!   counts down)
//!
//! A key's current version is kept in `cur/` alone, so that overwriting an object in a
//! bucket without versioning writes one record. Current records of earlier releases have a
//! copy in `ver/` under their own `seq` (they lack [`SOLE`]); readers skip it, and writes
//! remove it when they replace or move such a record.
//!
//! Records of earlier releases may also hold `seq`, a counter that numbered versions
//! before [`next_seq`] took them from the clock; it is no longer read.
//!
//! Keys use the order-preserving tuple encoding, so `cur/<bucket>/…` scans in the byte
//! order of object keys, as S3 lists them.
//!
//! Version records are their JSON followed by the raw bytes of a small object (see
//! [`encode_version`]); records written before that layout are JSON alone, with the bytes in
//! base64, and still read.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use brume_storage::key::{self, Element};
use brume_storage::{DecodeMemo, Direction, KeyRange, ReadView, StorageError, Txn};
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
    /// Never in the JSON: [`encode_version`] appends the bytes raw, not in base64. Read from
    /// the JSON of records written before.
    #[serde(default, skip_serializing)]
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
    // The members an object usually lacks are left out of its record when empty: encoding
    // and storing them cost every write. Earlier records have them all, and read the same.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The `Expires` header, as a timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    /// Part sizes of a multipart object, for `PartNumber` reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    pub owner: String,
    /// The restore asked of an archived version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<crate::archive::Restore>,
}

pub fn bucket_key(name: &str) -> Vec<u8> {
    key::encode_strings_then(&["bucket", name], &[])
}

pub fn all_buckets() -> KeyRange {
    KeyRange::prefix(&key::encode(&["bucket".into()]))
}

pub fn current_key(bucket: &str, key: &str) -> Vec<u8> {
    key::encode_strings_then(&["cur", bucket, key], &[])
}

/// The prefix of the current versions of `bucket`'s keys that start with `prefix`.
pub fn current_prefix(bucket: &str, prefix: &str) -> Vec<u8> {
    let mut k = key::encode_strings_then(&["cur", bucket, prefix], &[]);
    // Drop the string terminator so every longer key matches.
    k.pop();
    k
}

fn version_key(bucket: &str, key: &str, seq: u64) -> Vec<u8> {
    key::encode_strings_then(&["ver", bucket, key], &[Element::Int(i128::from(u64::MAX - seq))])
}

fn versions_of(bucket: &str, key: &str) -> KeyRange {
    KeyRange::prefix(&key::encode_strings_then(&["ver", bucket, key], &[]))
}

/// The prefix of all versions of `bucket`'s keys that start with `prefix`.
fn versions_prefix(bucket: &str, prefix: &str) -> Vec<u8> {
    let mut k = key::encode_strings_then(&["ver", bucket, prefix], &[]);
    k.pop();
    k
}

/// The keys of the records one object's write reads and writes: its bucket's, its current
/// version's, and the prefix of all its versions'. A write builds them before its
/// transaction: encoding them there cost the storage writer, which every write waits for,
/// a few hundred instructions a key.
pub struct ObjectKeys {
    bucket: Vec<u8>,
    current: Vec<u8>,
    versions: Vec<u8>,
}

impl ObjectKeys {
    pub fn new(bucket: &str, key: &str) -> Self {
        ObjectKeys {
            bucket: bucket_key(bucket),
            current: current_key(bucket, key),
            versions: key::encode_strings_then(&["ver", bucket, key], &[]),
        }
    }

    /// [`version_key`] of this object.
    fn version(&self, seq: u64) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.versions.len() + 9);
        k.extend_from_slice(&self.versions);
        key::encode_into(&mut k, &Element::Int(i128::from(u64::MAX - seq)));
        k
    }
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

/// The first byte of a version record: JSON and nothing after it, or JSON and an object's
/// bytes, with [`SOLE`] or without. A record of the older layout starts with `{`.
const RECORD_JSON: u8 = 1;
const RECORD_JSON_AND_BYTES: u8 = 2;
/// Set on records written since current versions have no copy in `ver/`: such a record,
/// while current, is its version's only one.
const SOLE: u8 = 4;

/// A version record: the tag byte, the JSON's length (4 bytes, big-endian), the JSON of
/// everything but the inline bytes, then those bytes as they are. A small object's body
/// costs no base64 and no JSON escaping scan, and is encoded once for both of its records.
pub fn encode_version(version: &Version) -> Vec<u8> {
    let inline = version.content.inline.as_ref().map(|b| b.0.as_slice());
    let mut out = Vec::with_capacity(512 + inline.map_or(0, <[u8]>::len));
    out.push(SOLE | if inline.is_some() { RECORD_JSON_AND_BYTES } else { RECORD_JSON });
    out.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut out, version).expect("records serialize");
    let len = u32::try_from(out.len() - 5).expect("version records are small");
    out[1..5].copy_from_slice(&len.to_be_bytes());
    if let Some(bytes) = inline {
        out.extend_from_slice(bytes);
    }
    out
}

pub fn decode_version(bytes: &[u8]) -> Result<Version, StorageError> {
    let (json, inline) = split_version(bytes)?;
    Ok(with_inline(decode(json)?, inline))
}

/// A version record's JSON, and the object's bytes when the record carries them raw.
fn split_version(bytes: &[u8]) -> Result<(&[u8], Option<&[u8]>), StorageError> {
    let corrupt = || StorageError::Engine("corrupt s3 version record".into());
    let tag = *bytes.first().ok_or_else(corrupt)? & !SOLE;
    if tag != RECORD_JSON && tag != RECORD_JSON_AND_BYTES {
        return Ok((bytes, None));
    }
    let len = bytes.get(1..5).ok_or_else(corrupt)?;
    let end = 5 + u32::from_be_bytes(len.try_into().map_err(|_| corrupt())?) as usize;
    let json = bytes.get(5..end).ok_or_else(corrupt)?;
    Ok((json, (tag == RECORD_JSON_AND_BYTES).then(|| &bytes[end..])))
}

/// Whether `record`, when current, is its version's only record (see [`SOLE`]).
fn is_sole(record: &[u8]) -> bool {
    record.first().is_some_and(|&tag| tag == SOLE | RECORD_JSON || tag == SOLE | RECORD_JSON_AND_BYTES)
}

/// `record` marked as its version's only one, for a noncurrent version becoming current.
fn as_sole(mut record: Vec<u8>) -> Result<Vec<u8>, StorageError> {
    match record.first().map(|&tag| tag & !SOLE) {
        Some(RECORD_JSON | RECORD_JSON_AND_BYTES) => {
            record[0] |= SOLE;
            Ok(record)
        }
        // The JSON layout has no tag byte to mark.
        _ => Ok(encode_version(&decode_version(&record)?)),
    }
}

fn with_inline(mut version: Version, inline: Option<&[u8]>) -> Version {
    if let Some(bytes) = inline {
        version.content.inline = Some(brume_core::value::Blob(bytes.to_vec()));
    }
    version
}

/// A bucket's record, to change it.
pub fn get_bucket(view: &dyn ReadView, name: &str) -> Result<Option<Bucket>, StorageError> {
    Ok(read_bucket(view, name)?.map(|b| Bucket::clone(&b)))
}

/// A bucket's record, to read it: shared with the memo, not copied.
pub fn read_bucket(view: &dyn ReadView, name: &str) -> Result<Option<Arc<Bucket>>, StorageError> {
    read_bucket_at(view, &bucket_key(name))
}

/// [`read_bucket`] of the bucket of the object of `keys`.
pub fn read_object_bucket(view: &dyn ReadView, keys: &ObjectKeys) -> Result<Option<Arc<Bucket>>, StorageError> {
    read_bucket_at(view, &keys.bucket)
}

fn read_bucket_at(view: &dyn ReadView, key: &[u8]) -> Result<Option<Arc<Bucket>>, StorageError> {
    let Some(bytes) = view.get(KEYSPACE, key)? else { return Ok(None) };
    DECODED_BUCKETS.decode(key, &bytes, decode).map(Some)
}

/// Every object request reads its bucket's record, configurations and all, and decoding
/// its JSON cost more than the rest of a small GetObject's storage work: a copy of the
/// decoded record is cheaper.
static DECODED_BUCKETS: DecodeMemo<Bucket> = DecodeMemo::new(1024);

pub fn get_current(view: &dyn ReadView, bucket: &str, key: &str) -> Result<Option<Version>, StorageError> {
    view.get(KEYSPACE, &current_key(bucket, key))?.map(|b| decode_version(&b)).transpose()
}

/// [`get_current`] for object reads (GET, HEAD), which read the same objects again and
/// again: the JSON of the record is decoded once per stored bytes (see [`DecodeMemo`]), and
/// the object's own bytes, which the memo does not keep, are attached afresh.
pub fn read_current(view: &dyn ReadView, bucket: &str, key: &str) -> Result<Option<Version>, StorageError> {
    memoized_current(view, &current_key(bucket, key), |version, inline| with_inline(Version::clone(version), inline))
}

/// The current version of a key as a write that replaces it reads it: decoded, but for the
/// object's bytes, which a write never reads back, and its record as stored.
pub struct Current {
    version: Arc<Version>,
    record: Vec<u8>,
}

impl std::ops::Deref for Current {
    type Target = Version;

    fn deref(&self) -> &Version {
        &self.version
    }
}

/// The current version of `key` for a write that replaces it. Decoded through the same
/// memo as [`read_current`], which writes fill with what they committed
/// ([`remember_current`]), so overwriting a key decodes nothing.
pub fn current_for_write(view: &dyn ReadView, keys: &ObjectKeys) -> Result<Option<Current>, StorageError> {
    let Some(record) = view.get(KEYSPACE, &keys.current)? else { return Ok(None) };
    let version = DECODED_CURRENT.decode(&keys.current, split_version(&record)?.0, decode)?;
    Ok(Some(Current { version, record }))
}

/// `make` applied to the memoized decoding of the current record under `record_key`, and
/// to the object's bytes when the record carries them raw.
fn memoized_current<T>(
    view: &dyn ReadView,
    record_key: &[u8],
    make: impl FnOnce(&Arc<Version>, Option<&[u8]>) -> T,
) -> Result<Option<T>, StorageError> {
    let Some(bytes) = view.get(KEYSPACE, record_key)? else { return Ok(None) };
    let (json, inline) = split_version(&bytes)?;
    let version = DECODED_CURRENT.decode(record_key, json, decode)?;
    Ok(Some(make(&version, inline)))
}

/// Decoding a version record's JSON cost more than the rest of a small GetObject's storage
/// work, and, inside the write transaction, than the rest of a small PutObject's.
static DECODED_CURRENT: DecodeMemo<Version> = DecodeMemo::new(1024);

/// The version of `key` with id `version_id`, and its record key (the `cur/` key when it
/// is the current version).
pub fn find_version(
    view: &dyn ReadView,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<(Vec<u8>, Version)>, StorageError> {
    let current = current_key(bucket, key);
    let Some(record) = view.get(KEYSPACE, &current)? else { return Ok(None) };
    let version = decode_version(&record)?;
    if version.version_id == version_id {
        return Ok(Some((current, version)));
    }
    find_in(view, &versions_of(bucket, key), version_id)
}

/// One version of an object as [`Versions`] lists it.
pub struct Listed {
    pub version: Version,
    /// Whether it is its key's current version.
    pub latest: bool,
}

/// Every version of the objects of `bucket` whose keys start with `prefix`, from the key
/// `from` on (itself starting with `prefix`), in the byte order of keys and newest first
/// within a key; read as it is consumed, a batch of keys at a time, so that a page of a
/// listing reads what it lists rather than the rest of the bucket.
pub struct Versions<'v> {
    view: &'v dyn ReadView,
    bucket: String,
    /// Where the next batch of current records starts, and where they all end.
    next: KeyRange,
    batch: std::vec::IntoIter<Listed>,
    done: bool,
}

/// Keys read per batch of [`Versions`].
const KEYS_PER_BATCH: usize = 256;

impl<'v> Versions<'v> {
    pub fn new(view: &'v dyn ReadView, bucket: &str, prefix: &str, from: &str) -> Self {
        let next = KeyRange {
            start: std::ops::Bound::Included(current_prefix(bucket, from)),
            end: KeyRange::prefix(&current_prefix(bucket, prefix)).end,
        };
        Versions { view, bucket: bucket.to_string(), next, batch: Vec::new().into_iter(), done: false }
    }

    /// The versions of the next batch of keys: their current records, and the noncurrent
    /// ones between the first key's and the last's (every key with versions has a current
    /// record).
    fn read_batch(&mut self) -> Result<Vec<Listed>, StorageError> {
        let current = self.view.scan(KEYSPACE, &self.next, Direction::Forward, KEYS_PER_BATCH)?;
        let (Some((first, _)), Some((last, _))) = (current.first(), current.last()) else {
            self.done = true;
            return Ok(Vec::new());
        };
        self.done = current.len() < KEYS_PER_BATCH;
        let key_of = |record_key: &[u8]| {
            object_key_of(record_key).ok_or_else(|| StorageError::Engine("corrupt s3 record key".into()))
        };
        let noncurrent_range = KeyRange {
            start: versions_of(&self.bucket, &key_of(first)?).start,
            end: versions_of(&self.bucket, &key_of(last)?).end,
        };
        self.next.start = std::ops::Bound::Excluded(last.clone());
        let noncurrent = self.view.scan(KEYSPACE, &noncurrent_range, Direction::Forward, usize::MAX)?;
        let mut listed = Vec::with_capacity(current.len() + noncurrent.len());
        let mut older = noncurrent.iter().map(|(_, v)| decode_version(v)).peekable();
        for (_, record) in &current {
            let version = decode_version(record)?;
            let (key, seq) = (version.key.clone(), version.seq);
            // Versions of a key without a current record, which no write leaves behind.
            while let Some(v) = older.next_if(|v| v.as_ref().map_or(true, |v| v.key < key)) {
                listed.push(Listed { version: v?, latest: false });
            }
            listed.push(Listed { version, latest: true });
            while let Some(v) = older.next_if(|v| v.as_ref().map_or(true, |v| v.key == key)) {
                let v = v?;
                // The copy an earlier release kept of the current version.
                if v.seq != seq {
                    listed.push(Listed { version: v, latest: false });
                }
            }
        }
        Ok(listed)
    }
}

impl Iterator for Versions<'_> {
    type Item = Result<Listed, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(listed) = self.batch.next() {
                return Some(Ok(listed));
            }
            if self.done {
                return None;
            }
            match self.read_batch() {
                Ok(batch) => self.batch = batch.into_iter(),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Whether `bucket` holds any object version or delete marker.
pub fn holds_versions(view: &dyn ReadView, bucket: &str) -> Result<bool, StorageError> {
    for prefix in [current_prefix(bucket, ""), versions_prefix(bucket, "")] {
        if !view.scan(KEYSPACE, &KeyRange::prefix(&prefix), Direction::Forward, 1)?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The version with id `version_id` among the versions in `range`, and its record key.
fn find_in(
    view: &dyn ReadView,
    range: &KeyRange,
    version_id: &str,
) -> Result<Option<(Vec<u8>, Version)>, StorageError> {
    for (k, v) in view.scan(KEYSPACE, range, Direction::Forward, usize::MAX)? {
        let version = decode_version(&v)?;
        if version.version_id == version_id {
            return Ok(Some((k, version)));
        }
    }
    Ok(None)
}

/// The ids of the blobs holding a version's bytes.
fn blob_ids(version: &Version) -> Vec<String> {
    version.content.blobs.iter().map(|(b, _)| b.clone()).collect()
}

/// The sequence number of a new version of a key whose newest version has `newest`. It is
/// the time in microseconds, made unique and increasing within the process, and past
/// `newest`, so that a clock set back cannot reorder a key's versions. Taking it from the
/// clock keeps numbers increasing across restarts without a stored counter, whose record
/// every write used to read and rewrite; it orders a key's versions and its event records
/// (their `sequencer`), which is all S3 promises of either.
pub fn next_seq(newest: Option<u64>) -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros())
        .unwrap_or(u64::MAX / 2);
    let floor = newest.map_or(0, |n| n + 1);
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| Some(now.max(floor).max(last + 1)))
        .unwrap_or_else(|last| last);
    now.max(floor).max(previous + 1)
}

/// What [`put_version`] wrote: the blobs of the version it replaced, to delete once the
/// transaction is committed, and the current record and its key, to [`remember_current`]
/// then.
pub struct Written {
    pub dead: Vec<String>,
    record_key: Vec<u8>,
    record: Vec<u8>,
}

/// Writes `version`, whose record keys and record ([`encode_version`]) the caller made
/// (before the transaction, when it can), as the newest version of its key and makes it
/// current; `current` is the key's current version as the transaction read it, which
/// becomes noncurrent. Versions with the same `null` id are replaced (their record is
/// removed).
pub fn put_version(
    txn: &mut dyn Txn,
    keys: ObjectKeys,
    version: &Version,
    record: Vec<u8>,
    current: Option<&Current>,
) -> Result<Written, StorageError> {
    let mut dead = Vec::new();
    match current {
        // The usual case, and the only one in a bucket that never had versioning: the
        // current record alone is replaced.
        Some(c) if c.version_id == "null" && version.version_id == "null" => {
            if !is_sole(&c.record) {
                txn.delete(KEYSPACE, &keys.version(c.seq))?;
            }
            dead = blob_ids(c);
        }
        Some(c) => {
            if is_sole(&c.record) {
                txn.put(KEYSPACE, &keys.version(c.seq), &c.record)?;
            }
            if version.version_id == "null"
                && let Some((k, v)) = find_in(txn, &KeyRange::prefix(&keys.versions), "null")?
            {
                txn.delete(KEYSPACE, &k)?;
                dead = blob_ids(&v);
            }
        }
        // A key without a current version has no versions.
        None => {}
    }
    txn.put(KEYSPACE, &keys.current, &record)?;
    Ok(Written { dead, record_key: keys.current, record })
}

/// Replaces the record of `version`, stored under `record_key` (as [`find_version`] gave
/// it), with `version` as it is now.
pub fn rewrite_version(
    txn: &mut dyn Txn,
    bucket: &str,
    record_key: &[u8],
    version: &Version,
) -> Result<(), StorageError> {
    let record = encode_version(version);
    txn.put(KEYSPACE, record_key, &record)?;
    if record_key == current_key(bucket, &version.key) {
        // The copy an earlier release may have kept would otherwise outlive the change.
        txn.delete(KEYSPACE, &version_key(bucket, &version.key, version.seq))?;
    }
    Ok(())
}

/// Hands the memo of current versions `version`, just committed as `written`, so that the
/// next write or read of the key need not decode it. Done after the commit, off the
/// storage writer that every write waits for; should a later write have committed
/// meanwhile, the entry is merely never used: the memo answers only for these exact bytes.
pub fn remember_current(written: &Written, version: &mut Version) {
    let Ok((json, _)) = split_version(&written.record) else { return };
    let Ok(_) = DECODED_CURRENT.decode(&written.record_key, json, |_| {
        // The memo keeps no object bytes: they are set aside rather than copied and dropped.
        let inline = version.content.inline.take();
        let mut decoded = version.clone();
        version.content.inline = inline;
        decoded.last_modified = as_decoded(decoded.last_modified);
        decoded.expires = decoded.expires.map(as_decoded);
        Ok::<_, Infallible>(decoded)
    });
}

/// `x` as decoding the record gives it back: serde_json parses a float to within an ulp of
/// the number written, not always to the number itself, and the memo must hold what
/// decoding would.
fn as_decoded(x: f64) -> f64 {
    serde_json::to_vec(&x).ok().and_then(|json| serde_json::from_slice(&json).ok()).unwrap_or(x)
}

/// Removes one version, stored under `record_key` (as [`find_version`] gave it); when it
/// was the current one, the next newest becomes current. Returns the blobs to delete after
/// commit.
pub fn remove_version(
    txn: &mut dyn Txn,
    bucket: &str,
    record_key: &[u8],
    version: &Version,
) -> Result<Vec<String>, StorageError> {
    txn.delete(KEYSPACE, record_key)?;
    let current = current_key(bucket, &version.key);
    if record_key == current {
        let copy = version_key(bucket, &version.key, version.seq);
        // Newest first: an earlier release's copy of the removed version, then the next.
        for (k, v) in txn.scan(KEYSPACE, &versions_of(bucket, &version.key), Direction::Forward, 2)? {
            txn.delete(KEYSPACE, &k)?;
            if k != copy {
                txn.put(KEYSPACE, &current, &as_sole(v)?)?;
                break;
            }
        }
    }
    Ok(blob_ids(version))
}

#[cfg(test)]
mod tests {
    use brume_core::value::Blob;

    use super::*;

    /// The whole listing of [`Versions`] at once.
    fn versions_from(view: &dyn ReadView, bucket: &str, prefix: &str, from: &str) -> Result<Vec<Listed>, StorageError> {
        Versions::new(view, bucket, prefix, from).collect()
    }

    fn version(inline: Option<&[u8]>) -> Version {
        Version {
            key: "k".into(),
            version_id: "null".into(),
            seq: 7,
            etag: "\"e\"".into(),
            size: inline.map_or(0, |b| b.len() as u64),
            content: Content { blobs: Vec::new(), inline: inline.map(|b| Blob(b.to_vec())) },
            ..Default::default()
        }
    }

    #[test]
    fn version_records_keep_inline_bytes_raw() {
        for inline in [None, Some(&b""[..]), Some(&b"{\"not json\0\xff"[..])] {
            let record = encode_version(&version(inline));
            let back = decode_version(&record).unwrap();
            assert_eq!(back.content.inline.as_ref().map(|b| b.0.as_slice()), inline);
            assert_eq!((back.seq, back.etag.as_str()), (7, "\"e\""));
        }
        let record = encode_version(&version(Some(b"raw body")));
        assert!(record.ends_with(b"raw body"));
    }

    /// A store holding one record under every key.
    struct OneRecord(Vec<u8>);

    impl ReadView for OneRecord {
        fn get(&self, _: &str, _: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
            Ok(Some(self.0.clone()))
        }
        fn scan(
            &self,
            _: &str,
            _: &KeyRange,
            _: Direction,
            _: usize,
        ) -> Result<Vec<brume_storage::KvPair>, StorageError> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn reads_of_the_current_version_follow_its_record() {
        for body in [&b"first"[..], b"first", b"second"] {
            let view = OneRecord(encode_version(&version(Some(body))));
            let read = read_current(&view, "memo-bucket", "k").unwrap().unwrap();
            assert_eq!(read.content.inline, Some(Blob(body.to_vec())));
        }
        let mut other = version(None);
        other.etag = "\"f\"".into();
        let read = read_current(&OneRecord(encode_version(&other)), "memo-bucket", "k").unwrap().unwrap();
        assert_eq!((read.etag.as_str(), read.content.inline), ("\"f\"", None));
    }

    #[test]
    fn a_write_leaves_in_the_memo_what_decoding_its_record_gives() {
        // serde_json reads the first back one ulp off.
        for (i, last_modified) in [1_865_364_527.375_001_4, 0.1 + 0.2, 1_700_000_000.0].into_iter().enumerate() {
            let mut written = version(Some(b"body"));
            written.last_modified = last_modified;
            written.expires = Some(last_modified / 3.0);
            written.headers.insert("ContentType".into(), "text/plain".into());
            let key = format!("k{i}");
            let record = encode_version(&written);
            let committed =
                Written { dead: Vec::new(), record_key: current_key("seeded-bucket", &key), record: record.clone() };
            remember_current(&committed, &mut written);
            let keys = ObjectKeys::new("seeded-bucket", &key);
            let remembered = current_for_write(&OneRecord(record.clone()), &keys).unwrap().unwrap().version;
            let mut decoded = decode_version(&record).unwrap();
            decoded.content.inline = None;
            assert_eq!(format!("{remembered:?}"), format!("{decoded:?}"));
        }
    }

    /// Version `id` of key `k`, numbered `seq`, with a blob named after it.
    fn numbered(k: &str, id: &str, seq: u64) -> Version {
        let content = Content { blobs: vec![(format!("blob-{seq}"), 1)], inline: None };
        Version { key: k.into(), version_id: id.into(), seq, content, ..Default::default() }
    }

    /// Writes `version` over the current version of its key in bucket `b`; returns the
    /// dead blobs.
    fn put(txn: &mut dyn Txn, version: &Version) -> Result<Vec<String>, StorageError> {
        let keys = ObjectKeys::new("b", &version.key);
        let current = current_for_write(txn, &keys)?;
        Ok(put_version(txn, keys, version, encode_version(version), current.as_ref())?.dead)
    }

    /// What is stored of `b`'s key `k`: its `ver/` records by sequence number, and the
    /// versions listed, by id, with whether each is the current one.
    type Stored = (Vec<u64>, Vec<(String, bool)>);

    fn stored(txn: &dyn Txn, k: &str) -> Result<Stored, StorageError> {
        let noncurrent = txn.scan(KEYSPACE, &versions_of("b", k), Direction::Forward, usize::MAX)?;
        let seqs = noncurrent.iter().map(|(_, v)| decode_version(v).map(|v| v.seq)).collect::<Result<_, _>>()?;
        let listed = versions_from(txn, "b", k, k)?.into_iter().filter(|l| l.version.key == k);
        Ok((seqs, listed.map(|l| (l.version.version_id, l.latest)).collect()))
    }

    fn listed(ids: &[(&str, bool)]) -> Vec<(String, bool)> {
        ids.iter().map(|&(id, latest)| (id.to_string(), latest)).collect()
    }

    #[tokio::test]
    async fn an_overwrite_without_versioning_writes_the_current_record_alone() {
        let kv = brume_storage::Storage::in_memory().kv;
        let (dead, after) = kv
            .transact(|txn: &mut dyn Txn| {
                put(txn, &numbered("k", "null", 1))?;
                let dead = put(txn, &numbered("k", "null", 2))?;
                Ok::<_, StorageError>((dead, stored(txn, "k")?))
            })
            .await
            .unwrap();
        assert_eq!(dead, vec!["blob-1".to_string()]);
        assert_eq!(after, (vec![], listed(&[("null", true)])));
    }

    #[tokio::test]
    async fn versions_move_to_ver_when_replaced_and_back_when_the_current_is_removed() {
        let kv = brume_storage::Storage::in_memory().kv;
        let (during, after) = kv
            .transact(|txn: &mut dyn Txn| {
                put(txn, &numbered("k", "null", 1))?;
                put(txn, &numbered("k", "a", 2))?;
                put(txn, &numbered("k", "b", 3))?;
                // A `null` version replaces the noncurrent one.
                assert_eq!(put(txn, &numbered("k", "null", 4))?, vec!["blob-1".to_string()]);
                let during = stored(txn, "k")?;
                let (key, current) = find_version(txn, "b", "k", "null")?.unwrap();
                assert_eq!(key, current_key("b", "k"));
                assert_eq!(remove_version(txn, "b", &key, &current)?, vec!["blob-4".to_string()]);
                let (key, a) = find_version(txn, "b", "k", "a")?.unwrap();
                assert_eq!(key, version_key("b", "k", 2));
                remove_version(txn, "b", &key, &a)?;
                Ok::<_, StorageError>((during, stored(txn, "k")?))
            })
            .await
            .unwrap();
        assert_eq!(during, (vec![3, 2], listed(&[("null", true), ("b", false), ("a", false)])));
        assert_eq!(after, (vec![], listed(&[("b", true)])));
    }

    /// Stores `versions` of one key, newest last, as a release that copied the current
    /// record into `ver/` stored them: every record under `ver/`, the newest also under
    /// `cur/`, all without the [`SOLE`] mark.
    fn store_copied(txn: &mut dyn Txn, versions: &[Version]) -> Result<(), StorageError> {
        for v in versions {
            let mut record = encode_version(v);
            record[0] &= !SOLE;
            txn.put(KEYSPACE, &version_key("b", &v.key, v.seq), &record)?;
            txn.put(KEYSPACE, &current_key("b", &v.key), &record)?;
        }
        Ok(())
    }

    #[tokio::test]
    async fn records_of_the_copying_layout_list_once_and_lose_their_copy_when_changed() {
        let kv = brume_storage::Storage::in_memory().kv;
        let (seeded, overwritten, moved, tagged, removed) = kv
            .transact(|txn: &mut dyn Txn| {
                for k in ["o", "m", "t", "r"] {
                    store_copied(txn, &[numbered(k, "a", 1), numbered(k, "null", 2)])?;
                }
                let seeded = stored(txn, "o")?;
                // An overwrite replaces the `null` current version and its copy.
                assert_eq!(put(txn, &numbered("o", "null", 3))?, vec!["blob-2".to_string()]);
                // A new version leaves the copy as the replaced version's record.
                assert!(put(txn, &numbered("m", "c", 3))?.is_empty());

                let (key, mut current) = find_version(txn, "b", "t", "null")?.unwrap();
                current.tags = vec![("t".into(), "v".into())];
                rewrite_version(txn, "b", &key, &current)?;
                assert_eq!(read_current(txn, "b", "t")?.unwrap().tags.len(), 1);

                let (key, current) = find_version(txn, "b", "r", "null")?.unwrap();
                remove_version(txn, "b", &key, &current)?;
                assert_eq!(read_current(txn, "b", "r")?.unwrap().version_id, "a");
                let all = [stored(txn, "o")?, stored(txn, "m")?, stored(txn, "t")?, stored(txn, "r")?];
                Ok::<_, StorageError>((seeded, all[0].clone(), all[1].clone(), all[2].clone(), all[3].clone()))
            })
            .await
            .unwrap();
        assert_eq!(seeded, (vec![2, 1], listed(&[("null", true), ("a", false)])));
        assert_eq!(overwritten, (vec![1], listed(&[("null", true), ("a", false)])));
        assert_eq!(moved, (vec![2, 1], listed(&[("c", true), ("null", false), ("a", false)])));
        assert_eq!(tagged, (vec![1], listed(&[("null", true), ("a", false)])));
        assert_eq!(removed, (vec![], listed(&[("a", true)])));
    }

    #[tokio::test]
    async fn versions_list_in_order_across_batches() {
        let kv = brume_storage::Storage::in_memory().kv;
        let keys = KEYS_PER_BATCH + 44;
        let (all, from_middle) = kv
            .transact(move |txn: &mut dyn Txn| {
                for i in 0..keys {
                    let k = format!("k{i:04}");
                    match i % 3 {
                        0 => {
                            put(txn, &numbered(&k, "a", 1))?;
                            put(txn, &numbered(&k, "b", 2))?;
                        }
                        1 => store_copied(txn, &[numbered(&k, "a", 1), numbered(&k, "b", 2)])?,
                        _ => drop(put(txn, &numbered(&k, "null", 1))?),
                    }
                }
                let ids = |listed: Vec<Listed>| -> Vec<String> {
                    listed
                        .into_iter()
                        .map(|l| format!("{}:{}:{}", l.version.key, l.version.version_id, l.latest))
                        .collect()
                };
                Ok::<_, StorageError>((
                    ids(versions_from(txn, "b", "k", "k")?),
                    ids(versions_from(txn, "b", "k", "k0150")?),
                ))
            })
            .await
            .unwrap();
        let expected: Vec<String> = (0..keys)
            .flat_map(|i| match i % 3 {
                2 => vec![format!("k{i:04}:null:true")],
                _ => vec![format!("k{i:04}:b:true"), format!("k{i:04}:a:false")],
            })
            .collect();
        assert_eq!(all, expected);
        let start = expected.iter().position(|e| e.starts_with("k0150")).unwrap();
        assert_eq!(from_middle, expected[start..]);
    }

    #[test]
    fn sequence_numbers_increase_past_the_newest_version() {
        let first = next_seq(None);
        assert!(next_seq(None) > first);
        // Numbers of the stored counter of earlier releases are far below the clock's.
        assert!(next_seq(Some(41)) > first);
        let ahead = first + 1_000_000_000_000;
        assert_eq!(next_seq(Some(ahead)), ahead + 1);
        assert!(next_seq(None) > ahead + 1);
    }

    #[test]
    fn empty_members_are_left_out_of_records_and_read_back_empty() {
        let plain = version(None);
        let record = encode_version(&plain);
        let json = std::str::from_utf8(&record[5..]).unwrap();
        assert!(!json.contains("headers") && !json.contains("expires") && !json.contains("tags"), "{json}");
        assert_eq!(format!("{:?}", decode_version(&record).unwrap()), format!("{plain:?}"));
        let mut full = version(None);
        full.headers.insert("ContentType".into(), "text/plain".into());
        full.metadata.insert("a".into(), "b".into());
        full.expires = Some(2.5);
        full.storage_class = Some("GLACIER".into());
        full.checksum =
            Some(Checksum { algorithm: "CRC32".into(), value: "AAAAAA==".into(), kind: "FULL_OBJECT".into() });
        full.parts = vec![5, 1];
        full.tags = vec![("t".into(), "v".into())];
        assert_eq!(format!("{:?}", decode_version(&encode_version(&full)).unwrap()), format!("{full:?}"));
    }

    #[test]
    fn record_keys_keep_their_tuple_encoding() {
        let tuple = |parts: &[&str]| key::encode(&parts.iter().map(|&p| p.into()).collect::<Vec<Element>>());
        assert_eq!(bucket_key("b"), tuple(&["bucket", "b"]));
        assert_eq!(current_key("b", "k\0/"), tuple(&["cur", "b", "k\0/"]));
        let mut ver = tuple(&["ver", "b", "k"]);
        key::encode_into(&mut ver, &Element::Int(i128::from(u64::MAX - 9)));
        assert_eq!(version_key("b", "k", 9), ver);
        let keys = ObjectKeys::new("b", "k\0/");
        assert_eq!(keys.bucket, bucket_key("b"));
        assert_eq!(
            (keys.current.as_slice(), keys.version(9)),
            (&current_key("b", "k\0/")[..], version_key("b", "k\0/", 9))
        );
        assert_eq!(KeyRange::prefix(&keys.versions), versions_of("b", "k\0/"));
    }

    #[test]
    fn records_of_the_json_layout_still_read() {
        let legacy = br#"{"key":"k","version_id":"null","seq":3,"delete_marker":false,"last_modified":1.5,"size":2,
            "etag":"\"e\"","content":{"blobs":[],"inline":"aGk="},"expires":null,"storage_class":null,"checksum":null,
            "owner":"123"}"#;
        let v = decode_version(legacy).unwrap();
        assert_eq!(v.content.inline, Some(Blob(b"hi".to_vec())));
        let blob = br#"{"key":"k","version_id":"v","seq":3,"delete_marker":false,"last_modified":1.5,"size":2,
            "etag":"\"e\"","content":{"blobs":[["0123",2]]},"expires":null,"storage_class":null,"checksum":null,
            "owner":"123"}"#;
        assert_eq!(decode_version(blob).unwrap().content.blobs, vec![("0123".to_string(), 2)]);
        assert!(decode_version(b"\x02\x00\x00\x01\x00{}").is_err());
    }
}
