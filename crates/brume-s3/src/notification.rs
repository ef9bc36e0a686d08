//! Event notifications: the bucket's notification configuration, and the S3 event records
//! written to the durable outbox in the same transaction as the change that causes them,
//! for delivery to SQS, SNS or Lambda (`brume-events`). Until those services exist the
//! events stay in the outbox, pending; none is dropped.

use std::sync::Arc;

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_events::{Clock as _, Event, SystemClock};
use brume_storage::{StorageError, Txn};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::table::{self, Bucket, KEYSPACE, Version};
use crate::{S3, error};

const CONFIG_KEY: &str = "notification";

/// Who S3's own changes (lifecycle's) are made by, in event records.
pub(crate) const S3_PRINCIPAL: &str = "s3.amazonaws.com";

/// The event names S3 sends, without the `s3:` prefix.
const EVENTS: &[&str] = &[
    "ObjectCreated:*",
    "ObjectCreated:Put",
    "ObjectCreated:Post",
    "ObjectCreated:Copy",
    "ObjectCreated:CompleteMultipartUpload",
    "ObjectRemoved:*",
    "ObjectRemoved:Delete",
    "ObjectRemoved:DeleteMarkerCreated",
    "ObjectTagging:*",
    "ObjectTagging:Put",
    "ObjectTagging:Delete",
    "ObjectRestore:*",
    "ObjectRestore:Post",
    "ObjectRestore:Completed",
    "ObjectRestore:Delete",
    "ObjectAcl:Put",
    "LifecycleExpiration:*",
    "LifecycleExpiration:Delete",
    "LifecycleExpiration:DeleteMarkerCreated",
    "LifecycleTransition",
    "IntelligentTiering",
    "Replication:*",
    "ReducedRedundancyLostObject",
];

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationConfiguration {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    topic_configurations: Vec<Destination>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    queue_configurations: Vec<Destination>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    lambda_function_configurations: Vec<Destination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_bridge_configuration: Option<Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Destination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queue_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lambda_function_arn: Option<String>,
    events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter: Option<Filter>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    key: KeyFilter,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyFilter {
    #[serde(default)]
    filter_rules: Vec<FilterRule>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterRule {
    name: String,
    value: String,
}

impl Destination {
    /// The outbox target and destination ARN.
    fn target(&self) -> (&'static str, &str) {
        match (&self.queue_arn, &self.topic_arn, &self.lambda_function_arn) {
            (Some(arn), _, _) => ("sqs", arn),
            (_, Some(arn), _) => ("sns", arn),
            (_, _, Some(arn)) => ("lambda", arn),
            _ => ("", ""),
        }
    }

    fn rule(&self, name: &str) -> Option<&str> {
        let rules = &self.filter.as_ref()?.key.filter_rules;
        rules.iter().find(|r| r.name.eq_ignore_ascii_case(name)).map(|r| r.value.as_str())
    }

    fn matches(&self, event: &str, key: &str) -> bool {
        let event_matches = self.events.iter().any(|e| {
            let e = e.strip_prefix("s3:").unwrap_or(e);
            e == event || e.strip_suffix('*').is_some_and(|family| event.starts_with(family))
        });
        event_matches
            && self.rule("prefix").is_none_or(|p| key.starts_with(p))
            && self.rule("suffix").is_none_or(|s| key.ends_with(s))
    }
}

fn invalid(message: &str, name: &str, value: &str) -> AwsError {
    error::invalid_argument(message, name, value)
}

/// S3's checks on a configuration: known events, well-formed ARNs of the right service,
/// at most one prefix and one suffix rule.
fn validate(config: &NotificationConfiguration) -> Result<(), AwsError> {
    let kinds = [
        (&config.queue_configurations, "sqs"),
        (&config.topic_configurations, "sns"),
        (&config.lambda_function_configurations, "lambda"),
    ];
    for (destinations, service) in kinds {
        for d in destinations {
            let (_, arn) = d.target();
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.len() < 6 || parts[0] != "arn" || parts[2] != service {
                return Err(invalid("The ARN is not well formed", "ARN", arn));
            }
            if d.events.is_empty() {
                return Err(error::malformed_xml());
            }
            for e in &d.events {
                if !e.strip_prefix("s3:").is_some_and(|n| EVENTS.contains(&n)) {
                    return Err(invalid("The event is not supported for notifications", "Event", e));
                }
            }
            if let Some(f) = &d.filter {
                for name in ["prefix", "suffix"] {
                    if f.key.filter_rules.iter().filter(|r| r.name.eq_ignore_ascii_case(name)).count() > 1 {
                        return Err(invalid(
                            &format!("Cannot specify more than one {name} rule in a filter."),
                            "FilterRule",
                            name,
                        ));
                    }
                }
                if let Some(r) = f
                    .key
                    .filter_rules
                    .iter()
                    .find(|r| !["prefix", "suffix"].contains(&r.name.to_ascii_lowercase().as_str()))
                {
                    return Err(invalid("filter rule name must be either prefix or suffix", "FilterRule", &r.name));
                }
            }
        }
    }
    Ok(())
}

fn now_ms() -> u64 {
    SystemClock.now_ms()
}

/// Keys in event records are URL-encoded the way S3 encodes them (spaces as `+`, `/` kept).
fn event_key(key: &str) -> String {
    key.split('/')
        .map(|segment| form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>())
        .collect::<Vec<_>>()
        .join("/")
}

/// What an event record says beyond its object: who made the change when it is not the
/// object's owner (S3 itself for lifecycle events), and a member of the event's own.
#[derive(Default)]
pub(crate) struct Details {
    pub principal: Option<String>,
    pub extra: Option<(&'static str, Value)>,
}

/// The S3 event record of `event` (`ObjectCreated:Put`) on `version`.
fn record(
    bucket: &Bucket,
    event: &str,
    version: &Version,
    configuration_id: &str,
    request_id: &str,
    details: &Details,
) -> Value {
    let mut object = json!({
        "key": event_key(&version.key),
        "sequencer": format!("{:016X}", version.seq),
    });
    if ["ObjectCreated", "ObjectRestore:Post", "ObjectRestore:Completed", "LifecycleTransition"]
        .iter()
        .any(|e| event.starts_with(e))
    {
        object["size"] = json!(version.size);
        object["eTag"] = json!(version.etag.trim_matches('"'));
    }
    if version.version_id != "null" {
        object["versionId"] = json!(version.version_id);
    }
    let principal = details.principal.clone().unwrap_or_else(|| format!("AWS:{}", version.owner));
    let source_ip = if principal == S3_PRINCIPAL { S3_PRINCIPAL } else { "127.0.0.1" };
    let mut record = json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": bucket.region,
        "eventTime": Timestamp::now().iso8601(),
        "eventName": event,
        "userIdentity": {"principalId": principal},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": request_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket.name,
                "ownerIdentity": {"principalId": crate::bucket::canonical_id(&bucket.account)},
                "arn": format!("arn:aws:s3:::{}", bucket.name),
            },
            "object": object,
        },
    });
    if let Some((name, value)) = &details.extra {
        record[*name] = value.clone();
    }
    json!({"Records": [record]})
}

/// Writes into the outbox, inside the caller's transaction, one event per destination of
/// `bucket` whose configuration matches `event` on `version`'s key.
pub(crate) fn enqueue(
    txn: &mut dyn Txn,
    bucket: &Bucket,
    event: &str,
    version: &Version,
    request_id: &str,
) -> Result<(), StorageError> {
    enqueue_with(txn, bucket, event, version, request_id, &Details::default())
}

/// [`enqueue`] with what the record says beyond its object.
pub(crate) fn enqueue_with(
    txn: &mut dyn Txn,
    bucket: &Bucket,
    event: &str,
    version: &Version,
    request_id: &str,
    details: &Details,
) -> Result<(), StorageError> {
    let Some(config) = bucket.config.get(CONFIG_KEY) else { return Ok(()) };
    let config: NotificationConfiguration = serde_json::from_value(config.clone()).unwrap_or_default();
    let all = config
        .queue_configurations
        .iter()
        .chain(&config.topic_configurations)
        .chain(&config.lambda_function_configurations);
    for d in all.filter(|d| d.matches(event, &version.key)) {
        let (target, arn) = d.target();
        let id = d.id.clone().unwrap_or_default();
        let payload = json!({"arn": arn, "message": record(bucket, event, version, &id, request_id, details)});
        brume_events::enqueue(txn, &Event::new(target, format!("s3:{event}"), payload, now_ms()))?;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutNotificationInput {
    bucket: String,
    notification_configuration: NotificationConfiguration,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketInput {
    bucket: String,
}

#[derive(Serialize)]
pub struct Empty {}

impl S3 {
    pub(crate) async fn put_bucket_notification_configuration(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PutNotificationInput,
    ) -> Result<Empty, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        let config = input.notification_configuration;
        validate(&config)?;
        let name = input.bucket;
        let request_id = ctx.request_id.clone();
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let mut b = table::get_bucket(txn, &name)?.ok_or_else(|| error::no_such_bucket(&name))?;
                b.config.insert(CONFIG_KEY.into(), serde_json::to_value(&config).map_err(error::internal)?);
                txn.put(KEYSPACE, &table::bucket_key(&name), &table::encode(&b))?;
                // S3 sends a test event to each queue and topic when it is configured.
                let test = json!({
                    "Service": "Amazon S3",
                    "Event": "s3:TestEvent",
                    "Time": Timestamp::now().iso8601(),
                    "Bucket": name,
                    "RequestId": request_id,
                    "HostId": request_id,
                });
                for d in config.queue_configurations.iter().chain(&config.topic_configurations) {
                    let (target, arn) = d.target();
                    let event = Event::new(target, "s3:TestEvent", json!({"arn": arn, "message": test}), now_ms());
                    brume_events::enqueue(txn, &event)?;
                }
                Ok::<_, AwsError>(())
            })
            .await?;
        Ok(Empty {})
    }

    pub(crate) async fn get_bucket_notification_configuration(
        self: Arc<Self>,
        ctx: RequestContext,
        input: BucketInput,
    ) -> Result<NotificationConfiguration, AwsError> {
        let bucket = self.bucket(&ctx, &input.bucket)?;
        Ok(bucket.config.get(CONFIG_KEY).and_then(|c| serde_json::from_value(c.clone()).ok()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(events: &[&str], prefix: Option<&str>, suffix: Option<&str>) -> Destination {
        let mut rules = Vec::new();
        if let Some(p) = prefix {
            rules.push(FilterRule { name: "prefix".into(), value: p.into() });
        }
        if let Some(s) = suffix {
            rules.push(FilterRule { name: "Suffix".into(), value: s.into() });
        }
        Destination {
            queue_arn: Some("arn:aws:sqs:us-east-1:000000000000:q".into()),
            events: events.iter().map(|e| e.to_string()).collect(),
            filter: Some(Filter { key: KeyFilter { filter_rules: rules } }),
            ..Default::default()
        }
    }

    #[test]
    fn events_and_filters_match_as_s3_does() {
        let d = dest(&["s3:ObjectCreated:*"], Some("images/"), Some(".jpg"));
        assert!(d.matches("ObjectCreated:Put", "images/a.jpg"));
        assert!(d.matches("ObjectCreated:CompleteMultipartUpload", "images/b.jpg"));
        assert!(!d.matches("ObjectCreated:Put", "docs/a.jpg"));
        assert!(!d.matches("ObjectCreated:Put", "images/a.png"));
        assert!(!d.matches("ObjectRemoved:Delete", "images/a.jpg"));
        let d = dest(&["s3:ObjectRemoved:DeleteMarkerCreated"], None, None);
        assert!(d.matches("ObjectRemoved:DeleteMarkerCreated", "k"));
        assert!(!d.matches("ObjectRemoved:Delete", "k"));
    }

    #[test]
    fn configurations_are_validated() {
        let ok = NotificationConfiguration {
            queue_configurations: vec![dest(&["s3:ObjectCreated:*"], None, None)],
            ..Default::default()
        };
        assert!(validate(&ok).is_ok());
        let bad_event = NotificationConfiguration {
            queue_configurations: vec![dest(&["s3:Nope"], None, None)],
            ..Default::default()
        };
        assert_eq!(validate(&bad_event).unwrap_err().code, "InvalidArgument");
        let mut wrong_service = dest(&["s3:ObjectCreated:*"], None, None);
        wrong_service.queue_arn = Some("arn:aws:sns:us-east-1:000000000000:t".into());
        let cfg = NotificationConfiguration { queue_configurations: vec![wrong_service], ..Default::default() };
        assert!(validate(&cfg).is_err());
    }

    #[test]
    fn keys_are_url_encoded_in_records() {
        assert_eq!(event_key("a b/ü+x"), "a+b/%C3%BC%2Bx");
    }
}
