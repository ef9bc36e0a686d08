//! AWS::StepFunctions::StateMachine, Activity, StateMachineVersion and StateMachineAlias
//! through Step Functions. Each answers its ARN as Ref. The definition is `Definition` (an object),
//! `DefinitionString` or `DefinitionS3Location` (read from S3), with each
//! `${name}` of `DefinitionSubstitutions` replaced.

use brume_core::AwsError;
use brume_core::clients::AwsSdkClient;
use brume_core::value::Blob;
use serde_json::{Map, Value, json};

use super::{Provider, Provisioned, Request, call, changed, document, ignore_gone, provisioned, tag_list, text};

pub(super) struct StateMachine;
pub(super) struct Activity;
pub(super) struct StateMachineVersion;
pub(super) struct StateMachineAlias;

/// CloudFormation's PascalCase members as Step Functions' camelCase ones, all the way down.
fn camel(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let mut chars = k.chars();
                    let key = chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str());
                    (key.unwrap_or_default(), camel(v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(camel).collect()),
        other => other.clone(),
    }
}

/// `${name}` replaced by each substitution's value.
fn substitute(definition: &str, substitutions: Option<&Value>) -> String {
    let mut out = definition.to_string();
    for (k, v) in substitutions.and_then(Value::as_object).into_iter().flatten() {
        out = out.replace(&format!("${{{k}}}"), &text(v).unwrap_or_else(|| document(v)));
    }
    out
}

/// The state machine's definition text.
async fn definition(sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<String, AwsError> {
    let text = if let Some(d) = request.prop("Definition") {
        document(d)
    } else if let Some(d) = request.prop("DefinitionString") {
        document(d)
    } else if let Some(location) = request.prop("DefinitionS3Location") {
        let mut input = json!({ "Bucket": location["Bucket"], "Key": location["Key"] });
        if let Some(version) = location.get("Version") {
            input["VersionId"] = version.clone();
        }
        let out = call(sdk, request, "s3", "GetObject", input).await?;
        let body: Blob = serde_json::from_value(out["Body"].clone()).unwrap_or_default();
        String::from_utf8_lossy(&body.0).into_owned()
    } else {
        String::new()
    };
    Ok(substitute(&text, request.prop("DefinitionSubstitutions")))
}

/// The configuration members CreateStateMachine and UpdateStateMachine share.
fn settings(request: &Request<'_>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(role) = request.prop("RoleArn") {
        out.insert("roleArn".into(), role.clone());
    }
    for (property, member) in [
        ("LoggingConfiguration", "loggingConfiguration"),
        ("TracingConfiguration", "tracingConfiguration"),
        ("EncryptionConfiguration", "encryptionConfiguration"),
    ] {
        if let Some(v) = request.prop(property) {
            out.insert(member.into(), camel(v));
        }
    }
    out
}

fn sfn_tags(tags: &[(String, String)]) -> Value {
    Value::Array(tags.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect())
}

async fn retag(sdk: &dyn AwsSdkClient, request: &Request<'_>, arn: &str, old: &Value) -> Result<(), AwsError> {
    let tags = request.tags();
    let removed: Vec<String> =
        tag_list(old.get("Tags")).into_iter().map(|(k, _)| k).filter(|k| !tags.iter().any(|(n, _)| n == k)).collect();
    if !removed.is_empty() {
        call(sdk, request, "stepfunctions", "UntagResource", json!({ "resourceArn": arn, "tagKeys": removed })).await?;
    }
    call(sdk, request, "stepfunctions", "TagResource", json!({ "resourceArn": arn, "tags": sfn_tags(&tags) })).await?;
    Ok(())
}

async fn machine_answer(sdk: &dyn AwsSdkClient, request: &Request<'_>, arn: &str) -> Result<Provisioned, AwsError> {
    let out = call(sdk, request, "stepfunctions", "DescribeStateMachine", json!({ "stateMachineArn": arn })).await?;
    let mut attributes = json!({ "Arn": arn, "Name": out["name"] });
    if let Some(revision) = out.get("revisionId").filter(|v| !v.is_null()) {
        attributes["StateMachineRevisionId"] = revision.clone();
    }
    Ok(provisioned(arn, attributes))
}

/// `<logical>-<random>`, the name CloudFormation gives an unnamed state machine.
fn machine_name(request: &Request<'_>) -> String {
    request.text("StateMachineName").unwrap_or_else(|| {
        let logical: String = request.logical_id.chars().take(67).collect();
        format!("{logical}-{}", request.suffix)
    })
}

#[async_trait::async_trait]
impl Provider for StateMachine {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let mut input = settings(request);
        input.insert("name".into(), json!(machine_name(request)));
        input.insert("definition".into(), json!(definition(sdk, request).await?));
        if let Some(kind) = request.prop("StateMachineType") {
            input.insert("type".into(), kind.clone());
        }
        input.insert("tags".into(), sfn_tags(&request.tags()));
        let out = call(sdk, request, "stepfunctions", "CreateStateMachine", Value::Object(input)).await?;
        machine_answer(sdk, request, out["stateMachineArn"].as_str().unwrap_or_default()).await
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        arn: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError> {
        let mut input = settings(request);
        input.insert("stateMachineArn".into(), json!(arn));
        input.insert("definition".into(), json!(definition(sdk, request).await?));
        input.entry("loggingConfiguration").or_insert(json!({ "level": "OFF" }));
        input.entry("tracingConfiguration").or_insert(json!({ "enabled": false }));
        call(sdk, request, "stepfunctions", "UpdateStateMachine", Value::Object(input)).await?;
        retag(sdk, request, arn, old).await?;
        machine_answer(sdk, request, arn).await
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, arn: &str) -> Result<(), AwsError> {
        let input = json!({ "stateMachineArn": arn });
        ignore_gone(call(sdk, request, "stepfunctions", "DeleteStateMachine", input).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        let kind = |v: &Value| v.get("StateMachineType").and_then(Value::as_str).unwrap_or("STANDARD").to_string();
        changed(old, new, &["StateMachineName"]) || kind(old) != kind(new)
    }
}

fn activity_answer(arn: &str) -> Provisioned {
    let name = arn.rsplit(':').next().unwrap_or_default();
    provisioned(arn, json!({ "Arn": arn, "Name": name }))
}

#[async_trait::async_trait]
impl Provider for Activity {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let name = request.text("Name").unwrap_or_else(|| request.generated_name(80));
        let input = json!({ "name": name, "tags": sfn_tags(&request.tags()) });
        let out = call(sdk, request, "stepfunctions", "CreateActivity", input).await?;
        Ok(activity_answer(out["activityArn"].as_str().unwrap_or_default()))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        arn: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError> {
        retag(sdk, request, arn, old).await?;
        Ok(activity_answer(arn))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, arn: &str) -> Result<(), AwsError> {
        ignore_gone(call(sdk, request, "stepfunctions", "DeleteActivity", json!({ "activityArn": arn })).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["Name", "EncryptionConfiguration"])
    }
}

#[async_trait::async_trait]
impl Provider for StateMachineVersion {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let mut input = json!({ "stateMachineArn": request.text("StateMachineArn") });
        for (property, member) in [("StateMachineRevisionId", "revisionId"), ("Description", "description")] {
            if let Some(v) = request.text(property) {
                input[member] = json!(v);
            }
        }
        let out = call(sdk, request, "stepfunctions", "PublishStateMachineVersion", input).await?;
        let arn = out["stateMachineVersionArn"].as_str().unwrap_or_default();
        Ok(provisioned(arn, json!({ "Arn": arn })))
    }

    async fn update(
        &self,
        _: &dyn AwsSdkClient,
        _: &Request<'_>,
        arn: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        Ok(provisioned(arn, json!({ "Arn": arn })))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, arn: &str) -> Result<(), AwsError> {
        let input = json!({ "stateMachineVersionArn": arn });
        ignore_gone(call(sdk, request, "stepfunctions", "DeleteStateMachineVersion", input).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        old != new
    }
}

/// An alias's routing: `RoutingConfiguration`, or all of it to `DeploymentPreference`'s
/// version (deployed at once).
fn routing(properties: &Value) -> Value {
    if let Some(list) = properties.get("RoutingConfiguration").and_then(Value::as_array) {
        return camel(&Value::Array(list.clone()));
    }
    let version = properties.pointer("/DeploymentPreference/StateMachineVersionArn").cloned().unwrap_or_default();
    json!([{ "stateMachineVersionArn": version, "weight": 100 }])
}

#[async_trait::async_trait]
impl Provider for StateMachineAlias {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let name = request.text("Name").unwrap_or_else(|| request.generated_name(80));
        let mut input = json!({ "name": name, "routingConfiguration": routing(request.properties) });
        if let Some(d) = request.text("Description") {
            input["description"] = json!(d);
        }
        let out = call(sdk, request, "stepfunctions", "CreateStateMachineAlias", input).await?;
        let arn = out["stateMachineAliasArn"].as_str().unwrap_or_default();
        Ok(provisioned(arn, json!({ "Arn": arn })))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        arn: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        let input = json!({
            "stateMachineAliasArn": arn,
            "description": request.text("Description").unwrap_or_default(),
            "routingConfiguration": routing(request.properties),
        });
        call(sdk, request, "stepfunctions", "UpdateStateMachineAlias", input).await?;
        Ok(provisioned(arn, json!({ "Arn": arn })))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, arn: &str) -> Result<(), AwsError> {
        let input = json!({ "stateMachineAliasArn": arn });
        ignore_gone(call(sdk, request, "stepfunctions", "DeleteStateMachineAlias", input).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["Name"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::tests::request;

    #[test]
    fn substitutions_replace_their_placeholders() {
        let subs = json!({ "Fn": "arn:aws:lambda:us-east-1:1:function:f", "N": 3 });
        assert_eq!(
            substitute(r#"{"Resource":"${Fn}","Seconds":${N},"Other":"${X}"}"#, Some(&subs)),
            r#"{"Resource":"arn:aws:lambda:us-east-1:1:function:f","Seconds":3,"Other":"${X}"}"#
        );
    }

    #[test]
    fn alias_routing_is_its_configuration_or_the_deployed_version() {
        let props = json!({ "RoutingConfiguration": [{ "StateMachineVersionArn": "v1", "Weight": 100 }] });
        assert_eq!(routing(&props), json!([{ "stateMachineVersionArn": "v1", "weight": 100 }]));
        let props = json!({ "DeploymentPreference": { "StateMachineVersionArn": "v2", "Type": "ALL_AT_ONCE" } });
        assert_eq!(routing(&props), json!([{ "stateMachineVersionArn": "v2", "weight": 100 }]));
    }

    #[test]
    fn configurations_are_camel_cased() {
        let props = json!({ "RoleArn": "r", "LoggingConfiguration": { "Level": "ALL", "IncludeExecutionData": true,
            "Destinations": [{ "CloudWatchLogsLogGroup": { "LogGroupArn": "arn:g" } }] } });
        let s = settings(&request(&props, &[]));
        assert_eq!(s["roleArn"], "r");
        assert_eq!(
            s["loggingConfiguration"],
            json!({ "level": "ALL", "includeExecutionData": true,
                "destinations": [{ "cloudWatchLogsLogGroup": { "logGroupArn": "arn:g" } }] })
        );
    }

    #[test]
    fn unnamed_machines_are_named_after_their_logical_id_and_type_changes_replace() {
        let props = json!({});
        let name = machine_name(&request(&props, &[]));
        assert!(name.starts_with("MyQueue-") && name.len() == "MyQueue-".len() + 12);
        assert!(StateMachine.replaces(&json!({}), &json!({ "StateMachineType": "EXPRESS" })));
        assert!(!StateMachine.replaces(&json!({}), &json!({ "StateMachineType": "STANDARD" })));
        assert!(!StateMachine.replaces(&json!({ "DefinitionString": "a" }), &json!({ "DefinitionString": "b" })));
    }
}
