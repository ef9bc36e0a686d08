//! A template checked as ValidateTemplate and CreateStack check it (sections, declarations,
//! references, cycles), and its [`Summary`].

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::extensions::{LANGUAGE_EXTENSIONS, transforms};
use super::functions::{FUNCTIONS, PSEUDO_PARAMETERS, error, to_text};
use super::graph::references;
use super::{Summary, TemplateError, parameters};

const SECTIONS: [&str; 10] = [
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
];

const RESOURCE_ATTRIBUTES: [&str; 10] = [
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "Metadata",
    "CreationPolicy",
    "UpdatePolicy",
    "Version",
];

const NESTED_STACK: &str = "AWS::CloudFormation::Stack";

/// IAM resource types and the property that names them (CAPABILITY_NAMED_IAM).
const IAM_NAMES: [(&str, &str); 5] = [
    ("AWS::IAM::Role", "RoleName"),
    ("AWS::IAM::User", "UserName"),
    ("AWS::IAM::Group", "GroupName"),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
    ("AWS::IAM::InstanceProfile", "InstanceProfileName"),
];

fn object_section<'a>(
    template: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<&'a serde_json::Map<String, Value>>, TemplateError> {
    match template.get(name) {
        None => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(_) => Err(error(format!("Template format error: {name} must be an object"))),
    }
}

pub fn validate(template: &Value) -> Result<Summary, TemplateError> {
    let root = template.as_object().ok_or_else(|| error("Template format error: unsupported structure."))?;
    let unknown: Vec<&str> = root.keys().filter(|k| !SECTIONS.contains(&k.as_str())).map(String::as_str).collect();
    if !unknown.is_empty() {
        return Err(error(format!(
            "Template format error: Invalid template property or properties [{}]",
            unknown.join(", ")
        )));
    }
    if let Some(version) = root.get("AWSTemplateFormatVersion") {
        let version = to_text(version).unwrap_or_default();
        if version != "2010-09-09" {
            return Err(error(format!("Template format error: '{version}' is not a valid template version.")));
        }
    }
    let description = match root.get("Description") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(error("Template format error: Every Description member must be a string.")),
    };
    let declared_parameters = parameters::declarations(template)?;
    let mappings = object_section(root, "Mappings")?;
    let conditions = object_section(root, "Conditions")?;
    object_section(root, "Metadata")?;
    object_section(root, "Rules")?;
    let resources = object_section(root, "Resources")?
        .filter(|r| !r.is_empty())
        .ok_or_else(|| error("Template format error: At least one Resources member must be defined."))?;
    let outputs = object_section(root, "Outputs")?;

    for section in ["Conditions", "Resources", "Outputs"] {
        if let Some(value) = root.get(section) {
            supported_functions(value)?;
        }
    }
    let is_parameter =
        |name: &str| declared_parameters.iter().any(|p| p.key == name) || PSEUDO_PARAMETERS.contains(&name);
    let condition_names: BTreeSet<&str> =
        conditions.map(|c| c.keys().map(String::as_str).collect()).unwrap_or_default();
    let mut unresolved_conditions = BTreeSet::new();
    let check_mappings = |value: &Value| -> Result<(), TemplateError> { find_in_map_names(value, mappings) };

    for definition in conditions.into_iter().flat_map(|c| c.values()) {
        let refs = references(definition);
        let bad: Vec<&String> = refs.names.iter().chain(refs.attributes.iter()).filter(|n| !is_parameter(n)).collect();
        if !bad.is_empty() {
            let bad: Vec<&str> = bad.into_iter().map(String::as_str).collect();
            return Err(error(format!(
                "Template format error: Unresolved dependencies [{}]. Cannot reference resources in the Conditions block of the template",
                bad.join(", ")
            )));
        }
        unresolved_conditions.extend(refs.conditions.into_iter().filter(|c| !condition_names.contains(c.as_str())));
        check_mappings(definition)?;
    }

    let mut unresolved = BTreeSet::new();
    let mut capabilities = BTreeSet::new();
    let mut capability_types = Vec::new();
    let mut resource_types = Vec::new();
    for (id, declaration) in resources {
        let declaration = declaration.as_object().ok_or_else(|| {
            error(format!("Template format error: [/Resources/{id}] resource definition is malformed"))
        })?;
        if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(error(format!("Template format error: Resource name {id} is non alphanumeric.")));
        }
        if let Some(attribute) = declaration.keys().find(|k| !RESOURCE_ATTRIBUTES.contains(&k.as_str())) {
            return Err(error(format!("Template format error: Invalid template resource property '{attribute}'")));
        }
        let kind = declaration
            .get("Type")
            .and_then(Value::as_str)
            .ok_or_else(|| error("Template format error: Every Resources object must contain a Type member."))?;
        if !resource_types.iter().any(|t| t == kind) {
            resource_types.push(kind.to_string());
        }
        if let Some(condition) = declaration.get("Condition") {
            let condition = condition.as_str().unwrap_or_default();
            if !condition_names.contains(condition) {
                unresolved_conditions.insert(condition.to_string());
            }
        }
        let properties = declaration.get("Properties").cloned().unwrap_or(Value::Null);
        check_mappings(&properties)?;
        let refs = references(&properties);
        unresolved_conditions.extend(refs.conditions.iter().filter(|c| !condition_names.contains(c.as_str())).cloned());
        undefined_get_att(&refs.attributes, resources)?;
        let mut targets: Vec<String> = refs.names.into_iter().filter(|n| !is_parameter(n)).collect();
        match declaration.get("DependsOn") {
            Some(Value::String(s)) => targets.push(s.clone()),
            Some(Value::Array(items)) => targets.extend(items.iter().filter_map(Value::as_str).map(str::to_string)),
            _ => {}
        }
        unresolved.extend(targets.into_iter().filter(|t| !resources.contains_key(t)));
        // A nested stack may hold named IAM resources and macros: CloudFormation asks for both.
        let needs: &[&str] = if kind == NESTED_STACK {
            &["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
        } else if kind.starts_with("AWS::IAM::") {
            let named = IAM_NAMES.iter().any(|(t, property)| *t == kind && properties.get(*property).is_some());
            if named { &["CAPABILITY_NAMED_IAM"] } else { &["CAPABILITY_IAM"] }
        } else {
            &[]
        };
        capabilities.extend(needs.iter().copied());
        if !needs.is_empty() && !capability_types.iter().any(|t| t == kind) {
            capability_types.push(kind.to_string());
        }
    }
    if !unresolved.is_empty() {
        return Err(error(format!(
            "Template format error: Unresolved resource dependencies [{}] in the Resources block of the template",
            unresolved.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }

    let mut unresolved_outputs = BTreeSet::new();
    for (key, output) in outputs.into_iter().flatten() {
        let value = output
            .get("Value")
            .ok_or_else(|| error(format!("Template format error: Every Outputs member must contain a Value object, the Outputs member {key} does not")))?;
        check_mappings(value)?;
        for part in [Some(value), output.get("Export")].into_iter().flatten() {
            let refs = references(part);
            undefined_get_att(&refs.attributes, resources)?;
            unresolved_conditions
                .extend(refs.conditions.iter().filter(|c| !condition_names.contains(c.as_str())).cloned());
            unresolved_outputs.extend(
                refs.names
                    .into_iter()
                    .chain(refs.attributes)
                    .filter(|n| !is_parameter(n) && !resources.contains_key(n)),
            );
        }
        if let Some(condition) = output.get("Condition").and_then(Value::as_str)
            && !condition_names.contains(condition)
        {
            unresolved_conditions.insert(condition.to_string());
        }
    }
    if !unresolved_outputs.is_empty() {
        return Err(error(format!(
            "Template format error: Unresolved resource dependencies [{}] in the Outputs block of the template",
            unresolved_outputs.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    if !unresolved_conditions.is_empty() {
        return Err(error(format!(
            "Template format error: Unresolved condition dependencies [{}]",
            unresolved_conditions.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }

    let conditions_all_true: BTreeMap<String, bool> = condition_names.iter().map(|c| (c.to_string(), true)).collect();
    let mut unconditional = template.clone();
    if let Some(resources) = unconditional.get_mut("Resources").and_then(Value::as_object_mut) {
        for declaration in resources.values_mut().filter_map(Value::as_object_mut) {
            declaration.remove("Condition");
        }
    }
    super::graph::resources(&unconditional, &conditions_all_true)?;

    let declared_transforms = transforms(template);
    let mut capability_list: Vec<String> = Vec::new();
    let mut reason = None;
    if capabilities.contains("CAPABILITY_NAMED_IAM") {
        capability_list.push("CAPABILITY_NAMED_IAM".into());
    } else if capabilities.contains("CAPABILITY_IAM") {
        capability_list.push("CAPABILITY_IAM".into());
    }
    if !capability_list.is_empty() {
        reason = Some(format!("The following resource(s) require capabilities: [{}]", capability_types.join(", ")));
    }
    let macros: Vec<&String> = declared_transforms.iter().filter(|t| *t != LANGUAGE_EXTENSIONS).collect();
    if !macros.is_empty() || capabilities.contains("CAPABILITY_AUTO_EXPAND") {
        capability_list.push("CAPABILITY_AUTO_EXPAND".into());
        if reason.is_none() {
            reason = Some(format!(
                "The following transform(s) require capabilities: [{}]",
                macros.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(Summary {
        description,
        parameters: declared_parameters,
        capabilities: capability_list,
        capabilities_reason: reason,
        resource_types,
        declared_transforms,
    })
}

/// `Fn::GetAtt` (and `${A.B}`) name declared resources.
fn undefined_get_att(
    targets: &BTreeSet<String>,
    resources: &serde_json::Map<String, Value>,
) -> Result<(), TemplateError> {
    match targets.iter().find(|t| !resources.contains_key(*t)) {
        Some(target) => {
            Err(error(format!("Template error: instance of Fn::GetAtt references undefined resource {target}")))
        }
        None => Ok(()),
    }
}

/// Every `Fn::…` key calls a function CloudFormation has.
fn supported_functions(value: &Value) -> Result<(), TemplateError> {
    match value {
        Value::Object(object) => {
            if let Some(name) = object.keys().find(|k| k.starts_with("Fn::") && !FUNCTIONS.contains(&k.as_str())) {
                return Err(error(format!(
                    "Template format error: Encountered unsupported function: {name} Supported functions are: [{}]",
                    SUPPORTED.join(", ")
                )));
            }
            if object.contains_key("Fn::Transform") {
                return Err(error("Template error: Fn::Transform (AWS::Include and macros) is not supported by Brume"));
            }
            object.values().try_for_each(supported_functions)
        }
        Value::Array(items) => items.iter().try_for_each(supported_functions),
        _ => Ok(()),
    }
}

/// The functions named by the unsupported-function error, in CloudFormation's order.
const SUPPORTED: [&str; 19] = [
    "Fn::Base64",
    "Fn::GetAtt",
    "Fn::GetAZs",
    "Fn::ImportValue",
    "Fn::Join",
    "Fn::Split",
    "Fn::FindInMap",
    "Fn::Select",
    "Ref",
    "Fn::Equals",
    "Fn::If",
    "Fn::Not",
    "Condition",
    "Fn::And",
    "Fn::Or",
    "Fn::Sub",
    "Fn::Cidr",
    "Fn::Length",
    "Fn::ToJsonString",
];

/// Every `Fn::FindInMap` names a declared mapping.
fn find_in_map_names(value: &Value, mappings: Option<&serde_json::Map<String, Value>>) -> Result<(), TemplateError> {
    match value {
        Value::Object(object) => {
            if let (1, Some(Value::Array(args))) = (object.len(), object.get("Fn::FindInMap"))
                && let Some(Value::String(name)) = args.first()
                && !mappings.is_some_and(|m| m.contains_key(name))
            {
                return Err(error(format!(
                    "Template error: Mapping named '{name}' is not present in the 'Mappings' section of template."
                )));
            }
            object.values().try_for_each(|v| find_in_map_names(v, mappings))
        }
        Value::Array(items) => items.iter().try_for_each(|v| find_in_map_names(v, mappings)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn err(template: Value) -> String {
        validate(&template).unwrap_err().message
    }

    #[test]
    fn sections_and_declarations_are_checked() {
        let cases = [
            (json!([]), "Template format error: unsupported structure."),
            (
                json!({"Resources": {"A": {"Type": "T"}}, "Resource": {}}),
                "Template format error: Invalid template property or properties [Resource]",
            ),
            (json!({"Resources": {}}), "Template format error: At least one Resources member must be defined."),
            (json!({"Description": "d"}), "Template format error: At least one Resources member must be defined."),
            (
                json!({"AWSTemplateFormatVersion": "2011-01-01", "Resources": {"A": {"Type": "T"}}}),
                "Template format error: '2011-01-01' is not a valid template version.",
            ),
            (
                json!({"Resources": {"A": {"Properties": {}}}}),
                "Template format error: Every Resources object must contain a Type member.",
            ),
            (
                json!({"Resources": {"A": {"Type": "T", "Propertes": {}}}}),
                "Template format error: Invalid template resource property 'Propertes'",
            ),
            (
                json!({"Resources": {"A-b": {"Type": "T"}}}),
                "Template format error: Resource name A-b is non alphanumeric.",
            ),
            (
                json!({"Resources": {"A": {"Type": "T", "Properties": {"X": {"Ref": "B"}}}}}),
                "Template format error: Unresolved resource dependencies [B] in the Resources block of the template",
            ),
            (
                json!({"Resources": {"A": {"Type": "T"}}, "Outputs": {"O": {"Value": {"Fn::GetAtt": ["B", "Arn"]}}}}),
                "Template error: instance of Fn::GetAtt references undefined resource B",
            ),
            (
                json!({"Resources": {"A": {"Type": "T"}}, "Outputs": {"O": {"Value": {"Ref": "B"}}}}),
                "Template format error: Unresolved resource dependencies [B] in the Outputs block of the template",
            ),
            (
                json!({"Resources": {"A": {"Type": "T"}}, "Outputs": {"O": {}}}),
                "Template format error: Every Outputs member must contain a Value object, the Outputs member O does not",
            ),
            (
                json!({"Resources": {"A": {"Type": "T", "Properties": {"X": {"Fn::GetAtt": ["B", "Arn"]}}}}}),
                "Template error: instance of Fn::GetAtt references undefined resource B",
            ),
            (
                json!({"Resources": {"A": {"Type": "T", "Properties": {"X": {"Fn::Sub": "${B.Arn}"}}}}}),
                "Template error: instance of Fn::GetAtt references undefined resource B",
            ),
            (
                json!({"Resources": {"A": {"Type": "T", "Properties": {"X": {"Fn::Foo": "x"}}}}}),
                "Template format error: Encountered unsupported function: Fn::Foo Supported functions are: [Fn::Base64, Fn::GetAtt, Fn::GetAZs, Fn::ImportValue, Fn::Join, Fn::Split, Fn::FindInMap, Fn::Select, Ref, Fn::Equals, Fn::If, Fn::Not, Condition, Fn::And, Fn::Or, Fn::Sub, Fn::Cidr, Fn::Length, Fn::ToJsonString]",
            ),
            (
                json!({"Resources": {"A": {"Type": "T", "Properties": {"Fn::Transform": {"Name": "AWS::Include"}}}}}),
                "Template error: Fn::Transform (AWS::Include and macros) is not supported by Brume",
            ),
            (
                json!({"Resources": {"A": {"Type": "T", "Condition": "C"}}}),
                "Template format error: Unresolved condition dependencies [C]",
            ),
            (
                json!({"Conditions": {"C": {"Fn::Equals": [{"Ref": "A"}, "x"]}}, "Resources": {"A": {"Type": "T"}}}),
                "Template format error: Unresolved dependencies [A]. Cannot reference resources in the Conditions block of the template",
            ),
            (
                json!({"Resources": {"A": {"Type": "T", "Properties": {"X": {"Fn::FindInMap": ["M", "a", "b"]}}}}}),
                "Template error: Mapping named 'M' is not present in the 'Mappings' section of template.",
            ),
            (
                json!({"Resources": {"A": {"Type": "T", "Properties": {"X": {"Ref": "B"}}}, "B": {"Type": "T", "Condition": "C", "DependsOn": "A"}}, "Conditions": {"C": {"Fn::Equals": ["a", "b"]}}}),
                "Circular dependency between resources: [A, B]",
            ),
            (
                json!({"Parameters": {"P": {"Type": "AWS::SSM::Parameter::Value<String>"}}, "Resources": {"A": {"Type": "T"}}}),
                "Template format error: Parameter 'P' is of type AWS::SSM::Parameter::Value<String>, which Brume does not support: SSM Parameter Store is not available",
            ),
        ];
        for (template, expected) in cases {
            assert_eq!(err(template.clone()), expected, "{template}");
        }
    }

    #[test]
    fn summary_names_capabilities_and_types() {
        let summary = validate(&json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": "d",
            "Transform": ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"],
            "Parameters": {"P": {"Type": "String", "Default": "x", "NoEcho": "true"}},
            "Resources": {
                "R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
                "Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "P"}}},
                "Q2": {"Type": "AWS::SQS::Queue"},
            }
        }))
        .unwrap();
        assert_eq!(summary.description.as_deref(), Some("d"));
        assert_eq!(summary.capabilities, ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]);
        assert_eq!(
            summary.capabilities_reason.as_deref(),
            Some("The following resource(s) require capabilities: [AWS::IAM::Role]")
        );
        assert_eq!(summary.resource_types, ["AWS::IAM::Role", "AWS::SQS::Queue"]);
        assert_eq!(summary.declared_transforms, ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]);
        assert!(summary.parameters[0].no_echo);

        let named = validate(&json!({"Resources": {
            "R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r"}},
            "P": {"Type": "AWS::IAM::Policy"},
        }}))
        .unwrap();
        assert_eq!(named.capabilities, ["CAPABILITY_NAMED_IAM"]);
        assert_eq!(
            named.capabilities_reason.as_deref(),
            Some("The following resource(s) require capabilities: [AWS::IAM::Role, AWS::IAM::Policy]")
        );
        let nested = validate(&json!({"Resources": {
            "R": {"Type": "AWS::IAM::Role"},
            "S": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "https://t"}},
        }}))
        .unwrap();
        assert_eq!(nested.capabilities, ["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]);
        assert_eq!(
            nested.capabilities_reason.as_deref(),
            Some("The following resource(s) require capabilities: [AWS::IAM::Role, AWS::CloudFormation::Stack]")
        );
        let plain = validate(&json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})).unwrap();
        assert!(plain.capabilities.is_empty() && plain.capabilities_reason.is_none());
    }
}
