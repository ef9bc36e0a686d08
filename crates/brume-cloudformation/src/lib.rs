//! AWS CloudFormation (awsQuery) for Brume: a template's resources created, updated and
//! deleted in dependency order through the services' own operations.
//!
//! - [`template`]: the template language as pure functions (parsing JSON and YAML with the
//!   short-form tags, parameters, conditions, intrinsic functions, dependencies, outputs).
//! - [`provider`]: one provider per resource type, calling the owning service through
//!   [`brume_core::clients::AwsSdkClient`], never its storage.

pub mod provider;
pub mod template;
