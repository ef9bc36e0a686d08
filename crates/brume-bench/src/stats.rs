//! Order statistics of a sample.

use std::time::Duration;

/// A sorted sample of durations.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut sample: Vec<Duration>) -> Latencies {
        sample.sort_unstable();
        Latencies(sample)
    }

    /// The `p`-th percentile (nearest rank), zero for an empty sample.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    pub fn median(&self) -> Duration {
        self.percentile(50.0)
    }

    pub fn count(&self) -> usize {
        self.0.len()
    }

    pub fn min(&self) -> Duration {
        self.0.first().copied().unwrap_or_default()
    }

    /// One sample of all of `parts`.
    pub fn merged(parts: impl IntoIterator<Item = Latencies>) -> Latencies {
        Latencies::new(parts.into_iter().flat_map(|l| l.0).collect())
    }
}

/// The median of a sample of rates (the lower middle one of an even count), zero if empty.
pub fn median(mut sample: Vec<f64>) -> f64 {
    sample.sort_unstable_by(f64::total_cmp);
    sample.get(sample.len().saturating_sub(1) / 2).copied().unwrap_or_default()
}
