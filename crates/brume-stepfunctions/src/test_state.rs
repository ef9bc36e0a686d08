//! TestState: one state of a definition run once on a given input, with its variables,
//! context and, for a Task, a mocked result, reporting what it gave (`SUCCEEDED`,
//! `FAILED`, `RETRIABLE` when a retrier would retry it, `CAUGHT_ERROR` when a catcher
//! takes the error) and, at the DEBUG and TRACE levels, the data between the steps of
//! its flow. The state runs in a throwaway in-memory execution; a Wait state does not wait.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::asl::{self, Failure, Language};
use crate::engine::{self, Trial};
use crate::execution::check_input;
use crate::table::Execution;
use crate::{StepFunctions, error, now};

/// The name a definition of a single state is tested under.
const SINGLE_STATE: &str = "TestState";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestStateInput {
    definition: String,
    role_arn: Option<String>,
    input: Option<String>,
    inspection_level: Option<String>,
    variables: Option<String>,
    state_name: Option<String>,
    mock: Option<Mock>,
    context: Option<String>,
    state_configuration: Option<StateConfiguration>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mock {
    result: Option<String>,
    error_output: Option<MockError>,
}

#[derive(Deserialize)]
pub struct MockError {
    error: Option<String>,
    cause: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateConfiguration {
    retrier_retry_count: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestStateOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inspection_data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_state: Option<String>,
    status: &'static str,
}

/// A JSON object given as text (`variables`, `context`).
fn object(field: &str, text: Option<&str>) -> Result<Option<Map<String, Value>>, AwsError> {
    let Some(text) = text else { return Ok(None) };
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        _ => Err(error::validation(format!("The {field} must be a JSON object"))),
    }
}

/// The state to test, its name and its language: `state_name`'s state in a whole
/// definition, else the definition is the state. The definition is validated as
/// CreateStateMachine would, except that a lone state's Next may name any state.
fn pick_state(definition: &str, state_name: Option<&str>) -> Result<(String, Value, Language), AwsError> {
    let parsed = asl::parse_definition(definition)
        .map_err(|d| error::invalid_definition(asl::invalid_definition_message(&[d])))?;
    let (name, machine) = match state_name {
        Some(name) => (name.to_string(), parsed),
        None => {
            let language = parsed["QueryLanguage"].clone();
            let mut machine = serde_json::json!({ "StartAt": SINGLE_STATE, "States": { SINGLE_STATE: parsed } });
            if language.is_string() {
                machine["QueryLanguage"] = language;
            }
            (SINGLE_STATE.to_string(), machine)
        }
    };
    let errors: Vec<asl::Diagnostic> = asl::validate(&machine)
        .into_iter()
        .filter(|d| {
            state_name.is_some() || ![asl::MISSING_TRANSITION_TARGET, asl::MISSING_END_STATE].contains(&d.code.as_str())
        })
        .collect();
    if !errors.is_empty() {
        return Err(error::invalid_definition(asl::invalid_definition_message(&errors)));
    }
    let state = machine["States"]
        .get(&name)
        .cloned()
        .ok_or_else(|| error::validation(format!("State '{name}' does not exist in the definition")))?;
    let language = Language::of_state(&state, Language::of_machine(&machine));
    Ok((name, state, language))
}

impl StepFunctions {
    pub(crate) async fn test_state(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TestStateInput,
    ) -> Result<TestStateOutput, AwsError> {
        let level = input.inspection_level.as_deref().unwrap_or("INFO");
        if !["INFO", "DEBUG", "TRACE"].contains(&level) {
            return Err(error::validation(format!(
                "1 validation error detected: Value '{level}' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]"
            )));
        }
        let (name, state, language) = pick_state(&input.definition, input.state_name.as_deref())?;
        let kind = state["Type"].as_str().unwrap_or_default();
        let value = check_input(input.input.as_deref())?;
        let variables = object("variables", input.variables.as_deref())?.unwrap_or_default();
        let context = object("context", input.context.as_deref())?.map(Value::Object);
        let mock =
            match input.mock {
                None => None,
                Some(Mock { result: Some(_), error_output: Some(_) }) => {
                    return Err(error::validation("A mock must have either a result or an errorOutput, not both"));
                }
                Some(Mock { result: Some(text), .. }) => Some(Ok(serde_json::from_str(&text)
                    .map_err(|_| error::validation("The mocked result must be valid JSON"))?)),
                Some(Mock { error_output: Some(e), .. }) => {
                    Some(Err(Failure::new(e.error.unwrap_or_default(), e.cause.unwrap_or_default())))
                }
                Some(Mock { result: None, error_output: None }) => None,
            };
        let resource = state["Resource"].as_str().unwrap_or_default();
        let waits =
            resource.contains(".waitForTaskToken") || resource.contains(".sync") || resource.contains(":activity:");
        if kind == "Task" && waits && mock.is_none() {
            return Err(error::validation(format!(
                "TestState does not run the resource '{resource}' without a mock: it would wait for a task token, an activity worker or a child execution"
            )));
        }
        let role_arn = input.role_arn.unwrap_or_default();
        let execution = Execution {
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            machine: "TestStateMachine".into(),
            name: uuid::Uuid::new_v4().to_string(),
            machine_arn: format!("arn:aws:states:{}:{}:stateMachine:TestStateMachine", ctx.region, ctx.account),
            status: "RUNNING".into(),
            input: value.to_string(),
            start: now(),
            role_arn,
            ..Execution::default()
        };
        let retry_count = input.state_configuration.and_then(|c| c.retrier_retry_count).unwrap_or(0);
        let trial = Trial { name, state, language, input: value, variables, context, mock, retry_count };
        let end = engine::trial(&self, &execution, trial).await;
        let inspection_data = (level != "INFO").then(|| {
            let mut data = end.inspection;
            if let Some(details) = end.error_details {
                data.insert("errorDetails".into(), details);
            }
            Value::Object(data)
        });
        let (error, cause) = match end.failure {
            Some(f) => (Some(f.error).filter(|s| !s.is_empty()), Some(f.cause).filter(|s| !s.is_empty())),
            None => (None, None),
        };
        Ok(TestStateOutput {
            output: end.output.map(|o| o.to_string()),
            error,
            cause,
            inspection_data,
            next_state: end.next,
            status: end.status,
        })
    }
}
