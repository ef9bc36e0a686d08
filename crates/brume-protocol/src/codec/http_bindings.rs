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
//!
//! Templates and member lists are read once per model into [`Bindings`]: resolution weighs
//! every operation of the request's method, and reading them afresh for each request cost
//! more than the rest of a small S3 request's protocol work.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::percent_decode_str;
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

use brume_core::AwsError;

use super::timestamp::Format;
use super::xml::scalar_text;
use super::{Request, serialization_error, xml_read};
use crate::model::{Location, MemberRef, Operation, Protocol, ServiceModel, Shape, ShapeType};

/// A model's REST routes and member bindings.
#[derive(Default)]
pub(crate) struct Bindings {
    ops: Vec<OpBindings>,
    by_name: FxHashMap<String, usize>,
    /// Indices into `ops` by HTTP method.
    by_method: FxHashMap<String, Vec<usize>>,
    /// Every header an input member binds, by its lowercase name, and every query
    /// parameter, with its bit in a request's [`Present`] set.
    header_bits: FxHashMap<HeaderName, usize>,
    query_bits: FxHashMap<String, usize>,
    bits: usize,
    /// The members of output shapes bound to the HTTP message (headers, status code).
    outputs: FxHashMap<String, OutputBindings>,
}

impl fmt::Debug for Bindings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bindings").field("operations", &self.ops.len()).finish_non_exhaustive()
    }
}

/// One operation's request template and input members bound outside the body.
struct OpBindings {
    name: String,
    path: Vec<Segment>,
    /// The literal query parts: `uploads` or `list-type=2`.
    query: Vec<(String, Option<String>)>,
    literal_path: usize,
    greedy: bool,
    deprecated: bool,
    /// In the input shape's member order.
    input: Vec<InputMember>,
    /// The bits of the header and query members, required and optional ones, and how many
    /// are required (counting those no request can carry): resolution weighs these for
    /// every candidate operation, with a few word operations rather than a walk of
    /// dozens of members. No operation binds one header or query parameter twice.
    required: Bits,
    optional: Bits,
    required_count: usize,
}

enum Segment {
    Literal(String),
    Label(String),
    Greedy(String),
}

struct InputMember {
    /// The member's position in the input shape.
    index: usize,
    location: Location,
    /// A header or query member's bit in [`Present`]; `None` for a header name no request
    /// can carry.
    bit: Option<usize>,
    header: Option<HeaderName>,
}

#[derive(Default)]
struct OutputBindings {
    /// In the shape's member order.
    members: Vec<OutputMember>,
    /// Positions in `members` by member name.
    by_name: FxHashMap<String, usize>,
}

struct OutputMember {
    index: usize,
    /// A header member's name; `None` when it is not a valid header name.
    header: Option<HeaderName>,
}

/// The request's query parameters, decoded, in order.
type Query<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

fn query_params<'r>(req: &Request<'r>) -> Query<'r> {
    form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes()).collect()
}

/// A set of the model's bound headers and query parameters, by their bits: those a
/// request carries, or those an operation binds.
#[derive(Default)]
struct Bits(Vec<u64>);

impl Bits {
    fn has(&self, bit: Option<usize>) -> bool {
        bit.is_some_and(|b| self.0[b / 64] >> (b % 64) & 1 == 1)
    }

    fn insert(&mut self, b: usize) {
        if self.0.len() <= b / 64 {
            self.0.resize(b / 64 + 1, 0);
        }
        self.0[b / 64] |= 1 << (b % 64);
    }

    /// How many bits this set and `other` both have.
    fn common(&self, other: &Bits) -> usize {
        self.0.iter().zip(&other.0).map(|(a, b)| (a & b).count_ones() as usize).sum()
    }
}

/// Which of the model's bound headers and query parameters a request carries.
type Present = Bits;

/// The model's bindings, read from it on first use.
fn bindings(model: &ServiceModel) -> &Bindings {
    model.http_bindings.get_or_init(|| Bindings::new(model))
}

impl Bindings {
    fn new(model: &ServiceModel) -> Self {
        let mut b = Bindings::default();
        for op in model.operations.values() {
            let ob = b.operation(model, op);
            b.by_name.insert(op.name.clone(), b.ops.len());
            b.by_method.entry(op.http.method.clone()).or_default().push(b.ops.len());
            b.ops.push(ob);
        }
        for (name, shape) in &model.shapes {
            if shape.members.iter().any(|(_, m)| m.location.is_some()) {
                b.outputs.insert(name.clone(), OutputBindings::new(shape));
            }
        }
        b
    }

    fn operation(&mut self, model: &ServiceModel, op: &Operation) -> OpBindings {
        let template = op.http.request_uri.as_str();
        let (tpath, tquery) = template.split_once('?').unwrap_or((template, ""));
        let query = tquery
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (p.to_string(), None),
            })
            .collect();
        let mut input = Vec::new();
        let (mut required, mut optional, mut required_count) = (Bits::default(), Bits::default(), 0);
        if let Some(input_ref) = &op.input {
            let shape = model.shape(&input_ref.shape);
            for (index, (name, m)) in shape.members.iter().enumerate() {
                let Some(location) = m.location else { continue };
                let wire = m.location_name.as_deref().unwrap_or(name);
                let header = (location == Location::Header).then(|| HeaderName::try_from(wire).ok()).flatten();
                let bit = match location {
                    Location::Header => header.clone().map(|h| bit_of(&mut self.header_bits, &mut self.bits, h)),
                    Location::Querystring => Some(bit_of(&mut self.query_bits, &mut self.bits, wire.to_string())),
                    _ => None,
                };
                let is_required = shape.required.iter().any(|r| r == name);
                if matches!(location, Location::Header | Location::Querystring) {
                    required_count += usize::from(is_required);
                    let set = if is_required { &mut required } else { &mut optional };
                    if let Some(b) = bit {
                        set.insert(b);
                    }
                }
                input.push(InputMember { index, location, bit, header });
            }
        }
        OpBindings {
            name: op.name.clone(),
            path: segments(tpath),
            query,
            literal_path: tpath.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')).count(),
            greedy: tpath.contains("+}"),
            deprecated: op.deprecated,
            input,
            required,
            optional,
            required_count,
        }
    }

    fn op(&self, name: &str) -> &OpBindings {
        &self.ops[self.by_name[name]]
    }

    /// Which bound headers and query parameters the request carries: one lookup per
    /// request header rather than a scan of them per bound member of every candidate.
    fn present(&self, headers: &HeaderMap, query: &Query) -> Present {
        let mut words = vec![0u64; self.bits.div_ceil(64)];
        let bits = headers
            .keys()
            .filter_map(|k| self.header_bits.get(k))
            .chain(query.iter().filter_map(|(k, _)| self.query_bits.get(k.as_ref())));
        for &b in bits {
            words[b / 64] |= 1 << (b % 64);
        }
        Bits(words)
    }
}

/// The bit of `key`, a new one on first sight.
fn bit_of<K: Eq + std::hash::Hash>(bits: &mut FxHashMap<K, usize>, next: &mut usize, key: K) -> usize {
    *bits.entry(key).or_insert_with(|| {
        *next += 1;
        *next - 1
    })
}

impl OutputBindings {
    fn new(shape: &Shape) -> Self {
        let mut out = OutputBindings::default();
        for (index, (name, m)) in shape.members.iter().enumerate() {
            let Some(location) = m.location else { continue };
            let wire = m.location_name.as_deref().unwrap_or(name);
            let header = (location == Location::Header).then(|| HeaderName::try_from(wire).ok()).flatten();
            out.by_name.insert(name.to_string(), out.members.len());
            out.members.push(OutputMember { index, header });
        }
        out
    }
}

/// The segments of a path template. Clients drop a template's trailing slash (botocore
/// sends Lambda's `/2015-03-31/functions/` as `/2015-03-31/functions`); one is tolerated
/// on requests.
fn segments(template: &str) -> Vec<Segment> {
    let template = template.strip_prefix('/').unwrap_or(template);
    let template = template.strip_suffix('/').unwrap_or(template);
    template
        .split('/')
        .map(|seg| {
            let label = seg.strip_prefix('{');
            if let Some(greedy) = label.and_then(|s| s.strip_suffix("+}")) {
                Segment::Greedy(greedy.to_string())
            } else if let Some(label) = label.and_then(|s| s.strip_suffix('}')) {
                Segment::Label(label.to_string())
            } else {
                Segment::Literal(seg.to_string())
            }
        })
        .collect()
}

/// Whether the raw request `path` matches the template `segments`; `bind` is given each
/// label and its raw text. A greedy label takes the rest of the path, trailing slash
/// included (an S3 key may end in `/`).
fn bind_path<'s, 'p>(segments: &'s [Segment], path: &'p str, mut bind: impl FnMut(&'s str, &'p str)) -> bool {
    let mut rest = path.strip_prefix('/').unwrap_or(path);
    for (i, seg) in segments.iter().enumerate() {
        let (head, tail) = match rest.split_once('/') {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        match seg {
            Segment::Greedy(label) => {
                if rest.is_empty() {
                    return false;
                }
                bind(label, rest);
                return true;
            }
            Segment::Label(label) => {
                if head.is_empty() {
                    return false;
                }
                bind(label, head);
            }
            Segment::Literal(literal) => {
                if percent_decode_str(head).decode_utf8_lossy() != literal.as_str() {
                    return false;
                }
            }
        }
        match tail {
            Some(t) => rest = t,
            None if i + 1 == segments.len() => return true,
            None => return false,
        }
    }
    rest.is_empty()
}

/// The labels of the raw request `path`, percent-decoded, or `None` when it does not match.
fn path_labels<'s, 'p>(segments: &'s [Segment], path: &'p str) -> Option<Vec<(&'s str, Cow<'p, str>)>> {
    let mut labels = Vec::new();
    bind_path(segments, path, |label, raw| labels.push((label, percent_decode_str(raw).decode_utf8_lossy())))
        .then_some(labels)
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
    let bindings = bindings(model);
    let query = query_params(req);
    let present = bindings.present(req.headers, &query);
    let path = req.uri.path();
    let mut best: Option<(Score, &OpBindings)> = None;
    for &i in bindings.by_method.get(req.method.as_str()).into_iter().flatten() {
        let op = &bindings.ops[i];
        // The literal query parts first: comparing them is cheaper than matching the path,
        // and they rule out most of the operations sharing a path (S3's `?acl`, `?tagging`…).
        let query_ok =
            op.query.iter().all(|(k, v)| query.iter().any(|(qk, qv)| qk == k && v.as_ref().is_none_or(|v| v == qv)));
        if !query_ok || !bind_path(&op.path, path, |_, _| {}) {
            continue;
        }
        let bound = bound_members(op, &present);
        let score = (
            op.query.len(),
            op.literal_path,
            bound.required,
            Reverse(bound.missing),
            bound.optional,
            !op.greedy,
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
    let found = best.and_then(|(_, op)| model.operation(&op.name));
    found.ok_or_else(|| match protocol {
        Protocol::RestXml => {
            AwsError::new(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        }
        _ => AwsError::new(404, "UnknownOperationException", format!("No operation matches {} {path}", req.method)),
    })
}

/// How many of an operation's header and query members a request carries.
struct Bound {
    required: usize,
    missing: usize,
    optional: usize,
}

fn bound_members(op: &OpBindings, present: &Present) -> Bound {
    let required = present.common(&op.required);
    Bound { required, missing: op.required_count - required, optional: present.common(&op.optional) }
}

/// The input members of `op` bound to the URI, query string and headers of `req`.
pub(super) fn decode(
    model: &ServiceModel,
    protocol: Protocol,
    op: &Operation,
    req: &Request,
) -> Result<Map<String, Value>, AwsError> {
    // Room for the few members a request usually binds, so that the map does not grow
    // member by member.
    let mut out = Map::with_capacity(8);
    let Some(input) = &op.input else {
        return Ok(out);
    };
    let shape = model.shape(&input.shape);
    let bindings = bindings(model);
    let bound = bindings.op(&op.name);
    let labels = path_labels(&bound.path, req.uri.path()).unwrap_or_default();
    let query = query_params(req);
    let present = bindings.present(req.headers, &query);
    let bad = |e: String| serialization_error(protocol, e);
    for b in &bound.input {
        // Most of the headers an input binds are absent (S3's PutObject binds dozens):
        // passed over before their member is read.
        if b.location == Location::Header && !present.has(b.bit) {
            continue;
        }
        let (name, m) = &shape.members.0[b.index];
        let wire = m.location_name.as_deref().unwrap_or(name);
        let value = match b.location {
            Location::Uri => match labels.iter().find(|(l, _)| *l == wire) {
                Some((_, text)) => xml_read::scalar(model, m, text).map_err(bad)?,
                None => continue,
            },
            Location::Querystring => match query_member(model, m, wire, shape, &bound.query, &query).map_err(bad)? {
                Some(v) => v,
                None => continue,
            },
            Location::Header => match header_member(model, m, b, req.headers).map_err(bad)? {
                Some(v) => v,
                None => continue,
            },
            Location::Headers => {
                let prefix = wire.to_ascii_lowercase();
                let mut map = Map::new();
                for (k, v) in req.headers {
                    let Some(key) = k.as_str().strip_prefix(prefix.as_str()) else { continue };
                    let text = header_text(v);
                    match map.get_mut(key) {
                        // A header sent more than once is one whose values are joined by
                        // commas (RFC 9110), as S3 reads repeated `x-amz-meta-` headers.
                        Some(Value::String(joined)) => {
                            joined.push(',');
                            joined.push_str(&text);
                        }
                        _ => {
                            map.insert(key.to_string(), Value::String(text));
                        }
                    }
                }
                if map.is_empty() {
                    continue;
                }
                Value::Object(map)
            }
            Location::StatusCode => continue,
        };
        out.insert(name.clone(), value);
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
    input: &Shape,
    template_query: &[(String, Option<String>)],
    query: &Query,
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
                template_query.iter().any(|(t, _)| t == k)
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
                    let list = map.entry(k.to_string()).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(items) = list {
                        items.push(Value::String(v.to_string()));
                    }
                } else {
                    map.insert(k.to_string(), Value::String(v.to_string()));
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

fn header_member(
    model: &ServiceModel,
    m: &MemberRef,
    bound: &InputMember,
    headers: &HeaderMap,
) -> Result<Option<Value>, String> {
    let Some(name) = &bound.header else {
        return Ok(None);
    };
    let all = headers.get_all(name);
    let mut values = all.iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let shape = model.shape(&m.shape);
    if shape.kind == ShapeType::List {
        // Lists travel comma-separated, in one header or repeated ones.
        let item = shape.member.as_deref().expect("list shapes have a member");
        let values: Vec<String> = all.iter().map(header_text).collect();
        let items = values
            .iter()
            .flat_map(|v| v.split(','))
            .map(|s| xml_read::scalar(model, item, s.trim()))
            .collect::<Result<_, _>>()?;
        return Ok(Some(Value::Array(items)));
    }
    // A header usually comes once: its value is read in place rather than copied to be joined.
    if values.next().is_none() {
        return xml_read::scalar(model, m, &String::from_utf8_lossy(first.as_bytes())).map(Some);
    }
    let values: Vec<String> = all.iter().map(header_text).collect();
    xml_read::scalar(model, m, &values.join(",")).map(Some)
}

/// Writes the output members bound to headers into `headers`; returns the status code a
/// `statusCode` member sets, if any.
pub(super) fn encode(model: &ServiceModel, shape_name: &str, value: &Value, headers: &mut HeaderMap) -> Option<u16> {
    let obj = value.as_object()?;
    let bound = bindings(model).outputs.get(shape_name)?;
    let shape = model.shape(shape_name);
    // The output's few values pick their members, written in the shape's order: looking
    // each bound member up in the value instead costs a map lookup for each of dozens.
    let mut found: Vec<(usize, &Value)> =
        obj.iter().filter_map(|(k, v)| bound.by_name.get(k.as_str()).map(|&i| (i, v))).collect();
    found.sort_unstable_by_key(|(i, _)| *i);
    let mut status = None;
    for (i, v) in found {
        let b = &bound.members[i];
        let (name, m) = &shape.members.0[b.index];
        let wire = m.location_name.as_deref().unwrap_or(name);
        let member_shape = model.shape(&m.shape);
        match m.location {
            Some(Location::Header) => {
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
                    insert_header(headers, b.header.clone(), wire, text);
                }
            }
            Some(Location::Headers) => {
                for (k, item) in v.as_object().into_iter().flatten() {
                    if let Some(text) = item.as_str() {
                        let name = format!("{wire}{k}");
                        insert_header(headers, HeaderName::try_from(&name).ok(), &name, text.to_string());
                    }
                }
            }
            Some(Location::StatusCode) => status = v.as_u64().and_then(|s| u16::try_from(s).ok()),
            Some(Location::Uri | Location::Querystring) | None => {}
        }
    }
    status
}

fn insert_header(headers: &mut HeaderMap, name: Option<HeaderName>, wire: &str, text: String) {
    match (name, HeaderValue::try_from(text)) {
        (Some(n), Ok(v)) => {
            headers.insert(n, v);
        }
        // A value no HTTP header can carry (a line break in user metadata) is dropped
        // rather than failing the whole response.
        _ => tracing::warn!(header = wire, "output header value is not valid in HTTP; dropped"),
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
        let req = Request { method: &method, uri: &uri, headers: &map, body: &bytes::Bytes::new() };
        let protocol = m.default_protocol();
        resolve(m, protocol, &req).map(|op| op.name.as_str())
    }

    fn check(service: &str, method: &str, uri: &str, expected: &str) {
        assert_eq!(op_for(service, method, uri, &[]).unwrap(), expected, "{method} {uri}");
    }

    #[test]
    fn prefixed_headers_sent_twice_are_joined_by_commas() {
        let m = model("s3").unwrap();
        let (method, uri) = (Method::PUT, "/b/k".parse::<Uri>().unwrap());
        let mut map = HeaderMap::new();
        map.append("x-amz-meta-k", HeaderValue::from_static("a"));
        map.append("x-amz-meta-k", HeaderValue::from_static("b"));
        map.append("x-amz-meta-other", HeaderValue::from_static("c"));
        let req = Request { method: &method, uri: &uri, headers: &map, body: &bytes::Bytes::new() };
        let op = m.operation("PutObject").unwrap();
        let input = crate::codec::decode(m, Protocol::RestXml, op, &req).unwrap().into_tree();
        assert_eq!(input["Metadata"], serde_json::json!({"k": "a,b", "other": "c"}));
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
    fn operations_bind_each_header_and_query_parameter_once() {
        // Resolution counts an operation's members present by their bits, which holds only
        // if no two of its members share one.
        for name in crate::model::MODEL_NAMES {
            let b = bindings(model(name).unwrap());
            for op in &b.ops {
                let bits: Vec<usize> = op.input.iter().filter_map(|m| m.bit).collect();
                let unique: std::collections::BTreeSet<_> = bits.iter().collect();
                assert_eq!(unique.len(), bits.len(), "{name} {}", op.name);
            }
        }
    }

    #[test]
    fn paths_match_templates() {
        let labels = |template: &str, path: &str| {
            path_labels(&segments(template), path)
                .map(|l| l.into_iter().map(|(k, v)| (k.to_string(), v.into_owned())).collect::<Vec<_>>())
        };
        assert_eq!(
            labels("/{Bucket}/{Key+}", "/b/a%20b/c/"),
            Some(vec![("Bucket".into(), "b".into()), ("Key".into(), "a b/c/".into())])
        );
        assert_eq!(labels("/{Bucket}", "/b/"), Some(vec![("Bucket".into(), "b".into())]));
        assert_eq!(labels("/{Bucket}", "/b/c"), None);
        assert_eq!(labels("/{Bucket}/{Key+}", "/b/"), None);
        assert_eq!(labels("/", "/"), Some(vec![]));
        assert_eq!(labels("/", "/b"), None);
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
