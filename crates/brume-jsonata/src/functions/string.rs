//! String functions: `$string`, `$substring`, `$split`, `$match`, `$replace`, the URL and
//! base64 codecs, `$eval`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Args, arg, num_arg, str_arg};
use crate::Error;
use crate::errors::{Arg, error, error_message};
use crate::eval::{Evaluator, Function};
use crate::regex::Regex;
use crate::value::Value;

type Res = Result<Option<Value>, Error>;

fn some_str(s: &str) -> Res {
    Ok(Some(Value::string(s)))
}

pub(super) fn string(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(v) = arg(args, 0) else { return Ok(None) };
    let pretty = matches!(arg(args, 1), Some(Value::Bool(true)));
    some_str(&super::to_string(v, pretty)?)
}

pub(super) fn length(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(str_arg(args, 0).map(|s| Value::Number(s.chars().count() as f64)))
}

/// JavaScript's `slice` on code points.
pub(crate) fn substring_of(s: &str, start: f64, length: Option<f64>) -> String {
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as f64;
    let mut start = start.trunc();
    if len + start < 0.0 {
        start = 0.0;
    }
    let end = match length {
        Some(l) if l <= 0.0 => return String::new(),
        Some(l) => {
            if start >= 0.0 {
                start + l.trunc()
            } else {
                len + start + l.trunc()
            }
        }
        None => len,
    };
    let clamp = |i: f64| -> usize {
        let i = if i < 0.0 { (len + i).max(0.0) } else { i.min(len) };
        i as usize
    };
    let (a, b) = (clamp(start), clamp(end));
    if a >= b { String::new() } else { chars[a..b].iter().collect() }
}

pub(super) fn substring(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    some_str(&substring_of(s, num_arg(args, 1).unwrap_or(0.0), num_arg(args, 2)))
}

pub(super) fn substring_before(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    let Some(chars) = str_arg(args, 1) else { return some_str(s) };
    some_str(s.find(chars).map_or(s, |i| &s[..i]))
}

pub(super) fn substring_after(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    let Some(chars) = str_arg(args, 1) else { return some_str(s) };
    some_str(s.find(chars).map_or(s, |i| &s[i + chars.len()..]))
}

pub(super) fn uppercase(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(str_arg(args, 0).map(|s| Value::string(&s.to_uppercase())))
}

pub(super) fn lowercase(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(str_arg(args, 0).map(|s| Value::string(&s.to_lowercase())))
}

pub(super) fn trim(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    let words: Vec<&str> = s.split([' ', '\t', '\n', '\r']).filter(|w| !w.is_empty()).collect();
    some_str(&words.join(" "))
}

pub(super) fn pad(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    let width = num_arg(args, 1).unwrap_or(0.0);
    let fill = str_arg(args, 2).filter(|c| !c.is_empty()).unwrap_or(" ");
    let missing = width.abs().trunc() as i64 - s.chars().count() as i64;
    if missing <= 0 {
        return some_str(s);
    }
    // JavaScript's own limit on a string's length, which keeps a wild width from
    // exhausting memory.
    if missing > (1 << 29) {
        return Err(error_message("D3137", 0, "Invalid string length"));
    }
    let padding: String = fill.chars().cycle().take(missing as usize).collect();
    some_str(&if width > 0.0 { format!("{s}{padding}") } else { format!("{padding}{s}") })
}

fn regex_of(v: Option<&Value>) -> Option<&Regex> {
    match v {
        Some(Value::Function(f)) => match &**f {
            Function::Regex(re) => Some(re),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn contains(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    let found = match (str_arg(args, 1), regex_of(arg(args, 1))) {
        (Some(p), _) => s.contains(p),
        (_, Some(re)) => re.find_at(s, 0).is_some(),
        _ => return Ok(None),
    };
    Ok(Some(Value::Bool(found)))
}

pub(super) fn split(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    let limit = num_arg(args, 2);
    if limit.is_some_and(|l| l < 0.0) {
        return Err(error("D3020", 0, &[("value", Arg::Value(arg(args, 2)))]));
    }
    let mut parts: Vec<String> = match (str_arg(args, 1), regex_of(arg(args, 1))) {
        (Some(""), _) => s.chars().map(String::from).collect(),
        (Some(sep), _) => s.split(sep).map(String::from).collect(),
        (_, Some(re)) => {
            let mut parts = Vec::new();
            let mut last = 0;
            for m in re.find_all(s) {
                if m.end == m.start && (m.start == 0 || m.start == s.len()) {
                    continue;
                }
                parts.push(s[last..m.start].to_owned());
                last = m.end;
            }
            parts.push(s[last..].to_owned());
            parts
        }
        _ => return Ok(None),
    };
    if let Some(limit) = limit {
        parts.truncate(limit.floor() as usize);
    }
    Ok(Some(Value::array(parts.iter().map(|p| Value::string(p)).collect())))
}

pub(super) fn join(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(Value::Array(a)) = arg(args, 0) else { return Ok(None) };
    let sep = str_arg(args, 1).unwrap_or("");
    let parts: Vec<&str> = a.items.iter().filter_map(Value::as_str).collect();
    some_str(&parts.join(sep))
}

pub(super) fn match_(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    let limit = num_arg(args, 2);
    if limit.is_some_and(|l| l < 0.0) {
        return Err(error("D3040", 0, &[("value", Arg::Value(arg(args, 2)))]));
    }
    let Some(re) = regex_of(arg(args, 1)) else { return Ok(None) };
    let mut matches = re.find_all(s);
    if let Some(limit) = limit {
        matches.truncate(limit.floor() as usize);
    }
    Ok(Some(Value::sequence(matches.iter().map(|m| super::match_object(s, m)).collect())))
}

/// A replacement string's `$0`, `$1`..., `$$` filled from a match.
fn substitute(replacement: &str, whole: &str, groups: &[&str]) -> String {
    let mut out = String::new();
    let mut rest = replacement;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('0') {
            out.push_str(whole);
            rest = r;
        } else {
            let max_digits = if groups.is_empty() { 1 } else { groups.len().ilog10() as usize + 1 };
            let digits: String = rest.chars().take(max_digits).take_while(char::is_ascii_digit).collect();
            let mut index: Option<usize> = digits.parse().ok();
            let mut used = digits.len();
            if max_digits > 1 && index.is_some_and(|n| n > groups.len()) && digits.len() > 1 {
                index = digits[..digits.len() - 1].parse().ok();
                used -= 1;
            }
            match index {
                Some(n) => {
                    if n >= 1
                        && let Some(g) = groups.get(n - 1)
                    {
                        out.push_str(g);
                    }
                    rest = &rest[used..];
                }
                None => out.push('$'),
            }
        }
    }
    out.push_str(rest);
    out
}

pub(super) fn replace(ev: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    if str_arg(args, 1) == Some("") {
        return Err(error("D3010", 0, &[]));
    }
    let limit = num_arg(args, 3);
    if limit.is_some_and(|l| l < 0.0) {
        return Err(error("D3011", 0, &[("value", Arg::Value(arg(args, 3)))]));
    }
    let limit = limit.map_or(usize::MAX, |l| l.floor() as usize);
    let replacement = arg(args, 2);
    let mut out = String::new();
    let mut last = 0;
    let spans: Vec<crate::regex::Match> = match (str_arg(args, 1), regex_of(arg(args, 1))) {
        (Some(p), _) => s
            .match_indices(p)
            .map(|(i, m)| crate::regex::Match { start: i, end: i + m.len(), groups: vec![] })
            .collect(),
        (_, Some(re)) => re.find_all(s),
        _ => return Ok(None),
    };
    for m in spans.into_iter().take(limit) {
        if m.start == m.end {
            return Err(error("D1004", 0, &[]));
        }
        out.push_str(&s[last..m.start]);
        let text = match replacement {
            Some(Value::String(r)) if str_arg(args, 1).is_some() => r.to_string(),
            Some(Value::String(r)) => {
                let groups: Vec<&str> = m.groups.iter().map(|g| g.map_or("", |(a, b)| &s[a..b])).collect();
                substitute(r, &s[m.start..m.end], &groups)
            }
            Some(f @ Value::Function(_)) => {
                let obj = super::match_object(s, &m);
                match ev.apply(f, vec![Some(obj)], None, 0)? {
                    Some(Value::String(r)) => r.to_string(),
                    other => return Err(error("D3012", 0, &[("value", Arg::Value(other.as_ref()))])),
                }
            }
            _ => String::new(),
        };
        out.push_str(&text);
        last = m.end;
    }
    out.push_str(&s[last..]);
    some_str(&out)
}

pub(super) fn eval(ev: &mut Evaluator, args: Args<'_>, input: Option<&Value>) -> Res {
    let Some(source) = str_arg(args, 0) else { return Ok(None) };
    let expr = crate::parser::parse(source).map_err(|e| error("D3120", 0, &[("value", Arg::Text(&e.message))]))?;
    let context = match arg(args, 1) {
        Some(focus @ Value::Array(a)) if !a.sequence => {
            Some(Value::sequence(vec![focus.clone()]).with_flags(|f| f.outer_wrapper = true))
        }
        Some(focus) => Some(focus.clone()),
        None => input.cloned(),
    };
    let env = ev.call_env.clone().unwrap_or_else(|| crate::eval::new_frame(None));
    ev.eval(&expr, context.as_ref(), &env).map_err(|e| error("D3121", 0, &[("value", Arg::Text(&e.message))]))
}

pub(super) fn base64encode(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(str_arg(args, 0).map(|s| Value::string(&STANDARD.encode(s))))
}

pub(super) fn base64decode(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    let bytes = STANDARD
        .decode(s.trim_end_matches('=').to_owned() + &"=".repeat((4 - s.trim_end_matches('=').len() % 4) % 4))
        .map_err(|e| error_message("D3137", 0, &e.to_string()))?;
    some_str(&String::from_utf8_lossy(&bytes))
}

const URI_UNRESERVED: &str = "-_.!~*'()";
const URI_RESERVED: &str = ";,/?:@&=+$#";

fn encode(s: &str, keep: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || keep.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// decodeURI/decodeURIComponent: `None` for a malformed escape; `keep` are the characters
/// whose escapes stay escaped.
fn decode(s: &str, keep: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = s.get(i + 1..i + 3)?;
        let b = u8::from_str_radix(hex, 16).ok()?;
        if b < 0x80 && keep.contains(b as char) {
            out.extend_from_slice(&bytes[i..i + 3]);
        } else {
            out.push(b);
        }
        i += 3;
    }
    String::from_utf8(out).ok()
}

pub(super) fn encode_url_component(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(str_arg(args, 0).map(|s| Value::string(&encode(s, URI_UNRESERVED))))
}

pub(super) fn encode_url(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(str_arg(args, 0).map(|s| Value::string(&encode(s, &format!("{URI_UNRESERVED}{URI_RESERVED}")))))
}

fn decode_with(name: &str, s: &str, keep: &str) -> Res {
    match decode(s, keep) {
        Some(d) => some_str(&d),
        None => Err(error("D3140", 0, &[("functionName", Arg::Text(name)), ("value", Arg::Text(s))])),
    }
}

pub(super) fn decode_url_component(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    decode_with("decodeUrlComponent", s, "")
}

pub(super) fn decode_url(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    decode_with("decodeUrl", s, URI_RESERVED)
}
