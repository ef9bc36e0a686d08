//! Timestamps on the wire: ISO 8601 (XML, query), HTTP dates (headers) and epoch seconds
//! (JSON, CBOR), converted to and from the canonical [`Timestamp`].

use brume_core::value::Timestamp;
use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc2822, Rfc3339};

/// The formats a model may name with `timestampFormat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Iso8601,
    Rfc822,
    UnixTimestamp,
}

impl Format {
    /// The format named by a model trait, or `default` when none is named.
    pub fn from_trait(name: Option<&str>, default: Format) -> Format {
        match name {
            Some("iso8601") => Format::Iso8601,
            Some("rfc822") => Format::Rfc822,
            Some("unixTimestamp") => Format::UnixTimestamp,
            _ => default,
        }
    }
}

/// `Wed, 31 Jan 2024 12:00:00 GMT`, the HTTP date of RFC 7231.
pub fn http_date(ts: Timestamp) -> String {
    let t = ts.to_offset_datetime();
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let day = DAYS[t.weekday().number_days_from_monday() as usize];
    let month = MONTHS[t.month() as usize - 1];
    let Ok(year) = u32::try_from(t.year()) else {
        // Before year 0: rare enough for `format!`'s signed padding.
        return format!(
            "{day}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
            t.day(),
            t.year(),
            t.hour(),
            t.minute(),
            t.second()
        );
    };
    let mut out = String::with_capacity(29);
    out.push_str(day);
    out.push_str(", ");
    brume_core::push_zero_padded(&mut out, t.day().into(), 2);
    out.push(' ');
    out.push_str(month);
    out.push(' ');
    brume_core::push_zero_padded(&mut out, year, 4);
    for (separator, value) in [(' ', t.hour()), (':', t.minute()), (':', t.second())] {
        out.push(separator);
        brume_core::push_zero_padded(&mut out, value.into(), 2);
    }
    out.push_str(" GMT");
    out
}

/// The timestamp written as text in `format` (JSON writes epoch seconds as a number; this
/// is the text form used in XML, query strings and headers).
pub fn to_text(ts: Timestamp, format: Format) -> String {
    match format {
        Format::Iso8601 => ts.iso8601(),
        Format::Rfc822 => http_date(ts),
        Format::UnixTimestamp => epoch_text(ts),
    }
}

fn epoch_text(ts: Timestamp) -> String {
    if ts.0.fract() == 0.0 { format!("{}", ts.0 as i64) } else { format!("{:.3}", ts.0) }
}

/// Reads a timestamp in any of the forms clients send: ISO 8601 / RFC 3339, an HTTP date,
/// or epoch seconds.
pub fn parse(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return secs.is_finite().then_some(Timestamp(secs));
    }
    let parsed = OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(text, &Iso8601::DEFAULT))
        .or_else(|_| OffsetDateTime::parse(text, &Rfc2822))
        .ok()
        .or_else(|| parse_http_date(text))?;
    Some(Timestamp(parsed.unix_timestamp_nanos() as f64 / 1e9))
}

/// RFC 7231's `Sun, 06 Nov 1994 08:49:37 GMT`, which RFC 2822 parsing rejects for `GMT`.
fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    let replaced = text.strip_suffix(" GMT").map(|t| format!("{t} +0000"))?;
    OffsetDateTime::parse(&replaced, &Rfc2822).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, secs: f64) {
        assert_eq!(parse(text), Some(Timestamp(secs)), "{text}");
    }

    #[test]
    fn parses_every_wire_form() {
        check("2024-01-31T12:00:00Z", 1_706_702_400.0);
        check("2024-01-31T12:00:00.500Z", 1_706_702_400.5);
        check("2024-01-31T13:00:00+01:00", 1_706_702_400.0);
        check("Wed, 31 Jan 2024 12:00:00 GMT", 1_706_702_400.0);
        check("1706702400", 1_706_702_400.0);
        check("1706702400.25", 1_706_702_400.25);
        assert_eq!(parse("yesterday"), None);
    }

    #[test]
    fn writes_each_format() {
        let ts = Timestamp(1_706_702_400.5);
        assert_eq!(ts.iso8601(), "2024-01-31T12:00:00.500Z");
        assert_eq!(http_date(ts), "Wed, 31 Jan 2024 12:00:00 GMT");
        assert_eq!(http_date(Timestamp(-62_198_755_200.0)), "Fri, 01 Jan -001 00:00:00 GMT");
        assert_eq!(http_date(Timestamp(-61_000_000_000.0)), "Fri, 26 Dec 0036 11:33:20 GMT");
        assert_eq!(to_text(Timestamp(1_706_702_400.0), Format::UnixTimestamp), "1706702400");
    }
}
