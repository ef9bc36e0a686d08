//! Payload templates (Parameters, ItemSelector, ResultSelector): objects and arrays walked
//! recursively, each `key.$` field replaced by `key` and the value of its path (`$…` from
//! the input, `$$…` from the context object) or of its intrinsic function call.
//!
//! A path that finds nothing fails with `States.Runtime`, not the documented
//! `States.ParameterPathFailure`: AWS's execution histories show `States.Runtime` with
//! the cause "The JSONPath '$.x' specified for the field 'x.$' could not be found in the
//! input '{}'".

use super::intrinsics;
use super::path::Path;
use super::{Failure, RUNTIME, Scope};
use serde_json::{Map, Value};

pub fn apply(template: &Value, input: &Value, scope: &Scope) -> Result<Value, Failure> {
    match template {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                match key.strip_suffix(".$") {
                    Some(name) => {
                        out.insert(name.to_string(), dynamic(key, value, input, scope)?);
                    }
                    None => {
                        out.insert(key.clone(), apply(value, input, scope)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            Ok(Value::Array(items.iter().map(|item| apply(item, input, scope)).collect::<Result<Vec<_>, _>>()?))
        }
        other => Ok(other.clone()),
    }
}

/// The value of a `key.$` field: a path's selection or an intrinsic function's result.
fn dynamic(key: &str, value: &Value, input: &Value, scope: &Scope) -> Result<Value, Failure> {
    let Some(expression) = value.as_str() else {
        return Err(Failure::new(
            RUNTIME,
            format!("The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call"),
        ));
    };
    if !expression.starts_with('$') {
        return intrinsics::run(expression, input, scope);
    }
    let path = Path::parse(expression)
        .map_err(|reason| Failure::new(RUNTIME, format!("Invalid path '{expression}' : {reason}")))?;
    let root = scope.root(&path, input).map_err(|reason| {
        Failure::new(
            RUNTIME,
            format!("The JSONPath '{expression}' specified for the field '{key}' could not be found: {reason}"),
        )
    })?;
    path.evaluate(&root).map_err(|_| {
        Failure::new(
            RUNTIME,
            format!(
                "The JSONPath '{expression}' specified for the field '{key}' could not be found in the input '{root}'"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The value, or the failure's error and cause.
    type Expected = Result<Value, (&'static str, &'static str)>;

    fn check(template: Value, input: Value, expected: Result<Value, (&str, &str)>) {
        let context =
            Scope::new(json!({"Execution": {"Id": "arn:exec"}, "Map": {"Item": {"Index": 2}}, "DayOfWeek": "TUESDAY"}));
        let got = apply(&template, &input, &context);
        assert_eq!(got, expected.map_err(|(e, c)| Failure::new(e, c)), "{template}");
    }

    #[test]
    fn templates() {
        let cases: Vec<(Value, Value, Expected)> = vec![
            // The States Language spec's example.
            (
                json!({"flagged": true, "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"}, "weekday.$": "$$.DayOfWeek", "formattedOutput.$": "States.Format('Today is {}', $$.DayOfWeek)"}),
                json!({"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}),
                Ok(
                    json!({"flagged": true, "parts": {"first": 0, "last3": [30, 40, 50]}, "weekday": "TUESDAY", "formattedOutput": "Today is TUESDAY"}),
                ),
            ),
            (
                json!({"a": [1, {"b.$": "$.x"}], "c": null}),
                json!({"x": "y"}),
                Ok(json!({"a": [1, {"b": "y"}], "c": null})),
            ),
            (
                json!({"all.$": "$", "id.$": "$$.Execution.Id"}),
                json!({"x": 1}),
                Ok(json!({"all": {"x": 1}, "id": "arn:exec"})),
            ),
            (json!({"i.$": "$$.Map.Item.Index"}), json!({}), Ok(json!({"i": 2}))),
            (json!("plain"), json!({}), Ok(json!("plain"))),
            (json!({"n.$": "States.ArrayLength($.l)"}), json!({"l": [1, 2]}), Ok(json!({"n": 2}))),
            (
                json!({"y.$": "$.x"}),
                json!({"a": 1}),
                Err((
                    RUNTIME,
                    "The JSONPath '$.x' specified for the field 'y.$' could not be found in the input '{\"a\":1}'",
                )),
            ),
            (
                json!({"deep": {"y.$": "$$.Nope"}}),
                json!({}),
                Err((
                    RUNTIME,
                    "The JSONPath '$$.Nope' specified for the field 'y.$' could not be found in the input '{\"Execution\":{\"Id\":\"arn:exec\"},\"Map\":{\"Item\":{\"Index\":2}},\"DayOfWeek\":\"TUESDAY\"}'",
                )),
            ),
            (
                json!({"y.$": 3}),
                json!({}),
                Err((
                    RUNTIME,
                    "The value for the field 'y.$' must be a valid JSONPath or a valid intrinsic function call",
                )),
            ),
        ];
        for (template, input, expected) in cases {
            check(template, input, expected);
        }
    }
}
