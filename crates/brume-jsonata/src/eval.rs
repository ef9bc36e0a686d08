//! The evaluator, following jsonata-js's semantics: path steps map over sequences and
//! flatten, singleton sequences unwrap, undefined propagates; steps with `@`/`#` bindings
//! run as streams of tuples that carry their variables.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Error;
use crate::ast::{BinOp, Kind, Lambda, Node, SortTerm, Stage, Transform};
use crate::errors::{Arg, error};
use crate::functions::{self, Builtin};
use crate::regex::Regex;
use crate::value::{Object, Value, deep_equal, format_number};

pub(crate) enum Function {
    Lambda {
        def: Arc<Lambda>,
        env: Env,
        input: Option<Value>,
    },
    Builtin(&'static Builtin),
    /// A partial application; `None` marks a placeholder.
    Partial {
        func: Value,
        args: Vec<Option<Option<Value>>>,
    },
    Regex(Arc<Regex>),
    /// `f ~> g` of two functions: `g(f(x))`.
    Chain(Value, Value),
    Transform {
        def: Arc<Transform>,
        env: Env,
    },
}

impl Function {
    /// How many arguments a higher-order function passes it.
    pub fn arity(&self) -> usize {
        match self {
            Function::Lambda { def, .. } => def.params.len(),
            Function::Builtin(b) => b.signature.required(),
            Function::Partial { args, .. } => args.iter().filter(|a| a.is_none()).count(),
            Function::Regex(_) | Function::Chain(..) | Function::Transform { .. } => 1,
        }
    }
}

pub(crate) struct Frame {
    vars: RefCell<HashMap<String, Option<Value>>>,
    parent: Option<Env>,
}

pub(crate) type Env = Rc<Frame>;

pub(crate) fn new_frame(parent: Option<&Env>) -> Env {
    Rc::new(Frame { vars: RefCell::new(HashMap::new()), parent: parent.cloned() })
}

impl Frame {
    pub fn bind(&self, name: &str, value: Option<Value>) {
        self.vars.borrow_mut().insert(name.to_owned(), value);
    }

    /// `Some(v)` when bound (to `v`, maybe undefined).
    fn lookup(&self, name: &str) -> Option<Option<Value>> {
        if let Some(v) = self.vars.borrow().get(name) {
            return Some(v.clone());
        }
        self.parent.as_ref()?.lookup(name)
    }
}

/// What a lambda's body comes to: a value, or a tail call still to make.
enum Tail {
    Done(Option<Value>),
    Call(LambdaCall),
}

/// A lambda about to be applied to its arguments.
struct LambdaCall {
    def: Arc<Lambda>,
    env: Env,
    /// The context the lambda was defined in, which its body sees.
    captured: Option<Value>,
    args: Vec<Option<Value>>,
    /// The context at the call, for the signature's `-` parameters.
    input: Option<Value>,
    name: String,
    pos: usize,
}

/// A tuple of a stream: the context `@` and the variables bound along the path.
#[derive(Clone)]
struct Tuple {
    at: Option<Value>,
    vars: Vec<(String, Value)>,
}

impl Tuple {
    fn set(&mut self, name: &str, value: Value) {
        match self.vars.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_owned(), value)),
        }
    }
}

pub(crate) struct Evaluator {
    /// The instant `$now()` and `$millis()` return throughout one evaluation.
    pub now_millis: i64,
    /// The stack address where the evaluation began.
    stack_base: usize,
    /// How much stack it may use before failing with U1001.
    stack_budget: usize,
    /// The environment of the function call being made, which `$eval` evaluates in.
    pub call_env: Option<Env>,
    /// When the evaluation gives up (an endless tail recursion never exhausts the stack).
    deadline: Instant,
    steps: u32,
}

/// The address of a local: how deep the stack is here.
#[inline(never)]
pub(crate) fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

type Res = Result<Option<Value>, Error>;

fn seq_items(v: Option<Value>) -> Vec<Value> {
    v.map(Value::into_items).unwrap_or_default()
}

impl Evaluator {
    pub fn new(now_millis: i64, stack_budget: usize, time_limit: Duration) -> Evaluator {
        Evaluator {
            now_millis,
            stack_base: stack_address(),
            stack_budget,
            call_env: None,
            deadline: Instant::now() + time_limit,
            steps: 0,
        }
    }

    pub fn eval(&mut self, node: &Node, input: Option<&Value>, env: &Env) -> Res {
        if self.stack_base.abs_diff(stack_address()) > self.stack_budget {
            return Err(error("U1001", node.pos, &[]));
        }
        self.steps = self.steps.wrapping_add(1);
        if self.steps.is_multiple_of(4096) && Instant::now() > self.deadline {
            return Err(Error {
                code: "U1001".into(),
                message: "Expression evaluation timeout: Check for infinite loop".into(),
                position: node.pos,
            });
        }
        self.eval_inner(node, input, env)
    }

    fn eval_inner(&mut self, node: &Node, input: Option<&Value>, env: &Env) -> Res {
        let mut result = self.eval_kind(node, input, env)?;
        if !node.predicates.is_empty() || node.group.is_some() {
            result = self.predicates_and_group(node, result, env)?;
        }
        Ok(match result {
            Some(Value::Array(a)) if a.sequence => unwrap_sequence(a, node.keep_array),
            other => other,
        })
    }

    #[inline(never)]
    fn predicates_and_group(&mut self, node: &Node, mut result: Option<Value>, env: &Env) -> Res {
        for predicate in &node.predicates {
            result = Some(self.filter(predicate, result, env)?);
        }
        if !matches!(node.kind, Kind::Path { .. })
            && let Some(group) = &node.group
        {
            let items = match result {
                Some(Value::Array(a)) => a.items.iter().map(|v| Tuple { at: Some(v.clone()), vars: vec![] }).collect(),
                other => vec![Tuple { at: other, vars: vec![] }],
            };
            result = Some(self.group(&group.pairs, group.pos, items, false, env)?);
        }
        Ok(result)
    }

    /// Each kind in a function of its own keeps this frame, which every nested evaluation
    /// adds to the stack, small.
    fn eval_kind(&mut self, node: &Node, input: Option<&Value>, env: &Env) -> Res {
        match &node.kind {
            Kind::Path { steps, keep_singleton } => self.path(node, steps, *keep_singleton, input, env),
            Kind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, input, env, node.pos),
            Kind::Call { proc, args, partial: false } => self.call(proc, args, None, input, env, node.pos),
            Kind::Call { proc, args, partial: true } => self.partial(proc, args, input, env, node.pos),
            Kind::Var(name) => Ok(variable(name, input, env)),
            Kind::Condition { cond, then, otherwise } => self.condition(cond, then, otherwise.as_deref(), input, env),
            Kind::Block(exprs) => self.block(exprs, input, env),
            _ => self.eval_other(node, input, env),
        }
    }

    #[inline(never)]
    fn condition(
        &mut self,
        cond: &Node,
        then: &Node,
        otherwise: Option<&Node>,
        input: Option<&Value>,
        env: &Env,
    ) -> Res {
        let c = self.eval(cond, input, env)?;
        if functions::boolean(c.as_ref()) == Some(true) {
            self.eval(then, input, env)
        } else if let Some(otherwise) = otherwise {
            self.eval(otherwise, input, env)
        } else {
            Ok(None)
        }
    }

    #[inline(never)]
    fn block(&mut self, exprs: &[Node], input: Option<&Value>, env: &Env) -> Res {
        let frame = new_frame(Some(env));
        let mut last = None;
        for e in exprs {
            last = self.eval(e, input, &frame)?;
        }
        Ok(last)
    }

    #[inline(never)]
    fn eval_other(&mut self, node: &Node, input: Option<&Value>, env: &Env) -> Res {
        let pos = node.pos;
        Ok(match &node.kind {
            Kind::Name(name) => input.and_then(|i| lookup_field(i, name)),
            Kind::Wildcard => Some(wildcard(input)),
            Kind::Descendant => input.map(|i| {
                let mut out = Vec::new();
                descendants(i, &mut out);
                if out.len() == 1 { out.pop().expect("one item") } else { Value::sequence(out) }
            }),
            Kind::Str(s) => Some(Value::string(s)),
            Kind::Num(n) => Some(Value::Number(*n)),
            Kind::Bool(b) => Some(Value::Bool(*b)),
            Kind::Null => Some(Value::Null),
            Kind::Regex(re) => Some(Value::Function(Rc::new(Function::Regex(re.clone())))),
            Kind::Neg(expr) => match self.eval(expr, input, env)? {
                None => None,
                Some(Value::Number(n)) => Some(Value::Number(-n)),
                Some(v) => return Err(error("D1002", pos, &[("value", Arg::Value(Some(&v)))])),
            },
            Kind::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(v) = self.eval(item, input, env)? {
                        if matches!(item.kind, Kind::Array(_)) {
                            out.push(v);
                        } else {
                            out.extend(v.into_items());
                        }
                    }
                }
                Some(Value::Array(Rc::new(crate::value::Array {
                    items: out,
                    cons: node.cons_array,
                    ..Default::default()
                })))
            }
            Kind::Object(pairs) => {
                let items = match input {
                    Some(Value::Array(a)) => {
                        a.items.iter().map(|v| Tuple { at: Some(v.clone()), vars: vec![] }).collect()
                    }
                    other => vec![Tuple { at: other.cloned(), vars: vec![] }],
                };
                Some(self.group(pairs, pos, items, false, env)?)
            }
            Kind::Elvis { lhs, rhs } => {
                let l = self.eval(lhs, input, env)?;
                if functions::boolean(l.as_ref()) == Some(true) { l } else { self.eval(rhs, input, env)? }
            }
            Kind::Coalesce { lhs, rhs } => match self.eval(lhs, input, env)? {
                Some(v) => Some(v),
                None => self.eval(rhs, input, env)?,
            },
            Kind::Bind { name, value } => {
                let v = self.eval(value, input, env)?;
                env.bind(name, v.clone());
                v
            }
            Kind::Placeholder => None,
            Kind::Lambda(def) => Some(Value::Function(Rc::new(Function::Lambda {
                def: def.clone(),
                env: env.clone(),
                input: input.cloned(),
            }))),
            Kind::Apply { lhs, rhs } => {
                let l = self.eval(lhs, input, env)?;
                if let Kind::Call { proc, args, partial: false } = &rhs.kind {
                    return self.call(proc, args, Some(l), input, env, rhs.pos);
                }
                let func = self.eval(rhs, input, env)?;
                let Some(func @ Value::Function(_)) = func else {
                    return Err(error("T2006", pos, &[("value", Arg::Value(func.as_ref()))]));
                };
                match l {
                    Some(f @ Value::Function(_)) => Some(Value::Function(Rc::new(Function::Chain(f, func)))),
                    l => self.apply(&func, vec![l], None, pos)?,
                }
            }
            Kind::Transform(def) => {
                Some(Value::Function(Rc::new(Function::Transform { def: def.clone(), env: env.clone() })))
            }
            Kind::Sort(terms) => {
                let items = input.cloned().map(Value::into_items).unwrap_or_default();
                Some(Value::sequence(self.sort(terms, items, |v| (Some(v.clone()), None), env, pos)?))
            }
            Kind::Path { .. }
            | Kind::Binary { .. }
            | Kind::Call { .. }
            | Kind::Var(_)
            | Kind::Condition { .. }
            | Kind::Block(_) => {
                return self.eval_kind(node, input, env);
            }
        })
    }

    fn path(&mut self, node: &Node, steps: &[Node], keep_singleton: bool, input: Option<&Value>, env: &Env) -> Res {
        let absolute = matches!(steps[0].kind, Kind::Var(_));
        let (mut items, whole): (Vec<Option<Value>>, Option<Value>) = match input {
            Some(Value::Array(a)) if !absolute => (a.items.iter().cloned().map(Some).collect(), input.cloned()),
            other => (vec![other.cloned()], other.map(|v| Value::sequence(vec![v.clone()]))),
        };
        let mut result = Value::sequence(Vec::new());
        let mut tuples: Option<Vec<Tuple>> = None;
        for (i, step) in steps.iter().enumerate() {
            if step.tuple && tuples.is_none() {
                tuples = Some(items.iter().map(|v| Tuple { at: v.clone(), vars: vec![] }).collect());
            }
            if i == 0 && step.cons_array {
                result = Value::sequence(seq_items(self.eval(step, whole.as_ref(), env)?));
            } else if let Some(stream) = tuples.take() {
                tuples = Some(self.tuple_step(step, stream, env)?);
            } else {
                result = self.step(step, &items, env, i == steps.len() - 1)?;
            }
            if tuples.is_none() && result.as_array().is_none_or(|a| a.items.is_empty()) {
                break;
            }
            if step.focus.is_none() {
                items = result.as_array().map(|a| a.items.iter().cloned().map(Some).collect()).unwrap_or_default();
            }
        }
        if let Some(stream) = &tuples {
            result = Value::sequence(stream.iter().filter_map(|t| t.at.clone()).collect());
        }
        if keep_singleton {
            result = match result {
                Value::Array(a) if a.cons && !a.sequence => Value::sequence(vec![Value::Array(a)]),
                other => other,
            }
            .with_flags(|f| f.keep_singleton = true);
        }
        if let Some(group) = &node.group {
            let (items, reduce) = match tuples {
                Some(stream) => (stream, true),
                None => (result.into_items().into_iter().map(|v| Tuple { at: Some(v), vars: vec![] }).collect(), false),
            };
            return Ok(Some(self.group(&group.pairs, group.pos, items, reduce, env)?));
        }
        Ok(Some(result))
    }

    /// One step over a sequence: evaluated for each item, filtered by its stages, flattened.
    fn step(&mut self, step: &Node, items: &[Option<Value>], env: &Env, last: bool) -> Result<Value, Error> {
        if let Kind::Sort(terms) = &step.kind {
            let sorted = self.sort(
                terms,
                items.iter().flatten().cloned().collect(),
                |v| (Some(v.clone()), None),
                env,
                step.pos,
            )?;
            let mut result = Some(Value::sequence(sorted));
            for stage in &step.stages {
                if let Stage::Filter(p) = stage {
                    result = Some(self.filter(p, result, env)?);
                }
            }
            return Ok(result.unwrap_or_else(|| Value::sequence(vec![])));
        }
        let mut results = Vec::new();
        for item in items {
            let mut res = self.eval(step, item.as_ref(), env)?;
            for stage in &step.stages {
                if let Stage::Filter(p) = stage {
                    res = Some(self.filter(p, res, env)?);
                }
            }
            if let Some(r) = res {
                results.push(r);
            }
        }
        if last && results.len() == 1 && matches!(&results[0], Value::Array(a) if !a.sequence) {
            return Ok(results.pop().expect("one result"));
        }
        let mut flat = Vec::new();
        for r in results {
            match r {
                Value::Array(a) if !a.cons => flat.extend(a.items.iter().cloned()),
                v => flat.push(v),
            }
        }
        Ok(Value::sequence(flat))
    }

    fn tuple_step(&mut self, step: &Node, stream: Vec<Tuple>, env: &Env) -> Result<Vec<Tuple>, Error> {
        let mut result = Vec::new();
        if let Kind::Sort(terms) = &step.kind {
            result = self.sort(terms, stream, |t: &Tuple| (t.at.clone(), Some(t.vars.clone())), env, step.pos)?;
            if let Some(index) = &step.index {
                for (i, t) in result.iter_mut().enumerate() {
                    t.set(index, Value::Number(i as f64));
                }
            }
        } else {
            for tuple in stream {
                let frame = tuple_frame(env, &tuple.vars);
                let Some(res) = self.eval(step, tuple.at.as_ref(), &frame)? else { continue };
                for (i, r) in res.into_items().into_iter().enumerate() {
                    let mut t = tuple.clone();
                    match &step.focus {
                        Some(focus) => t.set(focus, r),
                        None => t.at = Some(r),
                    }
                    if let Some(index) = &step.index {
                        t.set(index, Value::Number(i as f64));
                    }
                    result.push(t);
                }
            }
        }
        for stage in &step.stages {
            match stage {
                Stage::Filter(p) => {
                    let len = result.len();
                    let mut kept = Vec::new();
                    for (i, t) in result.into_iter().enumerate() {
                        let keep = match &p.kind {
                            Kind::Num(n) => index_matches(*n, i, len),
                            _ => {
                                let frame = tuple_frame(env, &t.vars);
                                let res = self.eval(p, t.at.as_ref(), &frame)?;
                                predicate_matches(res.as_ref(), i, len)
                            }
                        };
                        if keep {
                            kept.push(t);
                        }
                    }
                    result = kept;
                }
                Stage::Index(name) => {
                    for (i, t) in result.iter_mut().enumerate() {
                        t.set(name, Value::Number(i as f64));
                    }
                }
            }
        }
        Ok(result)
    }

    /// A predicate `[...]`: an index (negative from the end) or a condition on each item.
    pub fn filter(&mut self, predicate: &Node, input: Option<Value>, env: &Env) -> Result<Value, Error> {
        let items = seq_items(input);
        if let Kind::Num(n) = predicate.kind {
            let len = items.len() as i64;
            let mut index = n.floor() as i64;
            if index < 0 {
                index += len;
            }
            return Ok(match items.get(usize::try_from(index).unwrap_or(usize::MAX)) {
                Some(Value::Array(a)) => Value::Array(a.clone()),
                Some(v) => Value::sequence(vec![v.clone()]),
                None => Value::sequence(vec![]),
            });
        }
        let len = items.len();
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let res = self.eval(predicate, Some(&item), env)?;
            if predicate_matches(res.as_ref(), i, len) {
                out.push(item);
            }
        }
        Ok(Value::sequence(out))
    }

    /// Sorts by the order-by terms, evaluated against each item's context (and variables).
    fn sort<T>(
        &mut self,
        terms: &[SortTerm],
        items: Vec<T>,
        context: impl Fn(&T) -> (Option<Value>, Option<Vec<(String, Value)>>),
        env: &Env,
        pos: usize,
    ) -> Result<Vec<T>, Error> {
        let mut keyed = Vec::with_capacity(items.len());
        for item in items {
            let (at, vars) = context(&item);
            let frame = vars.map(|v| tuple_frame(env, &v));
            let mut keys = Vec::new();
            for term in terms {
                let key = self.eval(&term.expr, at.as_ref(), frame.as_ref().unwrap_or(env))?;
                if let Some(k) = &key
                    && !matches!(k, Value::Number(_) | Value::String(_))
                {
                    return Err(error("T2008", pos, &[("value", Arg::Value(Some(k)))]));
                }
                keys.push(key);
            }
            keyed.push((keys, item));
        }
        for i in 1..keyed.len() {
            for (t, _) in terms.iter().enumerate() {
                let (a, b) = (&keyed[0].0[t], &keyed[i].0[t]);
                if let (Some(a), Some(b)) = (a, b)
                    && std::mem::discriminant(a) != std::mem::discriminant(b)
                {
                    return Err(error(
                        "T2007",
                        pos,
                        &[("value", Arg::Value(Some(a))), ("value2", Arg::Value(Some(b)))],
                    ));
                }
            }
        }
        keyed.sort_by(|(a, _), (b, _)| {
            for (t, term) in terms.iter().enumerate() {
                let ord = match (&a[t], &b[t]) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (Some(x), Some(y)) => {
                        let o = compare_values(x, y).unwrap_or(std::cmp::Ordering::Equal);
                        if term.descending { o.reverse() } else { o }
                    }
                };
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
            std::cmp::Ordering::Equal
        });
        Ok(keyed.into_iter().map(|(_, item)| item).collect())
    }

    /// An object constructor over a sequence: items grouped by key, each group's value
    /// evaluated with the group as its context.
    fn group(
        &mut self,
        pairs: &[(Node, Node)],
        pos: usize,
        mut items: Vec<Tuple>,
        reduce: bool,
        env: &Env,
    ) -> Result<Value, Error> {
        if items.is_empty() {
            items.push(Tuple { at: None, vars: vec![] });
        }
        let mut groups: indexmap::IndexMap<String, (Vec<Tuple>, usize)> = indexmap::IndexMap::new();
        for item in items {
            let frame = if reduce { tuple_frame(env, &item.vars) } else { env.clone() };
            for (p, (key_expr, _)) in pairs.iter().enumerate() {
                let key = self.eval(key_expr, item.at.as_ref(), &frame)?;
                let key = match key {
                    None => continue,
                    Some(Value::String(s)) => s.to_string(),
                    Some(v) => return Err(error("T1003", key_expr.pos, &[("value", Arg::Value(Some(&v)))])),
                };
                match groups.get_mut(&key) {
                    Some((data, index)) => {
                        if *index != p {
                            return Err(error("D1009", pos, &[("value", Arg::Text(&key))]));
                        }
                        data.push(item.clone());
                    }
                    None => {
                        groups.insert(key, (vec![item.clone()], p));
                    }
                }
            }
        }
        let mut out = Object::new();
        for (key, (data, p)) in groups {
            let (context, frame) = if reduce {
                let mut merged: Vec<(String, Vec<Value>)> = Vec::new();
                let mut ats = Vec::new();
                for t in &data {
                    if let Some(at) = &t.at {
                        ats.push(at.clone());
                    }
                    for (k, v) in &t.vars {
                        match merged.iter_mut().find(|(n, _)| n == k) {
                            Some((_, vs)) => vs.push(v.clone()),
                            None => merged.push((k.clone(), vec![v.clone()])),
                        }
                    }
                }
                let vars: Vec<(String, Value)> = merged.into_iter().map(|(k, vs)| (k, collapse(vs))).collect();
                (if ats.is_empty() { None } else { Some(collapse_flat(ats)) }, tuple_frame(env, &vars))
            } else {
                let ats: Vec<Value> = data.into_iter().filter_map(|t| t.at).collect();
                (if ats.is_empty() { None } else { Some(collapse_flat(ats)) }, env.clone())
            };
            if let Some(v) = self.eval(&pairs[p].1, context.as_ref(), &frame)? {
                out.insert(key, v);
            }
        }
        Ok(Value::object(out))
    }

    fn binary(&mut self, op: BinOp, lhs: &Node, rhs: &Node, input: Option<&Value>, env: &Env, pos: usize) -> Res {
        let l = self.eval(lhs, input, env)?;
        match op {
            BinOp::And => {
                let lb = functions::boolean(l.as_ref()) == Some(true);
                return Ok(Some(Value::Bool(
                    lb && functions::boolean(self.eval(rhs, input, env)?.as_ref()) == Some(true),
                )));
            }
            BinOp::Or => {
                let lb = functions::boolean(l.as_ref()) == Some(true);
                return Ok(Some(Value::Bool(
                    lb || functions::boolean(self.eval(rhs, input, env)?.as_ref()) == Some(true),
                )));
            }
            _ => {}
        }
        let r = self.eval(rhs, input, env)?;
        Ok(match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                let ln = match &l {
                    None => None,
                    Some(Value::Number(n)) => Some(*n),
                    Some(v) => {
                        return Err(error(
                            "T2001",
                            pos,
                            &[("token", Arg::Text(op.symbol())), ("value", Arg::Value(Some(v)))],
                        ));
                    }
                };
                let rn = match &r {
                    None => None,
                    Some(Value::Number(n)) => Some(*n),
                    Some(v) => {
                        return Err(error(
                            "T2002",
                            pos,
                            &[("token", Arg::Text(op.symbol())), ("value", Arg::Value(Some(v)))],
                        ));
                    }
                };
                let (Some(a), Some(b)) = (ln, rn) else { return Ok(None) };
                let n = match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => a / b,
                    _ => a % b,
                };
                if !n.is_finite() {
                    return Err(error("D1001", pos, &[("value", Arg::Value(Some(&Value::Number(n))))]));
                }
                Some(Value::Number(n))
            }
            BinOp::Eq | BinOp::Ne => {
                let (Some(a), Some(b)) = (&l, &r) else { return Ok(Some(Value::Bool(false))) };
                Some(Value::Bool(deep_equal(a, b) == (op == BinOp::Eq)))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let comparable = |v: &Option<Value>| matches!(v, None | Some(Value::Number(_) | Value::String(_)));
                if !comparable(&l) || !comparable(&r) {
                    let bad =
                        if matches!(l, Some(Value::Number(_) | Value::String(_))) { r.as_ref() } else { l.as_ref() };
                    return Err(error("T2010", pos, &[("token", Arg::Text(op.symbol())), ("value", Arg::Value(bad))]));
                }
                let (Some(a), Some(b)) = (&l, &r) else { return Ok(None) };
                let Some(ord) = compare_values(a, b) else {
                    return Err(error(
                        "T2009",
                        pos,
                        &[
                            ("token", Arg::Text(op.symbol())),
                            ("value", Arg::Value(Some(a))),
                            ("value2", Arg::Value(Some(b))),
                        ],
                    ));
                };
                use std::cmp::Ordering::*;
                Some(Value::Bool(match op {
                    BinOp::Lt => ord == Less,
                    BinOp::Le => ord != Greater,
                    BinOp::Gt => ord == Greater,
                    _ => ord != Less,
                }))
            }
            BinOp::Concat => {
                let s = |v: &Option<Value>| v.as_ref().map(functions::string).transpose();
                let (a, b) = (s(&l).map_err(|e| e.at(pos))?, s(&r).map_err(|e| e.at(pos))?);
                Some(Value::string(&format!("{}{}", a.unwrap_or_default(), b.unwrap_or_default())))
            }
            BinOp::In => {
                let (Some(a), Some(b)) = (&l, &r) else { return Ok(Some(Value::Bool(false))) };
                let items = b.clone().into_items();
                Some(Value::Bool(items.iter().any(|v| deep_equal(v, a) && !v.is_array())))
            }
            BinOp::Range => {
                let int = |v: &Option<Value>| matches!(v, Some(Value::Number(n)) if n.fract() == 0.0);
                if l.is_some() && !int(&l) {
                    return Err(error("T2003", pos, &[("value", Arg::Value(l.as_ref()))]));
                }
                if r.is_some() && !int(&r) {
                    return Err(error("T2004", pos, &[("value", Arg::Value(r.as_ref()))]));
                }
                let (Some(Value::Number(a)), Some(Value::Number(b))) = (l, r) else { return Ok(None) };
                if a > b {
                    return Ok(None);
                }
                let size = b - a + 1.0;
                if size > 1e7 {
                    return Err(error("D2014", pos, &[("value", Arg::Text(&format_number(size)))]));
                }
                Some(Value::sequence((0..size as i64).map(|i| Value::Number(a + i as f64)).collect()))
            }
            BinOp::And | BinOp::Or => unreachable!("handled above"),
        })
    }

    /// A function call; `applied` is the left side of `~>`, passed as the first argument.
    fn call(
        &mut self,
        proc: &Node,
        args: &[Node],
        applied: Option<Option<Value>>,
        input: Option<&Value>,
        env: &Env,
        pos: usize,
    ) -> Res {
        let (func, values, name) = self.call_target(proc, args, applied, input, env, pos)?;
        let outer = self.call_env.replace(env.clone());
        let result = self.apply_named(&func, values, input, pos, &name);
        self.call_env = outer;
        result
    }

    /// The function a call invokes, its arguments and its name.
    fn call_target(
        &mut self,
        proc: &Node,
        args: &[Node],
        applied: Option<Option<Value>>,
        input: Option<&Value>,
        env: &Env,
        pos: usize,
    ) -> Result<(Value, Vec<Option<Value>>, String), Error> {
        let func = self.eval(proc, input, env)?;
        let name = proc_name(proc);
        if func.is_none()
            && let Kind::Path { steps, .. } = &proc.kind
            && let Kind::Name(n) = &steps[0].kind
            && lookup_var(env, n).is_some()
        {
            return Err(error("T1005", pos, &[("token", Arg::Text(n))]));
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        if let Some(a) = applied {
            values.push(a);
        }
        for arg in args {
            values.push(self.eval(arg, input, env)?);
        }
        let Some(func) = func else {
            return Err(error("T1006", pos, &[("token", Arg::Text(&name))]));
        };
        Ok((func, values, name))
    }

    /// A lambda's body, except that a call of a lambda in tail position (through conditions
    /// and the last expression of blocks) is returned rather than made, so that tail
    /// recursion runs in a loop, as jsonata-js's thunks do.
    fn eval_tail(&mut self, node: &Node, input: Option<&Value>, env: &Env) -> Result<Tail, Error> {
        if !node.predicates.is_empty() || node.group.is_some() || node.keep_array {
            return Ok(Tail::Done(self.eval(node, input, env)?));
        }
        match &node.kind {
            Kind::Call { proc, args, partial: false } => {
                let (func, args, name) = self.call_target(proc, args, None, input, env, node.pos)?;
                if let Value::Function(f) = &func
                    && let Function::Lambda { def, env, input: captured } = &**f
                {
                    return Ok(Tail::Call(LambdaCall {
                        def: def.clone(),
                        env: env.clone(),
                        captured: captured.clone(),
                        args,
                        input: input.cloned(),
                        name,
                        pos: node.pos,
                    }));
                }
                let outer = self.call_env.replace(env.clone());
                let result = self.apply_named(&func, args, input, node.pos, &name);
                self.call_env = outer;
                Ok(Tail::Done(match result? {
                    Some(Value::Array(a)) if a.sequence => unwrap_sequence(a, false),
                    other => other,
                }))
            }
            Kind::Condition { cond, then, otherwise } => {
                let c = self.eval(cond, input, env)?;
                if functions::boolean(c.as_ref()) == Some(true) {
                    self.eval_tail(then, input, env)
                } else if let Some(otherwise) = otherwise {
                    self.eval_tail(otherwise, input, env)
                } else {
                    Ok(Tail::Done(None))
                }
            }
            Kind::Block(exprs) if !exprs.is_empty() => {
                let frame = new_frame(Some(env));
                for e in &exprs[..exprs.len() - 1] {
                    self.eval(e, input, &frame)?;
                }
                self.eval_tail(&exprs[exprs.len() - 1], input, &frame)
            }
            _ => Ok(Tail::Done(self.eval(node, input, env)?)),
        }
    }

    fn partial(&mut self, proc: &Node, args: &[Node], input: Option<&Value>, env: &Env, pos: usize) -> Res {
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            values.push(match arg.kind {
                Kind::Placeholder => None,
                _ => Some(self.eval(arg, input, env)?),
            });
        }
        let func = self.eval(proc, input, env)?;
        match func {
            Some(f @ Value::Function(_)) => {
                Ok(Some(Value::Function(Rc::new(Function::Partial { func: f, args: values }))))
            }
            None if matches!(&proc.kind, Kind::Path { steps, .. }
                if matches!(&steps[0].kind, Kind::Name(n) if lookup_var(env, n).is_some())) =>
            {
                Err(error("T1007", pos, &[("token", Arg::Text(&proc_name(proc)))]))
            }
            _ => Err(error("T1008", pos, &[("token", Arg::Text(&proc_name(proc)))])),
        }
    }

    /// Applies a function value to arguments.
    pub fn apply(&mut self, func: &Value, args: Vec<Option<Value>>, input: Option<&Value>, pos: usize) -> Res {
        self.apply_named(func, args, input, pos, "")
    }

    fn apply_named(
        &mut self,
        func: &Value,
        args: Vec<Option<Value>>,
        input: Option<&Value>,
        pos: usize,
        name: &str,
    ) -> Res {
        let Value::Function(f) = func else {
            return Err(error("T1006", pos, &[("token", Arg::Text(name))]));
        };
        match &**f {
            Function::Lambda { def, env, input: captured } => {
                let mut call = LambdaCall {
                    def: def.clone(),
                    env: env.clone(),
                    captured: captured.clone(),
                    args,
                    input: input.cloned(),
                    name: name.to_owned(),
                    pos,
                };
                loop {
                    let args = match &call.def.signature {
                        Some(sig) => sig
                            .validate(call.args, call.input.as_ref())
                            .map_err(|m| mismatch(m, &call.name, call.pos))?,
                        None => call.args,
                    };
                    let frame = new_frame(Some(&call.env));
                    let mut given = args.into_iter();
                    for p in &call.def.params {
                        frame.bind(p, given.next().flatten());
                    }
                    match self.eval_tail(&call.def.body, call.captured.as_ref(), &frame)? {
                        Tail::Done(v) => return Ok(v),
                        Tail::Call(next) => call = next,
                    }
                }
            }
            Function::Builtin(b) => {
                let args = b.signature.validate(args, input).map_err(|m| mismatch(m, b.name, pos))?;
                (b.imp)(self, &args, input).map_err(|e| if e.position == 0 { e.at(pos) } else { e })
            }
            Function::Partial { func, args: template } => {
                let mut given = args.into_iter();
                let filled = template.iter().map(|a| a.clone().unwrap_or_else(|| given.next().flatten())).collect();
                self.apply_named(func, filled, input, pos, name)
            }
            Function::Regex(re) => {
                let Some(Value::String(s)) = args.into_iter().next().flatten() else { return Ok(None) };
                Ok(re.find_at(&s, 0).map(|m| functions::match_object(&s, &m)))
            }
            Function::Chain(first, second) => {
                let mid = self.apply(first, args, input, pos)?;
                self.apply(second, vec![mid], input, pos)
            }
            Function::Transform { def, env } => match args.into_iter().next().flatten() {
                None => Ok(None),
                Some(v @ (Value::Object(_) | Value::Array(_))) => self.transform(def, env, &v, pos).map(Some),
                Some(v) => Err(error(
                    "T0410",
                    pos,
                    &[
                        ("index", Arg::Value(Some(&Value::Number(1.0)))),
                        ("token", Arg::Text(name)),
                        ("value", Arg::Value(Some(&v))),
                    ],
                )),
            },
        }
    }

    /// A copy of `value` where each object the pattern selects has the update merged in and
    /// the deleted keys removed.
    #[inline(never)]
    fn transform(&mut self, def: &Transform, env: &Env, value: &Value, pos: usize) -> Result<Value, Error> {
        let matched: Vec<*const Object> = seq_items(self.eval(&def.pattern, Some(value), env)?)
            .iter()
            .filter_map(|m| match m {
                Value::Object(o) => Some(Rc::as_ptr(o)),
                _ => None,
            })
            .collect();
        self.rebuild(def, env, value, &matched, pos)
    }

    fn rebuild(
        &mut self,
        def: &Transform,
        env: &Env,
        value: &Value,
        matched: &[*const Object],
        pos: usize,
    ) -> Result<Value, Error> {
        Ok(match value {
            Value::Array(a) => {
                let mut items = Vec::with_capacity(a.items.len());
                for item in &a.items {
                    items.push(self.rebuild(def, env, item, matched, pos)?);
                }
                Value::Array(Rc::new(crate::value::Array { items, ..(**a).clone() }))
            }
            Value::Object(o) => {
                let mut out = Object::new();
                for (k, v) in o.iter() {
                    out.insert(k.clone(), self.rebuild(def, env, v, matched, pos)?);
                }
                if matched.contains(&Rc::as_ptr(o)) {
                    match self.eval(&def.update, Some(value), env)? {
                        None => {}
                        Some(Value::Object(update)) => out.extend(update.iter().map(|(k, v)| (k.clone(), v.clone()))),
                        Some(other) => return Err(error("T2011", pos, &[("value", Arg::Value(Some(&other)))])),
                    }
                    if let Some(delete) = &def.delete
                        && let Some(keys) = self.eval(delete, Some(value), env)?
                    {
                        let names = keys.clone().into_items();
                        if !names.iter().all(|k| matches!(k, Value::String(_))) {
                            return Err(error("T2012", pos, &[("value", Arg::Value(Some(&keys)))]));
                        }
                        for k in names.iter().filter_map(Value::as_str) {
                            out.shift_remove(k);
                        }
                    }
                }
                Value::object(out)
            }
            v => v.clone(),
        })
    }
}

impl Error {
    pub(crate) fn at(mut self, pos: usize) -> Error {
        self.position = pos;
        self
    }
}

/// A sequence as jsonata-js returns it: undefined when empty, its item when alone (unless
/// kept as an array).
fn unwrap_sequence(a: Rc<crate::value::Array>, keep_array: bool) -> Option<Value> {
    let keep = a.keep_singleton || keep_array;
    match a.items.len() {
        0 => None,
        1 if !keep => Some(a.items[0].clone()),
        _ if keep && !a.keep_singleton => Some(Value::Array(a).with_flags(|f| f.keep_singleton = true)),
        _ => Some(Value::Array(a)),
    }
}

/// `$` (the context, unwrapped from the input's wrapper), `$$` or a named variable.
fn variable(name: &str, input: Option<&Value>, env: &Env) -> Option<Value> {
    match name {
        "" => input.map(|i| match i {
            Value::Array(a) if a.outer_wrapper && !a.items.is_empty() => a.items[0].clone(),
            v => v.clone(),
        }),
        _ => lookup_var(env, name),
    }
}

fn mismatch(m: crate::signature::Mismatch, name: &str, pos: usize) -> Error {
    let index = Value::Number(m.index as f64);
    error(
        m.code,
        pos,
        &[
            ("index", Arg::Value(Some(&index))),
            ("token", Arg::Text(name)),
            ("value", Arg::Value(m.value.as_ref())),
            ("type", Arg::Text(m.item_type.unwrap_or(""))),
        ],
    )
}

fn proc_name(proc: &Node) -> String {
    match &proc.kind {
        Kind::Var(n) => n.clone(),
        Kind::Path { steps, .. } => match &steps[0].kind {
            Kind::Name(n) | Kind::Var(n) => n.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// A variable: bound in a frame, else a function of the library.
pub(crate) fn lookup_var(env: &Env, name: &str) -> Option<Value> {
    match env.lookup(name) {
        Some(v) => v,
        None => functions::builtin(name).map(|b| Value::Function(Rc::new(Function::Builtin(b)))),
    }
}

fn tuple_frame(env: &Env, vars: &[(String, Value)]) -> Env {
    let frame = new_frame(Some(env));
    for (k, v) in vars {
        frame.bind(k, Some(v.clone()));
    }
    frame
}

/// Several values as one: the value itself when alone, else an array of them.
fn collapse(mut vs: Vec<Value>) -> Value {
    if vs.len() == 1 { vs.pop().expect("one value") } else { Value::sequence(vs) }
}

/// Like [`collapse`], arrays spread as jsonata's `$append` does.
fn collapse_flat(vs: Vec<Value>) -> Value {
    if vs.len() == 1 {
        return vs.into_iter().next().expect("one value");
    }
    Value::sequence(vs.into_iter().flat_map(Value::into_items).collect())
}

fn index_matches(n: f64, i: usize, len: usize) -> bool {
    let mut index = n.floor() as i64;
    if index < 0 {
        index += len as i64;
    }
    index == i as i64
}

fn predicate_matches(res: Option<&Value>, i: usize, len: usize) -> bool {
    match res {
        Some(Value::Number(n)) => index_matches(*n, i, len),
        Some(Value::Array(a)) if !a.items.is_empty() && a.items.iter().all(|v| matches!(v, Value::Number(_))) => {
            a.items.iter().any(|v| index_matches(v.as_number().unwrap_or(f64::NAN), i, len))
        }
        other => functions::boolean(other) == Some(true),
    }
}

/// Numbers with numbers, strings with strings; `None` for other pairs.
pub(crate) fn compare_values(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
        (Value::String(x), Value::String(y)) => Some(functions::compare_strings(x, y)),
        _ => None,
    }
}

/// A field of an object, or of each object in an array (flattened).
pub(crate) fn lookup_field(input: &Value, key: &str) -> Option<Value> {
    match input {
        Value::Array(a) => {
            let mut out = Vec::new();
            for item in &a.items {
                match lookup_field(item, key) {
                    Some(Value::Array(inner)) => out.extend(inner.items.iter().cloned()),
                    Some(v) => out.push(v),
                    None => {}
                }
            }
            Some(Value::sequence(out))
        }
        Value::Object(o) => o.get(key).cloned(),
        _ => None,
    }
}

fn wildcard(input: Option<&Value>) -> Value {
    let input = match input {
        Some(Value::Array(a)) if a.outer_wrapper && !a.items.is_empty() => Some(&a.items[0]),
        other => other,
    };
    let mut out = Vec::new();
    let values: Vec<&Value> = match input {
        Some(Value::Object(o)) => o.values().collect(),
        Some(Value::Array(a)) => a.items.iter().collect(),
        _ => vec![],
    };
    for v in values {
        match v {
            Value::Array(_) => out.extend(flatten(v)),
            v => out.push(v.clone()),
        }
    }
    Value::sequence(out)
}

fn flatten(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.items.iter().flat_map(flatten).collect(),
        v => vec![v.clone()],
    }
}

fn descendants(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(a) => a.items.iter().for_each(|i| descendants(i, out)),
        Value::Object(o) => {
            out.push(v.clone());
            o.values().for_each(|i| descendants(i, out));
        }
        v => out.push(v.clone()),
    }
}
