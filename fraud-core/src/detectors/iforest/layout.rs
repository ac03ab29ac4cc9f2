//! The scoring layout: trees rearranged for fast traversal, derived from the canonical trees.
//!
//! Row values are first mapped to order-preserving `u32` keys (see [`crate::data::order_key`]), so a
//! split is one integer comparison and a node is one `u64`: `feature << 32 | threshold_key`.
//!
//! * `Padded` (height limit <= [`MAX_PADDED_DEPTH`], i.e. `max_samples <= 4096`): every tree is
//!   padded to a complete binary tree of the height limit `L`, stored in heap order (children of `i`
//!   at `2i+1`, `2i+2`). A leaf above depth `L` gets pass-through nodes below it that always go left
//!   (threshold key `u32::MAX`), so every row takes exactly `L` branch-free steps and lands in one of
//!   `2^L` leaf slots holding `depth + c(size)`. Several rows (batch) or several trees (single row)
//!   are stepped in lockstep to hide memory latency.
//! * `Compact` (deeper trees): the canonical node arrays with explicit child indices.

use super::tree::{LEAF, Tree, average_path_length, split_credit};
use crate::data::order_key;

/// Deepest height limit stored padded (2^12 leaves per tree).
pub(crate) const MAX_PADDED_DEPTH: usize = 12;
/// Rows stepped in lockstep through one tree in batch scoring. Batch keys are stored interleaved by
/// groups of `LANES` rows, with the column count padded to a power of two `dp >= d`: the key of row
/// `r`, feature `f` is at `(r / LANES) * LANES * dp + f * LANES + r % LANES`, so every lane addresses
/// its key as `f * LANES + lane` from one base pointer, and a mask proves the index in bounds.
/// Padded nodes store `f * LANES` in their high half.
pub(crate) const LANES: usize = 8;
/// Trees stepped in lockstep for one row.
const TREE_LANES: usize = 16;

#[derive(Debug, Clone)]
pub(crate) enum Layout {
    Padded {
        depth: usize,
        n_trees: usize,
        nodes: Vec<u64>,
        leaves: Vec<f64>,
    },
    Compact {
        roots: Vec<u32>,
        nodes: Vec<u64>,
        left: Vec<u32>,
        value: Vec<f64>,
    },
}

#[inline]
fn pack(feature: u32, key: u32) -> u64 {
    ((feature as u64) << 32) | key as u64
}

impl Layout {
    /// Build the layout; `depths[t]` are the node depths of tree `t` (from [`Tree::check`]).
    pub(crate) fn build(trees: &[Tree], depths: &[Vec<u16>], height_limit: usize) -> Layout {
        if height_limit <= MAX_PADDED_DEPTH {
            let l = height_limit;
            let ni = (1usize << l) - 1;
            let nl = 1usize << l;
            // Node stride is nl (a power of two) so kernels can mask indices; slot nl - 1 is unused.
            let mut nodes = vec![pack(0, u32::MAX); nl * trees.len()];
            let mut leaves = vec![0.0; nl * trees.len()];
            for (t, tree) in trees.iter().enumerate() {
                let tn = &mut nodes[t * nl..(t + 1) * nl];
                let tl = &mut leaves[t * nl..(t + 1) * nl];
                // (canonical node, heap position)
                let mut stack = vec![(0usize, 0usize)];
                while let Some((c, p)) = stack.pop() {
                    let depth = depths[t][c] as usize;
                    if tree.left[c] == LEAF {
                        let mut q = p;
                        for _ in depth..l {
                            q = 2 * q + 1;
                        }
                        tl[q - ni] = depth as f64 + average_path_length(tree.size[c] as f64);
                    } else {
                        tn[p] = pack(tree.feature[c] * LANES as u32, order_key(tree.threshold[c]));
                        let lc = tree.left[c] as usize;
                        stack.push((lc, 2 * p + 1));
                        stack.push((lc + 1, 2 * p + 2));
                    }
                }
            }
            Layout::Padded {
                depth: l,
                n_trees: trees.len(),
                nodes,
                leaves,
            }
        } else {
            let mut roots = Vec::with_capacity(trees.len());
            let (mut nodes, mut left, mut value) = (Vec::new(), Vec::new(), Vec::new());
            for (t, tree) in trees.iter().enumerate() {
                let base = nodes.len() as u32;
                roots.push(base);
                for (c, &node_depth) in depths[t].iter().enumerate() {
                    if tree.left[c] == LEAF {
                        nodes.push(0);
                        left.push(LEAF);
                        value.push(node_depth as f64 + average_path_length(tree.size[c] as f64));
                    } else {
                        nodes.push(pack(tree.feature[c], order_key(tree.threshold[c])));
                        left.push(base + tree.left[c]);
                        value.push(0.0);
                    }
                }
            }
            Layout::Compact {
                roots,
                nodes,
                left,
                value,
            }
        }
    }

    /// Bytes held by the layout.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Layout::Padded { nodes, leaves, .. } => nodes.len() * 8 + leaves.len() * 8,
            Layout::Compact {
                roots,
                nodes,
                left,
                value,
            } => roots.len() * 4 + nodes.len() * 8 + left.len() * 4 + value.len() * 8,
        }
    }

    /// Add every tree's path length to `sums` for rows whose keys are in `keys`, interleaved by
    /// groups of [`LANES`] rows (`ceil(rows / LANES) * LANES * dp` keys, `dp` a power of two at least
    /// the number of features; lanes past the last row hold any value and are ignored). Each row's sum is accumulated in tree order, so results do not
    /// depend on blocking.
    pub(crate) fn accumulate_block(&self, keys: &[u32], dp: usize, sums: &mut [f64]) {
        debug_assert_eq!(keys.len(), sums.len().div_ceil(LANES) * LANES * dp);
        match self {
            Layout::Padded {
                depth,
                n_trees,
                nodes,
                leaves,
            } => {
                macro_rules! dispatch {
                    ($($l:literal),*) => {
                        match *depth {
                            $($l => padded_block::<$l, { 1 << $l }>(*n_trees, nodes, leaves, keys, dp, sums),)*
                            _ => unreachable!("padded depth is in 1..=MAX_PADDED_DEPTH"),
                        }
                    };
                }
                dispatch!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
            }
            Layout::Compact {
                roots,
                nodes,
                left,
                value,
            } => {
                for &root in roots {
                    for (r, s) in sums.iter_mut().enumerate() {
                        let group = &keys[(r / LANES) * LANES * dp..(r / LANES + 1) * LANES * dp];
                        let lane = r % LANES;
                        let mut i = root as usize;
                        *s += loop {
                            let l = left[i];
                            if l == LEAF {
                                break value[i];
                            }
                            let node = nodes[i];
                            let k = group[(node >> 32) as usize * LANES + lane];
                            i = l as usize + (k > node as u32) as usize;
                        };
                    }
                }
            }
        }
    }

    /// Path length of one row (keys contiguous) through the compact tree rooted at `root`.
    #[inline]
    fn compact_path(&self, root: u32, keys: &[u32]) -> f64 {
        let Layout::Compact {
            nodes, left, value, ..
        } = self
        else {
            unreachable!("compact only")
        };
        let mut i = root as usize;
        loop {
            let l = left[i];
            if l == LEAF {
                return value[i];
            }
            let node = nodes[i];
            i = l as usize + (keys[(node >> 32) as usize] > node as u32) as usize;
        }
    }

    /// Explanation credits for the padded layout (`None` for the compact one): per tree `2N` values
    /// (`N = 2^L` node slots), where slot `2p + dir` holds the credit `1 - m/n` (see
    /// [`split_credit`]) of the split at heap position `p` for a row going left (`dir = 0`) or right
    /// (`dir = 1`). Pass-through nodes below early leaves (and unused slots) hold `0.0`.
    pub(crate) fn build_credits(&self, trees: &[Tree]) -> Option<Vec<f64>> {
        let Layout::Padded { depth, .. } = self else {
            return None;
        };
        let stride = 2usize << depth;
        let mut credits = vec![0.0; stride * trees.len()];
        for (tree, tc) in trees.iter().zip(credits.chunks_exact_mut(stride)) {
            // (canonical node, heap position), as in `build`.
            let mut stack = vec![(0usize, 0usize)];
            while let Some((c, p)) = stack.pop() {
                if tree.left[c] != LEAF {
                    let lc = tree.left[c] as usize;
                    tc[2 * p] = split_credit(tree.size[c], tree.size[lc]);
                    tc[2 * p + 1] = split_credit(tree.size[c], tree.size[lc + 1]);
                    stack.push((lc, 2 * p + 1));
                    stack.push((lc + 1, 2 * p + 2));
                }
            }
        }
        Some(credits)
    }

    /// Explain one row of keys (`keys.len()` a power of two at least the number of features) with
    /// the padded layout and the `credits` of [`build_credits`](Self::build_credits): add every
    /// tree's `credit / h` per split to `raw[feature]` (`raw.len() == keys.len()`, zeroed by the
    /// caller) and return the sum of the path lengths `h`. Trees are taken in order and each tree's
    /// splits from the root down, so the floating-point operations are those of the reference walk
    /// over the canonical trees (pass-through steps add `w * 0.0 = +0.0`, which changes no sum).
    pub(crate) fn explain_one(&self, credits: &[f64], keys: &[u32], raw: &mut [f64]) -> f64 {
        debug_assert!(keys.len().is_power_of_two() && raw.len() == keys.len());
        let Layout::Padded {
            depth,
            n_trees,
            nodes,
            leaves,
        } = self
        else {
            unreachable!("padded only")
        };
        macro_rules! dispatch {
            ($($l:literal),*) => {
                match *depth {
                    $($l => padded_explain::<$l, { 1 << $l }>(*n_trees, nodes, leaves, credits, keys, raw),)*
                    _ => unreachable!("padded depth is in 1..=MAX_PADDED_DEPTH"),
                }
            };
        }
        dispatch!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
    }

    /// Sum of every tree's path length for one row of keys, in tree order. `keys.len()` is a power
    /// of two at least the number of features (the padding is never read).
    pub(crate) fn path_sum_one(&self, keys: &[u32]) -> f64 {
        debug_assert!(keys.len().is_power_of_two());
        match self {
            Layout::Padded {
                depth,
                n_trees,
                nodes,
                leaves,
            } => {
                macro_rules! dispatch {
                    ($($l:literal),*) => {
                        match *depth {
                            $($l => padded_one::<$l, { 1 << $l }>(*n_trees, nodes, leaves, keys),)*
                            _ => unreachable!("padded depth is in 1..=MAX_PADDED_DEPTH"),
                        }
                    };
                }
                dispatch!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
            }
            Layout::Compact { roots, .. } => roots
                .iter()
                .map(|&r| self.compact_path(r, keys))
                .fold(0.0, |a, b| a + b),
        }
    }
}

/// Batch kernel for padded trees of height `L` (`N = 2^L` node slots per tree, slot `N - 1` unused):
/// the constant height unrolls the steps and the power-of-two stride removes bounds checks on nodes.
fn padded_block<const L: usize, const N: usize>(
    n_trees: usize,
    nodes: &[u64],
    leaves: &[f64],
    keys: &[u32],
    dp: usize,
    sums: &mut [f64],
) {
    let rows = sums.len();
    let width = LANES * dp;
    debug_assert!(width.is_power_of_two());
    for (tn, tl) in nodes
        .chunks_exact(N)
        .zip(leaves.chunks_exact(N))
        .take(n_trees)
    {
        let tn: &[u64; N] = tn.try_into().expect("stride N");
        let tl: &[f64; N] = tl.try_into().expect("stride N");
        for (g, kb) in keys.chunks_exact(width).enumerate() {
            let mut idx = [0usize; LANES];
            for _ in 0..L {
                for (lane, i) in idx.iter_mut().enumerate() {
                    let node = tn[*i & (N - 1)];
                    // The node holds feature * LANES; the mask keeps the index provably in bounds.
                    let k = kb[((node >> 32) as usize + lane) & (width - 1)];
                    *i = 2 * *i + 1 + (k > node as u32) as usize;
                }
            }
            let first = g * LANES;
            let live = (rows - first).min(LANES);
            for (s, i) in sums[first..first + live].iter_mut().zip(idx) {
                *s += tl[(i + 1) & (N - 1)];
            }
        }
    }
}

/// One-row kernel for padded trees of height `L` (`N = 2^L` slots per tree): `TREE_LANES` trees are
/// stepped in lockstep; constant strides and power-of-two masks keep every index provably in bounds.
/// Leaf values are added in tree order, as in [`padded_block`], so both paths give the same bits.
fn padded_one<const L: usize, const N: usize>(
    n_trees: usize,
    nodes: &[u64],
    leaves: &[f64],
    keys: &[u32],
) -> f64 {
    let kmask = keys.len() - 1;
    let mut sum = 0.0;
    let full = n_trees / TREE_LANES * TREE_LANES;
    for t0 in (0..full).step_by(TREE_LANES) {
        let g = &nodes[t0 * N..(t0 + TREE_LANES) * N];
        let gl = &leaves[t0 * N..(t0 + TREE_LANES) * N];
        let mut idx = [0usize; TREE_LANES];
        for _ in 0..L {
            for (k, i) in idx.iter_mut().enumerate() {
                let node = g[k * N + (*i & (N - 1))];
                let key = keys[((node >> 32) as usize / LANES) & kmask];
                *i = 2 * *i + 1 + (key > node as u32) as usize;
            }
        }
        for (k, i) in idx.iter().enumerate() {
            sum += gl[k * N + ((i + 1) & (N - 1))];
        }
    }
    for (tn, tl) in nodes
        .chunks_exact(N)
        .zip(leaves.chunks_exact(N))
        .take(n_trees)
        .skip(full)
    {
        let tn: &[u64; N] = tn.try_into().expect("stride N");
        let tl: &[f64; N] = tl.try_into().expect("stride N");
        let mut i = 0usize;
        for _ in 0..L {
            let node = tn[i & (N - 1)];
            i = 2 * i + 1 + (keys[((node >> 32) as usize / LANES) & kmask] > node as u32) as usize;
        }
        sum += tl[(i + 1) & (N - 1)];
    }
    sum
}

/// One-row explanation kernel for padded trees of height `L` (`N = 2^L` slots per tree, `2N`
/// credits): `TREE_LANES` trees are stepped in lockstep as in [`padded_one`], recording each step's
/// feature and credit; then, tree by tree in order, the leaf's path length `h` is added to the sum
/// and, when `h > 0`, `(1 / h) * credit` to each step's feature, root first.
fn padded_explain<const L: usize, const N: usize>(
    n_trees: usize,
    nodes: &[u64],
    leaves: &[f64],
    credits: &[f64],
    keys: &[u32],
    raw: &mut [f64],
) -> f64 {
    let kmask = keys.len() - 1;
    let raw: &mut [f64] = &mut raw[..=kmask];
    let c2 = 2 * N;
    let mut sum = 0.0;
    let full = n_trees / TREE_LANES * TREE_LANES;
    let mut feat = [[0usize; L]; TREE_LANES];
    let mut credit = [[0.0f64; L]; TREE_LANES];
    for t0 in (0..full).step_by(TREE_LANES) {
        let g = &nodes[t0 * N..(t0 + TREE_LANES) * N];
        let gl = &leaves[t0 * N..(t0 + TREE_LANES) * N];
        let gc = &credits[t0 * c2..(t0 + TREE_LANES) * c2];
        let mut idx = [0usize; TREE_LANES];
        for step in 0..L {
            for (k, i) in idx.iter_mut().enumerate() {
                let p = *i & (N - 1);
                let node = g[k * N + p];
                let f = ((node >> 32) as usize / LANES) & kmask;
                let dir = (keys[f] > node as u32) as usize;
                feat[k][step] = f;
                credit[k][step] = gc[k * c2 + ((2 * p + dir) & (c2 - 1))];
                *i = 2 * p + 1 + dir;
            }
        }
        for (k, i) in idx.iter().enumerate() {
            let h = gl[k * N + ((i + 1) & (N - 1))];
            sum += h;
            if h > 0.0 {
                let w = 1.0 / h;
                for (&f, &c) in feat[k].iter().zip(&credit[k]) {
                    raw[f & kmask] += w * c;
                }
            }
        }
    }
    for t in full..n_trees {
        let tn: &[u64; N] = nodes[t * N..(t + 1) * N].try_into().expect("stride N");
        let tl: &[f64; N] = leaves[t * N..(t + 1) * N].try_into().expect("stride N");
        let tc = &credits[t * c2..(t + 1) * c2];
        let (f_row, c_row) = (&mut feat[0], &mut credit[0]);
        let mut i = 0usize;
        for step in 0..L {
            let p = i & (N - 1);
            let node = tn[p];
            let f = ((node >> 32) as usize / LANES) & kmask;
            let dir = (keys[f] > node as u32) as usize;
            f_row[step] = f;
            c_row[step] = tc[(2 * p + dir) & (c2 - 1)];
            i = 2 * p + 1 + dir;
        }
        let h = tl[(i + 1) & (N - 1)];
        sum += h;
        if h > 0.0 {
            let w = 1.0 / h;
            for (&f, &c) in f_row.iter().zip(c_row.iter()) {
                raw[f & kmask] += w * c;
            }
        }
    }
    sum
}
