//! The intrinsic functions and pseudo parameters, resolved against a [`Scope`].

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine;
use serde_json::{Map, Value};

use super::{Scope, TemplateError};

pub const PSEUDO_PARAMETERS: [&str; 8] = [
    "AWS::AccountId",
    "AWS::Region",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::URLSuffix",
    "AWS::Partition",
    "AWS::NoValue",
    "AWS::NotificationARNs",
];

/// The names of the functions a one-key object may call.
pub const FUNCTIONS: [&str; 20] = [
    "Ref",
    "Condition",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::Equals",
    "Fn::And",
    "Fn::Or",
    "Fn::Not",
    "Fn::FindInMap",
    "Fn::Base64",
    "Fn::Cidr",
    "Fn::GetAZs",
    "Fn::ImportValue",
    "Fn::ToJsonString",
    "Fn::Length",
    "Fn::Transform",
];

pub fn error(message: impl Into<String>) -> TemplateError {
    TemplateError { message: message.into() }
}

/// The function a value calls, if it is a one-key object naming one.
pub fn call(value: &Value) -> Option<(&str, &Value)> {
    let object = value.as_object()?;
    if object.len() != 1 {
        return None;
    }
    let (name, args) = object.iter().next()?;
    FUNCTIONS.contains(&name.as_str()).then_some((name.as_str(), args))
}

/// `value` resolved; `None` is `AWS::NoValue`.
pub fn resolve(value: &Value, scope: &Scope) -> Result<Option<Value>, TemplateError> {
    if let Some((name, args)) = call(value) {
        return function(name, args, scope);
    }
    Ok(Some(match value {
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, item) in object {
                if let Some(item) = resolve(item, scope)? {
                    out.insert(key.clone(), item);
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(item) = resolve(item, scope)? {
                    out.push(item);
                }
            }
            Value::Array(out)
        }
        other => other.clone(),
    }))
}

fn required(value: &Value, scope: &Scope, function: &str) -> Result<Value, TemplateError> {
    resolve(value, scope)?
        .ok_or_else(|| error(format!("Template error: every {function} object must not use AWS::NoValue")))
}

/// A scalar as CloudFormation turns it into a string.
pub fn to_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn text(value: &Value, scope: &Scope, function: &str, what: &str) -> Result<String, TemplateError> {
    let value = required(value, scope, function)?;
    to_text(&value).ok_or_else(|| error(format!("Template error: {what} of {function} must be a string")))
}

fn list(value: &Value, scope: &Scope, function: &str) -> Result<Vec<Value>, TemplateError> {
    match required(value, scope, function)? {
        Value::Array(items) => Ok(items),
        _ => Err(error(format!("Template error: {function} requires a list"))),
    }
}

fn args<'a>(value: &'a Value, function: &str, counts: &[usize]) -> Result<&'a [Value], TemplateError> {
    match value {
        Value::Array(items) if counts.contains(&items.len()) => Ok(items),
        _ => Err(error(format!("Template error: every {function} object requires {} parameters", counts[0]))),
    }
}

fn function(name: &str, args_value: &Value, scope: &Scope) -> Result<Option<Value>, TemplateError> {
    let value = match name {
        "Ref" => {
            let target = args_value
                .as_str()
                .ok_or_else(|| error("Template error: every Ref object must have a single String value."))?;
            return reference(target, scope);
        }
        "Condition" => {
            let name = args_value.as_str().ok_or_else(|| error("Template error: Condition must be a string"))?;
            Value::Bool(condition(name, scope)?)
        }
        "Fn::GetAtt" => get_att(args_value, scope)?,
        "Fn::Sub" => Value::String(sub(args_value, scope)?),
        "Fn::Join" => {
            let a = args(args_value, name, &[2])?;
            let delimiter = text(&a[0], scope, name, "the delimiter")?;
            let items = list(&a[1], scope, name)?;
            let parts = items
                .iter()
                .map(|item| {
                    to_text(item)
                        .ok_or_else(|| error("Template error: every Fn::Join object requires a list of strings"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Value::String(parts.join(&delimiter))
        }
        "Fn::Select" => {
            let a = args(args_value, name, &[2])?;
            let index = text(&a[0], scope, name, "the index")?;
            let index: usize = index
                .parse()
                .map_err(|_| error("Template error: Fn::Select requires a valid index as the first parameter"))?;
            let items = list(&a[1], scope, name)?;
            items.get(index).cloned().ok_or_else(|| {
                error(format!("Template error: Fn::Select cannot select nonexistent value at index {index}"))
            })?
        }
        "Fn::Split" => {
            let a = args(args_value, name, &[2])?;
            let delimiter = text(&a[0], scope, name, "the delimiter")?;
            let source = text(&a[1], scope, name, "the source")?;
            Value::Array(source.split(delimiter.as_str()).map(|s| Value::String(s.to_string())).collect())
        }
        "Fn::If" => {
            let a = args(args_value, name, &[3])?;
            let condition_name =
                a[0].as_str().ok_or_else(|| error("Template error: Fn::If requires a condition name"))?;
            let holds = scope.conditions.get(condition_name).copied().ok_or_else(|| {
                error(format!("Template error: unresolved condition dependency {condition_name} in Fn::If"))
            })?;
            return resolve(if holds { &a[1] } else { &a[2] }, scope);
        }
        "Fn::Equals" => {
            let a = args(args_value, name, &[2])?;
            let left = required(&a[0], scope, name)?;
            let right = required(&a[1], scope, name)?;
            Value::Bool(match (to_text(&left), to_text(&right)) {
                (Some(l), Some(r)) => l == r,
                _ => left == right,
            })
        }
        "Fn::And" | "Fn::Or" => {
            let items = match args_value {
                Value::Array(items) if (2..=10).contains(&items.len()) => items,
                _ => {
                    return Err(error(format!(
                        "Template error: every {name} object requires between 2 and 10 parameters"
                    )));
                }
            };
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                values.push(boolean(item, scope, name)?);
            }
            Value::Bool(if name == "Fn::And" { values.iter().all(|b| *b) } else { values.iter().any(|b| *b) })
        }
        "Fn::Not" => {
            let a = args(args_value, name, &[1])?;
            Value::Bool(!boolean(&a[0], scope, name)?)
        }
        "Fn::FindInMap" => find_in_map(args_value, scope)?,
        "Fn::Base64" => {
            let source = text(args_value, scope, name, "the value")?;
            Value::String(base64::engine::general_purpose::STANDARD.encode(source))
        }
        "Fn::Cidr" => {
            let a = args(args_value, name, &[3])?;
            let block = text(&a[0], scope, name, "the ipBlock")?;
            let count = text(&a[1], scope, name, "the count")?;
            let bits = text(&a[2], scope, name, "the cidrBits")?;
            Value::Array(cidr(&block, &count, &bits)?.into_iter().map(Value::String).collect())
        }
        "Fn::GetAZs" => {
            let region = text(args_value, scope, name, "the region")?;
            let region = if region.is_empty() { scope.region.to_string() } else { region };
            Value::Array(["a", "b", "c"].iter().map(|zone| Value::String(format!("{region}{zone}"))).collect())
        }
        "Fn::ImportValue" => {
            let export = text(args_value, scope, name, "the export name")?;
            let value = scope.exports.get(&export).ok_or_else(|| error(format!("No export named {export} found")))?;
            Value::String(value.clone())
        }
        "Fn::ToJsonString" => {
            let value = required(args_value, scope, name)?;
            Value::String(serde_json::to_string(&value).unwrap_or_default())
        }
        "Fn::Length" => Value::from(list(args_value, scope, name)?.len()),
        "Fn::Transform" => {
            return Err(error("Template error: Fn::Transform (AWS::Include and macros) is not supported by Brume"));
        }
        _ => return Err(error(format!("Template error: unsupported function {name}"))),
    };
    Ok(Some(value))
}

fn boolean(value: &Value, scope: &Scope, function: &str) -> Result<bool, TemplateError> {
    match required(value, scope, function)? {
        Value::Bool(b) => Ok(b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => Err(error(format!("Template error: every {function} object requires conditions as parameters"))),
    }
}

fn condition(name: &str, scope: &Scope) -> Result<bool, TemplateError> {
    scope
        .conditions
        .get(name)
        .copied()
        .ok_or_else(|| error(format!("Template format error: Unresolved condition dependency {name}")))
}

/// What `Ref` gives for a parameter, pseudo parameter or resource.
fn reference(target: &str, scope: &Scope) -> Result<Option<Value>, TemplateError> {
    let value = match target {
        "AWS::NoValue" => return Ok(None),
        "AWS::AccountId" => Value::String(scope.account.to_string()),
        "AWS::Region" => Value::String(scope.region.to_string()),
        "AWS::StackName" => Value::String(scope.stack_name.to_string()),
        "AWS::StackId" => Value::String(scope.stack_id.to_string()),
        "AWS::URLSuffix" => Value::String("amazonaws.com".to_string()),
        "AWS::Partition" => Value::String("aws".to_string()),
        "AWS::NotificationARNs" => Value::Array(scope.notification_arns.iter().cloned().map(Value::String).collect()),
        _ => {
            if let Some(value) = scope.parameters.get(target) {
                value.clone()
            } else if let Some(resource) = scope.resources.get(target) {
                Value::String(resource.physical_id.clone())
            } else {
                return Err(unresolved(target));
            }
        }
    };
    Ok(Some(value))
}

pub fn unresolved(target: &str) -> TemplateError {
    error(format!(
        "Template format error: Unresolved resource dependencies [{target}] in the Resources block of the template"
    ))
}

fn get_att(args_value: &Value, scope: &Scope) -> Result<Value, TemplateError> {
    let (resource, attribute) = match args_value {
        Value::Array(items) if items.len() == 2 => {
            let resource = items[0]
                .as_str()
                .ok_or_else(|| error("Template error: every Fn::GetAtt object requires two non-empty parameters"))?;
            (resource.to_string(), text(&items[1], scope, "Fn::GetAtt", "the attribute name")?)
        }
        Value::String(s) => match s.split_once('.') {
            Some((r, a)) => (r.to_string(), a.to_string()),
            None => return Err(error("Template error: every Fn::GetAtt object requires two non-empty parameters")),
        },
        _ => return Err(error("Template error: every Fn::GetAtt object requires two non-empty parameters")),
    };
    attribute_of(&resource, &attribute, scope)
}

fn attribute_of(resource: &str, attribute: &str, scope: &Scope) -> Result<Value, TemplateError> {
    let resolved = scope.resources.get(resource).ok_or_else(|| {
        error(format!("Template error: instance of Fn::GetAtt references undefined resource {resource}"))
    })?;
    // `Endpoint.Address` is an attribute of its own, or the member of an `Endpoint` object.
    let nested = || {
        let (head, rest) = attribute.split_once('.')?;
        rest.split('.').try_fold(resolved.attributes.get(head)?, |value, member| value.get(member))
    };
    resolved.attributes.get(attribute).or_else(nested).cloned().ok_or_else(|| {
        error(format!("Template error: resource {resource} does not support attribute type {attribute} in Fn::GetAtt"))
    })
}

/// A piece of an `Fn::Sub` string: literal text or a `${…}` variable.
pub enum Piece {
    Text(String),
    Variable(String),
}

/// An `Fn::Sub` string split into its pieces; `${!Literal}` is the literal `${Literal}`.
pub fn sub_pieces(template: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if after.starts_with('!') => {
                literal.push_str("${");
                literal.push_str(&after[1..=end]);
                rest = &after[end + 1..];
            }
            Some(end) => {
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Variable(after[..end].trim().to_string()));
                rest = &after[end + 1..];
            }
            None => {
                literal.push_str("${");
                rest = after;
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    pieces
}

const SUB_ARGUMENTS: &str = "Template error: One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a string as first argument, and an optional second argument to specify a mapping of values to replace in the string";

fn sub(args_value: &Value, scope: &Scope) -> Result<String, TemplateError> {
    let (template, variables) = match args_value {
        Value::String(s) => (s.clone(), BTreeMap::new()),
        Value::Array(items) if items.len() == 2 => {
            let template = items[0].as_str().ok_or_else(|| error(SUB_ARGUMENTS))?;
            let map = items[1].as_object().ok_or_else(|| error(SUB_ARGUMENTS))?;
            let mut variables = BTreeMap::new();
            for (name, value) in map {
                variables.insert(name.clone(), required(value, scope, "Fn::Sub")?);
            }
            (template.to_string(), variables)
        }
        _ => return Err(error(SUB_ARGUMENTS)),
    };
    let mut out = String::new();
    for piece in sub_pieces(&template) {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Variable(name) => {
                let value = match variables.get(&name) {
                    Some(value) => value.clone(),
                    None => match name.split_once('.') {
                        Some((resource, attribute))
                            if !scope.parameters.contains_key(&name) && !scope.resources.contains_key(&name) =>
                        {
                            attribute_of(resource, attribute, scope)?
                        }
                        _ => reference(&name, scope)?.unwrap_or(Value::String(String::new())),
                    },
                };
                out.push_str(&sub_text(&value)?);
            }
        }
    }
    Ok(out)
}

fn sub_text(value: &Value) -> Result<String, TemplateError> {
    match value {
        Value::Array(items) => Ok(items.iter().filter_map(to_text).collect::<Vec<_>>().join(",")),
        other => to_text(other).ok_or_else(|| error("Template error: variables in Fn::Sub must resolve to strings")),
    }
}

/// `Fn::FindInMap`: the mapping itself is inlined as a one-key object `{name: mapping}` by
/// [`super::inline_mappings`], the template being out of the scope's reach.
fn find_in_map(args_value: &Value, scope: &Scope) -> Result<Value, TemplateError> {
    let a = args(args_value, "Fn::FindInMap", &[3, 4])?;
    let default = match a.get(3) {
        Some(Value::Object(options)) => match options.get("DefaultValue") {
            Some(value) => Some(required(value, scope, "Fn::FindInMap")?),
            None => None,
        },
        _ => None,
    };
    let (name, mapping) = match &a[0] {
        Value::Object(inlined) if inlined.len() == 1 => {
            let (name, mapping) = inlined.iter().next().expect("one key");
            (name.clone(), Some(mapping))
        }
        other => (to_text(other).unwrap_or_default(), None),
    };
    let top = text(&a[1], scope, "Fn::FindInMap", "the top-level key")?;
    let second = text(&a[2], scope, "Fn::FindInMap", "the second-level key")?;
    let found = mapping.and_then(|m| m.get(&top)).and_then(|m| m.get(&second));
    match (found, default) {
        (Some(value), _) => Ok(value.clone()),
        (None, Some(default)) => Ok(default),
        (None, None) if mapping.is_none() => Err(error(format!(
            "Template error: Mapping named '{name}' is not present in the 'Mappings' section of template."
        ))),
        (None, None) => Err(error(format!("Template error: Unable to get mapping for {name}::{top}::{second}"))),
    }
}

fn cidr(block: &str, count: &str, bits: &str) -> Result<Vec<String>, TemplateError> {
    let invalid = || {
        error(format!(
            "Template error: Fn::Cidr requires a valid CIDR block, count and cidrBits, not {block}, {count}, {bits}"
        ))
    };
    let count: u32 = count.parse().map_err(|_| invalid())?;
    let bits: u32 = bits.parse().map_err(|_| invalid())?;
    let (address, prefix) = block.split_once('/').ok_or_else(invalid)?;
    let prefix: u32 = prefix.parse().map_err(|_| invalid())?;
    if !(1..=256).contains(&count) {
        return Err(invalid());
    }
    let (base, width, v6) = if let Ok(v4) = address.parse::<Ipv4Addr>() {
        (u128::from(u32::from(v4)), 32, false)
    } else if let Ok(v6) = address.parse::<Ipv6Addr>() {
        (u128::from(v6), 128, true)
    } else {
        return Err(invalid());
    };
    if prefix > width || bits == 0 || bits > width - prefix {
        return Err(invalid());
    }
    let subnet_prefix = width - bits;
    let available = 1u128 << (subnet_prefix - prefix).min(127);
    if u128::from(count) > available {
        return Err(invalid());
    }
    let host_mask = if width - prefix >= 128 { u128::MAX } else { (1u128 << (width - prefix)) - 1 };
    let network = base & !host_mask;
    Ok((0..u128::from(count))
        .map(|i| {
            let address = network + (i << bits);
            if v6 {
                format!("{}/{subnet_prefix}", Ipv6Addr::from(address))
            } else {
                format!("{}/{subnet_prefix}", Ipv4Addr::from(address as u32))
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::Resolved;
    use super::*;

    struct Fixture {
        parameters: Map<String, Value>,
        conditions: BTreeMap<String, bool>,
        resources: BTreeMap<String, Resolved>,
        exports: BTreeMap<String, String>,
        arns: Vec<String>,
    }

    fn fixture() -> Fixture {
        let mut attributes = Map::new();
        attributes.insert("Arn".into(), json!("arn:aws:sqs:us-east-1:000000000000:q"));
        attributes.insert("Endpoint.Address".into(), json!("db.local"));
        attributes.insert("Config".into(), json!({"Host": {"Name": "h"}}));
        let mut resources = BTreeMap::new();
        resources.insert("Queue".to_string(), Resolved { physical_id: "https://q".into(), attributes });
        Fixture {
            parameters: json!({"Env": "prod", "Subnets": ["a", "b"]}).as_object().unwrap().clone(),
            conditions: [("IsProd".to_string(), true), ("IsDev".to_string(), false)].into_iter().collect(),
            resources,
            exports: [("Shared".to_string(), "v".to_string())].into_iter().collect(),
            arns: vec!["arn:aws:sns:us-east-1:000000000000:t".into()],
        }
    }

    fn eval(f: &Fixture, value: Value) -> Result<Option<Value>, TemplateError> {
        let scope = Scope {
            account: "000000000000",
            region: "us-east-1",
            stack_name: "s",
            stack_id: "arn:aws:cloudformation:us-east-1:000000000000:stack/s/id",
            notification_arns: &f.arns,
            parameters: &f.parameters,
            conditions: &f.conditions,
            resources: &f.resources,
            exports: &f.exports,
        };
        resolve(&value, &scope)
    }

    #[test]
    fn functions_resolve() {
        let f = fixture();
        let cases = [
            (json!({"Ref": "Env"}), json!("prod")),
            (json!({"Ref": "Queue"}), json!("https://q")),
            (json!({"Ref": "AWS::Region"}), json!("us-east-1")),
            (json!({"Ref": "AWS::URLSuffix"}), json!("amazonaws.com")),
            (json!({"Ref": "AWS::Partition"}), json!("aws")),
            (json!({"Ref": "AWS::AccountId"}), json!("000000000000")),
            (json!({"Ref": "AWS::StackName"}), json!("s")),
            (json!({"Ref": "AWS::NotificationARNs"}), json!(["arn:aws:sns:us-east-1:000000000000:t"])),
            (json!({"Fn::GetAtt": ["Queue", "Arn"]}), json!("arn:aws:sqs:us-east-1:000000000000:q")),
            (json!({"Fn::GetAtt": "Queue.Endpoint.Address"}), json!("db.local")),
            (json!({"Fn::GetAtt": ["Queue", "Config.Host.Name"]}), json!("h")),
            (json!({"Fn::GetAtt": ["Queue", "Config.Port"]}), json!(null)),
            (
                json!({"Fn::Sub": "${AWS::Region}-${Env}-${Queue.Arn}-${!Literal}"}),
                json!("us-east-1-prod-arn:aws:sqs:us-east-1:000000000000:q-${Literal}"),
            ),
            (json!({"Fn::Sub": ["${A}/${Queue}", {"A": {"Ref": "Env"}}]}), json!("prod/https://q")),
            (json!({"Fn::Sub": "${Subnets}"}), json!("a,b")),
            (json!({"Fn::Join": ["-", ["a", 1, {"Ref": "Env"}]]}), json!("a-1-prod")),
            (json!({"Fn::Join": [",", {"Ref": "Subnets"}]}), json!("a,b")),
            (json!({"Fn::Select": ["1", {"Ref": "Subnets"}]}), json!("b")),
            (json!({"Fn::Split": [",", "x,y,,z"]}), json!(["x", "y", "", "z"])),
            (json!({"Fn::If": ["IsProd", "big", "small"]}), json!("big")),
            (json!({"Fn::If": ["IsDev", "big", {"Fn::Join": ["", ["sm", "all"]]}]}), json!("small")),
            (json!({"Fn::Equals": [{"Ref": "Env"}, "prod"]}), json!(true)),
            (json!({"Fn::Equals": [1, "1"]}), json!(true)),
            (json!({"Fn::And": [{"Condition": "IsProd"}, {"Fn::Not": [{"Condition": "IsDev"}]}]}), json!(true)),
            (json!({"Fn::Or": [{"Condition": "IsDev"}, {"Fn::Equals": ["a", "b"]}]}), json!(false)),
            (json!({"Fn::Base64": "hello"}), json!("aGVsbG8=")),
            (json!({"Fn::Cidr": ["10.0.0.0/16", 3, 8]}), json!(["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"])),
            (json!({"Fn::Cidr": ["192.168.1.77/24", "2", "6"]}), json!(["192.168.1.0/26", "192.168.1.64/26"])),
            (json!({"Fn::Cidr": ["2001:db8::/56", 2, 64]}), json!(["2001:db8::/64", "2001:db8:0:1::/64"])),
            (json!({"Fn::GetAZs": ""}), json!(["us-east-1a", "us-east-1b", "us-east-1c"])),
            (json!({"Fn::GetAZs": {"Ref": "AWS::Region"}}), json!(["us-east-1a", "us-east-1b", "us-east-1c"])),
            (json!({"Fn::ImportValue": {"Fn::Sub": "Sh${!x}"}}), json!(null)),
            (json!({"Fn::ImportValue": "Shared"}), json!("v")),
            (json!({"Fn::ToJsonString": {"a": [1, {"Ref": "Env"}]}}), json!("{\"a\":[1,\"prod\"]}")),
            (json!({"Fn::Length": {"Ref": "Subnets"}}), json!(2)),
            (json!({"Fn::FindInMap": [{"M": {"prod": {"Size": 3}}}, {"Ref": "Env"}, "Size"]}), json!(3)),
            (json!({"Fn::FindInMap": [{"M": {}}, "x", "y", {"DefaultValue": "d"}]}), json!("d")),
            (
                json!({"A": {"Ref": "AWS::NoValue"}, "B": [1, {"Fn::If": ["IsDev", 2, {"Ref": "AWS::NoValue"}]}]}),
                json!({"B": [1]}),
            ),
        ];
        for (input, expected) in cases {
            let got = eval(&f, input.clone());
            if expected.is_null() {
                assert!(got.is_err(), "{input}");
            } else {
                assert_eq!(got.unwrap(), Some(expected), "{input}");
            }
        }
        assert_eq!(eval(&f, json!({"Ref": "AWS::NoValue"})).unwrap(), None);
    }

    #[test]
    fn functions_fail_as_cloudformation_says() {
        let f = fixture();
        assert_eq!(eval(&f, json!({"Fn::Sub": 3})).unwrap_err().message, SUB_ARGUMENTS);
        assert_eq!(eval(&f, json!({"Fn::Sub": ["${A}", "x"]})).unwrap_err().message, SUB_ARGUMENTS);
        for invalid in [
            json!(["10.0.0.0/24", 2, 9]),
            json!(["10.0.0.0", 1, 8]),
            json!(["x/8", 1, 8]),
            json!(["10.0.0.0/24", 300, 1]),
        ] {
            assert!(
                eval(&f, json!({"Fn::Cidr": invalid})).unwrap_err().message.starts_with("Template error: Fn::Cidr")
            );
        }
        let cases = [
            (
                json!({"Fn::GetAtt": ["Queue", "Nope"]}),
                "Template error: resource Queue does not support attribute type Nope in Fn::GetAtt",
            ),
            (
                json!({"Fn::GetAtt": ["Other", "Arn"]}),
                "Template error: instance of Fn::GetAtt references undefined resource Other",
            ),
            (
                json!({"Ref": "Missing"}),
                "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template",
            ),
            (json!({"Fn::ImportValue": "Nope"}), "No export named Nope found"),
            (
                json!({"Fn::Select": [5, ["a"]]}),
                "Template error: Fn::Select cannot select nonexistent value at index 5",
            ),
            (json!({"Fn::If": ["Nope", 1, 2]}), "Template error: unresolved condition dependency Nope in Fn::If"),
            (
                json!({"Fn::FindInMap": [{"M": {"a": {}}}, "a", "b"]}),
                "Template error: Unable to get mapping for M::a::b",
            ),
            (
                json!({"Fn::FindInMap": ["M", "a", "b"]}),
                "Template error: Mapping named 'M' is not present in the 'Mappings' section of template.",
            ),
            (json!({"Fn::And": [true]}), "Template error: every Fn::And object requires between 2 and 10 parameters"),
        ];
        for (input, expected) in cases {
            assert_eq!(eval(&f, input.clone()).unwrap_err().message, expected, "{input}");
        }
    }
}
