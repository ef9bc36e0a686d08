//! The parameters DynamoDB had before expressions (`Expected`, `AttributeUpdates`,
//! `KeyConditions`, `QueryFilter`, `ScanFilter`, `AttributesToGet`,
//! `ConditionalOperator`), translated into the same conditions, updates and projections the
//! expressions parse to, so one evaluator serves both.

use std::collections::BTreeMap;

use brume_core::AwsError;
use serde_json::Value as Json;

use crate::error::{invalid, validation};
use crate::expr::{Action, Cmp, Cond, Operand, Path, Step, Update};
use crate::value::Value;

/// Refuses requests mixing both kinds, as DynamoDB does.
pub fn check_mixing(legacy: &[(&str, bool)], expressions: &[(&str, bool)]) -> Result<(), AwsError> {
    let (old, new) = (given(legacy), given(expressions));
    if !old.is_empty() && !new.is_empty() {
        return Err(validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            old.join(", "),
            new.join(", ")
        )));
    }
    Ok(())
}

fn given<'a>(list: &[(&'a str, bool)]) -> Vec<&'a str> {
    list.iter().filter(|(_, g)| *g).map(|(n, _)| *n).collect()
}

fn path(name: &str) -> Path {
    Path(vec![Step::Key(name.to_string())])
}

fn values(list: Option<&Json>) -> Result<Vec<Value>, AwsError> {
    list.and_then(Json::as_array).map(|l| l.iter().map(Value::from_wire).collect()).unwrap_or(Ok(Vec::new()))
}

/// One `ComparisonOperator` with its `AttributeValueList`, on attribute `name`.
pub fn comparison(name: &str, operator: &str, args: Vec<Value>) -> Result<Cond, AwsError> {
    let expected = match operator {
        "NULL" | "NOT_NULL" => Some(0),
        "EQ" | "NE" | "LE" | "LT" | "GE" | "GT" | "CONTAINS" | "NOT_CONTAINS" | "BEGINS_WITH" => Some(1),
        "BETWEEN" => Some(2),
        "IN" => None,
        other => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
            )));
        }
    };
    if expected.is_some_and(|n| n != args.len()) || (expected.is_none() && args.is_empty()) {
        return Err(invalid(&format!("Invalid number of argument(s) for the {operator} ComparisonOperator")));
    }
    let ordered = matches!(operator, "LE" | "LT" | "GE" | "GT" | "BETWEEN" | "BEGINS_WITH");
    let scalar = matches!(operator, "CONTAINS" | "NOT_CONTAINS");
    for v in &args {
        let ok = match v {
            Value::S(_) | Value::B(_) => true,
            Value::N(_) => operator != "BEGINS_WITH",
            Value::Bool(_) | Value::Null | Value::M(_) | Value::L(_) => !ordered && !scalar,
            Value::SS(_) | Value::NS(_) | Value::BS(_) => !ordered && !scalar,
        };
        if !ok {
            return Err(invalid(&format!(
                "ComparisonOperator {operator} is not valid for {} AttributeValue type",
                v.type_code()
            )));
        }
    }
    let p = || Operand::Path(path(name));
    let mut args = args.into_iter().map(Operand::Value);
    let mut arg = || args.next().expect("argument count checked");
    let cmp = |c: Cmp, v: Operand| Cond::Cmp(c, p(), v);
    Ok(match operator {
        "EQ" => cmp(Cmp::Eq, arg()),
        "NE" => cmp(Cmp::Ne, arg()),
        "LE" => cmp(Cmp::Le, arg()),
        "LT" => cmp(Cmp::Lt, arg()),
        "GE" => cmp(Cmp::Ge, arg()),
        "GT" => cmp(Cmp::Gt, arg()),
        "NULL" => Cond::NotExists(path(name)),
        "NOT_NULL" => Cond::Exists(path(name)),
        "CONTAINS" => Cond::Contains(p(), arg()),
        "NOT_CONTAINS" => {
            Cond::And(Box::new(Cond::Exists(path(name))), Box::new(Cond::Not(Box::new(Cond::Contains(p(), arg())))))
        }
        "BEGINS_WITH" => Cond::BeginsWith(p(), arg()),
        "BETWEEN" => {
            let low = arg();
            Cond::Between(p(), low, arg())
        }
        _ => Cond::In(p(), args.collect()),
    })
}

/// `Expected`, `QueryFilter`, `ScanFilter` or `KeyConditions`: conditions on attributes,
/// joined by `ConditionalOperator` (AND unless it says OR). `Expected` also takes the
/// older `Value`/`Exists` form.
pub fn conditions(
    map: &BTreeMap<String, Json>,
    operator: Option<&str>,
    expected: bool,
) -> Result<Option<Cond>, AwsError> {
    let or = match operator {
        None | Some("AND") => false,
        Some("OR") => true,
        Some(other) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]"
            )));
        }
    };
    let mut joined: Option<Cond> = None;
    for (name, spec) in map {
        let cond = match spec.get("ComparisonOperator").and_then(Json::as_str) {
            Some(op) => {
                if expected && (spec.get("Value").is_some() || spec.get("Exists").is_some()) {
                    return Err(invalid(&format!(
                        "Value or Exists parameter cannot be used with ComparisonOperator for Attribute: {name}"
                    )));
                }
                comparison(name, op, values(spec.get("AttributeValueList"))?)?
            }
            None if expected => {
                let exists = spec.get("Exists").and_then(Json::as_bool).unwrap_or(true);
                match (spec.get("Value"), exists) {
                    (Some(v), true) => {
                        Cond::Cmp(Cmp::Eq, Operand::Path(path(name)), Operand::Value(Value::from_wire(v)?))
                    }
                    (None, false) => Cond::NotExists(path(name)),
                    (Some(_), false) => {
                        return Err(invalid(&format!(
                            "Value cannot be used when Exists is false for Attribute: {name}"
                        )));
                    }
                    (None, true) => {
                        return Err(invalid(&format!(
                            "Value must be provided when Exists is true for Attribute: {name}"
                        )));
                    }
                }
            }
            None => return Err(invalid(&format!("ComparisonOperator is required for Attribute: {name}"))),
        };
        joined = Some(match joined {
            None => cond,
            Some(prev) if or => Cond::Or(Box::new(prev), Box::new(cond)),
            Some(prev) => Cond::And(Box::new(prev), Box::new(cond)),
        });
    }
    Ok(joined)
}

/// `AttributeUpdates`: PUT sets, DELETE removes (or takes elements out of a set), ADD adds
/// to numbers and sets and appends to lists.
pub fn attribute_updates(map: &BTreeMap<String, Json>) -> Result<Update, AwsError> {
    let mut actions = Vec::new();
    for (name, spec) in map {
        let value = spec.get("Value").map(Value::from_wire).transpose()?;
        let action = spec.get("Action").and_then(Json::as_str).unwrap_or("PUT");
        actions.push(match (action, value) {
            ("PUT", Some(v)) => Action::Set(path(name), Operand::Value(v)),
            ("PUT", None) => {
                return Err(invalid(&format!(
                    "Only DELETE action is allowed when no attribute value is specified: {name}"
                )));
            }
            ("DELETE", None) => Action::Remove(path(name)),
            ("DELETE", Some(v @ (Value::SS(_) | Value::NS(_) | Value::BS(_)))) => Action::Delete(path(name), v),
            ("DELETE", Some(_)) => {
                return Err(invalid("DELETE action with value is not supported for the type"));
            }
            ("ADD", Some(v @ Value::L(_))) => Action::Set(
                path(name),
                Operand::ListAppend(
                    Box::new(Operand::IfNotExists(path(name), Box::new(Operand::Value(Value::L(Vec::new()))))),
                    Box::new(Operand::Value(v)),
                ),
            ),
            ("ADD", Some(v @ (Value::N(_) | Value::SS(_) | Value::NS(_) | Value::BS(_)))) => Action::Add(path(name), v),
            ("ADD", Some(_)) => return Err(invalid("ADD action is not supported for the type")),
            ("ADD", None) => {
                return Err(invalid(&format!(
                    "Only DELETE action is allowed when no attribute value is specified: {name}"
                )));
            }
            (other, _) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{other}' at 'attributeUpdates.{name}.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"
                )));
            }
        });
    }
    Ok(Update { actions })
}

/// `AttributesToGet`: top-level attribute names, each once.
pub fn attributes_to_get(names: &[String]) -> Result<Vec<Path>, AwsError> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(invalid(&format!("Duplicate value in attribute name: {n}")));
        }
    }
    Ok(names.iter().map(|n| path(n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{apply, evaluate};
    use crate::value::{Item, item_from_wire};
    use serde_json::json;

    fn item(j: Json) -> Item {
        let map: BTreeMap<String, Json> = serde_json::from_value(j).unwrap();
        item_from_wire(&map).unwrap()
    }

    fn check(spec: Json, operator: Option<&str>, expected: Result<bool, &str>) {
        let map: BTreeMap<String, Json> = serde_json::from_value(spec.clone()).unwrap();
        let sample = item(json!({"a": {"N": "5"}, "s": {"S": "hello"}, "tags": {"SS": ["x"]}}));
        let got = conditions(&map, operator, true).map(|c| evaluate(&c.unwrap(), &sample)).map_err(|e| e.message);
        assert_eq!(got, expected.map_err(str::to_string), "{spec}");
    }

    #[test]
    fn legacy_conditions_mean_what_expressions_mean() {
        check(json!({"a": {"Value": {"N": "5"}}}), None, Ok(true));
        check(json!({"a": {"Value": {"N": "5"}, "Exists": true}}), None, Ok(true));
        check(json!({"zz": {"Exists": false}}), None, Ok(true));
        check(json!({"a": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "4"}]}}), None, Ok(true));
        check(
            json!({"a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "6"}, {"N": "9"}]}}),
            None,
            Ok(false),
        );
        check(
            json!({"a": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"N": "5"}]}}),
            None,
            Ok(true),
        );
        check(json!({"s": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "he"}]}}), None, Ok(true));
        check(
            json!({"tags": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [{"S": "y"}]}}),
            None,
            Ok(true),
        );
        check(json!({"zz": {"ComparisonOperator": "NULL"}}), None, Ok(true));
        check(
            json!({"a": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}, "s": {"ComparisonOperator": "NOT_NULL"}}),
            Some("OR"),
            Ok(true),
        );
        check(
            json!({"a": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}, "s": {"ComparisonOperator": "NOT_NULL"}}),
            None,
            Ok(false),
        );
        check(
            json!({"a": {"ComparisonOperator": "EQ"}}),
            None,
            Err(
                "One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator",
            ),
        );
        check(
            json!({"a": {"ComparisonOperator": "LT", "AttributeValueList": [{"BOOL": true}]}}),
            None,
            Err(
                "One or more parameter values were invalid: ComparisonOperator LT is not valid for BOOL AttributeValue type",
            ),
        );
        check(
            json!({"a": {"Exists": true}}),
            None,
            Err(
                "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a",
            ),
        );
    }

    #[test]
    fn attribute_updates_apply_like_update_expressions() {
        let map: BTreeMap<String, Json> = serde_json::from_value(json!({
            "n": {"Action": "ADD", "Value": {"N": "2"}},
            "l": {"Action": "ADD", "Value": {"L": [{"S": "b"}]}},
            "s": {"Action": "PUT", "Value": {"S": "new"}},
            "gone": {"Action": "DELETE"},
            "set": {"Action": "DELETE", "Value": {"SS": ["x"]}}
        }))
        .unwrap();
        let update = attribute_updates(&map).unwrap();
        let before =
            item(json!({"n": {"N": "1"}, "l": {"L": [{"S": "a"}]}, "gone": {"S": "x"}, "set": {"SS": ["x", "y"]}}));
        let after = serde_json::to_value(apply(&update, &before).unwrap()).unwrap();
        assert_eq!(
            after,
            json!({"n": {"N": "3"}, "l": {"L": [{"S": "a"}, {"S": "b"}]}, "s": {"S": "new"}, "set": {"SS": ["y"]}})
        );
    }

    #[test]
    fn mixing_is_refused() {
        let err = check_mixing(&[("AttributesToGet", true)], &[("ProjectionExpression", true)]).unwrap_err();
        assert_eq!(
            err.message,
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}"
        );
    }
}
