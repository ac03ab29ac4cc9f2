//! A seeded synthetic outlier set for the embedded demo and tests: Gaussian clusters of normal rows
//! plus uniformly scattered anomalies. Deterministic for a seed on every platform.

use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::odds::OddsData;

/// `n` rows in `d` dimensions; a fraction `contamination` are anomalies drawn uniformly from the box
/// `[-8, 8]^d`, the rest come from 3 Gaussian clusters (unit variance, centres in `[-4, 4]^d`).
/// Rows are shuffled; labels mark the anomalies.
///
/// ```
/// let data = fraud_datasets::synthetic::clusters_with_outliers(1000, 4, 0.02, 7);
/// assert_eq!(data.x.dim(), (1000, 4));
/// assert_eq!(data.y.iter().filter(|&&a| a).count(), 20);
/// ```
pub fn clusters_with_outliers(n: usize, d: usize, contamination: f64, seed: u64) -> OddsData {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let n_out = ((n as f64) * contamination.clamp(0.0, 1.0)).round() as usize;
    let centres: Vec<Vec<f64>> = (0..3)
        .map(|_| (0..d).map(|_| rng.random::<f64>() * 8.0 - 4.0).collect())
        .collect();
    let mut rows: Vec<(Vec<f64>, bool)> = Vec::with_capacity(n);
    for i in 0..n {
        if i < n_out {
            rows.push((
                (0..d).map(|_| rng.random::<f64>() * 16.0 - 8.0).collect(),
                true,
            ));
        } else {
            let c = &centres[rng.random_range(0..3u64) as usize];
            rows.push((
                c.iter()
                    .map(|m| {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        m + z
                    })
                    .collect(),
                false,
            ));
        }
    }
    for i in (1..rows.len()).rev() {
        let j = rng.random_range(0..=i as u64) as usize;
        rows.swap(i, j);
    }
    let y = rows.iter().map(|r| r.1).collect();
    let x = Array2::from_shape_vec((n, d), rows.into_iter().flat_map(|r| r.0).collect())
        .expect("n x d values");
    OddsData { x, y }
}
