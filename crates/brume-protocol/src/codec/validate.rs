//! The checks AWS front ends make on every input before the service sees it, worded as
//! AWS's request validator words them (`1 validation error detected: Value null at
//! 'roleArn' failed to satisfy constraint: Member must not be null`).
//!
//! Every service has its input's required members checked. The services whose front end
//! is AWS's model validator ([`enforces_constraints`]) have the whole input checked against
//! its model: required members at every depth, and each value's enum, length, pattern and
//! range constraints. The others (S3, SQS, SNS) check their members in their own words.

use std::fmt;

use regex_automata::meta::Regex;
use serde_json::Value;

use brume_core::AwsError;

use crate::model::{Protocol, ServiceModel, Shape, ShapeType};

/// The services (by model `serviceId`) that answer a member breaking its model's
/// constraints with the validator's message, the code each gives it, and whether the
/// message shows the value. CloudWatch Logs stopped showing values in 2026 (`Value at
/// 'logGroupIdentifier' failed to satisfy constraint: …`, where it used to show the ARN).
const CONSTRAINED: &[(&str, &str, bool)] = &[
    ("CloudFormation", "ValidationError", true),
    ("CloudWatch Logs", "InvalidParameterException", false),
    ("DynamoDB", "ValidationException", true),
    ("DynamoDB Streams", "ValidationException", true),
    ("Lambda", "ValidationException", true),
    ("SFN", "ValidationException", true),
    ("STS", "ValidationError", true),
];

/// Members whose constraints their service checks itself, earlier and in its own words
/// (`*`: every member of the structure), as `(serviceId, structure, member)`. Their required
/// check stays the front end's.
const OWN_CHECKS: &[(&str, &str, &str)] = &[
    // "The requestItems parameter is required for BatchWriteItem", for an empty map.
    ("DynamoDB", "BatchGetItemInput", "RequestItems"),
    ("DynamoDB", "BatchWriteItemInput", "RequestItems"),
    // "Value at 'Limit'", unlike Scan's.
    ("DynamoDB", "QueryInput", "Limit"),
    // An unknown runtime is InvalidParameterValueException, deprecated ones have their own text.
    ("Lambda", "CreateFunctionRequest", "Runtime"),
    ("Lambda", "UpdateFunctionConfigurationRequest", "Runtime"),
    // Event source mappings answer InvalidParameterValueException, per source type.
    ("Lambda", "CreateEventSourceMappingRequest", "*"),
    ("Lambda", "UpdateEventSourceMappingRequest", "*"),
];

/// Lists of structures whose length over the bound their service checks in its own words,
/// showing items the front end cannot print. An empty one (`'[]'`) and their items are still
/// the front end's to check.
const OWN_COUNTS: &[(&str, &str, &str)] = &[
    ("DynamoDB", "TransactWriteItemsInput", "TransactItems"),
    ("DynamoDB", "TransactGetItemsInput", "TransactItems"),
    ("DynamoDB", "BatchExecuteStatementInput", "Statements"),
    ("DynamoDB", "ExecuteTransactionInput", "TransactStatements"),
    ("SFN", "CreateStateMachineAliasInput", "routingConfiguration"),
    ("SFN", "UpdateStateMachineAliasInput", "routingConfiguration"),
];

/// Enum sets that AWS lists in an order of its own (its validator's set iterates in hash
/// order), as `(serviceId, shape, listing)`, taken from AWS's messages. The others are
/// listed in the model's order.
const AWS_ORDER: &[(&str, &str, &str)] = &[
    ("CloudFormation", "ChangeSetType", "UPDATE, IMPORT, CREATE"),
    (
        "DynamoDB",
        "ComparisonOperator",
        "IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS",
    ),
    ("DynamoDB", "ConditionalOperator", "OR, AND"),
    ("DynamoDB", "ProjectionType", "ALL, INCLUDE, KEYS_ONLY"),
    ("DynamoDB", "ScalarAttributeType", "B, N, S"),
    ("DynamoDB", "Select", "SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES"),
    ("Lambda", "LogType", "Tail, None"),
    ("SFN", "ExecutionStatus", "SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING"),
];

pub(crate) fn enforces_constraints(model: &ServiceModel) -> bool {
    constrained(model).is_some()
}

fn constrained(model: &ServiceModel) -> Option<&'static (&'static str, &'static str, bool)> {
    CONSTRAINED.iter().find(|(id, _, _)| *id == model.metadata.service_id)
}

/// Checks `value`, the canonical input of shape `shape_name`, and lists every member that
/// fails in one error, as AWS does.
pub(super) fn input(model: &ServiceModel, protocol: Protocol, shape_name: &str, value: &Value) -> Result<(), AwsError> {
    let service = constrained(model);
    let mut walk = Walk { model, deep: service.is_some(), echo: service.is_none_or(|s| s.2), errors: Vec::new() };
    walk.value(shape_name, value, "");
    if walk.errors.is_empty() {
        return Ok(());
    }
    let n = walk.errors.len();
    let message = format!("{n} validation error{} detected: {}", if n == 1 { "" } else { "s" }, walk.errors.join("; "));
    let code = match service {
        Some((_, code, _)) => code,
        None if protocol == Protocol::AwsQuery => "ValidationError",
        None => "ValidationException",
    };
    Err(AwsError::new(400, code, message))
}

struct Walk<'m> {
    model: &'m ServiceModel,
    /// Past the top structure's required members: see the module's documentation.
    deep: bool,
    /// Whether messages show the value broken (never a sensitive one).
    echo: bool,
    errors: Vec<String>,
}

impl Walk<'_> {
    fn value(&mut self, shape_name: &str, value: &Value, at: &str) {
        let shape = self.model.shape(shape_name);
        match (shape.kind, value) {
            (ShapeType::Structure, Value::Object(obj)) if !shape.document => {
                // Built only for a member reported or walked into.
                let path = |name: &str| match at {
                    "" => lower_first(name),
                    at => format!("{at}.{}", lower_first(name)),
                };
                if !self.deep {
                    // Only the required members: S3's inputs have dozens of members, nearly
                    // all absent, and this runs on every request.
                    for name in &shape.required {
                        if obj.get(name).is_none_or(Value::is_null) {
                            self.errors.push(format!(
                                "Value null at '{}' failed to satisfy constraint: Member must not be null",
                                path(name)
                            ));
                        }
                    }
                    return;
                }
                for (name, member) in shape.members.iter() {
                    match obj.get(name).filter(|v| !v.is_null()) {
                        None if shape.required.iter().any(|r| r == name) => self.errors.push(format!(
                            "Value null at '{}' failed to satisfy constraint: Member must not be null",
                            path(name)
                        )),
                        Some(v)
                            if v.as_array().is_some_and(|a| !a.is_empty())
                                && self.listed(OWN_COUNTS, shape_name, name) =>
                        {
                            self.items(&member.shape, v, &path(name))
                        }
                        Some(v) if !self.listed(OWN_CHECKS, shape_name, name) => {
                            self.value(&member.shape, v, &path(name))
                        }
                        _ => {}
                    }
                }
            }
            (ShapeType::List, Value::Array(items)) => {
                self.broken(shape, value, at, count(shape, items.len()), shape.sensitive);
                self.items(shape_name, value, at);
            }
            (ShapeType::Map, Value::Object(obj)) => {
                let key_name = &shape.key.as_ref().expect("map shapes have a key").shape;
                let value_name = &shape.value.as_ref().expect("map shapes have a value").shape;
                let (key, values) = (self.model.shape(key_name), self.model.shape(value_name));
                self.broken(shape, value, at, count(shape, obj.len()), shape.sensitive);
                if obj.keys().any(|k| !string(key, k).is_empty()) {
                    let every = Constraint::Every("Map keys", self.every(key_name, key));
                    self.broken(shape, value, at, vec![every], shape.sensitive || key.sensitive);
                }
                if is_scalar(values) {
                    if obj.values().any(|v| !scalar(values, v).is_empty()) {
                        let every = Constraint::Every("Map value", self.every(value_name, values));
                        self.broken(shape, value, at, vec![every], shape.sensitive || values.sensitive);
                    }
                    return;
                }
                for (k, v) in obj {
                    self.value(value_name, v, &format!("{at}.{k}.member"));
                }
            }
            _ => {
                let broken = scalar(shape, value).into_iter().map(|c| self.ordered(shape_name, c)).collect();
                self.broken(shape, value, at, broken, shape.sensitive);
            }
        }
    }

    /// Checks the items of `value`, a list of shape `shape_name`, but not its length.
    fn items(&mut self, shape_name: &str, value: &Value, at: &str) {
        let shape = self.model.shape(shape_name);
        let (Some(item), Value::Array(items)) = (&shape.member, value) else {
            return;
        };
        let item_name = &item.shape;
        let item = self.model.shape(item_name);
        if is_scalar(item) {
            // A list of scalars is one value to AWS: an item that breaks one of its
            // constraints is reported at the list, with all of them.
            if items.iter().any(|v| !scalar(item, v).is_empty()) {
                let every = Constraint::Every("Member", self.every(item_name, item));
                self.broken(shape, value, at, vec![every], shape.sensitive || item.sensitive);
            }
            return;
        }
        for (i, v) in items.iter().enumerate() {
            self.value(item_name, v, &format!("{at}.{}.member", i + 1));
        }
    }

    /// Whether `table` names `member` of `structure` (or all its members) for this service.
    fn listed(&self, table: &[(&str, &str, &str)], structure: &str, member: &str) -> bool {
        let service = self.model.metadata.service_id.as_str();
        table.iter().any(|&(id, s, m)| id == service && s == structure && (m == member || m == "*"))
    }

    /// Every constraint of scalar shape `shape_name`, as AWS lists them for the items of a
    /// collection: enum, upper bound, lower bound, pattern.
    fn every<'s>(&self, shape_name: &str, shape: &'s Shape) -> Vec<Constraint<'s>> {
        let string = shape.kind == ShapeType::String;
        let integral = matches!(shape.kind, ShapeType::Integer | ShapeType::Long);
        let mut all = Vec::new();
        if let Some(values) = &shape.enum_values {
            all.push(self.ordered(shape_name, Constraint::Enum(EnumSet::Model(values))));
        }
        if let Some(max) = shape.max {
            all.push(if string { Constraint::MaxLength(max) } else { Constraint::MaxValue(max, integral) });
        }
        if let Some(min) = shape.min {
            all.push(if string { Constraint::MinLength(min) } else { Constraint::MinValue(min, integral) });
        }
        if let Some(pattern) = &shape.pattern {
            all.push(Constraint::Pattern(pattern));
        }
        all
    }

    /// `c` with its enum set in AWS's order where AWS has its own ([`AWS_ORDER`]).
    fn ordered<'s>(&self, shape_name: &str, c: Constraint<'s>) -> Constraint<'s> {
        let service = self.model.metadata.service_id.as_str();
        match (c, AWS_ORDER.iter().find(|(id, s, _)| *id == service && *s == shape_name)) {
            (Constraint::Enum(_), Some((_, _, listing))) => Constraint::Enum(EnumSet::Listed(listing)),
            (c, _) => c,
        }
    }

    fn broken(&mut self, shape: &Shape, value: &Value, at: &str, constraints: Vec<Constraint>, hide: bool) {
        for c in constraints {
            // A collection of structures AWS shows as Java prints its objects, which the model
            // cannot say (`Tag@1b2c3d`): left out, as for a hidden value.
            let shown = if hide || !self.echo { None } else { java_text(self.model, shape, value) };
            match shown {
                Some(shown) => self.errors.push(format!("Value '{shown}' at '{at}' failed to satisfy constraint: {c}")),
                None => self.errors.push(format!("Value at '{at}' failed to satisfy constraint: {c}")),
            }
        }
    }
}

/// A model constraint that a value breaks.
#[derive(Debug, PartialEq)]
pub(crate) enum Constraint<'s> {
    /// Every constraint of a collection's items (`Member`), a map's keys or its values
    /// (`Map keys`, `Map value`), one of which an item breaks.
    Every(&'static str, Vec<Constraint<'s>>),
    Enum(EnumSet<'s>),
    MinLength(f64),
    MaxLength(f64),
    Pattern(&'s str),
    MinValue(f64, bool),
    MaxValue(f64, bool),
}

/// An enum's values as a message lists them.
#[derive(Debug, PartialEq)]
pub(crate) enum EnumSet<'s> {
    Model(&'s [String]),
    Listed(&'static str),
}

impl fmt::Display for EnumSet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnumSet::Model(values) => f.write_str(&values.join(", ")),
            EnumSet::Listed(listing) => f.write_str(listing),
        }
    }
}

impl fmt::Display for Constraint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::Every(what, all) => {
                let all: Vec<String> = all.iter().map(ToString::to_string).collect();
                write!(f, "{what} must satisfy constraint: [{}]", all.join(", "))
            }
            Constraint::Enum(values) => write!(f, "Member must satisfy enum value set: [{values}]"),
            Constraint::MinLength(n) => write!(f, "Member must have length greater than or equal to {n}"),
            Constraint::MaxLength(n) => write!(f, "Member must have length less than or equal to {n}"),
            Constraint::Pattern(p) => write!(f, "Member must satisfy regular expression pattern: {p}"),
            Constraint::MinValue(n, integral) => {
                write!(f, "Member must have value greater than or equal to {}", bound(*n, *integral))
            }
            Constraint::MaxValue(n, integral) => {
                write!(f, "Member must have value less than or equal to {}", bound(*n, *integral))
            }
        }
    }
}

/// A bound as Java prints it: `100` for an integer member, `1.0` for a floating one.
fn bound(n: f64, integral: bool) -> String {
    if integral || n.fract() != 0.0 { format!("{n}") } else { format!("{n:.1}") }
}

/// The constraints of string shape `shape` that `s` breaks. Lengths are in characters.
pub(crate) fn string<'s>(shape: &'s Shape, s: &str) -> Vec<Constraint<'s>> {
    let mut broken = Vec::new();
    if let Some(values) = &shape.enum_values
        && !values.iter().any(|v| v == s)
    {
        broken.push(Constraint::Enum(EnumSet::Model(values)));
    }
    // The pattern before the length, as AWS lists them.
    if let Some(pattern) = &shape.pattern
        && let Some(re) = shape.compiled_pattern.get_or_init(|| Regex::new(&format!("^(?:{pattern})$")).ok())
        && !re.is_match(s)
    {
        broken.push(Constraint::Pattern(pattern));
    }
    if shape.min.is_some() || shape.max.is_some() {
        let chars = if s.is_ascii() { s.len() } else { s.chars().count() };
        length(shape, chars, &mut broken);
    }
    broken
}

/// Whether values of `shape` are strings or numbers, checked one by one.
fn is_scalar(shape: &Shape) -> bool {
    matches!(
        shape.kind,
        ShapeType::String | ShapeType::Integer | ShapeType::Long | ShapeType::Float | ShapeType::Double
    )
}

/// The constraints of scalar shape `shape` that `value` breaks (none for a value of
/// another type: the codecs have refused those).
fn scalar<'s>(shape: &'s Shape, value: &Value) -> Vec<Constraint<'s>> {
    match (shape.kind, value) {
        (ShapeType::String, Value::String(s)) => string(shape, s),
        (ShapeType::Integer | ShapeType::Long | ShapeType::Float | ShapeType::Double, Value::Number(n)) => {
            n.as_f64().map(|n| number(shape, n)).unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// The range constraints of number shape `shape` that `n` breaks.
pub(crate) fn number(shape: &Shape, n: f64) -> Vec<Constraint<'static>> {
    let integral = matches!(shape.kind, ShapeType::Integer | ShapeType::Long);
    let mut broken = Vec::new();
    if let Some(min) = shape.min.filter(|min| n < *min) {
        broken.push(Constraint::MinValue(min, integral));
    }
    if let Some(max) = shape.max.filter(|max| n > *max) {
        broken.push(Constraint::MaxValue(max, integral));
    }
    broken
}

/// The length constraints of list or map shape `shape` that `n` entries break.
pub(crate) fn count(shape: &Shape, n: usize) -> Vec<Constraint<'static>> {
    let mut broken = Vec::new();
    length(shape, n, &mut broken);
    broken
}

fn length(shape: &Shape, n: usize, broken: &mut Vec<Constraint>) {
    if let Some(min) = shape.min.filter(|min| (n as f64) < *min) {
        broken.push(Constraint::MinLength(min));
    }
    if let Some(max) = shape.max.filter(|max| n as f64 > *max) {
        broken.push(Constraint::MaxLength(max));
    }
}

/// A value of `shape` as AWS's (Java) validator prints it, for strings, numbers and
/// collections of them; `None` for anything holding a structure.
fn java_text(model: &ServiceModel, shape: &Shape, value: &Value) -> Option<String> {
    let nested = |r: &Option<Box<crate::model::MemberRef>>| model.shape(&r.as_ref()?.shape).into();
    match (shape.kind, value) {
        (ShapeType::Structure, _) => None,
        (ShapeType::List, Value::Array(items)) => {
            let item: Option<&Shape> = nested(&shape.member);
            let items: Option<Vec<String>> = items.iter().map(|v| java_text(model, item?, v)).collect();
            Some(format!("[{}]", items?.join(", ")))
        }
        (ShapeType::Map, Value::Object(obj)) => {
            let values: Option<&Shape> = nested(&shape.value);
            let entries: Option<Vec<String>> =
                obj.iter().map(|(k, v)| Some(format!("{k}={}", java_text(model, values?, v)?))).collect();
            Some(format!("{{{}}}", entries?.join(", ")))
        }
        (_, Value::String(s)) => Some(s.clone()),
        (_, Value::Number(n)) => Some(n.to_string()),
        (_, Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

/// AWS reports member names as its Java models spell them: first letter lower-case.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::model;
    use serde_json::json;

    fn message(service: &str, shape: &str, value: Value) -> Option<String> {
        let m = model(service).unwrap();
        input(m, m.default_protocol(), shape, &value).err().map(|e| e.message)
    }

    #[test]
    fn missing_required_members_are_listed() {
        let m = model("sts").unwrap();
        let err =
            input(m, Protocol::AwsQuery, "AssumeRoleRequest", &json!({"RoleArn": "arn:aws:iam::000000000000:role/r"}))
                .unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert_eq!(
            err.message,
            "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"
        );
        let err = input(m, Protocol::AwsJson1_0, "AssumeRoleRequest", &json!({})).unwrap_err();
        assert!(err.message.starts_with("2 validation errors detected: "), "{}", err.message);
        let ok = json!({"RoleArn": "arn:aws:iam::000000000000:role/r", "RoleSessionName": "session"});
        assert!(input(m, Protocol::AwsQuery, "AssumeRoleRequest", &ok).is_ok());
    }

    #[test]
    fn constraints_are_checked_at_every_depth_with_their_paths() {
        // Table names are ARNs to the model (1-1024 characters); DynamoDB words its own
        // name rules.
        assert_eq!(
            message("dynamodb", "ListTablesInput", json!({"ExclusiveStartTableName": "ab", "Limit": 0})).as_deref(),
            Some(
                "2 validation errors detected: Value 'ab' at 'exclusiveStartTableName' failed to satisfy constraint: \
                 Member must have length greater than or equal to 3; Value '0' at 'limit' failed to satisfy constraint: \
                 Member must have value greater than or equal to 1"
            )
        );
        let create = json!({
            "TableName": "",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "SIDEWAYS"}],
            "AttributeDefinitions": [{"AttributeName": "pk"}],
        });
        let text = message("dynamodb", "CreateTableInput", create).unwrap();
        assert!(text.starts_with("3 validation errors detected: "), "{text}");
        for part in [
            "Value '' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 1",
            "Value 'SIDEWAYS' at 'keySchema.2.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]",
            "Value null at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must not be null",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
        assert_eq!(
            message("logs", "FilterLogEventsRequest", json!({"logGroupName": "g", "limit": 0})).as_deref(),
            Some(
                "1 validation error detected: Value at 'limit' failed to satisfy constraint: \
                 Member must have value greater than or equal to 1"
            )
        );
    }

    #[test]
    fn sensitive_values_are_left_out_and_services_with_their_own_words_are_left_alone() {
        let input = "x".repeat(256 * 1024 + 1);
        let text = message("stepfunctions", "StartExecutionInput", json!({"stateMachineArn": "a", "input": input}));
        assert_eq!(
            text.as_deref(),
            Some(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: \
                 Member must have length less than or equal to 262144"
            )
        );
        // SQS words its own limits; only its required members are the front end's.
        assert_eq!(message("sqs", "ReceiveMessageRequest", json!({"QueueUrl": "u", "MaxNumberOfMessages": 100})), None);
    }

    #[test]
    fn patterns_must_match_whole_values_and_rust_unsupported_ones_are_skipped() {
        let m = model("dynamodb").unwrap();
        let shape = m.shape("TableName");
        assert_eq!(string(shape, "good_name"), vec![]);
        assert_eq!(string(shape, "bad name"), vec![Constraint::Pattern("[a-zA-Z0-9_.-]+")]);
        let lookaround =
            Shape { pattern: Some("(?!x).*".into()), ..serde_json::from_value(json!({"type": "string"})).unwrap() };
        assert_eq!(string(&lookaround, "x"), vec![]);
    }

    #[test]
    fn enums_are_listed_in_awss_order_where_it_has_its_own() {
        let text = message("dynamodb", "AttributeDefinition", json!({"AttributeName": "a", "AttributeType": "X"}));
        assert!(text.unwrap().ends_with("Member must satisfy enum value set: [B, N, S]"));
        let text = message("dynamodb", "KeySchemaElement", json!({"AttributeName": "a", "KeyType": "X"}));
        assert!(text.unwrap().ends_with("Member must satisfy enum value set: [HASH, RANGE]"));
    }

    #[test]
    fn a_value_breaking_two_constraints_gets_two_errors_pattern_first() {
        // As CloudWatch Logs answered an empty prefix (when it still showed values).
        assert_eq!(
            message("logs", "DescribeLogGroupsRequest", json!({"logGroupNamePrefix": ""})).as_deref(),
            Some(
                "2 validation errors detected: Value at 'logGroupNamePrefix' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+; Value at \
                 'logGroupNamePrefix' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )
        );
    }

    #[test]
    fn items_of_scalar_collections_are_reported_at_the_collection_with_all_their_constraints() {
        // AWS's answer listed the lengths too, when its model of the item had them.
        let targets = json!({"StackSetName": "s", "Regions": ["us-east-1"], "DeploymentTargets": {"OrganizationalUnitIds": ["unknown"]}});
        assert_eq!(
            message("cloudformation", "CreateStackInstancesInput", targets).as_deref(),
            Some(
                "1 validation error detected: Value '[unknown]' at 'deploymentTargets.organizationalUnitIds' failed to \
                 satisfy constraint: Member must satisfy constraint: [Member must satisfy regular expression pattern: \
                 ^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$]"
            )
        );
        let env = json!({"FunctionName": "f", "Environment": {"Variables": {"1bad": "x"}}});
        assert_eq!(
            message("lambda", "UpdateFunctionConfigurationRequest", env).as_deref(),
            Some(
                "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: \
                 Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
            )
        );
    }

    #[test]
    fn lists_of_structures_are_counted_without_their_value_unless_their_service_words_it() {
        let tags: Vec<Value> = (0..51).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect();
        let assume = json!({"RoleArn": "arn:aws:iam::000000000000:role/r", "RoleSessionName": "s1", "Tags": tags});
        assert_eq!(
            message("sts", "AssumeRoleRequest", assume).as_deref(),
            Some(
                "1 validation error detected: Value at 'tags' failed to satisfy constraint: \
                 Member must have length less than or equal to 50"
            )
        );
        // DynamoDB words 101 transaction items itself; their members are still checked here.
        let mut items = vec![json!({"ConditionCheck": {"TableName": "t", "Key": {}, "ConditionExpression": "c"}}); 101];
        assert_eq!(message("dynamodb", "TransactWriteItemsInput", json!({"TransactItems": items.clone()})), None);
        items[1] = json!({"ConditionCheck": {"TableName": "", "Key": {}, "ConditionExpression": "c"}});
        let text = message("dynamodb", "TransactWriteItemsInput", json!({"TransactItems": items})).unwrap();
        assert!(text.contains("Value '' at 'transactItems.2.member.conditionCheck.tableName'"), "{text}");
        let empty = message("dynamodb", "TransactWriteItemsInput", json!({"TransactItems": []})).unwrap();
        assert!(empty.contains("Value '[]' at 'transactItems'"), "{empty}");
    }

    #[test]
    fn bounds_print_as_java_prints_them() {
        assert_eq!(Constraint::MaxValue(900.0, true).to_string(), "Member must have value less than or equal to 900");
        assert_eq!(Constraint::MaxValue(1.0, false).to_string(), "Member must have value less than or equal to 1.0");
        assert_eq!(Constraint::MaxLength(25.0).to_string(), "Member must have length less than or equal to 25");
    }
}
