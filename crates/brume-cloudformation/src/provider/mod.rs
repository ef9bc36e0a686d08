//! Resource providers: how each resource type is created, updated and deleted, through
//! the owning service's operations ([`AwsSdkClient`]), and which property changes replace it.
//!
//! Each service's providers live in their own module; this one holds what they share:
//! the names CloudFormation generates, the tags it adds, property reading and the
//! "already gone" errors a delete ignores.

mod cloudformation;
mod dynamodb;
mod iam;
mod lambda;
mod logs;
mod s3;
mod sns;
mod sqs;
mod stepfunctions;
mod zip;

use brume_core::AwsError;
use brume_core::clients::AwsSdkClient;
use brume_protocol::model::{self, ShapeType};
use serde_json::{Map, Value, json};

/// What a provider is asked to act on.
pub struct Request<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub stack_name: &'a str,
    pub stack_id: &'a str,
    pub logical_id: &'a str,
    /// The resource's properties, every function resolved.
    pub properties: &'a Value,
    /// The stack's tags, to propagate to resources that take tags.
    pub tags: &'a [(String, String)],
    /// What ends the names CloudFormation generates ([`name_suffix`]).
    pub suffix: &'a str,
}

/// What a provisioned resource answers: its physical id and its `Fn::GetAtt` attributes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Provisioned {
    pub physical_id: String,
    pub attributes: Map<String, Value>,
}

/// One resource type.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError>;

    /// Updates in place from `old` properties (only called when [`Provider::replaces`] is false).
    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        physical_id: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError>;

    /// Deletes; a resource already gone is not an error.
    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, physical_id: &str) -> Result<(), AwsError>;

    /// Whether going from `old` to `new` properties needs a new resource, as the AWS resource
    /// reference says of each property ("Update requires: Replacement").
    fn replaces(&self, old: &Value, new: &Value) -> bool;

    /// The physical id a create of `request` gives when it names the resource itself
    /// ([`Request::generated_name`]) and the name is the physical id: what a create
    /// interrupted by a restart may have left is found by it. None when the name is the
    /// template's (a resource of that name may not be the stack's) or the create is
    /// idempotent.
    fn generated_id(&self, _request: &Request<'_>) -> Option<String> {
        None
    }
}

/// The provider of `resource_type` (`AWS::SQS::Queue`), if Brume has one.
pub fn provider(resource_type: &str) -> Option<&'static dyn Provider> {
    Some(match resource_type {
        "AWS::S3::Bucket" => &s3::Bucket,
        "AWS::S3::BucketPolicy" => &s3::BucketPolicy,
        "AWS::SQS::Queue" => &sqs::Queue,
        "AWS::SQS::QueuePolicy" => &sqs::QueuePolicy,
        "AWS::SQS::QueueInlinePolicy" => &sqs::QueueInlinePolicy,
        "AWS::SNS::Topic" => &sns::Topic,
        "AWS::SNS::Subscription" => &sns::Subscription,
        "AWS::SNS::TopicPolicy" => &sns::TopicPolicy,
        "AWS::SNS::TopicInlinePolicy" => &sns::TopicInlinePolicy,
        "AWS::DynamoDB::Table" => &dynamodb::Table,
        "AWS::DynamoDB::GlobalTable" => &dynamodb::GlobalTable,
        "AWS::Lambda::Function" => &lambda::Function,
        "AWS::Lambda::Permission" => &lambda::Permission,
        "AWS::Lambda::EventSourceMapping" => &lambda::EventSourceMapping,
        "AWS::Lambda::Version" => &lambda::Version,
        "AWS::Lambda::Alias" => &lambda::Alias,
        "AWS::Lambda::Url" => &lambda::Url,
        "AWS::Lambda::LayerVersion" => &lambda::LayerVersion,
        "AWS::Lambda::EventInvokeConfig" => &lambda::EventInvokeConfig,
        "AWS::StepFunctions::StateMachine" => &stepfunctions::StateMachine,
        "AWS::StepFunctions::Activity" => &stepfunctions::Activity,
        "AWS::StepFunctions::StateMachineVersion" => &stepfunctions::StateMachineVersion,
        "AWS::StepFunctions::StateMachineAlias" => &stepfunctions::StateMachineAlias,
        "AWS::Logs::LogGroup" => &logs::LogGroup,
        "AWS::Logs::LogStream" => &logs::LogStream,
        "AWS::IAM::Role" => &iam::Role,
        "AWS::IAM::Policy" => &iam::Policy,
        "AWS::IAM::ManagedPolicy" => &iam::ManagedPolicy,
        "AWS::CloudFormation::WaitConditionHandle" => &cloudformation::WaitConditionHandle,
        _ => return None,
    })
}

impl Request<'_> {
    /// Property `name`, absent when missing or null.
    fn prop(&self, name: &str) -> Option<&Value> {
        self.properties.get(name).filter(|v| !v.is_null())
    }

    /// Property `name` as text (templates write numbers and booleans as strings too).
    fn text(&self, name: &str) -> Option<String> {
        self.prop(name).and_then(text)
    }

    /// The name CloudFormation gives a resource whose name property is absent:
    /// `<stack>-<logical>-<SUFFIX>`, the two names shortened to fit `max` characters.
    fn generated_name(&self, max: usize) -> String {
        generated_name(self.stack_name, self.logical_id, max, self.suffix)
    }

    /// Property `name` as text, or the generated name when it is absent.
    fn name_or_generated(&self, name: &str, max: usize) -> Option<String> {
        self.text(name).is_none().then(|| self.generated_name(max))
    }

    /// The resource's tags: its `Tags` property, the stack's tags, and the three
    /// `aws:cloudformation:` tags, as CloudFormation tags what it creates.
    fn tags(&self) -> Vec<(String, String)> {
        let mut tags = self.user_tags();
        for (k, v) in self.tags {
            if !tags.iter().any(|(key, _)| key == k) {
                tags.push((k.clone(), v.clone()));
            }
        }
        tags.extend([
            ("aws:cloudformation:stack-name".to_string(), self.stack_name.to_string()),
            ("aws:cloudformation:logical-id".to_string(), self.logical_id.to_string()),
            ("aws:cloudformation:stack-id".to_string(), self.stack_id.to_string()),
        ]);
        tags
    }

    /// The `Tags` property alone (a list of `Key`/`Value`).
    fn user_tags(&self) -> Vec<(String, String)> {
        tag_list(self.prop("Tags"))
    }
}

/// `[{Key, Value}]` as pairs.
fn tag_list(tags: Option<&Value>) -> Vec<(String, String)> {
    tags.and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|t| Some((text(t.get("Key")?)?, t.get("Value").and_then(text).unwrap_or_default())))
                .collect()
        })
        .unwrap_or_default()
}

/// Tags as a map (`{key: value}`), as SQS, Lambda and CloudWatch Logs take them.
fn tag_map(tags: &[(String, String)]) -> Value {
    Value::Object(tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

/// Tags as a list of `{Key, Value}`, as SNS, S3 and DynamoDB take them.
fn tag_objects(tags: &[(String, String)]) -> Value {
    Value::Array(tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect())
}

/// A scalar as text: strings as they are, numbers and booleans written out.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A number written as a number or as a string.
fn number(v: &Value) -> Option<Value> {
    match v {
        Value::Number(_) => Some(v.clone()),
        Value::String(s) => s.parse::<i64>().ok().map(Value::from).or_else(|| s.parse::<f64>().ok().map(Value::from)),
        _ => None,
    }
}

/// A boolean written as a boolean or as `"true"`/`"false"`.
fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A policy or definition document as text: objects serialised, strings kept.
fn document(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether any of `keys` differs between `old` and `new` properties.
fn changed(old: &Value, new: &Value, keys: &[&str]) -> bool {
    keys.iter().any(|k| old.get(k).filter(|v| !v.is_null()) != new.get(k).filter(|v| !v.is_null()))
}

/// `<stack>-<logical>-<suffix>` within `max` characters: the stack and logical names are
/// cut as CloudFormation cuts them when the whole would be too long.
fn generated_name(stack: &str, logical: &str, max: usize, suffix: &str) -> String {
    let budget = max.saturating_sub(suffix.len() + 2);
    let (mut stack_len, mut logical_len) = (stack.chars().count(), logical.chars().count());
    while stack_len + logical_len > budget {
        if stack_len >= logical_len { stack_len -= 1 } else { logical_len -= 1 }
    }
    let stack: String = stack.chars().take(stack_len).collect();
    let logical: String = logical.chars().take(logical_len).collect();
    format!("{stack}-{logical}-{suffix}")
}

/// 12 upper-case letters and digits, as CloudFormation ends the names it makes, drawn from
/// the stack, the resource and its creation attempt: a creation resumed after a restart
/// makes the same name, a later one (a replacement) another.
pub(crate) fn name_suffix(stack_id: &str, logical_id: &str, attempt: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let seed = format!("{stack_id}\n{logical_id}\n{attempt}");
    (0..12u64)
        .map(|i| {
            ALPHABET[(fnv1a(FNV_OFFSET, seed.bytes().chain(i.to_le_bytes())) >> 32) as usize % ALPHABET.len()] as char
        })
        .collect()
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes` from `hash`: stable across runs, unlike std's hasher.
fn fnv1a(hash: u64, bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(hash, |hash, b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A stable id of `prefix` and 17 upper-case letters and digits drawn from `seed`, as IAM
/// ids look (`AROA…`), the same on every update of the resource.
fn stable_id(prefix: &str, seed: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut hash = FNV_OFFSET;
    let mut out = prefix.to_string();
    for i in 0..17u64 {
        hash = fnv1a(hash, seed.bytes().chain(i.to_le_bytes()));
        out.push(ALPHABET[(hash >> 59) as usize % ALPHABET.len()] as char);
    }
    out
}

/// Seconds since the Unix epoch of an ISO 8601 time (`2030-01-31`, `2030-01-31T12:00:00Z`,
/// `2030-01-31T12:00:00.5+02:00`), as templates write dates.
fn iso8601_seconds(t: &str) -> Option<f64> {
    let (date, rest) = t.split_at_checked(10)?;
    let mut parts = date.split('-').map(str::parse::<i64>);
    let (y, m, d) = (parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let mut seconds = days as f64 * 86_400.0;
    let Some(time) = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' ')) else {
        return rest.is_empty().then_some(seconds);
    };
    let (clock, offset) = match time.find(['Z', 'z', '+', '-']) {
        Some(i) => time.split_at(i),
        None => (time, ""),
    };
    let mut fields = clock.split(':');
    let (h, min) = (fields.next()?.parse::<f64>().ok()?, fields.next()?.parse::<f64>().ok()?);
    let sec = fields.next().map_or(Some(0.0), |s| s.parse::<f64>().ok())?;
    seconds += h * 3600.0 + min * 60.0 + sec;
    if let Some(sign @ ('+' | '-')) = offset.chars().next() {
        let (oh, om) = offset[1..].split_once(':').unwrap_or((&offset[1..], "0"));
        let shift = oh.parse::<f64>().ok()? * 3600.0 + om.parse::<f64>().ok()? * 60.0;
        seconds += if sign == '+' { -shift } else { shift };
    }
    Some(seconds)
}

/// Whether a delete's error says the resource is already gone.
fn gone(e: &AwsError) -> bool {
    e.status == 404
        || matches!(
            e.code.as_ref(),
            "NoSuchBucket"
                | "NoSuchBucketPolicy"
                | "AWS.SimpleQueueService.NonExistentQueue"
                | "QueueDoesNotExist"
                | "NotFound"
                | "ResourceNotFoundException"
                | "StateMachineDoesNotExist"
                | "ActivityDoesNotExist"
                | "PolicyNotFoundException"
        )
}

/// A delete's outcome: the resource already gone is success.
fn ignore_gone<T>(result: Result<T, AwsError>) -> Result<(), AwsError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if gone(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Calls `operation` of `service` in the request's account and region, the input's scalars
/// typed as the operation's model says.
async fn call(
    sdk: &dyn AwsSdkClient,
    request: &Request<'_>,
    service: &str,
    operation: &str,
    input: Value,
) -> Result<Value, AwsError> {
    let input = match model::model(service).and_then(|m| Some((m, m.operation(operation)?.input.as_ref()?))) {
        Some((model, shape)) => typed(model, &shape.shape, input),
        None => input,
    };
    sdk.call(service, operation, request.account, request.region, input).await
}

/// `value` with its scalars of the type shape `shape` says: CloudFormation takes numbers
/// and booleans written as text (and a parameter's or `Ref`'s value is always text), and
/// strings written as numbers or booleans.
fn typed(model: &model::ServiceModel, shape: &str, value: Value) -> Value {
    let s = model.shape(shape);
    if s.document {
        return value;
    }
    match (s.kind, value) {
        (ShapeType::Structure, Value::Object(fields)) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| {
                    let v = match s.members.get(&k) {
                        Some(member) => typed(model, &member.shape, v),
                        None => v,
                    };
                    (k, v)
                })
                .collect(),
        ),
        (ShapeType::List, Value::Array(items)) => match &s.member {
            Some(m) => Value::Array(items.into_iter().map(|v| typed(model, &m.shape, v)).collect()),
            None => Value::Array(items),
        },
        (ShapeType::Map, Value::Object(entries)) => match &s.value {
            Some(m) => Value::Object(entries.into_iter().map(|(k, v)| (k, typed(model, &m.shape, v))).collect()),
            None => Value::Object(entries),
        },
        (ShapeType::Integer | ShapeType::Long | ShapeType::Float | ShapeType::Double, v @ Value::String(_)) => {
            number(&v).unwrap_or(v)
        }
        (ShapeType::Boolean, v @ Value::String(_)) => boolean(&v).map(Value::Bool).unwrap_or(v),
        (ShapeType::String, v @ (Value::Number(_) | Value::Bool(_))) => text(&v).map(Value::String).unwrap_or(v),
        (ShapeType::Timestamp, Value::String(t)) => match iso8601_seconds(&t) {
            Some(seconds) => json!(seconds),
            None => number(&Value::String(t.clone())).unwrap_or(Value::String(t)),
        },
        (_, v) => v,
    }
}

/// An object of the `keys` present in `from`, copied as they are.
fn copy(from: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter().filter_map(|k| Some((k.to_string(), from.get(*k).filter(|v| !v.is_null())?.clone()))).collect()
}

/// Provisioned with `attributes`.
fn provisioned(physical_id: impl Into<String>, attributes: Value) -> Provisioned {
    Provisioned { physical_id: physical_id.into(), attributes: attributes.as_object().cloned().unwrap_or_default() }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn request<'a>(properties: &'a Value, tags: &'a [(String, String)]) -> Request<'a> {
        Request {
            account: "123456789012",
            region: "us-east-1",
            stack_name: "my-stack",
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/my-stack/1",
            logical_id: "MyQueue",
            properties,
            tags,
            suffix: "ABCDEFGHIJKL",
        }
    }

    #[test]
    fn generated_names_are_stack_logical_random_and_fit() {
        assert_eq!(generated_name("s", "Q", 80, "ABC"), "s-Q-ABC");
        let long = "x".repeat(100);
        let name = generated_name(&long, "Logical", 64, "ABCDEFGHIJKL");
        assert_eq!(name.len(), 64);
        assert!(name.ends_with("-Logical-ABCDEFGHIJKL"));
        let suffix = name_suffix("stack/s/1", "Queue", 3);
        assert_eq!(suffix.len(), 12);
        assert_eq!(suffix, name_suffix("stack/s/1", "Queue", 3));
        assert_ne!(suffix, name_suffix("stack/s/1", "Queue", 4));
        assert_ne!(suffix, name_suffix("stack/s/1", "Topic", 3));
    }

    #[test]
    fn tags_are_the_resource_s_then_the_stack_s_then_cloudformation_s() {
        let props = json!({ "Tags": [{ "Key": "team", "Value": "a" }] });
        let stack_tags = vec![("team".to_string(), "b".to_string()), ("env".to_string(), "dev".to_string())];
        let tags = request(&props, &stack_tags).tags();
        assert_eq!(tags[0], ("team".into(), "a".into()));
        assert_eq!(tags[1], ("env".into(), "dev".into()));
        assert_eq!(tags[2], ("aws:cloudformation:stack-name".into(), "my-stack".into()));
        assert_eq!(tags[3].1, "MyQueue");
        assert_eq!(tags.len(), 5);
    }

    #[test]
    fn inputs_are_typed_by_the_model() {
        let sqs = model::model("lambda").unwrap();
        let input = json!({ "FunctionName": 12, "Timeout": "30", "Publish": "true", "Environment": { "Variables": { "N": 1 } } });
        let shape = &sqs.operation("CreateFunction").unwrap().input.as_ref().unwrap().shape;
        assert_eq!(
            typed(sqs, shape, input),
            json!({ "FunctionName": "12", "Timeout": 30, "Publish": true, "Environment": { "Variables": { "N": "1" } } })
        );
        let ddb = model::model("dynamodb").unwrap();
        let shape = &ddb.operation("UpdateTimeToLive").unwrap().input.as_ref().unwrap().shape;
        let input = json!({ "TimeToLiveSpecification": { "Enabled": "false", "AttributeName": "t" } });
        assert_eq!(typed(ddb, shape, input)["TimeToLiveSpecification"]["Enabled"], false);
    }

    #[test]
    fn iso_times_are_seconds() {
        assert_eq!(iso8601_seconds("1970-01-02"), Some(86_400.0));
        assert_eq!(iso8601_seconds("2023-11-14T22:13:20Z"), Some(1_700_000_000.0));
        assert_eq!(iso8601_seconds("2023-11-14T22:13:20.5Z"), Some(1_700_000_000.5));
        assert_eq!(iso8601_seconds("2023-11-15T00:13:20+02:00"), Some(1_700_000_000.0));
        assert_eq!(iso8601_seconds("soon"), None);
    }

    #[test]
    fn stable_ids_are_stable() {
        let id = stable_id("AROA", "arn:aws:iam::1:role/r");
        assert_eq!(id.len(), 21);
        assert_eq!(id, stable_id("AROA", "arn:aws:iam::1:role/r"));
        assert_ne!(id, stable_id("AROA", "arn:aws:iam::1:role/s"));
    }

    #[test]
    fn every_listed_type_has_a_provider() {
        for t in ["AWS::S3::Bucket", "AWS::Lambda::Url", "AWS::CloudFormation::WaitConditionHandle"] {
            assert!(provider(t).is_some(), "{t}");
        }
        assert!(provider("AWS::EC2::VPC").is_none());
    }
}
