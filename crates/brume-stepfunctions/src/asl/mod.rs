//! The Amazon States Language as pure functions: what the engine asks of a definition and
//! of the data flowing through it. No IO and no clock: randomness and time come in as
//! arguments, so every function is tested with tables of inputs and expected outputs.
//!
//! Data flow through a state, in AWS's order: [`input_path`] → [`parameters`] (Task,
//! Parallel, Map, Pass) → the state's work → [`parameters`] again as ResultSelector →
//! [`result_path`] → [`output_path`]. `context` is the context object `$$` the engine
//! builds (Execution, State, StateMachine, Task, Map.Item).

use serde_json::Value;

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
    let _ = definition;
    Vec::new()
}

/// The message of CreateStateMachine's `InvalidDefinition` for these errors
/// (`Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: … at /States/…'`).
pub fn invalid_definition_message(errors: &[Diagnostic]) -> String {
    let _ = errors;
    "Invalid State Machine Definition".to_string()
}

/// InputPath or OutputPath: `None` (field absent) selects `$`, JSON `null` gives `{}`,
/// a path string selects from `input` (or `$$` from `context`).
pub fn input_path(path: Option<&Value>, input: &Value, context: &Value) -> Result<Value, Failure> {
    let _ = (path, context);
    Ok(input.clone())
}

/// Parameters, ItemSelector, ResultSelector and Pass/Task payload templates: `key.$`
/// fields replaced by the path's value or the intrinsic function's result.
pub fn parameters(template: &Value, input: &Value, context: &Value) -> Result<Value, Failure> {
    let _ = (input, context);
    Ok(template.clone())
}

/// ResultPath: where `result` goes in `input` (`None`: `$`, replacing it; JSON `null`:
/// discarded, `input` kept).
pub fn result_path(path: Option<&Value>, input: &Value, result: Value) -> Result<Value, Failure> {
    let _ = (path, input);
    Ok(result)
}

/// The value a reference path (`$.a.b[2]`, `$$.Execution.Id`) selects: ItemsPath,
/// SecondsPath, TimestampPath, `*Path` comparisons, ErrorPath, CausePath.
pub fn select(path: &str, input: &Value, context: &Value) -> Result<Value, Failure> {
    let _ = (path, context);
    Ok(input.clone())
}

/// A Choice state's next state for `input`: the first rule of `choices` that matches,
/// else `default`, else `States.NoChoiceMatched`.
pub fn choose(choices: &[Value], default: Option<&str>, input: &Value, context: &Value) -> Result<String, Failure> {
    let _ = (choices, input, context);
    default.map(str::to_string).ok_or_else(|| Failure::new("States.NoChoiceMatched", "No Choice Rules matched"))
}

/// Whether a state's Retry retries `error`, and after how long (milliseconds). `attempts`
/// holds how many times each retrier has retried so far (grown to `retriers.len()` and
/// updated here); `random` in [0, 1) is used by `JitterStrategy: FULL`.
pub fn retry_delay(retriers: &[Value], error: &str, attempts: &mut Vec<u32>, random: f64) -> Option<u64> {
    let _ = (retriers, error, attempts, random);
    None
}

/// The Catch that catches `error`: its Next state and its ResultPath (`None`: absent, `$`).
pub fn catch(catchers: &[Value], error: &str) -> Option<(String, Option<Value>)> {
    let _ = (catchers, error);
    None
}
