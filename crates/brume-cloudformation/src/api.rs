//! The stack operations: create, update, delete, describe and list stacks, their events,
//! resources and templates, template validation, exports and imports, termination
//! protection and stack policies.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_storage::Direction;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::engine::{self, Run};
use crate::table::{self, KEYSPACE, Resource, Stack, Template};
use crate::{CloudFormation, error, provider, sam, template};

#[derive(Deserialize, Serialize, Clone, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterInput {
    pub parameter_key: String,
    pub parameter_value: Option<String>,
    #[serde(default)]
    pub use_previous_value: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateStackInput {
    stack_name: String,
    template_body: Option<String>,
    #[serde(rename = "TemplateURL")]
    template_url: Option<String>,
    #[serde(default)]
    parameters: Vec<ParameterInput>,
    disable_rollback: Option<bool>,
    timeout_in_minutes: Option<i64>,
    #[serde(default, rename = "NotificationARNs")]
    notification_arns: Vec<String>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(rename = "RoleARN")]
    role_arn: Option<String>,
    on_failure: Option<String>,
    stack_policy_body: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    enable_termination_protection: bool,
    rollback_configuration: Option<Value>,
    client_request_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStackInput {
    stack_name: String,
    template_body: Option<String>,
    #[serde(rename = "TemplateURL")]
    template_url: Option<String>,
    #[serde(default)]
    use_previous_template: bool,
    #[serde(default)]
    parameters: Vec<ParameterInput>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default, rename = "NotificationARNs")]
    notification_arns: Vec<String>,
    stack_policy_body: Option<String>,
    tags: Option<Vec<Tag>>,
    disable_rollback: Option<bool>,
    rollback_configuration: Option<Value>,
    client_request_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StackIdOutput {
    stack_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteStackInput {
    stack_name: String,
    #[serde(default)]
    retain_resources: Vec<String>,
    client_request_token: Option<String>,
}

#[derive(Serialize)]
pub struct Empty {}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StackNameInput {
    stack_name: Option<String>,
    next_token: Option<String>,
}

/// The most items a page of a List or Describe operation holds.
pub(crate) const PAGE: usize = 100;

/// The page of `items` that `token` asks for, at most [`PAGE`], and the token of the next.
/// A token counts the items after its page, so that a list that grows at its start (events
/// and stacks, newest first) pages on unchanged.
pub(crate) fn page<T>(items: Vec<T>, token: Option<&str>) -> Result<(Vec<T>, Option<String>), AwsError> {
    use base64::Engine;
    let total = items.len();
    let start = match token {
        None => 0,
        Some(token) => base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("brume:").and_then(|n| n.parse::<usize>().ok()))
            .map(|after| total.saturating_sub(after))
            .ok_or_else(|| error::validation("Invalid NextToken"))?,
    };
    let (items, next) = brume_core::page::slice(items, start, PAGE);
    Ok((items, next.map(|end| base64::engine::general_purpose::STANDARD.encode(format!("brume:{}", total - end)))))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterOutput {
    parameter_key: String,
    parameter_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutputOutput {
    output_key: String,
    output_value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StackOutput {
    stack_id: String,
    stack_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    change_set_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    parameters: Vec<ParameterOutput>,
    creation_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_updated_time: Option<Timestamp>,
    stack_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack_status_reason: Option<String>,
    disable_rollback: bool,
    #[serde(rename = "NotificationARNs")]
    notification_arns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_in_minutes: Option<i64>,
    capabilities: Vec<String>,
    outputs: Vec<OutputOutput>,
    #[serde(rename = "RoleARN", skip_serializing_if = "Option::is_none")]
    role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rollback_configuration: Option<Value>,
    tags: Vec<Tag>,
    enable_termination_protection: bool,
    drift_information: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStacksOutput {
    stacks: Vec<StackOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStacksInput {
    #[serde(default)]
    stack_status_filter: Vec<String>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StackSummary {
    stack_id: String,
    stack_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    template_description: Option<String>,
    creation_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_updated_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_time: Option<Timestamp>,
    stack_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack_status_reason: Option<String>,
    drift_information: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStacksOutput {
    stack_summaries: Vec<StackSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StackEvent {
    stack_id: String,
    event_id: String,
    stack_name: String,
    logical_resource_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_resource_id: Option<String>,
    resource_type: String,
    timestamp: Timestamp,
    resource_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_status_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_properties: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_request_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStackEventsOutput {
    stack_events: Vec<StackEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStackResourceInput {
    stack_name: String,
    logical_resource_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StackResourceDetail {
    stack_name: String,
    stack_id: String,
    logical_resource_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_resource_id: Option<String>,
    resource_type: String,
    last_updated_timestamp: Timestamp,
    resource_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_status_reason: Option<String>,
    metadata: String,
    drift_information: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStackResourceOutput {
    stack_resource_detail: StackResourceDetail,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStackResourcesInput {
    stack_name: Option<String>,
    logical_resource_id: Option<String>,
    physical_resource_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StackResourceOutput {
    stack_name: String,
    stack_id: String,
    logical_resource_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_resource_id: Option<String>,
    resource_type: String,
    timestamp: Timestamp,
    resource_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_status_reason: Option<String>,
    drift_information: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStackResourcesOutput {
    stack_resources: Vec<StackResourceOutput>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceSummary {
    logical_resource_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_resource_id: Option<String>,
    resource_type: String,
    last_updated_timestamp: Timestamp,
    resource_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_status_reason: Option<String>,
    drift_information: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStackResourcesOutput {
    stack_resource_summaries: Vec<ResourceSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetTemplateInput {
    stack_name: Option<String>,
    change_set_name: Option<String>,
    template_stage: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetTemplateOutput {
    template_body: String,
    stages_available: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TemplateInput {
    template_body: Option<String>,
    #[serde(rename = "TemplateURL")]
    template_url: Option<String>,
    stack_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TemplateParameter {
    parameter_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_value: Option<String>,
    no_echo: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValidateTemplateOutput {
    parameters: Vec<TemplateParameter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    capabilities: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities_reason: Option<String>,
    declared_transforms: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetTemplateSummaryOutput {
    parameters: Vec<TemplateParameter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    capabilities: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities_reason: Option<String>,
    resource_types: Vec<String>,
    version: String,
    declared_transforms: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportOutput {
    exporting_stack_id: String,
    name: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListExportsOutput {
    exports: Vec<ExportOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListExportsInput {
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListImportsInput {
    export_name: String,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListImportsOutput {
    imports: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TerminationProtectionInput {
    enable_termination_protection: bool,
    stack_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetStackPolicyInput {
    stack_name: String,
    stack_policy_body: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetStackPolicyInput {
    stack_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetStackPolicyOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    stack_policy_body: Option<String>,
}

fn drift() -> Value {
    serde_json::json!({"StackResourceDriftStatus": "NOT_CHECKED"})
}

fn stack_drift() -> Value {
    serde_json::json!({"StackDriftStatus": "NOT_CHECKED"})
}

/// `[a-zA-Z][-a-zA-Z0-9]*`, at most 128 characters.
pub(crate) fn check_stack_name(name: &str) -> Result<(), AwsError> {
    let valid = name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        return Ok(());
    }
    Err(error::validation(format!(
        "1 validation error detected: Value '{name}' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*"
    )))
}

/// `(bucket, key)` of a TemplateURL into S3: `http(s)://host[:port]/bucket/key`,
/// `https://bucket.s3[.region].amazonaws.com/key`, `https://s3[.region].amazonaws.com/bucket/key`.
fn s3_location(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let path = path.split('?').next().unwrap_or(path);
    let host = host.split(':').next().unwrap_or(host);
    let virtual_bucket = host
        .strip_suffix(".amazonaws.com")
        .and_then(|h| h.split_once(".s3").map(|(bucket, _)| bucket.to_string()))
        .filter(|b| !b.is_empty());
    let (bucket, key) = match virtual_bucket {
        Some(bucket) => (bucket, path.to_string()),
        None => {
            let (bucket, key) = path.split_once('/')?;
            (bucket.to_string(), key.to_string())
        }
    };
    let key = percent_decode(&key);
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl CloudFormation {
    /// The stack a StackName names: a live stack by name, or any stack by id.
    pub(crate) fn find(&self, ctx: &RequestContext, name: &str) -> Result<Stack, AwsError> {
        let id = if name.starts_with("arn:") {
            name.to_string()
        } else {
            match self.kv.get(KEYSPACE, &table::name_key(&ctx.account, &ctx.region, name))? {
                Some(id) => String::from_utf8_lossy(&id).into_owned(),
                None => return Err(error::stack_not_found(name)),
            }
        };
        self.stack_by_id(&ctx.account, &ctx.region, &id)?.ok_or_else(|| error::stack_not_found(name))
    }

    /// The region's stacks, the newest first, as AWS lists them.
    fn stacks_newest_first(&self, ctx: &RequestContext) -> Result<Vec<Stack>, AwsError> {
        let mut stacks = self.stacks(&ctx.account, &ctx.region)?;
        stacks.sort_by(|a, b| b.created.total_cmp(&a.created));
        Ok(stacks)
    }

    /// The template text given by body or by an S3 URL.
    pub(crate) async fn template_text(
        &self,
        ctx: &RequestContext,
        body: Option<String>,
        url: Option<String>,
    ) -> Result<String, AwsError> {
        match (body, url) {
            (Some(body), None) => Ok(body),
            (None, Some(url)) => {
                let Some((bucket, key)) = s3_location(&url) else {
                    return Err(error::validation("TemplateURL must be a supported URL."));
                };
                let input = serde_json::json!({"Bucket": bucket, "Key": key});
                let object = self.sdk.call("s3", "GetObject", &ctx.account, &ctx.region, input).await.map_err(|e| {
                    error::validation(format!(
                        "S3 error: Unable to get object {key} from bucket {bucket}: {}",
                        e.message
                    ))
                })?;
                let body: brume_core::value::Blob = serde_json::from_value(object["Body"].clone())
                    .map_err(|_| error::validation("Template format error: unreadable TemplateURL object"))?;
                String::from_utf8(body.0).map_err(|_| error::validation("Template format error: not UTF-8"))
            }
            (Some(_), Some(_)) => Err(error::validation("Specify exactly one of TemplateBody or TemplateUrl.")),
            (None, None) => Err(error::validation("Either Template URL or Template Body must be specified.")),
        }
    }

    /// A template checked as CreateStack checks it: parsed, validated, every resource type
    /// known, the capabilities it needs acknowledged, its parameters given or defaulted.
    pub(crate) fn prepare(
        &self,
        (ctx, stack_name): (&RequestContext, &str),
        body: String,
        parameters: &[ParameterInput],
        previous: Option<&Template>,
        capabilities: &[String],
    ) -> Result<(Template, template::Summary), AwsError> {
        // A `Fn::ForEach` over a parameter loops over its Default until the values are known.
        let expanded = |values: Option<&Map<String, Value>>| {
            let parsed = match values {
                Some(values) => template::parse_with_parameters(&body, values),
                None => template::parse(&body),
            };
            let parsed = parsed.map_err(|e| error::validation(e.message))?;
            let parsed =
                sam::expand(parsed, &ctx.region, &ctx.account, stack_name).map_err(|e| error::validation(e.message))?;
            let summary = template::validate(&parsed).map_err(|e| error::validation(e.message))?;
            Ok::<_, AwsError>((parsed, summary))
        };
        let (parsed, summary) = expanded(None)?;
        let declared: Vec<&str> = summary.parameters.iter().map(|p| p.key.as_str()).collect();
        let undeclared: Vec<&str> =
            parameters.iter().map(|p| p.parameter_key.as_str()).filter(|k| !declared.contains(k)).collect();
        if !undeclared.is_empty() {
            return Err(error::validation(format!(
                "Parameters: [{}] do not exist in the template",
                undeclared.join(", ")
            )));
        }
        let mut given = BTreeMap::new();
        for p in parameters {
            let value = if p.use_previous_value {
                previous.and_then(|t| t.given.get(&p.parameter_key).cloned()).or_else(|| {
                    previous.and_then(|t| t.parameters.get(&p.parameter_key)).map(|v| match v {
                        Value::String(s) => s.clone(),
                        Value::Array(items) => {
                            items.iter().map(|i| i.as_str().unwrap_or_default()).collect::<Vec<_>>().join(",")
                        }
                        other => other.to_string(),
                    })
                })
            } else {
                p.parameter_value.clone()
            };
            if let Some(value) = value {
                given.insert(p.parameter_key.clone(), value);
            }
        }
        let values = template::parameters(&parsed, &given).map_err(|e| error::validation(e.message))?;
        let (parsed, summary) = expanded(Some(&values))?;
        let unknown: Vec<&str> =
            summary.resource_types.iter().filter(|t| provider::provider(t).is_none()).map(String::as_str).collect();
        if !unknown.is_empty() {
            return Err(error::validation(format!(
                "Template format error: Unrecognized resource types: [{}]",
                unknown.join(", ")
            )));
        }
        let missing: Vec<String> = summary.capabilities.iter().filter(|c| !capabilities.contains(c)).cloned().collect();
        if !missing.is_empty() {
            return Err(error::insufficient_capabilities(&missing));
        }
        let no_echo = summary.parameters.iter().filter(|p| p.no_echo).map(|p| p.key.clone()).collect();
        let description = summary.description.clone();
        Ok((Template { body, parsed, description, given, parameters: values, no_echo }, summary))
    }

    /// A new stack record, not yet saved.
    pub(crate) fn new_stack(ctx: &RequestContext, name: &str, template: Template) -> Stack {
        Stack {
            id: format!("arn:aws:cloudformation:{}:{}:stack/{name}/{}", ctx.region, ctx.account, uuid::Uuid::new_v4()),
            name: name.to_string(),
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            status: String::new(),
            reason: None,
            created: engine::now(),
            updated: None,
            deleted: None,
            template,
            capabilities: Vec::new(),
            tags: Vec::new(),
            notification_arns: Vec::new(),
            disable_rollback: false,
            delete_on_failure: false,
            termination_protection: false,
            delete_requested: false,
            policy: None,
            timeout: None,
            role_arn: None,
            rollback_configuration: None,
            client_request_token: None,
            change_set_id: None,
            outputs: Vec::new(),
            resources: BTreeMap::new(),
            previous: None,
            previous_resources: None,
            previous_outputs: None,
            done: Default::default(),
            cleanup: Vec::new(),
            retain: Vec::new(),
            event_seq: 0,
        }
    }

    /// Saves a stack that starts an operation, refusing when another took the name first.
    pub(crate) async fn begin(self: &Arc<Self>, run: &mut Run, new_name: bool) -> Result<(), AwsError> {
        if new_name {
            let stack = run.stack.clone();
            self.kv
                .transact(move |txn| {
                    let key = table::name_key(&stack.account, &stack.region, &stack.name);
                    match txn.get(KEYSPACE, &key)? {
                        Some(id) if id != stack.id.as_bytes() => Err(error::already_exists(&stack.name)),
                        _ => Ok(()),
                    }
                })
                .await?;
        }
        run.save().await?;
        engine::spawn(self, &run.stack.account, &run.stack.region, &run.stack.id, false);
        Ok(())
    }

    pub(crate) async fn create_stack(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CreateStackInput,
    ) -> Result<StackIdOutput, AwsError> {
        check_stack_name(&input.stack_name)?;
        if self.kv.get(KEYSPACE, &table::name_key(&ctx.account, &ctx.region, &input.stack_name))?.is_some() {
            // A retry of the creation that made the stack answers it.
            let stack = self.find(&ctx, &input.stack_name)?;
            if input.client_request_token.is_some() && stack.client_request_token == input.client_request_token {
                return Ok(StackIdOutput { stack_id: stack.id });
            }
            return Err(error::already_exists(&input.stack_name));
        }
        let body = self.template_text(&ctx, input.template_body, input.template_url).await?;
        let (template, _) =
            self.prepare((&ctx, &input.stack_name), body, &input.parameters, None, &input.capabilities)?;
        auto_expand(&template, &input.capabilities)?;
        let mut stack = Self::new_stack(&ctx, &input.stack_name, template);
        stack.capabilities = input.capabilities;
        stack.tags = input.tags.into_iter().map(|t| (t.key, t.value)).collect();
        stack.notification_arns = input.notification_arns;
        let on_failure = input.on_failure.as_deref();
        if input.disable_rollback.is_some() && on_failure.is_some() {
            return Err(error::validation("You can specify either DisableRollback or OnFailure, but not both."));
        }
        stack.disable_rollback = input.disable_rollback.unwrap_or(false) || on_failure == Some("DO_NOTHING");
        stack.delete_on_failure = on_failure == Some("DELETE");
        stack.termination_protection = input.enable_termination_protection;
        stack.policy = input.stack_policy_body;
        stack.timeout = input.timeout_in_minutes;
        stack.role_arn = input.role_arn;
        stack.rollback_configuration = input.rollback_configuration;
        stack.client_request_token = input.client_request_token;
        let mut run = Run::new(self.clone(), stack);
        run.stack_status("CREATE_IN_PROGRESS", Some("User Initiated".to_string()));
        self.begin(&mut run, true).await?;
        Ok(StackIdOutput { stack_id: run.stack.id })
    }

    pub(crate) async fn update_stack(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UpdateStackInput,
    ) -> Result<StackIdOutput, AwsError> {
        let stack = self.find(&ctx, &input.stack_name)?;
        if input.client_request_token.is_some()
            && stack.client_request_token == input.client_request_token
            && stack.status.starts_with("UPDATE_")
        {
            return Ok(StackIdOutput { stack_id: stack.id });
        }
        if !matches!(stack.status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE") {
            return Err(error::in_progress(&stack.id, &stack.status, "updated."));
        }
        let body = if input.use_previous_template {
            if input.template_body.is_some() || input.template_url.is_some() {
                return Err(error::validation(
                    "You cannot specify both usePreviousTemplate and Template Body/Template URL",
                ));
            }
            stack.template.body.clone()
        } else {
            self.template_text(&ctx, input.template_body, input.template_url).await?
        };
        let (template, _) =
            self.prepare((&ctx, &stack.name), body, &input.parameters, Some(&stack.template), &input.capabilities)?;
        auto_expand(&template, &input.capabilities)?;
        let tags: Vec<(String, String)> = match input.tags {
            Some(tags) => tags.into_iter().map(|t| (t.key, t.value)).collect(),
            None => stack.tags.clone(),
        };
        if template.parsed == stack.template.parsed
            && template.parameters == stack.template.parameters
            && tags == stack.tags
        {
            return Err(error::validation("No updates are to be performed."));
        }
        let mut stack = stack;
        if let Some(policy) = input.stack_policy_body {
            stack.policy = Some(policy);
        }
        if !input.notification_arns.is_empty() {
            stack.notification_arns = input.notification_arns;
        }
        if let Some(disable) = input.disable_rollback {
            stack.disable_rollback = disable;
        }
        if input.rollback_configuration.is_some() {
            stack.rollback_configuration = input.rollback_configuration;
        }
        stack.client_request_token = input.client_request_token;
        let id = stack.id.clone();
        self.start_update(stack, template, input.capabilities, tags, None).await?;
        Ok(StackIdOutput { stack_id: id })
    }

    /// Starts updating `stack` to `template`.
    pub(crate) async fn start_update(
        self: &Arc<Self>,
        mut stack: Stack,
        template: Template,
        capabilities: Vec<String>,
        tags: Vec<(String, String)>,
        change_set_id: Option<String>,
    ) -> Result<(), AwsError> {
        stack.previous = Some(std::mem::replace(&mut stack.template, template));
        stack.previous_resources = Some(stack.resources.clone());
        stack.previous_outputs = Some(stack.outputs.clone());
        stack.capabilities = capabilities;
        stack.tags = tags;
        stack.change_set_id = change_set_id;
        stack.updated = Some(engine::now());
        stack.done.clear();
        stack.cleanup.clear();
        let mut run = Run::new(self.clone(), stack);
        run.stack_status("UPDATE_IN_PROGRESS", Some("User Initiated".to_string()));
        self.begin(&mut run, false).await
    }

    pub(crate) async fn delete_stack(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DeleteStackInput,
    ) -> Result<Empty, AwsError> {
        let stack = match self.find(&ctx, &input.stack_name) {
            Ok(stack) => stack,
            Err(_) => return Ok(Empty {}),
        };
        if stack.termination_protection {
            return Err(error::validation(format!(
                "Stack [{}] cannot be deleted while TerminationProtection is enabled",
                stack.name
            )));
        }
        match stack.status.as_str() {
            "DELETE_COMPLETE" | "DELETE_IN_PROGRESS" => return Ok(Empty {}),
            "CREATE_IN_PROGRESS" => {
                // The creation stops after the resources in hand, then everything is deleted.
                self.amend(&stack, |s| s.delete_requested = s.status == "CREATE_IN_PROGRESS").await?;
                let now = self.stack_by_id(&stack.account, &stack.region, &stack.id)?;
                if now.as_ref().is_none_or(|s| !engine::is_terminal(&s.status)) {
                    return Ok(Empty {});
                }
                // The creation ended meanwhile: the stack is deleted as any other.
                return Box::pin(self.delete_stack(ctx, input)).await;
            }
            status if !engine::is_terminal(status) => {
                return Err(error::in_progress(&stack.id, status, "deleted."));
            }
            _ => {}
        }
        if !input.retain_resources.is_empty() && stack.status != "DELETE_FAILED" {
            return Err(error::validation(format!(
                "Invalid operation on stack [{}]. RetainResources can only be specified when the stack is in the DELETE_FAILED state",
                stack.id
            )));
        }
        let imported = self.imports_of(&ctx, &stack)?;
        if let Some((export, importer)) = imported.first() {
            return Err(error::validation(format!("Export {export} cannot be deleted as it is in use by {importer}")));
        }
        let mut stack = stack;
        stack.retain = input.retain_resources;
        stack.client_request_token = input.client_request_token;
        stack.done.clear();
        for id in self.change_set_names(&stack.id)? {
            self.kv.transact(move |txn| txn.delete(KEYSPACE, &id)).await?;
        }
        let mut run = Run::new(self.clone(), stack);
        run.stack_status("DELETE_IN_PROGRESS", Some("User Initiated".to_string()));
        self.begin(&mut run, false).await?;
        Ok(Empty {})
    }

    /// Exports of `stack` that other live stacks import: (export, importing stack name).
    pub(crate) fn imports_of(&self, ctx: &RequestContext, stack: &Stack) -> Result<Vec<(String, String)>, AwsError> {
        let mut found = Vec::new();
        let exports: Vec<&String> = stack.outputs.iter().filter_map(|o| o.export_name.as_ref()).collect();
        if exports.is_empty() {
            return Ok(found);
        }
        for other in self.stacks(&ctx.account, &ctx.region)? {
            if other.id == stack.id || other.status == "DELETE_COMPLETE" {
                continue;
            }
            let mut names = Vec::new();
            imported_names(&other.template.parsed, &mut names);
            for name in names {
                if exports.contains(&&name) {
                    found.push((name, other.name.clone()));
                }
            }
        }
        Ok(found)
    }

    fn stack_output(stack: &Stack) -> StackOutput {
        let parameters = stack
            .template
            .parameters
            .iter()
            .map(|(key, value)| ParameterOutput {
                parameter_key: key.clone(),
                parameter_value: if stack.template.no_echo.contains(key) {
                    "****".to_string()
                } else {
                    parameter_text(value)
                },
            })
            .collect();
        StackOutput {
            stack_id: stack.id.clone(),
            stack_name: stack.name.clone(),
            change_set_id: stack.change_set_id.clone(),
            description: stack.template.description.clone(),
            parameters,
            creation_time: Timestamp(stack.created),
            deletion_time: stack.deleted.map(Timestamp),
            last_updated_time: stack.updated.map(Timestamp),
            stack_status: stack.status.clone(),
            stack_status_reason: stack.reason.clone(),
            disable_rollback: stack.disable_rollback,
            notification_arns: stack.notification_arns.clone(),
            timeout_in_minutes: stack.timeout,
            capabilities: stack.capabilities.clone(),
            outputs: stack
                .outputs
                .iter()
                .map(|o| OutputOutput {
                    output_key: o.key.clone(),
                    output_value: o.value.clone(),
                    description: o.description.clone(),
                    export_name: o.export_name.clone(),
                })
                .collect(),
            role_arn: stack.role_arn.clone(),
            rollback_configuration: stack.rollback_configuration.clone(),
            tags: stack.tags.iter().map(|(k, v)| Tag { key: k.clone(), value: v.clone() }).collect(),
            enable_termination_protection: stack.termination_protection,
            drift_information: stack_drift(),
        }
    }

    pub(crate) async fn describe_stacks(
        self: Arc<Self>,
        ctx: RequestContext,
        input: StackNameInput,
    ) -> Result<DescribeStacksOutput, AwsError> {
        let stacks = match input.stack_name {
            Some(name) => vec![self.find(&ctx, &name)?],
            None => self.stacks_newest_first(&ctx)?.into_iter().filter(|s| s.status != "DELETE_COMPLETE").collect(),
        };
        let (stacks, next_token) = page(stacks, input.next_token.as_deref())?;
        Ok(DescribeStacksOutput { stacks: stacks.iter().map(Self::stack_output).collect(), next_token })
    }

    pub(crate) async fn list_stacks(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListStacksInput,
    ) -> Result<ListStacksOutput, AwsError> {
        let stacks = self
            .stacks_newest_first(&ctx)?
            .into_iter()
            .filter(|s| input.stack_status_filter.is_empty() || input.stack_status_filter.contains(&s.status))
            .collect();
        let (stacks, next_token) = page(stacks, input.next_token.as_deref())?;
        let summaries = stacks
            .into_iter()
            .map(|s| StackSummary {
                stack_id: s.id,
                stack_name: s.name,
                template_description: s.template.description,
                creation_time: Timestamp(s.created),
                last_updated_time: s.updated.map(Timestamp),
                deletion_time: s.deleted.map(Timestamp),
                stack_status: s.status,
                stack_status_reason: s.reason,
                drift_information: stack_drift(),
            })
            .collect();
        Ok(ListStacksOutput { stack_summaries: summaries, next_token })
    }

    pub(crate) async fn describe_stack_events(
        self: Arc<Self>,
        ctx: RequestContext,
        input: StackNameInput,
    ) -> Result<DescribeStackEventsOutput, AwsError> {
        let name = input.stack_name.unwrap_or_default();
        let stack = self.find(&ctx, &name)?;
        let rows = self.kv.scan(KEYSPACE, &table::events_of(&stack.id), Direction::Reverse, usize::MAX)?;
        let (rows, next_token) = page(rows, input.next_token.as_deref())?;
        let mut events = Vec::with_capacity(rows.len());
        for (_, value) in rows {
            let event: table::Event = table::decode(&value)?;
            events.push(StackEvent {
                stack_id: stack.id.clone(),
                event_id: event.id,
                stack_name: stack.name.clone(),
                logical_resource_id: event.logical_id,
                physical_resource_id: event.physical_id,
                resource_type: event.kind,
                timestamp: Timestamp(event.time),
                resource_status: event.status,
                resource_status_reason: event.reason,
                resource_properties: event.properties,
                client_request_token: event.client_request_token,
            });
        }
        Ok(DescribeStackEventsOutput { stack_events: events, next_token })
    }

    pub(crate) async fn describe_stack_resource(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DescribeStackResourceInput,
    ) -> Result<DescribeStackResourceOutput, AwsError> {
        let stack = self.find(&ctx, &input.stack_name)?;
        let Some(r) = stack.resources.get(&input.logical_resource_id) else {
            return Err(error::validation(format!(
                "Resource {} does not exist for stack {}",
                input.logical_resource_id, input.stack_name
            )));
        };
        Ok(DescribeStackResourceOutput {
            stack_resource_detail: StackResourceDetail {
                stack_name: stack.name.clone(),
                stack_id: stack.id.clone(),
                logical_resource_id: r.logical_id.clone(),
                physical_resource_id: r.physical_id.clone(),
                resource_type: r.kind.clone(),
                last_updated_timestamp: Timestamp(r.updated),
                resource_status: r.status.clone(),
                resource_status_reason: r.reason.clone(),
                metadata: stack.template.parsed["Resources"][&r.logical_id]
                    .get("Metadata")
                    .map_or_else(|| "{}".to_string(), Value::to_string),
                drift_information: drift(),
            },
        })
    }

    pub(crate) async fn describe_stack_resources(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DescribeStackResourcesInput,
    ) -> Result<DescribeStackResourcesOutput, AwsError> {
        let stacks = match (&input.stack_name, &input.physical_resource_id) {
            (Some(name), _) => vec![self.find(&ctx, name)?],
            (None, Some(physical)) => {
                let owner = self.stacks(&ctx.account, &ctx.region)?.into_iter().find(|s| {
                    s.status != "DELETE_COMPLETE"
                        && s.resources.values().any(|r| r.physical_id.as_deref() == Some(physical.as_str()))
                });
                match owner {
                    Some(stack) => vec![stack],
                    None => return Err(error::stack_not_found(physical)),
                }
            }
            (None, None) => {
                return Err(error::validation("Either StackName or PhysicalResourceId must be specified."));
            }
        };
        let mut out = Vec::new();
        for stack in &stacks {
            for r in stack.resources.values() {
                if input.logical_resource_id.as_ref().is_some_and(|l| *l != r.logical_id)
                    || input.physical_resource_id.as_ref().is_some_and(|p| Some(p) != r.physical_id.as_ref())
                {
                    continue;
                }
                out.push(StackResourceOutput {
                    stack_name: stack.name.clone(),
                    stack_id: stack.id.clone(),
                    logical_resource_id: r.logical_id.clone(),
                    physical_resource_id: r.physical_id.clone(),
                    resource_type: r.kind.clone(),
                    timestamp: Timestamp(r.updated),
                    resource_status: r.status.clone(),
                    resource_status_reason: r.reason.clone(),
                    drift_information: drift(),
                });
            }
        }
        Ok(DescribeStackResourcesOutput { stack_resources: out })
    }

    pub(crate) async fn list_stack_resources(
        self: Arc<Self>,
        ctx: RequestContext,
        input: StackNameInput,
    ) -> Result<ListStackResourcesOutput, AwsError> {
        let stack = self.find(&ctx, &input.stack_name.unwrap_or_default())?;
        let (resources, next_token) = page(stack.resources.values().collect(), input.next_token.as_deref())?;
        let summaries = resources
            .into_iter()
            .map(|r: &Resource| ResourceSummary {
                logical_resource_id: r.logical_id.clone(),
                physical_resource_id: r.physical_id.clone(),
                resource_type: r.kind.clone(),
                last_updated_timestamp: Timestamp(r.updated),
                resource_status: r.status.clone(),
                resource_status_reason: r.reason.clone(),
                drift_information: drift(),
            })
            .collect();
        Ok(ListStackResourcesOutput { stack_resource_summaries: summaries, next_token })
    }

    pub(crate) async fn get_template(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GetTemplateInput,
    ) -> Result<GetTemplateOutput, AwsError> {
        let template = match (&input.change_set_name, &input.stack_name) {
            (Some(change_set), stack) => self.change_set(&ctx, change_set, stack.as_deref())?.template,
            (None, Some(name)) => self.find(&ctx, name)?.template,
            (None, None) => return Err(error::validation("StackName or ChangeSetName must be specified.")),
        };
        let processed = input.template_stage.as_deref() == Some("Processed")
            && template::parse(&template.body).is_ok_and(|t| t.get("Transform").is_some());
        let body =
            if processed { serde_json::to_string_pretty(&template.parsed).unwrap_or_default() } else { template.body };
        Ok(GetTemplateOutput { template_body: body, stages_available: vec!["Original".into(), "Processed".into()] })
    }

    async fn summary_of(&self, ctx: &RequestContext, input: TemplateInput) -> Result<template::Summary, AwsError> {
        let body = match (input.stack_name, input.template_body, input.template_url) {
            (Some(name), None, None) => self.find(ctx, &name)?.template.body,
            (None, body, url) => self.template_text(ctx, body, url).await?,
            _ => return Err(error::validation("Specify exactly one of StackName, TemplateBody or TemplateUrl.")),
        };
        let parsed = template::parse(&body).map_err(|e| error::validation(e.message))?;
        let transform = parsed.get("Transform").cloned();
        let mut expanded =
            sam::expand(parsed, &ctx.region, &ctx.account, "").map_err(|e| error::validation(e.message))?;
        // The transform's declaration kept for its DeclaredTransforms and CAPABILITY_AUTO_EXPAND.
        if let Some(transform) = transform {
            expanded["Transform"] = transform;
        }
        template::validate(&expanded).map_err(|e| error::validation(e.message))
    }

    pub(crate) async fn validate_template(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TemplateInput,
    ) -> Result<ValidateTemplateOutput, AwsError> {
        let summary = self.summary_of(&ctx, TemplateInput { stack_name: None, ..input }).await?;
        Ok(ValidateTemplateOutput {
            parameters: template_parameters(&summary, false),
            description: summary.description,
            capabilities: summary.capabilities,
            capabilities_reason: summary.capabilities_reason,
            declared_transforms: summary.declared_transforms,
        })
    }

    pub(crate) async fn get_template_summary(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TemplateInput,
    ) -> Result<GetTemplateSummaryOutput, AwsError> {
        let summary = self.summary_of(&ctx, input).await?;
        Ok(GetTemplateSummaryOutput {
            parameters: template_parameters(&summary, true),
            description: summary.description,
            capabilities: summary.capabilities,
            capabilities_reason: summary.capabilities_reason,
            resource_types: summary.resource_types,
            version: "2010-09-09".to_string(),
            declared_transforms: summary.declared_transforms,
        })
    }

    pub(crate) async fn list_exports(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListExportsInput,
    ) -> Result<ListExportsOutput, AwsError> {
        let (exports, next_token) =
            page(self.exports(&ctx.account, &ctx.region)?.into_iter().collect(), input.next_token.as_deref())?;
        let exports = exports
            .into_iter()
            .map(|(name, (value, stack))| ExportOutput { exporting_stack_id: stack, name, value })
            .collect();
        Ok(ListExportsOutput { exports, next_token })
    }

    pub(crate) async fn list_imports(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListImportsInput,
    ) -> Result<ListImportsOutput, AwsError> {
        let mut imports = Vec::new();
        for stack in self.stacks(&ctx.account, &ctx.region)? {
            if stack.status == "DELETE_COMPLETE" {
                continue;
            }
            let mut names = Vec::new();
            imported_names(&stack.template.parsed, &mut names);
            if names.contains(&input.export_name) {
                imports.push(stack.name);
            }
        }
        if imports.is_empty() {
            return Err(error::validation(format!("Export '{}' is not imported by any stack.", input.export_name)));
        }
        let (imports, next_token) = page(imports, input.next_token.as_deref())?;
        Ok(ListImportsOutput { imports, next_token })
    }

    /// Changes a stored stack's setting that the engine does not own.
    async fn amend(&self, stack: &Stack, change: impl FnOnce(&mut Stack) + Send + 'static) -> Result<(), AwsError> {
        let key = table::stack_key(&stack.account, &stack.region, &stack.id);
        self.kv
            .transact(move |txn| {
                let Some(stored) = txn.get(KEYSPACE, &key)? else { return Ok(()) };
                let mut stored: Stack = table::decode(&stored)?;
                change(&mut stored);
                txn.put(KEYSPACE, &key, &table::encode(&stored))?;
                Ok::<_, AwsError>(())
            })
            .await
    }

    pub(crate) async fn update_termination_protection(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TerminationProtectionInput,
    ) -> Result<StackIdOutput, AwsError> {
        let stack = self.find(&ctx, &input.stack_name)?;
        let enable = input.enable_termination_protection;
        self.amend(&stack, move |s| s.termination_protection = enable).await?;
        Ok(StackIdOutput { stack_id: stack.id })
    }

    pub(crate) async fn set_stack_policy(
        self: Arc<Self>,
        ctx: RequestContext,
        input: SetStackPolicyInput,
    ) -> Result<Empty, AwsError> {
        let stack = self.find(&ctx, &input.stack_name)?;
        if let Some(body) = &input.stack_policy_body
            && serde_json::from_str::<Value>(body).is_err()
        {
            return Err(error::validation("Error validating stack policy: Invalid stack policy"));
        }
        let policy = input.stack_policy_body;
        self.amend(&stack, move |s| s.policy = policy).await?;
        Ok(Empty {})
    }

    pub(crate) async fn get_stack_policy(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GetStackPolicyInput,
    ) -> Result<GetStackPolicyOutput, AwsError> {
        let stack = self.find(&ctx, &input.stack_name)?;
        Ok(GetStackPolicyOutput { stack_policy_body: stack.policy })
    }
}

/// A parameter value as DescribeStacks shows it: lists comma-separated.
fn parameter_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

fn template_parameters(summary: &template::Summary, typed: bool) -> Vec<TemplateParameter> {
    summary
        .parameters
        .iter()
        .map(|p| TemplateParameter {
            parameter_key: p.key.clone(),
            default_value: p.default.clone(),
            no_echo: p.no_echo,
            description: p.description.clone(),
            parameter_type: typed.then(|| p.kind.clone()),
        })
        .collect()
}

/// The export names a template imports with literal `Fn::ImportValue` names.
fn imported_names(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "Fn::ImportValue"
                    && let Value::String(name) = inner
                {
                    names.push(name.clone());
                } else {
                    imported_names(inner, names);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| imported_names(i, names)),
        _ => {}
    }
}

/// CreateStack and UpdateStack apply a SAM template's expansion without its review in a change
/// set: CloudFormation asks for CAPABILITY_AUTO_EXPAND there, not for a change set.
fn auto_expand(template: &Template, capabilities: &[String]) -> Result<(), AwsError> {
    let declared = template::parse(&template.body).is_ok_and(|t| sam::declares(&t));
    if declared && !capabilities.iter().any(|c| c == "CAPABILITY_AUTO_EXPAND") {
        return Err(error::insufficient_capabilities(&["CAPABILITY_AUTO_EXPAND".to_string()]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_urls_into_s3() {
        let at = |u: &str| s3_location(u).map(|(b, k)| format!("{b}|{k}"));
        assert_eq!(at("http://localhost:4566/bucket/a/b.yaml").as_deref(), Some("bucket|a/b.yaml"));
        assert_eq!(at("https://bucket.s3.amazonaws.com/key.json").as_deref(), Some("bucket|key.json"));
        assert_eq!(at("https://bucket.s3.eu-west-1.amazonaws.com/k").as_deref(), Some("bucket|k"));
        assert_eq!(at("https://s3.amazonaws.com/bucket/key%20x").as_deref(), Some("bucket|key x"));
        assert_eq!(at("https://s3.us-west-2.amazonaws.com/bucket/key").as_deref(), Some("bucket|key"));
        assert_eq!(at("ftp://x/y"), None);
    }

    #[test]
    fn stack_names() {
        assert!(check_stack_name("my-stack1").is_ok());
        assert!(check_stack_name("1stack").is_err());
        assert!(check_stack_name("a_b").is_err());
    }
}
