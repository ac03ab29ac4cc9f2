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

use super::tree::{LEAF, Tree, average_path_length};
use crate::data::order_key;

/// Deepest height limit stored padded (2^12 leaves per tree).
pub(crate) const MAX_PADDED_DEPTH: usize = 12;
/// Rows stepped in lockstep through one tree in batch scoring.
const LANES: usize = 8;
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
            let mut nodes = vec![pack(0, u32::MAX); ni * trees.len()];
            let mut leaves = vec![0.0; nl * trees.len()];
            for (t, tree) in trees.iter().enumerate() {
                let tn = &mut nodes[t * ni..(t + 1) * ni];
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
                        tn[p] = pack(tree.feature[c], order_key(tree.threshold[c]));
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

    /// Add every tree's path length to `sums` for the rows whose keys are in `keys` (row-major, `d`
    /// per row). Each row's sum is accumulated in tree order, so results do not depend on blocking.
    pub(crate) fn accumulate_block(&self, keys: &[u32], d: usize, sums: &mut [f64]) {
        let rows = sums.len();
        debug_assert_eq!(keys.len(), rows * d);
        match self {
            Layout::Padded {
                depth,
                n_trees,
                nodes,
                leaves,
            } => {
                let ni = (1usize << depth) - 1;
                let nl = ni + 1;
                for t in 0..*n_trees {
                    let tn = &nodes[t * ni..(t + 1) * ni];
                    let tl = &leaves[t * nl..(t + 1) * nl];
                    let full = rows / LANES * LANES;
                    for g in (0..full).step_by(LANES) {
                        let kb = &keys[g * d..(g + LANES) * d];
                        let mut idx = [0usize; LANES];
                        for _ in 0..*depth {
                            for (r, i) in idx.iter_mut().enumerate() {
                                let node = tn[*i];
                                let k = kb[r * d + (node >> 32) as usize];
                                *i = 2 * *i + 1 + (k > node as u32) as usize;
                            }
                        }
                        for (r, i) in idx.iter().enumerate() {
                            sums[g + r] += tl[i - ni];
                        }
                    }
                    for (r, s) in sums.iter_mut().enumerate().skip(full) {
                        let kr = &keys[r * d..(r + 1) * d];
                        let mut i = 0usize;
                        for _ in 0..*depth {
                            let node = tn[i];
                            i = 2 * i + 1 + (kr[(node >> 32) as usize] > node as u32) as usize;
                        }
                        *s += tl[i - ni];
                    }
                }
            }
            Layout::Compact { roots, .. } => {
                for &root in roots {
                    for (r, s) in sums.iter_mut().enumerate() {
                        *s += self.compact_path(root, &keys[r * d..(r + 1) * d]);
                    }
                }
            }
        }
    }

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

    /// Sum of every tree's path length for one row of keys, in tree order.
    pub(crate) fn path_sum_one(&self, keys: &[u32]) -> f64 {
        match self {
            Layout::Padded {
                depth,
                n_trees,
                nodes,
                leaves,
            } => {
                let ni = (1usize << depth) - 1;
                let nl = ni + 1;
                let mut sum = 0.0;
                let full = n_trees / TREE_LANES * TREE_LANES;
                for t0 in (0..full).step_by(TREE_LANES) {
                    let mut idx = [0usize; TREE_LANES];
                    for _ in 0..*depth {
                        for (k, i) in idx.iter_mut().enumerate() {
                            let node = nodes[(t0 + k) * ni + *i];
                            *i = 2 * *i + 1 + (keys[(node >> 32) as usize] > node as u32) as usize;
                        }
                    }
                    for (k, i) in idx.iter().enumerate() {
                        sum += leaves[(t0 + k) * nl + i - ni];
                    }
                }
                for t in full..*n_trees {
                    let tn = &nodes[t * ni..(t + 1) * ni];
                    let mut i = 0usize;
                    for _ in 0..*depth {
                        let node = tn[i];
                        i = 2 * i + 1 + (keys[(node >> 32) as usize] > node as u32) as usize;
                    }
                    sum += leaves[t * nl + i - ni];
                }
                sum
            }
            Layout::Compact { roots, .. } => roots
                .iter()
                .map(|&r| self.compact_path(r, keys))
                .fold(0.0, |a, b| a + b),
        }
    }
}
