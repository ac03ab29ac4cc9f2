//! Z-score detectors: how many standard deviations each feature of a row is from its training centre.
//!
//! Two estimators of centre and scale, fitted per feature (column) on training data:
//!
//! * [`ZScore`]: mean and standard deviation with `ddof = 0` (the population formula, numpy's
//!   default `np.std`): `std = sqrt(sum((x - mean)^2) / n)`.
//! * [`RobustZScore`]: median and median absolute deviation (MAD) scaled by [`MAD_TO_STD`]
//!   (`1 / Φ⁻¹(3/4) ≈ 1.4826`), which makes it an estimate of the standard deviation for normal data.
//!
//! The z-value of feature `j` of a row `x` is `z_j = (x_j - centre_j) / scale_j` (see
//! [`ZScore::z`]). A row's score (see [`ZScore::score_samples`]) combines its z-values with
//! [`Combine`]: the largest `|z_j|` (default) or the root mean square `sqrt(mean_j(z_j^2))`. Scores are
//! in standard deviations, higher = more anomalous, and a row is an anomaly when its score is strictly
//! above [`ZScoreParams::threshold`] (default 3).
//!
//! Degenerate scales, so that a z-value is never infinite or NaN for finite inputs:
//!
//! * [`ZScore`]: a constant training feature (std 0) gets scale 1, as scikit-learn's `StandardScaler`
//!   does: its z-value is then `x_j - mean_j` in the feature's own units.
//! * [`RobustZScore`]: when the MAD is 0 (more than half the training values are equal), the scale falls
//!   back to the mean absolute deviation from the median times [`MEAN_AD_TO_STD`] (`sqrt(π/2) ≈ 1.2533`,
//!   which also estimates the standard deviation for normal data); when that is also 0 (a constant
//!   feature), to 1.
//!
//! Inputs are read as `f64` (the full precision of `f64` inputs is kept). NaN and infinite values are
//! refused with [`Error::NonFiniteValue`] naming row and column. A z-value of a finite input can still
//! overflow to `+inf` (a value about `1e308` away from the centre); it is never NaN.
//!
//! Both detectors serialise to the artifact envelope ([`crate::model`], kind
//! [`ArtifactKind::ZScore`]); the payload records which of the two it is.

use std::fmt;
use std::str::FromStr;

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::data::{Scalar, non_finite};
use crate::error::{ArtifactError, Error, Result};
use crate::model::{self, ArtifactKind};

/// `1 / Φ⁻¹(3/4)`: the MAD of a normal distribution times this is its standard deviation.
pub const MAD_TO_STD: f64 = 1.482_602_218_505_602;
/// `sqrt(π/2)`: the mean absolute deviation of a normal distribution times this is its standard
/// deviation.
pub const MEAN_AD_TO_STD: f64 = 1.253_314_137_315_500_3;

/// How the per-feature z-values of a row are combined into one score.
///
/// ```
/// use fraud_core::detectors::zscore::Combine;
/// assert_eq!("rms".parse::<Combine>()?, Combine::Rms);
/// assert_eq!(Combine::default(), Combine::Max);
/// assert!("mean".parse::<Combine>().is_err());
/// # Ok::<(), fraud_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Combine {
    /// The largest absolute z-value, `max_j |z_j|` (default): one extreme feature is enough.
    #[default]
    Max,
    /// The root mean square, `sqrt(sum_j z_j^2 / d)`: moderate deviations on many features add up.
    Rms,
}

impl Combine {
    /// The name used in the Python API and in error messages: `"max"` or `"rms"`.
    pub const fn name(self) -> &'static str {
        match self {
            Combine::Max => "max",
            Combine::Rms => "rms",
        }
    }

    /// Combine the z-values of one row.
    fn apply(self, z: impl Iterator<Item = f64> + Clone) -> f64 {
        let max = z.clone().fold(0.0f64, |m, v| m.max(v.abs()));
        match self {
            Combine::Max => max,
            Combine::Rms => {
                if max == 0.0 || max.is_infinite() {
                    return max;
                }
                // Scaled by the largest value so that squares never overflow.
                let (sum, n) = z.fold((0.0, 0usize), |(s, n), v| {
                    let r = v / max;
                    (s + r * r, n + 1)
                });
                max * (sum / n as f64).sqrt()
            }
        }
    }
}

impl fmt::Display for Combine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Combine {
    type Err = Error;

    /// `"max"` or `"rms"` (exact, lower case); anything else is an [`Error::InvalidParameter`].
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "max" => Ok(Combine::Max),
            "rms" => Ok(Combine::Rms),
            _ => Err(Error::param(
                "combine",
                format!("{s:?}"),
                "\"max\" or \"rms\"",
            )),
        }
    }
}

/// Hyper-parameters shared by [`ZScore`] and [`RobustZScore`].
///
/// ```
/// use fraud_core::detectors::zscore::{Combine, ZScoreParams};
/// let p = ZScoreParams::default().threshold(4.0).combine(Combine::Rms);
/// assert!(p.validate().is_ok());
/// assert!(ZScoreParams::default().threshold(f64::NAN).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZScoreParams {
    /// Rows whose combined score is strictly above this many standard deviations are anomalies
    /// (default 3.0; a finite number > 0).
    pub threshold: f64,
    /// How z-values are combined into a row score (default [`Combine::Max`]).
    pub combine: Combine,
}

impl Default for ZScoreParams {
    fn default() -> Self {
        ZScoreParams {
            threshold: 3.0,
            combine: Combine::Max,
        }
    }
}

impl ZScoreParams {
    /// Set `threshold`.
    pub fn threshold(mut self, t: f64) -> Self {
        self.threshold = t;
        self
    }

    /// Set `combine`.
    pub fn combine(mut self, c: Combine) -> Self {
        self.combine = c;
        self
    }

    /// Check every value: `threshold` must be finite and > 0.
    pub fn validate(&self) -> Result<()> {
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(Error::param(
                "threshold",
                self.threshold,
                "a finite number > 0 (standard deviations)",
            ));
        }
        Ok(())
    }
}

/// Which centre and scale a model uses (stored in the artifact payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Variant {
    /// Mean and standard deviation.
    Standard,
    /// Median and scaled MAD.
    Robust,
}

impl Variant {
    const fn name(self) -> &'static str {
        match self {
            Variant::Standard => "ZScore",
            Variant::Robust => "RobustZScore",
        }
    }
}

/// What a fit learns; serialised as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Fitted {
    n_features_in: usize,
    feature_names: Option<Vec<String>>,
    location: Vec<f64>,
    scale: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    variant: Variant,
    params: ZScoreParams,
    state: Option<Fitted>,
}

impl Fitted {
    /// The invariants every fitted model satisfies (checked again when loading bytes).
    fn check(&self) -> std::result::Result<(), String> {
        let d = self.n_features_in;
        if d == 0 {
            return Err("n_features_in is 0".into());
        }
        if self.location.len() != d || self.scale.len() != d {
            return Err(format!(
                "{} locations and {} scales for {d} features",
                self.location.len(),
                self.scale.len()
            ));
        }
        if let Some(j) = self.location.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "location[{j}] = {} is not finite",
                self.location[j]
            ));
        }
        if let Some(j) = self.scale.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(format!(
                "scale[{j}] = {} is not finite and > 0",
                self.scale[j]
            ));
        }
        if let Some(n) = &self.feature_names
            && n.len() != d
        {
            return Err(format!("{} feature names for {d} features", n.len()));
        }
        Ok(())
    }

    #[inline]
    fn z_at(&self, j: usize, v: f64) -> f64 {
        (v - self.location[j]) / self.scale[j]
    }
}

/// Median of `v` (numpy's: the mean of the two middle values for an even length); reorders `v`.
fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (_, &mut upper, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    if !n.is_multiple_of(2) {
        return upper;
    }
    let lower = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let m = (lower + upper) / 2.0;
    if m.is_finite() {
        m
    } else {
        lower / 2.0 + upper / 2.0
    }
}

/// (centre, scale) of one column of finite values, per the variant's rule.
fn centre_scale(variant: Variant, col: &mut [f64]) -> (f64, f64) {
    let n = col.len() as f64;
    match variant {
        Variant::Standard => {
            let mean = col.iter().sum::<f64>() / n;
            let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            let std = var.sqrt();
            (mean, if std > 0.0 { std } else { 1.0 })
        }
        Variant::Robust => {
            let med = median(col);
            for v in col.iter_mut() {
                *v = (*v - med).abs();
            }
            let mean_ad = col.iter().sum::<f64>() / n;
            let mad = median(col);
            let scale = if mad > 0.0 {
                mad * MAD_TO_STD
            } else if mean_ad > 0.0 {
                mean_ad * MEAN_AD_TO_STD
            } else {
                1.0
            };
            (med, scale)
        }
    }
}

/// The shared implementation behind [`ZScore`] and [`RobustZScore`].
#[derive(Debug, Clone, PartialEq)]
struct Model {
    variant: Variant,
    params: ZScoreParams,
    fitted: Option<Fitted>,
}

impl Model {
    fn new(variant: Variant, params: ZScoreParams) -> Result<Self> {
        params.validate()?;
        Ok(Model {
            variant,
            params,
            fitted: None,
        })
    }

    fn set_params(&mut self, params: ZScoreParams) -> Result<()> {
        params.validate()?;
        self.params = params;
        Ok(())
    }

    fn state(&self, what: &'static str) -> Result<&Fitted> {
        self.fitted.as_ref().ok_or(Error::NotFitted(what))
    }

    fn fit<T: Scalar>(&mut self, x: ArrayView2<'_, T>) -> Result<()> {
        self.params.validate()?;
        let (n, d) = x.dim();
        if n == 0 {
            return Err(Error::EmptyInput(format!(
                "X has 0 rows (shape ({n}, {d})): at least 1 is required"
            )));
        }
        if d == 0 {
            return Err(Error::EmptyInput(format!(
                "X has 0 columns (shape ({n}, {d})): at least 1 feature is required"
            )));
        }
        // The first non-finite value in row-major order, as the isolation forest reports it.
        for (i, row) in x.outer_iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                if !v.to_f64().is_finite() {
                    return Err(non_finite(i, j, v.to_f64()));
                }
            }
        }
        let mut location = Vec::with_capacity(d);
        let mut scale = Vec::with_capacity(d);
        let mut col = Vec::with_capacity(n);
        for (j, column) in x.columns().into_iter().enumerate() {
            col.clear();
            col.extend(column.iter().map(|v| v.to_f64()));
            let (c, s) = centre_scale(self.variant, &mut col);
            if !(c.is_finite() && s.is_finite()) {
                return Err(Error::InvalidInput(format!(
                    "column {j}: the {} of the training values overflows f64 (|x| near 1.8e308): \
                     rescale the feature",
                    if c.is_finite() { "scale" } else { "centre" }
                )));
            }
            location.push(c);
            scale.push(s);
        }
        self.fitted = Some(Fitted {
            n_features_in: d,
            feature_names: None,
            location,
            scale,
        });
        Ok(())
    }

    /// The fitted state, after checking that `x` has the fitted width.
    fn checked(&self, what: &'static str, d: usize) -> Result<&Fitted> {
        let f = self.state(what)?;
        if d != f.n_features_in {
            return Err(Error::ShapeMismatch(format!(
                "X has {d} features, but the {} was fitted with {} features",
                self.variant.name(),
                f.n_features_in
            )));
        }
        Ok(f)
    }

    fn z<T: Scalar>(&self, x: ArrayView2<'_, T>) -> Result<Array2<f64>> {
        let f = self.checked("z", x.ncols())?;
        let mut out = Array2::zeros(x.dim());
        for (i, (row, mut zrow)) in x.outer_iter().zip(out.outer_iter_mut()).enumerate() {
            for (j, (&v, z)) in row.iter().zip(zrow.iter_mut()).enumerate() {
                let v = v.to_f64();
                if !v.is_finite() {
                    return Err(non_finite(i, j, v));
                }
                *z = f.z_at(j, v);
            }
        }
        Ok(out)
    }

    fn score_samples<T: Scalar>(&self, x: ArrayView2<'_, T>) -> Result<Array1<f64>> {
        let f = self.checked("score_samples", x.ncols())?;
        let mut out = Array1::zeros(x.nrows());
        for (i, (row, s)) in x.outer_iter().zip(out.iter_mut()).enumerate() {
            if let Some(j) = row.iter().position(|v| !v.to_f64().is_finite()) {
                return Err(non_finite(i, j, row[j].to_f64()));
            }
            *s = self
                .params
                .combine
                .apply(row.iter().enumerate().map(|(j, &v)| f.z_at(j, v.to_f64())));
        }
        Ok(out)
    }

    fn score_one(&self, row: &[f64]) -> Result<f64> {
        let f = self.checked("score_one", row.len())?;
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(non_finite(0, j, row[j]));
        }
        Ok(self
            .params
            .combine
            .apply(row.iter().enumerate().map(|(j, &v)| f.z_at(j, v))))
    }

    fn set_feature_names(&mut self, names: Option<Vec<String>>) -> Result<()> {
        let f = self
            .fitted
            .as_mut()
            .ok_or(Error::NotFitted("set_feature_names"))?;
        if let Some(n) = &names
            && n.len() != f.n_features_in
        {
            return Err(Error::ShapeMismatch(format!(
                "{} feature names for {} features",
                n.len(),
                f.n_features_in
            )));
        }
        f.feature_names = names;
        Ok(())
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        model::encode(
            ArtifactKind::ZScore,
            &Payload {
                variant: self.variant,
                params: self.params.clone(),
                state: self.fitted.clone(),
            },
        )
    }

    fn from_bytes(variant: Variant, bytes: &[u8]) -> Result<Self> {
        let p: Payload = model::decode(ArtifactKind::ZScore, bytes)?;
        if p.variant != variant {
            return Err(ArtifactError::WrongKind {
                expected: variant.name(),
                found: p.variant.name().to_string(),
            }
            .into());
        }
        p.params
            .validate()
            .map_err(|e| ArtifactError::Malformed(format!("stored parameters: {e}")))?;
        if let Some(f) = &p.state {
            f.check().map_err(ArtifactError::Malformed)?;
        }
        Ok(Model {
            variant,
            params: p.params,
            fitted: p.state,
        })
    }
}

/// The public API of a z-score detector, identical for both variants.
macro_rules! zscore_detector {
    ($name:ident, $variant:expr) => {
        impl $name {
            /// A new, unfitted detector; the parameters are validated here.
            pub fn new(params: ZScoreParams) -> Result<Self> {
                Ok($name(Model::new($variant, params)?))
            }

            /// The hyper-parameters.
            pub fn params(&self) -> &ZScoreParams {
                &self.0.params
            }

            /// Replace the hyper-parameters (validated); a fitted detector keeps its centres and
            /// scales (only the threshold and the combination rule change).
            pub fn set_params(&mut self, params: ZScoreParams) -> Result<()> {
                self.0.set_params(params)
            }

            /// Whether [`fit`](Self::fit) has run (or the detector was loaded fitted).
            pub fn is_fitted(&self) -> bool {
                self.0.fitted.is_some()
            }

            /// Learn each feature's centre and scale from `x` (rows = samples, at least one row and
            /// one column, every value finite). Refitting replaces the previous state.
            pub fn fit<T: Scalar>(&mut self, x: ArrayView2<'_, T>) -> Result<()> {
                self.0.fit(x)
            }

            /// Per-feature z-values, an `(n, d)` matrix: `(x[i, j] - location[j]) / scale[j]`.
            pub fn z<T: Scalar>(&self, x: ArrayView2<'_, T>) -> Result<Array2<f64>> {
                self.0.z(x)
            }

            /// The combined score of each row, in standard deviations (higher = more anomalous,
            /// always >= 0).
            pub fn score_samples<T: Scalar>(&self, x: ArrayView2<'_, T>) -> Result<Array1<f64>> {
                self.0.score_samples(x)
            }

            /// The score of one row: the same value [`score_samples`](Self::score_samples) gives.
            pub fn score_one(&self, row: &[f64]) -> Result<f64> {
                self.0.score_one(row)
            }

            /// `threshold - score_samples(x)`: negative for anomalies (scikit-learn's sign).
            pub fn decision_function<T: Scalar>(
                &self,
                x: ArrayView2<'_, T>,
            ) -> Result<Array1<f64>> {
                let t = self.0.params.threshold;
                Ok(self.0.score_samples(x)?.mapv(|s| t - s))
            }

            /// -1 for anomalies (score strictly above the threshold), 1 for normal rows.
            pub fn predict<T: Scalar>(&self, x: ArrayView2<'_, T>) -> Result<Array1<i32>> {
                let t = self.0.params.threshold;
                Ok(self
                    .0
                    .score_samples(x)?
                    .mapv(|s| if s > t { -1 } else { 1 }))
            }

            /// Number of features seen during fit.
            pub fn n_features_in(&self) -> Result<usize> {
                Ok(self.0.state("n_features_in")?.n_features_in)
            }

            /// The fitted centre of each feature.
            pub fn location(&self) -> Result<&[f64]> {
                Ok(&self.0.state("location")?.location)
            }

            /// The fitted scale of each feature (always finite and > 0, see the module docs).
            pub fn scale(&self) -> Result<&[f64]> {
                Ok(&self.0.state("scale")?.scale)
            }

            /// Column names recorded with the model, if any.
            pub fn feature_names(&self) -> Option<&[String]> {
                self.0.fitted.as_ref()?.feature_names.as_deref()
            }

            /// Record column names (one per feature) with a fitted model; they travel in the
            /// artifact.
            pub fn set_feature_names(&mut self, names: Option<Vec<String>>) -> Result<()> {
                self.0.set_feature_names(names)
            }

            /// Serialise into the artifact envelope (kind [`ArtifactKind::ZScore`]).
            pub fn to_bytes(&self) -> Result<Vec<u8>> {
                self.0.to_bytes()
            }

            /// Load from artifact bytes, checking the envelope, the variant and every invariant
            /// (lengths, finite centres, finite positive scales); bad bytes are an
            /// [`Error::Artifact`], never a panic.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
                Ok($name(Model::from_bytes($variant, bytes)?))
            }

            /// Write the artifact to `path` atomically (see [`crate::model::write_atomic`]).
            pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
                crate::model::write_atomic(path, &self.to_bytes()?)
            }

            /// Read an artifact file written by [`save`](Self::save).
            pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
                Self::from_bytes(&crate::model::read_file(path)?)
            }
        }
    };
}

/// Mean / standard-deviation z-score detector (`ddof = 0`, like numpy's `np.std`).
///
/// A constant training feature gets scale 1 (see the [module docs](self)).
///
/// ```
/// use fraud_core::detectors::zscore::{ZScore, ZScoreParams};
/// use ndarray::array;
///
/// let train = array![[1.0, 10.0], [2.0, 10.0], [3.0, 10.0]];
/// let mut det = ZScore::new(ZScoreParams::default())?;
/// det.fit(train.view())?;
/// assert_eq!(det.location()?, &[2.0, 10.0]);
/// assert_eq!(det.scale()?[1], 1.0); // constant feature
/// let x = array![[2.0, 10.0], [2.0 + 4.0 * (2.0f64 / 3.0).sqrt(), 10.0]];
/// let s = det.score_samples(x.view())?;
/// assert_eq!(s[0], 0.0);
/// assert!((s[1] - 4.0).abs() < 1e-12);
/// assert_eq!(det.predict(x.view())?.to_vec(), vec![1, -1]);
/// let back = ZScore::from_bytes(&det.to_bytes()?)?;
/// assert_eq!(back.score_samples(x.view())?, s);
/// # Ok::<(), fraud_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ZScore(Model);

/// Median / MAD z-score detector: robust to outliers in the training data.
///
/// The scale is `MAD * 1.4826...` ([`MAD_TO_STD`]); when the MAD is 0 it falls back to the mean
/// absolute deviation from the median times `1.2533...` ([`MEAN_AD_TO_STD`]), and to 1 when that is
/// also 0 (see the [module docs](self)).
///
/// ```
/// use fraud_core::detectors::zscore::{Combine, RobustZScore, ZScoreParams, MAD_TO_STD};
/// use ndarray::array;
///
/// // One gross outlier in training barely moves the median and the MAD.
/// let train = array![[1.0], [2.0], [3.0], [4.0], [1000.0]];
/// let mut det = RobustZScore::new(ZScoreParams::default().combine(Combine::Rms))?;
/// det.fit(train.view())?;
/// assert_eq!(det.location()?, &[3.0]);
/// assert_eq!(det.scale()?, &[MAD_TO_STD]); // MAD = median(|x - 3|) = 1
/// let z = det.z(array![[6.0]].view())?;
/// assert!((z[[0, 0]] - 3.0 / MAD_TO_STD).abs() < 1e-15);
/// # Ok::<(), fraud_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RobustZScore(Model);

zscore_detector!(ZScore, Variant::Standard);
zscore_detector!(RobustZScore, Variant::Robust);

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// A deterministic pseudo-random matrix with ties (values on a coarse grid) and an outlier column.
    fn data(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut state = seed;
        Array2::from_shape_fn((n, d), |(_, j)| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            ((u * 40.0).round() - 20.0) * (j as f64 + 0.5)
        })
    }

    /// Naive recomputations, written independently of the implementation.
    fn naive_mean_std(col: &[f64]) -> (f64, f64) {
        let n = col.len() as f64;
        let mean = col.iter().sum::<f64>() / n;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    fn naive_median(col: &[f64]) -> f64 {
        let mut v = col.to_vec();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + b.abs())
    }

    #[test]
    fn standard_matches_naive_recomputation() {
        for (n, d, seed) in [(1, 1, 1), (2, 3, 2), (7, 4, 3), (200, 5, 4)] {
            let x = data(n, d, seed);
            for combine in [Combine::Max, Combine::Rms] {
                let mut det = ZScore::new(ZScoreParams::default().combine(combine)).unwrap();
                det.fit(x.view()).unwrap();
                let q = data(50, d, seed + 100);
                let z = det.z(q.view()).unwrap();
                let s = det.score_samples(q.view()).unwrap();
                let cols: Vec<(f64, f64)> = (0..d)
                    .map(|j| naive_mean_std(&x.column(j).to_vec()))
                    .collect();
                for i in 0..q.nrows() {
                    let zs: Vec<f64> = (0..d)
                        .map(|j| {
                            let (m, sd) = cols[j];
                            (q[[i, j]] - m) / if sd == 0.0 { 1.0 } else { sd }
                        })
                        .collect();
                    for j in 0..d {
                        assert!(close(z[[i, j]], zs[j]), "z[{i},{j}]");
                    }
                    let expected = match combine {
                        Combine::Max => zs.iter().map(|v| v.abs()).fold(0.0, f64::max),
                        Combine::Rms => (zs.iter().map(|v| v * v).sum::<f64>() / d as f64).sqrt(),
                    };
                    assert!(close(s[i], expected), "score[{i}] {} {expected}", s[i]);
                    assert_eq!(det.score_one(&q.row(i).to_vec()).unwrap(), s[i]);
                }
            }
        }
    }

    #[test]
    fn robust_matches_naive_recomputation() {
        for (n, d, seed) in [(1, 2, 5), (2, 2, 6), (9, 3, 7), (100, 4, 8), (101, 4, 9)] {
            let x = data(n, d, seed);
            let mut det = RobustZScore::new(ZScoreParams::default()).unwrap();
            det.fit(x.view()).unwrap();
            for j in 0..d {
                let col = x.column(j).to_vec();
                let med = naive_median(&col);
                let dev: Vec<f64> = col.iter().map(|v| (v - med).abs()).collect();
                let mad = naive_median(&dev);
                let mean_ad = dev.iter().sum::<f64>() / dev.len() as f64;
                let scale = if mad > 0.0 {
                    mad * 1.482602218505602
                } else if mean_ad > 0.0 {
                    mean_ad * std::f64::consts::FRAC_PI_2.sqrt()
                } else {
                    1.0
                };
                assert!(close(det.location().unwrap()[j], med));
                assert!(close(det.scale().unwrap()[j], scale), "{n} {j}");
            }
        }
    }

    #[test]
    fn degenerate_scales_fall_back() {
        // MAD 0 (3 of 5 equal) but mean absolute deviation > 0: 1.2533 * mean(|x - median|).
        let x = ndarray::array![[5.0, 7.0], [5.0, 7.0], [5.0, 7.0], [6.0, 7.0], [9.0, 7.0]];
        let mut det = RobustZScore::new(ZScoreParams::default()).unwrap();
        det.fit(x.view()).unwrap();
        assert!(close(
            det.scale().unwrap()[0],
            (1.0 + 4.0) / 5.0 * MEAN_AD_TO_STD
        ));
        assert_eq!(det.scale().unwrap()[1], 1.0); // constant
        assert_eq!(det.location().unwrap(), &[5.0, 7.0]);
        let z = det.z(ndarray::array![[5.0, 9.5]].view()).unwrap();
        assert_eq!(z[[0, 1]], 2.5);
        // ZScore: a constant feature has scale 1 too.
        let mut det = ZScore::new(ZScoreParams::default()).unwrap();
        det.fit(x.view()).unwrap();
        assert_eq!(det.scale().unwrap()[1], 1.0);
        assert!((MAD_TO_STD - 1.4826).abs() < 1e-4 && (MEAN_AD_TO_STD - 1.2533).abs() < 1e-4);
    }

    #[test]
    fn threshold_predict_and_decision() {
        let x = ndarray::array![[0.0], [2.0]]; // mean 1, std 1
        let mut det = ZScore::new(ZScoreParams::default().threshold(2.0)).unwrap();
        det.fit(x.view()).unwrap();
        let q = ndarray::array![[3.0], [3.5], [-1.5], [1.0]];
        assert_eq!(
            det.score_samples(q.view()).unwrap().to_vec(),
            vec![2.0, 2.5, 2.5, 0.0]
        );
        // Strictly above the threshold is an anomaly.
        assert_eq!(det.predict(q.view()).unwrap().to_vec(), vec![1, -1, -1, 1]);
        assert_eq!(
            det.decision_function(q.view()).unwrap().to_vec(),
            vec![0.0, -0.5, -0.5, 2.0]
        );
        // Changing the threshold keeps the fitted state.
        det.set_params(ZScoreParams::default().threshold(1.0))
            .unwrap();
        assert_eq!(det.predict(q.view()).unwrap().to_vec(), vec![-1, -1, -1, 1]);
    }

    #[test]
    fn rms_does_not_overflow() {
        let x = ndarray::array![[0.0, 0.0], [2.0, 2.0]];
        let mut det = ZScore::new(ZScoreParams::default().combine(Combine::Rms)).unwrap();
        det.fit(x.view()).unwrap();
        let s = det.score_one(&[1e200, 1e200]).unwrap();
        assert!(close(s, 1e200));
        assert_eq!(det.score_one(&[1.0, 1.0]).unwrap(), 0.0);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let p = ZScoreParams::default;
        let e = ZScore::new(p().threshold(-1.0)).unwrap_err();
        assert!(matches!(
            e,
            Error::InvalidParameter {
                name: "threshold",
                ..
            }
        ));
        assert!(e.to_string().contains("-1"), "{e}");
        assert!(ZScore::new(p().threshold(f64::INFINITY)).is_err());
        assert!(ZScore::new(p().threshold(0.0)).is_err());
        let e = "Max".parse::<Combine>().unwrap_err();
        assert!(e.to_string().contains("\"Max\""), "{e}");

        let mut det = RobustZScore::new(p()).unwrap();
        let empty = Array2::<f64>::zeros((0, 3));
        assert!(matches!(det.fit(empty.view()), Err(Error::EmptyInput(_))));
        let no_cols = Array2::<f64>::zeros((3, 0));
        assert!(matches!(det.fit(no_cols.view()), Err(Error::EmptyInput(_))));
        assert!(matches!(
            det.score_samples(ndarray::array![[1.0]].view()),
            Err(Error::NotFitted(_))
        ));
        let mut x = data(10, 3, 1);
        x[[4, 2]] = f64::NAN;
        let e = det.fit(x.view()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NonFiniteValue {
                    row: 4,
                    column: 2,
                    ..
                }
            ),
            "{e}"
        );
        x[[4, 2]] = 1.0;
        det.fit(x.view()).unwrap();
        let mut q = data(5, 3, 2);
        q[[3, 1]] = f64::NEG_INFINITY;
        for e in [
            det.z(q.view()).unwrap_err(),
            det.score_samples(q.view()).unwrap_err(),
            det.predict(q.view()).unwrap_err(),
        ] {
            assert!(
                matches!(
                    e,
                    Error::NonFiniteValue {
                        row: 3,
                        column: 1,
                        ..
                    }
                ),
                "{e}"
            );
        }
        let e = det.z(data(5, 2, 2).view()).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch(_)));
        assert!(e.to_string().contains("2 features") && e.to_string().contains("3 features"));
        assert!(matches!(
            det.score_one(&[1.0]),
            Err(Error::ShapeMismatch(_))
        ));
        assert!(det.set_feature_names(Some(vec!["a".into()])).is_err());
        // Overflowing statistics are refused, naming the column.
        let huge = ndarray::array![[1.0, f64::MAX], [1.0, f64::MAX]];
        let e = ZScore::new(p()).unwrap().fit(huge.view()).unwrap_err();
        assert!(e.to_string().contains("column 1"), "{e}");
        // f32 input works and gives the same result as the f64 widening.
        let x32 = data(20, 3, 3).mapv(|v| v as f32);
        det.fit(x32.view()).unwrap();
        let a = det.score_samples(x32.view()).unwrap();
        det.fit(x32.mapv(f64::from).view()).unwrap();
        assert_eq!(a, det.score_samples(x32.mapv(f64::from).view()).unwrap());
    }

    #[test]
    fn bytes_round_trip_and_variant_check() {
        let x = data(30, 3, 11);
        let mut det = RobustZScore::new(ZScoreParams::default().combine(Combine::Rms)).unwrap();
        let unfitted = RobustZScore::from_bytes(&det.to_bytes().unwrap()).unwrap();
        assert!(!unfitted.is_fitted());
        det.fit(x.view()).unwrap();
        det.set_feature_names(Some(vec!["a".into(), "b".into(), "c".into()]))
            .unwrap();
        let bytes = det.to_bytes().unwrap();
        assert_eq!(model::peek_kind(&bytes).unwrap(), ArtifactKind::ZScore);
        let back = RobustZScore::from_bytes(&bytes).unwrap();
        assert_eq!(back, det);
        assert_eq!(
            back.score_samples(x.view()).unwrap(),
            det.score_samples(x.view()).unwrap()
        );
        let e = ZScore::from_bytes(&bytes).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Artifact(ArtifactError::WrongKind {
                    expected: "ZScore",
                    ..
                })
            ),
            "{e}"
        );
        for n in 0..bytes.len() {
            assert!(RobustZScore::from_bytes(&bytes[..n]).is_err());
        }
    }

    #[test]
    fn crafted_payloads_are_malformed_not_panics() {
        let good = Fitted {
            n_features_in: 2,
            feature_names: None,
            location: vec![0.0, 1.0],
            scale: vec![1.0, 2.0],
        };
        let bad_states = [
            Fitted {
                location: vec![0.0],
                ..good.clone()
            },
            Fitted {
                scale: vec![1.0, 2.0, 3.0],
                ..good.clone()
            },
            Fitted {
                n_features_in: 0,
                location: vec![],
                scale: vec![],
                ..good.clone()
            },
            Fitted {
                scale: vec![1.0, 0.0],
                ..good.clone()
            },
            Fitted {
                scale: vec![1.0, -2.0],
                ..good.clone()
            },
            Fitted {
                location: vec![f64::NAN, 1.0],
                ..good.clone()
            },
            Fitted {
                feature_names: Some(vec!["a".into()]),
                ..good.clone()
            },
        ];
        for state in bad_states {
            let bytes = model::encode(
                ArtifactKind::ZScore,
                &Payload {
                    variant: Variant::Standard,
                    params: ZScoreParams::default(),
                    state: Some(state.clone()),
                },
            )
            .unwrap();
            let e = ZScore::from_bytes(&bytes).unwrap_err();
            assert!(
                matches!(e, Error::Artifact(ArtifactError::Malformed(_))),
                "{state:?}: {e}"
            );
        }
        let bytes = model::encode(
            ArtifactKind::ZScore,
            &Payload {
                variant: Variant::Standard,
                params: ZScoreParams::default().threshold(-3.0),
                state: Some(good.clone()),
            },
        )
        .unwrap();
        assert!(matches!(
            ZScore::from_bytes(&bytes),
            Err(Error::Artifact(ArtifactError::Malformed(_)))
        ));
        // A payload of another shape (a bare vector of floats) does not decode.
        let bytes = model::encode(ArtifactKind::ZScore, &vec![1.0f64; 5]).unwrap();
        assert!(matches!(
            ZScore::from_bytes(&bytes),
            Err(Error::Artifact(ArtifactError::Malformed(_)))
        ));
        // The good state loads.
        let bytes = model::encode(
            ArtifactKind::ZScore,
            &Payload {
                variant: Variant::Standard,
                params: ZScoreParams::default(),
                state: Some(good),
            },
        )
        .unwrap();
        let det = ZScore::from_bytes(&bytes).unwrap();
        assert_eq!(det.score_one(&[1.0, 5.0]).unwrap(), 2.0);
    }
}
