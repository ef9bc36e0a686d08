//! Numeric functions: `$number`, `$round` (half to even, as jsonata), `$power`, `$sqrt`,
//! `$formatNumber` (XPath F&O 3.1 pictures) and `$formatBase`.

use super::{Args, arg, num_arg, str_arg};
use crate::Error;
use crate::errors::{Arg, error};
use crate::eval::Evaluator;
use crate::value::{Value, format_number as js_number};

type Res = Result<Option<Value>, Error>;

fn num(n: f64) -> Res {
    Ok(Some(Value::Number(n)))
}

pub(super) fn number(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(v) = arg(args, 0) else { return Ok(None) };
    let n = match v {
        Value::Number(n) => Some(*n),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => parse_number(s),
        _ => None,
    };
    match n {
        Some(n) if n.is_finite() => num(n),
        _ => Err(error("D3030", 0, &[("value", Arg::Value(Some(v)))])),
    }
}

/// A JSON number, or `0x`/`0o`/`0b` integers.
fn parse_number(s: &str) -> Option<f64> {
    let radix = |p: &str, r: u32| s.strip_prefix(p).and_then(|d| u64::from_str_radix(d, r).ok()).map(|n| n as f64);
    if let Some(n) = radix("0x", 16).or_else(|| radix("0X", 16)).or_else(|| radix("0o", 8)).or_else(|| radix("0O", 8)) {
        return Some(n);
    }
    if let Some(n) = radix("0b", 2).or_else(|| radix("0B", 2)) {
        return Some(n);
    }
    let body = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    if digits(int) && frac.is_none_or(digits) && exp_ok { s.parse().ok() } else { None }
}

pub(super) fn abs(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(num_arg(args, 0).map(|n| Value::Number(n.abs())))
}

pub(super) fn floor(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(num_arg(args, 0).map(|n| Value::Number(n.floor() + 0.0)))
}

pub(super) fn ceil(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    Ok(num_arg(args, 0).map(|n| Value::Number(n.ceil() + 0.0)))
}

/// Shifts the decimal point of `n` by `by` places through its decimal text, as jsonata
/// does to avoid binary rounding errors.
fn shift(n: f64, by: i32) -> f64 {
    let s = js_number(n);
    let (m, e) = match s.split_once('e') {
        Some((m, e)) => (m.to_owned(), e.parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    format!("{m}e{}", e + by).parse().unwrap_or(n)
}

/// jsonata's `$round`: half to even, at `precision` decimal places.
pub(crate) fn round_half_even(n: f64, precision: i32) -> f64 {
    let shifted = if precision != 0 { shift(n, precision) } else { n };
    let mut result = (shifted + 0.5).floor();
    if (result - shifted).abs() == 0.5 && (result % 2.0).abs() == 1.0 {
        result -= 1.0;
    }
    let result = if precision != 0 { shift(result, -precision) } else { result };
    if result == 0.0 { 0.0 } else { result }
}

pub(super) fn round(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(n) = num_arg(args, 0) else { return Ok(None) };
    num(round_half_even(n, num_arg(args, 1).unwrap_or(0.0) as i32))
}

pub(super) fn power(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(base) = num_arg(args, 0) else { return Ok(None) };
    let exp = num_arg(args, 1).unwrap_or(f64::NAN);
    let r = base.powf(exp);
    if !r.is_finite() {
        let (b, e) = (Value::Number(base), Value::Number(exp));
        return Err(error("D3061", 0, &[("value", Arg::Value(Some(&b))), ("exp", Arg::Value(Some(&e)))]));
    }
    num(r)
}

pub(super) fn sqrt(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(n) = num_arg(args, 0) else { return Ok(None) };
    if n < 0.0 {
        return Err(error("D3060", 0, &[("value", Arg::Value(Some(&Value::Number(n))))]));
    }
    num(n.sqrt())
}

pub(super) fn format_base(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(n) = num_arg(args, 0) else { return Ok(None) };
    let radix = num_arg(args, 1).unwrap_or(10.0);
    if !(2.0..=36.0).contains(&radix) {
        return Err(error("D3100", 0, &[("value", Arg::Value(Some(&Value::Number(radix))))]));
    }
    let radix = radix as u64;
    let n = round_half_even(n, 0);
    let mut v = n.abs() as u64;
    let mut digits = Vec::new();
    loop {
        digits.push(std::char::from_digit((v % radix) as u32, radix as u32).unwrap_or('0'));
        v /= radix;
        if v == 0 {
            break;
        }
    }
    if n < 0.0 {
        digits.push('-');
    }
    Ok(Some(Value::string(&digits.iter().rev().collect::<String>())))
}

/// The decimal-format properties a picture is read with.
struct Props {
    decimal: char,
    grouping: char,
    exponent: char,
    minus: char,
    percent: char,
    per_mille: char,
    zero: char,
    digit: char,
    separator: char,
}

struct Picture {
    prefix: String,
    suffix: String,
    integer_groups: Vec<usize>,
    regular_grouping: usize,
    min_integer: usize,
    scaling: usize,
    fraction_groups: Vec<usize>,
    min_fraction: usize,
    max_fraction: usize,
    min_exponent: usize,
    exponent: bool,
    picture: String,
}

impl Props {
    fn is_digit(&self, c: char) -> bool {
        (self.zero..=char::from_u32(self.zero as u32 + 9).unwrap_or(self.zero)).contains(&c)
    }

    fn is_active(&self, c: char) -> bool {
        self.is_digit(c) || c == self.decimal || c == self.grouping || c == self.digit || c == self.separator
    }

    fn analyse(&self, sub: &str) -> Result<Picture, Error> {
        let chars: Vec<char> = sub.chars().collect();
        let first = chars.iter().position(|&c| self.is_active(c)).unwrap_or(chars.len());
        let last = chars.iter().rposition(|&c| self.is_active(c)).map_or(first, |i| i + 1);
        let prefix: String = chars[..first].iter().collect();
        let suffix: String = chars[last.max(first)..].iter().collect();
        let active = &chars[first..last.max(first)];
        let (mantissa, exponent) = match active.iter().position(|&c| c == self.exponent) {
            Some(i) => (&active[..i], Some(&active[i + 1..])),
            None => (active, None),
        };
        let decimals = mantissa.iter().filter(|&&c| c == self.decimal).count();
        if decimals > 1 {
            return Err(error("D3081", 0, &[]));
        }
        if sub.chars().filter(|&c| c == self.percent).count() > 1 {
            return Err(error("D3082", 0, &[]));
        }
        if sub.chars().filter(|&c| c == self.per_mille).count() > 1 {
            return Err(error("D3083", 0, &[]));
        }
        if sub.contains(self.percent) && sub.contains(self.per_mille) {
            return Err(error("D3084", 0, &[]));
        }
        let suffix_chars: Vec<char> = suffix.chars().collect();
        let (integer, fraction): (&[char], &[char]) = match mantissa.iter().position(|&c| c == self.decimal) {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, &suffix_chars),
        };
        let counted = |part: &[char]| part.iter().filter(|&&c| self.is_digit(c) || c == self.digit).count();
        let integer_groups: Vec<usize> = integer
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c == self.grouping)
            .map(|(i, _)| counted(&integer[i..]))
            .collect();
        let regular_grouping = regular(&integer_groups);
        let fraction_groups: Vec<usize> = fraction
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c == self.grouping)
            .map(|(i, _)| counted(&fraction[..i]))
            .collect();
        let mut min_integer = integer.iter().filter(|&&c| self.is_digit(c)).count();
        let scaling = min_integer;
        let mut min_fraction = fraction.iter().filter(|&&c| self.is_digit(c)).count();
        let mut max_fraction = counted(fraction);
        if min_integer == 0 && max_fraction == 0 {
            if exponent.is_some() {
                min_fraction = 1;
                max_fraction = 1;
            } else {
                min_integer = 1;
            }
        }
        if exponent.is_some() && min_integer == 0 && integer.contains(&self.digit) {
            min_integer = 1;
        }
        if min_integer == 0 && min_fraction == 0 {
            min_fraction = 1;
        }
        let min_exponent = exponent.map_or(0, |e| e.iter().filter(|&&c| self.is_digit(c)).count());
        Ok(Picture {
            prefix,
            suffix,
            integer_groups,
            regular_grouping,
            min_integer,
            scaling,
            fraction_groups,
            min_fraction,
            max_fraction,
            min_exponent,
            exponent: exponent.is_some(),
            picture: sub.to_owned(),
        })
    }
}

fn regular(positions: &[usize]) -> usize {
    if positions.is_empty() {
        return 0;
    }
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let factor = positions.iter().copied().reduce(gcd).unwrap_or(0);
    if factor == 0 {
        return 0;
    }
    if (1..=positions.len()).all(|i| positions.contains(&(i * factor))) { factor } else { 0 }
}

fn prop(options: Option<&Value>, name: &str, default: char) -> char {
    match options {
        Some(Value::Object(o)) => o.get(name).and_then(Value::as_str).and_then(|s| s.chars().next()).unwrap_or(default),
        _ => default,
    }
}

pub(super) fn format_number(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(value) = num_arg(args, 0) else { return Ok(None) };
    let picture = str_arg(args, 1).unwrap_or("");
    let options = arg(args, 2);
    let p = Props {
        decimal: prop(options, "decimal-separator", '.'),
        grouping: prop(options, "grouping-separator", ','),
        exponent: prop(options, "exponent-separator", 'e'),
        minus: prop(options, "minus-sign", '-'),
        percent: prop(options, "percent", '%'),
        per_mille: prop(options, "per-mille", '\u{2030}'),
        zero: prop(options, "zero-digit", '0'),
        digit: prop(options, "digit", '#'),
        separator: prop(options, "pattern-separator", ';'),
    };
    let subs: Vec<&str> = picture.split(p.separator).collect();
    if subs.len() > 2 {
        return Err(error("D3080", 0, &[]));
    }
    let pic = if value >= 0.0 || subs.len() == 1 {
        let mut pic = p.analyse(subs[0])?;
        if value < 0.0 {
            pic.prefix = format!("{}{}", p.minus, pic.prefix);
        }
        pic
    } else {
        p.analyse(subs[1])?
    };
    let adjusted = if pic.picture.contains(p.percent) {
        value * 100.0
    } else if pic.picture.contains(p.per_mille) {
        value * 1000.0
    } else {
        value
    };
    let (mantissa, exponent) = if pic.min_exponent == 0 && !pic.exponent {
        (adjusted, None)
    } else {
        let max = 10f64.powi(pic.scaling as i32);
        let min = 10f64.powi(pic.scaling as i32 - 1);
        let (mut m, mut e) = (adjusted, 0i32);
        if m != 0.0 {
            while m.abs() < min {
                m *= 10.0;
                e -= 1;
            }
            while m.abs() > max {
                m /= 10.0;
                e += 1;
            }
        }
        (m, Some(e))
    };
    let rounded = round_half_even(mantissa, pic.max_fraction as i32);
    let digits = |s: String| -> Vec<char> {
        s.chars()
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from_u32(p.zero as u32 + d).unwrap_or(c),
                None => c,
            })
            .collect()
    };
    let mut s = digits(format!("{:.*}", pic.max_fraction, rounded.abs()));
    match s.iter().position(|&c| c == '.') {
        Some(i) => s[i] = p.decimal,
        None => s.push(p.decimal),
    }
    while s.first() == Some(&p.zero) {
        s.remove(0);
    }
    while s.last() == Some(&p.zero) {
        s.pop();
    }
    let dp = s.iter().position(|&c| c == p.decimal).unwrap_or(s.len());
    let pad_left = pic.min_integer.saturating_sub(dp);
    let pad_right = pic.min_fraction.saturating_sub(s.len() - dp - 1);
    let mut s: Vec<char> =
        std::iter::repeat_n(p.zero, pad_left).chain(s).chain(std::iter::repeat_n(p.zero, pad_right)).collect();
    let mut dp = s.iter().position(|&c| c == p.decimal).unwrap_or(s.len());
    if let Some(groups) = (dp.max(1) - 1).checked_div(pic.regular_grouping) {
        for g in 1..=groups {
            s.insert(dp - g * pic.regular_grouping, p.grouping);
        }
    } else {
        for &pos in &pic.integer_groups {
            if pos <= dp {
                s.insert(dp - pos, p.grouping);
                dp += 1;
            }
        }
    }
    let dp = s.iter().position(|&c| c == p.decimal).unwrap_or(s.len());
    for &pos in &pic.fraction_groups {
        if pos + dp < s.len() {
            s.insert(pos + dp + 1, p.grouping);
        }
    }
    if !pic.picture.contains(p.decimal) || s.last() == Some(&p.decimal) {
        s.pop();
    }
    let mut out: String = s.into_iter().collect();
    if let Some(e) = exponent {
        let mut exp: String = digits(e.abs().to_string()).into_iter().collect();
        let pad = pic.min_exponent.saturating_sub(exp.chars().count());
        exp = format!("{}{exp}", p.zero.to_string().repeat(pad));
        out = format!("{out}{}{}{exp}", p.exponent, if e < 0 { p.minus.to_string() } else { String::new() });
    }
    Ok(Some(Value::string(&format!("{}{out}{}", pic.prefix, pic.suffix))))
}
