//! XML as the awsQuery responses and the restXml protocol write it, from the canonical
//! value and the model: element names from `locationName`, wrapped or flattened lists and
//! maps, attributes, namespaces, timestamps in ISO 8601.

use std::borrow::Cow;
use std::fmt::Write as _;

use brume_core::value::Timestamp;
use serde_json::Value;

use super::timestamp::{self, Format};
use crate::model::{MemberRef, ServiceModel, Shape, ShapeType};

/// Escapes text for element content and attribute values. The characters escaped are all
/// ASCII, so the text is copied in runs between them rather than char by char.
pub fn escape(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(at) = rest.bytes().position(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'' | b'\r')) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            _ => "&#xD;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// The text form of a scalar value of `shape` (strings, numbers, booleans, timestamps,
/// blobs), as XML, query strings and headers write it. `None` for non-scalars and nulls.
pub fn scalar_text(shape: &Shape, member: Option<&MemberRef>, value: &Value, default_ts: Format) -> Option<String> {
    match (shape.kind, value) {
        (_, Value::Null) => None,
        (ShapeType::Timestamp, Value::Number(n)) => {
            let fmt = member.and_then(|m| m.timestamp_format.as_deref()).or(shape.timestamp_format.as_deref());
            Some(timestamp::to_text(Timestamp(n.as_f64()?), Format::from_trait(fmt, default_ts)))
        }
        (_, Value::String(s)) => Some(s.clone()),
        (_, Value::Bool(b)) => Some(b.to_string()),
        (ShapeType::Float | ShapeType::Double, Value::Number(n)) => Some(float_text(n.as_f64()?)),
        (_, Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Floats as AWS writes them: integral values without a fraction, `NaN`/`Infinity` spelled out.
pub fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity".into() } else { "-Infinity".into() }
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Writes XML for canonical values of a model.
pub struct Writer<'m> {
    pub model: &'m ServiceModel,
    pub out: String,
}

impl<'m> Writer<'m> {
    pub fn new(model: &'m ServiceModel) -> Self {
        Writer { model, out: String::new() }
    }

    /// Writes the members of structure `shape_name` (without a wrapping element).
    pub fn members(&mut self, shape_name: &str, value: &Value) {
        let shape = self.model.shape(shape_name);
        let Some(obj) = value.as_object() else { return };
        for (name, member) in shape.members.iter() {
            if member.location.is_some() || member.xml_attribute {
                continue;
            }
            if let Some(v) = obj.get(name) {
                let element = member.query_name(name);
                self.element(element, member, v);
            }
        }
    }

    /// Writes `<name ...>value</name>` for a value reached through `member`.
    pub fn element(&mut self, name: &str, member: &MemberRef, value: &Value) {
        if value.is_null() {
            return;
        }
        let shape = self.model.shape(&member.shape);
        match shape.kind {
            ShapeType::List => self.list(name, member, shape, value),
            ShapeType::Map => self.map(name, member, shape, value),
            ShapeType::Structure => {
                self.open(name, member.xml_namespace.as_ref().or(shape.xml_namespace.as_ref()), &member.shape, value);
                self.members(&member.shape, value);
                self.close(name);
            }
            _ => {
                // A string is its own text, whatever the shape: escaped straight from the value.
                let text = match value {
                    Value::String(s) => Cow::Borrowed(s.as_str()),
                    _ => match scalar_text(shape, Some(member), value, Format::Iso8601) {
                        Some(text) => Cow::Owned(text),
                        None => return,
                    },
                };
                self.open(name, member.xml_namespace.as_ref(), "", &Value::Null);
                escape(&text, &mut self.out);
                self.close(name);
            }
        }
    }

    fn list(&mut self, name: &str, member: &MemberRef, shape: &Shape, value: &Value) {
        let Some(items) = value.as_array() else {
            return;
        };
        let item_ref = shape.member.as_deref().expect("list shapes have a member");
        if member.flattened || shape.flattened {
            // A flattened list repeats its item name, the member name unless the item has its own.
            let item_name = item_ref.location_name.as_deref().unwrap_or(name);
            for item in items {
                self.element(item_name, item_ref, item);
            }
        } else {
            self.open(name, member.xml_namespace.as_ref(), "", &Value::Null);
            let item_name = item_ref.location_name.as_deref().unwrap_or("member");
            for item in items {
                self.element(item_name, item_ref, item);
            }
            self.close(name);
        }
    }

    fn map(&mut self, name: &str, member: &MemberRef, shape: &Shape, value: &Value) {
        let Some(entries) = value.as_object() else {
            return;
        };
        let key_ref = shape.key.as_deref().expect("map shapes have a key");
        let value_ref = shape.value.as_deref().expect("map shapes have a value");
        let key_name = key_ref.location_name.as_deref().unwrap_or("key");
        let value_name = value_ref.location_name.as_deref().unwrap_or("value");
        let flattened = member.flattened || shape.flattened;
        if !flattened {
            self.open(name, member.xml_namespace.as_ref(), "", &Value::Null);
        }
        for (k, v) in entries {
            let entry = if flattened { name } else { "entry" };
            self.tag("<", entry);
            self.tag("<", key_name);
            escape(k, &mut self.out);
            self.close(key_name);
            self.element(value_name, value_ref, v);
            self.close(entry);
        }
        if !flattened {
            self.close(name);
        }
    }

    /// Opens an element with its namespace declaration and the attribute members of
    /// structure `shape_name` (pass "" when the element has none).
    pub fn open(&mut self, name: &str, ns: Option<&crate::model::XmlNamespace>, shape_name: &str, value: &Value) {
        self.out.push('<');
        self.out.push_str(name);
        if let Some(ns) = ns
            && let Some(uri) = &ns.uri
        {
            match &ns.prefix {
                Some(p) => {
                    let _ = write!(self.out, " xmlns:{p}=\"");
                }
                None => self.out.push_str(" xmlns=\""),
            }
            escape(uri, &mut self.out);
            self.out.push('"');
        }
        if !shape_name.is_empty()
            && let Some(obj) = value.as_object()
        {
            let shape = self.model.shape(shape_name);
            for (mname, m) in shape.members.iter().filter(|(_, m)| m.xml_attribute) {
                let Some(text) =
                    obj.get(mname).and_then(|v| scalar_text(self.model.shape(&m.shape), Some(m), v, Format::Iso8601))
                else {
                    continue;
                };
                let _ = write!(self.out, " {}=\"", m.location_name.as_deref().unwrap_or(mname));
                escape(&text, &mut self.out);
                self.out.push('"');
            }
        }
        self.out.push('>');
    }

    pub fn close(&mut self, name: &str) {
        self.tag("</", name);
    }

    /// `<name>` or `</name>`: pieces pushed, which costs a fraction of formatting them.
    pub fn tag(&mut self, open: &str, name: &str) {
        self.out.push_str(open);
        self.out.push_str(name);
        self.out.push('>');
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    fn escaped(text: &str) -> String {
        let mut out = "<a>".to_string();
        escape(text, &mut out);
        out
    }

    #[test]
    fn escape_replaces_markup_and_keeps_the_rest() {
        assert_eq!(escaped(""), "<a>");
        assert_eq!(escaped("plain ünïcode ☃"), "<a>plain ünïcode ☃");
        assert_eq!(escaped("a&b<c>d\"e'f\rg\n"), "<a>a&amp;b&lt;c&gt;d&quot;e&apos;f&#xD;g\n");
        assert_eq!(escaped("&&é<"), "<a>&amp;&amp;é&lt;");
    }
}
