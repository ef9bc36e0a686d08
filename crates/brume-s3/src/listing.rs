//! ListObjectsV2 and ListObjects: keys in byte order under a prefix, rolled up into
//! common prefixes at a delimiter, in pages (1000 keys by default) with continuation
//! tokens or markers; `encoding-type=url` encodes keys in the answer.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_storage::{Direction, KeyRange};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use std::ops::Bound;

use crate::bucket::{Owner, owner};
use crate::table::{self, KEYSPACE, Version};
use crate::{S3, archive, error};

/// How many records one storage scan reads while a page is filled.
const SCAN_BATCH: usize = 1000;

/// What `encoding-type=url` leaves unencoded (as S3 does: unreserved characters and `/`).
const URL_KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

pub fn encode_token(last: &str) -> String {
    BASE64.encode(last.as_bytes())
}

pub fn decode_token(token: &str) -> Result<String, AwsError> {
    BASE64.decode(token).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
        error::invalid_argument("The continuation token provided is incorrect", "continuation-token", token)
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListObjectsV2Input {
    bucket: String,
    prefix: Option<String>,
    delimiter: Option<String>,
    max_keys: Option<i64>,
    continuation_token: Option<String>,
    start_after: Option<String>,
    fetch_owner: Option<bool>,
    encoding_type: Option<String>,
    optional_object_attributes: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListObjectsInput {
    bucket: String,
    prefix: Option<String>,
    delimiter: Option<String>,
    max_keys: Option<i64>,
    marker: Option<String>,
    encoding_type: Option<String>,
    optional_object_attributes: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Object {
    key: String,
    last_modified: Timestamp,
    #[serde(rename = "ETag")]
    e_tag: String,
    size: u64,
    storage_class: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<Owner>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksum_algorithm: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restore_status: Option<archive::RestoreStatus>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommonPrefix {
    prefix: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListObjectsV2Output {
    name: String,
    prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    delimiter: Option<String>,
    max_keys: i64,
    key_count: usize,
    is_truncated: bool,
    contents: Vec<Object>,
    common_prefixes: Vec<CommonPrefix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_continuation_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListObjectsOutput {
    name: String,
    prefix: String,
    marker: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    delimiter: Option<String>,
    max_keys: i64,
    is_truncated: bool,
    contents: Vec<Object>,
    common_prefixes: Vec<CommonPrefix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding_type: Option<String>,
}

/// An entry of a page: a key's current version, or a common prefix.
pub enum Entry {
    Key(Box<Version>),
    Prefix(String),
}

impl Entry {
    /// The key or prefix, which is what markers and tokens resume after.
    pub fn name(&self) -> &str {
        match self {
            Entry::Key(v) => &v.key,
            Entry::Prefix(p) => p,
        }
    }
}

/// One page of `bucket`'s current keys under `prefix` that sort after `after`, with
/// keys sharing a `delimiter`-ended prefix rolled into one entry. Returns the page and
/// whether more follow.
pub fn page(
    view: &dyn brume_storage::ReadView,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> Result<(Vec<Entry>, bool), AwsError> {
    let scan_prefix = table::current_prefix(bucket, prefix);
    let mut start = match after {
        Some(a) if a >= prefix => Bound::Excluded(table::current_key(bucket, a)),
        _ => Bound::Included(scan_prefix.clone()),
    };
    let end = KeyRange::prefix(&scan_prefix).end;
    let mut entries: Vec<Entry> = Vec::new();
    loop {
        let range = KeyRange { start: start.clone(), end: end.clone() };
        if range.is_empty() {
            return Ok((entries, false));
        }
        let batch = view.scan(KEYSPACE, &range, Direction::Forward, SCAN_BATCH).map_err(error::internal)?;
        let exhausted = batch.len() < SCAN_BATCH;
        let mut rolled_up = false;
        for (k, v) in &batch {
            let version = table::decode_version(v).map_err(error::internal)?;
            start = Bound::Excluded(k.clone());
            if version.delete_marker {
                continue;
            }
            let rollup = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                version.key[prefix.len()..].find(d).map(|i| version.key[..prefix.len() + i + d.len()].to_string())
            });
            let entry = match rollup {
                Some(p) => {
                    // Skip every other key under this common prefix in one seek.
                    start = match KeyRange::prefix(&table::current_prefix(bucket, &p)).end {
                        Bound::Excluded(e) => Bound::Included(e),
                        other => other,
                    };
                    rolled_up = true;
                    // A prefix at or before the resume point was returned by an earlier page.
                    after.is_none_or(|a| p.as_str() > a).then_some(Entry::Prefix(p))
                }
                None => Some(Entry::Key(Box::new(version))),
            };
            if let Some(entry) = entry {
                if entries.len() == max {
                    return Ok((entries, true));
                }
                entries.push(entry);
            }
            if rolled_up {
                break;
            }
        }
        if exhausted && !rolled_up {
            return Ok((entries, false));
        }
    }
}

pub(crate) fn url_encode(s: &str, encode: bool) -> String {
    if encode { utf8_percent_encode(s, URL_KEEP).to_string() } else { s.to_string() }
}

fn check_max_keys(max: Option<i64>) -> Result<i64, AwsError> {
    match max {
        None => Ok(1000),
        Some(n) if n < 0 => Err(error::invalid_argument(
            "Argument maxKeys must be an integer between 0 and 2147483647",
            "maxKeys",
            &n.to_string(),
        )),
        Some(n) => Ok(n),
    }
}

pub(crate) fn check_encoding(encoding: &Option<String>) -> Result<bool, AwsError> {
    match encoding.as_deref() {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(other) => {
            Err(error::invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", other))
        }
    }
}

/// A listing's entry of `v`; `asked` are the optional attributes the listing asked for.
fn object(v: &Version, with_owner: bool, encode: bool, asked: &[String]) -> Object {
    Object {
        key: url_encode(&v.key, encode),
        last_modified: Timestamp(v.last_modified.floor()),
        e_tag: v.etag.clone(),
        size: v.size,
        storage_class: v.storage_class.clone().unwrap_or_else(|| "STANDARD".into()),
        owner: with_owner.then(|| owner(&v.owner)),
        checksum_algorithm: v.checksum.iter().map(|c| c.algorithm.clone()).collect(),
        checksum_type: v.checksum.as_ref().map(|c| c.kind.clone()),
        restore_status: archive::restore_status(v, asked),
    }
}

fn split(entries: Vec<Entry>, with_owner: bool, encode: bool, asked: &[String]) -> (Vec<Object>, Vec<CommonPrefix>) {
    let mut contents = Vec::new();
    let mut prefixes = Vec::new();
    for e in entries {
        match e {
            Entry::Key(v) => contents.push(object(&v, with_owner, encode, asked)),
            Entry::Prefix(p) => prefixes.push(CommonPrefix { prefix: url_encode(&p, encode) }),
        }
    }
    (contents, prefixes)
}

impl S3 {
    pub(crate) async fn list_objects_v2(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListObjectsV2Input,
    ) -> Result<ListObjectsV2Output, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        let max = check_max_keys(input.max_keys)?.min(1000);
        let encode = check_encoding(&input.encoding_type)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = match &input.continuation_token {
            Some(t) => Some(decode_token(t)?),
            None => input.start_after.clone(),
        };
        let (entries, truncated) =
            page(self.kv.as_ref(), &input.bucket, &prefix, input.delimiter.as_deref(), after.as_deref(), max as usize)?;
        let next = truncated.then(|| entries.last().map(|e| encode_token(e.name()))).flatten();
        let key_count = entries.len();
        let (contents, common_prefixes) =
            split(entries, input.fetch_owner.unwrap_or(false), encode, &input.optional_object_attributes);
        Ok(ListObjectsV2Output {
            name: input.bucket,
            prefix: url_encode(&prefix, encode),
            delimiter: input.delimiter.map(|d| url_encode(&d, encode)),
            max_keys: max,
            key_count,
            is_truncated: truncated,
            contents,
            common_prefixes,
            continuation_token: input.continuation_token,
            next_continuation_token: next,
            start_after: input.start_after.map(|s| url_encode(&s, encode)),
            encoding_type: input.encoding_type,
        })
    }

    pub(crate) async fn list_objects(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListObjectsInput,
    ) -> Result<ListObjectsOutput, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        let max = check_max_keys(input.max_keys)?.min(1000);
        let encode = check_encoding(&input.encoding_type)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let (entries, truncated) = page(
            self.kv.as_ref(),
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            input.marker.as_deref(),
            max as usize,
        )?;
        // S3 names the next marker only when a delimiter is used; otherwise clients resume
        // after the last key.
        let next_marker = (truncated && input.delimiter.is_some())
            .then(|| entries.last().map(|e| url_encode(e.name(), encode)))
            .flatten();
        let (contents, common_prefixes) = split(entries, true, encode, &input.optional_object_attributes);
        Ok(ListObjectsOutput {
            name: input.bucket,
            prefix: url_encode(&prefix, encode),
            marker: url_encode(input.marker.as_deref().unwrap_or(""), encode),
            delimiter: input.delimiter.map(|d| url_encode(&d, encode)),
            max_keys: max,
            is_truncated: truncated,
            contents,
            common_prefixes,
            next_marker,
            encoding_type: input.encoding_type,
        })
    }
}
