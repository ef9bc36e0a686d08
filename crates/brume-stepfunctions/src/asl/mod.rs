//! The Amazon States Language as pure functions: what the engine asks of a definition and
//! of the data flowing through it. No IO and no clock: randomness and time come in as
//! arguments, so every function is tested with tables of inputs and expected outputs.
//!
//! Data flow through a state, in AWS's order: [`input_path`] → [`parameters`] (Task,
//! Parallel, Map, Pass) → the state's work → [`parameters`] again as ResultSelector →
//! [`result_path`] → [`input_path`] again as OutputPath. `context` is the context object `$$`
//! the engine builds (Execution, State, StateMachine, Task, Map.Item).
//!
//! Failure causes: a [`Failure`]'s cause is the part of AWS's cause that follows the state
//! (`Invalid path '$.missing' : No results for path: $['missing']`); the engine prefixes
//! `An error occurred while executing the state '<name>' (entered at the event id #<n>). `
//! for the failures raised while processing a state's data (`States.Runtime`,
//! `States.ResultPathMatchFailure`). `States.NoChoiceMatched` and the Retry/Catch results are
//! complete as returned.

mod choice;
mod flow;
mod intrinsics;
mod path;
mod retry;
mod template;
mod validate;

pub use choice::{choose_by, string_matches, timestamp};
pub use flow::{Flow, Language, Outcome, QUERY_EVALUATION_ERROR};
pub use intrinsics::random_in_range;
pub use retry::{ALL, TASK_FAILED, error_matches};
pub use validate::{
    INVALID_JSON_DESCRIPTION, INVALID_STATE_NAME, MISSING_END_STATE, MISSING_TRANSITION_TARGET,
    SCHEMA_VALIDATION_FAILED, parse_definition,
};

use std::borrow::Cow;
use std::sync::Arc;

use path::{Path, Root};
use serde_json::{Map, Value};

/// `States.Runtime`: a path found nothing or could not be applied; never retried or caught.
pub const RUNTIME: &str = "States.Runtime";
/// `States.ResultPathMatchFailure`: ResultPath could not place the result in the input.
pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";

/// A failure as ASL names it: the error (`States.Runtime`, `States.NoChoiceMatched`, a
/// task's own error name…) and its cause, matched by Retry and Catch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    pub cause: String,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Failure {
        Failure { error: error.into(), cause: cause.into() }
    }
}

/// What paths select from besides the state's input: the context object (`$$`) and the
/// workflow variables in scope (`$name`).
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub context: Value,
    pub variables: Arc<Map<String, Value>>,
    /// `$$.Execution.Input`, kept out of `context` and shared: it is only copied into the
    /// context object for the paths that read it.
    pub execution_input: Option<Arc<Value>>,
}

impl Scope {
    /// A scope without variables.
    pub fn new(context: Value) -> Scope {
        Scope { context, variables: Arc::default(), execution_input: None }
    }

    /// The whole context object, with the execution's input.
    pub fn full_context(&self) -> Cow<'_, Value> {
        match (&self.execution_input, self.context.get("Execution")) {
            (Some(input), Some(Value::Object(_))) => {
                let mut context = self.context.clone();
                context["Execution"]["Input"] = (**input).clone();
                Cow::Owned(context)
            }
            _ => Cow::Borrowed(&self.context),
        }
    }

    /// The value `path` starts from; the error is why there is none (an unassigned variable).
    fn root<'a>(&'a self, path: &Path, input: &'a Value) -> Result<Cow<'a, Value>, String> {
        match &path.root {
            Root::Input => Ok(Cow::Borrowed(input)),
            Root::Context => {
                let elsewhere = path.segments.first().is_some_and(|first| {
                    !first.deep && matches!(&first.selector, path::Selector::Name(name) if name != "Execution")
                });
                Ok(if elsewhere { Cow::Borrowed(&self.context) } else { self.full_context() })
            }
            Root::Variable(name) => self
                .variables
                .get(name)
                .map(Cow::Borrowed)
                .ok_or_else(|| format!("The variable '{name}' has not been assigned")),
        }
    }

    /// What `path` selects; the error is Jayway's reason or [`Scope::root`]'s.
    fn evaluate(&self, path: &Path, input: &Value) -> Result<Value, String> {
        path.evaluate(&*self.root(path, input)?)
    }
}

/// One finding of [`validate`], as ValidateStateMachineDefinition reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// `ERROR` or `WARNING`.
    pub severity: String,
    /// `SCHEMA_VALIDATION_FAILED`, `INVALID_JSON_DESCRIPTION`, …
    pub code: String,
    pub message: String,
    /// Where, as AWS writes it: `/States/MyState/Next`.
    pub location: String,
}

/// Checks a definition as CreateStateMachine does; the errors found, if any.
pub fn validate(definition: &Value) -> Vec<Diagnostic> {
    validate::validate(definition)
}

/// The message of CreateStateMachine's `InvalidDefinition` for these errors
/// (`Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: … at /States/…'`).
pub fn invalid_definition_message(errors: &[Diagnostic]) -> String {
    validate::invalid_definition_message(errors)
}

/// InputPath or OutputPath: `None` (field absent) selects `$`, JSON `null` gives `{}`,
/// a path string selects from `input` (or from `scope`).
pub fn input_path(path: Option<&Value>, input: &Value, scope: &Scope) -> Result<Value, Failure> {
    match path {
        None => Ok(input.clone()),
        Some(Value::Null) => Ok(Value::Object(serde_json::Map::new())),
        Some(Value::String(path)) => select(path, input, scope),
        Some(other) => Err(Failure::new(RUNTIME, format!("Invalid path '{other}' : the path must be a string"))),
    }
}

/// Parameters, ItemSelector, ResultSelector and Pass/Task payload templates: `key.$`
/// fields replaced by the path's value or the intrinsic function's result.
pub fn parameters(template: &Value, input: &Value, scope: &Scope) -> Result<Value, Failure> {
    template::apply(template, input, scope)
}

/// ResultPath: where `result` goes in `input` (`None`: `$`, replacing it; JSON `null`:
/// discarded, `input` kept).
pub fn result_path(path: Option<&Value>, input: &Value, result: Value) -> Result<Value, Failure> {
    let text = match path {
        None => return Ok(result),
        Some(Value::Null) => return Ok(input.clone()),
        Some(Value::String(text)) => text.as_str(),
        Some(other) => {
            return Err(Failure::new(RUNTIME, format!("Invalid path '{other}' : the path must be a string")));
        }
    };
    let parsed =
        Path::parse(text).map_err(|reason| Failure::new(RUNTIME, format!("Invalid path '{text}' : {reason}")))?;
    path::place(&parsed, input, result).map_err(|()| {
        Failure::new(RESULT_PATH_MATCH_FAILURE, format!("Unable to apply ReferencePath {text} to input {input}"))
    })
}

/// The value a reference path (`$.a.b[2]`, `$$.Execution.Id`) selects: ItemsPath,
/// SecondsPath, TimestampPath, `*Path` comparisons, ErrorPath, CausePath. An intrinsic
/// function call (`States.Format('{}', $.a)`, which ErrorPath and CausePath allow) is
/// evaluated instead.
pub fn select(path: &str, input: &Value, scope: &Scope) -> Result<Value, Failure> {
    if path.starts_with("States.") {
        return intrinsics::run(path, input, scope);
    }
    let parsed =
        Path::parse(path).map_err(|reason| Failure::new(RUNTIME, format!("Invalid path '{path}' : {reason}")))?;
    scope.evaluate(&parsed, input).map_err(|reason| Failure::new(RUNTIME, format!("Invalid path '{path}' : {reason}")))
}

/// A Choice state's next state for `input`: the first rule of `choices` that matches,
/// else `default`, else `States.NoChoiceMatched`.
pub fn choose<'a>(
    choices: &'a [Value],
    default: Option<&str>,
    input: &Value,
    scope: &Scope,
) -> Result<(String, Option<&'a Value>), Failure> {
    choice::choose(choices, default, input, scope)
}

/// Whether a state's Retry retries `error`, and after how long (milliseconds). `attempts`
/// holds how many times each retrier has retried so far (grown to `retriers.len()` and
/// updated here); `random` in [0, 1) is used by `JitterStrategy: FULL`.
pub fn retry_delay(retriers: &[Value], error: &str, attempts: &mut Vec<u32>, random: f64) -> Option<u64> {
    retry::retry_delay(retriers, error, attempts, random)
}

/// The Catch that catches `error`: its Next state and the catcher.
pub fn catch<'a>(catchers: &'a [Value], error: &str) -> Option<(String, &'a Value)> {
    retry::catch(catchers, error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The value, or the failure's error and cause.
    type Expected = Result<Value, (&'static str, &'static str)>;

    fn check<T: std::fmt::Debug + PartialEq>(got: Result<T, Failure>, expected: Result<T, (&str, &str)>) {
        assert_eq!(got, expected.map_err(|(e, c)| Failure::new(e, c)));
    }

    #[test]
    fn input_and_output_paths() {
        let context = Scope::new(json!({"Execution": {"Id": "arn:x"}}));
        let input = json!({"a": {"b": 1}, "l": [{"v": 1}, {"v": 2}]});
        let cases: Vec<(Option<Value>, Expected)> = vec![
            (None, Ok(input.clone())),
            (Some(json!(null)), Ok(json!({}))),
            (Some(json!("$")), Ok(input.clone())),
            (Some(json!("$.a")), Ok(json!({"b": 1}))),
            (Some(json!("$.l[*].v")), Ok(json!([1, 2]))),
            (Some(json!("$..v")), Ok(json!([1, 2]))),
            (Some(json!("$.l[?(@.v > 1)]")), Ok(json!([{"v": 2}]))),
            (Some(json!("$$.Execution.Id")), Ok(json!("arn:x"))),
            (Some(json!("$.missing")), Err((RUNTIME, "Invalid path '$.missing' : No results for path: $['missing']"))),
            (Some(json!("$.a.c")), Err((RUNTIME, "Invalid path '$.a.c' : No results for path: $['a']['c']"))),
            (Some(json!("nope")), Err((RUNTIME, "Invalid path 'nope' : Path must start with '$': nope"))),
        ];
        for (path, expected) in cases {
            check(input_path(path.as_ref(), &input, &context), expected);
        }
    }

    #[test]
    fn result_paths() {
        let cases: Vec<(Option<Value>, Value, Expected)> = vec![
            (None, json!({"a": 1}), Ok(json!("R"))),
            (Some(json!(null)), json!({"a": 1}), Ok(json!({"a": 1}))),
            (Some(json!("$")), json!({"a": 1}), Ok(json!("R"))),
            (Some(json!("$.r")), json!({"a": 1}), Ok(json!({"a": 1, "r": "R"}))),
            (Some(json!("$.x.y")), json!({}), Ok(json!({"x": {"y": "R"}}))),
            (
                Some(json!("$.x")),
                json!("text"),
                Err((RESULT_PATH_MATCH_FAILURE, "Unable to apply ReferencePath $.x to input \"text\"")),
            ),
            (
                Some(json!("$.a.b")),
                json!({"a": 1}),
                Err((RESULT_PATH_MATCH_FAILURE, "Unable to apply ReferencePath $.a.b to input {\"a\":1}")),
            ),
        ];
        for (path, input, expected) in cases {
            check(result_path(path.as_ref(), &input, json!("R")), expected);
        }
    }

    #[test]
    fn selects_reference_paths() {
        let context = Scope::new(json!({"State": {"RetryCount": 0}}));
        check(select("$.items[1]", &json!({"items": [1, 2]}), &context), Ok(json!(2)));
        check(select("$$.State.RetryCount", &json!({}), &context), Ok(json!(0)));
        check(select("$.x", &json!({}), &context), Err((RUNTIME, "Invalid path '$.x' : No results for path: $['x']")));
        check(select("States.Format('retry {}', $$.State.RetryCount)", &json!({}), &context), Ok(json!("retry 0")));
    }

    #[test]
    fn selects_variables() {
        let variables = json!({"order": {"items": [{"id": "a"}, {"id": "b"}]}, "_n2": 3});
        let scope = Scope { variables: Arc::new(variables.as_object().cloned().unwrap()), ..Scope::default() };
        check(select("$order.items[1].id", &json!({}), &scope), Ok(json!("b")));
        check(select("$_n2", &json!({}), &scope), Ok(json!(3)));
        check(select("States.MathAdd($_n2, 1)", &json!({}), &scope), Ok(json!(4)));
        check(
            parameters(&json!({"first.$": "$order.items[0].id", "all.$": "$order.items[*].id"}), &json!({}), &scope),
            Ok(json!({"first": "a", "all": ["a", "b"]})),
        );
        check(
            select("$missing", &json!({}), &scope),
            Err((RUNTIME, "Invalid path '$missing' : The variable 'missing' has not been assigned")),
        );
        check(
            result_path(Some(&json!("$order")), &json!({}), json!(1)),
            Err((RESULT_PATH_MATCH_FAILURE, "Unable to apply ReferencePath $order to input {}")),
        );
    }
}
