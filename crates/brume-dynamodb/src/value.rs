//! Attribute values: the ten DynamoDB types, read from their wire form with DynamoDB's
//! validation errors, written back, compared and sized as DynamoDB does.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

use crate::error::{invalid, validation};
use crate::number::Num;
use brume_core::AwsError;

/// An item, or any map of attribute names to values.
pub type Item = BTreeMap<String, Value>;

/// The largest item DynamoDB stores.
pub const MAX_ITEM_SIZE: usize = 400 * 1024;
/// The deepest an attribute value may nest (31 maps or lists around a scalar).
pub const MAX_DEPTH: usize = 32;

#[derive(Clone, Debug)]
pub enum Value {
    S(String),
    N(Num),
    B(Vec<u8>),
    Bool(bool),
    Null,
    M(Item),
    L(Vec<Value>),
    SS(Vec<String>),
    NS(Vec<Num>),
    BS(Vec<Vec<u8>>),
}

impl PartialEq for Value {
    /// Sets are equal when they hold the same elements, in any order.
    fn eq(&self, other: &Value) -> bool {
        fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
            a.len() == b.len() && a.iter().all(|x| b.contains(x))
        }
        match (self, other) {
            (Value::S(a), Value::S(b)) => a == b,
            (Value::N(a), Value::N(b)) => a == b,
            (Value::B(a), Value::B(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Null, Value::Null) => true,
            (Value::M(a), Value::M(b)) => a == b,
            (Value::L(a), Value::L(b)) => a == b,
            (Value::SS(a), Value::SS(b)) => same_set(a, b),
            (Value::NS(a), Value::NS(b)) => same_set(a, b),
            (Value::BS(a), Value::BS(b)) => same_set(a, b),
            _ => false,
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(s: &str) -> Result<Vec<u8>, AwsError> {
    base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .map_err(|_| AwsError::new(400, "SerializationException", "Invalid base64 in a binary attribute value"))
}

impl Value {
    /// The type's code as the wire and `attribute_type` name it.
    pub fn type_code(&self) -> &'static str {
        match self {
            Value::S(_) => "S",
            Value::N(_) => "N",
            Value::B(_) => "B",
            Value::Bool(_) => "BOOL",
            Value::Null => "NULL",
            Value::M(_) => "M",
            Value::L(_) => "L",
            Value::SS(_) => "SS",
            Value::NS(_) => "NS",
            Value::BS(_) => "BS",
        }
    }

    /// Reads one attribute value (`{"S": "x"}`) from the request, with DynamoDB's errors.
    pub fn from_wire(json: &Json) -> Result<Value, AwsError> {
        let Some(obj) = json.as_object() else {
            return Err(validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ));
        };
        let mut set = obj.iter().filter(|(_, v)| !v.is_null());
        let (Some((ty, v)), None) = (set.next(), set.next()) else {
            let present = obj.values().filter(|v| !v.is_null()).count();
            return Err(validation(if present == 0 {
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
            } else {
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
            }));
        };
        // Numbers and binaries are read from the request's text, not from a copy of it.
        fn as_text<'a>(v: &'a Json, ty: &str) -> Result<&'a str, AwsError> {
            v.as_str().ok_or_else(|| serialization(ty))
        }
        let text = |v| as_text(v, ty);
        let string = |v| as_text(v, ty).map(str::to_string);
        let list = |v| Json::as_array(v).ok_or_else(|| serialization(ty));
        Ok(match ty.as_str() {
            "S" => Value::S(string(v)?),
            "N" => Value::N(number(text(v)?)?),
            "B" => Value::B(unb64(text(v)?)?),
            "BOOL" => Value::Bool(v.as_bool().ok_or_else(|| serialization(ty))?),
            // DynamoDB once refused `{"NULL": false}`; it now stores it as NULL.
            "NULL" => {
                v.as_bool().ok_or_else(|| serialization(ty))?;
                Value::Null
            }
            "M" => {
                let m = v.as_object().ok_or_else(|| serialization(ty))?;
                Value::M(m.iter().map(|(k, v)| Ok((k.clone(), Value::from_wire(v)?))).collect::<Result<_, AwsError>>()?)
            }
            "L" => Value::L(list(v)?.iter().map(Value::from_wire).collect::<Result<_, _>>()?),
            "SS" => {
                let items: Vec<String> = list(v)?.iter().map(string).collect::<Result<_, _>>()?;
                check_set(&items, "string", |s| s.clone())?;
                Value::SS(items)
            }
            "NS" => {
                let raw: Vec<&str> = list(v)?.iter().map(text).collect::<Result<_, _>>()?;
                let items: Vec<Num> = raw.iter().map(|s| number(s)).collect::<Result<_, _>>()?;
                check_set(&items, "number", |n| n.to_string())?;
                Value::NS(items)
            }
            "BS" => {
                let items: Vec<Vec<u8>> = list(v)?.iter().map(|v| unb64(text(v)?)).collect::<Result<_, AwsError>>()?;
                check_set(&items, "binary", |b| b64(b))?;
                Value::BS(items)
            }
            _ => {
                return Err(validation(
                    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
                ));
            }
        })
    }

    /// DynamoDB's size of the value (without its attribute name), as items are metered and
    /// limited: strings and binaries by their bytes, numbers by about one byte per two
    /// significant digits plus one, documents with 3 bytes of overhead and 1 per element.
    pub fn size(&self) -> usize {
        match self {
            Value::S(s) => s.len(),
            Value::N(n) => number_size(n),
            Value::B(b) => b.len(),
            Value::Bool(_) | Value::Null => 1,
            Value::M(m) => 3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>(),
            Value::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            Value::SS(ss) => ss.iter().map(String::len).sum(),
            Value::NS(ns) => ns.iter().map(number_size).sum(),
            Value::BS(bs) => bs.iter().map(Vec::len).sum(),
        }
    }

    /// Levels of nesting: 1 for a scalar or set, one more for each map or list around it.
    pub fn depth(&self) -> usize {
        match self {
            Value::M(m) => 1 + m.values().map(Value::depth).max().unwrap_or(0),
            Value::L(l) => 1 + l.iter().map(Value::depth).max().unwrap_or(0),
            _ => 1,
        }
    }

    /// The value as DynamoDB prints it inside error messages (`{N:5}`, `{S:a}`).
    pub fn describe(&self) -> String {
        let inner = match self {
            Value::S(s) => s.clone(),
            Value::N(n) => n.to_string(),
            Value::B(b) => b64(b),
            Value::Bool(b) => b.to_string(),
            Value::Null => "true".into(),
            other => serde_json::to_string(other).unwrap_or_default(),
        };
        format!("{{{}:{inner}}}", self.type_code())
    }
}

fn number_size(n: &Num) -> usize {
    n.significant_digits().div_ceil(2) + 1
}

fn serialization(ty: &str) -> AwsError {
    AwsError::new(400, "SerializationException", format!("Unexpected value type for {ty}"))
}

fn number(s: &str) -> Result<Num, AwsError> {
    Num::parse(s).map_err(|e| validation(e.message()))
}

/// Sets may be neither empty nor hold the same element twice.
fn check_set<T: PartialEq>(items: &[T], kind: &str, show: impl Fn(&T) -> String) -> Result<(), AwsError> {
    if items.is_empty() {
        return Err(invalid(&format!("An {kind} set  may not be empty")));
    }
    let duplicated = items.iter().enumerate().any(|(i, x)| items[..i].contains(x));
    if duplicated {
        let shown: Vec<String> = items.iter().map(show).collect();
        return Err(invalid(&format!("Input collection [{}] contains duplicates.", shown.join(", "))));
    }
    Ok(())
}

/// Reads a map of attribute values (an item, a key, `ExpressionAttributeValues`).
pub fn item_from_wire(json: &BTreeMap<String, Json>) -> Result<Item, AwsError> {
    json.iter().map(|(k, v)| Ok((k.clone(), Value::from_wire(v)?))).collect()
}

/// The size of an item: each attribute's name and value.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self {
            Value::S(v) => map.serialize_entry("S", v)?,
            Value::N(n) => map.serialize_entry("N", &Text(n))?,
            Value::B(b) => map.serialize_entry("B", &b64(b))?,
            Value::Bool(b) => map.serialize_entry("BOOL", b)?,
            Value::Null => map.serialize_entry("NULL", &true)?,
            Value::M(m) => map.serialize_entry("M", m)?,
            Value::L(l) => map.serialize_entry("L", l)?,
            Value::SS(ss) => map.serialize_entry("SS", ss)?,
            Value::NS(ns) => map.serialize_entry("NS", &Strings(ns))?,
            Value::BS(bs) => map.serialize_entry("BS", &bs.iter().map(|b| b64(b)).collect::<Vec<_>>())?,
        }
        map.end()
    }
}

/// Stored items are read straight into values: they were validated when written, so only
/// their numbers and binaries need decoding.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        enum Stored {
            S(String),
            N(String),
            B(String),
            #[serde(rename = "BOOL")]
            Bool(bool),
            #[serde(rename = "NULL")]
            Null(serde::de::IgnoredAny),
            M(Item),
            L(Vec<Value>),
            SS(Vec<String>),
            NS(Vec<String>),
            BS(Vec<String>),
        }
        let number = |s: &str| Num::parse(s).map_err(|e| serde::de::Error::custom(e.message()));
        let bytes = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).map_err(serde::de::Error::custom);
        Ok(match Stored::deserialize(d)? {
            Stored::S(s) => Value::S(s),
            Stored::N(n) => Value::N(number(&n)?),
            Stored::B(b) => Value::B(bytes(&b)?),
            Stored::Bool(b) => Value::Bool(b),
            Stored::Null(_) => Value::Null,
            Stored::M(m) => Value::M(m),
            Stored::L(l) => Value::L(l),
            Stored::SS(ss) => Value::SS(ss),
            Stored::NS(ns) => Value::NS(ns.iter().map(|n| number(n)).collect::<Result<_, _>>()?),
            Stored::BS(bs) => Value::BS(bs.iter().map(|b| bytes(b)).collect::<Result<_, _>>()?),
        })
    }
}

/// A displayable value written as a string, printed straight into the output (no
/// `String` in between).
struct Text<'a, T>(&'a T);

impl<T: std::fmt::Display> Serialize for Text<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// A list of displayable values written as strings.
struct Strings<'a, T>(&'a [T]);

impl<T: std::fmt::Display> Serialize for Strings<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            seq.serialize_element(&Text(v))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(wire: Json, expected: Result<Json, &str>) {
        let got = Value::from_wire(&wire).map(|v| serde_json::to_value(&v).unwrap()).map_err(|e| e.message);
        assert_eq!(got, expected.map_err(str::to_string), "{wire}");
    }

    #[test]
    fn values_are_read_normalized_and_validated() {
        check(json!({"S": "x"}), Ok(json!({"S": "x"})));
        check(json!({"S": ""}), Ok(json!({"S": ""})));
        check(json!({"N": "01.10"}), Ok(json!({"N": "1.1"})));
        check(json!({"B": "AAE="}), Ok(json!({"B": "AAE="})));
        check(json!({"BOOL": false}), Ok(json!({"BOOL": false})));
        check(json!({"NULL": true}), Ok(json!({"NULL": true})));
        check(
            json!({"M": {"a": {"L": [{"N": "1"}, {"SS": ["a", "b"]}]}}}),
            Ok(json!({"M": {"a": {"L": [{"N": "1"}, {"SS": ["a", "b"]}]}}})),
        );
        check(json!({"NS": ["1", "2.50"]}), Ok(json!({"NS": ["1", "2.5"]})));
        check(json!({}), Err("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"));
        check(
            json!({"S": "a", "N": "1"}),
            Err(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ),
        );
        check(json!({"NULL": false}), Ok(json!({"NULL": true})));
        check(json!({"N": "x"}), Err("A value provided cannot be converted into a number"));
        check(
            json!({"N": "1E+200"}),
            Err("Number overflow. Attempting to store a number with magnitude larger than supported range"),
        );
        check(json!({"SS": []}), Err("One or more parameter values were invalid: An string set  may not be empty"));
        check(json!({"NS": []}), Err("One or more parameter values were invalid: An number set  may not be empty"));
        check(json!({"BS": []}), Err("One or more parameter values were invalid: An binary set  may not be empty"));
        check(
            json!({"SS": ["a", "a"]}),
            Err("One or more parameter values were invalid: Input collection [a, a] contains duplicates."),
        );
        check(
            json!({"NS": ["1", "1.0"]}),
            Err("One or more parameter values were invalid: Input collection [1, 1] contains duplicates."),
        );
        check(
            json!({"M": {"x": {"SS": []}}}),
            Err("One or more parameter values were invalid: An string set  may not be empty"),
        );
    }

    fn size_of(wire: Json) -> usize {
        Value::from_wire(&wire).unwrap().size()
    }

    #[test]
    fn sizes_follow_dynamodb() {
        assert_eq!(size_of(json!({"S": "héllo"})), 6);
        assert_eq!(size_of(json!({"N": "12345"})), 4);
        assert_eq!(size_of(json!({"N": "0"})), 1);
        assert_eq!(size_of(json!({"B": "AAEC"})), 3);
        assert_eq!(size_of(json!({"BOOL": true})), 1);
        assert_eq!(size_of(json!({"NULL": true})), 1);
        assert_eq!(size_of(json!({"M": {}})), 3);
        assert_eq!(size_of(json!({"L": [{"S": "ab"}]})), 6);
        assert_eq!(size_of(json!({"M": {"k": {"S": "ab"}}})), 7);
        assert_eq!(size_of(json!({"SS": ["a", "bc"]})), 3);
        let item: Item = [("name".to_string(), Value::S("abc".into()))].into();
        assert_eq!(item_size(&item), 7);
    }

    #[test]
    fn depth_counts_documents() {
        let mut v = json!({"S": "x"});
        for _ in 0..31 {
            v = json!({"M": {"k": v}});
        }
        assert_eq!(Value::from_wire(&v).unwrap().depth(), MAX_DEPTH);
        assert_eq!(Value::from_wire(&json!({"L": [{"M": {}}]})).unwrap().depth(), 2);
    }

    #[test]
    fn stored_items_read_back() {
        let item = item_from_wire(
            &serde_json::from_value(json!({
                "a": {"M": {"n": {"N": "1.50"}, "l": {"L": [{"B": "AAE="}, {"NULL": true}, {"BOOL": false}]}}},
                "s": {"SS": ["x"]}, "ns": {"NS": ["2"]}, "bs": {"BS": ["AA=="]}
            }))
            .unwrap(),
        )
        .unwrap();
        let stored = serde_json::to_vec(&item).unwrap();
        let back: Item = serde_json::from_slice(&stored).unwrap();
        assert_eq!(back, item);
    }

    #[test]
    fn sets_compare_without_order() {
        let a = Value::from_wire(&json!({"SS": ["a", "b"]})).unwrap();
        let b = Value::from_wire(&json!({"SS": ["b", "a"]})).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Value::from_wire(&json!({"SS": ["a"]})).unwrap());
    }
}
