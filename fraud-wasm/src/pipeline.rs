//! `Pipeline` for JavaScript: the fitted scoring pipeline of [`fraud_core::scoring::Pipeline`]
//! (feature engine with its per-entity state, detectors, calibration, threshold, reason codes).
//!
//! Events are plain JS objects (field name -> value). They are read field by field into the core's
//! [`EventSchema::builder`](fraud_core::event::EventSchema::builder), the very rules that
//! `Pipeline::score_json` (Rust) and `Pipeline.score` (Python) apply, so the binding adds no rule
//! of its own: a JS number that is an integer (|x| < 2^53, not -0) is read like a JSON integer,
//! any other number like a JSON float; strings, booleans and `null` keep their kind; a `Date` is its
//! ISO 8601 text (as Python's datetimes); a `bigint` is an integer; a field whose value is
//! `undefined` counts as absent (as `JSON.stringify` drops it); arrays, objects and functions are
//! refused by the core for any field the schema uses.
//!
//! State: `snapshot()` returns the feature engine's state alone (an artifact of kind "feature
//! engine snapshot", usually far smaller than the model); `restoreState(bytes)` puts such a state
//! back into a loaded pipeline, and `Pipeline.restore(modelBytes, stateBytes)` does both at once.
//! `toBytes()` is the whole pipeline, state included (`Pipeline.fromBytes` loads it).

use fraud_core::event::{Event, FieldValue};
use fraud_core::features::FeatureEngine;
use fraud_core::scoring::{Pipeline as CorePipeline, Score};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

/// How a string that is not valid Unicode is named in messages (the same words as the Python
/// binding).
const NOT_UNICODE: &str = "a string that is not valid Unicode: it holds an unpaired surrogate";

fn js_err(e: fraud_core::Error) -> JsError {
    JsError::new(&e.to_string())
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A field value of an event: numbers, strings, booleans, null, bigint or Date. */
export type FieldValue = number | string | boolean | null | undefined | bigint | Date;
/** An event: field name -> value, with the fields of the pipeline's event schema. */
export type FraudEvent = Record<string, FieldValue>;
/** One reason code: an input feature, its value for the event and its share of the risk. */
export interface Reason {
  feature: string;
  value: number;
  contribution: number;
}
/** The score of one event. `risk` is NaN (and `isAlert` false) for an event that was not scored
 * (every feature NaN: an event dropped by the `drop` lateness policy). */
export interface Score {
  risk: number;
  isAlert: boolean;
  reasons: Reason[];
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `Object.entries`, with a thrown exception (e.g. from a Proxy) caught as an `Err`.
    #[wasm_bindgen(catch, js_namespace = Object, js_name = entries)]
    fn object_entries(o: &JsValue) -> Result<Array, JsValue>;

    #[wasm_bindgen(typescript_type = "FraudEvent")]
    pub type JsEvent;

    #[wasm_bindgen(typescript_type = "Score")]
    pub type JsScore;

    #[wasm_bindgen(typescript_type = "string[]")]
    pub type StringArray;
}

/// JS property names and strings made once per pipeline (creating a JS string costs more than
/// scoring a feature).
struct Names {
    risk: JsValue,
    is_alert: JsValue,
    reasons: JsValue,
    feature: JsValue,
    value: JsValue,
    contribution: JsValue,
    inputs: Vec<JsValue>,
}

impl Names {
    fn new(p: &CorePipeline) -> Self {
        Names {
            risk: "risk".into(),
            is_alert: "isAlert".into(),
            reasons: "reasons".into(),
            feature: "feature".into(),
            value: "value".into(),
            contribution: "contribution".into(),
            inputs: p.input_names().iter().map(|n| n.as_str().into()).collect(),
        }
    }
}

/// A fitted scoring pipeline loaded from artifact bytes, with the per-entity feature state of the
/// events it has scored.
#[wasm_bindgen]
pub struct Pipeline {
    inner: CorePipeline,
    event: Event,
    score: Score,
    names: Names,
    key: String,
    type_buf: String,
    /// The schema's field names in the slot order of `scoreSlots`.
    fields: Vec<String>,
}

fn error_text(v: &JsValue) -> String {
    if let Some(s) = v.as_string() {
        return s;
    }
    v.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| "an exception".into())
}

fn type_name(v: &JsValue) -> &'static str {
    if Array::is_array(v) {
        "an array"
    } else if v.is_function() {
        "a function"
    } else if v.is_symbol() {
        "a symbol"
    } else if v.is_object() {
        "an object"
    } else {
        "a value of another type"
    }
}

impl Pipeline {
    fn wrap(inner: CorePipeline) -> Pipeline {
        let names = Names::new(&inner);
        let inner_fields = inner
            .engine()
            .schema()
            .field_names()
            .into_iter()
            .map(str::to_string)
            .collect();
        Pipeline {
            inner,
            event: Event::default(),
            score: Score::default(),
            names,
            key: String::new(),
            type_buf: String::new(),
            fields: inner_fields,
        }
    }

    /// Fill `self.event` from a JS object by the core's rules.
    fn read_event(&mut self, obj: &JsValue) -> Result<(), JsError> {
        if !obj.is_object() || Array::is_array(obj) || obj.is_function() {
            let what = if obj.is_null() {
                "null"
            } else if obj.is_undefined() {
                "undefined"
            } else if obj.is_string() {
                "a string"
            } else if obj.as_f64().is_some() {
                "a number"
            } else if obj.as_bool().is_some() {
                "a boolean"
            } else {
                type_name(obj)
            };
            return Err(JsError::new(&format!(
                "invalid input: an event must be an object (field name -> value), got {what}"
            )));
        }
        let entries = object_entries(obj).map_err(|e| {
            JsError::new(&format!(
                "invalid input: cannot read the event's fields: {}",
                error_text(&e)
            ))
        })?;
        let schema = self.inner.engine().schema();
        let mut b = schema.builder(&mut self.event);
        for entry in entries.iter() {
            let entry: Array = entry.unchecked_into();
            let name = entry.get(0).as_string().unwrap_or_default();
            let v = entry.get(1);
            let value = if let Some(f) = v.as_f64() {
                if f.fract() == 0.0
                    && f.abs() < 9_007_199_254_740_992.0
                    && !(f == 0.0 && f.is_sign_negative())
                {
                    FieldValue::Int(f as i64)
                } else {
                    FieldValue::Float(f)
                }
            } else if let Some(s) = v.as_string() {
                // `as_string` turns a lone surrogate into U+FFFD (two different keys would merge);
                // refuse such a string, as Python does (checked only when U+FFFD shows up).
                if s.contains('\u{fffd}') && !v.unchecked_ref::<js_sys::JsString>().is_valid_utf16()
                {
                    FieldValue::Other(NOT_UNICODE)
                } else {
                    self.key = s;
                    FieldValue::Str(&self.key)
                }
            } else if v.is_null() {
                FieldValue::Null
            } else if v.is_undefined() {
                continue;
            } else if let Some(bo) = v.as_bool() {
                FieldValue::Bool(bo)
            } else if v.is_bigint() {
                let big: js_sys::BigInt = v.clone().unchecked_into();
                match i64::try_from(big.clone()) {
                    Ok(i) => FieldValue::Int(i),
                    Err(_) => match u64::try_from(big) {
                        Ok(u) => FieldValue::UInt(u),
                        Err(_) => FieldValue::Other("a bigint beyond 64 bits"),
                    },
                }
            } else if let Some(d) = v.dyn_ref::<js_sys::Date>() {
                if d.get_time().is_nan() {
                    FieldValue::Other("an invalid Date")
                } else {
                    self.key = String::from(d.to_iso_string());
                    FieldValue::Str(&self.key)
                }
            } else {
                self.type_buf.clear();
                self.type_buf.push_str(type_name(&v));
                FieldValue::Other(&self.type_buf)
            };
            b.set(&name, value).map_err(js_err)?;
        }
        b.finish().map_err(js_err)
    }

    /// The last score as a JS object.
    /// The input index a reason names (reasons always name one of the pipeline's inputs).
    fn input_index(&self, feature: &str) -> Option<usize> {
        self.inner.input_names().iter().position(|x| x == feature)
    }

    fn score_object(&self) -> Result<JsValue, JsError> {
        let n = &self.names;
        let s = &self.score;
        let set = |o: &Object, k: &JsValue, v: &JsValue| {
            Reflect::set(o, k, v)
                .map(|_| ())
                .map_err(|e| JsError::new(&error_text(&e)))
        };
        let out = Object::new();
        set(&out, &n.risk, &JsValue::from_f64(s.risk))?;
        set(&out, &n.is_alert, &JsValue::from_bool(s.is_alert))?;
        let reasons = Array::new_with_length(s.reasons.len() as u32);
        for (i, r) in s.reasons.iter().enumerate() {
            let o = Object::new();
            let name = self
                .input_index(&r.feature)
                .map(|j| n.inputs[j].clone())
                .unwrap_or_else(|| JsValue::from_str(&r.feature));
            set(&o, &n.feature, &name)?;
            set(&o, &n.value, &JsValue::from_f64(r.value))?;
            set(&o, &n.contribution, &JsValue::from_f64(r.contribution))?;
            reasons.set(i as u32, o.into());
        }
        set(&out, &n.reasons, &reasons)?;
        Ok(out.into())
    }
}

#[wasm_bindgen]
impl Pipeline {
    /// Load a fitted pipeline from artifact bytes (`to_bytes()` in Rust or Python, `toBytes()`
    /// here), feature state included: scoring continues where the writer stopped.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Pipeline, JsError> {
        CorePipeline::from_bytes(bytes)
            .map(Pipeline::wrap)
            .map_err(js_err)
    }

    /// Load the pipeline `modelBytes` (any artifact of the pipeline: its feature state is
    /// replaced) with the feature state `stateBytes` written by `snapshot()` of a pipeline with the
    /// same feature spec.
    pub fn restore(model_bytes: &[u8], state_bytes: &[u8]) -> Result<Pipeline, JsError> {
        let mut p = Pipeline::from_bytes(model_bytes)?;
        p.restore_state(state_bytes)?;
        Ok(p)
    }

    /// The whole pipeline, feature state included, as artifact bytes.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Result<Vec<u8>, JsError> {
        self.inner.to_bytes().map_err(js_err)
    }

    /// The feature engine's state alone (per-entity windows, counters) as artifact bytes, for a
    /// key-value store; put it back with `restoreState` or `Pipeline.restore`.
    pub fn snapshot(&self) -> Result<Vec<u8>, JsError> {
        self.inner.engine().snapshot().map_err(js_err)
    }

    /// Replace the feature state with `snapshot()` bytes of a pipeline with the same feature spec.
    /// On error the current state is kept.
    #[wasm_bindgen(js_name = restoreState)]
    pub fn restore_state(&mut self, state_bytes: &[u8]) -> Result<(), JsError> {
        let engine = FeatureEngine::restore(state_bytes).map_err(js_err)?;
        if engine.spec() != &self.inner.spec().features {
            return Err(JsError::new(
                "invalid artifact: the feature state was written for another feature spec than \
                 this pipeline's",
            ));
        }
        *self.inner.engine_mut() = engine;
        Ok(())
    }

    /// Forget every entity: serve from an empty feature state.
    #[wasm_bindgen(js_name = resetState)]
    pub fn reset_state(&mut self) -> Result<(), JsError> {
        self.inner.reset_state().map_err(js_err)
    }

    /// Score one event (an object: field name -> value, as in the feature spec's schema) and add
    /// it to the feature state. Throws on a missing, unknown or mistyped field, a non-finite
    /// number, a late event refused by the spec, or a NaN detector input.
    #[wasm_bindgen(js_name = scoreEvent, unchecked_return_type = "Score")]
    pub fn score_event(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "FraudEvent")] event: JsValue,
    ) -> Result<JsValue, JsError> {
        self.read_event(&event)?;
        self.inner
            .score_into(&self.event, &mut self.score)
            .map_err(js_err)?;
        self.score_object()
    }

    /// Internal, for the package's JavaScript `scoreEvent` (see `js/score_event.js`): the
    /// schema's field names, in the slot order [`score_slots`](Self::score_slots) takes.
    #[wasm_bindgen(js_name = schemaFields, skip_typescript)]
    pub fn schema_fields(&self) -> Vec<String> {
        self.fields.clone()
    }

    /// Internal fast path of `scoreEvent` (see `js/score_event.js`): the event already split by
    /// JavaScript into one slot per schema field. `tags[i]`: 0 absent, 1 an integral number
    /// (`nums[i]`, read like a JSON integer), 2 another number (`nums[i]`), 3 a string (the next
    /// NUL-separated piece of `strs`). The fields go through the same event builder as
    /// `scoreEvent`. Returns `[risk, isAlert, n, (input index, value, contribution) x n]`, or an
    /// empty array, with nothing changed, when the event is malformed: the caller then calls the
    /// generic `scoreEvent`, whose error is the reference one.
    #[wasm_bindgen(js_name = scoreSlots, skip_typescript)]
    pub fn score_slots(
        &mut self,
        tags: &[u8],
        nums: &[f64],
        strs: &str,
    ) -> Result<Vec<f64>, JsError> {
        let n = self.fields.len();
        if tags.len() != n || nums.len() != n {
            return Ok(Vec::new());
        }
        let schema = self.inner.engine().schema();
        let mut b = schema.builder(&mut self.event);
        let mut pieces = strs.split('\0');
        for (i, name) in self.fields.iter().enumerate() {
            let value = match tags[i] {
                0 => continue,
                1 => FieldValue::Int(nums[i] as i64),
                2 => FieldValue::Float(nums[i]),
                3 => match pieces.next() {
                    Some(s) => FieldValue::Str(s),
                    None => return Ok(Vec::new()),
                },
                _ => return Ok(Vec::new()),
            };
            if b.set(name, value).is_err() {
                return Ok(Vec::new());
            }
        }
        if b.finish().is_err() {
            return Ok(Vec::new());
        }
        self.inner
            .score_into(&self.event, &mut self.score)
            .map_err(js_err)?;
        let s = &self.score;
        let mut out = Vec::with_capacity(3 + 3 * s.reasons.len());
        out.extend([
            s.risk,
            f64::from(u8::from(s.is_alert)),
            s.reasons.len() as f64,
        ]);
        for r in &s.reasons {
            let j = self.input_index(&r.feature).map_or(-1.0, |j| j as f64);
            out.extend([j, r.value, r.contribution]);
        }
        Ok(out)
    }

    /// The alert threshold on the risk (`isAlert` is `risk >= threshold`).
    #[wasm_bindgen(getter)]
    pub fn threshold(&self) -> f64 {
        self.inner.threshold()
    }

    /// The features the detectors see (reason codes name these), in input order.
    #[wasm_bindgen(getter, js_name = inputNames)]
    pub fn input_names(&self) -> Vec<String> {
        self.inner.input_names().to_vec()
    }

    /// Every feature the engine computes, in engine order.
    #[wasm_bindgen(getter, js_name = featureNames)]
    pub fn feature_names(&self) -> Vec<String> {
        self.inner.feature_names().to_vec()
    }

    /// Reason codes per score (at most).
    #[wasm_bindgen(getter, js_name = nReasons)]
    pub fn n_reasons(&self) -> usize {
        self.inner.n_reasons()
    }

    /// The pipeline spec (JSON text) the pipeline was fitted with.
    #[wasm_bindgen(getter, js_name = specJson)]
    pub fn spec_json(&self) -> String {
        self.inner.spec().to_json()
    }
}
