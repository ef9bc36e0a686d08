//! S3's stored records and their keys in the `s3` keyspace.
//!
//! - `bucket/<name>` → [`Bucket`]
//! - `cur/<bucket>/<key>` → the current [`Version`] of an object (what GET and listings
//!   see; a delete marker when the newest version is one)
//! - `ver/<bucket>/<key>/<seq>` → every [`Version`], newest first (`seq` counts down)
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

pub fn version_key(bucket: &str, key: &str, seq: u64) -> Vec<u8> {
    key::encode_strings_then(&["ver", bucket, key], &[Element::Int(i128::from(u64::MAX - seq))])
}

pub fn versions_of(bucket: &str, key: &str) -> KeyRange {
    KeyRange::prefix(&key::encode_strings_then(&["ver", bucket, key], &[]))
}

/// The prefix of all versions of `bucket`'s keys that start with `prefix`.
pub fn versions_prefix(bucket: &str, prefix: &str) -> Vec<u8> {
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

/// The current version of `key` for a write that replaces it: everything but the object's
/// bytes, which a write never reads back. Decoded through the same memo as
/// [`read_current`], which writes fill with what they committed ([`remember_current`]), so
/// overwriting a key decodes nothing.
pub fn current_for_write(view: &dyn ReadView, keys: &ObjectKeys) -> Result<Option<Arc<Version>>, StorageError> {
    memoized_current(view, &keys.current, |version, _| Arc::clone(version))
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

/// The version of `key` with id `version_id`, and its record key.
pub fn find_version(
    view: &dyn ReadView,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<(Vec<u8>, Version)>, StorageError> {
    find_in(view, &versions_of(bucket, key), version_id)
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
/// current; `current` is the key's current record as the transaction read it. Versions
/// with the same `null` id are replaced (their record is removed).
pub fn put_version(
    txn: &mut dyn Txn,
    keys: ObjectKeys,
    version: &Version,
    record: Vec<u8>,
    current: Option<&Version>,
) -> Result<Written, StorageError> {
    let mut dead = Vec::new();
    if version.version_id == "null" {
        // The replaced `null` version is usually the current one (always, in a bucket that
        // never had versioning), found by its sequence number without a scan: each overwrite
        // leaves the replaced version's record behind as a tombstone until the store
        // compacts, and a scan of the key's versions would step over every one.
        let replaced = match current {
            Some(c) if c.version_id == "null" => Some((keys.version(c.seq), blob_ids(c))),
            _ => find_in(txn, &KeyRange::prefix(&keys.versions), "null")?.map(|(k, v)| (k, blob_ids(&v))),
        };
        if let Some((k, blobs)) = replaced {
            txn.delete(KEYSPACE, &k)?;
            dead = blobs;
        }
    }
    txn.put(KEYSPACE, &keys.version(version.seq), &record)?;
    txn.put(KEYSPACE, &keys.current, &record)?;
    Ok(Written { dead, record_key: keys.current, record })
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
            let remembered = current_for_write(&OneRecord(record.clone()), &keys).unwrap().unwrap();
            let mut decoded = decode_version(&record).unwrap();
            decoded.content.inline = None;
            assert_eq!(format!("{remembered:?}"), format!("{decoded:?}"));
        }
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
