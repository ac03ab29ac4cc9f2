//! Anomaly detectors.

pub mod iforest;
