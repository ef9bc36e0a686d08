//! Capacity units, as DynamoDB meters them and reports them with ReturnConsumedCapacity:
//! writes by the kilobyte, reads by four kilobytes (half for eventually consistent
//! reads), and index writes only when the write changes what the index holds.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

/// Capacity units of a write of `size` bytes: one per started KB.
pub fn write_units(size: usize) -> f64 {
    size.div_ceil(1024).max(1) as f64
}

/// Capacity units of a read of `size` bytes: one per started 4 KB, half when eventually
/// consistent.
pub fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// The units one request consumed on one table and on each of its indexes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consumed {
    pub table: f64,
    pub gsis: BTreeMap<String, f64>,
    pub lsis: BTreeMap<String, f64>,
}

impl Consumed {
    pub fn table(units: f64) -> Consumed {
        Consumed { table: units, ..Consumed::default() }
    }

    pub fn add(&mut self, other: &Consumed) {
        self.table += other.table;
        for (arms, more) in [(&mut self.gsis, &other.gsis), (&mut self.lsis, &other.lsis)] {
            for (name, units) in more {
                *arms.entry(name.clone()).or_default() += units;
            }
        }
    }

    /// Every arm multiplied (transactions cost twice).
    pub fn scaled(mut self, factor: f64) -> Consumed {
        self.table *= factor;
        self.gsis.values_mut().chain(self.lsis.values_mut()).for_each(|u| *u *= factor);
        self
    }

    pub fn total(&self) -> f64 {
        self.table + self.gsis.values().sum::<f64>() + self.lsis.values().sum::<f64>()
    }

    /// The ConsumedCapacity member for `ReturnConsumedCapacity` `mode` (nothing for NONE);
    /// INDEXES lists only the arms the request touched.
    pub fn report(&self, mode: Option<&str>, table: &str) -> Option<Json> {
        let mut out = match mode {
            Some("TOTAL" | "INDEXES") => json!({"TableName": table, "CapacityUnits": self.total()}),
            _ => return None,
        };
        if mode == Some("INDEXES") {
            let arms = |m: &BTreeMap<String, f64>| -> Json {
                m.iter()
                    .map(|(k, v)| (k.clone(), json!({"CapacityUnits": v})))
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            };
            if self.table > 0.0 || (self.gsis.is_empty() && self.lsis.is_empty()) {
                out["Table"] = json!({"CapacityUnits": self.table});
            }
            if !self.gsis.is_empty() {
                out["GlobalSecondaryIndexes"] = arms(&self.gsis);
            }
            if !self.lsis.is_empty() {
                out["LocalSecondaryIndexes"] = arms(&self.lsis);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_up() {
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(100, false), 0.5);
    }

    #[test]
    fn reports_list_the_touched_arms() {
        let mut c = Consumed::table(1.0);
        c.add(&Consumed { table: 0.0, gsis: [("g".to_string(), 2.0)].into(), lsis: BTreeMap::new() });
        assert_eq!(c.report(Some("TOTAL"), "t"), Some(json!({"TableName": "t", "CapacityUnits": 3.0})));
        assert_eq!(
            c.report(Some("INDEXES"), "t"),
            Some(json!({"TableName": "t", "CapacityUnits": 3.0, "Table": {"CapacityUnits": 1.0},
                        "GlobalSecondaryIndexes": {"g": {"CapacityUnits": 2.0}}}))
        );
        assert_eq!(c.clone().scaled(2.0).total(), 6.0);
        assert_eq!(c.report(Some("NONE"), "t"), None);
    }
}
