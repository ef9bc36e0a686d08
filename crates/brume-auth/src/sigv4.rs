//! The pure parts of Signature Version 4: the canonical request, the string to sign, the
//! signing key and the signature. No clock, no credentials, no IO.
//!
//! The canonical request is rebuilt from what arrived on the wire (the raw path and query
//! with their original percent-encoding), the way the signer built it before sending.

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

/// The algorithm of SigV4 with HMAC-SHA256, the first line of every string to sign.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Header names read on every signed request, made once: a lookup by `&str` parses the
/// name first.
pub(crate) const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
pub(crate) const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");
pub(crate) const X_AMZ_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");

/// The SHA-256 of an empty payload, in hex.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// How the path becomes the canonical URI.
///
/// S3 signs the path exactly as sent: no dot-segment removal, no second encoding. Every other
/// service signs the normalized path encoded once more (the SDKs encode twice: once to build
/// the URL, once while signing), so the server encodes the raw path again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathRules {
    /// Remove `.`/`..` segments and collapse repeated slashes before encoding.
    pub normalize: bool,
    /// Percent-encode the (already encoded) raw path once more.
    pub encode: bool,
}

impl PathRules {
    pub const S3: PathRules = PathRules { normalize: false, encode: false };
    pub const DEFAULT: PathRules = PathRules { normalize: true, encode: true };

    /// The rules of the service named in the credential scope.
    pub fn for_service(service: &str) -> PathRules {
        if service == "s3" { PathRules::S3 } else { PathRules::DEFAULT }
    }
}

/// Percent-encodes everything except the unreserved characters (`A-Z a-z 0-9 - _ . ~`),
/// and `/` when `keep_slash`, with uppercase hex, as SigV4 requires.
pub fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
            out.push(char::from(b"0123456789ABCDEF"[(b & 15) as usize]));
        }
    }
    out
}

/// The canonical URI of a raw (still percent-encoded) request path.
pub fn canonical_uri(raw_path: &str, rules: PathRules) -> String {
    let path = if rules.normalize { normalize_path(raw_path) } else { raw_path.to_owned() };
    let path = if rules.encode { uri_encode(path.as_bytes(), true) } else { path };
    if path.is_empty() { "/".to_owned() } else { path }
}

/// The canonical URI of an S3 path whose client encoded it differently from SigV4's rules
/// (for example leaving `!` or `'` bare): each segment decoded and encoded again.
pub fn reencoded_uri(raw_path: &str) -> String {
    let segments: Vec<String> = raw_path
        .split('/')
        .map(|segment| uri_encode(&percent_decode_str(segment).collect::<Vec<u8>>(), false))
        .collect();
    let path = segments.join("/");
    if path.is_empty() { "/".to_owned() } else { path }
}

/// RFC 3986 dot-segment removal plus the collapsing of empty segments that the AWS SDKs
/// apply; a trailing slash is kept.
fn normalize_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut normalized = String::with_capacity(path.len());
    if path.starts_with('/') {
        normalized.push('/');
    }
    normalized.push_str(&out.join("/"));
    if path.ends_with('/') && !out.is_empty() {
        normalized.push('/');
    }
    normalized
}

/// The canonical query string: every parameter decoded and encoded again the SigV4 way,
/// sorted by encoded name then value, leaving out the parameters named in `exclude`
/// (`X-Amz-Signature` of presigned requests).
///
/// A bare `+` is a literal plus in RFC 3986 (what AWS's own signers send encoded as `%2B`);
/// `plus_as_space` reads it as a form-encoded space instead, as some older clients meant it.
pub fn canonical_query(raw_query: &str, exclude: &[&str], plus_as_space: bool) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (reencode_component(name, plus_as_space), reencode_component(value, plus_as_space))
        })
        .filter(|(name, _)| !exclude.contains(&name.as_str()))
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(raw_query.len() + 8);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

fn reencode_component(component: &str, plus_as_space: bool) -> String {
    let decoded: Vec<u8> = if plus_as_space && component.contains('+') {
        percent_decode_str(&component.replace('+', " ")).collect()
    } else {
        percent_decode_str(component).collect()
    };
    uri_encode(&decoded, false)
}

/// The canonical headers block: one `name:value\n` line per signed header, in the order of
/// the signed-headers list. Values are trimmed, inner runs of whitespace collapse to one
/// space, repeated headers join with commas. `host` falls back to the URI's authority
/// (HTTP/2 carries it as `:authority`).
pub fn canonical_headers(headers: &HeaderMap, authority: Option<&str>, signed_headers: &[&str]) -> String {
    let mut out = String::with_capacity(256);
    for &name in signed_headers {
        out.push_str(name);
        out.push(':');
        // A scan of the few headers a request has is cheaper than a `get_all` by `&str`,
        // which validates and hashes the name first. It yields one name's values in the
        // order they arrived, as `get_all` does.
        let mut first = true;
        for (_, value) in headers.iter().filter(|(header, _)| header.as_str() == name) {
            if !first {
                out.push(',');
            }
            first = false;
            push_collapsed(&mut out, &header_text(value.as_bytes()));
        }
        if first && name == "host" {
            out.push_str(authority.unwrap_or_default());
        }
        out.push('\n');
    }
    out
}

/// Header bytes as the signer saw them: UTF-8 when they are valid UTF-8 (the Rust, Go and
/// Java SDKs send UTF-8), otherwise Latin-1 (Python's http.client sends `str` headers as
/// Latin-1 while botocore signs their UTF-8 form).
fn header_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.into(),
        Err(_) => bytes.iter().map(|&b| b as char).collect::<String>().into(),
    }
}

fn push_collapsed(out: &mut String, value: &str) {
    let trimmed = value.trim_matches(|c: char| c.is_ascii_whitespace());
    let mut gaps = trimmed.bytes().filter(u8::is_ascii_whitespace);
    // Almost every value is already in canonical form: copy it whole.
    if gaps.all(|b| b == b' ') && !trimmed.contains("  ") {
        out.push_str(trimmed);
        return;
    }
    let mut pending_space = false;
    let mut started = false;
    for c in value.chars() {
        if c.is_ascii_whitespace() {
            pending_space = started;
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
            started = true;
        }
    }
}

/// The six-line canonical request.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    // `concat` sizes the string once; `format!` costs several times as much here.
    [
        method,
        "\n",
        canonical_uri,
        "\n",
        canonical_query,
        "\n",
        canonical_headers,
        "\n",
        signed_headers,
        "\n",
        payload_hash,
    ]
    .concat()
}

/// The string to sign: algorithm, timestamp, credential scope and the canonical request's
/// hash.
pub fn string_to_sign(timestamp: &str, scope: &str, canonical_request: &str) -> String {
    [ALGORITHM, "\n", timestamp, "\n", scope, "\n", &sha256_hex(canonical_request.as_bytes())].concat()
}

/// The signing key derived from the secret and the credential scope.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// The hex signature of a string to sign.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    brume_core::hex(&hmac(signing_key, string_to_sign.as_bytes()))
}

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    brume_core::hex(&Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_the_sdks() {
        for (raw, expected) in [
            ("/", "/"),
            ("", ""),
            ("//", "/"),
            ("//example//", "/example/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./", "/"),
            ("/./example", "/example"),
            ("/a/b/../c/", "/a/c/"),
        ] {
            assert_eq!(normalize_path(raw), expected, "{raw}");
        }
    }

    #[test]
    fn other_services_encode_the_raw_path_again() {
        assert_eq!(canonical_uri("/a%20b/c", PathRules::DEFAULT), "/a%2520b/c");
        assert_eq!(canonical_uri("/a%20b//c", PathRules::S3), "/a%20b//c");
        assert_eq!(canonical_uri("", PathRules::S3), "/");
        assert_eq!(reencoded_uri("/b/it's!"), "/b/it%27s%21");
    }

    #[test]
    fn query_is_sorted_and_reencoded() {
        assert_eq!(canonical_query("b=2&a=&c&a=1", &[], false), "a=&a=1&b=2&c=");
        assert_eq!(canonical_query("k=a+b&s=a%20b", &[], false), "k=a%2Bb&s=a%20b");
        assert_eq!(canonical_query("k=a+b", &[], true), "k=a%20b");
        assert_eq!(canonical_query("X-Amz-Signature=x&a=1", &["X-Amz-Signature"], false), "a=1");
        assert_eq!(canonical_query("%7e=%2f", &[], false), "~=%2F");
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let mut headers = HeaderMap::new();
        headers.append("my-header", "  a   b  c ".parse().unwrap());
        headers.append("my-header", "d".parse().unwrap());
        headers.append("my-header", "e\tf".parse().unwrap());
        assert_eq!(
            canonical_headers(&headers, Some("example.com"), &["host", "my-header"]),
            "host:example.com\nmy-header:a b c,d,e f\n"
        );
        let latin1 = http::HeaderValue::from_bytes(b"caf\xe9").unwrap();
        headers.insert("x-amz-meta-a", latin1);
        assert_eq!(canonical_headers(&headers, None, &["x-amz-meta-a"]), "x-amz-meta-a:café\n");
    }
}
