//! Hyper-parameters of the isolation forest, with scikit-learn's meaning and validation.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Number of rows drawn to build each tree (scikit-learn's `max_samples`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MaxSamples {
    /// `min(256, n_samples)`.
    Auto,
    /// An absolute count; capped at `n_samples` (as scikit-learn does, after a warning there).
    Count(usize),
    /// A fraction of `n_samples` in `(0, 1]`: `floor(fraction * n_samples)`, at least 1.
    Fraction(f64),
}

/// How the decision threshold `offset_` is set (scikit-learn's `contamination`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Contamination {
    /// `offset_ = -0.5`, as in the original paper.
    Auto,
    /// Expected fraction of outliers in `(0, 0.5]`: `offset_` is that percentile of the training scores.
    Fraction(f64),
}

/// Number of features drawn (without replacement) for each tree (scikit-learn's `max_features`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MaxFeatures {
    /// An absolute count in `[1, n_features]`.
    Count(usize),
    /// A fraction in `(0, 1]`: `max(1, floor(fraction * n_features))`.
    Fraction(f64),
}

/// All hyper-parameters of [`super::IsolationForest`].
///
/// ```
/// use fraud_core::detectors::iforest::{IsolationForestParams, MaxSamples};
/// let p = IsolationForestParams::default().n_estimators(50).max_samples(MaxSamples::Count(128)).random_state(7);
/// assert!(p.validate().is_ok());
/// assert!(IsolationForestParams::default().n_estimators(0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForestParams {
    /// Number of trees (default 100).
    pub n_estimators: usize,
    /// Rows per tree (default [`MaxSamples::Auto`]).
    pub max_samples: MaxSamples,
    /// Threshold rule (default [`Contamination::Auto`]).
    pub contamination: Contamination,
    /// Features per tree (default all: `Fraction(1.0)`).
    pub max_features: MaxFeatures,
    /// Draw rows with replacement (default false).
    pub bootstrap: bool,
    /// Seed; `None` draws one from the operating system at fit time (and records it in the model).
    pub random_state: Option<u64>,
    /// Threads: `None` or 1 = the calling thread, -1 = every core, k > 1 = k threads. Results never
    /// depend on it.
    pub n_jobs: Option<i64>,
    /// When fitting a fitted forest: keep its trees and grow new ones up to `n_estimators`.
    pub warm_start: bool,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        IsolationForestParams {
            n_estimators: 100,
            max_samples: MaxSamples::Auto,
            contamination: Contamination::Auto,
            max_features: MaxFeatures::Fraction(1.0),
            bootstrap: false,
            random_state: None,
            n_jobs: None,
            warm_start: false,
        }
    }
}

impl IsolationForestParams {
    /// Set `n_estimators`.
    pub fn n_estimators(mut self, n: usize) -> Self {
        self.n_estimators = n;
        self
    }
    /// Set `max_samples`.
    pub fn max_samples(mut self, m: MaxSamples) -> Self {
        self.max_samples = m;
        self
    }
    /// Set `contamination`.
    pub fn contamination(mut self, c: Contamination) -> Self {
        self.contamination = c;
        self
    }
    /// Set `max_features`.
    pub fn max_features(mut self, m: MaxFeatures) -> Self {
        self.max_features = m;
        self
    }
    /// Set `bootstrap`.
    pub fn bootstrap(mut self, b: bool) -> Self {
        self.bootstrap = b;
        self
    }
    /// Set `random_state`.
    pub fn random_state(mut self, seed: u64) -> Self {
        self.random_state = Some(seed);
        self
    }
    /// Set `n_jobs`.
    pub fn n_jobs(mut self, n: i64) -> Self {
        self.n_jobs = Some(n);
        self
    }
    /// Set `warm_start`.
    pub fn warm_start(mut self, w: bool) -> Self {
        self.warm_start = w;
        self
    }

    /// Check every value that can be checked without data.
    pub fn validate(&self) -> Result<()> {
        if self.n_estimators == 0 {
            return Err(Error::param("n_estimators", 0, "an integer >= 1"));
        }
        if self.n_estimators > 1_000_000 {
            return Err(Error::param(
                "n_estimators",
                self.n_estimators,
                "an integer <= 1000000",
            ));
        }
        match self.max_samples {
            MaxSamples::Count(0) => {
                return Err(Error::param(
                    "max_samples",
                    0,
                    "an integer >= 1, a float in (0, 1] or \"auto\"",
                ));
            }
            MaxSamples::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(Error::param(
                    "max_samples",
                    f,
                    "an integer >= 1, a float in (0, 1] or \"auto\"",
                ));
            }
            _ => {}
        }
        if let Contamination::Fraction(c) = self.contamination
            && !(c > 0.0 && c <= 0.5)
        {
            {
                return Err(Error::param(
                    "contamination",
                    c,
                    "\"auto\" or a float in (0, 0.5]",
                ));
            }
        }
        match self.max_features {
            MaxFeatures::Count(0) => {
                return Err(Error::param(
                    "max_features",
                    0,
                    "an integer >= 1 or a float in (0, 1]",
                ));
            }
            MaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(Error::param(
                    "max_features",
                    f,
                    "an integer >= 1 or a float in (0, 1]",
                ));
            }
            _ => {}
        }
        if let Some(j) = self.n_jobs
            && (j == 0 || j < -1)
        {
            {
                return Err(Error::param(
                    "n_jobs",
                    j,
                    "None, -1 (every core) or an integer >= 1",
                ));
            }
        }
        Ok(())
    }

    /// The effective number of rows per tree for `n_samples` training rows.
    pub fn resolve_max_samples(&self, n_samples: usize) -> usize {
        match self.max_samples {
            MaxSamples::Auto => n_samples.min(256),
            MaxSamples::Count(c) => c.min(n_samples),
            MaxSamples::Fraction(f) => ((f * n_samples as f64) as usize).max(1),
        }
    }

    /// The effective number of features per tree for `n_features` columns.
    pub fn resolve_max_features(&self, n_features: usize) -> Result<usize> {
        match self.max_features {
            MaxFeatures::Count(c) if c > n_features => Err(Error::param(
                "max_features",
                c,
                format!("at most n_features = {n_features}"),
            )),
            MaxFeatures::Count(c) => Ok(c),
            MaxFeatures::Fraction(f) => Ok(((f * n_features as f64) as usize).max(1)),
        }
    }

    /// The number of worker threads `n_jobs` asks for (0 = rayon's global pool, every core).
    pub(crate) fn threads(&self) -> usize {
        match self.n_jobs {
            None | Some(1) => 1,
            Some(-1) => 0,
            Some(k) => k as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_values_and_names_them() {
        let bad = [
            IsolationForestParams::default().n_estimators(0),
            IsolationForestParams::default().max_samples(MaxSamples::Fraction(0.0)),
            IsolationForestParams::default().max_samples(MaxSamples::Fraction(1.5)),
            IsolationForestParams::default().max_samples(MaxSamples::Fraction(f64::NAN)),
            IsolationForestParams::default().max_samples(MaxSamples::Count(0)),
            IsolationForestParams::default().contamination(Contamination::Fraction(0.6)),
            IsolationForestParams::default().contamination(Contamination::Fraction(0.0)),
            IsolationForestParams::default().max_features(MaxFeatures::Fraction(-0.1)),
            IsolationForestParams::default().max_features(MaxFeatures::Count(0)),
            IsolationForestParams::default().n_jobs(0),
            IsolationForestParams::default().n_jobs(-2),
        ];
        for p in bad {
            let e = p.validate().unwrap_err();
            assert!(matches!(e, Error::InvalidParameter { .. }), "{e}");
        }
        let e = IsolationForestParams::default()
            .contamination(Contamination::Fraction(0.6))
            .validate()
            .unwrap_err();
        assert!(
            e.to_string().contains("contamination") && e.to_string().contains("0.6"),
            "{e}"
        );
    }

    #[test]
    fn resolves_like_scikit_learn() {
        let p = IsolationForestParams::default();
        assert_eq!(p.resolve_max_samples(1000), 256);
        assert_eq!(p.resolve_max_samples(10), 10);
        assert_eq!(
            p.clone()
                .max_samples(MaxSamples::Count(500))
                .resolve_max_samples(100),
            100
        );
        assert_eq!(
            p.clone()
                .max_samples(MaxSamples::Fraction(0.5))
                .resolve_max_samples(101),
            50
        );
        assert_eq!(
            p.clone()
                .max_samples(MaxSamples::Fraction(0.001))
                .resolve_max_samples(10),
            1
        );
        assert_eq!(p.resolve_max_features(7).unwrap(), 7);
        assert_eq!(
            p.clone()
                .max_features(MaxFeatures::Fraction(0.5))
                .resolve_max_features(7)
                .unwrap(),
            3
        );
        assert!(
            p.clone()
                .max_features(MaxFeatures::Count(8))
                .resolve_max_features(7)
                .is_err()
        );
    }
}
