//! GetObject and HeadObject: the current version or a named one, single byte ranges
//! (`416` when unsatisfiable), part numbers of multipart objects, conditional requests
//! in RFC 7232's order, response header overrides, checksums on request.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_protocol::Streamed;
use brume_storage::ReadView;
use serde::{Deserialize, Serialize};

use crate::table::{self, Version};
use crate::{S3, archive, body, error};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetObjectInput {
    bucket: String,
    key: String,
    version_id: Option<String>,
    range: Option<String>,
    part_number: Option<i64>,
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<Timestamp>,
    if_unmodified_since: Option<Timestamp>,
    checksum_mode: Option<String>,
    response_cache_control: Option<String>,
    response_content_disposition: Option<String>,
    response_content_encoding: Option<String>,
    response_content_language: Option<String>,
    response_content_type: Option<String>,
    response_expires: Option<Timestamp>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetObjectOutput {
    #[serde(rename = "ETag")]
    e_tag: String,
    last_modified: Option<Timestamp>,
    content_length: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_range: Option<String>,
    accept_ranges: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restore: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parts_count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag_count: Option<usize>,
    server_side_encryption: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
    /// Content-Type and the other stored headers, and the checksum member when asked for.
    #[serde(flatten)]
    headers: BTreeMap<String, String>,
}

/// What the conditional headers decide for a version (RFC 7232 section 6, as S3 applies it).
fn check_conditions(v: &Version, input: &GetObjectInput) -> Result<(), AwsError> {
    let modified = v.last_modified.floor();
    match (&input.if_match, input.if_unmodified_since) {
        (Some(cond), _) if !crate::object::etag_matches(cond, &v.etag) => {
            return Err(error::precondition_failed("If-Match"));
        }
        (None, Some(t)) if modified > t.0 => return Err(error::precondition_failed("If-Unmodified-Since")),
        _ => {}
    }
    match (&input.if_none_match, input.if_modified_since) {
        (Some(cond), _) if crate::object::etag_matches(cond, &v.etag) => {
            Err(error::not_modified().with_header("ETag", &v.etag))
        }
        (None, Some(t)) if modified <= t.0 => Err(error::not_modified().with_header("ETag", &v.etag)),
        _ => Ok(()),
    }
}

/// A single `bytes=` range over an object of `size` bytes: `Ok(None)` for no range or one
/// S3 ignores (malformed, several ranges), `Err` for an unsatisfiable one.
pub fn parse_range(header: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else { return Ok(None) };
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        let Ok(n) = last.parse::<u64>() else { return Ok(None) };
        if n == 0 || size == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size)
    } else {
        let Ok(start) = first.parse::<u64>() else { return Ok(None) };
        let end = match last {
            "" => size,
            l => match l.parse::<u64>() {
                Ok(e) if e >= start => (e + 1).min(size),
                _ => return Ok(None),
            },
        };
        if start >= size {
            return Err(());
        }
        (start, end)
    };
    Ok(Some(range))
}

/// The version a change of an object's tags, ACL or restore state names, with its
/// record's key (read in the change's transaction): the current one, or `version_id`;
/// never a delete marker.
pub(crate) fn version_to_change(
    view: &dyn ReadView,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<(Vec<u8>, Version), AwsError> {
    let id = match version_id {
        Some(id) => id.to_string(),
        None => match table::get_current(view, bucket, key)? {
            Some(c) if !c.delete_marker => c.version_id,
            _ => return Err(error::no_such_key(key)),
        },
    };
    let (record_key, version) =
        table::find_version(view, bucket, key, &id)?.ok_or_else(|| error::no_such_version(key, &id))?;
    if version.delete_marker {
        return Err(error::method_not_allowed_delete_marker());
    }
    Ok((record_key, version))
}

impl S3 {
    /// The version a read names: the current one, or `version_id`; a delete marker as
    /// S3 reports it.
    pub(crate) fn version_to_read(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Version, AwsError> {
        match version_id {
            None => {
                let v = table::read_current(self.kv.as_ref(), bucket, key)
                    .map_err(error::internal)?
                    .ok_or_else(|| error::no_such_key(key))?;
                if v.delete_marker {
                    let mut err = error::no_such_key(key).with_header("x-amz-delete-marker", "true");
                    if v.version_id != "null" {
                        err = err.with_header("x-amz-version-id", &v.version_id);
                    }
                    return Err(err);
                }
                Ok(v)
            }
            Some(id) => {
                let (_, v) = table::find_version(self.kv.as_ref(), bucket, key, id)
                    .map_err(error::internal)?
                    .ok_or_else(|| error::no_such_version(key, id))?;
                if v.delete_marker {
                    return Err(error::method_not_allowed_delete_marker().with_header("x-amz-version-id", id));
                }
                Ok(v)
            }
        }
    }

    fn read(
        &self,
        ctx: &RequestContext,
        input: &GetObjectInput,
    ) -> Result<(Version, GetObjectOutput, (u64, u64)), AwsError> {
        self.bucket(ctx, &input.bucket)?;
        let v = self.version_to_read(&input.bucket, &input.key, input.version_id.as_deref())?;
        check_conditions(&v, input)?;
        let mut span = (0, v.size);
        let mut content_range = None;
        let mut parts_count = None;
        if let Some(n) = input.part_number {
            let parts = if v.parts.is_empty() { vec![v.size] } else { v.parts.clone() };
            if n < 1 || n as usize > parts.len() {
                return Err(AwsError::new(416, "InvalidPartNumber", "The requested partnumber is not satisfiable")
                    .with_field("PartNumberRequested", n.to_string())
                    .with_field("ActualPartCount", parts.len().to_string()));
            }
            let start: u64 = parts[..n as usize - 1].iter().sum();
            span = (start, start + parts[n as usize - 1]);
            parts_count = Some(parts.len()).filter(|_| !v.parts.is_empty());
            content_range = Some(format!("bytes {}-{}/{}", span.0, span.1.saturating_sub(1), v.size))
                .filter(|_| !v.parts.is_empty());
        } else if let Some(range) = &input.range {
            match parse_range(range, v.size) {
                Err(()) => return Err(error::invalid_range(range, v.size)),
                Ok(Some(r)) => {
                    span = r;
                    content_range = Some(format!("bytes {}-{}/{}", r.0, r.1 - 1, v.size));
                }
                Ok(None) => {}
            }
        }
        let mut headers = v.headers.clone();
        let overrides = [
            ("ContentType", &input.response_content_type),
            ("ContentEncoding", &input.response_content_encoding),
            ("ContentDisposition", &input.response_content_disposition),
            ("ContentLanguage", &input.response_content_language),
            ("CacheControl", &input.response_cache_control),
        ];
        for (name, value) in overrides {
            if let Some(value) = value {
                headers.insert(name.to_string(), value.clone());
            }
        }
        headers.entry("ContentType".into()).or_insert_with(|| "binary/octet-stream".into());
        let mut checksum_type = None;
        // Checksums describe the whole object, so a range read does not carry them.
        if input.checksum_mode.as_deref() == Some("ENABLED")
            && content_range.is_none()
            && let Some(c) = &v.checksum
        {
            headers.insert(format!("Checksum{}", c.algorithm), c.value.clone());
            checksum_type = Some(c.kind.clone());
        }
        let output = GetObjectOutput {
            e_tag: v.etag.clone(),
            last_modified: Some(Timestamp(v.last_modified.floor())),
            content_length: span.1 - span.0,
            content_range,
            accept_ranges: "bytes",
            version_id: (v.version_id != "null").then(|| v.version_id.clone()),
            metadata: v.metadata.clone(),
            expires: input.response_expires.or(v.expires.map(Timestamp)),
            storage_class: v.storage_class.clone(),
            restore: archive::restore_header(&v),
            parts_count,
            tag_count: Some(v.tags.len()).filter(|n| *n > 0),
            server_side_encryption: "AES256",
            checksum_type,
            headers,
        };
        Ok((v, output, span))
    }

    pub(crate) async fn get_object(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GetObjectInput,
        _body: Option<brume_protocol::RequestBody>,
    ) -> Result<Streamed<GetObjectOutput>, AwsError> {
        let (v, output, (start, end)) = self.read(&ctx, &input)?;
        archive::check_readable(&v)?;
        let body = body::stream(self.blobs.clone(), &v.content, start, end)?;
        Ok(Streamed { output, body: Some(body), status: None })
    }

    pub(crate) async fn head_object(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GetObjectInput,
    ) -> Result<GetObjectOutput, AwsError> {
        Ok(self.read(&ctx, &input)?.1)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_follow_s3() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 10))));
        assert_eq!(parse_range("bytes=90-200", 100), Ok(Some((90, 100))));
        assert_eq!(parse_range("bytes=10-", 100), Ok(Some((10, 100))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 100))));
        assert_eq!(parse_range("bytes=-200", 100), Ok(Some((0, 100))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=0-", 0), Err(()));
        assert_eq!(parse_range("bytes=5-1", 100), Ok(None));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
    }
}
