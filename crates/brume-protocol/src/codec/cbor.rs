//! Smithy RPC v2 CBOR (CloudWatch's default in current SDKs): `POST
//! /service/{Service}/operation/{Operation}` with `smithy-protocol: rpc-v2-cbor` and a CBOR
//! body whose maps are keyed by member names.
//!
//! The wire differs from the canonical value in three places: blobs are byte strings
//! (base64 in the canonical value), timestamps are tag 1 epoch seconds, and non-finite
//! floats are real floats (strings in the canonical value, as in JSON). Errors are a map
//! with `__type` naming the error shape.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use ciborium::Value as Cbor;
use serde_json::{Map, Number, Value};

use brume_core::{AwsError, Fault};

use super::json::message_key;
use super::{Request, ResponseBody, response, serialization_error, wire_code};
use crate::model::{Operation, Protocol, ServiceModel, ShapeType};

const PROTOCOL: Protocol = Protocol::RpcV2Cbor;
const CONTENT_TYPE: &str = "application/cbor";

pub(super) fn resolve(model: &'static ServiceModel, req: &Request) -> Result<&'static Operation, AwsError> {
    let path = req.uri.path();
    let name = path
        .strip_prefix("/service/")
        .and_then(|rest| rest.split_once("/operation/"))
        .map(|(_, op)| op)
        .filter(|_| req.method == http::Method::POST);
    name.and_then(|n| model.operation(n)).ok_or_else(|| {
        AwsError::new(404, "UnknownOperationException", format!("No operation matches {} {path}", req.method))
    })
}

pub(super) fn decode(model: &ServiceModel, op: &Operation, req: &Request) -> Result<Value, AwsError> {
    let Some(input) = &op.input else {
        return Ok(Value::Object(Map::new()));
    };
    if req.body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let cbor: Cbor = ciborium::from_reader(&req.body[..])
        .map_err(|e| serialization_error(PROTOCOL, format!("Malformed CBOR: {e}")))?;
    to_canonical(model, &input.shape, cbor)
}

/// A CBOR value checked against its shape and turned into the canonical form.
fn to_canonical(model: &ServiceModel, shape_name: &str, value: Cbor) -> Result<Value, AwsError> {
    let shape = model.shape(shape_name);
    let mismatch = || serialization_error(PROTOCOL, format!("Unexpected CBOR value for shape {shape_name}"));
    Ok(match (shape.kind, value) {
        (_, Cbor::Null) => Value::Null,
        (ShapeType::Structure, v) if shape.document => document(v).ok_or_else(mismatch)?,
        (ShapeType::Structure, Cbor::Map(entries)) => {
            let mut out = Map::new();
            for (k, v) in entries {
                let Cbor::Text(k) = k else {
                    return Err(mismatch());
                };
                // Unknown members are skipped, for forward compatibility.
                if let Some(m) = shape.members.get(&k) {
                    let v = to_canonical(model, &m.shape, v)?;
                    if !v.is_null() {
                        out.insert(k, v);
                    }
                }
            }
            Value::Object(out)
        }
        (ShapeType::List, Cbor::Array(items)) => {
            let item = &shape.member.as_ref().expect("list shapes have a member").shape;
            Value::Array(items.into_iter().map(|v| to_canonical(model, item, v)).collect::<Result<_, _>>()?)
        }
        (ShapeType::Map, Cbor::Map(entries)) => {
            let vs = &shape.value.as_ref().expect("map shapes have a value").shape;
            let mut out = Map::new();
            for (k, v) in entries {
                let Cbor::Text(k) = k else {
                    return Err(mismatch());
                };
                out.insert(k, to_canonical(model, vs, v)?);
            }
            Value::Object(out)
        }
        (ShapeType::String, Cbor::Text(s)) => Value::String(s),
        (ShapeType::Blob, Cbor::Bytes(b)) => Value::String(BASE64.encode(b)),
        (ShapeType::Boolean, Cbor::Bool(b)) => Value::Bool(b),
        (ShapeType::Integer | ShapeType::Long, Cbor::Integer(i)) => {
            Value::Number(i64::try_from(i).map_err(|_| mismatch())?.into())
        }
        (ShapeType::Float | ShapeType::Double, v) => float(v).ok_or_else(mismatch)?,
        (ShapeType::Timestamp, Cbor::Tag(1, v)) => float(*v).filter(Value::is_number).ok_or_else(mismatch)?,
        // Some encoders send epoch seconds without the tag.
        (ShapeType::Timestamp, v @ (Cbor::Integer(_) | Cbor::Float(_))) => float(v).ok_or_else(mismatch)?,
        _ => return Err(mismatch()),
    })
}

/// A CBOR number as a canonical float: non-finite values are strings, as in JSON.
fn float(v: Cbor) -> Option<Value> {
    let f = match v {
        Cbor::Float(f) => f,
        Cbor::Integer(i) => i128::from(i) as f64,
        _ => return None,
    };
    Some(match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    })
}

/// A document (untyped) value: CBOR's data model read as JSON's.
fn document(v: Cbor) -> Option<Value> {
    Some(match v {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Text(s) => Value::String(s),
        Cbor::Integer(i) => match i64::try_from(i) {
            Ok(i) => Value::Number(i.into()),
            Err(_) => float(Cbor::Integer(i))?,
        },
        Cbor::Float(_) => float(v)?,
        Cbor::Bytes(b) => Value::String(BASE64.encode(b)),
        Cbor::Array(items) => Value::Array(items.into_iter().map(document).collect::<Option<_>>()?),
        Cbor::Map(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| match k {
                    Cbor::Text(k) => Some((k, document(v)?)),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        Cbor::Tag(_, inner) => document(*inner)?,
        _ => return None,
    })
}

/// The canonical value written as CBOR for `shape_name`; nulls dropped.
fn from_canonical(model: &ServiceModel, shape_name: &str, value: &Value) -> Cbor {
    let shape = model.shape(shape_name);
    match (shape.kind, value) {
        (ShapeType::Structure, Value::Object(obj)) if !shape.document => Cbor::Map(
            shape
                .members
                .iter()
                .filter_map(|(name, m)| {
                    let v = obj.get(name).filter(|v| !v.is_null())?;
                    Some((Cbor::Text(name.to_string()), from_canonical(model, &m.shape, v)))
                })
                .collect(),
        ),
        (ShapeType::List, Value::Array(items)) => {
            let item = &shape.member.as_ref().expect("list shapes have a member").shape;
            Cbor::Array(items.iter().map(|v| from_canonical(model, item, v)).collect())
        }
        (ShapeType::Map, Value::Object(obj)) => {
            let vs = &shape.value.as_ref().expect("map shapes have a value").shape;
            Cbor::Map(obj.iter().map(|(k, v)| (Cbor::Text(k.clone()), from_canonical(model, vs, v))).collect())
        }
        (ShapeType::Blob, Value::String(s)) => match BASE64.decode(s) {
            Ok(bytes) => Cbor::Bytes(bytes),
            Err(_) => Cbor::Text(s.clone()),
        },
        (ShapeType::Timestamp, v) => Cbor::Tag(1, Box::new(wire_float(v))),
        (ShapeType::Float | ShapeType::Double, v) => wire_float(v),
        _ => generic(value),
    }
}

fn wire_float(v: &Value) -> Cbor {
    match v {
        Value::Number(n) => Cbor::Float(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Cbor::Float(match s.as_str() {
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            _ => f64::NAN,
        }),
        other => generic(other),
    }
}

/// JSON's data model written as CBOR (documents, and values the model does not type).
fn generic(v: &Value) -> Cbor {
    match v {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Cbor::Integer(i.into()),
            (_, Some(u)) => Cbor::Integer(u.into()),
            _ => Cbor::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Array(items) => Cbor::Array(items.iter().map(generic).collect()),
        Value::Object(obj) => Cbor::Map(obj.iter().map(|(k, v)| (Cbor::Text(k.clone()), generic(v))).collect()),
    }
}

fn to_bytes(value: &Cbor) -> Result<Bytes, AwsError> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).map_err(|e| {
        tracing::error!(error = %e, "CBOR output does not serialize");
        AwsError::internal()
    })?;
    Ok(Bytes::from(out))
}

fn with_protocol_header(mut resp: http::Response<ResponseBody>) -> http::Response<ResponseBody> {
    resp.headers_mut().insert("smithy-protocol", http::HeaderValue::from_static("rpc-v2-cbor"));
    resp
}

pub(super) fn encode(
    model: &ServiceModel,
    op: &Operation,
    output: &Value,
) -> Result<http::Response<ResponseBody>, AwsError> {
    let body = match &op.output {
        Some(o) => to_bytes(&from_canonical(model, &o.shape, output))?,
        None => Bytes::new(),
    };
    Ok(with_protocol_header(response(200, CONTENT_TYPE, body)))
}

/// The Smithy namespace of the service's shapes, which `__type` names (clients keep the
/// part after `#`).
fn type_namespace(model: &ServiceModel) -> String {
    let id: String = model.metadata.service_id.chars().filter(|c| !c.is_whitespace()).collect();
    format!("com.amazonaws.{}", id.to_ascii_lowercase())
}

pub(super) fn encode_error(model: Option<&ServiceModel>, err: &AwsError) -> http::Response<ResponseBody> {
    let ty = match model {
        Some(m) => format!("{}#{}", type_namespace(m), err.code),
        None => err.code.to_string(),
    };
    let mut entries = vec![
        (Cbor::Text("__type".into()), Cbor::Text(ty)),
        (Cbor::Text(message_key(model, &err.code).into()), Cbor::Text(err.message.clone())),
    ];
    entries.extend(err.fields.iter().map(|(k, v)| (Cbor::Text(k.clone()), Cbor::Text(v.clone()))));
    let body = to_bytes(&Cbor::Map(entries)).unwrap_or_default();
    let mut resp = with_protocol_header(response(err.status, CONTENT_TYPE, body));
    // awsQuery-compatible services (CloudWatch) also name the query code and fault, which
    // clients prefer over `__type`.
    if model.is_some_and(|m| m.metadata.aws_query_compatible.is_some()) {
        let fault = if err.fault == Fault::Sender { "Sender" } else { "Receiver" };
        if let Ok(v) = http::HeaderValue::from_str(&format!("{};{fault}", wire_code(model, err))) {
            resp.headers_mut().insert("x-amzn-query-error", v);
        }
    }
    resp
}
