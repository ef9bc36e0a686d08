//! The results: one row per figure, each with the reference it is compared to and the
//! ratio, printed as a plain-text table or as JSON.

use serde::Serialize;

/// What a figure should reach, from DESIGN.md's speed goals.
#[derive(Clone, Copy)]
pub enum Goal {
    /// The value itself must stay below this (in the row's unit).
    Below(f64),
    /// The value itself must reach this (in the row's unit).
    Above(f64),
    /// value / reference must be at least this.
    RatioAtLeast(f64),
    /// value / reference must be at most this.
    RatioAtMost(f64),
    /// Reported for context only.
    None,
}

#[derive(Serialize)]
pub struct Row {
    pub figure: String,
    pub value: f64,
    pub unit: &'static str,
    /// Further statistics of the same measurement (min, percentiles).
    pub detail: String,
    pub reference: String,
    pub reference_value: f64,
    /// value / reference_value.
    pub ratio: f64,
    pub target: String,
    pub met: Option<bool>,
}

impl Row {
    pub fn new(
        figure: impl Into<String>,
        (value, unit): (f64, &'static str),
        detail: impl Into<String>,
        (reference, reference_value): (impl Into<String>, f64),
        goal: Goal,
    ) -> Row {
        let ratio = value / reference_value;
        let (target, met) = match goal {
            Goal::Below(limit) => (format!("< {limit} {unit}"), Some(value < limit)),
            Goal::Above(limit) => (format!(">= {limit} {unit}"), Some(value >= limit)),
            Goal::RatioAtLeast(r) => (format!(">= {r:.2}x ref"), Some(ratio >= r)),
            Goal::RatioAtMost(r) => (format!("<= {r:.2}x ref"), Some(ratio <= r)),
            Goal::None => ("-".to_string(), None),
        };
        Row {
            figure: figure.into(),
            value,
            unit,
            detail: detail.into(),
            reference: reference.into(),
            reference_value,
            ratio,
            target,
            met,
        }
    }
}

#[derive(Serialize, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    /// How the figures were obtained (data set shapes, run counts, environment).
    pub notes: Vec<String>,
}

impl Report {
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    pub fn table(&self) -> String {
        let header = ["figure", "value", "detail", "reference", "ratio", "target", "met"];
        let cells: Vec<[String; 7]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.figure.clone(),
                    format!("{} {}", num(r.value), r.unit),
                    r.detail.clone(),
                    format!("{} {} ({})", num(r.reference_value), r.unit, r.reference),
                    format!("{:.2}x", r.ratio),
                    r.target.clone(),
                    match r.met {
                        Some(true) => "yes",
                        Some(false) => "NO",
                        None => "",
                    }
                    .to_string(),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |row: &[String]| {
            let padded: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
            out.push_str(padded.join(" | ").trim_end());
            out.push('\n');
        };
        line(&header.map(String::from));
        line(&widths.map(|w| "-".repeat(w)));
        for row in &cells {
            line(row);
        }
        for note in &self.notes {
            out.push_str(&format!("\n- {note}"));
        }
        out.push('\n');
        out
    }
}

/// A number with as many decimals as are meaningful at its size.
pub fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
