//! The `AWS::Serverless-2016-10-31` transform (SAM) as a pure function of the template: the
//! `AWS::Serverless::*` resources become the CloudFormation resources, logical ids and
//! properties AWS's SAM translator (`aws-sam-translator`) produces for them.
//!
//! Functions (code, role and its policies, policy templates, S3/SQS/SNS/DynamoDB/Kinesis
//! events, AutoPublishAlias and AutoPublishAliasAllProperties, DeadLetterQueue,
//! EventInvokeConfig, FunctionUrlConfig, PropagateTags), simple tables, state machines and
//! layer versions are expanded; the types and events needing
//! services Brume does not have yet (API Gateway, EventBridge) fail the transform clearly.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};

use crate::template::TemplateError;

#[cfg(test)]
mod tests;

pub const TRANSFORM: &str = "AWS::Serverless-2016-10-31";

/// The policy templates' definitions, as the translator ships them
/// (`policy_templates_data/policy_templates.json`), for the templates Brume expands.
static POLICY_TEMPLATES: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(include_str!("policy_templates.json")).unwrap_or(Value::Null));

/// The AWS managed policies (`path/name`) as the translator's bundled list
/// (`internal/data/aws_managed_policies.json`) gives them.
static MANAGED_POLICIES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| include_str!("managed_policies.txt").lines().collect());

/// The Lambda properties an `AWS::Serverless::Function` passes through unchanged.
const FUNCTION_PROPERTIES: &[&str] = &[
    "Description",
    "FunctionName",
    "Handler",
    "MemorySize",
    "Runtime",
    "Timeout",
    "VpcConfig",
    "Environment",
    "TracingConfig",
    "KmsKeyArn",
    "Layers",
    "ReservedConcurrentExecutions",
    "Architectures",
    "EphemeralStorage",
    "PackageType",
    "ImageConfig",
    "FileSystemConfigs",
    "CodeSigningConfigArn",
    "SnapStart",
    "LoggingConfig",
    "RecursiveLoop",
    "RuntimeManagementConfig",
];

/// The Globals sections and the properties each may set, as the translator lists them.
const GLOBALS: &[(&str, &[&str])] = &[
    (
        "Api",
        &[
            "Auth",
            "Name",
            "DefinitionUri",
            "CacheClusterEnabled",
            "CacheClusterSize",
            "MergeDefinitions",
            "Variables",
            "EndpointConfiguration",
            "MethodSettings",
            "BinaryMediaTypes",
            "MinimumCompressionSize",
            "Cors",
            "GatewayResponses",
            "AccessLogSetting",
            "CanarySetting",
            "TracingEnabled",
            "OpenApiVersion",
            "Domain",
            "AlwaysDeploy",
            "PropagateTags",
            "SecurityPolicy",
            "EndpointAccessMode",
        ],
    ),
    (
        "CapacityProvider",
        &[
            "VpcConfig",
            "OperatorRole",
            "Tags",
            "InstanceRequirements",
            "ScalingConfig",
            "KmsKeyArn",
            "PropagateTags",
            "LoggingConfig",
            "ManagedResourceTags",
        ],
    ),
    (
        "Function",
        &[
            "Handler",
            "Runtime",
            "CodeUri",
            "DeadLetterQueue",
            "Description",
            "MemorySize",
            "Timeout",
            "VpcConfig",
            "Environment",
            "Tags",
            "PropagateTags",
            "Tracing",
            "KmsKeyArn",
            "AutoPublishAlias",
            "AutoPublishAliasAllProperties",
            "Layers",
            "DeploymentPreference",
            "RolePath",
            "PermissionsBoundary",
            "ReservedConcurrentExecutions",
            "ProvisionedConcurrencyConfig",
            "AssumeRolePolicyDocument",
            "EventInvokeConfig",
            "FileSystemConfigs",
            "CodeSigningConfigArn",
            "Architectures",
            "SnapStart",
            "EphemeralStorage",
            "FunctionUrlConfig",
            "RuntimeManagementConfig",
            "LoggingConfig",
            "RecursiveLoop",
            "SourceKMSKeyArn",
            "TenancyConfig",
            "DurableConfig",
            "CapacityProviderConfig",
            "FunctionScalingConfig",
            "PublishToLatestPublished",
            "VersionDeletionPolicy",
        ],
    ),
    (
        "HttpApi",
        &[
            "Auth",
            "AccessLogSettings",
            "StageVariables",
            "Tags",
            "CorsConfiguration",
            "DefaultRouteSettings",
            "Domain",
            "RouteSettings",
            "FailOnWarnings",
            "PropagateTags",
        ],
    ),
    ("LayerVersion", &["PublishLambdaVersion"]),
    (
        "MicrovmImage",
        &[
            "BuildRoleArn",
            "BaseImageArn",
            "BaseImageVersion",
            "Logging",
            "EgressNetworkConnectors",
            "CpuConfigurations",
            "Resources",
            "AdditionalOsCapabilities",
            "Hooks",
            "EnvironmentVariables",
            "Tags",
            "PropagateTags",
        ],
    ),
    ("NetworkConnector", &["OperatorRole", "Tags", "PropagateTags"]),
    ("SimpleTable", &["SSESpecification"]),
    ("StateMachine", &["PropagateTags"]),
    (
        "WebSocketApi",
        &[
            "AccessLogSettings",
            "ApiKeySelectionExpression",
            "DefaultRouteSettings",
            "DisableExecuteApiEndpoint",
            "DisableSchemaValidation",
            "Domain",
            "FailOnWarnings",
            "IpAddressType",
            "PropagateTags",
            "RouteSelectionExpression",
            "RouteSettings",
            "StageVariables",
            "Tags",
        ],
    ),
];

/// Whether the template declares the SAM transform (`Transform`, a name or a list).
pub fn declares(template: &Value) -> bool {
    match template.get("Transform") {
        Some(Value::String(name)) => name == TRANSFORM,
        Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(TRANSFORM)),
        _ => false,
    }
}

/// The template with its SAM resources expanded into CloudFormation; a template that does
/// not declare the transform is returned as it is.
pub fn expand(template: Value, region: &str, account: &str, stack_name: &str) -> Result<Value, TemplateError> {
    if !declares(&template) {
        return Ok(template);
    }
    let Value::Object(mut template) = template else { return Ok(template) };
    let globals = template.remove("Globals").unwrap_or(Value::Null);
    check_globals(&globals)?;
    match template.get_mut("Transform") {
        Some(Value::Array(items)) => {
            items.retain(|i| i.as_str() != Some(TRANSFORM));
            if items.is_empty() {
                template.remove("Transform");
            }
        }
        _ => {
            template.remove("Transform");
        }
    }
    let source = template.get("Resources").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut sam = Sam {
        partition: partition(region),
        pseudo: [
            ("AWS::Region", region.to_string()),
            ("AWS::AccountId", account.to_string()),
            ("AWS::StackName", stack_name.to_string()),
        ],
        parameters: template.get("Parameters").cloned().unwrap_or(Value::Null),
        source: source.clone(),
        out: Map::new(),
        renamed: Vec::new(),
    };
    for (id, resource) in &source {
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or_default();
        if !kind.starts_with("AWS::Serverless::") {
            sam.out.entry(id.clone()).or_insert_with(|| resource.clone());
            continue;
        }
        let section = kind.trim_start_matches("AWS::Serverless::");
        let mut properties = resource.get("Properties").cloned().unwrap_or_else(|| json!({}));
        if let Some(global) = globals.get(section) {
            properties = merge(global.clone(), properties);
        }
        let before: BTreeSet<String> = sam.out.keys().cloned().collect();
        match section {
            "Function" => sam.function(id, resource, &properties)?,
            "SimpleTable" => sam.simple_table(id, resource, &properties),
            "StateMachine" => sam.state_machine(id, resource, &properties)?,
            "LayerVersion" => sam.layer_version(id, resource, &properties)?,
            "Api" | "HttpApi" => return Err(invalid(id, "API Gateway is not available in Brume yet.")),
            _ => return Err(invalid(id, &format!("Resource type {kind} is not supported by Brume's SAM transform."))),
        }
        if properties.get("PropagateTags") == Some(&Value::Bool(true)) {
            sam.propagate_tags(&before, &properties);
        }
    }
    let mut resources = Value::Object(std::mem::take(&mut sam.out));
    for (old, new) in &sam.renamed {
        rename_refs(&mut resources, old, new);
    }
    template.insert("Resources".into(), resources);
    if let Some(outputs) = template.get_mut("Outputs") {
        for (old, new) in &sam.renamed {
            rename_refs(outputs, old, new);
        }
    }
    Ok(Value::Object(template))
}

fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The transform's failure, worded as CloudFormation reports the translator's.
fn invalid(id: &str, message: &str) -> TemplateError {
    TemplateError {
        message: format!(
            "Transform {TRANSFORM} failed with: Invalid Serverless Application Specification document. \
             Number of errors found: 1. Resource with id [{id}] is invalid. {message}"
        ),
    }
}

/// A Globals section or property the translator does not take, refused in its words.
fn check_globals(globals: &Value) -> Result<(), TemplateError> {
    let fail = |message: String| TemplateError {
        message: format!(
            "Transform {TRANSFORM} failed with: Invalid Serverless Application Specification document. \
             Number of errors found: 1. 'Globals' section is invalid. {message}"
        ),
    };
    let python_list =
        |items: &[&str]| format!("[{}]", items.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(", "));
    let sections = match globals {
        Value::Null => return Ok(()),
        Value::Object(sections) if !sections.is_empty() => sections,
        _ => return Err(fail("It must be a non-empty dictionary".into())),
    };
    for (section, properties) in sections {
        let Some((_, supported)) = GLOBALS.iter().find(|(name, _)| name == section) else {
            let names: Vec<&str> = GLOBALS.iter().map(|(name, _)| *name).collect();
            return Err(fail(format!(
                "'{section}' is not supported. Must be one of the following values - {}",
                python_list(&names)
            )));
        };
        let Value::Object(properties) = properties else {
            return Err(fail("Value of ${section} must be a dictionary".into()));
        };
        if let Some(key) = properties.keys().find(|k| !supported.contains(&k.as_str())) {
            return Err(fail(format!(
                "'{key}' is not a supported property of '{section}'. Must be one of the following values - {}",
                python_list(supported)
            )));
        }
    }
    Ok(())
}

fn invalid_event(id: &str, event: &str, message: &str) -> TemplateError {
    invalid(id, &format!("Event with id [{event}] is invalid. {message}"))
}

/// Globals merged into a resource's properties as SAM merges them: maps merged key by key,
/// lists concatenated (the global's items first), anything else the resource's own value.
fn merge(global: Value, local: Value) -> Value {
    match (global, local) {
        (Value::Object(mut global), Value::Object(local)) => {
            for (key, value) in local {
                let merged = match global.remove(&key) {
                    Some(g) => merge(g, value),
                    None => value,
                };
                global.insert(key, merged);
            }
            Value::Object(global)
        }
        (Value::Array(mut global), Value::Array(local)) => {
            global.extend(local);
            Value::Array(global)
        }
        (_, local) => local,
    }
}

/// Every `Ref` and `Fn::GetAtt` naming `old` made to name `new`.
fn rename_refs(value: &mut Value, old: &str, new: &str) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(target)) = object.get_mut("Ref")
                && target == old
            {
                *target = new.to_string();
            }
            if let Some(Value::Array(items)) = object.get_mut("Fn::GetAtt")
                && let Some(Value::String(target)) = items.first_mut()
                && target == old
            {
                *target = new.to_string();
            }
            object.values_mut().for_each(|v| rename_refs(v, old, new));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_refs(v, old, new)),
        _ => {}
    }
}

/// JSON with sorted keys and no spaces, as the translator hashes data for logical ids.
fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(object) => {
                let mut keys: Vec<&String> = object.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&object[k]))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    match value {
        Value::String(s) => s.clone(),
        other => ascii(&sorted(other).to_string()),
    }
}

/// JSON text with each non-ASCII character escaped (`\u00e9`, surrogate pairs beyond the
/// basic plane), as Python's `json.dumps` writes it.
fn ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

fn hash10(data: &str) -> String {
    brume_core::hex(&Sha1::digest(data.as_bytes()))[..10].to_string()
}

/// `{"Key": k, "Value": v}` tags, SAM's `createdBy` tag first, from a SAM tag map.
fn tags(created_by: (&str, &str), given: Option<&Value>) -> Value {
    let mut list = vec![json!({"Key": created_by.0, "Value": created_by.1})];
    if let Some(Value::Object(given)) = given {
        list.extend(given.iter().map(|(k, v)| json!({"Key": k, "Value": v})));
    }
    Value::Array(list)
}

/// The resource attributes SAM passes through to the resources it generates.
fn passthrough(resource: &Value, generated: &mut Map<String, Value>) {
    for attribute in ["Condition", "DependsOn", "Metadata", "DeletionPolicy", "UpdateReplacePolicy"] {
        if let Some(value) = resource.get(attribute) {
            generated.insert(attribute.into(), value.clone());
        }
    }
}

/// The types of generated resources the translator's PropagateTags tags.
const TAGGED_TYPES: &[&str] = &[
    "AWS::Lambda::Function",
    "AWS::IAM::Role",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::StepFunctions::StateMachine",
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
];

struct Sam {
    partition: &'static str,
    pseudo: [(&'static str, String); 3],
    parameters: Value,
    source: Map<String, Value>,
    out: Map<String, Value>,
    /// Layer versions whose logical id took a content hash: references are renamed.
    renamed: Vec<(String, String)>,
}

impl Sam {
    /// PropagateTags: the resource's Tags, and only those, on what it generated that takes
    /// tags (the resources not in `before`, and the buckets its S3 events notify), as the
    /// translator replaces their tags.
    fn propagate_tags(&mut self, before: &BTreeSet<String>, properties: &Value) {
        let Some(Value::Object(given)) =
            properties.get("Tags").filter(|t| t.as_object().is_some_and(|m| !m.is_empty()))
        else {
            return;
        };
        let list: Vec<Value> = given.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        let buckets: Vec<&str> = properties
            .get("Events")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|events| events.values())
            .filter(|e| e.get("Type").and_then(Value::as_str) == Some("S3"))
            .filter_map(|e| e.pointer("/Properties/Bucket/Ref").and_then(Value::as_str))
            .collect();
        for (id, generated) in self.out.iter_mut() {
            let kind = generated.get("Type").and_then(Value::as_str).unwrap_or_default();
            if (!before.contains(id) || buckets.contains(&id.as_str())) && TAGGED_TYPES.contains(&kind) {
                generated["Properties"]["Tags"] = Value::Array(list.clone());
            }
        }
    }

    /// A value SAM resolves itself (CodeUri, AutoPublishAlias): a `Ref` to a pseudo
    /// parameter or to a parameter's Default becomes its text.
    fn resolve(&self, value: &Value) -> Value {
        if let Some(Value::String(name)) = value.get("Ref") {
            if let Some((_, v)) = self.pseudo.iter().find(|(p, _)| p == name) {
                return Value::String(v.clone());
            }
            if let Some(default) = self.parameters.get(name).and_then(|p| p.get("Default")) {
                return default.clone();
            }
        }
        value.clone()
    }

    /// An S3 location (`s3://bucket/key?versionId=v` or `{Bucket, Key, Version}`) as the
    /// member names the target property uses.
    fn s3_location(&self, id: &str, property: &str, uri: &Value, names: [&str; 3]) -> Result<Value, TemplateError> {
        let mut location = Map::new();
        match self.resolve(uri) {
            Value::String(text) => {
                let parsed = text.strip_prefix("s3://").and_then(|rest| rest.split_once('/'));
                let Some((bucket, key)) = parsed.filter(|(b, k)| !b.is_empty() && !k.is_empty()) else {
                    return Err(invalid(
                        id,
                        &format!(
                            "'{property}' is not a valid S3 Uri of the form 's3://bucket/key' with optional \
                             versionId query parameter."
                        ),
                    ));
                };
                let (key, version) = match key.split_once("?versionId=") {
                    Some((key, version)) => (key, Some(version)),
                    None => (key, None),
                };
                location.insert(names[0].into(), bucket.into());
                location.insert(names[1].into(), key.into());
                if let Some(version) = version {
                    location.insert(names[2].into(), version.into());
                }
            }
            Value::Object(given) => {
                for (from, to) in ["Bucket", "Key", "Version"].iter().zip(names) {
                    if let Some(v) = given.get(*from) {
                        location.insert(to.into(), v.clone());
                    }
                }
            }
            _ => return Err(invalid(id, &format!("'{property}' requires Bucket and Key properties to be specified."))),
        }
        Ok(Value::Object(location))
    }

    /// A managed policy named in Policies: an AWS managed policy's name becomes its ARN (with
    /// its path), as the translator's bundled list gives it; an ARN or any other name is kept.
    fn managed_policy(&self, name: &Value) -> Value {
        match name.as_str().and_then(|n| MANAGED_POLICIES.iter().find(|p| p.rsplit('/').next() == Some(n))) {
            Some(path) => Value::String(format!("arn:{}:iam::aws:policy/{path}", self.partition)),
            None => name.clone(),
        }
    }

    /// A generated execution role: `<id>Role` assumed by `service`, with the Policies (managed
    /// names and ARNs, inline documents, policy templates) after the `inline` ones.
    #[allow(clippy::too_many_arguments)]
    fn role(
        &mut self,
        id: &str,
        resource: &Value,
        properties: &Value,
        service: &str,
        (mut managed, events): (Vec<Value>, Vec<Value>),
        inline: Vec<Value>,
        tags: Value,
    ) -> Result<String, TemplateError> {
        let role_id = format!("{id}Role");
        let mut policies = inline;
        let given = match properties.get("Policies") {
            None => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(one) => vec![one.clone()],
        };
        for (index, policy) in given.iter().enumerate() {
            match policy {
                Value::String(_) => managed.push(self.managed_policy(policy)),
                Value::Object(object) if object.contains_key("Statement") => policies.push(json!({
                    "PolicyName": format!("{role_id}Policy{index}"),
                    "PolicyDocument": policy,
                })),
                Value::Object(object) if object.len() == 1 => {
                    let (name, values) = object.iter().next().expect("one entry");
                    if name == "Ref" || name.starts_with("Fn::") {
                        managed.push(policy.clone());
                        continue;
                    }
                    let document = policy_template(id, name, values)?;
                    policies.push(json!({"PolicyName": format!("{role_id}Policy{index}"), "PolicyDocument": document}));
                }
                _ => {
                    return Err(invalid(
                        id,
                        &format!("Policy at index {index} in the 'Policies' property is not valid"),
                    ));
                }
            }
        }
        managed.extend(events.into_iter().filter(|p| !managed.contains(p)).collect::<Vec<_>>());
        let mut role = Map::new();
        role.insert(
            "AssumeRolePolicyDocument".into(),
            properties.get("AssumeRolePolicyDocument").cloned().unwrap_or_else(|| {
                json!({"Version": "2012-10-17", "Statement": [
                    {"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": [service]}}
                ]})
            }),
        );
        role.insert("ManagedPolicyArns".into(), Value::Array(managed));
        if !policies.is_empty() {
            role.insert("Policies".into(), Value::Array(policies));
        }
        for (from, to) in [("PermissionsBoundary", "PermissionsBoundary"), ("RolePath", "Path")] {
            if let Some(v) = properties.get(from) {
                role.insert(to.into(), v.clone());
            }
        }
        role.insert("Tags".into(), tags);
        let mut generated = Map::new();
        generated.insert("Type".into(), "AWS::IAM::Role".into());
        generated.insert("Properties".into(), Value::Object(role));
        if let Some(condition) = resource.get("Condition") {
            generated.insert("Condition".into(), condition.clone());
        }
        self.out.insert(role_id.clone(), Value::Object(generated));
        Ok(role_id)
    }

    fn add(&mut self, id: String, kind: &str, properties: Value, resource: &Value) {
        let mut generated = Map::new();
        generated.insert("Type".into(), kind.into());
        generated.insert("Properties".into(), properties);
        if let Some(condition) = resource.get("Condition") {
            generated.insert("Condition".into(), condition.clone());
        }
        self.out.insert(id, Value::Object(generated));
    }

    fn function(&mut self, id: &str, resource: &Value, properties: &Value) -> Result<(), TemplateError> {
        let code = match (properties.get("CodeUri"), properties.get("InlineCode"), properties.get("ImageUri")) {
            (_, Some(inline), _) => json!({"ZipFile": inline}),
            (_, _, Some(image)) => json!({"ImageUri": image}),
            (Some(uri), _, _) => self.s3_location(id, "CodeUri", uri, ["S3Bucket", "S3Key", "S3ObjectVersion"])?,
            (None, None, None) => {
                return Err(invalid(id, "Only one of 'InlineCode' or 'CodeUri' can be set. Found neither."));
            }
        };
        let mut lambda = Map::new();
        lambda.insert("Code".into(), code.clone());
        for name in FUNCTION_PROPERTIES {
            if let Some(v) = properties.get(*name) {
                lambda.insert(name.to_string(), v.clone());
            }
        }
        if let Some(tracing) = properties.get("Tracing") {
            lambda.insert("TracingConfig".into(), json!({"Mode": tracing}));
        }
        let tag_list = tags(("lambda:createdBy", "SAM"), properties.get("Tags"));
        lambda.insert("Tags".into(), tag_list.clone());

        let alias = properties.get("AutoPublishAlias").map(|a| self.resolve(a));
        let function_ref = match &alias {
            Some(Value::String(name)) => json!({"Ref": format!("{id}Alias{name}")}),
            _ => json!({"Ref": id}),
        };

        let mut managed = vec![self.managed_policy(&"AWSLambdaBasicExecutionRole".into())];
        if properties.get("Tracing").and_then(Value::as_str) == Some("Active") {
            managed.push(self.managed_policy(&"AWSXrayWriteOnlyAccess".into()));
        }
        let mut event_managed = Vec::new();
        let mut inline = Vec::new();
        if let Some(dlq) = properties.get("DeadLetterQueue") {
            let target = dlq.get("TargetArn").cloned().unwrap_or(Value::Null);
            let action = match dlq.get("Type").and_then(Value::as_str) {
                Some("SQS") => "sqs:SendMessage",
                Some("SNS") => "sns:Publish",
                _ => return Err(invalid(id, "'DeadLetterQueue' requires Type of SQS or SNS")),
            };
            lambda.insert("DeadLetterConfig".into(), json!({"TargetArn": target}));
            inline.push(json!({"PolicyName": "DeadLetterQueuePolicy", "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": action, "Resource": target, "Effect": "Allow"}],
            }}));
        }

        if let Some(Value::String(name)) = &alias {
            let mut hashed = code.as_object().cloned().unwrap_or_default();
            if let Some(Value::Object(environment)) = properties.get("Environment") {
                hashed.extend(environment.clone());
            }
            if let Some(memory) = properties.get("MemorySize") {
                hashed.insert("MemorySize".into(), memory.clone());
            }
            if properties.get("AutoPublishAliasAllProperties") == Some(&Value::Bool(true)) {
                // Every property of the function as generated so far (its Role only when given),
                // and the properties of the layers that ask to publish a version.
                hashed = lambda.clone();
                if let Some(role) = properties.get("Role") {
                    hashed.insert("Role".into(), role.clone());
                }
                for layer in properties.get("Layers").and_then(Value::as_array).into_iter().flatten() {
                    let Some(layer_id) = layer.get("Ref").and_then(Value::as_str) else { continue };
                    let layer_properties = self.source.get(layer_id).and_then(|l| l.get("Properties"));
                    if let Some(layer_properties) = layer_properties
                        && layer_properties.get("PublishLambdaVersion") == Some(&Value::Bool(true))
                    {
                        hashed.insert(layer_id.into(), layer_properties.clone());
                    }
                }
            }
            let hash = match properties.get("AutoPublishCodeSha256").and_then(Value::as_str) {
                Some(sha) => sha.chars().take(10).collect(),
                None => hash10(&canonical(&Value::Object(hashed))),
            };
            let version_id = format!("{id}Version{hash}");
            let mut version = json!({"FunctionName": {"Ref": id}});
            if let Some(description) = properties.get("VersionDescription") {
                version["Description"] = description.clone();
            }
            self.add(version_id.clone(), "AWS::Lambda::Version", version, resource);
            let deletion = properties.get("VersionDeletionPolicy").cloned().unwrap_or_else(|| "Retain".into());
            self.out[&version_id]["DeletionPolicy"] = deletion;
            self.add(
                format!("{id}Alias{name}"),
                "AWS::Lambda::Alias",
                json!({"Name": name, "FunctionName": {"Ref": id}, "FunctionVersion": {"Fn::GetAtt": [version_id, "Version"]}}),
                resource,
            );
            if let Some(concurrency) = properties.get("ProvisionedConcurrencyConfig") {
                self.out[&format!("{id}Alias{name}")]["Properties"]["ProvisionedConcurrencyConfig"] =
                    concurrency.clone();
            }
        }
        if properties.get("DeploymentPreference").is_some() {
            return Err(invalid(id, "DeploymentPreference needs CodeDeploy, which Brume does not have yet."));
        }

        if let Some(config) = properties.get("EventInvokeConfig") {
            let mut invoke = Map::new();
            if let Some(Value::Object(destinations)) = config.get("DestinationConfig") {
                let mut out = Map::new();
                for (when, destination) in destinations {
                    let target = destination.get("Destination").cloned().unwrap_or(Value::Null);
                    let (kind, action) = match destination.get("Type").and_then(Value::as_str) {
                        Some("SQS") => ("SQS", "sqs:SendMessage"),
                        Some("SNS") => ("SNS", "sns:publish"),
                        Some("Lambda") => ("Lambda", "lambda:InvokeFunction"),
                        Some("EventBridge") => ("EventBridge", "events:PutEvents"),
                        _ => {
                            out.insert(when.clone(), json!({"Destination": target}));
                            continue;
                        }
                    };
                    if target.is_null() {
                        return Err(invalid(
                            id,
                            &format!("Destination is required when the destination Type is {kind} in Brume."),
                        ));
                    }
                    inline.push(json!({
                        "PolicyName": format!("{id}EventInvokeConfig{when}{kind}Policy"),
                        "PolicyDocument": {"Statement": [{"Action": action, "Effect": "Allow", "Resource": target}]},
                    }));
                    out.insert(when.clone(), json!({"Destination": target}));
                }
                invoke.insert("DestinationConfig".into(), Value::Object(out));
            }
            invoke.insert("FunctionName".into(), json!({"Ref": id}));
            for name in ["MaximumEventAgeInSeconds", "MaximumRetryAttempts"] {
                if let Some(v) = config.get(name) {
                    invoke.insert(name.into(), v.clone());
                }
            }
            let qualifier = match &alias {
                Some(Value::String(name)) => name.clone(),
                _ => "$LATEST".into(),
            };
            invoke.insert("Qualifier".into(), qualifier.into());
            self.add(
                format!("{id}EventInvokeConfig"),
                "AWS::Lambda::EventInvokeConfig",
                Value::Object(invoke),
                resource,
            );
            if let Some(Value::String(name)) = &alias {
                self.out[&format!("{id}EventInvokeConfig")]["DependsOn"] = json!([format!("{id}Alias{name}")]);
            }
        }

        if let Some(url) = properties.get("FunctionUrlConfig") {
            let mut config = json!({"TargetFunctionArn": function_ref.clone()});
            for name in ["AuthType", "Cors", "InvokeMode"] {
                if let Some(v) = url.get(name) {
                    config[name] = v.clone();
                }
            }
            self.add(format!("{id}Url"), "AWS::Lambda::Url", config, resource);
            if url.get("AuthType").and_then(Value::as_str) == Some("NONE") {
                self.add(
                    format!("{id}UrlPublicPermissions"),
                    "AWS::Lambda::Permission",
                    json!({"Action": "lambda:InvokeFunctionUrl", "FunctionName": function_ref.clone(),
                           "Principal": "*", "FunctionUrlAuthType": "NONE"}),
                    resource,
                );
                self.add(
                    format!("{id}URLInvokeAllowPublicAccess"),
                    "AWS::Lambda::Permission",
                    json!({"Action": "lambda:InvokeFunction", "FunctionName": function_ref.clone(),
                           "Principal": "*", "InvokedViaFunctionUrl": true}),
                    resource,
                );
            }
        }

        if let Some(Value::Object(events)) = properties.get("Events") {
            for (event, declaration) in events {
                let given = declaration.get("Properties").cloned().unwrap_or_else(|| json!({}));
                let kind = declaration.get("Type").and_then(Value::as_str).unwrap_or_default();
                self.event(id, event, kind, &given, &function_ref, resource, &mut event_managed)?;
            }
        }

        lambda.insert(
            "Role".into(),
            match properties.get("Role") {
                Some(role) => role.clone(),
                None => {
                    let role_id = self.role(
                        id,
                        resource,
                        properties,
                        "lambda.amazonaws.com",
                        (managed, event_managed),
                        inline,
                        tag_list,
                    )?;
                    json!({"Fn::GetAtt": [role_id, "Arn"]})
                }
            },
        );
        let mut generated = Map::new();
        generated.insert("Type".into(), "AWS::Lambda::Function".into());
        generated.insert("Properties".into(), Value::Object(lambda));
        passthrough(resource, &mut generated);
        self.out.insert(id.to_string(), Value::Object(generated));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        id: &str,
        event: &str,
        kind: &str,
        given: &Value,
        function_ref: &Value,
        resource: &Value,
        managed: &mut Vec<Value>,
    ) -> Result<(), TemplateError> {
        let copy = |names: &[&str], into: &mut Value| {
            for name in names {
                if let Some(v) = given.get(*name) {
                    into[*name] = v.clone();
                }
            }
        };
        match kind {
            "SQS" | "DynamoDB" | "Kinesis" => {
                let (source, policy) = match kind {
                    "SQS" => ("Queue", "AWSLambdaSQSQueueExecutionRole"),
                    "DynamoDB" => ("Stream", "AWSLambdaDynamoDBExecutionRole"),
                    _ => ("Stream", "AWSLambdaKinesisExecutionRole"),
                };
                let Some(arn) = given.get(source) else {
                    return Err(invalid_event(id, event, &format!("Missing required property '{source}'.")));
                };
                let mut mapping = json!({"EventSourceArn": arn, "FunctionName": function_ref});
                copy(
                    &[
                        "BatchSize",
                        "Enabled",
                        "StartingPosition",
                        "StartingPositionTimestamp",
                        "MaximumBatchingWindowInSeconds",
                        "MaximumRetryAttempts",
                        "MaximumRecordAgeInSeconds",
                        "BisectBatchOnFunctionError",
                        "ParallelizationFactor",
                        "DestinationConfig",
                        "TumblingWindowInSeconds",
                        "FunctionResponseTypes",
                        "FilterCriteria",
                        "ScalingConfig",
                        "MetricsConfig",
                    ],
                    &mut mapping,
                );
                self.add(format!("{id}{event}"), "AWS::Lambda::EventSourceMapping", mapping, resource);
                let policy = self.managed_policy(&policy.into());
                if !managed.contains(&policy) {
                    managed.push(policy);
                }
            }
            "SNS" => {
                let Some(topic) = given.get("Topic") else {
                    return Err(invalid_event(id, event, "Missing required property 'Topic'."));
                };
                if given.get("SqsSubscription").is_some() {
                    return Err(invalid_event(id, event, "SqsSubscription is not supported by Brume's SAM transform."));
                }
                self.add(
                    format!("{id}{event}Permission"),
                    "AWS::Lambda::Permission",
                    json!({"Action": "lambda:InvokeFunction", "FunctionName": function_ref,
                           "Principal": "sns.amazonaws.com", "SourceArn": topic}),
                    resource,
                );
                let mut subscription =
                    json!({"Endpoint": function_arn(id, function_ref), "Protocol": "lambda", "TopicArn": topic});
                copy(&["Region", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"], &mut subscription);
                self.add(format!("{id}{event}"), "AWS::SNS::Subscription", subscription, resource);
            }
            "S3" => {
                let bucket = given.get("Bucket").and_then(|b| b.get("Ref")).and_then(Value::as_str);
                let Some(bucket) = bucket.filter(|b| {
                    self.source.get(*b).and_then(|r| r.get("Type")).and_then(Value::as_str) == Some("AWS::S3::Bucket")
                }) else {
                    return Err(invalid_event(
                        id,
                        event,
                        "S3 events must reference an S3 bucket in the same template.",
                    ));
                };
                let bucket = bucket.to_string();
                let permission = format!("{id}{event}Permission");
                self.add(
                    permission.clone(),
                    "AWS::Lambda::Permission",
                    json!({"Action": "lambda:InvokeFunction", "FunctionName": function_ref,
                           "Principal": "s3.amazonaws.com", "SourceAccount": {"Ref": "AWS::AccountId"}}),
                    resource,
                );
                let names = match given.get("Events") {
                    Some(Value::Array(items)) => items.clone(),
                    Some(one) => vec![one.clone()],
                    None => Vec::new(),
                };
                let condition = resource.get("Condition").cloned();
                let bucket_resource = self.out.entry(bucket.clone()).or_insert_with(|| self.source[&bucket].clone());
                // A conditional function's permission cannot be a DependsOn of an unconditional
                // bucket: the translator makes it a tag whose value refers to it.
                if let Some(condition) = &condition {
                    let tags = &mut bucket_resource["Properties"]["Tags"];
                    if !tags.is_array() {
                        *tags = json!([]);
                    }
                    tags.as_array_mut().expect("an array").push(json!({
                        "Key": format!("sam:ConditionalDependsOn:{permission}"),
                        "Value": {"Fn::If": [condition, {"Ref": permission}, "no dependency"]},
                    }));
                } else {
                    let depends =
                        bucket_resource.as_object_mut().expect("a resource").entry("DependsOn").or_insert(json!([]));
                    if let Value::String(one) = depends {
                        *depends = json!([one.clone()]);
                    }
                    if let Value::Array(items) = depends {
                        items.push(permission.into());
                    }
                }
                let notifications =
                    &mut bucket_resource["Properties"]["NotificationConfiguration"]["LambdaConfigurations"];
                if !notifications.is_array() {
                    *notifications = json!([]);
                }
                for name in names {
                    let mut configuration = json!({"Function": function_arn(id, function_ref)});
                    if let Some(filter) = given.get("Filter") {
                        configuration["Filter"] = filter.clone();
                    }
                    configuration["Event"] = name;
                    if let Some(condition) = &condition {
                        configuration = json!({"Fn::If": [condition, configuration, {"Ref": "AWS::NoValue"}]});
                    }
                    notifications.as_array_mut().expect("an array").push(configuration);
                }
            }
            "Schedule" | "ScheduleV2" | "EventBridgeRule" | "CloudWatchEvent" => {
                return Err(invalid_event(id, event, "EventBridge is not available in Brume yet."));
            }
            "Api" | "HttpApi" => return Err(invalid_event(id, event, "API Gateway is not available in Brume yet.")),
            other => {
                return Err(invalid_event(
                    id,
                    event,
                    &format!("Event type {other} is not supported by Brume's SAM transform."),
                ));
            }
        }
        Ok(())
    }

    fn simple_table(&mut self, id: &str, resource: &Value, properties: &Value) {
        let key = properties.get("PrimaryKey").cloned().unwrap_or_else(|| json!({"Name": "id", "Type": "String"}));
        let kind = match key.get("Type").and_then(Value::as_str) {
            Some("Number") => "N",
            Some("Binary") => "B",
            _ => "S",
        };
        let name = key.get("Name").cloned().unwrap_or_else(|| "id".into());
        let mut table = json!({
            "AttributeDefinitions": [{"AttributeName": name, "AttributeType": kind}],
            "KeySchema": [{"AttributeName": name, "KeyType": "HASH"}],
        });
        match properties.get("ProvisionedThroughput") {
            Some(throughput) => table["ProvisionedThroughput"] = throughput.clone(),
            None => table["BillingMode"] = "PAY_PER_REQUEST".into(),
        }
        for name in ["TableName", "SSESpecification", "PointInTimeRecoverySpecification"] {
            if let Some(v) = properties.get(name) {
                table[name] = v.clone();
            }
        }
        if let Some(Value::Object(given)) = properties.get("Tags") {
            table["Tags"] = given.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        }
        let mut generated = Map::new();
        generated.insert("Type".into(), "AWS::DynamoDB::Table".into());
        generated.insert("Properties".into(), table);
        passthrough(resource, &mut generated);
        self.out.insert(id.to_string(), Value::Object(generated));
    }

    fn state_machine(&mut self, id: &str, resource: &Value, properties: &Value) -> Result<(), TemplateError> {
        if let Some(Value::Object(events)) = properties.get("Events")
            && let Some((event, _)) = events.iter().next()
        {
            return Err(invalid_event(
                id,
                event,
                "State machine events need EventBridge or API Gateway, which Brume does not have yet.",
            ));
        }
        let mut machine = Map::new();
        let mut substitutions = Map::new();
        match (properties.get("Definition"), properties.get("DefinitionUri")) {
            (Some(definition), _) => {
                // Keys sorted first: the placeholders are numbered in the sorted order.
                let mut definition = serde_json::from_str::<Value>(&canonical(definition)).unwrap_or_default();
                substitute_intrinsics(&mut definition, &mut substitutions);
                let mut text = Vec::new();
                let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
                let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
                serde::Serialize::serialize(&definition, &mut serializer).map_err(|e| invalid(id, &e.to_string()))?;
                let text = ascii(&String::from_utf8(text).unwrap_or_default());
                machine
                    .insert("DefinitionString".into(), json!({"Fn::Join": ["\n", text.lines().collect::<Vec<_>>()]}));
            }
            (None, Some(uri)) => {
                let location = self.s3_location(id, "DefinitionUri", uri, ["Bucket", "Key", "Version"])?;
                machine.insert("DefinitionS3Location".into(), location);
            }
            (None, None) => {
                return Err(invalid(id, "Either 'Definition' or 'DefinitionUri' property must be specified."));
            }
        }
        let tag_list = tags(("stateMachine:createdBy", "SAM"), properties.get("Tags"));
        let role = match properties.get("Role") {
            Some(role) => role.clone(),
            None => {
                let role_id = self.role(
                    id,
                    resource,
                    properties,
                    "states.amazonaws.com",
                    (Vec::new(), Vec::new()),
                    Vec::new(),
                    tag_list.clone(),
                )?;
                json!({"Fn::GetAtt": [role_id, "Arn"]})
            }
        };
        machine.insert("RoleArn".into(), role);
        for (from, to) in [
            ("Name", "StateMachineName"),
            ("Type", "StateMachineType"),
            ("Logging", "LoggingConfiguration"),
            ("Tracing", "TracingConfiguration"),
            ("DefinitionSubstitutions", "DefinitionSubstitutions"),
        ] {
            if let Some(v) = properties.get(from) {
                machine.insert(to.into(), v.clone());
            }
        }
        if !substitutions.is_empty() {
            let given = machine.entry("DefinitionSubstitutions").or_insert_with(|| json!({}));
            if let Value::Object(given) = given {
                given.extend(substitutions);
            }
        }
        machine.insert("Tags".into(), tag_list);
        let mut generated = Map::new();
        generated.insert("Type".into(), "AWS::StepFunctions::StateMachine".into());
        generated.insert("Properties".into(), Value::Object(machine));
        passthrough(resource, &mut generated);
        self.out.insert(id.to_string(), Value::Object(generated));
        Ok(())
    }

    fn layer_version(&mut self, id: &str, resource: &Value, properties: &Value) -> Result<(), TemplateError> {
        let Some(uri) = properties.get("ContentUri") else {
            return Err(invalid(id, "Missing required property 'ContentUri'."));
        };
        let mut layer = Map::new();
        layer.insert(
            "Content".into(),
            self.s3_location(id, "ContentUri", uri, ["S3Bucket", "S3Key", "S3ObjectVersion"])?,
        );
        layer.insert("LayerName".into(), properties.get("LayerName").cloned().unwrap_or_else(|| id.into()));
        for name in ["Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"] {
            if let Some(v) = properties.get(name) {
                layer.insert(name.into(), v.clone());
            }
        }
        let mut hashed = Map::new();
        hashed.insert("Type".into(), "AWS::Serverless::LayerVersion".into());
        hashed.insert("Properties".into(), properties.clone());
        for attribute in ["Condition", "DependsOn"] {
            if let Some(v) = resource.get(attribute) {
                hashed.insert(attribute.into(), v.clone());
            }
        }
        let new_id = format!("{id}{}", hash10(&canonical(&json!({id: hashed}))));
        let policy = match properties.get("RetentionPolicy").map(|p| self.resolve(p)) {
            Some(Value::String(p)) if p.eq_ignore_ascii_case("delete") => "Delete",
            Some(Value::String(p)) if p.eq_ignore_ascii_case("retain") => "Retain",
            Some(_) => {
                return Err(invalid(
                    id,
                    "'RetentionPolicy' must be one of the following options: ['Retain', 'Delete'].",
                ));
            }
            None => "Retain",
        };
        let mut generated = Map::new();
        generated.insert("Type".into(), "AWS::Lambda::LayerVersion".into());
        generated.insert("Properties".into(), Value::Object(layer));
        passthrough(resource, &mut generated);
        generated.insert("DeletionPolicy".into(), policy.into());
        self.out.insert(new_id.clone(), Value::Object(generated));
        self.renamed.push((id.to_string(), new_id));
        Ok(())
    }
}

/// The function's ARN where a property wants one: its alias's `Ref` (an ARN), else its `Arn`.
fn function_arn(id: &str, function_ref: &Value) -> Value {
    if function_ref.get("Ref").and_then(Value::as_str) == Some(id) {
        json!({"Fn::GetAtt": [id, "Arn"]})
    } else {
        function_ref.clone()
    }
}

/// Each intrinsic function of an inline state machine definition replaced by a
/// `${definition_substitution_N}` placeholder whose value becomes a DefinitionSubstitution.
fn substitute_intrinsics(value: &mut Value, substitutions: &mut Map<String, Value>) {
    match value {
        Value::Object(object) => {
            let intrinsic =
                object.len() == 1 && object.keys().all(|k| k == "Ref" || k == "Condition" || k.starts_with("Fn::"));
            if intrinsic {
                let name = format!("definition_substitution_{}", substitutions.len() + 1);
                substitutions.insert(name.clone(), value.clone());
                *value = Value::String(format!("${{{name}}}"));
                return;
            }
            object.values_mut().for_each(|v| substitute_intrinsics(v, substitutions));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute_intrinsics(v, substitutions)),
        _ => {}
    }
}

/// A policy template's statements, its parameters given by `values`.
fn policy_template(id: &str, name: &str, values: &Value) -> Result<Value, TemplateError> {
    let Some(template) = POLICY_TEMPLATES.get(name) else {
        return Err(invalid(id, &format!("Policy template '{name}' is not supported by Brume's SAM transform.")));
    };
    let wanted: Vec<&str> = template["Parameters"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let missing: Vec<&str> = wanted.iter().copied().filter(|p| values.get(p).is_none()).collect();
    if !missing.is_empty() {
        return Err(TemplateError {
            message: format!(
                "Transform {TRANSFORM} failed with: Invalid Serverless Application Specification document. \
                 Number of errors found: 1. Resource with id [{id}] is invalid. Missing parameter values: \
                 [{}] for policy template {name}",
                missing.join(", ")
            ),
        });
    }
    let mut definition = template["Definition"].clone();
    substitute(&mut definition, values);
    Ok(definition)
}

/// Each `{"Ref": parameter}` of a policy template replaced by the parameter's value.
fn substitute(value: &mut Value, values: &Value) {
    match value {
        Value::Object(object) => {
            if object.len() == 1
                && let Some(Value::String(name)) = object.get("Ref")
                && let Some(given) = values.get(name)
            {
                *value = given.clone();
                return;
            }
            object.values_mut().for_each(|v| substitute(v, values));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, values)),
        _ => {}
    }
}
