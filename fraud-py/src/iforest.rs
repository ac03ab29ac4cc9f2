//! `fraud_core._fraud_core.IsolationForest`: the native wrapper of
//! [`fraud_core::detectors::iforest::IsolationForest`].
//!
//! It converts Python values to core types and core errors to Python exceptions, nothing else.
//! Matrices are 2-D numpy arrays of float64 or float32 in any memory order, read in place (no copy);
//! other dtypes are converted by the Python layer (`fraud_core.IsolationForest`). Fitting and batch
//! scoring release the GIL.
//!
//! The fitted model sits behind `RwLock<Arc<..>>`: readers take a reference-counted snapshot, `fit`
//! grows a new model and swaps it in, so concurrent calls from several Python threads never block on
//! each other and never see a half-fitted model.

use std::sync::{Arc, RwLock};

use ndarray::ArrayView2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyList, PyString, PyTuple};

use fraud_core::Error as CoreError;
use fraud_core::detectors::iforest::{
    Contamination, IsolationForest, IsolationForestParams, MaxFeatures, MaxSamples,
};

use crate::convert::{View, borrow_err, core, matrix, param_err, repr, type_name};
use crate::error::{detached, dtype_err, to_py};

/// Rows up to this many features are scored by `score_one` without any heap allocation.
const STACK_FEATURES: usize = 64;

const EXPECT_N_ESTIMATORS: &str = "an integer >= 1";
const EXPECT_MAX_SAMPLES: &str = "an integer >= 1, a float in (0, 1] or \"auto\"";
const EXPECT_CONTAMINATION: &str = "\"auto\" or a float in (0, 0.5]";
const EXPECT_MAX_FEATURES: &str = "an integer >= 1 or a float in (0, 1]";
const EXPECT_BOOL: &str = "True or False";
const EXPECT_SEED: &str = "None or an integer in [0, 2**64 - 1]";
const EXPECT_N_JOBS: &str = "None, -1 (every core) or an integer >= 1";

/// A Python integer (or anything with `__index__`, e.g. numpy integers), but not a bool or float.
fn as_int(obj: &Bound<'_, PyAny>) -> Option<i128> {
    if obj.is_instance_of::<PyBool>() || obj.is_instance_of::<PyFloat>() {
        return None;
    }
    // numpy.bool_ has no __index__ in numpy 2, so it is not taken for an integer either.
    obj.extract::<i128>().ok()
}

/// A real number given as a float (or anything with `__float__` that is not an integer or bool).
fn as_float(obj: &Bound<'_, PyAny>) -> Option<f64> {
    if obj.is_instance_of::<PyBool>() || obj.is_instance_of::<PyString>() {
        return None;
    }
    obj.extract::<f64>().ok()
}

fn is_auto(obj: &Bound<'_, PyAny>) -> bool {
    obj.cast::<PyString>()
        .map(|s| s.to_str().is_ok_and(|s| s == "auto"))
        .unwrap_or(false)
}

fn count(obj: &Bound<'_, PyAny>, v: i128, name: &'static str, expected: &str) -> PyResult<usize> {
    usize::try_from(v).map_err(|_| param_err(obj, name, expected))
}

fn bool_param(obj: &Bound<'_, PyAny>, name: &'static str) -> PyResult<bool> {
    // Accepts Python bools and numpy.bool_, not integers.
    if obj.is_instance_of::<PyBool>() || type_name(obj) == "bool" {
        return obj
            .extract::<bool>()
            .map_err(|_| param_err(obj, name, EXPECT_BOOL));
    }
    Err(param_err(obj, name, EXPECT_BOOL))
}

/// The keyword arguments accepted by the constructor and `with_params`.
const PARAM_NAMES: [&str; 8] = [
    "n_estimators",
    "max_samples",
    "contamination",
    "max_features",
    "bootstrap",
    "random_state",
    "n_jobs",
    "warm_start",
];

/// Apply Python keyword hyper-parameters to `base`: a missing key keeps the base value; `None` is
/// only accepted for `random_state` and `n_jobs`.
fn params_from_py(
    mut p: IsolationForestParams,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<IsolationForestParams> {
    let Some(kwargs) = kwargs else {
        return Ok(p);
    };
    for (key, o) in kwargs.iter() {
        let key: String = key.extract()?;
        let o = &o;
        match key.as_str() {
            "n_estimators" => {
                let v =
                    as_int(o).ok_or_else(|| param_err(o, "n_estimators", EXPECT_N_ESTIMATORS))?;
                p.n_estimators = count(o, v, "n_estimators", EXPECT_N_ESTIMATORS)?;
            }
            "max_samples" => {
                p.max_samples = if is_auto(o) {
                    MaxSamples::Auto
                } else if let Some(v) = as_int(o) {
                    MaxSamples::Count(count(o, v, "max_samples", EXPECT_MAX_SAMPLES)?)
                } else if let Some(f) = as_float(o) {
                    MaxSamples::Fraction(f)
                } else {
                    return Err(param_err(o, "max_samples", EXPECT_MAX_SAMPLES));
                };
            }
            "contamination" => {
                p.contamination = if is_auto(o) {
                    Contamination::Auto
                } else if let Some(f) = as_float(o) {
                    Contamination::Fraction(f)
                } else {
                    return Err(param_err(o, "contamination", EXPECT_CONTAMINATION));
                };
            }
            "max_features" => {
                p.max_features = if let Some(v) = as_int(o) {
                    MaxFeatures::Count(count(o, v, "max_features", EXPECT_MAX_FEATURES)?)
                } else if let Some(f) = as_float(o) {
                    MaxFeatures::Fraction(f)
                } else {
                    return Err(param_err(o, "max_features", EXPECT_MAX_FEATURES));
                };
            }
            "bootstrap" => p.bootstrap = bool_param(o, "bootstrap")?,
            "warm_start" => p.warm_start = bool_param(o, "warm_start")?,
            "random_state" => {
                p.random_state = if o.is_none() {
                    None
                } else {
                    let v = as_int(o).ok_or_else(|| param_err(o, "random_state", EXPECT_SEED))?;
                    Some(u64::try_from(v).map_err(|_| param_err(o, "random_state", EXPECT_SEED))?)
                };
            }
            "n_jobs" => {
                p.n_jobs = if o.is_none() {
                    None
                } else {
                    let v = as_int(o).ok_or_else(|| param_err(o, "n_jobs", EXPECT_N_JOBS))?;
                    Some(i64::try_from(v).map_err(|_| param_err(o, "n_jobs", EXPECT_N_JOBS))?)
                };
            }
            _ => {
                return Err(to_py(
                    kwargs.py(),
                    CoreError::InvalidParameter {
                        name: "(unknown)",
                        value: key.clone(),
                        expected: format!("one of {}", PARAM_NAMES.join(", ")),
                    },
                ));
            }
        }
    }
    Ok(p)
}

/// Copy a row given as a Python sequence (or a non-float64 numpy array) into `stack`, spilling to
/// `heap` only for rows longer than the stack buffer. Iteration stops after `limit` values (so an
/// endless iterator cannot exhaust memory); the core then reports the length mismatch.
fn collect_row<'b>(
    row: &Bound<'_, PyAny>,
    stack: &'b mut [f64; STACK_FEATURES],
    heap: &'b mut Vec<f64>,
    limit: usize,
) -> PyResult<&'b [f64]> {
    let py = row.py();
    let bad = |j: usize, item: &Bound<'_, PyAny>| {
        dtype_err(
            py,
            format!(
                "row[{j}] = {} is not a number (score_one expects a sequence of floats)",
                repr(item)
            ),
        )
    };
    let mut n = 0usize;
    let mut push = |j: usize, item: &Bound<'_, PyAny>| -> PyResult<()> {
        let v = if let Ok(f) = item.cast::<PyFloat>() {
            f.value()
        } else if item.is_instance_of::<PyString>() {
            return Err(bad(j, item));
        } else {
            item.extract::<f64>().map_err(|_| bad(j, item))?
        };
        if j < STACK_FEATURES && heap.is_empty() {
            stack[j] = v;
        } else {
            if heap.is_empty() {
                heap.extend_from_slice(&stack[..]);
            }
            heap.push(v);
        }
        n = j + 1;
        Ok(())
    };
    if let Ok(list) = row.cast::<PyList>() {
        for (j, item) in list.iter().enumerate() {
            push(j, &item)?;
        }
    } else if let Ok(tuple) = row.cast::<PyTuple>() {
        for (j, item) in tuple.iter().enumerate() {
            push(j, &item)?;
        }
    } else {
        if row.is_instance_of::<PyString>() || row.is_instance_of::<PyBytes>() {
            return Err(dtype_err(
                py,
                format!(
                    "score_one expects a sequence of floats, got {}",
                    type_name(row)
                ),
            ));
        }
        let iter = row.try_iter().map_err(|_| {
            dtype_err(
                py,
                format!(
                    "score_one expects a 1-D numpy array or a sequence of floats, got {}",
                    type_name(row)
                ),
            )
        })?;
        for (j, item) in iter.enumerate().take(limit) {
            push(j, &item?)?;
        }
    }
    Ok(if heap.is_empty() {
        &stack[..n]
    } else {
        &heap[..n]
    })
}

/// Native isolation forest (see `fraud_core.IsolationForest` for the scikit-learn estimator).
#[pyclass(module = "fraud_core._fraud_core", name = "IsolationForest", frozen)]
pub struct PyIsolationForest {
    inner: RwLock<Arc<IsolationForest>>,
}

impl PyIsolationForest {
    fn wrap(model: IsolationForest) -> Self {
        PyIsolationForest {
            inner: RwLock::new(Arc::new(model)),
        }
    }

    /// Run a batch method of the core model on `x` (float64 or float32 view) without the GIL.
    fn batch<'py, R: numpy::Element + Send>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        on_f64: fn(&IsolationForest, ArrayView2<'_, f64>) -> fraud_core::Result<ndarray::Array1<R>>,
        on_f32: fn(&IsolationForest, ArrayView2<'_, f32>) -> fraud_core::Result<ndarray::Array1<R>>,
    ) -> PyResult<Bound<'py, PyArray1<R>>> {
        let m = matrix(x, "fraud_core.IsolationForest")?;
        let view = m.view();
        let model = self.model();
        let out = detached(py, move || match view {
            View::F64(v) => on_f64(&model, v),
            View::F32(v) => on_f32(&model, v),
        })?;
        Ok(out.into_pyarray(py))
    }

    /// A snapshot of the current model (cheap: one reference count).
    fn model(&self) -> Arc<IsolationForest> {
        match self.inner.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    fn replace(&self, model: IsolationForest) {
        let mut model = Arc::new(model);
        match self.inner.write() {
            Ok(mut g) => std::mem::swap(&mut *g, &mut model),
            Err(p) => std::mem::swap(&mut *p.into_inner(), &mut model),
        }
        // The previous model is dropped here, after the lock is released.
    }
}

#[pymethods]
impl PyIsolationForest {
    /// Create an unfitted forest from keyword hyper-parameters (missing = the core default).
    #[new]
    #[pyo3(signature = (**kwargs))]
    fn new(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let params = params_from_py(IsolationForestParams::default(), kwargs)?;
        Ok(Self::wrap(core(py, || IsolationForest::new(params))?))
    }

    /// A new forest with the same trees (if fitted) and these parameters changed (for warm starts).
    #[pyo3(signature = (**kwargs))]
    fn with_params(&self, py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let model = self.model();
        let params = params_from_py(model.params().clone(), kwargs)?;
        let mut m = (*model).clone();
        core(py, || m.set_params(params))?;
        Ok(Self::wrap(m))
    }

    /// Fit on `x` (2-D float64/float32 array), with optional sample weights and column names.
    #[pyo3(signature = (x, sample_weight=None, feature_names=None))]
    fn fit(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        sample_weight: Option<&Bound<'_, PyAny>>,
        feature_names: Option<Vec<String>>,
    ) -> PyResult<()> {
        let m = matrix(x, "fraud_core.IsolationForest")?;
        let sample_weight = match sample_weight {
            None => None,
            Some(w) if w.is_none() => None,
            Some(w) => Some(
                w.cast::<PyArray1<f64>>()
                    .map_err(|_| {
                        dtype_err(
                            py,
                            format!(
                                "sample_weight must be a 1-D float64 numpy array, got {}",
                                type_name(w)
                            ),
                        )
                    })?
                    .try_readonly()
                    .map_err(borrow_err)?,
            ),
        };
        let view = m.view();
        let w = sample_weight.as_ref().map(|w| w.as_array());
        let mut model = (*self.model()).clone();
        let model = detached(py, move || {
            match view {
                View::F64(v) => model.fit_weighted(v, w)?,
                View::F32(v) => model.fit_weighted(v, w)?,
            }
            if feature_names.is_some() {
                model.set_feature_names(feature_names)?;
            }
            Ok(model)
        })?;
        self.replace(model);
        Ok(())
    }

    /// Opposite of the anomaly score of each row, in [-1, 0] (lower = more abnormal).
    fn score_samples<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.batch(
            py,
            x,
            IsolationForest::score_samples,
            IsolationForest::score_samples,
        )
    }

    /// `score_samples(x) - offset`: negative for outliers.
    fn decision_function<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.batch(
            py,
            x,
            IsolationForest::decision_function,
            IsolationForest::decision_function,
        )
    }

    /// Per-feature contributions, shape (n, d): non-negative, each row sums to `-score_samples`.
    fn explain<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let m = matrix(x, "fraud_core.IsolationForest")?;
        let view = m.view();
        let model = self.model();
        let out = detached(py, move || match view {
            View::F64(v) => model.explain(v),
            View::F32(v) => model.explain(v),
        })?;
        Ok(out.into_pyarray(py))
    }

    /// Reason codes: per row, up to `k` (feature index, contribution) pairs, largest first.
    fn top_reasons(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        k: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<Vec<(usize, f64)>>> {
        let k = as_int(k)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| param_err(k, "k", "an integer >= 0"))?;
        let m = matrix(x, "fraud_core.IsolationForest")?;
        let view = m.view();
        let model = self.model();
        detached(py, move || match view {
            View::F64(v) => model.top_reasons(v, k),
            View::F32(v) => model.top_reasons(v, k),
        })
    }

    /// -1 for outliers, 1 for inliers.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<i32>>> {
        self.batch(py, x, IsolationForest::predict, IsolationForest::predict)
    }

    /// Score one row (a 1-D numpy array or a sequence of floats); equals `score_samples` on that row.
    ///
    /// Keeps the GIL (the call takes microseconds) and allocates nothing for rows of up to 64 values.
    fn score_one(&self, py: Python<'_>, row: &Bound<'_, PyAny>) -> PyResult<f64> {
        // A snapshot, not a held lock: reading a Python sequence may run Python code that lets
        // another thread in, and that thread may be replacing the model.
        let model = self.model();
        if let Ok(a) = row.cast::<numpy::PyArray1<f64>>()
            && a.is_aligned()
            && let Ok(ro) = a.try_readonly()
        {
            if let Ok(s) = ro.as_slice() {
                return core(py, || model.score_one(s));
            }
        } else if let Ok(u) = row.cast::<PyUntypedArray>()
            && u.ndim() != 1
        {
            return Err(to_py(
                py,
                CoreError::ShapeMismatch(format!(
                    "score_one expects one row (a 1-D array), got an array of shape {:?}",
                    u.shape()
                )),
            ));
        }
        let d = core(py, || model.n_features_in())?;
        let mut stack = [0f64; STACK_FEATURES];
        let mut heap = Vec::new();
        let values = collect_row(row, &mut stack, &mut heap, d.saturating_add(1))?;
        core(py, || model.score_one(values))
    }

    /// The decision threshold (`-0.5` for contamination "auto").
    #[getter]
    fn offset(&self, py: Python<'_>) -> PyResult<f64> {
        core(py, || self.model().offset())
    }

    /// Number of features seen during fit.
    #[getter]
    fn n_features_in(&self, py: Python<'_>) -> PyResult<usize> {
        core(py, || self.model().n_features_in())
    }

    /// The effective number of rows drawn per tree.
    #[getter]
    fn max_samples_(&self, py: Python<'_>) -> PyResult<usize> {
        core(py, || self.model().max_samples_())
    }

    /// Number of trees grown (0 before fit).
    #[getter]
    fn n_trees(&self) -> usize {
        self.model().n_trees()
    }

    /// The seed the trees were grown from.
    #[getter]
    fn seed(&self, py: Python<'_>) -> PyResult<u64> {
        core(py, || self.model().seed())
    }

    /// Whether the model is fitted.
    #[getter]
    fn is_fitted(&self) -> bool {
        self.model().is_fitted()
    }

    /// Column names recorded at fit, or None.
    #[getter]
    fn feature_names(&self) -> Option<Vec<String>> {
        self.model().feature_names().map(|n| n.to_vec())
    }

    /// Bytes of memory used by the fitted model.
    #[getter]
    fn memory_bytes(&self) -> usize {
        self.model().memory_bytes()
    }

    /// The hyper-parameters as a dict of Python values (max_samples "auto"/int/float, ...).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let model = self.model();
        let p = model.params();
        let d = PyDict::new(py);
        d.set_item("n_estimators", p.n_estimators)?;
        match p.max_samples {
            MaxSamples::Auto => d.set_item("max_samples", "auto")?,
            MaxSamples::Count(c) => d.set_item("max_samples", c)?,
            MaxSamples::Fraction(f) => d.set_item("max_samples", f)?,
        }
        match p.contamination {
            Contamination::Auto => d.set_item("contamination", "auto")?,
            Contamination::Fraction(f) => d.set_item("contamination", f)?,
        }
        match p.max_features {
            MaxFeatures::Count(c) => d.set_item("max_features", c)?,
            MaxFeatures::Fraction(f) => d.set_item("max_features", f)?,
        }
        d.set_item("bootstrap", p.bootstrap)?;
        d.set_item("random_state", p.random_state)?;
        d.set_item("n_jobs", p.n_jobs)?;
        d.set_item("warm_start", p.warm_start)?;
        Ok(d)
    }

    /// Serialise to the versioned artifact bytes shared by Rust, Python and WASM.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let model = self.model();
        let bytes = detached(py, move || model.to_bytes())?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Load from artifact bytes (raises ArtifactError for anything that is not a valid artifact).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(Self::wrap(detached(py, || {
            IsolationForest::from_bytes(data)
        })?))
    }

    /// Write the artifact to `path` atomically.
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        let model = self.model();
        detached(py, move || model.save(&path))
    }

    /// Read an artifact file.
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        Ok(Self::wrap(detached(py, move || {
            IsolationForest::load(&path)
        })?))
    }

    /// JSON view of the fitted model (parameters, offset, every tree's arrays).
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        let model = self.model();
        detached(py, move || model.to_json())
    }

    /// Pickle support through the artifact bytes.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let cls = py.get_type::<PyIsolationForest>();
        let from_bytes = cls.getattr("from_bytes")?;
        let bytes = self.to_bytes(py)?;
        PyTuple::new(py, [from_bytes, PyTuple::new(py, [bytes])?.into_any()])
    }

    fn __repr__(&self) -> String {
        let model = self.model();
        let p = model.params();
        format!(
            "IsolationForest(n_estimators={}, fitted={}, n_trees={})",
            p.n_estimators,
            model.is_fitted(),
            model.n_trees()
        )
    }
}
