//! `fraud_core._fraud_core.Pipeline`: the native wrapper of [`fraud_core::scoring::Pipeline`].
//!
//! It converts Python values to core types and core errors to Python exceptions, nothing else: the
//! spec, the event rules and the scoring are the core's. The pure-Python class
//! `fraud_core.Pipeline` turns pandas DataFrames into columns (as `fraud_core.FeatureEngine`
//! does: int64/float64 numpy arrays, keys factorized into codes plus their distinct values) for
//! `fit_columns` and `score_columns`, which run with the GIL released.
//!
//! The pipeline sits behind a mutex; waiting for it never holds the GIL.

use std::sync::{Mutex, MutexGuard};

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyList, PyTuple};

use fraud_core::Error as CoreError;
use fraud_core::event::Event;
use fraud_core::features::FeatureEngine;
use fraud_core::scoring::{Pipeline, PipelineSpec, Score};

use crate::convert::{Columns, core, fill_event, schema_dict};
use crate::error::{detached, to_py};

/// The pipeline and the buffers reused by `score`.
struct State {
    pipeline: Pipeline,
    event: Event,
    score: Score,
}

/// Native fitted scoring pipeline (see `fraud_core.Pipeline` for the pandas front end).
#[pyclass(module = "fraud_core._fraud_core", name = "Pipeline", frozen)]
pub struct PyPipeline {
    state: Mutex<State>,
}

fn parse_spec(text: &str) -> fraud_core::Result<PipelineSpec> {
    let spec = PipelineSpec::from_json(text)?;
    spec.validate()?;
    Ok(spec)
}

impl PyPipeline {
    fn wrap(pipeline: Pipeline) -> Self {
        PyPipeline {
            state: Mutex::new(State {
                pipeline,
                event: Event::default(),
                score: Score::default(),
            }),
        }
    }

    fn lock(&self, py: Python<'_>) -> MutexGuard<'_, State> {
        self.state
            .lock_py_attached(py)
            .unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl PyPipeline {
    /// Validate a JSON pipeline spec; returns its normalised JSON text, the schema, every feature
    /// name and the input names.
    #[staticmethod]
    fn check_spec<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyDict>> {
        let (spec, engine) = core(py, || {
            let spec = parse_spec(text)?;
            let engine = FeatureEngine::new(spec.features.clone())?;
            Ok((spec, engine))
        })?;
        let d = PyDict::new(py);
        d.set_item("spec_json", spec.to_json())?;
        d.set_item("schema", schema_dict(py, engine.schema())?)?;
        d.set_item("feature_names", engine.feature_names().to_vec())?;
        let inputs = spec
            .inputs
            .clone()
            .unwrap_or_else(|| engine.feature_names().to_vec());
        d.set_item("input_names", inputs)?;
        Ok(d)
    }

    /// Check that a batch with these column names fits the spec's schema.
    #[staticmethod]
    fn check_columns(py: Python<'_>, text: &str, names: Vec<String>) -> PyResult<()> {
        core(py, || {
            let spec = PipelineSpec::from_json(text)?;
            FeatureEngine::new(spec.features)?
                .schema()
                .check_fields(&names)
        })
    }

    /// Fit a pipeline on a columnar batch (see `FeatureEngine.transform_columns` for the layout).
    #[staticmethod]
    #[pyo3(signature = (text, time_kind, time, key_codes, key_uniques, numeric, label=None, id_codes=None, id_uniques=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit_columns<'py>(
        py: Python<'py>,
        text: &str,
        time_kind: String,
        time: Bound<'py, PyAny>,
        key_codes: Vec<PyReadonlyArray1<'py, i64>>,
        key_uniques: Vec<Bound<'py, PyList>>,
        numeric: Vec<PyReadonlyArray1<'py, f64>>,
        label: Option<PyReadonlyArray1<'py, f64>>,
        id_codes: Option<PyReadonlyArray1<'py, i64>>,
        id_uniques: Option<Bound<'py, PyList>>,
    ) -> PyResult<Self> {
        let spec = core(py, || parse_spec(text))?;
        let engine = core(py, || FeatureEngine::new(spec.features.clone()))?;
        let cols = Columns {
            time_kind,
            time,
            key_codes,
            key_uniques,
            numeric,
            label,
            id_codes,
            id_uniques,
        };
        let pipeline = cols.run(py, engine.schema(), move |c| Pipeline::fit(spec, c))?;
        Ok(Self::wrap(pipeline))
    }

    /// Score one event (a dict: field name -> value); returns `(risk, is_alert, reasons)` with
    /// reasons as `(feature, value, contribution)` tuples.
    fn score<'py>(
        &self,
        py: Python<'py>,
        event: &Bound<'py, PyDict>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut st = self.lock(py);
        let State {
            pipeline,
            event: ev,
            score,
        } = &mut *st;
        {
            fill_event(py, pipeline.engine().schema(), event, ev)?;
        }
        core(py, || pipeline.score_into(ev, score))?;
        let reasons = PyList::empty(py);
        for r in &score.reasons {
            reasons.append((r.feature.as_str(), r.value, r.contribution))?;
        }
        PyTuple::new(
            py,
            [
                PyFloat::new(py, score.risk).into_any(),
                PyBool::new(py, score.is_alert).to_owned().into_any(),
                reasons.into_any(),
            ],
        )
    }

    /// Score a columnar batch in row order from the current state (GIL released); returns
    /// `(risk, is_alert, reason_input (n, k) int64 with -1 for none, reason_value (n, k),
    /// reason_contribution (n, k))`.
    #[pyo3(signature = (time_kind, time, key_codes, key_uniques, numeric, label=None, id_codes=None, id_uniques=None))]
    #[allow(clippy::too_many_arguments)]
    fn score_columns<'py>(
        &self,
        py: Python<'py>,
        time_kind: String,
        time: Bound<'py, PyAny>,
        key_codes: Vec<PyReadonlyArray1<'py, i64>>,
        key_uniques: Vec<Bound<'py, PyList>>,
        numeric: Vec<PyReadonlyArray1<'py, f64>>,
        label: Option<PyReadonlyArray1<'py, f64>>,
        id_codes: Option<PyReadonlyArray1<'py, i64>>,
        id_uniques: Option<Bound<'py, PyList>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut st = self.lock(py);
        let pipeline = &mut st.pipeline;
        let schema = pipeline.engine().schema().clone();
        let cols = Columns {
            time_kind,
            time,
            key_codes,
            key_uniques,
            numeric,
            label,
            id_codes,
            id_uniques,
        };
        let b = cols.run(py, &schema, |c| pipeline.score_batch(c))?;
        drop(st);
        let n = b.len();
        let shape = |v: Vec<f64>| {
            ndarray::Array2::from_shape_vec((n, b.k), v).map_err(|e| {
                to_py(
                    py,
                    CoreError::ShapeMismatch(format!("reasons of {n} x {}: {e}", b.k)),
                )
            })
        };
        let idx = ndarray::Array2::from_shape_vec((n, b.k), b.reason_input.clone())
            .map_err(|e| to_py(py, CoreError::ShapeMismatch(format!("reasons: {e}"))))?;
        let items: [Bound<'py, PyAny>; 5] = [
            PyArray1::from_vec(py, b.risk.clone()).into_any(),
            PyArray1::from_vec(py, b.is_alert.clone()).into_any(),
            idx.into_pyarray(py).into_any(),
            shape(b.reason_value.clone())?.into_pyarray(py).into_any(),
            shape(b.reason_contribution.clone())?
                .into_pyarray(py)
                .into_any(),
        ];
        PyTuple::new(py, items)
    }

    /// Forget every entity: serve from an empty feature state.
    fn reset_state(&self, py: Python<'_>) -> PyResult<()> {
        let mut st = self.lock(py);
        core(py, || st.pipeline.reset_state())
    }

    /// The whole fitted pipeline (feature state included) as artifact bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let st = self.lock(py);
        let bytes = detached(py, || st.pipeline.to_bytes())?;
        drop(st);
        Ok(PyBytes::new(py, &bytes))
    }

    /// Load `to_bytes()` bytes (written by Rust, Python or any other binding).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(Self::wrap(detached(py, || Pipeline::from_bytes(data))?))
    }

    /// Write the artifact to `path` atomically.
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        let st = self.lock(py);
        detached(py, || st.pipeline.save(&path))
    }

    /// Read an artifact file.
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        Ok(Self::wrap(detached(py, move || Pipeline::load(&path))?))
    }

    /// The alert threshold on the risk.
    #[getter]
    fn threshold(&self, py: Python<'_>) -> f64 {
        self.lock(py).pipeline.threshold()
    }

    /// Every feature the engine computes.
    #[getter]
    fn feature_names(&self, py: Python<'_>) -> Vec<String> {
        self.lock(py).pipeline.feature_names().to_vec()
    }

    /// The features the detectors see.
    #[getter]
    fn input_names(&self, py: Python<'_>) -> Vec<String> {
        self.lock(py).pipeline.input_names().to_vec()
    }

    /// Reason codes per score.
    #[getter]
    fn n_reasons(&self, py: Python<'_>) -> usize {
        self.lock(py).pipeline.n_reasons()
    }

    /// Number of training events.
    #[getter]
    fn training_rows(&self, py: Python<'_>) -> u64 {
        self.lock(py).pipeline.training_rows()
    }

    /// The spec as JSON text.
    #[getter]
    fn spec_json(&self, py: Python<'_>) -> String {
        self.lock(py).pipeline.spec().to_json()
    }

    /// The event schema.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let st = self.lock(py);
        schema_dict(py, st.pipeline.engine().schema())
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let cls = py.get_type::<PyPipeline>();
        let from_bytes = cls.getattr("from_bytes")?;
        let bytes = self.to_bytes(py)?;
        PyTuple::new(py, [from_bytes, PyTuple::new(py, [bytes])?.into_any()])
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let st = self.lock(py);
        format!(
            "Pipeline(inputs={}, threshold={:.6}, training_rows={})",
            st.pipeline.input_names().len(),
            st.pipeline.threshold(),
            st.pipeline.training_rows()
        )
    }
}
