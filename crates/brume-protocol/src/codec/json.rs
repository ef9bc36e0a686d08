//! awsJson 1.0 and 1.1: `POST /` with `X-Amz-Target: Prefix.Operation` and a JSON body.
//!
//! The JSON body is almost the canonical value already; the codec checks every member
//! against its shape (AWS answers `SerializationException` for a wrong type) and converts
//! timestamps, which clients may send as ISO strings where the model says so.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use brume_core::AwsError;
use brume_core::value::Timestamp;

use super::timestamp::{self, Format};
use super::{Request, ResponseBody, response, serialization_error, wire_code};
use crate::model::{Operation, Protocol, ServiceModel, Shape, ShapeType};

pub(super) fn resolve(model: &'static ServiceModel, req: &Request) -> Result<&'static Operation, AwsError> {
    let target = req.header(super::X_AMZ_TARGET).unwrap_or("");
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
    mut value: Value,
    protocol: Protocol,
) -> Result<Value, AwsError> {
    canonicalize(model, shape_name, &mut value, protocol)?;
    Ok(value)
}

/// [`to_canonical`] in place: the parsed body is already nearly canonical, so only what
/// differs is rewritten (a request's maps are neither rebuilt nor rehashed).
fn canonicalize(model: &ServiceModel, shape_name: &str, value: &mut Value, protocol: Protocol) -> Result<(), AwsError> {
    let shape = model.shape(shape_name);
    let mismatch =
        |what: &str| serialization_error(protocol, format!("Unexpected value for a {what} of shape {shape_name}"));
    if value.is_null() {
        return Ok(());
    }
    match shape.kind {
        ShapeType::Structure if shape.document => {}
        ShapeType::Structure => {
            let Value::Object(obj) = value else {
                return Err(mismatch("structure"));
            };
            canonical_members(model, shape, obj, protocol)?;
        }
        ShapeType::List => {
            let Value::Array(items) = value else {
                return Err(mismatch("list"));
            };
            let item = &shape.member.as_ref().expect("list shapes have a member").shape;
            for v in items {
                canonicalize(model, item, v, protocol)?;
            }
        }
        ShapeType::Map => {
            let Value::Object(obj) = value else {
                return Err(mismatch("map"));
            };
            let vs = &shape.value.as_ref().expect("map shapes have a value").shape;
            for v in obj.values_mut() {
                canonicalize(model, vs, v, protocol)?;
            }
        }
        ShapeType::String | ShapeType::Blob if !value.is_string() => return Err(mismatch("string")),
        ShapeType::Boolean if !value.is_boolean() => return Err(mismatch("boolean")),
        ShapeType::Integer | ShapeType::Long if !(value.is_i64() || value.is_u64()) => {
            return Err(mismatch("integer"));
        }
        ShapeType::String | ShapeType::Blob | ShapeType::Boolean | ShapeType::Integer | ShapeType::Long => {}
        ShapeType::Float | ShapeType::Double => match &*value {
            Value::Number(_) => {}
            // Non-finite numbers travel as strings in JSON.
            Value::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => {}
            _ => return Err(mismatch("number")),
        },
        ShapeType::Timestamp => match &*value {
            Value::Number(_) => {}
            Value::String(s) => {
                let ts = timestamp::parse(s).ok_or_else(|| mismatch("timestamp"))?;
                *value = serde_json::json!(ts.0);
            }
            _ => return Err(mismatch("timestamp")),
        },
    }
    Ok(())
}

/// A structure's members checked in body order, keyed by member name. Body keys are the
/// members' `locationName` where they have one. Unknown members and nulls are dropped, as
/// AWS's front ends ignore them (for forward compatibility).
fn canonical_members(
    model: &ServiceModel,
    shape: &Shape,
    obj: &mut Map<String, Value>,
    protocol: Protocol,
) -> Result<(), AwsError> {
    let member = |key: &str| {
        shape.members.iter().find(|(name, m)| m.location.is_none() && m.location_name.as_deref().unwrap_or(name) == key)
    };
    let mut result = Ok(());
    let mut renamed = false;
    obj.retain(|k, v| {
        let Some((name, m)) = member(k).filter(|_| result.is_ok()) else {
            return false;
        };
        renamed |= name != k;
        result = canonicalize(model, &m.shape, v, protocol);
        result.is_ok() && !v.is_null()
    });
    result?;
    // Few members have a `locationName`: only then is the map rebuilt under new keys.
    if renamed {
        *obj = std::mem::take(obj)
            .into_iter()
            .map(|(k, v)| (member(&k).map_or(k, |(name, _)| name.to_string()), v))
            .collect();
    }
    Ok(())
}

/// The canonical value as the JSON of `shape_name`, serialized without building another
/// tree: nulls dropped, members under their `locationName`, timestamps in the model's
/// format (epoch seconds unless it names another).
pub(crate) fn from_canonical<'a>(model: &'a ServiceModel, shape_name: &'a str, value: &'a Value) -> Wire<'a> {
    Wire { model, shape_name, value, verbatim: &[] }
}

/// The value of member `name` in a canonical structure. Most hold a few of their shape's
/// members (an attribute value one of ten): comparing their keys costs less than hashing
/// every member name.
fn member_value<'v>(obj: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    if obj.len() <= 4 { obj.iter().find_map(|(k, v)| (k == name).then_some(v)) } else { obj.get(name) }
}

/// See [`from_canonical`].
pub(crate) struct Wire<'a> {
    model: &'a ServiceModel,
    shape_name: &'a str,
    value: &'a Value,
    /// Members of this structure written as the JSON text given (see
    /// [`Verbatim`](crate::service::Verbatim)).
    verbatim: &'a [(&'static str, Box<RawValue>)],
}

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let shape = self.model.shape(self.shape_name);
        let nested = |shape_name, value| from_canonical(self.model, shape_name, value);
        match (shape.kind, self.value) {
            (ShapeType::Structure, Value::Object(obj)) if !shape.document => {
                // No JSON model gives two body members the same key, so none is written twice.
                let mut out = serializer.serialize_map(None)?;
                for (name, m) in shape.members.iter() {
                    if m.location.is_some() {
                        continue;
                    }
                    let key = m.location_name.as_deref().unwrap_or(name);
                    if let Some(v) = member_value(obj, name).filter(|v| !v.is_null()) {
                        out.serialize_entry(key, &nested(&m.shape, v))?;
                    } else if let Some((_, json)) = self.verbatim.iter().find(|(n, _)| *n == name) {
                        out.serialize_entry(key, json)?;
                    }
                }
                out.end()
            }
            (ShapeType::List, Value::Array(items)) => {
                let item = &shape.member.as_ref().expect("list shapes have a member").shape;
                serializer.collect_seq(items.iter().map(|v| nested(item, v)))
            }
            (ShapeType::Map, Value::Object(obj)) => {
                let vs = &shape.value.as_ref().expect("map shapes have a value").shape;
                serializer.collect_map(obj.iter().map(|(k, v)| (k, nested(vs, v))))
            }
            (ShapeType::Timestamp, Value::Number(n)) => {
                match Format::from_trait(shape.timestamp_format.as_deref(), Format::UnixTimestamp) {
                    Format::UnixTimestamp => n.serialize(serializer),
                    f => serializer.serialize_str(&timestamp::to_text(Timestamp(n.as_f64().unwrap_or(0.0)), f)),
                }
            }
            (_, v) => v.serialize(serializer),
        }
    }
}

pub(super) fn encode(
    model: &ServiceModel,
    protocol: Protocol,
    op: &Operation,
    output: &Value,
    verbatim: &[(&'static str, Box<RawValue>)],
) -> Result<http::Response<ResponseBody>, AwsError> {
    let body = match &op.output {
        Some(o) => serde_json::to_vec(&Wire { model, shape_name: &o.shape, value: output, verbatim }),
        None => Ok(b"{}".to_vec()),
    };
    Ok(response(200, content_type(protocol), body.map_err(|_| AwsError::internal())?))
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
            (Some(m), Some(member)) => serde_json::to_value(from_canonical(m, &member.shape, v)).unwrap_or_default(),
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
    fn body_keys_are_location_names_in_body_order() {
        let m = model("apigateway").unwrap();
        let body = json!({"uri": "u", "httpMethod": "GET", "bogus": 1, "credentials": null, "type": "HTTP"});
        let v = to_canonical(m, "PutIntegrationRequest", body, Protocol::RestJson1).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["uri", "integrationHttpMethod", "type"]);
        assert_eq!(v["integrationHttpMethod"], "GET");
        let wire = serde_json::to_string(&from_canonical(m, "PutIntegrationRequest", &v)).unwrap();
        assert_eq!(wire, r#"{"type":"HTTP","httpMethod":"GET","uri":"u"}"#);
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
        let canonical = json!({"startDate": 1.5, "status": "RUNNING", "x": 1});
        let out = serde_json::to_value(from_canonical(m, "DescribeExecutionOutput", &canonical)).unwrap();
        assert_eq!(out, json!({"status": "RUNNING", "startDate": 1.5}));
    }
}
