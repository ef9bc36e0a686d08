//! Which service a request is for, told apart as AWS endpoints do: the SigV4 credential
//! scope's service name, `X-Amz-Target`, the CBOR path, and `*.localhost` host names.

use std::borrow::Cow;

use http::HeaderName;
use http::request::Parts;

use brume_protocol::codec::{SMITHY_PROTOCOL, X_AMZ_TARGET};
use brume_protocol::registry;

/// The service (embedded model name) a request addresses, or the signing name of a
/// service Brume does not know.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    Service(&'static str),
    /// An unsigned awsQuery request: the service is told by its `Action` once the body
    /// is read (see [`query_service`]).
    UnsignedQuery,
    Unknown(String),
}

/// The awsQuery services, in the order an unsigned request's `Action` is looked up.
const QUERY_SERVICES: &[&str] = &["sts", "sns", "sqs", "iam", "cloudformation", "cloudwatch"];

/// Operations AWS serves without a signature, by service: SNS's SubscribeURL and
/// UnsubscribeURL are plain links an endpoint owner visits, the token or subscription ARN
/// in them being the credential.
const ANONYMOUS_OPERATIONS: &[(&str, &str)] = &[("sns", "ConfirmSubscription"), ("sns", "Unsubscribe")];

/// Whether `operation` of `service` may be called unsigned.
pub fn allows_anonymous(service: &str, operation: &str) -> bool {
    ANONYMOUS_OPERATIONS.iter().any(|(s, o)| *s == service && *o == operation)
}

/// The `Action` of an awsQuery request sent as a plain link (`GET /?Action=...`).
pub fn query_action(parts: &Parts) -> Option<String> {
    if parts.uri.path() != "/" {
        return None;
    }
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "Action").map(|(_, v)| v.into_owned())
}

/// The query service that has operation `action`.
pub fn query_service(action: &str) -> Option<&'static str> {
    QUERY_SERVICES
        .iter()
        .copied()
        .find(|name| brume_protocol::model(name).is_some_and(|m| m.operation(action).is_some()))
}

/// The service name of the credential scope (`Credential=AKID/DATE/REGION/SERVICE/...`),
/// from the `Authorization` header or a presigned URL's `X-Amz-Credential`.
pub fn signing_name(parts: &Parts) -> Option<Cow<'_, str>> {
    let from_header = parts.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|auth| {
        // Signers put the credential first; the search is for the others.
        let after = match auth.strip_prefix("AWS4-HMAC-SHA256 Credential=") {
            Some(after) => after,
            None => auth.split("Credential=").nth(1)?,
        };
        Some(after.split([',', ' ']).next().unwrap_or(""))
    });
    if let Some(credential) = from_header {
        return scope_service(credential).map(Cow::Borrowed);
    }
    let query = parts.uri.query()?;
    let (_, credential) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "X-Amz-Credential")?;
    scope_service(&credential).map(|s| Cow::Owned(s.to_owned()))
}

/// The service field of a credential (`AKID/DATE/REGION/SERVICE/aws4_request`).
fn scope_service(credential: &str) -> Option<&str> {
    credential.split('/').nth(3)
}

/// The first label of a `*.localhost` host that names a service (`sqs.us-east-1.localhost`,
/// `bucket.s3.localhost`), if any.
fn host_name(parts: &Parts) -> Option<&str> {
    let host = parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).or_else(|| parts.uri.host())?;
    Some(
        host.rsplit_once(':').map_or(host, |(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { host }),
    )
}

/// The request target in S3's path style: virtual-host requests get their bucket moved
/// into the path, as the codec's routes expect. Signatures are checked on the original.
pub fn s3_path_style(parts: &Parts) -> Option<http::Uri> {
    let bucket = brume_auth::s3_virtual_host_bucket(parts)?;
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    format!("/{bucket}{path_and_query}").parse().ok()
}

fn host_service(parts: &Parts) -> Option<&'static str> {
    let host = host_name(parts)?;
    let labels: Vec<&str> = host.strip_suffix(".localhost")?.split('.').collect();
    if labels.contains(&"s3") {
        return Some("s3");
    }
    labels.iter().find_map(|l| registry::by_signing_name(l).first().copied())
}

/// Identifies the target service of a request.
pub fn identify(parts: &Parts) -> Target {
    let header = |name: HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(target) = header(X_AMZ_TARGET) {
        let prefix = target.rsplit_once('.').map_or(target, |(p, _)| p);
        if let Some(name) = registry::by_target_prefix(prefix) {
            return Target::Service(name);
        }
    }
    if header(SMITHY_PROTOCOL).is_some()
        && let Some(rest) = parts.uri.path().strip_prefix("/service/")
        && let Some(name) = registry::by_target_prefix(rest.split('/').next().unwrap_or(""))
    {
        return Target::Service(name);
    }
    if let Some(name) = host_service(parts) {
        return Target::Service(name);
    }
    if let Some(signing) = signing_name(parts) {
        return match registry::by_signing_name(&signing) {
            [] => Target::Unknown(signing.into_owned()),
            [one] => Target::Service(one),
            // API Gateway v2 lives under /v2/; DynamoDB Streams is told by its target above.
            many if signing == "apigateway" && parts.uri.path().starts_with("/v2/") => {
                Target::Service(many.iter().find(|n| **n == "apigatewayv2").copied().unwrap_or(many[0]))
            }
            many => Target::Service(many[0]),
        };
    }
    let form = header(http::header::CONTENT_TYPE).is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if (form && parts.method == http::Method::POST) || query_action(parts).is_some_and(|a| query_service(&a).is_some())
    {
        return Target::UnsignedQuery;
    }
    // Unsigned requests with no other mark are S3's (anonymous reads, browser uploads).
    Target::Service("s3")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn identifies_services_as_aws_endpoints_do() {
        let auth = |svc: &str| {
            format!(
                "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/{svc}/aws4_request, SignedHeaders=host, Signature=x"
            )
        };
        assert_eq!(identify(&parts("/", &[("authorization", &auth("sts"))])), Target::Service("sts"));
        assert_eq!(identify(&parts("/", &[("authorization", &auth("ec2"))])), Target::Unknown("ec2".into()));
        assert_eq!(
            identify(&parts(
                "/",
                &[("x-amz-target", "DynamoDBStreams_20120810.ListStreams"), ("authorization", &auth("dynamodb"))]
            )),
            Target::Service("dynamodbstreams")
        );
        assert_eq!(
            identify(&parts(
                "/service/GraniteServiceVersion20100801/operation/ListMetrics",
                &[("smithy-protocol", "rpc-v2-cbor")]
            )),
            Target::Service("cloudwatch")
        );
        assert_eq!(
            identify(&parts("/v2/apis", &[("authorization", &auth("apigateway"))])),
            Target::Service("apigatewayv2")
        );
        assert_eq!(
            identify(&parts("/restapis", &[("authorization", &auth("apigateway"))])),
            Target::Service("apigateway")
        );
        assert_eq!(identify(&parts("/key", &[("host", "bucket.s3.localhost:4566")])), Target::Service("s3"));
        assert_eq!(identify(&parts("/", &[("host", "sqs.us-east-1.localhost:4566")])), Target::Service("sqs"));
        assert_eq!(
            identify(&parts("/b/k?X-Amz-Credential=test%2F20240101%2Fus-east-1%2Fs3%2Faws4_request", &[])),
            Target::Service("s3")
        );
        assert_eq!(identify(&parts("/bucket", &[])), Target::Service("s3"));
        let vh = parts("/dir/key?x=1", &[("host", "my.bucket.s3.localhost:4566")]);
        assert_eq!(brume_auth::s3_virtual_host_bucket(&vh), Some("my.bucket"));
        assert_eq!(s3_path_style(&vh).unwrap(), "/my.bucket/dir/key?x=1");
        assert_eq!(brume_auth::s3_virtual_host_bucket(&parts("/", &[("host", "b.s3.us-west-2.localhost")])), Some("b"));
        assert_eq!(brume_auth::s3_virtual_host_bucket(&parts("/", &[("host", "s3.localhost:4566")])), None);
        assert_eq!(brume_auth::s3_virtual_host_bucket(&parts("/", &[("host", "localhost:4566")])), None);
        let form = [("content-type", "application/x-www-form-urlencoded")];
        let post = http::Request::post("/").header(form[0].0, form[0].1).body(()).unwrap().into_parts().0;
        assert_eq!(identify(&post), Target::UnsignedQuery);
        let link =
            parts("/?Action=ConfirmSubscription&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3At&Token=x", &[]);
        assert_eq!(identify(&link), Target::UnsignedQuery);
        assert_eq!(identify(&parts("/bucket?Action=ConfirmSubscription", &[])), Target::Service("s3"));
        assert!(allows_anonymous("sns", "ConfirmSubscription") && !allows_anonymous("sns", "Publish"));
        assert_eq!(query_service("GetCallerIdentity"), Some("sts"));
        assert_eq!(query_service("Publish"), Some("sns"));
        assert_eq!(query_service("Nothing"), None);
    }
}
