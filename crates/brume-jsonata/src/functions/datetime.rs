//! Date and time: `$now` and `$millis` (one instant per evaluation), `$fromMillis` with
//! ISO 8601 or an XPath picture (`[Y0001]-[M01]-[D01]`, names, 12-hour clock, time zones),
//! `$toMillis` from ISO 8601 or with such a picture.

use time::{Date, Month, OffsetDateTime, UtcOffset};

use super::{Args, num_arg, str_arg};
use crate::Error;
use crate::errors::{Arg, error, error_message};
use crate::eval::Evaluator;
use crate::value::Value;

type Res = Result<Option<Value>, Error>;

pub(super) fn now(ev: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    format(ev.now_millis, str_arg(args, 0), str_arg(args, 1)).map(|s| Some(Value::string(&s)))
}

pub(super) fn millis(ev: &mut Evaluator, _: Args<'_>, _: Option<&Value>) -> Res {
    Ok(Some(Value::Number(ev.now_millis as f64)))
}

pub(super) fn from_millis(_: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(ms) = num_arg(args, 0) else { return Ok(None) };
    format(ms.floor() as i64, str_arg(args, 1), str_arg(args, 2)).map(|s| Some(Value::string(&s)))
}

pub(super) fn to_millis(ev: &mut Evaluator, args: Args<'_>, _: Option<&Value>) -> Res {
    let Some(s) = str_arg(args, 0) else { return Ok(None) };
    if let Some(picture) = str_arg(args, 1) {
        return Ok(parse_picture(s, picture, ev.now_millis)?.map(|ms| Value::Number(ms as f64)));
    }
    match parse_iso(s) {
        Some(ms) => Ok(Some(Value::Number(ms as f64))),
        None => Err(error("D3110", 0, &[("value", Arg::Text(s))])),
    }
}

/// The fields a picture reads from a timestamp.
#[derive(Default)]
struct Fields {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    ordinal_day: Option<i64>,
    hour: Option<i64>,
    pm: Option<bool>,
    minute: i64,
    second: i64,
    millis: i64,
    offset_minutes: i64,
}

/// A timestamp read with an XPath picture (`[D01]/[M01]/[Y0001] [H01]:[m01]`); undefined
/// when it does not match. Missing fields are the current year, January, the first, midnight.
fn parse_picture(s: &str, picture: &str, now_millis: i64) -> Result<Option<i64>, Error> {
    let text: Vec<char> = s.chars().collect();
    let pic: Vec<char> = picture.chars().collect();
    let mut fields = Fields::default();
    let (mut i, mut p) = (0, 0);
    while p < pic.len() {
        let c = pic[p];
        let escaped = (c == '[' || c == ']') && pic.get(p + 1) == Some(&c);
        if c != '[' || escaped {
            if text.get(i) != Some(&c) {
                return Ok(None);
            }
            i += 1;
            p += if escaped { 2 } else { 1 };
            continue;
        }
        let Some(len) = pic[p..].iter().position(|&c| c == ']') else {
            return Err(error("D3135", 0, &[]));
        };
        let marker: String = pic[p + 1..p + len].iter().filter(|c| !c.is_whitespace()).collect();
        p += len + 1;
        let next_is_component = pic.get(p) == Some(&'[') && pic.get(p + 1) != Some(&'[');
        let mut chars = marker.chars();
        let Some(spec) = chars.next() else { continue };
        let presentation: String = chars.take_while(|&c| c != ',').collect();
        let width = presentation.chars().filter(char::is_ascii_digit).count();
        let digits = |i: &mut usize| -> Option<i64> {
            let max = if next_is_component || width > 1 { width.max(1) } else { usize::MAX };
            let start = *i;
            while *i < text.len() && *i - start < max && text[*i].is_ascii_digit() {
                *i += 1;
            }
            text[start..*i].iter().collect::<String>().parse().ok()
        };
        let letters = |i: &mut usize| -> String {
            let start = *i;
            while *i < text.len() && text[*i].is_alphabetic() {
                *i += 1;
            }
            text[start..*i].iter().collect::<String>().to_lowercase()
        };
        match spec {
            'Y' => {
                let Some(y) = digits(&mut i) else { return Ok(None) };
                fields.year = Some(if width == 2 { 2000 + y } else { y });
            }
            'M' if presentation.starts_with(['N', 'n']) => {
                let word = letters(&mut i);
                let found = MONTHS.iter().position(|m| {
                    let m = m.to_lowercase();
                    word.len() >= 3 && m.starts_with(&word)
                });
                let Some(m) = found else { return Ok(None) };
                fields.month = Some(m as i64 + 1);
            }
            'M' | 'D' | 'd' | 'H' | 'h' | 'm' | 's' => {
                let Some(v) = digits(&mut i) else { return Ok(None) };
                match spec {
                    'M' => fields.month = Some(v),
                    'D' => fields.day = Some(v),
                    'd' => fields.ordinal_day = Some(v),
                    'H' | 'h' => fields.hour = Some(v),
                    'm' => fields.minute = v,
                    _ => fields.second = v,
                }
            }
            'F' if presentation.starts_with(['N', 'n']) => {
                letters(&mut i);
            }
            'F' | 'W' => {
                digits(&mut i);
            }
            'P' => {
                let word = letters(&mut i);
                fields.pm = match word.as_str() {
                    "am" => Some(false),
                    "pm" => Some(true),
                    _ => return Ok(None),
                };
            }
            'f' => {
                let start = i;
                while i < text.len() && text[i].is_ascii_digit() {
                    i += 1;
                }
                let frac: String = text[start..i].iter().take(3).collect();
                let Ok(ms) = format!("{frac:0<3}").parse() else { return Ok(None) };
                fields.millis = ms;
            }
            'Z' | 'z' => {
                if spec == 'z' {
                    if text[i..].starts_with(&['G', 'M', 'T']) {
                        i += 3;
                    } else {
                        return Ok(None);
                    }
                }
                if text.get(i) == Some(&'Z') {
                    i += 1;
                } else {
                    let sign = match text.get(i) {
                        Some('+') => 1,
                        Some('-') => -1,
                        _ => return Ok(None),
                    };
                    i += 1;
                    let rest: String = text[i..].iter().take_while(|c| c.is_ascii_digit() || **c == ':').collect();
                    i += rest.chars().count();
                    let d: String = rest.chars().filter(char::is_ascii_digit).collect();
                    let (h, m) = match d.len() {
                        1 | 2 => (d.parse::<i64>().unwrap_or(0), 0),
                        4 => (d[..2].parse::<i64>().unwrap_or(0), d[2..].parse::<i64>().unwrap_or(0)),
                        _ => return Ok(None),
                    };
                    fields.offset_minutes = sign * (h * 60 + m);
                }
            }
            other => return Err(error("D3132", 0, &[("value", Arg::Text(&other.to_string()))])),
        }
    }
    if i != text.len() {
        return Ok(None);
    }
    Ok(fields.millis(now_millis))
}

impl Fields {
    fn millis(&self, now_millis: i64) -> Option<i64> {
        let year = match self.year {
            Some(y) => y,
            None => OffsetDateTime::from_unix_timestamp(now_millis.div_euclid(1000)).ok()?.year() as i64,
        };
        let date = match self.ordinal_day {
            Some(d) => Date::from_ordinal_date(year as i32, u16::try_from(d).ok()?).ok()?,
            None => {
                let month = Month::try_from(u8::try_from(self.month.unwrap_or(1)).ok()?).ok()?;
                Date::from_calendar_date(year as i32, month, u8::try_from(self.day.unwrap_or(1)).ok()?).ok()?
            }
        };
        let mut hour = self.hour.unwrap_or(0);
        match self.pm {
            Some(true) if hour < 12 => hour += 12,
            Some(false) if hour == 12 => hour = 0,
            _ => {}
        }
        if !(0..24).contains(&hour) || !(0..60).contains(&self.minute) || !(0..60).contains(&self.second) {
            return None;
        }
        let days =
            (date.to_julian_day() - Date::from_calendar_date(1970, Month::January, 1).ok()?.to_julian_day()) as i64;
        Some((((days * 24 + hour) * 60 + self.minute - self.offset_minutes) * 60 + self.second) * 1000 + self.millis)
    }
}

/// An ISO 8601 timestamp as jsonata accepts it: `2024-01-02`, `2024-01-02T03:04:05.678Z`,
/// with `+01:00` / `+0100` offsets (none means UTC).
fn parse_iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok()).flatten()
    };
    let year = num(0, 4)?;
    let mut i = 4;
    let (mut month, mut day) = (1, 1);
    if b.get(i) == Some(&b'-') {
        month = num(i + 1, 2)?;
        i += 3;
        if b.get(i) == Some(&b'-') {
            day = num(i + 1, 2)?;
            i += 3;
        }
    }
    let (mut h, mut m, mut sec, mut ms) = (0, 0, 0, 0);
    if b.get(i) == Some(&b'T') {
        h = num(i + 1, 2)?;
        (b.get(i + 3) == Some(&b':')).then_some(())?;
        m = num(i + 4, 2)?;
        (b.get(i + 6) == Some(&b':')).then_some(())?;
        sec = num(i + 7, 2)?;
        i += 9;
        if b.get(i) == Some(&b'.') {
            let digits = s[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let frac = &s[i + 1..i + 1 + digits];
            ms = format!("{:0<3}", &frac[..digits.min(3)]).parse().ok()?;
            i += 1 + digits;
        }
    }
    let mut offset = 0;
    match b.get(i) {
        None => {}
        Some(b'Z') => i += 1,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(i + 1, 2)?;
            let colon = usize::from(b.get(i + 3) == Some(&b':'));
            let om = num(i + 3 + colon, 2)?;
            offset = (oh * 60 + om) * if sign == b'-' { -1 } else { 1 };
            i += 5 + colon;
        }
        _ => return None,
    }
    if i != s.len() || h > 24 || m > 59 || sec > 59 {
        return None;
    }
    let date = Date::from_calendar_date(year as i32, Month::try_from(month as u8).ok()?, day as u8).ok()?;
    let days = (date.to_julian_day() - Date::from_calendar_date(1970, Month::January, 1).ok()?.to_julian_day()) as i64;
    Some((((days * 24 + h) * 60 + m - offset) * 60 + sec) * 1000 + ms)
}

/// `±HHMM` (or `±HH:MM`) as an offset.
fn parse_offset(tz: &str) -> Option<UtcOffset> {
    let sign = match tz.chars().next()? {
        '-' => -1,
        '+' => 1,
        _ => return None,
    };
    let digits: String = tz[1..].chars().filter(char::is_ascii_digit).collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i8>().ok()?, 0),
        4 => (digits[..2].parse::<i8>().ok()?, digits[2..].parse::<i8>().ok()?),
        _ => return None,
    };
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

fn format(ms: i64, picture: Option<&str>, tz: Option<&str>) -> Result<String, Error> {
    let utc = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .map_err(|e| error_message("D3137", 0, &e.to_string()))?;
    let Some(picture) = picture else {
        return Ok(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            utc.year(),
            utc.month() as u8,
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second(),
            utc.millisecond()
        ));
    };
    let offset = tz.and_then(parse_offset).unwrap_or(UtcOffset::UTC);
    let t = utc.to_offset(offset);
    let chars: Vec<char> = picture.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '[' && chars.get(i + 1) == Some(&'[') {
            out.push('[');
            i += 2;
            continue;
        }
        if c == ']' && chars.get(i + 1) == Some(&']') {
            out.push(']');
            i += 2;
            continue;
        }
        if c != '[' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(len) = chars[i..].iter().position(|&c| c == ']') else {
            return Err(error("D3135", 0, &[]));
        };
        let marker: String = chars[i + 1..i + len].iter().filter(|c| !c.is_whitespace()).collect();
        out.push_str(&component(&t, &marker, offset)?);
        i += len + 1;
    }
    Ok(out)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// One `[...]` component of a picture: its specifier letter and presentation.
fn component(t: &OffsetDateTime, marker: &str, offset: UtcOffset) -> Result<String, Error> {
    let mut chars = marker.chars();
    let Some(spec) = chars.next() else { return Ok(String::new()) };
    let rest: String = chars.collect();
    let (presentation, width) = match rest.split_once(',') {
        Some((p, w)) => (p.to_owned(), Some(w.to_owned())),
        None => (rest, None),
    };
    let name = |full: &str| -> String {
        let max = width.as_ref().and_then(|w| w.split('-').next_back()?.parse::<usize>().ok());
        let s: String = match max {
            Some(n) => full.chars().take(n).collect(),
            None => full.to_owned(),
        };
        match presentation.as_str() {
            "N" => s.to_uppercase(),
            "n" => s.to_lowercase(),
            _ => s,
        }
    };
    let number = |n: i64, default_digits: usize| -> String {
        let digits = presentation.chars().filter(|c| c.is_ascii_digit() || *c == '#').count();
        let min = if digits == 0 { default_digits } else { presentation.chars().filter(char::is_ascii_digit).count() };
        let s = format!("{:0min$}", n.abs());
        if n < 0 { format!("-{s}") } else { s }
    };
    Ok(match spec {
        'Y' => {
            let y = t.year() as i64;
            if presentation.chars().filter(char::is_ascii_digit).count() == 2 {
                format!("{:02}", y % 100)
            } else {
                number(y, 1)
            }
        }
        'M' if presentation.starts_with(['N', 'n']) => name(MONTHS[t.month() as usize - 1]),
        'M' => number(t.month() as i64, 1),
        'D' => number(t.day() as i64, 1),
        'd' => number(t.ordinal() as i64, 1),
        'F' if presentation.starts_with('1') => number(t.weekday().number_from_monday() as i64, 1),
        'F' => name(DAYS[t.weekday().number_days_from_monday() as usize]),
        'W' => number(t.iso_week() as i64, 1),
        'H' => number(t.hour() as i64, 1),
        'h' => number(((t.hour() as i64 + 11) % 12) + 1, 1),
        'P' => {
            let p = if t.hour() < 12 { "am" } else { "pm" };
            if presentation == "N" { p.to_uppercase() } else { p.to_owned() }
        }
        'm' => number(t.minute() as i64, 2),
        's' => number(t.second() as i64, 2),
        'f' => {
            let digits = presentation.chars().filter(char::is_ascii_digit).count().max(1);
            let ms = format!("{:03}", t.millisecond());
            format!("{ms:0<digits$}")[..digits].to_owned()
        }
        'Z' | 'z' => {
            let total = offset.whole_minutes();
            if spec == 'Z' && presentation == "Z" && total == 0 {
                return Ok("Z".into());
            }
            let sign = if total < 0 { '-' } else { '+' };
            let (h, m) = (total.abs() / 60, total.abs() % 60);
            let body = if presentation.contains(':') || presentation.is_empty() {
                format!("{sign}{h:02}:{m:02}")
            } else if presentation.trim_end_matches('t').len() <= 2 {
                if m == 0 { format!("{sign}{h:02}") } else { format!("{sign}{h:02}:{m:02}") }
            } else {
                format!("{sign}{h:02}{m:02}")
            };
            if presentation.ends_with('t') && total == 0 {
                "Z".into()
            } else if spec == 'z' {
                format!("GMT{body}")
            } else {
                body
            }
        }
        other => return Err(error("D3132", 0, &[("value", Arg::Text(&other.to_string()))])),
    })
}
