//! Score calibration: each detector's raw score is mapped to `[0, 1]` by the empirical distribution
//! of its training scores, so that scores of different detectors are comparable and can be averaged.
//!
//! # The table
//!
//! The training scores are sorted; with `n <= 1024` scores every one is kept, otherwise 1024
//! quantiles `q_i = sorted[round(i (n - 1) / 1023)]`, `i = 0 .. 1023` (the smallest and the largest
//! training scores always included). With `K` stored values `q_0 <= .. <= q_{K-1}`:
//!
//! # The mapping
//!
//! `F(x) = 0` for `x < q_0`, `F(x) = 1` for `x >= q_{K-1}`, and otherwise, with `i` the number of
//! stored values `<= x` (so `q_{i-1} <= x < q_i`),
//! `F(x) = ((i - 1) + (x - q_{i-1}) / (q_i - q_{i-1})) / (K - 1)`: the rank of `x` among the stored
//! quantiles, linearly interpolated, as a fraction. On training data `F` is about uniform on
//! `[0, 1]` (`F(score) ~ the fraction of training scores below it`); a value equal to a run of tied
//! quantiles maps to the top of the run. `F` is non-decreasing, so it keeps each detector's ranking,
//! and a NaN maps to 0. With `K = 1`, `F(x)` is 0 below the one value and 1 from it on.

use serde::{Deserialize, Serialize};

/// Most quantiles a calibration table keeps.
pub const MAX_QUANTILES: usize = 1024;

/// The calibration table of one detector (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    quantiles: Vec<f64>,
}

impl Calibration {
    /// The table for these training scores (at least one; NaN is refused by the caller, infinities
    /// are kept).
    pub fn fit(scores: &[f64]) -> Self {
        let mut sorted = scores.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let quantiles = if n <= MAX_QUANTILES {
            sorted
        } else {
            let last = (MAX_QUANTILES - 1) as f64;
            (0..MAX_QUANTILES)
                .map(|i| sorted[((i as f64) * (n - 1) as f64 / last).round() as usize])
                .collect()
        };
        Calibration { quantiles }
    }

    /// Rebuild from stored quantiles, checking them: 1 to [`MAX_QUANTILES`] values, none NaN,
    /// sorted ascending.
    pub fn from_quantiles(quantiles: Vec<f64>) -> Result<Self, String> {
        if quantiles.is_empty() || quantiles.len() > MAX_QUANTILES {
            return Err(format!(
                "{} calibration quantiles: expected 1 to {MAX_QUANTILES}",
                quantiles.len()
            ));
        }
        if quantiles.iter().any(|q| q.is_nan()) {
            return Err("a calibration quantile is NaN".into());
        }
        if quantiles.windows(2).any(|w| w[0] > w[1]) {
            return Err("calibration quantiles are not sorted".into());
        }
        Ok(Calibration { quantiles })
    }

    /// The stored quantiles, ascending.
    pub fn quantiles(&self) -> &[f64] {
        &self.quantiles
    }

    /// The calibrated value `F(x)` in `[0, 1]`.
    #[inline]
    pub fn apply(&self, x: f64) -> f64 {
        let q = &self.quantiles;
        let i = q.partition_point(|&v| v <= x);
        if i == 0 {
            return 0.0;
        }
        if i == q.len() {
            return 1.0;
        }
        let (lo, hi) = (q[i - 1], q[i]);
        let frac = if hi.is_finite() && lo.is_finite() {
            ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        (((i - 1) as f64 + frac) / (q.len() - 1) as f64).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tables_keep_every_score() {
        let c = Calibration::fit(&[3.0, 1.0, 2.0, 4.0, 5.0]);
        assert_eq!(c.quantiles(), &[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(c.apply(0.5), 0.0);
        assert_eq!(c.apply(1.0), 0.0);
        assert_eq!(c.apply(3.0), 0.5);
        assert_eq!(c.apply(3.5), 0.625);
        assert_eq!(c.apply(5.0), 1.0);
        assert_eq!(c.apply(50.0), 1.0);
        assert_eq!(c.apply(f64::INFINITY), 1.0);
        assert_eq!(c.apply(f64::NAN), 0.0);
    }

    #[test]
    fn ties_map_to_the_top_of_the_run() {
        let c = Calibration::fit(&[0.0, 0.0, 0.0, 1.0, 2.0]);
        assert_eq!(c.apply(0.0), 0.5);
        assert_eq!(c.apply(-1e-9), 0.0);
        assert_eq!(c.apply(1.5), 0.875);
        let one = Calibration::fit(&[7.0]);
        assert_eq!((one.apply(6.9), one.apply(7.0)), (0.0, 1.0));
    }

    #[test]
    fn large_tables_are_about_uniform_and_monotone() {
        let scores: Vec<f64> = (0..100_000)
            .map(|i| ((i * 7919) % 100_000) as f64)
            .collect();
        let c = Calibration::fit(&scores);
        assert_eq!(c.quantiles().len(), MAX_QUANTILES);
        assert_eq!(c.quantiles()[0], 0.0);
        assert_eq!(c.quantiles()[MAX_QUANTILES - 1], 99_999.0);
        let mut prev = 0.0;
        for i in 0..1000 {
            let x = i as f64 * 100.0;
            let f = c.apply(x);
            assert!(f >= prev && (0.0..=1.0).contains(&f));
            assert!((f - x / 99_999.0).abs() < 2e-3, "{x} {f}");
            prev = f;
        }
        assert!(Calibration::from_quantiles(vec![2.0, 1.0]).is_err());
        assert!(Calibration::from_quantiles(vec![]).is_err());
        assert!(Calibration::from_quantiles(vec![f64::NAN]).is_err());
        assert_eq!(
            Calibration::from_quantiles(c.quantiles().to_vec()).unwrap(),
            c
        );
    }
}
