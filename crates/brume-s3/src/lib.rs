//! Amazon S3 (restXml) for Brume: buckets and objects, kept through the storage traits —
//! object bytes in blobs under random ids, streamed in and out, or for small objects in
//! their records; records in the `s3` keyspace (see [`table`]).
//!
//! Access is the bucket owner's only until bucket policies are evaluated (the IAM work).

mod acl;
mod archive;
mod attributes;
mod body;
mod bucket;
pub mod checksum;
mod client;
mod config;
mod copy;
mod cors;
mod delete;
mod error;
mod lifecycle;
mod listing;
mod lock;
mod multipart;
mod notification;
mod object;
mod public;
mod read;
pub mod table;
mod tagging;
mod versioning;

use std::sync::Arc;

use brume_protocol::{Service, ServiceBuilder};
use brume_storage::{Blobs, Kv, Storage};

pub use cors::BucketCors;
pub use table::KEYSPACE;

/// S3's state: the stores it keeps records and bytes in.
pub struct S3 {
    kv: Arc<dyn Kv>,
    blobs: Arc<dyn Blobs>,
}

impl S3 {
    /// S3's state over `storage`. Cheap: nothing is read until a request needs it.
    pub fn new(storage: &Storage) -> Arc<S3> {
        Arc::new(S3 { kv: storage.kv.clone(), blobs: storage.blobs.clone() })
    }
}

/// The S3 service, ready for the gateway.
pub fn service(state: Arc<S3>) -> Service {
    let mut builder = ServiceBuilder::new("s3", state);
    for spec in config::SPECS {
        builder = builder.op(spec.get, move |s: Arc<S3>, ctx, input| s.get_config(ctx, input, spec));
        if let Some(put) = spec.put {
            builder = builder.op(put, move |s: Arc<S3>, ctx, input| s.put_config(ctx, input, spec));
        }
        if let Some(delete) = spec.delete {
            builder = builder.op(delete, move |s: Arc<S3>, ctx, input| s.delete_config(ctx, input, spec));
        }
    }
    builder
        .op("CreateBucket", S3::create_bucket)
        .op("HeadBucket", S3::head_bucket)
        .op("DeleteBucket", S3::delete_bucket)
        .op("ListBuckets", S3::list_buckets)
        .op("GetBucketLocation", S3::get_bucket_location)
        .op_stream("PutObject", S3::put_object)
        .op_stream("GetObject", S3::get_object)
        .op("HeadObject", S3::head_object)
        .op_stream("RestoreObject", S3::restore_object)
        .op("GetBucketPolicyStatus", S3::get_bucket_policy_status)
        .op("DeleteObject", S3::delete_object)
        .op("DeleteObjects", S3::delete_objects)
        .op("CopyObject", S3::copy_object)
        .op("ListObjectsV2", S3::list_objects_v2)
        .op("ListObjects", S3::list_objects)
        .op("CreateMultipartUpload", S3::create_multipart_upload)
        .op_stream("UploadPart", S3::upload_part)
        .op("UploadPartCopy", S3::upload_part_copy)
        .op("CompleteMultipartUpload", S3::complete_multipart_upload)
        .op("AbortMultipartUpload", S3::abort_multipart_upload)
        .op("ListParts", S3::list_parts)
        .op("ListMultipartUploads", S3::list_multipart_uploads)
        .op("GetObjectAttributes", S3::get_object_attributes)
        .op("GetObjectRetention", S3::object_lock_operation)
        .op("PutObjectRetention", S3::object_lock_operation)
        .op("GetObjectLegalHold", S3::object_lock_operation)
        .op("PutObjectLegalHold", S3::object_lock_operation)
        .op("GetBucketAcl", S3::get_bucket_acl)
        .op("PutBucketAcl", S3::put_bucket_acl)
        .op("GetObjectAcl", S3::get_object_acl)
        .op("PutObjectAcl", S3::put_object_acl)
        .op("PutObjectTagging", S3::put_object_tagging)
        .op("GetObjectTagging", S3::get_object_tagging)
        .op("DeleteObjectTagging", S3::delete_object_tagging)
        .op("PutBucketVersioning", S3::put_bucket_versioning)
        .op("GetBucketVersioning", S3::get_bucket_versioning)
        .op("ListObjectVersions", S3::list_object_versions)
        .op("PutBucketNotificationConfiguration", S3::put_bucket_notification_configuration)
        .op("GetBucketNotificationConfiguration", S3::get_bucket_notification_configuration)
        .build()
}
