//! Template bodies into JSON: JSON as it is, YAML read as CloudFormation reads it (YAML 1.1
//! booleans such as `yes` and `off`, dates left as strings) with the short-form tags turned
//! into their long forms.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Number, Value};

use super::TemplateError;

/// The body as JSON when it starts with `{` (or as YAML's flow style when it is not JSON),
/// else as YAML.
pub fn body_to_json(body: &str) -> Result<Value, TemplateError> {
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    if body.trim_start().starts_with('{') {
        return serde_json::from_str(body).or_else(|e| {
            yaml_to_json(body).map_err(|_| TemplateError {
                message: format!(
                    "Template format error: JSON not well-formed. (line {},  column {})",
                    e.line(),
                    e.column()
                ),
            })
        });
    }
    yaml_to_json(body)
}

enum Frame {
    Sequence { items: Vec<Value>, tag: Option<String>, anchor: usize },
    Mapping { entries: Map<String, Value>, key: Option<String>, tag: Option<String>, anchor: usize },
}

fn not_well_formed(line: usize, col: usize) -> TemplateError {
    TemplateError { message: format!("Template format error: YAML not well-formed. (line {line}, column {col})") }
}

/// The first document of a YAML body; an empty body is `null`.
fn yaml_to_json(body: &str) -> Result<Value, TemplateError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut root: Option<Value> = None;
    for event in Parser::new_from_str(body) {
        let (event, span) = event.map_err(|e| not_well_formed(e.marker().line(), e.marker().col() + 1))?;
        let finished = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(&text, style, tag.as_deref())
                    .map_err(|_| not_well_formed(span.start.line(), span.start.col() + 1))?;
                Some((value, anchor))
            }
            Event::Alias(id) => {
                let value = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| not_well_formed(span.start.line(), span.start.col() + 1))?;
                Some((value, 0))
            }
            Event::SequenceStart(anchor, tag) => {
                stack.push(Frame::Sequence { items: Vec::new(), tag: short_form(tag.as_deref()), anchor });
                None
            }
            Event::MappingStart(anchor, tag) => {
                stack.push(Frame::Mapping { entries: Map::new(), key: None, tag: short_form(tag.as_deref()), anchor });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Sequence { items, tag, anchor }) => Some((tagged(tag, Value::Array(items)), anchor)),
                Some(Frame::Mapping { entries, tag, anchor, .. }) => {
                    Some((tagged(tag, Value::Object(entries)), anchor))
                }
                None => None,
            },
            Event::DocumentEnd if root.is_some() => break,
            _ => None,
        };
        let Some((value, anchor)) = finished else { continue };
        if anchor != 0 {
            anchors.insert(anchor, value.clone());
        }
        match stack.last_mut() {
            None => root = Some(value),
            Some(Frame::Sequence { items, .. }) => items.push(value),
            Some(Frame::Mapping { entries, key, .. }) => match key.take() {
                None => {
                    *key = Some(match value {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    })
                }
                Some(k) => {
                    entries.insert(k, value);
                }
            },
        }
    }
    Ok(root.unwrap_or(Value::Null))
}

/// The long form's key of a `!Name` tag (`Ref`, `Condition`, else `Fn::Name`).
fn short_form(tag: Option<&Tag>) -> Option<String> {
    let tag = tag?;
    if tag.handle != "!" || tag.suffix.is_empty() {
        return None;
    }
    Some(match tag.suffix.as_str() {
        "Ref" | "Condition" => tag.suffix.clone(),
        name => format!("Fn::{name}"),
    })
}

fn tagged(tag: Option<String>, value: Value) -> Value {
    let Some(key) = tag else { return value };
    let value = match (key.as_str(), value) {
        ("Fn::GetAtt", Value::String(s)) => match s.split_once('.') {
            Some((resource, attribute)) => Value::Array(vec![resource.into(), attribute.into()]),
            None => Value::String(s),
        },
        (_, value) => value,
    };
    let mut object = Map::new();
    object.insert(key, value);
    Value::Object(object)
}

fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, ()> {
    if let Some(key) = short_form(tag) {
        let inner = if style == ScalarStyle::Plain && text.is_empty() {
            Value::String(String::new())
        } else {
            plain(text, style)
        };
        return Ok(tagged(Some(key), inner));
    }
    match tag {
        Some(tag) if tag.is_yaml_core_schema() => match tag.suffix.as_str() {
            "str" => Ok(Value::String(text.to_string())),
            "int" | "float" => match plain(text, ScalarStyle::Plain) {
                Value::Number(n) => Ok(Value::Number(n)),
                _ => Err(()),
            },
            "bool" => match plain(text, ScalarStyle::Plain) {
                Value::Bool(b) => Ok(Value::Bool(b)),
                _ => Err(()),
            },
            "null" => Ok(Value::Null),
            _ => Ok(Value::String(text.to_string())),
        },
        _ => Ok(plain(text, style)),
    }
}

/// A scalar as YAML 1.1 resolves it: quoted and block scalars are strings; plain ones may be
/// null, booleans or numbers; anything else (dates, `0123`) stays a string.
fn plain(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => return Value::Bool(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => return Value::Bool(false),
        _ => {}
    }
    number(text).map(Value::Number).unwrap_or_else(|| Value::String(text.to_string()))
}

fn number(text: &str) -> Option<Number> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let negative = text.starts_with('-');
    if let Some(hex) = unsigned.strip_prefix("0x") {
        let n = i64::from_str_radix(&hex.replace('_', ""), 16).ok()?;
        return Some(Number::from(if negative { -n } else { n }));
    }
    let digits = unsigned.replace('_', "");
    let first = digits.chars().next()?;
    if !(first.is_ascii_digit() || first == '.')
        || (digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0."))
    {
        return None;
    }
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.replace('_', "").trim_start_matches('+').parse::<i64>().ok().map(Number::from);
    }
    let float_like = digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit());
    if !float_like {
        return None;
    }
    let value: f64 = text.replace('_', "").parse().ok()?;
    Number::from_f64(value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn yaml(body: &str) -> Value {
        body_to_json(body).unwrap()
    }

    #[test]
    fn short_forms_become_long_forms() {
        let cases = [
            ("!Ref X", json!({"Ref": "X"})),
            ("!Condition C", json!({"Condition": "C"})),
            ("!GetAtt A.Arn", json!({"Fn::GetAtt": ["A", "Arn"]})),
            ("!GetAtt A.Endpoint.Address", json!({"Fn::GetAtt": ["A", "Endpoint.Address"]})),
            ("!GetAtt [A, Arn]", json!({"Fn::GetAtt": ["A", "Arn"]})),
            ("!Sub 'arn:${AWS::Partition}:s3:::${B}'", json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${B}"})),
            ("!Sub [\"${A}\", {A: !Ref B}]", json!({"Fn::Sub": ["${A}", {"A": {"Ref": "B"}}]})),
            ("!Join [',', [a, b]]", json!({"Fn::Join": [",", ["a", "b"]]})),
            ("!Select [0, !GetAZs '']", json!({"Fn::Select": [0, {"Fn::GetAZs": ""}]})),
            ("!Split [',', 'a,b']", json!({"Fn::Split": [",", "a,b"]})),
            ("!If [C, 1, !Ref AWS::NoValue]", json!({"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]})),
            ("!Equals [!Ref E, prod]", json!({"Fn::Equals": [{"Ref": "E"}, "prod"]})),
            (
                "!And [!Condition A, !Not [!Condition B]]",
                json!({"Fn::And": [{"Condition": "A"}, {"Fn::Not": [{"Condition": "B"}]}]}),
            ),
            ("!Or [!Condition A, !Condition B]", json!({"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]})),
            ("!FindInMap [M, !Ref AWS::Region, K]", json!({"Fn::FindInMap": ["M", {"Ref": "AWS::Region"}, "K"]})),
            ("!Base64 hello", json!({"Fn::Base64": "hello"})),
            ("!Cidr [10.0.0.0/16, 2, 8]", json!({"Fn::Cidr": ["10.0.0.0/16", 2, 8]})),
            ("!GetAZs", json!({"Fn::GetAZs": ""})),
            ("!ImportValue Shared", json!({"Fn::ImportValue": "Shared"})),
            ("!Transform {Name: AWS::Include}", json!({"Fn::Transform": {"Name": "AWS::Include"}})),
            ("!ToJsonString {a: 1}", json!({"Fn::ToJsonString": {"a": 1}})),
            ("!Length [1, 2]", json!({"Fn::Length": [1, 2]})),
            ("!Sub |\n  a ${X}\n", json!({"Fn::Sub": "a ${X}\n"})),
            (
                "!Join\n  - ''\n  - - !Ref A\n    - !GetAtt B.Arn\n",
                json!({"Fn::Join": ["", [{"Ref": "A"}, {"Fn::GetAtt": ["B", "Arn"]}]]}),
            ),
            (
                "{Fn::If: [C, !Ref A, !Ref 'AWS::NoValue']}",
                json!({"Fn::If": ["C", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]}),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(yaml(&format!("V: {body}"))["V"], expected, "{body}");
        }
    }

    #[test]
    fn scalars_read_as_cloudformation_reads_them() {
        let cases = [
            ("yes", json!(true)),
            ("Off", json!(false)),
            ("'yes'", json!("yes")),
            ("y", json!("y")),
            ("2010-09-09", json!("2010-09-09")),
            ("42", json!(42)),
            ("-7", json!(-7)),
            ("0x1F", json!(31)),
            ("3.5", json!(3.5)),
            ("1e3", json!(1000.0)),
            ("012345678901", json!("012345678901")),
            ("'42'", json!("42")),
            ("~", json!(null)),
            ("10.0.0.0/16", json!("10.0.0.0/16")),
            ("1.2.3", json!("1.2.3")),
            ("!!str 42", json!("42")),
            ("|\n  line\n", json!("line\n")),
        ];
        for (body, expected) in cases {
            assert_eq!(yaml(&format!("V: {body}"))["V"], expected, "{body}");
        }
    }

    #[test]
    fn keys_anchors_and_documents() {
        let v = yaml("Mappings:\n  M:\n    80: {a: &x 1}\n    true: {b: *x}\n");
        assert_eq!(v, json!({"Mappings": {"M": {"80": {"a": 1}, "true": {"b": 1}}}}));
        assert_eq!(yaml(""), Value::Null);
        assert_eq!(yaml("\u{feff}{\"a\": 1}"), json!({"a": 1}));
        assert_eq!(yaml("a: 1\r\nb:\r\n  - x\r\n"), json!({"a": 1, "b": ["x"]}));
        assert_eq!(yaml("a: 1\n---\nb: 2\n"), json!({"a": 1}));
    }

    #[test]
    fn malformed_bodies_say_where() {
        let err = body_to_json("Resources:\n  A: [1, 2\n").unwrap_err();
        assert!(err.message.starts_with("Template format error: YAML not well-formed. (line "), "{}", err.message);
        assert_eq!(yaml("{Resources: {A: {Type: !Ref T}}}"), json!({"Resources": {"A": {"Type": {"Ref": "T"}}}}));
        let err = body_to_json("{\n  \"Resources\": {,\n}").unwrap_err();
        assert_eq!(err.message, "Template format error: JSON not well-formed. (line 2,  column 17)");
    }
}
