//! `fraud_core._fraud_core.SupervisedModel`: the native wrapper of
//! [`fraud_core::detectors::supervised::SupervisedModel`].
//!
//! It converts Python values to core types and core errors to Python exceptions, nothing else: the
//! core validates the parameters and the data. The scikit-learn estimator
//! `fraud_core.SupervisedClassifier` (pure Python) encodes labels to booleans and passes every
//! hyper-parameter explicitly. Matrices are 2-D numpy arrays of float64 or float32, read in place;
//! fitting and prediction release the GIL.

use std::sync::{Arc, RwLock};

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyString, PyTuple};

use fraud_core::detectors::supervised::{
    Balance, ModelSpec, SupervisedModel, SupervisedParams, TreeMaxFeatures,
};

use crate::convert::{View, core, matrix, param_err, type_name};
use crate::error::{detached, guard, to_py};

/// A Python integer (or numpy integer), not a bool or float.
fn as_int(obj: &Bound<'_, PyAny>) -> Option<i128> {
    if obj.is_instance_of::<PyBool>() || obj.is_instance_of::<PyFloat>() {
        return None;
    }
    obj.extract::<i128>().ok()
}

/// A real number (float, or integer), not a bool or string.
fn as_float(obj: &Bound<'_, PyAny>) -> Option<f64> {
    if obj.is_instance_of::<PyBool>()
        || obj.is_instance_of::<PyString>()
        || type_name(obj) == "bool"
    {
        return None;
    }
    obj.extract::<f64>().ok()
}

fn as_str(obj: &Bound<'_, PyAny>) -> Option<String> {
    obj.cast::<PyString>()
        .ok()
        .and_then(|s| s.to_str().ok().map(str::to_owned))
}

/// A non-negative integer parameter (the core checks the range).
fn count(obj: &Bound<'_, PyAny>, name: &'static str, expected: &str) -> PyResult<usize> {
    as_int(obj)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| param_err(obj, name, expected))
}

/// The keyword hyper-parameters of `fraud_core.SupervisedClassifier`, as core parameters.
#[allow(clippy::too_many_arguments)]
fn params_from_py(
    model: &Bound<'_, PyAny>,
    n_estimators: &Bound<'_, PyAny>,
    max_depth: &Bound<'_, PyAny>,
    min_samples_leaf: &Bound<'_, PyAny>,
    min_samples_split: &Bound<'_, PyAny>,
    max_features: &Bound<'_, PyAny>,
    alpha: &Bound<'_, PyAny>,
    balance: &Bound<'_, PyAny>,
    sampling_ratio: &Bound<'_, PyAny>,
    random_state: &Bound<'_, PyAny>,
) -> PyResult<SupervisedParams> {
    let spec = match as_str(model).as_deref() {
        Some("random_forest") => {
            let expect_n = "an integer in [1, 100000]";
            let depth = if max_depth.is_none() {
                None
            } else {
                Some(count(
                    max_depth,
                    "max_depth",
                    "None or an integer in [1, 65535]",
                )?)
            };
            let expect_mf = "\"sqrt\", \"log2\", None, an integer >= 1 or a float in (0, 1]";
            let mf = if max_features.is_none() {
                TreeMaxFeatures::Fraction(1.0)
            } else if let Some(s) = as_str(max_features) {
                match s.as_str() {
                    "sqrt" => TreeMaxFeatures::Sqrt,
                    "log2" => TreeMaxFeatures::Log2,
                    _ => return Err(param_err(max_features, "max_features", expect_mf)),
                }
            } else if let Some(v) = as_int(max_features) {
                TreeMaxFeatures::Count(
                    usize::try_from(v)
                        .map_err(|_| param_err(max_features, "max_features", expect_mf))?,
                )
            } else if let Some(f) = as_float(max_features) {
                TreeMaxFeatures::Fraction(f)
            } else {
                return Err(param_err(max_features, "max_features", expect_mf));
            };
            ModelSpec::random_forest()
                .n_trees(count(n_estimators, "n_estimators", expect_n)?)
                .max_depth(depth)
                .min_samples_leaf(count(
                    min_samples_leaf,
                    "min_samples_leaf",
                    "an integer >= 1",
                )?)
                .min_samples_split(count(
                    min_samples_split,
                    "min_samples_split",
                    "an integer >= 2",
                )?)
                .max_features(mf)
        }
        Some("logistic_regression") => ModelSpec::logistic_regression(
            as_float(alpha)
                .ok_or_else(|| param_err(alpha, "alpha", "a finite float >= 0 (1 / C)"))?,
        ),
        _ => {
            return Err(param_err(
                model,
                "model",
                "\"random_forest\" or \"logistic_regression\"",
            ));
        }
    };
    let expect_ratio = "a float in (0, 1]: the minority/majority ratio after resampling";
    let ratio = || {
        as_float(sampling_ratio)
            .ok_or_else(|| param_err(sampling_ratio, "sampling_ratio", expect_ratio))
    };
    let expect_balance = "None, \"none\", \"undersample\", \"oversample\" or \"class_weight\"";
    let bal = if balance.is_none() {
        Balance::None
    } else {
        match as_str(balance).as_deref() {
            Some("none") => Balance::None,
            Some("undersample") => Balance::Undersample { ratio: ratio()? },
            Some("oversample") => Balance::Oversample { ratio: ratio()? },
            Some("class_weight") | Some("balanced") => Balance::ClassWeight,
            _ => return Err(param_err(balance, "balance", expect_balance)),
        }
    };
    let expect_seed = "None or an integer in [0, 2**64 - 1]";
    let seed = if random_state.is_none() {
        None
    } else {
        Some(
            as_int(random_state)
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| param_err(random_state, "random_state", expect_seed))?,
        )
    };
    let p = SupervisedParams {
        model: spec,
        balance: bal,
        random_state: seed,
    };
    guard(|| p.validate()).map_err(|e| to_py(model.py(), e))?;
    Ok(p)
}

/// Native supervised model (see `fraud_core.SupervisedClassifier` for the scikit-learn estimator).
#[pyclass(module = "fraud_core._fraud_core", name = "SupervisedModel", frozen)]
pub struct PySupervised {
    inner: RwLock<Arc<SupervisedModel>>,
}

impl PySupervised {
    fn wrap(m: SupervisedModel) -> Self {
        PySupervised {
            inner: RwLock::new(Arc::new(m)),
        }
    }

    /// A snapshot of the current model (cheap: one reference count).
    fn model(&self) -> Arc<SupervisedModel> {
        match self.inner.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    fn replace(&self, model: SupervisedModel) {
        let mut model = Arc::new(model);
        match self.inner.write() {
            Ok(mut g) => std::mem::swap(&mut *g, &mut model),
            Err(p) => std::mem::swap(&mut *p.into_inner(), &mut model),
        }
    }
}

#[pymethods]
impl PySupervised {
    /// An unfitted model. Every parameter is required (the Python estimator passes its stored
    /// values); the core validates them.
    #[new]
    #[pyo3(signature = (*, model, n_estimators, max_depth, min_samples_leaf, min_samples_split,
                        max_features, alpha, balance, sampling_ratio, random_state))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        model: &Bound<'_, PyAny>,
        n_estimators: &Bound<'_, PyAny>,
        max_depth: &Bound<'_, PyAny>,
        min_samples_leaf: &Bound<'_, PyAny>,
        min_samples_split: &Bound<'_, PyAny>,
        max_features: &Bound<'_, PyAny>,
        alpha: &Bound<'_, PyAny>,
        balance: &Bound<'_, PyAny>,
        sampling_ratio: &Bound<'_, PyAny>,
        random_state: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let p = params_from_py(
            model,
            n_estimators,
            max_depth,
            min_samples_leaf,
            min_samples_split,
            max_features,
            alpha,
            balance,
            sampling_ratio,
            random_state,
        )?;
        Ok(Self::wrap(core(py, || SupervisedModel::new(p))?))
    }

    /// Fit on `x` (2-D float64/float32 array) and `y` (1-D bool array, True = fraud).
    fn fit(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: PyReadonlyArray1<'_, bool>,
    ) -> PyResult<()> {
        let m = matrix(x, "fraud_core.SupervisedClassifier")?;
        let view = m.view();
        let labels: Vec<bool> = y.as_array().iter().copied().collect();
        let params = self.model().params().clone();
        let model = detached(py, move || {
            let mut model = SupervisedModel::new(params)?;
            match view {
                View::F64(v) => model.fit(v, &labels)?,
                View::F32(v) => model.fit(v, &labels)?,
            }
            Ok(model)
        })?;
        self.replace(model);
        Ok(())
    }

    /// Probability of fraud per row, a 1-D float64 array.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let m = matrix(x, "fraud_core.SupervisedClassifier")?;
        let view = m.view();
        let model = self.model();
        let p = detached(py, move || match view {
            View::F64(v) => model.predict_proba(v),
            View::F32(v) => model.predict_proba(v),
        })?;
        Ok(p.into_pyarray(py))
    }

    /// True where the probability of fraud is above 0.5.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<bool>>> {
        let m = matrix(x, "fraud_core.SupervisedClassifier")?;
        let view = m.view();
        let model = self.model();
        let p = detached(py, move || match view {
            View::F64(v) => model.predict(v),
            View::F32(v) => model.predict(v),
        })?;
        Ok(p.into_pyarray(py))
    }

    /// Whether the model is fitted.
    #[getter]
    fn is_fitted(&self) -> bool {
        self.model().is_fitted()
    }

    /// Number of features seen during fit.
    #[getter]
    fn n_features_in(&self, py: Python<'_>) -> PyResult<usize> {
        let model = self.model();
        core(py, || model.n_features_in())
    }

    /// The seed of the fit (drawn from the OS when `random_state` was None).
    #[getter]
    fn seed(&self, py: Python<'_>) -> PyResult<u64> {
        let model = self.model();
        core(py, || model.seed())
    }

    /// (rows, fraud rows) the model was trained on, after balancing.
    #[getter]
    fn training_counts(&self, py: Python<'_>) -> PyResult<(usize, usize)> {
        let model = self.model();
        core(py, || model.training_counts())
    }

    /// Random forest: impurity-based importances (sum to 1).
    #[getter]
    fn feature_importances<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let model = self.model();
        Ok(core(py, || model.feature_importances())?.into_pyarray(py))
    }

    /// Logistic regression: (coefficients, intercept).
    #[getter]
    fn coefficients<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyArray1<f64>>, f64)> {
        let model = self.model();
        let (c, b) = core(py, || model.coefficients())?;
        Ok((c.into_pyarray(py), b))
    }

    /// The hyper-parameters, with the names and values `SupervisedClassifier` uses.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let model = self.model();
        let p = model.params();
        let out = PyDict::new(py);
        out.set_item("model", p.model.name())?;
        match &p.model {
            ModelSpec::RandomForest {
                n_trees,
                max_depth,
                min_samples_leaf,
                min_samples_split,
                max_features,
            } => {
                out.set_item("n_estimators", n_trees)?;
                out.set_item("max_depth", max_depth)?;
                out.set_item("min_samples_leaf", min_samples_leaf)?;
                out.set_item("min_samples_split", min_samples_split)?;
                match max_features {
                    TreeMaxFeatures::Sqrt => out.set_item("max_features", "sqrt")?,
                    TreeMaxFeatures::Log2 => out.set_item("max_features", "log2")?,
                    TreeMaxFeatures::Count(c) => out.set_item("max_features", c)?,
                    TreeMaxFeatures::Fraction(f) => out.set_item("max_features", f)?,
                }
            }
            ModelSpec::LogisticRegression { alpha } => out.set_item("alpha", alpha)?,
        }
        out.set_item("balance", p.balance.name())?;
        if let Balance::Undersample { ratio } | Balance::Oversample { ratio } = p.balance {
            out.set_item("sampling_ratio", ratio)?;
        }
        out.set_item("random_state", p.random_state)?;
        Ok(out)
    }

    /// Serialise to the versioned artifact bytes shared by Rust, Python and WASM.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let model = self.model();
        let bytes = detached(py, move || model.to_bytes())?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Load from artifact bytes (ArtifactError for anything else).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(Self::wrap(detached(py, || {
            SupervisedModel::from_bytes(data)
        })?))
    }

    /// Pickle support through the artifact bytes.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let from_bytes = py.get_type::<PySupervised>().getattr("from_bytes")?;
        let args = (self.to_bytes(py)?,).into_pyobject(py)?;
        PyTuple::new(py, [from_bytes, args.into_any()])
    }

    fn __repr__(&self) -> String {
        let model = self.model();
        let p = model.params();
        format!(
            "SupervisedModel(model={:?}, balance={:?}, random_state={:?}, fitted={})",
            p.model.name(),
            p.balance.name(),
            p.random_state,
            if model.is_fitted() { "True" } else { "False" }
        )
    }
}
