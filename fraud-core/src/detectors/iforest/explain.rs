//! Per-feature explanations of isolation-forest scores (reason codes), after the idea of DIFFI
//! (Carletti, Terzi, Susto: "Interpretable Anomaly Detection with DIFFI: Depth-based Feature
//! Importance of Isolation Forest"): a feature matters for a row when splits on it isolate the row
//! early and cut away much of the training data around it.
//!
//! # The attribution rule
//!
//! For each tree `t`, follow the row `x` from the root to its leaf through the canonical flat tree
//! (the same float32 comparisons as scoring). Let the path visit the internal nodes `v_0 .. v_{D-1}`
//! and end at a leaf at depth `D` holding `size` training rows, and let
//! `h_t(x) = D + c(size)` be the path length that scoring uses. For each internal node `v_i`
//! splitting on feature `f_i`, with `n_i` training rows at `v_i` and `m_i` of them in the child that
//! `x` goes to:
//!
//! * split credit `g_i = 1 - m_i / n_i`: the fraction of the node's training rows that this split
//!   separates from `x` (DIFFI's "induced imbalance" seen from `x`): near 1 for a split that
//!   isolates `x` from almost everything, about 1/2 for an ordinary split;
//! * tree weight `1 / h_t(x)`: trees in which `x` is isolated early count more (DIFFI's depth
//!   weight).
//!
//! The raw importance of feature `f` is `r_f = sum_t (1 / h_t(x)) * sum_{i : f_i = f} g_i`.
//! It is then normalised so that the contributions of a row sum to its anomaly score
//! `s(x) = 2^(-E[h(x)] / c(max_samples)) = -score_samples(x)`, in `(0, 1]`:
//! `contribution_f = s(x) * r_f / sum_g r_g`. When no tree splits on the row's path at all (every
//! tree is a single leaf, e.g. constant training data), `s(x)` is shared equally among the features.
//!
//! So contributions are finite, non-negative, comparable across rows (an obvious outlier has a larger
//! total than a normal row), and `contribution / s(x)` is the share of each feature. Each row is
//! explained on its own, trees in order, so results do not depend on the thread count. The cost is
//! `O(n * trees * depth)`; rows are processed in parallel according to `n_jobs`.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use super::tree::{LEAF, Tree, average_path_length, split_credit};
use super::{Fitted, IsolationForest, run_in_pool};
use crate::data::{Scalar, non_finite, order_key};
use crate::error::Result;

/// Rows handed to one parallel task.
const EXPLAIN_TASK_ROWS: usize = 64;

/// Order keys of a matrix, row-major, refusing non-finite values (first in row-major order, as
/// scoring reports).
fn keys_of<T: Scalar>(x: &ArrayView2<'_, T>) -> Result<Vec<u32>> {
    let mut keys = Vec::with_capacity(x.len());
    for (i, row) in x.outer_iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            keys.push(order_key(
                v.to_f32_checked()
                    .ok_or_else(|| non_finite(i, j, v.to_f64()))?,
            ));
        }
    }
    Ok(keys)
}

/// Walk one tree for a row given as order keys: put `(f_i, g_i)` of every split on the path in
/// `credit` (cleared first) and return the path length `h_t(x)`. This is the reference rule; the
/// padded layout computes the same values (see [`Fitted::explain_row`]).
fn walk(tree: &Tree, keys: &[u32], credit: &mut Vec<(u32, f64)>) -> f64 {
    credit.clear();
    let mut i = 0usize;
    let mut depth = 0usize;
    while tree.left[i] != LEAF {
        let f = tree.feature[i];
        let l = tree.left[i] as usize;
        let next = if keys[f as usize] <= order_key(tree.threshold[i]) {
            l
        } else {
            l + 1
        };
        credit.push((f, split_credit(tree.size[i], tree.size[next])));
        i = next;
        depth += 1;
    }
    depth as f64 + average_path_length(tree.size[i] as f64)
}

impl Fitted {
    /// Reference explanation of one row given as order keys (`d` of them) into `out` (`d` values),
    /// walking the canonical trees; returns the anomaly score `s(x)`. See the module documentation.
    /// Used for the compact layout (height limits above 12), and as the reference in tests.
    fn explain_keys_walk(
        &self,
        keys: &[u32],
        out: &mut [f64],
        credit: &mut Vec<(u32, f64)>,
    ) -> f64 {
        out.fill(0.0);
        let mut path_sum = 0.0;
        for tree in &self.state.trees {
            let h = walk(tree, keys, credit);
            // Same values added in the same (tree) order as the scoring layout: identical score.
            path_sum += h;
            if h > 0.0 && !credit.is_empty() {
                let w = 1.0 / h;
                for &(f, g) in credit.iter() {
                    out[f as usize] += w * g;
                }
            }
        }
        self.finish_explain(path_sum, out)
    }

    /// Scale the raw importances in `out` to sum to the anomaly score of a row whose path lengths
    /// sum to `path_sum`, and return that score.
    fn finish_explain(&self, path_sum: f64, out: &mut [f64]) -> f64 {
        let strength = -self.finish(path_sum);
        let total: f64 = out.iter().sum();
        if total > 0.0 {
            let scale = strength / total;
            for v in out.iter_mut() {
                *v *= scale;
            }
        } else {
            out.fill(strength / out.len() as f64);
        }
        strength
    }

    /// Explain the row whose `d = out.len()` order keys are in `scratch.keys` into `out` and return
    /// its anomaly score. With the padded layout, the row descends the padded trees like scoring
    /// (16 trees in lockstep, index arithmetic) and picks each split's credit from the per-node
    /// credits precomputed on first use; the floating-point operations and their order are those
    /// of [`explain_keys_walk`](Self::explain_keys_walk), so the results are the same bits.
    fn explain_row(&self, scratch: &mut ExplainScratch, out: &mut [f64]) -> f64 {
        let d = out.len();
        debug_assert_eq!(scratch.keys.len(), d);
        let Some(credits) = self.credits() else {
            return self.explain_keys_walk(&scratch.keys, out, &mut scratch.credit);
        };
        let dp = d.next_power_of_two();
        scratch.keys.resize(dp, 0);
        scratch.raw.clear();
        scratch.raw.resize(dp, 0.0);
        let path_sum = self
            .layout
            .explain_one(credits, &scratch.keys, &mut scratch.raw);
        out.copy_from_slice(&scratch.raw[..d]);
        self.finish_explain(path_sum, out)
    }
}

/// Reusable buffers for [`IsolationForest::explain_one_into`], so that explaining one row after
/// another allocates nothing once the buffers have grown.
#[derive(Debug, Clone, Default)]
pub struct ExplainScratch {
    /// The row's order keys (padded to a power of two while explaining).
    keys: Vec<u32>,
    /// Raw importances, padded like `keys`.
    raw: Vec<f64>,
    /// The reference walk's path credits (compact layout).
    credit: Vec<(u32, f64)>,
}

impl IsolationForest {
    /// Per-feature contributions to each row's anomaly score: an `(n, d)` array whose row `i` is
    /// non-negative and sums to `-score_samples(x)[i]` (the anomaly score in `(0, 1]`; higher = more
    /// abnormal), up to rounding.
    ///
    /// A feature's contribution grows with the splits on it that isolate the row early and cut away
    /// much of the training data around it (after DIFFI, Carletti et al.): each split on the row's
    /// path, in every tree, credits its feature with `(1 - m/n) / h`, where `n` is the number of
    /// training rows at the node, `m` the number in the child the row goes to (so `1 - m/n` is the
    /// fraction of the node's rows the split separates from the row) and `h = depth + c(leaf size)`
    /// the row's path length in that tree (trees that isolate the row early weigh more). The credits
    /// of a row, summed over its paths in all trees, are then scaled to sum to its anomaly score
    /// `-score_samples`; when no tree has a split (constant training data) the score is shared
    /// equally among the features. Divide a row by its sum for shares that sum to 1.
    ///
    /// Inputs are validated as in [`score_samples`](Self::score_samples): the model must be fitted,
    /// `x` must have `n_features_in` columns, and NaN, infinities and values beyond the float32 range
    /// are refused with an error naming the first bad row and column. Rows run in parallel according
    /// to `n_jobs`; results never depend on it.
    ///
    /// ```
    /// use fraud_core::detectors::iforest::{IsolationForest, IsolationForestParams};
    /// use ndarray::{Array2, array};
    ///
    /// // Three features on a grid; the last row is far out in feature 1 only.
    /// let mut x = Array2::from_shape_fn((400, 3), |(i, j)| ((i * (7 + 6 * j)) % 40) as f64);
    /// x[[399, 1]] = 500.0;
    /// let mut forest = IsolationForest::new(IsolationForestParams::default().random_state(0))?;
    /// forest.fit(x.view())?;
    ///
    /// let contributions = forest.explain(x.view())?;
    /// assert_eq!(contributions.dim(), (400, 3));
    /// let outlier = contributions.row(399);
    /// let score = forest.score_samples(x.view())?[399];
    /// assert!((outlier.sum() + score).abs() < 1e-12); // sums to the anomaly score -score_samples
    /// assert!(outlier[1] > outlier[0] && outlier[1] > outlier[2]);
    ///
    /// // The same as reason codes: (feature, contribution), largest first.
    /// let reasons = forest.top_reasons(array![[1.0, 500.0, 3.0]].view(), 2)?;
    /// assert_eq!(reasons[0][0].0, 1);
    /// # Ok::<(), fraud_core::Error>(())
    /// ```
    pub fn explain<T: Scalar>(&self, x: ArrayView2<'_, T>) -> Result<Array2<f64>> {
        let f = self.state("explain")?;
        f.check_shape(x.dim())?;
        let (n, d) = x.dim();
        let keys = keys_of(&x)?;
        let mut out = vec![0.0; n * d];
        let threads = self.params.threads();
        let task = |(ti, chunk): (usize, &mut [f64])| {
            let mut scratch = ExplainScratch::default();
            let r0 = ti * EXPLAIN_TASK_ROWS;
            for (r, row) in chunk.chunks_mut(d).enumerate() {
                scratch.keys.clear();
                scratch
                    .keys
                    .extend_from_slice(&keys[(r0 + r) * d..(r0 + r + 1) * d]);
                f.explain_row(&mut scratch, row);
            }
        };
        let chunk = EXPLAIN_TASK_ROWS * d;
        if threads == 1 || n <= EXPLAIN_TASK_ROWS {
            out.chunks_mut(chunk).enumerate().for_each(task);
        } else {
            run_in_pool(threads, || {
                out.par_chunks_mut(chunk).enumerate().for_each(task)
            })?;
        }
        Ok(Array2::from_shape_vec((n, d), out).expect("n * d values"))
    }

    /// [`explain`](Self::explain) for one row: the same values, bit for bit, as `explain` gives for
    /// that row.
    pub fn explain_one(&self, row: &[f64]) -> Result<Vec<f64>> {
        let f = self.state("explain_one")?;
        f.check_shape((1, row.len()))?;
        let keys = row
            .iter()
            .enumerate()
            .map(|(j, &v)| {
                v.to_f32_checked()
                    .map(order_key)
                    .ok_or_else(|| non_finite(0, j, v))
            })
            .collect::<Result<Vec<u32>>>()?;
        let mut out = vec![0.0; row.len()];
        let mut scratch = ExplainScratch {
            keys,
            ..ExplainScratch::default()
        };
        f.explain_row(&mut scratch, &mut out);
        Ok(out)
    }

    /// [`explain_one`](Self::explain_one) into `out` (`n_features_in` values) with reusable
    /// buffers, returning the row's anomaly score `s(x)` in `(0, 1]`: the same contributions, bit
    /// for bit, as `explain_one`, and the same score as `-score_one(row)` (the path lengths are
    /// added in the same tree order). Allocates nothing once `scratch` has grown.
    pub fn explain_one_into(
        &self,
        row: &[f64],
        out: &mut [f64],
        scratch: &mut ExplainScratch,
    ) -> Result<f64> {
        let f = self.state("explain_one_into")?;
        f.check_shape((1, row.len()))?;
        if out.len() != row.len() {
            return Err(crate::error::Error::ShapeMismatch(format!(
                "output has {} slots for {} features",
                out.len(),
                row.len()
            )));
        }
        scratch.keys.clear();
        for (j, &v) in row.iter().enumerate() {
            let k = v.to_f32_checked().ok_or_else(|| non_finite(0, j, v))?;
            scratch.keys.push(order_key(k));
        }
        Ok(f.explain_row(scratch, out))
    }

    /// Reason codes: for each row, up to `k` `(feature index, contribution)` pairs from
    /// [`explain`](Self::explain), largest contribution first (ties: lower feature index first).
    /// Features with a zero contribution are left out, so a row may get fewer than `k` reasons.
    pub fn top_reasons<T: Scalar>(
        &self,
        x: ArrayView2<'_, T>,
        k: usize,
    ) -> Result<Vec<Vec<(usize, f64)>>> {
        let c = self.explain(x)?;
        Ok(c.outer_iter()
            .map(|row| {
                let mut r: Vec<(usize, f64)> = row
                    .iter()
                    .copied()
                    .enumerate()
                    .filter(|&(_, v)| v > 0.0)
                    .collect();
                // Stable sort: equal contributions keep the feature order.
                r.sort_by(|a, b| b.1.total_cmp(&a.1));
                r.truncate(k);
                r
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::iforest::IsolationForestParams;
    use crate::error::Error;
    use ndarray::{Array2, Axis, Slice, array};
    use rand::{RngExt, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
        // Box-Muller; 1 - u is in (0, 1].
        let u: f64 = rng.random();
        let v: f64 = rng.random();
        (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// `n` standard-normal rows, then `n_anom` rows with one random feature of `shiftable` moved by
    /// 5 to 8 standard deviations (either sign). Returns the data and each anomaly's feature.
    /// `dup` copies feature 0 into feature 1 (plus tiny noise) after shifting.
    fn planted(
        n: usize,
        n_anom: usize,
        d: usize,
        shiftable: &[usize],
        dup: bool,
        seed: u64,
    ) -> (Array2<f64>, Vec<usize>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut x = Array2::from_shape_fn((n + n_anom, d), |_| normal(&mut rng));
        let mut which = Vec::with_capacity(n_anom);
        for a in 0..n_anom {
            let j = shiftable[rng.random_range(0..shiftable.len() as u64) as usize];
            let size = 5.0 + 3.0 * rng.random::<f64>();
            let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
            x[[n + a, j]] += sign * size;
            which.push(j);
        }
        if dup {
            for i in 0..n + n_anom {
                x[[i, 1]] = x[[i, 0]] + 0.01 * normal(&mut rng);
            }
        }
        (x, which)
    }

    fn forest(x: &Array2<f64>, params: IsolationForestParams) -> IsolationForest {
        let mut f = IsolationForest::new(params).unwrap();
        f.fit(x.view()).unwrap();
        f
    }

    fn argmax(row: ndarray::ArrayView1<'_, f64>) -> usize {
        let mut best = 0;
        for (j, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = j;
            }
        }
        best
    }

    #[test]
    fn planted_feature_ranks_first() {
        let (n, d) = (2000, 6);
        for seed in [42, 43, 44] {
            let (x, which) = planted(n, 200, d, &(0..d).collect::<Vec<_>>(), false, seed);
            let f = forest(&x, IsolationForestParams::default().random_state(seed + 7));
            let anomalies = x.slice_axis(Axis(0), Slice::from(n..));
            let c = f.explain(anomalies).unwrap();
            let hits = which
                .iter()
                .zip(c.outer_iter())
                .filter(|(j, row)| argmax(row.view()) == **j)
                .count();
            let rate = hits as f64 / which.len() as f64;
            println!(
                "seed {seed}: planted feature ranked first for {hits}/200 anomalies ({rate:.3})"
            );
            assert!(rate >= 0.9, "seed {seed}: rate {rate}");
            // The same through top_reasons.
            let reasons = f.top_reasons(anomalies, 3).unwrap();
            let top_hits = reasons
                .iter()
                .zip(&which)
                .filter(|(r, j)| r[0].0 == **j)
                .count();
            assert_eq!(top_hits, hits);
            assert!(reasons.iter().all(|r| r.len() <= 3 && !r.is_empty()));
            // Anomalies carry more total contribution (= anomaly score) than normal rows.
            let totals = f.explain(x.view()).unwrap().sum_axis(Axis(1));
            let normal_mean = totals.slice_axis(Axis(0), Slice::from(..n)).mean().unwrap();
            let anomaly_mean = totals.slice_axis(Axis(0), Slice::from(n..)).mean().unwrap();
            assert!(
                anomaly_mean > normal_mean + 0.1,
                "{anomaly_mean} {normal_mean}"
            );
        }
    }

    #[test]
    fn duplicated_features_share_the_credit() {
        // Feature 1 is a near-copy of feature 0: anomalies shifted in 0 are shifted in 1 too.
        let (n, d) = (2000, 5);
        let (x, which) = planted(n, 200, d, &[0, 2, 3, 4], true, 5);
        let f = forest(&x, IsolationForestParams::default().random_state(3));
        let c = f.explain(x.slice_axis(Axis(0), Slice::from(n..))).unwrap();
        let (mut pair, mut n_pair, mut single, mut n_single) = (0, 0, 0, 0);
        for (row, &j) in c.outer_iter().zip(&which) {
            if j == 0 {
                n_pair += 1;
                let mut order: Vec<usize> = (0..d).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
                if order[..2].contains(&0) && order[..2].contains(&1) {
                    pair += 1;
                }
            } else {
                n_single += 1;
                single += (argmax(row) == j) as usize;
            }
        }
        let (pr, sr) = (pair as f64 / n_pair as f64, single as f64 / n_single as f64);
        println!(
            "duplicated pair in the top 2: {pr:.3} ({n_pair} rows); single feature first: {sr:.3}"
        );
        assert!(pr >= 0.9 && sr >= 0.9, "{pr} {sr}");
    }

    #[test]
    fn contributions_are_finite_non_negative_and_sum_to_the_score() {
        let (x, _) = planted(500, 50, 4, &[0, 1, 2, 3], false, 1);
        let f = forest(&x, IsolationForestParams::default().random_state(0));
        let c = f.explain(x.view()).unwrap();
        let scores = f.score_samples(x.view()).unwrap();
        for (row, s) in c.outer_iter().zip(scores.iter()) {
            assert!(row.iter().all(|v| v.is_finite() && *v >= 0.0));
            assert!((row.sum() + s).abs() <= 1e-12, "{} {s}", row.sum());
        }
        // explain_one is the same, bit for bit.
        for i in [0, 17, 520] {
            let one = f.explain_one(x.row(i).as_slice().unwrap()).unwrap();
            assert_eq!(one.as_slice(), c.row(i).as_slice().unwrap());
        }
        // f32 input, Fortran order and a reloaded model give the same values.
        let x32 = x.mapv(|v| v as f32);
        assert_eq!(f.explain(x32.view()).unwrap(), c);
        assert_eq!(f.explain(x.t().as_standard_layout().t()).unwrap(), c);
        let back = IsolationForest::from_bytes(&f.to_bytes().unwrap()).unwrap();
        assert_eq!(back.explain(x.view()).unwrap(), c);
        // Empty input: an empty (0, d) array.
        assert_eq!(
            f.explain(x.slice_axis(Axis(0), Slice::from(..0)))
                .unwrap()
                .dim(),
            (0, 4)
        );
    }

    #[test]
    fn deterministic_and_independent_of_the_thread_count() {
        let (x, _) = planted(3000, 100, 6, &[0, 1, 2, 3, 4, 5], false, 9);
        let base = IsolationForestParams::default().random_state(11);
        let f1 = forest(&x, base.clone().n_jobs(1));
        let f3 = forest(&x, base.clone().n_jobs(3));
        let c1 = f1.explain(x.view()).unwrap();
        assert_eq!(c1, f1.explain(x.view()).unwrap());
        assert_eq!(c1, f3.explain(x.view()).unwrap());
        let mut all = f1.clone();
        all.set_params(base.n_jobs(-1)).unwrap();
        assert_eq!(c1, all.explain(x.view()).unwrap());
    }

    #[test]
    fn constant_data_shares_the_score_equally() {
        let x = Array2::from_elem((50, 3), 2.0);
        let f = forest(&x, IsolationForestParams::default().random_state(0));
        let c = f
            .explain(array![[2.0, 2.0, 2.0], [9.0, 0.0, 1.0]].view())
            .unwrap();
        let s = f.score_samples(array![[2.0, 2.0, 2.0]].view()).unwrap()[0];
        for v in c.iter() {
            assert!((v + s / 3.0).abs() < 1e-15);
        }
        let r = f.top_reasons(array![[2.0, 2.0, 2.0]].view(), 2).unwrap();
        assert_eq!(r[0].iter().map(|p| p.0).collect::<Vec<_>>(), vec![0, 1]);
    }

    #[test]
    fn bad_input_is_refused_like_score_samples() {
        let unfitted = IsolationForest::new(IsolationForestParams::default()).unwrap();
        let x = array![[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]];
        assert!(matches!(
            unfitted.explain(x.view()),
            Err(Error::NotFitted(_))
        ));
        assert!(matches!(
            unfitted.explain_one(&[0.0, 1.0]),
            Err(Error::NotFitted(_))
        ));
        let f = forest(&x, IsolationForestParams::default().random_state(0));
        assert!(matches!(
            f.explain(array![[0.0, 1.0, 2.0]].view()),
            Err(Error::ShapeMismatch(_))
        ));
        assert!(matches!(
            f.explain_one(&[0.0]),
            Err(Error::ShapeMismatch(_))
        ));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e39] {
            let mut y = Array2::zeros((4, 2));
            y[[2, 1]] = bad;
            y[[3, 0]] = bad;
            let e = f.explain(y.view()).unwrap_err();
            let expected = f.score_samples(y.view()).unwrap_err();
            assert_eq!(e.to_string(), expected.to_string());
            assert!(
                matches!(
                    e,
                    Error::NonFiniteValue {
                        row: 2,
                        column: 1,
                        ..
                    }
                ),
                "{e}"
            );
            assert!(matches!(
                f.explain_one(&[0.0, bad]),
                Err(Error::NonFiniteValue {
                    row: 0,
                    column: 1,
                    ..
                })
            ));
            assert!(f.top_reasons(y.view(), 1).is_err());
        }
    }

    /// The reference rule: the canonical-tree walk for every row.
    fn explain_by_walk(f: &IsolationForest, x: &Array2<f64>) -> Array2<f64> {
        let fitted = f.fitted.as_ref().unwrap();
        let keys = keys_of(&x.view()).unwrap();
        let d = x.ncols();
        let mut out = Array2::zeros(x.dim());
        let mut credit = Vec::new();
        for (r, mut row) in out.outer_iter_mut().enumerate() {
            fitted.explain_keys_walk(
                &keys[r * d..(r + 1) * d],
                row.as_slice_mut().unwrap(),
                &mut credit,
            );
        }
        out
    }

    fn assert_same_bits(a: &Array2<f64>, b: &Array2<f64>, what: &str) {
        assert_eq!(a.dim(), b.dim(), "{what}");
        for ((i, j), v) in a.indexed_iter() {
            assert_eq!(
                v.to_bits(),
                b[[i, j]].to_bits(),
                "{what}: row {i}, feature {j}"
            );
        }
    }

    #[test]
    fn padded_explanation_matches_the_reference_walk_bit_for_bit() {
        use crate::detectors::iforest::{MaxFeatures, MaxSamples};
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2024);
        // (rows, features, max_samples, trees, max_features, bootstrap, coarse values)
        let cases: [(usize, usize, usize, usize, usize, bool, bool); 9] = [
            (600, 7, 256, 100, 7, false, false),
            (600, 14, 256, 37, 14, false, true),
            (300, 3, 2, 5, 3, false, false),
            (300, 5, 3, 17, 2, true, false),
            (1000, 1, 64, 16, 1, false, true),
            (2000, 9, 1000, 20, 9, false, false),
            (5000, 70, 4096, 3, 40, false, true),
            (400, 33, 100, 31, 33, true, true),
            (50, 4, 50, 15, 4, false, true),
        ];
        for (case, &(n, d, psi, trees, m, bootstrap, coarse)) in cases.iter().enumerate() {
            // Coarse values (few distinct levels) make duplicate rows, constant nodes and leaves
            // above the height limit, hence pass-through nodes in the padded layout.
            let x = Array2::from_shape_fn((n, d), |(_, j)| {
                let v = normal(&mut rng) * (1.0 + j as f64);
                if coarse { (v * 0.7).round() } else { v }
            });
            let params = IsolationForestParams::default()
                .random_state(case as u64)
                .n_estimators(trees)
                .max_samples(MaxSamples::Count(psi))
                .max_features(MaxFeatures::Count(m))
                .bootstrap(bootstrap);
            let f = forest(&x, params);
            assert!(
                f.fitted.as_ref().unwrap().credits().is_some(),
                "case {case}"
            );
            // Training rows, fresh rows and far outliers.
            let mut q = Array2::from_shape_fn((n.min(500) + 60, d), |(i, j)| {
                if i < n.min(500) {
                    x[[i, j]]
                } else {
                    normal(&mut rng) * 3.0 + if i % 3 == 0 { 40.0 } else { 0.0 }
                }
            });
            q[[0, 0]] = -1e30;
            let reference = explain_by_walk(&f, &q);
            assert_same_bits(&f.explain(q.view()).unwrap(), &reference, "explain");
            let scores = f.score_samples(q.view()).unwrap();
            let mut scratch = ExplainScratch::default();
            let mut out = vec![0.0; d];
            for (i, row) in q.outer_iter().enumerate() {
                let row = row.to_vec();
                let s = f.explain_one_into(&row, &mut out, &mut scratch).unwrap();
                assert_eq!(s.to_bits(), (-scores[i]).to_bits(), "case {case} row {i}");
                assert_eq!(s.to_bits(), (-f.score_one(&row).unwrap()).to_bits());
                for (j, v) in out.iter().enumerate() {
                    assert_eq!(
                        v.to_bits(),
                        reference[[i, j]].to_bits(),
                        "case {case} row {i}"
                    );
                }
                if i % 50 == 0 {
                    let one = f.explain_one(&row).unwrap();
                    assert!(
                        one.iter()
                            .zip(&out)
                            .all(|(a, b)| a.to_bits() == b.to_bits())
                    );
                }
            }
            // A reloaded model rebuilds the credits and gives the same bits.
            let back = IsolationForest::from_bytes(&f.to_bytes().unwrap()).unwrap();
            assert_same_bits(&back.explain(q.view()).unwrap(), &reference, "reloaded");
        }
    }

    #[test]
    fn deep_forests_explain_with_the_reference_walk() {
        use crate::detectors::iforest::MaxSamples;
        // max_samples 5000: height limit 13, beyond the padded layout.
        let (x, _) = planted(5000, 20, 3, &[0, 1, 2], false, 3);
        let f = forest(
            &x,
            IsolationForestParams::default()
                .random_state(1)
                .n_estimators(4)
                .max_samples(MaxSamples::Count(5000)),
        );
        assert!(f.fitted.as_ref().unwrap().credits().is_none());
        let q = x.slice_axis(Axis(0), Slice::from(4900..)).to_owned();
        assert_same_bits(
            &f.explain(q.view()).unwrap(),
            &explain_by_walk(&f, &q),
            "deep",
        );
    }
}
