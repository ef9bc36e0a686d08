//! The HTTP bindings of the REST protocols (restJson1 and restXml): which operation a
//! method and path call, and the input and output members that live in the URI, the query
//! string, headers and the status code rather than in the body.
//!
//! An operation is found by matching its `requestUri` template: `{Label}` takes one path
//! segment, `{Label+}` the rest of the path, and literal query parts (`?uploads`,
//! `?list-type=2`) must be present in the request. When several operations match, the most
//! specific wins: more literal query parts, then more literal path segments, then more of
//! the operation's required header and query members present and fewer missing (S3's
//! `PUT /{Bucket}/{Key+}` is PutObject, UploadPart, CopyObject or UploadPartCopy by its
//! `uploadId`, `partNumber` and `x-amz-copy-source`), then more optional ones present, then
//! an operation that is not deprecated over one that is.

use std::cmp::Reverse;

use http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use brume_core::AwsError;

use super::timestamp::Format;
use super::xml::scalar_text;
use super::{Request, serialization_error, xml_read};
use crate::model::{Location, MemberRef, Operation, Protocol, ServiceModel, ShapeType};

/// The request's query parameters, decoded, in order.
pub(super) fn query_params(req: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes()).into_owned().collect()
}

/// The labels of path template `template` bound from the raw request `path`, or `None`
/// when the path does not match. Labels are percent-decoded; a greedy label keeps its `/`.
fn match_path<'t>(template: &'t str, path: &str) -> Option<Vec<(&'t str, String)>> {
    // Clients drop a template's trailing slash (botocore sends Lambda's
    // `/2015-03-31/functions/` as `/2015-03-31/functions`); one is tolerated on requests.
    let template = template.strip_prefix('/').unwrap_or(template);
    let template = template.strip_suffix('/').unwrap_or(template);
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut rest = path;
    let mut labels = Vec::new();
    let segments: Vec<&str> = template.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        if let Some(label) = seg.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            // The greedy label takes the rest of the path, trailing slash included (an S3
            // key may end in `/`).
            if rest.is_empty() {
                return None;
            }
            labels.push((label, percent_decoded(rest)));
            return Some(labels);
        }
        let (head, tail) = match rest.split_once('/') {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        if let Some(label) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if head.is_empty() {
                return None;
            }
            labels.push((label, percent_decoded(head)));
        } else if percent_decode_str(head).decode_utf8_lossy() != *seg {
            return None;
        }
        match tail {
            Some(t) => rest = t,
            None if i + 1 == segments.len() => return Some(labels),
            None => return None,
        }
    }
    rest.is_empty().then_some(labels)
}

fn percent_decoded(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The literal query parts of a request URI template: `uploads` or `list-type=2`.
fn template_query(template: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    let query = template.split_once('?').map(|(_, q)| q).unwrap_or("");
    query.split('&').filter(|p| !p.is_empty()).map(|p| match p.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (p, None),
    })
}

fn template_path(template: &str) -> &str {
    template.split_once('?').map(|(p, _)| p).unwrap_or(template)
}

/// How well an operation's template matches a request, compared field by field: literal
/// query parts, literal path segments, required bound members present, required ones
/// missing (fewer is better), optional ones present, not greedy, not deprecated.
type Score = (usize, usize, usize, Reverse<usize>, usize, bool, bool);

/// Which operation of the REST service `model` the request calls.
pub(super) fn resolve(
    model: &'static ServiceModel,
    protocol: Protocol,
    req: &Request,
) -> Result<&'static Operation, AwsError> {
    let query = query_params(req);
    let path = req.uri.path();
    let mut best: Option<(Score, &'static Operation)> = None;
    for op in model.operations.values() {
        if op.http.method != req.method.as_str() {
            continue;
        }
        let template = &op.http.request_uri;
        // The literal query parts first: comparing them is cheaper than matching the path,
        // and they rule out most of the operations sharing a path (S3's `?acl`, `?tagging`…).
        let mut literal_query = 0;
        let query_ok = template_query(template).all(|(k, v)| {
            literal_query += 1;
            query.iter().any(|(qk, qv)| qk == k && v.is_none_or(|v| v == qv))
        });
        if !query_ok {
            continue;
        }
        let tpath = template_path(template);
        if match_path(tpath, path).is_none() {
            continue;
        }
        let literal_path = tpath.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')).count();
        let greedy = tpath.contains("+}");
        let bound = bound_members(model, op, req, &query);
        let score = (
            literal_query,
            literal_path,
            bound.required,
            Reverse(bound.missing),
            bound.optional,
            !greedy,
            !op.deprecated,
        );
        // Equal scores are broken by name, so that resolution does not depend on the
        // model's hash order (S3's ListBuckets and ListDirectoryBuckets are both `GET /`).
        let better = match &best {
            None => true,
            Some((s, b)) => score > *s || (score == *s && op.name < b.name),
        };
        if better {
            best = Some((score, op));
        }
    }
    best.map(|(_, op)| op).ok_or_else(|| match protocol {
        Protocol::RestXml => {
            AwsError::new(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        }
        _ => AwsError::new(404, "UnknownOperationException", format!("No operation matches {} {path}", req.method)),
    })
}

/// How many of an operation's header and query members a request carries.
#[derive(Default)]
struct Bound {
    required: usize,
    missing: usize,
    optional: usize,
}

fn bound_members(model: &ServiceModel, op: &Operation, req: &Request, query: &[(String, String)]) -> Bound {
    let Some(input) = &op.input else {
        return Bound::default();
    };
    let shape = model.shape(&input.shape);
    let mut counts = Bound::default();
    for (name, m) in shape.members.iter() {
        let wire = m.location_name.as_deref().unwrap_or(name);
        let present = match m.location {
            Some(Location::Header) => has_header(req.headers, wire),
            Some(Location::Querystring) => query.iter().any(|(k, _)| k == wire),
            _ => continue,
        };
        match (present, shape.required.iter().any(|r| r == name)) {
            (true, true) => counts.required += 1,
            (false, true) => counts.missing += 1,
            (true, false) => counts.optional += 1,
            (false, false) => {}
        }
    }
    counts
}

/// The input members of `op` bound to the URI, query string and headers of `req`.
pub(super) fn decode(
    model: &ServiceModel,
    protocol: Protocol,
    op: &Operation,
    req: &Request,
) -> Result<Map<String, Value>, AwsError> {
    let mut out = Map::new();
    let Some(input) = &op.input else {
        return Ok(out);
    };
    let shape = model.shape(&input.shape);
    let template = &op.http.request_uri;
    let labels = match_path(template_path(template), req.uri.path()).unwrap_or_default();
    let query = query_params(req);
    let bad = |e: String| serialization_error(protocol, e);
    for (name, m) in shape.members.iter() {
        let Some(location) = m.location else { continue };
        let wire = m.location_name.as_deref().unwrap_or(name);
        let value = match location {
            Location::Uri => match labels.iter().find(|(l, _)| *l == wire) {
                Some((_, text)) => xml_read::scalar(model, m, text).map_err(bad)?,
                None => continue,
            },
            Location::Querystring => match query_member(model, m, wire, shape, template, &query).map_err(bad)? {
                Some(v) => v,
                None => continue,
            },
            Location::Header => match header_member(model, m, wire, req.headers).map_err(bad)? {
                Some(v) => v,
                None => continue,
            },
            Location::Headers => {
                let prefix = wire.to_ascii_lowercase();
                let map: Map<String, Value> = req
                    .headers
                    .iter()
                    .filter_map(|(k, v)| {
                        let key = k.as_str().strip_prefix(prefix.as_str())?;
                        Some((key.to_string(), Value::String(header_text(v))))
                    })
                    .collect();
                if map.is_empty() {
                    continue;
                }
                Value::Object(map)
            }
            Location::StatusCode => continue,
        };
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

fn header_text(v: &HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

fn query_member(
    model: &ServiceModel,
    m: &MemberRef,
    wire: &str,
    input: &crate::model::Shape,
    template: &str,
    query: &[(String, String)],
) -> Result<Option<Value>, String> {
    let shape = model.shape(&m.shape);
    match shape.kind {
        ShapeType::List => {
            let item = shape.member.as_deref().expect("list shapes have a member");
            let items: Vec<Value> = query
                .iter()
                .filter(|(k, _)| k == wire)
                .map(|(_, v)| xml_read::scalar(model, item, v))
                .collect::<Result<_, _>>()?;
            Ok((!items.is_empty()).then_some(Value::Array(items)))
        }
        ShapeType::Map => {
            // A query-string map takes every parameter no other member or the template binds.
            let bound = |k: &str| {
                template_query(template).any(|(t, _)| t == k)
                    || input.members.iter().any(|(n, o)| {
                        o.location == Some(Location::Querystring)
                            && model.shape(&o.shape).kind != ShapeType::Map
                            && o.location_name.as_deref().unwrap_or(n) == k
                    })
            };
            let value_ref = shape.value.as_deref().expect("map shapes have a value");
            let multi = model.shape(&value_ref.shape).kind == ShapeType::List;
            let mut map = Map::new();
            for (k, v) in query.iter().filter(|(k, _)| !bound(k)) {
                if multi {
                    let list = map.entry(k.clone()).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(items) = list {
                        items.push(Value::String(v.clone()));
                    }
                } else {
                    map.insert(k.clone(), Value::String(v.clone()));
                }
            }
            Ok((!map.is_empty()).then_some(Value::Object(map)))
        }
        _ => match query.iter().find(|(k, _)| k == wire) {
            Some((_, v)) => xml_read::scalar(model, m, v).map(Some),
            None => Ok(None),
        },
    }
}

/// Whether `headers` has `name`. A request carries a handful of headers and a REST input
/// binds dozens: comparing with each is cheaper than parsing and hashing every bound name
/// for a map lookup (resolution checks them for every candidate operation).
fn has_header(headers: &HeaderMap, name: &str) -> bool {
    headers.keys().any(|k| k.as_str().eq_ignore_ascii_case(name))
}

fn header_member(
    model: &ServiceModel,
    m: &MemberRef,
    wire: &str,
    headers: &HeaderMap,
) -> Result<Option<Value>, String> {
    if !has_header(headers, wire) {
        return Ok(None);
    }
    let values: Vec<String> = headers.get_all(wire).iter().map(header_text).collect();
    if values.is_empty() {
        return Ok(None);
    }
    let shape = model.shape(&m.shape);
    if shape.kind == ShapeType::List {
        // Lists travel comma-separated, in one header or repeated ones.
        let item = shape.member.as_deref().expect("list shapes have a member");
        let items = values
            .iter()
            .flat_map(|v| v.split(','))
            .map(|s| xml_read::scalar(model, item, s.trim()))
            .collect::<Result<_, _>>()?;
        return Ok(Some(Value::Array(items)));
    }
    xml_read::scalar(model, m, &values.join(",")).map(Some)
}

/// Writes the output members bound to headers into `headers`; returns the status code a
/// `statusCode` member sets, if any.
pub(super) fn encode(model: &ServiceModel, shape_name: &str, value: &Value, headers: &mut HeaderMap) -> Option<u16> {
    let shape = model.shape(shape_name);
    let obj = value.as_object()?;
    let mut status = None;
    for (name, m) in shape.members.iter() {
        let (Some(location), Some(v)) = (m.location, obj.get(name)) else {
            continue;
        };
        let wire = m.location_name.as_deref().unwrap_or(name);
        let member_shape = model.shape(&m.shape);
        match location {
            Location::Header => {
                let text = match (member_shape.kind, v) {
                    (ShapeType::List, Value::Array(items)) => {
                        let item = member_shape.member.as_deref().expect("list shapes have a member");
                        let texts: Vec<String> = items
                            .iter()
                            .filter_map(|i| scalar_text(model.shape(&item.shape), Some(item), i, Format::Rfc822))
                            .collect();
                        Some(texts.join(","))
                    }
                    _ => scalar_text(member_shape, Some(m), v, Format::Rfc822),
                };
                if let Some(text) = text {
                    insert_header(headers, wire, &text);
                }
            }
            Location::Headers => {
                for (k, item) in v.as_object().into_iter().flatten() {
                    if let Some(text) = item.as_str() {
                        insert_header(headers, &format!("{wire}{k}"), text);
                    }
                }
            }
            Location::StatusCode => status = v.as_u64().and_then(|s| u16::try_from(s).ok()),
            Location::Uri | Location::Querystring => {}
        }
    }
    status
}

fn insert_header(headers: &mut HeaderMap, name: &str, text: &str) {
    match (HeaderName::try_from(name), HeaderValue::try_from(text)) {
        (Ok(n), Ok(v)) => {
            headers.insert(n, v);
        }
        // A value no HTTP header can carry (a line break in user metadata) is dropped
        // rather than failing the whole response.
        _ => tracing::warn!(header = name, "output header value is not valid in HTTP; dropped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::model;
    use http::{Method, Uri};

    fn op_for(service: &str, method: &str, uri: &str, headers: &[(&str, &str)]) -> Result<&'static str, AwsError> {
        let m = model(service).unwrap();
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let uri: Uri = uri.parse().unwrap();
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(HeaderName::try_from(*k).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let req = Request { method: &method, uri: &uri, headers: &map, body: b"" };
        let protocol = m.default_protocol();
        resolve(m, protocol, &req).map(|op| op.name.as_str())
    }

    fn check(service: &str, method: &str, uri: &str, expected: &str) {
        assert_eq!(op_for(service, method, uri, &[]).unwrap(), expected, "{method} {uri}");
    }

    #[test]
    fn s3_routes_pick_the_most_specific_operation() {
        check("s3", "GET", "/", "ListBuckets");
        check("s3", "GET", "/b", "ListObjects");
        check("s3", "GET", "/b/", "ListObjects");
        check("s3", "GET", "/b?list-type=2&prefix=a", "ListObjectsV2");
        check("s3", "GET", "/b?location", "GetBucketLocation");
        check("s3", "GET", "/b?versions", "ListObjectVersions");
        check("s3", "PUT", "/b", "CreateBucket");
        check("s3", "PUT", "/b?versioning", "PutBucketVersioning");
        check("s3", "GET", "/b/k/x", "GetObject");
        check("s3", "GET", "/b/k?uploadId=u", "ListParts");
        check("s3", "GET", "/b/k?attributes", "GetObjectAttributes");
        check("s3", "PUT", "/b/k/", "PutObject");
        check("s3", "PUT", "/b/k?partNumber=1&uploadId=u", "UploadPart");
        check("s3", "POST", "/b/k?uploads", "CreateMultipartUpload");
        check("s3", "POST", "/b/k?uploadId=u", "CompleteMultipartUpload");
        check("s3", "DELETE", "/b/k?uploadId=u", "AbortMultipartUpload");
        check("s3", "DELETE", "/b/k", "DeleteObject");
        check("s3", "POST", "/b?delete", "DeleteObjects");
        check("s3", "PUT", "/b?lifecycle", "PutBucketLifecycleConfiguration");
        check("s3", "GET", "/b?notification", "GetBucketNotificationConfiguration");
        assert_eq!(op_for("s3", "PUT", "/b/k", &[("x-amz-copy-source", "/a/b")]).unwrap(), "CopyObject");
        assert_eq!(
            op_for("s3", "PUT", "/b/k?partNumber=1&uploadId=u", &[("x-amz-copy-source", "/a/b")]).unwrap(),
            "UploadPartCopy"
        );
        assert_eq!(op_for("s3", "PATCH", "/b", &[]).unwrap_err().code, "MethodNotAllowed");
    }

    #[test]
    fn lambda_routes_match_literal_segments() {
        check("lambda", "GET", "/2015-03-31/functions/", "ListFunctions");
        check("lambda", "GET", "/2015-03-31/functions/f", "GetFunction");
        check("lambda", "GET", "/2015-03-31/functions/f/configuration", "GetFunctionConfiguration");
        check("lambda", "POST", "/2015-03-31/functions/f/invocations", "Invoke");
        check("lambda", "GET", "/2018-10-31/layers/l/versions/3", "GetLayerVersion");
        assert_eq!(op_for("lambda", "GET", "/nowhere", &[]).unwrap_err().code, "UnknownOperationException");
    }

    #[test]
    fn paths_match_templates() {
        assert_eq!(
            match_path("/{Bucket}/{Key+}", "/b/a%20b/c/"),
            Some(vec![("Bucket", "b".into()), ("Key", "a b/c/".into())])
        );
        assert_eq!(match_path("/{Bucket}", "/b/"), Some(vec![("Bucket", "b".into())]));
        assert_eq!(match_path("/{Bucket}", "/b/c"), None);
        assert_eq!(match_path("/{Bucket}/{Key+}", "/b/"), None);
        assert_eq!(match_path("/", "/"), Some(vec![]));
        assert_eq!(match_path("/", "/b"), None);
    }

    #[test]
    fn outputs_write_headers_metadata_and_status() {
        let m = model("s3").unwrap();
        let mut headers = HeaderMap::new();
        let out = serde_json::json!({
            "ContentLength": 5, "LastModified": 1_706_702_400.0, "Metadata": {"owner": "alice"},
            "DeleteMarker": true, "ContentType": "text/plain", "Body": "aGVsbG8="
        });
        assert_eq!(encode(m, "GetObjectOutput", &out, &mut headers), None);
        assert_eq!(headers["content-length"], "5");
        assert_eq!(headers["last-modified"], "Wed, 31 Jan 2024 12:00:00 GMT");
        assert_eq!(headers["x-amz-meta-owner"], "alice");
        assert_eq!(headers["x-amz-delete-marker"], "true");
        assert_eq!(headers.len(), 5);
        let lambda = model("lambda").unwrap();
        let out = serde_json::json!({"StatusCode": 202, "ExecutedVersion": "$LATEST"});
        assert_eq!(encode(lambda, "InvocationResponse", &out, &mut headers), Some(202));
        assert_eq!(headers["x-amz-executed-version"], "$LATEST");
    }
}
