//! awsJson 1.0 and 1.1: `POST /` with `X-Amz-Target: Prefix.Operation` and a JSON body.
//!
//! The JSON body is almost the canonical value already; the codec reads it guided by the
//! model, checking every member against its shape as it parses (AWS answers
//! `SerializationException` for a wrong type) and converting timestamps, which clients
//! may send as ISO strings where the model says so. Most bodies need no converting: those
//! are checked without building anything and handed over as their text.

use std::borrow::Cow;
use std::cell::Cell;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use brume_core::AwsError;
use brume_core::value::Timestamp;

use super::timestamp::{self, Format};
use super::{Request, ResponseBody, response, serialization_error, wire_code};
use crate::model::{Operation, Protocol, ServiceModel, Shape, ShapeType};
use crate::service::Input;

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

/// The input of `op`: the body itself when its text is already the canonical value
/// ([`Input::Json`]), so that the handler's type is read straight from it; else the
/// canonical value built from it.
pub(super) fn decode(model: &ServiceModel, op: &Operation, req: &Request) -> Result<Input, AwsError> {
    let protocol = model.default_protocol();
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Input::Tree(Value::Object(Map::new())));
    }
    match &op.input {
        Some(input) => {
            if check_as_sent(model, &input.shape, req.body, protocol)? {
                return Ok(Input::Json(req.body.clone()));
            }
            read_canonical(model, &input.shape, req.body, protocol).map(Input::Tree)
        }
        None => serde_json::from_slice::<IgnoredAny>(req.body)
            .map(|_| Input::Tree(Value::Object(Map::new())))
            .map_err(|e| malformed(protocol, &e)),
    }
}

/// Checks a JSON body of shape `shape_name` as [`read_canonical`] does, building nothing,
/// and tells whether its text is its canonical value as it stands: no member the model
/// does not know or names differently, none twice in a structure, no null, no timestamp
/// to convert, the shape's required members present, and (for a service that checks them)
/// no constraint broken. Most requests are; the others are read again into a tree.
fn check_as_sent(model: &ServiceModel, shape_name: &str, body: &[u8], protocol: Protocol) -> Result<bool, AwsError> {
    let cx = Context::new(model, protocol, false);
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut top = Canonical::new(&cx, shape_name);
    top.top = true;
    top.deserialize(&mut de)
        .and_then(|_| de.end())
        .map_err(|e| cx.mismatch.take().unwrap_or_else(|| malformed(protocol, &e)))?;
    Ok(cx.as_sent.get())
}

/// A JSON body of shape `shape_name` read straight into its canonical value, checked
/// against the shape as it is parsed. Shared with restJson1, whose bodies follow the
/// same rules.
pub(crate) fn read_canonical(
    model: &ServiceModel,
    shape_name: &str,
    body: &[u8],
    protocol: Protocol,
) -> Result<Value, AwsError> {
    let cx = Context::new(model, protocol, true);
    let mut de = serde_json::Deserializer::from_slice(body);
    Canonical::new(&cx, shape_name)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| cx.mismatch.take().unwrap_or_else(|| malformed(protocol, &e)))
}

fn malformed(protocol: Protocol, e: &serde_json::Error) -> AwsError {
    serialization_error(protocol, format!("Malformed JSON: {e}"))
}

/// What every level of one [`Canonical`] read shares.
struct Context<'a> {
    model: &'a ServiceModel,
    protocol: Protocol,
    /// The AWS error of a value that does not fit its shape; serde's own error only
    /// carries text, and a parse error is reported differently.
    mismatch: Cell<Option<AwsError>>,
    /// Whether the canonical value is built; when not, every value read is `Null`, and
    /// `as_sent` tells whether the text was canonical as it stands.
    build: bool,
    as_sent: Cell<bool>,
    /// Whether the service checks its input against the model's constraints: a value that
    /// breaks one is read into a tree, where [`validate`](super::validate) words the error.
    constraints: bool,
}

impl<'a> Context<'a> {
    fn new(model: &'a ServiceModel, protocol: Protocol, build: bool) -> Self {
        let constraints = super::validate::enforces_constraints(model);
        Context { model, protocol, mismatch: Cell::new(None), build, as_sent: Cell::new(true), constraints }
    }

    /// While only checking, a value that breaks a constraint of its shape sends the body
    /// to be read into a tree.
    fn check<T>(&self, broken: impl FnOnce() -> Vec<T>) {
        if self.constraints && !self.build && !broken().is_empty() {
            self.altered();
        }
    }

    /// The text read differs from its canonical value: it cannot be handed over as it is.
    fn altered(&self) {
        self.as_sent.set(false);
    }
}

/// Reads one JSON value of shape `shape_name` into its canonical form: members under
/// their names rather than their `locationName`, unknown members and null members
/// dropped (AWS's front ends ignore them, for forward compatibility), ISO timestamps
/// turned into epoch seconds, and every value checked against its shape (AWS answers
/// `SerializationException` for a wrong type). Parsing and checking in one pass builds
/// no value for what is dropped, and walks nothing twice.
#[derive(Clone, Copy)]
struct Canonical<'c, 'a> {
    cx: &'c Context<'a>,
    shape_name: &'c str,
    /// The shape, looked up once for all the visitor's questions.
    shape: &'c Shape,
    /// Whether this is the operation's input structure, whose required members are checked.
    top: bool,
}

impl<'c, 'a: 'c> Canonical<'c, 'a> {
    fn new(cx: &'c Context<'a>, shape_name: &'c str) -> Self {
        Canonical { cx, shape_name, shape: cx.model.shape(shape_name), top: false }
    }

    fn nested(&self, shape_name: &'c str) -> Self {
        Canonical::new(self.cx, shape_name)
    }

    /// The value does not fit the shape: the error is kept for the caller, and serde is
    /// told to stop.
    fn mismatch<E: de::Error>(&self) -> E {
        let what = match self.shape.kind {
            ShapeType::Structure => "structure",
            ShapeType::List => "list",
            ShapeType::Map => "map",
            ShapeType::String | ShapeType::Blob => "string",
            ShapeType::Boolean => "boolean",
            ShapeType::Integer | ShapeType::Long => "integer",
            ShapeType::Float | ShapeType::Double => "number",
            ShapeType::Timestamp => "timestamp",
        };
        let message = format!("Unexpected value for a {what} of shape {}", self.shape_name);
        self.cx.mismatch.set(Some(serialization_error(self.cx.protocol, message)));
        E::custom("value does not fit its shape")
    }

    fn number<E: de::Error>(&self, n: impl Into<Number>, integral: bool) -> Result<Value, E> {
        let n = n.into();
        self.cx.check(|| n.as_f64().map(|f| super::validate::number(self.shape, f)).unwrap_or_default());
        match self.shape.kind {
            ShapeType::Integer | ShapeType::Long if integral => Ok(Value::Number(n)),
            ShapeType::Float | ShapeType::Double | ShapeType::Timestamp => Ok(Value::Number(n)),
            _ => Err(self.mismatch()),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Canonical<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        let shape = self.shape;
        if shape.kind == ShapeType::Structure && shape.document {
            if !self.cx.build {
                return IgnoredAny::deserialize(deserializer).map(|_| Value::Null);
            }
            return Value::deserialize(deserializer);
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Canonical<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a value of shape {}", self.shape_name)
    }

    /// Null fits every shape: a null member is dropped by its structure.
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.cx.altered();
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        if self.shape.kind == ShapeType::Boolean { Ok(Value::Bool(b)) } else { Err(self.mismatch()) }
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        self.number(n, true)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        self.number(n, true)
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        match Number::from_f64(n) {
            Some(n) => self.number(n, false),
            None => Err(self.mismatch()),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        match self.shape.kind {
            ShapeType::String | ShapeType::Blob => {}
            // Non-finite numbers travel as strings in JSON.
            ShapeType::Float | ShapeType::Double if matches!(s, "NaN" | "Infinity" | "-Infinity") => {}
            ShapeType::Timestamp => {
                self.cx.altered();
                return match timestamp::parse(s) {
                    Some(ts) => Ok(serde_json::json!(ts.0)),
                    None => Err(self.mismatch()),
                };
            }
            _ => return Err(self.mismatch()),
        }
        if self.shape.kind == ShapeType::String {
            self.cx.check(|| super::validate::string(self.shape, s));
        }
        Ok(if self.cx.build { Value::String(s.to_string()) } else { Value::Null })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let shape = self.shape;
        if shape.kind != ShapeType::List {
            return Err(self.mismatch());
        }
        let item = self.nested(&shape.member.as_ref().expect("list shapes have a member").shape);
        if !self.cx.build {
            let mut n = 0;
            while seq.next_element_seed(item)?.is_some() {
                n += 1;
            }
            self.cx.check(|| super::validate::count(shape, n));
            return Ok(Value::Null);
        }
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(item)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let shape = self.shape;
        let mut out = Map::new();
        match shape.kind {
            ShapeType::Structure => {
                // The members seen, by position, while only checking.
                let mut seen = 0u64;
                while let Some(key) = map.next_key_seed(Key)? {
                    let member = shape.members.iter().enumerate().find(|(_, (name, m))| {
                        m.location.is_none() && m.location_name.as_deref().unwrap_or(name) == key
                    });
                    let Some((at, (name, m))) = member else {
                        self.cx.altered();
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    let v = map.next_value_seed(self.nested(&m.shape))?;
                    if !self.cx.build {
                        let bit = 1u64.checked_shl(at as u32).unwrap_or(0);
                        if name != key || bit == 0 || seen & bit != 0 {
                            self.cx.altered();
                        }
                        seen |= bit;
                    } else if !v.is_null() {
                        out.insert(name.to_string(), v);
                    }
                }
                if (self.top || self.cx.constraints) && !self.cx.build {
                    let present = |r: &String| {
                        let at = shape.members.iter().position(|(name, _)| name == r);
                        at.is_some_and(|at| seen & 1u64.checked_shl(at as u32).unwrap_or(0) != 0)
                    };
                    if !shape.required.iter().all(present) {
                        self.cx.altered();
                    }
                }
            }
            ShapeType::Map => {
                let values = self.nested(&shape.value.as_ref().expect("map shapes have a value").shape);
                if !self.cx.build {
                    let keys = self.cx.model.shape(&shape.key.as_ref().expect("map shapes have a key").shape);
                    let mut n = 0;
                    while let Some(key) = map.next_key_seed(Key)? {
                        self.cx.check(|| super::validate::string(keys, &key));
                        map.next_value_seed(values)?;
                        n += 1;
                    }
                    self.cx.check(|| super::validate::count(shape, n));
                    return Ok(Value::Null);
                }
                while let Some(key) = map.next_key::<String>()? {
                    out.insert(key, map.next_value_seed(values)?);
                }
            }
            _ => return Err(self.mismatch()),
        }
        Ok(Value::Object(out))
    }
}

/// A structure's member key, borrowed from the body when it has no escapes: it is only
/// compared, never kept.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_string()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
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

    fn canonical(m: &ServiceModel, shape: &str, body: Value, protocol: Protocol) -> Result<Value, AwsError> {
        read_canonical(m, shape, &serde_json::to_vec(&body).unwrap(), protocol)
    }

    #[test]
    fn type_errors_are_serialization_exceptions() {
        let m = model("dynamodb").unwrap();
        let err = canonical(m, "ListTablesInput", json!({"Limit": "ten"}), Protocol::AwsJson1_0).unwrap_err();
        assert_eq!(err.code, "SerializationException");
        let ok = canonical(m, "ListTablesInput", json!({"Limit": 10, "Unknown": 1}), Protocol::AwsJson1_0).unwrap();
        assert_eq!(ok, json!({"Limit": 10}));
    }

    #[test]
    fn bodies_are_checked_against_their_shapes_as_they_are_read() {
        let events = model("events").unwrap();
        let body = json!({"Entries": [{"Time": "2024-01-01T00:00:00Z", "Source": "a", "Detail": null,
            "Unknown": {"deep": [1, {"x": null}]}}], "EndpointId": null});
        let v = canonical(events, "PutEventsRequest", body, Protocol::AwsJson1_1).unwrap();
        assert_eq!(v, json!({"Entries": [{"Time": 1704067200.0, "Source": "a"}]}));
        let mismatch = |m, shape, body| canonical(m, shape, body, Protocol::AwsJson1_1).unwrap_err().message;
        assert_eq!(
            mismatch(events, "PutEventsRequest", json!({"Entries": {}})),
            "Unexpected value for a list of shape PutEventsRequestEntryList"
        );
        assert_eq!(
            mismatch(events, "PutEventsRequest", json!({"Entries": [{"Time": "yesterday"}]})),
            "Unexpected value for a timestamp of shape EventTime"
        );
        let ddb = model("dynamodb").unwrap();
        assert_eq!(
            mismatch(ddb, "PutItemInput", json!({"TableName": "t", "Item": {"k": {"N": 5}}})),
            "Unexpected value for a string of shape NumberAttributeValue"
        );
        assert_eq!(
            mismatch(ddb, "ListTablesInput", json!({"Limit": 1.5})),
            "Unexpected value for a integer of shape ListTablesInputLimit"
        );
        let item = json!({"TableName": "t", "Item": {"k": {"M": {"a": {"NULL": true}, "b": {"L": [{"N": "1"}]}}}}});
        assert_eq!(canonical(ddb, "PutItemInput", item.clone(), Protocol::AwsJson1_0).unwrap(), item);
        for text in [&b"{\"TableName\": \"t\","[..], b"{} x", b"{\"TableName\": tru}"] {
            let err = read_canonical(ddb, "PutItemInput", text, Protocol::AwsJson1_0).unwrap_err();
            assert_eq!(err.code, "SerializationException");
            assert!(err.message.starts_with("Malformed JSON: "), "{}", err.message);
        }
    }

    #[test]
    fn bodies_that_are_canonical_as_sent_are_handed_over_as_text() {
        let ddb = model("dynamodb").unwrap();
        let events = model("events").unwrap();
        let as_sent = |m, shape, body: Value| {
            let text = serde_json::to_vec(&body).unwrap();
            let canonical = read_canonical(m, shape, &text, Protocol::AwsJson1_0).unwrap();
            let verdict = check_as_sent(m, shape, &text, Protocol::AwsJson1_0).unwrap();
            // What is handed over as text reads into the tree the codec would have built.
            if verdict {
                assert_eq!(serde_json::from_slice::<Value>(&text).unwrap(), canonical, "{body}");
            }
            verdict
        };
        let item = json!({"k": {"S": "v"}, "m": {"M": {"a": {"NULL": true}, "l": {"L": [{"N": "1"}, {"B": "AA=="}]}}}});
        assert!(as_sent(ddb, "PutItemInput", json!({"TableName": "t", "Item": item, "ReturnValues": "ALL_OLD"})));
        assert!(as_sent(events, "PutEventsRequest", json!({"Entries": [{"Time": 1704067200, "Detail": "{}"}]})));
        // Each of these reads into a tree that is not the text.
        assert!(!as_sent(ddb, "PutItemInput", json!({"TableName": "t", "Item": item, "Unknown": 1})));
        assert!(!as_sent(ddb, "PutItemInput", json!({"TableName": "t", "Item": item, "ReturnValues": null})));
        assert!(!as_sent(ddb, "PutItemInput", json!({"TableName": "t", "Item": {"k": {"S": "v", "N": null}}})));
        assert!(!as_sent(events, "PutEventsRequest", json!({"Entries": [{"Time": "2024-01-01T00:00:00Z"}]})));
        let apigw = model("apigateway").unwrap();
        assert!(!as_sent(apigw, "PutIntegrationRequest", json!({"type": "HTTP", "httpMethod": "GET"})));
        let text = br#"{"TableName": "t", "TableName": "u", "Item": {}}"#;
        assert!(!check_as_sent(ddb, "PutItemInput", text, Protocol::AwsJson1_0).unwrap());
        // A required member missing: the tree is read, and its check answers.
        assert!(!as_sent(ddb, "PutItemInput", json!({"Item": item})));
        // Mismatches and malformed text are the same errors as ever.
        let text = br#"{"TableName": "t", "Item": {"k": {"N": 5}}}"#;
        let err = check_as_sent(ddb, "PutItemInput", text, Protocol::AwsJson1_0).unwrap_err();
        assert_eq!(err.message, "Unexpected value for a string of shape NumberAttributeValue");
        let err = check_as_sent(ddb, "PutItemInput", b"{\"TableName\": tru}", Protocol::AwsJson1_0).unwrap_err();
        assert!(err.message.starts_with("Malformed JSON: "), "{}", err.message);
    }

    #[test]
    fn body_keys_are_location_names_in_body_order() {
        let m = model("apigateway").unwrap();
        let body = json!({"uri": "u", "httpMethod": "GET", "bogus": 1, "credentials": null, "type": "HTTP"});
        let v = canonical(m, "PutIntegrationRequest", body, Protocol::RestJson1).unwrap();
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
        let v = canonical(m, "CreateExportTaskRequest", json!({"from": 5, "to": 6}), Protocol::AwsJson1_1).unwrap();
        assert_eq!(v, json!({"from": 5, "to": 6}));
        let m = model("stepfunctions").unwrap();
        let canonical = json!({"startDate": 1.5, "status": "RUNNING", "x": 1});
        let out = serde_json::to_value(from_canonical(m, "DescribeExecutionOutput", &canonical)).unwrap();
        assert_eq!(out, json!({"status": "RUNNING", "startDate": 1.5}));
    }
}
