//! Access control lists, as S3 keeps them for buckets with the default object ownership
//! (`BucketOwnerEnforced`): ACLs are disabled, every bucket and object reports the owner's
//! `FULL_CONTROL` grant, and only ACLs that amount to it (`private`, the owner's grant
//! alone) are accepted; any other is refused with `AccessControlListNotSupported` — a
//! public one first with `AccessDenied` while the bucket blocks public ACLs
//! ([`crate::public`]).

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_storage::Txn;
use serde::{Deserialize, Serialize};

use crate::bucket::{Owner, canonical_id, owner};
use crate::{S3, error, notification, public};

#[derive(Deserialize, Serialize, Default)]
pub struct Grantee {
    #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(rename = "DisplayName", skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(rename = "URI", skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    #[serde(rename = "EmailAddress", skip_serializing_if = "Option::is_none")]
    email_address: Option<String>,
    #[serde(rename = "Type")]
    kind: String,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Grant {
    grantee: Option<Grantee>,
    permission: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct AccessControlPolicy {
    grants: Vec<Grant>,
}

/// The canned ACL and grant headers of a request that sets an ACL (CreateBucket,
/// PutBucketAcl, PutObjectAcl).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AclHeaders {
    #[serde(rename = "ACL")]
    acl: Option<String>,
    #[serde(rename = "GrantFullControl")]
    grant_full_control: Option<String>,
    #[serde(rename = "GrantRead")]
    grant_read: Option<String>,
    #[serde(rename = "GrantReadACP")]
    grant_read_acp: Option<String>,
    #[serde(rename = "GrantWrite")]
    grant_write: Option<String>,
    #[serde(rename = "GrantWriteACP")]
    grant_write_acp: Option<String>,
}

impl AclHeaders {
    fn grants(&self) -> impl Iterator<Item = &String> {
        [&self.grant_full_control, &self.grant_read, &self.grant_read_acp, &self.grant_write, &self.grant_write_acp]
            .into_iter()
            .flatten()
    }

    /// Whether they grant anything to everyone or to any AWS account.
    pub fn public(&self) -> bool {
        matches!(self.acl.as_deref(), Some("public-read" | "public-read-write" | "authenticated-read"))
            || self.grants().flat_map(|g| g.split(',')).any(|grantee| {
                grantee.trim().strip_prefix("uri=").is_some_and(|uri| public::public_group(uri.trim_matches('"')))
            })
    }

    /// Whether they amount to the owner's full control alone (no grant header, and no canned
    /// ACL or one of `canned`).
    pub fn owner_only(&self, canned: &[&str]) -> bool {
        self.grants().next().is_none() && self.acl.as_deref().is_none_or(|a| canned.contains(&a))
    }
}

/// The ACL members PutBucketAcl and PutObjectAcl share.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AclInput {
    #[serde(rename = "Bucket")]
    bucket: String,
    #[serde(rename = "Key")]
    key: Option<String>,
    #[serde(rename = "VersionId")]
    version_id: Option<String>,
    #[serde(rename = "AccessControlPolicy")]
    policy: Option<AccessControlPolicy>,
    #[serde(flatten)]
    headers: AclHeaders,
}

impl AclInput {
    fn public(&self) -> bool {
        let grantees = self.policy.iter().flat_map(|p| &p.grants).filter_map(|g| g.grantee.as_ref());
        self.headers.public() || grantees.filter_map(|g| g.uri.as_deref()).any(public::public_group)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketInput {
    bucket: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectInput {
    bucket: String,
    key: String,
    version_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AclOutput {
    owner: Owner,
    grants: Vec<Grant>,
}

#[derive(Serialize)]
pub struct Empty {}

fn acls_not_supported() -> AwsError {
    AwsError::new(400, "AccessControlListNotSupported", "The bucket does not allow ACLs")
}

/// The owner's full control: the one grant of every bucket and object.
fn owner_acl(account: &str) -> AclOutput {
    let grantee = Grantee {
        id: Some(canonical_id(account)),
        display_name: Some(account.to_string()),
        kind: "CanonicalUser".into(),
        ..Default::default()
    };
    AclOutput {
        owner: owner(account),
        grants: vec![Grant { grantee: Some(grantee), permission: Some("FULL_CONTROL".into()) }],
    }
}

/// Whether the ACL a request sets amounts to the owner's full control alone, the only one
/// a bucket with ACLs disabled takes.
fn check_acl(input: &AclInput, account: &str, canned: &[&str]) -> Result<(), AwsError> {
    if input.headers.grants().next().is_some() {
        return Err(acls_not_supported());
    }
    match (&input.headers.acl, &input.policy) {
        (Some(_), Some(_)) => Err(AwsError::new(400, "UnexpectedContent", "This request does not support content")),
        (Some(acl), None) if canned.contains(&acl.as_str()) => Ok(()),
        (Some(_), None) => Err(acls_not_supported()),
        (None, Some(policy)) => {
            let id = canonical_id(account);
            let owner_only = policy.grants.iter().all(|g| {
                g.permission.as_deref() == Some("FULL_CONTROL")
                    && g.grantee.as_ref().is_some_and(|e| e.kind == "CanonicalUser" && e.id.as_deref() == Some(&id))
            });
            if owner_only { Ok(()) } else { Err(acls_not_supported()) }
        }
        (None, None) => Err(error::malformed_xml()),
    }
}

impl S3 {
    pub(crate) async fn get_bucket_acl(
        self: Arc<Self>,
        ctx: RequestContext,
        input: BucketInput,
    ) -> Result<AclOutput, AwsError> {
        let bucket = self.bucket(&ctx, &input.bucket)?;
        Ok(owner_acl(&bucket.account))
    }

    pub(crate) async fn put_bucket_acl(
        self: Arc<Self>,
        ctx: RequestContext,
        input: AclInput,
    ) -> Result<Empty, AwsError> {
        let bucket = self.bucket(&ctx, &input.bucket)?;
        if public::blocks(&bucket, "BlockPublicAcls") && input.public() {
            let what = "public access control lists (ACLs)";
            return Err(public::blocked(&ctx, "PutBucketAcl", &bucket.name, what, "BlockPublicAcls"));
        }
        check_acl(&input, &bucket.account, &["private"])?;
        Ok(Empty {})
    }

    pub(crate) async fn get_object_acl(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ObjectInput,
    ) -> Result<AclOutput, AwsError> {
        let bucket = self.bucket(&ctx, &input.bucket)?;
        crate::read::version_to_change(self.kv.as_ref(), &input.bucket, &input.key, input.version_id.as_deref())?;
        Ok(owner_acl(&bucket.account))
    }

    pub(crate) async fn put_object_acl(
        self: Arc<Self>,
        ctx: RequestContext,
        input: AclInput,
    ) -> Result<Empty, AwsError> {
        let bucket = self.bucket(&ctx, &input.bucket)?;
        let key = input.key.clone().unwrap_or_default();
        crate::read::version_to_change(self.kv.as_ref(), &input.bucket, &key, input.version_id.as_deref())?;
        if public::blocks(&bucket, "BlockPublicAcls") && input.public() {
            let (resource, what) = (format!("{}/{key}", bucket.name), "public access control lists (ACLs)");
            return Err(public::blocked(&ctx, "PutObjectAcl", &resource, what, "BlockPublicAcls"));
        }
        check_acl(&input, &bucket.account, &["private", "bucket-owner-full-control"])?;
        // The ACL asked for is the one the object has; the request is an ACL change all the
        // same, with its event.
        let (version_id, request_id) = (input.version_id.clone(), ctx.request_id.clone());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let (_, version) = crate::read::version_to_change(txn, &bucket.name, &key, version_id.as_deref())?;
                notification::enqueue(txn, &bucket, "ObjectAcl:Put", &version, &request_id)?;
                Ok::<_, AwsError>(())
            })
            .await?;
        Ok(Empty {})
    }
}
