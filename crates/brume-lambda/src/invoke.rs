//! The Invoke operation: RequestResponse runs the function and answers with its result,
//! Event queues the invocation durably (see [`crate::async_invoke`]) and answers 202,
//! DryRun checks the function can be invoked and answers 204.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use brume_core::value::Blob;
use brume_core::{AwsError, RequestContext};
use brume_protocol::ServiceBuilder;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::executor::{Invocation, Outcome};
use crate::function::Resolved;
use crate::{Lambda, error};

/// The largest synchronous request payload.
const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;

/// The largest client context, base64-encoded.
const MAX_CLIENT_CONTEXT: usize = 3583;

pub(crate) fn ops(builder: brume_protocol::ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    builder.op("Invoke", Lambda::invoke)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvokeInput {
    function_name: String,
    invocation_type: Option<String>,
    log_type: Option<String>,
    client_context: Option<String>,
    qualifier: Option<String>,
    payload: Option<Blob>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvokeOutput {
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    executed_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Blob>,
}

impl Lambda {
    async fn invoke(self: Arc<Self>, ctx: RequestContext, input: InvokeInput) -> Result<InvokeOutput, AwsError> {
        let payload = input.payload.map(|b| b.0).unwrap_or_default();
        let client_context = input.client_context.as_deref().map(decode_client_context).transpose()?;
        let qualifier = input.qualifier.as_deref();
        let kind = input.invocation_type.as_deref().unwrap_or("RequestResponse");
        match kind {
            "RequestResponse" => {}
            "Event" => {
                check_json(&payload)?;
                self.invoke_async(&ctx, &input.function_name, qualifier, payload.into(), client_context).await?;
                return Ok(InvokeOutput::status(202));
            }
            "DryRun" => {
                self.resolve(&ctx.account, &ctx.region, &input.function_name, qualifier).await?;
                return Ok(InvokeOutput::status(204));
            }
            other => {
                return Err(error::invalid_parameter(format!(
                    "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
                )));
            }
        }
        if payload.len() > MAX_SYNC_PAYLOAD {
            return Err(error::request_too_large(format!(
                "Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
            )));
        }
        check_json(&payload)?;
        let tail_logs = match input.log_type.as_deref() {
            None | Some("None") => false,
            Some("Tail") => true,
            Some(other) => {
                return Err(error::invalid_parameter(format!(
                    "1 validation error detected: Value '{other}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]"
                )));
            }
        };
        let invocation = Invocation {
            request_id: ctx.request_id.clone(),
            payload: if payload.is_empty() { Bytes::from_static(b"{}") } else { payload.into() },
            client_context,
            tail_logs,
            ..Default::default()
        };
        let (resolved, outcome) =
            self.invoke_function(&ctx.account, &ctx.region, &input.function_name, qualifier, invocation).await?;
        Ok(InvokeOutput {
            status_code: 200,
            function_error: outcome.function_error.map(|e| e.as_str()),
            log_result: outcome.log_tail.map(|tail| BASE64.encode(tail)),
            executed_version: Some(resolved.spec.version),
            payload: Some(Blob(outcome.payload.to_vec())),
        })
    }

    /// Runs one invocation of `function` at `qualifier` synchronously, as a
    /// RequestResponse Invoke does; the [`Outcome`] carries the function's error, if it
    /// failed. Errors are the caller's: the function does not exist, or it is throttled.
    pub(crate) async fn invoke_function(
        &self,
        account: &str,
        region: &str,
        function: &str,
        qualifier: Option<&str>,
        mut invocation: Invocation,
    ) -> Result<(Resolved, Outcome), AwsError> {
        let resolved = self.resolve(account, region, function, qualifier).await?;
        invocation.invoked_arn = resolved.invoked_arn.clone();
        let outcome = self.executor.invoke(&resolved.spec, invocation).await?;
        Ok((resolved, outcome))
    }
}

impl InvokeOutput {
    fn status(status_code: u16) -> InvokeOutput {
        InvokeOutput { status_code, function_error: None, log_result: None, executed_version: None, payload: None }
    }
}

/// Lambda accepts only JSON documents as events (an empty body stands for `{}`).
fn check_json(payload: &[u8]) -> Result<(), AwsError> {
    if payload.is_empty() {
        return Ok(());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(payload).map(|_| ()).map_err(|e| {
        AwsError::new(400, "InvalidRequestContentException", format!("Could not parse request body into json: {e}"))
            .with_member("Type", serde_json::Value::String("User".into()))
    })
}

/// The JSON text of a base64 client context.
fn decode_client_context(encoded: &str) -> Result<String, AwsError> {
    let invalid = || {
        AwsError::new(
            400,
            "InvalidRequestContentException",
            "Client context must be a valid Base64-encoded JSON object.",
        )
        .with_member("Type", serde_json::Value::String("User".into()))
    };
    if encoded.len() > MAX_CLIENT_CONTEXT {
        return Err(error::invalid_parameter(format!(
            "Client context must be at most {MAX_CLIENT_CONTEXT} bytes (base64-encoded)."
        )));
    }
    let bytes = BASE64.decode(encoded).map_err(|_| invalid())?;
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(_)) => String::from_utf8(bytes).map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_must_be_json() {
        assert!(check_json(b"").is_ok());
        assert!(check_json(b"{\"a\": 1}").is_ok());
        assert!(check_json(b"\"text\"").is_ok());
        let err = check_json(b"not json").unwrap_err();
        assert_eq!((err.status, &*err.code), (400, "InvalidRequestContentException"));
    }

    #[test]
    fn client_contexts_are_base64_json_objects() {
        assert_eq!(decode_client_context(&BASE64.encode("{\"custom\":{}}")).unwrap(), "{\"custom\":{}}");
        assert!(decode_client_context("!!!").is_err());
        assert!(decode_client_context(&BASE64.encode("[1]")).is_err());
    }
}
