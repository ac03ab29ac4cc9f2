//! # fraud-core
//!
//! The engine of a real-time fraud-detection library: an isolation forest with scikit-learn's
//! semantics (and much faster), a versioned model artifact format shared by Rust, Python and WASM,
//! and detection-quality metrics. Pure Rust, no `unsafe`, no binding types.
//!
//! ```
//! use fraud_core::detectors::iforest::{IsolationForest, IsolationForestParams};
//! use fraud_core::metrics::roc_auc;
//! use ndarray::Array2;
//!
//! // 300 normal points on a grid and 3 far away ones.
//! let x = Array2::from_shape_fn((303, 2), |(i, j)| {
//!     if i < 300 { ((i * (j + 3)) % 17) as f64 } else { 100.0 + i as f64 }
//! });
//! let labels: Vec<bool> = (0..303).map(|i| i >= 300).collect();
//! let mut forest = IsolationForest::new(IsolationForestParams::default().random_state(42))?;
//! forest.fit(x.view())?;
//! let anomaly: Vec<f64> = forest.score_samples(x.view())?.iter().map(|s| -s).collect();
//! assert!(roc_auc(&labels, &anomaly)? > 0.99);
//! # Ok::<(), fraud_core::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod data;
pub mod detectors;
pub mod error;
pub mod event;
pub mod features;
pub mod metrics;
pub mod model;
pub mod scoring;

pub use error::{ArtifactError, Error, Result};
