//! Which AWS service a request is for, told apart as AWS endpoints do: the SigV4 signing
//! name, the `X-Amz-Target` prefix, and the protocol. Built from a small generated index so
//! that no model is parsed until its service is used.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceInfo {
    pub signing_name: String,
    pub target_prefix: Option<String>,
    pub protocol: String,
}

/// Every embedded service, by model name.
pub fn index() -> &'static HashMap<String, ServiceInfo> {
    static INDEX: OnceLock<HashMap<String, ServiceInfo>> = OnceLock::new();
    INDEX.get_or_init(|| {
        serde_json::from_str(include_str!("../models/index.json")).expect("the generated index is valid")
    })
}

/// The index turned around, for the lookups every request makes.
struct Lookups {
    by_target_prefix: HashMap<&'static str, &'static str>,
    /// Each list sorted by name.
    by_signing_name: HashMap<&'static str, Vec<&'static str>>,
}

fn lookups() -> &'static Lookups {
    static LOOKUPS: OnceLock<Lookups> = OnceLock::new();
    LOOKUPS.get_or_init(|| {
        let mut services: Vec<(&'static str, &'static ServiceInfo)> =
            index().iter().map(|(name, info)| (name.as_str(), info)).collect();
        services.sort_unstable_by_key(|(name, _)| *name);
        let mut lookups = Lookups { by_target_prefix: HashMap::new(), by_signing_name: HashMap::new() };
        for (name, info) in services {
            if let Some(prefix) = &info.target_prefix {
                lookups.by_target_prefix.entry(prefix.as_str()).or_insert(name);
            }
            lookups.by_signing_name.entry(info.signing_name.as_str()).or_default().push(name);
        }
        lookups
    })
}

/// The service whose `X-Amz-Target` prefix is `prefix` (`DynamoDB_20120810`).
pub fn by_target_prefix(prefix: &str) -> Option<&'static str> {
    lookups().by_target_prefix.get(prefix).copied()
}

/// The services signed with `signing_name`, sorted; several share one (`apigateway` v1 and
/// v2, `dynamodb` and its streams), the caller tells those apart by target or path.
pub fn by_signing_name(signing_name: &str) -> &'static [&'static str] {
    lookups().by_signing_name.get(signing_name).map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_found_by_target_and_signing_name() {
        assert_eq!(by_target_prefix("DynamoDB_20120810"), Some("dynamodb"));
        assert_eq!(by_target_prefix("AmazonSQS"), Some("sqs"));
        assert_eq!(by_signing_name("monitoring"), vec!["cloudwatch"]);
        assert_eq!(by_signing_name("states"), vec!["stepfunctions"]);
        assert_eq!(by_signing_name("apigateway"), vec!["apigateway", "apigatewayv2"]);
        for name in crate::model::MODEL_NAMES {
            assert!(index().contains_key(*name), "{name} is not in the index");
        }
    }
}
