//! One isolation tree: its canonical (serialised) form and how it is grown.

use rand::RngExt;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// Marker in [`Tree::left`] for a leaf.
pub(crate) const LEAF: u32 = 0;

/// A grown tree, stored flat (struct of arrays). Node 0 is the root; an internal node `i` has its
/// children at `left[i]` and `left[i] + 1`; rows with `x[feature[i]] <= threshold[i]` go left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tree {
    pub feature: Vec<u32>,
    pub threshold: Vec<f32>,
    pub left: Vec<u32>,
    /// Training rows that reached the node (used at leaves for the c(n) correction).
    pub size: Vec<u32>,
}

/// Average path length of an unsuccessful search in a binary search tree of `n` nodes, c(n).
///
/// This is scikit-learn's form, `2 (ln(n - 1) + 0.5772156649) - 2 (n - 1) / n` for n > 2, 1 for n = 2 and
/// 0 for n <= 1: the harmonic number is approximated by `ln + Euler's constant` (slightly low for small
/// n, see scikit-learn issue #15724). We keep it so that scores match scikit-learn's.
pub fn average_path_length(n: f64) -> f64 {
    if n <= 1.0 {
        0.0
    } else if n <= 2.0 {
        1.0
    } else {
        2.0 * (libm::log(n - 1.0) + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
    }
}

/// Explanation credit of a split with `n` training rows for a row going to a child with `m` of them:
/// `1 - m / n`, the fraction of the node's rows the split separates from the row (clamped to
/// `[0, 1]` for any accepted artifact; grown trees have `0 < m < n`). One function for the reference
/// walk and the precomputed credits of the padded layout, so both give the same bits.
#[inline]
pub(crate) fn split_credit(n: u32, m: u32) -> f64 {
    let (n, m) = (n as f64, m as f64);
    if n > 0.0 {
        (1.0 - m / n).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// `ceil(log2(max(max_samples, 2)))`, the height limit of every tree.
pub fn height_limit(max_samples: usize) -> usize {
    let m = max_samples.max(2);
    (usize::BITS - (m - 1).leading_zeros()) as usize
}

/// Largest `f32` that is `<= t`.
fn f32_at_or_below(t: f64) -> f32 {
    let f = t as f32;
    if (f as f64) > t { f.next_down() } else { f }
}

/// Grow a tree on the rows `rows` of the row-major `n x d` matrix `data`, using only `features`.
pub(crate) fn grow(
    data: &[f32],
    d: usize,
    rows: &[usize],
    features: &[usize],
    height_limit: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> Tree {
    let psi = rows.len();
    let m = features.len();
    // Column-major copy of the sample, one column gathered the first time its feature is drawn
    // (with many features a tree never looks at most of them).
    let mut cols = vec![0f32; m * psi];
    let mut gathered = vec![false; m];
    let mut idx: Vec<u32> = (0..psi as u32).collect();
    let mut scratch = vec![0u32; psi];
    let mut cand: Vec<usize> = (0..m).collect();
    let mut tree = Tree {
        feature: vec![0],
        threshold: vec![0.0],
        left: vec![LEAF],
        size: vec![psi as u32],
    };
    // (node, start, end, depth)
    let mut stack = vec![(0usize, 0usize, psi, 0usize)];
    while let Some((node, start, end, depth)) = stack.pop() {
        let n = end - start;
        if depth >= height_limit || n < 2 {
            continue;
        }
        // Draw features without replacement until one is not constant on this node.
        let mut remaining = m;
        let mut split = None;
        while remaining > 0 {
            let r = rng.random_range(0..remaining as u64) as usize;
            let j = cand[r];
            if !gathered[j] {
                let f = features[j];
                for (c, &row) in cols[j * psi..(j + 1) * psi].iter_mut().zip(rows) {
                    *c = data[row * d + f];
                }
                gathered[j] = true;
            }
            let col = &cols[j * psi..(j + 1) * psi];
            let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
            // Values are finite (validated on input): plain comparisons, no NaN handling.
            for &i in &idx[start..end] {
                let v = col[i as usize];
                if v < lo {
                    lo = v;
                }
                if v > hi {
                    hi = v;
                }
            }
            if hi > lo {
                split = Some((j, lo, hi));
                break;
            }
            cand.swap(r, remaining - 1);
            remaining -= 1;
        }
        let Some((j, lo, hi)) = split else { continue };
        let u: f64 = rng.random();
        let mut t = f32_at_or_below(lo as f64 + u * (hi as f64 - lo as f64));
        if t >= hi {
            t = lo;
        }
        let col = &cols[j * psi..(j + 1) * psi];
        // Branch-free partition through a scratch buffer: every row is written to both ends of the
        // free range [a, b) and only the end it belongs to advances (the split is unpredictable,
        // so a branch would mispredict half the time). Row order inside a side does not matter.
        let (mut a, mut b) = (start, end);
        for &i in &idx[start..end] {
            let left = col[i as usize] <= t;
            scratch[a] = i;
            scratch[b - 1] = i;
            a += left as usize;
            b -= (!left) as usize;
        }
        idx[start..end].copy_from_slice(&scratch[start..end]);
        let left = tree.feature.len();
        tree.feature[node] = features[j] as u32;
        tree.threshold[node] = t;
        tree.left[node] = left as u32;
        for size in [a - start, end - a] {
            tree.feature.push(0);
            tree.threshold.push(0.0);
            tree.left.push(LEAF);
            tree.size.push(size as u32);
        }
        stack.push((left + 1, a, end, depth + 1));
        stack.push((left, start, a, depth + 1));
    }
    tree
}

impl Tree {
    /// Check the invariants that scoring relies on; returns the depth of every node.
    pub(crate) fn check(&self, n_features: usize, height_limit: usize) -> Result<Vec<u16>, String> {
        let n = self.left.len();
        if n == 0 || self.feature.len() != n || self.threshold.len() != n || self.size.len() != n {
            return Err("tree arrays are empty or of unequal lengths".into());
        }
        if n > u32::MAX as usize / 2 {
            return Err("tree too large".into());
        }
        let mut depth = vec![u16::MAX; n];
        depth[0] = 0;
        for i in 0..n {
            if depth[i] == u16::MAX {
                return Err(format!("node {i} is unreachable"));
            }
            let l = self.left[i] as usize;
            if l == LEAF as usize {
                continue;
            }
            if l <= i || l + 1 >= n {
                return Err(format!("node {i} has invalid children at {l}"));
            }
            if self.feature[i] as usize >= n_features {
                return Err(format!(
                    "node {i} splits on feature {} of {n_features}",
                    self.feature[i]
                ));
            }
            if !self.threshold[i].is_finite() {
                return Err(format!("node {i} has a non-finite threshold"));
            }
            if depth[l] != u16::MAX || depth[l + 1] != u16::MAX {
                return Err(format!("node {l} has two parents"));
            }
            let dc = depth[i] + 1;
            if dc as usize > height_limit {
                return Err(format!(
                    "node {l} is deeper than the height limit {height_limit}"
                ));
            }
            depth[l] = dc;
            depth[l + 1] = dc;
        }
        Ok(depth)
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.left.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn path_length_matches_scikit_learn_formula() {
        assert_eq!(average_path_length(0.0), 0.0);
        assert_eq!(average_path_length(1.0), 0.0);
        assert_eq!(average_path_length(2.0), 1.0);
        // 2 (ln 255 + gamma) - 2 * 255 / 256, computed independently.
        let expected = 2.0 * (255f64.ln() + 0.5772156649015329) - 2.0 * 255.0 / 256.0;
        assert!((average_path_length(256.0) - expected).abs() < 1e-15);
        assert!((average_path_length(256.0) - 10.244_770_920_116_851).abs() < 1e-9);
    }

    #[test]
    fn height_limit_is_ceil_log2() {
        assert_eq!(height_limit(1), 1);
        assert_eq!(height_limit(2), 1);
        assert_eq!(height_limit(3), 2);
        assert_eq!(height_limit(256), 8);
        assert_eq!(height_limit(257), 9);
    }

    #[test]
    fn threshold_rounding_is_at_or_below() {
        for t in [0.1f64, -0.1, 1e-30, 123456.789, -3.0e38] {
            let f = f32_at_or_below(t);
            assert!((f as f64) <= t);
            assert!((f.next_up() as f64) > t);
        }
    }

    #[test]
    fn grown_tree_isolates_distinct_rows_and_respects_limits() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let n = 64;
        let d = 3;
        let data: Vec<f32> = (0..n * d).map(|i| ((i * 7919) % 1000) as f32).collect();
        let rows: Vec<usize> = (0..n).collect();
        let tree = grow(&data, d, &rows, &[0, 1, 2], 20, &mut rng);
        let depth = tree.check(d, 20).unwrap();
        let leaves: Vec<usize> = (0..tree.len()).filter(|&i| tree.left[i] == LEAF).collect();
        assert_eq!(
            leaves.iter().map(|&i| tree.size[i] as usize).sum::<usize>(),
            n
        );
        // Distinct rows and an unlimited height: every leaf holds one row.
        assert!(leaves.iter().all(|&i| tree.size[i] == 1));
        let limited = grow(&data, d, &rows, &[0, 1, 2], 3, &mut rng);
        let depth_l = limited.check(d, 3).unwrap();
        assert!(depth_l.iter().all(|&x| x <= 3));
        assert!(depth.iter().any(|&x| x > 3));
    }

    #[test]
    fn constant_and_duplicate_rows_make_a_single_leaf() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let data = vec![5.0f32; 10 * 2];
        let tree = grow(&data, 2, &(0..10).collect::<Vec<_>>(), &[0, 1], 4, &mut rng);
        assert_eq!(tree.len(), 1);
        assert_eq!(tree.size[0], 10);
    }
}
