//! Attribute values: the ten DynamoDB types, read from their wire form with DynamoDB's
//! validation errors, written back, compared and sized as DynamoDB does.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
/// DynamoDB's message for a value nested deeper than [`MAX_DEPTH`].
pub const NESTING_LIMIT_EXCEEDED: &str =
    "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit";

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
        // Every JSON value is accepted (anything but an object is an invalid attribute
        // value), so deserializing a tree cannot fail.
        Checked::deserialize(json).map_or_else(|_| Err(empty()), |c| c.0)
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

fn empty() -> AwsError {
    validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
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

/// A map of attribute values (an item, a key) read from the request's tree while the typed
/// input is deserialized: reading it as JSON values first rebuilt each attribute's object
/// (and copied its strings) only for [`item_from_wire`] to convert it again. DynamoDB's
/// error, if any, waits in it for the handler to raise where it reads the map, so errors
/// come in the same order as before.
pub struct Attributes(Result<Item, AwsError>);

impl Attributes {
    pub fn into_item(self) -> Result<Item, AwsError> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(AttributesVisitor).map(Attributes)
    }
}

struct AttributesVisitor;

impl<'de> Visitor<'de> for AttributesVisitor {
    type Value = Result<Item, AwsError>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut item = Item::new();
        // The first invalid attribute by name is the one reported (as `item_from_wire`,
        // reading a sorted map, does).
        let mut error: Option<(String, AwsError)> = None;
        while let Some((name, value)) = map.next_entry::<String, Checked>()? {
            match value.0 {
                Ok(v) => {
                    item.insert(name, v);
                }
                Err(e) if error.as_ref().is_none_or(|(first, _)| name < *first) => error = Some((name, e)),
                Err(_) => {}
            }
        }
        Ok(error.map_or(Ok(item), |(_, e)| Err(e)))
    }
}

/// One attribute value read with DynamoDB's validation ([`Value::from_wire`]), its error
/// kept rather than raised.
struct Checked(Result<Value, AwsError>);

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor).map(Checked)
    }
}

struct CheckedVisitor;

/// Anything but an object is no attribute value.
impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Result<Value, AwsError>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an attribute value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(empty()))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err(empty()))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err(empty()))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(empty()))
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err(empty()))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Err(empty()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_seq(seq)?;
        Ok(Err(empty()))
    }

    /// Exactly one member may be set (null members do not count).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut set = None;
        let mut more = false;
        while let Some(ty) = map.next_key::<TypeName>()? {
            match (map.next_value_seed(Member(ty.0))?, &set) {
                (None, _) => {}
                (Some(value), None) => set = Some(value),
                (Some(_), Some(_)) => more = true,
            }
        }
        Ok(match set {
            None => Err(empty()),
            Some(_) if more => Err(validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            )),
            Some(value) => value,
        })
    }
}

/// An attribute value's member name: one of the ten types, or `""` for any other.
struct TypeName(&'static str);

const TYPES: [&str; 10] = ["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];

impl<'de> Deserialize<'de> for TypeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = TypeName;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E>(self, s: &str) -> Result<TypeName, E> {
                Ok(TypeName(TYPES.into_iter().find(|t| *t == s).unwrap_or("")))
            }
        }
        d.deserialize_str(Name)
    }
}

/// The value of member `.0` of an attribute value: `None` when null, else the value read
/// as that type (or its error).
struct Member(&'static str);

impl Member {
    /// The error for a member holding the wrong kind of JSON: a type's own, or the empty
    /// value's for a member that names no type.
    fn mismatch(&self) -> AwsError {
        if self.0.is_empty() { empty() } else { serialization(self.0) }
    }

    fn text(self, s: std::borrow::Cow<str>) -> Result<Value, AwsError> {
        match self.0 {
            "S" => Ok(Value::S(s.into_owned())),
            "N" => number(&s).map(Value::N),
            "B" => unb64(&s).map(Value::B),
            _ => Err(self.mismatch()),
        }
    }

    /// A set's elements: strings (numbers and binaries in their text form), neither empty
    /// nor repeated.
    fn set(self, list: &[Json]) -> Result<Value, AwsError> {
        let ty = self.0;
        fn text<'a>(v: &'a Json, ty: &str) -> Result<&'a str, AwsError> {
            v.as_str().ok_or_else(|| serialization(ty))
        }
        let text = |v| text(v, ty);
        Ok(match ty {
            "SS" => {
                let items: Vec<String> = list.iter().map(|v| text(v).map(str::to_string)).collect::<Result<_, _>>()?;
                check_set(&items, "string", |s| s.clone())?;
                Value::SS(items)
            }
            "NS" => {
                let raw: Vec<&str> = list.iter().map(text).collect::<Result<_, _>>()?;
                let items: Vec<Num> = raw.iter().map(|s| number(s)).collect::<Result<_, _>>()?;
                check_set(&items, "number", |n| n.to_string())?;
                Value::NS(items)
            }
            _ => {
                let items: Vec<Vec<u8>> = list.iter().map(|v| unb64(text(v)?)).collect::<Result<_, AwsError>>()?;
                check_set(&items, "binary", |b| b64(b))?;
                Value::BS(items)
            }
        })
    }
}

impl<'de> DeserializeSeed<'de> for Member {
    type Value = Option<Result<Value, AwsError>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Member {
    type Value = Option<Result<Value, AwsError>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an attribute value's member")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Some(match self.0 {
            "BOOL" => Ok(Value::Bool(b)),
            // DynamoDB once refused `{"NULL": false}`; it now stores it as NULL.
            "NULL" => Ok(Value::Null),
            _ => Err(self.mismatch()),
        }))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Some(Err(self.mismatch())))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Some(Err(self.mismatch())))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Some(Err(self.mismatch())))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(self.text(s.into())))
    }

    /// A string of the request's own tree is moved, not copied.
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Some(self.text(s.into())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        Ok(Some(match self.0 {
            "L" => {
                let (mut list, mut error) = (Vec::new(), None);
                while let Some(v) = seq.next_element::<Checked>()? {
                    match v.0 {
                        Ok(v) => list.push(v),
                        Err(e) => drop(error.get_or_insert(e)),
                    }
                }
                error.map_or(Ok(Value::L(list)), Err)
            }
            "SS" | "NS" | "BS" => {
                let mut list = Vec::new();
                while let Some(v) = seq.next_element::<Json>()? {
                    list.push(v);
                }
                self.set(&list)
            }
            _ => {
                IgnoredAny.visit_seq(seq)?;
                Err(self.mismatch())
            }
        }))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if self.0 != "M" {
            IgnoredAny.visit_map(map)?;
            return Ok(Some(Err(self.mismatch())));
        }
        // The first invalid attribute in the map's own order is the one reported.
        let (mut item, mut error) = (Item::new(), None);
        while let Some((name, v)) = map.next_entry::<String, Checked>()? {
            match v.0 {
                Ok(v) => drop(item.insert(name, v)),
                Err(e) => drop(error.get_or_insert(e)),
            }
        }
        Ok(Some(error.map_or(Ok(Value::M(item)), Err)))
    }
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
        check(json!({"S": 5}), Err("Unexpected value type for S"));
        check(json!({"M": [1]}), Err("Unexpected value type for M"));
        check(json!({"BOOL": "true"}), Err("Unexpected value type for BOOL"));
        check(json!({"NS": ["x", 2]}), Err("Unexpected value type for NS"));
        check(
            json!({"X": "y"}),
            Err("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"),
        );
        check(json!({"X": null, "BOOL": true}), Ok(json!({"BOOL": true})));
        check(json!("S"), Err("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"));
        check(
            json!({"M": {"x": {"SS": []}}}),
            Err("One or more parameter values were invalid: An string set  may not be empty"),
        );
    }

    #[test]
    fn maps_read_while_deserializing_match_the_tree_reading() {
        let cases = [
            json!({"pk": {"S": "k"}, "n": {"N": "01.50"}, "b": {"B": "AAE="}, "nul": {"NULL": true}}),
            json!({"m": {"M": {"z": {"L": [{"BOOL": true}, {"NS": ["1", "2"]}]}, "a": {"SS": ["x"]}}}, "bs": {"BS": ["AA=="]}}),
            json!({"s": {"S": "x", "N": null}, "e": {"X": null, "BOOL": false}}),
            // The first invalid attribute by name is reported, whatever the body order.
            json!({"z": {"N": "x"}, "a": {"SS": []}, "m": {}}),
            json!({"b": {"S": "x", "N": "1"}, "a": {"M": {"k": {"S": 5}, "j": {"N": "y"}}}}),
            json!({"a": {"L": [{"B": "!"}, {"Q": 1}]}, "b": 5}),
            json!({"a": "text", "b": [1], "c": null, "d": {"NS": ["1", 2]}, "e": {"NS": ["x", "1.0"]}}),
            json!({"a": {"X": "y"}}),
            json!({"a": {"BS": ["AA==", "AA=="]}, "b": {"SS": [1]}, "c": {"M": [1]}, "d": {"L": {"S": "x"}}}),
        ];
        for wire in cases {
            let tree: BTreeMap<String, Json> = serde_json::from_value(wire.clone()).unwrap();
            let expected = item_from_wire(&tree).map_err(|e| e.message);
            let got = serde_json::from_value::<Attributes>(wire.clone()).unwrap().into_item().map_err(|e| e.message);
            assert_eq!(got, expected, "{wire}");
        }
        assert!(serde_json::from_value::<Attributes>(json!([1])).is_err());
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
