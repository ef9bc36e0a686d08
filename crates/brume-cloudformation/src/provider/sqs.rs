//! AWS::SQS::Queue, AWS::SQS::QueuePolicy and AWS::SQS::QueueInlinePolicy through SQS. A queue's Ref is its URL; its
//! properties are the queue attributes (numbers and booleans as text, the redrive
//! policies as JSON documents).

use brume_core::AwsError;
use brume_core::clients::AwsSdkClient;
use serde_json::{Map, Value, json};

use super::{
    Provider, Provisioned, Request, call, changed, document, ignore_gone, provisioned, tag_list, tag_map, text,
};

pub(super) struct Queue;
pub(super) struct QueuePolicy;
pub(super) struct QueueInlinePolicy;

/// The queue attributes a template may set, with the value SQS has when none is given
/// (what an update removing the property goes back to).
const ATTRIBUTES: &[(&str, &str)] = &[
    ("ContentBasedDeduplication", "false"),
    ("DeduplicationScope", "queue"),
    ("DelaySeconds", "0"),
    ("FifoThroughputLimit", "perQueue"),
    ("KmsDataKeyReusePeriodSeconds", "300"),
    ("KmsMasterKeyId", ""),
    ("MaximumMessageSize", "262144"),
    ("MessageRetentionPeriod", "345600"),
    ("ReceiveMessageWaitTimeSeconds", "0"),
    ("RedriveAllowPolicy", ""),
    ("RedrivePolicy", ""),
    ("SqsManagedSseEnabled", "true"),
    ("VisibilityTimeout", "30"),
];

/// The queue attributes the properties set.
fn attributes(properties: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, _) in ATTRIBUTES {
        let Some(v) = properties.get(*name).filter(|v| !v.is_null()) else { continue };
        let v = if v.is_object() { document(v) } else { text(v).unwrap_or_else(|| document(v)) };
        out.insert(name.to_string(), json!(v));
    }
    if properties.get("FifoQueue").and_then(super::boolean) == Some(true) {
        out.insert("FifoQueue".into(), json!("true"));
    }
    out
}

fn is_fifo(properties: &Value) -> bool {
    properties.get("FifoQueue").and_then(super::boolean) == Some(true)
}

/// The name CloudFormation gives an unnamed queue: `.fifo` ends a FIFO queue's name.
fn queue_name(request: &Request<'_>) -> String {
    if let Some(name) = request.text("QueueName") {
        return name;
    }
    if is_fifo(request.properties) {
        let name = super::generated_name(request.stack_name, request.logical_id, 75, request.suffix);
        format!("{name}.fifo")
    } else {
        request.generated_name(80)
    }
}

async fn answer(sdk: &dyn AwsSdkClient, request: &Request<'_>, url: &str) -> Result<Provisioned, AwsError> {
    let input = json!({ "QueueUrl": url, "AttributeNames": ["QueueArn"] });
    let out = call(sdk, request, "sqs", "GetQueueAttributes", input).await?;
    let arn = out["Attributes"]["QueueArn"].as_str().unwrap_or_default().to_string();
    let name = arn.rsplit(':').next().unwrap_or_default().to_string();
    Ok(provisioned(url, json!({ "Arn": arn, "QueueName": name, "QueueUrl": url })))
}

#[async_trait::async_trait]
impl Provider for Queue {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let input = json!({
            "QueueName": queue_name(request),
            "Attributes": attributes(request.properties),
            "tags": tag_map(&request.tags()),
        });
        let out = call(sdk, request, "sqs", "CreateQueue", input).await?;
        let url = out["QueueUrl"].as_str().unwrap_or_default().to_string();
        answer(sdk, request, &url).await
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        url: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError> {
        let mut set = attributes(request.properties);
        set.remove("FifoQueue");
        let before = attributes(old);
        set.retain(|k, v| before.get(k) != Some(v));
        for (name, default) in ATTRIBUTES {
            if before.contains_key(*name) && request.prop(name).is_none() {
                set.insert(name.to_string(), json!(default));
            }
        }
        if !set.is_empty() {
            call(sdk, request, "sqs", "SetQueueAttributes", json!({ "QueueUrl": url, "Attributes": set })).await?;
        }
        let tags = request.tags();
        let removed: Vec<String> = tag_list(old.get("Tags"))
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !tags.iter().any(|(n, _)| n == k))
            .collect();
        if !removed.is_empty() {
            call(sdk, request, "sqs", "UntagQueue", json!({ "QueueUrl": url, "TagKeys": removed })).await?;
        }
        call(sdk, request, "sqs", "TagQueue", json!({ "QueueUrl": url, "Tags": tag_map(&tags) })).await?;
        answer(sdk, request, url).await
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, url: &str) -> Result<(), AwsError> {
        ignore_gone(call(sdk, request, "sqs", "DeleteQueue", json!({ "QueueUrl": url })).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["QueueName"]) || is_fifo(old) != is_fifo(new)
    }
}

/// The queue URLs a QueuePolicy applies to.
fn queues(properties: &Value) -> Vec<String> {
    properties.get("Queues").and_then(Value::as_array).map(|q| q.iter().filter_map(text).collect()).unwrap_or_default()
}

async fn set_policy(sdk: &dyn AwsSdkClient, request: &Request<'_>, url: &str, policy: &str) -> Result<(), AwsError> {
    let input = json!({ "QueueUrl": url, "Attributes": { "Policy": policy } });
    call(sdk, request, "sqs", "SetQueueAttributes", input).await.map(|_| ())
}

#[async_trait::async_trait]
impl Provider for QueuePolicy {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let policy = request.prop("PolicyDocument").map(document).unwrap_or_default();
        for url in queues(request.properties) {
            set_policy(sdk, request, &url, &policy).await?;
        }
        let id = request.generated_name(255);
        Ok(provisioned(id.clone(), json!({ "Id": id })))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        id: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError> {
        let now = queues(request.properties);
        for url in queues(old).into_iter().filter(|u| !now.contains(u)) {
            ignore_gone(set_policy(sdk, request, &url, "").await)?;
        }
        let policy = request.prop("PolicyDocument").map(document).unwrap_or_default();
        for url in now {
            set_policy(sdk, request, &url, &policy).await?;
        }
        Ok(provisioned(id, json!({ "Id": id })))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, _: &str) -> Result<(), AwsError> {
        for url in queues(request.properties) {
            ignore_gone(set_policy(sdk, request, &url, "").await)?;
        }
        Ok(())
    }

    fn replaces(&self, _: &Value, _: &Value) -> bool {
        false
    }
}

#[async_trait::async_trait]
impl Provider for QueueInlinePolicy {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let policy = request.prop("PolicyDocument").map(document).unwrap_or_default();
        let url = request.text("Queue").unwrap_or_default();
        set_policy(sdk, request, &url, &policy).await?;
        Ok(provisioned(url, json!({})))
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

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, url: &str) -> Result<(), AwsError> {
        ignore_gone(set_policy(sdk, request, url, "").await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["Queue"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::tests::request;

    #[test]
    fn properties_become_attributes_as_text() {
        let props = json!({
            "VisibilityTimeout": 60,
            "FifoQueue": true,
            "ContentBasedDeduplication": "true",
            "RedrivePolicy": { "deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:dlq", "maxReceiveCount": 3 },
            "Tags": [{ "Key": "k", "Value": "v" }],
        });
        let a = attributes(&props);
        assert_eq!(a["VisibilityTimeout"], "60");
        assert_eq!(a["FifoQueue"], "true");
        assert_eq!(a["ContentBasedDeduplication"], "true");
        let redrive: Value = serde_json::from_str(a["RedrivePolicy"].as_str().unwrap()).unwrap();
        assert_eq!(redrive["maxReceiveCount"], 3);
        assert!(!a.contains_key("Tags"));
    }

    #[test]
    fn unnamed_queues_are_named_after_the_stack_and_fifo_ones_end_in_fifo() {
        let props = json!({ "FifoQueue": "true" });
        let name = queue_name(&request(&props, &[]));
        assert!(name.starts_with("my-stack-MyQueue-") && name.ends_with(".fifo"), "{name}");
        let props = json!({});
        let name = queue_name(&request(&props, &[]));
        assert_eq!(name.len(), "my-stack-MyQueue-".len() + 12);
        let props = json!({ "QueueName": "q" });
        assert_eq!(queue_name(&request(&props, &[])), "q");
    }

    #[test]
    fn a_new_name_or_fifo_replaces_the_queue() {
        assert!(Queue.replaces(&json!({ "QueueName": "a" }), &json!({ "QueueName": "b" })));
        assert!(Queue.replaces(&json!({}), &json!({ "FifoQueue": true })));
        assert!(!Queue.replaces(&json!({ "FifoQueue": "false" }), &json!({})));
        assert!(!Queue.replaces(&json!({ "VisibilityTimeout": 1 }), &json!({ "VisibilityTimeout": 2 })));
    }
}
