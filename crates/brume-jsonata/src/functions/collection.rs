//! Aggregation, Boolean, array, object and higher-order functions.

use rand::seq::SliceRandom;

use super::{Args, arg, boolean, hof_args, str_arg};
use crate::Error;
use crate::errors::{Arg, error, error_message};
use crate::eval::{Evaluator, compare_values, lookup_field};
use crate::value::{Object, Value, deep_equal};

type Res = Result<Option<Value>, Error>;

fn numbers(args: Args<'_>) -> Option<Vec<f64>> {
    let Some(Value::Array(a)) = arg(args, 0) else { return None };
    Some(a.items.iter().filter_map(Value::as_number).collect())
}

pub(super) fn sum(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(numbers(args).map(|ns| Value::Number(ns.iter().sum())))
}

pub(super) fn max(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(numbers(args).and_then(|ns| ns.into_iter().reduce(f64::max)).map(Value::Number))
}

pub(super) fn min(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(numbers(args).and_then(|ns| ns.into_iter().reduce(f64::min)).map(Value::Number))
}

pub(super) fn average(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(ns) = numbers(args).filter(|ns| !ns.is_empty()) else { return Ok(None) };
    Ok(Some(Value::Number(ns.iter().sum::<f64>() / ns.len() as f64)))
}

pub(super) fn boolean_fn(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(boolean(arg(args, 0)).map(Value::Bool))
}

pub(super) fn not(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(boolean(arg(args, 0)).map(|b| Value::Bool(!b)))
}

pub(super) fn exists(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(Some(Value::Bool(arg(args, 0).is_some())))
}

pub(super) fn count(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let n = match arg(args, 0) {
        Some(Value::Array(a)) => a.items.len(),
        Some(_) => 1,
        None => 0,
    };
    Ok(Some(Value::Number(n as f64)))
}

/// jsonata's `append`: arrays concatenated, single values as one-item arrays.
pub(crate) fn append(a: Option<Value>, b: Option<Value>) -> Option<Value> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(a), Some(b)) => {
            let mut items = a.into_items();
            items.extend(b.into_items());
            Some(Value::array(items))
        }
    }
}

pub(super) fn append_fn(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(append(arg(args, 0).cloned(), arg(args, 1).cloned()))
}

pub(super) fn sort(ev: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(v) = arg(args, 0) else { return Ok(None) };
    let items = v.clone().into_items();
    if items.len() <= 1 {
        return Ok(Some(v.clone()));
    }
    let sorted = match arg(args, 1) {
        Some(f) => merge_sort(items, &mut |a, b| {
            Ok(boolean(ev.apply(f, vec![Some(a.clone()), Some(b.clone())], None, 0)?.as_ref()) == Some(true))
        })?,
        None => {
            let all_numbers = items.iter().all(|v| matches!(v, Value::Number(_)));
            let all_strings = items.iter().all(|v| matches!(v, Value::String(_)));
            if !all_numbers && !all_strings {
                return Err(error("D3070", 0, &[]));
            }
            let mut items = items;
            items.sort_by(|a, b| compare_values(a, b).unwrap_or(std::cmp::Ordering::Equal));
            items
        }
    };
    Ok(Some(Value::array(sorted)))
}

/// jsonata's merge sort: `swap(a, b)` says `a` goes after `b`.
fn merge_sort(
    items: Vec<Value>,
    swap: &mut dyn FnMut(&Value, &Value) -> Result<bool, Error>,
) -> Result<Vec<Value>, Error> {
    if items.len() <= 1 {
        return Ok(items);
    }
    let mut left = items;
    let right = left.split_off(left.len() / 2);
    let (left, right) = (merge_sort(left, swap)?, merge_sort(right, swap)?);
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
        if swap(a, b)? {
            out.extend(r.next());
        } else {
            out.extend(l.next());
        }
    }
    out.extend(l);
    out.extend(r);
    Ok(out)
}

pub(super) fn reverse(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(arg(args, 0).map(|v| {
        let mut items = v.clone().into_items();
        items.reverse();
        Value::array(items)
    }))
}

pub(super) fn shuffle(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(arg(args, 0).map(|v| {
        let mut items = v.clone().into_items();
        items.shuffle(&mut rand::rng());
        Value::array(items)
    }))
}

pub(super) fn distinct(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(v) = arg(args, 0) else { return Ok(None) };
    let Value::Array(a) = v else { return Ok(Some(v.clone())) };
    let mut out: Vec<Value> = Vec::new();
    for item in &a.items {
        if !out.iter().any(|o| deep_equal(o, item)) {
            out.push(item.clone());
        }
    }
    Ok(Some(Value::array(out)))
}

pub(super) fn zip(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let arrays: Vec<Vec<Value>> = args.iter().map(|a| a.clone().map(Value::into_items).unwrap_or_default()).collect();
    let len = arrays.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Some(Value::array((0..len).map(|i| Value::array(arrays.iter().map(|a| a[i].clone()).collect())).collect())))
}

pub(super) fn keys(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let mut out: Vec<String> = Vec::new();
    let objects: Vec<Value> = arg(args, 0).cloned().map(Value::into_items).unwrap_or_default();
    for o in objects {
        if let Value::Object(o) = o {
            for k in o.keys() {
                if !out.contains(k) {
                    out.push(k.clone());
                }
            }
        }
    }
    Ok(Some(Value::sequence(out.iter().map(|k| Value::string(k)).collect())))
}

pub(super) fn lookup(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let (Some(v), Some(key)) = (arg(args, 0), str_arg(args, 1)) else { return Ok(None) };
    Ok(lookup_field(v, key))
}

pub(super) fn spread(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(v) = arg(args, 0) else { return Ok(None) };
    let pieces = |o: &Object, out: &mut Vec<Value>| {
        for (k, v) in o {
            out.push(Value::object(Object::from([(k.clone(), v.clone())])));
        }
    };
    let mut out = Vec::new();
    match v {
        Value::Array(a) => {
            for item in &a.items {
                match item {
                    Value::Object(o) => pieces(o, &mut out),
                    other => out.push(other.clone()),
                }
            }
        }
        Value::Object(o) => pieces(o, &mut out),
        other => return Ok(Some(other.clone())),
    }
    Ok(Some(Value::sequence(out)))
}

pub(super) fn merge(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(v) = arg(args, 0) else { return Ok(None) };
    let mut out = Object::new();
    for item in v.clone().into_items() {
        if let Value::Object(o) = item {
            for (k, v) in o.iter() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(Some(Value::object(out)))
}

pub(super) fn each(ev: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let (Some(Value::Object(o)), Some(f)) = (arg(args, 0), arg(args, 1)) else { return Ok(None) };
    let mut out = Vec::new();
    for (k, v) in o.iter() {
        let call = hof_args(f, vec![Some(v.clone()), Some(Value::string(k)), Some(Value::Object(o.clone()))]);
        if let Some(r) = ev.apply(f, call, None, 0)? {
            out.push(r);
        }
    }
    Ok(Some(Value::sequence(out)))
}

pub(super) fn error_fn(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Err(error_message("D3137", 0, str_arg(args, 0).unwrap_or("$error() function evaluated")))
}

pub(super) fn assert(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    if matches!(arg(args, 0), Some(Value::Bool(true))) {
        return Ok(None);
    }
    Err(error_message("D3141", 0, str_arg(args, 1).unwrap_or("$assert() statement failed")))
}

pub(super) fn type_of(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(arg(args, 0).map(|v| {
        Value::string(match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Function(_) => "function",
        })
    }))
}

pub(super) fn sift(ev: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let (Some(Value::Object(o)), Some(f)) = (arg(args, 0), arg(args, 1)) else { return Ok(None) };
    let mut out = Object::new();
    for (k, v) in o.iter() {
        let call = hof_args(f, vec![Some(v.clone()), Some(Value::string(k)), Some(Value::Object(o.clone()))]);
        if boolean(ev.apply(f, call, None, 0)?.as_ref()) == Some(true) {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(if out.is_empty() { None } else { Some(Value::object(out)) })
}

/// Calls `f(item, index, array)` (as many of those as it takes) on each item.
fn each_item(
    ev: &mut Evaluator,
    args: Args<'_>,
    mut on: impl FnMut(Value, Option<Value>) -> Result<(), Error>,
) -> Result<(), Error> {
    let (Some(v), Some(f)) = (arg(args, 0), arg(args, 1)) else { return Ok(()) };
    let items = v.clone().into_items();
    let whole = Value::array(items.clone());
    for (i, item) in items.into_iter().enumerate() {
        let call = hof_args(f, vec![Some(item.clone()), Some(Value::Number(i as f64)), Some(whole.clone())]);
        let r = ev.apply(f, call, None, 0)?;
        on(item, r)?;
    }
    Ok(())
}

pub(super) fn map(ev: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    if arg(args, 0).is_none() {
        return Ok(None);
    }
    let mut out = Vec::new();
    each_item(ev, args, |_, r| {
        out.extend(r);
        Ok(())
    })?;
    Ok(Some(Value::sequence(out)))
}

pub(super) fn filter(ev: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    if arg(args, 0).is_none() {
        return Ok(None);
    }
    let mut out = Vec::new();
    each_item(ev, args, |item, r| {
        if boolean(r.as_ref()) == Some(true) {
            out.push(item);
        }
        Ok(())
    })?;
    Ok(Some(Value::sequence(out)))
}

pub(super) fn single(ev: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(v) = arg(args, 0) else { return Ok(None) };
    let mut found = None;
    if arg(args, 1).is_none() {
        let items = v.clone().into_items();
        if items.len() > 1 {
            return Err(error("D3138", 0, &[]));
        }
        found = items.into_iter().next();
    } else {
        each_item(ev, args, |item, r| {
            if boolean(r.as_ref()) == Some(true) {
                if found.is_some() {
                    return Err(error("D3138", 0, &[]));
                }
                found = Some(item);
            }
            Ok(())
        })?;
    }
    found.map(Some).ok_or_else(|| error("D3139", 0, &[]))
}

pub(super) fn reduce(ev: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let (Some(v), Some(f)) = (arg(args, 0), arg(args, 1)) else { return Ok(None) };
    if let Value::Function(func) = f
        && func.arity() < 2
    {
        return Err(error("D3050", 0, &[("value", Arg::Value(Some(f)))]));
    }
    let items = v.clone().into_items();
    let whole = Value::array(items.clone());
    let (mut acc, start) = match arg(args, 2) {
        Some(init) => (Some(init.clone()), 0),
        None if items.is_empty() => return Ok(None),
        None => (Some(items[0].clone()), 1),
    };
    for (i, item) in items.iter().enumerate().skip(start) {
        let mut call = vec![acc, Some(item.clone())];
        let arity = match f {
            Value::Function(func) => func.arity(),
            _ => 2,
        };
        if arity >= 3 {
            call.push(Some(Value::Number(i as f64)));
        }
        if arity >= 4 {
            call.push(Some(whole.clone()));
        }
        acc = ev.apply(f, call, None, 0)?;
    }
    Ok(acc)
}
