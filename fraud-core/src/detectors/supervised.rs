//! Supervised fraud models, for when fraud labels exist: a random forest or an L2-penalised logistic
//! regression (both trained by [smartcore]), with class balancing and seeded randomness.
//!
//! * Output: [`SupervisedModel::predict_proba`] is the probability of fraud, in `[0, 1]`.
//! * Random forest: smartcore's classification forest only votes (no probabilities, no weights), so
//!   the forest is smartcore's regression forest grown on the 0/1 labels. For 0/1 targets the
//!   squared-error split criterion ranks splits exactly as the Gini impurity does (the variance of a
//!   0/1 node is `p (1 - p)`, half its Gini impurity), and each leaf holds the fraction of fraud
//!   rows in it, so the forest's mean is the averaged leaf class frequency that scikit-learn's
//!   `RandomForestClassifier.predict_proba` reports. Trees are grown on bootstrap samples, with
//!   `max_features` features drawn per split (default `sqrt`, as in scikit-learn).
//! * Logistic regression: minimises `sum_i logloss_i + alpha / 2 * |w|^2` (intercept not penalised)
//!   with smartcore's L-BFGS; this is scikit-learn's `LogisticRegression(C = 1 / alpha)`. smartcore
//!   has no `predict_proba`, so the fitted coefficients are kept and the probability is
//!   `1 / (1 + exp(-(x . w + b)))`. Features are used as given: standardise them first for a
//!   well-conditioned fit.
//! * Balancing ([`Balance`]): random undersampling of the majority class or oversampling (with
//!   replacement) of the minority class to a target minority/majority `ratio` (imbalanced-learn's
//!   `sampling_strategy`), or `ClassWeight`: "balanced" weights `n / (2 n_class)`. smartcore's forest
//!   applies row weights to its bootstrap draws (rows are drawn with probability proportional to
//!   their weight, so each tree sees about as many fraud as non-fraud draws); its logistic
//!   regression takes no weights, so `ClassWeight` is refused for it. Resampling and weighting move
//!   the predicted probabilities towards the balanced prior (ranking metrics are unaffected;
//!   thresholds chosen on balanced training data apply to balanced probabilities).
//! * Determinism: every random draw derives from `random_state` (resampling: a xoshiro256++
//!   generator; forest: a seed drawn from it). `None` draws a seed from the operating system at fit
//!   time and records it ([`SupervisedModel::seed`]). The same seed and data give the same model
//!   bytes and the same probabilities on every platform.
//! * Input: NaN and infinities are refused with a typed error naming row and column; `f64` and `f32`
//!   matrices are accepted (the model computes in `f64`).
//! * Persistence: [`SupervisedModel::to_bytes`] writes the artifact envelope
//!   ([`ArtifactKind::Supervised`]); [`SupervisedModel::from_bytes`] checks the envelope and then
//!   every tree (child indices, feature indices, leaf values), so crafted bytes with a valid checksum
//!   are refused with a typed error instead of panicking at prediction time.
//!
//! ```
//! use fraud_core::detectors::supervised::{Balance, ModelSpec, SupervisedModel, SupervisedParams};
//! use ndarray::Array2;
//!
//! // Fraud rows have a large first feature.
//! let x = Array2::from_shape_fn((200, 2), |(i, j)| {
//!     let base = ((i * 7 + j * 3) % 11) as f64;
//!     if i % 20 == 0 && j == 0 { base + 50.0 } else { base }
//! });
//! let y: Vec<bool> = (0..200).map(|i| i % 20 == 0).collect();
//! let params = SupervisedParams::default()
//!     .model(ModelSpec::random_forest().n_trees(20))
//!     .balance(Balance::None)
//!     .random_state(7);
//! let mut model = SupervisedModel::new(params)?;
//! model.fit(x.view(), &y)?;
//! let p = model.predict_proba(x.view())?;
//! assert!(p[0] > 0.5 && p[1] < 0.5);
//! let restored = SupervisedModel::from_bytes(&model.to_bytes()?)?;
//! assert_eq!(restored.predict_proba(x.view())?, p);
//! # Ok::<(), fraud_core::Error>(())
//! ```
//!
//! [smartcore]: https://docs.rs/smartcore/0.7.0

use ndarray::{Array1, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

use crate::data::{Scalar, non_finite};
use crate::error::{ArtifactError, Error, Result};
use crate::model::{self, ArtifactKind};

/// Most trees a forest may have.
const MAX_TREES: usize = 100_000;

/// smartcore's regression forest on `f64` features and 0/1 `f64` targets.
type Forest = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

/// Number of features drawn at each split of a forest's trees (scikit-learn's `max_features`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum TreeMaxFeatures {
    /// `max(1, floor(sqrt(n_features)))` (the default, as in scikit-learn's classifier).
    Sqrt,
    /// `max(1, floor(log2(n_features)))`.
    Log2,
    /// An absolute count in `[1, n_features]`.
    Count(usize),
    /// A fraction in `(0, 1]`: `max(1, floor(fraction * n_features))`; `1.0` = every feature.
    Fraction(f64),
}

impl TreeMaxFeatures {
    /// The effective number of features per split for `n_features` columns.
    pub fn resolve(self, n_features: usize) -> Result<usize> {
        let at_least_one = |v: f64| (v.floor() as usize).clamp(1, n_features.max(1));
        match self {
            TreeMaxFeatures::Sqrt => Ok(at_least_one((n_features as f64).sqrt())),
            TreeMaxFeatures::Log2 => Ok(at_least_one(libm::log2(n_features as f64))),
            TreeMaxFeatures::Count(c) if c > n_features => Err(Error::param(
                "max_features",
                c,
                format!("at most n_features = {n_features}"),
            )),
            TreeMaxFeatures::Count(c) => Ok(c),
            TreeMaxFeatures::Fraction(f) => Ok(at_least_one(f * n_features as f64)),
        }
    }
}

/// Which model to train, with its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ModelSpec {
    /// A random forest of probability trees (see the module documentation).
    RandomForest {
        /// Number of trees, in `[1, 100000]` (default 100).
        n_trees: usize,
        /// Maximum tree depth, `None` = unlimited (default); at most 65535.
        max_depth: Option<usize>,
        /// Minimum rows in a leaf, >= 1 (default 1).
        min_samples_leaf: usize,
        /// Minimum rows to split a node, >= 2 (default 2).
        min_samples_split: usize,
        /// Features drawn per split (default [`TreeMaxFeatures::Sqrt`]).
        max_features: TreeMaxFeatures,
    },
    /// L2-penalised logistic regression (scikit-learn's `LogisticRegression` with `C = 1 / alpha`).
    LogisticRegression {
        /// L2 penalty strength, finite and >= 0 (default 1.0; 0 = unpenalised).
        alpha: f64,
    },
}

impl ModelSpec {
    /// A random forest with the default hyper-parameters.
    pub fn random_forest() -> Self {
        ModelSpec::RandomForest {
            n_trees: 100,
            max_depth: None,
            min_samples_leaf: 1,
            min_samples_split: 2,
            max_features: TreeMaxFeatures::Sqrt,
        }
    }

    /// A logistic regression with L2 strength `alpha`.
    pub fn logistic_regression(alpha: f64) -> Self {
        ModelSpec::LogisticRegression { alpha }
    }

    /// Set the number of trees (random forest only; no effect on a logistic regression).
    pub fn n_trees(mut self, n: usize) -> Self {
        if let ModelSpec::RandomForest { n_trees, .. } = &mut self {
            *n_trees = n;
        }
        self
    }

    /// Set the maximum depth (random forest only).
    pub fn max_depth(mut self, d: Option<usize>) -> Self {
        if let ModelSpec::RandomForest { max_depth, .. } = &mut self {
            *max_depth = d;
        }
        self
    }

    /// Set the minimum leaf size (random forest only).
    pub fn min_samples_leaf(mut self, n: usize) -> Self {
        if let ModelSpec::RandomForest {
            min_samples_leaf, ..
        } = &mut self
        {
            *min_samples_leaf = n;
        }
        self
    }

    /// Set the minimum node size to split (random forest only).
    pub fn min_samples_split(mut self, n: usize) -> Self {
        if let ModelSpec::RandomForest {
            min_samples_split, ..
        } = &mut self
        {
            *min_samples_split = n;
        }
        self
    }

    /// Set the features drawn per split (random forest only).
    pub fn max_features(mut self, m: TreeMaxFeatures) -> Self {
        if let ModelSpec::RandomForest { max_features, .. } = &mut self {
            *max_features = m;
        }
        self
    }

    /// The model's name as the Python API spells it.
    pub fn name(&self) -> &'static str {
        match self {
            ModelSpec::RandomForest { .. } => "random_forest",
            ModelSpec::LogisticRegression { .. } => "logistic_regression",
        }
    }

    fn validate(&self) -> Result<()> {
        match *self {
            ModelSpec::RandomForest {
                n_trees,
                max_depth,
                min_samples_leaf,
                min_samples_split,
                max_features,
            } => {
                if !(1..=MAX_TREES).contains(&n_trees) {
                    return Err(Error::param(
                        "n_estimators",
                        n_trees,
                        format!("an integer in [1, {MAX_TREES}]"),
                    ));
                }
                if let Some(d) = max_depth
                    && !(1..=u16::MAX as usize).contains(&d)
                {
                    return Err(Error::param(
                        "max_depth",
                        d,
                        "None or an integer in [1, 65535]",
                    ));
                }
                if min_samples_leaf == 0 {
                    return Err(Error::param("min_samples_leaf", 0, "an integer >= 1"));
                }
                if min_samples_split < 2 {
                    return Err(Error::param(
                        "min_samples_split",
                        min_samples_split,
                        "an integer >= 2",
                    ));
                }
                let expected = "\"sqrt\", \"log2\", an integer >= 1 or a float in (0, 1]";
                match max_features {
                    TreeMaxFeatures::Count(0) => {
                        return Err(Error::param("max_features", 0, expected));
                    }
                    TreeMaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                        return Err(Error::param("max_features", f, expected));
                    }
                    _ => {}
                }
            }
            ModelSpec::LogisticRegression { alpha } => {
                if !(alpha.is_finite() && alpha >= 0.0) {
                    return Err(Error::param(
                        "alpha",
                        alpha,
                        "a finite float >= 0 (the L2 strength, 1 / C in scikit-learn)",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// How the class imbalance is handled at fit time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Balance {
    /// Train on the data as given.
    None,
    /// Keep every minority row and draw majority rows without replacement until
    /// `minority / majority >= ratio` (`ratio` in `(0, 1]`; 1 = as many of each).
    Undersample {
        /// Target minority/majority ratio after resampling.
        ratio: f64,
    },
    /// Keep every row and add minority rows drawn with replacement until
    /// `minority / majority >= ratio` (`ratio` in `(0, 1]`).
    Oversample {
        /// Target minority/majority ratio after resampling.
        ratio: f64,
    },
    /// "Balanced" class weights `n / (2 n_class)`; random forest only (see the module docs).
    ClassWeight,
}

impl Balance {
    /// The balancing's name as the Python API spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Balance::None => "none",
            Balance::Undersample { .. } => "undersample",
            Balance::Oversample { .. } => "oversample",
            Balance::ClassWeight => "class_weight",
        }
    }
}

/// All hyper-parameters of a [`SupervisedModel`].
///
/// ```
/// use fraud_core::detectors::supervised::{Balance, ModelSpec, SupervisedParams};
/// let p = SupervisedParams::default().model(ModelSpec::logistic_regression(0.5)).random_state(1);
/// assert!(p.validate().is_ok());
/// let bad = SupervisedParams::default().balance(Balance::Undersample { ratio: 1.5 });
/// assert!(bad.validate().unwrap_err().to_string().contains("1.5"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisedParams {
    /// The model (default: [`ModelSpec::random_forest`]).
    pub model: ModelSpec,
    /// Class balancing (default: undersampling to a 1:1 ratio).
    pub balance: Balance,
    /// Seed of every random draw; `None` draws one from the OS at fit time (recorded in the model).
    pub random_state: Option<u64>,
}

impl Default for SupervisedParams {
    fn default() -> Self {
        SupervisedParams {
            model: ModelSpec::random_forest(),
            balance: Balance::Undersample { ratio: 1.0 },
            random_state: None,
        }
    }
}

impl SupervisedParams {
    /// Set the model.
    pub fn model(mut self, m: ModelSpec) -> Self {
        self.model = m;
        self
    }
    /// Set the balancing.
    pub fn balance(mut self, b: Balance) -> Self {
        self.balance = b;
        self
    }
    /// Set the seed.
    pub fn random_state(mut self, seed: u64) -> Self {
        self.random_state = Some(seed);
        self
    }

    /// Check every value that can be checked without data.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        match self.balance {
            Balance::Undersample { ratio } | Balance::Oversample { ratio }
                if !(ratio > 0.0 && ratio <= 1.0) =>
            {
                Err(Error::param(
                    "sampling_ratio",
                    ratio,
                    "a float in (0, 1]: the minority/majority ratio after resampling",
                ))
            }
            Balance::ClassWeight if matches!(self.model, ModelSpec::LogisticRegression { .. }) => {
                Err(Error::param(
                    "balance",
                    "class_weight",
                    "\"none\", \"undersample\" or \"oversample\" for logistic regression \
                     (smartcore's logistic regression takes no sample weights)",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The fitted model itself.
#[derive(Debug, Serialize, Deserialize)]
enum Fitted {
    RandomForest(Forest),
    LogisticRegression { coef: Vec<f64>, intercept: f64 },
}

/// What is serialised besides the parameters.
#[derive(Debug, Serialize, Deserialize)]
struct FittedState {
    n_features_in: usize,
    seed: u64,
    /// Rows and fraud rows the model was trained on, after balancing.
    training_rows: usize,
    training_positives: usize,
    model: Fitted,
}

#[derive(Serialize)]
struct PayloadRef<'a> {
    params: &'a SupervisedParams,
    state: Option<&'a FittedState>,
}

#[derive(Deserialize)]
struct Payload {
    params: SupervisedParams,
    state: Option<FittedState>,
}

/// A supervised fraud model: hyper-parameters plus, once fitted, a forest or a linear model.
#[derive(Debug)]
pub struct SupervisedModel {
    params: SupervisedParams,
    fitted: Option<FittedState>,
}

/// Refuse NaN and infinities (first in row-major order).
fn check_finite<T: Scalar>(x: &ArrayView2<'_, T>) -> Result<()> {
    for (i, row) in x.outer_iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let v = v.to_f64();
            if !v.is_finite() {
                return Err(non_finite(i, j, v));
            }
        }
    }
    Ok(())
}

/// Rows `rows` of `x` as a row-major smartcore matrix.
fn dense<T: Scalar>(
    x: &ArrayView2<'_, T>,
    rows: impl Iterator<Item = usize>,
) -> Result<DenseMatrix<f64>> {
    let d = x.ncols();
    let mut values = Vec::new();
    let mut n = 0usize;
    for i in rows {
        values.extend(x.row(i).iter().map(|v| v.to_f64()));
        n += 1;
    }
    DenseMatrix::new(n, d, values, false)
        .map_err(|e| Error::InvalidInput(format!("cannot build the feature matrix: {e}")))
}

/// `k` distinct elements of `pool`, uniformly (partial Fisher-Yates).
fn draw_without_replacement(rng: &mut Xoshiro256PlusPlus, pool: &[usize], k: usize) -> Vec<usize> {
    let mut pool = pool.to_vec();
    for i in 0..k.min(pool.len()) {
        let j = rng.random_range(i as u64..pool.len() as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(k);
    pool
}

/// Training rows (indices into `y`, ascending, repeats for oversampled rows) and optional row weights.
fn balance_rows(
    y: &[bool],
    balance: Balance,
    rng: &mut Xoshiro256PlusPlus,
) -> (Vec<usize>, Option<Vec<f64>>) {
    let n = y.len();
    let positives = y.iter().filter(|&&v| v).count();
    let minority_label = positives <= n - positives;
    let minority: Vec<usize> = (0..n).filter(|&i| y[i] == minority_label).collect();
    let majority: Vec<usize> = (0..n).filter(|&i| y[i] != minority_label).collect();
    let (n_min, n_maj) = (minority.len(), majority.len());
    match balance {
        Balance::None => ((0..n).collect(), None),
        Balance::Undersample { ratio } => {
            let keep = ((n_min as f64 / ratio).ceil() as usize).max(1);
            if keep >= n_maj {
                return ((0..n).collect(), None);
            }
            let mut rows = draw_without_replacement(rng, &majority, keep);
            rows.extend_from_slice(&minority);
            rows.sort_unstable();
            (rows, None)
        }
        Balance::Oversample { ratio } => {
            let target = (ratio * n_maj as f64).ceil() as usize;
            let mut rows: Vec<usize> = (0..n).collect();
            for _ in n_min..target {
                rows.push(minority[rng.random_range(0..n_min as u64) as usize]);
            }
            rows.sort_unstable();
            (rows, None)
        }
        Balance::ClassWeight => {
            let w_pos = n as f64 / (2.0 * positives as f64);
            let w_neg = n as f64 / (2.0 * (n - positives) as f64);
            let w = y.iter().map(|&v| if v { w_pos } else { w_neg }).collect();
            ((0..n).collect(), Some(w))
        }
    }
}

#[inline]
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + libm::exp(-z))
    } else {
        let e = libm::exp(z);
        e / (1.0 + e)
    }
}

impl SupervisedModel {
    /// A new, unfitted model; the parameters are validated here.
    pub fn new(params: SupervisedParams) -> Result<Self> {
        params.validate()?;
        Ok(SupervisedModel {
            params,
            fitted: None,
        })
    }

    /// The hyper-parameters.
    pub fn params(&self) -> &SupervisedParams {
        &self.params
    }

    /// Whether [`fit`](Self::fit) has run (or the model was loaded fitted).
    pub fn is_fitted(&self) -> bool {
        self.fitted.is_some()
    }

    fn state(&self, what: &'static str) -> Result<&FittedState> {
        self.fitted.as_ref().ok_or(Error::NotFitted(what))
    }

    /// Fit on `x` (rows = samples) and `y` (`true` = fraud), replacing any previous fit.
    pub fn fit<T: Scalar>(&mut self, x: ArrayView2<'_, T>, y: &[bool]) -> Result<()> {
        self.params.validate()?;
        let (n, d) = x.dim();
        if n == 0 {
            return Err(Error::EmptyInput(format!(
                "X has 0 rows (shape ({n}, {d})): at least 2 (one per class) are required"
            )));
        }
        if d == 0 {
            return Err(Error::EmptyInput(format!(
                "X has 0 columns (shape ({n}, {d})): at least 1 feature is required"
            )));
        }
        if y.len() != n {
            return Err(Error::ShapeMismatch(format!(
                "y has {} labels but X has {n} rows",
                y.len()
            )));
        }
        let positives = y.iter().filter(|&&v| v).count();
        if positives == 0 || positives == n {
            return Err(Error::SingleClass {
                present: if positives == 0 { "non-fraud" } else { "fraud" },
                rows: n,
            });
        }
        check_finite(&x)?;
        let seed = match self.params.random_state {
            Some(s) => s,
            None => getrandom::u64().map_err(|e| {
                Error::InvalidInput(format!("cannot draw a random seed from the OS: {e}"))
            })?,
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let forest_seed: u64 = rng.random();
        let (rows, weights) = balance_rows(y, self.params.balance, &mut rng);
        let training_positives = rows.iter().filter(|&&i| y[i]).count();
        let matrix = dense(&x, rows.iter().copied())?;
        let model = match self.params.model {
            ModelSpec::RandomForest {
                n_trees,
                max_depth,
                min_samples_leaf,
                min_samples_split,
                max_features,
            } => {
                let target: Vec<f64> = rows.iter().map(|&i| f64::from(u8::from(y[i]))).collect();
                let p = RandomForestRegressorParameters {
                    max_depth: max_depth.map(|m| m as u16),
                    min_samples_leaf,
                    min_samples_split,
                    n_trees,
                    m: Some(max_features.resolve(d)?),
                    keep_samples: false,
                    seed: forest_seed,
                };
                let forest = match &weights {
                    None => Forest::fit(&matrix, &target, p),
                    Some(w) => Forest::fit_with_weights(&matrix, &target, w, p),
                }
                .map_err(|e| Error::InvalidInput(format!("random forest fit failed: {e}")))?;
                Fitted::RandomForest(forest)
            }
            ModelSpec::LogisticRegression { alpha } => {
                let target: Vec<i32> = rows.iter().map(|&i| i32::from(y[i])).collect();
                let p = LogisticRegressionParameters::default().with_alpha(alpha);
                let lr = LogisticRegression::fit(&matrix, &target, p).map_err(|e| {
                    Error::InvalidInput(format!("logistic regression fit failed: {e}"))
                })?;
                let coef: Vec<f64> = (0..d).map(|j| *lr.coefficients().get((0, j))).collect();
                let intercept = *lr.intercept().get((0, 0));
                if !(coef.iter().all(|c| c.is_finite()) && intercept.is_finite()) {
                    return Err(Error::InvalidInput(
                        "logistic regression diverged (non-finite coefficients): standardise \
                         the features or raise alpha"
                            .into(),
                    ));
                }
                Fitted::LogisticRegression { coef, intercept }
            }
        };
        self.fitted = Some(FittedState {
            n_features_in: d,
            seed,
            training_rows: rows.len(),
            training_positives,
            model,
        });
        Ok(())
    }

    /// The probability of fraud for each row of `x`, in `[0, 1]`.
    pub fn predict_proba<T: Scalar>(&self, x: ArrayView2<'_, T>) -> Result<Array1<f64>> {
        let f = self.state("predict_proba")?;
        let (n, d) = x.dim();
        if d != f.n_features_in {
            return Err(Error::ShapeMismatch(format!(
                "X has {d} features, but the model was fitted with {} features",
                f.n_features_in
            )));
        }
        check_finite(&x)?;
        if n == 0 {
            return Ok(Array1::zeros(0));
        }
        match &f.model {
            Fitted::RandomForest(forest) => {
                let m = dense(&x, 0..n)?;
                let p = forest
                    .predict(&m)
                    .map_err(|e| Error::InvalidInput(format!("random forest predict: {e}")))?;
                Ok(Array1::from(p))
            }
            Fitted::LogisticRegression { coef, intercept } => Ok(x
                .outer_iter()
                .map(|row| {
                    let z = row
                        .iter()
                        .zip(coef)
                        .fold(*intercept, |acc, (&v, &c)| acc + v.to_f64() * c);
                    sigmoid(z)
                })
                .collect()),
        }
    }

    /// `true` (fraud) where [`predict_proba`](Self::predict_proba) is above 0.5.
    pub fn predict<T: Scalar>(&self, x: ArrayView2<'_, T>) -> Result<Array1<bool>> {
        Ok(self.predict_proba(x)?.mapv(|p| p > 0.5))
    }

    /// Number of features seen during fit.
    pub fn n_features_in(&self) -> Result<usize> {
        Ok(self.state("n_features_in")?.n_features_in)
    }

    /// The seed of the fit (drawn from the OS when `random_state` was `None`).
    pub fn seed(&self) -> Result<u64> {
        Ok(self.state("seed")?.seed)
    }

    /// Rows and fraud rows the model was trained on, after balancing.
    pub fn training_counts(&self) -> Result<(usize, usize)> {
        let f = self.state("training_counts")?;
        Ok((f.training_rows, f.training_positives))
    }

    /// Random forest: mean decrease in impurity per feature, normalised to sum to 1 (smartcore's
    /// computation). Refused for a logistic regression (see [`coefficients`](Self::coefficients)).
    pub fn feature_importances(&self) -> Result<Array1<f64>> {
        match &self.state("feature_importances")?.model {
            Fitted::RandomForest(forest) => forest
                .compute_feature_importances()
                .map(Array1::from)
                .map_err(|e| Error::InvalidInput(format!("feature importances: {e}"))),
            Fitted::LogisticRegression { .. } => Err(Error::InvalidInput(
                "feature_importances is defined for random forests only; a logistic regression \
                 has coefficients"
                    .into(),
            )),
        }
    }

    /// Logistic regression: the coefficients (one per feature) and the intercept. Refused for a
    /// random forest.
    pub fn coefficients(&self) -> Result<(Array1<f64>, f64)> {
        match &self.state("coefficients")?.model {
            Fitted::LogisticRegression { coef, intercept } => {
                Ok((Array1::from(coef.clone()), *intercept))
            }
            Fitted::RandomForest(_) => Err(Error::InvalidInput(
                "coefficients are defined for logistic regression only; a random forest has \
                 feature_importances"
                    .into(),
            )),
        }
    }

    /// Serialise into the artifact envelope (see [`crate::model`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        model::encode(
            ArtifactKind::Supervised,
            &PayloadRef {
                params: &self.params,
                state: self.fitted.as_ref(),
            },
        )
    }

    /// Load from artifact bytes, checking the envelope, the parameters and the fitted model.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let p: Payload = model::decode(ArtifactKind::Supervised, bytes)?;
        p.params
            .validate()
            .map_err(|e| ArtifactError::Malformed(format!("stored parameters: {e}")))?;
        if let Some(s) = &p.state {
            check_state(&p.params, s).map_err(ArtifactError::Malformed)?;
        }
        Ok(SupervisedModel {
            params: p.params,
            fitted: p.state,
        })
    }

    /// Write the artifact to `path` atomically.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        model::write_atomic(path, &self.to_bytes()?)
    }

    /// Read an artifact file written by [`save`](Self::save) (or any `to_bytes` output).
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        Self::from_bytes(&model::read_file(path)?)
    }
}

/// The parts of smartcore's serialised forest that prediction relies on (read by field name from
/// its serde form, so the check does not depend on private types).
#[derive(Deserialize)]
struct ForestView {
    forest_regressor: Option<BaseForestView>,
}

#[derive(Deserialize)]
struct BaseForestView {
    trees: Option<Vec<TreeView>>,
    num_features: Option<usize>,
}

#[derive(Deserialize)]
struct TreeView {
    nodes: Vec<NodeView>,
}

#[derive(Deserialize)]
struct NodeView {
    /// `None` when the stored value was not finite (JSON has no NaN).
    output: Option<f64>,
    split_feature: usize,
    true_child: Option<usize>,
    false_child: Option<usize>,
}

/// Check a decoded fitted state: everything prediction and importances index must be in range, and
/// every tree walk must end (children come after their parent).
fn check_state(params: &SupervisedParams, s: &FittedState) -> Result<(), String> {
    let d = s.n_features_in;
    if d == 0 {
        return Err("n_features_in is 0".into());
    }
    if s.training_positives > s.training_rows {
        return Err("more training positives than training rows".into());
    }
    match (&params.model, &s.model) {
        (ModelSpec::LogisticRegression { .. }, Fitted::LogisticRegression { coef, intercept }) => {
            if coef.len() != d {
                return Err(format!("{} coefficients for {d} features", coef.len()));
            }
            if !(coef.iter().all(|c| c.is_finite()) && intercept.is_finite()) {
                return Err("non-finite coefficient".into());
            }
            Ok(())
        }
        (ModelSpec::RandomForest { .. }, Fitted::RandomForest(forest)) => {
            let value = serde_json::to_value(forest).map_err(|e| format!("forest: {e}"))?;
            let view: ForestView =
                serde_json::from_value(value).map_err(|e| format!("forest: {e}"))?;
            let base = view.forest_regressor.ok_or("forest is not fitted")?;
            if base.num_features != Some(d) {
                return Err(format!(
                    "forest has {:?} features, the model {d}",
                    base.num_features
                ));
            }
            let trees = base.trees.ok_or("forest has no trees")?;
            if trees.is_empty() {
                return Err("forest has no trees".into());
            }
            for (t, tree) in trees.iter().enumerate() {
                let len = tree.nodes.len();
                if len == 0 {
                    return Err(format!("tree {t} has no nodes"));
                }
                for (i, node) in tree.nodes.iter().enumerate() {
                    let bad = |what: &str| format!("tree {t}, node {i}: {what}");
                    if node.split_feature >= d {
                        return Err(bad("split feature out of range"));
                    }
                    match node.output {
                        Some(v) if (0.0..=1.0).contains(&v) => {}
                        _ => return Err(bad("leaf value is not a probability")),
                    }
                    match (node.true_child, node.false_child) {
                        (None, None) => {}
                        (Some(a), Some(b)) if a > i && b > i && a < len && b < len => {}
                        _ => return Err(bad("invalid child index")),
                    }
                }
            }
            Ok(())
        }
        (p, _) => Err(format!(
            "the stored model does not match the stored parameters ({})",
            p.name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::roc_auc;
    use ndarray::Array2;

    /// `n` rows, 6 features, one fraud row in every `1 / rate`; fraud shifts features 0-2 by 1.8 standard
    /// deviations (separable-ish: the best AUC is about 0.98), features 3-5 are noise.
    fn dataset(n: usize, rate: f64, seed: u64) -> (Array2<f64>, Vec<bool>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut normal = move || {
            // Box-Muller.
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        };
        let period = (1.0 / rate).round() as usize;
        let y: Vec<bool> = (0..n).map(|i| i % period == period - 1).collect();
        let x = Array2::from_shape_fn((n, 6), |(i, j)| {
            let shift = if y[i] && j < 3 { 1.8 } else { 0.0 };
            normal() + shift
        });
        (x, y)
    }

    fn fit(params: SupervisedParams, x: &Array2<f64>, y: &[bool]) -> SupervisedModel {
        let mut m = SupervisedModel::new(params).unwrap();
        m.fit(x.view(), y).unwrap();
        m
    }

    fn recall(model: &SupervisedModel, x: &Array2<f64>, y: &[bool]) -> f64 {
        let pred = model.predict(x.view()).unwrap();
        let tp = pred.iter().zip(y).filter(|&(&p, &t)| p && t).count();
        tp as f64 / y.iter().filter(|&&t| t).count() as f64
    }

    fn rf(n_trees: usize) -> ModelSpec {
        ModelSpec::random_forest().n_trees(n_trees)
    }

    #[test]
    fn dataset_is_imbalanced() {
        let (_, y) = dataset(5000, 0.02, 1);
        assert_eq!(y.iter().filter(|&&v| v).count(), 100);
    }

    #[test]
    fn both_models_rank_fraud_well() {
        let (x, y) = dataset(5000, 0.02, 1);
        let (xt, yt) = dataset(5000, 0.02, 2);
        for model in [rf(100), ModelSpec::logistic_regression(1.0)] {
            for balance in [Balance::None, Balance::Undersample { ratio: 1.0 }] {
                let name = format!("{model:?} {balance:?}");
                let params = SupervisedParams::default()
                    .model(model.clone())
                    .balance(balance)
                    .random_state(3);
                let m = fit(params, &x, &y);
                let p = m.predict_proba(xt.view()).unwrap();
                assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)), "{name}");
                let auc = roc_auc(&yt, p.as_slice().unwrap()).unwrap();
                assert!(auc > 0.9, "{name}: AUC {auc}");
            }
        }
    }

    #[test]
    fn balancing_raises_minority_recall() {
        let (x, y) = dataset(4000, 0.02, 5);
        let (xt, yt) = dataset(4000, 0.02, 6);
        let cases = [
            (rf(60), Balance::Undersample { ratio: 1.0 }),
            (rf(60), Balance::ClassWeight),
            (
                ModelSpec::logistic_regression(1.0),
                Balance::Undersample { ratio: 1.0 },
            ),
            (
                ModelSpec::logistic_regression(1.0),
                Balance::Oversample { ratio: 1.0 },
            ),
        ];
        for (model, balance) in cases {
            let base = SupervisedParams::default()
                .model(model.clone())
                .random_state(11);
            let plain = fit(base.clone().balance(Balance::None), &x, &y);
            let balanced = fit(base.balance(balance), &x, &y);
            let (r0, r1) = (recall(&plain, &xt, &yt), recall(&balanced, &xt, &yt));
            assert!(r1 > r0 + 0.1, "{model:?} {balance:?}: recall {r0} -> {r1}");
        }
        // A milder ratio keeps more majority rows and sits in between.
        let lr = SupervisedParams::default()
            .model(ModelSpec::logistic_regression(1.0))
            .random_state(11);
        let r_half = recall(
            &fit(
                lr.clone().balance(Balance::Undersample { ratio: 0.1 }),
                &x,
                &y,
            ),
            &xt,
            &yt,
        );
        let r_full = recall(
            &fit(lr.balance(Balance::Undersample { ratio: 1.0 }), &x, &y),
            &xt,
            &yt,
        );
        assert!(r_half < r_full, "{r_half} {r_full}");
    }

    #[test]
    fn resampling_hits_the_ratio() {
        let (x, y) = dataset(1000, 0.02, 7);
        let base = SupervisedParams::default()
            .model(ModelSpec::logistic_regression(1.0))
            .random_state(1);
        let m = fit(base.clone().balance(Balance::None), &x, &y);
        assert_eq!(m.training_counts().unwrap(), (1000, 20));
        let m = fit(
            base.clone().balance(Balance::Undersample { ratio: 1.0 }),
            &x,
            &y,
        );
        assert_eq!(m.training_counts().unwrap(), (40, 20));
        let m = fit(
            base.clone().balance(Balance::Undersample { ratio: 0.5 }),
            &x,
            &y,
        );
        assert_eq!(m.training_counts().unwrap(), (60, 20));
        let m = fit(base.balance(Balance::Oversample { ratio: 0.5 }), &x, &y);
        assert_eq!(m.training_counts().unwrap(), (1000 + 490 - 20, 490));
    }

    #[test]
    fn deterministic_for_a_seed() {
        let (x, y) = dataset(1500, 0.02, 9);
        let params = SupervisedParams::default().model(rf(30)).random_state(42);
        let a = fit(params.clone(), &x, &y);
        let b = fit(params.clone(), &x, &y);
        assert_eq!(a.to_bytes().unwrap(), b.to_bytes().unwrap());
        assert_eq!(
            a.predict_proba(x.view()).unwrap(),
            b.predict_proba(x.view()).unwrap()
        );
        let c = fit(params.random_state(43), &x, &y);
        assert_ne!(
            a.predict_proba(x.view()).unwrap(),
            c.predict_proba(x.view()).unwrap()
        );
        // An OS-drawn seed is recorded and reproduces the model.
        let mut d = SupervisedModel::new(SupervisedParams::default().model(rf(30))).unwrap();
        d.fit(x.view(), &y).unwrap();
        let again = fit(
            SupervisedParams::default()
                .model(rf(30))
                .random_state(d.seed().unwrap()),
            &x,
            &y,
        );
        assert_eq!(
            d.predict_proba(x.view()).unwrap(),
            again.predict_proba(x.view()).unwrap()
        );
    }

    #[test]
    fn round_trip_is_bit_identical() {
        let (x, y) = dataset(1500, 0.02, 12);
        let x32 = x.mapv(|v| v as f32);
        for model in [rf(25), ModelSpec::logistic_regression(0.3)] {
            for balance in [Balance::Oversample { ratio: 0.3 }, Balance::None] {
                let m = fit(
                    SupervisedParams::default()
                        .model(model.clone())
                        .balance(balance)
                        .random_state(5),
                    &x,
                    &y,
                );
                let bytes = m.to_bytes().unwrap();
                let back = SupervisedModel::from_bytes(&bytes).unwrap();
                assert_eq!(back.to_bytes().unwrap(), bytes);
                assert_eq!(back.params(), m.params());
                let (p, q) = (
                    m.predict_proba(x.view()).unwrap(),
                    back.predict_proba(x.view()).unwrap(),
                );
                assert!(p.iter().zip(&q).all(|(a, b)| a.to_bits() == b.to_bits()));
                assert_eq!(
                    m.predict_proba(x32.view()).unwrap(),
                    back.predict_proba(x32.view()).unwrap()
                );
            }
        }
        // An unfitted model round-trips too.
        let m = SupervisedModel::new(SupervisedParams::default()).unwrap();
        let back = SupervisedModel::from_bytes(&m.to_bytes().unwrap()).unwrap();
        assert!(!back.is_fitted());
        assert_eq!(back.params(), m.params());
    }

    #[test]
    fn importances_and_coefficients() {
        let (x, y) = dataset(2000, 0.02, 13);
        let m = fit(
            SupervisedParams::default().model(rf(40)).random_state(1),
            &x,
            &y,
        );
        let imp = m.feature_importances().unwrap();
        assert_eq!(imp.len(), 6);
        assert!((imp.sum() - 1.0).abs() < 1e-9);
        // The three informative features carry most of the importance.
        assert!(imp[0] + imp[1] + imp[2] > 0.6, "{imp}");
        assert!(m.coefficients().is_err());
        let m = fit(
            SupervisedParams::default()
                .model(ModelSpec::logistic_regression(1.0))
                .balance(Balance::None),
            &x,
            &y,
        );
        let (coef, _) = m.coefficients().unwrap();
        assert!(coef[0] > 0.5 && coef[3].abs() < 0.5, "{coef}");
        assert!(m.feature_importances().is_err());
    }

    #[test]
    fn corrupted_bytes_give_typed_errors() {
        let (x, y) = dataset(600, 0.05, 14);
        let m = fit(
            SupervisedParams::default().model(rf(5)).random_state(1),
            &x,
            &y,
        );
        let bytes = m.to_bytes().unwrap();
        for n in [0, 10, 27, bytes.len() / 2, bytes.len() - 1] {
            let e = SupervisedModel::from_bytes(&bytes[..n]).unwrap_err();
            assert!(matches!(e, Error::Artifact(_)), "{n}: {e}");
        }
        for i in (0..bytes.len()).step_by(97) {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            let e = SupervisedModel::from_bytes(&b).unwrap_err();
            assert!(matches!(e, Error::Artifact(_)), "{i}: {e}");
        }
        // Another kind of artifact.
        let other = model::encode(ArtifactKind::IsolationForest, &1u8).unwrap();
        assert!(matches!(
            SupervisedModel::from_bytes(&other).unwrap_err(),
            Error::Artifact(ArtifactError::WrongKind { .. })
        ));
    }

    /// A payload with a valid checksum whose trees would index out of range or loop is refused.
    #[test]
    fn crafted_payload_is_refused() {
        let (x, y) = dataset(600, 0.05, 15);
        let m = fit(
            SupervisedParams::default().model(rf(3)).random_state(1),
            &x,
            &y,
        );
        let Fitted::RandomForest(forest) = &m.fitted.as_ref().unwrap().model else {
            unreachable!()
        };
        let json = serde_json::to_value(forest).unwrap();
        let tamper = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = json.clone();
            f(&mut v["forest_regressor"]["trees"][0]["nodes"][0]);
            let forest: Forest = serde_json::from_value(v).unwrap();
            let s = m.fitted.as_ref().unwrap();
            let state = FittedState {
                n_features_in: s.n_features_in,
                seed: s.seed,
                training_rows: s.training_rows,
                training_positives: s.training_positives,
                model: Fitted::RandomForest(forest),
            };
            let bytes = model::encode(
                ArtifactKind::Supervised,
                &PayloadRef {
                    params: m.params(),
                    state: Some(&state),
                },
            )
            .unwrap();
            SupervisedModel::from_bytes(&bytes).unwrap_err()
        };
        for e in [
            tamper(&|n| n["true_child"] = 0.into()),
            tamper(&|n| n["false_child"] = 100_000.into()),
            tamper(&|n| n["false_child"] = serde_json::Value::Null),
            tamper(&|n| n["split_feature"] = 6.into()),
            tamper(&|n| n["output"] = 2.5.into()),
        ] {
            assert!(
                matches!(e, Error::Artifact(ArtifactError::Malformed(_))),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_input_is_refused() {
        let (x, y) = dataset(300, 0.05, 16);
        let params = SupervisedParams::default().model(rf(5)).random_state(1);
        let mut m = SupervisedModel::new(params).unwrap();
        assert_eq!(
            m.predict_proba(x.view()).unwrap_err(),
            Error::NotFitted("predict_proba")
        );
        assert!(matches!(
            m.fit(Array2::<f64>::zeros((0, 6)).view(), &[]),
            Err(Error::EmptyInput(_))
        ));
        assert!(matches!(
            m.fit(Array2::<f64>::zeros((3, 0)).view(), &[true, false, true]),
            Err(Error::EmptyInput(_))
        ));
        assert!(matches!(
            m.fit(x.view(), &y[..299]),
            Err(Error::ShapeMismatch(_))
        ));
        let e = m.fit(x.view(), &vec![false; 300]).unwrap_err();
        assert_eq!(
            e,
            Error::SingleClass {
                present: "non-fraud",
                rows: 300
            }
        );
        assert!(e.to_string().contains("both classes"), "{e}");
        assert!(matches!(
            m.fit(x.view(), &vec![true; 300]),
            Err(Error::SingleClass {
                present: "fraud",
                ..
            })
        ));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut xb = x.clone();
            xb[[17, 4]] = bad;
            match m.fit(xb.view(), &y).unwrap_err() {
                Error::NonFiniteValue { row, column, .. } => assert_eq!((row, column), (17, 4)),
                e => panic!("{e}"),
            }
        }
        assert!(!m.is_fitted());
        m.fit(x.view(), &y).unwrap();
        assert_eq!(m.n_features_in().unwrap(), 6);
        let e = m
            .predict_proba(Array2::<f64>::zeros((2, 5)).view())
            .unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch(_)), "{e}");
        assert!(e.to_string().contains("5 features"), "{e}");
        let mut xb = x.clone();
        xb[[3, 1]] = f64::NAN;
        assert!(matches!(
            m.predict_proba(xb.view()),
            Err(Error::NonFiniteValue {
                row: 3,
                column: 1,
                ..
            })
        ));
        assert_eq!(
            m.predict_proba(Array2::<f64>::zeros((0, 6)).view())
                .unwrap()
                .len(),
            0
        );
        // max_features larger than the data.
        let mut m = SupervisedModel::new(
            SupervisedParams::default().model(rf(5).max_features(TreeMaxFeatures::Count(7))),
        )
        .unwrap();
        let e = m.fit(x.view(), &y).unwrap_err();
        assert!(e.to_string().contains("max_features"), "{e}");
    }

    #[test]
    fn bad_params_name_the_value() {
        let cases: [(SupervisedParams, &str, &str); 10] = [
            (
                SupervisedParams::default().model(rf(0)),
                "n_estimators",
                "0",
            ),
            (
                SupervisedParams::default().model(rf(10).max_depth(Some(0))),
                "max_depth",
                "0",
            ),
            (
                SupervisedParams::default().model(rf(10).max_depth(Some(70_000))),
                "max_depth",
                "70000",
            ),
            (
                SupervisedParams::default().model(rf(10).min_samples_leaf(0)),
                "min_samples_leaf",
                "0",
            ),
            (
                SupervisedParams::default().model(rf(10).min_samples_split(1)),
                "min_samples_split",
                "1",
            ),
            (
                SupervisedParams::default()
                    .model(rf(10).max_features(TreeMaxFeatures::Fraction(1.5))),
                "max_features",
                "1.5",
            ),
            (
                SupervisedParams::default().model(ModelSpec::logistic_regression(-1.0)),
                "alpha",
                "-1",
            ),
            (
                SupervisedParams::default().model(ModelSpec::logistic_regression(f64::NAN)),
                "alpha",
                "NaN",
            ),
            (
                SupervisedParams::default().balance(Balance::Oversample { ratio: 0.0 }),
                "sampling_ratio",
                "0",
            ),
            (
                SupervisedParams::default()
                    .model(ModelSpec::logistic_regression(1.0))
                    .balance(Balance::ClassWeight),
                "balance",
                "class_weight",
            ),
        ];
        for (p, name, value) in cases {
            match SupervisedModel::new(p).unwrap_err() {
                Error::InvalidParameter {
                    name: n, value: v, ..
                } => assert_eq!((n, v.as_str()), (name, value)),
                e => panic!("{e}"),
            }
        }
    }

    #[test]
    fn max_features_resolution() {
        assert_eq!(TreeMaxFeatures::Sqrt.resolve(10).unwrap(), 3);
        assert_eq!(TreeMaxFeatures::Log2.resolve(10).unwrap(), 3);
        assert_eq!(TreeMaxFeatures::Log2.resolve(1).unwrap(), 1);
        assert_eq!(TreeMaxFeatures::Fraction(1.0).resolve(7).unwrap(), 7);
        assert_eq!(TreeMaxFeatures::Fraction(0.01).resolve(7).unwrap(), 1);
        assert_eq!(TreeMaxFeatures::Count(4).resolve(7).unwrap(), 4);
    }
}
