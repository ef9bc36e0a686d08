//! JSONata 2.x (https://docs.jsonata.org) for Step Functions' `QueryLanguage: "JSONata"`:
//! [`compile`] parses an expression once, [`Expression::evaluate`] runs it against an input
//! with variables bound (`$states` and the workflow's variables). Pure functions, no IO.
//!
//! - `lexer`, `parser`: the source to the tree of `ast`, as jsonata-js builds it.
//! - `eval`: the evaluator (paths, sequences, tuple streams of `@`/`#` bindings, lambdas).
//! - `functions`: the library, with Step Functions' `$partition`, `$range`, `$hash`,
//!   `$random`, `$uuid` and `$parse`; `signature` checks and coerces their arguments.
//! - `errors`: jsonata-js's codes and messages.
//!
//! Not implemented: the parent operator `%` (S0217).

mod ast;
mod errors;
mod eval;
mod functions;
mod lexer;
mod parser;
mod regex;
mod signature;
#[cfg(test)]
mod tests;
mod value;

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value as Json};

use crate::value::Value;

/// A JSONata error: its code (`S0101`, `T2001`, `D3030`...) and message, as jsonata-js words them.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub code: String,
    pub message: String,
    /// The character offset in the expression where jsonata-js reports the error.
    pub position: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// A parsed expression, reusable (and shareable between threads).
#[derive(Clone)]
pub struct Expression {
    ast: Arc<ast::Node>,
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expression").finish_non_exhaustive()
    }
}

/// Parses `source` into an [`Expression`].
pub fn compile(source: &str) -> Result<Expression, Error> {
    Ok(Expression { ast: Arc::new(parser::parse(source)?) })
}

// The engine keeps compiled expressions in state shared between tasks.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Expression>();
};

/// The stack an evaluation first gets on the caller's thread, which may be a 2 MiB Tokio
/// worker; deeper recursion is evaluated again on a thread of its own.
const CALLER_STACK_BUDGET: usize = 256 << 10;
const DEEP_STACK: usize = 64 << 20;
const DEEP_STACK_BUDGET: usize = DEEP_STACK - (4 << 20);
/// How long one evaluation may run: an endless tail recursion never exhausts the stack.
const TIME_LIMIT: Duration = Duration::from_secs(10);

impl Expression {
    /// Evaluates with `input` as `$` (None = undefined) and `bindings` as variables
    /// (`"states"` -> the $states object, `"x"` -> $x, ...). Ok(None) is JSONata's undefined.
    pub fn evaluate(&self, input: Option<&Json>, bindings: &Map<String, Json>) -> Result<Option<Json>, Error> {
        let now = time::OffsetDateTime::now_utc();
        let now_millis = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        match self.run(input, bindings, now_millis, CALLER_STACK_BUDGET, TIME_LIMIT) {
            Err(e) if e.code == "U1001" && e.message.starts_with("Stack overflow") => std::thread::scope(|scope| {
                std::thread::Builder::new()
                    .name("jsonata".into())
                    .stack_size(DEEP_STACK)
                    .spawn_scoped(scope, || self.run(input, bindings, now_millis, DEEP_STACK_BUDGET, TIME_LIMIT))
                    .map_err(|_| errors::error("U1001", 0, &[]))?
                    .join()
                    .unwrap_or_else(|_| Err(errors::error("U1001", 0, &[])))
            }),
            other => other,
        }
    }

    fn run(
        &self,
        input: Option<&Json>,
        bindings: &Map<String, Json>,
        now_millis: i64,
        stack_budget: usize,
        time_limit: Duration,
    ) -> Result<Option<Json>, Error> {
        let env = eval::new_frame(None);
        for (name, value) in bindings {
            env.bind(name, Some(Value::from_json(value)));
        }
        let input = input.map(Value::from_json);
        env.bind("$", input.clone());
        let input = input.map(|v| match v {
            Value::Array(_) => Value::Array(Rc::new(value::Array {
                items: vec![v],
                sequence: true,
                outer_wrapper: true,
                ..Default::default()
            })),
            v => v,
        });
        let result =
            eval::Evaluator::new(now_millis, stack_budget, time_limit).eval(&self.ast, input.as_ref(), &env)?;
        Ok(result.and_then(|v| v.to_json()))
    }
}
