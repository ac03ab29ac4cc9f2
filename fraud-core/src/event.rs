//! Events: the unit of input of the [`crate::features::FeatureEngine`].
//!
//! An [`Event`] holds a timestamp in epoch milliseconds, the entity key fields as strings, the
//! numeric fields as `f64` and an optional label, each in the order of the spec's schema
//! ([`EventSchema`]). Field names are resolved to positions once, when the spec is compiled, so
//! processing an event does no string lookups beyond the entity-key lookups themselves.
//!
//! Bindings can keep one [`Event`] and refill it per record ([`EventSchema::fill_from_json`] or by
//! writing the vectors directly): the key strings keep their capacity, so refilling does not allocate
//! once the buffers are warm.
//!
//! Timestamps: integer (or float) epoch seconds or milliseconds, or a datetime string
//! `YYYY-MM-DD HH:MM:SS[.fff]` / RFC 3339 `YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)`. A datetime
//! without an offset is read as UTC. Sub-millisecond digits are truncated.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// How the timestamp field of an input record is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeUnit {
    /// Epoch seconds (integer or float; floats are rounded to the millisecond).
    #[serde(rename = "s")]
    Seconds,
    /// Epoch milliseconds (integer, or a float that is rounded to the millisecond).
    #[serde(rename = "ms")]
    Milliseconds,
    /// A datetime string (`YYYY-MM-DD HH:MM:SS[.fff]` or RFC 3339); read as UTC without an offset.
    #[serde(rename = "datetime")]
    Datetime,
}

/// One event, with its fields in the schema's order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    /// Event time, epoch milliseconds (UTC).
    pub time_ms: i64,
    /// Entity key values, one per schema key field, in schema order.
    pub keys: Vec<String>,
    /// Numeric values, one per schema numeric field, in schema order. Must be finite.
    pub values: Vec<f64>,
    /// The label (e.g. 1.0 for fraud, 0.0 for genuine), if known. Must be finite.
    pub label: Option<f64>,
    /// The event's id (the schema's `id` field), used to match label feedback to it later.
    pub id: Option<String>,
}

impl Event {
    /// An event from its parts (fields in schema order).
    pub fn new(time_ms: i64, keys: Vec<String>, values: Vec<f64>, label: Option<f64>) -> Self {
        Event {
            time_ms,
            keys,
            values,
            label,
            id: None,
        }
    }

    /// The same event with an id (see [`Event::id`]).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// Where a named field goes in an [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Timestamp,
    Key(usize),
    Numeric(usize),
    Label,
    Id,
    Ignored,
}

/// The compiled event schema: field names resolved to positions.
#[derive(Debug, Clone)]
pub struct EventSchema {
    timestamp: String,
    unit: TimeUnit,
    keys: Vec<String>,
    numeric: Vec<String>,
    label: Option<String>,
    id: Option<String>,
    lookup: HashMap<String, Slot>,
}

impl EventSchema {
    /// Build a schema; every field name must be non-empty and used once. `ignore` lists fields that
    /// input records may carry and that are skipped (e.g. an id column).
    pub fn new(
        timestamp: &str,
        unit: TimeUnit,
        keys: &[String],
        numeric: &[String],
        label: Option<&str>,
        ignore: &[String],
    ) -> Result<Self> {
        let mut lookup = HashMap::new();
        let mut add = |name: &str, slot: Slot| -> Result<()> {
            if name.is_empty() {
                return Err(Error::InvalidSpec {
                    location: "schema".into(),
                    message: "field names must not be empty".into(),
                });
            }
            if lookup.insert(name.to_string(), slot).is_some() {
                return Err(Error::InvalidSpec {
                    location: "schema".into(),
                    message: format!(
                        "field `{name}` is declared twice; each field has one role (timestamp, key, numeric or label)"
                    ),
                });
            }
            Ok(())
        };
        add(timestamp, Slot::Timestamp)?;
        for (i, k) in keys.iter().enumerate() {
            add(k, Slot::Key(i))?;
        }
        for (i, k) in numeric.iter().enumerate() {
            add(k, Slot::Numeric(i))?;
        }
        if let Some(l) = label {
            add(l, Slot::Label)?;
        }
        for k in ignore {
            add(k, Slot::Ignored)?;
        }
        Ok(EventSchema {
            timestamp: timestamp.to_string(),
            unit,
            keys: keys.to_vec(),
            numeric: numeric.to_vec(),
            label: label.map(str::to_string),
            id: None,
            lookup,
        })
    }

    /// Declare the event-id field (used to match label feedback to earlier events).
    pub fn with_id_field(mut self, id: &str) -> Result<Self> {
        if id.is_empty() {
            return Err(Error::InvalidSpec {
                location: "schema.id".into(),
                message: "field names must not be empty".into(),
            });
        }
        match self.lookup.get(id) {
            None => {}
            Some(_) => {
                return Err(Error::InvalidSpec {
                    location: "schema.id".into(),
                    message: format!(
                        "field `{id}` is declared twice; each field has one role (timestamp, key, numeric, label or id)"
                    ),
                });
            }
        }
        self.lookup.insert(id.to_string(), Slot::Id);
        self.id = Some(id.to_string());
        Ok(self)
    }

    /// The event-id field name, if the schema has one.
    pub fn id_field(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The timestamp field name.
    pub fn timestamp_field(&self) -> &str {
        &self.timestamp
    }
    /// The timestamp unit.
    pub fn time_unit(&self) -> TimeUnit {
        self.unit
    }
    /// Key field names, in event order.
    pub fn key_fields(&self) -> &[String] {
        &self.keys
    }
    /// Numeric field names, in event order.
    pub fn numeric_fields(&self) -> &[String] {
        &self.numeric
    }
    /// The label field name, if the schema has one.
    pub fn label_field(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Every field name the schema declares (timestamp, keys, numeric, label, id and ignored
    /// fields), sorted: the names an event may carry.
    pub fn field_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.lookup.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    fn declared(&self) -> String {
        let mut names = vec![format!("timestamp `{}`", self.timestamp)];
        if !self.keys.is_empty() {
            names.push(format!("keys {}", quote_list(&self.keys)));
        }
        if !self.numeric.is_empty() {
            names.push(format!("numeric {}", quote_list(&self.numeric)));
        }
        if let Some(l) = &self.label {
            names.push(format!("label `{l}`"));
        }
        if let Some(l) = &self.id {
            names.push(format!("id `{l}`"));
        }
        let ignored: Vec<String> = self
            .lookup
            .iter()
            .filter(|(_, s)| **s == Slot::Ignored)
            .map(|(n, _)| n.clone())
            .collect();
        if !ignored.is_empty() {
            let mut ignored = ignored;
            ignored.sort();
            names.push(format!("ignored {}", quote_list(&ignored)));
        }
        names.join(", ")
    }

    /// Convert a JSON object (field name -> value) into an [`Event`].
    ///
    /// Unknown fields, missing fields (the label may be absent or null), wrong types and non-finite
    /// numbers are refused with an error that names the field.
    pub fn event_from_json(&self, map: &Map<String, Value>) -> Result<Event> {
        let mut ev = Event::default();
        self.fill_from_json(map, &mut ev)?;
        Ok(ev)
    }

    /// Like [`EventSchema::event_from_json`], reusing `ev`'s buffers. On error `ev` is unspecified.
    pub fn fill_from_json(&self, map: &Map<String, Value>, ev: &mut Event) -> Result<()> {
        let mut b = self.builder(ev);
        for (name, value) in map {
            b.set(name, FieldValue::from_json(value))?;
        }
        b.finish()
    }

    /// Start filling `ev` field by field (the rules of [`EventSchema::event_from_json`] for any
    /// source of named values, e.g. a Python dict). Call [`EventBuilder::finish`] at the end.
    pub fn builder<'s, 'e>(&'s self, ev: &'e mut Event) -> EventBuilder<'s, 'e> {
        ev.keys.resize_with(self.keys.len(), String::new);
        ev.values.clear();
        ev.values.resize(self.numeric.len(), f64::NAN);
        ev.label = None;
        ev.id = None;
        EventBuilder {
            schema: self,
            ev,
            seen_time: false,
            seen_keys: 0,
            key_bits: 0,
            seen_values: 0,
        }
    }

    /// Check that a batch with these field (column) names fits the schema: every name is declared
    /// (or ignored) and every required field (timestamp, keys, numeric fields) is present. The label
    /// may be absent.
    pub fn check_fields<S: AsRef<str>>(&self, names: &[S]) -> Result<()> {
        for name in names {
            if !self.lookup.contains_key(name.as_ref()) {
                return Err(Error::UnknownField {
                    field: name.as_ref().to_string(),
                    expected: self.declared(),
                });
            }
        }
        let has = |f: &str| names.iter().any(|n| n.as_ref() == f);
        if !has(&self.timestamp) {
            return Err(Error::MissingField {
                field: self.timestamp.clone(),
                hint: "it is the event timestamp".into(),
            });
        }
        if let Some(k) = self.keys.iter().find(|k| !has(k)) {
            return Err(Error::MissingField {
                field: k.clone(),
                hint: "it is an entity key field".into(),
            });
        }
        if let Some(k) = self.numeric.iter().find(|k| !has(k)) {
            return Err(Error::MissingField {
                field: k.clone(),
                hint: "it is a numeric field".into(),
            });
        }
        Ok(())
    }

    /// Read a timestamp value according to the schema's unit, into epoch milliseconds.
    pub fn timestamp_from_json(&self, value: &Value) -> Result<i64> {
        self.timestamp_from_field(FieldValue::from_json(value))
    }

    /// Read a timestamp value according to the schema's unit, into epoch milliseconds: a datetime
    /// string for the `datetime` unit, an integer or float epoch time for `s` and `ms`.
    pub fn timestamp_from_field(&self, value: FieldValue<'_>) -> Result<i64> {
        let field = &self.timestamp;
        let bad = |reason: String| Error::InvalidField {
            field: field.clone(),
            reason,
        };
        let scale = if self.unit == TimeUnit::Seconds {
            1000
        } else {
            1
        };
        match (self.unit, value) {
            (TimeUnit::Datetime, FieldValue::Str(s)) => parse_datetime_ms(s).ok_or_else(|| {
                bad(format!(
                    "cannot parse datetime {s:?}: expected `YYYY-MM-DD HH:MM:SS[.fff]` or RFC 3339"
                ))
            }),
            (TimeUnit::Datetime, _) => Err(bad(
                "expected a datetime string (the schema's timestamp unit is `datetime`)".into(),
            )),
            (_, FieldValue::Int(i)) => i
                .checked_mul(scale)
                .ok_or_else(|| bad(format!("timestamp {i} overflows epoch milliseconds"))),
            (_, FieldValue::UInt(u)) => {
                Err(bad(format!("timestamp {u} overflows epoch milliseconds")))
            }
            (_, FieldValue::Float(f)) => float_time_ms(f, scale as f64).ok_or_else(|| {
                bad(format!(
                    "timestamp {} is not a finite epoch time within range",
                    crate::data::display_number(f)
                ))
            }),
            (unit, _) => Err(bad(format!(
                "expected an epoch number in {} (the schema's timestamp unit)",
                if unit == TimeUnit::Seconds {
                    "seconds"
                } else {
                    "milliseconds"
                }
            ))),
        }
    }

    /// Check an event's shape and values against the schema.
    pub fn check(&self, ev: &Event) -> Result<()> {
        if ev.keys.len() != self.keys.len() {
            return Err(Error::ShapeMismatch(format!(
                "event has {} key values, the schema declares {} key fields {}",
                ev.keys.len(),
                self.keys.len(),
                quote_list(&self.keys)
            )));
        }
        if ev.values.len() != self.numeric.len() {
            return Err(Error::ShapeMismatch(format!(
                "event has {} numeric values, the schema declares {} numeric fields {}",
                ev.values.len(),
                self.numeric.len(),
                quote_list(&self.numeric)
            )));
        }
        for (v, name) in ev.values.iter().zip(&self.numeric) {
            check_number(name, *v)?;
        }
        if let Some(l) = ev.label {
            if !l.is_finite() {
                return Err(non_finite(self.label.as_deref().unwrap_or("label"), l));
            }
            if self.label.is_none() {
                return Err(Error::InvalidInput(
                    "event carries a label but the schema declares no label field".into(),
                ));
            }
        }
        Ok(())
    }
}

/// The timestamp column of an [`EventColumns`] batch.
#[derive(Debug, Clone, Copy)]
pub enum TimeColumn<'a> {
    /// Epoch milliseconds (UTC), whatever the schema's unit: e.g. converted from a datetime column.
    Millis(&'a [i64]),
    /// Integer epoch times in the schema's unit (`s` or `ms`; refused for `datetime`).
    Epoch(&'a [i64]),
    /// Float epoch times in the schema's unit (`s` or `ms`), rounded to the millisecond.
    EpochFloat(&'a [f64]),
}

impl TimeColumn<'_> {
    fn len(&self) -> usize {
        match self {
            TimeColumn::Millis(c) | TimeColumn::Epoch(c) => c.len(),
            TimeColumn::EpochFloat(c) => c.len(),
        }
    }
}

/// One entity-key column, dictionary-encoded: row `i` has key `values[codes[i]]`.
#[derive(Debug, Clone, Copy)]
pub struct KeyColumn<'a> {
    /// Per-row index into `values`; a negative code is a missing key (refused).
    pub codes: &'a [i64],
    /// The distinct key texts (see [`write_key`] to make them from typed values).
    pub values: &'a [String],
}

/// A batch of events as columns, in the schema's order; every column has one entry per row.
#[derive(Debug, Clone)]
pub struct EventColumns<'a> {
    /// Event times.
    pub time: TimeColumn<'a>,
    /// One column per schema key field, in schema order.
    pub keys: Vec<KeyColumn<'a>>,
    /// One column per schema numeric field, in schema order.
    pub numeric: Vec<&'a [f64]>,
    /// The label column, if given; NaN means "not known" (like a missing label).
    pub label: Option<&'a [f64]>,
    /// The event-id column, if given (dictionary-encoded like a key; a negative code is a missing
    /// id).
    pub id: Option<KeyColumn<'a>>,
}

impl EventColumns<'_> {
    /// Number of rows (the length of the timestamp column).
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl EventSchema {
    /// Check that `cols` has the schema's columns, all of one length, and a timestamp column that
    /// the schema's unit can read.
    pub fn check_columns(&self, cols: &EventColumns<'_>) -> Result<()> {
        let n = cols.len();
        let shape = |what: String| Err(Error::ShapeMismatch(what));
        if cols.keys.len() != self.keys.len() {
            return shape(format!(
                "{} key columns given, the schema declares {} key fields {}",
                cols.keys.len(),
                self.keys.len(),
                quote_list(&self.keys)
            ));
        }
        if cols.numeric.len() != self.numeric.len() {
            return shape(format!(
                "{} numeric columns given, the schema declares {} numeric fields {}",
                cols.numeric.len(),
                self.numeric.len(),
                quote_list(&self.numeric)
            ));
        }
        let mut lens: Vec<(&str, usize)> = Vec::new();
        lens.extend(
            self.keys
                .iter()
                .zip(&cols.keys)
                .map(|(f, c)| (f.as_str(), c.codes.len())),
        );
        lens.extend(
            self.numeric
                .iter()
                .zip(&cols.numeric)
                .map(|(f, c)| (f.as_str(), c.len())),
        );
        if let Some(l) = cols.label {
            if self.label.is_none() {
                return Err(Error::InvalidInput(
                    "a label column was given but the schema declares no label field".into(),
                ));
            }
            lens.push((self.label.as_deref().unwrap_or("label"), l.len()));
        }
        if let Some(c) = &cols.id {
            if self.id.is_none() {
                return Err(Error::InvalidInput(
                    "an id column was given but the schema declares no id field".into(),
                ));
            }
            lens.push((self.id.as_deref().unwrap_or("id"), c.codes.len()));
        }
        if let Some((f, len)) = lens.iter().find(|(_, len)| *len != n) {
            return shape(format!(
                "column `{f}` has {len} rows, the timestamp column `{}` has {n}",
                self.timestamp
            ));
        }
        if self.unit == TimeUnit::Datetime && !matches!(cols.time, TimeColumn::Millis(_)) {
            return Err(Error::InvalidField {
                field: self.timestamp.clone(),
                reason: "the schema's timestamp unit is `datetime`: give datetimes, not epoch numbers (or set time_unit to \"s\" or \"ms\")".into(),
            });
        }
        Ok(())
    }

    /// Event time (epoch ms) of row `row` of `cols`.
    #[inline]
    pub fn column_time(&self, cols: &EventColumns<'_>, row: usize) -> Result<i64> {
        match cols.time {
            TimeColumn::Millis(c) => Ok(c[row]),
            TimeColumn::Epoch(c) => self.timestamp_from_field(FieldValue::Int(c[row])),
            TimeColumn::EpochFloat(c) => self.timestamp_from_field(FieldValue::Float(c[row])),
        }
    }

    /// The validated dictionary code of key column `k` at row `row`.
    #[inline]
    pub fn column_key_code(&self, cols: &EventColumns<'_>, k: usize, row: usize) -> Result<usize> {
        let col = &cols.keys[k];
        let code = col.codes[row];
        match code_index(code, col.values.len()) {
            Some(c) => Ok(c),
            None => Err(Error::InvalidField {
                field: self.keys[k].clone(),
                reason: if code < 0 {
                    "an entity key must not be missing".into()
                } else {
                    format!(
                        "key code {code} is out of range for {} distinct keys",
                        col.values.len()
                    )
                },
            }),
        }
    }

    /// The id text of row `row` (`None` when the batch has no id column or the code is negative).
    #[inline]
    pub fn column_id<'c>(&self, cols: &EventColumns<'c>, row: usize) -> Result<Option<&'c str>> {
        let Some(col) = cols.id else {
            return Ok(None);
        };
        let code = col.codes[row];
        if code < 0 {
            return Ok(None);
        }
        code_index(code, col.values.len())
            .map(|c| Some(col.values[c].as_str()))
            .ok_or_else(|| Error::InvalidField {
                field: self.id.clone().unwrap_or_else(|| "id".into()),
                reason: format!(
                    "id code {code} is out of range for {} distinct ids",
                    col.values.len()
                ),
            })
    }

    /// Check row `row` of `cols` (checked with [`EventSchema::check_columns`]) exactly as
    /// [`EventSchema::fill_from_columns`] followed by [`EventSchema::check`] would, with the same
    /// errors, without building an [`Event`]; returns the row's time (epoch ms).
    pub fn check_row(&self, cols: &EventColumns<'_>, row: usize) -> Result<i64> {
        let t = self.column_time(cols, row)?;
        for k in 0..cols.keys.len() {
            self.column_key_code(cols, k, row)?;
        }
        self.column_id(cols, row)?;
        for (c, name) in cols.numeric.iter().zip(&self.numeric) {
            check_number(name, c[row])?;
        }
        if let Some(l) = cols.label
            && l[row].is_infinite()
        {
            return Err(non_finite(self.label.as_deref().unwrap_or("label"), l[row]));
        }
        Ok(t)
    }

    /// The number of leading rows of `cols` (checked with [`EventSchema::check_columns`]) whose
    /// keys, id, numeric values and label pass [`EventSchema::check_row`]: checked column by
    /// column, which is several times faster than row by row. The time is not checked.
    pub fn valid_prefix(&self, cols: &EventColumns<'_>) -> usize {
        let mut end = cols.len();
        for k in &cols.keys {
            let n = k.values.len();
            end = first_where(&k.codes[..end], |c| code_index(c, n).is_none()).unwrap_or(end);
        }
        if let Some(id) = &cols.id {
            let n = id.values.len();
            end = first_where(&id.codes[..end], |c| c >= 0 && code_index(c, n).is_none())
                .unwrap_or(end);
        }
        for c in &cols.numeric {
            end = first_where(&c[..end], |v| !number_ok(v)).unwrap_or(end);
        }
        if let Some(l) = cols.label {
            end = first_where(&l[..end], f64::is_infinite).unwrap_or(end);
        }
        end
    }

    /// Fill `ev` from row `row` of `cols` (checked with [`EventSchema::check_columns`]).
    pub fn fill_from_columns(
        &self,
        cols: &EventColumns<'_>,
        row: usize,
        ev: &mut Event,
    ) -> Result<()> {
        ev.time_ms = self.column_time(cols, row)?;
        ev.keys.resize_with(self.keys.len(), String::new);
        for (k, out) in ev.keys.iter_mut().enumerate() {
            let code = self.column_key_code(cols, k, row)?;
            out.clear();
            out.push_str(&cols.keys[k].values[code]);
        }
        ev.values.clear();
        ev.values.extend(cols.numeric.iter().map(|c| c[row]));
        ev.label = cols.label.map(|l| l[row]).filter(|v| !v.is_nan());
        ev.id = self.column_id(cols, row)?.map(str::to_string);
        Ok(())
    }
}

/// Label feedback for an earlier event: its id, its entity keys (schema order) and the label that
/// became known. See [`crate::features::FeatureEngine::feedback`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Feedback {
    /// The id of the event the label belongs to (the schema's `id` field).
    pub id: String,
    /// The event's entity keys, one per schema key field, in schema order.
    pub keys: Vec<String>,
    /// The label (e.g. 1.0 for fraud). Must be finite.
    pub label: f64,
}

impl EventSchema {
    /// Start reading a [`Feedback`] field by field: the id, key and label fields are required;
    /// the timestamp, numeric and ignored fields may be present and are skipped; any other field
    /// is refused.
    pub fn feedback_builder(&self) -> FeedbackBuilder<'_> {
        FeedbackBuilder {
            schema: self,
            fb: Feedback {
                id: String::new(),
                keys: vec![String::new(); self.keys.len()],
                label: f64::NAN,
            },
            seen_id: false,
            seen_keys: vec![false; self.keys.len()],
        }
    }

    /// Read a [`Feedback`] from a JSON object (see [`EventSchema::feedback_builder`]).
    pub fn feedback_from_json(&self, map: &Map<String, Value>) -> Result<Feedback> {
        let mut b = self.feedback_builder();
        for (name, value) in map {
            b.set(name, FieldValue::from_json(value))?;
        }
        b.finish()
    }
}

/// Reads a [`Feedback`] field by field; see [`EventSchema::feedback_builder`].
#[derive(Debug)]
pub struct FeedbackBuilder<'s> {
    schema: &'s EventSchema,
    fb: Feedback,
    seen_id: bool,
    seen_keys: Vec<bool>,
}

impl FeedbackBuilder<'_> {
    /// Set one named field.
    pub fn set(&mut self, name: &str, value: FieldValue<'_>) -> Result<()> {
        let schema = self.schema;
        let slot = schema.lookup.get(name).ok_or_else(|| Error::UnknownField {
            field: name.to_string(),
            expected: schema.declared(),
        })?;
        match *slot {
            Slot::Key(i) => {
                let out = &mut self.fb.keys[i];
                out.clear();
                write_key(name, value, out)?;
                self.seen_keys[i] = true;
            }
            Slot::Id => {
                self.fb.id.clear();
                write_key(name, value, &mut self.fb.id)?;
                self.seen_id = true;
            }
            Slot::Label => {
                self.fb.label = match value {
                    FieldValue::Bool(b) => f64::from(u8::from(b)),
                    v => number_from_field(name, v)?,
                };
            }
            Slot::Timestamp | Slot::Numeric(_) | Slot::Ignored => {}
        }
        Ok(())
    }

    /// Check that the id, every key and the label were given.
    pub fn finish(self) -> Result<Feedback> {
        let schema = self.schema;
        let Some(id) = schema.id.as_deref() else {
            return Err(Error::InvalidInput(
                "label feedback needs an `id` field in the schema (schema.id) to find the event"
                    .into(),
            ));
        };
        let Some(label) = schema.label.as_deref() else {
            return Err(Error::InvalidInput(
                "label feedback needs a `label` field in the schema".into(),
            ));
        };
        if !self.seen_id {
            return Err(Error::MissingField {
                field: id.to_string(),
                hint: "feedback names the event it labels by its id".into(),
            });
        }
        if let Some(i) = self.seen_keys.iter().position(|s| !s) {
            return Err(Error::MissingField {
                field: schema.keys[i].clone(),
                hint: "feedback carries the event's entity keys".into(),
            });
        }
        if !self.fb.label.is_finite() {
            return Err(if self.fb.label.is_nan() {
                Error::MissingField {
                    field: label.to_string(),
                    hint: "feedback carries the label that became known".into(),
                }
            } else {
                non_finite(label, self.fb.label)
            });
        }
        Ok(self.fb)
    }
}

fn quote_list(names: &[String]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!("[{}]", q.join(", "))
}

/// The largest magnitude a numeric event field may take. Window sums and sums of squares of such
/// values stay finite (a single `1e308` would overflow a window's sum to infinity and poison the
/// entity's features until the window has passed), and it is far beyond any amount or count.
pub const MAX_NUMERIC_MAGNITUDE: f64 = 1e18;

/// The index of the first element of `xs` that is `bad`: blocks without one are ruled out with a
/// branch-free (vectorisable) pass.
fn first_where<T: Copy>(xs: &[T], bad: impl Fn(T) -> bool) -> Option<usize> {
    const BLOCK: usize = 256;
    xs.chunks(BLOCK).enumerate().find_map(|(b, block)| {
        block
            .iter()
            .fold(false, |any, &x| any | bad(x))
            .then(|| b * BLOCK + block.iter().position(|&x| bad(x)).unwrap_or(0))
    })
}

/// Whether a numeric field's value is accepted: finite and within [`MAX_NUMERIC_MAGNITUDE`].
#[inline]
fn number_ok(v: f64) -> bool {
    v.is_finite() && v.abs() <= MAX_NUMERIC_MAGNITUDE
}

/// The index a dictionary code points at, if it is one of `len` values (a negative code is
/// missing).
#[inline]
fn code_index(code: i64, len: usize) -> Option<usize> {
    usize::try_from(code).ok().filter(|&c| c < len)
}

/// A numeric field's value if it is finite and within [`MAX_NUMERIC_MAGNITUDE`].
fn check_number(field: &str, v: f64) -> Result<f64> {
    if number_ok(v) {
        Ok(v)
    } else if !v.is_finite() {
        Err(non_finite(field, v))
    } else {
        Err(Error::InvalidField {
            field: field.to_string(),
            reason: format!(
                "{v:e} is beyond +/-{MAX_NUMERIC_MAGNITUDE:e}, the range numeric fields accept \
                 (window sums must stay finite): check the value or rescale the field"
            ),
        })
    }
}

fn non_finite(field: &str, v: f64) -> Error {
    Error::InvalidField {
        field: field.to_string(),
        reason: format!("{v} is not finite: impute or drop missing and infinite values first"),
    }
}

/// A field value from any source (a JSON value, a Python object, ...), borrowed, so that one set
/// of rules ([`EventSchema::builder`]) applies to every binding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// A missing value (JSON `null`, Python `None`).
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer beyond `i64::MAX`.
    UInt(u64),
    /// A float (may be non-finite; a NaN label means "not known").
    Float(f64),
    /// A string.
    Str(&'a str),
    /// A value of any other type, with the type's name (used only in messages).
    Other(&'a str),
}

impl<'a> FieldValue<'a> {
    /// The field value of a JSON value.
    pub fn from_json(value: &'a Value) -> Self {
        match value {
            Value::Null => FieldValue::Null,
            Value::Bool(b) => FieldValue::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    FieldValue::Int(i)
                } else if let Some(u) = n.as_u64() {
                    FieldValue::UInt(u)
                } else {
                    FieldValue::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => FieldValue::Str(s),
            Value::Array(_) => FieldValue::Other("array"),
            Value::Object(_) => FieldValue::Other("object"),
        }
    }
}

/// Fills an [`Event`] field by field; made by [`EventSchema::builder`]. Each field name must be
/// set at most once (as in a map).
pub struct EventBuilder<'s, 'e> {
    schema: &'s EventSchema,
    ev: &'e mut Event,
    seen_time: bool,
    seen_keys: usize,
    key_bits: u64,
    seen_values: usize,
}

impl EventBuilder<'_, '_> {
    /// Set the field `name`. Unknown names, wrong types and non-finite numbers are refused with an
    /// error naming the field (never containing a key value). Ignored fields accept anything.
    pub fn set(&mut self, name: &str, value: FieldValue<'_>) -> Result<()> {
        let schema = self.schema;
        let slot = schema.lookup.get(name).ok_or_else(|| Error::UnknownField {
            field: name.to_string(),
            expected: schema.declared(),
        })?;
        match *slot {
            Slot::Timestamp => {
                self.ev.time_ms = schema.timestamp_from_field(value)?;
                self.seen_time = true;
            }
            Slot::Key(i) => {
                let out = &mut self.ev.keys[i];
                out.clear();
                write_key(name, value, out)?;
                self.seen_keys += 1;
                if i < 64 {
                    self.key_bits |= 1 << i;
                }
            }
            Slot::Numeric(i) => {
                self.ev.values[i] = check_number(name, number_from_field(name, value)?)?;
                self.seen_values += 1;
            }
            Slot::Label => {
                self.ev.label = match value {
                    FieldValue::Null => None,
                    FieldValue::Float(f) if f.is_nan() => None,
                    FieldValue::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
                    v => Some(number_from_field(name, v)?),
                };
            }
            Slot::Id => {
                self.ev.id = match value {
                    FieldValue::Null => None,
                    v => {
                        let mut out = self.ev.id.take().unwrap_or_default();
                        out.clear();
                        write_key(name, v, &mut out)?;
                        Some(out)
                    }
                };
            }
            Slot::Ignored => {}
        }
        Ok(())
    }

    /// Check that every required field was set (the label may be absent).
    pub fn finish(self) -> Result<()> {
        let schema = self.schema;
        if !self.seen_time {
            return Err(Error::MissingField {
                field: schema.timestamp.clone(),
                hint: "it is the event timestamp".into(),
            });
        }
        if self.seen_keys != schema.keys.len() {
            let f = schema
                .keys
                .iter()
                .enumerate()
                .find(|(i, _)| *i >= 64 || self.key_bits & (1 << i) == 0);
            return Err(Error::MissingField {
                field: f.map(|(_, k)| k.clone()).unwrap_or_default(),
                hint: "it is an entity key field".into(),
            });
        }
        if self.seen_values != schema.numeric.len() {
            let f = schema
                .numeric
                .iter()
                .zip(&self.ev.values)
                .find(|(_, v)| v.is_nan());
            return Err(Error::MissingField {
                field: f.map(|(k, _)| k.clone()).unwrap_or_default(),
                hint: "it is a numeric field".into(),
            });
        }
        Ok(())
    }
}

/// Append the entity-key text of `value` to `out`: a string as is, an integer (or an integral
/// float, e.g. `123.0`) in decimal (`"123"`). Null, booleans, non-integral numbers and other types
/// are refused with an error naming `field` (never containing the value).
pub fn write_key(field: &str, value: FieldValue<'_>, out: &mut String) -> Result<()> {
    use std::fmt::Write;
    let bad = |reason: &str| Error::InvalidField {
        field: field.to_string(),
        reason: reason.into(),
    };
    match value {
        FieldValue::Str(s) => out.push_str(s),
        FieldValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        FieldValue::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        FieldValue::Float(f) => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
                let _ = write!(out, "{}", f as i64);
            } else if f.is_nan() {
                return Err(bad("an entity key must not be missing (NaN)"));
            } else {
                return Err(bad(
                    "an entity key must be a string or an integer (got a non-integral number)",
                ));
            }
        }
        FieldValue::Null => return Err(bad("an entity key must not be null")),
        FieldValue::Bool(_) => {
            return Err(bad(
                "an entity key must be a string or an integer (got a boolean)",
            ));
        }
        FieldValue::Other(t) => {
            return Err(bad(&format!(
                "an entity key must be a string or an integer (got {t})"
            )));
        }
    }
    Ok(())
}

fn number_from_field(field: &str, value: FieldValue<'_>) -> Result<f64> {
    match value {
        FieldValue::Int(i) => Ok(i as f64),
        FieldValue::UInt(u) => Ok(u as f64),
        FieldValue::Float(f) if f.is_finite() => Ok(f),
        FieldValue::Float(f) => Err(non_finite(field, f)),
        FieldValue::Bool(b) => Ok(if b { 1.0 } else { 0.0 }),
        FieldValue::Null => Err(Error::InvalidField {
            field: field.to_string(),
            reason: "null is not accepted: impute or drop missing values first".into(),
        }),
        FieldValue::Str(_) => Err(Error::InvalidField {
            field: field.to_string(),
            reason: "expected a number, got a string".into(),
        }),
        FieldValue::Other(t) => Err(Error::InvalidField {
            field: field.to_string(),
            reason: format!("expected a number, got {t}"),
        }),
    }
}

fn float_time_ms(f: f64, scale: f64) -> Option<i64> {
    let ms = (f * scale).round();
    if ms.is_finite() && ms.abs() < 9.0e18 {
        Some(ms as i64)
    } else {
        None
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

/// Parse `YYYY-MM-DD HH:MM:SS[.fff]`, `YYYY-MM-DDTHH:MM:SS[.fff]` with an optional `Z` or
/// `+HH:MM`/`-HH:MM` offset, into epoch milliseconds (UTC). `None` if the text is not one of these.
pub fn parse_datetime_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as u32;
        }
        Some(v)
    };
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b' ' || b[10] == b'T' || b[10] == b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)? as i64, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59
    {
        return None;
    }
    let mut i = 19;
    let mut ms = 0i64;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                ms = ms * 10 + (b[i] - b'0') as i64;
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..3 {
            ms *= 10;
        }
    }
    let mut offset_min = 0i64;
    if i < b.len() {
        match b[i] {
            b'Z' | b'z' if i + 1 == b.len() => {}
            b'+' | b'-' if i + 6 == b.len() && b[i + 3] == b':' => {
                let oh = num(i + 1..i + 3)? as i64;
                let om = num(i + 4..i + 6)? as i64;
                if oh > 23 || om > 59 {
                    return None;
                }
                offset_min = oh * 60 + om;
                if b[i] == b'-' {
                    offset_min = -offset_min;
                }
            }
            _ => return None,
        }
    }
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + (h as i64) * 3600 + (mi as i64) * 60 + se as i64 - offset_min * 60;
    Some(secs * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> EventSchema {
        EventSchema::new(
            "ts",
            TimeUnit::Seconds,
            &["card".into(), "terminal".into()],
            &["amount".into()],
            Some("fraud"),
            &["id".into()],
        )
        .unwrap()
    }

    /// `valid_prefix` (column-wise) stops exactly at the first row `check_row` refuses.
    #[test]
    fn valid_prefix_is_where_check_row_first_fails() {
        let s = schema();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % m
        };
        let values: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        for case in 0..3000 {
            let n = next(700) as usize;
            // Mostly valid entries, so that prefixes are long and cross the 256-row blocks.
            let rare = 4 * n as u64 + 1;
            let mut code = |bad: i64| if next(rare) == 0 { bad } else { next(3) as i64 };
            let cards: Vec<i64> = (0..n).map(|_| code(-1)).collect();
            let terminals: Vec<i64> = (0..n).map(|_| code(3)).collect();
            let ids: Vec<i64> = (0..n)
                .map(|_| match next(rare) {
                    0 => 3,
                    1 => -1,
                    _ => next(3) as i64,
                })
                .collect();
            let pick =
                |r: u64, bad: &[f64], good: f64| bad.get(r as usize).copied().unwrap_or(good);
            let amounts: Vec<f64> = (0..n)
                .map(|_| pick(next(rare), &[f64::NAN, f64::INFINITY, 2e18], -5.5))
                .collect();
            let labels: Vec<f64> = (0..n)
                .map(|_| pick(next(rare), &[f64::NEG_INFINITY, f64::NAN], 1.0))
                .collect();
            let times: Vec<i64> = (0..n as i64).collect();
            let cols = EventColumns {
                time: TimeColumn::Epoch(&times),
                keys: vec![
                    KeyColumn {
                        codes: &cards,
                        values: &values,
                    },
                    KeyColumn {
                        codes: &terminals,
                        values: &values,
                    },
                ],
                numeric: vec![&amounts],
                label: Some(&labels),
                id: Some(KeyColumn {
                    codes: &ids,
                    values: &values,
                }),
            };
            let want = (0..n)
                .find(|&r| s.check_row(&cols, r).is_err())
                .unwrap_or(n);
            assert_eq!(s.valid_prefix(&cols), want, "case {case}");
        }
    }

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime_ms("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_datetime_ms("2018-04-01 00:00:31"),
            Some(1_522_540_831_000)
        );
        assert_eq!(
            parse_datetime_ms("2018-04-01T02:00:31.5+02:00"),
            Some(1_522_540_831_500)
        );
        assert_eq!(
            parse_datetime_ms("2018-04-01T00:00:31.123456Z"),
            Some(1_522_540_831_123)
        );
        assert_eq!(parse_datetime_ms("1969-12-31 23:59:59"), Some(-1000));
        assert_eq!(
            parse_datetime_ms("2024-02-29 00:00:00"),
            Some(1_709_164_800_000)
        );
        for bad in [
            "2023-02-29 00:00:00",
            "2018-13-01 00:00:00",
            "2018-04-01",
            "2018-04-01 24:00:00",
            "2018-04-01 00:00:00+0200",
            "2018-04-01 00:00:00.",
            "2018/04/01 00:00:00",
        ] {
            assert_eq!(parse_datetime_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_days_round_trip_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1600, 1, 1), -135_140);
    }

    #[test]
    fn json_events() {
        let s = schema();
        let m = json!({"ts": 12, "card": "c1", "terminal": 7, "amount": 3.5, "fraud": true});
        let ev = s.event_from_json(m.as_object().unwrap()).unwrap();
        assert_eq!(
            ev,
            Event::new(12_000, vec!["c1".into(), "7".into()], vec![3.5], Some(1.0))
        );
        let m = json!({"ts": 12.5, "card": "c1", "terminal": 7.0, "amount": 3, "id": [1]});
        let ev = s.event_from_json(m.as_object().unwrap()).unwrap();
        assert_eq!(ev.time_ms, 12_500);
        assert_eq!(ev.keys[1], "7");
        assert_eq!(ev.label, None);
    }

    #[test]
    fn json_errors_name_the_field_not_the_key() {
        let s = schema();
        let err = |v: Value| s.event_from_json(v.as_object().unwrap()).unwrap_err();
        let e = err(json!({"ts": 1, "card": "c", "terminal": "t", "amount": 1, "colour": 2}));
        assert!(
            matches!(&e, Error::UnknownField { field, .. } if field == "colour"),
            "{e}"
        );
        let e = err(json!({"ts": 1, "card": "c", "amount": 1}));
        assert!(
            matches!(&e, Error::MissingField { field, .. } if field == "terminal"),
            "{e}"
        );
        let e = err(json!({"card": "c", "terminal": "t", "amount": 1}));
        assert!(
            matches!(&e, Error::MissingField { field, .. } if field == "ts"),
            "{e}"
        );
        let e = err(json!({"ts": 1, "card": "c", "terminal": "t", "amount": "x"}));
        assert!(
            matches!(&e, Error::InvalidField { field, .. } if field == "amount"),
            "{e}"
        );
        let e = err(json!({"ts": 1, "card": ["secret-card-1234"], "terminal": "t", "amount": 1}));
        assert!(
            matches!(&e, Error::InvalidField { field, .. } if field == "card"),
            "{e}"
        );
        assert!(!e.to_string().contains("secret-card-1234"));
        let e = err(json!({"ts": "2018-01-01", "card": "c", "terminal": "t", "amount": 1}));
        assert!(
            matches!(&e, Error::InvalidField { field, .. } if field == "ts"),
            "{e}"
        );
        let ev = Event::new(0, vec!["a".into(), "b".into()], vec![f64::NAN], None);
        let e = s.check(&ev).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidField { field, .. } if field == "amount"),
            "{e}"
        );
    }
}
