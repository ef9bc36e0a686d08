//! AWS::Lambda::Function, Permission, EventSourceMapping, Version, Alias, Url,
//! LayerVersion and EventInvokeConfig through Lambda. A function's Ref is its name; inline `Code.ZipFile` source is zipped as
//! CloudFormation zips it, into `index.py` for Python runtimes and `index.js` otherwise.

use brume_core::AwsError;
use brume_core::clients::AwsSdkClient;
use brume_core::value::Blob;
use serde_json::{Map, Value, json};

use super::{
    Provider, Provisioned, Request, boolean, call, changed, copy, ignore_gone, number, provisioned, tag_list, tag_map,
    text,
};

pub(super) struct Function;
pub(super) struct Permission;
pub(super) struct EventSourceMapping;
pub(super) struct Version;
pub(super) struct Alias;
pub(super) struct Url;
pub(super) struct LayerVersion;
pub(super) struct EventInvokeConfig;

/// `keys` of `map` that are numbers written as text, made numbers.
fn numbers(map: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(n) = map.get(*k).and_then(number) {
            map.insert(k.to_string(), n);
        }
    }
}

/// `keys` of `map` that are booleans written as text, made booleans.
fn booleans(map: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(b) = map.get(*k).and_then(boolean) {
            map.insert(k.to_string(), json!(b));
        }
    }
}

/// The file inline source becomes in the zip, by runtime.
fn inline_file_name(runtime: &str) -> &'static str {
    if runtime.starts_with("python") { "index.py" } else { "index.js" }
}

/// `Code` as CreateFunction and UpdateFunctionCode take it: inline source zipped.
fn code(properties: &Value) -> Map<String, Value> {
    let code = properties.get("Code").cloned().unwrap_or_else(|| json!({}));
    let mut out = copy(&code, &["S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri", "SourceKMSKeyArn"]);
    if let Some(source) = code.get("ZipFile").and_then(text) {
        let runtime = properties.get("Runtime").and_then(Value::as_str).unwrap_or_default();
        let zip = super::zip::single_file(inline_file_name(runtime), source.as_bytes());
        out.insert("ZipFile".into(), serde_json::to_value(Blob(zip)).unwrap_or_default());
    }
    out
}

/// The configuration members CreateFunction and UpdateFunctionConfiguration share, as
/// the properties give them; with `defaults`, those absent set back to Lambda's defaults.
fn configuration(properties: &Value, defaults: bool) -> Map<String, Value> {
    let mut out = copy(
        properties,
        &[
            "Role",
            "Handler",
            "Description",
            "Timeout",
            "MemorySize",
            "VpcConfig",
            "Environment",
            "Runtime",
            "DeadLetterConfig",
            "TracingConfig",
            "Layers",
            "FileSystemConfigs",
            "ImageConfig",
            "EphemeralStorage",
            "SnapStart",
            "LoggingConfig",
        ],
    );
    if let Some(key) = properties.get("KmsKeyArn").filter(|v| !v.is_null()) {
        out.insert("KMSKeyArn".into(), key.clone());
    }
    numbers(&mut out, &["Timeout", "MemorySize"]);
    if let Some(Value::Object(storage)) = out.get_mut("EphemeralStorage") {
        numbers(storage, &["Size"]);
    }
    if defaults {
        for (k, v) in [
            ("Description", json!("")),
            ("Timeout", json!(3)),
            ("MemorySize", json!(128)),
            ("Environment", json!({ "Variables": {} })),
            ("Layers", json!([])),
            ("DeadLetterConfig", json!({})),
            ("KMSKeyArn", json!("")),
        ] {
            out.entry(k).or_insert(v);
        }
    }
    out
}

fn function_arn(request: &Request<'_>, name: &str) -> String {
    format!("arn:aws:lambda:{}:{}:function:{name}", request.region, request.account)
}

async fn concurrency(sdk: &dyn AwsSdkClient, request: &Request<'_>, name: &str) -> Result<(), AwsError> {
    match request.prop("ReservedConcurrentExecutions").and_then(number) {
        Some(n) => {
            let input = json!({ "FunctionName": name, "ReservedConcurrentExecutions": n });
            call(sdk, request, "lambda", "PutFunctionConcurrency", input).await?;
        }
        None => {
            call(sdk, request, "lambda", "DeleteFunctionConcurrency", json!({ "FunctionName": name })).await?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Provider for Function {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let name = request.text("FunctionName").unwrap_or_else(|| request.generated_name(64));
        let mut input = configuration(request.properties, false);
        input.extend(copy(request.properties, &["PackageType", "Architectures", "CodeSigningConfigArn"]));
        input.insert("FunctionName".into(), json!(name));
        input.insert("Code".into(), Value::Object(code(request.properties)));
        input.insert("Tags".into(), tag_map(&request.tags()));
        call(sdk, request, "lambda", "CreateFunction", Value::Object(input)).await?;
        if request.prop("ReservedConcurrentExecutions").is_some() {
            concurrency(sdk, request, &name).await?;
        }
        Ok(provisioned(name.clone(), json!({ "Arn": function_arn(request, &name) })))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        name: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError> {
        let new = request.properties;
        if changed(old, new, &["Code", "Architectures"]) {
            let mut input = code(new);
            input.extend(copy(new, &["Architectures"]));
            input.insert("FunctionName".into(), json!(name));
            call(sdk, request, "lambda", "UpdateFunctionCode", Value::Object(input)).await?;
        }
        if configuration(old, true) != configuration(new, true) {
            let mut input = configuration(new, true);
            input.insert("FunctionName".into(), json!(name));
            call(sdk, request, "lambda", "UpdateFunctionConfiguration", Value::Object(input)).await?;
        }
        if changed(old, new, &["ReservedConcurrentExecutions"]) {
            concurrency(sdk, request, name).await?;
        }
        let arn = function_arn(request, name);
        let tags = request.tags();
        let removed: Vec<String> = tag_list(old.get("Tags"))
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !tags.iter().any(|(n, _)| n == k))
            .collect();
        if !removed.is_empty() {
            call(sdk, request, "lambda", "UntagResource", json!({ "Resource": arn, "TagKeys": removed })).await?;
        }
        call(sdk, request, "lambda", "TagResource", json!({ "Resource": arn, "Tags": tag_map(&tags) })).await?;
        Ok(provisioned(name, json!({ "Arn": arn })))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, name: &str) -> Result<(), AwsError> {
        ignore_gone(call(sdk, request, "lambda", "DeleteFunction", json!({ "FunctionName": name })).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["FunctionName", "PackageType", "CodeSigningConfigArn"])
    }

    fn generated_id(&self, request: &Request<'_>) -> Option<String> {
        request.name_or_generated("FunctionName", 64)
    }
}

#[async_trait::async_trait]
impl Provider for Permission {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let statement = request.generated_name(100);
        let mut input = copy(
            request.properties,
            &[
                "FunctionName",
                "Action",
                "Principal",
                "SourceArn",
                "SourceAccount",
                "EventSourceToken",
                "PrincipalOrgID",
                "FunctionUrlAuthType",
            ],
        );
        input.insert("StatementId".into(), json!(statement));
        call(sdk, request, "lambda", "AddPermission", Value::Object(input)).await?;
        Ok(provisioned(statement, json!({})))
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

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, statement: &str) -> Result<(), AwsError> {
        let input = json!({ "FunctionName": request.properties["FunctionName"], "StatementId": statement });
        ignore_gone(call(sdk, request, "lambda", "RemovePermission", input).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        old != new
    }

    fn generated_id(&self, request: &Request<'_>) -> Option<String> {
        Some(request.generated_name(100))
    }
}

/// The members of an event source mapping UpdateEventSourceMapping changes.
const MAPPING_SETTINGS: &[&str] = &[
    "FunctionName",
    "Enabled",
    "BatchSize",
    "FilterCriteria",
    "MaximumBatchingWindowInSeconds",
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
    "FunctionResponseTypes",
    "ScalingConfig",
    "SourceAccessConfigurations",
    "DocumentDBEventSourceConfig",
    "KmsKeyArn",
    "MetricsConfig",
    "ProvisionedPollerConfig",
];

/// The properties an event source mapping is created with, but cannot change.
const MAPPING_FIXED: &[&str] = &[
    "EventSourceArn",
    "StartingPosition",
    "StartingPositionTimestamp",
    "Topics",
    "Queues",
    "SelfManagedEventSource",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
];

fn mapping_settings(properties: &Value) -> Map<String, Value> {
    let mut out = copy(properties, MAPPING_SETTINGS);
    if let Some(key) = out.remove("KmsKeyArn") {
        out.insert("KMSKeyArn".into(), key);
    }
    numbers(
        &mut out,
        &[
            "BatchSize",
            "MaximumBatchingWindowInSeconds",
            "MaximumRecordAgeInSeconds",
            "MaximumRetryAttempts",
            "ParallelizationFactor",
            "TumblingWindowInSeconds",
        ],
    );
    booleans(&mut out, &["Enabled", "BisectBatchOnFunctionError"]);
    out
}

fn mapping_answer(out: &Value) -> Provisioned {
    let id = out["UUID"].as_str().unwrap_or_default();
    provisioned(id, json!({ "Id": id, "EventSourceMappingArn": out["EventSourceMappingArn"] }))
}

#[async_trait::async_trait]
impl Provider for EventSourceMapping {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let mut input = mapping_settings(request.properties);
        input.extend(copy(request.properties, MAPPING_FIXED));
        if let Some(Value::String(t)) = input.get("StartingPositionTimestamp")
            && let Ok(n) = t.parse::<f64>()
        {
            input.insert("StartingPositionTimestamp".into(), json!(n));
        }
        input.insert("Tags".into(), tag_map(&request.tags()));
        let out = call(sdk, request, "lambda", "CreateEventSourceMapping", Value::Object(input)).await?;
        Ok(mapping_answer(&out))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        id: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        let mut input = mapping_settings(request.properties);
        input.insert("UUID".into(), json!(id));
        input.entry("Enabled").or_insert(json!(true));
        let out = call(sdk, request, "lambda", "UpdateEventSourceMapping", Value::Object(input)).await?;
        Ok(mapping_answer(&out))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, id: &str) -> Result<(), AwsError> {
        ignore_gone(call(sdk, request, "lambda", "DeleteEventSourceMapping", json!({ "UUID": id })).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, MAPPING_FIXED)
    }
}

#[async_trait::async_trait]
impl Provider for Version {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let input = Value::Object(copy(request.properties, &["FunctionName", "CodeSha256", "Description"]));
        let out = call(sdk, request, "lambda", "PublishVersion", input).await?;
        let arn = out["FunctionArn"].as_str().unwrap_or_default();
        Ok(provisioned(arn, json!({ "FunctionArn": arn, "Version": out["Version"] })))
    }

    async fn update(
        &self,
        _: &dyn AwsSdkClient,
        _: &Request<'_>,
        arn: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        let version = arn.rsplit(':').next().unwrap_or_default();
        Ok(provisioned(arn, json!({ "FunctionArn": arn, "Version": version })))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, arn: &str) -> Result<(), AwsError> {
        let (function, version) = arn.rsplit_once(':').unwrap_or((arn, ""));
        let input = json!({ "FunctionName": function, "Qualifier": version });
        ignore_gone(call(sdk, request, "lambda", "DeleteFunction", input).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["FunctionName", "CodeSha256", "Description", "RuntimePolicy"])
    }
}

/// The alias members of the properties: `RoutingConfig`'s weights as Lambda's map.
fn alias_input(properties: &Value) -> Map<String, Value> {
    let mut input = copy(properties, &["FunctionName", "Name", "FunctionVersion", "Description"]);
    let weights: Map<String, Value> = properties
        .pointer("/RoutingConfig/AdditionalVersionWeights")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|w| Some((text(w.get("FunctionVersion")?)?, number(w.get("FunctionWeight")?)?)))
        .collect();
    if properties.get("RoutingConfig").is_some_and(|v| !v.is_null()) {
        input.insert("RoutingConfig".into(), json!({ "AdditionalVersionWeights": weights }));
    }
    input
}

fn alias_answer(out: &Value) -> Provisioned {
    let arn = out["AliasArn"].as_str().unwrap_or_default();
    provisioned(arn, json!({ "AliasArn": arn }))
}

#[async_trait::async_trait]
impl Provider for Alias {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let out = call(sdk, request, "lambda", "CreateAlias", Value::Object(alias_input(request.properties))).await?;
        Ok(alias_answer(&out))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        _: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        let mut input = alias_input(request.properties);
        input.entry("Description").or_insert(json!(""));
        input.entry("RoutingConfig").or_insert(json!({ "AdditionalVersionWeights": {} }));
        let out = call(sdk, request, "lambda", "UpdateAlias", Value::Object(input)).await?;
        Ok(alias_answer(&out))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, arn: &str) -> Result<(), AwsError> {
        let (function, name) = arn.rsplit_once(':').unwrap_or((arn, ""));
        let input = json!({ "FunctionName": function, "Name": name });
        ignore_gone(call(sdk, request, "lambda", "DeleteAlias", input).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["FunctionName", "Name"])
    }
}

fn url_input(properties: &Value) -> Map<String, Value> {
    let mut input = copy(properties, &["Qualifier", "AuthType", "Cors", "InvokeMode"]);
    input.insert("FunctionName".into(), properties["TargetFunctionArn"].clone());
    if let Some(Value::Object(cors)) = input.get_mut("Cors") {
        numbers(cors, &["MaxAge"]);
        booleans(cors, &["AllowCredentials"]);
    }
    input
}

fn url_answer(out: &Value) -> Provisioned {
    let arn = out["FunctionArn"].as_str().unwrap_or_default();
    provisioned(arn, json!({ "FunctionArn": arn, "FunctionUrl": out["FunctionUrl"] }))
}

#[async_trait::async_trait]
impl Provider for Url {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let out = call(sdk, request, "lambda", "CreateFunctionUrlConfig", Value::Object(url_input(request.properties)))
            .await?;
        Ok(url_answer(&out))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        _: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        let mut input = url_input(request.properties);
        input.entry("Cors").or_insert(json!({}));
        let out = call(sdk, request, "lambda", "UpdateFunctionUrlConfig", Value::Object(input)).await?;
        Ok(url_answer(&out))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, _: &str) -> Result<(), AwsError> {
        let mut input = copy(request.properties, &["Qualifier"]);
        input.insert("FunctionName".into(), request.properties["TargetFunctionArn"].clone());
        ignore_gone(call(sdk, request, "lambda", "DeleteFunctionUrlConfig", Value::Object(input)).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["TargetFunctionArn", "Qualifier"])
    }
}

#[async_trait::async_trait]
impl Provider for LayerVersion {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let mut input = copy(
            request.properties,
            &["Description", "Content", "CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures"],
        );
        let name = request.text("LayerName").unwrap_or_else(|| request.generated_name(140));
        input.insert("LayerName".into(), json!(name));
        let out = call(sdk, request, "lambda", "PublishLayerVersion", Value::Object(input)).await?;
        let arn = out["LayerVersionArn"].as_str().unwrap_or_default();
        Ok(provisioned(arn, json!({ "LayerVersionArn": arn })))
    }

    async fn update(
        &self,
        _: &dyn AwsSdkClient,
        _: &Request<'_>,
        arn: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        Ok(provisioned(arn, json!({ "LayerVersionArn": arn })))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, arn: &str) -> Result<(), AwsError> {
        let (layer, version) = arn.rsplit_once(':').unwrap_or((arn, ""));
        let Some(version) = version.parse::<i64>().ok() else { return Ok(()) };
        let input = json!({ "LayerName": layer, "VersionNumber": version });
        ignore_gone(call(sdk, request, "lambda", "DeleteLayerVersion", input).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        old != new
    }
}

/// The PutFunctionEventInvokeConfig input of the properties.
fn invoke_config(properties: &Value) -> Map<String, Value> {
    let mut input = copy(
        properties,
        &["FunctionName", "Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"],
    );
    numbers(&mut input, &["MaximumRetryAttempts", "MaximumEventAgeInSeconds"]);
    input
}

#[async_trait::async_trait]
impl Provider for EventInvokeConfig {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let input = Value::Object(invoke_config(request.properties));
        call(sdk, request, "lambda", "PutFunctionEventInvokeConfig", input).await?;
        Ok(provisioned(request.generated_name(255), json!({})))
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        id: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        let input = Value::Object(invoke_config(request.properties));
        call(sdk, request, "lambda", "PutFunctionEventInvokeConfig", input).await?;
        Ok(provisioned(id, json!({})))
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, _: &str) -> Result<(), AwsError> {
        let input = Value::Object(copy(request.properties, &["FunctionName", "Qualifier"]));
        ignore_gone(call(sdk, request, "lambda", "DeleteFunctionEventInvokeConfig", input).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["FunctionName", "Qualifier"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_code_is_zipped_under_the_runtime_s_file_name() {
        let props = json!({ "Runtime": "python3.12", "Code": { "ZipFile": "def handler(e, c):\n  return 1\n" } });
        let code = code(&props);
        let zip: Blob = serde_json::from_value(code["ZipFile"].clone()).unwrap();
        assert_eq!(&zip.0[30..38], b"index.py");
        assert_eq!(inline_file_name("nodejs20.x"), "index.js");
        let s3 = code_of(json!({ "Code": { "S3Bucket": "b", "S3Key": "k" } }));
        assert_eq!(s3, json!({ "S3Bucket": "b", "S3Key": "k" }));
    }

    fn code_of(props: Value) -> Value {
        Value::Object(code(&props))
    }

    #[test]
    fn configuration_numbers_are_numbers_and_removed_ones_go_back_to_defaults() {
        let props = json!({ "Timeout": "30", "MemorySize": 256, "KmsKeyArn": "k", "Handler": "index.handler" });
        let c = configuration(&props, false);
        assert_eq!(c["Timeout"], 30);
        assert_eq!(c["KMSKeyArn"], "k");
        assert!(!c.contains_key("Description"));
        let c = configuration(&json!({}), true);
        assert_eq!((c["Timeout"].clone(), c["MemorySize"].clone()), (json!(3), json!(128)));
    }

    #[test]
    fn alias_weights_become_a_map() {
        let props = json!({ "FunctionName": "f", "Name": "live", "FunctionVersion": "2",
            "RoutingConfig": { "AdditionalVersionWeights": [{ "FunctionVersion": "1", "FunctionWeight": "0.5" }] } });
        assert_eq!(alias_input(&props)["RoutingConfig"], json!({ "AdditionalVersionWeights": { "1": 0.5 } }));
    }

    #[test]
    fn mapping_settings_are_typed_and_fixed_ones_replace() {
        let s = mapping_settings(&json!({ "BatchSize": "5", "Enabled": "false", "EventSourceArn": "a" }));
        assert_eq!(s, *json!({ "Enabled": false, "BatchSize": 5 }).as_object().unwrap());
        assert!(EventSourceMapping.replaces(&json!({ "EventSourceArn": "a" }), &json!({ "EventSourceArn": "b" })));
        assert!(!EventSourceMapping.replaces(&json!({ "BatchSize": 1 }), &json!({ "BatchSize": 2 })));
        assert!(Function.replaces(&json!({ "FunctionName": "a" }), &json!({ "FunctionName": "b" })));
        assert!(!Function.replaces(&json!({ "Timeout": 1 }), &json!({ "Timeout": 2 })));
    }
}
