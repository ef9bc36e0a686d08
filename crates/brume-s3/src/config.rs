//! Bucket configurations that S3 stores and returns as given: tagging, CORS, policy,
//! lifecycle, website, public access block, ownership controls, encryption, transfer
//! acceleration, request payment. One generic put/get/delete over [`Spec`]s; how a Get
//! answer is shaped (the configuration's members, or the configuration under one member)
//! is read from the model. Configurations Brume cannot act on yet (logging, replication,
//! Object Lock) have only their Get, which answers as S3 does for a bucket without one.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_storage::Txn;
use serde::Serialize;
use serde_json::{Value, json};

use crate::table::{self, Bucket, KEYSPACE};
use crate::{S3, error, lifecycle, public};

/// One stored configuration: its operations, the input member carrying it, where it is
/// kept, and the answer when there is none.
pub struct Spec {
    pub put: Option<&'static str>,
    pub get: &'static str,
    pub delete: Option<&'static str>,
    pub payload: &'static str,
    pub key: &'static str,
    missing: Missing,
    validate: fn(Put<'_>) -> Result<(), AwsError>,
    /// Input members kept beside the configuration and answered by its Put and Get (a
    /// header of the operations), with their value when the Put has none.
    members: &'static [(&'static str, &'static str)],
}

/// What a Get answers for a bucket without the configuration.
enum Missing {
    /// An error: code and message.
    Error(&'static str, &'static str),
    /// What every bucket has without a configuration.
    Default(fn() -> Value),
}

/// What a configuration's check sees: the request, its bucket, and the configuration,
/// which the check may complete (members S3 fills in).
pub struct Put<'a> {
    pub ctx: &'a RequestContext,
    pub bucket: &'a Bucket,
    pub config: &'a mut Value,
}

fn any(_: Put<'_>) -> Result<(), AwsError> {
    Ok(())
}

/// Bucket policies must be JSON documents, and not public where Block Public Access
/// blocks public policies.
fn policy(put: Put<'_>) -> Result<(), AwsError> {
    let text = put.config.as_str().unwrap_or_default();
    let document = match serde_json::from_str::<Value>(text) {
        Ok(document @ Value::Object(_)) => document,
        _ => {
            return Err(AwsError::new(
                400,
                "MalformedPolicy",
                "Policies must be valid JSON and the first byte must be '{'",
            ));
        }
    };
    if public::blocks(put.bucket, "BlockPublicPolicy") && public::is_public(&document) {
        let name = &put.bucket.name;
        return Err(public::blocked(put.ctx, "PutBucketPolicy", name, "public policies", "BlockPublicPolicy"));
    }
    Ok(())
}

/// Settings a PutPublicAccessBlock leaves out are off.
fn public_access_block(put: Put<'_>) -> Result<(), AwsError> {
    let Some(settings) = put.config.as_object_mut() else { return Err(error::malformed_xml()) };
    for s in public::SETTINGS {
        settings.entry(s).or_insert(Value::Bool(false));
    }
    Ok(())
}

/// At most 50 bucket tags with unique keys.
fn tag_set(put: Put<'_>) -> Result<(), AwsError> {
    let tags = put.config.get("TagSet").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut keys: Vec<&str> = tags.iter().filter_map(|t| t.get("Key")?.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(AwsError::new(400, "InvalidTag", "Cannot provide multiple Tags with the same key"));
    }
    if tags.len() > 50 {
        return Err(AwsError::new(400, "InvalidTag", "Bucket tag count cannot be greater than 50"));
    }
    Ok(())
}

/// The configuration's `member` is one of `allowed`, as the model's enum says; S3 rejects
/// any other value as it does XML that does not follow its schema.
fn one_of(v: &Value, member: &str, allowed: &[&str]) -> Result<(), AwsError> {
    match v.get(member).and_then(Value::as_str) {
        Some(value) if allowed.contains(&value) => Ok(()),
        _ => Err(error::malformed_xml()),
    }
}

/// Transfer acceleration is Enabled or Suspended, and not for names with periods (its
/// endpoint names the bucket as a virtual host under TLS).
fn accelerate(put: Put<'_>) -> Result<(), AwsError> {
    one_of(put.config, "Status", &["Enabled", "Suspended"])?;
    if put.bucket.name.contains('.') {
        return Err(error::invalid_request(
            "S3 Transfer Acceleration is not supported for buckets with periods (.) in their names",
        ));
    }
    Ok(())
}

fn payer(put: Put<'_>) -> Result<(), AwsError> {
    one_of(put.config, "Payer", &["BucketOwner", "Requester"])
}

pub const SPECS: &[Spec] = &[
    Spec {
        put: Some("PutBucketTagging"),
        get: "GetBucketTagging",
        delete: Some("DeleteBucketTagging"),
        payload: "Tagging",
        key: "tagging",
        missing: Missing::Error("NoSuchTagSet", "The TagSet does not exist"),
        validate: tag_set,
        members: &[],
    },
    Spec {
        put: Some("PutBucketCors"),
        get: "GetBucketCors",
        delete: Some("DeleteBucketCors"),
        payload: "CORSConfiguration",
        key: "cors",
        missing: Missing::Error("NoSuchCORSConfiguration", "The CORS configuration does not exist"),
        validate: any,
        members: &[],
    },
    Spec {
        put: Some("PutBucketPolicy"),
        get: "GetBucketPolicy",
        delete: Some("DeleteBucketPolicy"),
        payload: "Policy",
        key: "policy",
        missing: Missing::Error("NoSuchBucketPolicy", "The bucket policy does not exist"),
        validate: policy,
        members: &[],
    },
    Spec {
        put: Some("PutBucketLifecycleConfiguration"),
        get: "GetBucketLifecycleConfiguration",
        delete: Some("DeleteBucketLifecycle"),
        payload: "LifecycleConfiguration",
        key: "lifecycle",
        missing: Missing::Error("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"),
        validate: lifecycle::validate,
        members: &[("TransitionDefaultMinimumObjectSize", "all_storage_classes_128K")],
    },
    Spec {
        put: Some("PutBucketWebsite"),
        get: "GetBucketWebsite",
        delete: Some("DeleteBucketWebsite"),
        payload: "WebsiteConfiguration",
        key: "website",
        missing: Missing::Error(
            "NoSuchWebsiteConfiguration",
            "The specified bucket does not have a website configuration",
        ),
        validate: any,
        members: &[],
    },
    Spec {
        put: Some("PutPublicAccessBlock"),
        get: "GetPublicAccessBlock",
        delete: Some("DeletePublicAccessBlock"),
        payload: "PublicAccessBlockConfiguration",
        key: public::BLOCK_KEY,
        missing: Missing::Error(
            "NoSuchPublicAccessBlockConfiguration",
            "The public access block configuration was not found",
        ),
        validate: public_access_block,
        members: &[],
    },
    Spec {
        put: Some("PutBucketOwnershipControls"),
        get: "GetBucketOwnershipControls",
        delete: Some("DeleteBucketOwnershipControls"),
        payload: "OwnershipControls",
        key: public::OWNERSHIP_KEY,
        missing: Missing::Error("OwnershipControlsNotFoundError", "The bucket ownership controls were not found"),
        validate: any,
        members: &[],
    },
    Spec {
        put: Some("PutBucketEncryption"),
        get: "GetBucketEncryption",
        delete: Some("DeleteBucketEncryption"),
        payload: "ServerSideEncryptionConfiguration",
        key: "encryption",
        missing: Missing::Default(default_encryption),
        validate: any,
        members: &[],
    },
    Spec {
        put: Some("PutBucketAccelerateConfiguration"),
        get: "GetBucketAccelerateConfiguration",
        delete: None,
        payload: "AccelerateConfiguration",
        key: "accelerate",
        missing: Missing::Default(nothing),
        validate: accelerate,
        members: &[],
    },
    Spec {
        put: Some("PutBucketRequestPayment"),
        get: "GetBucketRequestPayment",
        delete: None,
        payload: "RequestPaymentConfiguration",
        key: "request_payment",
        missing: Missing::Default(|| json!({"Payer": "BucketOwner"})),
        validate: payer,
        members: &[],
    },
    Spec {
        put: None,
        get: "GetBucketLogging",
        delete: None,
        payload: "BucketLoggingStatus",
        key: "logging",
        missing: Missing::Default(nothing),
        validate: any,
        members: &[],
    },
    Spec {
        put: None,
        get: "GetBucketReplication",
        delete: None,
        payload: "ReplicationConfiguration",
        key: "replication",
        missing: Missing::Error("ReplicationConfigurationNotFoundError", "The replication configuration was not found"),
        validate: any,
        members: &[],
    },
    Spec {
        put: None,
        get: "GetObjectLockConfiguration",
        delete: None,
        payload: "ObjectLockConfiguration",
        key: "object_lock",
        missing: Missing::Error(
            "ObjectLockConfigurationNotFoundError",
            "Object Lock configuration does not exist for this bucket",
        ),
        validate: any,
        members: &[],
    },
];

fn nothing() -> Value {
    json!({})
}

#[derive(Serialize)]
pub struct Empty {}

/// The encryption every bucket has without a configuration: SSE-S3, as S3 applies today.
fn default_encryption() -> Value {
    json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": false}]})
}

fn bucket_name(input: &Value) -> String {
    input.get("Bucket").and_then(Value::as_str).unwrap_or_default().to_string()
}

impl S3 {
    pub(crate) async fn put_config(
        self: Arc<Self>,
        ctx: RequestContext,
        input: Value,
        spec: &'static Spec,
    ) -> Result<Value, AwsError> {
        let name = bucket_name(&input);
        let bucket = self.bucket(&ctx, &name)?;
        let mut config = input.get(spec.payload).cloned().ok_or_else(error::malformed_xml)?;
        (spec.validate)(Put { ctx: &ctx, bucket: &bucket, config: &mut config })?;
        let mut answer = json!({});
        for (member, default) in spec.members {
            let value = input.get(*member).cloned().unwrap_or_else(|| json!(default));
            config[*member] = value.clone();
            answer[*member] = value;
        }
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let mut b = table::get_bucket(txn, &name)?.ok_or_else(|| error::no_such_bucket(&name))?;
                b.config.insert(spec.key.into(), config);
                txn.put(KEYSPACE, &table::bucket_key(&name), &table::encode(&b))?;
                Ok::<_, AwsError>(())
            })
            .await?;
        Ok(answer)
    }

    pub(crate) async fn get_config(
        self: Arc<Self>,
        ctx: RequestContext,
        input: Value,
        spec: &'static Spec,
    ) -> Result<Value, AwsError> {
        let name = bucket_name(&input);
        let bucket = self.bucket(&ctx, &name)?;
        let stored = match (bucket.config.get(spec.key), &spec.missing) {
            (Some(v), _) => v.clone(),
            (None, Missing::Default(default)) => default(),
            (None, Missing::Error(code, message)) => {
                return Err(AwsError::new(404, *code, *message).with_field("BucketName", &name));
            }
        };
        // The answer either is the configuration's members or holds it under one member
        // (GetPublicAccessBlock); the model says which.
        let model = brume_protocol::model("s3").expect("S3's model is embedded");
        let output = model.operation(spec.get).and_then(|op| op.output.as_ref()).map(|o| model.shape(&o.shape));
        if output.is_some_and(|shape| shape.members.get(spec.payload).is_some()) {
            return Ok(json!({ spec.payload: stored }));
        }
        Ok(stored)
    }

    pub(crate) async fn delete_config(
        self: Arc<Self>,
        ctx: RequestContext,
        input: Value,
        spec: &'static Spec,
    ) -> Result<Empty, AwsError> {
        let name = bucket_name(&input);
        self.bucket(&ctx, &name)?;
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let mut b = table::get_bucket(txn, &name)?.ok_or_else(|| error::no_such_bucket(&name))?;
                b.config.remove(spec.key);
                txn.put(KEYSPACE, &table::bucket_key(&name), &table::encode(&b))?;
                Ok::<_, AwsError>(())
            })
            .await?;
        Ok(Empty {})
    }
}
