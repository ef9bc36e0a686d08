//! Objects: put (streamed into a blob, MD5 and checksums computed on the way), get and
//! head (ranges, conditional requests, response header overrides), delete, batch delete
//! and copy.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_protocol::{RequestBody, Streamed};
use brume_storage::Txn;
use serde::{Deserialize, Serialize};

use crate::body::{self, Ingested};
use crate::checksum::Algorithm;
use crate::table::{self, Bucket, Checksum, Version};
use crate::{S3, error, lock};

/// S3's longest object key, in bytes.
const MAX_KEY: usize = 1024;
/// The most bytes of user metadata (names and values, UTF-8) an object may carry.
const MAX_METADATA: usize = 2048;

/// The standard headers an object keeps and returns, by model member name.
const STORED_HEADERS: &[&str] = &[
    "ContentType",
    "ContentEncoding",
    "ContentDisposition",
    "ContentLanguage",
    "CacheControl",
    "WebsiteRedirectLocation",
];

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutObjectInput {
    pub bucket: String,
    pub key: String,
    #[serde(rename = "ContentMD5")]
    pub content_md5: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub website_redirect_location: Option<String>,
    pub expires: Option<Timestamp>,
    pub metadata: BTreeMap<String, String>,
    pub storage_class: Option<String>,
    pub tagging: Option<String>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub checksum_algorithm: Option<String>,
    pub object_lock_mode: lock::Member,
    pub object_lock_retain_until_date: lock::Member,
    pub object_lock_legal_hold_status: lock::Member,
    // The checksum members by name rather than gathered by `#[serde(flatten)]`, which had
    // serde copy every other member of the input aside first: PutObject is S3's busiest
    // write.
    #[serde(rename = "ChecksumCRC32")]
    pub checksum_crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C")]
    pub checksum_crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME")]
    pub checksum_crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1")]
    pub checksum_sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256")]
    pub checksum_sha256: Option<String>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PutObjectOutput {
    #[serde(rename = "ETag")]
    e_tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    server_side_encryption: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
    #[serde(rename = "ChecksumCRC32", skip_serializing_if = "Option::is_none")]
    checksum_crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", skip_serializing_if = "Option::is_none")]
    checksum_crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", skip_serializing_if = "Option::is_none")]
    checksum_crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", skip_serializing_if = "Option::is_none")]
    checksum_sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", skip_serializing_if = "Option::is_none")]
    checksum_sha256: Option<String>,
}

impl PutObjectOutput {
    /// The member that carries a checksum of `algorithm`.
    fn checksum_member(&mut self, algorithm: Algorithm) -> &mut Option<String> {
        match algorithm {
            Algorithm::Crc32 => &mut self.checksum_crc32,
            Algorithm::Crc32c => &mut self.checksum_crc32c,
            Algorithm::Crc64Nvme => &mut self.checksum_crc64nvme,
            Algorithm::Sha1 => &mut self.checksum_sha1,
            Algorithm::Sha256 => &mut self.checksum_sha256,
        }
    }
}

/// The checksum values a request declared (`x-amz-checksum-*` headers), by algorithm.
pub(crate) trait DeclaredChecksums {
    fn declared(&self, algorithm: Algorithm) -> Option<&str>;
}

/// Inputs that gather their checksum members by name.
impl DeclaredChecksums for BTreeMap<String, serde_json::Value> {
    fn declared(&self, algorithm: Algorithm) -> Option<&str> {
        self.get(algorithm.member_name()).and_then(serde_json::Value::as_str)
    }
}

impl DeclaredChecksums for PutObjectInput {
    fn declared(&self, algorithm: Algorithm) -> Option<&str> {
        let member = match algorithm {
            Algorithm::Crc32 => &self.checksum_crc32,
            Algorithm::Crc32c => &self.checksum_crc32c,
            Algorithm::Crc64Nvme => &self.checksum_crc64nvme,
            Algorithm::Sha1 => &self.checksum_sha1,
            Algorithm::Sha256 => &self.checksum_sha256,
        };
        member.as_deref()
    }
}

impl PutObjectInput {
    pub(crate) fn headers(&self) -> BTreeMap<String, String> {
        let values = [
            &self.content_type,
            &self.content_encoding,
            &self.content_disposition,
            &self.content_language,
            &self.cache_control,
            &self.website_redirect_location,
        ];
        STORED_HEADERS.iter().zip(values).filter_map(|(name, v)| v.clone().map(|v| (name.to_string(), v))).collect()
    }
}

/// The checksum the client asked for: a value sent in an `x-amz-checksum-*` header (or in
/// the trailer it announced), or just an algorithm to compute.
pub(crate) fn requested_algorithm(
    checksums: &dyn DeclaredChecksums,
    checksum_algorithm: Option<&str>,
) -> Result<Option<Algorithm>, AwsError> {
    // Of several values, the first by member name (`ALL` is in that order).
    if let Some(alg) = Algorithm::ALL.into_iter().find(|a| checksums.declared(*a).is_some()) {
        return Ok(Some(alg));
    }
    match checksum_algorithm {
        None => Ok(None),
        Some(name) => Algorithm::parse(name).map(Some).ok_or_else(|| {
            error::invalid_request(format!("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]: {name}"))
        }),
    }
}

/// Checks what the client declared about the body (Content-MD5, an `x-amz-checksum-*`
/// header or trailer) against what was computed while it streamed.
pub(crate) fn verify_body(
    content_md5: Option<&str>,
    checksums: &dyn DeclaredChecksums,
    ingested: &Ingested,
) -> Result<Option<Checksum>, AwsError> {
    if let Some(md5) = content_md5 {
        let declared = BASE64.decode(md5).ok().filter(|d| d.len() == 16).ok_or_else(error::invalid_digest)?;
        if declared != ingested.md5 {
            return Err(error::bad_digest());
        }
    }
    let Some((alg, computed)) = &ingested.checksum else { return Ok(None) };
    let declared = checksums
        .declared(*alg)
        .map(str::to_string)
        .or_else(|| ingested.trailers.get(alg.header_name()).and_then(|v| v.to_str().ok()).map(str::to_string));
    let value = BASE64.encode(computed);
    if let Some(declared) = declared
        && declared != value
    {
        return Err(crate::checksum::mismatch_error(*alg));
    }
    Ok(Some(Checksum { algorithm: alg.as_str().to_string(), value, kind: "FULL_OBJECT".into() }))
}

pub(crate) fn parse_tagging(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

pub(crate) fn check_key(key: &str) -> Result<(), AwsError> {
    if key.len() > MAX_KEY {
        return Err(error::key_too_long());
    }
    if key.is_empty() {
        return Err(error::invalid_argument("A key must be specified", "key", ""));
    }
    Ok(())
}

/// S3 measures user metadata as the bytes of its names (without `x-amz-meta-`) and values.
pub(crate) fn check_metadata(metadata: &BTreeMap<String, String>) -> Result<(), AwsError> {
    let size: usize = metadata.iter().map(|(name, value)| name.len() + value.len()).sum();
    if size > MAX_METADATA {
        return Err(error::metadata_too_large(size, MAX_METADATA));
    }
    Ok(())
}

pub(crate) fn quote_etag(md5: &[u8]) -> String {
    let mut etag = String::with_capacity(2 * md5.len() + 2);
    etag.push('"');
    etag.push_str(&brume_core::hex(md5));
    etag.push('"');
    etag
}

fn unquote(etag: &str) -> &str {
    etag.trim().trim_start_matches("W/").trim_matches('"')
}

pub(crate) fn etag_matches(condition: &str, etag: &str) -> bool {
    condition.split(',').any(|c| c.trim() == "*" || unquote(c) == unquote(etag))
}

/// A fresh version id: sortable by time, unguessable.
fn new_version_id() -> String {
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_micros();
    let random: u64 = rand::random();
    format!("{micros:x}{random:016x}")
}

/// The id a new write gets in a bucket with this versioning state.
pub(crate) fn version_id_for(versioning: Option<&str>) -> String {
    if versioning == Some("Enabled") { new_version_id() } else { "null".to_string() }
}

/// A version on its way to its write transaction, with its record keys, and its record
/// when it was numbered and encoded before. The transaction runs on the storage writer,
/// which every write waits for: encoding the record there cost each small PUT a few
/// thousand instructions of it.
pub(crate) struct Prepared {
    version: Version,
    keys: table::ObjectKeys,
    record: Option<Vec<u8>>,
}

impl Prepared {
    /// `version` of an object of `bucket`, to be numbered in its transaction.
    pub(crate) fn new(bucket: &str, version: Version) -> Self {
        Prepared { keys: table::ObjectKeys::new(bucket, &version.key), version, record: None }
    }

    /// `version` of an object of `bucket`, numbered and encoded now as its transaction
    /// would number it were the key without versions: the transaction only checks that the
    /// number still fits.
    fn numbered(bucket: &Bucket, mut version: Version) -> Self {
        version.version_id = version_id_for(bucket.versioning.as_deref());
        version.seq = table::next_seq(None);
        let record = table::encode_version(&version);
        Prepared { record: Some(record), ..Prepared::new(&bucket.name, version) }
    }

    /// The version numbered to follow `newest`, the sequence number of the key's newest
    /// version, in a bucket with `versioning`, and its record. A number given before is
    /// kept if it still fits: the bucket's versioning may have changed since, or another
    /// write of the key committed a later number.
    fn number(self, versioning: Option<&str>, newest: Option<u64>) -> (Version, table::ObjectKeys, Vec<u8>) {
        let Prepared { mut version, keys, record } = self;
        let fits =
            (version.version_id == "null") == (versioning != Some("Enabled")) && newest.is_none_or(|n| n < version.seq);
        match record {
            Some(record) if fits => (version, keys, record),
            _ => {
                version.version_id = version_id_for(versioning);
                version.seq = table::next_seq(newest);
                let record = table::encode_version(&version);
                (version, keys, record)
            }
        }
    }
}

/// [`S3::write_version_as`] inside a transaction the caller runs, for writes that change
/// other records atomically with the object (a multipart completion removes its upload).
/// Returns the version as written, and what was written (see [`table::Written`]).
pub(crate) fn write_version(
    txn: &mut dyn Txn,
    bucket: &str,
    prepared: Prepared,
    (if_match, if_none_match): &(Option<String>, Option<String>),
    event: &str,
    request_id: &str,
) -> Result<(Version, table::Written), AwsError> {
    let b = table::read_object_bucket(txn, &prepared.keys)
        .map_err(error::internal)?
        .ok_or_else(|| error::no_such_bucket(bucket))?;
    // Only the bucket's owner writes to it (see `S3::bucket`); checked here too for writes
    // that did not look the bucket up first.
    if b.account != prepared.version.owner {
        return Err(error::access_denied());
    }
    let current = table::current_for_write(txn, &prepared.keys).map_err(error::internal)?;
    let live = current.as_deref().filter(|c| !c.delete_marker);
    if let Some(cond) = if_none_match {
        if cond.trim() != "*" {
            return Err(error::invalid_argument("If-None-Match only supports *", "If-None-Match", cond));
        }
        if live.is_some() {
            return Err(error::precondition_failed("If-None-Match"));
        }
    }
    if let Some(cond) = if_match {
        match live {
            None => return Err(error::no_such_key(&prepared.version.key)),
            Some(c) if !etag_matches(cond, &c.etag) => return Err(error::precondition_failed("If-Match")),
            Some(_) => {}
        }
    }
    let (version, keys, record) = prepared.number(b.versioning.as_deref(), current.as_ref().map(|c| c.seq));
    let written = table::put_version(txn, keys, &version, record, current.as_ref()).map_err(error::internal)?;
    crate::notification::enqueue(txn, &b, event, &version, request_id).map_err(error::internal)?;
    Ok((version, written))
}

impl S3 {
    pub(crate) async fn put_object(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PutObjectInput,
        body: Option<RequestBody>,
    ) -> Result<Streamed<PutObjectOutput>, AwsError> {
        check_key(&input.key)?;
        check_metadata(&input.metadata)?;
        // The bucket is checked before the body is read, so that its errors come first, as
        // on S3.
        let bucket = self.bucket(&ctx, &input.bucket)?;
        lock::refuse_on_write(
            &input.object_lock_mode,
            &input.object_lock_retain_until_date,
            &input.object_lock_legal_hold_status,
        )?;
        let tags = input.tagging.as_deref().map(parse_tagging).unwrap_or_default();
        crate::tagging::check_tags(&tags, "BadRequest")?;
        let algorithm = requested_algorithm(&input, input.checksum_algorithm.as_deref())?;
        let ingested = body::ingest(self.blobs.as_ref(), body, algorithm, body::INLINE_MAX).await?;
        let checksum = match verify_body(input.content_md5.as_deref(), &input, &ingested) {
            Ok(c) => c,
            Err(e) => {
                self.delete_blobs(ingested.blob()).await;
                return Err(e);
            }
        };
        let version = Version {
            key: input.key.clone(),
            version_id: String::new(),
            seq: 0,
            delete_marker: false,
            last_modified: Timestamp::now().0,
            size: ingested.size,
            etag: quote_etag(&ingested.md5),
            content: ingested.content(),
            headers: input.headers(),
            metadata: input.metadata.clone(),
            expires: input.expires.map(|t| t.0),
            storage_class: input.storage_class.clone().filter(|c| c != "STANDARD"),
            checksum: checksum.clone(),
            parts: Vec::new(),
            tags,
            owner: ctx.account.clone(),
            restore: None,
        };
        let conditions = (input.if_match.clone(), input.if_none_match.clone());
        let written = self.write_version_as(&bucket, version, conditions, "ObjectCreated:Put", &ctx.request_id).await;
        let version = match written {
            Ok(v) => v,
            Err(e) => {
                self.delete_blobs(ingested.blob()).await;
                return Err(e);
            }
        };
        let mut output = PutObjectOutput {
            e_tag: version.etag.clone(),
            version_id: (version.version_id != "null").then(|| version.version_id.clone()),
            server_side_encryption: "AES256",
            ..Default::default()
        };
        // A checksum is computed only with the algorithm asked for.
        if let (Some(alg), Some(c)) = (algorithm, checksum) {
            *output.checksum_member(alg) = Some(c.value);
            output.checksum_type = Some(c.kind);
        }
        Ok(Streamed { output, body: None, status: None })
    }

    /// Makes `version` the newest version of its key in `bucket` (as the caller read it),
    /// under the bucket's versioning state and the conditional-write headers, and queues
    /// the `event` notifications the bucket asks for — all in one transaction.
    pub(crate) async fn write_version_as(
        &self,
        bucket: &Bucket,
        version: Version,
        conditions: (Option<String>, Option<String>),
        event: &'static str,
        request_id: &str,
    ) -> Result<Version, AwsError> {
        let name = bucket.name.clone();
        let prepared = Prepared::numbered(bucket, version);
        let request_id = request_id.to_string();
        let (mut version, written) = self
            .kv
            .transact(move |txn: &mut dyn Txn| write_version(txn, &name, prepared, &conditions, event, &request_id))
            .await?;
        table::remember_current(&written, &mut version);
        self.delete_blobs(written.dead).await;
        Ok(version)
    }

    /// Deletes blobs no record refers to any more. A failure only leaves an orphan file.
    pub(crate) async fn delete_blobs(&self, blobs: Vec<String>) {
        for id in blobs {
            match id.parse() {
                Ok(id) => {
                    if let Err(e) = self.blobs.delete(id).await {
                        tracing::warn!(error = %e, "could not delete an unreferenced blob");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "unreferenced blob with a bad id"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(versioning: Option<&str>) -> Bucket {
        Bucket {
            name: "b".into(),
            account: "123".into(),
            region: "us-east-1".into(),
            created: 0.0,
            versioning: versioning.map(str::to_string),
            config: BTreeMap::new(),
        }
    }

    fn prepared(versioning: Option<&str>) -> Prepared {
        Prepared::numbered(&bucket(versioning), Version { key: "k".into(), ..Default::default() })
    }

    /// The version and record the transaction writes, checked to agree.
    fn number(p: Prepared, versioning: Option<&str>, newest: Option<u64>) -> (Version, Vec<u8>) {
        let (version, _, record) = p.number(versioning, newest);
        let decoded = table::decode_version(&record).unwrap();
        assert_eq!((decoded.version_id.as_str(), decoded.seq), (version.version_id.as_str(), version.seq));
        (version, record)
    }

    #[test]
    fn a_number_given_before_the_transaction_is_kept_while_it_fits() {
        let p = prepared(None);
        let (seq, record) = (p.version.seq, p.record.clone());
        let (version, written) = number(p, Some("Suspended"), Some(seq - 1));
        assert_eq!((version.version_id.as_str(), version.seq, Some(written)), ("null", seq, record));
        let p = prepared(Some("Enabled"));
        let id = p.version.version_id.clone();
        assert_eq!(number(p, Some("Enabled"), None).0.version_id, id);
    }

    #[test]
    fn a_number_that_no_longer_fits_is_given_again() {
        // Versioning was enabled, or suspended, meanwhile.
        assert_ne!(number(prepared(None), Some("Enabled"), None).0.version_id, "null");
        assert_eq!(number(prepared(Some("Enabled")), Some("Suspended"), None).0.version_id, "null");
        // A write of the key committed a later number meanwhile.
        let p = prepared(None);
        let newest = p.version.seq + 1_000_000;
        assert_eq!(number(p, None, Some(newest)).0.seq, newest + 1);
        // A version built in its transaction is numbered there.
        let p = Prepared::new("b", Version { key: "k".into(), ..Default::default() });
        let (version, _) = number(p, None, Some(41));
        assert_eq!(version.version_id, "null");
        assert!(version.seq > 41);
    }
}
