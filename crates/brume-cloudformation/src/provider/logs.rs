//! AWS::Logs::LogGroup and AWS::Logs::LogStream through CloudWatch Logs. Ref is the group's
//! (the stream's) name. CloudWatch Logs
//! refuses tag keys starting `aws:`, so the group carries the template's and the stack's
//! tags without the `aws:cloudformation:` ones.

use brume_core::AwsError;
use brume_core::clients::AwsSdkClient;
use serde_json::{Value, json};

use super::{Provider, Provisioned, Request, call, changed, ignore_gone, number, provisioned, tag_list, tag_map};

pub(super) struct LogGroup;
pub(super) struct LogStream;

fn tags(request: &Request<'_>) -> Vec<(String, String)> {
    request.tags().into_iter().filter(|(k, _)| !k.starts_with("aws:")).collect()
}

fn answer(request: &Request<'_>, name: &str) -> Provisioned {
    let arn = format!("arn:aws:logs:{}:{}:log-group:{name}:*", request.region, request.account);
    provisioned(name, json!({ "Arn": arn }))
}

async fn set_retention(sdk: &dyn AwsSdkClient, request: &Request<'_>, name: &str) -> Result<(), AwsError> {
    match request.prop("RetentionInDays").and_then(number) {
        Some(days) => {
            let input = json!({ "logGroupName": name, "retentionInDays": days });
            call(sdk, request, "logs", "PutRetentionPolicy", input).await?;
        }
        None => {
            call(sdk, request, "logs", "DeleteRetentionPolicy", json!({ "logGroupName": name })).await?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Provider for LogGroup {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let name = request.text("LogGroupName").unwrap_or_else(|| request.generated_name(512));
        let mut input = json!({ "logGroupName": name });
        for (prop, member) in [("KmsKeyId", "kmsKeyId"), ("LogGroupClass", "logGroupClass")] {
            if let Some(v) = request.text(prop) {
                input[member] = json!(v);
            }
        }
        let tags = tags(request);
        if !tags.is_empty() {
            input["tags"] = tag_map(&tags);
        }
        call(sdk, request, "logs", "CreateLogGroup", input).await?;
        if request.prop("RetentionInDays").is_some() {
            set_retention(sdk, request, &name).await?;
        }
        Ok(answer(request, &name))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        name: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError> {
        if changed(old, request.properties, &["RetentionInDays"]) {
            set_retention(sdk, request, name).await?;
        }
        let new_tags = tags(request);
        let removed: Vec<String> = tag_list(old.get("Tags"))
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !new_tags.iter().any(|(n, _)| n == k))
            .collect();
        if !removed.is_empty() {
            call(sdk, request, "logs", "UntagLogGroup", json!({ "logGroupName": name, "tags": removed })).await?;
        }
        if !new_tags.is_empty() {
            let input = json!({ "logGroupName": name, "tags": tag_map(&new_tags) });
            call(sdk, request, "logs", "TagLogGroup", input).await?;
        }
        Ok(answer(request, name))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, name: &str) -> Result<(), AwsError> {
        ignore_gone(call(sdk, request, "logs", "DeleteLogGroup", json!({ "logGroupName": name })).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["LogGroupName", "LogGroupClass"])
    }

    fn generated_id(&self, request: &Request<'_>) -> Option<String> {
        request.name_or_generated("LogGroupName", 512)
    }
}

#[async_trait::async_trait]
impl Provider for LogStream {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let name = request.text("LogStreamName").unwrap_or_else(|| request.generated_name(512));
        let input = json!({ "logGroupName": request.text("LogGroupName"), "logStreamName": name });
        call(sdk, request, "logs", "CreateLogStream", input).await?;
        Ok(provisioned(name, json!({})))
    }

    async fn update(
        &self,
        _: &dyn AwsSdkClient,
        _: &Request<'_>,
        id: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        Ok(provisioned(id, json!({})))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, name: &str) -> Result<(), AwsError> {
        let input = json!({ "logGroupName": request.text("LogGroupName"), "logStreamName": name });
        ignore_gone(call(sdk, request, "logs", "DeleteLogStream", input).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["LogGroupName", "LogStreamName"])
    }

    fn generated_id(&self, request: &Request<'_>) -> Option<String> {
        request.name_or_generated("LogStreamName", 512)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::tests::request;

    #[test]
    fn the_group_answers_its_arn_and_drops_aws_tags() {
        let props = json!({ "Tags": [{ "Key": "a", "Value": "1" }] });
        let r = request(&props, &[]);
        assert_eq!(answer(&r, "g").attributes["Arn"], "arn:aws:logs:us-east-1:123456789012:log-group:g:*");
        assert_eq!(tags(&r), vec![("a".to_string(), "1".to_string())]);
        assert!(LogGroup.replaces(&json!({ "LogGroupName": "a" }), &json!({ "LogGroupName": "b" })));
        assert!(!LogGroup.replaces(&json!({ "RetentionInDays": 1 }), &json!({ "RetentionInDays": 3 })));
    }
}
