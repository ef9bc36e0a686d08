//! One codec per AWS protocol, each reading and writing every operation from the model.
//!
//! A codec has four jobs, and every protocol module has the same four functions:
//! - `resolve`: which operation of the service a request calls;
//! - `decode`: the request turned into the canonical input value (or, for awsJson, the
//!   body itself when its text already is that value);
//! - `encode`: the canonical output value written as the HTTP response;
//! - `encode_error`: an [`AwsError`] written the way that protocol reports errors.
//!
//! This module dispatches on [`Protocol`]; the shared pieces (timestamps, XML, HTTP
//! bindings, validation) are modules beside the codecs.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use serde_json::Value;
use serde_json::value::RawValue;

use brume_core::AwsError;

use crate::model::{Operation, Protocol, ServiceModel};
use crate::service::Input;

mod cbor;
#[cfg(test)]
mod fixture_tests;
mod http_bindings;
mod json;
mod query;
mod rest_json;
mod rest_xml;
pub mod timestamp;
mod validate;
pub mod xml;
pub mod xml_read;

pub(crate) use http_bindings::Bindings as HttpBindings;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body streamed to a handler (S3 object uploads), unbuffered.
pub type RequestBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// The body of every response Brume writes: buffered or streamed.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

pub fn full_body(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A request as the codecs read it: the head, and the body when it was buffered.
pub struct Request<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
}

/// Header names looked up on every request, made once: a lookup by `&str` parses the name
/// first.
pub const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
pub const SMITHY_PROTOCOL: HeaderName = HeaderName::from_static("smithy-protocol");

impl Request<'_> {
    pub fn header(&self, name: impl http::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The protocol a request to `model`'s service is written in, told from its headers the
/// way AWS front ends do; the model's own protocol otherwise.
pub fn detect_protocol(model: &ServiceModel, req: &Request) -> Protocol {
    let content_type = req.header(http::header::CONTENT_TYPE).unwrap_or("");
    let candidate = if req.header(SMITHY_PROTOCOL) == Some("rpc-v2-cbor") {
        Some(Protocol::RpcV2Cbor)
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        Some(Protocol::AwsQuery)
    } else if req.header(X_AMZ_TARGET).is_some() {
        if content_type.contains("1.1") { Some(Protocol::AwsJson1_1) } else { Some(Protocol::AwsJson1_0) }
    } else {
        None
    };
    match candidate {
        Some(p) if model.accepts(p) => p,
        // An awsJson service's own version wins when the client's content type is loose.
        Some(Protocol::AwsJson1_0 | Protocol::AwsJson1_1)
            if matches!(model.default_protocol(), Protocol::AwsJson1_0 | Protocol::AwsJson1_1) =>
        {
            model.default_protocol()
        }
        _ => model.default_protocol(),
    }
}

/// Which operation of the service `req` calls.
pub fn resolve(
    model: &'static ServiceModel,
    protocol: Protocol,
    req: &Request,
) -> Result<&'static Operation, AwsError> {
    match protocol {
        Protocol::AwsJson1_0 | Protocol::AwsJson1_1 => json::resolve(model, req),
        Protocol::AwsQuery => query::resolve(model, req),
        Protocol::RestJson1 => rest_json::resolve(model, req),
        Protocol::RestXml => rest_xml::resolve(model, req),
        Protocol::RpcV2Cbor => cbor::resolve(model, req),
    }
}

/// The input of `op` read from `req`, checked as the service's front end checks it (see
/// [`validate`]): its canonical value, or an awsJson body whose text is that value as it
/// stands.
pub fn decode(model: &ServiceModel, protocol: Protocol, op: &Operation, req: &Request) -> Result<Input, AwsError> {
    let value = match protocol {
        // A body handed over as it is was checked as it was read.
        Protocol::AwsJson1_0 | Protocol::AwsJson1_1 => match json::decode(model, op, req)? {
            Input::Tree(value) => value,
            text => return Ok(text),
        },
        Protocol::AwsQuery => query::decode(model, op, req)?,
        Protocol::RestJson1 => rest_json::decode(model, op, req)?,
        Protocol::RestXml => rest_xml::decode(model, op, req)?,
        Protocol::RpcV2Cbor => cbor::decode(model, op, req)?,
    };
    if let Some(input) = &op.input {
        validate::input(model, protocol, &input.shape, &value)?;
    }
    Ok(Input::Tree(value))
}

/// Checks a canonical input made in process (the calls Step Functions and CloudFormation
/// make of other services) as [`decode`] checks a request's.
pub fn check(model: &ServiceModel, op: &Operation, input: &Value) -> Result<(), AwsError> {
    match &op.input {
        Some(i) => validate::input(model, model.default_protocol(), &i.shape, input),
        None => Ok(()),
    }
}

/// The HTTP response for `op`'s canonical `output` and its `verbatim` members; `streamed`
/// is the body of a streaming payload member (S3's `GetObject`), sent as it comes.
pub fn encode(
    model: &ServiceModel,
    protocol: Protocol,
    op: &Operation,
    output: &Value,
    verbatim: &[(&'static str, Box<RawValue>)],
    streamed: Option<ResponseBody>,
    request_id: &str,
) -> Result<Response<ResponseBody>, AwsError> {
    // Only the awsJson codec writes verbatim members as they are.
    let whole;
    let output = match protocol {
        Protocol::AwsJson1_0 | Protocol::AwsJson1_1 => output,
        _ if verbatim.is_empty() => output,
        _ => {
            whole = crate::service::with_verbatim(output.clone(), verbatim);
            &whole
        }
    };
    let mut resp = match protocol {
        Protocol::AwsJson1_0 | Protocol::AwsJson1_1 => json::encode(model, protocol, op, output, verbatim)?,
        Protocol::AwsQuery => query::encode(model, op, output, request_id)?,
        Protocol::RestJson1 => rest_json::encode(model, op, output)?,
        Protocol::RestXml => rest_xml::encode(model, op, output)?,
        Protocol::RpcV2Cbor => cbor::encode(model, op, output)?,
    };
    // A partial body is a 206, whichever operation sends it (S3's ranged GetObject).
    if resp.status() == StatusCode::OK && resp.headers().contains_key(http::header::CONTENT_RANGE) {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    if let Some(body) = streamed {
        *resp.body_mut() = body;
        if !has_content_type_member(model, op, output) {
            resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        }
    }
    add_request_id(resp.headers_mut(), protocol, request_id);
    Ok(resp)
}

/// The HTTP response reporting `err`, as `protocol` reports errors. `model` is the
/// service's when it is known (it refines codes and member names); HEAD requests get no
/// body, as with AWS.
pub fn encode_error(
    model: Option<&ServiceModel>,
    protocol: Protocol,
    err: &AwsError,
    request_id: &str,
    method: &Method,
) -> Response<ResponseBody> {
    let mut resp = match protocol {
        Protocol::AwsJson1_0 | Protocol::AwsJson1_1 => json::encode_error(model, protocol, err),
        Protocol::AwsQuery => query::encode_error(model, err, request_id),
        Protocol::RestJson1 => rest_json::encode_error(model, err),
        Protocol::RestXml => rest_xml::encode_error(model, err, request_id),
        Protocol::RpcV2Cbor => cbor::encode_error(model, err),
    };
    *resp.status_mut() = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in &err.headers {
        if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(k.as_str()), HeaderValue::try_from(v.as_str())) {
            resp.headers_mut().insert(name, value);
        }
    }
    // HEAD answers and 304 Not Modified carry no body.
    if method == Method::HEAD || err.status == 304 {
        *resp.body_mut() = full_body(Bytes::new());
    }
    add_request_id(resp.headers_mut(), protocol, request_id);
    resp
}

/// True when the output sets `Content-Type` through a header-bound member.
fn has_content_type_member(model: &ServiceModel, op: &Operation, output: &Value) -> bool {
    let Some(out) = &op.output else { return false };
    model.shape(&out.shape).members.iter().any(|(name, m)| {
        m.location == Some(crate::model::Location::Header)
            && m.location_name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case("content-type"))
            && output.get(name).is_some_and(|v| !v.is_null())
    })
}

fn add_request_id(headers: &mut HeaderMap, protocol: Protocol, request_id: &str) {
    // Names made once: inserting by `&str` parses the name on every response.
    const REQUEST_ID: HeaderName = HeaderName::from_static("x-amz-request-id");
    const ID_2: HeaderName = HeaderName::from_static("x-amz-id-2");
    const AMZN_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
    let Ok(id) = HeaderValue::from_str(request_id) else {
        return;
    };
    if protocol == Protocol::RestXml {
        headers.insert(REQUEST_ID, id.clone());
        headers.insert(ID_2, id);
    } else {
        headers.insert(AMZN_REQUEST_ID, id);
    }
}

/// A response with a body and content type.
pub(crate) fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<ResponseBody> {
    let mut resp = Response::new(full_body(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Ok(ct) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, ct);
    }
    resp
}

/// The wire code of an error: the awsQuery-compatible code the model declares for the
/// error shape when there is one, the shape name otherwise.
pub(crate) fn wire_code<'a>(model: Option<&'a ServiceModel>, err: &'a AwsError) -> &'a str {
    model.and_then(|m| m.error_trait(&err.code)).and_then(|e| e.code.as_deref()).unwrap_or(&err.code)
}

/// A deserialization failure of the request, reported as AWS does for each protocol family.
pub(crate) fn serialization_error(protocol: Protocol, message: impl Into<String>) -> AwsError {
    match protocol {
        Protocol::AwsQuery | Protocol::RestXml => AwsError::new(400, "MalformedInput", message),
        _ => AwsError::new(400, "SerializationException", message),
    }
}
