//! The service integrations a Task's `arn:aws:states:::<service>:<action>` resource
//! calls, each answering what the SDK call answers and each service's errors as the task's
//! failure:
//!
//! - the optimized ones: Lambda's invoke, SQS's sendMessage, SNS's publish, DynamoDB's
//!   item operations (`Lambda.…`, `SQS.…`, `SNS.…`, `DynamoDB.…`), and Step Functions'
//!   startExecution, whose `.sync` and `.sync:2` patterns wait for the child execution;
//! - `aws-sdk:<service>:<action>`: any operation of a service Brume serves, called
//!   through [`AwsSdkClient`] with the parameters turned into the operation's canonical
//!   input by its model, the answer turned back into the SDK's JSON (PascalCase members,
//!   ISO-8601 times, payload bodies as text) and errors named `<Service>.<Error>Exception`.
//!
//! The optimized DynamoDB, SNS and Step Functions integrations go through the same client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use brume_core::clients::{MessageAttribute, OutgoingMessage, StepFunctionsClient};
use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_crypto::Md5;
use brume_protocol::model::{self, ServiceModel, ShapeType};
use serde_json::{Value, json};

use crate::StepFunctions;
use crate::asl::Failure;

/// The services `aws-sdk:<name>:<action>` reaches: the name in the ARN, the model Brume
/// serves it by, and the name AWS gives its errors (and its causes) in Step Functions.
const SDK_SERVICES: &[(&str, &str, &str)] = &[
    ("cloudwatchlogs", "logs", "CloudWatchLogs"),
    ("dynamodb", "dynamodb", "DynamoDb"),
    ("lambda", "lambda", "Lambda"),
    ("s3", "s3", "S3"),
    ("sfn", "stepfunctions", "Sfn"),
    ("sns", "sns", "Sns"),
    ("sqs", "sqs", "Sqs"),
    ("sts", "sts", "Sts"),
];

/// How often a `.sync` task looks at its child execution.
const CHILD_POLL: Duration = Duration::from_millis(200);

/// How a plain function ARN or `lambda:invoke` answered: the function's payload and the
/// version that ran, or the failure.
pub(crate) struct Invoked {
    pub payload: Value,
    pub version: String,
}

impl StepFunctions {
    pub(crate) async fn invoke(
        &self,
        account: &str,
        region: &str,
        function: &str,
        payload: Vec<u8>,
    ) -> Result<Invoked, Failure> {
        let r = self
            .lambda
            .invoke(account, region, function, payload)
            .await
            .map_err(|e| service_failure("Lambda", "AWSLambda", &e))?;
        let text = String::from_utf8_lossy(&r.payload).into_owned();
        let payload: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        if r.function_error.is_some() {
            let error = payload["errorType"].as_str().unwrap_or("Lambda.Unknown").to_string();
            return Err(Failure::new(error, text));
        }
        Ok(Invoked { payload, version: r.executed_version })
    }

    /// Calls `service:action` with the task's parameters; what the SDK call answers.
    pub(crate) async fn integrate(
        &self,
        account: &str,
        region: &str,
        service: &str,
        action: &str,
        parameters: &Value,
    ) -> Result<Value, Failure> {
        match (service, action) {
            ("lambda", "invoke") => {
                let function = parameters["FunctionName"].as_str().unwrap_or_default();
                let payload = match parameters.get("Payload") {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => "{}".to_string(),
                };
                let invoked = self.invoke(account, region, function, payload.into_bytes()).await?;
                let mut result = sdk_result(&[("X-Amz-Executed-Version", invoked.version.as_str())]);
                result["ExecutedVersion"] = json!(invoked.version);
                result["Payload"] = invoked.payload;
                result["StatusCode"] = json!(200);
                Ok(result)
            }
            ("sqs", "sendMessage") => {
                let url = parameters["QueueUrl"].as_str().unwrap_or_default();
                let mut parts = url.trim_end_matches('/').rsplit('/');
                let (name, owner) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
                let queue = format!("arn:aws:sqs:{region}:{owner}:{name}");
                let body = text(&parameters["MessageBody"]);
                let message = OutgoingMessage {
                    body: body.clone(),
                    attributes: attributes(&parameters["MessageAttributes"]),
                    group_id: parameters["MessageGroupId"].as_str().map(str::to_string),
                    deduplication_id: parameters["MessageDeduplicationId"].as_str().map(str::to_string),
                };
                let id = self
                    .sqs
                    .send_message(&queue, message)
                    .await
                    .map_err(|e| service_failure("SQS", "AmazonSQS", &e))?;
                let mut result = sdk_result(&[]);
                result["MD5OfMessageBody"] = json!(hex(&Md5::digest(body.as_bytes())));
                result["MessageId"] = json!(id);
                Ok(result)
            }
            ("sns", "publish") => {
                let mut parameters = parameters.clone();
                if let Some(message) = parameters.get("Message") {
                    parameters["Message"] = json!(text(message));
                }
                let output = self
                    .sdk_call(account, region, ("sns", "Publish"), &parameters, pascal)
                    .await
                    .map_err(|e| service_failure("SNS", "AmazonSNS", &e))?;
                let mut result = sdk_result(&[("Content-Type", "text/xml")]);
                merge(&mut result, output);
                Ok(result)
            }
            ("aws-sdk", call) => {
                let (name, action) = call.split_once(':').unwrap_or((call, ""));
                self.aws_sdk(account, region, name, action, parameters).await
            }
            ("dynamodb", "getItem" | "putItem" | "updateItem" | "deleteItem") => {
                let output = self
                    .sdk_call(account, region, ("dynamodb", &pascal(action)), parameters, pascal)
                    .await
                    .map_err(|e| service_failure("DynamoDB", "AmazonDynamoDBv2", &e))?;
                let mut result = sdk_result(&[("Content-Type", "application/x-amz-json-1.0")]);
                merge(&mut result, output);
                Ok(result)
            }
            ("states", "startExecution") => {
                let output = self.start_child(account, region, parameters).await?;
                let mut result = sdk_result(&[("Content-Type", "application/x-amz-json-1.0")]);
                result["ExecutionArn"] = output["ExecutionArn"].clone();
                result["StartDate"] = output["StartDate"].clone();
                Ok(result)
            }
            _ => Err(Failure::new(
                "States.Runtime",
                format!("The resource 'arn:aws:states:::{service}:{action}' is not supported by Brume"),
            )),
        }
    }

    /// `aws-sdk:<name>:<action>`: the operation `action` names (`getObject` is GetObject),
    /// its answer as the SDK's JSON.
    async fn aws_sdk(
        &self,
        account: &str,
        region: &str,
        name: &str,
        action: &str,
        parameters: &Value,
    ) -> Result<Value, Failure> {
        let Some(&(_, model_name, prefix)) = SDK_SERVICES.iter().find(|(n, ..)| *n == name) else {
            return Err(Failure::new(
                "States.Runtime",
                format!("The resource 'arn:aws:states:::aws-sdk:{name}:{action}' is not supported by Brume"),
            ));
        };
        let operation = pascal(action);
        self.sdk_call(account, region, (model_name, &operation), parameters, sdk_name)
            .await
            .map_err(|e| sdk_failure(prefix, &e))
    }

    /// Calls `operation` of the service modelled as `model_name` with the task's
    /// `parameters`; its answer in the SDK's JSON, members named by `name`: the optimized
    /// integrations answer as the SDK for Java 1 does, with the model's names.
    async fn sdk_call(
        &self,
        account: &str,
        region: &str,
        (model_name, operation): (&str, &str),
        parameters: &Value,
        name: Naming,
    ) -> Result<Value, AwsError> {
        let model = model::model(model_name).ok_or_else(AwsError::internal)?;
        let op = model.operation(operation).ok_or_else(|| {
            AwsError::new(400, "UnknownOperationException", format!("{model_name} has no operation {operation}"))
        })?;
        let input = match &op.input {
            Some(r) => to_canonical(model, &r.shape, parameters, false),
            None => json!({}),
        };
        let output = self.sdk.call(model_name, operation, account, region, input).await?;
        Ok(match &op.output {
            Some(r) => from_canonical(model, &r.shape, &output, false, name),
            None => json!({}),
        })
    }

    /// Starts the child execution a `states:startExecution` task asks for: its
    /// ExecutionArn and StartDate (in milliseconds, as the SDK for Java writes dates).
    pub(crate) async fn start_child(&self, account: &str, region: &str, parameters: &Value) -> Result<Value, Failure> {
        let mut input = json!({ "StateMachineArn": parameters["StateMachineArn"] });
        if let Some(name) = parameters.get("Name") {
            input["Name"] = name.clone();
        }
        if let Some(child_input) = parameters.get("Input") {
            input["Input"] = json!(text(child_input));
        }
        let output = self
            .sdk_call(account, region, ("stepfunctions", "StartExecution"), &input, pascal)
            .await
            .map_err(|e| service_failure("StepFunctions", "AWSStepFunctions", &e))?;
        Ok(json!({ "ExecutionArn": output["ExecutionArn"], "StartDate": millis(&output["StartDate"]) }))
    }

    /// Waits for child execution `arn` to end: DescribeExecution's answer once it
    /// succeeded (its Output parsed when `parsed`, for `.sync:2`), `States.TaskFailed`
    /// with that answer as the cause otherwise.
    pub(crate) async fn await_child(
        &self,
        account: &str,
        region: &str,
        arn: &str,
        parsed: bool,
    ) -> Result<Value, Failure> {
        loop {
            let mut described = self
                .sdk_call(
                    account,
                    region,
                    ("stepfunctions", "DescribeExecution"),
                    &json!({ "ExecutionArn": arn }),
                    pascal,
                )
                .await
                .map_err(|e| service_failure("StepFunctions", "AWSStepFunctions", &e))?;
            let status = described["Status"].as_str().unwrap_or_default().to_string();
            if status == "RUNNING" || status == "PENDING_REDRIVE" {
                tokio::time::sleep(CHILD_POLL).await;
                continue;
            }
            for date in ["StartDate", "StopDate"] {
                if let Some(v) = described.get(date).cloned() {
                    described[date] = millis(&v);
                }
            }
            if status != "SUCCEEDED" {
                return Err(Failure::new("States.TaskFailed", described.to_string()));
            }
            if parsed && let Some(Value::String(output)) = described.get("Output").cloned() {
                described["Output"] = serde_json::from_str(&output).unwrap_or(Value::String(output));
            }
            return Ok(described);
        }
    }
}

/// Step Functions as the typed client other services hold (SNS's `stepfunctions`
/// subscriptions). The request goes through StartExecution itself, made in the state
/// machine's account and region.
pub struct Executions(pub Arc<StepFunctions>);

#[async_trait::async_trait]
impl StepFunctionsClient for Executions {
    async fn start_execution(&self, state_machine_arn: &str, name: &str, input: String) -> Result<String, AwsError> {
        let parts: Vec<&str> = state_machine_arn.split(':').collect();
        let (region, account) = (parts.get(3).copied().unwrap_or_default(), parts.get(4).copied().unwrap_or_default());
        let request = json!({ "stateMachineArn": state_machine_arn, "name": name, "input": input });
        let request = serde_json::from_value(request).map_err(|e| AwsError::validation(e.to_string()))?;
        let output = self.0.clone().start_execution(RequestContext::new(account, region), request).await?;
        let output = serde_json::to_value(output).unwrap_or_default();
        Ok(output["executionArn"].as_str().unwrap_or_default().to_string())
    }
}

/// `getObject` → `GetObject`.
fn pascal(action: &str) -> String {
    let mut chars = action.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// A member's name as the SDK for Java 2 spells it in Step Functions: the leading capitals
/// lowered but for one starting a word, then the first letter raised (`MD5OfMessageBody` is
/// `Md5OfMessageBody`, `ETag` stays, `BOOL` is `Bool`).
fn sdk_name(member: &str) -> String {
    let chars: Vec<char> = member.chars().collect();
    let mut out = String::with_capacity(member.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_word = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        if i > 0 && (!c.is_uppercase() || starts_word) {
            break;
        }
        out.push(if i == 0 { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
        i += 1;
    }
    out.extend(&chars[i..]);
    out
}

/// Adds `output`'s members to `result`.
fn merge(result: &mut Value, output: Value) {
    if let (Some(result), Value::Object(output)) = (result.as_object_mut(), output) {
        result.extend(output);
    }
}

/// A time of the SDK's JSON in the milliseconds the SDK for Java 1 writes dates in.
fn millis(v: &Value) -> Value {
    v.as_str()
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .map_or(Value::Null, |t| json!((t.unix_timestamp_nanos() / 1_000_000) as u64))
}

/// The member of a structure a parameter names: its own name, or its name with another
/// case (Step Functions spells `stateMachineArn` `StateMachineArn`).
fn member_name<'a>(shape: &'a model::Shape, key: &'a str) -> Option<(&'a str, &'a model::MemberRef)> {
    shape
        .members
        .iter()
        .find(|(name, _)| *name == key)
        .or_else(|| shape.members.iter().find(|(name, _)| name.eq_ignore_ascii_case(key)))
}

/// A task's parameters as the canonical input of shape `shape`: members under the model's
/// names, times in seconds, a payload body given as text (or JSON) in base64.
fn to_canonical(model: &ServiceModel, shape: &str, value: &Value, payload: bool) -> Value {
    let s = model.shape(shape);
    match (s.kind, value) {
        (ShapeType::Structure, Value::Object(fields)) => {
            let mut out = serde_json::Map::new();
            for (key, v) in fields {
                match member_name(s, key) {
                    Some((name, member)) => {
                        let is_payload = s.payload.as_deref() == Some(name);
                        out.insert(name.to_string(), to_canonical(model, &member.shape, v, is_payload));
                    }
                    None => {
                        out.insert(key.clone(), v.clone());
                    }
                }
            }
            Value::Object(out)
        }
        (ShapeType::List, Value::Array(items)) => match &s.member {
            Some(m) => Value::Array(items.iter().map(|v| to_canonical(model, &m.shape, v, false)).collect()),
            None => value.clone(),
        },
        (ShapeType::Map, Value::Object(entries)) => match &s.value {
            Some(m) => Value::Object(
                entries.iter().map(|(k, v)| (k.clone(), to_canonical(model, &m.shape, v, false))).collect(),
            ),
            None => value.clone(),
        },
        (ShapeType::Blob, v) if payload => {
            use base64::Engine;
            json!(base64::engine::general_purpose::STANDARD.encode(text(v)))
        }
        (ShapeType::Timestamp, Value::String(t)) => {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map(|t| json!(t.unix_timestamp_nanos() as f64 / 1e9))
                .unwrap_or_else(|_| value.clone())
        }
        _ => value.clone(),
    }
}

/// How an SDK names members in the JSON it answers with.
type Naming = fn(&str) -> String;

/// An operation's canonical answer as the SDK's JSON: members named by `name`, ISO-8601
/// times, a payload body as its text.
fn from_canonical(model: &ServiceModel, shape: &str, value: &Value, payload: bool, name: Naming) -> Value {
    let s = model.shape(shape);
    match (s.kind, value) {
        (ShapeType::Structure, Value::Object(fields)) => {
            let mut out = serde_json::Map::new();
            for (key, v) in fields {
                let converted = match s.members.get(key) {
                    Some(member) => {
                        from_canonical(model, &member.shape, v, s.payload.as_deref() == Some(key.as_str()), name)
                    }
                    None => v.clone(),
                };
                out.insert(name(key), converted);
            }
            Value::Object(out)
        }
        (ShapeType::List, Value::Array(items)) => match &s.member {
            Some(m) => Value::Array(items.iter().map(|v| from_canonical(model, &m.shape, v, false, name)).collect()),
            None => value.clone(),
        },
        (ShapeType::Map, Value::Object(entries)) => match &s.value {
            Some(m) => Value::Object(
                entries.iter().map(|(k, v)| (k.clone(), from_canonical(model, &m.shape, v, false, name))).collect(),
            ),
            None => value.clone(),
        },
        (ShapeType::Blob, Value::String(b64)) if payload => {
            use base64::Engine;
            match base64::engine::general_purpose::STANDARD.decode(b64) {
                Ok(bytes) => json!(String::from_utf8_lossy(&bytes)),
                Err(_) => value.clone(),
            }
        }
        (ShapeType::Timestamp, Value::Number(n)) => json!(instant(n.as_f64().unwrap_or_default())),
        _ => value.clone(),
    }
}

/// A time as Java's `Instant` prints it, which the SDK for Java 2 answers with: UTC, the
/// fraction of a second only when there is one.
fn instant(seconds: f64) -> String {
    let t = Timestamp(seconds).to_offset_datetime();
    let date = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    match t.millisecond() {
        0 => format!("{date}Z"),
        ms => format!("{date}.{ms:03}Z"),
    }
}

/// An `aws-sdk` integration's error as the task's failure: `<Service>.<Error>`, the error
/// being the model's error shape, suffixed `Exception` when it is not already; the cause
/// worded as the SDK for Java 2 words it.
fn sdk_failure(prefix: &str, e: &AwsError) -> Failure {
    let code = e.code.as_ref();
    let shape = SDK_SERVICES
        .iter()
        .find(|(.., p)| *p == prefix)
        .and_then(|(_, model_name, _)| model::model(model_name))
        .and_then(|m| {
            m.shapes
                .iter()
                .find(|(_, s)| s.error.as_ref().and_then(|t| t.code.as_deref()) == Some(code))
                .map(|(name, _)| name.clone())
        })
        .unwrap_or_else(|| code.to_string());
    let class = if shape.ends_with("Exception") { shape } else { format!("{shape}Exception") };
    let request_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let extended = if prefix == "S3" {
        use base64::Engine;
        let id: [u8; 48] = std::array::from_fn(|_| rand::random());
        format!(", Extended Request ID: {}", base64::engine::general_purpose::STANDARD.encode(id))
    } else {
        String::new()
    };
    Failure::new(
        format!("{prefix}.{class}"),
        format!("{} (Service: {prefix}, Status Code: {}, Request ID: {request_id}{extended})", e.message, e.status),
    )
}

/// A message body or SNS message: strings as they are, other JSON serialized.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn attributes(value: &Value) -> BTreeMap<String, MessageAttribute> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, v)| {
            let data_type = v["DataType"].as_str()?.to_string();
            let string_value = v["StringValue"].as_str().map(str::to_string);
            Some((name.clone(), MessageAttribute { data_type, string_value, binary_value: None }))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A service's error as the task's failure: the error is named after the exception class
/// of the AWS SDK for Java that Step Functions calls with (`SQS.AmazonSQSException` for
/// errors without one of their own), the cause worded as that SDK words it.
fn service_failure(prefix: &str, service: &str, e: &AwsError) -> Failure {
    let code = e.code.as_ref();
    let class = match (prefix, code) {
        (_, c) if c.ends_with("Exception") => c.to_string(),
        ("SQS", "AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist") => {
            "QueueDoesNotExistException".to_string()
        }
        ("SNS", "NotFound" | "InvalidParameter" | "AuthorizationError" | "InvalidParameterValue") => {
            format!("{code}Exception")
        }
        _ => format!("{service}Exception"),
    };
    Failure::new(
        format!("{prefix}.{class}"),
        format!(
            "{} (Service: {service}; Status Code: {}; Error Code: {code}; Request ID: {}; Proxy: null)",
            e.message,
            e.status,
            uuid::Uuid::new_v4()
        ),
    )
}

/// The response metadata the SDK adds to every integration's result.
fn sdk_result(extra_headers: &[(&str, &str)]) -> Value {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut headers = serde_json::Map::new();
    headers.insert("Connection".into(), json!("keep-alive"));
    headers.insert("Content-Type".into(), json!("application/json"));
    for (name, value) in extra_headers {
        headers.insert((*name).into(), json!(value));
    }
    headers.insert("x-amzn-RequestId".into(), json!(request_id));
    let all: serde_json::Map<String, Value> = headers.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
    json!({
        "SdkHttpMetadata": { "AllHttpHeaders": all, "HttpHeaders": headers, "HttpStatusCode": 200 },
        "SdkResponseMetadata": { "RequestId": request_id },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_named_as_the_sdk_for_java_2_names_them() {
        let names = ["MD5OfMessageBody", "ETag", "BOOL", "QueueUrl", "stateMachineArn", "SSEKMSKeyId", "S"];
        let expected = ["Md5OfMessageBody", "ETag", "Bool", "QueueUrl", "StateMachineArn", "SsekmsKeyId", "S"];
        assert_eq!(names.map(sdk_name), expected);
        assert_eq!(pascal("getObject"), "GetObject");
    }

    #[test]
    fn parameters_become_canonical_inputs_and_answers_sdk_json() {
        let s3 = model::model("s3").unwrap();
        let put = to_canonical(s3, "PutObjectRequest", &json!({"Bucket": "b", "Key": "k", "Body": {"a": 1}}), false);
        assert_eq!(put, json!({"Bucket": "b", "Key": "k", "Body": "eyJhIjoxfQ=="}));
        let got = json!({"Body": "aGk=", "LastModified": 1_700_000_000.5, "ETag": "\"e\""});
        assert_eq!(
            from_canonical(s3, "GetObjectOutput", &got, false, sdk_name),
            json!({"Body": "hi", "LastModified": "2023-11-14T22:13:20.500Z", "ETag": "\"e\""})
        );
        let sfn = model::model("stepfunctions").unwrap();
        let start = to_canonical(sfn, "StartExecutionInput", &json!({"StateMachineArn": "arn", "Input": "{}"}), false);
        assert_eq!(start, json!({"stateMachineArn": "arn", "input": "{}"}));
        assert_eq!(instant(1_700_000_000.0), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn sdk_errors_are_named_after_the_model_with_an_exception_suffix() {
        let e = AwsError::new(400, "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.");
        let f = sdk_failure("Sqs", &e);
        assert_eq!(f.error, "Sqs.QueueDoesNotExistException");
        assert!(
            f.cause.starts_with("The specified queue does not exist. (Service: Sqs, Status Code: 400, Request ID: ")
        );
        let f = sdk_failure("S3", &AwsError::new(404, "NoSuchKey", "The specified key does not exist."));
        assert_eq!(f.error, "S3.NoSuchKeyException");
        assert!(f.cause.contains(", Extended Request ID: "));
        let f = sdk_failure("DynamoDb", &AwsError::new(400, "ConditionalCheckFailedException", "x"));
        assert_eq!(f.error, "DynamoDb.ConditionalCheckFailedException");
    }
}
