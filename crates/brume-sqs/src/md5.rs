//! The MD5 digests SDKs check on every send and receive: of the body, and of the message
//! attributes in SQS's binary encoding (sorted by name; each name, data type and value
//! length-prefixed, with a transport byte: 1 for strings and numbers, 2 for binary).

use std::collections::BTreeMap;

use brume_crypto::Md5;

use crate::table::AttributeValue;

pub fn of_body(body: &str) -> String {
    brume_core::hex(&Md5::digest(body.as_bytes()))
}

fn put(md5: &mut Md5, bytes: &[u8]) {
    md5.update((bytes.len() as u32).to_be_bytes());
    md5.update(bytes);
}

/// `None` when there are no attributes: SQS then leaves the digest out.
pub fn of_attributes(attributes: &BTreeMap<String, AttributeValue>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut md5 = Md5::new();
    for (name, value) in attributes {
        put(&mut md5, name.as_bytes());
        put(&mut md5, value.data_type.as_bytes());
        match (&value.string_value, &value.binary_value) {
            (Some(s), _) => {
                md5.update([1u8]);
                put(&mut md5, s.as_bytes());
            }
            (None, Some(b)) => {
                md5.update([2u8]);
                put(&mut md5, &b.0);
            }
            (None, None) => md5.update([1u8]),
        }
    }
    Some(brume_core::hex(&md5.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use brume_core::value::Blob;

    fn string(data_type: &str, v: &str) -> AttributeValue {
        AttributeValue { data_type: data_type.into(), string_value: Some(v.into()), binary_value: None }
    }

    #[test]
    fn digests_match_what_sdks_compute() {
        assert_eq!(of_body("hello"), "5d41402abc4b2a76b9719d911017c592");
        // Computed independently with Python from the encoding AWS documents.
        let mut attrs = BTreeMap::new();
        attrs.insert("a".to_string(), string("String", "x"));
        assert_eq!(of_attributes(&attrs).unwrap(), "a512aac9938034acb0b3c3d965944bf1");
        attrs.insert(
            "b".to_string(),
            AttributeValue { data_type: "Binary".into(), string_value: None, binary_value: Some(Blob(vec![1, 2])) },
        );
        assert_eq!(of_attributes(&attrs).unwrap().len(), 32);
        assert_eq!(of_attributes(&BTreeMap::new()), None);
    }
}
