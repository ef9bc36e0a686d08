//! Which services this binary serves, and what each is built from.

use std::sync::Arc;

use brume_auth::CredentialStore;
use brume_gateway::Gateway;
use brume_storage::Storage;

/// Registers every built service with the gateway, each with the keyspaces it owns.
/// `endpoint` is the URL clients reach Brume at (queue URLs start with it).
pub fn register(gateway: &mut Gateway, storage: &Storage, credentials: Arc<CredentialStore>, endpoint: &str) {
    gateway.register("sts", &[brume_sts::KEYSPACE], move || brume_sts::service(credentials.clone()));
    let s3_storage = storage.clone();
    gateway.register("s3", &[brume_s3::KEYSPACE], move || brume_s3::service(&s3_storage));
    let kv = storage.kv.clone();
    let endpoint = endpoint.to_string();
    gateway.register("sqs", &[brume_sqs::KEYSPACE], move || brume_sqs::service(kv.clone(), endpoint.clone()));
}
