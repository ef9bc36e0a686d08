//! restJson1 (Lambda, API Gateway, Scheduler): operations found by method and path, members
//! bound to the URI, query string and headers, the rest in a JSON body read and written as
//! awsJson reads and writes it — or a single `payload` member as the whole body.
//!
//! Errors carry their code in `X-Amzn-ErrorType` and the message in a JSON body.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde_json::{Map, Value};

use brume_core::{AwsError, Fault};

use super::json::{from_canonical, message_key, read_canonical};
use super::{Request, ResponseBody, http_bindings, response};
use crate::model::{MemberRef, Operation, Protocol, ServiceModel, ShapeType};

const PROTOCOL: Protocol = Protocol::RestJson1;

pub(super) fn resolve(model: &'static ServiceModel, req: &Request) -> Result<&'static Operation, AwsError> {
    http_bindings::resolve(model, PROTOCOL, req)
}

/// The structure member the whole body is bound to, if the shape names one.
pub(super) fn payload_member<'m>(model: &'m ServiceModel, shape_name: &str) -> Option<(&'m str, &'m MemberRef)> {
    let shape = model.shape(shape_name);
    let name = shape.payload.as_deref()?;
    shape.members.get(name).map(|m| (name, m))
}

/// The canonical value of a blob or string payload read from the raw body.
pub(super) fn raw_payload(model: &ServiceModel, member: &MemberRef, body: &[u8]) -> Value {
    match model.shape(&member.shape).kind {
        ShapeType::String => Value::String(String::from_utf8_lossy(body).into_owned()),
        // Blobs, streaming or not, are buffered as base64 in the canonical value.
        _ => Value::String(BASE64.encode(body)),
    }
}

/// The raw body of a blob or string payload in the canonical value.
pub(super) fn raw_body(model: &ServiceModel, member: &MemberRef, value: &Value) -> Result<Bytes, AwsError> {
    let text = value.as_str().unwrap_or_default();
    match model.shape(&member.shape).kind {
        ShapeType::String => Ok(Bytes::from(text.to_string())),
        _ => BASE64.decode(text).map(Bytes::from).map_err(|_| {
            tracing::error!("handler returned a blob payload that is not base64");
            AwsError::internal()
        }),
    }
}

pub(super) fn decode(model: &ServiceModel, op: &Operation, req: &Request) -> Result<Value, AwsError> {
    decode_rest(model, PROTOCOL, op, req, |shape, body| read_canonical(model, shape, body, PROTOCOL))
}

/// The input of a REST operation, for restJson1 and restXml alike: the members bound to the
/// URI, query string and headers, and the body — a blob or string payload taken raw, or a
/// structure (the payload member's, or the body members') read by `structure`.
pub(super) fn decode_rest(
    model: &ServiceModel,
    protocol: Protocol,
    op: &Operation,
    req: &Request,
    structure: impl Fn(&str, &[u8]) -> Result<Value, AwsError>,
) -> Result<Value, AwsError> {
    let Some(input) = &op.input else {
        return Ok(Value::Object(Map::new()));
    };
    let mut out = http_bindings::decode(model, protocol, op, req)?;
    let body_is_empty = req.body.iter().all(u8::is_ascii_whitespace);
    match payload_member(model, &input.shape) {
        Some((name, member)) => {
            let value = if model.shape(&member.shape).kind != ShapeType::Structure {
                (!req.body.is_empty()).then(|| raw_payload(model, member, req.body))
            } else if body_is_empty {
                None
            } else {
                Some(structure(&member.shape, req.body)?)
            };
            if let Some(v) = value {
                out.insert(name.to_string(), v);
            }
        }
        None if !body_is_empty => {
            if let Value::Object(body) = structure(&input.shape, req.body)? {
                // Bound members win over body keys of the same name.
                for (k, v) in body {
                    out.entry(k).or_insert(v);
                }
            }
        }
        None => {}
    }
    Ok(Value::Object(out))
}

pub(super) fn encode(
    model: &ServiceModel,
    op: &Operation,
    output: &Value,
) -> Result<http::Response<ResponseBody>, AwsError> {
    let default_status = op.http.response_code.unwrap_or(200);
    let Some(out_ref) = &op.output else {
        return Ok(response(default_status, "application/json", Bytes::new()));
    };
    let mut headers = http::HeaderMap::new();
    let status = http_bindings::encode(model, &out_ref.shape, output, &mut headers).unwrap_or(default_status);
    let (content_type, body) = match payload_member(model, &out_ref.shape) {
        Some((name, member)) => match (model.shape(&member.shape).kind, output.get(name)) {
            (_, None | Some(Value::Null)) => ("application/json", Bytes::new()),
            (ShapeType::Structure, Some(v)) => {
                ("application/json", json_bytes(&from_canonical(model, &member.shape, v))?)
            }
            (ShapeType::String, Some(v)) => ("text/plain", raw_body(model, member, v)?),
            (_, Some(v)) => ("application/octet-stream", raw_body(model, member, v)?),
        },
        // A 204 carries no body; every other structure output is a JSON object.
        None if status == 204 => ("application/json", Bytes::new()),
        None => ("application/json", json_bytes(&from_canonical(model, &out_ref.shape, output))?),
    };
    let mut resp = response(status, content_type, body);
    // A Content-Type member of the output (API Gateway's GetExport) wins over the default.
    for (k, v) in &headers {
        resp.headers_mut().insert(k, v.clone());
    }
    Ok(resp)
}

fn json_bytes(value: &impl serde::Serialize) -> Result<Bytes, AwsError> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|_| AwsError::internal())
}

pub(super) fn encode_error(model: Option<&ServiceModel>, err: &AwsError) -> http::Response<ResponseBody> {
    let mut body = Map::new();
    body.insert(message_key(model, &err.code).into(), Value::String(err.message.clone()));
    // Lambda's errors say whose fault they are in `Type`, which its error shapes declare.
    if model.is_some_and(|m| m.metadata.endpoint_prefix == "lambda") && !err.fields.iter().any(|(k, _)| k == "Type") {
        let ty = if err.fault == Fault::Sender { "User" } else { "Service" };
        body.insert("Type".into(), Value::String(ty.into()));
    }
    for (k, v) in &err.fields {
        body.insert(k.clone(), Value::String(v.clone()));
    }
    let mut resp =
        response(err.status, "application/json", serde_json::to_vec(&Value::Object(body)).unwrap_or_default());
    if let Ok(code) = http::HeaderValue::from_str(&err.code) {
        resp.headers_mut().insert("x-amzn-errortype", code);
    }
    resp
}
