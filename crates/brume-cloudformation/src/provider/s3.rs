//! AWS::S3::Bucket and AWS::S3::BucketPolicy through S3. A bucket's Ref is its name; each
//! configuration property is applied with its own S3 operation (versioning, notifications,
//! tags, lifecycle, CORS, public access block, website, encryption, ownership controls),
//! its CloudFormation shape turned into the operation's.

use brume_core::AwsError;
use brume_core::clients::AwsSdkClient;
use serde_json::{Map, Value, json};

use super::{Provider, Provisioned, Request, call, changed, copy, document, ignore_gone, number, provisioned, text};

pub(super) struct Bucket;
pub(super) struct BucketPolicy;

/// The name of a bucket: `BucketName`, or `<stack>-<logical>-<random>` lower-cased.
fn bucket_name(request: &Request<'_>) -> String {
    request.text("BucketName").unwrap_or_else(|| request.generated_name(63).to_lowercase())
}

/// The regions whose website endpoints join `s3-website` and the region with a dash; the
/// others join them with a dot.
const DASHED_WEBSITE_REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "eu-west-1",
    "sa-east-1",
    "us-gov-west-1",
];

fn answer(request: &Request<'_>, name: &str) -> Provisioned {
    let region = request.region;
    let joiner = if DASHED_WEBSITE_REGIONS.contains(&region) { '-' } else { '.' };
    provisioned(
        name,
        json!({
            "Arn": format!("arn:aws:s3:::{name}"),
            "DomainName": format!("{name}.s3.amazonaws.com"),
            "DualStackDomainName": format!("{name}.s3.dualstack.{region}.amazonaws.com"),
            "RegionalDomainName": format!("{name}.s3.{region}.amazonaws.com"),
            "WebsiteURL": format!("http://{name}.s3-website{joiner}{region}.amazonaws.com"),
        }),
    )
}

/// `Filter.S3Key.Rules` as S3's `Filter.Key.FilterRules`.
fn notification_filter(filter: &Value) -> Value {
    let rules = filter.pointer("/S3Key/Rules").cloned().unwrap_or_else(|| json!([]));
    json!({ "Key": { "FilterRules": rules } })
}

/// `AccessControl` (`PublicRead`) as S3's canned ACL (`public-read`).
fn canned_acl(access: &str) -> String {
    let mut out = String::new();
    for (i, c) in access.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// CloudFormation's NotificationConfiguration as S3's.
fn notification_configuration(config: &Value) -> Value {
    let mut out = Map::new();
    for (cfn, api, target, arn) in [
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
        ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
    ] {
        let Some(list) = config.get(cfn).and_then(Value::as_array) else { continue };
        let converted: Vec<Value> = list
            .iter()
            .map(|c| {
                let mut item = json!({ arn: c[target], "Events": [c["Event"]] });
                if let Some(filter) = c.get("Filter") {
                    item["Filter"] = notification_filter(filter);
                }
                item
            })
            .collect();
        out.insert(api.to_string(), Value::Array(converted));
    }
    if config.pointer("/EventBridgeConfiguration/EventBridgeEnabled").and_then(super::boolean) == Some(true) {
        out.insert("EventBridgeConfiguration".into(), json!({}));
    }
    Value::Object(out)
}

/// One CloudFormation lifecycle rule as S3's.
fn lifecycle_rule(rule: &Value) -> Value {
    let mut out = copy(rule, &["Status", "AbortIncompleteMultipartUpload"]);
    if let Some(id) = rule.get("Id") {
        out.insert("ID".into(), id.clone());
    }
    let mut filter = copy(rule, &["Prefix", "ObjectSizeGreaterThan", "ObjectSizeLessThan"]);
    for size in ["ObjectSizeGreaterThan", "ObjectSizeLessThan"] {
        if let Some(n) = filter.get(size).and_then(number) {
            filter.insert(size.into(), n);
        }
    }
    let tags: Vec<Value> = rule.get("TagFilters").and_then(Value::as_array).cloned().unwrap_or_default();
    let filter = match (filter.len(), tags.len()) {
        (0, 0) => json!({ "Prefix": "" }),
        (0, 1) => json!({ "Tag": tags[0] }),
        (1, 0) => Value::Object(filter),
        _ => {
            let mut and = filter;
            and.insert("Tags".into(), Value::Array(tags));
            json!({ "And": and })
        }
    };
    out.insert("Filter".into(), filter);
    let mut expiration = Map::new();
    if let Some(days) = rule.get("ExpirationInDays").and_then(number) {
        expiration.insert("Days".into(), days);
    }
    if let Some(date) = rule.get("ExpirationDate") {
        expiration.insert("Date".into(), date.clone());
    }
    if let Some(marker) = rule.get("ExpiredObjectDeleteMarker").and_then(super::boolean) {
        expiration.insert("ExpiredObjectDeleteMarker".into(), json!(marker));
    }
    if !expiration.is_empty() {
        out.insert("Expiration".into(), Value::Object(expiration));
    }
    if let Some(e) = rule.get("NoncurrentVersionExpiration") {
        out.insert("NoncurrentVersionExpiration".into(), e.clone());
    } else if let Some(days) = rule.get("NoncurrentVersionExpirationInDays").and_then(number) {
        out.insert("NoncurrentVersionExpiration".into(), json!({ "NoncurrentDays": days }));
    }
    let list = |many: &str, one: &str| -> Vec<Value> {
        match rule.get(many).and_then(Value::as_array) {
            Some(l) => l.clone(),
            None => rule.get(one).into_iter().cloned().collect(),
        }
    };
    let transitions: Vec<Value> = list("Transitions", "Transition")
        .iter()
        .map(|t| {
            let mut o = copy(t, &["StorageClass"]);
            if let Some(d) = t.get("TransitionInDays").and_then(number) {
                o.insert("Days".into(), d);
            }
            if let Some(d) = t.get("TransitionDate") {
                o.insert("Date".into(), d.clone());
            }
            Value::Object(o)
        })
        .collect();
    if !transitions.is_empty() {
        out.insert("Transitions".into(), Value::Array(transitions));
    }
    let noncurrent: Vec<Value> = list("NoncurrentVersionTransitions", "NoncurrentVersionTransition")
        .iter()
        .map(|t| {
            let mut o = copy(t, &["StorageClass", "NewerNoncurrentVersions"]);
            if let Some(d) = t.get("TransitionInDays").and_then(number) {
                o.insert("NoncurrentDays".into(), d);
            }
            Value::Object(o)
        })
        .collect();
    if !noncurrent.is_empty() {
        out.insert("NoncurrentVersionTransitions".into(), Value::Array(noncurrent));
    }
    Value::Object(out)
}

/// CloudFormation's CorsConfiguration as S3's CORSConfiguration.
fn cors_configuration(config: &Value) -> Value {
    let rules: Vec<Value> = config
        .get("CorsRules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let mut o = copy(r, &["AllowedHeaders", "AllowedMethods", "AllowedOrigins"]);
            if let Some(v) = r.get("Id") {
                o.insert("ID".into(), v.clone());
            }
            if let Some(v) = r.get("ExposedHeaders") {
                o.insert("ExposeHeaders".into(), v.clone());
            }
            if let Some(v) = r.get("MaxAge").and_then(number) {
                o.insert("MaxAgeSeconds".into(), v);
            }
            Value::Object(o)
        })
        .collect();
    json!({ "CORSRules": rules })
}

/// CloudFormation's WebsiteConfiguration as S3's.
fn website_configuration(config: &Value) -> Value {
    let mut out = Map::new();
    if let Some(index) = config.get("IndexDocument").and_then(text) {
        out.insert("IndexDocument".into(), json!({ "Suffix": index }));
    }
    if let Some(error) = config.get("ErrorDocument").and_then(text) {
        out.insert("ErrorDocument".into(), json!({ "Key": error }));
    }
    if let Some(redirect) = config.get("RedirectAllRequestsTo") {
        out.insert("RedirectAllRequestsTo".into(), redirect.clone());
    }
    if let Some(rules) = config.get("RoutingRules").and_then(Value::as_array) {
        let rules: Vec<Value> = rules
            .iter()
            .map(|r| {
                let mut o = Map::new();
                if let Some(c) = r.get("RoutingRuleCondition") {
                    o.insert("Condition".into(), c.clone());
                }
                if let Some(redirect) = r.get("RedirectRule") {
                    o.insert("Redirect".into(), redirect.clone());
                }
                Value::Object(o)
            })
            .collect();
        out.insert("RoutingRules".into(), Value::Array(rules));
    }
    Value::Object(out)
}

/// CloudFormation's BucketEncryption as S3's ServerSideEncryptionConfiguration
/// (`ServerSideEncryptionByDefault` is `ApplyServerSideEncryptionByDefault`).
fn encryption_configuration(config: &Value) -> Value {
    let rules: Vec<Value> = config
        .get("ServerSideEncryptionConfiguration")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let mut o = copy(r, &["BucketKeyEnabled", "BlockedEncryptionTypes"]);
            if let Some(v) = r.get("ServerSideEncryptionByDefault") {
                o.insert("ApplyServerSideEncryptionByDefault".into(), v.clone());
            }
            if let Some(b) = o.get("BucketKeyEnabled").and_then(super::boolean) {
                o.insert("BucketKeyEnabled".into(), json!(b));
            }
            Value::Object(o)
        })
        .collect();
    json!({ "Rules": rules })
}

/// A configuration's status, `Suspended` once the property is removed: versioning and
/// acceleration cannot be deleted, only suspended.
fn status(v: &Value, member: &str) -> Value {
    v.get(member).cloned().unwrap_or_else(|| json!("Suspended"))
}

/// One configuration property: its name, the S3 operations that put and delete it, and
/// the put's input built from the property (from `{}` when the property is removed and
/// there is no delete).
struct Setting {
    property: &'static str,
    put: &'static str,
    delete: Option<&'static str>,
    input: fn(&Value) -> (&'static str, Value),
}

const SETTINGS: &[Setting] = &[
    Setting {
        property: "VersioningConfiguration",
        put: "PutBucketVersioning",
        delete: None,
        input: |v| ("VersioningConfiguration", json!({ "Status": status(v, "Status") })),
    },
    Setting {
        property: "AccelerateConfiguration",
        put: "PutBucketAccelerateConfiguration",
        delete: None,
        input: |v| ("AccelerateConfiguration", json!({ "Status": status(v, "AccelerationStatus") })),
    },
    Setting {
        property: "NotificationConfiguration",
        put: "PutBucketNotificationConfiguration",
        delete: None,
        input: |v| ("NotificationConfiguration", notification_configuration(v)),
    },
    Setting {
        property: "LifecycleConfiguration",
        put: "PutBucketLifecycleConfiguration",
        delete: Some("DeleteBucketLifecycle"),
        input: |v| {
            let rules: Vec<Value> = v["Rules"].as_array().into_iter().flatten().map(lifecycle_rule).collect();
            ("LifecycleConfiguration", json!({ "Rules": rules }))
        },
    },
    Setting {
        property: "CorsConfiguration",
        put: "PutBucketCors",
        delete: Some("DeleteBucketCors"),
        input: |v| ("CORSConfiguration", cors_configuration(v)),
    },
    Setting {
        property: "PublicAccessBlockConfiguration",
        put: "PutPublicAccessBlock",
        delete: Some("DeletePublicAccessBlock"),
        input: |v| ("PublicAccessBlockConfiguration", v.clone()),
    },
    Setting {
        property: "WebsiteConfiguration",
        put: "PutBucketWebsite",
        delete: Some("DeleteBucketWebsite"),
        input: |v| ("WebsiteConfiguration", website_configuration(v)),
    },
    Setting {
        property: "BucketEncryption",
        put: "PutBucketEncryption",
        delete: Some("DeleteBucketEncryption"),
        input: |v| ("ServerSideEncryptionConfiguration", encryption_configuration(v)),
    },
    Setting {
        property: "OwnershipControls",
        put: "PutBucketOwnershipControls",
        delete: Some("DeleteBucketOwnershipControls"),
        input: |v| ("OwnershipControls", v.clone()),
    },
];

/// Applies the configuration properties that differ from `old` (all of them on create),
/// and the tags.
async fn configure(
    sdk: &dyn AwsSdkClient,
    request: &Request<'_>,
    bucket: &str,
    old: Option<&Value>,
) -> Result<(), AwsError> {
    let empty = json!({});
    let before = old.unwrap_or(&empty);
    if old.is_some() && changed(before, request.properties, &["AccessControl"]) {
        let acl = canned_acl(&request.text("AccessControl").unwrap_or_else(|| "Private".into()));
        call(sdk, request, "s3", "PutBucketAcl", json!({ "Bucket": bucket, "ACL": acl })).await?;
    }
    for setting in SETTINGS {
        if !changed(before, request.properties, &[setting.property]) {
            continue;
        }
        match (request.prop(setting.property), setting.delete) {
            (Some(v), _) => {
                let (member, value) = (setting.input)(v);
                call(sdk, request, "s3", setting.put, json!({ "Bucket": bucket, member: value })).await?;
            }
            (None, Some(delete)) => {
                call(sdk, request, "s3", delete, json!({ "Bucket": bucket })).await?;
            }
            (None, None) => {
                let (member, value) = (setting.input)(&empty);
                call(sdk, request, "s3", setting.put, json!({ "Bucket": bucket, member: value })).await?;
            }
        }
    }
    let tags = super::tag_objects(&request.tags());
    call(sdk, request, "s3", "PutBucketTagging", json!({ "Bucket": bucket, "Tagging": { "TagSet": tags } })).await?;
    Ok(())
}

#[async_trait::async_trait]
impl Provider for Bucket {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let name = bucket_name(request);
        let mut input = json!({ "Bucket": name });
        if request.region != "us-east-1" {
            input["CreateBucketConfiguration"] = json!({ "LocationConstraint": request.region });
        }
        if let Some(enabled) = request.prop("ObjectLockEnabled").and_then(super::boolean) {
            input["ObjectLockEnabledForBucket"] = json!(enabled);
        }
        if let Some(access) = request.text("AccessControl") {
            input["ACL"] = json!(canned_acl(&access));
        }
        call(sdk, request, "s3", "CreateBucket", input).await?;
        configure(sdk, request, &name, None).await?;
        Ok(answer(request, &name))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        name: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError> {
        configure(sdk, request, name, Some(old)).await?;
        Ok(answer(request, name))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, name: &str) -> Result<(), AwsError> {
        ignore_gone(call(sdk, request, "s3", "DeleteBucket", json!({ "Bucket": name })).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["BucketName", "ObjectLockEnabled"])
    }

    fn generated_id(&self, request: &Request<'_>) -> Option<String> {
        request.name_or_generated("BucketName", 63).map(|name| name.to_lowercase())
    }
}

#[async_trait::async_trait]
impl Provider for BucketPolicy {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let bucket = request.text("Bucket").unwrap_or_default();
        let policy = request.prop("PolicyDocument").map(document).unwrap_or_default();
        call(sdk, request, "s3", "PutBucketPolicy", json!({ "Bucket": bucket, "Policy": policy })).await?;
        Ok(provisioned(bucket, json!({})))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        _: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        self.create(sdk, request).await
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, bucket: &str) -> Result<(), AwsError> {
        ignore_gone(call(sdk, request, "s3", "DeleteBucketPolicy", json!({ "Bucket": bucket })).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["Bucket"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::tests::request;

    #[test]
    fn unnamed_buckets_are_lower_case_and_answer_their_domains() {
        let props = json!({});
        let r = request(&props, &[]);
        let name = bucket_name(&r);
        assert!(name.starts_with("my-stack-myqueue-") && name == name.to_lowercase(), "{name}");
        let a = answer(&r, "b").attributes;
        assert_eq!(a["Arn"], "arn:aws:s3:::b");
        assert_eq!(a["DomainName"], "b.s3.amazonaws.com");
        assert_eq!(a["RegionalDomainName"], "b.s3.us-east-1.amazonaws.com");
        assert_eq!(a["WebsiteURL"], "http://b.s3-website-us-east-1.amazonaws.com");
        let frankfurt = Request { region: "eu-central-1", ..request(&props, &[]) };
        assert_eq!(answer(&frankfurt, "b").attributes["WebsiteURL"], "http://b.s3-website.eu-central-1.amazonaws.com");
    }

    #[test]
    fn notifications_become_s3_configurations() {
        let config = json!({
            "QueueConfigurations": [{
                "Event": "s3:ObjectCreated:*",
                "Queue": "arn:aws:sqs:us-east-1:1:q",
                "Filter": { "S3Key": { "Rules": [{ "Name": "prefix", "Value": "in/" }] } },
            }],
            "LambdaConfigurations": [{ "Event": "s3:ObjectRemoved:*", "Function": "arn:f" }],
        });
        let c = notification_configuration(&config);
        assert_eq!(
            c["QueueConfigurations"][0],
            json!({
                "QueueArn": "arn:aws:sqs:us-east-1:1:q",
                "Events": ["s3:ObjectCreated:*"],
                "Filter": { "Key": { "FilterRules": [{ "Name": "prefix", "Value": "in/" }] } },
            })
        );
        assert_eq!(c["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"], "arn:f");
    }

    #[test]
    fn lifecycle_and_cors_rules_are_renamed() {
        let rule = json!({ "Id": "r", "Status": "Enabled", "Prefix": "logs/", "ExpirationInDays": "30",
            "NoncurrentVersionExpirationInDays": 7, "Transitions": [{ "StorageClass": "GLACIER", "TransitionInDays": 10 }] });
        assert_eq!(
            lifecycle_rule(&rule),
            json!({ "Status": "Enabled", "ID": "r", "Filter": { "Prefix": "logs/" }, "Expiration": { "Days": 30 },
                "NoncurrentVersionExpiration": { "NoncurrentDays": 7 },
                "Transitions": [{ "StorageClass": "GLACIER", "Days": 10 }] })
        );
        let cors = json!({ "CorsRules": [{ "AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "MaxAge": 60, "ExposedHeaders": ["ETag"] }] });
        assert_eq!(
            cors_configuration(&cors),
            json!({ "CORSRules": [{ "AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 60 }] })
        );
        let encryption = json!({ "ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": { "SSEAlgorithm": "aws:kms" }, "BucketKeyEnabled": "true" }] });
        assert_eq!(
            encryption_configuration(&encryption),
            json!({ "Rules": [{ "BucketKeyEnabled": true, "ApplyServerSideEncryptionByDefault": { "SSEAlgorithm": "aws:kms" } }] })
        );
        let website = website_configuration(&json!({ "IndexDocument": "index.html", "ErrorDocument": "e.html" }));
        assert_eq!(
            website,
            json!({ "IndexDocument": { "Suffix": "index.html" }, "ErrorDocument": { "Key": "e.html" } })
        );
    }

    #[test]
    fn access_controls_are_canned_acls() {
        assert_eq!(canned_acl("PublicRead"), "public-read");
        assert_eq!(canned_acl("BucketOwnerFullControl"), "bucket-owner-full-control");
        assert_eq!(canned_acl("Private"), "private");
    }

    #[test]
    fn a_new_name_replaces_the_bucket() {
        assert!(Bucket.replaces(&json!({ "BucketName": "a" }), &json!({ "BucketName": "b" })));
        assert!(!Bucket.replaces(&json!({}), &json!({ "VersioningConfiguration": { "Status": "Enabled" } })));
    }
}
