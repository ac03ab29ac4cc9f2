//! Conversions shared by the native classes: Python values to the core's [`FieldValue`]s, dicts
//! to events, numpy columns to [`EventColumns`], and core errors to Python exceptions.

use ndarray::ArrayView2;
use numpy::{
    PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

use fraud_core::Error as CoreError;
use fraud_core::event::{
    Event, EventColumns, EventSchema, FieldValue, KeyColumn, TimeColumn, write_key,
};

use crate::error::{detached, dtype_err, guard, to_py};

/// Run a core call, turning its error (or a panic) into the matching Python exception.
pub(crate) fn core<T>(py: Python<'_>, f: impl FnOnce() -> fraud_core::Result<T>) -> PyResult<T> {
    guard(f).map_err(|e| to_py(py, e))
}

/// The Python type name of `obj` (for messages).
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// How a str that is not valid Unicode (an unpaired surrogate) is named in messages; the WASM
/// binding uses the same words for a JS string with a lone surrogate.
pub(crate) const NOT_UNICODE: &str =
    "a string that is not valid Unicode: it holds an unpaired surrogate";

/// Convert a Python value to a [`FieldValue`]: None and `pandas.NA` are null; Python and numpy
/// bools, integers and floats keep their kind; datetimes (`datetime`, `pandas.Timestamp`,
/// `numpy.datetime64`) become ISO 8601 text in `scratch`, which the core parses (naive = UTC);
/// anything else is `Other` with its type name (in `type_buf`), which the core refuses for every
/// field that is not ignored.
pub(crate) fn field_value<'a>(
    obj: &'a Bound<'_, PyAny>,
    scratch: &'a mut String,
    type_buf: &'a mut String,
) -> PyResult<FieldValue<'a>> {
    if obj.is_none() {
        return Ok(FieldValue::Null);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        // A str with an unpaired surrogate has no UTF-8 form: refused by the core with the field
        // name (a raw UnicodeEncodeError would not be a FraudError and would quote the key).
        return Ok(match s.to_str() {
            Ok(t) => FieldValue::Str(t),
            Err(_) => FieldValue::Other(NOT_UNICODE),
        });
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(FieldValue::Float(f.value()));
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(FieldValue::Bool(obj.extract::<bool>()?));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(int_value(obj));
    }
    let tn = type_name(obj);
    match tn.as_str() {
        "bool" | "bool_" => return Ok(FieldValue::Bool(obj.is_truthy()?)),
        // pandas' missing-value scalar.
        "NAType" => return Ok(FieldValue::Null),
        "datetime64" => {
            *scratch = obj.str()?.to_str()?.to_string();
            return Ok(FieldValue::Str(scratch));
        }
        _ => {}
    }
    if obj.hasattr("isoformat")? && obj.hasattr("tzinfo")? {
        *scratch = obj.call_method0("isoformat")?.extract()?;
        return Ok(FieldValue::Str(scratch));
    }
    if tn.contains("int") && obj.hasattr("__index__")? {
        return Ok(int_value(obj));
    }
    if tn.contains("float")
        && let Ok(f) = obj.extract::<f64>()
    {
        return Ok(FieldValue::Float(f));
    }
    *type_buf = tn;
    Ok(FieldValue::Other(type_buf))
}

pub(crate) fn int_value<'a>(obj: &Bound<'_, PyAny>) -> FieldValue<'a> {
    if let Ok(i) = obj.extract::<i64>() {
        FieldValue::Int(i)
    } else if let Ok(u) = obj.extract::<u64>() {
        FieldValue::UInt(u)
    } else {
        FieldValue::Other("an integer beyond 64 bits")
    }
}

/// Key texts of a key column's distinct values, by the core's key rules.
pub(crate) fn key_texts(
    py: Python<'_>,
    field: &str,
    uniques: &Bound<'_, PyList>,
) -> PyResult<Vec<String>> {
    let mut out = Vec::with_capacity(uniques.len());
    let (mut scratch, mut tb) = (String::new(), String::new());
    for item in uniques.iter() {
        let v = field_value(&item, &mut scratch, &mut tb)?;
        let mut s = String::new();
        core(py, || write_key(field, v, &mut s))?;
        out.push(s);
    }
    Ok(out)
}

/// A contiguous numpy column as a slice.
pub(crate) fn slice<'a, T: numpy::Element>(
    py: Python<'_>,
    a: &'a PyReadonlyArray1<'_, T>,
    field: &str,
) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| {
        to_py(
            py,
            CoreError::InvalidInput(format!(
                "column `{field}` is not contiguous in memory: pass numpy.ascontiguousarray"
            )),
        )
    })
}

/// Fill `ev` from a dict (field name -> value) by the schema's event rules.
pub(crate) fn fill_event(
    py: Python<'_>,
    schema: &EventSchema,
    event: &Bound<'_, PyDict>,
    ev: &mut Event,
) -> PyResult<()> {
    let mut b = schema.builder(ev);
    let (mut scratch, mut tb) = (String::new(), String::new());
    for (k, v) in event.iter() {
        let name_owned;
        let name = match k.cast::<PyString>() {
            Ok(s) => s.to_str().map_err(|_| {
                to_py(
                    py,
                    CoreError::InvalidInput(format!(
                        "an event field name is {NOT_UNICODE}: fix the text encoding upstream"
                    )),
                )
            })?,
            Err(_) => {
                name_owned = k.str()?.to_string();
                name_owned.as_str()
            }
        };
        let fv = field_value(&v, &mut scratch, &mut tb)?;
        core(py, || b.set(name, fv))?;
    }
    core(py, || b.finish())
}

/// The schema as a dict: timestamp, time_unit, keys, numeric, label, id.
pub(crate) fn schema_dict<'py>(py: Python<'py>, s: &EventSchema) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("timestamp", s.timestamp_field())?;
    d.set_item(
        "time_unit",
        match s.time_unit() {
            fraud_core::event::TimeUnit::Seconds => "s",
            fraud_core::event::TimeUnit::Milliseconds => "ms",
            fraud_core::event::TimeUnit::Datetime => "datetime",
        },
    )?;
    d.set_item("keys", s.key_fields().to_vec())?;
    d.set_item("numeric", s.numeric_fields().to_vec())?;
    d.set_item("label", s.label_field())?;
    d.set_item("id", s.id_field())?;
    Ok(d)
}

/// The columns of a batch as passed from Python: `time_kind` is `"ms"` (int64 epoch
/// milliseconds, e.g. from datetime64), `"epoch"` (int64 in the schema's unit) or `"float"`
/// (float64 in the schema's unit); keys (and the optional event id) are int64 codes into lists of
/// distinct values.
pub(crate) struct Columns<'py> {
    pub time_kind: String,
    pub time: Bound<'py, PyAny>,
    pub key_codes: Vec<PyReadonlyArray1<'py, i64>>,
    pub key_uniques: Vec<Bound<'py, PyList>>,
    pub numeric: Vec<PyReadonlyArray1<'py, f64>>,
    pub label: Option<PyReadonlyArray1<'py, f64>>,
    pub id_codes: Option<PyReadonlyArray1<'py, i64>>,
    pub id_uniques: Option<Bound<'py, PyList>>,
}

impl<'py> Columns<'py> {
    /// Borrow as [`EventColumns`] (key texts by the core's rules) and run `f` with the GIL
    /// released.
    pub fn run<T: Send>(
        &self,
        py: Python<'py>,
        schema: &EventSchema,
        f: impl FnOnce(&EventColumns<'_>) -> fraud_core::Result<T> + Send,
    ) -> PyResult<T> {
        let key_fields = schema.key_fields();
        if self.key_uniques.len() != self.key_codes.len() {
            return Err(to_py(
                py,
                CoreError::ShapeMismatch(format!(
                    "{} key code arrays but {} lists of distinct keys",
                    self.key_codes.len(),
                    self.key_uniques.len()
                )),
            ));
        }
        let mut texts = Vec::with_capacity(self.key_uniques.len());
        for (i, u) in self.key_uniques.iter().enumerate() {
            let field = key_fields.get(i).map_or("key", String::as_str);
            texts.push(key_texts(py, field, u)?);
        }
        let ts = schema.timestamp_field();
        let time_i64: PyReadonlyArray1<'py, i64>;
        let time_f64: PyReadonlyArray1<'py, f64>;
        let time = match self.time_kind.as_str() {
            "ms" | "epoch" => {
                time_i64 = self.time.extract()?;
                let s = slice(py, &time_i64, ts)?;
                if self.time_kind == "ms" {
                    TimeColumn::Millis(s)
                } else {
                    TimeColumn::Epoch(s)
                }
            }
            "float" => {
                time_f64 = self.time.extract()?;
                TimeColumn::EpochFloat(slice(py, &time_f64, ts)?)
            }
            other => {
                return Err(to_py(
                    py,
                    CoreError::param("time_kind", other, "\"ms\", \"epoch\" or \"float\""),
                ));
            }
        };
        let mut keys = Vec::with_capacity(self.key_codes.len());
        for (i, (c, t)) in self.key_codes.iter().zip(&texts).enumerate() {
            let field = key_fields.get(i).map_or("key", String::as_str);
            keys.push(KeyColumn {
                codes: slice(py, c, field)?,
                values: t,
            });
        }
        let mut numeric = Vec::with_capacity(self.numeric.len());
        for (i, c) in self.numeric.iter().enumerate() {
            let field = schema
                .numeric_fields()
                .get(i)
                .map_or("numeric", String::as_str);
            numeric.push(slice(py, c, field)?);
        }
        let label = match &self.label {
            Some(l) => Some(slice(py, l, schema.label_field().unwrap_or("label"))?),
            None => None,
        };
        let id_field = schema.id_field().unwrap_or("id");
        let id_texts = match &self.id_uniques {
            Some(u) => Some(key_texts(py, id_field, u)?),
            None => None,
        };
        let id = match (&self.id_codes, &id_texts) {
            (Some(c), Some(t)) => Some(KeyColumn {
                codes: slice(py, c, id_field)?,
                values: t,
            }),
            (None, None) => None,
            _ => {
                return Err(to_py(
                    py,
                    CoreError::InvalidInput("id codes and distinct ids go together".into()),
                ));
            }
        };
        let cols = EventColumns {
            time,
            keys,
            numeric,
            label,
            id,
        };
        detached(py, || f(&cols))
    }
}

/// A 2-D matrix borrowed from numpy, in one of the two accepted element types.
pub(crate) enum Matrix<'py> {
    F64(PyReadonlyArray2<'py, f64>),
    F32(PyReadonlyArray2<'py, f32>),
}

/// A view of a [`Matrix`] that can cross into a GIL-free closure.
#[derive(Clone, Copy)]
pub(crate) enum View<'a> {
    F64(ArrayView2<'a, f64>),
    F32(ArrayView2<'a, f32>),
}

impl Matrix<'_> {
    pub fn view(&self) -> View<'_> {
        match self {
            Matrix::F64(a) => View::F64(a.as_array()),
            Matrix::F32(a) => View::F32(a.as_array()),
        }
    }
}

pub(crate) fn borrow_err(e: numpy::BorrowError) -> PyErr {
    crate::error::FraudError::new_err(format!("cannot read the array: {e}"))
}

/// Borrow `x` as an aligned 2-D float64/float32 numpy array without copying; `class` names the
/// Python class whose methods convert other inputs (for the error message).
pub(crate) fn matrix<'py>(x: &Bound<'py, PyAny>, class: &str) -> PyResult<Matrix<'py>> {
    let py = x.py();
    if let Ok(u) = x.cast::<PyUntypedArray>() {
        if u.ndim() != 2 {
            return Err(to_py(
                py,
                CoreError::ShapeMismatch(format!(
                    "expected a 2-D array (rows = samples), got a {}-D array of shape {:?}",
                    u.ndim(),
                    u.shape()
                )),
            ));
        }
        if !u.is_aligned() {
            return Err(to_py(
                py,
                CoreError::InvalidInput(
                    "the array is not aligned in memory: pass a copy (numpy.ascontiguousarray)"
                        .into(),
                ),
            ));
        }
    }
    if let Ok(a) = x.cast::<PyArray2<f64>>() {
        return Ok(Matrix::F64(a.try_readonly().map_err(borrow_err)?));
    }
    if let Ok(a) = x.cast::<PyArray2<f32>>() {
        return Ok(Matrix::F32(a.try_readonly().map_err(borrow_err)?));
    }
    let what = match x.cast::<PyUntypedArray>() {
        Ok(u) => format!("an array of dtype {}", u.dtype()),
        Err(_) => format!("an object of type {}", type_name(x)),
    };
    Err(dtype_err(
        py,
        format!(
            "expected a 2-D numpy array of float64 or float32 (native byte order), got {what}; \
             {class} converts other inputs"
        ),
    ))
}

/// `repr(obj)` for messages (the type name if `repr` fails).
pub(crate) fn repr(obj: &Bound<'_, PyAny>) -> String {
    obj.repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| format!("<{}>", type_name(obj)))
}

/// An `InvalidParameterError` naming parameter `name`, its value and what is expected.
pub(crate) fn param_err(obj: &Bound<'_, PyAny>, name: &'static str, expected: &str) -> PyErr {
    to_py(obj.py(), CoreError::param(name, repr(obj), expected))
}
