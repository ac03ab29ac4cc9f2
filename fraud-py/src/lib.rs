//! Python binding of `fraud-core`: the native module `fraud_core._fraud_core`.
//!
//! One file per core module: [`error`] (exception hierarchy, panic guard), [`iforest`] (the
//! isolation forest), [`features`] (the streaming feature engine), [`metrics`], [`zscore`] (z-score
//! detectors), [`supervised`] (random forest / logistic regression), [`pipeline`] (the scoring
//! pipeline). The scikit-learn estimators are pure Python (`python/fraud_core/_iforest.py`,
//! `python/fraud_core/_zscore.py`, `python/fraud_core/_supervised.py`; `_pipeline.py` for the
//! pipeline's pandas front end) and hold a native object.

use pyo3::prelude::*;

mod convert;
pub mod error;
pub mod features;
pub mod iforest;
pub mod metrics;
pub mod pipeline;
pub mod supervised;
pub mod zscore;

/// The native module.
#[pymodule]
fn _fraud_core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    error::register(m)?;
    m.add_class::<iforest::PyIsolationForest>()?;
    m.add_class::<features::PyFeatureEngine>()?;
    m.add_function(wrap_pyfunction!(metrics::roc_auc_score, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::average_precision_score, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::precision_at_k, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::card_precision_at_k, m)?)?;
    m.add_class::<zscore::PyZScore>()?;
    m.add_class::<supervised::PySupervised>()?;
    m.add_class::<pipeline::PyPipeline>()?;
    m.add_function(wrap_pyfunction!(write_atomic, m)?)?;
    m.add_function(wrap_pyfunction!(read_file, m)?)?;
    Ok(())
}

/// Write `data` to `path` atomically (temporary file in the same folder, fsync, rename): a reader,
/// or a process that restarts after a crash, sees the previous file or the new one, never a part.
#[pyfunction]
fn write_atomic(py: Python<'_>, path: std::path::PathBuf, data: &[u8]) -> PyResult<()> {
    error::detached(py, move || fraud_core::model::write_atomic(&path, data))
}

/// Read a whole artifact or snapshot file (InvalidInputError naming the path when it cannot).
#[pyfunction]
fn read_file<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    let bytes = error::detached(py, move || fraud_core::model::read_file(&path))?;
    Ok(pyo3::types::PyBytes::new(py, &bytes))
}
