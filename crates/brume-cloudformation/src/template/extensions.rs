//! The `AWS::LanguageExtensions` transform's `Fn::ForEach`, and DeletionPolicy and
//! UpdateReplacePolicy given by a parameter, expanded when the template is parsed
//! (`Fn::Length`, `Fn::ToJsonString` and `Fn::FindInMap`'s `DefaultValue` are resolved with
//! the other functions).

use serde_json::{Map, Value};

use super::TemplateError;
use super::functions::{error, to_text};

pub const LANGUAGE_EXTENSIONS: &str = "AWS::LanguageExtensions";

/// The transforms a template declares (`Transform`, a name or a list of names).
pub fn transforms(template: &Value) -> Vec<String> {
    match template.get("Transform") {
        Some(Value::String(name)) => vec![name.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().or_else(|| item.get("Name").and_then(Value::as_str)))
            .map(str::to_string)
            .collect(),
        Some(Value::Object(object)) => {
            object.get("Name").and_then(Value::as_str).map(str::to_string).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

/// The template with every `Fn::ForEach` expanded when it declares `AWS::LanguageExtensions`;
/// a collection that is a `Ref` to a parameter takes its value from `values` when given, else
/// the parameter's Default, else nothing.
pub fn expand(template: Value, values: Option<&Map<String, Value>>) -> Result<Value, TemplateError> {
    if !transforms(&template).iter().any(|t| t == LANGUAGE_EXTENSIONS) {
        return Ok(template);
    }
    let declared = template.get("Parameters").cloned().unwrap_or(Value::Null);
    let mut lists = Map::new();
    if let Some(declared) = declared.as_object() {
        for (name, declaration) in declared {
            if let Some(default) = declaration.get("Default") {
                lists.insert(name.clone(), default.clone());
            }
        }
    }
    lists.extend(values.into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
    let mut template = expand_value(template, &lists)?;
    policies(&mut template, &lists);
    Ok(template)
}

/// A DeletionPolicy or UpdateReplacePolicy that is a `Ref` to a parameter takes its value.
fn policies(template: &mut Value, lists: &Map<String, Value>) {
    let Some(resources) = template.get_mut("Resources").and_then(Value::as_object_mut) else { return };
    for declaration in resources.values_mut().filter_map(Value::as_object_mut) {
        for attribute in ["DeletionPolicy", "UpdateReplacePolicy"] {
            let target = declaration.get(attribute).and_then(|p| p.get("Ref")).and_then(Value::as_str);
            if let Some(value) = target.and_then(|t| lists.get(t)).and_then(to_text) {
                declaration.insert(attribute.to_string(), Value::String(value));
            }
        }
    }
}

fn expand_value(value: Value, lists: &Map<String, Value>) -> Result<Value, TemplateError> {
    match value {
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, item) in object {
                if key.starts_with("Fn::ForEach::") {
                    out.extend(for_each(&key, item, lists)?);
                } else {
                    out.insert(key, expand_value(item, lists)?);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            Ok(Value::Array(items.into_iter().map(|i| expand_value(i, lists)).collect::<Result<_, _>>()?))
        }
        other => Ok(other),
    }
}

/// One loop's entries: its fragment once per member of the collection.
fn for_each(key: &str, loop_value: Value, lists: &Map<String, Value>) -> Result<Map<String, Value>, TemplateError> {
    let invalid = || {
        error(format!(
            "Template format error: {key} must be a list of an identifier, a collection and an output fragment"
        ))
    };
    let Value::Array(args) = loop_value else { return Err(invalid()) };
    let [identifier, collection, fragment] = <[Value; 3]>::try_from(args).map_err(|_| invalid())?;
    let identifier = identifier.as_str().ok_or_else(invalid)?.to_string();
    let members: Vec<String> = match &collection {
        Value::Array(items) => items.iter().filter_map(to_text).collect(),
        Value::Object(o) if o.len() == 1 && o.contains_key("Ref") => {
            match lists.get(o["Ref"].as_str().unwrap_or_default()) {
                Some(Value::Array(items)) => items.iter().filter_map(to_text).collect(),
                Some(other) => to_text(other)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.split(',').map(|m| m.trim().to_string()).collect())
                    .unwrap_or_default(),
                None => Vec::new(),
            }
        }
        _ => return Err(error(format!("Template format error: {key}'s collection must be a list"))),
    };
    let Value::Object(fragment) = fragment else { return Err(invalid()) };
    let mut out = Map::new();
    for member in &members {
        let expanded = expand_value(substitute(&Value::Object(fragment.clone()), &identifier, member), lists)?;
        if let Value::Object(entries) = expanded {
            out.extend(entries);
        }
    }
    Ok(out)
}

fn substitute_text(text: &str, identifier: &str, member: &str) -> String {
    let alphanumeric: String = member.chars().filter(char::is_ascii_alphanumeric).collect();
    text.replace(&format!("${{{identifier}}}"), member).replace(&format!("&{{{identifier}}}"), &alphanumeric)
}

fn substitute(value: &Value, identifier: &str, member: &str) -> Value {
    match value {
        Value::Object(object) if object.len() == 1 && object.get("Ref").and_then(Value::as_str) == Some(identifier) => {
            Value::String(member.to_string())
        }
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(k, v)| (substitute_text(k, identifier, member), substitute(v, identifier, member)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, identifier, member)).collect()),
        Value::String(s) => Value::String(substitute_text(s, identifier, member)),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn for_each_expands_resources_and_outputs() {
        let template = json!({
            "Transform": "AWS::LanguageExtensions",
            "Parameters": {"Names": {"Type": "CommaDelimitedList", "Default": "a-1, b"}},
            "Resources": {
                "Fn::ForEach::Queues": ["Name", {"Ref": "Names"}, {
                    "Queue&{Name}": {"Type": "AWS::SQS::Queue", "Properties": {
                        "QueueName": {"Ref": "Name"},
                        "Tags": [{"Key": "k", "Value": {"Fn::Sub": "${Name}-${AWS::Region}"}}],
                    }}
                }],
                "Other": {"Type": "T"},
            },
            "Outputs": {
                "Fn::ForEach::Out": ["X", ["p", "q"], {
                    "Fn::ForEach::Inner": ["Y", ["1", "2"], {"O${X}${Y}": {"Value": {"Fn::Sub": "${X}/${Y}"}}}]
                }]
            }
        });
        let got = expand(template.clone(), None).unwrap();
        assert_eq!(
            got["Resources"],
            json!({
                "Queuea1": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "a-1", "Tags": [{"Key": "k", "Value": {"Fn::Sub": "a-1-${AWS::Region}"}}]}},
                "Queueb": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "b", "Tags": [{"Key": "k", "Value": {"Fn::Sub": "b-${AWS::Region}"}}]}},
                "Other": {"Type": "T"},
            })
        );
        assert_eq!(got["Outputs"].as_object().unwrap().keys().collect::<Vec<_>>(), ["Op1", "Op2", "Oq1", "Oq2"]);
        assert_eq!(got["Outputs"]["Oq2"], json!({"Value": {"Fn::Sub": "q/2"}}));
        let values = json!({"Names": ["x"]}).as_object().unwrap().clone();
        let given = expand(template.clone(), Some(&values)).unwrap();
        assert_eq!(given["Resources"].as_object().unwrap().keys().collect::<Vec<_>>(), ["Queuex", "Other"]);
        let mut required = template;
        required["Parameters"]["Names"].as_object_mut().unwrap().remove("Default");
        let unknown = expand(required, None).unwrap();
        assert_eq!(unknown["Resources"].as_object().unwrap().keys().collect::<Vec<_>>(), ["Other"]);
    }

    #[test]
    fn policies_take_parameter_values() {
        let template = json!({
            "Transform": "AWS::LanguageExtensions",
            "Parameters": {"Keep": {"Type": "String", "Default": "Retain"}},
            "Resources": {"A": {"Type": "T", "DeletionPolicy": {"Ref": "Keep"}, "UpdateReplacePolicy": {"Ref": "Keep"}}},
        });
        assert_eq!(expand(template.clone(), None).unwrap()["Resources"]["A"]["DeletionPolicy"], "Retain");
        let values = json!({"Keep": "Delete"}).as_object().unwrap().clone();
        let given = expand(template, Some(&values)).unwrap();
        assert_eq!(given["Resources"]["A"]["UpdateReplacePolicy"], "Delete");
    }

    #[test]
    fn without_the_transform_nothing_changes() {
        let template = json!({"Resources": {"Fn::ForEach::X": ["A", ["b"], {}]}});
        assert_eq!(expand(template.clone(), None).unwrap(), template);
        let bad = json!({"Transform": ["AWS::LanguageExtensions"], "Resources": {"Fn::ForEach::X": ["A", "b", {}]}});
        assert_eq!(
            expand(bad, None).unwrap_err().message,
            "Template format error: Fn::ForEach::X's collection must be a list"
        );
    }
}
