//! Buckets: create (with S3's location constraint rules), head, delete (only when empty),
//! list, location. Names follow S3's rules for general purpose buckets.

use std::sync::Arc;

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext, looks_like_region};
use brume_storage::{Direction, Txn};
use serde::{Deserialize, Serialize};

use crate::table::{self, Bucket, KEYSPACE};
use crate::{S3, error, public};

/// S3's naming rules for general purpose buckets.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..=63).contains(&name.len())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !["xn--", "sthree-", "amzn-s3-demo-"].iter().any(|p| name.starts_with(p))
        && !["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].iter().any(|s| name.ends_with(s))
}

/// The canonical user id S3 reports as an account's owner id.
pub fn canonical_id(account: &str) -> String {
    use sha2::Digest as _;
    brume_core::hex(&sha2::Sha256::digest(format!("brume-canonical-user:{account}")))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Owner {
    #[serde(rename = "ID")]
    pub id: String,
    pub display_name: String,
}

pub fn owner(account: &str) -> Owner {
    Owner { id: canonical_id(account), display_name: account.to_string() }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBucketInput {
    bucket: String,
    create_bucket_configuration: Option<CreateBucketConfiguration>,
    object_lock_enabled_for_bucket: Option<bool>,
    object_ownership: Option<String>,
    #[serde(flatten)]
    acl: crate::acl::AclHeaders,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBucketConfiguration {
    location_constraint: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBucketOutput {
    location: String,
    bucket_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketInput {
    bucket: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HeadBucketOutput {
    bucket_region: String,
    bucket_arn: String,
    access_point_alias: bool,
}

#[derive(Serialize)]
pub struct Empty {}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBucketsInput {
    max_buckets: Option<i64>,
    continuation_token: Option<String>,
    prefix: Option<String>,
    bucket_region: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketEntry {
    name: String,
    creation_date: Timestamp,
    bucket_region: String,
    bucket_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBucketsOutput {
    buckets: Vec<BucketEntry>,
    owner: Owner,
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetBucketLocationOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    location_constraint: Option<String>,
}

impl S3 {
    pub(crate) async fn create_bucket(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CreateBucketInput,
    ) -> Result<CreateBucketOutput, AwsError> {
        let name = input.bucket;
        if !valid_name(&name) {
            return Err(error::invalid_bucket_name(&name));
        }
        // Refused rather than ignored: a bucket made without the retention it asked for
        // would let its objects be deleted.
        if input.object_lock_enabled_for_bucket == Some(true) {
            return Err(error::not_implemented_header("x-amz-bucket-object-lock-enabled"));
        }
        let constraint =
            input.create_bucket_configuration.and_then(|c| c.location_constraint).filter(|c| !c.is_empty());
        let region = match constraint {
            // us-east-1 is named by leaving the constraint out; naming it is an error.
            Some(c) if c == "us-east-1" || !looks_like_region(&c) => {
                return Err(AwsError::new(
                    400,
                    "InvalidLocationConstraint",
                    "The specified location-constraint is not valid",
                )
                .with_field("LocationConstraint", c));
            }
            // Requests to us-east-1 go to S3's global endpoint, which creates buckets in
            // any region; a regional endpoint only creates buckets in its own.
            Some(c) if ctx.region != "us-east-1" && c != ctx.region => {
                return Err(AwsError::new(
                    400,
                    "IllegalLocationConstraintException",
                    format!(
                        "The {c} location constraint is incompatible for the region specific endpoint this request was sent to."
                    ),
                ));
            }
            Some(c) => c,
            None if ctx.region != "us-east-1" => {
                return Err(AwsError::new(
                    400,
                    "IllegalLocationConstraintException",
                    "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
                ));
            }
            None => "us-east-1".to_string(),
        };
        // S3's defaults since April 2023: ACLs disabled unless the request says otherwise,
        // and every block of public access on.
        let ownership = input.object_ownership.unwrap_or_else(|| "BucketOwnerEnforced".into());
        if ownership == "BucketOwnerEnforced" && !input.acl.owner_only(&["private", "bucket-owner-full-control"]) {
            return Err(AwsError::new(
                400,
                "InvalidBucketAclWithObjectOwnership",
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            ));
        }
        if input.acl.public() {
            return Err(AwsError::new(
                400,
                "InvalidBucketAclWithBlockPublicAccessError",
                "Bucket cannot have public ACLs set with BlockPublicAccess enabled",
            ));
        }
        let config = [
            (public::BLOCK_KEY.to_string(), public::all_blocked()),
            (public::OWNERSHIP_KEY.to_string(), public::ownership(&ownership)),
        ];
        let record = Bucket {
            name: name.clone(),
            account: ctx.account.clone(),
            region: region.clone(),
            created: Timestamp::now().0,
            versioning: None,
            config: config.into(),
        };
        let account = ctx.account.clone();
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                if let Some(existing) = table::get_bucket(txn, &record.name).map_err(error::internal)? {
                    if existing.account != account {
                        return Err(error::bucket_already_exists(&record.name));
                    }
                    // us-east-1 keeps S3's legacy answer: success for your own bucket.
                    if existing.region == "us-east-1" && record.region == "us-east-1" {
                        return Ok(());
                    }
                    return Err(error::bucket_already_owned_by_you(&record.name));
                }
                txn.put(KEYSPACE, &table::bucket_key(&record.name), &table::encode(&record)).map_err(error::internal)
            })
            .await?;
        Ok(CreateBucketOutput { location: format!("/{name}"), bucket_arn: format!("arn:aws:s3:::{name}") })
    }

    pub(crate) async fn head_bucket(
        self: Arc<Self>,
        ctx: RequestContext,
        input: BucketInput,
    ) -> Result<HeadBucketOutput, AwsError> {
        let bucket = self.bucket(&ctx, &input.bucket)?;
        Ok(HeadBucketOutput {
            bucket_arn: format!("arn:aws:s3:::{}", bucket.name),
            bucket_region: bucket.region.clone(),
            access_point_alias: false,
        })
    }

    pub(crate) async fn delete_bucket(
        self: Arc<Self>,
        ctx: RequestContext,
        input: BucketInput,
    ) -> Result<Empty, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        let name = input.bucket;
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                if table::holds_versions(txn, &name).map_err(error::internal)? {
                    return Err(error::bucket_not_empty(&name));
                }
                if !crate::multipart::uploads_of(txn, &name, 1).map_err(error::internal)?.is_empty() {
                    return Err(error::bucket_not_empty(&name));
                }
                txn.delete(KEYSPACE, &table::bucket_key(&name)).map_err(error::internal)
            })
            .await?;
        Ok(Empty {})
    }

    pub(crate) async fn list_buckets(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListBucketsInput,
    ) -> Result<ListBucketsOutput, AwsError> {
        let max = input.max_buckets.unwrap_or(10_000);
        if !(1..=10_000).contains(&max) {
            return Err(error::invalid_argument(
                "Argument max-buckets must be an integer between 1 and 10000",
                "max-buckets",
                &max.to_string(),
            ));
        }
        let after = match &input.continuation_token {
            Some(t) => Some(crate::listing::decode_token(t)?),
            None => None,
        };
        let all =
            self.kv.scan(KEYSPACE, &table::all_buckets(), Direction::Forward, usize::MAX).map_err(error::internal)?;
        let mut buckets = Vec::new();
        let mut next = None;
        for (_, v) in all {
            let b: Bucket = table::decode(&v).map_err(error::internal)?;
            if b.account != ctx.account
                || input.prefix.as_deref().is_some_and(|p| !b.name.starts_with(p))
                || input.bucket_region.as_deref().is_some_and(|r| r != b.region)
                || after.as_deref().is_some_and(|a| b.name.as_str() <= a)
            {
                continue;
            }
            if buckets.len() as i64 == max {
                next = buckets.last().map(|e: &BucketEntry| crate::listing::encode_token(&e.name));
                break;
            }
            buckets.push(BucketEntry {
                bucket_arn: format!("arn:aws:s3:::{}", b.name),
                name: b.name,
                creation_date: Timestamp(b.created),
                bucket_region: b.region,
            });
        }
        Ok(ListBucketsOutput { buckets, owner: owner(&ctx.account), continuation_token: next, prefix: input.prefix })
    }

    pub(crate) async fn get_bucket_location(
        self: Arc<Self>,
        ctx: RequestContext,
        input: BucketInput,
    ) -> Result<GetBucketLocationOutput, AwsError> {
        let bucket = self.bucket(&ctx, &input.bucket)?;
        // us-east-1 is reported as an empty constraint, as S3 does.
        Ok(GetBucketLocationOutput {
            location_constraint: (bucket.region != "us-east-1").then_some(bucket.region.clone()),
        })
    }

    /// The bucket `name` if it exists and the caller owns it.
    pub(crate) fn bucket(&self, ctx: &RequestContext, name: &str) -> Result<Arc<Bucket>, AwsError> {
        let bucket = table::read_bucket(self.kv.as_ref(), name)
            .map_err(error::internal)?
            .ok_or_else(|| error::no_such_bucket(name))?;
        // Bucket policies and ACL grants are not evaluated yet: only the owner gets in.
        if bucket.account != ctx.account {
            return Err(error::access_denied());
        }
        Ok(bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket.data", "a1b", "0bucket9", &"a".repeat(63)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "a_b",
            "abc.",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
