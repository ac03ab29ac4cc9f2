//! Detection-quality metrics from [`fraud_core::metrics`] (scores: higher = more suspicious).

use numpy::{PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::error::{detached, dtype_err};

fn labels<'py>(y: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArray1<'py, bool>> {
    y.extract::<PyReadonlyArray1<'py, bool>>().map_err(|_| {
        dtype_err(
            y.py(),
            "y_true must be a 1-D numpy array of bool (fraud_core's metrics functions convert)"
                .into(),
        )
    })
}

fn scores<'py>(s: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArray1<'py, f64>> {
    s.extract::<PyReadonlyArray1<'py, f64>>().map_err(|_| {
        dtype_err(
            s.py(),
            "y_score must be a 1-D numpy array of float64 (fraud_core's metrics functions convert)"
                .into(),
        )
    })
}

/// Run `f` on contiguous copies-if-needed of labels and scores.
fn with_slices<T: Send>(
    py: Python<'_>,
    y: &Bound<'_, PyAny>,
    s: &Bound<'_, PyAny>,
    f: impl FnOnce(&[bool], &[f64]) -> fraud_core::Result<T> + Send,
) -> PyResult<T> {
    let (y, s) = (labels(y)?, scores(s)?);
    let (yv, sv) = (y.as_array(), s.as_array());
    let (yo, so);
    let ys: &[bool] = match yv.as_slice() {
        Some(v) => v,
        None => {
            yo = yv.to_vec();
            &yo
        }
    };
    let ss: &[f64] = match sv.as_slice() {
        Some(v) => v,
        None => {
            so = sv.to_vec();
            &so
        }
    };
    debug_assert_eq!(y.len(), yv.len());
    detached(py, move || f(ys, ss))
}

/// Area under the ROC curve (ties count one half).
#[pyfunction]
pub fn roc_auc_score(
    py: Python<'_>,
    y_true: &Bound<'_, PyAny>,
    y_score: &Bound<'_, PyAny>,
) -> PyResult<f64> {
    with_slices(py, y_true, y_score, fraud_core::metrics::roc_auc)
}

/// Average precision over distinct score thresholds.
#[pyfunction]
pub fn average_precision_score(
    py: Python<'_>,
    y_true: &Bound<'_, PyAny>,
    y_score: &Bound<'_, PyAny>,
) -> PyResult<f64> {
    with_slices(py, y_true, y_score, fraud_core::metrics::average_precision)
}

/// Fraction of positives among the `k` highest scores.
#[pyfunction]
pub fn precision_at_k(
    py: Python<'_>,
    y_true: &Bound<'_, PyAny>,
    y_score: &Bound<'_, PyAny>,
    k: usize,
) -> PyResult<f64> {
    with_slices(py, y_true, y_score, move |y, s| {
        fraud_core::metrics::precision_at_k(y, s, k)
    })
}

fn int64s<'py>(a: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArray1<'py, i64>> {
    a.extract::<PyReadonlyArray1<'py, i64>>().map_err(|_| {
        dtype_err(
            a.py(),
            format!(
                "{what} must be a 1-D numpy array of int64 (fraud_core.metrics.card_precision_at_k converts)"
            ),
        )
    })
}

/// Card precision@k (Fraud Detection Handbook): per day, the fraction of compromised cards among the
/// `k` cards with the highest score, averaged over days. `days` and `cards` are int64 codes (cards
/// tie-break in increasing code order); with `remove_detected`, cards detected on an earlier day
/// are not ranked again.
#[pyfunction]
#[pyo3(signature = (days, cards, y_true, y_score, k, remove_detected=true))]
pub fn card_precision_at_k(
    py: Python<'_>,
    days: &Bound<'_, PyAny>,
    cards: &Bound<'_, PyAny>,
    y_true: &Bound<'_, PyAny>,
    y_score: &Bound<'_, PyAny>,
    k: usize,
    remove_detected: bool,
) -> PyResult<f64> {
    let (d, c) = (int64s(days, "days")?, int64s(cards, "cards")?);
    let (dv, cv) = (d.as_array().to_vec(), c.as_array().to_vec());
    with_slices(py, y_true, y_score, move |y, s| {
        fraud_core::metrics::card_precision_at_k(&dv, &cv, y, s, k, remove_detected)
    })
}
