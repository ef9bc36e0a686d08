//! The one way to declare an operation: a handler taking the caller's context and a typed
//! input, returning a typed output or an [`AwsError`]. Inputs and outputs are serde types
//! read from and written to the canonical value (see [`brume_core::value`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::{self, ServiceModel};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

type Handler = Arc<dyn Fn(RequestContext, Value) -> BoxFuture<Result<Value, AwsError>> + Send + Sync>;

/// A service's operations, ready for the gateway to dispatch to.
pub struct Service {
    pub model_name: &'static str,
    handlers: HashMap<&'static str, Handler>,
}

impl Service {
    pub fn model(&self) -> &'static ServiceModel {
        model::model(self.model_name).expect("services are built on embedded models")
    }

    /// Run operation `name`. An operation of the model that has no handler answers
    /// AWS's not-implemented error.
    pub async fn call(&self, name: &str, ctx: RequestContext, input: Value) -> Result<Value, AwsError> {
        match self.handlers.get(name) {
            Some(h) => h(ctx, input).await,
            None => Err(AwsError::not_implemented(&self.model().metadata.service_id, name)),
        }
    }

    pub fn implements(&self, name: &str) -> bool {
        self.handlers.contains_key(name)
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

impl<S: Send + Sync + 'static> ServiceBuilder<S> {
    /// `model_name` is the botocore service name of an embedded model (`sts`, `s3`).
    pub fn new(model_name: &'static str, state: Arc<S>) -> Self {
        assert!(model::model(model_name).is_some(), "no embedded model named {model_name}");
        ServiceBuilder { state, service: Service { model_name, handlers: HashMap::new() } }
    }

    /// Declare operation `name` of the model, handled by `f`.
    pub fn op<I, O, F, Fut>(mut self, name: &'static str, f: F) -> Self
    where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
        F: Fn(Arc<S>, RequestContext, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, AwsError>> + Send + 'static,
    {
        let model = self.service.model();
        assert!(model.operation(name).is_some(), "{} has no operation {name}", model.metadata.service_id);
        let state = self.state.clone();
        let f = Arc::new(f);
        let handler: Handler = Arc::new(move |ctx, input| {
            let state = state.clone();
            let f = f.clone();
            Box::pin(async move {
                let input: I =
                    serde_json::from_value(input).map_err(|e| AwsError::validation(format!("Invalid input: {e}")))?;
                let output = f(state, ctx, input).await?;
                serde_json::to_value(output).map_err(|e| {
                    tracing::error!(error = %e, "handler output does not serialize");
                    AwsError::internal()
                })
            })
        });
        self.service.handlers.insert(name, handler);
        self
    }

    pub fn build(self) -> Service {
        self.service
    }
}
