//! AWS::SNS::Topic (with its `Subscription` list), AWS::SNS::Subscription,
//! AWS::SNS::TopicPolicy and AWS::SNS::TopicInlinePolicy through SNS. A topic's Ref is its ARN, a subscription's its ARN.

use brume_core::AwsError;
use brume_core::clients::AwsSdkClient;
use serde_json::{Map, Value, json};

use super::{
    Provider, Provisioned, Request, boolean, call, changed, document, ignore_gone, provisioned, tag_list, tag_objects,
    text,
};

pub(super) struct Topic;
pub(super) struct Subscription;
pub(super) struct TopicPolicy;
pub(super) struct TopicInlinePolicy;

/// The topic properties that are topic attributes of the same name.
const TOPIC_ATTRIBUTES: &[&str] = &[
    "DisplayName",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
    "ArchivePolicy",
    "FifoThroughputScope",
];

/// The value a topic attribute goes back to when its property is removed.
fn topic_default(name: &str) -> &'static str {
    match name {
        "SignatureVersion" => "1",
        "TracingConfig" => "PassThrough",
        "ContentBasedDeduplication" => "false",
        "FifoThroughputScope" => "Topic",
        _ => "",
    }
}

fn is_fifo(properties: &Value) -> bool {
    properties.get("FifoTopic").and_then(boolean) == Some(true)
}

/// The topic attributes the properties set.
fn topic_attributes(properties: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for name in TOPIC_ATTRIBUTES {
        if let Some(v) = properties.get(*name).filter(|v| !v.is_null()) {
            out.insert(name.to_string(), json!(text(v).unwrap_or_else(|| document(v))));
        }
    }
    if is_fifo(properties) {
        out.insert("FifoTopic".into(), json!("true"));
    }
    out
}

fn topic_name(request: &Request<'_>) -> String {
    if let Some(name) = request.text("TopicName") {
        return name;
    }
    if is_fifo(request.properties) {
        let name = super::generated_name(request.stack_name, request.logical_id, 251, request.suffix);
        format!("{name}.fifo")
    } else {
        request.generated_name(256)
    }
}

/// The `Subscription` list's (protocol, endpoint) pairs.
fn subscriptions(properties: &Value) -> Vec<(String, String)> {
    properties
        .get("Subscription")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|s| Some((text(s.get("Protocol")?)?, text(s.get("Endpoint")?)?))).collect())
        .unwrap_or_default()
}

fn topic_answer(arn: &str) -> Provisioned {
    let name = arn.rsplit(':').next().unwrap_or_default();
    provisioned(arn, json!({ "TopicArn": arn, "TopicName": name }))
}

async fn subscribe(
    sdk: &dyn AwsSdkClient,
    request: &Request<'_>,
    topic: &str,
    (protocol, endpoint): &(String, String),
    attributes: Map<String, Value>,
) -> Result<String, AwsError> {
    let input = json!({
        "TopicArn": topic,
        "Protocol": protocol,
        "Endpoint": endpoint,
        "Attributes": attributes,
        "ReturnSubscriptionArn": true,
    });
    let out = call(sdk, request, "sns", "Subscribe", input).await?;
    Ok(out["SubscriptionArn"].as_str().unwrap_or_default().to_string())
}

async fn set_topic_attribute(
    sdk: &dyn AwsSdkClient,
    request: &Request<'_>,
    topic: &str,
    name: &str,
    value: &str,
) -> Result<(), AwsError> {
    let input = json!({ "TopicArn": topic, "AttributeName": name, "AttributeValue": value });
    call(sdk, request, "sns", "SetTopicAttributes", input).await.map(|_| ())
}

#[async_trait::async_trait]
impl Provider for Topic {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let mut input = json!({
            "Name": topic_name(request),
            "Attributes": topic_attributes(request.properties),
            "Tags": tag_objects(&request.tags()),
        });
        if let Some(policy) = request.prop("DataProtectionPolicy") {
            input["DataProtectionPolicy"] = json!(document(policy));
        }
        let out = call(sdk, request, "sns", "CreateTopic", input).await?;
        let arn = out["TopicArn"].as_str().unwrap_or_default().to_string();
        for subscription in subscriptions(request.properties) {
            subscribe(sdk, request, &arn, &subscription, Map::new()).await?;
        }
        Ok(topic_answer(&arn))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        arn: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError> {
        let (now, before) = (topic_attributes(request.properties), topic_attributes(old));
        for (name, value) in &now {
            if before.get(name) != Some(value) && name != "FifoTopic" {
                set_topic_attribute(sdk, request, arn, name, value.as_str().unwrap_or_default()).await?;
            }
        }
        for name in before.keys().filter(|k| !now.contains_key(*k)) {
            set_topic_attribute(sdk, request, arn, name, topic_default(name)).await?;
        }
        if changed(old, request.properties, &["DataProtectionPolicy"]) {
            let policy = request.prop("DataProtectionPolicy").map(document).unwrap_or_default();
            let input = json!({ "ResourceArn": arn, "DataProtectionPolicy": policy });
            call(sdk, request, "sns", "PutDataProtectionPolicy", input).await?;
        }
        let (subs_now, subs_before) = (subscriptions(request.properties), subscriptions(old));
        let gone: Vec<&(String, String)> = subs_before.iter().filter(|s| !subs_now.contains(s)).collect();
        if !gone.is_empty() {
            let listed = call(sdk, request, "sns", "ListSubscriptionsByTopic", json!({ "TopicArn": arn })).await?;
            for s in listed["Subscriptions"].as_array().into_iter().flatten() {
                let pair = (text(&s["Protocol"]).unwrap_or_default(), text(&s["Endpoint"]).unwrap_or_default());
                if gone.contains(&&pair) {
                    let input = json!({ "SubscriptionArn": s["SubscriptionArn"] });
                    ignore_gone(call(sdk, request, "sns", "Unsubscribe", input).await)?;
                }
            }
        }
        for subscription in subs_now.iter().filter(|s| !subs_before.contains(s)) {
            subscribe(sdk, request, arn, subscription, Map::new()).await?;
        }
        let tags = request.tags();
        let removed: Vec<String> = tag_list(old.get("Tags"))
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !tags.iter().any(|(n, _)| n == k))
            .collect();
        if !removed.is_empty() {
            call(sdk, request, "sns", "UntagResource", json!({ "ResourceArn": arn, "TagKeys": removed })).await?;
        }
        call(sdk, request, "sns", "TagResource", json!({ "ResourceArn": arn, "Tags": tag_objects(&tags) })).await?;
        Ok(topic_answer(arn))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, arn: &str) -> Result<(), AwsError> {
        ignore_gone(call(sdk, request, "sns", "DeleteTopic", json!({ "TopicArn": arn })).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["TopicName"]) || is_fifo(old) != is_fifo(new)
    }

    fn generated_id(&self, request: &Request<'_>) -> Option<String> {
        let name = request.text("TopicName").is_none().then(|| topic_name(request))?;
        Some(format!("arn:aws:sns:{}:{}:{name}", request.region, request.account))
    }
}

/// The subscription properties that are subscription attributes of the same name.
const SUBSCRIPTION_ATTRIBUTES: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
];

/// The subscription attributes the properties set (documents as JSON text).
fn subscription_attributes(properties: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for name in SUBSCRIPTION_ATTRIBUTES {
        if let Some(v) = properties.get(*name).filter(|v| !v.is_null()) {
            out.insert(name.to_string(), json!(text(v).unwrap_or_else(|| document(v))));
        }
    }
    out
}

#[async_trait::async_trait]
impl Provider for Subscription {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let topic = request.text("TopicArn").unwrap_or_default();
        let pair = (request.text("Protocol").unwrap_or_default(), request.text("Endpoint").unwrap_or_default());
        let arn = subscribe(sdk, request, &topic, &pair, subscription_attributes(request.properties)).await?;
        Ok(provisioned(arn.clone(), json!({ "Arn": arn })))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        arn: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError> {
        let (now, before) = (subscription_attributes(request.properties), subscription_attributes(old));
        let mut updates: Vec<(String, String)> = now
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        updates.extend(before.keys().filter(|k| !now.contains_key(*k)).map(|k| {
            let reset = match k.as_str() {
                "RawMessageDelivery" => "false",
                "FilterPolicyScope" => "MessageAttributes",
                _ => "",
            };
            (k.clone(), reset.to_string())
        }));
        for (name, value) in updates {
            let input = json!({ "SubscriptionArn": arn, "AttributeName": name, "AttributeValue": value });
            call(sdk, request, "sns", "SetSubscriptionAttributes", input).await?;
        }
        Ok(provisioned(arn, json!({ "Arn": arn })))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, arn: &str) -> Result<(), AwsError> {
        ignore_gone(call(sdk, request, "sns", "Unsubscribe", json!({ "SubscriptionArn": arn })).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["TopicArn", "Protocol", "Endpoint", "Region"])
    }
}

fn topics(properties: &Value) -> Vec<String> {
    properties.get("Topics").and_then(Value::as_array).map(|t| t.iter().filter_map(text).collect()).unwrap_or_default()
}

/// The access policy SNS gives a new topic, which a deleted TopicPolicy leaves behind.
fn default_policy(topic: &str) -> String {
    let account = topic.split(':').nth(4).unwrap_or_default();
    json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": { "AWS": "*" },
            "Action": [
                "SNS:GetTopicAttributes",
                "SNS:SetTopicAttributes",
                "SNS:AddPermission",
                "SNS:RemovePermission",
                "SNS:DeleteTopic",
                "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic",
                "SNS:Publish"
            ],
            "Resource": topic,
            "Condition": { "StringEquals": { "AWS:SourceOwner": account } }
        }]
    })
    .to_string()
}

#[async_trait::async_trait]
impl Provider for TopicPolicy {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let policy = request.prop("PolicyDocument").map(document).unwrap_or_default();
        for topic in topics(request.properties) {
            set_topic_attribute(sdk, request, &topic, "Policy", &policy).await?;
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
        let now = topics(request.properties);
        for topic in topics(old).into_iter().filter(|t| !now.contains(t)) {
            ignore_gone(set_topic_attribute(sdk, request, &topic, "Policy", &default_policy(&topic)).await)?;
        }
        let policy = request.prop("PolicyDocument").map(document).unwrap_or_default();
        for topic in now {
            set_topic_attribute(sdk, request, &topic, "Policy", &policy).await?;
        }
        Ok(provisioned(id, json!({ "Id": id })))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, _: &str) -> Result<(), AwsError> {
        for topic in topics(request.properties) {
            ignore_gone(set_topic_attribute(sdk, request, &topic, "Policy", &default_policy(&topic)).await)?;
        }
        Ok(())
    }

    fn replaces(&self, _: &Value, _: &Value) -> bool {
        false
    }
}

#[async_trait::async_trait]
impl Provider for TopicInlinePolicy {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let policy = request.prop("PolicyDocument").map(document).unwrap_or_default();
        let topic = request.text("TopicArn").unwrap_or_default();
        set_topic_attribute(sdk, request, &topic, "Policy", &policy).await?;
        Ok(provisioned(topic, json!({})))
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

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, topic: &str) -> Result<(), AwsError> {
        ignore_gone(set_topic_attribute(sdk, request, topic, "Policy", &default_policy(topic)).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["TopicArn"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::tests::request;

    #[test]
    fn topic_properties_become_attributes() {
        let props = json!({ "DisplayName": "d", "FifoTopic": true, "ContentBasedDeduplication": true });
        let a = topic_attributes(&props);
        assert_eq!(a["DisplayName"], "d");
        assert_eq!(a["FifoTopic"], "true");
        assert_eq!(a["ContentBasedDeduplication"], "true");
        let name = topic_name(&request(&props, &[]));
        assert!(name.ends_with(".fifo"));
        assert_eq!(topic_answer("arn:aws:sns:us-east-1:1:t").attributes["TopicName"], "t");
    }

    #[test]
    fn subscription_documents_become_json_text() {
        let props = json!({ "FilterPolicy": { "a": ["b"] }, "RawMessageDelivery": true, "Protocol": "sqs" });
        let a = subscription_attributes(&props);
        assert_eq!(a["FilterPolicy"], r#"{"a":["b"]}"#);
        assert_eq!(a["RawMessageDelivery"], "true");
        assert!(!a.contains_key("Protocol"));
        assert!(Subscription.replaces(&json!({ "Endpoint": "a" }), &json!({ "Endpoint": "b" })));
        assert!(!Subscription.replaces(&json!({ "FilterPolicy": {} }), &json!({})));
    }

    #[test]
    fn the_topic_list_is_read_as_pairs() {
        let props = json!({ "Subscription": [{ "Protocol": "sqs", "Endpoint": "arn:q" }] });
        assert_eq!(subscriptions(&props), vec![("sqs".to_string(), "arn:q".to_string())]);
        assert!(Topic.replaces(&json!({}), &json!({ "FifoTopic": "true" })));
    }
}
