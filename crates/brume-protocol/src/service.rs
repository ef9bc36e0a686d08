//! The one way to declare an operation: a handler taking the caller's context and a typed
//! input, returning a typed output or an [`AwsError`]. Inputs and outputs are serde types
//! read from and written to the canonical value (see [`brume_core::value`]).
//!
//! Operations with a streaming blob payload (S3 object bodies) are declared with
//! [`ServiceBuilder::op_stream`]: the handler also gets the request body as a stream and
//! may answer with a body stream; nothing is buffered.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::codec::{RequestBody, ResponseBody};
use crate::model::{self, ServiceModel};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A typed output with the streamed body of its payload member, if it has one.
pub struct Streamed<O> {
    pub output: O,
    pub body: Option<ResponseBody>,
}

/// What a handler answers, in the canonical form.
pub struct Reply {
    pub output: Value,
    pub body: Option<ResponseBody>,
}

type Handler =
    Arc<dyn Fn(RequestContext, Value, Option<RequestBody>) -> BoxFuture<Result<Reply, AwsError>> + Send + Sync>;

/// A service's operations, ready for the gateway to dispatch to.
pub struct Service {
    pub model_name: &'static str,
    handlers: HashMap<&'static str, Handler>,
}

impl Service {
    pub fn model(&self) -> &'static ServiceModel {
        model::model(self.model_name).expect("services are built on embedded models")
    }

    /// Run operation `name`; `body` is the request body when the operation streams it. An
    /// operation of the model that has no handler answers AWS's not-implemented error.
    pub async fn call(
        &self,
        name: &str,
        ctx: RequestContext,
        input: Value,
        body: Option<RequestBody>,
    ) -> Result<Reply, AwsError> {
        match self.handlers.get(name) {
            Some(h) => h(ctx, input, body).await,
            None => Err(AwsError::not_implemented(&self.model().metadata.service_id, name)),
        }
    }

    /// The implemented operations, sorted (for health output and the compatibility docs).
    pub fn operations(&self) -> Vec<&'static str> {
        let mut ops: Vec<_> = self.handlers.keys().copied().collect();
        ops.sort_unstable();
        ops
    }
}

/// Declares a service's operations over its shared state `S`.
pub struct ServiceBuilder<S> {
    state: Arc<S>,
    service: Service,
}

fn typed_input<I: DeserializeOwned>(input: Value) -> Result<I, AwsError> {
    serde_json::from_value(input).map_err(|e| AwsError::validation(format!("Invalid input: {e}")))
}

fn canonical_output<O: Serialize + 'static>(output: O) -> Result<Value, AwsError> {
    // A handler that built its answer as a JSON tree hands it over as it is: serializing a
    // `Value` into a `Value` copies the whole tree (an eighth of a 100-item Query's time).
    let mut slot = Some(output);
    if let Some(tree) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Value>>().and_then(Option::take) {
        return Ok(tree);
    }
    // `Some(output)` serializes as `output`.
    serde_json::to_value(slot).map_err(|e| {
        tracing::error!(error = %e, "handler output does not serialize");
        AwsError::internal()
    })
}

impl<S: Send + Sync + 'static> ServiceBuilder<S> {
    /// `model_name` is the botocore service name of an embedded model (`sts`, `s3`).
    pub fn new(model_name: &'static str, state: Arc<S>) -> Self {
        assert!(model::model(model_name).is_some(), "no embedded model named {model_name}");
        ServiceBuilder { state, service: Service { model_name, handlers: HashMap::new() } }
    }

    /// Declare operation `name` of the model, handled by `f`.
    pub fn op<I, O, F, Fut>(self, name: &'static str, f: F) -> Self
    where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
        F: Fn(Arc<S>, RequestContext, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, AwsError>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.insert(name, move |state, ctx, input, _body| {
            let f = f.clone();
            async move {
                let output = f(state, ctx, typed_input(input)?).await?;
                Ok(Reply { output: canonical_output(output)?, body: None })
            }
        })
    }

    /// Declare operation `name` whose payload is streamed: `f` gets the request body (for
    /// operations that upload one) and may answer with a body stream.
    pub fn op_stream<I, O, F, Fut>(self, name: &'static str, f: F) -> Self
    where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
        F: Fn(Arc<S>, RequestContext, I, Option<RequestBody>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Streamed<O>, AwsError>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.insert(name, move |state, ctx, input, body| {
            let f = f.clone();
            async move {
                let streamed = f(state, ctx, typed_input(input)?, body).await?;
                Ok(Reply { output: canonical_output(streamed.output)?, body: streamed.body })
            }
        })
    }

    fn insert<F, Fut>(mut self, name: &'static str, f: F) -> Self
    where
        F: Fn(Arc<S>, RequestContext, Value, Option<RequestBody>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Reply, AwsError>> + Send + 'static,
    {
        let model = self.service.model();
        assert!(model.operation(name).is_some(), "{} has no operation {name}", model.metadata.service_id);
        let state = self.state.clone();
        let handler: Handler = Arc::new(move |ctx, input, body| Box::pin(f(state.clone(), ctx, input, body)));
        self.service.handlers.insert(name, handler);
        self
    }

    pub fn build(self) -> Service {
        self.service
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn outputs_become_json_trees_and_trees_pass_through() {
        #[derive(Serialize)]
        struct Typed {
            a: u8,
            b: Option<String>,
        }
        assert_eq!(canonical_output(Typed { a: 1, b: None }).unwrap(), json!({"a": 1, "b": null}));
        assert_eq!(canonical_output(json!({"a": [1, 2]})).unwrap(), json!({"a": [1, 2]}));
        assert_eq!(canonical_output(None::<u8>).unwrap(), Value::Null);
    }
}
