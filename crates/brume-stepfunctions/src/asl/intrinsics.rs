//! Intrinsic functions (`States.Format('{}', $.a)` …): a tokenizer and parser for the call
//! syntax, and the evaluation of every function with AWS's argument rules.
//!
//! Arguments are string literals in single quotes (`\'`, `\\`, `\{`, `\}` escapes),
//! numbers, `true`/`false`, `null`, paths (`$.a`, `$$.Execution.Id`) and nested calls.
//! Failures are `States.Runtime` with the cause `Invalid arguments in States.X`, as AWS
//! reports them at run time (not the documented `States.IntrinsicFailure`); a path
//! argument that finds nothing is `States.Runtime` too, as for any path. Fractional
//! numbers are truncated where an integer is expected, except MathAdd, which rounds.

use super::path::{Path, json_equal};
use super::{Failure, RUNTIME, Scope};
use base64::Engine;
use brume_core::nesting::Nesting;
use serde_json::{Map, Value};

/// The longest string Base64Encode, Base64Decode and Hash accept.
const MAX_STRING: usize = 10_000;
/// The most elements ArrayRange may produce.
const MAX_RANGE: i64 = 1_000;

/// A parsed intrinsic call or one of its arguments.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// A quoted literal: `raw` keeps the escapes (States.Format reads them), `value` not.
    Str {
        raw: String,
        value: String,
    },
    Number(serde_json::Number),
    Bool(bool),
    Null,
    Path {
        text: String,
        path: Path,
    },
    Call(String, Vec<Arg>),
}

/// The functions AWS defines, with how many arguments each takes (min, max).
const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("States.Format", 1, usize::MAX),
    ("States.StringToJson", 1, 1),
    ("States.JsonToString", 1, 1),
    ("States.Array", 0, usize::MAX),
    ("States.ArrayPartition", 2, 2),
    ("States.ArrayContains", 2, 2),
    ("States.ArrayRange", 3, 3),
    ("States.ArrayGetItem", 2, 2),
    ("States.ArrayLength", 1, 1),
    ("States.ArrayUnique", 1, 1),
    ("States.Base64Encode", 1, 1),
    ("States.Base64Decode", 1, 1),
    ("States.Hash", 2, 2),
    ("States.JsonMerge", 3, 3),
    ("States.MathRandom", 2, 3),
    ("States.MathAdd", 2, 2),
    ("States.StringSplit", 2, 2),
    ("States.UUID", 0, 0),
];

/// Parses a whole intrinsic expression: one call and nothing after it.
pub fn parse(text: &str) -> Result<Arg, String> {
    let mut parser = Parser { chars: text.chars().collect(), pos: 0, depth: 0 };
    parser.skip_spaces();
    let call = parser.call()?;
    parser.skip_spaces();
    if parser.pos != parser.chars.len() {
        return Err(format!("Unexpected text after the function call at position {}", parser.pos));
    }
    Ok(call)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    /// How many calls enclose the current character.
    depth: usize,
}

impl Nesting for Parser {
    /// Calls nested this deep are far past any a workflow needs.
    const MAX: usize = 100;
    type Error = String;

    fn depth(&mut self) -> &mut usize {
        &mut self.depth
    }

    fn too_deep(&self) -> String {
        format!("Intrinsic functions nest deeper than {} calls at position {}", Self::MAX, self.pos)
    }
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn call(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '.') {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let Some(&(_, min, max)) = FUNCTIONS.iter().find(|(n, _, _)| *n == name) else {
            return Err(format!("Unsupported intrinsic function '{name}'"));
        };
        self.skip_spaces();
        if self.peek() != Some('(') {
            return Err(format!("Expected '(' after {name}"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_spaces();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_spaces();
                args.push(self.arg()?);
                self.skip_spaces();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(format!("Expected ',' or ')' in {name} at position {}", self.pos)),
                }
            }
        }
        if args.len() < min || args.len() > max {
            return Err(format!("Invalid number of arguments for {name}: {}", args.len()));
        }
        Ok(Arg::Call(name, args))
    }

    fn arg(&mut self) -> Result<Arg, String> {
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(_) => {
                let rest = &self.chars[self.pos..];
                let starts_with = |word: &str| word.chars().enumerate().all(|(i, c)| rest.get(i) == Some(&c));
                for (word, arg) in [("true", Arg::Bool(true)), ("false", Arg::Bool(false)), ("null", Arg::Null)] {
                    let after = rest.get(word.len());
                    if starts_with(word) && !after.is_some_and(|c| c.is_ascii_alphanumeric()) {
                        self.pos += word.len();
                        return Ok(arg);
                    }
                }
                if starts_with("States.") {
                    return self.nested(Self::call);
                }
                Err(format!("Invalid argument at position {}", self.pos))
            }
            None => Err("Unexpected end of the function call".to_string()),
        }
    }

    fn string(&mut self) -> Result<Arg, String> {
        self.pos += 1;
        let (mut raw, mut value) = (String::new(), String::new());
        loop {
            match self.peek() {
                None => return Err("Unterminated string literal".to_string()),
                Some('\\') => {
                    let escaped = self.chars.get(self.pos + 1).copied().ok_or("Unterminated string literal")?;
                    // Only the reserved characters may be escaped.
                    if !matches!(escaped, '\'' | '{' | '}' | '\\') {
                        return Err(format!("Invalid escape sequence '\\{escaped}' at position {}", self.pos));
                    }
                    raw.push('\\');
                    raw.push(escaped);
                    value.push(escaped);
                    self.pos += 2;
                }
                Some('\'') => {
                    self.pos += 1;
                    return Ok(Arg::Str { raw, value });
                }
                Some(c) => {
                    raw.push(c);
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A path runs to the `,` or `)` outside brackets and quotes that ends the argument.
    fn path(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        let (mut depth, mut quote) = (0usize, None::<char>);
        while let Some(c) = self.peek() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), '\\') => self.pos += 1,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '[' | '(') => depth += 1,
                (None, ']') => depth = depth.saturating_sub(1),
                (None, ')') if depth == 0 => break,
                (None, ')') => depth -= 1,
                (None, ',') if depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos.min(self.chars.len())].iter().collect();
        let text = text.trim_end().to_string();
        Path::parse(&text).map(|path| Arg::Path { text, path })
    }

    fn number(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        self.pos += 1;
        while self.peek().is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        match serde_json::from_str(&text) {
            Ok(Value::Number(n)) => Ok(Arg::Number(n)),
            _ => Err(format!("Invalid number '{text}'")),
        }
    }
}

/// Evaluates `text` against the state's input and context. `random` gives a number in
/// [0, 1) for States.MathRandom without a seed, `uuid` the result of States.UUID.
pub fn evaluate(
    text: &str,
    input: &Value,
    scope: &Scope,
    random: &mut dyn FnMut() -> f64,
    uuid: &mut dyn FnMut() -> String,
) -> Result<Value, Failure> {
    let call = parse(text).map_err(|e| Failure::new(RUNTIME, e))?;
    Evaluator { input, scope, random, uuid }.eval(&call)
}

/// [`evaluate`] with fresh randomness and UUIDs, as executions run it.
pub fn run(text: &str, input: &Value, scope: &Scope) -> Result<Value, Failure> {
    evaluate(text, input, scope, &mut fresh_random, &mut || uuid::Uuid::new_v4().to_string())
}

struct Evaluator<'a> {
    input: &'a Value,
    scope: &'a Scope,
    random: &'a mut dyn FnMut() -> f64,
    uuid: &'a mut dyn FnMut() -> String,
}

/// AWS's failure for arguments a function does not take: `States.Runtime`, no details.
fn fail(function: &str) -> Failure {
    Failure::new(RUNTIME, format!("Invalid arguments in {function}"))
}

impl Evaluator<'_> {
    fn eval(&mut self, arg: &Arg) -> Result<Value, Failure> {
        Ok(match arg {
            Arg::Str { value, .. } => Value::String(value.clone()),
            Arg::Number(n) => Value::Number(n.clone()),
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Null => Value::Null,
            Arg::Path { text, path } => self
                .scope
                .evaluate(path, self.input)
                .map_err(|reason| Failure::new(RUNTIME, format!("Invalid path '{text}' : {reason}")))?,
            Arg::Call(name, args) => self.call(name, args)?,
        })
    }

    fn call(&mut self, name: &str, args: &[Arg]) -> Result<Value, Failure> {
        if name == "States.Format" {
            return self.format(args);
        }
        let values = args.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>()?;
        let string = |i: usize| values[i].as_str().ok_or_else(|| fail(name));
        let array = |i: usize| values[i].as_array().ok_or_else(|| fail(name));
        // AWS truncates fractional integer arguments (ArrayPartition(…, 2.6) takes 2).
        let integer =
            |i: usize| values[i].as_f64().filter(|f| f.is_finite()).map(|f| f.trunc() as i64).ok_or_else(|| fail(name));
        Ok(match name {
            "States.StringToJson" => serde_json::from_str(string(0)?).map_err(|_| fail(name))?,
            "States.JsonToString" => Value::String(values[0].to_string()),
            "States.Array" => Value::Array(values),
            "States.ArrayPartition" => {
                let size = usize::try_from(integer(1)?).ok().filter(|s| *s > 0).ok_or_else(|| fail(name))?;
                Value::Array(array(0)?.chunks(size).map(|c| Value::Array(c.to_vec())).collect())
            }
            "States.ArrayContains" => Value::Bool(array(0)?.iter().any(|v| json_equal(v, &values[1]))),
            "States.ArrayRange" => {
                Value::Array(range(integer(0)?, integer(1)?, integer(2)?).ok_or_else(|| fail(name))?)
            }
            "States.ArrayGetItem" => {
                let (items, index) = (array(0)?, integer(1)?);
                usize::try_from(index).ok().and_then(|i| items.get(i)).cloned().ok_or_else(|| fail(name))?
            }
            "States.ArrayLength" => Value::from(array(0)?.len()),
            "States.ArrayUnique" => {
                let mut unique: Vec<Value> = Vec::new();
                for item in array(0)? {
                    if !unique.iter().any(|u| json_equal(u, item)) {
                        unique.push(item.clone());
                    }
                }
                Value::Array(unique)
            }
            "States.Base64Encode" => {
                let data = limited(name, string(0)?)?;
                Value::String(base64::engine::general_purpose::STANDARD.encode(data))
            }
            "States.Base64Decode" => {
                let data = limited(name, string(0)?)?;
                let bytes = base64::engine::general_purpose::STANDARD.decode(data).map_err(|_| fail(name))?;
                Value::String(String::from_utf8(bytes).map_err(|_| fail(name))?)
            }
            "States.Hash" => {
                let data = match &values[0] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Value::String(hash(limited(name, &data)?, string(1)?).ok_or_else(|| fail(name))?)
            }
            "States.JsonMerge" => {
                let (Some(a), Some(b)) = (values[0].as_object(), values[1].as_object()) else {
                    return Err(fail(name));
                };
                // Only the shallow merge exists: the deep-merge flag must be false.
                if values[2] != Value::Bool(false) {
                    return Err(fail(name));
                }
                let mut merged: Map<String, Value> = a.clone();
                merged.extend(b.iter().map(|(k, v)| (k.clone(), v.clone())));
                Value::Object(merged)
            }
            "States.MathRandom" => {
                let (start, end) = (integer(0)?, integer(1)?);
                if start >= end {
                    return Err(fail(name));
                }
                let random = if values.len() == 3 { seeded_random(integer(2)?) } else { (self.random)() };
                Value::from(random_in_range(start, end, random))
            }
            "States.MathAdd" => {
                // MathAdd rounds its operands to the nearest integer; all stays in int32.
                let operand = |i: usize| {
                    values[i]
                        .as_f64()
                        .map(f64::round)
                        .filter(|f| INT32.contains(f))
                        .map(|f| f as i64)
                        .ok_or_else(|| fail(name))
                };
                let sum = operand(0)? + operand(1)?;
                if !INT32.contains(&(sum as f64)) {
                    return Err(fail(name));
                }
                Value::from(sum)
            }
            "States.StringSplit" => {
                let (text, delimiters) = (string(0)?, string(1)?);
                Value::Array(
                    text.split(|c| delimiters.contains(c))
                        .filter(|part| !part.is_empty())
                        .map(|part| Value::String(part.to_string()))
                        .collect(),
                )
            }
            "States.UUID" => Value::String((self.uuid)()),
            _ => return Err(Failure::new(RUNTIME, format!("Unsupported intrinsic function '{name}'"))),
        })
    }

    /// States.Format: `{}` placeholders filled in order; `\{`, `\}`, `\'` and `\\` literal;
    /// any other brace is an error. Null is written `null`.
    fn format(&mut self, args: &[Arg]) -> Result<Value, Failure> {
        let name = "States.Format";
        let template = match &args[0] {
            Arg::Str { raw, .. } => raw.clone(),
            other => match self.eval(other)? {
                Value::String(s) => s,
                _ => return Err(fail(name)),
            },
        };
        let mut values = Vec::new();
        for arg in &args[1..] {
            values.push(match self.eval(arg)? {
                Value::String(s) => s,
                v @ (Value::Number(_) | Value::Bool(_) | Value::Null) => v.to_string(),
                _ => return Err(fail(name)),
            });
        }
        let mut out = String::new();
        let mut chars = template.chars().peekable();
        let mut next = values.into_iter();
        let mut placeholders = 0;
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                '{' if chars.peek() == Some(&'}') => {
                    chars.next();
                    placeholders += 1;
                    out.push_str(&next.next().unwrap_or_default());
                }
                '{' | '}' => return Err(fail(name)),
                c => out.push(c),
            }
        }
        if placeholders != args.len() - 1 {
            return Err(fail(name));
        }
        Ok(Value::String(out))
    }
}

const INT32: std::ops::RangeInclusive<f64> = (i32::MIN as f64)..=(i32::MAX as f64);

fn limited<'a>(name: &str, data: &'a str) -> Result<&'a str, Failure> {
    if data.chars().count() > MAX_STRING {
        return Err(fail(name));
    }
    Ok(data)
}

/// States.ArrayRange: from `start` to `end` inclusive by `step`, at most 1000 elements.
fn range(start: i64, end: i64, step: i64) -> Option<Vec<Value>> {
    if step == 0 {
        return None;
    }
    let count = if (end - start).signum() * step.signum() < 0 { 0 } else { (end - start) / step + 1 };
    if count > MAX_RANGE {
        return None;
    }
    Some((0..count).map(|i| Value::from(start + i * step)).collect())
}

/// The lowercase hex digest of `data` under AWS's algorithm name.
fn hash(data: &str, algorithm: &str) -> Option<String> {
    use sha2::Digest;
    let bytes = data.as_bytes();
    let digest: Vec<u8> = match algorithm {
        "MD5" => brume_crypto::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        _ => return None,
    };
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// An integer in [start, end) from `random` in [0, 1).
pub fn random_in_range(start: i64, end: i64, random: f64) -> i64 {
    let span = (end - start) as f64;
    (start + (random.clamp(0.0, 1.0) * span) as i64).min(end - 1)
}

/// A number in [0, 1) fixed by `seed` (SplitMix64), so a seeded MathRandom repeats.
pub fn seeded_random(seed: i64) -> f64 {
    let mut z = (seed as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A number in [0, 1) from a fresh v4 UUID's random bits.
pub fn fresh_random() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64;
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(expression: &str, input: Value, expected: Result<Value, &str>) {
        let context = Scope::new(json!({"Execution": {"Name": "run-1"}}));
        let got = evaluate(expression, &input, &context, &mut || 0.5, &mut || "u-u-i-d".to_string());
        match expected {
            Ok(value) => assert_eq!(got, Ok(value), "{expression}"),
            Err(cause) => assert_eq!(got, Err(Failure::new(RUNTIME, cause)), "{expression}"),
        }
    }

    #[test]
    fn aws_guide_examples() {
        let cases: Vec<(&str, Value, Result<Value, &str>)> = vec![
            (
                "States.Format('Hello, my name is {}.', $.name)",
                json!({"name": "Arnav"}),
                Ok(json!("Hello, my name is Arnav.")),
            ),
            (
                "States.Format('Your order number is {} and total {}', $.order, 25)",
                json!({"order": 7}),
                Ok(json!("Your order number is 7 and total 25")),
            ),
            ("States.Format('\\{\\} \\'q\\' \\\\ {}', true)", json!({}), Ok(json!("{} 'q' \\ true"))),
            ("States.Format($.t, 'x')", json!({"t": "<{}>"}), Ok(json!("<x>"))),
            ("States.StringToJson($.someString)", json!({"someString": "{\"number\": 20}"}), Ok(json!({"number": 20}))),
            (
                "States.JsonToString($.someJson)",
                json!({"someJson": {"name": "Foo", "year": 2021}}),
                Ok(json!("{\"name\":\"Foo\",\"year\":2021}")),
            ),
            (
                "States.Array('Foo', 2020, $.someJson, null)",
                json!({"someJson": {"random": "abcdefg"}}),
                Ok(json!(["Foo", 2020, {"random": "abcdefg"}, null])),
            ),
            (
                "States.ArrayPartition($.inputArray, 4)",
                json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]}),
                Ok(json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])),
            ),
            (
                "States.ArrayContains($.inputArray, $.lookingFor)",
                json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5}),
                Ok(json!(true)),
            ),
            ("States.ArrayContains($.a, 'x')", json!({"a": [1]}), Ok(json!(false))),
            ("States.ArrayRange(1, 9, 2)", json!({}), Ok(json!([1, 3, 5, 7, 9]))),
            ("States.ArrayRange(5, 1, -2)", json!({}), Ok(json!([5, 3, 1]))),
            ("States.ArrayRange(1, 5, -1)", json!({}), Ok(json!([]))),
            (
                "States.ArrayGetItem($.inputArray, $.index)",
                json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "index": 5}),
                Ok(json!(6)),
            ),
            ("States.ArrayLength($.inputArray)", json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]}), Ok(json!(9))),
            (
                "States.ArrayUnique($.inputArray)",
                json!({"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]}),
                Ok(json!([1, 2, 3, 4])),
            ),
            ("States.Base64Encode($.input)", json!({"input": "Data to encode"}), Ok(json!("RGF0YSB0byBlbmNvZGU="))),
            ("States.Base64Decode($.base64)", json!({"base64": "RGF0YSB0byBlbmNvZGU="}), Ok(json!("Data to encode"))),
            (
                "States.Hash($.Data, $.Algorithm)",
                json!({"Data": "input data", "Algorithm": "SHA-1"}),
                Ok(json!("aaff4a450a104cd177d28d18d74485e8cae074b7")),
            ),
            ("States.Hash('abc', 'MD5')", json!({}), Ok(json!("900150983cd24fb0d6963f7d28e17f72"))),
            (
                "States.Hash('abc', 'SHA-256')",
                json!({}),
                Ok(json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")),
            ),
            (
                "States.JsonMerge($.json1, $.json2, false)",
                json!({"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}),
                Ok(json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3})),
            ),
            ("States.MathRandom($.start, $.end)", json!({"start": 1, "end": 999}), Ok(json!(500))),
            ("States.MathAdd($.value1, $.step)", json!({"value1": 111, "step": -1}), Ok(json!(110))),
            (
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "1,2,3,4,5", "splitter": ","}),
                Ok(json!(["1", "2", "3", "4", "5"])),
            ),
            (
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "This.is+a,test=string", "splitter": ".+,="}),
                Ok(json!(["This", "is", "a", "test", "string"])),
            ),
            ("States.UUID()", json!({}), Ok(json!("u-u-i-d"))),
            ("States.Format('{}', $$.Execution.Name)", json!({}), Ok(json!("run-1"))),
            ("States.ArrayLength(States.Array(1, 2, States.Array()))", json!({}), Ok(json!(3))),
            (
                "States.ArrayGetItem(States.StringSplit('a-b-c', '-'), States.MathAdd(States.ArrayLength(States.StringSplit('a-b-c', '-')), -1))",
                json!({}),
                Ok(json!("c")),
            ),
            ("States.Format('{}', $['a b'][0])", json!({"a b": ["x, y)"]}), Ok(json!("x, y)"))),
        ];
        for (expression, input, expected) in cases {
            check(expression, input, expected);
        }
    }

    #[test]
    fn aws_number_and_format_rules() {
        let cases: Vec<(&str, Value, Value)> = vec![
            ("States.MathAdd($.a, $.b)", json!({"a": 1.6, "b": 2.7}), json!(5)),
            ("States.MathAdd($.a, $.b)", json!({"a": 0.1, "b": 0.2}), json!(0)),
            ("States.MathAdd(2147483646, 1)", json!({}), json!(2147483647)),
            ("States.MathAdd(-2147483647, -1)", json!({}), json!(-2147483648)),
            ("States.ArrayPartition($.arr, 2.6)", json!({"arr": [1, 2, 3, 4, 5]}), json!([[1, 2], [3, 4], [5]])),
            ("States.ArrayRange(1.6, 1.4, 1)", json!({}), json!([1])),
            ("States.ArrayRange(5.4, -0.6, -2.4)", json!({}), json!([5, 3, 1])),
            ("States.ArrayRange(3, 3, -1)", json!({}), json!([3])),
            ("States.ArrayLength(States.ArrayRange(1000, 1, -1))", json!({}), json!(1000)),
            ("States.StringSplit($.s, ',')", json!({"s": ",a,,b,"}), json!(["a", "b"])),
            ("States.StringSplit($.s, ',')", json!({"s": ""}), json!([])),
            ("States.StringSplit($.s, 'ab')", json!({"s": "1a2b3ab4"}), json!(["1", "2", "3", "4"])),
            ("States.ArrayPartition($.arr, 2147483647)", json!({"arr": [1, 2, 3]}), json!([[1, 2, 3]])),
            ("States.ArrayPartition(States.Array(1,2,3,4,5), 2)", json!({}), json!([[1, 2], [3, 4], [5]])),
            (
                "States.Format('{}|{}|{}|{}', $.n, $.b, $.f, $.s)",
                json!({"n": null, "b": false, "f": 3.5, "s": "x"}),
                json!("null|false|3.5|x"),
            ),
            ("States.Format('no placeholders')", json!({}), json!("no placeholders")),
            ("States.Format('  {}  ', 'x')", json!({}), json!("  x  ")),
            (
                "States.Format('probe={}', States.JsonToString($.p))",
                json!({"p": [null, "", 0, true, [1]]}),
                json!("probe=[null,\"\",0,true,[1]]"),
            ),
            (
                "States.Format('Name: \\'{}\\', Surname: \"{}\"', 'G', 'M')",
                json!({}),
                json!("Name: 'G', Surname: \"M\""),
            ),
        ];
        for (expression, input, expected) in cases {
            check(expression, input, Ok(expected));
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |depth: usize| format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth));
        assert!(parse(&nested(100)).is_ok());
        // Refused before the parser recurses: 20,000 calls exhausted the stack and aborted Brume.
        let refused = parse(&nested(20_000)).unwrap_err();
        assert_eq!(refused, "Intrinsic functions nest deeper than 100 calls at position 1313");
        // Arguments are read without copying the rest of the expression each time.
        let wide = format!("States.Array({}true)", "true,".repeat(200_000));
        assert!(parse(&wide).is_ok());
    }

    #[test]
    fn failures() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("States.Format('{} {}', 1)", json!({}), "Invalid arguments in States.Format"),
            ("States.Format('{}', 1, 2)", json!({}), "Invalid arguments in States.Format"),
            ("States.Format('{}', $.o)", json!({"o": {}}), "Invalid arguments in States.Format"),
            ("States.Format('Hello {', 'x')", json!({}), "Invalid arguments in States.Format"),
            ("States.Format('Hello {{}}', 'x')", json!({}), "Invalid arguments in States.Format"),
            ("States.Format('}')", json!({}), "Invalid arguments in States.Format"),
            ("States.Format($.t, 'x')", json!({"t": 123}), "Invalid arguments in States.Format"),
            ("States.ArrayGetItem($.a, 3)", json!({"a": [1]}), "Invalid arguments in States.ArrayGetItem"),
            ("States.ArrayGetItem($.a, -1)", json!({"a": [1]}), "Invalid arguments in States.ArrayGetItem"),
            ("States.ArrayPartition($.a, 0)", json!({"a": [1]}), "Invalid arguments in States.ArrayPartition"),
            ("States.ArrayPartition($.a, 0.6)", json!({"a": [1]}), "Invalid arguments in States.ArrayPartition"),
            ("States.ArrayPartition($.a, -1)", json!({"a": [1]}), "Invalid arguments in States.ArrayPartition"),
            ("States.ArrayPartition($.a, '2')", json!({"a": [1]}), "Invalid arguments in States.ArrayPartition"),
            ("States.ArrayPartition('x', 2)", json!({}), "Invalid arguments in States.ArrayPartition"),
            ("States.ArrayRange(1, 1001, 1)", json!({}), "Invalid arguments in States.ArrayRange"),
            ("States.ArrayRange(1, 10, 0.49)", json!({}), "Invalid arguments in States.ArrayRange"),
            ("States.ArrayRange(1, 2, 0)", json!({}), "Invalid arguments in States.ArrayRange"),
            ("States.ArrayRange('a', 5, 1)", json!({}), "Invalid arguments in States.ArrayRange"),
            ("States.ArrayLength('x')", json!({}), "Invalid arguments in States.ArrayLength"),
            ("States.ArrayContains('x', 1)", json!({}), "Invalid arguments in States.ArrayContains"),
            ("States.Hash('x', 'SHA-3')", json!({}), "Invalid arguments in States.Hash"),
            ("States.JsonMerge($.a, $.a, true)", json!({"a": {}}), "Invalid arguments in States.JsonMerge"),
            ("States.JsonMerge($.a, 1, false)", json!({"a": {}}), "Invalid arguments in States.JsonMerge"),
            ("States.MathRandom(5, 5)", json!({}), "Invalid arguments in States.MathRandom"),
            ("States.MathRandom(1.4, 1.6)", json!({}), "Invalid arguments in States.MathRandom"),
            ("States.MathAdd(2147483647, 1)", json!({}), "Invalid arguments in States.MathAdd"),
            ("States.MathAdd(-2147483648, -1)", json!({}), "Invalid arguments in States.MathAdd"),
            ("States.MathAdd(3000000000, 1)", json!({}), "Invalid arguments in States.MathAdd"),
            ("States.MathAdd('1', 2)", json!({}), "Invalid arguments in States.MathAdd"),
            ("States.MathAdd(true, 1)", json!({}), "Invalid arguments in States.MathAdd"),
            ("States.MathAdd(null, 1)", json!({}), "Invalid arguments in States.MathAdd"),
            ("States.StringToJson('{x')", json!({}), "Invalid arguments in States.StringToJson"),
            ("States.StringToJson($.o)", json!({"o": {"a": 1}}), "Invalid arguments in States.StringToJson"),
            ("States.StringSplit(1, ',')", json!({}), "Invalid arguments in States.StringSplit"),
            ("States.Base64Decode('***')", json!({}), "Invalid arguments in States.Base64Decode"),
            ("States.Base64Encode($.s)", json!({"s": "x".repeat(10_001)}), "Invalid arguments in States.Base64Encode"),
            ("States.Nope(1)", json!({}), "Unsupported intrinsic function 'States.Nope'"),
            ("States.UUID(1)", json!({}), "Invalid number of arguments for States.UUID: 1"),
            ("States.MathAdd(1)", json!({}), "Invalid number of arguments for States.MathAdd: 1"),
            ("States.Array(1", json!({}), "Expected ',' or ')' in States.Array at position 14"),
            ("States.Array('x)", json!({}), "Unterminated string literal"),
            ("States.Array('a\\nb')", json!({}), "Invalid escape sequence '\\n' at position 15"),
            ("States.Array(1) x", json!({}), "Unexpected text after the function call at position 16"),
            ("States.ArrayPartition($.arr, )", json!({}), "Invalid argument at position 29"),
            (
                "States.ArrayLength($.missing)",
                json!({}),
                "Invalid path '$.missing' : No results for path: $['missing']",
            ),
        ];
        for (expression, input, cause) in cases {
            check(expression, input, Err(cause));
        }
    }

    #[test]
    fn randomness() {
        assert_eq!(random_in_range(1, 10, 0.0), 1);
        assert_eq!(random_in_range(1, 10, 0.999_999), 9);
        assert_eq!(random_in_range(-5, 5, 0.5), 0);
        assert_eq!(seeded_random(7), seeded_random(7));
        assert_ne!(seeded_random(7), seeded_random(8));
        for seed in 0..100 {
            assert!((0.0..1.0).contains(&seeded_random(seed)));
        }
        assert!((0.0..1.0).contains(&fresh_random()));
        let uuid = run("States.UUID()", &json!({}), &Scope::default()).unwrap();
        assert_eq!(uuid::Uuid::parse_str(uuid.as_str().unwrap()).unwrap().get_version_num(), 4);
        let random = run("States.MathRandom(1, 3)", &json!({}), &Scope::default()).unwrap();
        assert!(random == json!(1) || random == json!(2));
        let seeded = "States.MathRandom(0, 100, 42)";
        let a = evaluate(seeded, &json!({}), &Scope::default(), &mut || 0.1, &mut String::new).unwrap();
        let b = evaluate(seeded, &json!({}), &Scope::default(), &mut || 0.9, &mut String::new).unwrap();
        assert_eq!(a, b);
    }
}
