//! awsQuery: form-encoded `Action=Op&Version=...&A.member.1=x` requests (in the body, or
//! the query string of a GET), XML responses wrapped in `<OpResponse><OpResult>`, and
//! `<ErrorResponse>` errors. STS, SNS, IAM and CloudFormation speak it; SQS and CloudWatch
//! still accept it from older clients.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use brume_core::AwsError;

use super::timestamp;
use super::xml::{self, Writer};
use super::{Request, ResponseBody, response, wire_code};
use crate::model::{MemberRef, Operation, ServiceModel, ShapeType};

type Params = BTreeMap<String, String>;

fn params(req: &Request) -> Params {
    let mut out = Params::new();
    if let Some(q) = req.uri.query() {
        out.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    out.extend(form_urlencoded::parse(req.body).into_owned());
    out
}

/// The last `Action` of a form, as collecting it into [`Params`] would keep.
fn last_action(form: &[u8]) -> Option<Cow<'_, str>> {
    form_urlencoded::parse(form).filter(|(k, _)| k == "Action").last().map(|(_, v)| v)
}

pub(super) fn resolve(model: &'static ServiceModel, req: &Request) -> Result<&'static Operation, AwsError> {
    // The `Action` that `params` would keep (the body's over the query string's), found
    // without collecting every parameter: `decode` does that once.
    let action = last_action(req.body).or_else(|| req.uri.query().and_then(|q| last_action(q.as_bytes())));
    let Some(action) = action else {
        return Err(AwsError::new(400, "MissingAction", "Missing Action"));
    };
    model.operation(&action).ok_or_else(|| {
        AwsError::new(
            400,
            "InvalidAction",
            format!("Could not find operation {action} for version {}", model.metadata.api_version),
        )
    })
}

pub(super) fn decode(model: &ServiceModel, op: &Operation, req: &Request) -> Result<Value, AwsError> {
    let params = params(req);
    Ok(match &op.input {
        Some(input) => structure(model, &input.shape, "", &params)?,
        None => Value::Object(Map::new()),
    })
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

fn structure(model: &ServiceModel, shape_name: &str, prefix: &str, params: &Params) -> Result<Value, AwsError> {
    let shape = model.shape(shape_name);
    let mut out = Map::new();
    for (name, m) in shape.members.iter() {
        let key = join(prefix, m.query_name(name));
        if let Some(v) = member(model, m, &key, params)? {
            out.insert(name.to_string(), v);
        }
    }
    Ok(Value::Object(out))
}

/// The indexes (`1`, `2`…) present under `prefix.`, in numeric order.
fn indexes(prefix: &str, params: &Params) -> BTreeSet<u32> {
    let start = format!("{prefix}.");
    params
        .range(start.clone()..)
        .take_while(|(k, _)| k.starts_with(&start))
        .filter_map(|(k, _)| k[start.len()..].split('.').next()?.parse().ok())
        .collect()
}

fn has_prefix(prefix: &str, params: &Params) -> bool {
    params.contains_key(prefix) || !indexes(prefix, params).is_empty() || {
        let start = format!("{prefix}.");
        params.range(start.clone()..).next().is_some_and(|(k, _)| k.starts_with(&start))
    }
}

fn member(model: &ServiceModel, m: &MemberRef, key: &str, params: &Params) -> Result<Option<Value>, AwsError> {
    let shape = model.shape(&m.shape);
    match shape.kind {
        ShapeType::Structure => {
            if !has_prefix(key, params) {
                return Ok(None);
            }
            Ok(Some(structure(model, &m.shape, key, params)?))
        }
        ShapeType::List => {
            let item = shape.member.as_deref().expect("list shapes have a member");
            let list_prefix = if m.flattened || shape.flattened {
                match &item.location_name {
                    Some(n) => match key.rsplit_once('.') {
                        Some((parent, _)) => join(parent, n),
                        None => n.clone(),
                    },
                    None => key.to_string(),
                }
            } else {
                join(key, item.location_name.as_deref().unwrap_or("member"))
            };
            let idx = indexes(&list_prefix, params);
            if idx.is_empty() {
                // `Name=` with no items is how clients send an empty list.
                return Ok(params.contains_key(key).then(|| Value::Array(Vec::new())));
            }
            let mut items = Vec::new();
            for i in idx {
                if let Some(v) = member(model, item, &format!("{list_prefix}.{i}"), params)? {
                    items.push(v);
                }
            }
            Ok(Some(Value::Array(items)))
        }
        ShapeType::Map => {
            let k = shape.key.as_deref().expect("map shapes have a key");
            let v = shape.value.as_deref().expect("map shapes have a value");
            let entries = if m.flattened || shape.flattened { key.to_string() } else { join(key, "entry") };
            let idx = indexes(&entries, params);
            if idx.is_empty() {
                return Ok(None);
            }
            let mut out = Map::new();
            for i in idx {
                let base = format!("{entries}.{i}");
                let Some(name) = params.get(&join(&base, k.location_name.as_deref().unwrap_or("key"))) else {
                    continue;
                };
                if let Some(value) =
                    member(model, v, &join(&base, v.location_name.as_deref().unwrap_or("value")), params)?
                {
                    out.insert(name.clone(), value);
                }
            }
            Ok(Some(Value::Object(out)))
        }
        _ => params.get(key).map(|text| scalar(model, m, key, text)).transpose(),
    }
}

fn scalar(model: &ServiceModel, m: &MemberRef, key: &str, text: &str) -> Result<Value, AwsError> {
    let shape = model.shape(&m.shape);
    let invalid = || AwsError::new(400, "MalformedInput", format!("Invalid value for parameter {key}: {text}"));
    Ok(match shape.kind {
        ShapeType::Boolean => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(invalid()),
        },
        ShapeType::Integer | ShapeType::Long => Value::from(text.parse::<i64>().map_err(|_| invalid())?),
        ShapeType::Float | ShapeType::Double => match text {
            "NaN" | "Infinity" | "-Infinity" => Value::String(text.into()),
            _ => serde_json::Number::from_f64(text.parse::<f64>().map_err(|_| invalid())?)
                .map(Value::Number)
                .ok_or_else(invalid)?,
        },
        ShapeType::Timestamp => serde_json::json!(timestamp::parse(text).ok_or_else(invalid)?.0),
        _ => Value::String(text.to_string()),
    })
}

fn namespace(model: &ServiceModel) -> Cow<'_, str> {
    match &model.metadata.xml_namespace {
        Some(ns) => Cow::Borrowed(ns),
        None => Cow::Owned(format!(
            "http://{}.amazonaws.com/doc/{}/",
            model.metadata.endpoint_prefix, model.metadata.api_version
        )),
    }
}

pub(super) fn encode(
    model: &ServiceModel,
    op: &Operation,
    output: &Value,
    request_id: &str,
) -> Result<http::Response<ResponseBody>, AwsError> {
    let mut w = Writer::new(model);
    w.out.reserve(512);
    // `<{op}Response xmlns="…">`, written in pieces: formatting cost more than the members.
    w.out.push('<');
    w.out.push_str(&op.name);
    w.out.push_str("Response xmlns=\"");
    xml::escape(&namespace(model), &mut w.out);
    w.out.push_str("\">");
    if let Some(out) = &op.output {
        let wrapper = match &out.result_wrapper {
            Some(name) => Cow::Borrowed(name.as_str()),
            None => Cow::Owned(format!("{}Result", op.name)),
        };
        w.tag("<", &wrapper);
        w.members(&out.shape, output);
        w.close(&wrapper);
    }
    w.out.push_str("<ResponseMetadata><RequestId>");
    xml::escape(request_id, &mut w.out);
    w.out.push_str("</RequestId></ResponseMetadata></");
    w.out.push_str(&op.name);
    w.out.push_str("Response>");
    Ok(response(200, "text/xml", w.out))
}

pub(super) fn encode_error(
    model: Option<&ServiceModel>,
    err: &AwsError,
    request_id: &str,
) -> http::Response<ResponseBody> {
    let mut out = String::from("<ErrorResponse xmlns=\"");
    let ns = model.map(namespace).unwrap_or_else(|| "https://sts.amazonaws.com/doc/2011-06-15/".into());
    xml::escape(&ns, &mut out);
    out.push_str("\"><Error><Type>");
    out.push_str(if err.fault == brume_core::Fault::Sender { "Sender" } else { "Receiver" });
    out.push_str("</Type><Code>");
    xml::escape(wire_code(model, err), &mut out);
    out.push_str("</Code><Message>");
    xml::escape(&err.message, &mut out);
    out.push_str("</Message>");
    for (k, v) in &err.fields {
        out.push_str(&format!("<{k}>"));
        xml::escape(v, &mut out);
        out.push_str(&format!("</{k}>"));
    }
    out.push_str("</Error><RequestId>");
    xml::escape(request_id, &mut out);
    out.push_str("</RequestId></ErrorResponse>");
    response(err.status, "text/xml", out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::model;
    use bytes::Bytes;
    use serde_json::json;

    fn decode_form(service: &str, op: &str, form: &str) -> Value {
        let m = model(service).unwrap();
        let uri: http::Uri = "/".parse().unwrap();
        let body = Bytes::copy_from_slice(form.as_bytes());
        let req = Request { method: &http::Method::POST, uri: &uri, headers: &http::HeaderMap::new(), body: &body };
        decode(m, m.operation(op).unwrap(), &req).unwrap()
    }

    #[test]
    fn decodes_lists_maps_and_nested_structures() {
        let v = decode_form(
            "sts",
            "AssumeRole",
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=s&DurationSeconds=900&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=k2&Tags.member.2.Value=v2&PolicyArns.member.1.arn=arn%3Ap",
        );
        assert_eq!(
            v,
            json!({"RoleArn": "arn:aws:iam::000000000000:role/r", "RoleSessionName": "s", "PolicyArns": [{"arn": "arn:p"}],
                   "DurationSeconds": 900, "Tags": [{"Key": "k", "Value": "v"}, {"Key": "k2", "Value": "v2"}]})
        );
        let v = decode_form(
            "sns",
            "CreateTopic",
            "Action=CreateTopic&Name=t&Attributes.entry.1.key=DisplayName&Attributes.entry.1.value=d&Tags.member.1.Key=a&Tags.member.1.Value=b",
        );
        assert_eq!(v, json!({"Name": "t", "Attributes": {"DisplayName": "d"}, "Tags": [{"Key": "a", "Value": "b"}]}));
    }

    #[test]
    fn empty_list_and_bad_numbers() {
        let v = decode_form("sns", "RemovePermission", "Action=RemovePermission&TopicArn=a&Label=l");
        assert_eq!(v, json!({"TopicArn": "a", "Label": "l"}));
        let m = model("sts").unwrap();
        let uri: http::Uri = "/".parse().unwrap();
        let body = Bytes::from_static(b"Action=GetSessionToken&DurationSeconds=many");
        let req = Request { method: &http::Method::POST, uri: &uri, headers: &http::HeaderMap::new(), body: &body };
        let err = decode(m, m.operation("GetSessionToken").unwrap(), &req).unwrap_err();
        assert_eq!(err.code, "MalformedInput");
    }

    #[test]
    fn encodes_result_wrapper_and_request_id() {
        let m = model("sts").unwrap();
        let out = json!({"Account": "000000000000", "Arn": "arn:aws:iam::000000000000:root", "UserId": "000000000000"});
        let resp = encode(m, m.operation("GetCallerIdentity").unwrap(), &out, "rid").unwrap();
        assert_eq!(resp.headers()["content-type"], "text/xml");
        let body = futures_body(resp);
        assert_eq!(
            body,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><UserId>000000000000</UserId><Account>000000000000</Account><Arn>arn:aws:iam::000000000000:root</Arn></GetCallerIdentityResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        );
    }

    #[test]
    fn action_from_the_body_over_the_query_string() {
        let m = model("sts").unwrap();
        let resolved = |target: &str, form: &str| {
            let uri: http::Uri = target.parse().unwrap();
            let headers = http::HeaderMap::new();
            let body = Bytes::copy_from_slice(form.as_bytes());
            let req = Request { method: &http::Method::POST, uri: &uri, headers: &headers, body: &body };
            resolve(m, &req).map(|op| op.name.as_str()).map_err(|e| e.code)
        };
        assert_eq!(resolved("/?Action=GetCallerIdentity", ""), Ok("GetCallerIdentity"));
        assert_eq!(resolved("/?Action=GetCallerIdentity", "Action=AssumeRole&Version=2011-06-15"), Ok("AssumeRole"));
        assert_eq!(resolved("/", "Action=GetSessionToken&Action=GetCallerIdentity"), Ok("GetCallerIdentity"));
        assert_eq!(resolved("/", "Version=2011-06-15").unwrap_err(), "MissingAction");
        assert_eq!(resolved("/", "Action=Nope").unwrap_err(), "InvalidAction");
    }

    fn futures_body(resp: http::Response<ResponseBody>) -> String {
        use http_body_util::BodyExt;
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = rt.block_on(resp.into_body().collect()).unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
