//! Order-preserving tuple encoding for keys.
//!
//! A tuple of [`Element`]s encodes to bytes whose byte-wise order is the tuples' order:
//! element by element, a shorter tuple before the longer ones it is a prefix of. Elements
//! of different types order by type (bytes, then strings, then integers, then numbers);
//! strings and bytes compare byte-wise; integers and [`Number`]s by value. So a service can
//! keep records under `(account, table, partition, sort)` and scan a partition in sort-key
//! order with [`crate::KeyRange::prefix`] of the encoded prefix.
//!
//! Layout (one type tag byte, then):
//! - bytes `0x01` / string `0x02`: the bytes with `0x00` escaped as `0x00 0xFF`, then a
//!   `0x00` terminator, which sorts before any escaped byte or next element's tag, and
//!   every tag is below `0xFF`;
//! - integer (`i128`): tag `0x14 ± n` then the `n` significant big-endian bytes of the
//!   magnitude, one's complemented for negatives (more bytes = larger magnitude);
//! - number (DynamoDB's decimal): tag `0x30` negative / `0x31` zero / `0x32` positive, then
//!   for `0.d1d2…dn × 10^E` one byte `E + 129` and the digits two per byte as `10a+b+1`
//!   ending with `0x00`; negatives complement all of it so larger magnitudes sort first.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

const BYTES: u8 = 0x01;
const STRING: u8 = 0x02;
const INT_ZERO: u8 = 0x14;
const NUM_NEG: u8 = 0x30;
const NUM_ZERO: u8 = 0x31;
const NUM_POS: u8 = 0x32;

/// DynamoDB keeps at most 38 significant digits.
const MAX_DIGITS: usize = 38;
/// `E` in `0.d1… × 10^E`: 1E-130 is 0.1E-129 and 9.99…E+125 is 0.999…E126.
const MIN_EXP: i64 = -129;
const MAX_EXP: i64 = 126;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not a DynamoDB number: bad syntax, more than 38 significant digits, or outside
    /// 1E-130 ..= 9.9999999999999999999999999999999999999E+125 in magnitude.
    #[error("invalid number {0:?}")]
    InvalidNumber(String),
    #[error("malformed key: {0}")]
    Malformed(&'static str),
}

/// One element of a key tuple. The derived order is the order of the encodings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Element {
    Bytes(Vec<u8>),
    String(String),
    Int(i128),
    Number(Number),
}

impl Element {
    /// About how many bytes the element encodes to (exactly, when it holds no zero byte),
    /// so a key is built in one allocation.
    fn encoded_len_hint(&self) -> usize {
        match self {
            Element::Bytes(b) => b.len() + 2,
            Element::String(s) => s.len() + 2,
            Element::Int(_) => 17,
            Element::Number(n) => n.digits.len() + 3,
        }
    }
}

impl From<&str> for Element {
    fn from(s: &str) -> Self {
        Element::String(s.to_string())
    }
}

impl From<String> for Element {
    fn from(s: String) -> Self {
        Element::String(s)
    }
}

impl From<&[u8]> for Element {
    fn from(b: &[u8]) -> Self {
        Element::Bytes(b.to_vec())
    }
}

impl From<Vec<u8>> for Element {
    fn from(b: Vec<u8>) -> Self {
        Element::Bytes(b)
    }
}

impl From<i64> for Element {
    fn from(i: i64) -> Self {
        Element::Int(i.into())
    }
}

impl From<u64> for Element {
    fn from(i: u64) -> Self {
        Element::Int(i.into())
    }
}

impl From<Number> for Element {
    fn from(n: Number) -> Self {
        Element::Number(n)
    }
}

/// A DynamoDB number, held as `±0.d1d2…dn × 10^exponent` with no leading or trailing zero
/// digit, so equal values are equal structurally ("1.0" and "1" are the same number).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// Decimal digits 0–9; empty for zero.
    digits: Vec<u8>,
    exponent: i64,
}

impl Number {
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    fn zero() -> Self {
        Number { negative: false, digits: Vec::new(), exponent: 0 }
    }

    /// `±0.d1d2…dn × 10^exponent` from its parts, which must be as a `Number` holds them:
    /// digits 0–9 with no leading or trailing zero (none for zero), within DynamoDB's
    /// precision and range. A number held this way elsewhere converts without printing it
    /// and parsing it back.
    pub fn from_parts(negative: bool, digits: &[u8], exponent: i64) -> Option<Self> {
        if digits.is_empty() {
            return Some(Number::zero());
        }
        let normalized = digits.iter().all(|&d| d <= 9) && digits.first() != Some(&0) && digits.last() != Some(&0);
        let in_range = digits.len() <= MAX_DIGITS && (MIN_EXP..=MAX_EXP).contains(&exponent);
        (normalized && in_range).then(|| Number { negative, digits: digits.to_vec(), exponent })
    }

    /// Orders magnitudes: by exponent, then digit by digit (a prefix is smaller, which is
    /// right because there are no trailing zeros).
    fn cmp_magnitude(&self, other: &Self) -> Ordering {
        self.exponent.cmp(&other.exponent).then_with(|| self.digits.cmp(&other.digits))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let class = |n: &Number| {
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

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for Number {
    type Err = KeyError;

    /// Accepts what DynamoDB accepts: `[+-]digits[.digits][e[+-]digits]`, where either
    /// side of the point may be empty but not both.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let invalid = || KeyError::InvalidNumber(s.to_string());
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
            return Err(invalid());
        }
        let exp: i64 = match exp {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                // Longer exponents are out of range anyway; this keeps i64 from overflowing.
                if digits.is_empty() || digits.len() > 6 || !all_digits(digits) {
                    return Err(invalid());
                }
                e.parse().map_err(|_| invalid())?
            }
        };
        let digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).map(|b| b - b'0').collect();
        let Some(first) = digits.iter().position(|&d| d != 0) else {
            return Ok(Number::zero());
        };
        let last = digits.iter().rposition(|&d| d != 0).unwrap_or(first);
        let significant = digits[first..=last].to_vec();
        let exponent = int_part.len() as i64 - first as i64 + exp;
        if significant.len() > MAX_DIGITS || !(MIN_EXP..=MAX_EXP).contains(&exponent) {
            return Err(invalid());
        }
        Ok(Number { negative, digits: significant, exponent })
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Decimal { negative: self.negative, digits: &self.digits, exponent: self.exponent }.fmt(f)
    }
}

/// A number held as a [`Number`] holds it (`±0.d1d2…dn × 10^exponent`, digits 0–9 with no
/// leading or trailing zero, at most 38 of them), printed the way [`Number`] prints: for
/// numbers kept in that form elsewhere, which print without being copied into a `Number`.
pub struct Decimal<'a> {
    pub negative: bool,
    pub digits: &'a [u8],
    pub exponent: i64,
}

impl fmt::Display for Decimal<'_> {
    /// Plain notation for everyday magnitudes, scientific (`1.5E+60`) beyond. Written
    /// piece by piece: items' numbers are printed on every write.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.digits.is_empty() {
            return f.write_str("0");
        }
        if self.negative {
            f.write_str("-")?;
        }
        let mut text = [0u8; MAX_DIGITS];
        let text = &mut text[..self.digits.len()];
        for (c, d) in text.iter_mut().zip(self.digits) {
            *c = b'0' + d;
        }
        let digits = std::str::from_utf8(text).expect("decimal digits are ASCII");
        let n = digits.len() as i64;
        let e = self.exponent;
        if n <= e && e <= 40 {
            f.write_str(digits)?;
            zeros(f, e - n)
        } else if 0 < e && e < n {
            let (int, frac) = digits.split_at(e as usize);
            f.write_str(int)?;
            f.write_str(".")?;
            f.write_str(frac)
        } else if -10 < e && e <= 0 {
            f.write_str("0.")?;
            zeros(f, -e)?;
            f.write_str(digits)
        } else {
            let (first, rest) = digits.split_at(1);
            f.write_str(first)?;
            if !rest.is_empty() {
                f.write_str(".")?;
                f.write_str(rest)?;
            }
            let sign = if e > 0 { "+" } else { "" };
            write!(f, "E{sign}{}", e - 1)
        }
    }
}

/// Writes `count` zeros; plain notation never needs more than 39.
fn zeros(f: &mut fmt::Formatter<'_>, count: i64) -> fmt::Result {
    const ZEROS: &str = "0000000000000000000000000000000000000000";
    f.write_str(&ZEROS[..count as usize])
}

/// Encodes a whole tuple.
pub fn encode(elements: &[Element]) -> Vec<u8> {
    let mut out = Vec::with_capacity(elements.iter().map(Element::encoded_len_hint).sum());
    for element in elements {
        encode_into(&mut out, element);
    }
    out
}

/// Encodes the tuple of the strings `head` followed by `tail`, as [`encode`] does, without
/// building an element for each string (record kinds and ids lead most keys, and a hot key
/// is built on every request).
pub fn encode_strings_then(head: &[&str], tail: &[Element]) -> Vec<u8> {
    let len =
        head.iter().map(|s| s.len() + 2).sum::<usize>() + tail.iter().map(Element::encoded_len_hint).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    for s in head {
        encode_str(&mut out, s);
    }
    for element in tail {
        encode_into(&mut out, element);
    }
    out
}

/// Appends one element; appending elements one by one is encoding the tuple.
pub fn encode_into(out: &mut Vec<u8>, element: &Element) {
    match element {
        Element::Bytes(b) => encode_escaped(out, BYTES, b),
        Element::String(s) => encode_str(out, s),
        Element::Int(i) => encode_int(out, *i),
        Element::Number(n) => encode_number(out, n),
    }
}

fn encode_str(out: &mut Vec<u8>, s: &str) {
    encode_escaped(out, STRING, s.as_bytes());
}

fn encode_escaped(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(tag);
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|&b| b == 0) {
        out.extend_from_slice(&rest[..=at]);
        out.push(0xFF);
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(0x00);
}

fn encode_int(out: &mut Vec<u8>, i: i128) {
    let magnitude = i.unsigned_abs();
    let n = 16 - (magnitude.leading_zeros() / 8) as usize;
    let be = if i < 0 { !magnitude } else { magnitude }.to_be_bytes();
    // n ≤ 16, so the tag stays within 0x04..=0x24.
    out.push(if i < 0 { INT_ZERO - n as u8 } else { INT_ZERO + n as u8 });
    out.extend_from_slice(&be[16 - n..]);
}

fn encode_number(out: &mut Vec<u8>, n: &Number) {
    if n.is_zero() {
        out.push(NUM_ZERO);
        return;
    }
    // Digit bytes are 1..=100 and the terminator 0; for negatives each byte b becomes
    // 101 - b, which reverses their order (a longer magnitude then sorts first).
    let flip = |b: u8| if n.negative { 101u8.wrapping_sub(b) } else { b };
    out.push(if n.negative { NUM_NEG } else { NUM_POS });
    // The exponent byte spans all of 0..=255, so it is complemented with 255 - x.
    let exp = (n.exponent - MIN_EXP) as u8;
    out.push(if n.negative { 255 - exp } else { exp });
    for pair in n.digits.chunks(2) {
        let value = pair[0] * 10 + pair.get(1).copied().unwrap_or(0);
        out.push(flip(value + 1));
    }
    out.push(flip(0));
}

/// Decodes a tuple encoded by [`encode`].
pub fn decode(mut bytes: &[u8]) -> Result<Vec<Element>, KeyError> {
    let mut elements = Vec::new();
    while let Some((&tag, rest)) = bytes.split_first() {
        let (element, rest) = match tag {
            BYTES => decode_escaped(rest).map(|(b, rest)| (Element::Bytes(b), rest))?,
            STRING => {
                let (b, rest) = decode_escaped(rest)?;
                let s = String::from_utf8(b).map_err(|_| KeyError::Malformed("string is not UTF-8"))?;
                (Element::String(s), rest)
            }
            0x04..=0x24 => decode_int(tag, rest)?,
            NUM_NEG | NUM_ZERO | NUM_POS => decode_number(tag, rest)?,
            _ => return Err(KeyError::Malformed("unknown type tag")),
        };
        elements.push(element);
        bytes = rest;
    }
    Ok(elements)
}

fn decode_escaped(bytes: &[u8]) -> Result<(Vec<u8>, &[u8]), KeyError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (0x00, Some(0xFF)) => {
                out.push(0);
                i += 2;
            }
            (0x00, _) => return Ok((out, &bytes[i + 1..])),
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Err(KeyError::Malformed("unterminated string or bytes"))
}

fn decode_int(tag: u8, bytes: &[u8]) -> Result<(Element, &[u8]), KeyError> {
    let negative = tag < INT_ZERO;
    let n = tag.abs_diff(INT_ZERO) as usize;
    if bytes.len() < n {
        return Err(KeyError::Malformed("truncated integer"));
    }
    let mut be = [0u8; 16];
    be[16 - n..].copy_from_slice(&bytes[..n]);
    let raw = u128::from_be_bytes(be);
    let value = if negative {
        let mask = if n == 16 { u128::MAX } else { (1u128 << (8 * n)) - 1 };
        let magnitude = !raw & mask;
        if magnitude > i128::MIN.unsigned_abs() {
            return Err(KeyError::Malformed("integer out of range"));
        }
        // Wrapping so that the magnitude 2^127 gives i128::MIN.
        (magnitude as i128).wrapping_neg()
    } else {
        i128::try_from(raw).map_err(|_| KeyError::Malformed("integer out of range"))?
    };
    Ok((Element::Int(value), &bytes[n..]))
}

fn decode_number(tag: u8, bytes: &[u8]) -> Result<(Element, &[u8]), KeyError> {
    if tag == NUM_ZERO {
        return Ok((Element::Number(Number::zero()), bytes));
    }
    let negative = tag == NUM_NEG;
    let unflip = |b: u8| if negative { 101u8.wrapping_sub(b) } else { b };
    let (&exp, mut rest) = bytes.split_first().ok_or(KeyError::Malformed("truncated number"))?;
    let exp = if negative { 255 - exp } else { exp };
    let mut digits = Vec::new();
    loop {
        let (&b, tail) = rest.split_first().ok_or(KeyError::Malformed("unterminated number"))?;
        rest = tail;
        match unflip(b) {
            0 => break,
            v @ 1..=100 => digits.extend([(v - 1) / 10, (v - 1) % 10]),
            _ => return Err(KeyError::Malformed("bad number digits")),
        }
    }
    // The last pair may carry a padding zero.
    if digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.first().is_none_or(|&d| d == 0) || digits.last() == Some(&0) || digits.len() > MAX_DIGITS {
        return Err(KeyError::Malformed("non-canonical number"));
    }
    Ok((Element::Number(Number { negative, digits, exponent: i64::from(exp) + MIN_EXP }), rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn num(s: &str) -> Number {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn enc_num(s: &str) -> Vec<u8> {
        encode(&[Element::Number(num(s))])
    }

    #[test]
    fn numbers_from_parts_are_the_parsed_ones() {
        assert_eq!(Number::from_parts(false, &[1, 5], 1), Some(num("1.5")));
        assert_eq!(Number::from_parts(true, &[2], -3), Some(num("-0.0002")));
        assert_eq!(Number::from_parts(true, &[], 7), Some(num("0")));
        assert_eq!(Number::from_parts(false, &[9; 38], MAX_EXP), Some(num(&format!("{}E+88", "9".repeat(38)))));
        for (digits, exponent) in [(&[0, 1][..], 0), (&[1, 0][..], 0), (&[10][..], 0), (&[1][..], MAX_EXP + 1)] {
            assert_eq!(Number::from_parts(false, digits, exponent), None, "{digits:?}E{exponent}");
        }
        assert_eq!(Number::from_parts(false, &[1; 39], 0), None);
    }

    #[test]
    fn leading_strings_encode_as_elements() {
        let tail = [Element::Bytes(vec![0, 1]), Element::Int(-3), Element::Number(num("1.5"))];
        let whole: Vec<Element> = ["i", "a\0b", ""].into_iter().map(Element::from).chain(tail.clone()).collect();
        assert_eq!(encode_strings_then(&["i", "a\0b", ""], &tail), encode(&whole));
        assert_eq!(encode_strings_then(&["s"], &[]), encode(&["s".into()]));
    }

    #[test]
    fn numbers_order_by_value() {
        let ascending = [
            "-9.9999999999999999999999999999999999999E+125",
            "-1E+10",
            "-10",
            "-9",
            "-1.5",
            "-1",
            "-0.10001",
            "-0.1",
            "-1E-130",
            "0",
            "1E-130",
            "0.5",
            "1",
            "1.0000000000000000000000000000000000001",
            "9",
            "10",
            "12.5e3",
            "100000",
            "9.9999999999999999999999999999999999999E+125",
        ];
        for pair in ascending.windows(2) {
            assert!(enc_num(pair[0]) < enc_num(pair[1]), "{} < {}", pair[0], pair[1]);
            assert!(num(pair[0]) < num(pair[1]));
        }
    }

    #[test]
    fn equal_numbers_encode_equally() {
        for (a, b) in [
            ("1.0", "1"),
            ("-0", "0"),
            ("0.000", "0"),
            ("12.5e3", "12500"),
            ("+007.50", "7.5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("1e2", "100"),
        ] {
            assert_eq!(enc_num(a), enc_num(b), "{a} == {b}");
        }
    }

    #[test]
    fn invalid_numbers() {
        for s in [
            "",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "abc",
            "1.2.3",
            "1E-131",
            "1E+126",
            "1e9999999",
            "--1",
            "0x10",
            "1 ",
            "123456789012345678901234567890123456789",
        ] {
            assert!(s.parse::<Number>().is_err(), "{s:?} should be rejected");
        }
        // 38 digits, and trailing zeros that are not significant.
        assert!("12345678901234567890123456789012345678".parse::<Number>().is_ok());
        assert!("1234567890123456789012345678901234567800000".parse::<Number>().is_ok());
    }

    #[test]
    fn numbers_print_canonically() {
        for (input, shown) in [
            ("12.5e3", "12500"),
            ("-0.0012", "-0.0012"),
            ("1E-130", "1E-130"),
            ("1.5e60", "1.5E+60"),
            ("3.25", "3.25"),
            ("-0", "0"),
        ] {
            assert_eq!(num(input).to_string(), shown);
        }
    }

    #[test]
    fn prefixes_sort_first_and_types_are_ordered() {
        let a = encode(&["a".into()]);
        let ab = encode(&["a".into(), "b".into()]);
        let a0 = encode(&[Element::String("a\0".into())]);
        assert!(a < ab && ab < a0);
        assert!(encode(&[Element::Bytes(vec![0xFF])]) < encode(&["".into()]));
        assert!(encode(&["zzz".into()]) < encode(&[Element::Int(i128::MIN)]));
        assert!(encode(&[Element::Int(i128::MAX)]) < enc_num("-1E+125"));
    }

    #[test]
    fn integer_extremes_round_trip() {
        for i in [i128::MIN, i128::MIN + 1, -256, -255, -1, 0, 1, 255, 256, i128::MAX] {
            let e = encode(&[Element::Int(i)]);
            assert_eq!(decode(&e), Ok(vec![Element::Int(i)]));
        }
    }

    #[test]
    fn malformed_keys_are_errors() {
        for bad in [&[0x02, b'a'][..], &[0x15], &[0x32, 10], &[0x32, 10, 200, 0], &[0xEE]] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    fn number_strategy() -> impl Strategy<Value = Number> {
        (any::<bool>(), proptest::collection::vec(0u8..10, 1..=MAX_DIGITS), MIN_EXP..=MAX_EXP).prop_map(
            |(negative, digits, e)| {
                let digits: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
                let sign = if negative { "-" } else { "" };
                // 0.digits × 10^e; after normalisation the exponent may shrink, never grow.
                format!("{sign}0.{digits}e{e}").parse().unwrap_or_else(|_| Number::zero())
            },
        )
    }

    fn element_strategy() -> impl Strategy<Value = Element> {
        prop_oneof![
            proptest::collection::vec(prop_oneof![Just(0u8), Just(0xFF), any::<u8>()], 0..6).prop_map(Element::Bytes),
            "[a\\x00b\u{e9}]{0,5}".prop_map(Element::String),
            prop_oneof![any::<i128>(), any::<i64>().prop_map(i128::from), -300i128..300].prop_map(Element::Int),
            number_strategy().prop_map(Element::Number),
        ]
    }

    /// Small numbers compared exactly as integers scaled by 10^9, independently of
    /// `Number`'s own ordering.
    fn small_number() -> impl Strategy<Value = (i128, Number)> {
        (-1_000_000_000_000i64..1_000_000_000_000, 0u32..=9).prop_map(|(m, scale)| {
            let text = format!("{m}e-{scale}");
            (i128::from(m) * 10i128.pow(9 - scale), text.parse().expect("in range"))
        })
    }

    proptest! {
        #[test]
        fn tuple_order_is_preserved(a in proptest::collection::vec(element_strategy(), 0..4), b in proptest::collection::vec(element_strategy(), 0..4)) {
            prop_assert_eq!(encode(&a).cmp(&encode(&b)), a.cmp(&b));
        }

        #[test]
        fn tuples_round_trip(t in proptest::collection::vec(element_strategy(), 0..5)) {
            prop_assert_eq!(decode(&encode(&t)), Ok(t));
        }

        #[test]
        fn number_order_matches_arithmetic(a in small_number(), b in small_number()) {
            prop_assert_eq!(enc_num(&a.1.to_string()).cmp(&enc_num(&b.1.to_string())), a.0.cmp(&b.0));
        }

        #[test]
        fn numbers_print_and_parse_back(n in number_strategy()) {
            prop_assert_eq!(n.to_string().parse::<Number>(), Ok(n));
        }
    }
}
