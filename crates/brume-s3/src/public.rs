//! Block Public Access: what S3 counts as public (a bucket policy, an ACL), and the
//! bucket settings that refuse it. New buckets get S3's defaults since April 2023 — every
//! block on, ACLs disabled (`BucketOwnerEnforced`) — as real, deletable configurations.
//!
//! A policy is public unless each statement that allows something names fixed principals,
//! or its conditions pin one of the keys S3 accepts as restricting (the source's IP range
//! /8 or narrower, ARN, VPC, endpoint, account or owner; the caller's organisation,
//! account, ARN or user id; a KMS key; an access point) to values without wildcards or
//! policy variables ("The meaning of public" in S3's user guide).

use std::net::IpAddr;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::S3;
use crate::table::Bucket;

/// Where a bucket's Block Public Access settings and object ownership are kept.
pub const BLOCK_KEY: &str = "public_access_block";
pub const OWNERSHIP_KEY: &str = "ownership";

/// The four settings, in S3's order.
pub const SETTINGS: [&str; 4] = ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"];

/// A new bucket's Block Public Access: every block on.
pub fn all_blocked() -> Value {
    Value::Object(SETTINGS.iter().map(|s| (s.to_string(), json!(true))).collect())
}

/// A new bucket's ownership controls.
pub fn ownership(object_ownership: &str) -> Value {
    json!({"Rules": [{"ObjectOwnership": object_ownership}]})
}

/// Whether `bucket`'s Block Public Access has `setting` on.
pub fn blocks(bucket: &Bucket, setting: &str) -> bool {
    bucket.config.get(BLOCK_KEY).and_then(|c| c.get(setting)).and_then(Value::as_bool) == Some(true)
}

/// The refusal of a public change `action` (`PutBucketPolicy`) on `resource` that the
/// block `setting` forbids; `what` is what it blocks ("public policies").
pub fn blocked(ctx: &RequestContext, action: &str, resource: &str, what: &str, setting: &str) -> AwsError {
    AwsError::new(
        403,
        "AccessDenied",
        format!(
            "User: {} is not authorized to perform: s3:{action} on resource: \"arn:aws:s3:::{resource}\" because {what} are blocked by the {setting} block public access setting.",
            ctx.caller_arn()
        ),
    )
}

/// The grantee URIs that make an ACL public: everyone, and any AWS account.
pub fn public_group(uri: &str) -> bool {
    uri.ends_with("/groups/global/AllUsers") || uri.ends_with("/groups/global/AuthenticatedUsers")
}

/// Condition keys whose fixed values make a statement not public.
const RESTRICTING: [&str; 13] = [
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
];

/// Operators that admit only the values they list (not their negations, not `IfExists`,
/// which also admits requests without the key).
const ADMITTING: [&str; 6] =
    ["stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"];

/// Whether the bucket policy document `policy` is public.
pub fn is_public(policy: &Value) -> bool {
    let statements = match policy.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    statements.into_iter().any(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow") && public_statement(s))
}

fn public_statement(statement: &Value) -> bool {
    let anyone = match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (_, Some(_)) => true,
        (Some(p), None) => open_principal(p),
        (None, None) => false,
    };
    anyone && !restricted(statement.get("Condition"))
}

/// A principal anyone can be: `*`, any AWS principal, or a federated identity provider's
/// users.
fn open_principal(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s == "*",
        Value::Object(kinds) => {
            kinds.iter().any(|(kind, v)| kind == "Federated" || (kind == "AWS" && strings(v).iter().any(|s| s == "*")))
        }
        _ => false,
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// Whether `conditions` pin a restricting key to fixed values.
fn restricted(conditions: Option<&Value>) -> bool {
    let Some(Value::Object(operators)) = conditions else { return false };
    operators.iter().any(|(operator, keys)| {
        let operator = operator.to_ascii_lowercase();
        let operator =
            operator.strip_prefix("forallvalues:").or(operator.strip_prefix("foranyvalue:")).unwrap_or(&operator);
        ADMITTING.contains(&operator)
            && keys.as_object().is_some_and(|keys| {
                keys.iter().any(|(key, values)| {
                    let key = key.to_ascii_lowercase();
                    let values = strings(values);
                    RESTRICTING.contains(&key.as_str()) && !values.is_empty() && values.iter().all(|v| fixed(&key, v))
                })
            })
    })
}

/// A value without wildcards or policy variables; for source IPs, a range of /8 or
/// narrower (IPv4) or /32 or narrower (IPv6).
fn fixed(key: &str, value: &str) -> bool {
    if value.contains(['*', '?']) || value.contains("${") {
        return false;
    }
    if key != "aws:sourceip" {
        return true;
    }
    let (address, bits) = value.split_once('/').map_or((value, None), |(a, b)| (a, b.parse::<u8>().ok()));
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => bits.is_none_or(|b| b >= 8),
        Ok(IpAddr::V6(_)) => bits.is_none_or(|b| b >= 32),
        Err(_) => false,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketInput {
    bucket: String,
}

impl S3 {
    /// GetBucketPolicyStatus: whether the bucket's policy is public.
    pub(crate) async fn get_bucket_policy_status(
        self: Arc<Self>,
        ctx: RequestContext,
        input: BucketInput,
    ) -> Result<Value, AwsError> {
        let bucket = self.bucket(&ctx, &input.bucket)?;
        let document = bucket
            .config
            .get("policy")
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .ok_or_else(|| {
                AwsError::new(404, "NoSuchBucketPolicy", "The bucket policy does not exist")
                    .with_field("BucketName", &bucket.name)
            })?;
        Ok(json!({"PolicyStatus": {"IsPublic": is_public(&document)}}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(principal: Value, condition: Option<Value>) -> Value {
        let mut s = json!({"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": "*"});
        if let Some(c) = condition {
            s["Condition"] = c;
        }
        json!({"Version": "2012-10-17", "Statement": [s]})
    }

    #[test]
    fn open_principals_without_restricting_conditions_are_public() {
        for p in [
            json!("*"),
            json!({"AWS": "*"}),
            json!({"AWS": ["arn:aws:iam::111122223333:root", "*"]}),
            json!({"Federated": "graph.facebook.com"}),
        ] {
            assert!(is_public(&allow(p.clone(), None)), "{p}");
        }
        for p in [
            json!({"AWS": "arn:aws:iam::111122223333:root"}),
            json!({"Service": "cloudfront.amazonaws.com"}),
            json!({"CanonicalUser": "abc"}),
        ] {
            assert!(!is_public(&allow(p.clone(), None)), "{p}");
        }
        // A statement object, not a list; a Deny is never public; NotPrincipal allows nearly anyone.
        let one = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*"}});
        assert!(is_public(&one));
        assert!(!is_public(&json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*"}]})));
        assert!(is_public(
            &json!({"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}}]})
        ));
    }

    #[test]
    fn fixed_values_of_restricting_keys_make_statements_not_public() {
        let not_public = [
            json!({"StringEquals": {"aws:SourceVpc": "vpc-91237329"}}),
            json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}}),
            json!({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}),
            json!({"ArnEquals": {"aws:SourceArn": "arn:aws:cloudfront::111122223333:distribution/E1"}}),
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}),
        ];
        for c in not_public {
            assert!(!is_public(&allow(json!("*"), Some(c.clone()))), "{c}");
        }
        let public = [
            json!({"StringLike": {"aws:SourceVpc": "vpc-*"}}),
            json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}}),
            json!({"IpAddress": {"aws:SourceIp": "2001::/16"}}),
            json!({"StringNotEquals": {"aws:SourceVpc": "vpc-1"}}),
            json!({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}),
            json!({"StringEquals": {"aws:SourceAccount": "${aws:PrincipalAccount}"}}),
            json!({"Bool": {"aws:SecureTransport": "true"}}),
            json!({"StringEquals": {"s3:ExistingObjectTag/public": "yes"}}),
        ];
        for c in public {
            assert!(is_public(&allow(json!("*"), Some(c.clone()))), "{c}");
        }
    }
}
