//! What a service's own HTTP endpoint gets and answers (Lambda function URLs, later API
//! Gateway stages and CloudFront distributions): the gateway routes requests for
//! `ID.NAME[.REGION].localhost` hosts to the endpoint registered for `NAME`, body read and
//! signature checked, and sends back the response as the endpoint built it.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use bytes::Bytes;
use http::{Request, Response};

use crate::service::BoxFuture;

/// The caller as the signature says, when the request was signed.
pub enum Caller {
    Unsigned,
    Signed(RequestContext),
    /// Signed, but the signature does not verify: the error AWS would answer.
    Rejected(AwsError),
}

/// What an endpoint gets: the `ID` label of the host, the caller, and the request.
pub struct EndpointRequest {
    pub id: String,
    pub caller: Caller,
    pub request: Request<Bytes>,
    /// The region of the host name, or Brume's.
    pub region: String,
    pub request_id: String,
}

/// An endpoint: answers one request.
pub type HostEndpoint = Arc<dyn Fn(EndpointRequest) -> BoxFuture<Response<Bytes>> + Send + Sync>;
