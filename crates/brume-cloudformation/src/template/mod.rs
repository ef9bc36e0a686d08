//! The template language: parsing, validation, parameters, conditions, intrinsic
//! functions, dependencies and outputs, as pure functions of the template and a [`Scope`].

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

mod extensions;
mod functions;
mod graph;
mod parameters;
mod rules;
#[cfg(test)]
mod tests;
mod validate;
mod yaml;

/// A template error, worded as CloudFormation words it (`Template format error: …`,
/// `Circular dependency between resources: [A, B]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
}

/// What a created resource answers: its physical id (what `Ref` gives for most types) and
/// its attributes (`Fn::GetAtt`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resolved {
    pub physical_id: String,
    pub attributes: Map<String, Value>,
}

/// What a template's functions resolve against.
pub struct Scope<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub stack_name: &'a str,
    pub stack_id: &'a str,
    pub notification_arns: &'a [String],
    /// Parameter values after defaults (`List<…>` and `CommaDelimitedList` as arrays).
    pub parameters: &'a Map<String, Value>,
    pub conditions: &'a BTreeMap<String, bool>,
    /// The resources provisioned so far, by logical id.
    pub resources: &'a BTreeMap<String, Resolved>,
    /// Every stack's exports, by name (`Fn::ImportValue`).
    pub exports: &'a BTreeMap<String, String>,
}

/// A parameter's declaration, as ValidateTemplate and GetTemplateSummary answer it.
#[derive(Clone, Debug, PartialEq)]
pub struct ParameterDeclaration {
    pub key: String,
    /// The `Type` (`String`, `Number`, `List<Number>`, `AWS::EC2::VPC::Id`…).
    pub kind: String,
    pub default: Option<String>,
    pub no_echo: bool,
    pub description: Option<String>,
}

/// What ValidateTemplate and GetTemplateSummary answer about a template.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub description: Option<String>,
    pub parameters: Vec<ParameterDeclaration>,
    /// `CAPABILITY_IAM`, `CAPABILITY_NAMED_IAM`, `CAPABILITY_AUTO_EXPAND` the template needs.
    pub capabilities: Vec<String>,
    pub capabilities_reason: Option<String>,
    pub resource_types: Vec<String>,
    pub declared_transforms: Vec<String>,
}

/// A resource of the template, its properties not yet resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceDecl {
    /// The `Type` (`AWS::SQS::Queue`).
    pub kind: String,
    pub properties: Value,
    /// The logical ids it depends on: `Ref`, `Fn::GetAtt`, `Fn::Sub` and `DependsOn`.
    pub depends_on: BTreeSet<String>,
    pub deletion_policy: Option<String>,
    pub update_replace_policy: Option<String>,
}

/// An output, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub key: String,
    pub value: String,
    pub description: Option<String>,
    pub export_name: Option<String>,
}

/// Parses a template body, JSON or YAML, into JSON: short-form tags (`!Ref X`, `!GetAtt
/// A.B`, `!Sub …`) become their long forms (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`), and
/// the `AWS::LanguageExtensions` transform is expanded (a `Fn::ForEach` collection that is a
/// `Ref` to a parameter takes the parameter's Default, the values not being known yet: see
/// [`parse_with_parameters`]).
pub fn parse(body: &str) -> Result<Value, TemplateError> {
    extensions::expand(yaml::body_to_json(body)?, None)
}

/// A body, JSON or YAML, as JSON with the short-form tags in their long forms and nothing
/// expanded: what a tool that rewrites a template before deploying it (`brume deploy`) sends.
pub fn to_json(body: &str) -> Result<Value, TemplateError> {
    yaml::body_to_json(body)
}

/// [`parse`] once the parameter values are known ([`parameters`]): a `Fn::ForEach` collection
/// that is a `Ref` to a parameter loops over the parameter's value.
pub fn parse_with_parameters(body: &str, parameters: &Map<String, Value>) -> Result<Value, TemplateError> {
    extensions::expand(yaml::body_to_json(body)?, Some(parameters))
}

/// Checks a template as ValidateTemplate and CreateStack do.
pub fn validate(template: &Value) -> Result<Summary, TemplateError> {
    validate::validate(template)
}

/// The parameter values: the given ones, else the defaults, checked against the
/// declarations (type, AllowedValues, AllowedPattern, lengths, MinValue/MaxValue) and the
/// template's Rules.
pub fn parameters(template: &Value, given: &BTreeMap<String, String>) -> Result<Map<String, Value>, TemplateError> {
    let values = parameters::values(template, given)?;
    rules::check(template, &values)?;
    Ok(values)
}

/// The template's Conditions, evaluated.
pub fn conditions(template: &Value, scope: &Scope) -> Result<BTreeMap<String, bool>, TemplateError> {
    graph::conditions(template, scope)
}

/// The resources whose Condition holds, with their dependencies; a cycle or a reference to
/// nothing is an error. Each `Fn::FindInMap` of the properties carries its mapping (its first
/// argument `{name: mapping}`), so that [`resolve`] needs no template.
pub fn resources(
    template: &Value,
    conditions: &BTreeMap<String, bool>,
) -> Result<BTreeMap<String, ResourceDecl>, TemplateError> {
    graph::resources(template, conditions)
}

/// `value` with every intrinsic function resolved; a property set to `AWS::NoValue` is
/// dropped (and `AWS::NoValue` itself is `null`).
pub fn resolve(value: &Value, scope: &Scope) -> Result<Value, TemplateError> {
    Ok(functions::resolve(value, scope)?.unwrap_or(Value::Null))
}

/// The Outputs whose Condition holds, resolved.
pub fn outputs(template: &Value, scope: &Scope) -> Result<Vec<Output>, TemplateError> {
    let Some(declared) = template.get("Outputs").and_then(Value::as_object) else { return Ok(Vec::new()) };
    let mappings = graph::mappings(template);
    let mut out = Vec::new();
    for (key, output) in declared {
        if let Some(condition) = output.get("Condition").and_then(Value::as_str) {
            let holds = scope.conditions.get(condition).copied().ok_or_else(|| {
                functions::error(format!("Template format error: Unresolved condition dependencies [{condition}]"))
            })?;
            if !holds {
                continue;
            }
        }
        let value = output.get("Value").cloned().unwrap_or(Value::Null);
        let value = resolve(&graph::inline_mappings(&value, &mappings), scope)?;
        let export_name = match output.get("Export").and_then(|e| e.get("Name")) {
            Some(name) => Some(output_text(&resolve(&graph::inline_mappings(name, &mappings), scope)?)),
            None => None,
        };
        out.push(Output {
            key: key.clone(),
            value: output_text(&value),
            description: output.get("Description").and_then(functions::to_text),
            export_name,
        });
    }
    Ok(out)
}

/// A resolved value as an output shows it: lists joined with commas, objects as JSON.
fn output_text(value: &Value) -> String {
    match value {
        Value::Array(items) => items.iter().map(output_text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        Value::Object(_) => value.to_string(),
        other => functions::to_text(other).unwrap_or_default(),
    }
}
