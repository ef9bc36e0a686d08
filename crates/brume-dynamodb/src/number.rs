//! DynamoDB's numbers: decimals of up to 38 significant digits with magnitudes from
//! 1E-130 to 9.99…E+125, exact arithmetic for `SET a = a + :n` and `ADD`, and the
//! validation errors DynamoDB gives for anything else.
//!
//! Parsing and printing follow [`brume_storage::key::Number`], which is also how numbers
//! become sort keys, so a stored number, its key and its printed form always agree.

use std::cmp::Ordering;
use std::fmt;

use brume_storage::key;

const MAX_DIGITS: usize = 38;
/// `E` in `0.d1d2… × 10^E`: 1E-130 is 0.1E-129 and 9.99…E+125 is 0.999…E126.
const MIN_EXP: i64 = -129;
const MAX_EXP: i64 = 126;

/// Why a string is not a DynamoDB number, with DynamoDB's message for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberError {
    Syntax,
    Precision,
    Overflow,
    Underflow,
}

impl NumberError {
    pub fn message(self) -> &'static str {
        match self {
            NumberError::Syntax => "A value provided cannot be converted into a number",
            NumberError::Precision => "Attempting to store more than 38 significant digits in a Number",
            NumberError::Overflow => {
                "Number overflow. Attempting to store a number with magnitude larger than supported range"
            }
            NumberError::Underflow => {
                "Number underflow. Attempting to store a number with magnitude smaller than supported range"
            }
        }
    }
}

/// `±0.d1d2…dn × 10^exp` with no leading or trailing zero digit, so equal numbers are
/// equal structurally; zero has no digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Num {
    negative: bool,
    digits: Vec<u8>,
    exp: i64,
}

impl Num {
    pub fn parse(s: &str) -> Result<Num, NumberError> {
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if int_part.len() + frac_part.len() == 0 || !all_digits(int_part) || !all_digits(frac_part) {
            return Err(NumberError::Syntax);
        }
        let exp: i64 = match exp {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !all_digits(digits) {
                    return Err(NumberError::Syntax);
                }
                // Longer exponents are out of range whatever the mantissa; saturating keeps
                // the sign so the right one of overflow and underflow is reported.
                e.parse().unwrap_or(if e.starts_with('-') { i64::MIN / 2 } else { i64::MAX / 2 })
            }
        };
        let digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).map(|b| b - b'0').collect();
        Num::normalized(negative, digits, int_part.len() as i64 + exp)
    }

    /// `±0.digits × 10^exp`, trimmed and checked against DynamoDB's limits.
    fn normalized(negative: bool, digits: Vec<u8>, exp: i64) -> Result<Num, NumberError> {
        let Some(first) = digits.iter().position(|&d| d != 0) else {
            return Ok(Num::zero());
        };
        let last = digits.iter().rposition(|&d| d != 0).unwrap_or(first);
        let exp = exp - first as i64;
        if exp > MAX_EXP {
            return Err(NumberError::Overflow);
        }
        if exp < MIN_EXP {
            return Err(NumberError::Underflow);
        }
        if last + 1 - first > MAX_DIGITS {
            return Err(NumberError::Precision);
        }
        Ok(Num { negative, digits: digits[first..=last].to_vec(), exp })
    }

    pub fn zero() -> Num {
        Num { negative: false, digits: Vec::new(), exp: 0 }
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Significant digits, which is what the number costs in an item's size.
    pub fn significant_digits(&self) -> usize {
        self.digits.len()
    }

    /// The sort-key form of this number.
    pub fn to_key(&self) -> key::Number {
        key::Number::from_parts(self.negative, &self.digits, self.exp).expect("a valid Num is a valid key number")
    }

    pub fn add(&self, other: &Num) -> Result<Num, NumberError> {
        if self.is_zero() {
            return Ok(other.clone());
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        // Align both as integers scaled by 10^-low, where low is the lowest digit position.
        let low = (self.exp - self.digits.len() as i64).min(other.exp - other.digits.len() as i64);
        let high = self.exp.max(other.exp);
        let width = (high - low) as usize;
        let aligned = |n: &Num| {
            let mut out = vec![0u8; width];
            let start = (high - n.exp) as usize;
            out[start..start + n.digits.len()].copy_from_slice(&n.digits);
            out
        };
        let (a, b) = (aligned(self), aligned(other));
        let (negative, digits) = if self.negative == other.negative {
            (self.negative, add_magnitudes(&a, &b))
        } else {
            match a.cmp(&b) {
                Ordering::Equal => return Ok(Num::zero()),
                Ordering::Greater => (self.negative, sub_magnitudes(&a, &b)),
                Ordering::Less => (other.negative, sub_magnitudes(&b, &a)),
            }
        };
        // `add_magnitudes` may carry into one extra leading digit.
        let exp = high + (digits.len() - width) as i64;
        Num::normalized(negative, digits, exp)
    }

    pub fn negate(&self) -> Num {
        if self.is_zero() {
            return self.clone();
        }
        Num { negative: !self.negative, ..self.clone() }
    }

    pub fn sub(&self, other: &Num) -> Result<Num, NumberError> {
        self.add(&other.negate())
    }

    fn cmp_magnitude(&self, other: &Num) -> Ordering {
        self.exp.cmp(&other.exp).then_with(|| self.digits.cmp(&other.digits))
    }
}

/// Sum of two equally long digit strings, most significant first; one digit longer when
/// the top carries.
fn add_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0;
    for i in (0..a.len()).rev() {
        let s = a[i] + b[i] + carry;
        out[i] = s % 10;
        carry = s / 10;
    }
    if carry > 0 {
        out.insert(0, carry);
    }
    out
}

/// `a - b` for equally long digit strings with `a > b`.
fn sub_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i8;
    for i in (0..a.len()).rev() {
        let mut d = a[i] as i8 - b[i] as i8 - borrow;
        borrow = 0;
        if d < 0 {
            d += 10;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

impl Ord for Num {
    fn cmp(&self, other: &Num) -> Ordering {
        let class = |n: &Num| {
            if n.is_zero() {
                1
            } else if n.negative {
                0
            } else {
                2
            }
        };
        match class(self).cmp(&class(other)) {
            Ordering::Equal if self.is_zero() => Ordering::Equal,
            Ordering::Equal if self.negative => other.cmp_magnitude(self),
            Ordering::Equal => self.cmp_magnitude(other),
            unequal => unequal,
        }
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Num) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Printed as the key form prints, so that both print alike.
        key::Decimal { negative: self.negative, digits: &self.digits, exponent: self.exp }.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, NumberError>) {
        assert_eq!(Num::parse(input).map(|n| n.to_string()), expected.map(str::to_string), "{input}");
    }

    #[test]
    fn parsing_normalizes_and_validates() {
        check("1", Ok("1"));
        check("01.50", Ok("1.5"));
        check("-0", Ok("0"));
        check("+7", Ok("7"));
        check("1e2", Ok("100"));
        check(".5", Ok("0.5"));
        check("5.", Ok("5"));
        check("-12.340e-1", Ok("-1.234"));
        check("12345678901234567890123456789012345678", Ok("12345678901234567890123456789012345678"));
        check("123456789012345678901234567890123456789", Err(NumberError::Precision));
        check("1234567890123456789012345678901234567800000", Ok("1.2345678901234567890123456789012345678E+42"));
        check("1E-130", Ok("1E-130"));
        check("1E-131", Err(NumberError::Underflow));
        check("9.9999999999999999999999999999999999999E+125", Ok("9.9999999999999999999999999999999999999E+125"));
        check("1E+126", Err(NumberError::Overflow));
        check("1E+99999999999999999999", Err(NumberError::Overflow));
        check("", Err(NumberError::Syntax));
        check("abc", Err(NumberError::Syntax));
        check(" 1", Err(NumberError::Syntax));
        check("1e", Err(NumberError::Syntax));
        check(".", Err(NumberError::Syntax));
        check("0x10", Err(NumberError::Syntax));
    }

    fn check_sum(a: &str, b: &str, expected: Result<&str, NumberError>) {
        let (a, b) = (Num::parse(a).unwrap(), Num::parse(b).unwrap());
        assert_eq!(a.add(&b).map(|n| n.to_string()), expected.map(str::to_string), "{a} + {b}");
    }

    #[test]
    fn arithmetic_is_exact() {
        check_sum("1", "2", Ok("3"));
        check_sum("0.1", "0.2", Ok("0.3"));
        check_sum("99", "1", Ok("100"));
        check_sum("5", "-7", Ok("-2"));
        check_sum("-5", "5", Ok("0"));
        check_sum("1000", "-0.001", Ok("999.999"));
        check_sum("1E+30", "1", Ok("1000000000000000000000000000001"));
        check_sum("1E+40", "1", Err(NumberError::Precision));
        check_sum("9.9999999999999999999999999999999999999E+125", "1E+89", Err(NumberError::Overflow));
        assert_eq!(Num::parse("3").unwrap().sub(&Num::parse("5").unwrap()).unwrap().to_string(), "-2");
    }

    #[test]
    fn ordering_is_numeric() {
        let mut ns: Vec<Num> =
            ["10", "-1", "2", "0", "-10", "1.5", "1E+2"].iter().map(|s| Num::parse(s).unwrap()).collect();
        ns.sort();
        let printed: Vec<String> = ns.iter().map(|n| n.to_string()).collect();
        assert_eq!(printed, ["-10", "-1", "0", "1.5", "2", "10", "100"]);
    }
}
