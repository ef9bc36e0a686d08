//! S3's errors, with the codes, statuses, messages and extra fields S3 returns.

use brume_core::AwsError;

pub fn no_such_bucket(bucket: &str) -> AwsError {
    AwsError::new(404, "NoSuchBucket", "The specified bucket does not exist").with_field("BucketName", bucket)
}

pub fn no_such_key(key: &str) -> AwsError {
    AwsError::new(404, "NoSuchKey", "The specified key does not exist.").with_field("Key", key)
}

pub fn no_such_version(key: &str, version_id: &str) -> AwsError {
    AwsError::new(404, "NoSuchVersion", "The specified version does not exist.")
        .with_field("Key", key)
        .with_field("VersionId", version_id)
}

pub fn access_denied() -> AwsError {
    AwsError::new(403, "AccessDenied", "Access Denied")
}

pub fn invalid_bucket_name(bucket: &str) -> AwsError {
    AwsError::new(400, "InvalidBucketName", "The specified bucket is not valid.").with_field("BucketName", bucket)
}

pub fn bucket_not_empty(bucket: &str) -> AwsError {
    AwsError::new(409, "BucketNotEmpty", "The bucket you tried to delete is not empty").with_field("BucketName", bucket)
}

pub fn bucket_already_owned_by_you(bucket: &str) -> AwsError {
    AwsError::new(
        409,
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
    )
    .with_field("BucketName", bucket)
}

pub fn bucket_already_exists(bucket: &str) -> AwsError {
    AwsError::new(
        409,
        "BucketAlreadyExists",
        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
    )
    .with_field("BucketName", bucket)
}

pub fn precondition_failed(condition: &str) -> AwsError {
    AwsError::new(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
        .with_field("Condition", condition)
}

pub fn not_modified() -> AwsError {
    AwsError::new(304, "NotModified", "Not Modified")
}

pub fn invalid_range(range: &str, size: u64) -> AwsError {
    AwsError::new(416, "InvalidRange", "The requested range is not satisfiable")
        .with_field("RangeRequested", range)
        .with_field("ActualObjectSize", size.to_string())
}

pub fn bad_digest() -> AwsError {
    AwsError::new(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
}

pub fn invalid_digest() -> AwsError {
    AwsError::new(400, "InvalidDigest", "The Content-MD5 you specified is not valid.")
}

pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> AwsError {
    AwsError::new(400, "InvalidArgument", message).with_field("ArgumentName", name).with_field("ArgumentValue", value)
}

pub fn invalid_request(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidRequest", message)
}

/// A request header asks for something Brume's S3 does not do, answered as S3 answers the
/// headers it does not support.
pub fn not_implemented_header(header: &str) -> AwsError {
    AwsError::new(501, "NotImplemented", "A header you provided implies functionality that is not implemented")
        .with_field("Header", header)
}

pub fn malformed_xml() -> AwsError {
    AwsError::new(
        400,
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

pub fn key_too_long() -> AwsError {
    AwsError::new(400, "KeyTooLongError", "Your key is too long")
}

/// `proposed`: the size the request declared, when it declared one.
pub fn entity_too_large(proposed: Option<u64>, max: u64) -> AwsError {
    let err = AwsError::new(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
    match proposed {
        Some(size) => err.with_field("ProposedSize", size.to_string()),
        None => err,
    }
    .with_field("MaxSizeAllowed", max.to_string())
}

pub fn metadata_too_large(size: usize, max: usize) -> AwsError {
    AwsError::new(400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")
        .with_field("Size", size.to_string())
        .with_field("MaxSizeAllowed", max.to_string())
}

pub fn method_not_allowed_delete_marker() -> AwsError {
    AwsError::new(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        .with_field("Method", "GET")
        .with_field("ResourceType", "DeleteMarker")
        .with_header("x-amz-delete-marker", "true")
}

/// An unexpected storage failure: logged, answered as S3's `InternalError`.
pub fn internal(e: impl std::fmt::Display) -> AwsError {
    tracing::error!(error = %e, "s3 storage failure");
    AwsError::new(500, "InternalError", "We encountered an internal error. Please try again.")
}
