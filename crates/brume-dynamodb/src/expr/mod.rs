//! DynamoDB's expression language, as pure functions: parsing condition, key condition,
//! filter, projection and update expressions against a request's
//! `ExpressionAttributeNames`/`ExpressionAttributeValues` (with DynamoDB's checks and
//! messages), evaluating conditions, projecting items and applying updates.

mod eval;
mod parse;
mod update;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::OnceLock;

use brume_core::AwsError;

use crate::error::validation;
use crate::value::{Item, Value};

pub use eval::{compare, evaluate, project};
pub(crate) use parse::MAX_NESTING;
pub use parse::{parse_condition, parse_projection, parse_update};
pub use update::{Action, Update, apply};

/// Which expression parameter an expression came from; DynamoDB names it in its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Condition,
    KeyCondition,
    Filter,
    Projection,
    Update,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Condition => "ConditionExpression",
            Kind::KeyCondition => "KeyConditionExpression",
            Kind::Filter => "FilterExpression",
            Kind::Projection => "ProjectionExpression",
            Kind::Update => "UpdateExpression",
        })
    }
}

/// `Invalid <Kind>: <detail>`, DynamoDB's form for every error inside an expression.
pub fn invalid_expression(kind: Kind, detail: impl fmt::Display) -> AwsError {
    validation(format!("Invalid {kind}: {detail}"))
}

/// One step of a document path: a map key (or top-level attribute name) or a list index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A document path: `a.b[2].c`. Always starts with a [`Step::Key`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path(pub Vec<Step>);

impl Path {
    /// The top-level attribute the path starts at.
    pub fn head(&self) -> &str {
        match self.0.first() {
            Some(Step::Key(k)) => k,
            _ => "",
        }
    }
}

impl fmt::Display for Path {
    /// As DynamoDB prints paths in its errors: `[a, b, [0]]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|s| match s {
                Step::Key(k) => k.clone(),
                Step::Index(i) => format!("[{i}]"),
            })
            .collect();
        write!(f, "[{}]", parts.join(", "))
    }
}

/// Checks that no two paths overlap (one is a prefix of the other) or conflict (one
/// indexes a list where the other names a map key), as DynamoDB does for projections and
/// updates.
pub fn check_paths(kind: Kind, paths: &[&Path]) -> Result<(), AwsError> {
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[..i] {
            let common = b.0.iter().zip(a.0.iter()).take_while(|(x, y)| x == y).count();
            if common == a.0.len().min(b.0.len()) {
                return Err(invalid_expression(
                    kind,
                    format!(
                        "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {b}, path two: {a}"
                    ),
                ));
            }
            let kinds_differ =
                matches!((&b.0[common], &a.0[common]), (Step::Key(_), Step::Index(_)) | (Step::Index(_), Step::Key(_)));
            if kinds_differ {
                return Err(invalid_expression(
                    kind,
                    format!(
                        "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {b}, path two: {a}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// An operand: a path into the item, a value from `ExpressionAttributeValues`, or a
/// function of those. The update-only forms (`+`, `-`, `if_not_exists`, `list_append`)
/// only come out of [`parse_update`].
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Path(Path),
    Value(Value),
    Size(Path),
    Plus(Box<Operand>, Box<Operand>),
    Minus(Box<Operand>, Box<Operand>),
    IfNotExists(Path, Box<Operand>),
    ListAppend(Box<Operand>, Box<Operand>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    /// The comparison with its operands swapped: `a < b` is `b > a`.
    pub fn reversed(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            same => same,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "<>",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

/// A condition (ConditionExpression, FilterExpression, KeyConditionExpression).
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Cmp(Cmp, Operand, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Exists(Path),
    NotExists(Path),
    Type(Path, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
}

fn reserved() -> &'static HashSet<&'static str> {
    static WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| include_str!("reserved.txt").split_whitespace().collect())
}

/// True for DynamoDB's reserved words, which may not name attributes in expressions.
pub fn is_reserved(word: &str) -> bool {
    reserved().contains(word.to_ascii_uppercase().as_str())
}

/// A request's `ExpressionAttributeNames` and `ExpressionAttributeValues`, and which of
/// them its expressions used, so that the unused ones are refused as DynamoDB does.
pub struct Placeholders {
    names: Option<BTreeMap<String, String>>,
    values: Option<Item>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl Placeholders {
    /// Checks the maps themselves: neither may be given empty, and their keys must be
    /// `#name` and `:name` tokens.
    pub fn new(names: Option<BTreeMap<String, String>>, values: Option<Item>) -> Result<Placeholders, AwsError> {
        let token = |k: &str, sigil: char| {
            k.strip_prefix(sigil)
                .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        };
        if let Some(names) = &names {
            if names.is_empty() {
                return Err(validation("ExpressionAttributeNames must not be empty"));
            }
            if let Some(k) = names.keys().find(|k| !token(k, '#')) {
                return Err(validation(format!(
                    "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{k}\""
                )));
            }
        }
        if let Some(values) = &values {
            if values.is_empty() {
                return Err(validation("ExpressionAttributeValues must not be empty"));
            }
            if let Some(k) = values.keys().find(|k| !token(k, ':')) {
                return Err(validation(format!(
                    "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{k}\""
                )));
            }
        }
        Ok(Placeholders { names, values, used_names: BTreeSet::new(), used_values: BTreeSet::new() })
    }

    /// True when the request gave names or values (which need an expression to use them).
    pub fn given(&self) -> (bool, bool) {
        (self.names.is_some(), self.values.is_some())
    }

    fn name(&mut self, kind: Kind, token: &str) -> Result<String, AwsError> {
        match self.names.as_ref().and_then(|n| n.get(token)) {
            Some(name) => {
                self.used_names.insert(token.to_string());
                Ok(name.clone())
            }
            None => Err(invalid_expression(
                kind,
                format!(
                    "An expression attribute name used in the document path is not defined; attribute name: {token}"
                ),
            )),
        }
    }

    fn value(&mut self, kind: Kind, token: &str) -> Result<Value, AwsError> {
        match self.values.as_ref().and_then(|v| v.get(token)) {
            Some(value) => {
                self.used_values.insert(token.to_string());
                Ok(value.clone())
            }
            None => Err(invalid_expression(
                kind,
                format!("An expression attribute value used in expression is not defined; attribute value: {token}"),
            )),
        }
    }

    /// After every expression of the request is parsed: names and values no expression
    /// used are an error.
    pub fn finish(self) -> Result<(), AwsError> {
        let unused = |given: Option<Vec<&String>>, used: &BTreeSet<String>| -> Vec<String> {
            given.unwrap_or_default().into_iter().filter(|k| !used.contains(*k)).cloned().collect()
        };
        let names = unused(self.names.as_ref().map(|n| n.keys().collect()), &self.used_names);
        if !names.is_empty() {
            return Err(validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                names.join(", ")
            )));
        }
        let values = unused(self.values.as_ref().map(|v| v.keys().collect()), &self.used_values);
        if !values.is_empty() {
            return Err(validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                values.join(", ")
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words_are_case_insensitive() {
        assert!(is_reserved("status"));
        assert!(is_reserved("Name"));
        assert!(is_reserved("ZONE"));
        assert!(!is_reserved("userId"));
        assert_eq!(reserved().len(), 573);
    }

    fn path(s: &[&str]) -> Path {
        Path(s.iter().map(|p| p.parse().map(Step::Index).unwrap_or_else(|_| Step::Key(p.to_string()))).collect())
    }

    fn check(paths: &[&[&str]], expected: Result<(), &str>) {
        let paths: Vec<Path> = paths.iter().map(|p| path(p)).collect();
        let refs: Vec<&Path> = paths.iter().collect();
        assert_eq!(check_paths(Kind::Update, &refs).map_err(|e| e.message), expected.map_err(str::to_string));
    }

    #[test]
    fn overlapping_and_conflicting_paths() {
        check(&[&["a"], &["b"]], Ok(()));
        check(&[&["a", "b"], &["a", "c"]], Ok(()));
        check(&[&["a", "1"], &["a", "2"]], Ok(()));
        check(
            &[&["a"], &["a", "b"]],
            Err(
                "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]",
            ),
        );
        check(
            &[&["a"], &["a"]],
            Err(
                "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]",
            ),
        );
        check(
            &[&["a", "b"], &["a", "0"]],
            Err(
                "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [0]]",
            ),
        );
    }

    #[test]
    fn placeholder_maps_are_checked() {
        let names = |ks: &[&str]| Some(ks.iter().map(|k| (k.to_string(), "x".to_string())).collect());
        let err = |r: Result<Placeholders, AwsError>| r.err().map(|e| e.message);
        assert_eq!(
            err(Placeholders::new(Some(BTreeMap::new()), None)).as_deref(),
            Some("ExpressionAttributeNames must not be empty")
        );
        assert_eq!(
            err(Placeholders::new(names(&["a"]), None)).as_deref(),
            Some("ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\"")
        );
        let values = Some([("v".to_string(), Value::Null)].into());
        assert_eq!(
            err(Placeholders::new(None, values)).as_deref(),
            Some("ExpressionAttributeValues contains invalid key: Syntax error; key: \"v\"")
        );
        let unused = Placeholders::new(names(&["#b", "#a"]), None).unwrap().finish().unwrap_err();
        assert_eq!(unused.message, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}");
    }
}
