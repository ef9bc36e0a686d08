//! Which services this binary serves, and what each is built from.

use std::sync::Arc;

use brume_auth::CredentialStore;
use brume_gateway::Gateway;
use brume_storage::Storage;

/// Registers every built service with the gateway, each with the keyspaces it owns.
pub fn register(gateway: &mut Gateway, storage: &Storage, credentials: Arc<CredentialStore>) {
    gateway.register("sts", &[brume_sts::KEYSPACE], move || brume_sts::service(credentials.clone()));
    let storage = storage.clone();
    gateway.register("s3", &[brume_s3::KEYSPACE], move || brume_s3::service(&storage));
}
