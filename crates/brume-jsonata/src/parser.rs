//! A Pratt parser (top-down operator precedence, as jsonata-js's) that builds the processed
//! tree directly: `a.b[p]` becomes one path whose step `b` carries the predicate, `@`/`#`
//! bindings mark tuple steps, `^(...)` adds a sort step.

use std::sync::Arc;

use crate::Error;
use crate::ast::{BinOp, Group, Kind, Lambda, Node, SortTerm, Stage, Transform};
use crate::errors::{Arg, error};
use crate::eval::stack_address;
use crate::lexer::{Tok, Token, tokenize};
use crate::regex::Regex;
use crate::signature::Signature;

pub(crate) fn parse(source: &str) -> Result<Node, Error> {
    let tokens = tokenize(source)?;
    let mut p = Parser { tokens, i: 0, chars: source.chars().collect(), stack_base: stack_address() };
    let node = p.expression(0)?;
    if p.peek().tok != Tok::End {
        let t = p.peek().clone();
        return Err(error("S0201", t.start, &[("token", Arg::Text(&p.text(&t)))]));
    }
    Ok(node)
}

/// How much of the caller's stack parsing may use. The parser recurses once per level of
/// nesting, so an expression of a few KB of parentheses would otherwise exhaust the stack
/// and abort the process. Half of a 2 MiB thread: hundreds of levels in a release build,
/// where expressions written by people nest a few; deeper ones fail as evaluations that
/// run out of stack do, with U1001.
const STACK_BUDGET: usize = 1 << 20;

struct Parser {
    tokens: Vec<Token>,
    i: usize,
    chars: Vec<char>,
    /// The stack address where parsing began.
    stack_base: usize,
}

fn lbp(tok: &Tok) -> u32 {
    match tok {
        Tok::Op(op) => match *op {
            "." => 75,
            "[" | "(" | "@" | "#" => 80,
            "{" => 70,
            "*" | "/" | "%" => 60,
            "+" | "-" | "&" => 50,
            "=" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "^" | "~>" | "?:" | "??" => 40,
            "and" => 30,
            "or" => 25,
            "?" | ".." => 20,
            ":=" => 10,
            _ => 0,
        },
        _ => 0,
    }
}

fn binop(op: &str) -> Option<BinOp> {
    Some(match op {
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "%" => BinOp::Mod,
        "=" => BinOp::Eq,
        "!=" => BinOp::Ne,
        "<" => BinOp::Lt,
        "<=" => BinOp::Le,
        ">" => BinOp::Gt,
        ">=" => BinOp::Ge,
        "&" => BinOp::Concat,
        "and" => BinOp::And,
        "or" => BinOp::Or,
        "in" => BinOp::In,
        ".." => BinOp::Range,
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.i]
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.i].clone();
        if self.i + 1 < self.tokens.len() {
            self.i += 1;
        }
        t
    }

    fn text(&self, t: &Token) -> String {
        self.chars[t.start..t.end].iter().collect()
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek().tok, Tok::Op(o) if o == op)
    }

    fn expect(&mut self, op: &str) -> Result<Token, Error> {
        if self.is_op(op) {
            return Ok(self.next());
        }
        let t = self.peek().clone();
        if t.tok == Tok::End {
            return Err(error("S0203", t.start, &[("value", Arg::Text(op))]));
        }
        Err(error("S0202", t.start, &[("value", Arg::Text(op)), ("token", Arg::Text(&self.text(&t)))]))
    }

    fn expression(&mut self, rbp: u32) -> Result<Node, Error> {
        if self.stack_base.abs_diff(stack_address()) > STACK_BUDGET {
            return Err(error("U1001", self.peek().start, &[]));
        }
        let t = self.next();
        let mut left = self.nud(t)?;
        while rbp < lbp(&self.peek().tok) {
            let t = self.next();
            left = self.led(t, left)?;
        }
        Ok(left)
    }

    fn nud(&mut self, t: Token) -> Result<Node, Error> {
        let pos = t.end;
        Ok(match t.tok {
            Tok::Num(n) => Node::new(Kind::Num(n), pos),
            Tok::Str(ref s) => Node::new(Kind::Str(s.clone()), pos),
            Tok::Value(Some(b)) => Node::new(Kind::Bool(b), pos),
            Tok::Value(None) => Node::new(Kind::Null, pos),
            Tok::Var(ref v) => Node::new(Kind::Var(v.clone()), pos),
            Tok::Regex { ref pattern, ref flags } => {
                let re = Regex::new(pattern, flags).map_err(|m| Error {
                    code: "S0302".into(),
                    message: format!("Invalid regular expression: /{pattern}/: {m}"),
                    position: pos,
                })?;
                Node::new(Kind::Regex(Arc::new(re)), pos)
            }
            Tok::Name(ref name) => name_path(name.clone(), pos),
            Tok::Op(op @ ("and" | "or" | "in")) => name_path(op.to_owned(), pos),
            Tok::Op("-") => {
                let expr = self.expression(70)?;
                match expr.kind {
                    Kind::Num(n) => Node::new(Kind::Num(-n), expr.pos),
                    _ => Node::new(Kind::Neg(Box::new(expr)), pos),
                }
            }
            Tok::Op("*") => Node::new(Kind::Wildcard, pos),
            Tok::Op("**") => Node::new(Kind::Descendant, pos),
            Tok::Op("%") => return Err(error("S0217", pos, &[])),
            Tok::Op("(") => {
                let mut exprs = Vec::new();
                while !self.is_op(")") {
                    exprs.push(self.expression(0)?);
                    if !self.is_op(";") {
                        break;
                    }
                    self.next();
                }
                self.expect(")")?;
                let mut block = Node::new(Kind::Block(Vec::new()), pos);
                block.cons_array = exprs
                    .iter()
                    .any(|e| e.cons_array || matches!(&e.kind, Kind::Path { steps, .. } if steps[0].cons_array));
                block.kind = Kind::Block(exprs);
                block
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                if !self.is_op("]") {
                    loop {
                        items.push(self.expression(0)?);
                        if !self.is_op(",") {
                            break;
                        }
                        self.next();
                    }
                }
                self.expect("]")?;
                Node::new(Kind::Array(items), pos)
            }
            Tok::Op("{") => Node::new(Kind::Object(self.object_pairs()?), pos),
            Tok::Op("|") => {
                let pattern = self.expression(0)?;
                self.expect("|")?;
                let update = self.expression(0)?;
                let delete = if self.is_op(",") {
                    self.next();
                    Some(self.expression(0)?)
                } else {
                    None
                };
                self.expect("|")?;
                Node::new(Kind::Transform(Arc::new(Transform { pattern, update, delete })), pos)
            }
            Tok::End => return Err(error("S0207", pos, &[])),
            Tok::Op(_) => return Err(error("S0211", t.start, &[("token", Arg::Text(&self.text(&t)))])),
        })
    }

    fn object_pairs(&mut self) -> Result<Vec<(Node, Node)>, Error> {
        let mut pairs = Vec::new();
        if !self.is_op("}") {
            loop {
                let key = self.expression(0)?;
                self.expect(":")?;
                let value = self.expression(0)?;
                pairs.push((key, value));
                if !self.is_op(",") {
                    break;
                }
                self.next();
            }
        }
        self.expect("}")?;
        Ok(pairs)
    }

    fn led(&mut self, t: Token, left: Node) -> Result<Node, Error> {
        let pos = t.end;
        let Tok::Op(op) = t.tok else {
            return Err(error("S0201", t.start, &[("token", Arg::Text(&self.text(&t)))]));
        };
        match op {
            "." => {
                let rhs = self.expression(75)?;
                path_step(left, rhs)
            }
            "[" => {
                if self.is_op("]") {
                    self.next();
                    return Ok(keep_array(left));
                }
                let predicate = self.expression(0)?;
                self.expect("]")?;
                predicate_step(left, predicate, pos)
            }
            "{" => {
                let pairs = self.object_pairs()?;
                let mut result = left;
                if result.group.is_some() {
                    return Err(error("S0210", pos, &[]));
                }
                result.group = Some(Group { pairs, pos });
                Ok(result)
            }
            "(" => self.call(left, pos),
            "^" => {
                self.expect("(")?;
                let mut terms = Vec::new();
                loop {
                    let mut descending = false;
                    if self.is_op("<") {
                        self.next();
                    } else if self.is_op(">") {
                        self.next();
                        descending = true;
                    }
                    terms.push(SortTerm { descending, expr: self.expression(0)? });
                    if !self.is_op(",") {
                        break;
                    }
                    self.next();
                }
                self.expect(")")?;
                let mut path = into_path(left);
                if let Kind::Path { steps, .. } = &mut path.kind {
                    steps.push(Node::new(Kind::Sort(terms), pos));
                }
                Ok(path)
            }
            "@" | "#" => {
                let rhs = self.expression(80)?;
                let Kind::Var(name) = rhs.kind else {
                    return Err(error("S0214", pos, &[("token", Arg::Text(op))]));
                };
                if op == "@" { focus_step(left, name, pos) } else { index_step(left, name) }
            }
            "?" => {
                let then = self.expression(0)?;
                let otherwise = if self.is_op(":") {
                    self.next();
                    Some(Box::new(self.expression(0)?))
                } else {
                    None
                };
                Ok(Node::new(Kind::Condition { cond: Box::new(left), then: Box::new(then), otherwise }, pos))
            }
            "?:" => {
                let rhs = self.expression(40)?;
                Ok(Node::new(Kind::Elvis { lhs: Box::new(left), rhs: Box::new(rhs) }, pos))
            }
            "??" => {
                let rhs = self.expression(40)?;
                Ok(Node::new(Kind::Coalesce { lhs: Box::new(left), rhs: Box::new(rhs) }, pos))
            }
            ":=" => {
                let value = self.expression(9)?;
                let Kind::Var(name) = left.kind else {
                    return Err(error("S0212", left.pos, &[]));
                };
                Ok(Node::new(Kind::Bind { name, value: Box::new(value) }, pos))
            }
            "~>" => {
                let rhs = self.expression(40)?;
                let keep = left.keep_array || rhs.keep_array;
                let mut node = Node::new(Kind::Apply { lhs: Box::new(left), rhs: Box::new(rhs) }, pos);
                node.keep_array = keep;
                Ok(node)
            }
            _ => {
                let Some(bop) = binop(op) else {
                    return Err(error("S0204", pos, &[("token", Arg::Text(op))]));
                };
                let rhs = self.expression(lbp(&Tok::Op(op)))?;
                Ok(Node::new(Kind::Binary { op: bop, lhs: Box::new(left), rhs: Box::new(rhs) }, pos))
            }
        }
    }

    /// `f(args)`, a partial application `f(?, x)`, or a lambda `function($x){...}`.
    fn call(&mut self, left: Node, pos: usize) -> Result<Node, Error> {
        let mut args = Vec::new();
        let mut partial = false;
        if !self.is_op(")") {
            loop {
                if self.is_op("?") {
                    let t = self.next();
                    partial = true;
                    args.push(Node::new(Kind::Placeholder, t.end));
                } else {
                    args.push(self.expression(0)?);
                }
                if !self.is_op(",") {
                    break;
                }
                self.next();
            }
        }
        self.expect(")")?;
        let is_lambda = matches!(&left.kind, Kind::Path { steps, .. }
            if steps.len() == 1 && matches!(&steps[0].kind, Kind::Name(n) if n == "function" || n == "λ"));
        if !is_lambda {
            return Ok(Node::new(Kind::Call { proc: Box::new(left), args, partial }, pos));
        }
        let mut params = Vec::new();
        for (i, arg) in args.into_iter().enumerate() {
            match arg.kind {
                Kind::Var(name) => params.push(name),
                _ => {
                    let index = crate::value::Value::Number((i + 1) as f64);
                    return Err(error("S0208", arg.pos, &[("value", Arg::Value(Some(&index)))]));
                }
            }
        }
        let signature = if self.is_op("<") { Some(self.signature()?) } else { None };
        self.expect("{")?;
        let body = self.expression(0)?;
        self.expect("}")?;
        Ok(Node::new(Kind::Lambda(Arc::new(Lambda { params, signature, body })), pos))
    }

    /// The `<...>` after a lambda's parameters, read from the source text.
    fn signature(&mut self) -> Result<Signature, Error> {
        let start = self.peek().start;
        let mut depth = 0;
        let mut end = start;
        for (i, &c) in self.chars.iter().enumerate().skip(start) {
            if c == '<' {
                depth += 1;
            } else if c == '>' {
                depth -= 1;
                if depth == 0 {
                    end = i + 1;
                    break;
                }
            }
        }
        if end == start {
            return Err(error("S0203", self.chars.len(), &[("value", Arg::Text(">"))]));
        }
        while self.peek().start < end && self.peek().tok != Tok::End {
            self.next();
        }
        let text: String = self.chars[start..end].iter().collect();
        Signature::parse(&text).map_err(|m| crate::errors::error_message("S0401", start, &m))
    }
}

fn name_path(name: String, pos: usize) -> Node {
    Node::new(Kind::Path { steps: vec![Node::new(Kind::Name(name), pos)], keep_singleton: false }, pos)
}

fn into_path(node: Node) -> Node {
    if matches!(node.kind, Kind::Path { .. }) {
        return node;
    }
    let pos = node.pos;
    Node::new(Kind::Path { steps: vec![node], keep_singleton: false }, pos)
}

/// `lhs.rhs`: the steps of both sides in one path.
fn path_step(lhs: Node, rhs: Node) -> Result<Node, Error> {
    let mut path = into_path(lhs);
    let Kind::Path { steps, keep_singleton } = &mut path.kind else { unreachable!("into_path makes a path") };
    match rhs.kind {
        Kind::Path { steps: more, .. } => steps.extend(more),
        _ => {
            let mut rhs = rhs;
            rhs.stages.extend(rhs.predicates.drain(..).map(Stage::Filter));
            steps.push(rhs);
        }
    }
    for step in steps.iter_mut() {
        match &step.kind {
            Kind::Num(n) => {
                return Err(error("S0213", step.pos, &[("value", Arg::Text(&crate::value::format_number(*n)))]));
            }
            Kind::Bool(b) => return Err(error("S0213", step.pos, &[("value", Arg::Text(&b.to_string()))])),
            Kind::Null => return Err(error("S0213", step.pos, &[("value", Arg::Text("null"))])),
            Kind::Str(s) => step.kind = Kind::Name(s.clone()),
            _ => {}
        }
    }
    if steps.iter().any(|s| s.keep_array) {
        *keep_singleton = true;
    }
    if let Some(first) = steps.first_mut()
        && matches!(first.kind, Kind::Array(_))
    {
        first.cons_array = true;
    }
    if let Some(last) = steps.last_mut()
        && matches!(last.kind, Kind::Array(_))
    {
        last.cons_array = true;
    }
    Ok(path)
}

/// `x[]`: a singleton result stays an array.
fn keep_array(mut node: Node) -> Node {
    if let Kind::Path { steps, keep_singleton } = &mut node.kind {
        if let Some(last) = steps.last_mut() {
            last.keep_array = true;
        }
        *keep_singleton = true;
    } else {
        node.keep_array = true;
    }
    node
}

fn predicate_step(mut node: Node, predicate: Node, pos: usize) -> Result<Node, Error> {
    if let Kind::Path { steps, .. } = &mut node.kind {
        let step = steps.last_mut().expect("a path has steps");
        if step.group.is_some() {
            return Err(error("S0209", pos, &[]));
        }
        step.stages.push(Stage::Filter(predicate));
    } else {
        if node.group.is_some() {
            return Err(error("S0209", pos, &[]));
        }
        node.predicates.push(predicate);
    }
    Ok(node)
}

fn focus_step(mut node: Node, name: String, pos: usize) -> Result<Node, Error> {
    let step = match &mut node.kind {
        Kind::Path { steps, .. } => steps.last_mut().expect("a path has steps"),
        _ => &mut node,
    };
    if !step.stages.is_empty() || !step.predicates.is_empty() {
        return Err(error("S0215", pos, &[]));
    }
    if matches!(step.kind, Kind::Sort(_)) {
        return Err(error("S0216", pos, &[]));
    }
    step.focus = Some(name);
    step.tuple = true;
    Ok(node)
}

fn index_step(node: Node, name: String) -> Result<Node, Error> {
    let mut path = if matches!(node.kind, Kind::Path { .. }) {
        node
    } else {
        let mut node = node;
        node.stages.extend(node.predicates.drain(..).map(Stage::Filter));
        into_path(node)
    };
    if let Kind::Path { steps, .. } = &mut path.kind {
        let step = steps.last_mut().expect("a path has steps");
        if step.stages.is_empty() {
            step.index = Some(name);
        } else {
            step.stages.push(Stage::Index(name));
        }
        step.tuple = true;
    }
    Ok(path)
}
