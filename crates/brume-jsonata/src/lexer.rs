//! The tokenizer: numbers, strings, names (plain and backquoted), variables, operators,
//! regex literals (where an operand is expected) and comments.

use crate::Error;
use crate::errors::{Arg, error};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Num(f64),
    Str(String),
    Name(String),
    /// `$name`; `$` alone is the context, `$$` the root.
    Var(String),
    /// `true`, `false`, `null`.
    Value(Option<bool>),
    Regex {
        pattern: String,
        flags: String,
    },
    Op(&'static str),
    End,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Char offset of the token's start.
    pub start: usize,
    /// Char offset just past the token, which jsonata-js reports as the error position.
    pub end: usize,
}

/// Two-character operators first, so that `**` is not read as `*` `*`.
const OPERATORS: &[&str] = &[
    "**", "..", ":=", "!=", "<=", ">=", "~>", "?:", "??", ".", "[", "]", "{", "}", "(", ")", ",", "@", "#", ";", ":",
    "?", "+", "-", "*", "/", "%", "|", "=", "<", ">", "^", "&", "!", "~",
];

/// What ends a name: whitespace or an operator's character.
fn ends_name(c: char) -> bool {
    " \t\n\r.[]{}(),@#;:?+-*/%|=<>^&!~".contains(c)
}

pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, Error> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && " \t\n\r".contains(chars[i]) {
            i += 1;
        }
        if i + 1 < chars.len() && chars[i] == '/' && chars[i + 1] == '*' {
            let start = i;
            i += 2;
            loop {
                if i + 1 >= chars.len() {
                    return Err(error("S0106", start, &[]));
                }
                if chars[i] == '*' && chars[i + 1] == '/' {
                    i += 2;
                    break;
                }
                i += 1;
            }
            continue;
        }
        let start = i;
        if i >= chars.len() {
            tokens.push(Token { tok: Tok::End, start, end: i });
            return Ok(tokens);
        }
        let c = chars[i];
        let operand_expected = match tokens.last() {
            None => true,
            Some(t) => matches!(t.tok, Tok::Op(op) if !matches!(op, ")" | "]" | "}")),
        };
        if c == '/' && operand_expected {
            let (pattern, flags, next) = regex_literal(&chars, i)?;
            i = next;
            tokens.push(Token { tok: Tok::Regex { pattern, flags }, start, end: i });
            continue;
        }
        if c == '"' || c == '\'' {
            let (s, next) = string_literal(&chars, i)?;
            i = next;
            tokens.push(Token { tok: Tok::Str(s), start, end: i });
            continue;
        }
        if c.is_ascii_digit() {
            let (n, next) = number(&chars, i)?;
            i = next;
            tokens.push(Token { tok: Tok::Num(n), start, end: i });
            continue;
        }
        if c == '`' {
            let Some(len) = chars[i + 1..].iter().position(|&c| c == '`') else {
                return Err(error("S0105", chars.len(), &[]));
            };
            let name: String = chars[i + 1..i + 1 + len].iter().collect();
            i += len + 2;
            tokens.push(Token { tok: Tok::Name(name), start, end: i });
            continue;
        }
        if let Some(op) = OPERATORS.iter().find(|op| {
            let n = op.chars().count();
            i + n <= chars.len() && chars[i..i + n].iter().copied().eq(op.chars())
        }) {
            i += op.chars().count();
            tokens.push(Token { tok: Tok::Op(op), start, end: i });
            continue;
        }
        let variable = c == '$';
        if variable {
            i += 1;
        }
        let name_start = i;
        while i < chars.len() && !ends_name(chars[i]) {
            i += 1;
        }
        let name: String = chars[name_start..i].iter().collect();
        let tok = if variable {
            Tok::Var(name)
        } else {
            match name.as_str() {
                "and" => Tok::Op("and"),
                "or" => Tok::Op("or"),
                "in" => Tok::Op("in"),
                "true" => Tok::Value(Some(true)),
                "false" => Tok::Value(Some(false)),
                "null" => Tok::Value(None),
                _ => Tok::Name(name),
            }
        };
        tokens.push(Token { tok, start, end: i });
    }
}

fn number(chars: &[char], start: usize) -> Result<(f64, usize), Error> {
    let mut i = start;
    let digits = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(&mut i);
    if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
        i += 1;
        digits(&mut i);
    }
    if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
        let mut j = i + 1;
        if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
            j += 1;
        }
        if j < chars.len() && chars[j].is_ascii_digit() {
            i = j;
            digits(&mut i);
        }
    }
    let text: String = chars[start..i].iter().collect();
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok((n, i)),
        _ => Err(error("S0102", i, &[("token", Arg::Text(&text))])),
    }
}

fn string_literal(chars: &[char], start: usize) -> Result<(String, usize), Error> {
    let quote = chars[start];
    let mut out = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == quote {
            return Ok((out, i + 1));
        }
        if c == '\\' {
            i += 1;
            let Some(&e) = chars.get(i) else { break };
            match e {
                '"' | '\\' | '/' => out.push(e),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let unit = |at: usize| -> Option<u32> {
                        let hex: String = chars.get(at..at + 4)?.iter().collect();
                        (hex.len() == 4).then(|| u32::from_str_radix(&hex, 16).ok()).flatten()
                    };
                    let Some(code) = unit(i + 1) else {
                        return Err(error("S0104", i, &[]));
                    };
                    i += 4;
                    if (0xD800..0xDC00).contains(&code)
                        && chars.get(i + 1) == Some(&'\\')
                        && chars.get(i + 2) == Some(&'u')
                        && let Some(low) = unit(i + 3).filter(|l| (0xDC00..0xE000).contains(l))
                    {
                        i += 6;
                        out.push(
                            char::from_u32(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)).unwrap_or('\u{FFFD}'),
                        );
                    } else {
                        out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                    }
                }
                other => return Err(error("S0103", i, &[("token", Arg::Text(&other.to_string()))])),
            }
        } else {
            out.push(c);
        }
        i += 1;
    }
    Err(error("S0101", i, &[]))
}

fn regex_literal(chars: &[char], start: usize) -> Result<(String, String, usize), Error> {
    let mut i = start + 1;
    let mut depth = 0i32;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && depth == 0 && (i == start + 1 || chars[i - 1] != '\\' || backslashes_even(chars, i)) {
            let pattern: String = chars[start + 1..i].iter().collect();
            if pattern.is_empty() {
                return Err(error("S0301", i, &[]));
            }
            i += 1;
            let flag_start = i;
            while i < chars.len() && (chars[i] == 'i' || chars[i] == 'm') {
                i += 1;
            }
            let flags: String = chars[flag_start..i].iter().collect();
            return Ok((pattern, flags, i));
        }
        if (c == '(' || c == '[' || c == '{') && backslashes_even(chars, i) {
            depth += 1;
        } else if (c == ')' || c == ']' || c == '}') && backslashes_even(chars, i) {
            depth -= 1;
        }
        i += 1;
    }
    Err(error("S0302", i, &[]))
}

/// Whether the character at `at` is not escaped.
fn backslashes_even(chars: &[char], at: usize) -> bool {
    chars[..at].iter().rev().take_while(|&&c| c == '\\').count() % 2 == 0
}
