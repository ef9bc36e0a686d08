//! A state's data flow in its query language, and the variables it assigns.
//!
//! JSONPath states: InputPath → Parameters → work → ResultSelector → ResultPath →
//! OutputPath; `Assign` is a payload template whose `$` is the result after ResultSelector
//! (the effective input for states without a result, the error output in a Catch).
//! JSONata states: the work gets `Arguments`, the output is `Output` (by default the result,
//! or the input for states without one); `{% … %}` strings anywhere in those fields are
//! JSONata expressions with `$states` (`input`, `context`, `result`, `errorOutput`) and the
//! workflow variables bound. Assign and Output are evaluated with the variables as they were
//! before the state: what a state assigns is seen from the next state on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::{Failure, Scope, input_path, parameters, result_path};

/// The failure of a JSONata expression (an evaluation error or a result of the wrong kind).
pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";

/// The language a state's fields are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    JsonPath,
    Jsonata,
}

impl Language {
    /// A machine's `QueryLanguage` (JSONPath when absent).
    pub fn of_machine(machine: &Value) -> Language {
        if machine["QueryLanguage"] == "JSONata" { Language::Jsonata } else { Language::JsonPath }
    }

    /// A state's own `QueryLanguage`, else the machine's.
    pub fn of_state(state: &Value, machine: Language) -> Language {
        match state["QueryLanguage"].as_str() {
            Some("JSONata") => Language::Jsonata,
            Some("JSONPath") => Language::JsonPath,
            _ => machine,
        }
    }
}

/// What a state produced: its output and the variables it assigns.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub output: Value,
    pub assigned: Map<String, Value>,
}

/// One state's fields read against its raw input and scope.
pub struct Flow<'a> {
    pub state: &'a Value,
    pub language: Language,
    /// The state's raw input (`$states.input`).
    pub raw: &'a Value,
    pub scope: &'a Scope,
}

impl Flow<'_> {
    pub fn jsonata(&self) -> bool {
        self.language == Language::Jsonata
    }

    /// The effective input: InputPath applied (JSONPath), the raw input (JSONata).
    pub fn input(&self) -> Result<Value, Failure> {
        match self.language {
            Language::JsonPath => input_path(self.state.get("InputPath"), self.raw, self.scope),
            Language::Jsonata => Ok(self.raw.clone()),
        }
    }

    /// What a Task or Parallel state works on: Parameters applied to `input` (JSONPath),
    /// Arguments (JSONata); `input` itself when the field is absent.
    pub fn arguments(&self, input: Value) -> Result<Value, Failure> {
        match self.language {
            Language::JsonPath => match self.state.get("Parameters") {
                Some(template) => parameters(template, &input, self.scope),
                None => Ok(input),
            },
            Language::Jsonata => match self.state.get("Arguments") {
                Some(template) => self.evaluate("Arguments", template, &self.states(None)),
                None => Ok(input),
            },
        }
    }

    /// Output and assignments of a state whose work gave `result` (Task, Parallel, Map, Pass).
    pub fn with_result(&self, result: Value) -> Result<Outcome, Failure> {
        self.with_result_seen(result, &mut |_, _| {})
    }

    /// [`Flow::with_result`], showing `seen` the data between the steps of JSONPath's flow
    /// (`afterResultSelector`, `afterResultPath`), as TestState inspects it.
    pub fn with_result_seen(&self, result: Value, seen: &mut dyn FnMut(&str, &Value)) -> Result<Outcome, Failure> {
        match self.language {
            Language::JsonPath => {
                let result = match self.state.get("ResultSelector") {
                    Some(selector) => parameters(selector, &result, self.scope)?,
                    None => result,
                };
                seen("afterResultSelector", &result);
                let assigned = self.assign_path(self.state, &result)?;
                let placed = result_path(self.state.get("ResultPath"), self.raw, result)?;
                seen("afterResultPath", &placed);
                let output = input_path(self.state.get("OutputPath"), &placed, self.scope)?;
                Ok(Outcome { output, assigned })
            }
            Language::Jsonata => self.outcome(self.state, self.state, &self.states(Some(("result", &result))), result),
        }
    }

    /// Output and assignments of a state without a result (Choice, Wait, Succeed) whose
    /// effective input is `input`; `fields` holds its Assign (the state, or the Choice rule
    /// that matched) and, in JSONata, its Output (falling back on the state's).
    pub fn without_result(&self, input: Value, fields: &Value) -> Result<Outcome, Failure> {
        match self.language {
            Language::JsonPath => {
                let assigned = self.assign_path(fields, &input)?;
                let output = input_path(self.state.get("OutputPath"), &input, self.scope)?;
                Ok(Outcome { output, assigned })
            }
            Language::Jsonata => {
                let output_from = if fields.get("Output").is_some() { fields } else { self.state };
                self.outcome(fields, output_from, &self.states(None), input)
            }
        }
    }

    /// Output and assignments of `catcher` for the error output `error`.
    pub fn caught(&self, catcher: &Value, error: Value) -> Result<Outcome, Failure> {
        match self.language {
            Language::JsonPath => {
                let assigned = self.assign_path(catcher, &error)?;
                let output = result_path(catcher.get("ResultPath"), self.raw, error)?;
                Ok(Outcome { output, assigned })
            }
            Language::Jsonata => self.outcome(catcher, catcher, &self.states(Some(("errorOutput", &error))), error),
        }
    }

    /// A JSONata state's field (Seconds, TimeoutSeconds, Items, Error…) evaluated; `None`
    /// when absent. JSONPath states read their fields as they are.
    pub fn field(&self, name: &str) -> Result<Option<Value>, Failure> {
        match (self.language, self.state.get(name)) {
            (Language::Jsonata, Some(value)) => Ok(Some(self.evaluate(name, value, &self.states(None))?)),
            (_, value) => Ok(value.cloned()),
        }
    }

    /// A JSONata field evaluated with `states` (`$states` with more bound, such as a Map
    /// item's context).
    pub fn field_with(&self, name: &str, template: &Value, states: &Value) -> Result<Value, Failure> {
        self.evaluate(name, template, states)
    }

    /// `$states` without a result: the raw input and the context object.
    pub fn states(&self, extra: Option<(&str, &Value)>) -> Value {
        let mut states = json!({ "input": self.raw, "context": self.scope.full_context() });
        if let Some((name, value)) = extra {
            states[name] = value.clone();
        }
        states
    }

    /// A JSONata Choice rule's `Condition`.
    pub fn condition(&self, rule: &Value) -> Result<bool, Failure> {
        match self.evaluate("Condition", &rule["Condition"], &self.states(None))? {
            Value::Bool(b) => Ok(b),
            other => Err(Failure::new(
                QUERY_EVALUATION_ERROR,
                format!("The Condition field must evaluate to a boolean value, but it evaluated to {other}"),
            )),
        }
    }

    /// JSONata's Output (of `output_from`, `default` when absent) and Assign (of `assign_from`).
    fn outcome(
        &self,
        assign_from: &Value,
        output_from: &Value,
        states: &Value,
        default: Value,
    ) -> Result<Outcome, Failure> {
        let output = match output_from.get("Output") {
            Some(template) => self.evaluate("Output", template, states)?,
            None => default,
        };
        let assigned = match assign_from.get("Assign") {
            Some(template) => match self.evaluate("Assign", template, states)? {
                Value::Object(map) => map,
                other => {
                    return Err(Failure::new(
                        QUERY_EVALUATION_ERROR,
                        format!("The Assign field must evaluate to a JSON object, but it evaluated to {other}"),
                    ));
                }
            },
            None => Map::new(),
        };
        Ok(Outcome { output, assigned })
    }

    /// JSONPath's Assign: a payload template whose `$` is `dollar`.
    fn assign_path(&self, fields: &Value, dollar: &Value) -> Result<Map<String, Value>, Failure> {
        match fields.get("Assign") {
            Some(template) => match parameters(template, dollar, self.scope)? {
                Value::Object(map) => Ok(map),
                _ => Ok(Map::new()),
            },
            None => Ok(Map::new()),
        }
    }

    /// `template` with each `{% … %}` string replaced by its expression's value.
    fn evaluate(&self, field: &str, template: &Value, states: &Value) -> Result<Value, Failure> {
        let mut bindings = (*self.scope.variables).clone();
        bindings.insert("states".to_string(), states.clone());
        substitute(field, template, &bindings)
    }
}

fn substitute(field: &str, template: &Value, bindings: &Map<String, Value>) -> Result<Value, Failure> {
    match template {
        Value::String(text) => match expression(text) {
            Some(source) => evaluate(field, source, bindings),
            None => Ok(template.clone()),
        },
        Value::Object(fields) => {
            let mut out = Map::new();
            for (name, value) in fields {
                out.insert(name.clone(), substitute(field, value, bindings)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            Ok(Value::Array(items.iter().map(|item| substitute(field, item, bindings)).collect::<Result<_, _>>()?))
        }
        other => Ok(other.clone()),
    }
}

/// The expression of a `{% … %}` string.
pub fn expression(text: &str) -> Option<&str> {
    text.strip_prefix("{%").and_then(|rest| rest.strip_suffix("%}"))
}

/// Parsed expressions by source: a workflow evaluates the same few again and again.
fn compiled(source: &str) -> Result<Arc<brume_jsonata::Expression>, brume_jsonata::Error> {
    static CACHE: Mutex<Option<HashMap<String, Arc<brume_jsonata::Expression>>>> = Mutex::new(None);
    if let Some(found) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_default().get(source) {
        return Ok(found.clone());
    }
    let expression = Arc::new(brume_jsonata::compile(source)?);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_default();
    if cache.len() >= 4096 {
        cache.clear();
    }
    cache.insert(source.to_string(), expression.clone());
    Ok(expression)
}

/// One expression's value; undefined is a failure, as a field must have a value.
pub fn evaluate(field: &str, source: &str, bindings: &Map<String, Value>) -> Result<Value, Failure> {
    let failed = |e: brume_jsonata::Error| {
        Failure::new(
            QUERY_EVALUATION_ERROR,
            format!(
                "The JSONata expression '{}' specified for the field '{field}' threw an error during evaluation. {e}",
                source.trim()
            ),
        )
    };
    let value = compiled(source.trim()).map_err(failed)?.evaluate(None, bindings).map_err(failed)?;
    value.ok_or_else(|| {
        Failure::new(
            QUERY_EVALUATION_ERROR,
            format!(
                "The JSONata expression '{}' specified for the field '{field}' returned nothing (undefined).",
                source.trim()
            ),
        )
    })
}
