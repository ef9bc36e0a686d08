//! JSONata 2.x (https://docs.jsonata.org) for Step Functions' `QueryLanguage: "JSONata"`:
//! [`compile`] parses an expression once, [`Expression::evaluate`] runs it against an input
//! with variables bound (`$states` and the workflow's variables). Pure functions, no IO.

use std::fmt;

use serde_json::{Map, Value};

/// A JSONata error: its code (`S0101`, `T2001`, `D3030`...) and message, as jsonata-js words them.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub code: String,
    pub message: String,
    pub position: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// A parsed expression, reusable.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
}

/// Parses `source` into an [`Expression`].
pub fn compile(source: &str) -> Result<Expression, Error> {
    Ok(Expression { source: source.to_owned() })
}

impl Expression {
    /// Evaluates with `input` as `$` (None = undefined) and `bindings` as variables
    /// (`"states"` -> the $states object, `"x"` -> $x, ...). Ok(None) is JSONata's undefined.
    pub fn evaluate(&self, input: Option<&Value>, bindings: &Map<String, Value>) -> Result<Option<Value>, Error> {
        let _ = (input, bindings, &self.source);
        Err(Error { code: "S0500".into(), message: "JSONata is not implemented yet".into(), position: 0 })
    }
}
