//! Object Lock, which no bucket has yet (CreateBucket refuses it): writes carrying retention
//! or a legal hold, and the per-object retention and legal-hold operations, get what S3
//! answers for a bucket without Object Lock, rather than being accepted and not applied.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use serde::de::IgnoredAny;
use serde_json::Value;

use crate::{S3, error};

/// The object-lock members of PutObject, CopyObject and CreateMultipartUpload, present or
/// not (their values do not matter: any is refused).
pub type Member = Option<IgnoredAny>;

/// Refuses a write that asks for retention or a legal hold, once its bucket is known.
pub fn refuse_on_write(mode: &Member, retain_until: &Member, legal_hold: &Member) -> Result<(), AwsError> {
    if mode.is_some() || retain_until.is_some() || legal_hold.is_some() {
        // S3 spells it so for these three writes, with spaces for the other operations.
        return Err(error::invalid_request("Bucket is missing ObjectLockConfiguration"));
    }
    Ok(())
}

impl S3 {
    /// GetObjectRetention, PutObjectRetention, GetObjectLegalHold, PutObjectLegalHold.
    pub(crate) async fn object_lock_operation(
        self: Arc<Self>,
        ctx: RequestContext,
        input: Value,
    ) -> Result<Value, AwsError> {
        let name = input.get("Bucket").and_then(Value::as_str).unwrap_or_default();
        self.bucket(&ctx, name)?;
        Err(error::invalid_request("Bucket is missing Object Lock Configuration"))
    }
}
