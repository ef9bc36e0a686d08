//! Lambda's stored records.

/// The keyspace Lambda's records live in.
pub const KEYSPACE: &str = "lambda";
