//! Tokens and a recursive-descent parser for DynamoDB's expressions, resolving `#name` and
//! `:value` placeholders as it goes.
//!
//! Precedence, loosest first: `OR`, `AND`, `NOT`, then comparisons, `BETWEEN`, `IN` and
//! functions, with parentheses to group.

use brume_core::AwsError;
use brume_core::nesting::Nesting;

use super::update::{Action, Update};
use super::{Cmp, Cond, Kind, Operand, Path, Placeholders, Step, check_paths, invalid_expression, is_reserved};
use crate::value::Value;

/// The most operands `IN` takes.
const MAX_IN_OPERANDS: usize = 100;
/// The longest expression, in bytes.
const MAX_EXPRESSION_BYTES: usize = 4096;
/// The most operators and functions an expression may hold.
const MAX_OPERATORS: usize = 300;
/// The deepest nesting of groups, `NOT`s and function calls the parser follows. A level
/// that is not a redundant pair of parentheses comes with an operator or a function, at
/// worst one for two levels (`NOT (NOT (…))`), so an expression nested deeper than this
/// holds too many operators or redundant parentheses.
pub(crate) const MAX_NESTING: usize = 2 * MAX_OPERATORS;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// A bare word: an attribute name, a keyword or a function name.
    Word(String),
    Name(String),
    Val(String),
    Int(String),
    Sym(&'static str),
    Eof,
}

struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

const SYMBOLS: &[&str] = &["<>", "<=", ">=", "=", "<", ">", "(", ")", "[", "]", ",", ".", "+", "-"];

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn lex(kind: Kind, src: &str) -> Result<Vec<Token>, AwsError> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let word_end = |from: usize| from + bytes[from..].iter().take_while(|b| is_word_byte(**b)).count();
        let tok = if b == b'#' || b == b':' {
            i = word_end(i + 1);
            let text = src[start..i].to_string();
            if i == start + 1 {
                return Err(syntax_error(kind, src, &tokens, start, start + 1));
            }
            if b == b'#' { Tok::Name(text) } else { Tok::Val(text) }
        } else if b.is_ascii_digit() {
            i = word_end(i);
            Tok::Int(src[start..i].to_string())
        } else if is_word_byte(b) {
            i = word_end(i);
            Tok::Word(src[start..i].to_string())
        } else if let Some(sym) = SYMBOLS.iter().find(|s| src[i..].starts_with(**s)) {
            i += sym.len();
            Tok::Sym(sym)
        } else {
            let len = src[i..].chars().next().map_or(1, char::len_utf8);
            return Err(syntax_error(kind, src, &tokens, start, start + len));
        };
        tokens.push(Token { tok, start, end: i });
    }
    tokens.push(Token { tok: Tok::Eof, start: src.len(), end: src.len() });
    Ok(tokens)
}

/// `Syntax error; token: "<tok>", near: "<prev tok next>"`: the token and its neighbours as
/// written.
fn syntax_error(kind: Kind, src: &str, before: &[Token], start: usize, end: usize) -> AwsError {
    let token = if start >= src.len() { "<EOF>" } else { &src[start..end] };
    let near_start = before.last().map_or(start, |t| t.start);
    let rest = &src[end..];
    let next_len = rest.split_whitespace().next().map_or(0, |word| {
        let w = word.as_bytes();
        if is_word_byte(w[0]) || w[0] == b'#' || w[0] == b':' {
            1 + w[1..].iter().take_while(|b| is_word_byte(**b)).count()
        } else {
            let first = word.chars().next().map_or(1, char::len_utf8);
            SYMBOLS.iter().find(|s| w.starts_with(s.as_bytes())).map_or(first, |s| s.len())
        }
    });
    let near_end = end + (rest.len() - rest.trim_start().len()) + next_len;
    let near = &src[near_start.min(src.len())..near_end.min(src.len())];
    invalid_expression(kind, format!("Syntax error; token: \"{token}\", near: \"{near}\""))
}

struct Parser<'a> {
    kind: Kind,
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    placeholders: &'a mut Placeholders,
    /// How many groups, `NOT`s and function calls enclose the current token.
    depth: usize,
}

impl Nesting for Parser<'_> {
    const MAX: usize = MAX_NESTING;
    type Error = AwsError;

    fn depth(&mut self) -> &mut usize {
        &mut self.depth
    }

    /// Why DynamoDB refuses an expression nested deeper than [`Nesting::MAX`]: it holds
    /// too many operators, or else some of its parentheses are redundant.
    fn too_deep(&self) -> AwsError {
        match self.within_operator_limit() {
            Err(too_many) => too_many,
            Ok(()) => self.invalid("The expression has redundant parentheses;"),
        }
    }
}

impl<'a> Parser<'a> {
    /// DynamoDB's limit on operators and functions in one expression. It stops counting
    /// at the first one over the limit, so its message always names that one: a
    /// condition of 909 operators is refused with `operator count: 301`.
    fn within_operator_limit(&self) -> Result<(), AwsError> {
        let mut operators = 0;
        // `BETWEEN a AND b` is one operator; an update's `=` assigns, not compares.
        let mut between = false;
        for (t, next) in self.tokens.iter().zip(self.tokens.iter().skip(1)) {
            let counts = match &t.tok {
                Tok::Sym("=") => self.kind != Kind::Update,
                Tok::Sym(s) => matches!(*s, "<>" | "<" | "<=" | ">" | ">=" | "+" | "-"),
                Tok::Word(w) if between && w.eq_ignore_ascii_case("AND") => {
                    between = false;
                    false
                }
                Tok::Word(w) => {
                    between |= w.eq_ignore_ascii_case("BETWEEN");
                    ["AND", "OR", "NOT", "BETWEEN", "IN"].iter().any(|k| w.eq_ignore_ascii_case(k))
                        || next.tok == Tok::Sym("(")
                }
                _ => false,
            };
            operators += usize::from(counts);
            if operators > MAX_OPERATORS {
                return Err(
                    self.invalid(format!("The expression contains too many operators; operator count: {operators}"))
                );
            }
        }
        Ok(())
    }

    fn new(kind: Kind, src: &'a str, placeholders: &'a mut Placeholders) -> Result<Parser<'a>, AwsError> {
        if src.trim().is_empty() {
            return Err(invalid_expression(kind, "The expression can not be empty;"));
        }
        if src.len() > MAX_EXPRESSION_BYTES {
            return Err(invalid_expression(
                kind,
                format!("Expression size has exceeded the maximum allowed size; expression size: {}", src.len()),
            ));
        }
        let tokens = lex(kind, src)?;
        Ok(Parser { kind, src, tokens, pos: 0, placeholders, depth: 0 })
    }

    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)].tok
    }

    fn next(&mut self) -> &Tok {
        let at = self.pos;
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        &self.tokens[at].tok
    }

    fn error(&self) -> AwsError {
        let t = &self.tokens[self.pos];
        syntax_error(self.kind, self.src, &self.tokens[..self.pos], t.start, t.end)
    }

    fn invalid(&self, detail: impl std::fmt::Display) -> AwsError {
        invalid_expression(self.kind, detail)
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(word))
    }

    fn sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), AwsError> {
        if !self.sym(s) {
            return Err(self.error());
        }
        self.next();
        Ok(())
    }

    /// The index of the `)` closing the `(` at token `open`.
    fn matching_close(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        for (i, t) in self.tokens.iter().enumerate().skip(open) {
            match t.tok {
                Tok::Sym("(") => depth += 1,
                Tok::Sym(")") => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn end(&self) -> Result<(), AwsError> {
        if *self.peek() == Tok::Eof { Ok(()) } else { Err(self.error()) }
    }

    /// `a.#b[1]`, with names resolved and reserved words refused.
    fn path(&mut self) -> Result<Path, AwsError> {
        let mut steps = vec![Step::Key(self.path_name()?)];
        loop {
            if self.sym(".") {
                self.next();
                steps.push(Step::Key(self.path_name()?));
            } else if self.sym("[") {
                self.next();
                let Tok::Int(digits) = self.peek().clone() else {
                    return Err(self.error());
                };
                let index = digits.parse().map_err(|_| self.error())?;
                self.next();
                self.expect_sym("]")?;
                steps.push(Step::Index(index));
            } else {
                return Ok(Path(steps));
            }
        }
    }

    fn path_name(&mut self) -> Result<String, AwsError> {
        match self.peek().clone() {
            Tok::Word(w) => {
                if is_reserved(&w) {
                    return Err(self.invalid(format!("Attribute name is a reserved keyword; reserved keyword: {w}")));
                }
                self.next();
                Ok(w)
            }
            Tok::Name(n) => {
                let name = self.placeholders.name(self.kind, &n)?;
                self.next();
                Ok(name)
            }
            _ => Err(self.error()),
        }
    }

    fn value(&mut self) -> Result<Value, AwsError> {
        let Tok::Val(v) = self.peek().clone() else {
            return Err(self.error());
        };
        let value = self.placeholders.value(self.kind, &v)?;
        self.next();
        Ok(value)
    }

    fn function_name(&self) -> Option<String> {
        match (self.peek(), self.peek_at(1)) {
            (Tok::Word(w), Tok::Sym("(")) => Some(w.clone()),
            _ => None,
        }
    }

    /// Arguments of a function call, each parsed by `arg`; the name is already consumed.
    fn arguments<T>(
        &mut self,
        function: &str,
        count: usize,
        mut arg: impl FnMut(&mut Self) -> Result<T, AwsError>,
    ) -> Result<Vec<T>, AwsError> {
        self.expect_sym("(")?;
        let mut args = vec![self.nested(&mut arg)?];
        while self.sym(",") {
            self.next();
            args.push(self.nested(&mut arg)?);
        }
        self.expect_sym(")")?;
        if args.len() != count {
            return Err(self.invalid(format!(
                "Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {}",
                args.len()
            )));
        }
        Ok(args)
    }

    /// A condition operand: a path, a value or `size(path)`.
    fn operand(&mut self) -> Result<Operand, AwsError> {
        if let Some(function) = self.function_name() {
            self.next();
            return match function.as_str() {
                "size" => {
                    let mut args = self.arguments("size", 1, Self::operand)?;
                    match args.remove(0) {
                        Operand::Path(p) => Ok(Operand::Size(p)),
                        _ => Err(self.requires_path("size")),
                    }
                }
                f if CONDITION_FUNCTIONS.contains(&f) || UPDATE_FUNCTIONS.contains(&f) => Err(self.invalid(format!(
                    "The function is not allowed to be used this way in an expression; function: {f}"
                ))),
                f => Err(self.invalid(format!("Invalid function name; function: {f}"))),
            };
        }
        match self.peek() {
            Tok::Val(_) => Ok(Operand::Value(self.value()?)),
            Tok::Word(_) | Tok::Name(_) => Ok(Operand::Path(self.path()?)),
            _ => Err(self.error()),
        }
    }

    fn requires_path(&self, function: &str) -> AwsError {
        self.invalid(format!("Operator or function requires a document path; operator or function: {function}"))
    }

    fn condition(&mut self) -> Result<Cond, AwsError> {
        let mut left = self.conjunction()?;
        while self.keyword("OR") {
            self.next();
            left = Cond::Or(Box::new(left), Box::new(self.conjunction()?));
        }
        Ok(left)
    }

    fn conjunction(&mut self) -> Result<Cond, AwsError> {
        let mut left = self.negation()?;
        while self.keyword("AND") {
            self.next();
            left = Cond::And(Box::new(left), Box::new(self.negation()?));
        }
        Ok(left)
    }

    fn negation(&mut self) -> Result<Cond, AwsError> {
        if self.keyword("NOT") {
            self.next();
            return Ok(Cond::Not(Box::new(self.nested(Self::negation)?)));
        }
        self.primary()
    }

    /// A group, a condition function or a comparison. The group's parsing is apart from the
    /// rest so that each level of nesting takes little stack.
    fn primary(&mut self) -> Result<Cond, AwsError> {
        if self.sym("(") {
            return self.group();
        }
        if let Some(function) = self.function_name().filter(|f| CONDITION_FUNCTIONS.contains(&f.as_str())) {
            self.next();
            return self.condition_function(&function);
        }
        self.comparison()
    }

    fn group(&mut self) -> Result<Cond, AwsError> {
        self.next();
        let inner_open = self.sym("(").then_some(self.pos);
        let inner = self.nested(Self::condition)?;
        // `((…))`: the inner group closing right before this one closes.
        if inner_open.is_some_and(|at| self.matching_close(at) == Some(self.pos - 1)) && self.sym(")") {
            return Err(self.invalid("The expression has redundant parentheses;"));
        }
        self.expect_sym(")")?;
        Ok(inner)
    }

    /// A comparison, `BETWEEN` or `IN`.
    fn comparison(&mut self) -> Result<Cond, AwsError> {
        let left = self.operand()?;
        if self.keyword("BETWEEN") {
            self.next();
            let low = self.operand()?;
            if !self.keyword("AND") {
                return Err(self.error());
            }
            self.next();
            let high = self.operand()?;
            for bound in [&low, &high] {
                self.check_ordered_operand("BETWEEN", bound)?;
            }
            if let (Operand::Value(lo), Operand::Value(hi)) = (&low, &high)
                && super::eval::compare(lo, hi).is_some_and(|o| o.is_gt())
            {
                return Err(self.invalid(format!(
                    "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                    lo.describe(),
                    hi.describe()
                )));
            }
            return Ok(Cond::Between(left, low, high));
        }
        if self.keyword("IN") {
            self.next();
            self.expect_sym("(")?;
            let mut options = vec![self.operand()?];
            while self.sym(",") {
                self.next();
                options.push(self.operand()?);
            }
            self.expect_sym(")")?;
            if options.len() > MAX_IN_OPERANDS {
                return Err(self.invalid(format!(
                    "The IN operator is provided with too many operands; number of operands: {}",
                    options.len()
                )));
            }
            return Ok(Cond::In(left, options));
        }
        let cmp = match self.peek() {
            Tok::Sym("=") => Cmp::Eq,
            Tok::Sym("<>") => Cmp::Ne,
            Tok::Sym("<") => Cmp::Lt,
            Tok::Sym("<=") => Cmp::Le,
            Tok::Sym(">") => Cmp::Gt,
            Tok::Sym(">=") => Cmp::Ge,
            _ => return Err(self.error()),
        };
        self.next();
        let right = self.operand()?;
        if !matches!(cmp, Cmp::Eq | Cmp::Ne) {
            self.check_ordered_operand(cmp.symbol(), &left)?;
            self.check_ordered_operand(cmp.symbol(), &right)?;
        }
        Ok(Cond::Cmp(cmp, left, right))
    }

    /// Ordering comparisons only take strings, numbers and binaries.
    fn check_ordered_operand(&self, operator: &str, operand: &Operand) -> Result<(), AwsError> {
        match operand {
            Operand::Value(v) if !matches!(v, Value::S(_) | Value::N(_) | Value::B(_)) => Err(self.invalid(format!(
                "Incorrect operand type for operator or function; operator: {operator}, operand type: {}",
                v.type_code()
            ))),
            _ => Ok(()),
        }
    }

    fn condition_function(&mut self, function: &str) -> Result<Cond, AwsError> {
        let path_of = |p: &Parser, op: Operand, f: &str| match op {
            Operand::Path(path) => Ok(path),
            _ => Err(p.requires_path(f)),
        };
        Ok(match function {
            "attribute_exists" | "attribute_not_exists" => {
                let mut args = self.arguments(function, 1, Self::operand)?;
                let path = path_of(self, args.remove(0), function)?;
                if function == "attribute_exists" { Cond::Exists(path) } else { Cond::NotExists(path) }
            }
            "attribute_type" => {
                let mut args = self.arguments(function, 2, Self::operand)?;
                let ty = args.remove(1);
                let path = path_of(self, args.remove(0), function)?;
                match &ty {
                    Operand::Value(Value::S(t)) if !TYPE_NAMES.contains(&t.as_str()) => {
                        return Err(self.invalid(format!(
                            "Invalid attribute type name found; type: {t}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
                        )));
                    }
                    Operand::Value(
                        v @ (Value::N(_)
                        | Value::B(_)
                        | Value::Bool(_)
                        | Value::Null
                        | Value::M(_)
                        | Value::L(_)
                        | Value::SS(_)
                        | Value::NS(_)
                        | Value::BS(_)),
                    ) => {
                        return Err(self.invalid(format!(
                            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {}",
                            v.type_code()
                        )));
                    }
                    _ => {}
                }
                Cond::Type(path, ty)
            }
            "begins_with" => {
                let mut args = self.arguments(function, 2, Self::operand)?;
                let prefix = args.remove(1);
                for op in [&args[0], &prefix] {
                    if let Operand::Value(v) = op
                        && !matches!(v, Value::S(_) | Value::B(_))
                    {
                        return Err(self.invalid(format!(
                            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: {}",
                            v.type_code()
                        )));
                    }
                }
                Cond::BeginsWith(args.remove(0), prefix)
            }
            _ => {
                let mut args = self.arguments(function, 2, Self::operand)?;
                let needle = args.remove(1);
                if let (Operand::Path(a), Operand::Path(b)) = (&args[0], &needle)
                    && a == b
                {
                    return Err(self.invalid(format!(
                        "The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: {a}"
                    )));
                }
                Cond::Contains(args.remove(0), needle)
            }
        })
    }

    /// One side of a SET action: an operand, or two joined by `+` or `-`.
    fn set_value(&mut self) -> Result<Operand, AwsError> {
        let left = self.set_operand()?;
        let plus = self.sym("+");
        if plus || self.sym("-") {
            self.next();
            let right = self.set_operand()?;
            let symbol = if plus { "+" } else { "-" };
            for op in [&left, &right] {
                if let Operand::Value(v) = op
                    && !matches!(v, Value::N(_))
                {
                    return Err(self.invalid(format!(
                        "Incorrect operand type for operator or function; operator: {symbol}, operand type: {}",
                        long_type(v)
                    )));
                }
            }
            return Ok(if plus {
                Operand::Plus(Box::new(left), Box::new(right))
            } else {
                Operand::Minus(Box::new(left), Box::new(right))
            });
        }
        Ok(left)
    }

    fn set_operand(&mut self) -> Result<Operand, AwsError> {
        let Some(function) = self.function_name() else {
            return match self.peek() {
                Tok::Val(_) => Ok(Operand::Value(self.value()?)),
                Tok::Word(_) | Tok::Name(_) => Ok(Operand::Path(self.path()?)),
                _ => Err(self.error()),
            };
        };
        self.next();
        match function.as_str() {
            "if_not_exists" => {
                let mut args = self.arguments("if_not_exists", 2, Self::set_value)?;
                let fallback = args.remove(1);
                match args.remove(0) {
                    Operand::Path(p) => Ok(Operand::IfNotExists(p, Box::new(fallback))),
                    _ => Err(self.requires_path("if_not_exists")),
                }
            }
            "list_append" => {
                let mut args = self.arguments("list_append", 2, Self::set_value)?;
                for op in &args {
                    if let Operand::Value(v) = op
                        && !matches!(v, Value::L(_))
                    {
                        return Err(self.invalid(format!(
                            "Incorrect operand type for operator or function; operator or function: list_append, operand type: {}",
                            long_type(v)
                        )));
                    }
                }
                let second = args.remove(1);
                Ok(Operand::ListAppend(Box::new(args.remove(0)), Box::new(second)))
            }
            f if CONDITION_FUNCTIONS.contains(&f) || f == "size" => {
                Err(self.invalid(format!("The function is not allowed in an update expression; function: {f}")))
            }
            f => Err(self.invalid(format!("Invalid function name; function: {f}"))),
        }
    }
}

const CONDITION_FUNCTIONS: &[&str] =
    &["attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"];
const UPDATE_FUNCTIONS: &[&str] = &["if_not_exists", "list_append"];
const TYPE_NAMES: &[&str] = &["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"];

/// A type as DynamoDB names it in update-expression operand errors.
pub(super) fn long_type(v: &Value) -> &'static str {
    match v {
        Value::S(_) => "STRING",
        Value::N(_) => "NUMBER",
        Value::B(_) => "BINARY",
        Value::Bool(_) => "BOOLEAN",
        Value::Null => "NULL",
        Value::M(_) => "MAP",
        Value::L(_) => "LIST",
        Value::SS(_) => "STRING SET",
        Value::NS(_) => "NUMBER SET",
        Value::BS(_) => "BINARY SET",
    }
}

/// Parses a ConditionExpression, FilterExpression or KeyConditionExpression.
pub fn parse_condition(kind: Kind, src: &str, placeholders: &mut Placeholders) -> Result<Cond, AwsError> {
    let mut p = Parser::new(kind, src, placeholders)?;
    let cond = p.condition()?;
    p.end()?;
    p.within_operator_limit()?;
    Ok(cond)
}

/// Parses a ProjectionExpression: paths separated by commas, none overlapping another.
pub fn parse_projection(src: &str, placeholders: &mut Placeholders) -> Result<Vec<Path>, AwsError> {
    let mut p = Parser::new(Kind::Projection, src, placeholders)?;
    let mut paths = vec![p.path()?];
    while p.sym(",") {
        p.next();
        paths.push(p.path()?);
    }
    p.end()?;
    check_paths(Kind::Projection, &paths.iter().collect::<Vec<_>>())?;
    Ok(paths)
}

/// Parses an UpdateExpression: `SET`, `REMOVE`, `ADD` and `DELETE` sections, each at most
/// once, in any order.
pub fn parse_update(src: &str, placeholders: &mut Placeholders) -> Result<Update, AwsError> {
    let mut p = Parser::new(Kind::Update, src, placeholders)?;
    let mut actions = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    while *p.peek() != Tok::Eof {
        let Tok::Word(section) = p.peek().clone() else {
            return Err(p.error());
        };
        let section = section.to_ascii_uppercase();
        if !["SET", "REMOVE", "ADD", "DELETE"].contains(&section.as_str()) {
            return Err(p.error());
        }
        if seen.contains(&section) {
            return Err(p.invalid(format!("The \"{section}\" section can only be used once in an update expression;")));
        }
        seen.push(section.clone());
        p.next();
        loop {
            let path = p.path()?;
            let action = match section.as_str() {
                "SET" => {
                    p.expect_sym("=")?;
                    Action::Set(path, p.set_value()?)
                }
                "REMOVE" => Action::Remove(path),
                "ADD" => {
                    let v = p.value()?;
                    if !matches!(v, Value::N(_) | Value::SS(_) | Value::NS(_) | Value::BS(_)) {
                        return Err(p.invalid(format!(
                            "Incorrect operand type for operator or function; operator: ADD, operand type: {}",
                            long_type(&v)
                        )));
                    }
                    Action::Add(path, v)
                }
                _ => {
                    let v = p.value()?;
                    if !matches!(v, Value::SS(_) | Value::NS(_) | Value::BS(_)) {
                        return Err(p.invalid(format!(
                            "Incorrect operand type for operator or function; operator: DELETE, operand type: {}",
                            long_type(&v)
                        )));
                    }
                    Action::Delete(path, v)
                }
            };
            actions.push(action);
            if !p.sym(",") {
                break;
            }
            p.next();
        }
    }
    p.within_operator_limit()?;
    let paths: Vec<&Path> = actions.iter().map(Action::path).collect();
    check_paths(Kind::Update, &paths)?;
    Ok(Update { actions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::Num;

    fn placeholders() -> Placeholders {
        let names = [("#s", "status"), ("#a", "a"), ("#dot", "x.y")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let values = [
            (":one", Value::N(Num::parse("1").unwrap())),
            (":five", Value::N(Num::parse("5").unwrap())),
            (":s", Value::S("x".into())),
            (":t", Value::S("S".into())),
            (":bad", Value::S("Q".into())),
            (":l", Value::L(vec![])),
            (":ss", Value::SS(vec!["a".into()])),
            (":b", Value::Bool(true)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Placeholders::new(Some(names), Some(values)).unwrap()
    }

    fn check(src: &str, expected: Result<&str, &str>) {
        let got =
            parse_condition(Kind::Condition, src, &mut placeholders()).map(|c| format!("{c:?}")).map_err(|e| e.message);
        match (got, expected) {
            (Ok(got), Ok(shape)) => assert!(got.contains(shape), "{src}: {got} lacks {shape}"),
            (Err(got), Err(message)) => assert_eq!(got, message, "{src}"),
            (got, expected) => panic!("{src}: got {got:?}, expected {expected:?}"),
        }
    }

    /// On a thread with the stack Brume's own threads have: the deepest nesting accepted
    /// needs more than a test thread's 2 MiB in a debug build.
    fn with_brume_stack(test: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new().stack_size(8 << 20).spawn(test).unwrap().join().unwrap();
    }

    #[test]
    fn nesting_is_refused_before_it_exhausts_the_stack() {
        with_brume_stack(|| {
            // `NOT (` nests two levels per operator: 299 of them and a comparison are 300.
            let deepest = format!("{}a = :one{}", "NOT (".repeat(299), ")".repeat(299));
            check(&deepest, Ok("Not(Not("));
            let over = format!("{}a = :one{}", "NOT (".repeat(301), ")".repeat(301));
            check(
                &over,
                Err("Invalid ConditionExpression: The expression contains too many operators; operator count: 301"),
            );
            let parens = format!("{}a = :one{}", "(".repeat(2000), ")".repeat(2000));
            check(&parens, Err("Invalid ConditionExpression: The expression has redundant parentheses;"));
            // Calls nest one level each; 4 KB holds fewer than the limit.
            let mut value = ":one".to_string();
            for _ in 0..235 {
                value = format!("if_not_exists(a,{value})");
            }
            assert!(parse_update(&format!("SET b = {value}"), &mut placeholders()).is_ok());
        });
    }

    #[test]
    fn more_than_300_operators_are_refused_flat_or_nested() {
        let too_many = "Invalid ConditionExpression: The expression contains too many operators; operator count: 301";
        // 150 comparisons joined by 149 ORs: 299 operators.
        let flat = |n: usize| vec!["a = :one"; n].join(" OR ");
        check(&flat(150), Ok("Or("));
        check(&flat(151), Err(too_many));
        // 455 comparisons nested in 454 ORs fit in 4 KB and not in the limit; DynamoDB
        // names the 301st.
        let nested = format!("{}a<x{}", "a<x OR(".repeat(454), ")".repeat(454));
        assert!(nested.len() < MAX_EXPRESSION_BYTES);
        with_brume_stack(move || check(&nested, Err(too_many)));
        // `BETWEEN … AND …` is one operator: 100 of them and 99 ORs are 199.
        check(&vec!["a BETWEEN x AND y"; 100].join(" OR "), Ok("Between("));
        check(&vec!["a BETWEEN x AND y"; 151].join(" OR "), Err(too_many));
        // An update's `=` assigns: 300 additions are within the limit, 301 are not.
        let sum = |n: usize| format!("SET {}", (0..n).map(|i| format!("a{i}=x+y")).collect::<Vec<_>>().join(","));
        assert_eq!(parse_update(&sum(300), &mut placeholders()).map(|_| ()).map_err(|e| e.message), Ok(()));
        assert_eq!(
            parse_update(&sum(301), &mut placeholders()).map(|_| ()).map_err(|e| e.message),
            Err("Invalid UpdateExpression: The expression contains too many operators; operator count: 301".into())
        );
    }

    #[test]
    fn conditions_parse_with_dynamodb_precedence() {
        check("a = :one", Ok("Cmp(Eq, Path(Path([Key(\"a\")])), Value(N("));
        check("a.b[2].#a <> :s", Ok("Path([Key(\"a\"), Key(\"b\"), Index(2), Key(\"a\")])"));
        check("#dot = :s", Ok("Key(\"x.y\")"));
        check("a = :one OR b = :one AND c = :one", Ok("Or(Cmp"));
        check("NOT a = :one AND b = :one", Ok("And(Not("));
        check("(a = :one OR b = :one) AND c = :one", Ok("And(Or("));
        check("(attribute_exists(a)) AND (attribute_not_exists(b))", Ok("And(Exists("));
        check("(attribute_exists(a) AND (attribute_not_exists(b)))", Ok("And(Exists("));
        check("((a = :one) AND b = :one)", Ok("And(Cmp"));
        check("a BETWEEN :one AND :five", Ok("Between("));
        check("a IN (:one, :five, :s)", Ok("In("));
        check(
            "attribute_exists(a) and attribute_not_exists(#s)",
            Ok("And(Exists(Path([Key(\"a\")])), NotExists(Path([Key(\"status\")])))"),
        );
        check("attribute_type(a, :t)", Ok("Type("));
        check("begins_with(a, :s)", Ok("BeginsWith("));
        check("contains(a, :s)", Ok("Contains("));
        check("size(a) > :one", Ok("Cmp(Gt, Size("));
    }

    #[test]
    fn condition_errors_read_as_dynamodb_writes_them() {
        check(
            "a = :nope",
            Err(
                "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :nope",
            ),
        );
        check(
            "#nope = :one",
            Err(
                "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #nope",
            ),
        );
        check(
            "status = :one",
            Err("Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"),
        );
        check("a =", Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\""));
        check("a != :one", Err("Invalid ConditionExpression: Syntax error; token: \"!\", near: \"a !=\""));
        check("a = :one é", Err("Invalid ConditionExpression: Syntax error; token: \"é\", near: \":one é\""));
        check("a ≠ :one", Err("Invalid ConditionExpression: Syntax error; token: \"≠\", near: \"a ≠ :one\""));
        check("a = :one b", Err("Invalid ConditionExpression: Syntax error; token: \"b\", near: \":one b\""));
        check("", Err("Invalid ConditionExpression: The expression can not be empty;"));
        let long = vec!["a = :one"; 500].join(" OR ");
        check(
            &long,
            Err(
                "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 5996",
            ),
        );
        check("((attribute_exists(a)))", Err("Invalid ConditionExpression: The expression has redundant parentheses;"));
        check(
            "contains(#a, #a)",
            Err(
                "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [a]",
            ),
        );
        check("foo(a)", Err("Invalid ConditionExpression: Invalid function name; function: foo"));
        check(
            "begins_with(a)",
            Err(
                "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1",
            ),
        );
        check(
            "attribute_exists(:s)",
            Err(
                "Invalid ConditionExpression: Operator or function requires a document path; operator or function: attribute_exists",
            ),
        );
        check(
            "attribute_type(a, :bad)",
            Err(
                "Invalid ConditionExpression: Invalid attribute type name found; type: Q, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
            ),
        );
        check(
            "begins_with(a, :one)",
            Err(
                "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
            ),
        );
        check(
            "a < :b",
            Err(
                "Invalid ConditionExpression: Incorrect operand type for operator or function; operator: <, operand type: BOOL",
            ),
        );
        check("size(a)", Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \")\""));
        check(
            "if_not_exists(a, :one) = :one",
            Err(
                "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: if_not_exists",
            ),
        );
        check(
            "a BETWEEN :five AND :one",
            Err(
                "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}",
            ),
        );
    }

    fn check_update(src: &str, expected: Result<&str, &str>) {
        let got = parse_update(src, &mut placeholders()).map(|u| format!("{:?}", u.actions)).map_err(|e| e.message);
        match (got, expected) {
            (Ok(got), Ok(shape)) => assert!(got.contains(shape), "{src}: {got} lacks {shape}"),
            (Err(got), Err(message)) => assert_eq!(got, message, "{src}"),
            (got, expected) => panic!("{src}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn updates_parse_every_section() {
        check_update("SET a = :one, b = a + :one", Ok("Set(Path([Key(\"b\")]), Plus("));
        check_update("set c = if_not_exists(c, :one) - :five", Ok("Minus(IfNotExists("));
        check_update("SET l = list_append(l, :l)", Ok("ListAppend("));
        check_update("REMOVE a, b[1] ADD n :one DELETE s :ss", Ok("Remove(Path([Key(\"b\"), Index(1)]))"));
        check_update("ADD ss :ss SET x = :s", Ok("Add("));
    }

    #[test]
    fn update_errors_read_as_dynamodb_writes_them() {
        check_update(
            "SET a = :one SET b = :one",
            Err("Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;"),
        );
        check_update(
            "SET a = :one, a = :five",
            Err(
                "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]",
            ),
        );
        check_update(
            "ADD a :s",
            Err(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
            ),
        );
        check_update(
            "DELETE a :one",
            Err(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER",
            ),
        );
        check_update(
            "SET a = :s + :one",
            Err(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: +, operand type: STRING",
            ),
        );
        check_update(
            "SET a = list_append(:s, a)",
            Err(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: STRING",
            ),
        );
        check_update(
            "SET a = size(b)",
            Err("Invalid UpdateExpression: The function is not allowed in an update expression; function: size"),
        );
        check_update(
            "UPSERT a = :one",
            Err("Invalid UpdateExpression: Syntax error; token: \"UPSERT\", near: \"UPSERT a\""),
        );
        check_update("SET a :one", Err("Invalid UpdateExpression: Syntax error; token: \":one\", near: \"a :one\""));
        check_update(
            "SET name = :one",
            Err("Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name"),
        );
    }

    #[test]
    fn projections_parse_and_refuse_overlaps() {
        let got = parse_projection(
            "a, b.c, #a2",
            &mut Placeholders::new(Some([("#a2".into(), "d".into())].into()), None).unwrap(),
        )
        .unwrap();
        assert_eq!(got.len(), 3);
        let err = parse_projection("a, a.b", &mut Placeholders::new(None, None).unwrap()).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
        );
    }

    #[test]
    fn unused_placeholders_are_reported() {
        let mut ph =
            Placeholders::new(None, Some([(":a".to_string(), Value::Null), (":b".to_string(), Value::Null)].into()))
                .unwrap();
        parse_condition(Kind::Condition, "x = :a", &mut ph).unwrap();
        assert_eq!(
            ph.finish().unwrap_err().message,
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}"
        );
    }
}
