//! S3's Signature Version 2, which S3 still accepts and which boto3 and the AWS CLI use for
//! presigned URLs in us-east-1 (`?AWSAccessKeyId=…&Signature=…&Expires=…`), and for
//! requests signed with `Authorization: AWS key:signature`.
//!
//! The string to sign is `METHOD\nContent-MD5\nContent-Type\nDate-or-Expires\n`, the
//! `x-amz-*` headers (`name:value\n`, sorted), then the resource: the path-style path as
//! sent and the sub-resources of the query that S3 signs.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::HeaderName;
use http::request::Parts;
use percent_encoding::percent_decode_str;

use crate::sigv4::{X_AMZ_DATE, X_AMZ_SECURITY_TOKEN};

/// The query parameters that are part of the signed resource.
const SUB_RESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// A request signed with Signature Version 2.
pub(crate) struct V2 {
    pub access_key_id: String,
    pub signature: String,
    /// The `Expires` of a presigned URL (Unix seconds); `None` for a signed header.
    pub expires: Option<String>,
    pub session_token: Option<String>,
}

fn query_params(parts: &Parts) -> Vec<(String, String)> {
    let query = parts.uri.query().unwrap_or_default();
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect()
}

/// The V2 signature of a request, if it carries one.
pub(crate) fn detect(parts: &Parts) -> Option<V2> {
    let header = |name: HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let token = || header(X_AMZ_SECURITY_TOKEN).map(str::to_string);
    if let Some(auth) = header(http::header::AUTHORIZATION)
        && let Some(rest) = auth.strip_prefix("AWS ")
    {
        let (key, sig) = rest.rsplit_once(':')?;
        return Some(V2 {
            access_key_id: key.trim().to_string(),
            signature: sig.trim().to_string(),
            expires: None,
            session_token: token(),
        });
    }
    let params = query_params(parts);
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    Some(V2 {
        access_key_id: param("AWSAccessKeyId")?,
        signature: param("Signature")?,
        expires: Some(param("Expires")?),
        session_token: param("x-amz-security-token").or_else(token),
    })
}

/// The string a V2 signature signs. `bucket` is the bucket of a virtual-host request,
/// which the signed resource names as if the request were path-style.
pub(crate) fn string_to_sign(parts: &Parts, v2: &V2, bucket: Option<&str>) -> String {
    let params = query_params(parts);
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let header = |name: &str| {
        parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::trim).collect::<Vec<_>>().join(",")
    };
    // A presigned URL carries the headers that were signed in its query (as botocore
    // writes them); a request may also send them as headers.
    let standard = |name: &str| param(name).unwrap_or_else(|| header(name));
    let date = match &v2.expires {
        Some(expires) => expires.clone(),
        None if parts.headers.contains_key(X_AMZ_DATE) => String::new(),
        None => header("date"),
    };
    let mut amz: Vec<(String, String)> = parts
        .headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| k.starts_with("x-amz-"))
        .map(|k| (k.to_string(), header(k)))
        .collect();
    if v2.expires.is_some() {
        for (k, v) in &params {
            let lower = k.to_ascii_lowercase();
            if lower.starts_with("x-amz-") && !amz.iter().any(|(n, _)| *n == lower) {
                amz.push((lower, v.clone()));
            }
        }
    }
    amz.sort();
    let mut out = format!("{}\n{}\n{}\n{}\n", parts.method, standard("content-md5"), standard("content-type"), date);
    for (k, v) in amz {
        out.push_str(&format!("{k}:{v}\n"));
    }
    if let Some(b) = bucket {
        out.push('/');
        out.push_str(b);
    }
    out.push_str(parts.uri.path());
    let mut subs: Vec<(String, String)> =
        params.into_iter().filter(|(k, _)| SUB_RESOURCES.contains(&k.as_str())).collect();
    subs.sort_by(|a, b| a.0.cmp(&b.0));
    if !subs.is_empty() {
        let raw_query = parts.uri.query().unwrap_or_default();
        let joined: Vec<String> = subs
            .iter()
            .map(|(k, v)| {
                // A sub-resource sent without `=` is signed without one.
                let bare = raw_query.split('&').any(|p| p == k);
                if bare && v.is_empty() { k.clone() } else { format!("{k}={v}") }
            })
            .collect();
        out.push('?');
        out.push_str(&joined.join("&"));
    }
    out
}

/// Base64 of HMAC-SHA1 over the string to sign.
pub(crate) fn sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    // The example of AWS's "Signing and authenticating REST requests" (Signature Version 2).
    #[test]
    fn aws_documentation_example_get_object() {
        let p = parts(
            "GET",
            "/photos/puppy.jpg",
            &[("host", "awsexamplebucket1.us-west-1.s3.amazonaws.com"), ("date", "Tue, 27 Mar 2007 19:36:42 +0000")],
        );
        let v2 = V2 {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            signature: String::new(),
            expires: None,
            session_token: None,
        };
        let sts = string_to_sign(&p, &v2, Some("awsexamplebucket1"));
        assert_eq!(sts, "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg");
        assert_eq!(sign("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &sts), "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
    }

    #[test]
    fn presigned_query_with_sub_resources() {
        let p = parts("GET", "/b/a%20b?versionId=v1&AWSAccessKeyId=test&Signature=x&Expires=100&uploads", &[]);
        let v2 = detect(&p).unwrap();
        assert_eq!(v2.expires.as_deref(), Some("100"));
        assert_eq!(string_to_sign(&p, &v2, None), "GET\n\n\n100\n/b/a%20b?uploads&versionId=v1");
    }
}
