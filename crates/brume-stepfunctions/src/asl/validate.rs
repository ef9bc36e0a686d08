//! The checks CreateStateMachine and ValidateStateMachineDefinition make on a JSONPath
//! definition: its shape (required and supported fields per state type), its transitions
//! (targets that exist, states that are reachable), Retry/Catch rules, paths and intrinsic
//! function syntax. Parallel branches and Map processors are checked as machines of their
//! own, their locations nested (`/States/P/Branches/0/States/A`).
//!
//! JSONata states (the machine's or the state's `QueryLanguage`) are checked for their own
//! fields (Arguments, Output, Items, Condition…), none of JSONPath's, and each `{% … %}`
//! expression must parse. Assign's variable names are checked in both languages.
//!
//! Not checked: duplicate state names (a parsed JSON object keeps one) and Task resource
//! ARNs.

use super::Diagnostic;
use super::choice::{OPERATORS, timestamp};
use super::flow::{Language, expression};
use super::intrinsics;
use super::path::Path;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, VecDeque};

pub const SCHEMA_VALIDATION_FAILED: &str = "SCHEMA_VALIDATION_FAILED";
pub const MISSING_TRANSITION_TARGET: &str = "MISSING_TRANSITION_TARGET";
pub const INVALID_JSON_DESCRIPTION: &str = "INVALID_JSON_DESCRIPTION";
pub const MISSING_END_STATE: &str = "MISSING_END_STATE";
pub const INVALID_STATE_NAME: &str = "INVALID_STATE_NAME";

const STATE_TYPES: &[&str] = &["Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map"];
const MAX_STATE_NAME: usize = 80;

/// Fields every state type accepts.
const COMMON_FIELDS: &[&str] = &["Type", "Comment", "QueryLanguage"];

/// The fields a state of `kind` accepts beyond [`COMMON_FIELDS`].
fn fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pass" => &["InputPath", "OutputPath", "Next", "End", "ResultPath", "Parameters", "Result", "Assign"],
        "Task" => &[
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Resource",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Assign",
        ],
        "Choice" => &["InputPath", "OutputPath", "Choices", "Default", "Assign"],
        "Wait" => &[
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "Assign",
        ],
        "Succeed" => &["InputPath", "OutputPath"],
        "Fail" => &["Error", "ErrorPath", "Cause", "CausePath"],
        "Parallel" => &[
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Branches",
            "Assign",
        ],
        "Map" => &[
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "ItemsPath",
            "ItemProcessor",
            "Iterator",
            "ItemSelector",
            "Parameters",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Label",
            "Assign",
        ],
        _ => &[],
    }
}

/// The fields a JSONata state of `kind` accepts beyond [`COMMON_FIELDS`].
fn jsonata_fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pass" => &["Output", "Assign", "Next", "End"],
        "Task" => &[
            "Resource",
            "Arguments",
            "Output",
            "Assign",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "Credentials",
            "Next",
            "End",
        ],
        "Choice" => &["Choices", "Default", "Output", "Assign"],
        "Wait" => &["Seconds", "Timestamp", "Output", "Assign", "Next", "End"],
        "Succeed" => &["Output"],
        "Fail" => &["Error", "Cause"],
        "Parallel" => &["Branches", "Arguments", "Output", "Assign", "Retry", "Catch", "Next", "End"],
        "Map" => &[
            "Items",
            "ItemProcessor",
            "ItemSelector",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "MaxConcurrency",
            "ToleratedFailurePercentage",
            "ToleratedFailureCount",
            "Label",
            "Output",
            "Assign",
            "Retry",
            "Catch",
            "Next",
            "End",
        ],
        _ => &[],
    }
}

/// Whether a service integration's pattern (`.sync`, `.sync:2`, `.waitForTaskToken` or
/// none) is one the service offers. Other resources (function and activity ARNs,
/// integrations Brume does not know) are left to run time.
fn integration_pattern_supported(resource: &str) -> bool {
    let Some(integration) = resource.strip_prefix("arn:aws:states:::") else { return true };
    let (call, pattern) = match integration.find(".sync").or_else(|| integration.find(".waitForTaskToken")) {
        Some(at) => integration.split_at(at),
        None => (integration, ""),
    };
    if ![".sync", ".sync:2", ".waitForTaskToken", ""].contains(&pattern) {
        return false;
    }
    let service = call.split(':').next().unwrap_or_default();
    match (service, pattern) {
        ("lambda" | "sqs" | "sns" | "aws-sdk", ".sync" | ".sync:2") => false,
        ("dynamodb", p) => p.is_empty(),
        _ => true,
    }
}

/// Whether `value` is a `{% … %}` expression of a JSONata state.
fn expression_in(language: Language, value: &Value) -> bool {
    language == Language::Jsonata && value.as_str().is_some_and(|s| expression(s).is_some())
}

/// The longest variable name AWS accepts.
const MAX_VARIABLE_NAME: usize = 80;

/// Assign's keys: variable names (a letter or `_`, then letters, digits and `_`), and
/// not `states`, which JSONata states reserve.
fn check_assign(fields: &Map<String, Value>, at: &str, out: &mut Vec<Diagnostic>) {
    let Some(assign) = fields.get("Assign") else { return };
    let here = format!("{at}/Assign");
    let Some(assign) = assign.as_object() else {
        if assign.as_str().is_none_or(|s| expression(s).is_none()) {
            out.push(error(SCHEMA_VALIDATION_FAILED, "The field 'Assign' must be a JSON object", &here));
        }
        return;
    };
    for key in assign.keys() {
        let name = key.strip_suffix(".$").unwrap_or(key);
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && chars.all(|c| c.is_alphanumeric() || c == '_')
            && name.chars().count() <= MAX_VARIABLE_NAME;
        if !valid {
            out.push(error(SCHEMA_VALIDATION_FAILED, format!("The variable name '{name}' is invalid"), &here));
        } else if name == "states" {
            out.push(error(SCHEMA_VALIDATION_FAILED, "The variable name 'states' is reserved", &here));
        }
    }
}

/// Every `{% … %}` string in `value` must be a JSONata expression that parses.
fn check_expressions(value: &Value, at: &str, out: &mut Vec<Diagnostic>) {
    match value {
        Value::String(text) => {
            if let Some(source) = expression(text)
                && let Err(e) = brume_jsonata::compile(source.trim())
            {
                out.push(error(
                    SCHEMA_VALIDATION_FAILED,
                    format!("The JSONata expression '{}' is not valid: {e}", source.trim()),
                    at,
                ));
            }
        }
        Value::Object(fields) => {
            for (key, value) in fields {
                check_expressions(value, &format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_expressions(item, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Parses a definition's text; an unparsable one is an `INVALID_JSON_DESCRIPTION`.
pub fn parse_definition(text: &str) -> Result<Value, Diagnostic> {
    serde_json::from_str(text).map_err(|e| error(INVALID_JSON_DESCRIPTION, e.to_string(), ""))
}

fn error(code: &str, message: impl Into<String>, location: &str) -> Diagnostic {
    Diagnostic {
        severity: "ERROR".to_string(),
        code: code.to_string(),
        message: message.into(),
        location: location.to_string(),
    }
}

pub fn validate(definition: &Value) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(machine) = definition.as_object() else {
        out.push(error(SCHEMA_VALIDATION_FAILED, "The state machine definition must be a JSON object", "/"));
        return out;
    };
    for field in machine.keys() {
        if !["StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"].contains(&field.as_str()) {
            out.push(error(SCHEMA_VALIDATION_FAILED, format!("Field '{field}' is not supported"), "/"));
        }
    }
    check_language(machine, "", &mut out);
    check_machine(machine, "", Language::of_machine(definition), &mut out);
    out
}

/// A `QueryLanguage` field's value.
fn check_language(fields: &Map<String, Value>, at: &str, out: &mut Vec<Diagnostic>) {
    if fields.get("QueryLanguage").is_some_and(|l| !matches!(l.as_str(), Some("JSONPath" | "JSONata"))) {
        out.push(error(
            SCHEMA_VALIDATION_FAILED,
            "The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]",
            &format!("{at}/QueryLanguage"),
        ));
    }
}

/// A machine, branch or item processor: StartAt, States, transitions and reachability.
/// `language` is the definition's query language, the default of the states.
fn check_machine(machine: &Map<String, Value>, prefix: &str, language: Language, out: &mut Vec<Diagnostic>) {
    let at = if prefix.is_empty() { "/" } else { prefix };
    let missing: Vec<&str> = ["StartAt", "States"].into_iter().filter(|f| !machine.contains_key(*f)).collect();
    if !missing.is_empty() {
        out.push(error(SCHEMA_VALIDATION_FAILED, format!("These fields are required: [{}]", missing.join(", ")), at));
    }
    let Some(states) = machine.get("States").and_then(Value::as_object) else {
        if machine.get("States").is_some() {
            out.push(error(
                SCHEMA_VALIDATION_FAILED,
                "The field 'States' must be an object",
                &format!("{prefix}/States"),
            ));
        }
        return;
    };
    let start = machine.get("StartAt").and_then(Value::as_str);
    match (machine.get("StartAt"), start) {
        (Some(_), None) => out.push(error(
            SCHEMA_VALIDATION_FAILED,
            "The field 'StartAt' must be a string",
            &format!("{prefix}/StartAt"),
        )),
        (_, Some(start)) if !states.contains_key(start) => out.push(error(
            MISSING_TRANSITION_TARGET,
            format!("Missing 'Next' target: {start}"),
            &format!("{prefix}/StartAt"),
        )),
        _ => {}
    }
    for (name, state) in states {
        check_state(name, state, states, language, &format!("{prefix}/States/{name}"), out);
    }
    let Some(start) = start.filter(|s| states.contains_key(*s)) else {
        return;
    };
    let mut reachable = BTreeSet::from([start.to_string()]);
    let mut queue = VecDeque::from([start.to_string()]);
    while let Some(name) = queue.pop_front() {
        for target in transitions(&states[&name]) {
            if states.contains_key(&target) && reachable.insert(target.clone()) {
                queue.push_back(target);
            }
        }
    }
    for name in states.keys().filter(|n| !reachable.contains(*n)) {
        out.push(error(
            MISSING_TRANSITION_TARGET,
            format!("State \"{name}\" is not reachable."),
            &format!("{prefix}/States/{name}"),
        ));
    }
    // AWS asks for a terminal state anywhere in the machine, reachable or not.
    let terminal = states.values().any(|state| {
        matches!(state.get("Type").and_then(Value::as_str), Some("Succeed" | "Fail"))
            || state.get("End") == Some(&Value::Bool(true))
    });
    if !terminal {
        out.push(error(MISSING_END_STATE, "Workflow has no terminal state", &format!("{prefix}/States")));
    }
}

/// The names a state can go to next: Next, Default, each Choice's Next, each Catch's Next.
fn transitions(state: &Value) -> Vec<String> {
    let mut targets: Vec<String> =
        ["Next", "Default"].iter().filter_map(|f| state.get(*f).and_then(Value::as_str)).map(str::to_string).collect();
    for list in ["Choices", "Catch"] {
        for rule in state.get(list).and_then(Value::as_array).into_iter().flatten() {
            targets.extend(rule.get("Next").and_then(Value::as_str).map(str::to_string));
        }
    }
    targets
}

fn check_state(
    name: &str,
    state: &Value,
    states: &Map<String, Value>,
    machine: Language,
    at: &str,
    out: &mut Vec<Diagnostic>,
) {
    if name.chars().count() > MAX_STATE_NAME {
        out.push(error(
            INVALID_STATE_NAME,
            format!("State name '{name}' is longer than {MAX_STATE_NAME} characters"),
            at,
        ));
    }
    let Some(fields) = state.as_object() else {
        out.push(error(SCHEMA_VALIDATION_FAILED, "A state must be a JSON object", at));
        return;
    };
    let Some(kind) = fields.get("Type") else {
        out.push(error(SCHEMA_VALIDATION_FAILED, "These fields are required: [Type]", at));
        return;
    };
    let Some(kind) = kind.as_str().filter(|k| STATE_TYPES.contains(k)) else {
        out.push(error(
            SCHEMA_VALIDATION_FAILED,
            format!("The field 'Type' should have one of these values: [{}]", STATE_TYPES.join(", ")),
            &format!("{at}/Type"),
        ));
        return;
    };
    check_language(fields, at, out);
    let language = Language::of_state(state, machine);
    if machine == Language::Jsonata && language == Language::JsonPath {
        out.push(error(
            SCHEMA_VALIDATION_FAILED,
            "A state cannot use the JSONPath query language when the state machine uses JSONata",
            &format!("{at}/QueryLanguage"),
        ));
    }
    let accepted = if language == Language::Jsonata { jsonata_fields_of(kind) } else { fields_of(kind) };
    for field in fields.keys() {
        if !COMMON_FIELDS.contains(&field.as_str()) && !accepted.contains(&field.as_str()) {
            out.push(error(SCHEMA_VALIDATION_FAILED, format!("Field '{field}' is not supported"), at));
        }
    }
    check_assign(fields, at, out);
    if language == Language::Jsonata {
        for (field, value) in fields.iter().filter(|(f, _)| !["Branches", "ItemProcessor"].contains(&f.as_str())) {
            check_expressions(value, &format!("{at}/{field}"), out);
        }
    }
    let required: &[&str] = match kind {
        "Task" => &["Resource"],
        "Choice" => &["Choices"],
        "Parallel" => &["Branches"],
        _ => &[],
    };
    let missing: Vec<&str> = required.iter().copied().filter(|f| !fields.contains_key(*f)).collect();
    if !missing.is_empty() {
        out.push(error(SCHEMA_VALIDATION_FAILED, format!("These fields are required: [{}]", missing.join(", ")), at));
    }
    check_transition(kind, fields, states, at, out);
    check_paths(fields, at, out);
    for template in ["Parameters", "ResultSelector", "ItemSelector"] {
        if let Some(value) = fields.get(template) {
            check_template(value, &format!("{at}/{template}"), out);
        }
    }
    for (list, is_catch) in [("Retry", false), ("Catch", true)] {
        if let Some(rules) = fields.get(list) {
            check_rules(rules, is_catch, states, language, &format!("{at}/{list}"), out);
        }
    }
    match kind {
        "Task" => {
            if !fields.get("Resource").is_none_or(Value::is_string) {
                out.push(error(
                    SCHEMA_VALIDATION_FAILED,
                    "The field 'Resource' must be a string",
                    &format!("{at}/Resource"),
                ));
            }
            if let Some(resource) = fields.get("Resource").and_then(Value::as_str)
                && !integration_pattern_supported(resource)
            {
                out.push(error(
                    SCHEMA_VALIDATION_FAILED,
                    format!("The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."),
                    &format!("{at}/Resource"),
                ));
            }
            exclusive(
                fields,
                &[&["TimeoutSeconds", "TimeoutSecondsPath"], &["HeartbeatSeconds", "HeartbeatSecondsPath"]],
                at,
                out,
            );
            for field in ["TimeoutSeconds", "HeartbeatSeconds"] {
                if fields.get(field).is_some_and(|v| !expression_in(language, v) && v.as_u64().is_none_or(|n| n == 0)) {
                    out.push(error(
                        SCHEMA_VALIDATION_FAILED,
                        format!("The field '{field}' must be a positive integer"),
                        &format!("{at}/{field}"),
                    ));
                }
            }
        }
        "Choice" => check_choices(fields, states, language, at, out),
        "Wait" => {
            let set: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
                .into_iter()
                .filter(|f| fields.contains_key(*f))
                .collect();
            if set.len() != 1 {
                out.push(error(
                    SCHEMA_VALIDATION_FAILED,
                    "Exactly one of these fields is required: [Seconds, Timestamp, SecondsPath, TimestampPath]",
                    at,
                ));
            }
            if fields.get("Seconds").is_some_and(|v| !expression_in(language, v) && v.as_u64().is_none()) {
                out.push(error(
                    SCHEMA_VALIDATION_FAILED,
                    "The field 'Seconds' must be a non-negative integer",
                    &format!("{at}/Seconds"),
                ));
            }
            if fields
                .get("Timestamp")
                .is_some_and(|v| !expression_in(language, v) && v.as_str().and_then(timestamp).is_none())
            {
                out.push(error(
                    SCHEMA_VALIDATION_FAILED,
                    "The field 'Timestamp' must be an RFC 3339 timestamp",
                    &format!("{at}/Timestamp"),
                ));
            }
        }
        "Fail" => exclusive(fields, &[&["Error", "ErrorPath"], &["Cause", "CausePath"]], at, out),
        "Parallel" => match fields.get("Branches").map(|b| b.as_array()) {
            Some(Some(branches)) if !branches.is_empty() => {
                for (i, branch) in branches.iter().enumerate() {
                    check_sub_machine(branch, &format!("{at}/Branches/{i}"), machine, out);
                }
            }
            Some(_) => out.push(error(
                SCHEMA_VALIDATION_FAILED,
                "The field 'Branches' must be a non-empty array",
                &format!("{at}/Branches"),
            )),
            None => {}
        },
        "Map" => {
            exclusive(fields, &[&["ItemProcessor", "Iterator"], &["ItemSelector", "Parameters"]], at, out);
            match fields
                .get("ItemProcessor")
                .map(|p| ("ItemProcessor", p))
                .or(fields.get("Iterator").map(|p| ("Iterator", p)))
            {
                Some((field, processor)) => check_sub_machine(processor, &format!("{at}/{field}"), machine, out),
                None => out.push(error(SCHEMA_VALIDATION_FAILED, "These fields are required: [ItemProcessor]", at)),
            }
            if fields.get("MaxConcurrency").is_some_and(|v| !expression_in(language, v) && v.as_u64().is_none()) {
                out.push(error(
                    SCHEMA_VALIDATION_FAILED,
                    "The field 'MaxConcurrency' must be a non-negative integer",
                    &format!("{at}/MaxConcurrency"),
                ));
            }
            check_distributed(fields, at, out);
        }
        _ => {}
    }
}

/// A Map's ProcessorConfig, and the fields of distributed mode: ItemReader, ItemBatcher,
/// ResultWriter, Label and the tolerated failures.
fn check_distributed(fields: &Map<String, Value>, at: &str, out: &mut Vec<Diagnostic>) {
    let one_of = |value: &Value, field: &str, allowed: &[&str], at: &str, out: &mut Vec<Diagnostic>| {
        if value.get(field).is_some_and(|v| !v.as_str().is_some_and(|v| allowed.contains(&v))) {
            let message = format!("The field '{field}' should have one of these values: [{}]", allowed.join(", "));
            out.push(error(SCHEMA_VALIDATION_FAILED, message, &format!("{at}/{field}")));
        }
    };
    let config_at = format!("{at}/ItemProcessor/ProcessorConfig");
    let config = fields.get("ItemProcessor").and_then(|p| p.get("ProcessorConfig")).cloned().unwrap_or_default();
    one_of(&config, "Mode", &["INLINE", "DISTRIBUTED"], &config_at, out);
    let distributed = config["Mode"] == "DISTRIBUTED";
    if distributed {
        one_of(&config, "ExecutionType", &["STANDARD", "EXPRESS"], &config_at, out);
        if config.get("ExecutionType").is_none() {
            out.push(error(SCHEMA_VALIDATION_FAILED, "These fields are required: [ExecutionType]", &config_at));
        }
    }
    for field in ["ItemReader", "ItemBatcher", "ResultWriter", "Label"] {
        if !distributed && fields.contains_key(field) {
            let message = format!("The field '{field}' is only supported in DISTRIBUTED mode");
            out.push(error(SCHEMA_VALIDATION_FAILED, message, &format!("{at}/{field}")));
        }
    }
    if let Some(reader) = fields.get("ItemReader") {
        let reader_at = format!("{at}/ItemReader");
        let resources = ["arn:aws:states:::s3:getObject", "arn:aws:states:::s3:listObjectsV2"];
        one_of(reader, "Resource", &resources, &reader_at, out);
        let config = reader.get("ReaderConfig").cloned().unwrap_or_default();
        let config_at = format!("{reader_at}/ReaderConfig");
        one_of(&config, "InputType", &["CSV", "JSON", "JSONL", "MANIFEST"], &config_at, out);
        one_of(&config, "CSVHeaderLocation", &["FIRST_ROW", "GIVEN"], &config_at, out);
        one_of(&config, "CSVDelimiter", &["COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"], &config_at, out);
        if config["CSVHeaderLocation"] == "GIVEN" && !config["CSVHeaders"].is_array() {
            out.push(error(SCHEMA_VALIDATION_FAILED, "These fields are required: [CSVHeaders]", &config_at));
        }
        if reader["Resource"] == resources[0] && config.get("InputType").is_none() {
            out.push(error(SCHEMA_VALIDATION_FAILED, "These fields are required: [InputType]", &config_at));
        }
    }
    if let Some(writer) = fields.get("ResultWriter") {
        one_of(writer, "Resource", &["arn:aws:states:::s3:putObject"], &format!("{at}/ResultWriter"), out);
    }
    if let Some(label) = fields.get("Label") {
        let valid = label.as_str().is_some_and(|l| {
            l.chars().count() <= 40 && !l.chars().any(|c| c.is_whitespace() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
        });
        if !valid {
            let message =
                "The field 'Label' must be a string of at most 40 characters, without whitespace or special characters";
            out.push(error(SCHEMA_VALIDATION_FAILED, message, &format!("{at}/Label")));
        }
    }
    let percentage = fields.get("ToleratedFailurePercentage").filter(|v| !v.is_string());
    if percentage.is_some_and(|v| !v.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p))) {
        let message = "The field 'ToleratedFailurePercentage' must be a number between 0 and 100";
        out.push(error(SCHEMA_VALIDATION_FAILED, message, &format!("{at}/ToleratedFailurePercentage")));
    }
}

fn check_sub_machine(machine: &Value, at: &str, language: Language, out: &mut Vec<Diagnostic>) {
    let Some(fields) = machine.as_object() else {
        out.push(error(SCHEMA_VALIDATION_FAILED, "A branch must be a JSON object", at));
        return;
    };
    for field in fields.keys() {
        if !["StartAt", "States", "Comment", "ProcessorConfig", "QueryLanguage"].contains(&field.as_str()) {
            out.push(error(SCHEMA_VALIDATION_FAILED, format!("Field '{field}' is not supported"), at));
        }
    }
    check_machine(fields, at, language, out);
}

/// Fields of which at most one of each group may be set.
fn exclusive(fields: &Map<String, Value>, groups: &[&[&str]], at: &str, out: &mut Vec<Diagnostic>) {
    for group in groups {
        if group.iter().filter(|f| fields.contains_key(**f)).count() > 1 {
            out.push(error(
                SCHEMA_VALIDATION_FAILED,
                format!("Only one of these fields is allowed: [{}]", group.join(", ")),
                at,
            ));
        }
    }
}

/// Next/End: terminal states take neither, Choice has its own targets, the others exactly one.
fn check_transition(
    kind: &str,
    fields: &Map<String, Value>,
    states: &Map<String, Value>,
    at: &str,
    out: &mut Vec<Diagnostic>,
) {
    if matches!(kind, "Succeed" | "Fail" | "Choice") {
        return;
    }
    let end = fields.get("End");
    if end.is_some_and(|e| !e.is_boolean()) {
        out.push(error(SCHEMA_VALIDATION_FAILED, "The field 'End' must be a boolean", &format!("{at}/End")));
    }
    let ends = end == Some(&Value::Bool(true));
    match fields.get("Next") {
        Some(_) if ends => {
            out.push(error(SCHEMA_VALIDATION_FAILED, "Only one of these fields is allowed: [Next, End]", at))
        }
        Some(next) => check_target(next, states, &format!("{at}/Next"), out),
        None if !ends => out.push(error(SCHEMA_VALIDATION_FAILED, "These fields are required: [Next]", at)),
        None => {}
    }
}

fn check_target(target: &Value, states: &Map<String, Value>, at: &str, out: &mut Vec<Diagnostic>) {
    match target.as_str() {
        Some(name) if states.contains_key(name) => {}
        Some(name) => out.push(error(MISSING_TRANSITION_TARGET, format!("Missing 'Next' target: {name}"), at)),
        None => out.push(error(SCHEMA_VALIDATION_FAILED, "The field 'Next' must be a string", at)),
    }
}

/// A path field must parse; ResultPath and the value paths must be reference paths.
fn check_paths(fields: &Map<String, Value>, at: &str, out: &mut Vec<Diagnostic>) {
    let kinds: &[(&str, bool, bool)] = &[
        // (field, may be null, must be a reference path)
        ("InputPath", true, false),
        ("OutputPath", true, false),
        ("ResultPath", true, true),
        ("ItemsPath", false, true),
        ("SecondsPath", false, true),
        ("TimestampPath", false, true),
        ("TimeoutSecondsPath", false, true),
        ("HeartbeatSecondsPath", false, true),
        ("MaxConcurrencyPath", false, true),
        ("ToleratedFailurePercentagePath", false, true),
        ("ToleratedFailureCountPath", false, true),
    ];
    for (field, nullable, reference) in kinds {
        let Some(value) = fields.get(*field) else { continue };
        if value.is_null() && *nullable {
            continue;
        }
        let valid = value.as_str().and_then(|p| Path::parse(p).ok()).is_some_and(|p| {
            !*reference || (p.is_definite() && !(*field == "ResultPath" && p.root != super::path::Root::Input))
        });
        if !valid {
            let what = if *reference { "ReferencePath" } else { "JSONPath" };
            out.push(error(
                SCHEMA_VALIDATION_FAILED,
                format!("The value for the field '{field}' must be a valid {what}"),
                &format!("{at}/{field}"),
            ));
        }
    }
    for field in ["ErrorPath", "CausePath"] {
        let Some(value) = fields.get(field) else { continue };
        if !value.as_str().is_some_and(valid_dynamic) {
            out.push(error(
                SCHEMA_VALIDATION_FAILED,
                format!(
                    "The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function call"
                ),
                &format!("{at}/{field}"),
            ));
        }
    }
}

/// A `.$` value: a path, or an intrinsic function call that parses.
fn valid_dynamic(text: &str) -> bool {
    if text.starts_with('$') { Path::parse(text).is_ok() } else { intrinsics::parse(text).is_ok() }
}

fn check_template(template: &Value, at: &str, out: &mut Vec<Diagnostic>) {
    match template {
        Value::Object(fields) => {
            for (key, value) in fields {
                if key.ends_with(".$") {
                    if !value.as_str().is_some_and(valid_dynamic) {
                        out.push(error(
                            SCHEMA_VALIDATION_FAILED,
                            format!("The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call"),
                            &format!("{at}/{key}"),
                        ));
                    }
                } else {
                    check_template(value, &format!("{at}/{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_template(item, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Retry and Catch: ErrorEquals non-empty, `States.ALL` alone in the last rule, Catch's
/// Next an existing state, Retry's numbers in range.
fn check_rules(
    rules: &Value,
    is_catch: bool,
    states: &Map<String, Value>,
    language: Language,
    at: &str,
    out: &mut Vec<Diagnostic>,
) {
    let Some(rules) = rules.as_array() else {
        out.push(error(SCHEMA_VALIDATION_FAILED, "The field must be an array", at));
        return;
    };
    for (i, rule) in rules.iter().enumerate() {
        let here = format!("{at}/{i}");
        let Some(fields) = rule.as_object() else {
            out.push(error(SCHEMA_VALIDATION_FAILED, "A rule must be a JSON object", &here));
            continue;
        };
        let allowed: &[&str] = if is_catch && language == Language::Jsonata {
            &["ErrorEquals", "Next", "Output", "Comment", "Assign"]
        } else if is_catch {
            &["ErrorEquals", "Next", "ResultPath", "Comment", "Assign"]
        } else {
            &[
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ]
        };
        for field in fields.keys().filter(|f| !allowed.contains(&f.as_str())) {
            out.push(error(SCHEMA_VALIDATION_FAILED, format!("Field '{field}' is not supported"), &here));
        }
        let required: &[&str] = if is_catch { &["ErrorEquals", "Next"] } else { &["ErrorEquals"] };
        let missing: Vec<&str> = required.iter().copied().filter(|f| !fields.contains_key(*f)).collect();
        if !missing.is_empty() {
            out.push(error(
                SCHEMA_VALIDATION_FAILED,
                format!("These fields are required: [{}]", missing.join(", ")),
                &here,
            ));
        }
        if let Some(errors) = fields.get("ErrorEquals") {
            match errors.as_array() {
                Some(names) if !names.is_empty() && names.iter().all(Value::is_string) => {
                    let has_all = names.iter().any(|n| n == "States.ALL");
                    if has_all && (names.len() > 1 || i + 1 != rules.len()) {
                        out.push(error(
                            SCHEMA_VALIDATION_FAILED,
                            "States.ALL must appear alone in ErrorEquals and in the last rule",
                            &format!("{here}/ErrorEquals"),
                        ));
                    }
                }
                _ => out.push(error(
                    SCHEMA_VALIDATION_FAILED,
                    "The field 'ErrorEquals' must be a non-empty array of strings",
                    &format!("{here}/ErrorEquals"),
                )),
            }
        }
        if is_catch {
            if let Some(next) = fields.get("Next") {
                check_target(next, states, &format!("{here}/Next"), out);
            }
            check_assign(fields, &here, out);
            check_paths(fields, &here, out);
            continue;
        }
        let number = |field: &str, ok: &dyn Fn(f64) -> bool, rule: &str, out: &mut Vec<Diagnostic>| {
            if let Some(value) = fields.get(field)
                && (!value.as_f64().is_some_and(ok) || (field != "BackoffRate" && value.as_u64().is_none()))
            {
                out.push(error(
                    SCHEMA_VALIDATION_FAILED,
                    format!("The field '{field}' must be {rule}"),
                    &format!("{here}/{field}"),
                ));
            }
        };
        number("IntervalSeconds", &|v| v >= 1.0, "a positive integer", out);
        number("MaxAttempts", &|v| v >= 0.0, "a non-negative integer", out);
        number("MaxDelaySeconds", &|v| v >= 1.0, "a positive integer", out);
        number("BackoffRate", &|v| v >= 1.0, "a number greater than or equal to 1.0", out);
        if let Some(jitter) = fields.get("JitterStrategy")
            && !matches!(jitter.as_str(), Some("FULL" | "NONE"))
        {
            out.push(error(
                SCHEMA_VALIDATION_FAILED,
                "The field 'JitterStrategy' should have one of these values: [FULL, NONE]",
                &format!("{here}/JitterStrategy"),
            ));
        }
    }
}

fn check_choices(
    fields: &Map<String, Value>,
    states: &Map<String, Value>,
    language: Language,
    at: &str,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(default) = fields.get("Default") {
        check_target(default, states, &format!("{at}/Default"), out);
    }
    let Some(choices) = fields.get("Choices") else { return };
    let Some(choices) = choices.as_array().filter(|c| !c.is_empty()) else {
        out.push(error(
            SCHEMA_VALIDATION_FAILED,
            "The field 'Choices' must be a non-empty array",
            &format!("{at}/Choices"),
        ));
        return;
    };
    for (i, rule) in choices.iter().enumerate() {
        let here = format!("{at}/Choices/{i}");
        match rule.get("Next") {
            Some(next) => check_target(next, states, &format!("{here}/Next"), out),
            None => out.push(error(SCHEMA_VALIDATION_FAILED, "These fields are required: [Next]", &here)),
        }
        if let Some(rule) = rule.as_object() {
            check_assign(rule, &here, out);
        }
        match language {
            Language::JsonPath => check_rule(rule, true, &here, out),
            Language::Jsonata => check_condition(rule, &here, out),
        }
    }
}

/// A JSONata Choice rule: a `Condition` expression, its Next, Assign and Output.
fn check_condition(rule: &Value, at: &str, out: &mut Vec<Diagnostic>) {
    let Some(fields) = rule.as_object() else {
        out.push(error(SCHEMA_VALIDATION_FAILED, "A Choice Rule must be a JSON object", at));
        return;
    };
    for field in fields.keys().filter(|f| !["Condition", "Next", "Assign", "Output", "Comment"].contains(&f.as_str())) {
        out.push(error(SCHEMA_VALIDATION_FAILED, format!("Field '{field}' is not supported"), at));
    }
    match fields.get("Condition") {
        None => out.push(error(SCHEMA_VALIDATION_FAILED, "These fields are required: [Condition]", at)),
        Some(Value::Bool(_)) => {}
        Some(Value::String(text)) if expression(text).is_some() => {}
        Some(_) => out.push(error(
            SCHEMA_VALIDATION_FAILED,
            "The field 'Condition' must be a boolean or a JSONata expression",
            &format!("{at}/Condition"),
        )),
    }
    for (field, value) in fields {
        check_expressions(value, &format!("{at}/{field}"), out);
    }
}

/// One Choice rule: a boolean combination or a data-test with exactly one operator.
fn check_rule(rule: &Value, top: bool, at: &str, out: &mut Vec<Diagnostic>) {
    let Some(fields) = rule.as_object() else {
        out.push(error(SCHEMA_VALIDATION_FAILED, "A Choice Rule must be a JSON object", at));
        return;
    };
    let mut allowed = vec!["Comment"];
    if top {
        allowed.extend(["Next", "Assign"]);
    }
    if let Some((combinator, inner)) = ["And", "Or", "Not"].iter().find_map(|c| fields.get(*c).map(|v| (*c, v))) {
        allowed.push(combinator);
        match (combinator, inner) {
            ("Not", inner) => check_rule(inner, false, &format!("{at}/Not"), out),
            (_, Value::Array(rules)) if !rules.is_empty() => {
                for (i, rule) in rules.iter().enumerate() {
                    check_rule(rule, false, &format!("{at}/{combinator}/{i}"), out);
                }
            }
            _ => out.push(error(
                SCHEMA_VALIDATION_FAILED,
                format!("The field '{combinator}' must be a non-empty array"),
                &format!("{at}/{combinator}"),
            )),
        }
    } else {
        allowed.push("Variable");
        let operators: Vec<&String> = fields.keys().filter(|k| OPERATORS.contains(&k.as_str())).collect();
        if operators.len() != 1 {
            out.push(error(SCHEMA_VALIDATION_FAILED, "A Choice Rule must have exactly one comparison operator", at));
        }
        match fields.get("Variable") {
            None => out.push(error(SCHEMA_VALIDATION_FAILED, "These fields are required: [Variable]", at)),
            Some(variable) if variable.as_str().is_none_or(|v| Path::parse(v).is_err()) => out.push(error(
                SCHEMA_VALIDATION_FAILED,
                "The value for the field 'Variable' must be a valid JSONPath",
                &format!("{at}/Variable"),
            )),
            Some(_) => {}
        }
        for operator in operators {
            allowed.push(operator);
            check_operand(operator, &fields[operator], &format!("{at}/{operator}"), out);
        }
    }
    for field in fields.keys().filter(|f| !allowed.contains(&f.as_str())) {
        out.push(error(SCHEMA_VALIDATION_FAILED, format!("Field '{field}' is not supported"), at));
    }
}

fn check_operand(operator: &str, operand: &Value, at: &str, out: &mut Vec<Diagnostic>) {
    let valid = if operator.ends_with("Path") {
        operand.as_str().and_then(|p| Path::parse(p).ok()).is_some_and(|p| p.is_definite())
    } else if operator.starts_with("String") {
        operand.is_string()
    } else if operator.starts_with("Numeric") {
        operand.is_number()
    } else if operator.starts_with("Timestamp") {
        operand.as_str().and_then(timestamp).is_some()
    } else {
        operand.is_boolean()
    };
    if !valid {
        out.push(error(SCHEMA_VALIDATION_FAILED, format!("The value of the field '{operator}' is not valid"), at));
    }
}

pub fn invalid_definition_message(errors: &[Diagnostic]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|d| {
            if d.location.is_empty() {
                format!("{}: {}", d.code, d.message)
            } else {
                format!("{}: {} at {}", d.code, d.message, d.location)
            }
        })
        .collect();
    format!("Invalid State Machine Definition: '{}'", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The InvalidDefinition message for `definition`, `None` when it is valid.
    fn check(definition: Value, expected: Option<&str>) {
        let errors = validate(&definition);
        let got = (!errors.is_empty()).then(|| invalid_definition_message(&errors));
        assert_eq!(got.as_deref(), expected, "{definition}");
    }

    #[test]
    fn valid_definitions() {
        let cases = [
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}),
            json!({"Comment": "c", "StartAt": "A", "TimeoutSeconds": 60, "States": {
                "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "Next": "C",
                      "Retry": [{"ErrorEquals": ["A", "B"], "IntervalSeconds": 2, "MaxAttempts": 0, "BackoffRate": 1.5, "JitterStrategy": "FULL"},
                                {"ErrorEquals": ["States.ALL"]}],
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F", "ResultPath": "$.error"}],
                      "Parameters": {"x.$": "$.x", "id.$": "$$.Execution.Id", "f.$": "States.Format('{}', $.a)", "l": [{"y.$": "$.y"}]},
                      "ResultSelector": {"r.$": "$.Payload"}, "ResultPath": "$.result", "OutputPath": "$.result"},
                "C": {"Type": "Choice", "Choices": [
                        {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "W"},
                        {"And": [{"Variable": "$.s", "StringMatches": "a*"}, {"Not": {"Variable": "$.b", "IsPresent": true}}], "Next": "P"},
                        {"Variable": "$.t", "TimestampLessThanPath": "$.u", "Next": "M"}
                      ], "Default": "S"},
                "W": {"Type": "Wait", "Seconds": 1, "Next": "S"},
                "P": {"Type": "Parallel", "Next": "S", "Branches": [
                        {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}},
                        {"StartAt": "B2", "States": {"B2": {"Type": "Succeed"}}}
                      ]},
                "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ItemSelector": {"v.$": "$$.Map.Item.Value"},
                      "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
                      "End": true},
                "S": {"Type": "Succeed"},
                "F": {"Type": "Fail", "Error": "E", "CausePath": "$.error.Cause"}
            }}),
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true}}}),
            json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.when", "End": true}}}),
        ];
        for definition in cases {
            check(definition, None);
        }
    }

    #[test]
    fn invalid_definitions() {
        let cases: Vec<(Value, &str)> = vec![
            (json!([1]), "SCHEMA_VALIDATION_FAILED: The state machine definition must be a JSON object at /"),
            (
                json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "Label": "a b",
                    "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "XML"}},
                    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "I",
                                      "States": {"I": {"Type": "Pass", "End": true}}}}}}),
                "SCHEMA_VALIDATION_FAILED: These fields are required: [ExecutionType] at /States/M/ItemProcessor/ProcessorConfig, SCHEMA_VALIDATION_FAILED: The field 'InputType' should have one of these values: [CSV, JSON, JSONL, MANIFEST] at /States/M/ItemReader/ReaderConfig/InputType, SCHEMA_VALIDATION_FAILED: The field 'Label' must be a string of at most 40 characters, without whitespace or special characters at /States/M/Label",
            ),
            (
                json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
                    "ItemBatcher": {"MaxItemsPerBatch": 2},
                    "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}}}),
                "SCHEMA_VALIDATION_FAILED: The field 'ItemBatcher' is only supported in DISTRIBUTED mode at /States/M/ItemBatcher",
            ),
            (json!({"States": {}}), "SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at /"),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}, "Extra": 1}),
                "SCHEMA_VALIDATION_FAILED: Field 'Extra' is not supported at /",
            ),
            (
                json!({"StartAt": "X", "States": {"A": {"Type": "Pass", "End": true}}}),
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /StartAt",
            ),
            (
                json!({"StartAt": "pass1", "States": {
                    "pass1": {"Type": "Pass", "Next": "pass3"},
                    "pass2": {"Type": "Pass", "End": true}
                }}),
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next, MISSING_TRANSITION_TARGET: State \"pass2\" is not reachable. at /States/pass2",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Nope", "End": true}}}),
                "SCHEMA_VALIDATION_FAILED: The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map] at /States/A/Type",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"End": true}}}),
                "SCHEMA_VALIDATION_FAILED: These fields are required: [Type] at /States/A",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "_comment": "x"}}}),
                "SCHEMA_VALIDATION_FAILED: Field '_comment' is not supported at /States/A",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}),
                "SCHEMA_VALIDATION_FAILED: These fields are required: [Resource] at /States/A",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}),
                "SCHEMA_VALIDATION_FAILED: These fields are required: [Next] at /States/A, MISSING_END_STATE: Workflow has no terminal state at /States",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A", "End": true}}}),
                "SCHEMA_VALIDATION_FAILED: Only one of these fields is allowed: [Next, End] at /States/A",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Succeed", "Next": "A"}}}),
                "SCHEMA_VALIDATION_FAILED: Field 'Next' is not supported at /States/A",
            ),
            (
                json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [], "Default": "S"}, "S": {"Type": "Succeed"}}}),
                "SCHEMA_VALIDATION_FAILED: The field 'Choices' must be a non-empty array at /States/C/Choices",
            ),
            (
                json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
                    {"Variable": "$.x", "NumericEquals": "1", "Next": "S"},
                    {"Variable": "$.x", "StringEquals": "a", "BooleanEquals": true, "Next": "S"},
                    {"StringEquals": "a", "Next": "Gone"},
                    {"Not": {"Variable": "$.x", "IsNull": true, "Next": "S"}, "Next": "S"}
                ]}, "S": {"Type": "Succeed"}}}),
                "SCHEMA_VALIDATION_FAILED: The value of the field 'NumericEquals' is not valid at /States/C/Choices/0/NumericEquals, SCHEMA_VALIDATION_FAILED: A Choice Rule must have exactly one comparison operator at /States/C/Choices/1, MISSING_TRANSITION_TARGET: Missing 'Next' target: Gone at /States/C/Choices/2/Next, SCHEMA_VALIDATION_FAILED: These fields are required: [Variable] at /States/C/Choices/2, SCHEMA_VALIDATION_FAILED: Field 'Next' is not supported at /States/C/Choices/3/Not",
            ),
            (
                json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true}}}),
                "SCHEMA_VALIDATION_FAILED: Exactly one of these fields is required: [Seconds, Timestamp, SecondsPath, TimestampPath] at /States/W",
            ),
            (
                json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2016-03-14 01:59", "End": true}}}),
                "SCHEMA_VALIDATION_FAILED: The field 'Timestamp' must be an RFC 3339 timestamp at /States/W/Timestamp",
            ),
            (
                json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}}}
                ]}}}),
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: Z at /States/P/Branches/0/States/A/Next, MISSING_END_STATE: Workflow has no terminal state at /States/P/Branches/0/States",
            ),
            (
                json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true}}}),
                "SCHEMA_VALIDATION_FAILED: These fields are required: [ItemProcessor] at /States/M",
            ),
            (
                json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}, "J": {"Type": "Succeed"}}}}}}),
                "MISSING_TRANSITION_TARGET: State \"J\" is not reachable. at /States/M/ItemProcessor/States/J",
            ),
            (
                json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": true,
                    "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["E"], "BackoffRate": 0.5, "JitterStrategy": "HALF"}],
                    "Catch": [{"ErrorEquals": ["States.ALL", "E"], "Next": "Nowhere"}, {"ErrorEquals": []}]}}}),
                "SCHEMA_VALIDATION_FAILED: States.ALL must appear alone in ErrorEquals and in the last rule at /States/T/Retry/0/ErrorEquals, SCHEMA_VALIDATION_FAILED: The field 'BackoffRate' must be a number greater than or equal to 1.0 at /States/T/Retry/1/BackoffRate, SCHEMA_VALIDATION_FAILED: The field 'JitterStrategy' should have one of these values: [FULL, NONE] at /States/T/Retry/1/JitterStrategy, SCHEMA_VALIDATION_FAILED: States.ALL must appear alone in ErrorEquals and in the last rule at /States/T/Catch/0/ErrorEquals, MISSING_TRANSITION_TARGET: Missing 'Next' target: Nowhere at /States/T/Catch/0/Next, SCHEMA_VALIDATION_FAILED: These fields are required: [Next] at /States/T/Catch/1, SCHEMA_VALIDATION_FAILED: The field 'ErrorEquals' must be a non-empty array of strings at /States/T/Catch/1/ErrorEquals",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "InputPath": "x", "ResultPath": "$.a[*]",
                    "Parameters": {"a.$": "States.Nope()", "b": {"c.$": "$.["}, "d.$": "States.Format('{}', $.x)"}}}}),
                "SCHEMA_VALIDATION_FAILED: The value for the field 'InputPath' must be a valid JSONPath at /States/A/InputPath, SCHEMA_VALIDATION_FAILED: The value for the field 'ResultPath' must be a valid ReferencePath at /States/A/ResultPath, SCHEMA_VALIDATION_FAILED: The value for the field 'a.$' must be a valid JSONPath or a valid intrinsic function call at /States/A/Parameters/a.$, SCHEMA_VALIDATION_FAILED: The value for the field 'c.$' must be a valid JSONPath or a valid intrinsic function call at /States/A/Parameters/b/c.$",
            ),
            (
                json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}}}),
                "SCHEMA_VALIDATION_FAILED: Only one of these fields is allowed: [Error, ErrorPath] at /States/F",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}),
                "MISSING_END_STATE: Workflow has no terminal state at /States",
            ),
        ];
        for (definition, expected) in cases {
            check(definition, Some(&format!("Invalid State Machine Definition: '{expected}'")));
        }
    }

    #[test]
    fn checks_integration_patterns() {
        for (resource, ok) in [
            ("arn:aws:states:::lambda:invoke", true),
            ("arn:aws:states:::lambda:invoke.waitForTaskToken", true),
            ("arn:aws:states:::lambda:invoke.sync", false),
            ("arn:aws:states:::states:startExecution.sync:2", true),
            ("arn:aws:states:::states:startExecution.sync:3", false),
            ("arn:aws:states:::dynamodb:putItem", true),
            ("arn:aws:states:::dynamodb:putItem.waitForTaskToken", false),
            ("arn:aws:states:::aws-sdk:s3:getObject.sync", false),
            ("arn:aws:states:::aws-sdk:s3:getObject", true),
            ("arn:aws:lambda:us-east-1:000000000000:function:f", true),
        ] {
            assert_eq!(integration_pattern_supported(resource), ok, "{resource}");
        }
    }

    #[test]
    fn checks_jsonata_states_and_variables() {
        let valid = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"n": "{% $states.input.n %}"}, "Output": {"x": 1}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [
                {"Condition": "{% $n > 1 %}", "Next": "W", "Assign": {"big": true}}
            ], "Default": "W"},
            "W": {"Type": "Wait", "Seconds": "{% $n %}", "Next": "M"},
            "M": {"Type": "Map", "Items": "{% [1, 2] %}", "ItemProcessor": {"StartAt": "P", "States": {
                "P": {"Type": "Pass", "End": true}}}, "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {"Payload": "{% $n %}"},
                  "TimeoutSeconds": "{% 3 %}",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "F"}],
                  "End": true},
            "F": {"Type": "Fail", "Error": "{% 'E' & $n %}"}
        }});
        check(valid, None);
        let mixed = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input %}", "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"x.$": "$.a", "y": 2}, "End": true}
        }});
        check(mixed, None);
        let cases: Vec<(Value, &str)> = vec![
            (
                json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$", "End": true}}}),
                "SCHEMA_VALIDATION_FAILED: Field 'InputPath' is not supported at /States/A",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": {}, "End": true}}}),
                "SCHEMA_VALIDATION_FAILED: Field 'Output' is not supported at /States/A",
            ),
            (
                json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}}),
                "SCHEMA_VALIDATION_FAILED: A state cannot use the JSONPath query language when the state machine uses JSONata at /States/A/QueryLanguage",
            ),
            (
                json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "Output": "{% $states.input. %}", "End": true}}}),
                "SCHEMA_VALIDATION_FAILED: The JSONata expression '$states.input.' is not valid",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"states": 1, "9x": 2}, "End": true}}}),
                "SCHEMA_VALIDATION_FAILED: The variable name 'states' is reserved at /States/A/Assign, SCHEMA_VALIDATION_FAILED: The variable name '9x' is invalid at /States/A/Assign",
            ),
            (
                json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
                    "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": true, "Next": "E"}]},
                    "E": {"Type": "Succeed"}}}),
                "SCHEMA_VALIDATION_FAILED: Field 'Variable' is not supported at /States/C/Choices/0, SCHEMA_VALIDATION_FAILED: Field 'BooleanEquals' is not supported at /States/C/Choices/0, SCHEMA_VALIDATION_FAILED: These fields are required: [Condition] at /States/C/Choices/0",
            ),
            (
                json!({"QueryLanguage": "JSONPathish", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
                "SCHEMA_VALIDATION_FAILED: The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata] at /QueryLanguage",
            ),
        ];
        for (definition, expected) in cases {
            let errors = validate(&definition);
            let got = invalid_definition_message(&errors);
            assert!(got.contains(expected), "{definition}: {got}");
        }
    }

    #[test]
    fn parses_text() {
        assert!(parse_definition("{\"StartAt\": \"A\"}").is_ok());
        let diagnostic = parse_definition("{nope").unwrap_err();
        assert_eq!(diagnostic.code, INVALID_JSON_DESCRIPTION);
        assert_eq!(
            invalid_definition_message(&[diagnostic]),
            "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: key must be a string at line 1 column 2'"
        );
    }
}
