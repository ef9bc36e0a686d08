//! The PartiQL statements DynamoDB runs, parsed into the expression trees of [`crate::expr`]
//! so that they are evaluated, projected and applied by the same code as the expression
//! parameters of the item API.
//!
//! `?` parameters are bound while parsing, in order, from the request's `Parameters`.
//! Keywords are case-insensitive; names are bare or double-quoted; literals are strings
//! in single quotes (`''` for a quote), numbers, `TRUE`/`FALSE`, `NULL`, maps `{'k': v}`,
//! lists `[v, …]` and sets `<<v, …>>`.

use std::collections::HashSet;
use std::sync::OnceLock;

use brume_core::AwsError;
use brume_core::nesting::Nesting;

use crate::error::validation;
use crate::expr::{Action, Cmp, Cond, Operand, Path, Step};
use crate::number::Num;
use crate::value::{Item, NESTING_LIMIT_EXCEEDED, Value};

/// A statement, ready to run.
#[derive(Debug, PartialEq)]
pub enum Statement {
    Select(Select),
    Insert {
        table: String,
        item: Item,
    },
    Update {
        table: String,
        actions: Vec<Action>,
        condition: Cond,
        returning: Option<Returning>,
    },
    Delete {
        table: String,
        condition: Cond,
        returning: Option<Returning>,
    },
    /// `EXISTS(SELECT …)`: a condition check, inside ExecuteTransaction only.
    Exists(Select),
}

impl Statement {
    /// The table the statement reads or writes.
    pub fn table(&self) -> &str {
        match self {
            Statement::Select(s) | Statement::Exists(s) => &s.table,
            Statement::Insert { table, .. } | Statement::Update { table, .. } | Statement::Delete { table, .. } => {
                table
            }
        }
    }
}

#[derive(Debug, PartialEq)]
pub struct Select {
    pub table: String,
    pub index: Option<String>,
    /// `None` for `*`.
    pub projection: Option<Vec<Path>>,
    pub condition: Option<Cond>,
    /// `ORDER BY` keys, each with `true` for descending.
    pub order: Vec<(String, bool)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returning {
    AllOld,
    ModifiedOld,
    AllNew,
    ModifiedNew,
}

impl Returning {
    pub fn text(self) -> &'static str {
        match self {
            Returning::AllOld => "ALL OLD *",
            Returning::ModifiedOld => "MODIFIED OLD *",
            Returning::AllNew => "ALL NEW *",
            Returning::ModifiedNew => "MODIFIED NEW *",
        }
    }
}

/// `Statement wasn't well formed, can't be processed: …`, DynamoDB's syntax error.
pub fn malformed(detail: impl std::fmt::Display) -> AwsError {
    validation(format!("Statement wasn't well formed, can't be processed: {detail}"))
}

/// PartiQL's type names beyond those DynamoDB tests with IS.
const PARTIQL_TYPES: &[&str] = &[
    "BOOL",
    "SMALLINT",
    "INT2",
    "INTEGER2",
    "INT4",
    "INTEGER4",
    "INT8",
    "INTEGER8",
    "INT",
    "INTEGER",
    "BIGINT",
    "FLOAT",
    "REAL",
    "DOUBLE PRECISION",
    "DECIMAL",
    "DEC",
    "TIMESTAMP",
    "CHAR",
    "CHARACTER",
    "VARCHAR",
    "CHARACTER VARYING",
    "SYMBOL",
    "CLOB",
    "SEXP",
    "BAG",
    "DATE",
    "TIME",
    "ANY",
];

/// A write whose WHERE does not name one item by its whole key.
pub fn missing_where() -> AwsError {
    validation("Where clause does not contain a mandatory equality on all key attributes")
}

fn unsupported(detail: impl std::fmt::Display) -> AwsError {
    validation(format!("Unsupported operation: {detail}"))
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Num(String),
    Sym(&'static str),
    Eof,
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Word(w) | Tok::Num(w) => f.write_str(w),
            Tok::Quoted(q) => write!(f, "\"{q}\""),
            Tok::Str(s) => write!(f, "'{s}'"),
            Tok::Sym(s) => f.write_str(s),
            Tok::Eof => f.write_str("<EOF>"),
        }
    }
}

/// Longest first, so `<<` is not read as two `<`.
const SYMBOLS: &[&str] = &[
    "<<", ">>", "<>", "!=", "<=", ">=", "=", "<", ">", "(", ")", "[", "]", "{", "}", ",", ".", ":", "*", "+", "-", "?",
    ";",
];

/// The tokens of `src`, each with the byte range it was written in.
fn lex(src: &str) -> Result<Vec<(Tok, usize, usize)>, AwsError> {
    let b = src.as_bytes();
    let mut out: Vec<(Tok, usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let begin = i;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if src[i..].starts_with("--") {
            i = src[i..].find('\n').map_or(b.len(), |n| i + n);
        } else if src[i..].starts_with("/*") {
            let end = src[i + 2..].find("*/").ok_or_else(|| malformed(""))?;
            i += end + 4;
        } else if c == b'\'' || c == b'"' {
            // A doubled quote stands for one.
            let mut text = String::new();
            let mut j = i + 1;
            loop {
                let rest = &src[j..];
                let Some(at) = rest.find(c as char) else {
                    return Err(malformed(""));
                };
                text.push_str(&rest[..at]);
                j += at + 1;
                if b.get(j) == Some(&c) {
                    text.push(c as char);
                    j += 1;
                } else {
                    break;
                }
            }
            out.push((if c == b'\'' { Tok::Str(text) } else { Tok::Quoted(text) }, begin, j));
            i = j;
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            let mantissa = i;
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            check_scale(&src[start..mantissa], &src[mantissa..i])?;
            out.push((Tok::Num(src[start..i].to_string()), begin, i));
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                i += 1;
            }
            out.push((Tok::Word(src[start..i].to_string()), begin, i));
        } else if let Some(sym) = SYMBOLS.iter().find(|s| src[i..].starts_with(**s)) {
            i += sym.len();
            out.push((Tok::Sym(sym), begin, i));
        } else {
            return Err(malformed(""));
        }
    }
    out.push((Tok::Eof, src.len(), src.len()));
    Ok(out)
}

/// The lexer reads a number's exponent and scale (digits after the point less the
/// exponent) as 32-bit integers; a literal beyond them is not read at all.
fn check_scale(mantissa: &str, exponent: &str) -> Result<(), AwsError> {
    let fraction = mantissa.split_once('.').map_or(0, |(_, f)| f.len()) as i64;
    let exp = match exponent.get(1..) {
        None | Some("") => 0,
        Some(e) => e.parse::<i32>().map_err(|_| malformed(""))?,
    };
    i32::try_from(fraction - i64::from(exp)).map(|_| ()).map_err(|_| malformed(""))
}

/// PartiQL's reserved words: a bare name may not be one of them (a quoted one may).
fn is_reserved(word: &str) -> bool {
    static WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    WORDS
        .get_or_init(|| include_str!("reserved.txt").split_whitespace().collect())
        .contains(word.to_ascii_uppercase().as_str())
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Tok>,
    /// The byte range of each token in `src`.
    spans: Vec<(usize, usize)>,
    pos: usize,
    params: &'a [Value],
    used: usize,
    /// How many groups, `NOT`s, calls and literal maps, lists and sets enclose the current
    /// token.
    depth: usize,
}

/// A statement nests as deep as an expression parameter may; a literal nested deeper than
/// an item may be is refused after parsing, with DynamoDB's message.
impl Nesting for Parser<'_> {
    const MAX: usize = crate::expr::MAX_NESTING;
    type Error = AwsError;

    fn depth(&mut self) -> &mut usize {
        &mut self.depth
    }

    fn too_deep(&self) -> AwsError {
        match self.toks[self.pos.saturating_sub(1)] {
            // Inside a literal: after its opening or a map key's colon.
            Tok::Sym("{" | "[" | "<<" | ":") => validation(NESTING_LIMIT_EXCEEDED),
            _ => malformed("Expression nesting exceeds the supported depth"),
        }
    }
}

/// Parses one statement, binding its `?` from `params`.
pub fn parse(src: &str, params: &[Value]) -> Result<Statement, AwsError> {
    let (toks, spans) = lex(src)?.into_iter().map(|(t, a, b)| (t, (a, b))).unzip();
    let mut p = Parser { src, toks, spans, pos: 0, params, used: 0, depth: 0 };
    let statement = p.statement()?;
    if p.sym(";") {
        p.next();
    }
    if *p.peek() != Tok::Eof {
        return Err(malformed("Unexpected token after expression"));
    }
    Ok(statement)
}

impl Parser<'_> {
    /// ` at <line>:<column>:<length>`, where DynamoDB's messages point at token `index`
    /// (counted in characters from 1).
    fn at(&self, index: usize) -> String {
        let (start, end) = self.spans[index.min(self.spans.len() - 1)];
        let before = &self.src[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        format!(" at {line}:{column}:{}", self.src[start..end].chars().count())
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos]
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        let found = self.keyword(word);
        if found {
            self.next();
        }
        found
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), AwsError> {
        if self.eat_keyword(word) { Ok(()) } else { Err(self.unexpected(&format!("Expected {word}"))) }
    }

    fn sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), AwsError> {
        if self.sym(s) {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected(&format!("Expected {s}")))
        }
    }

    /// Where an expression should start: DynamoDB's parser says what it found instead.
    fn term_error(&self) -> AwsError {
        malformed(match self.peek() {
            Tok::Eof | Tok::Sym(";" | ")" | "," | "]" | "}") => "Unexpected term",
            Tok::Word(w) if ["IS", "LIKE", "AND", "OR", "IN", "BETWEEN"].contains(&w.to_ascii_uppercase().as_str()) => {
                "Unexpected operator"
            }
            Tok::Word(_) => "Unexpected keyword",
            Tok::Sym(_) => "Unexpected operator",
            _ => "Unexpected term",
        })
    }

    /// The table a write names.
    fn dml_table(&mut self) -> Result<String, AwsError> {
        match self.peek() {
            Tok::Quoted(_) => self.name(),
            Tok::Word(w) if !is_reserved(w) => self.name(),
            _ => Err(malformed("Expected identifier for simple path")),
        }
    }

    /// A name after the table is an alias, which DynamoDB refuses.
    fn refuse_alias(&self) -> Result<(), AwsError> {
        match self.peek() {
            Tok::Quoted(_) => Err(validation("Aliasing is not supported")),
            Tok::Word(w) if w.eq_ignore_ascii_case("AS") || !is_reserved(w) => {
                Err(validation("Aliasing is not supported"))
            }
            _ => Ok(()),
        }
    }

    fn unexpected(&self, expected: &str) -> AwsError {
        match self.peek() {
            Tok::Eof => malformed("Unexpected end of statement"),
            t => malformed(format!("{expected}, found {t}")),
        }
    }

    fn statement(&mut self) -> Result<Statement, AwsError> {
        let Tok::Word(first) = self.peek().clone() else {
            return Err(malformed("Expected data manipulation"));
        };
        self.next();
        match first.to_ascii_uppercase().as_str() {
            "SELECT" => Ok(Statement::Select(self.select()?)),
            "INSERT" => self.insert(),
            "UPDATE" => self.update(),
            "DELETE" => self.delete(),
            "FROM" => self.update_from_first(),
            "EXISTS" => {
                self.expect_sym("(")?;
                self.expect_keyword("SELECT")?;
                let select = self.select()?;
                self.expect_sym(")")?;
                Ok(Statement::Exists(select))
            }
            "UPSERT" | "REPLACE" => Err(unsupported(first.to_ascii_uppercase())),
            _ => Err(malformed("Expected data manipulation")),
        }
    }

    /// A table or attribute name: bare (not a keyword) or double-quoted.
    fn name(&mut self) -> Result<String, AwsError> {
        match self.peek().clone() {
            Tok::Quoted(q) if q.is_empty() => Err(validation("Path component cannot be an empty string")),
            Tok::Quoted(q) => {
                self.next();
                Ok(q)
            }
            Tok::Word(w) if !is_reserved(&w) => {
                self.next();
                Ok(w)
            }
            _ => Err(self.term_error()),
        }
    }

    fn path(&mut self) -> Result<Path, AwsError> {
        let mut steps = vec![Step::Key(self.name()?)];
        loop {
            if self.sym(".") {
                self.next();
                if matches!(self.peek(), Tok::Word(w) if is_reserved(w)) {
                    return Err(malformed("Invalid path dot component"));
                }
                steps.push(Step::Key(self.name()?));
            } else if self.sym("[") {
                self.next();
                match self.next() {
                    Tok::Num(n) => {
                        let index = n.parse().map_err(|_| malformed(format!("Invalid list index: {n}")))?;
                        steps.push(Step::Index(index));
                    }
                    Tok::Str(s) => steps.push(Step::Key(s)),
                    t => return Err(malformed(format!("Expected list index, found {t}"))),
                }
                self.expect_sym("]")?;
            } else {
                return Ok(Path(steps));
            }
        }
    }

    /// A path of a SELECT's projection (functions have no place there).
    fn projected_path(&mut self) -> Result<Path, AwsError> {
        if self.function_name().is_some() {
            return Err(validation(format!("Unexpected path component{}", self.at(self.pos))));
        }
        self.path()
    }

    fn select(&mut self) -> Result<Select, AwsError> {
        let projection = if self.sym("*") {
            self.next();
            if self.sym(",") {
                return Err(validation("Other attributes should not be present in the projection when '*' is used."));
            }
            None
        } else {
            let mut paths = vec![self.projected_path()?];
            while self.sym(",") {
                self.next();
                if self.sym("*") {
                    return Err(validation(
                        "Other attributes should not be present in the projection when '*' is used.",
                    ));
                }
                paths.push(self.projected_path()?);
            }
            Some(paths)
        };
        self.expect_keyword("FROM")?;
        let table = self.name()?;
        let index = if self.sym(".") {
            self.next();
            Some(self.name()?)
        } else {
            None
        };
        if self.sym(",") {
            return Err(validation("Only select from a single table or index is supported."));
        }
        self.refuse_alias()?;
        let condition = if self.eat_keyword("WHERE") { Some(self.condition()?) } else { None };
        let mut order = Vec::new();
        if self.eat_keyword("ORDER") {
            self.expect_keyword("BY")?;
            loop {
                let key = self.name()?;
                let descending = if self.eat_keyword("DESC") {
                    true
                } else {
                    self.eat_keyword("ASC");
                    false
                };
                order.push((key, descending));
                if !self.sym(",") {
                    break;
                }
                self.next();
            }
        }
        Ok(Select { table, index, projection, condition, order })
    }

    fn insert(&mut self) -> Result<Statement, AwsError> {
        self.expect_keyword("INTO")?;
        let table = self.dml_table()?;
        if self.keyword("VALUES") {
            return Err(unsupported(
                "Inserting multiple items in a single statement is not supported, use \"INSERT INTO tableName VALUE item\" instead",
            ));
        }
        if !self.eat_keyword("VALUE") {
            return Err(malformed("Unexpected token after expression"));
        }
        if !self.sym("{") && !self.sym("?") {
            return Err(validation(
                "Unsupported format in item expression. Please use struct format {...} to express item values for insert statement.",
            ));
        }
        let item = match self.value_at("root", true)? {
            Value::M(item) => item,
            _ => {
                return Err(validation(
                    "Unsupported format in item expression. Please use struct format {...} to express item values for insert statement.",
                ));
            }
        };
        if self.sym(",") {
            return Err(unsupported(
                "Inserting multiple items in a single statement is not supported, use \"INSERT INTO tableName VALUE item\" instead",
            ));
        }
        if self.keyword("RETURNING") {
            return Err(validation("RETURNING is not supported in INSERT"));
        }
        Ok(Statement::Insert { table, item })
    }

    fn update(&mut self) -> Result<Statement, AwsError> {
        let table = self.dml_table()?;
        self.refuse_alias()?;
        let actions = self.update_actions()?;
        let condition = self.where_clause()?;
        let returning = self.returning()?;
        Ok(Statement::Update { table, actions, condition, returning })
    }

    /// PartiQL's FROM-first UPDATE: `FROM t WHERE … SET … REMOVE …`.
    fn update_from_first(&mut self) -> Result<Statement, AwsError> {
        let table = self.dml_table()?;
        self.refuse_alias()?;
        let condition = if self.keyword("WHERE") { Some(self.where_clause()?) } else { None };
        let actions = self.update_actions()?;
        let returning = self.returning()?;
        // Tokens left over are reported before the missing WHERE.
        let condition = match (condition, self.peek()) {
            (Some(c), _) => c,
            (None, Tok::Eof | Tok::Sym(";")) => return Err(missing_where()),
            (None, _) => return Err(malformed("Unexpected token after expression")),
        };
        Ok(Statement::Update { table, actions, condition, returning })
    }

    /// The WHERE a write needs to name its item.
    fn where_clause(&mut self) -> Result<Cond, AwsError> {
        if !self.eat_keyword("WHERE") {
            return match self.peek() {
                Tok::Eof | Tok::Sym(";") => Err(missing_where()),
                _ => Err(self.term_error()),
            };
        }
        self.condition()
    }

    /// `SET` and `REMOVE` clauses, one or more, in any order.
    fn update_actions(&mut self) -> Result<Vec<Action>, AwsError> {
        let mut actions = Vec::new();
        loop {
            if self.eat_keyword("SET") {
                loop {
                    actions.push(self.assignment()?);
                    if !self.sym(",") {
                        break;
                    }
                    self.next();
                }
            } else if self.eat_keyword("REMOVE") {
                loop {
                    actions.push(Action::Remove(self.path()?));
                    if !self.sym(",") {
                        break;
                    }
                    self.next();
                }
            } else {
                break;
            }
        }
        if actions.is_empty() {
            return Err(self.unexpected("Expected SET or REMOVE"));
        }
        Ok(actions)
    }

    fn delete(&mut self) -> Result<Statement, AwsError> {
        self.expect_keyword("FROM")?;
        let table = self.dml_table()?;
        self.refuse_alias()?;
        let condition = self.where_clause()?;
        let returning = self.returning()?;
        if let Some(r) = returning.filter(|r| *r != Returning::AllOld) {
            return Err(validation(format!(
                "Invalid returning clause: RETURNING {}. Only RETURNING ALL OLD * is allowed in DELETE statements.",
                r.text()
            )));
        }
        Ok(Statement::Delete { table, condition, returning })
    }

    fn returning(&mut self) -> Result<Option<Returning>, AwsError> {
        if !self.eat_keyword("RETURNING") {
            return Ok(None);
        }
        let all = if self.eat_keyword("ALL") {
            true
        } else if self.eat_keyword("MODIFIED") {
            false
        } else {
            return Err(self.unexpected("Expected ALL or MODIFIED"));
        };
        let old = if self.eat_keyword("OLD") {
            true
        } else if self.eat_keyword("NEW") {
            false
        } else {
            return Err(self.unexpected("Expected OLD or NEW"));
        };
        if !self.sym("*") {
            return Err(validation("Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING clause"));
        }
        self.next();
        if self.sym(",") {
            return Err(validation("Invalid syntax with multiple returning elements in RETURNING clause"));
        }
        Ok(Some(match (all, old) {
            (true, true) => Returning::AllOld,
            (true, false) => Returning::AllNew,
            (false, true) => Returning::ModifiedOld,
            (false, false) => Returning::ModifiedNew,
        }))
    }

    /// `path = value`, `path = a + b`, `path = list_append(a, b)`, `path = set_add(path, set)`…
    fn assignment(&mut self) -> Result<Action, AwsError> {
        let path = self.path()?;
        self.expect_sym("=")?;
        if let Some(f) = self.function_name() {
            let upper = f.to_ascii_uppercase();
            if upper == "SET_ADD" || upper == "SET_DELETE" {
                let at = self.at(self.pos);
                self.next();
                let mut args = self.arguments(Self::operand_plain)?;
                if args.len() != 2 {
                    return Err(validation(format!("{upper} must have exactly two arguments{at}")));
                }
                let (set, _) = args.remove(1);
                let (target, target_at) = args.remove(0);
                if target != Operand::Path(path.clone()) {
                    return Err(validation(format!(
                        "The first argument to {upper} must equal the assignment value{at}"
                    )));
                }
                let Operand::Value(set @ (Value::SS(_) | Value::NS(_) | Value::BS(_))) = set else {
                    return Err(validation(format!(
                        "The second argument to {upper} must be a value with type SET{}",
                        self.at(target_at)
                    )));
                };
                return Ok(if upper == "SET_ADD" { Action::Add(path, set) } else { Action::Delete(path, set) });
            }
        }
        Ok(Action::Set(path, self.set_value()?))
    }

    /// The arguments of a call whose name was just read, each parsed by `arg` and paired
    /// with the index of its first token.
    fn arguments<T>(
        &mut self,
        mut arg: impl FnMut(&mut Self) -> Result<T, AwsError>,
    ) -> Result<Vec<(T, usize)>, AwsError> {
        self.expect_sym("(")?;
        let mut args = Vec::new();
        if !self.sym(")") {
            loop {
                let at = self.pos;
                args.push((self.nested(&mut arg)?, at));
                if !self.sym(",") {
                    break;
                }
                self.next();
            }
        }
        self.expect_sym(")")?;
        Ok(args)
    }

    /// The arguments of function `name`: exactly `count` of them, the first a path when
    /// `path_first`; DynamoDB's messages otherwise.
    fn checked_arguments(&mut self, name: &str, count: usize, path_first: bool) -> Result<Vec<Operand>, AwsError> {
        let args: Vec<Operand> = self.arguments(Self::operand)?.into_iter().map(|(a, _)| a).collect();
        if args.len() != count {
            return Err(validation(format!(
                "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                args.len()
            )));
        }
        if path_first && !matches!(args[0], Operand::Path(_)) {
            return Err(validation(format!(
                "Operator or function requires a document path; operator or function: {name}"
            )));
        }
        Ok(args)
    }

    fn unrecognized(&self, name: &str) -> AwsError {
        validation(format!("Unrecognized function: {}{}", name.to_ascii_lowercase(), self.at(self.pos)))
    }

    fn set_value(&mut self) -> Result<Operand, AwsError> {
        let left = self.set_term()?;
        if self.sym("+") || self.sym("-") {
            let plus = self.sym("+");
            self.next();
            let right = self.set_term()?;
            return Ok(if plus {
                Operand::Plus(Box::new(left), Box::new(right))
            } else {
                Operand::Minus(Box::new(left), Box::new(right))
            });
        }
        Ok(left)
    }

    fn set_term(&mut self) -> Result<Operand, AwsError> {
        if let Some(f) = self.function_name() {
            let lower = f.to_ascii_lowercase();
            if lower != "list_append" && lower != "if_not_exists" {
                return Err(self.unrecognized(&f));
            }
            self.next();
            let args = self.arguments(Self::set_value)?;
            if args.len() != 2 {
                return Err(validation(format!(
                    "Incorrect number of operands for operator or function; operator or function: {lower}, number of operands: {}",
                    args.len()
                )));
            }
            let mut args = args.into_iter().map(|(a, _)| a);
            let (first, second) = (args.next().expect("two"), args.next().expect("two"));
            return match (lower.as_str(), first) {
                ("list_append", first) => Ok(Operand::ListAppend(Box::new(first), Box::new(second))),
                (_, Operand::Path(p)) => Ok(Operand::IfNotExists(p, Box::new(second))),
                _ => Err(validation(
                    "Operator or function requires a document path; operator or function: if_not_exists",
                )),
            };
        }
        self.operand_plain()
    }

    /// A name followed by `(`.
    fn function_name(&self) -> Option<String> {
        match (self.peek(), self.toks.get(self.pos + 1)) {
            (Tok::Word(w), Some(Tok::Sym("("))) => Some(w.clone()),
            _ => None,
        }
    }

    fn is_value_start(&self) -> bool {
        match self.peek() {
            Tok::Str(_) | Tok::Num(_) => true,
            Tok::Sym(s) => ["{", "[", "<<", "?", "-"].contains(s),
            Tok::Word(w) => ["TRUE", "FALSE", "NULL"].contains(&w.to_ascii_uppercase().as_str()),
            _ => false,
        }
    }

    /// A path or a literal.
    fn operand_plain(&mut self) -> Result<Operand, AwsError> {
        if self.is_value_start() { Ok(Operand::Value(self.value()?)) } else { Ok(Operand::Path(self.path()?)) }
    }

    /// A condition operand: a path, a literal or `size(path)`.
    fn operand(&mut self) -> Result<Operand, AwsError> {
        if let Some(f) = self.function_name() {
            if !f.eq_ignore_ascii_case("size") {
                return Err(self.unrecognized(&f));
            }
            self.next();
            let mut args = self.checked_arguments("size", 1, true)?;
            let Operand::Path(p) = args.remove(0) else { unreachable!("checked to be a path") };
            return Ok(Operand::Size(p));
        }
        self.operand_plain()
    }

    fn condition(&mut self) -> Result<Cond, AwsError> {
        let mut left = self.conjunction()?;
        while self.eat_keyword("OR") {
            self.right_side()?;
            left = Cond::Or(Box::new(left), Box::new(self.conjunction()?));
        }
        Ok(left)
    }

    fn conjunction(&mut self) -> Result<Cond, AwsError> {
        let mut left = self.negation()?;
        while self.eat_keyword("AND") {
            self.right_side()?;
            left = Cond::And(Box::new(left), Box::new(self.negation()?));
        }
        Ok(left)
    }

    /// An infix operator at the end of the statement has nothing on its right.
    fn right_side(&self) -> Result<(), AwsError> {
        match self.peek() {
            Tok::Eof | Tok::Sym(";") => Err(malformed("Missing right-hand side expression of infix operator")),
            _ => Ok(()),
        }
    }

    fn negation(&mut self) -> Result<Cond, AwsError> {
        if self.eat_keyword("NOT") {
            return Ok(Cond::Not(Box::new(self.nested(Self::negation)?)));
        }
        self.predicate()
    }

    /// A group or a test. The group's parsing is apart from the tests' so that each level
    /// of nesting takes little stack.
    fn predicate(&mut self) -> Result<Cond, AwsError> {
        if self.sym("(") {
            self.next();
            let inner = self.nested(Self::condition)?;
            self.expect_sym(")")?;
            return Ok(inner);
        }
        self.test()
    }

    /// A function, a comparison, `BETWEEN`, `IN` or `IS`.
    fn test(&mut self) -> Result<Cond, AwsError> {
        // size() is an operand, compared below.
        if let Some(f) = self.function_name().filter(|f| !f.eq_ignore_ascii_case("size")) {
            let lower = f.to_ascii_lowercase();
            let (arity, path_first) = match lower.as_str() {
                "attribute_exists" | "attribute_not_exists" => (1, true),
                "attribute_type" => (2, true),
                "begins_with" | "contains" => (2, false),
                _ => return Err(self.unrecognized(&f)),
            };
            self.next();
            let mut args = self.checked_arguments(&lower, arity, path_first)?.into_iter();
            let first = args.next().expect("checked count");
            let second = args.next();
            return Ok(match (lower.as_str(), first, second) {
                ("attribute_exists", Operand::Path(p), _) => Cond::Exists(p),
                ("attribute_not_exists", Operand::Path(p), _) => Cond::NotExists(p),
                ("attribute_type", Operand::Path(p), Some(ty)) => {
                    check_type_name(&ty)?;
                    Cond::Type(p, ty)
                }
                ("begins_with", a, Some(prefix)) => {
                    for op in [&a, &prefix] {
                        if let Operand::Value(v) = op
                            && !matches!(v, Value::S(_) | Value::B(_))
                        {
                            return Err(validation(format!(
                                "Incorrect operand type for operator or function; operator or function: begins_with, operand type: {}",
                                v.type_code()
                            )));
                        }
                    }
                    Cond::BeginsWith(a, prefix)
                }
                (_, a, Some(needle)) => Cond::Contains(a, needle),
                _ => unreachable!("arguments checked above"),
            });
        }
        let left = self.operand()?;
        if self.eat_keyword("IS") {
            let negated = self.eat_keyword("NOT");
            let Operand::Path(p) = left else {
                return Err(validation(
                    "The left hand side argument to IS must be a Variable Reference, Literal, or Path",
                ));
            };
            let Tok::Word(word) = self.peek().clone() else {
                return Err(malformed("Expected type name"));
            };
            let mut ty = word.to_ascii_uppercase();
            self.next();
            // PartiQL's two-word type names.
            for (first, second) in [("DOUBLE", "PRECISION"), ("CHARACTER", "VARYING")] {
                if ty == first && self.eat_keyword(second) {
                    ty = format!("{first} {second}");
                }
            }
            // MISSING is absence; the other types DynamoDB tests are its attribute types.
            let code = match ty.as_str() {
                "MISSING" => None,
                "NULL" => Some("NULL"),
                "BOOLEAN" => Some("BOOL"),
                "BLOB" => Some("B"),
                "STRING" => Some("S"),
                "NUMERIC" => Some("N"),
                "STRUCT" | "TUPLE" => Some("M"),
                "LIST" => Some("L"),
                t if PARTIQL_TYPES.contains(&t) => {
                    return Err(validation(format!(
                        "Unsupported data type for IS operator: {t}. Supported data types are [MISSING, NULL, BOOLEAN, BLOB, STRING, NUMERIC, STRUCT, TUPLE, LIST]"
                    )));
                }
                _ => return Err(malformed("Expected type name")),
            };
            let is = match code {
                None => Cond::NotExists(p),
                Some(code) => Cond::Type(p, Operand::Value(Value::S(code.to_string()))),
            };
            return Ok(if negated { Cond::Not(Box::new(is)) } else { is });
        }
        // `x NOT BETWEEN …` and `x NOT IN …` negate the predicate.
        let negated = self.keyword("NOT")
            && matches!(self.toks.get(self.pos + 1), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("IN") || w.eq_ignore_ascii_case("BETWEEN"));
        if negated {
            self.next();
        }
        let negate = |c: Cond| if negated { Cond::Not(Box::new(c)) } else { c };
        if self.eat_keyword("BETWEEN") {
            let low = self.operand()?;
            self.expect_keyword("AND")?;
            let high = self.operand()?;
            for op in [&left, &low, &high] {
                check_ordered("BETWEEN", op)?;
            }
            return Ok(negate(Cond::Between(left, low, high)));
        }
        if self.eat_keyword("IN") {
            let close = if self.sym("[") {
                "]"
            } else if self.sym("(") {
                ")"
            } else {
                return Err(validation(
                    "IN operator must have a left hand argument of type Variable Reference and right hand argument of type Seq with at least one member",
                ));
            };
            self.next();
            let mut options = Vec::new();
            while !self.sym(close) {
                options.push(self.operand()?);
                if !self.sym(",") {
                    break;
                }
                self.next();
            }
            self.expect_sym(close)?;
            if options.is_empty() {
                return Err(validation(
                    "IN operator must have a left hand argument of type Variable Reference and right hand argument of type Seq with at least one member",
                ));
            }
            return Ok(negate(Cond::In(left, options)));
        }
        let cmp = match self.peek() {
            Tok::Sym("=") => Cmp::Eq,
            Tok::Sym("<>" | "!=") => Cmp::Ne,
            Tok::Sym("<") => Cmp::Lt,
            Tok::Sym("<=") => Cmp::Le,
            Tok::Sym(">") => Cmp::Gt,
            Tok::Sym(">=") => Cmp::Ge,
            _ => return Err(self.unexpected("Expected comparison")),
        };
        self.next();
        let right = self.operand()?;
        if !matches!(cmp, Cmp::Eq | Cmp::Ne) {
            check_ordered(cmp.symbol(), &left)?;
            check_ordered(cmp.symbol(), &right)?;
        }
        Ok(Cond::Cmp(cmp, left, right))
    }

    /// A literal (or a bound parameter).
    fn value(&mut self) -> Result<Value, AwsError> {
        self.value_at("root", false)
    }

    /// A literal at `at` (how DynamoDB names a place inside a value in its number errors:
    /// `root`, `root.key`, `root[1]`); `item` for the map of an INSERT, whose attributes
    /// are each at `root`.
    fn value_at(&mut self, at: &str, item: bool) -> Result<Value, AwsError> {
        let number =
            |text: &str| Num::parse(text).map(Value::N).map_err(|e| validation(format!("{} under {at}", e.message())));
        if let Some(f) = self.function_name() {
            return Err(validation(format!("Unsupported data type: {f} under key root{}", self.at(self.pos))));
        }
        match self.next() {
            Tok::Str(s) => Ok(Value::S(s)),
            Tok::Num(n) => number(&n),
            Tok::Sym("-") => match self.next() {
                Tok::Num(n) => number(&format!("-{n}")),
                t => Err(malformed(format!("Expected number, found {t}"))),
            },
            Tok::Sym("?") => {
                let v = self
                    .params
                    .get(self.used)
                    .cloned()
                    .ok_or_else(|| validation("Number of parameters in request and statement don't match."))?;
                self.used += 1;
                Ok(v)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("TRUE") => Ok(Value::Bool(true)),
            Tok::Word(w) if w.eq_ignore_ascii_case("FALSE") => Ok(Value::Bool(false)),
            Tok::Word(w) if w.eq_ignore_ascii_case("NULL") => Ok(Value::Null),
            Tok::Sym("{") => {
                let mut map = Item::new();
                while !self.sym("}") {
                    let key = match self.next() {
                        Tok::Str(k) | Tok::Quoted(k) => k,
                        t => return Err(validation(format!("Tuple keys must be of type String. Actual type: {t}"))),
                    };
                    self.expect_sym(":")?;
                    let inner = if item { at.to_string() } else { format!("{at}.{key}") };
                    let v = self.nested(|p| p.value_at(&inner, false))?;
                    if map.insert(key.clone(), v).is_some() {
                        return Err(validation(format!("Duplicate keys in tuple. Key: {key}")));
                    }
                    if !self.sym(",") {
                        break;
                    }
                    self.next();
                }
                self.expect_sym("}")?;
                Ok(Value::M(map))
            }
            Tok::Sym("[") => {
                let mut list = Vec::new();
                while !self.sym("]") {
                    let inner = format!("{at}[{}]", list.len());
                    list.push(self.nested(|p| p.value_at(&inner, false))?);
                    if !self.sym(",") {
                        break;
                    }
                    self.next();
                }
                self.expect_sym("]")?;
                Ok(Value::L(list))
            }
            Tok::Sym("<<") => {
                let mut members = Vec::new();
                while !self.sym(">>") {
                    if self.sym("?") {
                        return Err(validation(
                            "Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags",
                        ));
                    }
                    members.push(self.nested(|p| p.value_at(at, false))?);
                    if !self.sym(",") {
                        break;
                    }
                    self.next();
                }
                self.expect_sym(">>")?;
                set_of(members)
            }
            Tok::Eof => Err(malformed("Unexpected end of statement")),
            t => Err(malformed(format!("Expected value, found {t}"))),
        }
    }
}

/// Ordering comparisons take strings, numbers and binaries only.
fn check_ordered(operator: &str, operand: &Operand) -> Result<(), AwsError> {
    match operand {
        Operand::Value(v) if !matches!(v, Value::S(_) | Value::N(_) | Value::B(_)) => Err(validation(format!(
            "Incorrect operand type for operator or function; operator: {operator}, operand type: {}",
            v.type_code()
        ))),
        _ => Ok(()),
    }
}

/// attribute_type's second operand names one of DynamoDB's types.
fn check_type_name(ty: &Operand) -> Result<(), AwsError> {
    const TYPES: &[&str] = &["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"];
    match ty {
        Operand::Value(Value::S(t)) if !TYPES.contains(&t.as_str()) => Err(validation(format!(
            "Invalid attribute type name found; type: {t}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
        ))),
        Operand::Value(v) if !matches!(v, Value::S(_)) => Err(validation(format!(
            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {}",
            v.type_code()
        ))),
        _ => Ok(()),
    }
}

/// `<<…>>`: a string set or a number set.
fn set_of(members: Vec<Value>) -> Result<Value, AwsError> {
    if members.is_empty() {
        return Err(validation("Empty bags are not supported"));
    }
    let bag_error =
        || validation("Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags");
    let duplicates = |shown: Vec<String>| {
        crate::error::invalid(&format!("Input collection [{}] contains duplicates.", shown.join(", ")))
    };
    match &members[0] {
        Value::S(_) => {
            let mut set: Vec<String> = Vec::new();
            for m in members {
                let Value::S(s) = m else { return Err(bag_error()) };
                set.push(s);
            }
            if set.iter().enumerate().any(|(i, x)| set[..i].contains(x)) {
                return Err(duplicates(set));
            }
            Ok(Value::SS(set))
        }
        Value::N(_) => {
            let mut set: Vec<Num> = Vec::new();
            for m in members {
                let Value::N(n) = m else { return Err(bag_error()) };
                set.push(n);
            }
            if set.iter().enumerate().any(|(i, x)| set[..i].contains(x)) {
                return Err(duplicates(set.iter().map(Num::to_string).collect()));
            }
            Ok(Value::NS(set))
        }
        _ => Err(bag_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::S(v.into())
    }

    fn n(v: &str) -> Value {
        Value::N(Num::parse(v).unwrap())
    }

    fn path(names: &[&str]) -> Path {
        Path(names.iter().map(|p| p.parse().map(Step::Index).unwrap_or_else(|_| Step::Key(p.to_string()))).collect())
    }

    fn check(src: &str, params: &[Value], expected: Result<Statement, &str>) {
        assert_eq!(parse(src, params).map_err(|e| e.message), expected.map_err(str::to_string), "{src}");
    }

    #[test]
    fn nesting_is_refused_before_it_exhausts_the_stack() {
        // On a thread with the stack Brume's own threads have, as a debug build needs.
        let deep = || {
            let groups = format!("SELECT * FROM t WHERE {}a = 1{}", "(".repeat(1000), ")".repeat(1000));
            check(
                &groups,
                &[],
                Err("Statement wasn't well formed, can't be processed: Expression nesting exceeds the supported depth"),
            );
            for (open, close) in [("[", "]"), ("{'k': ", "}"), ("<<", ">>")] {
                let literal =
                    format!("INSERT INTO t VALUE {{'pk': 'a', 'v': {}1{}}}", open.repeat(1000), close.repeat(1000));
                check(&literal, &[], Err(NESTING_LIMIT_EXCEEDED));
            }
        };
        std::thread::Builder::new().stack_size(8 << 20).spawn(deep).unwrap().join().unwrap();
    }

    fn eq(name: &str, v: Value) -> Cond {
        Cond::Cmp(Cmp::Eq, Operand::Path(path(&[name])), Operand::Value(v))
    }

    fn and(a: Cond, b: Cond) -> Cond {
        Cond::And(Box::new(a), Box::new(b))
    }

    #[test]
    fn selects() {
        check(
            r#"SELECT * FROM "music" WHERE pk = 'a' AND sk >= 2"#,
            &[],
            Ok(Statement::Select(Select {
                table: "music".into(),
                index: None,
                projection: None,
                condition: Some(and(
                    eq("pk", s("a")),
                    Cond::Cmp(Cmp::Ge, Operand::Path(path(&["sk"])), Operand::Value(n("2"))),
                )),
                order: vec![],
            })),
        );
        check(
            r#"select a, "b c".d, e[0] from t."by-colour" where colour in ['red', ?] order by sk desc;"#,
            &[s("blue")],
            Ok(Statement::Select(Select {
                table: "t".into(),
                index: Some("by-colour".into()),
                projection: Some(vec![path(&["a"]), path(&["b c", "d"]), path(&["e", "0"])]),
                condition: Some(Cond::In(
                    Operand::Path(path(&["colour"])),
                    vec![Operand::Value(s("red")), Operand::Value(s("blue"))],
                )),
                order: vec![("sk".into(), true)],
            })),
        );
        check(
            "SELECT * FROM t WHERE x IS NOT MISSING AND NOT (y <> 'it''s' OR size(z) BETWEEN 1 AND 3) -- note",
            &[],
            Ok(Statement::Select(Select {
                table: "t".into(),
                index: None,
                projection: None,
                condition: Some(and(
                    Cond::Not(Box::new(Cond::NotExists(path(&["x"])))),
                    Cond::Not(Box::new(Cond::Or(
                        Box::new(Cond::Cmp(Cmp::Ne, Operand::Path(path(&["y"])), Operand::Value(s("it's")))),
                        Box::new(Cond::Between(
                            Operand::Size(path(&["z"])),
                            Operand::Value(n("1")),
                            Operand::Value(n("3")),
                        )),
                    ))),
                )),
                order: vec![],
            })),
        );
    }

    #[test]
    fn literals_of_every_kind() {
        let Statement::Insert { item, .. } = parse(
            "INSERT INTO t VALUE {'pk': 'a', 'n': -1.50, 'b': true, 'z': null, 'm': {'l': [1, 'x']}, 'ss': <<'a', 'b'>>, 'ns': <<1, 2>>, 'p': ?}",
            &[Value::B(vec![1])],
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(item["n"], n("-1.5"));
        assert_eq!(item["b"], Value::Bool(true));
        assert_eq!(item["z"], Value::Null);
        assert_eq!(item["m"], Value::M([("l".to_string(), Value::L(vec![n("1"), s("x")]))].into()));
        assert_eq!(item["ss"], Value::SS(vec!["a".into(), "b".into()]));
        assert_eq!(item["ns"], Value::NS(vec![Num::parse("1").unwrap(), Num::parse("2").unwrap()]));
        assert_eq!(item["p"], Value::B(vec![1]));
    }

    #[test]
    fn updates_and_deletes() {
        check(
            "UPDATE t SET a = 1, b = b + 2 SET l = list_append(l, [3]) REMOVE c, d.e WHERE pk = 'x' RETURNING MODIFIED NEW *",
            &[],
            Ok(Statement::Update {
                table: "t".into(),
                actions: vec![
                    Action::Set(path(&["a"]), Operand::Value(n("1"))),
                    Action::Set(
                        path(&["b"]),
                        Operand::Plus(Box::new(Operand::Path(path(&["b"]))), Box::new(Operand::Value(n("2")))),
                    ),
                    Action::Set(
                        path(&["l"]),
                        Operand::ListAppend(
                            Box::new(Operand::Path(path(&["l"]))),
                            Box::new(Operand::Value(Value::L(vec![n("3")]))),
                        ),
                    ),
                    Action::Remove(path(&["c"])),
                    Action::Remove(path(&["d", "e"])),
                ],
                condition: eq("pk", s("x")),
                returning: Some(Returning::ModifiedNew),
            }),
        );
        check(
            "UPDATE t SET tags = set_add(tags, <<'x'>>) WHERE pk = ?",
            &[s("k")],
            Ok(Statement::Update {
                table: "t".into(),
                actions: vec![Action::Add(path(&["tags"]), Value::SS(vec!["x".into()]))],
                condition: eq("pk", s("k")),
                returning: None,
            }),
        );
        check(
            "from t where pk = ? and n = 1 set a = 1 remove b returning all new *",
            &[s("x")],
            Ok(Statement::Update {
                table: "t".into(),
                actions: vec![Action::Set(path(&["a"]), Operand::Value(n("1"))), Action::Remove(path(&["b"]))],
                condition: and(eq("pk", s("x")), eq("n", n("1"))),
                returning: Some(Returning::AllNew),
            }),
        );
        check(
            "DELETE FROM t WHERE pk = 'x' RETURNING ALL OLD *",
            &[],
            Ok(Statement::Delete {
                table: "t".into(),
                condition: eq("pk", s("x")),
                returning: Some(Returning::AllOld),
            }),
        );
    }

    /// Messages AWS is known to give for each statement.
    #[test]
    fn grammar_errors_read_as_dynamodb_writes_them() {
        let malformed = |d: &str| format!("Statement wasn't well formed, can't be processed: {d}");
        let cases: &[(&str, String)] = &[
            ("SELECT * FROM t WHERE pk = 1)", malformed("Unexpected token after expression")),
            ("SELECT * FROM t ORDER BY pk WHERE pk = 1", malformed("Unexpected token after expression")),
            ("DELETE FROM t WHERE pk = 1 ORDER BY pk", malformed("Unexpected token after expression")),
            ("SELECT * FROM t WHERE pk = 1 # note", malformed("")),
            ("SELECT * FROM t WHERE pk = 1 /* note", malformed("")),
            ("SELECT * FROM t WHERE pk = 1e2147483648", malformed("")),
            ("SELECT * FROM t WHERE pk = 1.5e-2147483647", malformed("")),
            ("SELECT * FROM t WHERE", malformed("Unexpected term")),
            ("SELECT * FROM t WHERE;", malformed("Unexpected term")),
            ("SELECT * FROM t WHERE NOT", malformed("Unexpected term")),
            ("SELECT * FROM t WHERE (", malformed("Unexpected term")),
            ("UPDATE t SET a = 1 WHERE", malformed("Unexpected term")),
            ("SELECT * FROM", malformed("Unexpected term")),
            ("SELECT * FROM t WHERE pk = 'p1' AND", malformed("Missing right-hand side expression of infix operator")),
            ("SELECT * FROM t WHERE pk = 'p1' OR", malformed("Missing right-hand side expression of infix operator")),
            ("SELECT * FROM t WHERE ORDER BY pk", malformed("Unexpected keyword")),
            ("SELECT * FROM t WHERE IS NULL", malformed("Unexpected operator")),
            ("SELECT * FROM t WHERE pk = LIKE", malformed("Unexpected operator")),
            ("SELECT * FROM t WHERE pk = 'a' AND x IS FOO", malformed("Expected type name")),
            ("DELETE FROM", malformed("Expected identifier for simple path")),
            ("DELETE FROM;", malformed("Expected identifier for simple path")),
            ("DELETE FROM WHERE pk = 'a'", malformed("Expected identifier for simple path")),
            ("SELECT * FROM \"t\" t WHERE pk = 'x'", "Aliasing is not supported".into()),
            ("SELECT * FROM t AS x WHERE pk = 'x'", "Aliasing is not supported".into()),
            ("UPDATE t x SET a = 3 WHERE pk = 'x'", "Aliasing is not supported".into()),
            ("DELETE FROM t x WHERE pk = 'x'", "Aliasing is not supported".into()),
            ("INSERT INTO t x VALUE {'pk': 'x'}", malformed("Unexpected token after expression")),
            ("FROM t SET c = 1", "Where clause does not contain a mandatory equality on all key attributes".into()),
            ("FROM t REMOVE a", "Where clause does not contain a mandatory equality on all key attributes".into()),
            ("FROM t SET c = 1 WHERE pk = 'x'", malformed("Unexpected token after expression")),
            (
                "SELECT * FROM t WHERE pk = 1e126",
                "Number overflow. Attempting to store a number with magnitude larger than supported range under root".into(),
            ),
            (
                "UPDATE t SET a = 1e-131 WHERE pk = 1",
                "Number underflow. Attempting to store a number with magnitude smaller than supported range under root"
                    .into(),
            ),
            (
                "INSERT INTO t VALUE {'pk': 1, 'm': {'x': 1e126}}",
                "Number overflow. Attempting to store a number with magnitude larger than supported range under root.x"
                    .into(),
            ),
            (
                "INSERT INTO t VALUE {'pk': 1, 'l': [1, 1e126]}",
                "Number overflow. Attempting to store a number with magnitude larger than supported range under root[1]"
                    .into(),
            ),
            (
                "SELECT * FROM t WHERE a IS INT4",
                "Unsupported data type for IS operator: INT4. Supported data types are [MISSING, NULL, BOOLEAN, BLOB, STRING, NUMERIC, STRUCT, TUPLE, LIST]".into(),
            ),
        ];
        for (src, message) in cases {
            assert_eq!(parse(src, &[]).map_err(|e| e.message), Err(message.clone()), "{src}");
        }
    }

    #[test]
    fn errors_read_as_dynamodb_writes_them() {
        check(
            "SLECT * FROM t",
            &[],
            Err("Statement wasn't well formed, can't be processed: Expected data manipulation"),
        );
        check(
            "SELECT * FROM t WHERE pk = 'a' garbage",
            &[],
            Err("Statement wasn't well formed, can't be processed: Unexpected token after expression"),
        );
        check("SELECT * FROM t WHERE pk = ?", &[], Err("Number of parameters in request and statement don't match."));
        check(
            "SELECT *, a FROM t",
            &[],
            Err("Other attributes should not be present in the projection when '*' is used."),
        );
        check(
            "DELETE FROM t WHERE pk = 'a' RETURNING MODIFIED OLD *",
            &[],
            Err(
                "Invalid returning clause: RETURNING MODIFIED OLD *. Only RETURNING ALL OLD * is allowed in DELETE statements.",
            ),
        );
        check("INSERT INTO t VALUE {'pk': 'a'} RETURNING ALL OLD *", &[], Err("RETURNING is not supported in INSERT"));
        check(
            "INSERT INTO t VALUES {'pk': 'a'}",
            &[],
            Err(
                "Unsupported operation: Inserting multiple items in a single statement is not supported, use \"INSERT INTO tableName VALUE item\" instead",
            ),
        );
        check("INSERT INTO t VALUE {'s': <<>>}", &[], Err("Empty bags are not supported"));
        check(
            "INSERT INTO t VALUE {'s': <<'a', 'a'>>}",
            &[],
            Err("One or more parameter values were invalid: Input collection [a, a] contains duplicates."),
        );
        check(
            "INSERT INTO t VALUE {'s': <<'a', 1>>}",
            &[],
            Err("Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags"),
        );
        check("SELECT * FROM t WHERE foo(a)", &[], Err("Unrecognized function: foo at 1:23:3"));
        check(
            "SELECT * FROM t WHERE pk = ? AND val < ?",
            &[s("x"), Value::Bool(true)],
            Err("Incorrect operand type for operator or function; operator: <, operand type: BOOL"),
        );
        check(
            "SELECT * FROM t WHERE begins_with(a, 1)",
            &[],
            Err("Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
        );
        check(
            "SELECT * FROM t WHERE attribute_type(a, 'Q')",
            &[],
            Err("Invalid attribute type name found; type: Q, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"),
        );
        check("SELECT * FROM \"\" WHERE pk = 'x'", &[], Err("Path component cannot be an empty string"));
        check("SELECT * FROM t\nWHERE EXISTS(a)", &[], Err("Unrecognized function: exists at 2:7:6"));
        check("SELECT size(a) FROM t", &[], Err("Unexpected path component at 1:8:4"));
        check(
            "SELECT * FROM t WHERE attribute_exists('a')",
            &[],
            Err("Operator or function requires a document path; operator or function: attribute_exists"),
        );
        check(
            "SELECT * FROM t WHERE attribute_exists()",
            &[],
            Err(
                "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 0",
            ),
        );
        check(
            "UPDATE t SET s = set_add(s) WHERE pk = 'a'",
            &[],
            Err("SET_ADD must have exactly two arguments at 1:18:7"),
        );
        check(
            "UPDATE t SET s = set_delete(s, 'x') WHERE pk = 'a'",
            &[],
            Err("The second argument to SET_DELETE must be a value with type SET at 1:29:1"),
        );
        check(
            "INSERT INTO t VALUE {'pk': 'a', 's': set_add(<<'a'>>, <<'b'>>)}",
            &[],
            Err("Unsupported data type: set_add under key root at 1:38:7"),
        );
        check(
            "SELECT * FROM t WHERE pad = 1",
            &[],
            Err("Statement wasn't well formed, can't be processed: Unexpected keyword"),
        );
        check("SELECT * FROM user", &[], Err("Statement wasn't well formed, can't be processed: Unexpected keyword"));
        check(
            "SELECT payload.size FROM t",
            &[],
            Err("Statement wasn't well formed, can't be processed: Invalid path dot component"),
        );
        assert!(parse(r#"SELECT payload."size", "user" FROM "user" WHERE "pad" = 1"#, &[]).is_ok());
        let Ok(Statement::Select(Select { condition: Some(Cond::Not(inner)), .. })) =
            parse("SELECT * FROM t WHERE a NOT BETWEEN 1 AND 2", &[])
        else {
            panic!("NOT BETWEEN")
        };
        assert!(matches!(*inner, Cond::Between(..)));
        check(
            "SELECT * FROM t WHERE a IS DATE",
            &[],
            Err(
                "Unsupported data type for IS operator: DATE. Supported data types are [MISSING, NULL, BOOLEAN, BLOB, STRING, NUMERIC, STRUCT, TUPLE, LIST]",
            ),
        );
        check(
            "UPDATE t SET a = set_add(b, <<1>>) WHERE pk = 'a'",
            &[],
            Err("The first argument to SET_ADD must equal the assignment value at 1:18:7"),
        );
        check("SELECT * FROM t WHERE a = 'open", &[], Err("Statement wasn't well formed, can't be processed: "));
    }
}
