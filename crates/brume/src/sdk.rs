//! [`AwsSdkClient`] over the gateway's registered services: any operation of any service,
//! called in process with its canonical input, for Step Functions' `aws-sdk` integrations.
//!
//! The gateway is built after the services that hold this client, so it is bound late;
//! calls made before (executions resumed at start-up) wait for it.

use std::sync::{Arc, Weak};

use brume_core::clients::AwsSdkClient;
use brume_core::{AwsError, RequestContext};
use brume_gateway::Gateway;
use brume_protocol::codec::RequestBody;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;

/// The client; [`GatewaySdk::bind`] gives it the gateway once it is built.
pub struct GatewaySdk {
    gateway: tokio::sync::watch::Sender<Option<Weak<Gateway>>>,
    dispatcher: brume_events::Dispatcher,
}

impl GatewaySdk {
    pub fn new(dispatcher: brume_events::Dispatcher) -> Arc<GatewaySdk> {
        Arc::new(GatewaySdk { gateway: tokio::sync::watch::Sender::new(None), dispatcher })
    }

    /// Weak: the gateway owns the services that own this client.
    pub fn bind(&self, gateway: &Arc<Gateway>) {
        self.gateway.send_replace(Some(Arc::downgrade(gateway)));
    }
}

#[async_trait::async_trait]
impl AwsSdkClient for GatewaySdk {
    async fn call(
        &self,
        service: &str,
        operation: &str,
        account: &str,
        region: &str,
        mut input: Value,
    ) -> Result<Value, AwsError> {
        let gateway = {
            let mut bound = self.gateway.subscribe();
            let weak = bound.wait_for(Option::is_some).await.map_err(|_| AwsError::internal())?.clone();
            weak.and_then(|w| w.upgrade()).ok_or_else(AwsError::internal)?
        };
        let unknown =
            || AwsError::new(400, "UnknownOperationException", format!("{service} has no operation {operation}"));
        let service = gateway.service(service).ok_or_else(unknown)?.clone();
        let model = service.model();
        let op = model.operation(operation).ok_or_else(unknown)?;
        let payload = |r: &Option<brume_protocol::model::OperationRef>| {
            r.as_ref().and_then(|r| model.streaming_payload(&r.shape)).map(str::to_string)
        };
        // As the service's front end checks a request: an integration's bad input gets
        // the same error a client's would.
        brume_protocol::codec::check(model, op, &input)?;
        let (streamed_in, streamed_out) = (payload(&op.input), payload(&op.output));
        let body: Option<RequestBody> = match &streamed_in {
            Some(member) => {
                let bytes = match input.as_object_mut().and_then(|o| o.remove(member)) {
                    Some(v) => {
                        serde_json::from_value::<brume_core::value::Blob>(v)
                            .map_err(|e| AwsError::validation(format!("Invalid input: {e}")))?
                            .0
                    }
                    None => Vec::new(),
                };
                Some(Full::new(Bytes::from(bytes)).map_err(|never| match never {}).boxed())
            }
            None => None,
        };
        let ctx = RequestContext::new(account, region);
        let enqueued = brume_events::enqueued();
        let reply = service.call(operation, ctx, input.into(), body).await;
        // Events the call queued (an SNS fan-out) go out now, as after a request.
        if brume_events::enqueued() != enqueued {
            self.dispatcher.notify();
        }
        let (mut output, body) = reply?.into_tree();
        if let (Some(member), Some(body)) = (streamed_out, body) {
            let bytes = body.collect().await.map_err(|_| AwsError::internal())?.to_bytes();
            let blob = serde_json::to_value(brume_core::value::Blob(bytes.to_vec())).unwrap_or_default();
            if !output.is_object() {
                output = Value::Object(serde_json::Map::new());
            }
            output[member] = blob;
        }
        Ok(output)
    }
}
