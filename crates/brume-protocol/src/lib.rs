//! The AWS wire protocols, driven by the public service models.
//!
//! Only this crate (with the gateway that hosts it) knows HTTP and wire formats. A request
//! is turned into the canonical value of its operation's input ([`brume_core::value`]) by
//! the one codec of its protocol, read from the service's model; the handler's output
//! value, or its [`brume_core::AwsError`], is written back by the same codec. Services
//! declare operations with [`service::ServiceBuilder::op`] and nothing else.

pub mod codec;
pub mod endpoint;
pub mod model;
pub mod registry;
pub mod service;

pub use codec::{RequestBody, ResponseBody, full_body};
pub use model::{Protocol, ServiceModel, model};
pub use service::{Reply, Service, ServiceBuilder, Streamed, Verbatim, WithVerbatim};
