//! `fraud_core._fraud_core.FeatureEngine`: the native wrapper of
//! [`fraud_core::features::FeatureEngine`].
//!
//! It converts Python values to core types and core errors to Python exceptions, nothing else: the
//! event rules (unknown, missing, wrong-typed and non-finite fields, key texts) are the core's
//! ([`fraud_core::event::EventSchema::builder`], [`fraud_core::event::write_key`]). The pure-Python
//! class `fraud_core.FeatureEngine` turns a pandas DataFrame into columns (numpy arrays, keys
//! factorized into integer codes plus their distinct values) for its `transform_columns` method,
//! which runs the core's columnar batch with the GIL released.
//!
//! The engine sits behind a mutex; waiting for it never holds the GIL, so calls from several Python
//! threads are serialised without deadlocks.

use std::sync::{Mutex, MutexGuard};

use numpy::{PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use fraud_core::Error as CoreError;
use fraud_core::event::{Event, write_key};
use fraud_core::features::FeatureEngine;

use crate::convert::{Columns, core, field_value, fill_event, schema_dict, type_name};
use crate::error::{guard, to_py};

/// The engine and the buffers reused by `update`.
struct State {
    engine: FeatureEngine,
    event: Event,
    out: Vec<f64>,
}

/// Native streaming feature engine (see `fraud_core.FeatureEngine` for the pandas front end).
#[pyclass(module = "fraud_core._fraud_core", name = "FeatureEngine", frozen)]
pub struct PyFeatureEngine {
    state: Mutex<State>,
    names: Vec<Py<PyString>>,
}

fn secret_bytes(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Some(s.to_str()?.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.extract::<Vec<u8>>()
        && !obj.is_instance_of::<PyList>()
        && !obj.is_instance_of::<PyTuple>()
    {
        return Ok(Some(b));
    }
    Err(to_py(
        obj.py(),
        CoreError::param(
            "key_secret",
            format!("<{}>", type_name(obj)),
            "bytes or str (at least 16 bytes), or None",
        ),
    ))
}

impl PyFeatureEngine {
    fn wrap(py: Python<'_>, engine: FeatureEngine) -> Self {
        let names = engine
            .feature_names()
            .iter()
            .map(|n| PyString::new(py, n).unbind())
            .collect();
        let out = vec![0.0; engine.n_features()];
        PyFeatureEngine {
            state: Mutex::new(State {
                engine,
                event: Event::default(),
                out,
            }),
            names,
        }
    }

    /// Lock the state; waiting never holds the GIL. A poisoned lock is recovered (panics are
    /// caught inside the core calls, so the state is never left mid-update by an unwinding panic
    /// that crossed the lock).
    fn lock(&self, py: Python<'_>) -> MutexGuard<'_, State> {
        self.state
            .lock_py_attached(py)
            .unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl PyFeatureEngine {
    /// An engine from a JSON spec text; with `key_secret`, entity keys are kept only as keyed hashes.
    #[staticmethod]
    #[pyo3(signature = (text, key_secret=None))]
    fn from_json(
        py: Python<'_>,
        text: &str,
        key_secret: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let secret = secret_bytes(key_secret)?;
        let engine = core(py, || {
            let spec = fraud_core::features::FeatureSpec::from_json(text)?;
            engine_for(spec, secret.as_deref())
        })?;
        Ok(Self::wrap(py, engine))
    }

    /// An engine from a JSON spec file.
    #[staticmethod]
    #[pyo3(signature = (path, key_secret=None))]
    fn from_path(
        py: Python<'_>,
        path: std::path::PathBuf,
        key_secret: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let secret = secret_bytes(key_secret)?;
        let engine = core(py, || {
            let spec = fraud_core::features::FeatureSpec::from_path(&path)?;
            engine_for(spec, secret.as_deref())
        })?;
        Ok(Self::wrap(py, engine))
    }

    /// Rebuild an engine from `snapshot()` bytes (`key_secret` for an engine with hashed keys).
    #[staticmethod]
    #[pyo3(signature = (data, key_secret=None))]
    fn restore(
        py: Python<'_>,
        data: &[u8],
        key_secret: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let secret = secret_bytes(key_secret)?;
        let engine = py
            .detach(|| {
                guard(|| match &secret {
                    Some(s) => FeatureEngine::restore_with_secret(data, s),
                    None => FeatureEngine::restore(data),
                })
            })
            .map_err(|e| to_py(py, e))?;
        Ok(Self::wrap(py, engine))
    }

    /// The complete state as artifact bytes (no raw key and no secret when keys are hashed).
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let st = self.lock(py);
        let bytes = core(py, || st.engine.snapshot())?;
        drop(st);
        Ok(PyBytes::new(py, &bytes))
    }

    /// Process one event given as a dict (field name -> value) and return feature name -> value.
    fn update<'py>(
        &self,
        py: Python<'py>,
        event: &Bound<'py, PyDict>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut st = self.lock(py);
        let State {
            engine,
            event: ev,
            out,
        } = &mut *st;
        fill_event(py, engine.schema(), event, ev)?;
        core(py, || engine.update_into(ev, out))?;
        let d = PyDict::new(py);
        for (name, v) in self.names.iter().zip(out.iter()) {
            d.set_item(name.bind(py), *v)?;
        }
        Ok(d)
    }

    /// Apply label feedback given as a dict (id, key and label fields); returns whether the event
    /// was found among the retained events.
    fn feedback(&self, py: Python<'_>, feedback: &Bound<'_, PyDict>) -> PyResult<bool> {
        let mut st = self.lock(py);
        let engine = &mut st.engine;
        let mut b = engine.schema().feedback_builder();
        let (mut scratch, mut tb) = (String::new(), String::new());
        for (k, v) in feedback.iter() {
            let name = k.str()?.to_string();
            let fv = field_value(&v, &mut scratch, &mut tb)?;
            core(py, || b.set(&name, fv))?;
        }
        let fb = core(py, || b.finish())?;
        core(py, || engine.feedback(&fb))
    }

    /// Check that a batch with these column names fits the schema (unknown / missing columns).
    fn check_columns(&self, py: Python<'_>, names: Vec<String>) -> PyResult<()> {
        let st = self.lock(py);
        core(py, || st.engine.schema().check_fields(&names))
    }

    /// Process a columnar batch in row order, with the GIL released; returns rows x features.
    ///
    /// `time_kind` is `"ms"` (int64 epoch milliseconds, e.g. from datetime64), `"epoch"` (int64 in
    /// the schema's unit) or `"float"` (float64 in the schema's unit). Keys are int64 codes into the
    /// lists of distinct values (any int/str/float values; converted by the core's key rules).
    #[pyo3(signature = (time_kind, time, key_codes, key_uniques, numeric, label=None, id_codes=None, id_uniques=None))]
    #[allow(clippy::too_many_arguments)]
    fn transform_columns<'py>(
        &self,
        py: Python<'py>,
        time_kind: &str,
        time: &Bound<'py, PyAny>,
        key_codes: Vec<PyReadonlyArray1<'py, i64>>,
        key_uniques: Vec<Bound<'py, PyList>>,
        numeric: Vec<PyReadonlyArray1<'py, f64>>,
        label: Option<PyReadonlyArray1<'py, f64>>,
        id_codes: Option<PyReadonlyArray1<'py, i64>>,
        id_uniques: Option<Bound<'py, PyList>>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let mut st = self.lock(py);
        let engine = &mut st.engine;
        let cols = Columns {
            time_kind: time_kind.to_string(),
            time: time.clone(),
            key_codes,
            key_uniques,
            numeric,
            label,
            id_codes,
            id_uniques,
        };
        let n = engine.n_features();
        let schema = engine.schema().clone();
        // The matrix is numpy's own allocation (which asks the kernel for huge pages: first
        // touches of a large fresh output are several times cheaper than with 4 KiB pages), and
        // the core writes into it; a length mismatch of the columns is reported by the core.
        let rows = cols.time.len().unwrap_or(0);
        let arr = PyArray2::<f64>::zeros(py, [rows, n], false);
        {
            let mut view = arr.readwrite();
            let out = view.as_slice_mut()?;
            cols.run(py, &schema, |c| engine.transform_columns_into(c, out))?;
        }
        drop(st);
        Ok(arr)
    }

    /// Erase every entity whose key equals `key` (a str or an int), in every key field; returns
    /// how many were erased.
    fn forget(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<usize> {
        let (mut scratch, mut tb) = (String::new(), String::new());
        let v = field_value(key, &mut scratch, &mut tb)?;
        let mut text = String::new();
        core(py, || write_key("key", v, &mut text))?;
        let mut st = self.lock(py);
        core(py, || Ok(st.engine.forget(&text)))
    }

    /// Output column names, in output order.
    #[getter]
    fn feature_names(&self, py: Python<'_>) -> Vec<Py<PyString>> {
        self.names.iter().map(|n| n.clone_ref(py)).collect()
    }

    /// Counters (events, late events, evictions, erasures) plus `entities` and `state_bytes`.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let st = self.lock(py);
        let s = st.engine.stats();
        let d = PyDict::new(py);
        d.set_item("events", s.events)?;
        d.set_item("late_placed", s.late_placed)?;
        d.set_item("late_dropped", s.late_dropped)?;
        d.set_item("late_processed", s.late_processed)?;
        d.set_item("ttl_evictions", s.ttl_evictions)?;
        d.set_item("lru_evictions", s.lru_evictions)?;
        d.set_item("forgotten", s.forgotten)?;
        d.set_item("feedback_applied", s.feedback_applied)?;
        d.set_item("feedback_unmatched", s.feedback_unmatched)?;
        d.set_item("entities", st.engine.entity_count())?;
        d.set_item("state_bytes", st.engine.state_bytes())?;
        Ok(d)
    }

    /// The spec as JSON text.
    #[getter]
    fn spec_json(&self, py: Python<'_>) -> String {
        self.lock(py).engine.spec().to_json()
    }

    /// Whether entity keys are kept only as keyed hashes.
    #[getter]
    fn hashes_keys(&self, py: Python<'_>) -> bool {
        self.lock(py).engine.hashes_keys()
    }

    /// The schema: timestamp field, time unit ("s", "ms" or "datetime"), keys, numeric, label.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let st = self.lock(py);
        schema_dict(py, st.engine.schema())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let st = self.lock(py);
        format!(
            "FeatureEngine(features={}, events={}, hashed_keys={})",
            st.engine.n_features(),
            st.engine.stats().events,
            st.engine.hashes_keys()
        )
    }
}

/// An engine for `spec`, keeping keys as keyed hashes when a secret is given.
fn engine_for(
    spec: fraud_core::features::FeatureSpec,
    secret: Option<&[u8]>,
) -> fraud_core::Result<FeatureEngine> {
    match secret {
        Some(s) => FeatureEngine::with_key_secret(spec, s),
        None => FeatureEngine::new(spec),
    }
}
