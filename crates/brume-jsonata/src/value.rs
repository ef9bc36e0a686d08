//! The evaluator's values: JSON plus functions, with the flags jsonata-js sets on arrays
//! (a sequence unwraps when it holds one item, a constructed array never flattens), and
//! the conversions from and to serde_json.

use std::rc::Rc;

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::eval::Function;

pub(crate) type Object = IndexMap<String, Value>;

#[derive(Clone)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(Rc<str>),
    Array(Rc<Array>),
    Object(Rc<Object>),
    Function(Rc<Function>),
}

/// An array and jsonata-js's marks on it.
#[derive(Clone, Default)]
pub(crate) struct Array {
    pub items: Vec<Value>,
    /// A result sequence: unwrapped when it holds one item (unless `keep_singleton`).
    pub sequence: bool,
    pub keep_singleton: bool,
    /// Built by an array constructor: a path step does not flatten it.
    pub cons: bool,
    /// The input document's array, wrapped so that it is one item.
    pub outer_wrapper: bool,
}

impl Value {
    pub fn string(s: &str) -> Value {
        Value::String(Rc::from(s))
    }

    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Rc::new(Array { items, ..Array::default() }))
    }

    pub fn sequence(items: Vec<Value>) -> Value {
        Value::Array(Rc::new(Array { items, sequence: true, ..Array::default() }))
    }

    pub fn object(map: Object) -> Value {
        Value::Object(Rc::new(map))
    }

    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The items of an array, or the value itself as the only item.
    pub fn into_items(self) -> Vec<Value> {
        match self {
            Value::Array(a) => Rc::try_unwrap(a).map(|a| a.items).unwrap_or_else(|a| a.items.clone()),
            v => vec![v],
        }
    }

    pub fn with_flags(self, f: impl FnOnce(&mut Array)) -> Value {
        match self {
            Value::Array(mut a) => {
                f(Rc::make_mut(&mut a));
                Value::Array(a)
            }
            v => v,
        }
    }

    /// The signature symbol of a value (`m` is undefined).
    pub fn symbol(v: Option<&Value>) -> char {
        match v {
            None => 'm',
            Some(Value::Null) => 'l',
            Some(Value::Bool(_)) => 'b',
            Some(Value::Number(_)) => 'n',
            Some(Value::String(_)) => 's',
            Some(Value::Array(_)) => 'a',
            Some(Value::Object(_)) => 'o',
            Some(Value::Function(_)) => 'f',
        }
    }

    pub fn from_json(json: &Json) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
            Json::String(s) => Value::string(s),
            Json::Array(items) => Value::array(items.iter().map(Value::from_json).collect()),
            Json::Object(map) => Value::object(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        }
    }

    /// The JSON form: functions become undefined, dropped from objects and null in arrays
    /// (as JSON.stringify does).
    pub fn to_json(&self) -> Option<Json> {
        Some(match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => Json::String(s.to_string()),
            Value::Array(a) => Json::Array(a.items.iter().map(|v| v.to_json().unwrap_or(Json::Null)).collect()),
            Value::Object(o) => {
                Json::Object(o.iter().filter_map(|(k, v)| v.to_json().map(|j| (k.clone(), j))).collect())
            }
            Value::Function(_) => return None,
        })
    }
}

/// Integral numbers as integers (i64, or u64 above its range), the others as floats.
pub(crate) fn number_to_json(n: f64) -> Json {
    if n.fract() == 0.0 && n >= i64::MIN as f64 && n < i64::MAX as f64 {
        Json::from(n as i64)
    } else if n.fract() == 0.0 && n >= 0.0 && n < u64::MAX as f64 {
        Json::from(n as u64)
    } else {
        serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
    }
}

/// A number as JavaScript prints it (`1e+21`, `1e-7`, `0.1`), which is what $string and
/// JSON.stringify produce.
pub(crate) fn format_number(n: f64) -> String {
    if n == 0.0 {
        return "0".into();
    }
    if !n.is_finite() {
        return if n.is_nan() {
            "NaN".into()
        } else if n > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let sci = format!("{:e}", n.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let k = digits.len() as i32;
    let sign = if n < 0.0 { "-" } else { "" };
    let body = if (-7 < exp) && exp < 21 {
        if exp >= k - 1 {
            format!("{digits}{}", "0".repeat((exp - k + 1) as usize))
        } else if exp >= 0 {
            let (int, frac) = digits.split_at(exp as usize + 1);
            format!("{int}.{frac}")
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if exp < 0 { "-" } else { "+" };
        format!("{first}{rest}e{esign}{}", exp.abs())
    };
    format!("{sign}{body}")
}

/// JSON.stringify of a value, fractional numbers rounded to 15 significant digits as $string
/// does; `indent` pretty-prints with that many spaces.
pub(crate) fn stringify(v: &Value, indent: Option<usize>) -> String {
    let mut out = String::new();
    write_json(v, indent, 0, &mut out);
    out
}

fn write_json(v: &Value, indent: Option<usize>, level: usize, out: &mut String) {
    let newline = |out: &mut String, level: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * level));
        }
    };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if !n.is_finite() => out.push_str("null"),
        Value::Number(n) if n.fract() == 0.0 => out.push_str(&format_number(*n)),
        Value::Number(n) => out.push_str(&format_number(round15(*n))),
        Value::String(s) => out.push_str(&Json::String(s.to_string()).to_string()),
        Value::Function(_) => out.push_str("\"\""),
        Value::Array(a) => {
            if a.items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in a.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_json(item, indent, level + 1, out);
            }
            newline(out, level);
            out.push(']');
        }
        Value::Object(o) => {
            if o.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, item)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                out.push_str(&Json::String(k.clone()).to_string());
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(item, indent, level + 1, out);
            }
            newline(out, level);
            out.push('}');
        }
    }
}

/// `Number(n.toPrecision(15))`.
pub(crate) fn round15(n: f64) -> f64 {
    if !n.is_finite() || n == 0.0 {
        return n;
    }
    format!("{n:.14e}").parse().unwrap_or(n)
}

/// Deep equality as jsonata's `=` compares.
pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.items.len() == y.items.len() && x.items.iter().zip(&y.items).all(|(p, q)| deep_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (Value::Function(x), Value::Function(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}
