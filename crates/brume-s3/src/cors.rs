//! CORS for buckets: the bucket's stored rules matched against a browser's request, first
//! matching rule wins, as S3 evaluates them.

use std::sync::Arc;

use brume_core::cors::{CorsDenial, CorsGrant, CorsPolicy};
use brume_storage::Kv;
use serde::Deserialize;

use crate::table;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Configuration {
    #[serde(rename = "CORSRules")]
    cors_rules: Vec<Rule>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Rule {
    allowed_origins: Vec<String>,
    allowed_methods: Vec<String>,
    allowed_headers: Vec<String>,
    expose_headers: Vec<String>,
    max_age_seconds: Option<u64>,
}

/// `*` matches anything, once, anywhere in the pattern (`https://*.example.com`).
fn wildcard(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(value),
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value[..head.len()].eq_ignore_ascii_case(head)
                && value[value.len() - tail.len()..].eq_ignore_ascii_case(tail)
        }
    }
}

fn grant(rule: &Rule, origin: &str, method: &str, headers: &[String]) -> Option<CorsGrant> {
    let origin_ok = rule.allowed_origins.iter().any(|o| wildcard(o, origin));
    let method_ok = rule.allowed_methods.iter().any(|m| m == method);
    let headers_ok = headers.iter().all(|h| rule.allowed_headers.iter().any(|a| wildcard(a, h)));
    if !(origin_ok && method_ok && headers_ok) {
        return None;
    }
    let any_origin = rule.allowed_origins.iter().any(|o| o == "*");
    Some(CorsGrant {
        allow_origin: if any_origin { "*".into() } else { origin.to_string() },
        allow_methods: rule.allowed_methods.join(", "),
        allow_headers: (!headers.is_empty()).then(|| headers.join(", ")),
        expose_headers: (!rule.expose_headers.is_empty()).then(|| rule.expose_headers.join(", ")),
        max_age: rule.max_age_seconds,
        allow_credentials: !any_origin,
    })
}

/// The CORS rules of S3 buckets, read from their stored configuration.
pub struct BucketCors(pub Arc<dyn Kv>);

impl CorsPolicy for BucketCors {
    fn evaluate(&self, bucket: &str, origin: &str, method: &str, headers: &[String]) -> Result<CorsGrant, CorsDenial> {
        let config = table::get_bucket(self.0.as_ref(), bucket)
            .ok()
            .flatten()
            .and_then(|b| b.config.get("cors").cloned())
            .ok_or(CorsDenial::NotEnabled)?;
        let config: Configuration = serde_json::from_value(config).map_err(|_| CorsDenial::NotEnabled)?;
        config.cors_rules.iter().find_map(|r| grant(r, origin, method, headers)).ok_or(CorsDenial::NotAllowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> Rule {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        Rule {
            allowed_origins: v(origins),
            allowed_methods: v(methods),
            allowed_headers: v(headers),
            ..Default::default()
        }
    }

    #[test]
    fn rules_match_origins_methods_and_headers() {
        let r = rule(&["https://*.example.com"], &["GET", "PUT"], &["content-type", "x-amz-*"]);
        let g = grant(&r, "https://app.example.com", "PUT", &["content-type".into(), "x-amz-date".into()]).unwrap();
        assert_eq!(g.allow_origin, "https://app.example.com");
        assert_eq!(g.allow_methods, "GET, PUT");
        assert!(g.allow_credentials);
        assert!(grant(&r, "https://evil.com", "PUT", &[]).is_none());
        assert!(grant(&r, "https://app.example.com", "DELETE", &[]).is_none());
        assert!(grant(&r, "https://app.example.com", "GET", &["authorization".into()]).is_none());
        let any = rule(&["*"], &["GET"], &[]);
        assert_eq!(grant(&any, "http://x", "GET", &[]).unwrap().allow_origin, "*");
    }
}
