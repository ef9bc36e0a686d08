//! Multipart uploads: an upload record, its parts (each a blob, streamed in like a PutObject
//! body), and completion, which makes an object whose content is the parts' blobs in order —
//! no byte is copied, however large the object.
//!
//! Records: `mpu/<bucket>/<key>/<upload id>` → [`Upload`]; `part/<upload id>/<number>` →
//! [`Part`].

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_protocol::{RequestBody, Streamed};
use brume_storage::key::{self, Element};
use brume_storage::{Direction, KeyRange, ReadView, StorageError, Txn};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use crate::bucket::{Owner, owner};
use crate::checksum::{self, Algorithm, ChecksumType};
use crate::table::{self, Checksum, Content, KEYSPACE, Version};
use crate::{S3, body, error, listing, lock, object};

/// Every part but the last must be at least this large.
const MIN_PART: u64 = 5 * 1024 * 1024;
const MAX_PARTS: i64 = 10_000;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub initiated: f64,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub expires: Option<f64>,
    pub storage_class: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<String>,
    pub owner: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Part {
    pub number: i64,
    pub blob: String,
    pub size: u64,
    pub md5: String,
    pub checksum: Option<String>,
    pub last_modified: f64,
}

fn upload_key(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    key::encode(&["mpu".into(), bucket.into(), key.into(), upload_id.into()])
}

fn uploads_prefix(bucket: &str) -> Vec<u8> {
    key::encode(&["mpu".into(), bucket.into()])
}

fn part_key(upload_id: &str, number: i64) -> Vec<u8> {
    key::encode(&["part".into(), upload_id.into(), Element::Int(i128::from(number))])
}

/// The uploads of `bucket`'s keys that start with `prefix`.
fn uploads_under(bucket: &str, prefix: &str) -> KeyRange {
    let mut k = key::encode(&["mpu".into(), bucket.into(), prefix.into()]);
    // Drop the string terminator so every longer key matches.
    k.pop();
    KeyRange::prefix(&k)
}

fn parts_of(upload_id: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["part".into(), upload_id.into()]))
}

/// Up to `limit` uploads in progress in `bucket`.
pub fn uploads_of(view: &dyn ReadView, bucket: &str, limit: usize) -> Result<Vec<Upload>, StorageError> {
    view.scan(KEYSPACE, &KeyRange::prefix(&uploads_prefix(bucket)), Direction::Forward, limit)?
        .into_iter()
        .map(|(_, v)| table::decode(&v))
        .collect()
}

fn no_such_upload(upload_id: &str) -> AwsError {
    AwsError::new(
        404,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
    .with_field("UploadId", upload_id)
}

fn check_part_number(n: i64) -> Result<(), AwsError> {
    if (1..=MAX_PARTS).contains(&n) {
        return Ok(());
    }
    Err(error::invalid_argument(
        "Part number must be an integer between 1 and 10000, inclusive",
        "partNumber",
        &n.to_string(),
    ))
}

fn part_checksum_member(part: &Part, algorithm: Option<&str>) -> BTreeMap<String, String> {
    match (algorithm, &part.checksum) {
        (Some(a), Some(v)) => BTreeMap::from([(format!("Checksum{a}"), v.clone())]),
        _ => BTreeMap::new(),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateInput {
    bucket: String,
    key: String,
    object_lock_mode: lock::Member,
    object_lock_retain_until_date: lock::Member,
    object_lock_legal_hold_status: lock::Member,
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    website_redirect_location: Option<String>,
    expires: Option<Timestamp>,
    metadata: BTreeMap<String, String>,
    storage_class: Option<String>,
    tagging: Option<String>,
    checksum_algorithm: Option<String>,
    checksum_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateOutput {
    bucket: String,
    key: String,
    upload_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
    server_side_encryption: &'static str,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct UploadPartInput {
    bucket: String,
    key: String,
    upload_id: String,
    part_number: i64,
    #[serde(rename = "ContentMD5")]
    content_md5: Option<String>,
    checksum_algorithm: Option<String>,
    #[serde(flatten)]
    checksums: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadPartOutput {
    #[serde(rename = "ETag")]
    e_tag: String,
    server_side_encryption: &'static str,
    #[serde(flatten)]
    checksum: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct UploadPartCopyInput {
    bucket: String,
    key: String,
    upload_id: String,
    part_number: i64,
    copy_source: String,
    copy_source_range: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CopyPartResult {
    #[serde(rename = "ETag")]
    e_tag: String,
    last_modified: Timestamp,
    #[serde(flatten)]
    checksum: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadPartCopyOutput {
    copy_part_result: CopyPartResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    copy_source_version_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CompleteInput {
    bucket: String,
    key: String,
    upload_id: String,
    multipart_upload: Option<CompletedUpload>,
    if_none_match: Option<String>,
    if_match: Option<String>,
    checksum_type: Option<String>,
    mpu_object_size: Option<u64>,
    /// `ChecksumCRC32` and the like: the full-object checksum the client expects.
    #[serde(flatten)]
    checksums: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CompletedUpload {
    parts: Vec<CompletedPart>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CompletedPart {
    part_number: i64,
    #[serde(rename = "ETag")]
    e_tag: String,
    /// `ChecksumCRC32` and the like, as UploadPart returned them.
    #[serde(flatten)]
    checksums: BTreeMap<String, serde_json::Value>,
}

impl CompletedPart {
    fn checksum_members(&self) -> impl Iterator<Item = (&str, &str)> {
        self.checksums
            .iter()
            .filter(|(k, _)| k.starts_with("Checksum"))
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompleteOutput {
    location: String,
    bucket: String,
    key: String,
    #[serde(rename = "ETag")]
    e_tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
    server_side_encryption: &'static str,
    #[serde(flatten)]
    checksum: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct UploadRef {
    bucket: String,
    key: String,
    upload_id: String,
    max_parts: Option<i64>,
    part_number_marker: Option<i64>,
}

#[derive(Serialize)]
pub struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartEntry {
    part_number: i64,
    last_modified: Timestamp,
    #[serde(rename = "ETag")]
    e_tag: String,
    size: u64,
    #[serde(flatten)]
    checksum: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPartsOutput {
    bucket: String,
    key: String,
    upload_id: String,
    part_number_marker: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_part_number_marker: Option<i64>,
    max_parts: i64,
    is_truncated: bool,
    parts: Vec<PartEntry>,
    initiator: Owner,
    owner: Owner,
    storage_class: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListUploadsInput {
    bucket: String,
    prefix: Option<String>,
    delimiter: Option<String>,
    key_marker: Option<String>,
    upload_id_marker: Option<String>,
    max_uploads: Option<i64>,
    encoding_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadEntry {
    upload_id: String,
    key: String,
    initiated: Timestamp,
    storage_class: String,
    owner: Owner,
    initiator: Owner,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUploadsOutput {
    bucket: String,
    key_marker: String,
    upload_id_marker: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_key_marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_upload_id_marker: Option<String>,
    prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    delimiter: Option<String>,
    max_uploads: i64,
    is_truncated: bool,
    uploads: Vec<UploadEntry>,
    common_prefixes: Vec<CommonPrefix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommonPrefix {
    prefix: String,
}

impl S3 {
    fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Upload, AwsError> {
        let found = self.kv.get(KEYSPACE, &upload_key(bucket, key, upload_id))?;
        found.map(|b| table::decode(&b)).transpose()?.ok_or_else(|| no_such_upload(upload_id))
    }

    pub(crate) async fn create_multipart_upload(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CreateInput,
    ) -> Result<CreateOutput, AwsError> {
        object::check_key(&input.key)?;
        object::check_metadata(&input.metadata)?;
        self.bucket(&ctx, &input.bucket)?;
        lock::refuse_on_write(
            &input.object_lock_mode,
            &input.object_lock_retain_until_date,
            &input.object_lock_legal_hold_status,
        )?;
        let tags = input.tagging.as_deref().map(object::parse_tagging).unwrap_or_default();
        crate::tagging::check_tags(&tags, "BadRequest")?;
        let algorithm = object::requested_algorithm(&BTreeMap::new(), input.checksum_algorithm.as_deref())?;
        let kind = match (algorithm, input.checksum_type.as_deref()) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(error::invalid_request(
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
                ));
            }
            (Some(a), None) => Some(a.default_type()),
            (Some(a), Some(t)) => {
                let t = ChecksumType::parse(t)
                    .ok_or_else(|| error::invalid_request("Value for x-amz-checksum-type header is invalid."))?;
                if !a.supports(t) {
                    return Err(error::invalid_request(format!(
                        "The {} checksum type cannot be used with the {} checksum algorithm.",
                        t.as_str(),
                        a.as_str().to_ascii_lowercase()
                    )));
                }
                Some(t)
            }
        };
        let put = object::PutObjectInput {
            content_type: input.content_type,
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
            website_redirect_location: input.website_redirect_location,
            ..Default::default()
        };
        let upload = Upload {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            upload_id: new_upload_id(),
            initiated: Timestamp::now().0,
            headers: put.headers(),
            metadata: input.metadata,
            expires: input.expires.map(|t| t.0),
            storage_class: input.storage_class.filter(|c| c != "STANDARD"),
            tags,
            checksum_algorithm: algorithm.map(|a| a.as_str().to_string()),
            checksum_type: kind.map(|k| k.as_str().to_string()),
            owner: ctx.account.clone(),
        };
        let record = upload.clone();
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                if table::get_bucket(txn, &record.bucket)?.is_none() {
                    return Err(error::no_such_bucket(&record.bucket));
                }
                txn.put(
                    KEYSPACE,
                    &upload_key(&record.bucket, &record.key, &record.upload_id),
                    &table::encode(&record),
                )?;
                Ok::<_, AwsError>(())
            })
            .await?;
        Ok(CreateOutput {
            bucket: upload.bucket,
            key: upload.key,
            upload_id: upload.upload_id,
            checksum_algorithm: upload.checksum_algorithm,
            checksum_type: upload.checksum_type,
            server_side_encryption: "AES256",
        })
    }

    /// Records `part` for `upload` if the upload still exists; the blob of a part it
    /// replaces is deleted after the commit.
    async fn record_part(&self, upload: &Upload, part: Part) -> Result<(), AwsError> {
        let (bucket, key, id) = (upload.bucket.clone(), upload.key.clone(), upload.upload_id.clone());
        let new_blob = part.blob.clone();
        let replaced = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                if txn.get(KEYSPACE, &upload_key(&bucket, &key, &id))?.is_none() {
                    return Err(no_such_upload(&id));
                }
                let k = part_key(&id, part.number);
                let old: Option<Part> = txn.get(KEYSPACE, &k)?.map(|b| table::decode(&b)).transpose()?;
                txn.put(KEYSPACE, &k, &table::encode(&part))?;
                Ok::<_, AwsError>(old.map(|p| p.blob))
            })
            .await;
        match replaced {
            Ok(old) => {
                self.delete_blobs(old.into_iter().collect()).await;
                Ok(())
            }
            Err(e) => {
                self.delete_blobs(vec![new_blob]).await;
                Err(e)
            }
        }
    }

    pub(crate) async fn upload_part(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UploadPartInput,
        body: Option<RequestBody>,
    ) -> Result<Streamed<UploadPartOutput>, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        check_part_number(input.part_number)?;
        let upload = self.upload(&input.bucket, &input.key, &input.upload_id)?;
        let requested = object::requested_algorithm(&input.checksums, input.checksum_algorithm.as_deref())?;
        let expected = upload_algorithm(&upload);
        if let (Some(want), Some(got)) = (expected, requested)
            && want != got
        {
            return Err(error::invalid_request(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                want.as_str().to_ascii_lowercase(),
                got.as_str().to_ascii_lowercase()
            )));
        }
        // Parts of an upload created with an algorithm always carry its checksum, so that
        // completion can form the object's.
        let algorithm = requested.or(expected);
        // Parts are always blobs: the object is their blobs in order.
        let ingested = body::ingest(self.blobs.as_ref(), body, algorithm, 0).await?;
        let checksum = match object::verify_body(input.content_md5.as_deref(), &input.checksums, &ingested) {
            Ok(c) => c,
            Err(e) => {
                self.delete_blobs(ingested.blob()).await;
                return Err(e);
            }
        };
        let part = Part {
            number: input.part_number,
            blob: ingested.blob().pop().unwrap_or_default(),
            size: ingested.size,
            md5: brume_core::hex(&ingested.md5),
            checksum: checksum.as_ref().map(|c| c.value.clone()),
            last_modified: Timestamp::now().0,
        };
        let etag = object::quote_etag(&ingested.md5);
        let members = part_checksum_member(&part, checksum.as_ref().map(|c| c.algorithm.as_str()));
        self.record_part(&upload, part).await?;
        Ok(Streamed {
            output: UploadPartOutput { e_tag: etag, server_side_encryption: "AES256", checksum: members },
            body: None,
            status: None,
        })
    }

    pub(crate) async fn upload_part_copy(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UploadPartCopyInput,
    ) -> Result<UploadPartCopyOutput, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        check_part_number(input.part_number)?;
        let upload = self.upload(&input.bucket, &input.key, &input.upload_id)?;
        let (_, _, source) = self.copy_source(&ctx, &input.copy_source)?;
        let (start, end) = match &input.copy_source_range {
            None => (0, source.size),
            Some(r) => match crate::read::parse_range(r, source.size) {
                Ok(Some((s, e))) if r.starts_with("bytes=") && !r.contains("=-") && !r.ends_with('-') => (s, e),
                _ => {
                    return Err(error::invalid_argument(
                        "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
                        "x-amz-copy-source-range",
                        r,
                    ));
                }
            },
        };
        // Copy the range through the blob store, hashing it for the part's ETag.
        let algorithm = upload_algorithm(&upload);
        let mut writer = self.blobs.create().await?;
        let mut md5 = checksum::Md5::new();
        let mut hasher = algorithm.map(checksum::Hasher::new);
        let mut chunks = body::chunks(self.blobs.clone(), &source.content, start, end)?;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(error::internal)?;
            md5.update(&chunk);
            if let Some(h) = hasher.as_mut() {
                h.update(&chunk);
            }
            writer.write(chunk).await?;
        }
        let size = writer.len();
        let blob = writer.commit().await?;
        let digest = md5.finish();
        let part = Part {
            number: input.part_number,
            blob: blob.to_string(),
            size,
            md5: brume_core::hex(&digest),
            checksum: hasher.map(checksum::Hasher::finish_base64),
            last_modified: Timestamp::now().0,
        };
        let last_modified = Timestamp(part.last_modified.floor());
        let members = part_checksum_member(&part, upload.checksum_algorithm.as_deref());
        self.record_part(&upload, part).await?;
        Ok(UploadPartCopyOutput {
            copy_part_result: CopyPartResult { e_tag: object::quote_etag(&digest), last_modified, checksum: members },
            copy_source_version_id: (source.version_id != "null").then_some(source.version_id),
        })
    }

    pub(crate) async fn complete_multipart_upload(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CompleteInput,
    ) -> Result<CompleteOutput, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        let upload = self.upload(&input.bucket, &input.key, &input.upload_id)?;
        let listed = input.multipart_upload.map(|m| m.parts).unwrap_or_default();
        if listed.is_empty() {
            return Err(error::malformed_xml());
        }
        if listed.windows(2).any(|w| w[0].part_number >= w[1].part_number) {
            return Err(AwsError::new(
                400,
                "InvalidPartOrder",
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
            )
            .with_field("UploadId", &input.upload_id));
        }
        if let (Some(asked), Some(kind)) = (input.checksum_type.as_deref(), upload.checksum_type.as_deref())
            && asked != kind
        {
            return Err(error::invalid_request(format!(
                "The upload was created using the {kind} checksum mode. The complete request must use the same checksum mode."
            )));
        }
        let expected = Expected { size: input.mpu_object_size, checksums: input.checksums };
        let id = input.upload_id.clone();
        let request_id = ctx.request_id.clone();
        let conditions = (input.if_match, input.if_none_match);
        let (version, dead) = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                if txn.get(KEYSPACE, &upload_key(&upload.bucket, &upload.key, &id))?.is_none() {
                    return Err(no_such_upload(&id));
                }
                let stored: BTreeMap<i64, Part> = txn
                    .scan(KEYSPACE, &parts_of(&id), Direction::Forward, usize::MAX)?
                    .into_iter()
                    .map(|(_, v)| table::decode::<Part>(&v).map(|p| (p.number, p)))
                    .collect::<Result<_, _>>()?;
                let chosen = choose_parts(&upload, &stored, &listed)?;
                let prepared = object::Prepared::new(&upload.bucket, assemble(&upload, &chosen, &expected)?);
                let event = "ObjectCreated:CompleteMultipartUpload";
                let (version, written) =
                    object::write_version(txn, &upload.bucket, prepared, &conditions, event, &request_id)?;
                let mut dead = written.dead;
                txn.delete(KEYSPACE, &upload_key(&upload.bucket, &upload.key, &id))?;
                for (number, part) in &stored {
                    txn.delete(KEYSPACE, &part_key(&id, *number))?;
                    if !chosen.iter().any(|c| c.number == *number) {
                        dead.push(part.blob.clone());
                    }
                }
                Ok::<_, AwsError>((version, dead))
            })
            .await?;
        self.delete_blobs(dead).await;
        let mut members = BTreeMap::new();
        if let Some(c) = &version.checksum {
            members.insert(format!("Checksum{}", c.algorithm), c.value.clone());
        }
        Ok(CompleteOutput {
            location: format!("/{}/{}", input.bucket, version.key),
            bucket: input.bucket,
            key: version.key.clone(),
            e_tag: version.etag.clone(),
            version_id: (version.version_id != "null").then(|| version.version_id.clone()),
            checksum_type: version.checksum.as_ref().map(|c| c.kind.clone()),
            server_side_encryption: "AES256",
            checksum: members,
        })
    }

    pub(crate) async fn abort_multipart_upload(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UploadRef,
    ) -> Result<Empty, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        self.abort_upload(&input.bucket, &input.key, &input.upload_id).await?;
        Ok(Empty {})
    }

    /// Removes an upload and its parts, then their blobs.
    pub(crate) async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), AwsError> {
        let (bucket, key, id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        let dead = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                let k = upload_key(&bucket, &key, &id);
                if txn.get(KEYSPACE, &k)?.is_none() {
                    return Err(no_such_upload(&id));
                }
                txn.delete(KEYSPACE, &k)?;
                let mut dead = Vec::new();
                for (pk, v) in txn.scan(KEYSPACE, &parts_of(&id), Direction::Forward, usize::MAX)? {
                    dead.push(table::decode::<Part>(&v)?.blob);
                    txn.delete(KEYSPACE, &pk)?;
                }
                Ok::<_, AwsError>(dead)
            })
            .await?;
        self.delete_blobs(dead).await;
        Ok(())
    }

    pub(crate) async fn list_parts(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UploadRef,
    ) -> Result<ListPartsOutput, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        let upload = self.upload(&input.bucket, &input.key, &input.upload_id)?;
        let max = input.max_parts.unwrap_or(1000).clamp(0, 1000);
        let marker = input.part_number_marker.unwrap_or(0).max(0);
        let range = KeyRange {
            start: Bound::Excluded(part_key(&upload.upload_id, marker)),
            end: parts_of(&upload.upload_id).end,
        };
        // One more than a page, to learn whether the page is the last.
        let found = self.kv.scan(KEYSPACE, &range, Direction::Forward, max as usize + 1)?;
        let truncated = found.len() > max as usize;
        let parts = found
            .iter()
            .take(max as usize)
            .map(|(_, v)| {
                let p: Part = table::decode(v)?;
                Ok(PartEntry {
                    checksum: part_checksum_member(&p, upload.checksum_algorithm.as_deref()),
                    part_number: p.number,
                    last_modified: Timestamp(p.last_modified.floor()),
                    e_tag: format!("\"{}\"", p.md5),
                    size: p.size,
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok(ListPartsOutput {
            next_part_number_marker: parts.last().map(|p| p.part_number),
            bucket: upload.bucket,
            key: upload.key,
            upload_id: upload.upload_id,
            part_number_marker: marker,
            max_parts: max,
            is_truncated: truncated,
            parts,
            initiator: owner(&upload.owner),
            owner: owner(&upload.owner),
            storage_class: upload.storage_class.unwrap_or_else(|| "STANDARD".into()),
            checksum_algorithm: upload.checksum_algorithm,
            checksum_type: upload.checksum_type,
        })
    }

    pub(crate) async fn list_multipart_uploads(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListUploadsInput,
    ) -> Result<ListUploadsOutput, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        let encode = listing::check_encoding(&input.encoding_type)?;
        let max = input.max_uploads.unwrap_or(1000).clamp(0, 1000) as usize;
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let key_marker = input.key_marker.clone().unwrap_or_default();
        // S3 ignores the upload id marker without a key marker.
        let id_marker = input.upload_id_marker.clone().filter(|_| !key_marker.is_empty()).unwrap_or_default();
        let mut uploads: Vec<Upload> = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut last: Option<(String, Option<String>)> = None;
        let mut truncated = false;
        for (_, v) in self.kv.scan(KEYSPACE, &uploads_under(&input.bucket, &prefix), Direction::Forward, usize::MAX)? {
            let u: Upload = table::decode(&v)?;
            let rollup = delimiter
                .as_deref()
                .and_then(|d| u.key[prefix.len()..].find(d).map(|i| u.key[..prefix.len() + i + d.len()].to_string()));
            let entry = match rollup {
                // A common prefix at or before the key marker was on an earlier page.
                Some(p) if p <= key_marker || prefixes.last() == Some(&p) => continue,
                Some(p) => (p, None),
                None => {
                    let after = key_marker.is_empty()
                        || u.key > key_marker
                        || (u.key == key_marker && !id_marker.is_empty() && u.upload_id > id_marker);
                    if !after {
                        continue;
                    }
                    (u.key.clone(), Some(u.upload_id.clone()))
                }
            };
            if uploads.len() + prefixes.len() == max {
                truncated = true;
                break;
            }
            last = Some(entry.clone());
            match entry.1 {
                Some(_) => uploads.push(u),
                None => prefixes.push(entry.0),
            }
        }
        let next = last.filter(|_| truncated);
        let enc = |s: &str| listing::url_encode(s, encode);
        Ok(ListUploadsOutput {
            bucket: input.bucket,
            key_marker: enc(&key_marker),
            upload_id_marker: id_marker,
            next_key_marker: next.as_ref().map(|n| enc(&n.0)),
            next_upload_id_marker: next.and_then(|n| n.1),
            prefix: enc(&prefix),
            delimiter: delimiter.as_deref().map(enc),
            max_uploads: max as i64,
            is_truncated: truncated,
            uploads: uploads
                .into_iter()
                .map(|u| UploadEntry {
                    initiated: Timestamp(u.initiated.floor()),
                    storage_class: u.storage_class.clone().unwrap_or_else(|| "STANDARD".into()),
                    owner: owner(&u.owner),
                    initiator: owner(&u.owner),
                    checksum_algorithm: u.checksum_algorithm,
                    checksum_type: u.checksum_type,
                    upload_id: u.upload_id,
                    key: enc(&u.key),
                })
                .collect(),
            common_prefixes: prefixes.iter().map(|p| CommonPrefix { prefix: enc(p) }).collect(),
            encoding_type: input.encoding_type,
        })
    }
}

/// What a completion request says the object will be: its size (`x-amz-mp-object-size`)
/// and full-object checksum (`x-amz-checksum-*`).
struct Expected {
    size: Option<u64>,
    checksums: BTreeMap<String, serde_json::Value>,
}

fn invalid_part(upload_id: &str, want: &CompletedPart) -> AwsError {
    AwsError::new(
        400,
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
    .with_field("UploadId", upload_id)
    .with_field("PartNumber", want.part_number.to_string())
    .with_field("ETag", want.e_tag.trim_matches('"'))
}

/// The stored parts a completion lists, checked as S3 checks them: each must exist with
/// the listed ETag (and checksum, when one is listed), a COMPOSITE upload must list every
/// part's checksum, and every part but the last must be at least 5 MiB.
fn choose_parts(
    upload: &Upload,
    stored: &BTreeMap<i64, Part>,
    listed: &[CompletedPart],
) -> Result<Vec<Part>, AwsError> {
    let algorithm = upload_algorithm(upload);
    let composite = upload.checksum_type.as_deref() == Some(ChecksumType::Composite.as_str());
    let mut chosen = Vec::with_capacity(listed.len());
    for (i, want) in listed.iter().enumerate() {
        let id = &upload.upload_id;
        let part = stored
            .get(&want.part_number)
            .filter(|p| want.e_tag.trim().trim_matches('"') == p.md5)
            .ok_or_else(|| invalid_part(id, want))?;
        match algorithm {
            None if want.checksum_members().next().is_some() => return Err(invalid_part(id, want)),
            None => {}
            Some(a) => match want.checksum_members().find(|(k, _)| *k == a.member_name()) {
                Some((_, v)) if part.checksum.as_deref() != Some(v) => return Err(invalid_part(id, want)),
                Some(_) => {}
                None if composite => {
                    if let Some((other, _)) = want.checksum_members().next() {
                        return Err(AwsError::new(
                            400,
                            "BadDigest",
                            format!(
                                "The {} you specified for part {} did not match what we received.",
                                other.trim_start_matches("Checksum").to_ascii_lowercase(),
                                want.part_number
                            ),
                        ));
                    }
                    return Err(error::invalid_request(format!(
                        "The upload was created using a {} checksum. The complete request must include the checksum for each part. It was missing for part {} in the request.",
                        a.as_str().to_ascii_lowercase(),
                        want.part_number
                    )));
                }
                None => {}
            },
        }
        if i + 1 < listed.len() && part.size < MIN_PART {
            return Err(AwsError::new(
                400,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed size",
            )
            .with_field("ProposedSize", part.size.to_string())
            .with_field("MinSizeAllowed", MIN_PART.to_string())
            .with_field("PartNumber", part.number.to_string())
            .with_field("ETag", &part.md5));
        }
        chosen.push(part.clone());
    }
    Ok(chosen)
}

/// The object a completion makes of `parts`: their blobs in order, never copied.
fn assemble(upload: &Upload, parts: &[Part], expected: &Expected) -> Result<Version, AwsError> {
    let size = parts.iter().map(|p| p.size).sum();
    if let Some(declared) = expected.size
        && declared != size
    {
        return Err(error::invalid_request(format!(
            "The provided 'x-amz-mp-object-size' header value {declared} does not match what was computed: {size}"
        )));
    }
    let checksum = object_checksum(upload, parts);
    if let Some(c) = checksum.as_ref().filter(|c| c.kind == ChecksumType::FullObject.as_str())
        && let Some(declared) = expected.checksums.get(&format!("Checksum{}", c.algorithm)).and_then(|v| v.as_str())
        && declared != c.value
    {
        return Err(AwsError::new(
            400,
            "BadDigest",
            format!("The {} you specified did not match the calculated checksum.", c.algorithm.to_ascii_lowercase()),
        ));
    }
    let md5s: Vec<[u8; 16]> =
        parts.iter().map(|p| hex::decode(&p.md5).ok().and_then(|d| d.try_into().ok()).unwrap_or([0; 16])).collect();
    Ok(Version {
        key: upload.key.clone(),
        last_modified: Timestamp::now().0,
        size,
        etag: format!("\"{}\"", checksum::multipart_etag(&md5s)),
        content: Content { blobs: parts.iter().map(|p| (p.blob.clone(), p.size)).collect(), inline: None },
        headers: upload.headers.clone(),
        metadata: upload.metadata.clone(),
        expires: upload.expires,
        storage_class: upload.storage_class.clone(),
        checksum,
        parts: parts.iter().map(|p| p.size).collect(),
        tags: upload.tags.clone(),
        owner: upload.owner.clone(),
        ..Default::default()
    })
}

fn upload_algorithm(upload: &Upload) -> Option<Algorithm> {
    upload.checksum_algorithm.as_deref().and_then(Algorithm::parse)
}

/// The object checksum of a completed upload: composite (`b64-N`) or full-object (CRCs
/// combined from the parts' values and sizes), as the upload asked.
fn object_checksum(upload: &Upload, parts: &[Part]) -> Option<Checksum> {
    let algorithm = Algorithm::parse(upload.checksum_algorithm.as_deref()?)?;
    let values: Vec<Vec<u8>> =
        parts.iter().map(|p| BASE64.decode(p.checksum.as_deref()?).ok()).collect::<Option<_>>()?;
    let kind = upload.checksum_type.as_deref().and_then(ChecksumType::parse).unwrap_or(algorithm.default_type());
    let value = match kind {
        ChecksumType::Composite => checksum::composite(algorithm, &values),
        ChecksumType::FullObject => {
            let sized: Vec<(Vec<u8>, u64)> = values.into_iter().zip(parts.iter().map(|p| p.size)).collect();
            BASE64.encode(checksum::combine(algorithm, &sized)?)
        }
    };
    Some(Checksum { algorithm: algorithm.as_str().to_string(), value, kind: kind.as_str().to_string() })
}

/// A new upload id: URL-safe, unguessable, and led by the creation time in fixed-width hex,
/// so that one key's uploads sort (and list) in the order they were initiated.
fn new_upload_id() -> String {
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_micros();
    let random: [u8; 24] = rand::random();
    format!("{:016x}{}", micros as u64, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(algorithm: Option<Algorithm>, kind: Option<ChecksumType>) -> Upload {
        Upload {
            key: "k".into(),
            upload_id: "u".into(),
            checksum_algorithm: algorithm.map(|a| a.as_str().to_string()),
            checksum_type: kind.map(|k| k.as_str().to_string()),
            ..Default::default()
        }
    }

    fn part(number: i64, data: &[u8], algorithm: Option<Algorithm>) -> Part {
        let mut md5 = checksum::Md5::new();
        md5.update(data);
        Part {
            number,
            blob: format!("blob{number}"),
            size: data.len() as u64,
            md5: checksum::md5_hex(md5),
            checksum: algorithm.map(|a| BASE64.encode(checksum::compute(a, data))),
            last_modified: 0.0,
        }
    }

    fn listed(p: &Part, checksum: Option<(&str, &str)>) -> CompletedPart {
        CompletedPart {
            part_number: p.number,
            e_tag: format!("\"{}\"", p.md5),
            checksums: checksum.map(|(k, v)| (k.to_string(), v.into())).into_iter().collect(),
        }
    }

    fn code(r: Result<Vec<Part>, AwsError>) -> String {
        r.map(|_| "ok".to_string()).unwrap_or_else(|e| e.code.to_string())
    }

    #[test]
    fn completion_checks_parts_as_s3_does() {
        let big = vec![7u8; MIN_PART as usize];
        let (p1, p2) = (part(1, &big, None), part(2, b"tail", None));
        let stored = BTreeMap::from([(1, p1.clone()), (2, p2.clone())]);
        let plain = upload(None, None);
        let check = |list: &[CompletedPart]| code(choose_parts(&plain, &stored, list));
        assert_eq!(check(&[listed(&p1, None), listed(&p2, None)]), "ok");
        assert_eq!(check(&[listed(&p2, None), listed(&p1, None)]), "EntityTooSmall");
        assert_eq!(check(&[listed(&part(3, b"x", None), None)]), "InvalidPart");
        let wrong_etag = CompletedPart { e_tag: "\"00\"".into(), ..listed(&p1, None) };
        assert_eq!(check(&[wrong_etag]), "InvalidPart");
        // A checksum listed for an upload without one matches nothing.
        assert_eq!(check(&[listed(&p1, Some(("ChecksumCRC32", "AAAAAA==")))]), "InvalidPart");
    }

    #[test]
    fn composite_uploads_need_every_part_checksum() {
        let alg = Algorithm::Crc32c;
        let p = part(1, b"abc", Some(alg));
        let stored = BTreeMap::from([(1, p.clone())]);
        let up = upload(Some(alg), Some(ChecksumType::Composite));
        let value = p.checksum.clone().unwrap();
        let check = |c| code(choose_parts(&up, &stored, &[listed(&p, c)]));
        assert_eq!(check(Some(("ChecksumCRC32C", value.as_str()))), "ok");
        assert_eq!(check(None), "InvalidRequest");
        assert_eq!(check(Some(("ChecksumCRC32", value.as_str()))), "BadDigest");
        assert_eq!(check(Some(("ChecksumCRC32C", "AAAAAA=="))), "InvalidPart");
        let full = upload(Some(alg), Some(ChecksumType::FullObject));
        assert_eq!(code(choose_parts(&full, &stored, &[listed(&p, None)])), "ok");
    }

    #[test]
    fn assembled_object_refers_to_the_part_blobs() {
        let alg = Algorithm::Crc32;
        let parts = [part(1, b"hello ", Some(alg)), part(2, b"world", Some(alg))];
        let expected = Expected { size: None, checksums: BTreeMap::new() };
        let full = assemble(&upload(Some(alg), Some(ChecksumType::FullObject)), &parts, &expected).unwrap();
        assert_eq!(full.content.blobs, vec![("blob1".to_string(), 6), ("blob2".to_string(), 5)]);
        assert_eq!(full.parts, vec![6, 5]);
        assert_eq!(full.checksum.unwrap().value, BASE64.encode(checksum::compute(alg, b"hello world")));
        let md5s: Vec<u8> = parts.iter().flat_map(|p| hex::decode(&p.md5).unwrap()).collect();
        let mut md5 = checksum::Md5::new();
        md5.update(&md5s);
        assert_eq!(full.etag, format!("\"{}-2\"", checksum::md5_hex(md5)));
        let composite = assemble(&upload(Some(alg), Some(ChecksumType::Composite)), &parts, &expected).unwrap();
        assert!(composite.checksum.unwrap().value.ends_with("-2"));
        let wrong_size = Expected { size: Some(1), checksums: BTreeMap::new() };
        assert!(assemble(&upload(None, None), &parts, &wrong_size).is_err());
    }
}
