//! JSON filter patterns: `{ $.level = "ERROR" }`, `{ $.latency > 100 && $.user.id != "x*" }`,
//! `{ ($.a IS TRUE) || $.b NOT EXISTS }`. A selector walks the event's JSON (`$.a.b[0]`);
//! strings compare with `*` wildcards, numbers by value; messages that are not JSON objects
//! never match.

use brume_core::AwsError;
use brume_core::nesting::Nesting;
use serde_json::Value;

use crate::error;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Op(Op),
    Selector(Vec<Step>),
    Quoted(String),
    Word(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, PartialEq)]
enum Literal {
    Text(String),
    Number(f64),
}

#[derive(Debug, PartialEq)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Vec<Step>, Op, Literal),
    Is(Vec<Step>, Value),
    NotExists(Vec<Step>),
}

/// A parsed JSON filter pattern.
#[derive(Debug)]
pub struct JsonPattern(Expr);

fn invalid() -> AwsError {
    error::invalid_parameter("Invalid filter pattern")
}

fn tokenize(text: &str) -> Result<Vec<Token>, AwsError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let (token, len) = match (c, next) {
            (c, _) if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ('(', _) => (Token::Open, 1),
            (')', _) => (Token::Close, 1),
            ('&', Some('&')) => (Token::And, 2),
            ('|', Some('|')) => (Token::Or, 2),
            ('!', Some('=')) => (Token::Op(Op::Ne), 2),
            ('<', Some('=')) => (Token::Op(Op::Le), 2),
            ('>', Some('=')) => (Token::Op(Op::Ge), 2),
            ('<', _) => (Token::Op(Op::Lt), 1),
            ('>', _) => (Token::Op(Op::Gt), 1),
            ('=', _) => (Token::Op(Op::Eq), 1),
            ('"', _) => {
                let mut text = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(invalid()),
                        Some('\\') => {
                            text.extend(chars.get(j + 1));
                            j += 2;
                        }
                        Some('"') => break,
                        Some(&c) => {
                            text.push(c);
                            j += 1;
                        }
                    }
                }
                (Token::Quoted(text), j + 1 - i)
            }
            _ => {
                let word: String =
                    chars[i..].iter().take_while(|c| !c.is_whitespace() && !"()&|!<>=\"".contains(**c)).collect();
                if word.is_empty() {
                    return Err(invalid());
                }
                let len = word.chars().count();
                if word.starts_with('$') { (Token::Selector(selector(&word)?), len) } else { (Token::Word(word), len) }
            }
        };
        tokens.push(token);
        i += len;
    }
    Ok(tokens)
}

/// `$.a.b[0].c` as steps.
fn selector(text: &str) -> Result<Vec<Step>, AwsError> {
    let mut rest = text.strip_prefix('$').ok_or_else(invalid)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return Err(invalid());
            }
            steps.push(Step::Key(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(invalid)?;
            steps.push(Step::Index(after[..end].parse().map_err(|_| invalid())?));
            rest = &after[end + 1..];
        } else {
            return Err(invalid());
        }
    }
    if steps.is_empty() {
        return Err(invalid());
    }
    Ok(steps)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// How many groups enclose the current token.
    depth: usize,
}

impl Nesting for Parser {
    /// Far deeper than a pattern of 1,024 characters needs to group its conditions.
    const MAX: usize = 100;
    type Error = AwsError;

    fn depth(&mut self) -> &mut usize {
        &mut self.depth
    }

    fn too_deep(&self) -> AwsError {
        invalid()
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<Token, AwsError> {
        let token = self.tokens.get(self.at).cloned().ok_or_else(invalid)?;
        self.at += 1;
        Ok(token)
    }

    fn or(&mut self) -> Result<Expr, AwsError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, AwsError> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, AwsError> {
        match self.next()? {
            Token::Open => {
                let inner = self.nested(Self::or)?;
                match self.next()? {
                    Token::Close => Ok(inner),
                    _ => Err(invalid()),
                }
            }
            Token::Selector(steps) => self.condition(steps),
            _ => Err(invalid()),
        }
    }

    fn condition(&mut self, steps: Vec<Step>) -> Result<Expr, AwsError> {
        match self.next()? {
            Token::Op(op) => {
                let literal = match self.next()? {
                    Token::Quoted(text) => Literal::Text(text),
                    Token::Word(word) => match word.parse::<f64>() {
                        Ok(n) => Literal::Number(n),
                        Err(_) => Literal::Text(word),
                    },
                    _ => return Err(invalid()),
                };
                let ordering = !matches!(op, Op::Eq | Op::Ne);
                if ordering && !matches!(literal, Literal::Number(_)) {
                    return Err(invalid());
                }
                Ok(Expr::Compare(steps, op, literal))
            }
            Token::Word(w) if w.eq_ignore_ascii_case("IS") => {
                let value = match self.next()? {
                    Token::Word(v) if v.eq_ignore_ascii_case("TRUE") => Value::Bool(true),
                    Token::Word(v) if v.eq_ignore_ascii_case("FALSE") => Value::Bool(false),
                    Token::Word(v) if v.eq_ignore_ascii_case("NULL") => Value::Null,
                    _ => return Err(invalid()),
                };
                Ok(Expr::Is(steps, value))
            }
            Token::Word(w) if w.eq_ignore_ascii_case("NOT") => match self.next()? {
                Token::Word(v) if v.eq_ignore_ascii_case("EXISTS") => Ok(Expr::NotExists(steps)),
                _ => Err(invalid()),
            },
            _ => Err(invalid()),
        }
    }
}

/// `text` matches `pattern`, where `*` stands for any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

fn select<'a>(mut value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    for step in steps {
        value = match step {
            Step::Key(k) => value.get(k)?,
            Step::Index(i) => value.get(*i)?,
        };
    }
    Some(value)
}

fn eval(expr: &Expr, doc: &Value) -> bool {
    match expr {
        Expr::And(a, b) => eval(a, doc) && eval(b, doc),
        Expr::Or(a, b) => eval(a, doc) || eval(b, doc),
        Expr::NotExists(steps) => select(doc, steps).is_none(),
        Expr::Is(steps, expected) => select(doc, steps) == Some(expected),
        Expr::Compare(steps, op, literal) => {
            let Some(value) = select(doc, steps) else { return false };
            match (literal, value) {
                (Literal::Number(n), Value::Number(v)) => {
                    let v = v.as_f64().unwrap_or(f64::NAN);
                    match op {
                        Op::Eq => v == *n,
                        Op::Ne => v != *n,
                        Op::Lt => v < *n,
                        Op::Le => v <= *n,
                        Op::Gt => v > *n,
                        Op::Ge => v >= *n,
                    }
                }
                (Literal::Text(t), Value::String(s)) => match op {
                    Op::Eq => wildcard(t, s),
                    Op::Ne => !wildcard(t, s),
                    _ => false,
                },
                (Literal::Number(n), Value::String(s)) if matches!(op, Op::Eq | Op::Ne) => {
                    (*s == number_text(*n)) == (*op == Op::Eq)
                }
                _ => *op == Op::Ne,
            }
        }
    }
}

/// A number literal as it would have been written, for comparing with a string field.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { n.to_string() }
}

impl JsonPattern {
    /// Parses `{ … }` (the braces included).
    pub fn parse(text: &str) -> Result<JsonPattern, AwsError> {
        let inner = text.trim().strip_prefix('{').and_then(|t| t.strip_suffix('}')).ok_or_else(invalid)?;
        let mut parser = Parser { tokens: tokenize(inner)?, at: 0, depth: 0 };
        let expr = parser.or()?;
        if parser.at != parser.tokens.len() {
            return Err(invalid());
        }
        Ok(JsonPattern(expr))
    }

    pub fn matches(&self, message: &str) -> bool {
        match serde_json::from_str::<Value>(message) {
            Ok(doc @ Value::Object(_)) => eval(&self.0, &doc),
            _ => false,
        }
    }
}
