//! Evaluating conditions against an item, and projecting items onto document paths.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::{Cmp, Cond, Operand, Path, Step};
use crate::number::Num;
use crate::value::{Item, Value};

/// The value at `path` in `item`, if there is one.
pub fn resolve<'a>(path: &Path, item: &'a Item) -> Option<&'a Value> {
    let mut steps = path.0.iter();
    let Some(Step::Key(first)) = steps.next() else {
        return None;
    };
    let mut at = item.get(first)?;
    for step in steps {
        at = match (step, at) {
            (Step::Key(k), Value::M(m)) => m.get(k)?,
            (Step::Index(i), Value::L(l)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(at)
}

/// The value of a condition operand; `None` when it names a missing attribute.
fn operand<'a>(op: &'a Operand, item: &'a Item) -> Option<Cow<'a, Value>> {
    match op {
        Operand::Path(p) => resolve(p, item).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(p) => {
            let n = match resolve(p, item)? {
                // DynamoDB counts UTF-16 code units.
                Value::S(s) => s.encode_utf16().count(),
                Value::B(b) => b.len(),
                Value::SS(s) => s.len(),
                Value::NS(s) => s.len(),
                Value::BS(s) => s.len(),
                Value::L(l) => l.len(),
                Value::M(m) => m.len(),
                _ => return None,
            };
            Some(Cow::Owned(Value::N(Num::parse(&n.to_string()).expect("a count is a number"))))
        }
        // Update-only operands never reach a condition (the parser refuses them there).
        Operand::Plus(..) | Operand::Minus(..) | Operand::IfNotExists(..) | Operand::ListAppend(..) => None,
    }
}

/// How two values order, when DynamoDB orders them at all: strings by their UTF-8 bytes,
/// numbers by value, binaries bytewise; anything else, or two different types, does not.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::S(a), Value::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Value::N(a), Value::N(b)) => Some(a.cmp(b)),
        (Value::B(a), Value::B(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// True when `cond` holds for `item` (an absent item is the empty one).
pub fn evaluate(cond: &Cond, item: &Item) -> bool {
    match cond {
        Cond::And(a, b) => evaluate(a, item) && evaluate(b, item),
        Cond::Or(a, b) => evaluate(a, item) || evaluate(b, item),
        Cond::Not(c) => !evaluate(c, item),
        Cond::Exists(p) => resolve(p, item).is_some(),
        Cond::NotExists(p) => resolve(p, item).is_none(),
        Cond::Cmp(cmp, a, b) => {
            let (a, b) = (operand(a, item), operand(b, item));
            match cmp {
                Cmp::Eq => matches!((a, b), (Some(a), Some(b)) if a == b),
                Cmp::Ne => !matches!((a, b), (Some(a), Some(b)) if a == b),
                _ => {
                    let Some(order) = a.zip(b).and_then(|(a, b)| compare(&a, &b)) else {
                        return false;
                    };
                    match cmp {
                        Cmp::Lt => order.is_lt(),
                        Cmp::Le => order.is_le(),
                        Cmp::Gt => order.is_gt(),
                        _ => order.is_ge(),
                    }
                }
            }
        }
        Cond::Between(v, lo, hi) => {
            let (Some(v), Some(lo), Some(hi)) = (operand(v, item), operand(lo, item), operand(hi, item)) else {
                return false;
            };
            compare(&lo, &v).is_some_and(Ordering::is_le) && compare(&v, &hi).is_some_and(Ordering::is_le)
        }
        Cond::In(v, options) => {
            let Some(v) = operand(v, item) else {
                return false;
            };
            options.iter().any(|o| operand(o, item).is_some_and(|o| o == v))
        }
        Cond::Type(p, t) => {
            let (Some(v), Some(t)) = (resolve(p, item), operand(t, item)) else {
                return false;
            };
            matches!(t.as_ref(), Value::S(t) if t == v.type_code())
        }
        Cond::BeginsWith(a, prefix) => match (operand(a, item).as_deref(), operand(prefix, item).as_deref()) {
            (Some(Value::S(s)), Some(Value::S(p))) => s.starts_with(p.as_str()),
            (Some(Value::B(s)), Some(Value::B(p))) => s.starts_with(p),
            _ => false,
        },
        Cond::Contains(a, needle) => match (operand(a, item).as_deref(), operand(needle, item).as_deref()) {
            (Some(Value::S(s)), Some(Value::S(n))) => s.contains(n.as_str()),
            (Some(Value::B(s)), Some(Value::B(n))) => n.is_empty() || s.windows(n.len()).any(|w| w == n),
            (Some(Value::SS(s)), Some(Value::S(n))) => s.contains(n),
            (Some(Value::NS(s)), Some(Value::N(n))) => s.contains(n),
            (Some(Value::BS(s)), Some(Value::B(n))) => s.contains(n),
            (Some(Value::L(l)), Some(n)) => l.contains(n),
            _ => false,
        },
    }
}

/// The parts of `item` that `paths` name, shaped as in the item: nested maps keep only the
/// named keys, and lists only the named elements, in index order.
pub fn project(paths: &[Path], item: &Item) -> Item {
    let mut out: std::collections::BTreeMap<String, Picked> = std::collections::BTreeMap::new();
    for path in paths {
        let Some(Step::Key(first)) = path.0.first() else {
            continue;
        };
        let Some(value) = item.get(first) else {
            continue;
        };
        if let Some(picked) = pick(&path.0[1..], value) {
            merge_into(out.entry(first.clone()), picked);
        }
    }
    out.into_iter().map(|(k, v)| (k, v.into_value())).collect()
}

/// A projection in progress: lists keep their original indexes until the end.
enum Picked {
    Whole(Value),
    Map(Item, std::collections::BTreeMap<String, Picked>),
    List(std::collections::BTreeMap<usize, Picked>),
}

impl Picked {
    fn into_value(self) -> Value {
        match self {
            Picked::Whole(v) => v,
            Picked::Map(mut done, parts) => {
                for (k, p) in parts {
                    done.insert(k, p.into_value());
                }
                Value::M(done)
            }
            Picked::List(parts) => Value::L(parts.into_values().map(Picked::into_value).collect()),
        }
    }
}

fn pick(rest: &[Step], value: &Value) -> Option<Picked> {
    let Some((step, rest)) = rest.split_first() else {
        return Some(Picked::Whole(value.clone()));
    };
    match (step, value) {
        (Step::Key(k), Value::M(m)) => {
            let inner = pick(rest, m.get(k)?)?;
            Some(Picked::Map(Item::new(), [(k.clone(), inner)].into()))
        }
        (Step::Index(i), Value::L(l)) => {
            let inner = pick(rest, l.get(*i)?)?;
            Some(Picked::List([(*i, inner)].into()))
        }
        _ => None,
    }
}

fn merge_into<K: Ord>(slot: std::collections::btree_map::Entry<'_, K, Picked>, picked: Picked) {
    use std::collections::btree_map::Entry;
    match slot {
        Entry::Vacant(v) => {
            v.insert(picked);
        }
        Entry::Occupied(mut o) => match (o.get_mut(), picked) {
            (Picked::Map(_, parts), Picked::Map(_, new)) => {
                for (k, p) in new {
                    merge_into(parts.entry(k), p);
                }
            }
            (Picked::List(parts), Picked::List(new)) => {
                for (i, p) in new {
                    merge_into(parts.entry(i), p);
                }
            }
            // Paths never overlap (checked at parse), so nothing else can meet here.
            (_, p) => *o.get_mut() = p,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Kind, Placeholders, parse_condition, parse_projection};
    use serde_json::json;

    fn item(j: serde_json::Value) -> Item {
        let doc: std::collections::BTreeMap<String, serde_json::Value> = serde_json::from_value(j).unwrap();
        crate::value::item_from_wire(&doc).unwrap()
    }

    fn sample() -> Item {
        item(json!({
            "id": {"S": "abc"},
            "n": {"N": "10"},
            "b": {"B": "AAEC"},
            "tags": {"SS": ["red", "blue"]},
            "nums": {"NS": ["1", "2"]},
            "things": {"L": [{"S": "x"}, {"N": "2"}, {"M": {"deep": {"S": "y"}}}]},
            "doc": {"M": {"leaf": {"N": "3"}, "s": {"S": "hello"}}},
            "flag": {"BOOL": true},
            "nothing": {"NULL": true}
        }))
    }

    fn check(src: &str, expected: bool) {
        let values = item(json!({
            ":abc": {"S": "abc"}, ":ab": {"S": "ab"}, ":n5": {"N": "5"}, ":n10": {"N": "10.0"}, ":n20": {"N": "20"},
            ":red": {"S": "red"}, ":one": {"N": "1"}, ":x": {"S": "x"}, ":S": {"S": "S"}, ":SS": {"S": "SS"},
            ":NULL": {"S": "NULL"}, ":L": {"S": "L"}, ":b01": {"B": "AAE="}, ":three": {"N": "3"}, ":t": {"BOOL": true},
            ":ell": {"S": "ell"}, ":two": {"N": "2"}
        }));
        let mut sample = sample();
        sample.insert("clef".into(), Value::S("é𝄞".into()));
        let mut ph = Placeholders::new(None, Some(values)).unwrap();
        let cond = parse_condition(Kind::Condition, src, &mut ph).unwrap();
        assert_eq!(evaluate(&cond, &sample), expected, "{src}");
    }

    #[test]
    fn conditions_evaluate_as_dynamodb_does() {
        check("id = :abc", true);
        check("id <> :abc", false);
        check("absent <> :abc", true);
        check("absent = :abc", false);
        check("n = :n10", true);
        check("n > :n5", true);
        check("n < :n5", false);
        check("id > :ab", true);
        check("n > :ab", false);
        check("n BETWEEN :n5 AND :n20", true);
        check("n BETWEEN :n5 AND :n10", true);
        check("id BETWEEN :n5 AND :n20", false);
        check("n IN (:n5, :n10)", true);
        check("id IN (:n5, :x)", false);
        check("attribute_exists(doc.leaf)", true);
        check("attribute_exists(doc.nope)", false);
        check("attribute_not_exists(things[5])", true);
        check("attribute_exists(things[2].deep)", true);
        check("attribute_type(id, :S)", true);
        check("attribute_type(tags, :SS)", true);
        check("attribute_type(nothing, :NULL)", true);
        check("attribute_type(things, :L) AND attribute_type(n, :S)", false);
        check("begins_with(id, :ab)", true);
        check("begins_with(b, :b01)", true);
        check("begins_with(n, :ab)", false);
        check("contains(tags, :red)", true);
        check("contains(nums, :one)", true);
        check("contains(doc.s, :ell)", true);
        check("contains(things, :x)", true);
        check("contains(things, :two)", true);
        check("contains(id, :x)", false);
        check("size(tags) = :two", true);
        check("size(id) = :three", true);
        check("size(things) > :two", true);
        check("size(absent) = :one", false);
        check("size(clef) = :three", true);
        check("NOT attribute_exists(absent) AND (n = :n5 OR flag = :t)", true);
        check("doc.leaf = :three", true);
        check("things[1] = :two", true);
    }

    fn check_projection(src: &str, expected: serde_json::Value) {
        let paths = parse_projection(src, &mut Placeholders::new(None, None).unwrap()).unwrap();
        assert_eq!(serde_json::to_value(project(&paths, &sample())).unwrap(), expected, "{src}");
    }

    #[test]
    fn projections_keep_the_named_parts() {
        check_projection("id, n", json!({"id": {"S": "abc"}, "n": {"N": "10"}}));
        check_projection("doc.leaf, absent", json!({"doc": {"M": {"leaf": {"N": "3"}}}}));
        check_projection(
            "things[2].deep, things[0]",
            json!({"things": {"L": [{"S": "x"}, {"M": {"deep": {"S": "y"}}}]}}),
        );
        check_projection("doc.s, doc.leaf", json!({"doc": {"M": {"leaf": {"N": "3"}, "s": {"S": "hello"}}}}));
        check_projection("things[9], id.x", json!({}));
    }
}
