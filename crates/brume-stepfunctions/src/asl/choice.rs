//! Choice rules: data-test expressions (a Variable and one comparison operator) and the
//! And/Or/Not combinations of them, evaluated against a state's input. A comparison
//! between values of different types is false, as in AWS.

use super::path::{Path, json_equal};
use super::{Failure, RUNTIME, Scope};
use serde_json::Value;
use std::cmp::Ordering;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The comparison operators, each with the kind of value it compares.
pub const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringEqualsPath",
    "StringLessThan",
    "StringLessThanPath",
    "StringGreaterThan",
    "StringGreaterThanPath",
    "StringLessThanEquals",
    "StringLessThanEqualsPath",
    "StringGreaterThanEquals",
    "StringGreaterThanEqualsPath",
    "StringMatches",
    "NumericEquals",
    "NumericEqualsPath",
    "NumericLessThan",
    "NumericLessThanPath",
    "NumericGreaterThan",
    "NumericGreaterThanPath",
    "NumericLessThanEquals",
    "NumericLessThanEqualsPath",
    "NumericGreaterThanEquals",
    "NumericGreaterThanEqualsPath",
    "BooleanEquals",
    "BooleanEqualsPath",
    "TimestampEquals",
    "TimestampEqualsPath",
    "TimestampLessThan",
    "TimestampLessThanPath",
    "TimestampGreaterThan",
    "TimestampGreaterThanPath",
    "TimestampLessThanEquals",
    "TimestampLessThanEqualsPath",
    "TimestampGreaterThanEquals",
    "TimestampGreaterThanEqualsPath",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

/// The first rule that matches gives the next state (with the rule); else `default`;
/// else `States.NoChoiceMatched`. `matches` tests one rule.
pub fn choose_by<'a>(
    choices: &'a [Value],
    default: Option<&str>,
    mut matches: impl FnMut(&Value) -> Result<bool, Failure>,
) -> Result<(String, Option<&'a Value>), Failure> {
    for rule in choices {
        if matches(rule)? {
            let next = rule
                .get("Next")
                .and_then(Value::as_str)
                .ok_or_else(|| Failure::new(RUNTIME, "A Choice Rule has no 'Next' field"))?;
            return Ok((next.to_string(), Some(rule)));
        }
    }
    let default = default.ok_or_else(|| Failure::new("States.NoChoiceMatched", "No Choice Rules matched"))?;
    Ok((default.to_string(), None))
}

/// [`choose_by`] with JSONPath's rules.
pub fn choose<'a>(
    choices: &'a [Value],
    default: Option<&str>,
    input: &Value,
    scope: &Scope,
) -> Result<(String, Option<&'a Value>), Failure> {
    choose_by(choices, default, |rule| matches(rule, input, scope))
}

/// Whether one rule (data-test or boolean expression) matches.
pub fn matches(rule: &Value, input: &Value, scope: &Scope) -> Result<bool, Failure> {
    if let Some(rules) = rule.get("And").and_then(Value::as_array) {
        for r in rules {
            if !matches(r, input, scope)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(rules) = rule.get("Or").and_then(Value::as_array) {
        for r in rules {
            if matches(r, input, scope)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(inner) = rule.get("Not") {
        return Ok(!matches(inner, input, scope)?);
    }
    let variable = rule.get("Variable").and_then(Value::as_str).unwrap_or("$");
    let Some((operator, operand)) =
        rule.as_object().and_then(|fields| fields.iter().find(|(name, _)| OPERATORS.contains(&name.as_str())))
    else {
        return Err(Failure::new(RUNTIME, "A Choice Rule has no comparison operator"));
    };
    let value = lookup(variable, input, scope);
    if operator == "IsPresent" {
        return Ok(value.is_some() == (operand == &Value::Bool(true)));
    }
    let value = value.ok_or_else(|| {
        Failure::new(
            RUNTIME,
            format!("Invalid path '{variable}': The choice state's condition path references an invalid value."),
        )
    })?;
    let operand = match operator.strip_suffix("Path") {
        Some(_) => {
            let path = operand.as_str().unwrap_or_default();
            lookup(path, input, scope).ok_or_else(|| {
                Failure::new(
                    RUNTIME,
                    format!("Invalid path '{path}': The choice state's condition path references an invalid value."),
                )
            })?
        }
        None => operand.clone(),
    };
    Ok(compare(operator.trim_end_matches("Path"), &value, &operand))
}

fn lookup(path: &str, input: &Value, scope: &Scope) -> Option<Value> {
    scope.evaluate(&Path::parse(path).ok()?, input).ok()
}

fn compare(operator: &str, value: &Value, operand: &Value) -> bool {
    let type_test = |test: bool| operand.as_bool() == Some(test);
    match operator {
        "IsNull" => type_test(value.is_null()),
        "IsNumeric" => type_test(value.is_number()),
        "IsString" => type_test(value.is_string()),
        "IsBoolean" => type_test(value.is_boolean()),
        "IsTimestamp" => type_test(value.as_str().and_then(timestamp).is_some()),
        "BooleanEquals" => value.is_boolean() && value == operand,
        "StringMatches" => match (value, operand) {
            (Value::String(s), Value::String(pattern)) => string_matches(s, pattern),
            _ => false,
        },
        _ => {
            let (kind, relation) = ["String", "Numeric", "Timestamp"]
                .into_iter()
                .find_map(|kind| operator.strip_prefix(kind).map(|relation| (kind, relation)))
                .unwrap_or(("", ""));
            let ordering = match (kind, value, operand) {
                ("String", Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                ("Numeric", Value::Number(_), Value::Number(_)) if json_equal(value, operand) => Some(Ordering::Equal),
                ("Numeric", Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
                ("Timestamp", Value::String(a), Value::String(b)) => match (timestamp(a), timestamp(b)) {
                    (Some(a), Some(b)) => Some(a.cmp(&b)),
                    _ => None,
                },
                _ => None,
            };
            ordering.is_some_and(|o| match relation {
                "Equals" => o == Ordering::Equal,
                "LessThan" => o == Ordering::Less,
                "GreaterThan" => o == Ordering::Greater,
                "LessThanEquals" => o != Ordering::Greater,
                "GreaterThanEquals" => o != Ordering::Less,
                _ => false,
            })
        }
    }
}

/// An RFC 3339 timestamp with the uppercase `T` and `Z` the States Language requires.
pub fn timestamp(text: &str) -> Option<OffsetDateTime> {
    if text.contains(['t', 'z']) {
        return None;
    }
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// StringMatches: `*` matches any run of characters, `\*` a literal `*`, `\\` a `\`.
pub fn string_matches(text: &str, pattern: &str) -> bool {
    // Tokens: Some(c) a literal character, None a wildcard.
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => tokens.push(Some(chars.next().unwrap_or('\\'))),
            '*' => tokens.push(None),
            c => tokens.push(Some(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy matching with backtracking to the last wildcard.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(None) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Some(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(Option::is_none)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(rule: Value, input: Value, expected: Result<bool, &str>) {
        let context = Scope::new(json!({"Execution": {"Name": "run"}}));
        let got = matches(&rule, &input, &context).map_err(|f| f.cause);
        assert_eq!(got, expected.map_err(str::to_string), "{rule} on {input}");
    }

    #[test]
    fn data_tests() {
        let input = json!({
            "s": "abc", "n": 5, "f": 2.5, "b": true, "z": null, "t": "2016-03-14T01:59:00Z",
            "t2": "2016-03-14T02:59:00+01:00", "other": "abd", "five": 5.0, "l": [1]
        });
        let cases: Vec<(Value, bool)> = vec![
            (json!({"Variable": "$.s", "StringEquals": "abc"}), true),
            (json!({"Variable": "$.s", "StringEquals": "abd"}), false),
            (json!({"Variable": "$.n", "StringEquals": "5"}), false),
            (json!({"Variable": "$.s", "StringLessThan": "abd"}), true),
            (json!({"Variable": "$.s", "StringGreaterThan": "abd"}), false),
            (json!({"Variable": "$.s", "StringLessThanEquals": "abc"}), true),
            (json!({"Variable": "$.s", "StringGreaterThanEquals": "abc"}), true),
            (json!({"Variable": "$.s", "StringLessThanPath": "$.other"}), true),
            (json!({"Variable": "$.s", "StringEqualsPath": "$$.Execution.Name"}), false),
            (json!({"Variable": "$.n", "NumericEquals": 5}), true),
            (json!({"Variable": "$.five", "NumericEquals": 5}), true),
            (json!({"Variable": "$.s", "NumericEquals": 5}), false),
            (json!({"Variable": "$.f", "NumericLessThan": 3}), true),
            (json!({"Variable": "$.f", "NumericGreaterThan": 2.4}), true),
            (json!({"Variable": "$.n", "NumericLessThanEquals": 5}), true),
            (json!({"Variable": "$.n", "NumericGreaterThanEquals": 6}), false),
            (json!({"Variable": "$.f", "NumericLessThanPath": "$.n"}), true),
            (json!({"Variable": "$.n", "NumericEqualsPath": "$.five"}), true),
            (json!({"Variable": "$.b", "BooleanEquals": true}), true),
            (json!({"Variable": "$.s", "BooleanEquals": true}), false),
            (json!({"Variable": "$.b", "BooleanEqualsPath": "$.b"}), true),
            (json!({"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00Z"}), true),
            (json!({"Variable": "$.t2", "TimestampEqualsPath": "$.t"}), true),
            (json!({"Variable": "$.t", "TimestampLessThan": "2016-03-14T02:00:00Z"}), true),
            (json!({"Variable": "$.t", "TimestampGreaterThan": "2016-03-14T02:00:00Z"}), false),
            (json!({"Variable": "$.t", "TimestampLessThanEquals": "2016-03-14T01:59:00Z"}), true),
            (json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2016-03-14T01:59:01Z"}), false),
            (json!({"Variable": "$.s", "TimestampEquals": "2016-03-14T01:59:00Z"}), false),
            (json!({"Variable": "$.z", "IsNull": true}), true),
            (json!({"Variable": "$.s", "IsNull": true}), false),
            (json!({"Variable": "$.s", "IsNull": false}), true),
            (json!({"Variable": "$.missing", "IsPresent": false}), true),
            (json!({"Variable": "$.missing", "IsPresent": true}), false),
            (json!({"Variable": "$.z", "IsPresent": true}), true),
            (json!({"Variable": "$.f", "IsNumeric": true}), true),
            (json!({"Variable": "$.s", "IsString": true}), true),
            (json!({"Variable": "$.l", "IsString": false}), true),
            (json!({"Variable": "$.b", "IsBoolean": true}), true),
            (json!({"Variable": "$.t", "IsTimestamp": true}), true),
            (json!({"Variable": "$.s", "IsTimestamp": true}), false),
            (json!({"Not": {"Variable": "$.s", "StringEquals": "x"}}), true),
            (
                json!({"And": [{"Variable": "$.n", "NumericGreaterThanEquals": 1}, {"Variable": "$.n", "NumericLessThan": 10}]}),
                true,
            ),
            (
                json!({"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Not": {"Variable": "$.b", "BooleanEquals": true}}]}),
                false,
            ),
            // And stops at its first false rule, before the missing path.
            (
                json!({"And": [{"Variable": "$.b", "BooleanEquals": false}, {"Variable": "$.missing", "IsNull": true}]}),
                false,
            ),
        ];
        for (rule, expected) in cases {
            check(rule, input.clone(), Ok(expected));
        }
        check(
            json!({"Variable": "$.missing", "StringEquals": "x"}),
            input.clone(),
            Err("Invalid path '$.missing': The choice state's condition path references an invalid value."),
        );
        check(
            json!({"Variable": "$.s", "StringEqualsPath": "$.nope"}),
            input,
            Err("Invalid path '$.nope': The choice state's condition path references an invalid value."),
        );
    }

    #[test]
    fn string_patterns() {
        let cases = [
            ("log-2020.txt", "log-*.txt", true),
            ("log-2020.csv", "log-*.txt", false),
            ("anything", "*", true),
            ("", "*", true),
            ("abc", "a*b*c", true),
            ("a*c", "a\\*c", true),
            ("abc", "a\\*c", false),
            ("a\\c", "a\\\\c", true),
            ("aXbXc", "*X*c", true),
            ("abc", "ab", false),
            ("ab", "abc", false),
        ];
        for (text, pattern, expected) in cases {
            assert_eq!(string_matches(text, pattern), expected, "{text} ~ {pattern}");
        }
    }

    #[test]
    fn chooses() {
        // The States Language spec's Choice example.
        let choices = vec![
            json!({"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"}),
            json!({"And": [
                {"Variable": "$.value", "IsPresent": true},
                {"Variable": "$.value", "IsNumeric": true},
                {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                {"Variable": "$.value", "NumericLessThan": 30}
            ], "Next": "ValueInTwenties"}),
            json!({"Variable": "$.rating", "NumericGreaterThanPath": "$.auditThreshold", "Next": "StartAudit"}),
        ];
        let context = Scope::new(json!({}));
        let cases: Vec<(Value, Option<&str>, Result<&str, &str>)> = vec![
            (json!({"type": "Public"}), None, Ok("Public")),
            (json!({"type": "Private", "value": 25}), None, Ok("ValueInTwenties")),
            (json!({"type": "Private", "value": 35, "rating": 3, "auditThreshold": 2}), None, Ok("StartAudit")),
            (
                json!({"type": "Private", "value": 35, "rating": 1, "auditThreshold": 2}),
                Some("RecordEvent"),
                Ok("RecordEvent"),
            ),
            (
                json!({"type": "Private", "value": 35, "rating": 1, "auditThreshold": 2}),
                None,
                Err("No Choice Rules matched"),
            ),
        ];
        for (input, default, expected) in cases {
            let got = choose(&choices, default, &input, &context);
            assert_eq!(got.as_ref().map(|(next, _)| next.as_str()).map_err(|f| f.cause.as_str()), expected, "{input}");
        }
        let failure = choose(&choices, None, &json!({"type": "Private"}), &context).unwrap_err();
        assert_eq!(failure.error, RUNTIME);
    }
}
