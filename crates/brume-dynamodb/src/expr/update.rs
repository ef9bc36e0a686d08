//! Applying an UpdateExpression to an item.
//!
//! Every operand is read from the item as it was before the update, as DynamoDB does, so
//! `SET a = b, b = a` swaps; REMOVEs of list elements name the indexes before any of them
//! is removed.

use std::borrow::Cow;

use brume_core::AwsError;

use super::eval::resolve;
use super::{Operand, Path, Step};
use crate::error::validation;
use crate::value::{Item, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Set(Path, Operand),
    Remove(Path),
    Add(Path, Value),
    Delete(Path, Value),
}

impl Action {
    pub fn path(&self) -> &Path {
        match self {
            Action::Set(p, _) | Action::Remove(p) | Action::Add(p, _) | Action::Delete(p, _) => p,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    pub actions: Vec<Action>,
}

impl Update {
    /// The paths the update writes, for UPDATED_OLD / UPDATED_NEW.
    pub fn paths(&self) -> Vec<Path> {
        self.actions.iter().map(|a| a.path().clone()).collect()
    }
}

fn missing_attribute() -> AwsError {
    validation("The provided expression refers to an attribute that does not exist in the item")
}

fn wrong_type() -> AwsError {
    validation("An operand in the update expression has an incorrect data type")
}

fn invalid_path() -> AwsError {
    validation("The document path provided in the update expression is invalid for update")
}

fn value<'a>(op: &'a Operand, item: &'a Item) -> Result<Cow<'a, Value>, AwsError> {
    Ok(match op {
        Operand::Path(p) => Cow::Borrowed(resolve(p, item).ok_or_else(missing_attribute)?),
        Operand::Value(v) => Cow::Borrowed(v),
        Operand::IfNotExists(p, fallback) => match resolve(p, item) {
            Some(v) => Cow::Borrowed(v),
            None => value(fallback, item)?,
        },
        Operand::Plus(a, b) | Operand::Minus(a, b) => {
            let (Value::N(x), Value::N(y)) = (value(a, item)?.into_owned(), value(b, item)?.into_owned()) else {
                return Err(wrong_type());
            };
            let result = if matches!(op, Operand::Plus(..)) { x.add(&y) } else { x.sub(&y) };
            Cow::Owned(Value::N(result.map_err(|e| validation(e.message()))?))
        }
        Operand::ListAppend(a, b) => {
            let (Value::L(mut x), Value::L(y)) = (value(a, item)?.into_owned(), value(b, item)?.into_owned()) else {
                return Err(wrong_type());
            };
            x.extend(y);
            Cow::Owned(Value::L(x))
        }
        // The parser never puts size() in an update.
        Operand::Size(_) => return Err(wrong_type()),
    })
}

/// The container holding the last step of `path`, created nowhere: DynamoDB refuses to
/// write below a missing or non-document attribute.
fn parent_mut<'a>(item: &'a mut Item, path: &Path) -> Result<Option<&'a mut Value>, AwsError> {
    let steps = &path.0;
    if steps.len() == 1 {
        return Ok(None);
    }
    let Some(Step::Key(first)) = steps.first() else {
        return Err(invalid_path());
    };
    let mut at = item.get_mut(first).ok_or_else(invalid_path)?;
    for step in &steps[1..steps.len() - 1] {
        at = match (step, at) {
            (Step::Key(k), Value::M(m)) => m.get_mut(k).ok_or_else(invalid_path)?,
            (Step::Index(i), Value::L(l)) => l.get_mut(*i).ok_or_else(invalid_path)?,
            _ => return Err(invalid_path()),
        };
    }
    Ok(Some(at))
}

fn set(item: &mut Item, path: &Path, v: Value) -> Result<(), AwsError> {
    let last = path.0.last().expect("paths are never empty");
    match (parent_mut(item, path)?, last) {
        (None, Step::Key(k)) => {
            item.insert(k.clone(), v);
        }
        (Some(Value::M(m)), Step::Key(k)) => {
            m.insert(k.clone(), v);
        }
        // An index past the end appends, as DynamoDB does.
        (Some(Value::L(l)), Step::Index(i)) => match l.get_mut(*i) {
            Some(slot) => *slot = v,
            None => l.push(v),
        },
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn remove(item: &mut Item, path: &Path) -> Result<(), AwsError> {
    let last = path.0.last().expect("paths are never empty");
    let parent = match parent_mut(item, path) {
        Ok(p) => p,
        // Removing below something that is not there removes nothing.
        Err(_) => return Ok(()),
    };
    match (parent, last) {
        (None, Step::Key(k)) => {
            item.remove(k);
        }
        (Some(Value::M(m)), Step::Key(k)) => {
            m.remove(k);
        }
        (Some(Value::L(l)), Step::Index(i)) if *i < l.len() => {
            l.remove(*i);
        }
        _ => {}
    }
    Ok(())
}

/// `item` after `update`.
pub fn apply(update: &Update, item: &Item) -> Result<Item, AwsError> {
    let mut new = item.clone();
    let mut removals: Vec<&Path> = Vec::new();
    for action in &update.actions {
        match action {
            Action::Set(path, op) => set(&mut new, path, value(op, item)?.into_owned())?,
            Action::Remove(path) => removals.push(path),
            Action::Add(path, v) => {
                let added = match (resolve(path, item), v) {
                    (None, v) => v.clone(),
                    (Some(Value::N(a)), Value::N(b)) => Value::N(a.add(b).map_err(|e| validation(e.message()))?),
                    (Some(Value::SS(a)), Value::SS(b)) => Value::SS(union(a, b)),
                    (Some(Value::NS(a)), Value::NS(b)) => Value::NS(union(a, b)),
                    (Some(Value::BS(a)), Value::BS(b)) => Value::BS(union(a, b)),
                    _ => return Err(wrong_type()),
                };
                set(&mut new, path, added)?;
            }
            Action::Delete(path, v) => {
                let remaining = match (resolve(path, item), v) {
                    (None, _) => continue,
                    (Some(Value::SS(a)), Value::SS(b)) => difference(a, b).map(Value::SS),
                    (Some(Value::NS(a)), Value::NS(b)) => difference(a, b).map(Value::NS),
                    (Some(Value::BS(a)), Value::BS(b)) => difference(a, b).map(Value::BS),
                    _ => return Err(wrong_type()),
                };
                match remaining {
                    Some(v) => set(&mut new, path, v)?,
                    None => remove(&mut new, path)?,
                }
            }
        }
    }
    // Highest list index first, so each index still means what it meant in the original.
    removals.sort_by(|a, b| b.0.cmp_steps(&a.0));
    for path in removals {
        remove(&mut new, path)?;
    }
    Ok(new)
}

trait StepOrder {
    fn cmp_steps(&self, other: &Self) -> std::cmp::Ordering;
}

impl StepOrder for Vec<Step> {
    fn cmp_steps(&self, other: &Self) -> std::cmp::Ordering {
        for (a, b) in self.iter().zip(other) {
            let o = match (a, b) {
                (Step::Index(x), Step::Index(y)) => x.cmp(y),
                (Step::Key(x), Step::Key(y)) => x.cmp(y),
                (Step::Key(_), Step::Index(_)) => std::cmp::Ordering::Less,
                (Step::Index(_), Step::Key(_)) => std::cmp::Ordering::Greater,
            };
            if o.is_ne() {
                return o;
            }
        }
        self.len().cmp(&other.len())
    }
}

fn union<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = a.to_vec();
    out.extend(b.iter().filter(|x| !a.contains(x)).cloned());
    out
}

/// What is left of set `a` without `b`; `None` when nothing is (the attribute goes).
fn difference<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Option<Vec<T>> {
    let out: Vec<T> = a.iter().filter(|x| !b.contains(x)).cloned().collect();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Placeholders, parse_update};
    use serde_json::json;

    fn item(j: serde_json::Value) -> Item {
        let map: std::collections::BTreeMap<String, serde_json::Value> = serde_json::from_value(j).unwrap();
        crate::value::item_from_wire(&map).unwrap()
    }

    fn check(src: &str, before: serde_json::Value, expected: Result<serde_json::Value, &str>) {
        let values = item(json!({
            ":one": {"N": "1"}, ":five": {"N": "5"}, ":s": {"S": "new"}, ":l": {"L": [{"N": "9"}]},
            ":ss": {"SS": ["b", "c"]}, ":ns": {"NS": ["2"]}, ":m": {"M": {}}
        }));
        let mut ph = Placeholders::new(None, Some(values)).unwrap();
        let update = parse_update(src, &mut ph).unwrap();
        let got = apply(&update, &item(before)).map(|i| serde_json::to_value(i).unwrap()).map_err(|e| e.message);
        assert_eq!(got, expected.map_err(str::to_string), "{src}");
    }

    #[test]
    fn set_writes_values_arithmetic_and_functions() {
        check("SET a = :s", json!({}), Ok(json!({"a": {"S": "new"}})));
        check("SET n = n + :five", json!({"n": {"N": "2"}}), Ok(json!({"n": {"N": "7"}})));
        check("SET n = :one - n", json!({"n": {"N": "2"}}), Ok(json!({"n": {"N": "-1"}})));
        check("SET n = if_not_exists(n, :one)", json!({}), Ok(json!({"n": {"N": "1"}})));
        check("SET n = if_not_exists(n, :one) + :five", json!({"n": {"N": "10"}}), Ok(json!({"n": {"N": "15"}})));
        check(
            "SET l = list_append(l, :l)",
            json!({"l": {"L": [{"N": "1"}]}}),
            Ok(json!({"l": {"L": [{"N": "1"}, {"N": "9"}]}})),
        );
        check(
            "SET l = list_append(:l, l)",
            json!({"l": {"L": [{"N": "1"}]}}),
            Ok(json!({"l": {"L": [{"N": "9"}, {"N": "1"}]}})),
        );
        check(
            "SET a = b, b = a",
            json!({"a": {"N": "1"}, "b": {"N": "5"}}),
            Ok(json!({"a": {"N": "5"}, "b": {"N": "1"}})),
        );
        check("SET m.x = :s", json!({"m": {"M": {}}}), Ok(json!({"m": {"M": {"x": {"S": "new"}}}})));
        check("SET l[0] = :s", json!({"l": {"L": [{"N": "1"}]}}), Ok(json!({"l": {"L": [{"S": "new"}]}})));
        check("SET l[7] = :s", json!({"l": {"L": [{"N": "1"}]}}), Ok(json!({"l": {"L": [{"N": "1"}, {"S": "new"}]}})));
    }

    #[test]
    fn set_errors() {
        check(
            "SET n = n + :one",
            json!({}),
            Err("The provided expression refers to an attribute that does not exist in the item"),
        );
        check(
            "SET n = n + :one",
            json!({"n": {"S": "x"}}),
            Err("An operand in the update expression has an incorrect data type"),
        );
        check(
            "SET l = list_append(l, :l)",
            json!({"l": {"S": "x"}}),
            Err("An operand in the update expression has an incorrect data type"),
        );
        check(
            "SET m.x = :s",
            json!({}),
            Err("The document path provided in the update expression is invalid for update"),
        );
        check(
            "SET m.x = :s",
            json!({"m": {"S": "x"}}),
            Err("The document path provided in the update expression is invalid for update"),
        );
        check(
            "SET m[0] = :s",
            json!({"m": {"M": {}}}),
            Err("The document path provided in the update expression is invalid for update"),
        );
    }

    #[test]
    fn remove_add_delete() {
        check(
            "REMOVE a, m.x",
            json!({"a": {"N": "1"}, "m": {"M": {"x": {"N": "1"}, "y": {"N": "2"}}}}),
            Ok(json!({"m": {"M": {"y": {"N": "2"}}}})),
        );
        check(
            "REMOVE l[0], l[2]",
            json!({"l": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}, {"N": "3"}]}}),
            Ok(json!({"l": {"L": [{"N": "1"}, {"N": "3"}]}})),
        );
        check("REMOVE nope, l[9], x.y", json!({"l": {"L": []}}), Ok(json!({"l": {"L": []}})));
        check("ADD n :five", json!({}), Ok(json!({"n": {"N": "5"}})));
        check("ADD n :five", json!({"n": {"N": "1"}}), Ok(json!({"n": {"N": "6"}})));
        check("ADD s :ss", json!({"s": {"SS": ["a", "b"]}}), Ok(json!({"s": {"SS": ["a", "b", "c"]}})));
        check(
            "ADD s :ns",
            json!({"s": {"SS": ["a"]}}),
            Err("An operand in the update expression has an incorrect data type"),
        );
        check("DELETE s :ss", json!({"s": {"SS": ["a", "b"]}}), Ok(json!({"s": {"SS": ["a"]}})));
        check("DELETE s :ss", json!({"s": {"SS": ["b"]}}), Ok(json!({})));
        check("DELETE s :ss", json!({}), Ok(json!({})));
        check(
            "DELETE s :ss",
            json!({"s": {"N": "1"}}),
            Err("An operand in the update expression has an incorrect data type"),
        );
    }
}
