//! The Rules section: each rule whose RuleCondition holds asserts things of the parameter
//! values, and a false assertion refuses the stack operation with its AssertDescription.

use serde_json::{Map, Value};

use super::TemplateError;
use super::functions::{error, to_text};

/// Checks the template's Rules against the parameter values.
pub fn check(template: &Value, parameters: &Map<String, Value>) -> Result<(), TemplateError> {
    let Some(rules) = template.get("Rules").and_then(Value::as_object) else { return Ok(()) };
    for (name, rule) in rules {
        if let Some(condition) = rule.get("RuleCondition")
            && !truth(&evaluate(condition, parameters)?, name)?
        {
            continue;
        }
        let assertions = rule
            .get("Assertions")
            .and_then(Value::as_array)
            .ok_or_else(|| error(format!("Template format error: Rule {name} must contain an Assertions list")))?;
        for assertion in assertions {
            let assert = assertion.get("Assert").ok_or_else(|| {
                error(format!("Template format error: Every Assertions member of rule {name} must contain an Assert"))
            })?;
            if !truth(&evaluate(assert, parameters)?, name)? {
                return Err(error(match assertion.get("AssertDescription").and_then(to_text) {
                    Some(description) => description,
                    None => format!("Template error: an assertion of rule {name} failed"),
                }));
            }
        }
    }
    Ok(())
}

fn truth(value: &Value, rule: &str) -> Result<bool, TemplateError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => Err(error(format!("Template error: the conditions and assertions of rule {rule} must be true or false"))),
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().filter_map(to_text).collect(),
        other => to_text(other).into_iter().collect(),
    }
}

/// A rule function's value: `Ref` to a parameter, `Fn::Equals`, `Fn::Not`, `Fn::And`,
/// `Fn::Or`, `Fn::If` of booleans, `Fn::Contains`, `Fn::EachMemberEquals`, `Fn::EachMemberIn`.
fn evaluate(value: &Value, parameters: &Map<String, Value>) -> Result<Value, TemplateError> {
    let Some(object) = value.as_object().filter(|o| o.len() == 1) else {
        return Ok(match value {
            Value::Array(items) => {
                Value::Array(items.iter().map(|i| evaluate(i, parameters)).collect::<Result<_, _>>()?)
            }
            other => other.clone(),
        });
    };
    let (name, args) = object.iter().next().expect("one key");
    let list = |count: usize| -> Result<Vec<Value>, TemplateError> {
        match args {
            Value::Array(items) if items.len() == count || (count == 0 && !items.is_empty()) => {
                items.iter().map(|i| evaluate(i, parameters)).collect()
            }
            _ => Err(error(format!("Template format error: {name} in Rules has the wrong number of arguments"))),
        }
    };
    Ok(match name.as_str() {
        "Ref" => {
            let target = args.as_str().unwrap_or_default();
            match (target, parameters.get(target)) {
                ("AWS::NoValue", _) => Value::String(String::new()),
                (_, Some(value)) => value.clone(),
                _ => {
                    return Err(error(format!(
                        "Template format error: Unresolved dependencies [{target}] in the Rules block of the template"
                    )));
                }
            }
        }
        "Fn::Equals" => {
            let a = list(2)?;
            Value::Bool(strings(&a[0]) == strings(&a[1]))
        }
        "Fn::Not" => Value::Bool(!truth(&list(1)?[0], name)?),
        "Fn::And" | "Fn::Or" => {
            let items = list(0)?;
            let values = items.iter().map(|v| truth(v, name)).collect::<Result<Vec<_>, _>>()?;
            Value::Bool(if name == "Fn::And" { values.iter().all(|b| *b) } else { values.iter().any(|b| *b) })
        }
        "Fn::If" => {
            let a = list(3)?;
            if truth(&a[0], name)? { a[1].clone() } else { a[2].clone() }
        }
        "Fn::Contains" => {
            let a = list(2)?;
            let needle = strings(&a[1]);
            Value::Bool(needle.len() == 1 && strings(&a[0]).contains(&needle[0]))
        }
        "Fn::EachMemberEquals" => {
            let a = list(2)?;
            let target = strings(&a[1]);
            Value::Bool(strings(&a[0]).iter().all(|m| target.len() == 1 && *m == target[0]))
        }
        "Fn::EachMemberIn" => {
            let a = list(2)?;
            let allowed = strings(&a[1]);
            Value::Bool(strings(&a[0]).iter().all(|m| allowed.contains(m)))
        }
        other if other.starts_with("Fn::") => {
            return Err(error(format!("Template error: {other} is not supported in Rules by Brume")));
        }
        _ => value.clone(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(rules: Value, parameters: Value) -> Result<(), String> {
        check(&json!({"Rules": rules}), parameters.as_object().unwrap()).map_err(|e| e.message)
    }

    #[test]
    fn assertions_refuse_with_their_description() {
        let rules = json!({
            "ProdSize": {
                "RuleCondition": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                "Assertions": [{
                    "Assert": {"Fn::Contains": [["m5.large", "m5.xlarge"], {"Ref": "Size"}]},
                    "AssertDescription": "Production needs a large instance",
                }],
            },
            "Users": {"Assertions": [{"Assert": {"Fn::Not": [{"Fn::Contains": [{"Ref": "Users"}, ""]}]}}]},
            "Subnets": {"Assertions": [{"Assert": {"Fn::And": [
                {"Fn::EachMemberIn": [{"Ref": "Users"}, ["a", "b", "c"]]},
                {"Fn::Or": [{"Fn::EachMemberEquals": [{"Ref": "Users"}, "a"]}, true]},
            ]}}]},
        });
        assert_eq!(run(rules.clone(), json!({"Env": "dev", "Size": "t3.micro", "Users": ["a", "b"]})), Ok(()));
        assert_eq!(
            run(rules.clone(), json!({"Env": "prod", "Size": "t3.micro", "Users": ["a"]})),
            Err("Production needs a large instance".to_string())
        );
        assert_eq!(
            run(rules.clone(), json!({"Env": "dev", "Size": "t3.micro", "Users": ["a", ""]})),
            Err("Template error: an assertion of rule Users failed".to_string())
        );
        assert!(run(rules, json!({"Env": "dev", "Size": "t3.micro", "Users": ["z"]})).is_err());
        assert!(
            run(json!({"R": {"Assertions": [{"Assert": {"Fn::RefAll": "AWS::EC2::VPC::Id"}}]}}), json!({})).is_err()
        );
    }
}
