//! Browsers' CORS requests to S3: preflight `OPTIONS` answered from the bucket's rules,
//! and the CORS headers added to responses to requests that carry an `Origin`.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};

use brume_core::AwsError;
use brume_core::cors::{CorsDenial, CorsGrant};
use brume_protocol::codec::{self, ResponseBody};
use brume_protocol::{Protocol, model};

use crate::Gateway;

/// The bucket an S3 request addresses, virtual-host or path style.
fn bucket_of(parts: &Parts) -> Option<String> {
    if let Some(b) = brume_auth::s3_virtual_host_bucket(parts) {
        return Some(b.to_string());
    }
    let first = parts.uri.path().trim_start_matches('/').split('/').next()?;
    (!first.is_empty()).then(|| first.to_string())
}

/// `OBJECT` when the request names a key, `BUCKET` otherwise, as S3's CORS errors say.
fn resource_type(parts: &Parts) -> &'static str {
    let path = parts.uri.path().trim_start_matches('/');
    let key = match brume_auth::s3_virtual_host_bucket(parts) {
        Some(_) => path,
        None => path.split_once('/').map_or("", |(_, key)| key),
    };
    if key.is_empty() { "BUCKET" } else { "OBJECT" }
}

fn header(parts: &Parts, name: HeaderName) -> Option<&str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn apply(headers: &mut HeaderMap, grant: &CorsGrant) {
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(ACCESS_CONTROL_ALLOW_ORIGIN, &grant.allow_origin);
    set(ACCESS_CONTROL_ALLOW_METHODS, &grant.allow_methods);
    if let Some(h) = &grant.allow_headers {
        set(ACCESS_CONTROL_ALLOW_HEADERS, h);
    }
    if let Some(h) = &grant.expose_headers {
        set(ACCESS_CONTROL_EXPOSE_HEADERS, h);
    }
    if let Some(age) = grant.max_age {
        set(ACCESS_CONTROL_MAX_AGE, &age.to_string());
    }
    if grant.allow_credentials {
        set(ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    set(VARY, "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
}

impl Gateway {
    /// Answers a preflight request to S3.
    pub(crate) fn preflight(&self, parts: &Parts, request_id: &str) -> Response<ResponseBody> {
        let s3 = model("s3");
        let fail = |err: AwsError| codec::encode_error(s3, Protocol::RestXml, &err, request_id, &parts.method);
        let Some(origin) = header(parts, ORIGIN) else {
            return fail(AwsError::new(400, "BadRequest", "Insufficient information. Origin request header needed."));
        };
        let Some(method) = header(parts, ACCESS_CONTROL_REQUEST_METHOD) else {
            return fail(AwsError::new(400, "BadRequest", "Invalid Access-Control-Request-Method: null"));
        };
        let requested: Vec<String> = header(parts, ACCESS_CONTROL_REQUEST_HEADERS)
            .map(|h| h.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let (Some(policy), Some(bucket)) = (&self.cors, bucket_of(parts)) else {
            return fail(AwsError::new(403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket."));
        };
        match policy.evaluate(&bucket, origin, method, &requested) {
            Ok(grant) => {
                let mut resp = Response::new(codec::full_body(bytes::Bytes::new()));
                *resp.status_mut() = StatusCode::OK;
                apply(resp.headers_mut(), &grant);
                resp
            }
            Err(CorsDenial::NotEnabled) => {
                fail(AwsError::new(403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.")
                    .with_field("Method", method)
                    .with_field("ResourceType", resource_type(parts)))
            }
            Err(CorsDenial::NotAllowed) => fail(
                AwsError::new(
                    403,
                    "AccessForbidden",
                    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
                )
                .with_field("Method", method)
                .with_field("ResourceType", resource_type(parts)),
            ),
        }
    }

    /// Adds the CORS headers the bucket's rules grant to a response to a request with an
    /// `Origin`.
    pub(crate) fn add_cors_headers(&self, parts: &Parts, resp: &mut Response<ResponseBody>) {
        let (Some(policy), Some(origin), Some(bucket)) = (&self.cors, header(parts, ORIGIN), bucket_of(parts)) else {
            return;
        };
        if let Ok(grant) = policy.evaluate(&bucket, origin, parts.method.as_str(), &[]) {
            apply(resp.headers_mut(), &grant);
        }
    }
}

/// True for a browser's preflight request.
pub(crate) fn is_preflight(parts: &Parts) -> bool {
    parts.method == Method::OPTIONS
}
