//! Subscription filter policies: parsing with SNS's validation rules and limits, and
//! matching against a message's attributes (`MessageAttributes` scope) or its JSON body
//! (`MessageBody` scope). Pure: no IO, no clock.

use std::collections::BTreeMap;
use std::net::IpAddr;

use brume_core::clients::MessageAttribute;
use serde_json::{Map, Value};

/// At most this many keys in one alternative of a policy.
const MAX_KEYS: usize = 5;
/// At most this many combinations of values over all keys and `$or` branches.
const MAX_COMBINATIONS: u64 = 150;
/// How deep a `MessageBody` policy may nest objects.
const MAX_DEPTH: usize = 5;

/// What a policy is matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    MessageAttributes,
    MessageBody,
}

impl Scope {
    pub fn parse(value: &str) -> Option<Scope> {
        match value {
            "MessageAttributes" => Some(Scope::MessageAttributes),
            "MessageBody" => Some(Scope::MessageBody),
            _ => None,
        }
    }
}

/// A validated policy.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterPolicy {
    root: Node,
}

/// One level of a policy: every key must match, and one of the `$or` branches if any.
#[derive(Clone, Debug, PartialEq)]
struct Node {
    keys: Vec<(String, Child)>,
    any_of: Vec<Node>,
}

#[derive(Clone, Debug, PartialEq)]
enum Child {
    Conditions(Vec<Condition>),
    Nested(Node),
}

#[derive(Clone, Debug, PartialEq)]
enum Condition {
    Exact(Scalar),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    AnythingBut(Vec<Scalar>),
    AnythingButPrefix(String),
    AnythingButSuffix(String),
    Numeric(Vec<(Op, f64)>),
    Exists(bool),
    Cidr(IpAddr, u8),
}

#[derive(Clone, Debug, PartialEq)]
enum Scalar {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A message value a condition looks at; `Opaque` is present but matches no value
/// condition (binary attributes, objects in a body).
#[derive(Debug)]
enum Found {
    Value(Scalar),
    Opaque,
}

/// Parses and validates `text`; the error is the message SNS answers, without the
/// `Invalid parameter: FilterPolicy: ` prefix.
pub fn parse(text: &str, scope: Scope) -> Result<FilterPolicy, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("failed to parse JSON. {e}"))?;
    let Value::Object(object) = value else {
        return Err("Filter policy must be a JSON object".into());
    };
    let root = node(&object, scope, 1)?;
    if max_keys(&root) > MAX_KEYS {
        return Err(format!("Filter policy can not have more than {MAX_KEYS} keys"));
    }
    if combinations(&root) > MAX_COMBINATIONS {
        return Err("Filter policy is too complex".into());
    }
    Ok(FilterPolicy { root })
}

fn node(object: &Map<String, Value>, scope: Scope, depth: usize) -> Result<Node, String> {
    if depth > MAX_DEPTH {
        return Err(format!("Filter policy can not have a nesting depth greater than {MAX_DEPTH}"));
    }
    let mut out = Node { keys: Vec::new(), any_of: Vec::new() };
    for (key, value) in object {
        match value {
            Value::Array(items) if key == "$or" => {
                if items.len() < 2 {
                    return Err("$or must be an array of at least 2 objects".into());
                }
                for item in items {
                    let Value::Object(branch) = item else {
                        return Err("$or must be an array of at least 2 objects".into());
                    };
                    out.any_of.push(node(branch, scope, depth)?);
                }
            }
            Value::Array(items) => {
                if items.is_empty() {
                    return Err("Empty arrays are not allowed".into());
                }
                let conditions = items.iter().map(condition).collect::<Result<_, _>>()?;
                out.keys.push((key.clone(), Child::Conditions(conditions)));
            }
            Value::Object(inner) if scope == Scope::MessageBody => {
                out.keys.push((key.clone(), Child::Nested(node(inner, scope, depth + 1)?)));
            }
            Value::Object(_) => {
                return Err("Filter policy scope MessageAttributes does not support nested filter policy".into());
            }
            _ => return Err(format!("\"{key}\" must be an object or an array")),
        }
    }
    Ok(out)
}

fn scalar(value: &Value) -> Option<Scalar> {
    match value {
        Value::String(s) => Some(Scalar::Str(s.clone())),
        Value::Number(n) => n.as_f64().map(Scalar::Num),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Null => Some(Scalar::Null),
        _ => None,
    }
}

fn string_operand(op: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(format!("{op} match pattern must be a string")),
    }
}

fn condition(value: &Value) -> Result<Condition, String> {
    if let Some(s) = scalar(value) {
        return Ok(Condition::Exact(s));
    }
    let Value::Object(rule) = value else {
        return Err("Match value must be String, number, true, false, or null".into());
    };
    let mut entries = rule.iter();
    let (Some((op, operand)), None) = (entries.next(), entries.next()) else {
        return Err("Only one key allowed in match expression".into());
    };
    match op.as_str() {
        "prefix" => Ok(Condition::Prefix(string_operand(op, operand)?)),
        "suffix" => Ok(Condition::Suffix(string_operand(op, operand)?)),
        "equals-ignore-case" => Ok(Condition::EqualsIgnoreCase(string_operand(op, operand)?)),
        "exists" => match operand {
            Value::Bool(b) => Ok(Condition::Exists(*b)),
            _ => Err("exists match pattern must be either true or false.".into()),
        },
        "anything-but" => anything_but(operand),
        "numeric" => numeric(operand),
        "cidr" => cidr(operand),
        other => Err(format!("Unrecognized match type {other}")),
    }
}

fn anything_but(operand: &Value) -> Result<Condition, String> {
    let invalid = || "Value of anything-but must be an array or single string/number value.".to_string();
    match operand {
        Value::String(_) | Value::Number(_) => Ok(Condition::AnythingBut(vec![scalar(operand).ok_or_else(invalid)?])),
        Value::Array(items) if !items.is_empty() => {
            let values: Vec<Scalar> = items
                .iter()
                .map(|v| match v {
                    Value::String(_) | Value::Number(_) => scalar(v).ok_or_else(invalid),
                    _ => Err("Inside anything but list, start|null|boolean is not supported.".to_string()),
                })
                .collect::<Result<_, _>>()?;
            let strings = values.iter().filter(|v| matches!(v, Scalar::Str(_))).count();
            if strings != 0 && strings != values.len() {
                return Err("Inside anything but list, all values must be of the same type".into());
            }
            Ok(Condition::AnythingBut(values))
        }
        Value::Object(rule) if rule.len() == 1 => match rule.iter().next() {
            Some((op, Value::String(s))) if op == "prefix" => Ok(Condition::AnythingButPrefix(s.clone())),
            Some((op, Value::String(s))) if op == "suffix" => Ok(Condition::AnythingButSuffix(s.clone())),
            Some((op, _)) if op == "prefix" || op == "suffix" => Err(format!("{op} match pattern must be a string")),
            Some((op, _)) => Err(format!("Unsupported anything-but pattern: {op}")),
            None => Err(invalid()),
        },
        _ => Err(invalid()),
    }
}

fn numeric(operand: &Value) -> Result<Condition, String> {
    let Value::Array(items) = operand else {
        return Err("Value of numeric must be an array.".into());
    };
    if items.is_empty() {
        return Err("Invalid member in numeric match: ]".into());
    }
    if items.len() > 4 || items.len() % 2 != 0 {
        return Err("Too many elements in numeric expression".into());
    }
    let mut bounds = Vec::new();
    for pair in items.chunks(2) {
        let op = match pair[0].as_str() {
            Some("=") => Op::Eq,
            Some("<") => Op::Lt,
            Some("<=") => Op::Le,
            Some(">") => Op::Gt,
            Some(">=") => Op::Ge,
            _ => return Err(format!("Unrecognized numeric range operator: {}", pair[0])),
        };
        let name = pair[0].as_str().unwrap_or_default();
        let value = pair[1].as_f64().ok_or_else(|| format!("Value of {name} must be numeric"))?;
        if value.abs() > 1e9 {
            return Err("Numeric values must be between -10^9 and 10^9".into());
        }
        bounds.push((op, value));
    }
    match bounds.as_slice() {
        [(Op::Eq, _)] | [(_, _)] => {}
        [(Op::Gt | Op::Ge, low), (Op::Lt | Op::Le, high)] => {
            if low >= high {
                return Err("Bottom must be less than top".into());
            }
        }
        [(Op::Eq, _), _] | [_, (Op::Eq, _)] => return Err("Too many elements in numeric expression".into()),
        _ => return Err("Bad numeric range operator".into()),
    }
    Ok(Condition::Numeric(bounds))
}

fn cidr(operand: &Value) -> Result<Condition, String> {
    let Value::String(text) = operand else {
        return Err("prefix match pattern must be a string".into());
    };
    let (ip, bits) = text.split_once('/').ok_or_else(|| "Malformed CIDR, one '/' required".to_string())?;
    let ip: IpAddr = ip.parse().map_err(|_| format!("Nonstandard IP address: {ip}"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits: u8 = bits
        .parse()
        .ok()
        .filter(|b| *b <= max)
        .ok_or_else(|| format!("Malformed CIDR, mask bits must be an integer between 0 and {max}"))?;
    Ok(Condition::Cidr(ip, bits))
}

/// The most keys any alternative of the policy needs (each `$or` branch is one).
fn max_keys(node: &Node) -> usize {
    let own: usize = node
        .keys
        .iter()
        .map(|(_, child)| match child {
            Child::Conditions(_) => 1,
            Child::Nested(inner) => max_keys(inner),
        })
        .sum();
    own + node.any_of.iter().map(max_keys).max().unwrap_or(0)
}

/// How many value combinations the policy describes, as SNS counts its complexity.
fn combinations(node: &Node) -> u64 {
    let own: u64 = node
        .keys
        .iter()
        .map(|(_, child)| match child {
            Child::Conditions(c) => c.len() as u64,
            Child::Nested(inner) => combinations(inner),
        })
        .fold(1u64, |a, b| a.saturating_mul(b));
    if node.any_of.is_empty() {
        own
    } else {
        own.saturating_mul(node.any_of.iter().map(combinations).fold(0u64, |a, b| a.saturating_add(b)))
    }
}

impl FilterPolicy {
    /// Whether a message with these attributes matches (`MessageAttributes` scope).
    pub fn matches_attributes(&self, attributes: &BTreeMap<String, MessageAttribute>) -> bool {
        let lookup = |key: &str| attributes.get(key).map(attribute_values);
        matches_node(&self.root, &|path: &[&str]| path.first().and_then(|k| lookup(k)))
    }

    /// Whether a message with this body matches (`MessageBody` scope). A body that is not a
    /// JSON object matches no policy.
    pub fn matches_body(&self, body: &str) -> bool {
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(body) else { return false };
        let root = Value::Object(object);
        matches_node(&self.root, &|path: &[&str]| {
            let mut at = &root;
            for key in path {
                at = at.as_object()?.get(*key)?;
            }
            Some(body_values(at))
        })
    }
}

fn attribute_values(attribute: &MessageAttribute) -> Vec<Found> {
    let value = attribute.string_value.as_deref().unwrap_or_default();
    let base = attribute.data_type.split('.').next().unwrap_or_default();
    match (base, attribute.data_type.as_str()) {
        (_, "String.Array") => match serde_json::from_str::<Value>(value) {
            Ok(Value::Array(items)) => items.iter().map(|v| scalar(v).map_or(Found::Opaque, Found::Value)).collect(),
            _ => vec![Found::Opaque],
        },
        ("String", _) => vec![Found::Value(Scalar::Str(value.to_string()))],
        ("Number", _) => vec![value.trim().parse().map_or(Found::Opaque, |n| Found::Value(Scalar::Num(n)))],
        _ => vec![Found::Opaque],
    }
}

fn body_values(value: &Value) -> Vec<Found> {
    match value {
        Value::Array(items) => items.iter().map(|v| scalar(v).map_or(Found::Opaque, Found::Value)).collect(),
        other => vec![scalar(other).map_or(Found::Opaque, Found::Value)],
    }
}

/// `lookup(path)` is the values at a key path, `None` when the key is absent.
type Lookup<'a> = dyn Fn(&[&str]) -> Option<Vec<Found>> + 'a;

fn matches_node(node: &Node, lookup: &Lookup) -> bool {
    matches_at(node, &[], lookup)
}

fn matches_at(node: &Node, path: &[&str], lookup: &Lookup) -> bool {
    let keys_match = node.keys.iter().all(|(key, child)| {
        let mut here = path.to_vec();
        here.push(key);
        match child {
            Child::Nested(inner) => matches_at(inner, &here, lookup),
            Child::Conditions(conditions) => {
                let found = lookup(&here);
                conditions.iter().any(|c| condition_matches(c, found.as_deref()))
            }
        }
    });
    keys_match && (node.any_of.is_empty() || node.any_of.iter().any(|branch| matches_at(branch, path, lookup)))
}

fn condition_matches(condition: &Condition, found: Option<&[Found]>) -> bool {
    match (condition, found) {
        (Condition::Exists(wanted), found) => *wanted == found.is_some(),
        (_, None) => false,
        (condition, Some(values)) => values.iter().any(|v| match v {
            Found::Value(v) => value_matches(condition, v),
            Found::Opaque => false,
        }),
    }
}

fn value_matches(condition: &Condition, value: &Scalar) -> bool {
    let text = match value {
        Scalar::Str(s) => Some(s.as_str()),
        _ => None,
    };
    match condition {
        Condition::Exact(Scalar::Num(n)) => matches!(value, Scalar::Num(v) if v == n),
        Condition::Exact(expected) => expected == value,
        Condition::Prefix(p) => text.is_some_and(|t| t.starts_with(p.as_str())),
        Condition::Suffix(s) => text.is_some_and(|t| t.ends_with(s.as_str())),
        Condition::EqualsIgnoreCase(s) => text.is_some_and(|t| t.to_lowercase() == s.to_lowercase()),
        Condition::AnythingBut(excluded) => !excluded.iter().any(|e| e == value),
        Condition::AnythingButPrefix(p) => text.is_some_and(|t| !t.starts_with(p.as_str())),
        Condition::AnythingButSuffix(s) => text.is_some_and(|t| !t.ends_with(s.as_str())),
        Condition::Numeric(bounds) => match value {
            Scalar::Num(v) => bounds.iter().all(|(op, b)| match op {
                Op::Eq => v == b,
                Op::Lt => v < b,
                Op::Le => v <= b,
                Op::Gt => v > b,
                Op::Ge => v >= b,
            }),
            _ => false,
        },
        Condition::Cidr(network, bits) => {
            text.and_then(|t| t.parse::<IpAddr>().ok()).is_some_and(|ip| in_network(ip, *network, *bits))
        }
        Condition::Exists(_) => true,
    }
}

fn in_network(ip: IpAddr, network: IpAddr, bits: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A message for [`check`]: attributes as `(name, type, value)`, or a JSON body.
    enum Msg<'a> {
        Attrs(&'a [(&'a str, &'a str, &'a str)]),
        Body(Value),
    }

    fn check(policy: Value, message: Msg, expected: bool) {
        let scope = match message {
            Msg::Attrs(_) => Scope::MessageAttributes,
            Msg::Body(_) => Scope::MessageBody,
        };
        let parsed = parse(&policy.to_string(), scope).unwrap_or_else(|e| panic!("{policy}: {e}"));
        let got = match &message {
            Msg::Attrs(attrs) => {
                let map = attrs
                    .iter()
                    .map(|(n, t, v)| {
                        let a = MessageAttribute {
                            data_type: t.to_string(),
                            string_value: Some(v.to_string()),
                            binary_value: None,
                        };
                        (n.to_string(), a)
                    })
                    .collect();
                parsed.matches_attributes(&map)
            }
            Msg::Body(body) => parsed.matches_body(&body.to_string()),
        };
        assert_eq!(got, expected, "policy {policy}");
    }

    fn invalid(policy: Value, scope: Scope, message: &str) {
        assert_eq!(parse(&policy.to_string(), scope).unwrap_err(), message, "policy {policy}");
    }

    use Msg::{Attrs, Body};

    #[test]
    fn exact_values() {
        check(json!({"store": ["example_corp"]}), Attrs(&[("store", "String", "example_corp")]), true);
        check(json!({"store": ["example_corp"]}), Attrs(&[("store", "String", "other")]), false);
        check(json!({"store": ["a", "b"]}), Attrs(&[("store", "String", "b")]), true);
        check(json!({"store": ["a"]}), Attrs(&[]), false);
        check(json!({"price": [100]}), Attrs(&[("price", "Number", "100.0")]), true);
        check(json!({"price": [100]}), Attrs(&[("price", "String", "100")]), false);
        check(json!({"color": ["red"]}), Attrs(&[("color", "String.Array", "[\"blue\",\"red\"]")]), true);
        check(json!({"color": ["green"]}), Attrs(&[("color", "String.Array", "[\"blue\",\"red\"]")]), false);
        check(json!({"a": ["x"], "b": ["y"]}), Attrs(&[("a", "String", "x")]), false);
        check(json!({"a": ["x"], "b": ["y"]}), Attrs(&[("a", "String", "x"), ("b", "String", "y")]), true);
        check(json!({"t": ["x"]}), Attrs(&[("t", "String.custom", "x")]), true);
    }

    #[test]
    fn string_operators() {
        check(json!({"s": [{"prefix": "bas"}]}), Attrs(&[("s", "String", "basketball")]), true);
        check(json!({"s": [{"prefix": "bas"}]}), Attrs(&[("s", "String", "rugby")]), false);
        check(json!({"s": [{"suffix": "ball"}]}), Attrs(&[("s", "String", "baseball")]), true);
        check(json!({"s": [{"suffix": "ball"}]}), Attrs(&[("s", "String", "rugby")]), false);
        check(json!({"s": [{"equals-ignore-case": "ReD"}]}), Attrs(&[("s", "String", "rEd")]), true);
        check(json!({"s": [{"equals-ignore-case": "red"}]}), Attrs(&[("s", "String", "blue")]), false);
    }

    #[test]
    fn anything_but() {
        check(json!({"s": [{"anything-but": ["rugby", "tennis"]}]}), Attrs(&[("s", "String", "golf")]), true);
        check(json!({"s": [{"anything-but": ["rugby", "tennis"]}]}), Attrs(&[("s", "String", "rugby")]), false);
        check(json!({"s": [{"anything-but": "rugby"}]}), Attrs(&[("s", "String", "rugby")]), false);
        check(json!({"s": [{"anything-but": "rugby"}]}), Attrs(&[]), false);
        check(json!({"n": [{"anything-but": [100, 200]}]}), Attrs(&[("n", "Number", "150")]), true);
        check(json!({"n": [{"anything-but": [100, 200]}]}), Attrs(&[("n", "Number", "200")]), false);
        check(json!({"s": [{"anything-but": {"prefix": "order-"}}]}), Attrs(&[("s", "String", "order-1")]), false);
        check(json!({"s": [{"anything-but": {"prefix": "order-"}}]}), Attrs(&[("s", "String", "refund-1")]), true);
        check(json!({"s": [{"anything-but": {"suffix": ".tmp"}}]}), Attrs(&[("s", "String", "a.tmp")]), false);
        check(json!({"s": [{"anything-but": {"suffix": ".tmp"}}]}), Attrs(&[("s", "String", "a.txt")]), true);
    }

    #[test]
    fn numeric_ranges() {
        let range = json!({"price": [{"numeric": [">", 0, "<=", 150]}]});
        check(range.clone(), Attrs(&[("price", "Number", "150")]), true);
        check(range.clone(), Attrs(&[("price", "Number", "0")]), false);
        check(range.clone(), Attrs(&[("price", "Number", "150.5")]), false);
        check(range, Attrs(&[("price", "String", "100")]), false);
        check(json!({"p": [{"numeric": ["=", 3.5]}]}), Attrs(&[("p", "Number", "3.50")]), true);
        check(json!({"p": [{"numeric": [">=", 10]}]}), Attrs(&[("p", "Number", "9.99")]), false);
        check(json!({"p": [{"numeric": ["<", 10]}]}), Attrs(&[("p", "Number", "-4")]), true);
    }

    #[test]
    fn exists() {
        check(json!({"k": [{"exists": true}]}), Attrs(&[("k", "String", "v")]), true);
        check(json!({"k": [{"exists": true}]}), Attrs(&[]), false);
        check(json!({"k": [{"exists": false}]}), Attrs(&[]), true);
        check(json!({"k": [{"exists": false}]}), Attrs(&[("k", "Number", "1")]), false);
        check(json!({"k": [{"exists": true}]}), Attrs(&[("k", "Binary", "")]), true);
    }

    #[test]
    fn cidr() {
        check(json!({"ip": [{"cidr": "10.0.0.0/24"}]}), Attrs(&[("ip", "String", "10.0.0.255")]), true);
        check(json!({"ip": [{"cidr": "10.0.0.0/24"}]}), Attrs(&[("ip", "String", "10.0.1.0")]), false);
        check(json!({"ip": [{"cidr": "2001:db8::/32"}]}), Attrs(&[("ip", "String", "2001:db8::1")]), true);
        check(json!({"ip": [{"cidr": "10.0.0.0/8"}]}), Attrs(&[("ip", "String", "not-an-ip")]), false);
    }

    #[test]
    fn or_branches() {
        let policy = json!({"source": ["aws.cloudwatch"], "$or": [{"metric": ["CPU"]}, {"namespace": ["AWS/EC2"]}]});
        check(policy.clone(), Attrs(&[("source", "String", "aws.cloudwatch"), ("metric", "String", "CPU")]), true);
        check(
            policy.clone(),
            Attrs(&[("source", "String", "aws.cloudwatch"), ("namespace", "String", "AWS/EC2")]),
            true,
        );
        check(policy.clone(), Attrs(&[("source", "String", "aws.cloudwatch")]), false);
        check(policy, Attrs(&[("metric", "String", "CPU")]), false);
    }

    #[test]
    fn message_body_scope() {
        let policy = json!({"order": {"status": ["paid"], "total": [{"numeric": [">", 10]}]}});
        check(policy.clone(), Body(json!({"order": {"status": "paid", "total": 12}})), true);
        check(policy.clone(), Body(json!({"order": {"status": "paid", "total": 5}})), false);
        check(policy.clone(), Body(json!({"order": {"status": "new", "total": 12}})), false);
        check(policy, Body(json!({"status": "paid"})), false);
        check(json!({"tags": ["b"]}), Body(json!({"tags": ["a", "b"]})), true);
        check(json!({"flag": [true]}), Body(json!({"flag": true})), true);
        check(json!({"flag": [null]}), Body(json!({"flag": null})), true);
        check(json!({"flag": [true]}), Body(json!({"flag": "true"})), false);
        check(json!({"a": {"b": [{"exists": false}]}}), Body(json!({"a": {}})), true);
        check(json!({"$or": [{"a": ["1"]}, {"b": {"c": ["2"]}}]}), Body(json!({"b": {"c": "2"}})), true);
        let parsed = parse(r#"{"a": ["x"]}"#, Scope::MessageBody).unwrap();
        assert!(!parsed.matches_body("not json"));
    }

    #[test]
    fn validation_errors() {
        let attrs = Scope::MessageAttributes;
        invalid(
            json!({"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]}),
            attrs,
            "Filter policy can not have more than 5 keys",
        );
        let wide: Vec<u32> = (0..13).collect();
        invalid(json!({"a": wide, "b": wide}), attrs, "Filter policy is too complex");
        invalid(
            json!({"a": {"b": ["c"]}}),
            attrs,
            "Filter policy scope MessageAttributes does not support nested filter policy",
        );
        invalid(json!({"a": []}), attrs, "Empty arrays are not allowed");
        invalid(json!({"a": "x"}), attrs, "\"a\" must be an object or an array");
        invalid(json!({"a": [{"exists": "yes"}]}), attrs, "exists match pattern must be either true or false.");
        invalid(json!({"a": [{"wildcard": "x*"}]}), attrs, "Unrecognized match type wildcard");
        invalid(json!({"a": [{"prefix": 1}]}), attrs, "prefix match pattern must be a string");
        invalid(json!({"a": [{"numeric": [">", "x"]}]}), attrs, "Value of > must be numeric");
        invalid(json!({"a": [{"numeric": [">", 10, "<", 5]}]}), attrs, "Bottom must be less than top");
        invalid(
            json!({"a": [{"numeric": ["=", 1, "<", 5, ">", 0]}]}),
            attrs,
            "Too many elements in numeric expression",
        );
        invalid(json!({"a": [{"cidr": "10.0.0.0"}]}), attrs, "Malformed CIDR, one '/' required");
        invalid(
            json!({"a": [{"anything-but": ["x", 1]}]}),
            attrs,
            "Inside anything but list, all values must be of the same type",
        );
        invalid(json!({"a": [[1]]}), attrs, "Match value must be String, number, true, false, or null");
        invalid(json!(["a"]), attrs, "Filter policy must be a JSON object");
        let deep = json!({"a": {"b": {"c": {"d": {"e": {"f": ["x"]}}}}}});
        invalid(deep, Scope::MessageBody, "Filter policy can not have a nesting depth greater than 5");
        // `$or` branches are alternatives: each may use up to five keys.
        let or = json!({"$or": [{"a": ["1"], "b": ["1"], "c": ["1"]}, {"d": ["1"], "e": ["1"], "f": ["1"]}]});
        assert!(parse(&or.to_string(), attrs).is_ok());
    }
}
