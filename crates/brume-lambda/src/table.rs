//! Lambda's stored records, in the `lambda` keyspace (keys in the tuple encoding of
//! [`brume_storage::key`]):
//!
//! - `fn/<account>/<region>/f/<name>` → [`Function`]: the function, its `$LATEST`
//!   configuration, tags, resource policy and reserved concurrency
//! - `fn/<account>/<region>/v/<name>/<n>` → [`Config`]: published version `n`
//! - `fn/<account>/<region>/a/<name>/<alias>` → [`Alias`]
//! - `layer/<account>/<region>/l/<name>` → [`Layer`]: the next version number
//! - `layer/<account>/<region>/v/<name>/<n>` → [`LayerVersion`]
//!
//! Code packages are blobs named by the records; each is unpacked once per SHA-256 under
//! the work directory ([`crate::code`]).

use std::collections::BTreeMap;

use brume_storage::key::{self, Element};
use brume_storage::{KeyRange, StorageError};
use serde::{Deserialize, Serialize};

/// The keyspace Lambda's records live in.
pub const KEYSPACE: &str = "lambda";

/// A stored deployment package (a function's code or a layer's content).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// The blob holding the zip.
    pub blob: String,
    /// Base64 of the zip's SHA-256, as Lambda reports `CodeSha256`.
    pub sha256: String,
    pub size: u64,
}

impl Package {
    /// The hex SHA-256, naming the unpacked directory.
    pub fn hex(&self) -> String {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.decode(&self.sha256).unwrap_or_default();
        brume_core::hex(&raw)
    }
}

/// A layer version as a function references it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerRef {
    pub arn: String,
    pub code_size: u64,
    pub package: Package,
}

/// The configuration of one function version (`$LATEST` or a published one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub version: String,
    pub runtime: Option<String>,
    pub role: String,
    pub handler: Option<String>,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    /// `None` when the function was never given an environment.
    pub environment: Option<BTreeMap<String, String>>,
    pub dead_letter_arn: Option<String>,
    pub kms_key_arn: Option<String>,
    pub tracing_mode: String,
    pub layers: Vec<LayerRef>,
    pub architectures: Vec<String>,
    pub ephemeral_storage: u32,
    pub logging: serde_json::Value,
    pub vpc: Option<serde_json::Value>,
    pub code: Package,
    pub revision_id: String,
    /// Lambda's format: `2024-01-01T00:00:00.000+0000`.
    pub last_modified: String,
}

/// A function: its `$LATEST` configuration and what belongs to the function as a whole.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Function {
    pub account: String,
    pub region: String,
    pub name: String,
    pub latest: Config,
    pub tags: BTreeMap<String, String>,
    /// The number the next published version gets.
    pub next_version: u64,
    /// The last published version, which PublishVersion returns again when nothing changed.
    pub last_published: Option<u64>,
    /// The `$LATEST` revision the last published version was made from.
    #[serde(default)]
    pub published_revision: Option<String>,
    pub reserved_concurrency: Option<u32>,
    /// Resource policy statements, by qualifier (`""` for the unqualified function).
    #[serde(default)]
    pub policies: BTreeMap<String, Vec<serde_json::Value>>,
    /// The revision of the policy document, for RevisionId preconditions on permissions.
    #[serde(default)]
    pub policy_revision: String,
}

impl Function {
    pub fn arn(&self) -> String {
        function_arn(&self.region, &self.account, &self.name)
    }
}

/// An alias: a name for a version, optionally splitting traffic with a second one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Alias {
    pub name: String,
    pub function_version: String,
    pub description: String,
    /// Additional version → weight.
    pub routing: BTreeMap<String, f64>,
    pub revision_id: String,
}

/// A layer: the number its next version gets.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Layer {
    pub name: String,
    pub next_version: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerVersion {
    pub name: String,
    pub version: u64,
    pub description: String,
    pub created: String,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
    pub package: Package,
}

pub fn function_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

pub fn layer_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:layer:{name}")
}

fn elements(parts: &[&str]) -> Vec<Element> {
    parts.iter().map(|p| Element::from(*p)).collect()
}

pub fn function_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    key::encode(&elements(&["fn", account, region, "f", name]))
}

pub fn functions_of(account: &str, region: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&elements(&["fn", account, region, "f"])))
}

pub fn version_key(account: &str, region: &str, name: &str, version: u64) -> Vec<u8> {
    let mut k = elements(&["fn", account, region, "v", name]);
    k.push(Element::Int(version as i128));
    key::encode(&k)
}

pub fn versions_of(account: &str, region: &str, name: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&elements(&["fn", account, region, "v", name])))
}

pub fn alias_key(account: &str, region: &str, name: &str, alias: &str) -> Vec<u8> {
    key::encode(&elements(&["fn", account, region, "a", name, alias]))
}

pub fn aliases_of(account: &str, region: &str, name: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&elements(&["fn", account, region, "a", name])))
}

pub fn layer_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    key::encode(&elements(&["layer", account, region, "l", name]))
}

pub fn layers_of(account: &str, region: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&elements(&["layer", account, region, "l"])))
}

pub fn layer_version_key(account: &str, region: &str, name: &str, version: u64) -> Vec<u8> {
    let mut k = elements(&["layer", account, region, "v", name]);
    k.push(Element::Int(version as i128));
    key::encode(&k)
}

/// Every layer version of `account` in `region`.
pub fn layer_versions_in(account: &str, region: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&elements(&["layer", account, region, "v"])))
}

pub fn layer_versions_of(account: &str, region: &str, name: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&elements(&["layer", account, region, "v", name])))
}

pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Engine(format!("corrupt lambda record: {e}")))
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize")
}

/// Now in Lambda's `LastModified` format: `2024-01-01T00:00:00.000+0000`.
pub fn now_lambda() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");
    now.format(&format).unwrap_or_default()
}

pub fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_modified_is_in_lambdas_format() {
        let s = now_lambda();
        assert_eq!(s.len(), "2024-01-01T00:00:00.000+0000".len(), "{s}");
        assert!(s.ends_with("+0000") && s.as_bytes()[10] == b'T', "{s}");
    }

    #[test]
    fn functions_and_their_versions_are_apart() {
        let f = functions_of("1", "r");
        assert!(f.contains(&function_key("1", "r", "a")));
        assert!(!f.contains(&version_key("1", "r", "a", 1)));
        assert!(versions_of("1", "r", "a").contains(&version_key("1", "r", "a", 12)));
        assert!(!versions_of("1", "r", "a").contains(&version_key("1", "r", "ab", 1)));
    }
}
