//! `$formatInteger` and `$parseInteger`: decimal digit patterns (`000`, `#,##0`), letters
//! (`a`, `A`), Roman numerals (`i`, `I`) and English words (`w`, `W`, `Ww`), with the `;o`
//! ordinal modifier.

use super::{Args, num_arg, str_arg};
use crate::Error;
use crate::errors::{Arg, error};
use crate::eval::Evaluator;
use crate::value::Value;

type Res = Result<Option<Value>, Error>;

const FEW: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];
const ORDINALS: [&str; 20] = [
    "Zeroth",
    "First",
    "Second",
    "Third",
    "Fourth",
    "Fifth",
    "Sixth",
    "Seventh",
    "Eighth",
    "Ninth",
    "Tenth",
    "Eleventh",
    "Twelfth",
    "Thirteenth",
    "Fourteenth",
    "Fifteenth",
    "Sixteenth",
    "Seventeenth",
    "Eighteenth",
    "Nineteenth",
];
const DECADES: [&str; 8] = ["Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety"];
const MAGNITUDES: [&str; 4] = ["Thousand", "Million", "Billion", "Trillion"];
const ROMAN: [(u64, &str); 13] = [
    (1000, "m"),
    (900, "cm"),
    (500, "d"),
    (400, "cd"),
    (100, "c"),
    (90, "xc"),
    (50, "l"),
    (40, "xl"),
    (10, "x"),
    (9, "ix"),
    (5, "v"),
    (4, "iv"),
    (1, "i"),
];

/// English words as jsonata-js spells them ("One Hundred and Twenty-Three").
fn words(n: u64, prev: bool, ordinal: bool) -> String {
    if n <= 19 {
        let w = if ordinal { ORDINALS[n as usize] } else { FEW[n as usize] };
        return format!("{}{w}", if prev { " and " } else { "" });
    }
    if n < 100 {
        let mut w = format!("{}{}", if prev { " and " } else { "" }, DECADES[(n / 10 - 2) as usize]);
        if !n.is_multiple_of(10) {
            w = format!("{w}-{}", words(n % 10, false, ordinal));
        } else if ordinal {
            w = format!("{}ieth", &w[..w.len() - 1]);
        }
        return w;
    }
    if n < 1000 {
        let mut w = format!("{}{} Hundred", if prev { ", " } else { "" }, FEW[(n / 100) as usize]);
        if !n.is_multiple_of(100) {
            w.push_str(&words(n % 100, true, ordinal));
        } else if ordinal {
            w.push_str("th");
        }
        return w;
    }
    let mag = ((n as f64).log10() / 3.0).floor().min(MAGNITUDES.len() as f64) as u32;
    let factor = 10u64.pow(mag * 3);
    let (mant, rest) = (n / factor, n % factor);
    let mut w =
        format!("{}{} {}", if prev { ", " } else { "" }, words(mant, false, false), MAGNITUDES[mag as usize - 1]);
    if rest > 0 {
        w.push_str(&words(rest, true, ordinal));
    } else if ordinal {
        w.push_str("th");
    }
    w
}

fn ordinal_suffix(n: u64) -> &'static str {
    match (n % 10, n % 100) {
        (1, r) if r != 11 => "st",
        (2, r) if r != 12 => "nd",
        (3, r) if r != 13 => "rd",
        _ => "th",
    }
}

/// A decimal digit pattern: the digits it requires and where its separators go.
fn format_decimal(n: u64, pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let min_digits = chars.iter().filter(|c| c.is_ascii_digit()).count();
    let mut separators = Vec::new();
    let mut digits_right = 0;
    for &c in chars.iter().rev() {
        if c.is_ascii_digit() || c == '#' {
            digits_right += 1;
        } else {
            separators.push((digits_right, c));
        }
    }
    let regular = separators.first().map(|&(first, c)| (first, c)).filter(|&(first, c)| {
        first > 0 && separators.iter().enumerate().all(|(i, &(pos, s))| s == c && pos == first * (i + 1))
    });
    let digits = format!("{n:0min_digits$}");
    let mut out = Vec::new();
    for (i, d) in digits.chars().rev().enumerate() {
        if i > 0 {
            let sep = match regular {
                Some((every, c)) => (i % every == 0).then_some(c),
                None => separators.iter().find(|&&(pos, _)| pos == i).map(|&(_, c)| c),
            };
            out.extend(sep);
        }
        out.push(d);
    }
    out.iter().rev().collect()
}

pub(super) fn format_integer(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(value) = num_arg(args, 0) else { return Ok(None) };
    let picture = str_arg(args, 1).unwrap_or("0");
    let (primary, modifier) = picture.rsplit_once(';').unwrap_or((picture, ""));
    let ordinal = modifier.starts_with('o');
    let n = value.abs().floor() as u64;
    let body = match primary {
        "A" | "a" => {
            let mut letters = Vec::new();
            let mut v = n;
            while v > 0 {
                letters.push(char::from(b'a' + ((v - 1) % 26) as u8));
                v = (v - 1) / 26;
            }
            let s: String = letters.iter().rev().collect();
            if primary == "A" { s.to_uppercase() } else { s }
        }
        "I" | "i" => {
            let mut v = n;
            let mut s = String::new();
            for &(amount, numeral) in &ROMAN {
                while v >= amount {
                    s.push_str(numeral);
                    v -= amount;
                }
            }
            if primary == "I" { s.to_uppercase() } else { s }
        }
        "W" => words(n, false, ordinal).to_uppercase(),
        "w" => words(n, false, ordinal).to_lowercase(),
        "Ww" => words(n, false, ordinal),
        _ if primary.chars().any(|c| c.is_ascii_digit()) => {
            let s = format_decimal(n, primary);
            if ordinal { format!("{s}{}", ordinal_suffix(n)) } else { s }
        }
        _ => {
            return Err(error("D3130", 0, &[("value", Arg::Text(primary))]));
        }
    };
    let sign = if value < 0.0 { "-" } else { "" };
    Ok(Some(Value::string(&format!("{sign}{body}"))))
}

/// English words back to a number.
fn parse_words(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut current = 0u64;
    let lower = s.to_lowercase();
    for word in lower.split([' ', ',', '-']).filter(|w| !w.is_empty() && *w != "and") {
        let find = |table: &[&str]| table.iter().position(|t| t.to_lowercase() == word).map(|i| i as u64);
        if let Some(v) = find(&FEW).or_else(|| find(&ORDINALS)) {
            current += v;
        } else if let Some(i) = DECADES.iter().position(|d| {
            let d = d.to_lowercase();
            word == d || word == format!("{}ieth", &d[..d.len() - 1])
        }) {
            current += (i as u64 + 2) * 10;
        } else if word == "hundred" || word == "hundredth" {
            current *= 100;
        } else if let Some(i) = MAGNITUDES.iter().position(|m| {
            let m = m.to_lowercase();
            word == m || word == format!("{m}th")
        }) {
            total += current * 10u64.pow(3 * (i as u32 + 1));
            current = 0;
        } else {
            return None;
        }
    }
    Some(total + current)
}

pub(super) fn parse_integer(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    let picture = str_arg(args, 1).unwrap_or("0");
    let (primary, _) = picture.rsplit_once(';').unwrap_or((picture, ""));
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let n = match primary {
        "A" | "a" => body
            .to_lowercase()
            .bytes()
            .try_fold(0u64, |acc, b| b.is_ascii_lowercase().then(|| acc * 26 + u64::from(b - b'a' + 1))),
        "I" | "i" => {
            let mut rest = body.to_lowercase();
            let mut n = 0;
            for &(amount, numeral) in &ROMAN {
                while let Some(r) = rest.strip_prefix(numeral) {
                    n += amount;
                    rest = r.to_owned();
                }
            }
            rest.is_empty().then_some(n)
        }
        "W" | "w" | "Ww" => parse_words(body),
        _ => {
            let digits: String = body.chars().filter(char::is_ascii_digit).collect();
            digits.parse().ok()
        }
    };
    Ok(n.map(|n| Value::Number(if negative { -(n as f64) } else { n as f64 })))
}
