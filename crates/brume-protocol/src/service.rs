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
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::codec::{RequestBody, ResponseBody};
use crate::model::{self, ServiceModel};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A typed output with the streamed body of its payload member, if it has one, and the
/// success status when it is not the model's (S3's RestoreObject: `202` for a restore it
/// begins, `200` for one it extends).
pub struct Streamed<O> {
    pub output: O,
    pub body: Option<ResponseBody>,
    pub status: Option<u16>,
}

/// What a handler answers, in the canonical form.
pub struct Reply {
    pub output: Value,
    /// Members of the output handed over as JSON text rather than in `output`.
    pub verbatim: Verbatim,
    pub body: Option<ResponseBody>,
    pub status: Option<u16>,
}

/// Output members whose canonical value is JSON text the handler already has (a stored
/// document answered as it is), by member name. The JSON codecs write the text as it is,
/// without parsing it into a tree and walking that tree to write it again; so it may hold
/// only what the member's wire form and canonical form write alike (no timestamps, no
/// renamed members inside). Other protocols read it into the tree first.
pub type Verbatim = Vec<(&'static str, Box<RawValue>)>;

/// A handler output with [`Verbatim`] members beside its tree.
pub struct WithVerbatim {
    pub output: Value,
    pub verbatim: Verbatim,
}

impl Serialize for WithVerbatim {
    /// Written as one structure: what the output would be with the members in the tree.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let members = self.output.as_object().into_iter().flatten();
        let mut out = serializer.serialize_map(None)?;
        for (name, v) in members {
            out.serialize_entry(name, v)?;
        }
        for (name, json) in &self.verbatim {
            out.serialize_entry(name, json)?;
        }
        out.end()
    }
}

impl Reply {
    /// The output with its verbatim members read into the tree, for whoever needs the
    /// whole canonical value.
    pub fn into_tree(self) -> (Value, Option<ResponseBody>) {
        (with_verbatim(self.output, &self.verbatim), self.body)
    }
}

/// `output` with `verbatim`'s members read into it.
pub(crate) fn with_verbatim(mut output: Value, verbatim: &[(&'static str, Box<RawValue>)]) -> Value {
    if verbatim.is_empty() {
        return output;
    }
    if !output.is_object() {
        output = Value::Object(serde_json::Map::new());
    }
    for (name, json) in verbatim {
        // The text is JSON by construction: a `RawValue` only holds valid JSON.
        output[*name] = serde_json::from_str(json.get()).unwrap_or_default();
    }
    output
}

/// An operation's input as its codec read it.
pub enum Input {
    /// The canonical value.
    Tree(Value),
    /// A JSON body whose text is its canonical value as it stands, checked against the
    /// model: the handler's input type is read straight from it, with no tree in between.
    Json(Bytes),
}

impl Input {
    /// The canonical value, a text read into its tree.
    pub fn into_tree(self) -> Value {
        match self {
            Input::Tree(tree) => tree,
            // The text was read as JSON when it was checked against the model.
            Input::Json(text) => serde_json::from_slice(&text).unwrap_or_default(),
        }
    }
}

impl From<Value> for Input {
    fn from(value: Value) -> Self {
        Input::Tree(value)
    }
}

type Handler =
    Arc<dyn Fn(RequestContext, Input, Option<RequestBody>) -> BoxFuture<Result<Reply, AwsError>> + Send + Sync>;

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
        input: Input,
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

fn typed_input<I: DeserializeOwned>(input: Input) -> Result<I, AwsError> {
    // A text the type does not take is read again through its tree, for the same error as
    // ever (a text's errors name lines and columns) and the same answer to a text that
    // repeats a key (the tree keeps the last).
    if let Input::Json(text) = &input
        && let Ok(typed) = serde_json::from_slice(text)
    {
        return Ok(typed);
    }
    serde_json::from_value(input.into_tree()).map_err(|e| AwsError::validation(format!("Invalid input: {e}")))
}

fn canonical_output<O: Serialize + 'static>(output: O) -> Result<(Value, Verbatim), AwsError> {
    // A handler that built its answer as a JSON tree hands it over as it is: serializing a
    // `Value` into a `Value` copies the whole tree (an eighth of a 100-item Query's time).
    let mut slot = Some(output);
    let any = &mut slot as &mut dyn Any;
    if let Some(tree) = any.downcast_mut::<Option<Value>>().and_then(Option::take) {
        return Ok((tree, Vec::new()));
    }
    if let Some(with) = any.downcast_mut::<Option<WithVerbatim>>().and_then(Option::take) {
        return Ok((with.output, with.verbatim));
    }
    // `Some(output)` serializes as `output`.
    let tree = serde_json::to_value(slot).map_err(|e| {
        tracing::error!(error = %e, "handler output does not serialize");
        AwsError::internal()
    })?;
    Ok((tree, Vec::new()))
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
                let (output, verbatim) = canonical_output(f(state, ctx, typed_input(input)?).await?)?;
                Ok(Reply { output, verbatim, body: None, status: None })
            }
        })
    }

    /// Declare operation `name` whose payload is streamed, or whose success status is its
    /// own: `f` gets the request body (for operations that upload one) and answers a
    /// [`Streamed`].
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
                let (output, verbatim) = canonical_output(streamed.output)?;
                Ok(Reply { output, verbatim, body: streamed.body, status: streamed.status })
            }
        })
    }

    fn insert<F, Fut>(mut self, name: &'static str, f: F) -> Self
    where
        F: Fn(Arc<S>, RequestContext, Input, Option<RequestBody>) -> Fut + Send + Sync + 'static,
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
        #[derive(serde::Serialize)]
        struct Typed {
            a: u8,
            b: Option<String>,
        }
        assert_eq!(canonical_output(Typed { a: 1, b: None }).unwrap().0, json!({"a": 1, "b": null}));
        assert_eq!(canonical_output(json!({"a": [1, 2]})).unwrap().0, json!({"a": [1, 2]}));
        assert_eq!(canonical_output(None::<u8>).unwrap().0, Value::Null);
    }

    #[test]
    fn inputs_read_from_text_as_from_their_tree() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        #[serde(rename_all = "PascalCase")]
        struct Typed {
            name: String,
            limit: Option<u8>,
        }
        let text = |s: &'static str| Input::Json(Bytes::from_static(s.as_bytes()));
        let typed = typed_input::<Typed>(text(r#"{"Name": "n", "Limit": 3}"#)).unwrap();
        assert_eq!(typed, Typed { name: "n".into(), limit: Some(3) });
        // A repeated key: the tree keeps the last, where the type alone would refuse it.
        let typed = typed_input::<Typed>(text(r#"{"Name": "a", "Name": "b"}"#)).unwrap();
        assert_eq!(typed, Typed { name: "b".into(), limit: None });
        // The same error, with no line or column, as from the tree.
        let from_text = typed_input::<Typed>(text(r#"{"Name": "n", "Limit": 300}"#)).unwrap_err();
        let from_tree = typed_input::<Typed>(Input::Tree(json!({"Name": "n", "Limit": 300}))).unwrap_err();
        assert_eq!(from_text.message, from_tree.message);
        assert!(from_text.message.starts_with("Invalid input: invalid value: integer `300`"), "{}", from_text.message);
    }

    #[test]
    fn verbatim_members_stay_text_until_a_tree_is_needed() {
        let raw = || RawValue::from_string(r#"{"k":{"S":"v"}}"#.to_string()).unwrap();
        let with = WithVerbatim { output: json!({"a": 1}), verbatim: vec![("Item", raw())] };
        let (output, verbatim) = canonical_output(with).unwrap();
        assert_eq!((&output, verbatim[0].1.get()), (&json!({"a": 1}), r#"{"k":{"S":"v"}}"#));
        let whole = json!({"a": 1, "Item": {"k": {"S": "v"}}});
        assert_eq!(Reply { output, verbatim, body: None, status: None }.into_tree().0, whole);
        let typed = |w| serde_json::to_value(w).unwrap();
        assert_eq!(typed(WithVerbatim { output: json!({"a": 1}), verbatim: vec![("Item", raw())] }), whole);
    }
}
