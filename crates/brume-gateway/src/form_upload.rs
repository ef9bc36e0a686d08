//! S3's browser form uploads (POST Object): a `multipart/form-data` POST to a bucket whose
//! fields carry the key, the metadata and a signed policy, and whose `file` field is the
//! object. The policy signature is checked by the auth layer and its conditions here; the
//! object is then written by S3's own PutObject, streamed.
//!
//! POST Object is not an operation of S3's published model (browsers, not SDKs, send it),
//! so it is recognised here and turned into the PutObject call it amounts to.

use std::time::SystemTime;

use base64::Engine as _;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use brume_auth::ServiceFamily;
use brume_core::AwsError;
use brume_protocol::codec::{self, BoxError, RequestBody, ResponseBody};
use brume_protocol::{Protocol, model};

use crate::Gateway;

/// S3's limit on the form fields before the file.
const MAX_FIELDS_BYTES: usize = 20 * 1024;

/// The bucket a form upload is posted to, if `parts` is one.
pub(crate) fn form_upload_bucket(parts: &Parts) -> Option<String> {
    let content_type = parts.headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    if parts.method != Method::POST || !content_type.starts_with("multipart/form-data") {
        return None;
    }
    if let Some(bucket) = brume_auth::s3_virtual_host_bucket(parts) {
        return (parts.uri.path() == "/").then(|| bucket.to_string());
    }
    let bucket = parts.uri.path().trim_start_matches('/').trim_end_matches('/');
    (!bucket.is_empty() && !bucket.contains('/')).then(|| bucket.to_string())
}

fn denied(message: impl Into<String>) -> AwsError {
    AwsError::new(403, "AccessDenied", message)
}

fn policy_failed(condition: &Value) -> AwsError {
    denied(format!("Invalid according to Policy: Policy Condition failed: {condition}"))
}

/// Checks the form's policy document: not expired, every condition met, every field
/// covered by a condition. Returns the allowed content length range, if the policy names one.
pub(crate) fn check_policy(
    policy_b64: &str,
    bucket: &str,
    fields: &[(String, String)],
    now: SystemTime,
) -> Result<Option<(u64, u64)>, AwsError> {
    let invalid = || AwsError::new(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.");
    let decoded = base64::engine::general_purpose::STANDARD.decode(policy_b64.trim()).map_err(|_| invalid())?;
    let policy: Value = serde_json::from_slice(&decoded).map_err(|_| invalid())?;
    let expiration = policy.get("expiration").and_then(Value::as_str).ok_or_else(invalid)?;
    let expires = time::OffsetDateTime::parse(expiration, &time::format_description::well_known::Rfc3339)
        .map_err(|_| AwsError::new(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value."))?;
    if SystemTime::from(expires) < now {
        return Err(denied("Invalid according to Policy: Policy expired."));
    }
    let value_of = |name: &str| -> Option<String> {
        let name = name.trim_start_matches('$');
        if name.eq_ignore_ascii_case("bucket") {
            return Some(bucket.to_string());
        }
        fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    let mut covered: Vec<String> = vec!["bucket".into()];
    let mut length = None;
    for condition in policy.get("conditions").and_then(Value::as_array).ok_or_else(invalid)? {
        match condition {
            Value::Object(map) => {
                for (k, v) in map {
                    covered.push(k.to_ascii_lowercase());
                    if value_of(k).as_deref() != v.as_str() {
                        return Err(policy_failed(condition));
                    }
                }
            }
            Value::Array(items) => match items.as_slice() {
                [Value::String(op), Value::String(name), Value::String(expected)] => {
                    covered.push(name.trim_start_matches('$').to_ascii_lowercase());
                    let actual = value_of(name).unwrap_or_default();
                    let ok = match op.to_ascii_lowercase().as_str() {
                        "eq" => actual == *expected,
                        // A comma-separated field (Content-Type) matches when each value does.
                        "starts-with" => actual.split(',').all(|v| v.trim().starts_with(expected.as_str())),
                        _ => return Err(invalid()),
                    };
                    if !ok {
                        return Err(policy_failed(condition));
                    }
                }
                [Value::String(op), min, max] if op.eq_ignore_ascii_case("content-length-range") => {
                    let (Some(min), Some(max)) = (min.as_u64(), max.as_u64()) else { return Err(invalid()) };
                    length = Some((min, max));
                }
                _ => return Err(invalid()),
            },
            _ => return Err(invalid()),
        }
    }
    let exempt = |k: &str| {
        matches!(k, "policy" | "x-amz-signature" | "signature" | "awsaccesskeyid" | "file" | "x-amz-security-token")
            || k.starts_with("x-ignore-")
    };
    if let Some((k, _)) = fields.iter().find(|(k, _)| {
        let k = k.to_ascii_lowercase();
        !exempt(&k) && !covered.contains(&k)
    }) {
        return Err(denied(format!("Invalid according to Policy: Extra input fields: {k}")));
    }
    Ok(length)
}

/// The PutObject input the form describes.
fn put_input(bucket: &str, fields: &[(String, String)], filename: Option<&str>) -> Result<Value, AwsError> {
    let field = |name: &str| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let key = field("key").ok_or_else(|| {
        AwsError::new(
            400,
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
        )
        .with_field("ArgumentName", "key")
    })?;
    let key = key.replace("${filename}", filename.unwrap_or_default());
    let mut input = Map::new();
    input.insert("Bucket".into(), json!(bucket));
    input.insert("Key".into(), json!(key));
    let headers = [
        ("Content-Type", "ContentType"),
        ("Cache-Control", "CacheControl"),
        ("Content-Disposition", "ContentDisposition"),
        ("Content-Encoding", "ContentEncoding"),
        ("x-amz-storage-class", "StorageClass"),
        ("x-amz-website-redirect-location", "WebsiteRedirectLocation"),
        ("x-amz-checksum-algorithm", "ChecksumAlgorithm"),
        ("x-amz-checksum-crc32", "ChecksumCRC32"),
        ("x-amz-checksum-crc32c", "ChecksumCRC32C"),
        ("x-amz-checksum-crc64nvme", "ChecksumCRC64NVME"),
        ("x-amz-checksum-sha1", "ChecksumSHA1"),
        ("x-amz-checksum-sha256", "ChecksumSHA256"),
    ];
    for (name, member) in headers {
        if let Some(v) = field(name) {
            input.insert(member.into(), json!(v));
        }
    }
    let metadata: Map<String, Value> = fields
        .iter()
        .filter_map(|(k, v)| k.to_ascii_lowercase().strip_prefix("x-amz-meta-").map(|m| (m.to_string(), json!(v))))
        .collect();
    if !metadata.is_empty() {
        input.insert("Metadata".into(), Value::Object(metadata));
    }
    Ok(Value::Object(input))
}

/// The file's bytes, checked against the policy's content-length-range as they stream.
fn limited(field: multer::Field<'static>, range: Option<(u64, u64)>) -> RequestBody {
    let (min, max) = range.unwrap_or((0, u64::MAX));
    let fail = |e: AwsError| Some((Err(Box::new(e) as BoxError), None));
    let stream = futures_util::stream::unfold(Some((field, 0u64)), move |state| async move {
        let (mut field, seen) = state?;
        match field.chunk().await {
            Ok(Some(chunk)) => {
                let mut seen = seen + chunk.len() as u64;
                if seen > max {
                    // S3 reports the file's whole size: the rest is counted, not kept.
                    while let Ok(Some(rest)) = field.chunk().await {
                        seen += rest.len() as u64;
                    }
                    return fail(
                        AwsError::new(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
                            .with_field("ProposedSize", seen.to_string())
                            .with_field("MaxSizeAllowed", max.to_string()),
                    );
                }
                Some((Ok(Frame::data(chunk)), Some((field, seen))))
            }
            Ok(None) if seen < min => fail(
                AwsError::new(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
                    .with_field("ProposedSize", seen.to_string())
                    .with_field("MinSizeAllowed", min.to_string()),
            ),
            Ok(None) => None,
            Err(e) => fail(AwsError::new(
                400,
                "MalformedPOSTRequest",
                format!("The body of your POST request is not well-formed multipart/form-data. {e}"),
            )),
        }
    });
    StreamBody::new(stream).boxed()
}

impl Gateway {
    /// Answers a form upload to `bucket`.
    pub(crate) async fn form_upload(
        &self,
        parts: &Parts,
        body: Incoming,
        bucket: String,
        request_id: &str,
    ) -> Response<ResponseBody> {
        let model = model("s3").expect("S3's model is embedded");
        let result = self.form_upload_inner(parts, body, &bucket, request_id).await;
        result
            .unwrap_or_else(|err| codec::encode_error(Some(model), Protocol::RestXml, &err, request_id, &parts.method))
    }

    async fn form_upload_inner(
        &self,
        parts: &Parts,
        body: Incoming,
        bucket: &str,
        request_id: &str,
    ) -> Result<Response<ResponseBody>, AwsError> {
        let malformed = |detail: &str| {
            AwsError::new(
                400,
                "MalformedPOSTRequest",
                format!("The body of your POST request is not well-formed multipart/form-data. {detail}"),
            )
        };
        let content_type = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let boundary = multer::parse_boundary(content_type).map_err(|_| malformed("The boundary is missing."))?;
        let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut size = 0usize;
        let file = loop {
            let Some(field) = multipart.next_field().await.map_err(|e| malformed(&e.to_string()))? else {
                return Err(AwsError::new(
                    400,
                    "InvalidArgument",
                    "POST requires exactly one file upload per request.",
                )
                .with_field("ArgumentName", "file"));
            };
            let name = field.name().unwrap_or_default().to_string();
            if name.eq_ignore_ascii_case("file") {
                break field;
            }
            let value = field.text().await.map_err(|e| malformed(&e.to_string()))?;
            size += name.len() + value.len();
            if size > MAX_FIELDS_BYTES {
                return Err(malformed("The form fields exceed 20 KB."));
            }
            fields.push((name, value));
        };
        let lookup = |name: &str| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        let verified = self.verifier.verify_form(&lookup).map_err(|f| f.to_aws_error(ServiceFamily::S3))?;
        let range = check_policy(&lookup("policy").unwrap_or_default(), bucket, &fields, SystemTime::now())?;
        let filename = file.file_name().map(str::to_string);
        let input = put_input(bucket, &fields, filename.as_deref())?;
        let key = input["Key"].as_str().unwrap_or_default().to_string();
        let mut ctx = verified.request_context();
        ctx.request_id = request_id.to_string();
        if ctx.region.is_empty() {
            ctx.region = self.settings.region.clone();
        }
        let op = model("s3").and_then(|m| m.operation("PutObject")).expect("S3's model has PutObject");
        let put =
            self.call("s3", op, Protocol::RestXml, ctx, input.into(), Some(limited(file, range)), request_id).await?;
        let etag = put.headers().get("etag").cloned();
        let status =
            lookup("success_action_status").and_then(|s| s.parse::<u16>().ok()).filter(|s| [200, 201, 204].contains(s));
        let location = format!("/{bucket}/{key}");
        let mut resp = match (lookup("success_action_redirect").or_else(|| lookup("redirect")), status) {
            (Some(redirect), _) => {
                let sep = if redirect.contains('?') { '&' } else { '?' };
                let etag_text = etag.as_ref().and_then(|e| e.to_str().ok()).unwrap_or_default();
                let query: String = form_urlencoded::Serializer::new(String::new())
                    .append_pair("bucket", bucket)
                    .append_pair("key", &key)
                    .append_pair("etag", etag_text)
                    .finish();
                let mut r = Response::new(codec::full_body(Bytes::new()));
                *r.status_mut() = StatusCode::SEE_OTHER;
                if let Ok(v) = HeaderValue::from_str(&format!("{redirect}{sep}{query}")) {
                    r.headers_mut().insert(http::header::LOCATION, v);
                }
                r
            }
            (None, Some(201)) => {
                let etag_text = etag.as_ref().and_then(|e| e.to_str().ok()).unwrap_or_default();
                let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse>");
                for (tag, text) in
                    [("Location", location.as_str()), ("Bucket", bucket), ("Key", key.as_str()), ("ETag", etag_text)]
                {
                    xml.push_str(&format!("<{tag}>"));
                    codec::xml::escape(text, &mut xml);
                    xml.push_str(&format!("</{tag}>"));
                }
                xml.push_str("</PostResponse>");
                let mut r = Response::new(codec::full_body(xml));
                *r.status_mut() = StatusCode::CREATED;
                r.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
                r
            }
            (None, s) => {
                let mut r = Response::new(codec::full_body(Bytes::new()));
                *r.status_mut() = StatusCode::from_u16(s.unwrap_or(204)).unwrap_or(StatusCode::NO_CONTENT);
                r
            }
        };
        for name in ["etag", "x-amz-version-id", "x-amz-request-id", "x-amz-id-2"] {
            if let Some(v) = put.headers().get(name) {
                resp.headers_mut().insert(name, v.clone());
            }
        }
        if resp.status() != StatusCode::SEE_OTHER
            && let Ok(v) = HeaderValue::from_str(&location)
        {
            resp.headers_mut().insert(http::header::LOCATION, v);
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(doc: Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(doc.to_string())
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn policies_are_checked_like_s3() {
        let doc = json!({"expiration": "2099-01-01T00:00:00Z", "conditions": [
            {"bucket": "b"}, ["starts-with", "$key", "uploads/"], {"acl": "private"},
            ["content-length-range", 1, 100], ["eq", "$Content-Type", "image/png"],
        ]});
        let ok = fields(&[
            ("key", "uploads/a.png"),
            ("acl", "private"),
            ("Content-Type", "image/png"),
            ("policy", "p"),
            ("x-ignore-me", "1"),
        ]);
        assert_eq!(check_policy(&policy(doc.clone()), "b", &ok, SystemTime::now()).unwrap(), Some((1, 100)));
        let wrong_key = fields(&[("key", "other/a.png"), ("acl", "private"), ("Content-Type", "image/png")]);
        let err = check_policy(&policy(doc.clone()), "b", &wrong_key, SystemTime::now()).unwrap_err();
        assert_eq!((err.status, err.code.as_ref()), (403, "AccessDenied"));
        assert!(err.message.starts_with("Invalid according to Policy: Policy Condition failed:"), "{}", err.message);
        assert!(check_policy(&policy(doc.clone()), "other-bucket", &ok, SystemTime::now()).is_err());
        let extra = fields(&[
            ("key", "uploads/a.png"),
            ("acl", "private"),
            ("Content-Type", "image/png"),
            ("x-amz-meta-x", "1"),
        ]);
        let err = check_policy(&policy(doc), "b", &extra, SystemTime::now()).unwrap_err();
        assert_eq!(err.message, "Invalid according to Policy: Extra input fields: x-amz-meta-x");
        let expired = json!({"expiration": "2001-01-01T00:00:00Z", "conditions": []});
        assert_eq!(
            check_policy(&policy(expired), "b", &[], SystemTime::now()).unwrap_err().message,
            "Invalid according to Policy: Policy expired."
        );
        assert_eq!(check_policy("%%%", "b", &[], SystemTime::now()).unwrap_err().code, "InvalidPolicyDocument");
    }

    #[test]
    fn form_fields_become_a_put_object_input() {
        let f = fields(&[("key", "up/${filename}"), ("Content-Type", "text/plain"), ("x-amz-meta-Owner", "me")]);
        let input = put_input("b", &f, Some("a.txt")).unwrap();
        assert_eq!(
            input,
            json!({"Bucket": "b", "Key": "up/a.txt", "ContentType": "text/plain", "Metadata": {"owner": "me"}})
        );
        assert_eq!(put_input("b", &[], None).unwrap_err().code, "InvalidArgument");
    }
}
