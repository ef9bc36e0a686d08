//! Services' own HTTP endpoints on host names `ID.NAME.localhost` or
//! `ID.NAME.REGION.localhost` (Lambda function URLs: `URL_ID.lambda-url.localhost`): the
//! request goes, body read, to the service that registered `NAME`, which answers it as
//! it likes. A request signed with SigV4 is verified first; the endpoint decides what an
//! unsigned or unverifiable one may do.

use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use brume_auth::{PayloadHash, ServiceFamily};
use brume_protocol::codec::{ResponseBody, full_body};
use brume_protocol::endpoint::{Caller, EndpointRequest, HostEndpoint};

use crate::Gateway;

/// The largest request body an endpoint gets (Lambda's 6 MB payload and its envelope).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// `(ID, NAME, REGION)` of an `ID.NAME[.REGION].localhost[:PORT]` host.
fn endpoint_host(parts: &Parts) -> Option<(&str, &str, Option<&str>)> {
    let host = parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok())?;
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let labels: Vec<&str> = host.strip_suffix(".localhost")?.split('.').collect();
    match labels.as_slice() {
        [id, name] => Some((id, name, None)),
        [id, name, region] => Some((id, name, Some(region))),
        _ => None,
    }
}

impl Gateway {
    /// Registers the endpoint that answers `ID.NAME[.REGION].localhost` hosts.
    pub fn register_endpoint(&mut self, name: &'static str, endpoint: HostEndpoint) {
        self.endpoints.insert(name, endpoint);
    }

    /// Answers the request if its host names a registered endpoint; gives the body back
    /// otherwise.
    pub(crate) async fn endpoint(
        &self,
        parts: &Parts,
        body: Incoming,
        request_id: &str,
    ) -> Result<Response<ResponseBody>, Incoming> {
        let Some((id, name, region)) = endpoint_host(parts) else { return Err(body) };
        let Some(endpoint) = self.endpoints.get(name) else { return Err(body) };
        let bytes = match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                let mut response =
                    Response::new(full_body(r#"{"Message":"Request must be smaller than 8388608 bytes"}"#));
                *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                return Ok(response);
            }
        };
        let caller = if parts.headers.contains_key(http::header::AUTHORIZATION) {
            match self.verifier.verify(parts, PayloadHash::Body(&bytes)) {
                Ok(verified) => {
                    let mut ctx = verified.request_context();
                    ctx.request_id = request_id.to_string();
                    Caller::Signed(ctx)
                }
                Err(failure) => Caller::Rejected(failure.to_aws_error(ServiceFamily::of_signing_name(name))),
            }
        } else {
            Caller::Unsigned
        };
        let mut request = Request::new(bytes);
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.headers_mut() = parts.headers.clone();
        let region = region.map_or_else(|| self.settings.region.clone(), str::to_string);
        let id = id.to_string();
        let response =
            endpoint(EndpointRequest { id, caller, request, region, request_id: request_id.to_string() }).await;
        let (head, body) = response.into_parts();
        Ok(Response::from_parts(head, full_body(body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(host: &str) -> Parts {
        Request::get("/").header("host", host).body(()).unwrap().into_parts().0
    }

    #[test]
    fn endpoint_hosts_name_an_id_a_service_and_maybe_a_region() {
        assert_eq!(endpoint_host(&parts("abc.lambda-url.localhost:4566")), Some(("abc", "lambda-url", None)));
        assert_eq!(
            endpoint_host(&parts("abc.lambda-url.eu-west-1.localhost")),
            Some(("abc", "lambda-url", Some("eu-west-1")))
        );
        assert_eq!(endpoint_host(&parts("localhost:4566")), None);
        assert_eq!(endpoint_host(&parts("a.b.c.d.localhost")), None);
        assert_eq!(endpoint_host(&parts("abc.lambda-url.example.com")), None);
    }
}
