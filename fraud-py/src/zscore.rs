//! `fraud_core._fraud_core.ZScoreDetector`: the native wrapper of
//! [`fraud_core::detectors::zscore::ZScore`] and [`fraud_core::detectors::zscore::RobustZScore`].
//!
//! One Python class holds either variant (chosen by `robust` at construction); the scikit-learn
//! estimators `fraud_core.ZScore` and `fraud_core.RobustZScore` are pure Python over it. It converts
//! Python values to core types and core errors to Python exceptions, nothing else: parameters are
//! validated by the core. Matrices are 2-D numpy arrays of float64 or float32, read in place.

use std::sync::{Arc, RwLock};

use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyString, PyTuple};

use fraud_core::detectors::zscore::{Combine, RobustZScore, ZScore, ZScoreParams};

use crate::convert::{View, core, matrix, param_err, type_name};
use crate::error::{detached, guard, to_py};

/// Either detector.
#[derive(Clone)]
enum Detector {
    Standard(ZScore),
    Robust(RobustZScore),
}

/// Call the same method on whichever detector `$d` holds.
macro_rules! on {
    ($d:expr, $m:ident => $e:expr) => {
        match $d {
            Detector::Standard($m) => $e,
            Detector::Robust($m) => $e,
        }
    };
}

/// Core parameters from Python values; type errors are `InvalidParameterError`s naming the value.
fn params(
    py: Python<'_>,
    threshold: &Bound<'_, PyAny>,
    combine: &Bound<'_, PyAny>,
) -> PyResult<ZScoreParams> {
    let t = if threshold.is_instance_of::<PyBool>()
        || threshold.is_instance_of::<PyString>()
        || type_name(threshold) == "bool"
    {
        None
    } else {
        threshold.extract::<f64>().ok()
    }
    .ok_or_else(|| {
        param_err(
            threshold,
            "threshold",
            "a finite number > 0 (standard deviations)",
        )
    })?;
    let c: Combine = match combine.cast::<PyString>() {
        Ok(s) => {
            let s = s.to_str()?;
            guard(|| s.parse()).map_err(|e| to_py(py, e))?
        }
        Err(_) => return Err(param_err(combine, "combine", "\"max\" or \"rms\"")),
    };
    let p = ZScoreParams::default().threshold(t).combine(c);
    guard(|| p.validate()).map_err(|e| to_py(py, e))?;
    Ok(p)
}

/// Native z-score detector (see `fraud_core.ZScore` / `fraud_core.RobustZScore`).
#[pyclass(module = "fraud_core._fraud_core", name = "ZScoreDetector", frozen)]
pub struct PyZScore {
    inner: RwLock<Arc<Detector>>,
}

impl PyZScore {
    fn wrap(d: Detector) -> Self {
        PyZScore {
            inner: RwLock::new(Arc::new(d)),
        }
    }

    /// A snapshot of the current model (cheap: one reference count).
    fn model(&self) -> Arc<Detector> {
        match self.inner.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    fn replace(&self, model: Detector) {
        let mut model = Arc::new(model);
        match self.inner.write() {
            Ok(mut g) => std::mem::swap(&mut *g, &mut model),
            Err(p) => std::mem::swap(&mut *p.into_inner(), &mut model),
        }
    }

    /// Run a row-wise method on `x` without the GIL.
    fn rows<'py, R: numpy::Element + Send>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        f: fn(&Detector, View<'_>) -> fraud_core::Result<ndarray::Array1<R>>,
    ) -> PyResult<Bound<'py, PyArray1<R>>> {
        let m = matrix(x, "fraud_core.ZScore and fraud_core.RobustZScore")?;
        let view = m.view();
        let model = self.model();
        Ok(detached(py, move || f(&model, view))?.into_pyarray(py))
    }
}

#[pymethods]
impl PyZScore {
    /// An unfitted detector: `robust` picks median/MAD instead of mean/std. The parameters are
    /// required (the Python estimators pass their stored values; None is not a default here).
    #[new]
    fn new(
        py: Python<'_>,
        robust: bool,
        threshold: &Bound<'_, PyAny>,
        combine: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let p = params(py, threshold, combine)?;
        let d = core(py, || {
            Ok(if robust {
                Detector::Robust(RobustZScore::new(p)?)
            } else {
                Detector::Standard(ZScore::new(p)?)
            })
        })?;
        Ok(Self::wrap(d))
    }

    /// Fit on `x` (2-D float64/float32 array), with optional column names.
    #[pyo3(signature = (x, feature_names=None))]
    fn fit(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        feature_names: Option<Vec<String>>,
    ) -> PyResult<()> {
        let m = matrix(x, "fraud_core.ZScore and fraud_core.RobustZScore")?;
        let view = m.view();
        let mut model = (*self.model()).clone();
        let model = detached(py, move || {
            on!(&mut model, d => {
                match view {
                    View::F64(v) => d.fit(v)?,
                    View::F32(v) => d.fit(v)?,
                }
                if feature_names.is_some() {
                    d.set_feature_names(feature_names)?;
                }
            });
            Ok(model)
        })?;
        self.replace(model);
        Ok(())
    }

    /// Per-feature z-values, an (n, d) float64 array.
    fn z<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let m = matrix(x, "fraud_core.ZScore and fraud_core.RobustZScore")?;
        let view = m.view();
        let model = self.model();
        let z = detached(py, move || {
            on!(&*model, d => match view {
                View::F64(v) => d.z(v),
                View::F32(v) => d.z(v),
            })
        })?;
        Ok(z.into_pyarray(py))
    }

    /// Combined score of each row, in standard deviations (higher = more anomalous).
    fn score_samples<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.rows(py, x, |m, view| {
            on!(m, d => match view {
                View::F64(v) => d.score_samples(v),
                View::F32(v) => d.score_samples(v),
            })
        })
    }

    /// `threshold - score_samples(x)`: negative for anomalies.
    fn decision_function<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.rows(py, x, |m, view| {
            on!(m, d => match view {
                View::F64(v) => d.decision_function(v),
                View::F32(v) => d.decision_function(v),
            })
        })
    }

    /// -1 for anomalies (score above the threshold), 1 for normal rows.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<i32>>> {
        self.rows(py, x, |m, view| {
            on!(m, d => match view {
                View::F64(v) => d.predict(v),
                View::F32(v) => d.predict(v),
            })
        })
    }

    /// Score one row (a sequence of floats); equals `score_samples` on that row.
    fn score_one(&self, py: Python<'_>, row: Vec<f64>) -> PyResult<f64> {
        let model = self.model();
        core(py, || on!(&*model, d => d.score_one(&row)))
    }

    /// True for the median/MAD variant.
    #[getter]
    fn robust(&self) -> bool {
        matches!(*self.model(), Detector::Robust(_))
    }

    /// Whether the model is fitted.
    #[getter]
    fn is_fitted(&self) -> bool {
        on!(&*self.model(), d => d.is_fitted())
    }

    /// Number of features seen during fit.
    #[getter]
    fn n_features_in(&self, py: Python<'_>) -> PyResult<usize> {
        let model = self.model();
        core(py, || on!(&*model, d => d.n_features_in()))
    }

    /// Fitted centre per feature (mean or median).
    #[getter]
    fn location<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let model = self.model();
        let v = core(py, || on!(&*model, d => d.location().map(<[f64]>::to_vec)))?;
        Ok(v.into_pyarray(py))
    }

    /// Fitted scale per feature (std or scaled MAD, with the documented fallbacks).
    #[getter]
    fn scale<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let model = self.model();
        let v = core(py, || on!(&*model, d => d.scale().map(<[f64]>::to_vec)))?;
        Ok(v.into_pyarray(py))
    }

    /// Column names recorded at fit, or None.
    #[getter]
    fn feature_names(&self) -> Option<Vec<String>> {
        on!(&*self.model(), d => d.feature_names().map(<[String]>::to_vec))
    }

    /// The hyper-parameters: {"threshold": float, "combine": "max" | "rms"}.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let model = self.model();
        let p = on!(&*model, d => d.params().clone());
        let out = PyDict::new(py);
        out.set_item("threshold", p.threshold)?;
        out.set_item("combine", p.combine.name())?;
        Ok(out)
    }

    /// Serialise to the versioned artifact bytes shared by Rust, Python and WASM.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let model = self.model();
        let bytes = detached(py, move || on!(&*model, d => d.to_bytes()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Load from artifact bytes of the given variant (ArtifactError for anything else).
    #[staticmethod]
    #[pyo3(signature = (data, robust=false))]
    fn from_bytes(py: Python<'_>, data: &[u8], robust: bool) -> PyResult<Self> {
        let d = detached(py, || {
            Ok(if robust {
                Detector::Robust(RobustZScore::from_bytes(data)?)
            } else {
                Detector::Standard(ZScore::from_bytes(data)?)
            })
        })?;
        Ok(Self::wrap(d))
    }

    /// Pickle support through the artifact bytes.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let from_bytes = py.get_type::<PyZScore>().getattr("from_bytes")?;
        let args = (self.to_bytes(py)?, self.robust()).into_pyobject(py)?;
        PyTuple::new(py, [from_bytes, args.into_any()])
    }

    fn __repr__(&self) -> String {
        let model = self.model();
        let (name, p, fitted) = match &*model {
            Detector::Standard(d) => ("ZScore", d.params(), d.is_fitted()),
            Detector::Robust(d) => ("RobustZScore", d.params(), d.is_fitted()),
        };
        format!(
            "{name}Detector(threshold={}, combine={:?}, fitted={})",
            p.threshold,
            p.combine.name(),
            fitted
        )
    }
}
