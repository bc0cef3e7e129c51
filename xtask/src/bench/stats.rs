//! Percentiles of samples, as the benchmark table reports them.

/// Samples in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    /// Linear interpolation between closest ranks (numpy's default).
    pub fn pct(&self, p: f64) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let k = (sorted.len() - 1) as f64 * p / 100.0;
        let (lo, hi) = (
            k.floor() as usize,
            (k.ceil() as usize).min(sorted.len() - 1),
        );
        Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (k - lo as f64))
    }

    pub fn max(&self) -> Option<f64> {
        self.0.iter().copied().reduce(f64::max)
    }

    /// `p50 / p90 / max` in ms, or `n/a`.
    pub fn summary(&self) -> String {
        match (self.pct(50.0), self.pct(90.0), self.max()) {
            (Some(a), Some(b), Some(c)) => format!("{a:.1} / {b:.1} / {c:.1} ms"),
            _ => "n/a".into(),
        }
    }

    /// `p50 ms`, or `n/a`.
    pub fn median(&self) -> String {
        self.pct(50.0)
            .map_or_else(|| "n/a".into(), |v| format!("{v:.1} ms"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate() {
        let s = Samples(vec![4.0, 1.0, 3.0, 2.0]);
        assert_eq!(s.pct(50.0), Some(2.5));
        assert_eq!(s.pct(0.0), Some(1.0));
        assert_eq!(s.pct(100.0), Some(4.0));
        assert_eq!(s.max(), Some(4.0));
        assert_eq!(Samples::default().summary(), "n/a");
    }
}
