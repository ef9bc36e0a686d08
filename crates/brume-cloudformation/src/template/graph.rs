//! What a template's values refer to, its Conditions evaluated, and its resources with
//! their dependencies (unresolved references and cycles refused).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::functions::{self, PSEUDO_PARAMETERS, Piece, call, error, sub_pieces};
use super::{ResourceDecl, Scope, TemplateError};

/// The names a value refers to: `Ref`, `Fn::GetAtt` and `Fn::Sub` targets (logical ids,
/// parameters, pseudo parameters), and the conditions it names.
#[derive(Default)]
pub struct References {
    pub names: BTreeSet<String>,
    pub conditions: BTreeSet<String>,
    /// Targets of `Fn::GetAtt` (and `${A.B}`), which must be resources.
    pub attributes: BTreeSet<String>,
}

pub fn references(value: &Value) -> References {
    let mut out = References::default();
    collect(value, &mut out);
    out
}

fn collect(value: &Value, out: &mut References) {
    if let Some((name, args)) = call(value) {
        match (name, args) {
            ("Ref", Value::String(target)) => {
                out.names.insert(target.clone());
            }
            ("Condition", Value::String(condition)) => {
                out.conditions.insert(condition.clone());
            }
            ("Fn::GetAtt", Value::Array(items)) => {
                if let Some(target) = items.first().and_then(Value::as_str) {
                    out.attributes.insert(target.to_string());
                }
                items.iter().skip(1).for_each(|item| collect(item, out));
            }
            ("Fn::GetAtt", Value::String(s)) => {
                out.attributes.insert(s.split('.').next().unwrap_or_default().to_string());
            }
            ("Fn::Sub", Value::String(s)) => sub_references(s, &Map::new(), out),
            ("Fn::Sub", Value::Array(items)) => {
                let empty = Map::new();
                let variables = items.get(1).and_then(Value::as_object).unwrap_or(&empty);
                if let Some(s) = items.first().and_then(Value::as_str) {
                    sub_references(s, variables, out);
                }
                variables.values().for_each(|item| collect(item, out));
            }
            ("Fn::If", Value::Array(items)) => {
                if let Some(condition) = items.first().and_then(Value::as_str) {
                    out.conditions.insert(condition.to_string());
                }
                items.iter().skip(1).for_each(|item| collect(item, out));
            }
            ("Fn::FindInMap", Value::Array(items)) => items.iter().skip(1).for_each(|item| collect(item, out)),
            (_, args) => collect(args, out),
        }
        return;
    }
    match value {
        Value::Object(object) => object.values().for_each(|item| collect(item, out)),
        Value::Array(items) => items.iter().for_each(|item| collect(item, out)),
        _ => {}
    }
}

fn sub_references(template: &str, variables: &Map<String, Value>, out: &mut References) {
    for piece in sub_pieces(template) {
        let Piece::Variable(name) = piece else { continue };
        if variables.contains_key(&name) {
            continue;
        }
        match name.split_once('.') {
            Some((resource, _)) if !name.starts_with("AWS::") => {
                out.attributes.insert(resource.to_string());
            }
            _ => {
                out.names.insert(name);
            }
        }
    }
}

/// `value` with each `Fn::FindInMap`'s mapping name replaced by `{name: mapping}`, so that
/// [`functions::resolve`] finds the mapping without the template.
pub fn inline_mappings(value: &Value, mappings: &Map<String, Value>) -> Value {
    match value {
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, item) in object {
                let item = match (key.as_str(), item) {
                    ("Fn::FindInMap", Value::Array(args)) if object.len() == 1 => {
                        let mut args: Vec<Value> = args.iter().map(|a| inline_mappings(a, mappings)).collect();
                        if let Some(Value::String(name)) = args.first()
                            && let Some(mapping) = mappings.get(name)
                        {
                            let mut inlined = Map::new();
                            inlined.insert(name.clone(), mapping.clone());
                            args[0] = Value::Object(inlined);
                        }
                        Value::Array(args)
                    }
                    _ => inline_mappings(item, mappings),
                };
                out.insert(key.clone(), item);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| inline_mappings(item, mappings)).collect()),
        other => other.clone(),
    }
}

pub fn mappings(template: &Value) -> Map<String, Value> {
    template.get("Mappings").and_then(Value::as_object).cloned().unwrap_or_default()
}

fn section(template: &Value, name: &str) -> Map<String, Value> {
    template.get(name).and_then(Value::as_object).cloned().unwrap_or_default()
}

/// The Conditions, each evaluated once, those it names first.
pub fn conditions(template: &Value, scope: &Scope) -> Result<BTreeMap<String, bool>, TemplateError> {
    let declared = section(template, "Conditions");
    let mappings = mappings(template);
    let mut done = BTreeMap::new();
    for name in declared.keys() {
        evaluate(name, &declared, &mappings, scope, &mut done, &mut Vec::new())?;
    }
    Ok(done)
}

fn evaluate(
    name: &str,
    declared: &Map<String, Value>,
    mappings: &Map<String, Value>,
    scope: &Scope,
    done: &mut BTreeMap<String, bool>,
    visiting: &mut Vec<String>,
) -> Result<bool, TemplateError> {
    if let Some(value) = done.get(name) {
        return Ok(*value);
    }
    let definition = declared.get(name).ok_or_else(|| {
        error(format!("Template format error: Unresolved condition dependency {name} in Fn::If or Condition"))
    })?;
    if let Some(start) = visiting.iter().position(|v| v == name) {
        let mut cycle = visiting[start..].to_vec();
        cycle.sort();
        return Err(error(format!("Template error: Circular dependency between conditions: [{}]", cycle.join(", "))));
    }
    visiting.push(name.to_string());
    let refs = references(definition);
    let resources: Vec<&str> = refs
        .names
        .iter()
        .chain(refs.attributes.iter())
        .filter(|n| !scope.parameters.contains_key(*n) && !PSEUDO_PARAMETERS.contains(&n.as_str()))
        .map(String::as_str)
        .collect();
    if !resources.is_empty() {
        return Err(error(format!(
            "Template format error: Unresolved dependencies [{}]. Cannot reference resources in the Conditions block of the template",
            resources.join(", ")
        )));
    }
    for dependency in &refs.conditions {
        evaluate(dependency, declared, mappings, scope, done, visiting)?;
    }
    visiting.pop();
    let known = done.clone();
    let inner = Scope { conditions: &known, ..*scope };
    let value = functions::resolve(&inline_mappings(definition, mappings), &inner)?;
    let holds = match value {
        Some(Value::Bool(b)) => b,
        _ => return Err(error(format!("Template error: Condition {name} must be a condition function"))),
    };
    done.insert(name.to_string(), holds);
    Ok(holds)
}

/// `DependsOn` as a list of logical ids.
fn depends_on(declaration: &Value) -> Vec<String> {
    match declaration.get("DependsOn") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// A DeletionPolicy or UpdateReplacePolicy, a string or an `Fn::If` of strings.
fn policy(value: Option<&Value>, conditions: &BTreeMap<String, bool>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        value => match call(value) {
            Some(("Fn::If", Value::Array(items))) if items.len() == 3 => {
                let holds = conditions.get(items[0].as_str()?).copied()?;
                policy(Some(&items[if holds { 1 } else { 2 }]), conditions)
            }
            _ => None,
        },
    }
}

/// The resources whose Condition holds, with their dependencies.
pub fn resources(
    template: &Value,
    conditions: &BTreeMap<String, bool>,
) -> Result<BTreeMap<String, ResourceDecl>, TemplateError> {
    let declared = section(template, "Resources");
    let parameters = section(template, "Parameters");
    let mappings = mappings(template);
    let mut present = BTreeMap::new();
    let mut unresolved_conditions = BTreeSet::new();
    for (id, declaration) in &declared {
        if let Some(condition) = declaration.get("Condition").and_then(Value::as_str) {
            match conditions.get(condition) {
                Some(true) => {}
                Some(false) => continue,
                None => {
                    unresolved_conditions.insert(condition.to_string());
                    continue;
                }
            }
        }
        present.insert(id.clone(), declaration);
    }
    if !unresolved_conditions.is_empty() {
        return Err(error(format!(
            "Template format error: Unresolved condition dependencies [{}] in the Resources block of the template",
            unresolved_conditions.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut unresolved = BTreeSet::new();
    let mut out = BTreeMap::new();
    for (id, declaration) in &present {
        let properties = declaration.get("Properties").cloned().unwrap_or_else(|| Value::Object(Map::new()));
        let refs = references(&properties);
        let mut dependencies = BTreeSet::new();
        let targets =
            refs.names.iter().filter(|n| !parameters.contains_key(*n) && !PSEUDO_PARAMETERS.contains(&n.as_str()));
        for target in targets.chain(refs.attributes.iter()).cloned().chain(depends_on(declaration)) {
            if present.contains_key(&target) {
                dependencies.insert(target);
            } else if !declared.contains_key(&target) {
                unresolved.insert(target);
            }
        }
        out.insert(
            id.clone(),
            ResourceDecl {
                kind: declaration.get("Type").and_then(Value::as_str).unwrap_or_default().to_string(),
                properties: inline_mappings(&properties, &mappings),
                depends_on: dependencies,
                deletion_policy: policy(declaration.get("DeletionPolicy"), conditions),
                update_replace_policy: policy(declaration.get("UpdateReplacePolicy"), conditions),
            },
        );
    }
    if !unresolved.is_empty() {
        return Err(error(format!(
            "Template format error: Unresolved resource dependencies [{}] in the Resources block of the template",
            unresolved.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let cyclic = cycles(&out);
    if !cyclic.is_empty() {
        return Err(error(format!("Circular dependency between resources: [{}]", cyclic.join(", "))));
    }
    Ok(out)
}

/// The resources on a cycle (strongly connected components of more than one, or depending on
/// themselves), sorted.
fn cycles(resources: &BTreeMap<String, ResourceDecl>) -> Vec<String> {
    struct Tarjan<'a> {
        resources: &'a BTreeMap<String, ResourceDecl>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        cyclic: BTreeSet<String>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, id: &'a str) {
            let n = self.index.len();
            self.index.insert(id, n);
            self.low.insert(id, n);
            self.stack.push(id);
            self.on_stack.insert(id);
            let resources = self.resources;
            for (dependency, _) in resources[id].depends_on.iter().filter_map(|d| resources.get_key_value(d.as_str())) {
                let dependency = dependency.as_str();
                if !self.index.contains_key(dependency) {
                    self.visit(dependency);
                    let low = self.low[id].min(self.low[dependency]);
                    self.low.insert(id, low);
                } else if self.on_stack.contains(dependency) {
                    let low = self.low[id].min(self.index[dependency]);
                    self.low.insert(id, low);
                }
            }
            if self.low[id] == self.index[id] {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.push(member);
                    if member == id {
                        break;
                    }
                }
                if component.len() > 1 || resources[id].depends_on.contains(id) {
                    self.cyclic.extend(component.into_iter().map(str::to_string));
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        resources,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        cyclic: BTreeSet::new(),
    };
    for id in resources.keys() {
        if !tarjan.index.contains_key(id.as_str()) {
            tarjan.visit(id);
        }
    }
    tarjan.cyclic.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decls(template: Value, conditions: &[(&str, bool)]) -> Result<BTreeMap<String, ResourceDecl>, String> {
        let conditions = conditions.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        resources(&template, &conditions).map_err(|e| e.message)
    }

    #[test]
    fn dependencies_from_references() {
        let template = json!({
            "Parameters": {"Env": {"Type": "String"}},
            "Resources": {
                "A": {"Type": "T"},
                "B": {"Type": "T", "Properties": {"X": {"Ref": "A"}, "Y": {"Ref": "Env"}, "Z": {"Ref": "AWS::Region"}}},
                "C": {"Type": "T", "Properties": {"X": {"Fn::Sub": "${B.Arn}-${A}-${!D}-${AWS::StackName}"}}},
                "D": {"Type": "T", "DependsOn": "A", "Properties": {"X": {"Fn::GetAtt": "C.Arn"}}},
                "E": {"Type": "T", "DependsOn": ["A", "B"], "Properties": {"X": {"Fn::If": ["On", {"Ref": "D"}, {"Fn::GetAtt": ["C", "Arn"]}]}}},
                "F": {"Type": "T", "Condition": "Off", "Properties": {"X": {"Ref": "A"}}},
                "G": {"Type": "T", "Properties": {"X": {"Fn::If": ["Off", {"Ref": "F"}, {"Fn::Sub": ["${V}", {"V": {"Ref": "A"}}]}]}}},
            }
        });
        let got = decls(template, &[("On", true), ("Off", false)]).unwrap();
        let deps = |id: &str| got[id].depends_on.iter().cloned().collect::<Vec<_>>();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["A", "B", "C", "D", "E", "G"]);
        assert_eq!(deps("A"), Vec::<String>::new());
        assert_eq!(deps("B"), ["A"]);
        assert_eq!(deps("C"), ["A", "B"]);
        assert_eq!(deps("D"), ["A", "C"]);
        assert_eq!(deps("E"), ["A", "B", "C", "D"]);
        assert_eq!(deps("G"), ["A"]);
    }

    #[test]
    fn unresolved_and_circular() {
        let unresolved = json!({"Resources": {
            "A": {"Type": "T", "Properties": {"X": {"Ref": "Nope"}, "Y": {"Fn::GetAtt": ["Gone", "Arn"]}}},
            "B": {"Type": "T", "DependsOn": "Missing"},
        }});
        assert_eq!(
            decls(unresolved, &[]).unwrap_err(),
            "Template format error: Unresolved resource dependencies [Gone, Missing, Nope] in the Resources block of the template"
        );
        let circular = json!({"Resources": {
            "Z": {"Type": "T", "Properties": {"X": {"Ref": "A"}}},
            "A": {"Type": "T", "Properties": {"X": {"Fn::Sub": "${B.Arn}"}}},
            "B": {"Type": "T", "DependsOn": "Z"},
            "C": {"Type": "T", "Properties": {"X": {"Ref": "A"}}},
        }});
        assert_eq!(decls(circular, &[]).unwrap_err(), "Circular dependency between resources: [A, B, Z]");
        let own = json!({"Resources": {"A": {"Type": "T", "Properties": {"X": {"Ref": "A"}}}}});
        assert_eq!(decls(own, &[]).unwrap_err(), "Circular dependency between resources: [A]");
        let condition = json!({"Resources": {"A": {"Type": "T", "Condition": "Nope"}}});
        assert!(decls(condition, &[]).unwrap_err().contains("[Nope]"));
    }

    #[test]
    fn conditions_evaluate_in_dependency_order() {
        use super::super::Resolved;
        let parameters = json!({"Env": "prod", "Zones": ["a", "b"]}).as_object().unwrap().clone();
        let empty_conditions = BTreeMap::new();
        let resources: BTreeMap<String, Resolved> = BTreeMap::new();
        let exports = BTreeMap::new();
        let scope = Scope {
            account: "000000000000",
            region: "eu-west-1",
            stack_name: "s",
            stack_id: "id",
            notification_arns: &[],
            parameters: &parameters,
            conditions: &empty_conditions,
            resources: &resources,
            exports: &exports,
        };
        let template = json!({
            "Mappings": {"M": {"eu-west-1": {"Big": "yes"}}},
            "Conditions": {
                "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "InEurope"}]},
                "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                "InEurope": {"Fn::Equals": [{"Fn::Select": [0, {"Fn::Split": ["-", {"Ref": "AWS::Region"}]}]}, "eu"]},
                "Big": {"Fn::Equals": [{"Fn::FindInMap": ["M", {"Ref": "AWS::Region"}, "Big"]}, "yes"]},
                "Neither": {"Fn::Not": [{"Fn::Or": [{"Condition": "Both"}, {"Condition": "Big"}]}]},
            }
        });
        let got = conditions(&template, &scope).unwrap();
        let expected: BTreeMap<String, bool> =
            [("Big", true), ("Both", true), ("InEurope", true), ("IsProd", true), ("Neither", false)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        assert_eq!(got, expected);

        let cyclic =
            json!({"Conditions": {"A": {"Fn::Not": [{"Condition": "B"}]}, "B": {"Fn::Not": [{"Condition": "A"}]}}});
        assert_eq!(
            conditions(&cyclic, &scope).unwrap_err().message,
            "Template error: Circular dependency between conditions: [A, B]"
        );
        let resource = json!({"Conditions": {"A": {"Fn::Equals": [{"Ref": "Queue"}, "x"]}}});
        assert_eq!(
            conditions(&resource, &scope).unwrap_err().message,
            "Template format error: Unresolved dependencies [Queue]. Cannot reference resources in the Conditions block of the template"
        );
        let not_boolean = json!({"Conditions": {"A": {"Ref": "Env"}}});
        assert_eq!(
            conditions(&not_boolean, &scope).unwrap_err().message,
            "Template error: Condition A must be a condition function"
        );
    }

    #[test]
    fn policies_and_mappings() {
        let template = json!({
            "Mappings": {"M": {"us-east-1": {"Size": 2}}},
            "Resources": {"A": {
                "Type": "T",
                "DeletionPolicy": {"Fn::If": ["Prod", "Retain", "Delete"]},
                "UpdateReplacePolicy": "Snapshot",
                "Properties": {"S": {"Fn::FindInMap": ["M", {"Ref": "AWS::Region"}, "Size"]}},
            }}
        });
        let got = decls(template, &[("Prod", true)]).unwrap();
        assert_eq!(got["A"].deletion_policy.as_deref(), Some("Retain"));
        assert_eq!(got["A"].update_replace_policy.as_deref(), Some("Snapshot"));
        assert_eq!(
            got["A"].properties,
            json!({"S": {"Fn::FindInMap": [{"M": {"us-east-1": {"Size": 2}}}, {"Ref": "AWS::Region"}, "Size"]}})
        );
    }
}
