//! The canonical form of operation inputs and outputs.
//!
//! Every protocol codec turns a request into a `serde_json::Value` in one canonical form,
//! whatever the wire format, and writes responses from the same form; handlers read and
//! write it through serde structs. The conventions:
//!
//! - structures are objects keyed by the model's member names (`QueueUrl`, `Bucket`);
//! - lists are arrays, maps are objects, strings and enums are strings, numbers are numbers,
//!   booleans are booleans;
//! - timestamps are numbers, seconds since the Unix epoch (fractions allowed): [`Timestamp`];
//! - blobs are standard base64 strings: [`Blob`].

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time in the canonical form: seconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub f64);

impl Timestamp {
    pub fn now() -> Self {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        // Millisecond precision, as AWS reports times.
        Timestamp((d.as_millis() as f64) / 1000.0)
    }

    pub fn from_unix_seconds(secs: i64) -> Self {
        Timestamp(secs as f64)
    }

    /// `ms` milliseconds since the Unix epoch.
    pub fn from_unix_millis(ms: u64) -> Self {
        Timestamp(ms as f64 / 1000.0)
    }

    /// `2024-01-31T12:00:00.123Z`: UTC with milliseconds, as AWS writes times in XML
    /// and in the JSON documents its services send (notifications, event records).
    pub fn iso8601(self) -> String {
        let t = self.to_offset_datetime();
        let Ok(year) = u32::try_from(t.year()) else {
            // Before year 0: rare enough for `format!`'s signed padding.
            return format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            );
        };
        let mut out = String::with_capacity(24);
        crate::push_zero_padded(&mut out, year, 4);
        for (separator, value) in
            [('-', u8::from(t.month())), ('-', t.day()), ('T', t.hour()), (':', t.minute()), (':', t.second())]
        {
            out.push(separator);
            crate::push_zero_padded(&mut out, value.into(), 2);
        }
        out.push('.');
        crate::push_zero_padded(&mut out, t.millisecond().into(), 3);
        out.push('Z');
        out
    }

    pub fn to_offset_datetime(self) -> time::OffsetDateTime {
        // Rounded to the microsecond: f64 seconds cannot hold nanoseconds exactly, and a
        // stored `.123` must not print as `.122`.
        let nanos = (self.0 * 1e6).round() as i128 * 1000;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

/// Bytes in the canonical form: base64 in the value, raw bytes in Rust.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(s.as_bytes()).map(Blob).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_times_have_milliseconds_and_z() {
        assert_eq!(Timestamp::from_unix_millis(1_700_000_000_123).iso8601(), "2023-11-14T22:13:20.123Z");
        assert_eq!(Timestamp::from_unix_millis(0).iso8601(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp(253_402_300_799.999).iso8601(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Timestamp(-62_135_596_800.0).iso8601(), "0001-01-01T00:00:00.000Z");
        assert_eq!(Timestamp(-62_198_755_200.0).iso8601(), "-001-01-01T00:00:00.000Z");
    }

    #[test]
    fn blob_round_trips_through_base64() {
        let v = serde_json::to_value(Blob(b"hi\0".to_vec())).unwrap();
        assert_eq!(v, serde_json::json!("aGkA"));
        assert_eq!(serde_json::from_value::<Blob>(v).unwrap(), Blob(b"hi\0".to_vec()));
    }

    #[test]
    fn timestamp_keeps_milliseconds() {
        let t = Timestamp(1_700_000_000.123);
        assert_eq!(t.to_offset_datetime().millisecond(), 123);
    }
}
