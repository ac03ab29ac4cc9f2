//! The Python exception hierarchy and the one mapping from [`fraud_core::Error`] to it.
//!
//! ```text
//! ValueError
//! └── FraudError
//!     ├── InvalidParameterError   a hyper-parameter is out of range or of the wrong type
//!     ├── ShapeError              empty input, wrong number of features, ragged rows
//!     ├── NonFiniteError          NaN / inf / beyond float32 range, naming row and column
//!     ├── InvalidInputError       any other invalid input (e.g. sample weights)
//!     ├── ArtifactError           model bytes that do not decode
//!     ├── SpecError               a feature spec that does not parse or is inconsistent
//!     ├── SchemaError             an event / column that does not fit the spec's schema: unknown,
//!     │                           missing, wrong type or non-finite value (names the field)
//!     ├── LateEventError          an event older than the allowed lateness (`error` policy)
//!     ├── KeySecretError          a missing, too short or wrong secret for hashed entity keys
//!     ├── DTypeError              (also a TypeError) values that are not numbers
//!     └── NotFittedError          (also an AttributeError, and scikit-learn's NotFittedError
//!                                  when scikit-learn is importable)
//! ```
//!
//! Rust panics never reach Python: every call into the core goes through [`guard`], which turns a
//! panic into a `FraudError` describing an internal error.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::exceptions::{PyAttributeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

pyo3::create_exception!(
    fraud_core,
    FraudError,
    PyValueError,
    "Base class of every error raised by fraud_core (a ValueError)."
);
pyo3::create_exception!(
    fraud_core,
    InvalidParameterError,
    FraudError,
    "A hyper-parameter is out of its valid range or of the wrong type; the message names it and the value."
);
pyo3::create_exception!(
    fraud_core,
    ShapeError,
    FraudError,
    "The input is empty or its shape does not fit (e.g. wrong number of features)."
);
pyo3::create_exception!(
    fraud_core,
    NonFiniteError,
    FraudError,
    "A value is NaN, infinite or beyond the float32 range; the message names its row and column."
);
pyo3::create_exception!(
    fraud_core,
    InvalidInputError,
    FraudError,
    "Any other invalid input (for example negative or all-zero sample weights)."
);
pyo3::create_exception!(
    fraud_core,
    ArtifactError,
    FraudError,
    "Model bytes that are truncated, corrupted, foreign or of an unsupported format version."
);

pyo3::create_exception!(
    fraud_core,
    SpecError,
    FraudError,
    "A feature spec that is not valid JSON, does not have the spec's shape, or is inconsistent."
);
pyo3::create_exception!(
    fraud_core,
    SchemaError,
    FraudError,
    "An event or column that does not fit the spec's schema (unknown, missing, wrong type, non-finite); the message names the field."
);
pyo3::create_exception!(
    fraud_core,
    LateEventError,
    FraudError,
    "An event older than the allowed lateness under the `error` lateness policy; the engine state is unchanged."
);
pyo3::create_exception!(
    fraud_core,
    KeySecretError,
    FraudError,
    "A key secret that is missing, too short, or not the one a snapshot was written with."
);

static NOT_FITTED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DTYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Create `fraud_core.<name>` with several base classes (`PyErr::new_type` takes only one).
fn new_type(
    py: Python<'_>,
    name: &str,
    bases: Vec<Bound<'_, PyType>>,
    doc: &str,
) -> PyResult<Py<PyType>> {
    let dict = PyDict::new(py);
    dict.set_item("__module__", "fraud_core")?;
    dict.set_item("__doc__", doc)?;
    let bases = PyTuple::new(py, bases)?;
    let ty = py.get_type::<PyType>().call1((name, bases, dict))?;
    Ok(ty.cast_into::<PyType>()?.unbind())
}

/// `fraud_core.NotFittedError(FraudError, AttributeError)`; when scikit-learn is importable its
/// `sklearn.exceptions.NotFittedError` (itself a ValueError and AttributeError) is the second base,
/// so scikit-learn's checks recognise it.
pub fn not_fitted_error(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    NOT_FITTED
        .get_or_try_init(py, || {
            let second = py
                .import("sklearn.exceptions")
                .and_then(|m| m.getattr("NotFittedError"))
                .and_then(|t| Ok(t.cast_into::<PyType>()?))
                .unwrap_or_else(|_| py.get_type::<PyAttributeError>());
            new_type(
                py,
                "NotFittedError",
                vec![py.get_type::<FraudError>(), second],
                "The model was used before `fit` (or `from_bytes`); also an AttributeError.",
            )
        })
        .map(|t| t.bind(py))
}

/// `fraud_core.DTypeError(FraudError, TypeError)`: values that are not numbers.
pub fn dtype_error(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    DTYPE
        .get_or_try_init(py, || {
            new_type(
                py,
                "DTypeError",
                vec![py.get_type::<FraudError>(), py.get_type::<PyTypeError>()],
                "The input holds values that are not numbers (strings, objects, complex); also a TypeError.",
            )
        })
        .map(|t| t.bind(py))
}

/// A `DTypeError` with `msg`.
pub fn dtype_err(py: Python<'_>, msg: String) -> PyErr {
    match dtype_error(py) {
        Ok(t) => PyErr::from_type(t.clone(), msg),
        Err(e) => e,
    }
}

/// Map a core error to its Python exception (the only place this mapping is defined).
pub fn to_py(py: Python<'_>, err: fraud_core::Error) -> PyErr {
    use fraud_core::Error as E;
    let msg = err.to_string();
    // A row error takes the class of its cause and keeps the full message (with the row).
    let mut kind = &err;
    while let E::InRow { source, .. } = kind {
        kind = source;
    }
    match kind {
        E::InvalidParameter { .. } => InvalidParameterError::new_err(msg),
        E::EmptyInput(_) | E::ShapeMismatch(_) => ShapeError::new_err(msg),
        E::NonFiniteValue { .. } => NonFiniteError::new_err(msg),
        E::NotFitted(_) => match not_fitted_error(py) {
            Ok(t) => PyErr::from_type(t.clone(), msg),
            Err(e) => e,
        },
        E::Artifact(_) => ArtifactError::new_err(msg),
        E::InvalidInput(_) | E::SingleClass { .. } => InvalidInputError::new_err(msg),
        E::SpecJson { .. } | E::InvalidSpec { .. } => SpecError::new_err(msg),
        E::UnknownField { .. } | E::MissingField { .. } | E::InvalidField { .. } => {
            SchemaError::new_err(msg)
        }
        E::LateEvent { .. } => LateEventError::new_err(msg),
        E::KeySecret(_) => KeySecretError::new_err(msg),
        _ => FraudError::new_err(msg),
    }
}

/// The error for a panic caught at the boundary (a bug in fraud-core or in this binding).
fn panic_err(payload: Box<dyn std::any::Any + Send>) -> fraud_core::Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    fraud_core::Error::InvalidInput(format!(
        "internal error in fraud-core (please report this bug): {what}"
    ))
}

/// Run `f`, turning a panic into an error instead of unwinding into Python.
#[inline]
pub fn guard<T>(f: impl FnOnce() -> fraud_core::Result<T>) -> fraud_core::Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_err(p)))
}

/// Run `f` with the GIL released and panics caught; core errors are mapped to Python exceptions.
pub fn detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> fraud_core::Result<T> + Send,
    T: Send,
{
    py.detach(|| guard(f)).map_err(|e| to_py(py, e))
}

/// Register the exception classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FraudError", py.get_type::<FraudError>())?;
    m.add(
        "InvalidParameterError",
        py.get_type::<InvalidParameterError>(),
    )?;
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("NonFiniteError", py.get_type::<NonFiniteError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("ArtifactError", py.get_type::<ArtifactError>())?;
    m.add("SpecError", py.get_type::<SpecError>())?;
    m.add("SchemaError", py.get_type::<SchemaError>())?;
    m.add("LateEventError", py.get_type::<LateEventError>())?;
    m.add("KeySecretError", py.get_type::<KeySecretError>())?;
    m.add("DTypeError", dtype_error(py)?)?;
    m.add("NotFittedError", not_fitted_error(py)?)?;
    Ok(())
}
