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

use brume_auth::{PayloadHash, PayloadSigning, ServiceFamily};
use brume_core::{AwsError, RequestContext, new_request_id};
use brume_protocol::codec::{self, RequestBody, ResponseBody};
use brume_protocol::model::Operation;
use brume_protocol::service::Input;
use brume_protocol::{Protocol, ServiceModel, model};

use crate::route::{self, Target};
use crate::{Gateway, cors, form_upload, payload};

/// The largest request body buffered for the non-streaming APIs (DynamoDB's 16 MB batch
/// limit and Lambda's 6 MB payload fit under it).
const MAX_BODY: usize = 32 * 1024 * 1024;
/// S3 refuses a request whose header lines add up to more than this.
const MAX_S3_HEADER_SECTION: usize = 8 * 1024;

impl Gateway {
    /// Whatever was queued in the outbox since the count `enqueued` is delivered now, not
    /// at the dispatcher's next poll.
    fn deliver_queued(&self, enqueued: u64) {
        if let Some(d) = &self.dispatcher
            && brume_events::enqueued() != enqueued
        {
            d.notify();
        }
    }

    pub async fn handle(&self, req: Request<Incoming>) -> Response<ResponseBody> {
        let started = Instant::now();
        let request_id = new_request_id();
        let (parts, body) = req.into_parts();
        let enqueued = brume_events::enqueued();
        if let Some(resp) = self.admin(&parts).await {
            // A job run from the admin endpoint (S3's lifecycle) may have queued events.
            self.deliver_queued(enqueued);
            return resp;
        }
        let body = match self.endpoint(&parts, body, &request_id).await {
            Ok(resp) => return resp,
            Err(body) => body,
        };
        let target = route::identify(&parts);
        let is_s3 = target == Target::Service("s3");
        if is_s3 && cors::is_preflight(&parts) {
            return self.preflight(&parts, &request_id);
        }
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
        let mut resp = resp;
        if is_s3 {
            self.add_cors_headers(&parts, &mut resp);
        }
        self.deliver_queued(enqueued);
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
        if *target == Target::Service("s3") {
            // As `name: value\r\n` lines on the wire.
            let header_section: usize = parts.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
            if header_section > MAX_S3_HEADER_SECTION {
                log.service = "s3";
                let err = AwsError::new(
                    400,
                    "RequestHeaderSectionTooLarge",
                    "Your request header section exceeds the maximum allowed size.",
                )
                .with_field("MaxSizeAllowed", MAX_S3_HEADER_SECTION.to_string());
                return codec::encode_error(model("s3"), Protocol::RestXml, &err, request_id, &parts.method);
            }
        }
        if *target == Target::Service("s3")
            && let Some(bucket) = form_upload::form_upload_bucket(parts)
        {
            log.service = "s3";
            log.operation = "PostObject".into();
            return self.form_upload(parts, body, bucket, request_id).await;
        }
        // REST operations are known from the request head: resolve once, and stream the
        // body of those whose payload streams.
        let rest_op = match target {
            Target::Service(name) => rest_operation(name, parts),
            _ => None,
        };
        if let (Target::Service(name), Some(op)) = (target, rest_op)
            && is_streaming(name, op)
        {
            log.service = name;
            log.operation = op.name.clone();
            return self.dispatch_streaming(name, op, parts, body, request_id).await;
        }
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
                let action = form_urlencoded::parse(&body)
                    .find(|(k, _)| k == "Action")
                    .map(|(_, v)| v.into_owned())
                    .or_else(|| route::query_action(parts));
                match action.as_deref().and_then(route::query_service) {
                    Some(name) => name,
                    None => return unknown_service(parts, "query", request_id),
                }
            }
            Target::Unknown(signing) => return unknown_service(parts, signing, request_id),
        };
        log.service = name;
        let model = model(name).expect("routing only names embedded models");
        let uri = codec_uri(name, parts);
        let req = codec::Request { method: &parts.method, uri: &uri, headers: &parts.headers, body: &body };
        let protocol = codec::detect_protocol(model, &req);
        let result = async {
            // An unsigned request reaches only the operations AWS serves unsigned.
            let anonymous = *target == Target::UnsignedQuery
                && codec::resolve(model, protocol, &req).is_ok_and(|op| route::allows_anonymous(name, &op.name));
            let ctx = if anonymous {
                self.anonymous_context(request_id)
            } else {
                self.authenticate(parts, PayloadHash::Body(&body), model, request_id)?.0
            };
            let op = match rest_op {
                Some(op) => op,
                None => codec::resolve(model, protocol, &req)?,
            };
            log.operation = op.name.clone();
            let input = codec::decode(model, protocol, op, &req)?;
            self.call(name, op, protocol, ctx, input, None, request_id).await
        }
        .await;
        self.respond(model, protocol, parts, result, request_id)
    }

    /// Operations whose payload is streamed (S3 uploads) skip buffering: the body goes to
    /// the handler as it arrives, and the service checks what the signature declared of it.
    async fn dispatch_streaming(
        &self,
        name: &'static str,
        op: &'static Operation,
        parts: &Parts,
        body: Incoming,
        request_id: &str,
    ) -> Response<ResponseBody> {
        let model = model(name).expect("routing names embedded models");
        let protocol = model.default_protocol();
        let uri = codec_uri(name, parts);
        let req = codec::Request { method: &parts.method, uri: &uri, headers: &parts.headers, body: &Bytes::new() };
        let result = async {
            let (ctx, signing) = self.authenticate(parts, PayloadHash::NotBuffered, model, request_id)?;
            let input = codec::decode(model, protocol, op, &req)?;
            let body = payload::verified_body(body, &parts.headers, signing)?;
            self.call(name, op, protocol, ctx, input, Some(body), request_id).await
        }
        .await;
        self.respond(model, protocol, parts, result, request_id)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call(
        &self,
        name: &'static str,
        op: &'static Operation,
        protocol: Protocol,
        ctx: RequestContext,
        input: Input,
        body: Option<RequestBody>,
        request_id: &str,
    ) -> Result<Response<ResponseBody>, AwsError> {
        let model = model(name).expect("routing names embedded models");
        let Some(service) = self.service(name) else {
            return Err(AwsError::not_implemented(&model.metadata.service_id, &op.name));
        };
        let reply = service.call(&op.name, ctx, input, body).await?;
        let mut resp = codec::encode(model, protocol, op, &reply.output, &reply.verbatim, reply.body, request_id)?;
        if let Some(status) = reply.status.and_then(|s| http::StatusCode::from_u16(s).ok()) {
            *resp.status_mut() = status;
        }
        Ok(resp)
    }

    fn respond(
        &self,
        model: &ServiceModel,
        protocol: Protocol,
        parts: &Parts,
        result: Result<Response<ResponseBody>, AwsError>,
        request_id: &str,
    ) -> Response<ResponseBody> {
        result.unwrap_or_else(|err| {
            if err.status >= 500 {
                tracing::warn!(request_id, code = %err.code, message = %err.message, "request failed");
            }
            codec::encode_error(Some(model), protocol, &err, request_id, &parts.method)
        })
    }

    fn anonymous_context(&self, request_id: &str) -> RequestContext {
        let mut ctx = RequestContext::new(self.verifier.store().default_account(), self.settings.region.clone());
        ctx.request_id = request_id.to_string();
        ctx.principal = brume_core::Principal::Anonymous;
        ctx
    }

    fn authenticate(
        &self,
        parts: &Parts,
        payload: PayloadHash<'_>,
        model: &ServiceModel,
        request_id: &str,
    ) -> Result<(RequestContext, PayloadSigning), AwsError> {
        let signing_name = model.metadata.signing_name.as_deref().unwrap_or(&model.metadata.endpoint_prefix);
        let buffered = match payload {
            PayloadHash::Body(body) => Some(body),
            PayloadHash::NotBuffered => None,
        };
        let verified = self
            .verifier
            .verify(parts, payload)
            .map_err(|failure| failure.to_aws_error(ServiceFamily::of_signing_name(signing_name)))?;
        // A buffered body must be the one the signature declared.
        if let (PayloadSigning::Declared(declared), Some(body)) = (&verified.payload, buffered)
            && !declared.eq_ignore_ascii_case(&hex_sha256(body))
        {
            return Err(AwsError::new(
                400,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ));
        }
        let mut ctx = verified.request_context();
        ctx.request_id = request_id.to_string();
        if ctx.region.is_empty() {
            ctx.region = self.settings.region.clone();
        }
        Ok((ctx, verified.payload))
    }
}

/// The operation of a REST request, known from its head alone.
fn rest_operation(name: &'static str, parts: &Parts) -> Option<&'static Operation> {
    let model = model(name).expect("routing names embedded models");
    if !matches!(model.default_protocol(), Protocol::RestXml | Protocol::RestJson1) {
        return None;
    }
    let uri = codec_uri(name, parts);
    let req = codec::Request { method: &parts.method, uri: &uri, headers: &parts.headers, body: &Bytes::new() };
    codec::resolve(model, model.default_protocol(), &req).ok()
}

/// True when the operation's input payload is a streaming blob (S3 uploads).
fn is_streaming(name: &'static str, op: &Operation) -> bool {
    let model = model(name).expect("routing names embedded models");
    op.input.as_ref().is_some_and(|i| model.streaming_payload(&i.shape).is_some())
}

/// The request target the codec reads: S3's virtual-host requests in path style.
fn codec_uri(name: &str, parts: &Parts) -> http::Uri {
    if name == "s3"
        && let Some(uri) = route::s3_path_style(parts)
    {
        return uri;
    }
    parts.uri.clone()
}

fn hex_sha256(body: &[u8]) -> String {
    use sha2::Digest as _;
    brume_core::hex(&sha2::Sha256::digest(body))
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
