//! The service integrations a Task's `arn:aws:states:::<service>:<action>` resource
//! calls: Lambda's invoke, SQS's sendMessage, SNS's publish, each answering what the SDK
//! call answers, and each service's errors as the task's failure (`Lambda.…`, `SQS.…`,
//! `SNS.…`).

use std::collections::BTreeMap;

use brume_core::AwsError;
use brume_core::clients::{MessageAttribute, OutgoingMessage};
use md5::Digest;
use serde_json::{Value, json};

use crate::StepFunctions;
use crate::asl::Failure;

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
                result["MD5OfMessageBody"] = json!(hex(&md5::Md5::digest(body.as_bytes())));
                result["MessageId"] = json!(id);
                Ok(result)
            }
            ("sns", "publish") => {
                let topic = parameters["TopicArn"].as_str().unwrap_or_default();
                let message = text(&parameters["Message"]);
                let id = self
                    .sns
                    .publish(topic, message, attributes(&parameters["MessageAttributes"]))
                    .await
                    .map_err(|e| service_failure("SNS", "AmazonSNS", &e))?;
                let mut result = sdk_result(&[]);
                result["MessageId"] = json!(id);
                Ok(result)
            }
            _ => Err(Failure::new(
                "States.Runtime",
                format!("The resource 'arn:aws:states:::{service}:{action}' is not supported by Brume"),
            )),
        }
    }
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
