//! awsJson 1.0 and 1.1: `POST /` with `X-Amz-Target: Prefix.Operation` and a JSON body.
//!
//! The JSON body is almost the canonical value already; the codec checks every member
//! against its shape (AWS answers `SerializationException` for a wrong type) and converts
//! timestamps, which clients may send as ISO strings where the model says so.

use serde_json::{Map, Value};

use brume_core::AwsError;
use brume_core::value::Timestamp;

use super::timestamp::{self, Format};
use super::{Request, ResponseBody, response, serialization_error, wire_code};
use crate::model::{Operation, Protocol, ServiceModel, ShapeType};

pub(super) fn resolve(model: &'static ServiceModel, req: &Request) -> Result<&'static Operation, AwsError> {
    let target = req.header("x-amz-target").unwrap_or("");
    let op = target.rsplit_once('.').map(|(_, op)| op).unwrap_or(target);
    model.operation(op).ok_or_else(|| {
        AwsError::new(
            400,
            "UnknownOperationException",
            format!("Operation {op} is not known to {}", model.metadata.service_id),
        )
    })
}

pub(super) fn decode(model: &ServiceModel, op: &Operation, req: &Request) -> Result<Value, AwsError> {
    let protocol = model.default_protocol();
    let body: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(req.body).map_err(|e| serialization_error(protocol, format!("Malformed JSON: {e}")))?
    };
    match &op.input {
        Some(input) => to_canonical(model, &input.shape, body, protocol),
        None => Ok(Value::Object(Map::new())),
    }
}

/// Checks a JSON value against its shape, converting wire forms to the canonical ones.
/// Shared with restJson1, whose bodies follow the same rules.
pub(crate) fn to_canonical(
    model: &ServiceModel,
    shape_name: &str,
    value: Value,
    protocol: Protocol,
) -> Result<Value, AwsError> {
    let shape = model.shape(shape_name);
    let mismatch =
        |what: &str| serialization_error(protocol, format!("Unexpected value for a {what} of shape {shape_name}"));
    if value.is_null() {
        return Ok(Value::Null);
    }
    Ok(match shape.kind {
        ShapeType::Structure if shape.document => value,
        ShapeType::Structure => {
            let Value::Object(obj) = value else {
                return Err(mismatch("structure"));
            };
            let mut out = Map::new();
            for (k, v) in obj {
                // Body keys are the members' `locationName` where they have one. Unknown
                // members are ignored, as AWS's front ends do for forward compatibility.
                let member = shape
                    .members
                    .iter()
                    .find(|(name, m)| m.location.is_none() && m.location_name.as_deref().unwrap_or(name) == k);
                if let Some((name, m)) = member {
                    let v = to_canonical(model, &m.shape, v, protocol)?;
                    if !v.is_null() {
                        out.insert(name.to_string(), v);
                    }
                }
            }
            Value::Object(out)
        }
        ShapeType::List => {
            let Value::Array(items) = value else {
                return Err(mismatch("list"));
            };
            let item = &shape.member.as_ref().expect("list shapes have a member").shape;
            Value::Array(items.into_iter().map(|v| to_canonical(model, item, v, protocol)).collect::<Result<_, _>>()?)
        }
        ShapeType::Map => {
            let Value::Object(obj) = value else {
                return Err(mismatch("map"));
            };
            let vs = &shape.value.as_ref().expect("map shapes have a value").shape;
            let mut out = Map::new();
            for (k, v) in obj {
                out.insert(k, to_canonical(model, vs, v, protocol)?);
            }
            Value::Object(out)
        }
        ShapeType::String | ShapeType::Blob => {
            if !value.is_string() {
                return Err(mismatch("string"));
            }
            value
        }
        ShapeType::Boolean => {
            if !value.is_boolean() {
                return Err(mismatch("boolean"));
            }
            value
        }
        ShapeType::Integer | ShapeType::Long => {
            if !(value.is_i64() || value.is_u64()) {
                return Err(mismatch("integer"));
            }
            value
        }
        ShapeType::Float | ShapeType::Double => match &value {
            Value::Number(_) => value,
            // Non-finite numbers travel as strings in JSON.
            Value::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => value,
            _ => return Err(mismatch("number")),
        },
        ShapeType::Timestamp => match &value {
            Value::Number(_) => value,
            Value::String(s) => {
                let ts = timestamp::parse(s).ok_or_else(|| mismatch("timestamp"))?;
                serde_json::json!(ts.0)
            }
            _ => return Err(mismatch("timestamp")),
        },
    })
}

/// The canonical value written as JSON for `shape_name`: nulls dropped, timestamps in the
/// model's format (epoch seconds unless it names another).
pub(crate) fn from_canonical(model: &ServiceModel, shape_name: &str, value: &Value) -> Value {
    let shape = model.shape(shape_name);
    match (shape.kind, value) {
        (ShapeType::Structure, Value::Object(obj)) if !shape.document => {
            let mut out = Map::new();
            for (name, m) in shape.members.iter() {
                if m.location.is_some() {
                    continue;
                }
                if let Some(v) = obj.get(name).filter(|v| !v.is_null()) {
                    let key = m.location_name.as_deref().unwrap_or(name);
                    out.insert(key.to_string(), from_canonical(model, &m.shape, v));
                }
            }
            Value::Object(out)
        }
        (ShapeType::List, Value::Array(items)) => {
            let item = &shape.member.as_ref().expect("list shapes have a member").shape;
            Value::Array(items.iter().map(|v| from_canonical(model, item, v)).collect())
        }
        (ShapeType::Map, Value::Object(obj)) => {
            let vs = &shape.value.as_ref().expect("map shapes have a value").shape;
            Value::Object(obj.iter().map(|(k, v)| (k.clone(), from_canonical(model, vs, v))).collect())
        }
        (ShapeType::Timestamp, Value::Number(n)) => {
            match Format::from_trait(shape.timestamp_format.as_deref(), Format::UnixTimestamp) {
                Format::UnixTimestamp => value.clone(),
                f => Value::String(timestamp::to_text(Timestamp(n.as_f64().unwrap_or(0.0)), f)),
            }
        }
        _ => value.clone(),
    }
}

pub(super) fn encode(
    model: &ServiceModel,
    protocol: Protocol,
    op: &Operation,
    output: &Value,
) -> Result<http::Response<ResponseBody>, AwsError> {
    let body = match &op.output {
        Some(o) => from_canonical(model, &o.shape, output),
        None => Value::Object(Map::new()),
    };
    Ok(response(200, content_type(protocol), serde_json::to_vec(&body).map_err(|_| AwsError::internal())?))
}

fn content_type(protocol: Protocol) -> &'static str {
    if protocol == Protocol::AwsJson1_1 { "application/x-amz-json-1.1" } else { "application/x-amz-json-1.0" }
}

/// The namespace some services put before `#` in `__type`; clients read the part after it.
fn type_namespace(model: Option<&ServiceModel>) -> Option<&'static str> {
    match model.map(|m| m.metadata.endpoint_prefix.as_str()) {
        Some("dynamodb") => Some("com.amazonaws.dynamodb.v20120810"),
        Some("sqs") => Some("com.amazonaws.sqs"),
        _ => None,
    }
}

/// The member name an error shape uses for its message (`message` or `Message`).
pub(crate) fn message_key(model: Option<&ServiceModel>, code: &str) -> &'static str {
    let shape = model.and_then(|m| m.shapes.get(code));
    match shape {
        Some(s) if s.members.get("Message").is_some() => "Message",
        _ => "message",
    }
}

pub(super) fn encode_error(
    model: Option<&ServiceModel>,
    protocol: Protocol,
    err: &AwsError,
) -> http::Response<ResponseBody> {
    let mut body = Map::new();
    let ty = match type_namespace(model) {
        Some(ns) => format!("{ns}#{}", err.code),
        None => err.code.to_string(),
    };
    body.insert("__type".into(), Value::String(ty));
    body.insert(message_key(model, &err.code).into(), Value::String(err.message.clone()));
    for (k, v) in &err.fields {
        body.insert(k.clone(), Value::String(v.clone()));
    }
    for (k, v) in err.members.iter().flat_map(|m| m.iter()) {
        let shape = model.and_then(|m| m.shapes.get(err.code.as_ref())).and_then(|s| s.members.get(k.as_str()));
        let v = match (model, shape) {
            (Some(m), Some(member)) => from_canonical(m, &member.shape, v),
            _ => v.clone(),
        };
        body.insert(k.clone(), v);
    }
    let mut resp =
        response(err.status, content_type(protocol), serde_json::to_vec(&Value::Object(body)).unwrap_or_default());
    if model.is_some_and(|m| m.metadata.aws_query_compatible.is_some()) {
        let fault = if err.fault == brume_core::Fault::Sender { "Sender" } else { "Receiver" };
        if let Ok(v) = http::HeaderValue::from_str(&format!("{};{fault}", wire_code(model, err))) {
            resp.headers_mut().insert("x-amzn-query-error", v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::model;
    use serde_json::json;

    #[test]
    fn type_errors_are_serialization_exceptions() {
        let m = model("dynamodb").unwrap();
        let err = to_canonical(m, "ListTablesInput", json!({"Limit": "ten"}), Protocol::AwsJson1_0).unwrap_err();
        assert_eq!(err.code, "SerializationException");
        let ok = to_canonical(m, "ListTablesInput", json!({"Limit": 10, "Unknown": 1}), Protocol::AwsJson1_0).unwrap();
        assert_eq!(ok, json!({"Limit": 10}));
    }

    #[test]
    fn structured_error_members_are_rendered_with_their_shape() {
        let m = model("dynamodb").unwrap();
        let reasons = json!([{"Code": "None"}, {"Code": "ConditionalCheckFailed", "Item": {"k": {"S": "v"}}}]);
        let err = AwsError::new(400, "TransactionCanceledException", "cancelled")
            .with_member("CancellationReasons", reasons.clone());
        let resp = encode_error(Some(m), Protocol::AwsJson1_0, &err);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = rt.block_on(http_body_util::BodyExt::collect(resp.into_body())).unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["CancellationReasons"], reasons);
        assert_eq!(body["Message"], "cancelled");
    }

    #[test]
    fn iso_timestamps_become_epoch_seconds() {
        let m = model("logs").unwrap();
        let v = to_canonical(m, "CreateExportTaskRequest", json!({"from": 5, "to": 6}), Protocol::AwsJson1_1).unwrap();
        assert_eq!(v, json!({"from": 5, "to": 6}));
        let m = model("stepfunctions").unwrap();
        let out = from_canonical(m, "DescribeExecutionOutput", &json!({"startDate": 1.5, "status": "RUNNING", "x": 1}));
        assert_eq!(out, json!({"status": "RUNNING", "startDate": 1.5}));
    }
}
