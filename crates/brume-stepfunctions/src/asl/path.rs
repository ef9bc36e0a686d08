//! JSONPath as Step Functions evaluates it (AWS uses Jayway JsonPath): parsing, selection
//! from the input or the context object, and ResultPath's placement of a result.
//!
//! Supported: `$`, `$$` (context), `$name` (a workflow variable), `.name`, `['name']`,
//! `["name"]`, `[n]` and `[-n]`, `[*]` and `.*`, `..name` and `..*` (deep scan), unions `['a','b']` and `[0,2]`, slices
//! `[start:end:step]`, filters `[?(@.x > 1 && @.y == 'z')]` with `== != < <= > >=`, `&&`,
//! `||`, `!`, parentheses and existence tests (`[?(@.x)]`). Not supported: filter
//! functions (`length()`, `min()`…), regex `=~` and the `in`/`nin`/`subsetof` operators.
//!
//! A definite path (names and single indices only) selects one value and fails when it
//! finds nothing; any other path selects the list of what it finds, possibly empty.

use serde_json::{Map, Value};
use std::cmp::Ordering;

/// A parsed JSONPath.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub root: Root,
    pub segments: Vec<Segment>,
}

/// What a path selects from: `$` the input, `$$` the context object, `$name` a variable.
#[derive(Clone, Debug, PartialEq)]
pub enum Root {
    Input,
    Context,
    Variable(String),
}

/// One step of a path; `deep` for `..`, which applies the selector at every depth.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub deep: bool,
    pub selector: Selector,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Selector {
    Name(String),
    Index(i64),
    Wildcard,
    Names(Vec<String>),
    Indices(Vec<i64>),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Filter(Expr),
}

/// A filter expression inside `[?( … )]`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Operand, CompareOp, Operand),
    Exists(Operand),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// `@…` (relative to the current item) or `$…` (from the root).
    Path {
        current: bool,
        segments: Vec<Segment>,
    },
    Literal(Value),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Path {
    /// Parses `text`, which must start with `$`; the error says why not.
    pub fn parse(text: &str) -> Result<Path, String> {
        let mut parser = Parser { chars: text.chars().collect(), pos: 0 };
        if !parser.eat('$') {
            return Err(format!("Path must start with '$': {text}"));
        }
        let root = if parser.eat('$') {
            Root::Context
        } else if parser.peek().is_some_and(|c| c.is_alphabetic() || c == '_') {
            let start = parser.pos;
            while parser.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                parser.pos += 1;
            }
            Root::Variable(parser.chars[start..parser.pos].iter().collect())
        } else {
            Root::Input
        };
        let segments = parser.segments(false)?;
        if parser.pos < parser.chars.len() {
            return Err(format!(
                "Unexpected character '{}' at position {} in path {text}",
                parser.peek_char(),
                parser.pos
            ));
        }
        Ok(Path { root, segments })
    }

    /// A definite path selects at most one value: names and single indices only.
    pub fn is_definite(&self) -> bool {
        self.segments.iter().all(|s| !s.deep && matches!(s.selector, Selector::Name(_) | Selector::Index(_)))
    }

    /// Jayway's normalized form of a definite prefix: `$['a'][0]`.
    pub fn normalized(&self, upto: usize) -> String {
        let mut out = match &self.root {
            Root::Input => "$".to_string(),
            Root::Context => "$$".to_string(),
            Root::Variable(name) => format!("${name}"),
        };
        for segment in &self.segments[..upto.min(self.segments.len())] {
            match &segment.selector {
                Selector::Name(name) => out.push_str(&format!("['{name}']")),
                Selector::Index(index) => out.push_str(&format!("[{index}]")),
                _ => out.push_str("[*]"),
            }
        }
        out
    }

    /// What the path selects from `root`: one value for a definite path, else an array.
    /// The error is Jayway's reason (`No results for path: $['a']`).
    pub fn evaluate(&self, root: &Value) -> Result<Value, String> {
        if self.is_definite() {
            let mut current = root;
            for (i, segment) in self.segments.iter().enumerate() {
                current = match (&segment.selector, current) {
                    (Selector::Name(name), Value::Object(map)) => map.get(name),
                    (Selector::Name(name), other) => {
                        return Err(format!(
                            "Expected to find an object with property ['{name}'] in path {} but found '{}'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonNodeJsonProvider'.",
                            self.normalized(i),
                            java_type(other)
                        ));
                    }
                    (Selector::Index(index), Value::Array(items)) => array_index(items, *index).map(|i| &items[i]),
                    _ => None,
                }
                .ok_or_else(|| format!("No results for path: {}", self.normalized(i + 1)))?;
            }
            return Ok(current.clone());
        }
        let mut current = vec![root];
        for segment in &self.segments {
            let mut next = Vec::new();
            for value in current {
                if segment.deep {
                    deep_apply(&segment.selector, value, root, &mut next);
                } else {
                    apply(&segment.selector, value, root, &mut next);
                }
            }
            current = next;
        }
        Ok(Value::Array(current.into_iter().cloned().collect()))
    }
}

/// The Java class Jayway names for a value in its messages.
fn java_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(n) if n.is_f64() => "java.lang.Double",
        Value::Number(_) => "java.lang.Integer",
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.LinkedHashMap",
    }
}

fn array_index(items: &[Value], index: i64) -> Option<usize> {
    let len = items.len() as i64;
    let actual = if index < 0 { len + index } else { index };
    (0..len).contains(&actual).then_some(actual as usize)
}

fn apply<'a>(selector: &Selector, value: &'a Value, root: &'a Value, out: &mut Vec<&'a Value>) {
    match (selector, value) {
        (Selector::Name(name), Value::Object(map)) => out.extend(map.get(name)),
        (Selector::Names(names), Value::Object(map)) => out.extend(names.iter().filter_map(|n| map.get(n))),
        (Selector::Index(index), Value::Array(items)) => out.extend(array_index(items, *index).map(|i| &items[i])),
        (Selector::Indices(indices), Value::Array(items)) => {
            out.extend(indices.iter().filter_map(|i| array_index(items, *i)).map(|i| &items[i]))
        }
        (Selector::Wildcard, Value::Object(map)) => out.extend(map.values()),
        (Selector::Wildcard, Value::Array(items)) => out.extend(items.iter()),
        (Selector::Slice(start, end, step), Value::Array(items)) => {
            out.extend(slice_indices(items.len() as i64, *start, *end, *step).into_iter().map(|i| &items[i]))
        }
        (Selector::Filter(expr), Value::Array(items)) => {
            out.extend(items.iter().filter(|item| filter_matches(expr, item, root)))
        }
        (Selector::Filter(expr), Value::Object(_)) if filter_matches(expr, value, root) => out.push(value),
        _ => {}
    }
}

fn deep_apply<'a>(selector: &Selector, value: &'a Value, root: &'a Value, out: &mut Vec<&'a Value>) {
    // A filter under `..` tests the elements of each array, not the arrays themselves.
    if !(matches!(selector, Selector::Filter(_)) && value.is_object()) {
        apply(selector, value, root, out);
    }
    match value {
        Value::Object(map) => map.values().for_each(|v| deep_apply(selector, v, root, out)),
        Value::Array(items) => items.iter().for_each(|v| deep_apply(selector, v, root, out)),
        _ => {}
    }
}

fn slice_indices(len: i64, start: Option<i64>, end: Option<i64>, step: Option<i64>) -> Vec<usize> {
    let step = step.unwrap_or(1);
    if step == 0 {
        return Vec::new();
    }
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
    let mut out = Vec::new();
    if step > 0 {
        let (mut i, end) = (start.map_or(0, norm), end.map_or(len, norm));
        while i < end {
            out.push(i as usize);
            i += step;
        }
    } else {
        let mut i = start.map_or(len - 1, |s| if s < 0 { len + s } else { s.min(len - 1) });
        let end = end.map_or(-1, |e| if e < 0 { (len + e).max(-1) } else { e });
        while i > end && i >= 0 {
            out.push(i as usize);
            i += step;
        }
    }
    out
}

fn filter_matches(expr: &Expr, item: &Value, root: &Value) -> bool {
    match expr {
        Expr::Or(a, b) => filter_matches(a, item, root) || filter_matches(b, item, root),
        Expr::And(a, b) => filter_matches(a, item, root) && filter_matches(b, item, root),
        Expr::Not(a) => !filter_matches(a, item, root),
        Expr::Exists(operand) => operand_value(operand, item, root).is_some(),
        Expr::Compare(left, op, right) => {
            let (Some(left), Some(right)) = (operand_value(left, item, root), operand_value(right, item, root)) else {
                return false;
            };
            match op {
                CompareOp::Eq => json_equal(&left, &right),
                CompareOp::Ne => !json_equal(&left, &right),
                _ => {
                    let ordering = match (&left, &right) {
                        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
                        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                        _ => None,
                    };
                    ordering.is_some_and(|o| match op {
                        CompareOp::Lt => o == Ordering::Less,
                        CompareOp::Le => o != Ordering::Greater,
                        CompareOp::Gt => o == Ordering::Greater,
                        _ => o != Ordering::Less,
                    })
                }
            }
        }
    }
}

/// Equality with numbers compared by value (`1 == 1.0`).
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn operand_value(operand: &Operand, item: &Value, root: &Value) -> Option<Value> {
    match operand {
        Operand::Literal(value) => Some(value.clone()),
        Operand::Path { current, segments } => {
            let path = Path { root: Root::Input, segments: segments.clone() };
            let value = path.evaluate(if *current { item } else { root }).ok()?;
            if path.is_definite() { Some(value) } else { value.as_array().and_then(|items| items.first().cloned()) }
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_char(&self) -> char {
        self.peek().unwrap_or(' ')
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.chars.len() >= self.pos + n && self.chars[self.pos..self.pos + n].iter().copied().eq(s.chars()) {
            self.pos += n;
            true
        } else {
            false
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Segments until the end, or (inside a filter) until a character that cannot
    /// continue a path.
    fn segments(&mut self, in_filter: bool) -> Result<Vec<Segment>, String> {
        let mut segments = Vec::new();
        loop {
            match self.peek() {
                Some('.') => {
                    self.pos += 1;
                    let deep = self.eat('.');
                    if deep && self.peek() == Some('[') {
                        self.pos += 1;
                        segments.push(Segment { deep, selector: self.bracket()? });
                    } else if self.eat('*') {
                        segments.push(Segment { deep, selector: Selector::Wildcard });
                    } else {
                        let name = self.dot_name();
                        if name.is_empty() {
                            return Err(format!(
                                "Path must not end with a '.' or contain an empty name at position {}",
                                self.pos
                            ));
                        }
                        segments.push(Segment { deep, selector: Selector::Name(name) });
                    }
                }
                Some('[') => {
                    self.pos += 1;
                    segments.push(Segment { deep: false, selector: self.bracket()? });
                }
                None => return Ok(segments),
                Some(_) if in_filter => return Ok(segments),
                Some(c) => return Err(format!("Unexpected character '{c}' at position {}", self.pos)),
            }
        }
    }

    fn dot_name(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| !matches!(c, '.' | '[' | ' ' | ')' | '=' | '!' | '<' | '>' | '&' | '|' | ','))
        {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// What follows a `[` up to and including its `]`.
    fn bracket(&mut self) -> Result<Selector, String> {
        self.skip_spaces();
        let selector = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Selector::Wildcard
            }
            Some('?') => {
                self.pos += 1;
                self.skip_spaces();
                if !self.eat('(') {
                    return Err("Filter must start with '[?('".to_string());
                }
                let expr = self.or_expr()?;
                self.skip_spaces();
                if !self.eat(')') {
                    return Err(format!("Expected ')' at position {}", self.pos));
                }
                Selector::Filter(expr)
            }
            Some('\'' | '"') => {
                let mut names = vec![self.quoted()?];
                loop {
                    self.skip_spaces();
                    if !self.eat(',') {
                        break;
                    }
                    self.skip_spaces();
                    names.push(self.quoted()?);
                }
                if names.len() == 1 { Selector::Name(names.remove(0)) } else { Selector::Names(names) }
            }
            _ => self.indices()?,
        };
        self.skip_spaces();
        if !self.eat(']') {
            return Err(format!("Expected ']' at position {}", self.pos));
        }
        Ok(selector)
    }

    fn indices(&mut self) -> Result<Selector, String> {
        let first = self.integer();
        self.skip_spaces();
        if self.peek() == Some(':') {
            self.pos += 1;
            let end = self.integer();
            let step = if self.eat(':') { self.integer() } else { None };
            return Ok(Selector::Slice(first, end, step));
        }
        let mut indices = vec![first.ok_or_else(|| format!("Expected an index at position {}", self.pos))?];
        loop {
            self.skip_spaces();
            if !self.eat(',') {
                break;
            }
            self.skip_spaces();
            indices.push(self.integer().ok_or_else(|| format!("Expected an index at position {}", self.pos))?);
        }
        Ok(if indices.len() == 1 { Selector::Index(indices[0]) } else { Selector::Indices(indices) })
    }

    fn integer(&mut self) -> Option<i64> {
        self.skip_spaces();
        let start = self.pos;
        self.eat('-');
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let value = text.parse().ok();
        if value.is_none() {
            self.pos = start;
        }
        value
    }

    fn quoted(&mut self) -> Result<String, String> {
        let quote = self.peek().ok_or("Expected a quoted name")?;
        if quote != '\'' && quote != '"' {
            return Err(format!("Expected a quoted name at position {}", self.pos));
        }
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err("Unterminated quoted name".to_string()),
                Some('\\') => {
                    self.pos += 1;
                    out.extend(self.peek());
                    self.pos += 1;
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn or_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and_expr()?;
        loop {
            self.skip_spaces();
            if !self.eat_str("||") {
                return Ok(left);
            }
            left = Expr::Or(Box::new(left), Box::new(self.and_expr()?));
        }
    }

    fn and_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.unary_expr()?;
        loop {
            self.skip_spaces();
            if !self.eat_str("&&") {
                return Ok(left);
            }
            left = Expr::And(Box::new(left), Box::new(self.unary_expr()?));
        }
    }

    fn unary_expr(&mut self) -> Result<Expr, String> {
        self.skip_spaces();
        if self.peek() == Some('!') && self.chars.get(self.pos + 1) != Some(&'=') {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary_expr()?)));
        }
        if self.eat('(') {
            let expr = self.or_expr()?;
            self.skip_spaces();
            if !self.eat(')') {
                return Err(format!("Expected ')' at position {}", self.pos));
            }
            return Ok(expr);
        }
        let left = self.operand()?;
        self.skip_spaces();
        let op = [("==", CompareOp::Eq), ("!=", CompareOp::Ne), ("<=", CompareOp::Le), (">=", CompareOp::Ge)]
            .into_iter()
            .chain([("<", CompareOp::Lt), (">", CompareOp::Gt)])
            .find(|(text, _)| self.eat_str(text))
            .map(|(_, op)| op);
        match op {
            Some(op) => {
                self.skip_spaces();
                Ok(Expr::Compare(left, op, self.operand()?))
            }
            None => Ok(Expr::Exists(left)),
        }
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.skip_spaces();
        match self.peek() {
            Some(c @ ('@' | '$')) => {
                self.pos += 1;
                Ok(Operand::Path { current: c == '@', segments: self.segments(true)? })
            }
            Some('\'' | '"') => Ok(Operand::Literal(Value::String(self.quoted()?))),
            _ => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.')) {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                serde_json::from_str::<Value>(&text)
                    .ok()
                    .filter(|v| !v.is_object() && !v.is_array())
                    .map(Operand::Literal)
                    .ok_or_else(|| format!("Invalid filter operand '{text}' at position {start}"))
            }
        }
    }
}

/// ResultPath: `result` placed in `input` at `path` (a definite path on the input),
/// creating missing objects on the way. The error is why it could not be placed.
pub fn place(path: &Path, input: &Value, result: Value) -> Result<Value, ()> {
    if path.root != Root::Input || !path.is_definite() {
        return Err(());
    }
    if path.segments.is_empty() {
        return Ok(result);
    }
    let mut output = input.clone();
    let mut current = &mut output;
    let last = path.segments.len() - 1;
    for (i, segment) in path.segments.iter().enumerate() {
        current = match (&segment.selector, current) {
            (Selector::Name(name), Value::Object(map)) => {
                if i == last {
                    map.insert(name.clone(), result);
                    return Ok(output);
                }
                map.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()))
            }
            (Selector::Index(index), Value::Array(items)) => {
                let at = array_index(items, *index).ok_or(())?;
                if i == last {
                    items[at] = result;
                    return Ok(output);
                }
                &mut items[at]
            }
            _ => return Err(()),
        };
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(path: &str, input: Value, expected: Result<Value, &str>) {
        let got = Path::parse(path).and_then(|p| p.evaluate(&input));
        assert_eq!(got, expected.map_err(str::to_string), "path {path}");
    }

    #[test]
    fn selects() {
        let store = json!({"store": {"book": [
            {"category": "reference", "author": "Nigel Rees", "price": 8.95},
            {"category": "fiction", "author": "Evelyn Waugh", "price": 12.99},
            {"category": "fiction", "author": "J. R. R. Tolkien", "isbn": "0-395-19395-8", "price": 22.99}
        ], "bicycle": {"color": "red", "price": 19.95}}});
        let cases: Vec<(&str, Value, Result<Value, &str>)> = vec![
            ("$", json!({"a": 1}), Ok(json!({"a": 1}))),
            ("$.a.b", json!({"a": {"b": [1, 2]}}), Ok(json!([1, 2]))),
            ("$['a b']", json!({"a b": 3}), Ok(json!(3))),
            ("$[\"a\"]['b']", json!({"a": {"b": 4}}), Ok(json!(4))),
            ("$.a[0]", json!({"a": [5, 6]}), Ok(json!(5))),
            ("$.a[-1]", json!({"a": [5, 6]}), Ok(json!(6))),
            ("$.a[1].b", json!({"a": [{}, {"b": 7}]}), Ok(json!(7))),
            ("$.missing", json!({"a": 1}), Err("No results for path: $['missing']")),
            ("$.a.b", json!({"a": {}}), Err("No results for path: $['a']['b']")),
            ("$.a[3]", json!({"a": [1]}), Err("No results for path: $['a'][3]")),
            (
                "$.a",
                json!("x"),
                Err(
                    "Expected to find an object with property ['a'] in path $ but found 'java.lang.String'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonNodeJsonProvider'.",
                ),
            ),
            ("$.store.book[*].author", store.clone(), Ok(json!(["Nigel Rees", "Evelyn Waugh", "J. R. R. Tolkien"]))),
            ("$..author", store.clone(), Ok(json!(["Nigel Rees", "Evelyn Waugh", "J. R. R. Tolkien"]))),
            ("$.store.*.color", store.clone(), Ok(json!(["red"]))),
            ("$..book[2].isbn", store.clone(), Ok(json!(["0-395-19395-8"]))),
            ("$..book[-1:].price", store.clone(), Ok(json!([22.99]))),
            ("$..book[0,1].price", store.clone(), Ok(json!([8.95, 12.99]))),
            ("$..book[:2].category", store.clone(), Ok(json!(["reference", "fiction"]))),
            ("$..book[?(@.isbn)].price", store.clone(), Ok(json!([22.99]))),
            ("$..book[?(@.price < 10)].author", store.clone(), Ok(json!(["Nigel Rees"]))),
            ("$.store.book[?(@.category == 'fiction' && @.price > 20)].price", store.clone(), Ok(json!([22.99]))),
            (
                "$.store.book[?(@.price <= 8.95 || @.author == \"Evelyn Waugh\")].price",
                store.clone(),
                Ok(json!([8.95, 12.99])),
            ),
            ("$.store.book[?(!(@.category != 'reference'))].price", store.clone(), Ok(json!([8.95]))),
            ("$.store.bicycle['color','price']", store.clone(), Ok(json!(["red", 19.95]))),
            ("$.a[*].b", json!({"a": [{"b": 1}, {"c": 2}, {"b": 3}]}), Ok(json!([1, 3]))),
            ("$.none[*]", json!({}), Ok(json!([]))),
            ("$.a[::-1]", json!({"a": [1, 2, 3]}), Ok(json!([3, 2, 1]))),
            ("$.a[1:]", json!({"a": [1, 2, 3]}), Ok(json!([2, 3]))),
            ("$.a[?(@ > 1)]", json!({"a": [1, 2, 3]}), Ok(json!([2, 3]))),
            ("a.b", json!({}), Err("Path must start with '$': a.b")),
            ("$.a.", json!({}), Err("Path must not end with a '.' or contain an empty name at position 4")),
            ("$.a[", json!({}), Err("Expected an index at position 4")),
        ];
        for (path, input, expected) in cases {
            check(path, input, expected);
        }
    }

    #[test]
    fn places() {
        let cases: Vec<(&str, Value, Result<Value, ()>)> = vec![
            ("$", json!({"a": 1}), Ok(json!("R"))),
            ("$.r", json!({"a": 1}), Ok(json!({"a": 1, "r": "R"}))),
            ("$.a", json!({"a": 1}), Ok(json!({"a": "R"}))),
            ("$.x.y.z", json!({}), Ok(json!({"x": {"y": {"z": "R"}}}))),
            ("$.a[1]", json!({"a": [0, 0]}), Ok(json!({"a": [0, "R"]}))),
            ("$.a[5]", json!({"a": [0]}), Err(())),
            ("$.a.b", json!({"a": 1}), Err(())),
            ("$.a", json!("text"), Err(())),
            ("$$.a", json!({}), Err(())),
            ("$.a[*]", json!({"a": [1]}), Err(())),
        ];
        for (path, input, expected) in cases {
            assert_eq!(place(&Path::parse(path).unwrap(), &input, json!("R")), expected, "{path}");
        }
    }
}
