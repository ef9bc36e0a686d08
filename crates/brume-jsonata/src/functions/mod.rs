//! The function library: each function's jsonata-js signature and implementation, looked
//! up by name when a `$name` is not a bound variable.

mod collection;
mod datetime;
mod integer;
mod numeric;
mod states;
mod string;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::Error;
use crate::errors::error;
use crate::eval::Evaluator;
use crate::regex::Match;
use crate::signature::Signature;
use crate::value::{Object, Value, stringify};

pub(crate) type Args<'a> = &'a [Option<Value>];
pub(crate) type Imp = fn(&mut Evaluator, Args<'_>, Option<&Value>) -> Result<Option<Value>, Error>;

pub(crate) struct Builtin {
    pub name: &'static str,
    pub signature: Signature,
    pub imp: Imp,
}

const LIBRARY: &[(&str, &str, Imp)] = &[
    ("string", "<x-b?:s>", string::string),
    ("length", "<s-:n>", string::length),
    ("substring", "<s-nn?:s>", string::substring),
    ("substringBefore", "<s-s:s>", string::substring_before),
    ("substringAfter", "<s-s:s>", string::substring_after),
    ("uppercase", "<s-:s>", string::uppercase),
    ("lowercase", "<s-:s>", string::lowercase),
    ("trim", "<s-:s>", string::trim),
    ("pad", "<s-ns?:s>", string::pad),
    ("contains", "<s-(sf):b>", string::contains),
    ("split", "<s-(sf)n?:a<s>>", string::split),
    ("join", "<a<s>s?:s>", string::join),
    ("match", "<s-f<s:o>n?:a<o>>", string::match_),
    ("replace", "<s-(sf)(sf)n?:s>", string::replace),
    ("eval", "<sx?:x>", string::eval),
    ("base64encode", "<s-:s>", string::base64encode),
    ("base64decode", "<s-:s>", string::base64decode),
    ("encodeUrlComponent", "<s-:s>", string::encode_url_component),
    ("encodeUrl", "<s-:s>", string::encode_url),
    ("decodeUrlComponent", "<s-:s>", string::decode_url_component),
    ("decodeUrl", "<s-:s>", string::decode_url),
    ("number", "<(nsb)-:n>", numeric::number),
    ("abs", "<n-:n>", numeric::abs),
    ("floor", "<n-:n>", numeric::floor),
    ("ceil", "<n-:n>", numeric::ceil),
    ("round", "<n-n?:n>", numeric::round),
    ("power", "<n-n:n>", numeric::power),
    ("sqrt", "<n-:n>", numeric::sqrt),
    ("random", "<n?:n>", states::random),
    ("formatNumber", "<n-so?:s>", numeric::format_number),
    ("formatBase", "<n-n?:s>", numeric::format_base),
    ("formatInteger", "<n-s:s>", integer::format_integer),
    ("parseInteger", "<s-s:n>", integer::parse_integer),
    ("sum", "<a<n>:n>", collection::sum),
    ("max", "<a<n>:n>", collection::max),
    ("min", "<a<n>:n>", collection::min),
    ("average", "<a<n>:n>", collection::average),
    ("boolean", "<x-:b>", collection::boolean_fn),
    ("not", "<x-:b>", collection::not),
    ("exists", "<x:b>", collection::exists),
    ("count", "<a:n>", collection::count),
    ("append", "<xx:a>", collection::append_fn),
    ("sort", "<af?:a>", collection::sort),
    ("reverse", "<a:a>", collection::reverse),
    ("shuffle", "<a:a>", collection::shuffle),
    ("distinct", "<x:x>", collection::distinct),
    ("zip", "<a+>", collection::zip),
    ("keys", "<x-:a<s>>", collection::keys),
    ("lookup", "<x-s:x>", collection::lookup),
    ("spread", "<x-:a<o>>", collection::spread),
    ("merge", "<a<o>:o>", collection::merge),
    ("each", "<o-f:a>", collection::each),
    ("error", "<s?:x>", collection::error_fn),
    ("assert", "<bs?:x>", collection::assert),
    ("type", "<x:s>", collection::type_of),
    ("sift", "<o-f?:o>", collection::sift),
    ("map", "<af>", collection::map),
    ("filter", "<af>", collection::filter),
    ("single", "<af?>", collection::single),
    ("reduce", "<afj?:j>", collection::reduce),
    ("now", "<s?s?:s>", datetime::now),
    ("millis", "<:n>", datetime::millis),
    ("fromMillis", "<n-s?s?:s>", datetime::from_millis),
    ("toMillis", "<s-s?:n>", datetime::to_millis),
    ("partition", "<an:a>", states::partition),
    ("range", "<nnn:a>", states::range),
    ("hash", "<ss:s>", states::hash),
    ("uuid", "<:s>", states::uuid),
    ("parse", "<s:x>", states::parse),
];

/// The library function called `name`.
pub(crate) fn builtin(name: &str) -> Option<&'static Builtin> {
    static TABLE: OnceLock<HashMap<&'static str, Builtin>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            LIBRARY
                .iter()
                .map(|&(name, sig, imp)| {
                    let signature = Signature::parse(sig).expect("the library's signatures parse");
                    (name, Builtin { name, signature, imp })
                })
                .collect()
        })
        .get(name)
}

/// jsonata's truthiness; undefined stays undefined.
pub(crate) fn boolean(v: Option<&Value>) -> Option<bool> {
    let v = v?;
    Some(match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => *n != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Function(_) => false,
        Value::Array(a) => match a.items.len() {
            0 => false,
            1 => boolean(Some(&a.items[0])).unwrap_or(false),
            _ => a.items.iter().any(|i| boolean(Some(i)) == Some(true)),
        },
    })
}

/// `$string`'s conversion (without prettifying).
pub(crate) fn string(v: &Value) -> Result<String, Error> {
    to_string(v, false)
}

pub(crate) fn to_string(v: &Value, pretty: bool) -> Result<String, Error> {
    Ok(match v {
        Value::String(s) => s.to_string(),
        Value::Function(_) => String::new(),
        Value::Number(n) if !n.is_finite() => return Err(error("D3001", 0, &[])),
        Value::Array(a) if a.outer_wrapper && !a.items.is_empty() => stringify(&a.items[0], pretty.then_some(2)),
        v => stringify(v, pretty.then_some(2)),
    })
}

/// Strings ordered as JavaScript orders them (by UTF-16 code unit).
pub(crate) fn compare_strings(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// The object a regex match gives: `match`, `index` (in characters) and `groups`.
pub(crate) fn match_object(s: &str, m: &Match) -> Value {
    let mut o = Object::new();
    o.insert("match".into(), Value::string(&s[m.start..m.end]));
    o.insert("index".into(), Value::Number(s[..m.start].chars().count() as f64));
    let groups = m.groups.iter().map(|g| Value::string(g.map_or("", |(a, b)| &s[a..b]))).collect();
    o.insert("groups".into(), Value::array(groups));
    Value::object(o)
}

pub(crate) fn arg(args: Args<'_>, i: usize) -> Option<&Value> {
    args.get(i).and_then(Option::as_ref)
}

pub(crate) fn str_arg(args: Args<'_>, i: usize) -> Option<&str> {
    arg(args, i).and_then(Value::as_str)
}

pub(crate) fn num_arg(args: Args<'_>, i: usize) -> Option<f64> {
    arg(args, i).and_then(Value::as_number)
}

/// The arguments a higher-order function passes `func`: as many of `all` as it takes,
/// at least the first.
pub(crate) fn hof_args(func: &Value, all: Vec<Option<Value>>) -> Vec<Option<Value>> {
    let arity = match func {
        Value::Function(f) => f.arity(),
        _ => 1,
    };
    all.into_iter().take(arity.max(1)).collect()
}
