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
//!
//! Version records are their JSON followed by the raw bytes of a small object (see
//! [`encode_version`]); records written before that layout are JSON alone, with the bytes in
//! base64, and still read.

use std::collections::BTreeMap;

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

/// The first byte of a version record: JSON and nothing after it, or JSON and an object's
/// bytes. A record of the older layout starts with `{`.
const RECORD_JSON: u8 = 1;
const RECORD_JSON_AND_BYTES: u8 = 2;

/// A version record: the tag byte, the JSON's length (4 bytes, big-endian), the JSON of
/// everything but the inline bytes, then those bytes as they are. A small object's body
/// costs no base64 and no JSON escaping scan, and is encoded once for both of its records.
pub fn encode_version(version: &Version) -> Vec<u8> {
    let inline = version.content.inline.as_ref().map(|b| b.0.as_slice());
    let mut out = Vec::with_capacity(512 + inline.map_or(0, <[u8]>::len));
    out.push(if inline.is_some() { RECORD_JSON_AND_BYTES } else { RECORD_JSON });
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
    let tag = *bytes.first().ok_or_else(corrupt)?;
    if tag != RECORD_JSON && tag != RECORD_JSON_AND_BYTES {
        return Ok((bytes, None));
    }
    let len = bytes.get(1..5).ok_or_else(corrupt)?;
    let end = 5 + u32::from_be_bytes(len.try_into().map_err(|_| corrupt())?) as usize;
    let json = bytes.get(5..end).ok_or_else(corrupt)?;
    Ok((json, (tag == RECORD_JSON_AND_BYTES).then(|| &bytes[end..])))
}

fn with_inline(mut version: Version, inline: Option<&[u8]>) -> Version {
    if let Some(bytes) = inline {
        version.content.inline = Some(brume_core::value::Blob(bytes.to_vec()));
    }
    version
}

pub fn get_bucket(view: &dyn ReadView, name: &str) -> Result<Option<Bucket>, StorageError> {
    let key = bucket_key(name);
    let Some(bytes) = view.get(KEYSPACE, &key)? else { return Ok(None) };
    DECODED_BUCKETS.decode(&key, &bytes, decode).map(|b| Some(Bucket::clone(&b)))
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
/// the object's own bytes, which the memo does not keep, are attached afresh. Writes do not
/// use it: the record a write reads was usually written, not read, last.
pub fn read_current(view: &dyn ReadView, bucket: &str, key: &str) -> Result<Option<Version>, StorageError> {
    let record_key = current_key(bucket, key);
    let Some(bytes) = view.get(KEYSPACE, &record_key)? else { return Ok(None) };
    let (json, inline) = split_version(&bytes)?;
    let version = DECODED_CURRENT.decode(&record_key, json, decode)?;
    Ok(Some(with_inline(Version::clone(&version), inline)))
}

/// Decoding a version record's JSON cost more than the rest of a small GetObject's storage
/// work.
static DECODED_CURRENT: DecodeMemo<Version> = DecodeMemo::new(1024);

/// The version of `key` with id `version_id`, and its record key.
pub fn find_version(
    view: &dyn ReadView,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<(Vec<u8>, Version)>, StorageError> {
    for (k, v) in view.scan(KEYSPACE, &versions_of(bucket, key), Direction::Forward, usize::MAX)? {
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

/// Writes `version` as the newest version of its key and makes it current; `current` is
/// the key's current record as the transaction read it. Versions with the same `null` id
/// are replaced (their record is removed); their blobs are returned for deletion once the
/// transaction is committed.
pub fn put_version(
    txn: &mut dyn Txn,
    bucket: &str,
    version: &Version,
    current: Option<&Version>,
) -> Result<Vec<String>, StorageError> {
    let mut dead = Vec::new();
    if version.version_id == "null" {
        // The replaced `null` version is usually the current one (always, in a bucket that
        // never had versioning), found by its sequence number without a scan: each overwrite
        // leaves the replaced version's record behind as a tombstone until the store
        // compacts, and a scan of the key's versions would step over every one.
        let replaced = match current {
            Some(c) if c.version_id == "null" => Some((version_key(bucket, &version.key, c.seq), blob_ids(c))),
            _ => find_version(txn, bucket, &version.key, "null")?.map(|(k, v)| (k, blob_ids(&v))),
        };
        if let Some((k, blobs)) = replaced {
            txn.delete(KEYSPACE, &k)?;
            dead = blobs;
        }
    }
    let record = encode_version(version);
    txn.put(KEYSPACE, &version_key(bucket, &version.key, version.seq), &record)?;
    txn.put(KEYSPACE, &current_key(bucket, &version.key), &record)?;
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
    Ok(blob_ids(version))
}

#[cfg(test)]
mod tests {
    use brume_core::value::Blob;

    use super::*;

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
