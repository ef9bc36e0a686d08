//! Browser CORS for S3 buckets: preflight `OPTIONS` requests answered from the bucket's
//! CORS rules, and the `Access-Control-*` headers added to cross-origin requests that a
//! rule allows. Neither is an operation of S3's model, so the gateway asks the service for
//! the bucket's rules ([`brume_protocol::Service::cors`]) and speaks the HTTP itself.

use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};

use brume_core::AwsError;
use brume_protocol::codec::{self, ResponseBody};
use brume_protocol::{Cors, CorsRule, Protocol, model};

use crate::{Gateway, route};

const NOT_ALLOWED: &str = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of \
    Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by \
    the resource's CORS spec.";

/// `value` matches `pattern`, whose `*`s match any run of characters (S3 allows one in
/// origins and header names).
fn wildcard_match(pattern: &str, value: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = value.strip_prefix(first) else { return false };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else { return rest.is_empty() };
    for piece in middle {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The first rule allowing `origin` to use `method` with `headers`, as S3 picks it.
fn matching_rule<'a>(rules: &'a [CorsRule], origin: &str, method: &str, headers: &[String]) -> Option<&'a CorsRule> {
    rules.iter().find(|rule| {
        rule.allowed_origins.iter().any(|o| wildcard_match(o, origin))
            && rule.allowed_methods.iter().any(|m| m == method)
            && headers.iter().all(|h| {
                let h = h.to_ascii_lowercase();
                rule.allowed_headers.iter().any(|a| wildcard_match(&a.to_ascii_lowercase(), &h))
            })
    })
}

/// The headers S3 answers a matched rule with; `requested` are the preflight's
/// `Access-Control-Request-Headers`, echoed when allowed.
fn allow_headers(rule: &CorsRule, origin: &str, requested: &[String]) -> Vec<(HeaderName, String)> {
    let mut out = Vec::new();
    if rule.allowed_origins.iter().any(|o| o == "*") {
        out.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".to_string()));
    } else {
        out.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.to_string()));
        out.push((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true".to_string()));
    }
    out.push((header::ACCESS_CONTROL_ALLOW_METHODS, rule.allowed_methods.join(", ")));
    if !requested.is_empty() {
        out.push((header::ACCESS_CONTROL_ALLOW_HEADERS, requested.join(", ")));
    }
    if !rule.expose_headers.is_empty() {
        out.push((header::ACCESS_CONTROL_EXPOSE_HEADERS, rule.expose_headers.join(", ")));
    }
    if let Some(age) = rule.max_age_seconds {
        out.push((header::ACCESS_CONTROL_MAX_AGE, age.to_string()));
    }
    out.push((header::VARY, "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".to_string()));
    out
}

fn header_str<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The bucket a request addresses (path or virtual-host style), and whether it names a key.
fn bucket_and_kind(parts: &Parts) -> (String, &'static str) {
    let uri = route::s3_path_style(parts).unwrap_or_else(|| parts.uri.clone());
    let path = uri.path().trim_start_matches('/');
    match path.split_once('/') {
        Some((bucket, key)) if !key.is_empty() => (bucket.to_string(), "OBJECT"),
        Some((bucket, _)) => (bucket.to_string(), "BUCKET"),
        None => (path.to_string(), "BUCKET"),
    }
}

impl Gateway {
    /// The CORS rules of `bucket`, read through the S3 service.
    async fn s3_cors(&self, bucket: &str) -> Result<Cors, AwsError> {
        match self.service("s3") {
            Some(s3) if !bucket.is_empty() => s3.cors(bucket).await,
            _ => Ok(Cors::NoSuchResource),
        }
    }

    /// Answers a browser's preflight `OPTIONS` request for an S3 bucket or object.
    pub(crate) async fn s3_preflight(&self, parts: &Parts, request_id: &str) -> Response<ResponseBody> {
        let result = async {
            let origin = header_str(&parts.headers, &header::ORIGIN).ok_or_else(|| {
                AwsError::new(400, "BadRequest", "Insufficient information. Origin request header needed.")
            })?;
            let method = header_str(&parts.headers, &header::ACCESS_CONTROL_REQUEST_METHOD)
                .ok_or_else(|| AwsError::new(400, "BadRequest", "Invalid Access-Control-Request-Method: null"))?;
            let requested: Vec<String> = header_str(&parts.headers, &header::ACCESS_CONTROL_REQUEST_HEADERS)
                .map(|h| h.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_string).collect())
                .unwrap_or_default();
            let (bucket, kind) = bucket_and_kind(parts);
            let forbidden =
                |message: &str| AwsError::new(403, "AccessForbidden", message).with_field("Method", method).with_field("ResourceType", kind);
            let rules = match self.s3_cors(&bucket).await? {
                Cors::NoSuchResource => return Err(forbidden("CORSResponse: Bucket not found")),
                Cors::NotConfigured => return Err(forbidden("CORSResponse: CORS is not enabled for this bucket.")),
                Cors::Rules(rules) => rules,
            };
            let rule = matching_rule(&rules, origin, method, &requested).ok_or_else(|| forbidden(NOT_ALLOWED))?;
            let mut resp = Response::new(codec::full_body(""));
            *resp.status_mut() = StatusCode::OK;
            for (name, value) in allow_headers(rule, origin, &requested) {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    resp.headers_mut().insert(name, value);
                }
            }
            if let Ok(id) = HeaderValue::from_str(request_id) {
                resp.headers_mut().insert("x-amz-request-id", id);
            }
            Ok(resp)
        }
        .await;
        result.unwrap_or_else(|err: AwsError| {
            codec::encode_error(model("s3"), Protocol::RestXml, &err, request_id, &parts.method)
        })
    }

    /// Adds the `Access-Control-*` headers to the answer of a cross-origin S3 request when a
    /// rule of its bucket allows its origin and method; otherwise the answer is unchanged.
    pub(crate) async fn add_s3_cors_headers(&self, parts: &Parts, resp: &mut Response<ResponseBody>) {
        let Some(origin) = header_str(&parts.headers, &header::ORIGIN) else { return };
        let (bucket, _) = bucket_and_kind(parts);
        let Ok(Cors::Rules(rules)) = self.s3_cors(&bucket).await else { return };
        let Some(rule) = matching_rule(&rules, origin, parts.method.as_str(), &[]) else { return };
        for (name, value) in allow_headers(rule, origin, &[]) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_wildcard(pattern: &str, value: &str, expected: bool) {
        assert_eq!(wildcard_match(pattern, value), expected, "{pattern} ~ {value}");
    }

    #[test]
    fn wildcards_match_as_s3_does() {
        check_wildcard("*", "https://a.example", true);
        check_wildcard("https://*.example.com", "https://app.example.com", true);
        check_wildcard("https://*.example.com", "https://example.com", false);
        check_wildcard("https://app.example", "https://app.example", true);
        check_wildcard("https://app.example", "https://app.example.org", false);
        check_wildcard("x-amz-*", "x-amz-date", true);
        check_wildcard("a*b*c", "abc", true);
        check_wildcard("a*b*c", "acb", false);
        check_wildcard("ab*ba", "aba", false);
    }

    #[test]
    fn first_rule_allowing_origin_method_and_headers_wins() {
        let rule = |origin: &str, methods: &[&str], headers: &[&str]| CorsRule {
            allowed_origins: vec![origin.into()],
            allowed_methods: methods.iter().map(|m| m.to_string()).collect(),
            allowed_headers: headers.iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        };
        let rules = [rule("https://app.example", &["PUT"], &["Content-Type"]), rule("*", &["GET"], &[])];
        let pick = |origin: &str, method: &str, headers: &[&str]| {
            let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
            matching_rule(&rules, origin, method, &headers).map(|r| r.allowed_origins[0].clone())
        };
        assert_eq!(pick("https://app.example", "PUT", &["content-type"]).as_deref(), Some("https://app.example"));
        assert_eq!(pick("https://app.example", "PUT", &["x-other"]), None);
        assert_eq!(pick("https://other.example", "GET", &[]).as_deref(), Some("*"));
        assert_eq!(pick("https://other.example", "PUT", &[]), None);
        assert_eq!(pick("https://app.example", "get", &[]), None);
    }
}
