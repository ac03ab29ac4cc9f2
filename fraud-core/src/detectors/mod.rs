//! Anomaly detectors.

pub mod iforest;
pub mod supervised;
pub mod zscore;
