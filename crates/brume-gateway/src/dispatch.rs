//! The request path: identify, buffer, authenticate, decode, call, encode — with every
//! failure, panics included, answered as an AWS error of the request's protocol.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use bytes::Bytes;
use futures_util::FutureExt as _;
use http::request::Parts;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use brume_core::{AwsError, RequestContext, new_request_id};
use brume_protocol::codec::{self, ResponseBody};
use brume_protocol::{Protocol, ServiceModel, model};

use crate::Gateway;
use crate::route::{self, Target};

/// The largest request body buffered for the non-streaming APIs (DynamoDB's 16 MB batch
/// limit and Lambda's 6 MB payload fit under it).
const MAX_BODY: usize = 32 * 1024 * 1024;

impl Gateway {
    pub async fn handle(&self, req: Request<Incoming>) -> Response<ResponseBody> {
        let started = Instant::now();
        let request_id = new_request_id();
        let (parts, body) = req.into_parts();
        if let Some(resp) = self.admin(&parts).await {
            return resp;
        }
        let target = route::identify(&parts);
        let mut log = AccessLog { service: "", operation: String::new() };
        let outcome =
            AssertUnwindSafe(self.dispatch(&parts, body, &target, &request_id, &mut log)).catch_unwind().await;
        let resp = match outcome {
            Ok(resp) => resp,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(request_id, panic = %what, "handler panicked");
                let model = match target {
                    Target::Service(name) => model(name),
                    _ => None,
                };
                let protocol = model.map(|m| m.default_protocol()).unwrap_or(Protocol::AwsQuery);
                codec::encode_error(model, protocol, &AwsError::internal(), &request_id, &parts.method)
            }
        };
        tracing::info!(
            target: "brume::access",
            request_id,
            method = %parts.method,
            path = parts.uri.path(),
            service = log.service,
            operation = log.operation,
            status = resp.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
        );
        resp
    }

    async fn dispatch(
        &self,
        parts: &Parts,
        body: Incoming,
        target: &Target,
        request_id: &str,
        log: &mut AccessLog,
    ) -> Response<ResponseBody> {
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let err = if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                    AwsError::new(413, "RequestEntityTooLarge", format!("Request body is larger than {MAX_BODY} bytes"))
                } else {
                    AwsError::new(400, "IncompleteBody", "The request body ended before its declared length")
                };
                let model = match target {
                    Target::Service(name) => model(name),
                    _ => None,
                };
                let protocol = model.map_or_else(|| guess_protocol(parts), |m| m.default_protocol());
                return codec::encode_error(model, protocol, &err, request_id, &parts.method);
            }
        };
        let name = match target {
            Target::Service(name) => *name,
            Target::UnsignedQuery => {
                let action = form_urlencoded::parse(&body).find(|(k, _)| k == "Action").map(|(_, v)| v.into_owned());
                match action.as_deref().and_then(route::query_service) {
                    Some(name) => name,
                    None => return unknown_service(parts, "query", request_id),
                }
            }
            Target::Unknown(signing) => return unknown_service(parts, signing, request_id),
        };
        log.service = name;
        let model = model(name).expect("routing only names embedded models");
        let req = codec::Request { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body: &body };
        let protocol = codec::detect_protocol(model, &req);
        match self.call(model, name, protocol, parts, &req, &body, request_id, log).await {
            Ok(resp) => resp,
            Err(err) => {
                if err.status >= 500 {
                    tracing::warn!(request_id, code = %err.code, message = %err.message, "request failed");
                }
                codec::encode_error(Some(model), protocol, &err, request_id, &parts.method)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        model: &'static ServiceModel,
        name: &'static str,
        protocol: Protocol,
        parts: &Parts,
        req: &codec::Request<'_>,
        body: &Bytes,
        request_id: &str,
        log: &mut AccessLog,
    ) -> Result<Response<ResponseBody>, AwsError> {
        let mut ctx = self.authenticate(parts, body, model)?;
        ctx.request_id = request_id.to_string();
        let op = codec::resolve(model, protocol, req)?;
        log.operation = op.name.clone();
        let Some(service) = self.service(name) else {
            return Err(AwsError::not_implemented(&model.metadata.service_id, &op.name));
        };
        let input = codec::decode(model, protocol, op, req)?;
        let output = service.call(&op.name, ctx, input).await?;
        codec::encode(model, protocol, op, &output, request_id)
    }

    fn authenticate(&self, parts: &Parts, body: &Bytes, model: &ServiceModel) -> Result<RequestContext, AwsError> {
        let signing_name = model.metadata.signing_name.as_deref().unwrap_or(&model.metadata.endpoint_prefix);
        let verified = self
            .verifier
            .verify(parts, brume_auth::PayloadHash::Body(body))
            .map_err(|failure| failure.to_aws_error(brume_auth::ServiceFamily::of_signing_name(signing_name)))?;
        let mut ctx = verified.request_context();
        if ctx.region.is_empty() {
            ctx.region = self.settings.region.clone();
        }
        Ok(ctx)
    }
}

fn unknown_service(parts: &Parts, signing: &str, request_id: &str) -> Response<ResponseBody> {
    let err = AwsError::new(501, "NotImplemented", format!("Brume does not serve the {signing} API"));
    codec::encode_error(None, guess_protocol(parts), &err, request_id, &parts.method)
}

struct AccessLog {
    service: &'static str,
    operation: String,
}

/// The protocol to answer an unknown service in, from how the request was written.
fn guess_protocol(parts: &Parts) -> Protocol {
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !header("x-amz-target").is_empty() {
        Protocol::AwsJson1_1
    } else if parts.method == Method::POST && header("content-type").starts_with("application/x-www-form-urlencoded") {
        Protocol::AwsQuery
    } else {
        Protocol::RestXml
    }
}
