//! Function signatures (`<s-nn?:s>`): which arguments a function takes, with jsonata-js's
//! coercions: a missing `-` argument is the context value, a value given where an array
//! is expected becomes a one-item array.

use crate::value::Value;

#[derive(Debug, Clone)]
pub(crate) struct Param {
    /// The type symbols accepted (`m` is undefined).
    accepts: String,
    is_array: bool,
    /// The item type of `a<n>`.
    subtype: Option<char>,
    context: bool,
    optional: bool,
    variadic: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Signature {
    params: Vec<Param>,
}

/// Why the arguments do not fit: the code (`T0410`, `T0411`, `T0412`), the 1-based
/// argument index and the offending value.
pub(crate) struct Mismatch {
    pub code: &'static str,
    pub index: usize,
    pub value: Option<Value>,
    pub item_type: Option<&'static str>,
}

fn symbols_of(c: char) -> &'static str {
    match c {
        'x' | 'a' => "asnblfom",
        'j' => "asnblom",
        'b' => "bm",
        'n' => "nm",
        's' => "sm",
        'l' => "lm",
        'o' => "om",
        'f' => "fm",
        _ => "m",
    }
}

impl Signature {
    pub fn parse(text: &str) -> Result<Signature, String> {
        let chars: Vec<char> = text.chars().collect();
        let mut params: Vec<Param> = Vec::new();
        let mut i = 1;
        while i < chars.len() {
            let c = chars[i];
            match c {
                ':' | '>' => break,
                'b' | 'n' | 's' | 'l' | 'o' | 'x' | 'j' | 'a' | 'f' => {
                    let mut p = Param {
                        accepts: symbols_of(c).to_owned(),
                        is_array: c == 'a',
                        subtype: None,
                        context: false,
                        optional: false,
                        variadic: false,
                    };
                    if chars.get(i + 1) == Some(&'<') {
                        let end = matching(&chars, i + 1).ok_or("Unterminated type parameter")?;
                        if c == 'a' {
                            p.subtype = chars.get(i + 2).copied();
                        } else if c != 'f' {
                            return Err("Type parameters can only be applied to functions and arrays".into());
                        }
                        i = end;
                    }
                    params.push(p);
                }
                '(' => {
                    let end = chars[i..].iter().position(|&c| c == ')').ok_or("Unterminated choice group")? + i;
                    let mut accepts: String = chars[i + 1..end].iter().collect();
                    accepts.push('m');
                    params.push(Param {
                        accepts,
                        is_array: false,
                        subtype: None,
                        context: false,
                        optional: false,
                        variadic: false,
                    });
                    i = end;
                }
                '?' => params.last_mut().ok_or("Misplaced ?")?.optional = true,
                '+' => params.last_mut().ok_or("Misplaced +")?.variadic = true,
                '-' => params.last_mut().ok_or("Misplaced -")?.context = true,
                _ => {}
            }
            i += 1;
        }
        Ok(Signature { params })
    }

    /// The parameters that are not optional: the arity jsonata-js sees in its
    /// implementations, whose optional parameters have defaults.
    pub fn required(&self) -> usize {
        self.params.iter().filter(|p| !p.optional).count()
    }

    /// Checks and coerces `args`; `context` fills a missing context argument.
    pub fn validate(&self, args: Vec<Option<Value>>, context: Option<&Value>) -> Result<Vec<Option<Value>>, Mismatch> {
        let symbols: Vec<char> = args.iter().map(|a| Value::symbol(a.as_ref())).collect();
        let Some(counts) = self.match_from(0, &symbols, 0) else {
            return Err(self.first_bad(&symbols, &args));
        };
        let mut out = Vec::new();
        let mut it = args.into_iter();
        let mut index = 0;
        for (param, count) in self.params.iter().zip(counts) {
            if count == 0 {
                if param.context {
                    if !param.accepts.contains(Value::symbol(context)) {
                        return Err(Mismatch {
                            code: "T0411",
                            index: index + 1,
                            value: context.cloned(),
                            item_type: None,
                        });
                    }
                    let context = context.cloned();
                    out.push(if param.is_array {
                        context.map(|c| coerce_array(param, c, index + 1)).transpose()?
                    } else {
                        context
                    });
                } else {
                    out.push(None);
                }
                continue;
            }
            for _ in 0..count {
                let arg = it.next().flatten();
                index += 1;
                if param.is_array {
                    out.push(arg.map(|a| coerce_array(param, a, index)).transpose()?);
                } else {
                    out.push(arg);
                }
            }
        }
        Ok(out)
    }

    /// How many arguments each parameter takes, by backtracking as the regular expression
    /// jsonata-js builds would.
    fn match_from(&self, p: usize, symbols: &[char], at: usize) -> Option<Vec<usize>> {
        let Some(param) = self.params.get(p) else {
            return (at == symbols.len()).then(Vec::new);
        };
        let fits = |n: usize| symbols[at..at + n].iter().all(|s| param.accepts.contains(*s));
        let max = if param.variadic { symbols.len() - at } else { 1.min(symbols.len() - at) };
        let min = if param.optional || param.context { 0 } else { 1 };
        for n in (min..=max).rev() {
            if fits(n)
                && let Some(mut rest) = self.match_from(p + 1, symbols, at + n)
            {
                rest.insert(0, n);
                return Some(rest);
            }
        }
        None
    }

    /// jsonata-js's T0410: the parameters' patterns are matched one more at a time, and the
    /// argument where the match first fails is the bad one.
    fn first_bad(&self, symbols: &[char], args: &[Option<Value>]) -> Mismatch {
        let mut good_to = 0;
        for upto in 1..=self.params.len() {
            match self.prefix_end(upto, 0, symbols, 0) {
                Some(end) => good_to = end,
                None => break,
            }
        }
        Mismatch { code: "T0410", index: good_to + 1, value: args.get(good_to).cloned().flatten(), item_type: None }
    }

    /// Where the first `upto` parameters' patterns, matched from `at` as a regular
    /// expression would (greedy, backtracking, unanchored at the end), stop.
    fn prefix_end(&self, upto: usize, p: usize, symbols: &[char], at: usize) -> Option<usize> {
        if p == upto {
            return Some(at);
        }
        let param = &self.params[p];
        let fits = |n: usize| symbols[at..at + n].iter().all(|s| param.accepts.contains(*s));
        let max = if param.variadic { symbols.len() - at } else { 1.min(symbols.len() - at) };
        let min = if param.optional || param.context { 0 } else { 1 };
        (min..=max).rev().filter(|&n| fits(n)).find_map(|n| self.prefix_end(upto, p + 1, symbols, at + n))
    }
}

fn matching(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        if c == '<' {
            depth += 1;
        } else if c == '>' {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

fn coerce_array(param: &Param, arg: Value, index: usize) -> Result<Value, Mismatch> {
    if let Some(sub) = param.subtype {
        let ok = match &arg {
            Value::Array(a) => a.items.iter().all(|v| Value::symbol(Some(v)) == sub),
            v => Value::symbol(Some(v)) == sub,
        };
        if !ok {
            let item_type = match sub {
                'a' => "arrays",
                'b' => "booleans",
                'n' => "numbers",
                's' => "strings",
                'o' => "objects",
                'l' => "nulls",
                'f' => "functions",
                _ => "values",
            };
            return Err(Mismatch { code: "T0412", index, value: Some(arg), item_type: Some(item_type) });
        }
    }
    Ok(if arg.is_array() { arg } else { Value::array(vec![arg]) })
}
