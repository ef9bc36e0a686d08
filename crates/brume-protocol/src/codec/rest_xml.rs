//! restXml (S3, CloudFront): operations found by method and path, members bound to the
//! URI, query string and headers, and an XML body — the structure `payload` member with
//! its `locationName` as the root element (S3's `<VersioningConfiguration>`), or a blob or
//! string payload sent raw (object bodies).
//!
//! Outputs are written the same way; an output without a payload wraps its body members in
//! a root element that the public models do not name, so S3's names are kept here
//! (botocore ignores the root's name, stricter SDKs and tools do not).

use bytes::Bytes;
use http::StatusCode;
use serde_json::Value;

use brume_core::{AwsError, Fault};

use super::rest_json::{decode_rest, payload_member, raw_body};
use super::xml::{Writer, escape};
use super::{Request, ResponseBody, http_bindings, response, xml_read};
use crate::model::{Operation, Protocol, ServiceModel, ShapeType, XmlNamespace};

const PROTOCOL: Protocol = Protocol::RestXml;
const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const S3_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

pub(super) fn resolve(model: &'static ServiceModel, req: &Request) -> Result<&'static Operation, AwsError> {
    http_bindings::resolve(model, PROTOCOL, req)
}

fn malformed(model: &ServiceModel, detail: &str) -> AwsError {
    if is_s3(model) {
        AwsError::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    } else {
        AwsError::new(400, "MalformedInput", format!("Malformed XML: {detail}"))
    }
}

fn is_s3(model: &ServiceModel) -> bool {
    model.metadata.endpoint_prefix == "s3"
}

pub(super) fn decode(model: &ServiceModel, op: &Operation, req: &Request) -> Result<Value, AwsError> {
    // The root element's name is not checked: S3 accepts any, as clients differ. Body
    // members without a payload (Route 53's style) sit under a root element too.
    decode_rest(model, PROTOCOL, op, req, |shape, body| {
        let root = xml_read::parse(body).map_err(|e| malformed(model, &e))?;
        xml_read::structure(model, shape, &root).map_err(|e| malformed(model, &e))
    })
}

/// The namespace of the service's documents: S3's and CloudFront's are not in the models'
/// metadata.
fn namespace(model: &ServiceModel) -> Option<XmlNamespace> {
    let uri = match (&model.metadata.xml_namespace, model.metadata.endpoint_prefix.as_str()) {
        (Some(ns), _) => ns.clone(),
        (None, "s3") => S3_NAMESPACE.to_string(),
        (None, "cloudfront") => format!("http://cloudfront.amazonaws.com/doc/{}/", model.metadata.api_version),
        (None, _) => return None,
    };
    Some(XmlNamespace { uri: Some(uri), prefix: None })
}

/// The root element S3 wraps an output's body members in, where it is not `{Op}Result`.
fn s3_root(op: &str) -> Option<&'static str> {
    Some(match op {
        "ListBuckets" => "ListAllMyBucketsResult",
        "ListDirectoryBuckets" => "ListAllMyDirectoryBucketsResult",
        "ListObjects" | "ListObjectsV2" => "ListBucketResult",
        "ListObjectVersions" => "ListVersionsResult",
        "CreateMultipartUpload" => "InitiateMultipartUploadResult",
        "DeleteObjects" => "DeleteResult",
        "GetBucketVersioning" => "VersioningConfiguration",
        "GetBucketAcl" | "GetObjectAcl" => "AccessControlPolicy",
        "GetBucketTagging" | "GetObjectTagging" => "Tagging",
        "GetBucketCors" => "CORSConfiguration",
        "GetBucketLifecycle" | "GetBucketLifecycleConfiguration" => "LifecycleConfiguration",
        "GetBucketNotification" | "GetBucketNotificationConfiguration" => "NotificationConfiguration",
        "GetBucketWebsite" => "WebsiteConfiguration",
        "GetBucketLogging" => "BucketLoggingStatus",
        "GetBucketRequestPayment" => "RequestPaymentConfiguration",
        "GetBucketAccelerateConfiguration" => "AccelerateConfiguration",
        "GetObjectAttributes" => "GetObjectAttributesResponse",
        "ListBucketAnalyticsConfigurations" => "ListBucketAnalyticsConfigurationResult",
        "ListBucketInventoryConfigurations" => "ListInventoryConfigurationsResult",
        "ListBucketMetricsConfigurations" => "ListMetricsConfigurationsResult",
        "ListBucketIntelligentTieringConfigurations" => "ListBucketIntelligentTieringConfigurationsOutput",
        _ => return None,
    })
}

fn root_name(model: &ServiceModel, op: &Operation, shape_name: &str) -> String {
    let out_ref = op.output.as_ref();
    if let Some(name) =
        out_ref.and_then(|o| o.location_name.as_deref()).or(model.shape(shape_name).location_name.as_deref())
    {
        return name.to_string();
    }
    if is_s3(model) {
        return s3_root(&op.name).map_or_else(|| format!("{}Result", op.name), str::to_string);
    }
    shape_name.to_string()
}

pub(super) fn encode(
    model: &ServiceModel,
    op: &Operation,
    output: &Value,
) -> Result<http::Response<ResponseBody>, AwsError> {
    let status = op.http.response_code.unwrap_or(200);
    let Some(out_ref) = &op.output else {
        return Ok(response(status, "application/xml", Bytes::new()));
    };
    let ns = || namespace(model);
    let (content_type, body) = match payload_member(model, &out_ref.shape) {
        Some((name, member)) => match (model.shape(&member.shape).kind, output.get(name)) {
            (_, None | Some(Value::Null)) => ("application/xml", Bytes::new()),
            (ShapeType::Structure, Some(v)) => {
                let mut w = Writer::new(model);
                w.out.push_str(XML_DECL);
                let root = member.location_name.as_deref().unwrap_or(name);
                let member_ns = member.xml_namespace.as_ref().or(model.shape(&member.shape).xml_namespace.as_ref());
                w.open(root, member_ns.or(ns().as_ref()), &member.shape, v);
                w.members(&member.shape, v);
                w.close(root);
                ("application/xml", Bytes::from(w.out))
            }
            (_, Some(v)) => ("application/octet-stream", raw_body(model, member, v)?),
        },
        // GetBucketLocation's document is the one element holding the region as text,
        // which botocore reads with a handler of its own.
        None if is_s3(model) && op.name == "GetBucketLocation" => {
            let mut w = Writer::new(model);
            w.out.push_str(XML_DECL);
            w.open("LocationConstraint", ns().as_ref(), "", &Value::Null);
            if let Some(region) = output.get("LocationConstraint").and_then(Value::as_str) {
                escape(region, &mut w.out);
            }
            w.close("LocationConstraint");
            ("application/xml", Bytes::from(w.out))
        }
        None => {
            let shape = model.shape(&out_ref.shape);
            let has_body = shape.members.iter().any(|(_, m)| m.location.is_none());
            if has_body {
                let mut w = Writer::new(model);
                w.out.push_str(XML_DECL);
                let root = root_name(model, op, &out_ref.shape);
                let ns = ns();
                let root_ns = out_ref.xml_namespace.as_ref().or(shape.xml_namespace.as_ref()).or(ns.as_ref());
                w.open(&root, root_ns, &out_ref.shape, output);
                w.members(&out_ref.shape, output);
                w.close(&root);
                ("application/xml", Bytes::from(w.out))
            } else {
                ("application/xml", Bytes::new())
            }
        }
    };
    let mut resp = response(status, content_type, body);
    // The members bound to headers are written last: a `ContentType` member wins over the
    // default.
    if let Some(status) = http_bindings::encode(model, &out_ref.shape, output, resp.headers_mut()) {
        *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    }
    Ok(resp)
}

pub(super) fn encode_error(
    model: Option<&ServiceModel>,
    err: &AwsError,
    request_id: &str,
) -> http::Response<ResponseBody> {
    let mut out = String::from(XML_DECL);
    fn element(name: &str, text: &str, out: &mut String) {
        out.push('<');
        out.push_str(name);
        out.push('>');
        escape(text, out);
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    if model.is_none_or(is_s3) {
        out.push_str("<Error>");
        element("Code", &err.code, &mut out);
        element("Message", &err.message, &mut out);
        for (k, v) in &err.fields {
            element(k, v, &mut out);
        }
        element("RequestId", request_id, &mut out);
        element("HostId", request_id, &mut out);
        out.push_str("</Error>");
    } else {
        out.push_str("<ErrorResponse");
        if let Some(uri) = model.and_then(namespace).and_then(|ns| ns.uri) {
            out.push_str(" xmlns=\"");
            escape(&uri, &mut out);
            out.push('"');
        }
        out.push_str("><Error>");
        element("Type", if err.fault == Fault::Sender { "Sender" } else { "Receiver" }, &mut out);
        element("Code", &err.code, &mut out);
        element("Message", &err.message, &mut out);
        for (k, v) in &err.fields {
            element(k, v, &mut out);
        }
        out.push_str("</Error>");
        element("RequestId", request_id, &mut out);
        out.push_str("</ErrorResponse>");
    }
    response(err.status, "application/xml", out)
}
