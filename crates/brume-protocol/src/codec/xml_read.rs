//! XML read into the canonical value, model-driven: the restXml request payloads.
//!
//! The document is read into a small element tree first (request payloads are small: the
//! largest S3 one, DeleteObjects, is capped at 1000 keys), then each element is read as the
//! shape its member names. Element names come from `locationName`; lists may be wrapped or
//! flattened, maps too; attributes (`xsi:type`) are read where the model says so;
//! namespaces are ignored, as AWS's front ends ignore them on input. Unknown elements are
//! skipped for forward compatibility.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Number, Value};

use super::timestamp;
use crate::model::{MemberRef, ServiceModel, ShapeType};

/// One element of a parsed document: its local name (prefix dropped), attributes by
/// qualified name, child elements and concatenated text.
#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn attr(&self, name: &str) -> Option<&str> {
        // Exact qualified name first (`xsi:type`), then the local part, since a client may
        // bind the namespace to another prefix.
        let local = name.rsplit(':').next().unwrap_or(name);
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| self.attrs.iter().find(|(n, _)| n.rsplit(':').next() == Some(local)))
            .map(|(_, v)| v.as_str())
    }
}

/// How deep a document may nest. AWS's request documents nest a handful of levels (S3's
/// deepest, a lifecycle rule's tag, six); the bound keeps a hostile document's element tree
/// shallow, since dropping the tree recurses once per level.
const MAX_DEPTH: usize = 64;

fn local_name(qname: &[u8]) -> String {
    let local = qname.rsplit(|b| *b == b':').next().unwrap_or(qname);
    String::from_utf8_lossy(local).into_owned()
}

/// Parses a document into its root element (also what Brume's own clients read answers
/// with). The error is a description for the client.
pub fn parse(body: &[u8]) -> Result<Element, String> {
    let mut reader = Reader::from_reader(body);
    let mut stack: Vec<Element> = Vec::new();
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| e.to_string())?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let is_empty = matches!(event, Event::Empty(_));
                let mut el = Element { name: local_name(start.name().as_ref()), ..Element::default() };
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| e.to_string())?;
                    let name = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
                    if name == "xmlns" || name.starts_with("xmlns:") {
                        continue;
                    }
                    let value = attr.unescape_value().map_err(|e| e.to_string())?.into_owned();
                    el.attrs.push((name, value));
                }
                if is_empty {
                    if let Some(root) = close(&mut stack, el) {
                        return Ok(root);
                    }
                } else if stack.len() == MAX_DEPTH {
                    return Err(format!("the document nests deeper than {MAX_DEPTH} elements"));
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("unbalanced end tag")?;
                if let Some(root) = close(&mut stack, el) {
                    return Ok(root);
                }
            }
            Event::Text(text) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text.xml10_content().map_err(|e| e.to_string())?);
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&data.decode().map_err(|e| e.to_string())?);
                }
            }
            Event::GeneralRef(r) => {
                let Some(top) = stack.last_mut() else {
                    continue;
                };
                if let Some(c) = r.resolve_char_ref().map_err(|e| e.to_string())? {
                    top.text.push(c);
                } else {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| format!("unknown entity &{name};"))?;
                    top.text.push_str(resolved);
                }
            }
            Event::Eof => return Err("the document has no root element or is truncated".into()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
        buf.clear();
    }
}

/// Attaches a finished element to its parent; returns it when it is the root.
fn close(stack: &mut [Element], el: Element) -> Option<Element> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(el);
            None
        }
        None => Some(el),
    }
}

/// The canonical value of structure `shape_name` read from element `el`.
pub(crate) fn structure(model: &ServiceModel, shape_name: &str, el: &Element) -> Result<Value, String> {
    let shape = model.shape(shape_name);
    let mut out = Map::new();
    for (name, m) in shape.members.iter() {
        if m.location.is_some() {
            continue;
        }
        let element_name = m.location_name.as_deref().unwrap_or(name);
        if m.xml_attribute {
            if let Some(text) = el.attr(element_name) {
                out.insert(name.to_string(), scalar(model, m, text)?);
            }
            continue;
        }
        let member_shape = model.shape(&m.shape);
        let flattened = m.flattened || member_shape.flattened;
        let value = match member_shape.kind {
            ShapeType::List if flattened => {
                // Flattened list items are named by the item's own locationName when it
                // has one (botocore's `_member_key_name`), by the member otherwise.
                let item = member_shape.member.as_deref().expect("list shapes have a member");
                let item_name = item.location_name.as_deref().unwrap_or(element_name);
                let items: Vec<&Element> = el.children.iter().filter(|c| c.name == item_name).collect();
                if items.is_empty() {
                    continue;
                }
                Value::Array(items.into_iter().map(|c| value(model, item, c)).collect::<Result<_, _>>()?)
            }
            ShapeType::Map if flattened => {
                let entries: Vec<&Element> = el.children.iter().filter(|c| c.name == element_name).collect();
                if entries.is_empty() {
                    continue;
                }
                map_entries(model, member_shape, entries)?
            }
            _ => match el.child(element_name) {
                Some(child) => value(model, m, child)?,
                None => continue,
            },
        };
        out.insert(name.to_string(), value);
    }
    Ok(Value::Object(out))
}

/// The canonical value of the element `el` reached through `member`.
pub(crate) fn value(model: &ServiceModel, member: &MemberRef, el: &Element) -> Result<Value, String> {
    let shape = model.shape(&member.shape);
    match shape.kind {
        ShapeType::Structure => structure(model, &member.shape, el),
        ShapeType::List => {
            // A wrapped list: every child is an item, whatever its name (`member` unless
            // the model names it), as clients disagree on nothing else here.
            let item = shape.member.as_deref().expect("list shapes have a member");
            Ok(Value::Array(el.children.iter().map(|c| value(model, item, c)).collect::<Result<_, _>>()?))
        }
        ShapeType::Map => map_entries(model, shape, el.children.iter().collect()),
        _ => scalar(model, member, &el.text),
    }
}

fn map_entries(model: &ServiceModel, shape: &crate::model::Shape, entries: Vec<&Element>) -> Result<Value, String> {
    let key_ref = shape.key.as_deref().expect("map shapes have a key");
    let value_ref = shape.value.as_deref().expect("map shapes have a value");
    let key_name = key_ref.location_name.as_deref().unwrap_or("key");
    let value_name = value_ref.location_name.as_deref().unwrap_or("value");
    let mut out = Map::new();
    for entry in entries {
        let Some(key) = entry.child(key_name) else {
            continue;
        };
        let v = match entry.child(value_name) {
            Some(v) => value(model, value_ref, v)?,
            None => Value::Null,
        };
        out.insert(key.text.clone(), v);
    }
    Ok(Value::Object(out))
}

/// A scalar of `member`'s shape read from its text form (XML content, a header, a query
/// parameter or a path label): shared with the HTTP bindings.
pub(crate) fn scalar(model: &ServiceModel, member: &MemberRef, text: &str) -> Result<Value, String> {
    let shape = model.shape(&member.shape);
    let bad = || format!("'{text}' is not a valid {:?} for {}", shape.kind, member.shape);
    Ok(match shape.kind {
        ShapeType::String => Value::String(text.to_string()),
        // Base64 in the document and in the canonical value; line breaks are allowed in
        // XML's base64Binary.
        ShapeType::Blob => Value::String(text.split_ascii_whitespace().collect()),
        ShapeType::Boolean => match text.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad()),
        },
        ShapeType::Integer | ShapeType::Long => Value::Number(text.trim().parse::<i64>().map_err(|_| bad())?.into()),
        ShapeType::Float | ShapeType::Double => match text.trim() {
            // Non-finite numbers are strings in the canonical value, as in JSON.
            t @ ("NaN" | "Infinity" | "-Infinity") => Value::String(t.to_string()),
            t => Number::from_f64(t.parse::<f64>().map_err(|_| bad())?).map(Value::Number).ok_or_else(bad)?,
        },
        ShapeType::Timestamp => {
            let ts = timestamp::parse(text).ok_or_else(bad)?;
            Number::from_f64(ts.0).map(Value::Number).ok_or_else(bad)?
        }
        ShapeType::Structure | ShapeType::List | ShapeType::Map => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::model;
    use serde_json::json;

    fn read(shape: &str, xml: &str) -> Value {
        structure(model("s3").unwrap(), shape, &parse(xml.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn reads_flattened_lists_entities_and_attributes() {
        let v = read(
            "Delete",
            r#"<?xml version="1.0"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
                 <Object><Key>a &amp; b&#x21;</Key></Object><Object><Key><![CDATA[<c>]]></Key><VersionId>v</VersionId></Object>
                 <Quiet>true</Quiet><Unknown>1</Unknown></Delete>"#,
        );
        assert_eq!(v, json!({"Objects": [{"Key": "a & b!"}, {"Key": "<c>", "VersionId": "v"}], "Quiet": true}));
        let v = read(
            "AccessControlPolicy",
            r#"<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:x="http://www.w3.org/2001/XMLSchema-instance" x:type="Group"><URI>u</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"#,
        );
        assert_eq!(v, json!({"Grants": [{"Grantee": {"Type": "Group", "URI": "u"}, "Permission": "READ"}]}));
    }

    #[test]
    fn reads_wrapped_lists_numbers_and_timestamps() {
        let v = read(
            "BucketLifecycleConfiguration",
            "<LifecycleConfiguration><Rule><Status>Enabled</Status><Expiration><Date>2024-01-31T12:00:00Z</Date><Days>3</Days></Expiration><Filter><Prefix/></Filter></Rule></LifecycleConfiguration>",
        );
        assert_eq!(
            v,
            json!({"Rules": [{"Status": "Enabled", "Expiration": {"Date": 1_706_702_400.0, "Days": 3}, "Filter": {"Prefix": ""}}]})
        );
        let v = read("Tagging", "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>");
        assert_eq!(v, json!({"TagSet": [{"Key": "k", "Value": "v"}]}));
    }

    #[test]
    fn documents_nested_too_deep_are_errors() {
        let nested = |depth: usize| format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
        assert!(parse(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(
            parse(nested(100_000).as_bytes()).unwrap_err(),
            "the document nests deeper than 64 elements".to_string()
        );
    }

    #[test]
    fn malformed_documents_are_errors() {
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a>").is_err());
        assert!(parse(b"").is_err());
        let err = structure(model("s3").unwrap(), "Delete", &parse(b"<Delete><Quiet>yes</Quiet></Delete>").unwrap());
        assert!(err.is_err());
    }
}
