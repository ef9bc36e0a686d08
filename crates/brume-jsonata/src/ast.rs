//! The processed syntax tree the evaluator walks: paths as lists of steps, with their
//! predicates, context and index bindings, grouping and order-by attached as jsonata-js
//! attaches them.

use std::sync::Arc;

use crate::regex::Regex;
use crate::signature::Signature;

#[derive(Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    pub pos: usize,
    /// Predicates and index bindings applied to this step of a path.
    pub stages: Vec<Stage>,
    /// Predicates applied to the value of an expression outside a path (`$x[0]`).
    pub predicates: Vec<Node>,
    pub group: Option<Group>,
    /// `@$v`: binds each result to `$v` and keeps the context.
    pub focus: Option<String>,
    /// `#$i`: binds each result's position to `$i`.
    pub index: Option<String>,
    /// The step binds variables: its path runs as a stream of tuples.
    pub tuple: bool,
    /// `[]`: a singleton result stays an array.
    pub keep_array: bool,
    /// An array constructor as the first or last step of a path: not flattened.
    pub cons_array: bool,
}

#[derive(Debug)]
pub(crate) enum Stage {
    Filter(Node),
    Index(String),
}

#[derive(Debug)]
pub(crate) struct Group {
    pub pairs: Vec<(Node, Node)>,
    pub pos: usize,
}

#[derive(Debug)]
pub(crate) struct SortTerm {
    pub descending: bool,
    pub expr: Node,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Concat,
    And,
    Or,
    In,
    Range,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Concat => "&",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::In => "in",
            BinOp::Range => "..",
        }
    }
}

#[derive(Debug)]
pub(crate) enum Kind {
    Path {
        steps: Vec<Node>,
        keep_singleton: bool,
    },
    Name(String),
    Wildcard,
    Descendant,
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Regex(Arc<Regex>),
    /// `$name`; "" is the context `$`, "$" the root `$$`.
    Var(String),
    Neg(Box<Node>),
    Array(Vec<Node>),
    Object(Vec<(Node, Node)>),
    Binary {
        op: BinOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    Condition {
        cond: Box<Node>,
        then: Box<Node>,
        otherwise: Option<Box<Node>>,
    },
    /// `a ?? b`: `b` when `a` is undefined.
    Coalesce {
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    /// `a ?: b`: `a` when it is truthy, else `b`.
    Elvis {
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    Block(Vec<Node>),
    Bind {
        name: String,
        value: Box<Node>,
    },
    /// A call; with a placeholder argument it is a partial application.
    Call {
        proc: Box<Node>,
        args: Vec<Node>,
        partial: bool,
    },
    /// `?` in a partial application's arguments.
    Placeholder,
    Lambda(Arc<Lambda>),
    /// `lhs ~> rhs`.
    Apply {
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    /// The order-by step `^(...)`.
    Sort(Vec<SortTerm>),
    /// `| pattern | update, delete |`: a function returning a modified copy of its argument.
    Transform(Arc<Transform>),
}

#[derive(Debug)]
pub(crate) struct Transform {
    pub pattern: Node,
    pub update: Node,
    pub delete: Option<Node>,
}

#[derive(Debug)]
pub(crate) struct Lambda {
    pub params: Vec<String>,
    pub signature: Option<Signature>,
    pub body: Node,
}

impl Node {
    pub fn new(kind: Kind, pos: usize) -> Node {
        Node {
            kind,
            pos,
            stages: Vec::new(),
            predicates: Vec::new(),
            group: None,
            focus: None,
            index: None,
            tuple: false,
            keep_array: false,
            cons_array: false,
        }
    }
}
