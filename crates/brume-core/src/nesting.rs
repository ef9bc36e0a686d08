//! Recursive-descent parsers of request input (DynamoDB's expressions and PartiQL,
//! CloudWatch Logs' filter patterns, Step Functions' intrinsic functions) recurse once per
//! level of nesting of their input, so each bounds its nesting: a few KB of parentheses
//! would otherwise exhaust the thread's stack and abort the whole process.

/// A parser that counts how deep it is.
pub trait Nesting: Sized {
    /// The deepest nesting followed; deeper input gets [`Nesting::too_deep`].
    const MAX: usize;

    type Error;

    fn depth(&mut self) -> &mut usize;

    /// The error for input nested deeper than [`Nesting::MAX`], with the parser at the
    /// token that opens the level too many.
    fn too_deep(&self) -> Self::Error;

    /// Runs `parse` one level deeper, or refuses before recursing.
    fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> Result<T, Self::Error>) -> Result<T, Self::Error> {
        if *self.depth() >= Self::MAX {
            return Err(self.too_deep());
        }
        *self.depth() += 1;
        let parsed = parse(self);
        *self.depth() -= 1;
        parsed
    }
}
