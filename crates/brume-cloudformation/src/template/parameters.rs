//! Parameters: their declarations and the values a stack gets, checked against the
//! constraints with CloudFormation's messages.

use std::collections::BTreeMap;

use regex_automata::meta::Regex;
use serde_json::{Map, Value};

use super::functions::{error, to_text};
use super::{ParameterDeclaration, TemplateError};

/// What a parameter's declaration may say.
const PROPERTIES: [&str; 11] = [
    "Type",
    "Default",
    "AllowedPattern",
    "AllowedValues",
    "ConstraintDescription",
    "Description",
    "MaxLength",
    "MaxValue",
    "MinLength",
    "MinValue",
    "NoEcho",
];

/// Whether a parameter type is a list (its value is an array).
fn is_list(kind: &str) -> bool {
    kind == "CommaDelimitedList" || kind.starts_with("List<")
}

/// Checks a declared `Type`; AWS-specific types are accepted as strings.
pub fn check_type(key: &str, kind: &str) -> Result<(), TemplateError> {
    if kind.starts_with("AWS::SSM::Parameter::Value<") {
        return Err(error(format!(
            "Template format error: Parameter '{key}' is of type {kind}, which Brume does not support: SSM Parameter Store is not available"
        )));
    }
    let element = kind.strip_prefix("List<").and_then(|k| k.strip_suffix('>'));
    let known = matches!(kind, "String" | "Number" | "CommaDelimitedList")
        || kind.starts_with("AWS::")
        || matches!(element, Some(e) if e == "Number" || e == "String" || e.starts_with("AWS::"));
    if known { Ok(()) } else { Err(error(format!("Template format error: Unrecognized parameter type: {kind}"))) }
}

/// The declarations, in the template's order.
pub fn declarations(template: &Value) -> Result<Vec<ParameterDeclaration>, TemplateError> {
    let Some(parameters) = template.get("Parameters") else { return Ok(Vec::new()) };
    let parameters =
        parameters.as_object().ok_or_else(|| error("Template format error: Parameters must be an object"))?;
    let mut out = Vec::with_capacity(parameters.len());
    for (key, declaration) in parameters {
        if let Some(property) =
            declaration.as_object().and_then(|d| d.keys().find(|k| !PROPERTIES.contains(&k.as_str())))
        {
            return Err(error(format!("Template format error: Invalid template parameter property '{property}'")));
        }
        let kind = declaration
            .get("Type")
            .and_then(Value::as_str)
            .ok_or_else(|| error("Template format error: Every Parameters object must contain a Type member."))?;
        check_type(key, kind)?;
        out.push(ParameterDeclaration {
            key: key.clone(),
            kind: kind.to_string(),
            default: declaration.get("Default").map(default_text),
            no_echo: declaration.get("NoEcho").map(|v| to_text(v).as_deref() == Some("true")).unwrap_or(false),
            description: declaration.get("Description").and_then(to_text),
        });
    }
    Ok(out)
}

fn default_text(value: &Value) -> String {
    match value {
        Value::Array(items) => items.iter().filter_map(to_text).collect::<Vec<_>>().join(","),
        other => to_text(other).unwrap_or_default(),
    }
}

/// The parameter values: the given ones, else the defaults, checked.
pub fn values(template: &Value, given: &BTreeMap<String, String>) -> Result<Map<String, Value>, TemplateError> {
    let declared = declarations(template)?;
    let unknown: Vec<&str> =
        given.keys().filter(|k| !declared.iter().any(|d| &d.key == *k)).map(String::as_str).collect();
    if !unknown.is_empty() {
        return Err(error(format!("Parameters: [{}] do not exist in the template", unknown.join(", "))));
    }
    let missing: Vec<&str> = declared
        .iter()
        .filter(|d| !given.contains_key(&d.key) && d.default.is_none())
        .map(|d| d.key.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(error(format!("Parameters: [{}] must have values", missing.join(", "))));
    }
    let declarations = template.get("Parameters").and_then(Value::as_object);
    let mut out = Map::new();
    for d in &declared {
        let text = given.get(&d.key).cloned().or_else(|| d.default.clone()).unwrap_or_default();
        let declaration = declarations.and_then(|p| p.get(&d.key)).cloned().unwrap_or(Value::Null);
        let value = if is_list(&d.kind) {
            let items: Vec<String> =
                if text.is_empty() { Vec::new() } else { text.split(',').map(|s| s.trim().to_string()).collect() };
            for item in &items {
                check(&d.key, &d.kind, item, &declaration)?;
            }
            Value::Array(items.into_iter().map(Value::String).collect())
        } else {
            check(&d.key, &d.kind, &text, &declaration)?;
            Value::String(text)
        };
        out.insert(d.key.clone(), value);
    }
    Ok(out)
}

/// A value (or one member of a list) against its declaration's constraints.
fn check(key: &str, kind: &str, value: &str, declaration: &Value) -> Result<(), TemplateError> {
    let constraint = |message: String| {
        let message = match declaration.get("ConstraintDescription").and_then(to_text) {
            Some(description) => format!("Parameter '{key}' failed to satisfy constraint: {description}"),
            None => message,
        };
        error(message)
    };
    let numeric = kind == "Number" || kind == "List<Number>";
    let number = if numeric {
        Some(value.trim().parse::<f64>().map_err(|_| error(format!("Parameter '{key}' must be a number")))?)
    } else {
        None
    };
    if let Some(allowed) = declaration.get("AllowedValues").and_then(Value::as_array) {
        let matches = allowed
            .iter()
            .filter_map(to_text)
            .any(|a| a == value || matches!((number, a.parse::<f64>()), (Some(n), Ok(a)) if n == a));
        if !matches {
            return Err(constraint(format!("Parameter '{key}' must be one of AllowedValues")));
        }
    }
    if let Some(pattern) = declaration.get("AllowedPattern").and_then(to_text) {
        let regex = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|_| error(format!("Template format error: Invalid AllowedPattern for parameter '{key}'")))?;
        if !regex.is_match(value) {
            return Err(constraint(format!("Parameter '{key}' must match pattern {pattern}")));
        }
    }
    let length = value.chars().count();
    if let Some(min) = declaration.get("MinLength").and_then(bound)
        && (length as f64) < min
    {
        return Err(constraint(format!("Parameter '{key}' must contain at least {} characters", min as u64)));
    }
    if let Some(max) = declaration.get("MaxLength").and_then(bound)
        && (length as f64) > max
    {
        return Err(constraint(format!("Parameter '{key}' must contain at most {} characters", max as u64)));
    }
    if let Some(n) = number {
        if let Some(min) = declaration.get("MinValue").and_then(bound)
            && n < min
        {
            return Err(constraint(format!("Parameter '{key}' must be a number not less than {}", number_text(min))));
        }
        if let Some(max) = declaration.get("MaxValue").and_then(bound)
            && n > max
        {
            return Err(constraint(format!(
                "Parameter '{key}' must be a number not greater than {}",
                number_text(max)
            )));
        }
    }
    Ok(())
}

fn bound(value: &Value) -> Option<f64> {
    to_text(value)?.trim().parse().ok()
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 { format!("{}", n as i64) } else { n.to_string() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(parameters: Value, given: &[(&str, &str)]) -> Result<Map<String, Value>, String> {
        let template = json!({"Parameters": parameters});
        let given = given.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        values(&template, &given).map_err(|e| e.message)
    }

    #[test]
    fn given_values_over_defaults() {
        let params = json!({
            "Env": {"Type": "String", "Default": "dev"},
            "Size": {"Type": "Number", "Default": 3},
            "Ids": {"Type": "List<Number>", "Default": "1, 2"},
            "Names": {"Type": "CommaDelimitedList"},
            "Vpc": {"Type": "AWS::EC2::VPC::Id", "Default": "vpc-1"},
        });
        let got = run(params, &[("Env", "prod"), ("Names", "a,b , c")]).unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"Env": "prod", "Size": "3", "Ids": ["1", "2"], "Names": ["a", "b", "c"], "Vpc": "vpc-1"})
        );
    }

    #[test]
    fn constraints_fail_with_cloudformations_messages() {
        let cases = [
            (json!({"A": {"Type": "String"}, "B": {"Type": "String"}}), vec![], "Parameters: [A, B] must have values"),
            (
                json!({"A": {"Type": "String", "Default": ""}}),
                vec![("Z", "1")],
                "Parameters: [Z] do not exist in the template",
            ),
            (
                json!({"A": {"Type": "String", "AllowedValues": ["x", "y"]}}),
                vec![("A", "z")],
                "Parameter 'A' must be one of AllowedValues",
            ),
            (
                json!({"A": {"Type": "String", "AllowedPattern": "[a-z]+"}}),
                vec![("A", "ab1")],
                "Parameter 'A' must match pattern [a-z]+",
            ),
            (
                json!({"A": {"Type": "String", "MinLength": 3}}),
                vec![("A", "ab")],
                "Parameter 'A' must contain at least 3 characters",
            ),
            (
                json!({"A": {"Type": "String", "MaxLength": "2"}}),
                vec![("A", "abc")],
                "Parameter 'A' must contain at most 2 characters",
            ),
            (json!({"A": {"Type": "Number"}}), vec![("A", "x")], "Parameter 'A' must be a number"),
            (
                json!({"A": {"Type": "Number", "MinValue": 1}}),
                vec![("A", "0")],
                "Parameter 'A' must be a number not less than 1",
            ),
            (
                json!({"A": {"Type": "Number", "MaxValue": 9}}),
                vec![("A", "10")],
                "Parameter 'A' must be a number not greater than 9",
            ),
            (json!({"A": {"Type": "List<Number>"}}), vec![("A", "1,x")], "Parameter 'A' must be a number"),
            (
                json!({"A": {"Type": "String", "AllowedPattern": "\\d+", "ConstraintDescription": "digits only"}}),
                vec![("A", "x")],
                "Parameter 'A' failed to satisfy constraint: digits only",
            ),
            (json!({"A": {"Type": "Strin"}}), vec![], "Template format error: Unrecognized parameter type: Strin"),
            (
                json!({"A": {"Type": "String", "Defualt": "x"}}),
                vec![],
                "Template format error: Invalid template parameter property 'Defualt'",
            ),
        ];
        for (params, given, expected) in cases {
            assert_eq!(run(params.clone(), &given).unwrap_err(), expected, "{params}");
        }
        assert!(run(json!({"A": {"Type": "AWS::SSM::Parameter::Value<String>"}}), &[]).unwrap_err().contains("SSM"));
        assert!(run(json!({"A": {"Type": "Number", "AllowedValues": [1, 2]}}), &[("A", "2.0")]).is_ok());
    }

    #[test]
    fn declarations_report_no_echo() {
        let template =
            json!({"Parameters": {"P": {"Type": "String", "NoEcho": true, "Default": ["a", "b"], "Description": "d"}}});
        assert_eq!(
            declarations(&template).unwrap(),
            vec![ParameterDeclaration {
                key: "P".into(),
                kind: "String".into(),
                default: Some("a,b".into()),
                no_echo: true,
                description: Some("d".into()),
            }]
        );
    }
}
