//! Isolation forest (Liu, Ting, Zhou 2008) with scikit-learn's semantics, built for speed.
//!
//! * Training: per tree, `max_samples` rows drawn without replacement (with, if `bootstrap`), then
//!   `max_features` features; each node splits on a feature drawn uniformly among those that are not
//!   constant on the node, at a threshold uniform between the node's min and max; growth stops at
//!   height `ceil(log2(max_samples))`, at one row, or when every feature is constant (duplicate rows).
//!   Leaves keep their row count for the c(n) correction.
//! * Scores: `s = 2^(-E[h(x)] / c(max_samples))` with `h = depth + c(leaf size)`;
//!   `score_samples = -s` (higher = more normal, in `[-1, 0]`), `decision_function = score_samples -
//!   offset_`, `predict` = 1 (inlier) when `decision_function >= 0`, else -1.
//! * c(n) is scikit-learn's approximation `2 (ln(n-1) + 0.5772...) - 2 (n-1)/n`, not the exact
//!   harmonic number (see scikit-learn issue #15724), so scores match scikit-learn's definition.
//! * Precision: like scikit-learn, inputs are rounded to float32 before comparison. NaN, infinities
//!   and values beyond the float32 range are refused with a typed error naming row and column
//!   (scikit-learn raises a `ValueError` for them too).
//! * Determinism: tree `i` is grown from its own generator seeded by `(random_state, i)`, so the same
//!   seed gives the same model bytes and scores whatever `n_jobs` is, and a warm-started forest equals
//!   one fitted with all its trees at once on the same data.
//! * Sample weights (scikit-learn >= 1.8): rows are drawn with probability proportional to their
//!   weight; zero-weight rows are never drawn, and without bootstrap `max_samples` is capped at the
//!   number of rows with positive weight.
//! * Size: with `max_samples <= 4096` each tree is stored padded for scoring, `16 * 2^L` bytes per tree
//!   (`L = ceil(log2(max_samples))`): 4 KiB per tree, 400 KiB for the default 100 trees x 256 rows.
//!   The serialised artifact stores only the real nodes (about 14 bytes per node, ~2 x max_samples
//!   nodes per tree): about 250 KiB for the default forest on continuous data.
//!
//! ```
//! use fraud_core::detectors::iforest::{IsolationForest, IsolationForestParams};
//! use ndarray::Array2;
//!
//! let mut x = Array2::from_shape_fn((500, 2), |(i, j)| ((i * 37 + j * 11) % 100) as f64 / 100.0);
//! x[[499, 0]] = 25.0; // one far outlier
//! let mut forest = IsolationForest::new(IsolationForestParams::default().random_state(0))?;
//! forest.fit(x.view())?;
//! let scores = forest.score_samples(x.view())?;
//! let lowest = scores.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
//! assert_eq!(lowest, 499);
//! assert_eq!(forest.score_one(&[25.0, 0.74])?, scores[499]);
//! let restored = IsolationForest::from_bytes(&forest.to_bytes()?)?;
//! assert_eq!(restored.score_samples(x.view())?, scores);
//! # Ok::<(), fraud_core::Error>(())
//! ```

mod explain;
mod layout;
mod params;
mod tree;

use std::sync::OnceLock;

use ndarray::{Array1, ArrayView1, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use explain::ExplainScratch;
pub use params::{Contamination, IsolationForestParams, MaxFeatures, MaxSamples};
pub use tree::{average_path_length, height_limit};

use crate::data::{Scalar, non_finite, order_key};
use crate::error::{ArtifactError, Error, Result};
use crate::model::{self, ArtifactKind};
use layout::{LANES, Layout};
use tree::Tree;

/// Most rows converted to keys at a time in batch scoring.
const BLOCK_ROWS: usize = 256;
/// Key bytes per block the block size aims at (wide rows get fewer rows per block, so a block's keys
/// stay in L1/L2 while every tree runs over it).
const BLOCK_KEY_BYTES: usize = 32 * 1024;
/// Most rows handed to one parallel task (fewer for small batches, so every thread gets work).
const TASK_ROWS: usize = 4096;

/// An isolation forest: hyper-parameters plus, once fitted, the trees.
#[derive(Debug, Clone)]
pub struct IsolationForest {
    params: IsolationForestParams,
    fitted: Option<Fitted>,
}

#[derive(Debug, Clone)]
struct Fitted {
    state: FittedState,
    layout: Layout,
    /// Per-node explanation credits for the padded layout (see [`Layout::build_credits`]), built on
    /// the first explanation (not serialised; `None` inside for the compact layout).
    credits: OnceLock<Option<Vec<f64>>>,
}

/// What is serialised: everything needed to rebuild the scoring layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FittedState {
    n_features_in: usize,
    feature_names: Option<Vec<String>>,
    max_samples: usize,
    offset: f64,
    seed: u64,
    trees: Vec<Tree>,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    params: IsolationForestParams,
    state: Option<FittedState>,
}

/// The JSON export of one tree (see [`IsolationForest::to_json`]).
#[derive(Serialize)]
struct JsonTree<'a> {
    feature: &'a [u32],
    threshold: &'a [f32],
    left: &'a [u32],
    size: &'a [u32],
}

fn tree_seed(base: u64, index: usize) -> u64 {
    // SplitMix64 finaliser of (base, index): independent streams per tree.
    let mut z = base
        ^ (index as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn run_in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R> {
    if threads == 0 {
        return Ok(f());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::InvalidInput(format!("cannot start {threads} worker threads: {e}")))?;
    Ok(pool.install(f))
}

/// Convert a matrix to row-major float32, refusing non-finite values (first in row-major order).
fn to_f32_rows<T: Scalar>(x: &ArrayView2<'_, T>) -> Result<Vec<f32>> {
    let (n, d) = x.dim();
    let mut out = Vec::with_capacity(n * d);
    for (i, row) in x.outer_iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            out.push(
                v.to_f32_checked()
                    .ok_or_else(|| non_finite(i, j, v.to_f64()))?,
            );
        }
    }
    Ok(out)
}

/// numpy's default (linear) percentile of `values`, `q` in [0, 100].
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let pos = (v.len() - 1) as f64 * (q / 100.0);
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    let t = pos - lo as f64;
    let (a, b) = (v[lo], v[hi]);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Draw `k` distinct indices of `0..n` uniformly (Floyd's algorithm). The set of drawn indices is
/// a small open-addressing table (at most half full), much cheaper than a `HashSet` for 256 draws.
fn sample_without_replacement(rng: &mut Xoshiro256PlusPlus, n: usize, k: usize) -> Vec<usize> {
    if k == n {
        return (0..n).collect();
    }
    let mask = (2 * k).next_power_of_two().max(2) - 1;
    let mut table = vec![usize::MAX; mask + 1];
    // Inserts `v`; false when it was already present.
    let mut insert = |v: usize| -> bool {
        let mut h = ((v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask;
        loop {
            match table[h] {
                usize::MAX => {
                    table[h] = v;
                    return true;
                }
                x if x == v => return false,
                _ => h = (h + 1) & mask,
            }
        }
    };
    let mut out = Vec::with_capacity(k);
    for j in (n - k)..n {
        let t = rng.random_range(0..=j as u64) as usize;
        let pick = if insert(t) { t } else { j };
        if pick == j {
            insert(j);
        }
        out.push(pick);
    }
    out
}

/// Draw `k` distinct indices with probability proportional to `w` (Efraimidis-Spirakis keys).
fn weighted_without_replacement(rng: &mut Xoshiro256PlusPlus, w: &[f64], k: usize) -> Vec<usize> {
    let mut keyed: Vec<(f64, usize)> = w
        .iter()
        .enumerate()
        .filter(|(_, wi)| **wi > 0.0)
        .map(|(i, wi)| {
            let u: f64 = rng.random();
            // ln(u) / w, larger is better; u in [0, 1) so use 1 - u in (0, 1].
            (libm::log(1.0 - u) / wi, i)
        })
        .collect();
    let k = k.min(keyed.len());
    keyed.select_nth_unstable_by(k.saturating_sub(1), |a, b| b.0.total_cmp(&a.0));
    keyed.truncate(k);
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Draw `k` indices with replacement with probability proportional to `w`.
fn weighted_with_replacement(
    rng: &mut Xoshiro256PlusPlus,
    cumulative: &[f64],
    k: usize,
) -> Vec<usize> {
    let total = *cumulative.last().expect("non-empty");
    (0..k)
        .map(|_| {
            let u: f64 = rng.random::<f64>() * total;
            cumulative
                .partition_point(|&c| c <= u)
                .min(cumulative.len() - 1)
        })
        .collect()
}

impl IsolationForest {
    /// A new, unfitted forest; the parameters are validated here.
    pub fn new(params: IsolationForestParams) -> Result<Self> {
        params.validate()?;
        Ok(IsolationForest {
            params,
            fitted: None,
        })
    }

    /// The hyper-parameters.
    pub fn params(&self) -> &IsolationForestParams {
        &self.params
    }

    /// Replace the hyper-parameters (validated); a fitted model keeps its trees until the next fit.
    pub fn set_params(&mut self, params: IsolationForestParams) -> Result<()> {
        params.validate()?;
        self.params = params;
        Ok(())
    }

    /// Whether [`fit`](Self::fit) has run.
    pub fn is_fitted(&self) -> bool {
        self.fitted.is_some()
    }

    fn state(&self, what: &'static str) -> Result<&Fitted> {
        self.fitted.as_ref().ok_or(Error::NotFitted(what))
    }

    /// Fit on `x` (rows = samples). See [`fit_weighted`](Self::fit_weighted).
    pub fn fit<T: Scalar>(&mut self, x: ArrayView2<'_, T>) -> Result<()> {
        self.fit_weighted(x, None)
    }

    /// Fit on `x` with optional per-row sampling weights (non-negative, finite, not all zero).
    ///
    /// With `warm_start` and a fitted forest, the existing trees are kept and new trees are grown on
    /// `x` up to `n_estimators`; `offset_` is recomputed on `x`.
    pub fn fit_weighted<T: Scalar>(
        &mut self,
        x: ArrayView2<'_, T>,
        sample_weight: Option<ArrayView1<'_, f64>>,
    ) -> Result<()> {
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
        if d > u32::MAX as usize / LANES {
            return Err(Error::ShapeMismatch(format!(
                "{d} columns is more than this model supports"
            )));
        }
        let weights: Option<Vec<f64>> = match sample_weight {
            None => None,
            Some(w) => {
                if w.len() != n {
                    return Err(Error::ShapeMismatch(format!(
                        "sample_weight has {} entries but X has {n} rows",
                        w.len()
                    )));
                }
                for (i, &wi) in w.iter().enumerate() {
                    if !(wi.is_finite() && wi >= 0.0) {
                        return Err(Error::InvalidInput(format!(
                            "sample_weight[{i}] = {wi}: weights must be finite and >= 0"
                        )));
                    }
                }
                if w.iter().all(|&wi| wi == 0.0) {
                    return Err(Error::InvalidInput(
                        "sample_weight is zero everywhere: no row can be drawn".into(),
                    ));
                }
                Some(w.to_vec())
            }
        };
        let data = to_f32_rows(&x)?;
        let params = self.params.clone();
        let n_drawable = weights
            .as_ref()
            .map_or(n, |w| w.iter().filter(|&&wi| wi > 0.0).count());
        let mut psi = params.resolve_max_samples(n);
        if !params.bootstrap {
            psi = psi.min(n_drawable);
        }
        let m = params.resolve_max_features(d)?;
        let limit = height_limit(psi);

        let (mut trees, seed, start) = match (&self.fitted, params.warm_start) {
            (Some(f), true) => {
                let s = &f.state;
                if s.n_features_in != d {
                    return Err(Error::ShapeMismatch(format!(
                        "warm start: X has {d} features but the forest was fitted with {}",
                        s.n_features_in
                    )));
                }
                if s.max_samples != psi {
                    return Err(Error::InvalidInput(format!(
                        "warm start: max_samples resolves to {psi} on this X but the forest was grown with {}; \
                         use the same max_samples or refit without warm_start",
                        s.max_samples
                    )));
                }
                if params.n_estimators < s.trees.len() {
                    return Err(Error::param(
                        "n_estimators",
                        params.n_estimators,
                        format!(
                            "at least the {} trees already grown when warm_start is true",
                            s.trees.len()
                        ),
                    ));
                }
                (s.trees.clone(), s.seed, s.trees.len())
            }
            _ => {
                let seed = match params.random_state {
                    Some(s) => s,
                    None => getrandom::u64().map_err(|e| {
                        Error::InvalidInput(format!("cannot draw a random seed from the OS: {e}"))
                    })?,
                };
                (Vec::new(), seed, 0)
            }
        };

        let cumulative: Option<Vec<f64>> = weights.as_ref().map(|w| {
            let mut acc = 0.0;
            w.iter()
                .map(|&wi| {
                    acc += wi;
                    acc
                })
                .collect()
        });
        let grow_one = |i: usize| -> Tree {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(tree_seed(seed, i));
            let features = if m == d {
                (0..d).collect()
            } else {
                sample_without_replacement(&mut rng, d, m)
            };
            let rows = match (&weights, params.bootstrap) {
                (None, false) => sample_without_replacement(&mut rng, n, psi),
                (None, true) => (0..psi)
                    .map(|_| rng.random_range(0..n as u64) as usize)
                    .collect(),
                (Some(w), false) => weighted_without_replacement(&mut rng, w, psi),
                (Some(_), true) => weighted_with_replacement(
                    &mut rng,
                    cumulative.as_deref().expect("set with weights"),
                    psi,
                ),
            };
            tree::grow(&data, d, &rows, &features, limit, &mut rng)
        };
        let threads = params.threads();
        let new_trees: Vec<Tree> = if threads == 1 {
            (start..params.n_estimators).map(grow_one).collect()
        } else {
            run_in_pool(threads, || {
                (start..params.n_estimators)
                    .into_par_iter()
                    .map(grow_one)
                    .collect()
            })?
        };
        trees.extend(new_trees);

        let state = FittedState {
            n_features_in: d,
            feature_names: self
                .fitted
                .as_ref()
                .and_then(|f| f.state.feature_names.clone())
                .filter(|_| start > 0),
            max_samples: psi,
            offset: -0.5,
            seed,
            trees,
        };
        let mut fitted =
            Fitted::from_state(state).map_err(|e| Error::InvalidInput(format!("internal: {e}")))?;
        if let Contamination::Fraction(c) = params.contamination {
            let mut scores = vec![0.0; n];
            fitted.score_f32_rows(&data, d, &mut scores, threads)?;
            fitted.state.offset = percentile(&scores, 100.0 * c);
        }
        self.fitted = Some(fitted);
        Ok(())
    }

    /// Opposite of the anomaly score of each row: in `[-1, 0]`, lower = more abnormal.
    pub fn score_samples<T: Scalar>(&self, x: ArrayView2<'_, T>) -> Result<Array1<f64>> {
        let mut out = Array1::zeros(x.nrows());
        self.score_samples_into(x, out.as_slice_mut().expect("contiguous"))?;
        Ok(out)
    }

    /// [`score_samples`](Self::score_samples) into a caller-provided buffer of `x.nrows()` values.
    pub fn score_samples_into<T: Scalar>(
        &self,
        x: ArrayView2<'_, T>,
        out: &mut [f64],
    ) -> Result<()> {
        let f = self.state("score_samples")?;
        f.check_shape(x.dim())?;
        if out.len() != x.nrows() {
            return Err(Error::ShapeMismatch(format!(
                "output has {} slots for {} rows",
                out.len(),
                x.nrows()
            )));
        }
        f.score_matrix(&x, out, self.params.threads())
    }

    /// `score_samples(x) - offset_`: negative for outliers.
    pub fn decision_function<T: Scalar>(&self, x: ArrayView2<'_, T>) -> Result<Array1<f64>> {
        let offset = self.state("decision_function")?.state.offset;
        Ok(self.score_samples(x)? - offset)
    }

    /// -1 for outliers (`decision_function < 0`), 1 for inliers.
    pub fn predict<T: Scalar>(&self, x: ArrayView2<'_, T>) -> Result<Array1<i32>> {
        Ok(self
            .decision_function(x)?
            .mapv(|v| if v < 0.0 { -1 } else { 1 }))
    }

    /// Score one row without allocating: the same value as `score_samples` gives for that row.
    pub fn score_one(&self, row: &[f64]) -> Result<f64> {
        let f = self.state("score_one")?;
        f.check_shape((1, row.len()))?;
        // Keys padded to a power of two (see `path_sum_one`); up to 64 features on the stack.
        let dp = row.len().next_power_of_two();
        let mut stack = [0u32; 64];
        let mut heap;
        let keys: &mut [u32] = if dp <= stack.len() {
            &mut stack[..dp]
        } else {
            heap = vec![0u32; dp];
            &mut heap
        };
        for (j, (k, &v)) in keys.iter_mut().zip(row).enumerate() {
            *k = order_key(v.to_f32_checked().ok_or_else(|| non_finite(0, j, v))?);
        }
        Ok(f.finish(f.layout.path_sum_one(keys)))
    }

    /// The decision threshold: -0.5 for `contamination = Auto`, else the training-score percentile.
    pub fn offset(&self) -> Result<f64> {
        Ok(self.state("offset")?.state.offset)
    }

    /// Number of features seen during fit.
    pub fn n_features_in(&self) -> Result<usize> {
        Ok(self.state("n_features_in")?.state.n_features_in)
    }

    /// The effective number of rows drawn per tree.
    pub fn max_samples_(&self) -> Result<usize> {
        Ok(self.state("max_samples_")?.state.max_samples)
    }

    /// Number of trees grown.
    pub fn n_trees(&self) -> usize {
        self.fitted.as_ref().map_or(0, |f| f.state.trees.len())
    }

    /// The seed the trees were grown from (drawn from the OS when `random_state` was `None`).
    pub fn seed(&self) -> Result<u64> {
        Ok(self.state("seed")?.state.seed)
    }

    /// Column names recorded with the model, if any.
    pub fn feature_names(&self) -> Option<&[String]> {
        self.fitted.as_ref()?.state.feature_names.as_deref()
    }

    /// Record column names (one per feature) with a fitted model; they travel in the artifact.
    pub fn set_feature_names(&mut self, names: Option<Vec<String>>) -> Result<()> {
        let f = self
            .fitted
            .as_mut()
            .ok_or(Error::NotFitted("set_feature_names"))?;
        if let Some(n) = &names
            && n.len() != f.state.n_features_in
        {
            {
                return Err(Error::ShapeMismatch(format!(
                    "{} feature names for {} features",
                    n.len(),
                    f.state.n_features_in
                )));
            }
        }
        f.state.feature_names = names;
        Ok(())
    }

    /// Bytes of memory used by the scoring layout plus the canonical trees, plus the explanation
    /// credits once an explanation has built them (`16 * 2^L` bytes per tree with the padded layout).
    pub fn memory_bytes(&self) -> usize {
        self.fitted.as_ref().map_or(0, |f| {
            f.layout.heap_bytes()
                + f.state.trees.iter().map(|t| t.len() * 16).sum::<usize>()
                + f.credits
                    .get()
                    .and_then(Option::as_ref)
                    .map_or(0, |c| c.len() * 8)
        })
    }

    /// Serialise into the artifact envelope (see [`crate::model`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let payload = Payload {
            params: self.params.clone(),
            state: self.fitted.as_ref().map(|f| f.state.clone()),
        };
        model::encode(ArtifactKind::IsolationForest, &payload)
    }

    /// Load from artifact bytes, checking the envelope and every tree invariant.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let p: Payload = model::decode(ArtifactKind::IsolationForest, bytes)?;
        p.params
            .validate()
            .map_err(|e| ArtifactError::Malformed(format!("stored parameters: {e}")))?;
        let fitted = match p.state {
            None => None,
            Some(s) => Some(Fitted::from_state(s).map_err(ArtifactError::Malformed)?),
        };
        Ok(IsolationForest {
            params: p.params,
            fitted,
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

    /// A JSON view of the fitted model (parameters, offset, and every tree's arrays), for inspection
    /// and for independent re-implementations of the scoring rule.
    pub fn to_json(&self) -> Result<String> {
        let f = self.state("to_json")?;
        let trees: Vec<JsonTree<'_>> = f
            .state
            .trees
            .iter()
            .map(|t| JsonTree {
                feature: &t.feature,
                threshold: &t.threshold,
                left: &t.left,
                size: &t.size,
            })
            .collect();
        let v = serde_json::json!({
            "params": self.params,
            "n_features_in": f.state.n_features_in,
            "feature_names": f.state.feature_names,
            "max_samples": f.state.max_samples,
            "offset": f.state.offset,
            "seed": f.state.seed,
            "trees": trees,
        });
        serde_json::to_string(&v)
            .map_err(|e| Error::InvalidInput(format!("cannot export JSON: {e}")))
    }
}

impl Fitted {
    fn from_state(state: FittedState) -> Result<Fitted, String> {
        if state.trees.is_empty() {
            return Err("a fitted forest has no trees".into());
        }
        if state.n_features_in == 0 || state.n_features_in > u32::MAX as usize / LANES {
            return Err(format!("invalid n_features_in {}", state.n_features_in));
        }
        if state.max_samples == 0 || state.max_samples > u32::MAX as usize {
            return Err(format!("invalid max_samples {}", state.max_samples));
        }
        if !state.offset.is_finite() {
            return Err("offset is not finite".into());
        }
        if let Some(n) = &state.feature_names
            && n.len() != state.n_features_in
        {
            {
                return Err("feature names do not match n_features_in".into());
            }
        }
        let limit = height_limit(state.max_samples);
        let depths = state
            .trees
            .iter()
            .enumerate()
            .map(|(i, t)| {
                t.check(state.n_features_in, limit)
                    .map_err(|e| format!("tree {i}: {e}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let layout = Layout::build(&state.trees, &depths, limit);
        Ok(Fitted {
            state,
            layout,
            credits: OnceLock::new(),
        })
    }

    /// The padded layout's explanation credits, built on first use; `None` for the compact layout.
    fn credits(&self) -> Option<&[f64]> {
        self.credits
            .get_or_init(|| self.layout.build_credits(&self.state.trees))
            .as_deref()
    }

    fn check_shape(&self, (_, d): (usize, usize)) -> Result<()> {
        if d != self.state.n_features_in {
            return Err(Error::ShapeMismatch(format!(
                "X has {d} features, but the forest was fitted with {} features",
                self.state.n_features_in
            )));
        }
        Ok(())
    }

    #[inline]
    fn finish(&self, path_sum: f64) -> f64 {
        let denominator =
            self.state.trees.len() as f64 * average_path_length(self.state.max_samples as f64);
        // scikit-learn: a one-row sample has c = 0 and depth 0; its score is set to 2^-1.
        let ratio = if denominator != 0.0 {
            path_sum / denominator
        } else {
            1.0
        };
        -libm::pow(2.0, -ratio)
    }

    /// Score a matrix: blocks of rows are converted to keys, then every tree runs over the block.
    fn score_matrix<T: Scalar>(
        &self,
        x: &ArrayView2<'_, T>,
        out: &mut [f64],
        threads: usize,
    ) -> Result<()> {
        let d = x.ncols();
        self.run_tasks(out, threads, d, |r, j| {
            let v = x[[r, j]];
            v.to_f32_checked()
                .map(order_key)
                .ok_or_else(|| non_finite(r, j, v.to_f64()))
        })
    }

    /// Score rows already validated and converted to float32 (row-major, `d` per row).
    fn score_f32_rows(
        &self,
        data: &[f32],
        d: usize,
        out: &mut [f64],
        threads: usize,
    ) -> Result<()> {
        self.run_tasks(out, threads, d, |r, j| Ok(order_key(data[r * d + j])))
    }

    /// Score every output row: tasks of at most `TASK_ROWS` rows (in parallel when `threads != 1`;
    /// small batches are cut so that each thread gets about four tasks), each in
    /// blocks of at most `BLOCK_ROWS` rows (fewer for wide rows) whose keys `key(row, column)` are laid out for the batch kernel. The
    /// error reported is the first in row order, whatever the thread count.
    fn run_tasks<K>(&self, out: &mut [f64], threads: usize, d: usize, key: K) -> Result<()>
    where
        K: Fn(usize, usize) -> Result<u32> + Sync,
    {
        // Groups of LANES rows are padded to a power-of-two number of columns (see layout.rs).
        let dp = d.next_power_of_two();
        let workers = if threads == 0 {
            rayon::current_num_threads()
        } else {
            threads
        };
        let block_rows = (BLOCK_KEY_BYTES / (4 * dp)).clamp(LANES, BLOCK_ROWS) / LANES * LANES;
        let per_task = out.len().div_ceil(4 * workers).div_ceil(BLOCK_ROWS) * BLOCK_ROWS;
        let task_rows = per_task.clamp(BLOCK_ROWS, TASK_ROWS);
        let task = |(ti, chunk): (usize, &mut [f64])| -> Result<()> {
            let mut keys = vec![0u32; chunk.len().min(block_rows).div_ceil(LANES) * LANES * dp];
            for (bi, block) in chunk.chunks_mut(block_rows).enumerate() {
                let r0 = ti * task_rows + bi * block_rows;
                let kb = &mut keys[..block.len().div_ceil(LANES) * LANES * dp];
                for r in 0..block.len() {
                    let group = &mut kb[(r / LANES) * LANES * dp..];
                    for j in 0..d {
                        group[j * LANES + r % LANES] = key(r0 + r, j)?;
                    }
                }
                block.fill(0.0);
                self.layout.accumulate_block(kb, dp, block);
                for s in block.iter_mut() {
                    *s = self.finish(*s);
                }
            }
            Ok(())
        };
        if workers == 1 || out.len() <= task_rows {
            return out.chunks_mut(task_rows).enumerate().try_for_each(task);
        }
        let results: Vec<Result<()>> = run_in_pool(threads, || {
            out.par_chunks_mut(task_rows)
                .enumerate()
                .map(&task)
                .collect()
        })?;
        results.into_iter().collect()
    }
}
#[cfg(test)]
mod tests;
