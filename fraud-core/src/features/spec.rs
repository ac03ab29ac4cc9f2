//! The feature spec: a serde (JSON) description of the event schema, the features and the state
//! options, and its validation into an execution plan.
//!
//! ```json
//! {
//!   "schema": {"timestamp": "TX_DATETIME", "time_unit": "datetime",
//!              "keys": ["CUSTOMER_ID", "TERMINAL_ID"], "numeric": ["TX_AMOUNT"], "label": "TX_FRAUD"},
//!   "lateness": {"allowed": "10m", "policy": "error", "max_ahead": "1d"},
//!   "ttl": "40d",
//!   "max_entities": 1000000,
//!   "features": [
//!     {"kind": "window", "name": "CUSTOMER_ID_NB_TX_1DAY_WINDOW", "key": "CUSTOMER_ID",
//!      "agg": "count", "window": "1d"},
//!     {"kind": "window", "name": "TERMINAL_ID_RISK_7DAY_WINDOW", "key": "TERMINAL_ID",
//!      "agg": "risk", "window": "7d", "delay": "7d"},
//!     {"kind": "calendar", "name": "TX_DURING_NIGHT", "part": "night", "night_hours": [0, 7]}
//!   ]
//! }
//! ```
//!
//! Durations are an integer number of milliseconds or a string `<integer><unit>` with unit `ms`,
//! `s`, `m`, `h`, `d` or `w` (`"30d"`, `"90s"`). Unknown keys anywhere in the spec are refused.
//! See [`FeatureKind`] for every feature kind and its options.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::event::{EventSchema, TimeUnit};

/// A duration in milliseconds; in JSON an integer (milliseconds) or a string like `"7d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct DurationMs(pub i64);

impl DurationMs {
    /// Parse `<integer><unit>` with unit `ms`, `s`, `m`, `h`, `d` or `w`, or a bare integer (ms).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        if num.is_empty() {
            return None;
        }
        let n: i64 = num.parse().ok()?;
        let scale = match unit.trim() {
            "" | "ms" => 1,
            "s" => 1000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return None,
        };
        n.checked_mul(scale).map(DurationMs)
    }
}

impl Serialize for DurationMs {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for DurationMs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = DurationMs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration: integer milliseconds or a string like \"7d\", \"12h\", \"30s\"",
                )
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<DurationMs, E> {
                Ok(DurationMs(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<DurationMs, E> {
                i64::try_from(v)
                    .map(DurationMs)
                    .map_err(|_| E::custom("duration too large"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<DurationMs, E> {
                DurationMs::parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "invalid duration {v:?}: expected <integer><unit> with unit ms, s, m, h, d or w"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// The event schema part of a spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaSpec {
    /// Name of the timestamp field.
    pub timestamp: String,
    /// How the timestamp is written: `"s"`, `"ms"` or `"datetime"`.
    pub time_unit: TimeUnit,
    /// Entity key fields (card, customer, terminal, ...).
    pub keys: Vec<String>,
    /// Numeric fields (amount, ...).
    #[serde(default)]
    pub numeric: Vec<String>,
    /// The label field (e.g. 1 = fraud), if events carry one.
    #[serde(default)]
    pub label: Option<String>,
    /// The event-id field, if events carry one: label feedback
    /// ([`super::FeatureEngine::feedback`]) finds its event by this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Fields that input records may carry and that are skipped (ids, derived columns, ...). Any
    /// other undeclared field is an error.
    #[serde(default)]
    pub ignore: Vec<String>,
}

/// What happens to an event older than the allowed lateness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatePolicy {
    /// Refuse it with [`Error::LateEvent`]; the engine state is unchanged.
    #[default]
    Error,
    /// Skip it (the state is unchanged; its output row is all NaN) and count it.
    Drop,
    /// Process it as if it had arrived on time at the watermark: its timestamp is raised to the
    /// watermark (newest event time minus the allowed lateness) for every feature. Counted.
    Process,
}

/// Event-time lateness options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lateness {
    /// How far behind the newest event time an event may be and still be placed exactly.
    #[serde(default)]
    pub allowed: DurationMs,
    /// What to do with events that are later than that.
    #[serde(default)]
    pub policy: LatePolicy,
    /// How far ahead of the newest event time an event may be (default: no limit). An event
    /// further ahead is refused with an error naming the timestamp field, before it moves the
    /// newest time: one event with a wrong clock or time unit would otherwise make every later
    /// event late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ahead: Option<DurationMs>,
}

/// Aggregations over a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agg {
    /// Number of events in the window.
    Count,
    /// Sum of `field`.
    Sum,
    /// Mean of `field` (`fill` when the window is empty).
    Mean,
    /// Standard deviation of `field` with `ddof` (default 1, like pandas); `fill` when the window
    /// has `ddof` events or fewer.
    Std,
    /// Minimum of `field` (`fill` when empty).
    Min,
    /// Maximum of `field` (`fill` when empty).
    Max,
    /// Number of distinct values of `field` (a key or numeric field).
    Distinct,
    /// Sum of the label over the window divided by the window's count; 0 when the count is 0. An
    /// event without a label counts as label 0.
    Risk,
}

/// Comparison of the current value with its key's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelativeMode {
    /// `value / mean` (`fill` when the window is empty or its mean is 0).
    Ratio,
    /// `(value - mean) / std` (`fill` when the std is 0 or undefined).
    Zscore,
}

/// What a decayed feature reports (exponentially weighted moments of its key's events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecayStat {
    /// The weighted mean of the earlier events and the current one (default).
    #[default]
    Mean,
    /// The weighted standard deviation (population form) of the earlier events and the current
    /// one.
    Std,
    /// The current value against the weighted mean and standard deviation of the earlier events
    /// only (an EWMA z-score; `fill` when there is none or their deviation is 0).
    Zscore,
}

/// Calendar parts of the event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarPart {
    /// Hour of the day, 0..=23.
    Hour,
    /// Day of the week, 0 = Monday ..= 6 = Sunday.
    Weekday,
    /// 1 on Saturday and Sunday, else 0.
    Weekend,
    /// 1 when the hour is in the `night_hours` range `[start, end)` (wrapping past midnight when
    /// start > end), else 0. Default `[0, 7]`: 00:00:00 to 06:59:59.
    Night,
}

/// One feature: its output name and how it is computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FeatureKind {
    /// An aggregate of the key's events in the window `(t - delay - window, t - delay]`.
    ///
    /// With no delay, `include_current` (default true) says whether the current event is in the
    /// window; with a delay the current event is never in it (`include_current` must be absent or
    /// false). An event's label is treated as known `delay` after the event, so a delayed `risk`
    /// never uses a label before it is known.
    Window {
        /// Output column name.
        name: String,
        /// The entity key field.
        key: String,
        /// The aggregation.
        agg: Agg,
        /// The aggregated field (sum, mean, std, min, max: numeric; distinct: key or numeric).
        #[serde(default)]
        field: Option<String>,
        /// Window length, > 0.
        window: DurationMs,
        /// Delay, >= 0 (default 0).
        #[serde(default)]
        delay: Option<DurationMs>,
        /// Whether the current event is in the window (default true without delay).
        #[serde(default)]
        include_current: Option<bool>,
        /// Delta degrees of freedom for `std` (0 or 1, default 1).
        #[serde(default)]
        ddof: Option<u8>,
        /// Output when undefined (empty window for mean/min/max, too few events for std); default NaN.
        #[serde(default)]
        fill: Option<f64>,
    },
    /// The current value compared with the key's window mean (`ratio`) or mean and std (`zscore`).
    Relative {
        /// Output column name.
        name: String,
        /// The entity key field.
        key: String,
        /// The numeric field.
        field: String,
        /// Window length, > 0.
        window: DurationMs,
        /// Delay, >= 0 (default 0).
        #[serde(default)]
        delay: Option<DurationMs>,
        /// Whether the current event is in the window (default false).
        #[serde(default)]
        include_current: Option<bool>,
        /// `ratio` or `zscore`.
        mode: RelativeMode,
        /// Delta degrees of freedom of the std for `zscore` (0 or 1, default 1).
        #[serde(default)]
        ddof: Option<u8>,
        /// Output when undefined; default NaN.
        #[serde(default)]
        fill: Option<f64>,
    },
    /// Seconds since the key's previous event (the latest earlier-processed event with a time at or
    /// before the current one).
    TimeSinceLast {
        /// Output column name.
        name: String,
        /// The entity key field.
        key: String,
        /// Gaps longer than this count as "no previous event" (required when `ttl` is set).
        #[serde(default)]
        max_gap: Option<DurationMs>,
        /// Output when there is no previous event; default NaN.
        #[serde(default)]
        fill: Option<f64>,
    },
    /// Exponentially decayed average of `field` over the key's events up to and including the
    /// current one: `sum(w_i x_i) / sum(w_i)` with `w_i = 2^(-(t - t_i) / half_life)`.
    Decayed {
        /// Output column name.
        name: String,
        /// The entity key field.
        key: String,
        /// The numeric field.
        field: String,
        /// Half-life, > 0.
        half_life: DurationMs,
        /// Only the events in `(t - window, t]` (required when the spec has a `ttl`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window: Option<DurationMs>,
        /// `mean` (default), `std` or `zscore` (these two without a `window`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stat: Option<DecayStat>,
        /// Value when the statistic is undefined (no earlier event, or a zero deviation for a
        /// z-score); default NaN.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill: Option<f64>,
    },
    /// A calendar part of the event time, in UTC shifted by `utc_offset_minutes`.
    Calendar {
        /// Output column name.
        name: String,
        /// Which part.
        part: CalendarPart,
        /// Fixed offset from UTC in minutes (-1080..=1080, default 0).
        #[serde(default)]
        utc_offset_minutes: Option<i32>,
        /// Night range `[start, end)` in hours (0..=24), only for `night`; default `[0, 7]`.
        #[serde(default)]
        night_hours: Option<[u8; 2]>,
    },
}

impl FeatureKind {
    /// The output column name.
    pub fn name(&self) -> &str {
        match self {
            FeatureKind::Window { name, .. }
            | FeatureKind::Relative { name, .. }
            | FeatureKind::TimeSinceLast { name, .. }
            | FeatureKind::Decayed { name, .. }
            | FeatureKind::Calendar { name, .. } => name,
        }
    }
}

/// A complete feature spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// The event schema.
    pub schema: SchemaSpec,
    /// The features, in output column order.
    pub features: Vec<FeatureKind>,
    /// Event-time lateness options (default: no lateness, `error` policy).
    #[serde(default)]
    pub lateness: Lateness,
    /// Per-entity time to live: an entity whose newest event is older than the newest event time
    /// minus `ttl` is evicted. Must be at least the allowed lateness plus the longest window plus
    /// delay (and `max_gap`), so that eviction never changes a feature.
    #[serde(default)]
    pub ttl: Option<DurationMs>,
    /// Maximum number of entities kept per key field; the least recently used one is evicted
    /// beyond it (counted in [`crate::features::EngineStats`]).
    #[serde(default)]
    pub max_entities: Option<usize>,
}

impl FeatureSpec {
    /// Parse a JSON spec; syntax and shape errors carry serde's line and column.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(json_error)
    }

    /// Read a JSON spec from a file.
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::InvalidInput(format!("cannot read spec file {}: {e}", path.display()))
        })?;
        Self::from_json(&text)
    }

    /// Convert a JSON value into a spec (shape errors have line and column 0).
    pub fn from_value(value: serde_json::Value) -> Result<Self> {
        serde_json::from_value(value).map_err(json_error)
    }

    /// The spec as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a spec always serialises to JSON")
    }
}

fn json_error(e: serde_json::Error) -> Error {
    let (line, column) = (e.line(), e.column());
    let mut message = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    if message.ends_with(&suffix) {
        message.truncate(message.len() - suffix.len());
    }
    Error::SpecJson {
        line,
        column,
        message,
    }
}

// ---------------------------------------------------------------------------------------------
// The compiled plan.

/// Where a buffered column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColSource {
    /// A numeric field (f64 bits).
    Numeric(usize),
    /// The label (f64 bits; a missing label is 0.0).
    Label,
    /// Low 64 bits of the keyed hash of a key field.
    KeyHashLo(usize),
    /// High 64 bits of the keyed hash of a key field.
    KeyHashHi(usize),
    /// Decayed sum snapshot of decay slot i.
    DecayS,
    /// Decayed weight snapshot.
    DecayW,
    /// Decayed sum-of-squares snapshot.
    DecayQ,
    /// Keyed hash of the event id (0 when the event has none).
    Id,
}

/// A distinct-count slot: one column (numeric bits) or two (128-bit key hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DistinctSlot {
    pub col: usize,
    pub wide: bool,
}

/// A window `(T - delay - window, T - delay]` over one key's events and what it aggregates.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupPlan {
    pub window: i64,
    pub delay: i64,
    /// Columns with running sums (and sums of squares).
    pub sums: Vec<usize>,
    pub mins: Vec<usize>,
    pub maxs: Vec<usize>,
    pub distinct: Vec<DistinctSlot>,
    /// Whether the window must be moved before the current event is recorded (a delay, or a
    /// feature that excludes the current event); otherwise it moves once, after.
    pub pre: bool,
    /// No min, max or distinct aggregates (only counts and sums).
    pub plain: bool,
    /// Whether a std or z-score reads the group's sums (so sums of squares are kept).
    pub squares: bool,
}

/// One decayed average: value column, snapshot columns, half-life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DecayPlan {
    pub value_col: usize,
    pub s_col: usize,
    pub w_col: usize,
    pub q_col: usize,
    pub half_life: f64,
}

/// A windowed read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum WinRead {
    Count,
    Sum(usize),
    Mean(usize),
    Std(usize, u8),
    Min(usize),
    Max(usize),
    Distinct(usize),
    Risk(usize),
    Ratio {
        sum: usize,
        numeric: usize,
    },
    Zscore {
        sum: usize,
        numeric: usize,
        ddof: u8,
    },
}

/// A feature computed from one key's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum KeyOp {
    Window {
        group: usize,
        read: WinRead,
        include_current: bool,
    },
    TimeSince {
        max_gap: Option<i64>,
    },
    Decayed {
        slot: usize,
        /// The `(window, 0)` group whose head window bounds a windowed average.
        group: Option<usize>,
        stat: DecayStat,
    },
}

/// A feature output slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct KeyFeature {
    pub out: usize,
    pub op: KeyOp,
    pub fill: f64,
}

/// Everything computed per value of one key field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyPlan {
    /// Index of the key field in [`crate::event::Event::keys`].
    pub key_field: usize,
    pub cols: Vec<ColSource>,
    pub groups: Vec<GroupPlan>,
    pub decays: Vec<DecayPlan>,
    pub features: Vec<KeyFeature>,
    /// Longest window + delay over the groups (0 without groups).
    pub span: i64,
    /// Longest `max_gap` of the time-since features.
    pub max_gap: i64,
    /// The label column, if a feature reads labels.
    pub label_col: Option<usize>,
    /// The event-id hash column (kept when labels are read and the schema has an id field, so
    /// that feedback can find the event).
    pub id_col: Option<usize>,
}

/// A calendar feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CalendarPlan {
    pub out: usize,
    pub part: CalendarPart,
    pub offset_ms: i64,
    pub night: (u8, u8),
}

/// A validated spec, ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub schema: EventSchema,
    pub names: Vec<String>,
    pub lateness: i64,
    pub policy: LatePolicy,
    pub max_ahead: Option<i64>,
    pub ttl: Option<i64>,
    pub max_entities: Option<usize>,
    pub keys: Vec<KeyPlan>,
    pub calendar: Vec<CalendarPlan>,
}

fn spec_err(location: impl Into<String>, message: impl Into<String>) -> Error {
    Error::InvalidSpec {
        location: location.into(),
        message: message.into(),
    }
}

impl KeyPlan {
    /// A plan for key field `key_field` with no features yet.
    pub(crate) fn new(key_field: usize) -> Self {
        KeyPlan {
            key_field,
            cols: vec![],
            groups: vec![],
            decays: vec![],
            features: vec![],
            span: 0,
            max_gap: 0,
            label_col: None,
            id_col: None,
        }
    }

    fn col(&mut self, src: ColSource) -> usize {
        if let Some(i) = self.cols.iter().position(|c| *c == src) {
            return i;
        }
        self.cols.push(src);
        self.cols.len() - 1
    }

    fn group(&mut self, window: i64, delay: i64) -> usize {
        if let Some(i) = self
            .groups
            .iter()
            .position(|g| g.window == window && g.delay == delay)
        {
            return i;
        }
        self.groups.push(GroupPlan {
            window,
            delay,
            sums: vec![],
            mins: vec![],
            maxs: vec![],
            distinct: vec![],
            pre: delay > 0,
            plain: true,
            squares: false,
        });
        self.span = self.span.max(window + delay);
        self.groups.len() - 1
    }
}

fn slot_of<T: PartialEq + Copy>(v: &mut Vec<T>, x: T) -> usize {
    if let Some(i) = v.iter().position(|y| *y == x) {
        return i;
    }
    v.push(x);
    v.len() - 1
}

/// Validate a spec and build its plan.
pub(crate) fn compile(spec: &FeatureSpec) -> Result<Plan> {
    let s = &spec.schema;
    let mut schema = EventSchema::new(
        &s.timestamp,
        s.time_unit,
        &s.keys,
        &s.numeric,
        s.label.as_deref(),
        &s.ignore,
    )?;
    if let Some(id) = &s.id {
        schema = schema.with_id_field(id)?;
    }
    if spec.features.is_empty() {
        return Err(spec_err("features", "the spec has no features"));
    }
    let lateness = spec.lateness.allowed.0;
    if lateness < 0 {
        return Err(spec_err(
            "lateness.allowed",
            format!("{lateness} ms is negative; use 0 for no lateness"),
        ));
    }
    if let Some(DurationMs(ahead)) = spec.lateness.max_ahead
        && ahead <= 0
    {
        return Err(spec_err(
            "lateness.max_ahead",
            format!("{ahead} ms must be positive (leave it out for no limit)"),
        ));
    }
    let key_index: HashMap<&str, usize> = s
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let num_index: HashMap<&str, usize> = s
        .numeric
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let mut keys: Vec<KeyPlan> = vec![];
    let mut calendar = vec![];
    let mut names: Vec<String> = vec![];
    let mut has_decay = false;
    let mut time_since_without_gap = false;

    for (out, f) in spec.features.iter().enumerate() {
        let name = f.name();
        let loc = format!("feature `{name}`");
        if name.is_empty() {
            return Err(spec_err(
                format!("feature #{out}"),
                "the output name is empty",
            ));
        }
        if names.iter().any(|n| n == name) {
            return Err(spec_err(loc, "duplicate output name"));
        }
        names.push(name.to_string());
        let key_plan = |keys: &mut Vec<KeyPlan>, key: &str| -> Result<usize> {
            let k = *key_index.get(key).ok_or_else(|| {
                spec_err(
                    &loc,
                    format!(
                        "key `{key}` is not a key field of the schema (keys: {:?})",
                        s.keys
                    ),
                )
            })?;
            if let Some(i) = keys.iter().position(|p| p.key_field == k) {
                return Ok(i);
            }
            keys.push(KeyPlan::new(k));
            Ok(keys.len() - 1)
        };
        let numeric = |field: &str| -> Result<usize> {
            num_index.get(field).copied().ok_or_else(|| {
                spec_err(
                    &loc,
                    format!(
                        "field `{field}` is not a numeric field of the schema (numeric: {:?})",
                        s.numeric
                    ),
                )
            })
        };
        let window_delay = |window: DurationMs, delay: Option<DurationMs>| -> Result<(i64, i64)> {
            if window.0 <= 0 {
                return Err(spec_err(
                    &loc,
                    format!("window {} ms must be > 0", window.0),
                ));
            }
            let d = delay.unwrap_or_default().0;
            if d < 0 {
                return Err(spec_err(&loc, format!("delay {d} ms must be >= 0")));
            }
            window
                .0
                .checked_add(d)
                .and_then(|x| x.checked_add(lateness))
                .ok_or_else(|| spec_err(&loc, "window + delay + lateness overflows"))?;
            Ok((window.0, d))
        };
        let ddof_of = |ddof: Option<u8>| -> Result<u8> {
            match ddof.unwrap_or(1) {
                d @ (0 | 1) => Ok(d),
                d => Err(spec_err(&loc, format!("ddof {d} must be 0 or 1"))),
            }
        };
        match f {
            FeatureKind::Window {
                key,
                agg,
                field,
                window,
                delay,
                include_current,
                ddof,
                fill,
                ..
            } => {
                let (w, d) = window_delay(*window, *delay)?;
                let include = match (d, include_current) {
                    (0, inc) => inc.unwrap_or(true),
                    (_, Some(true)) => {
                        return Err(spec_err(
                            &loc,
                            "include_current cannot be true with a delay: the window (t - delay - window, t - delay] never holds the current event",
                        ));
                    }
                    _ => false,
                };
                if ddof.is_some() && *agg != Agg::Std {
                    return Err(spec_err(&loc, "ddof applies only to agg `std`"));
                }
                if fill.is_some() && !matches!(agg, Agg::Mean | Agg::Std | Agg::Min | Agg::Max) {
                    return Err(spec_err(
                        &loc,
                        "fill applies only to mean, std, min and max (the others are always defined)",
                    ));
                }
                let needs_field = !matches!(agg, Agg::Count | Agg::Risk);
                let field = match (needs_field, field) {
                    (true, Some(f)) => Some(f.as_str()),
                    (true, None) => {
                        return Err(spec_err(&loc, format!("agg `{agg:?}` needs a `field`")));
                    }
                    (false, Some(_)) => {
                        return Err(spec_err(&loc, format!("agg `{agg:?}` takes no `field`")));
                    }
                    (false, None) => None,
                };
                let kp = key_plan(&mut keys, key)?;
                let read = match agg {
                    Agg::Count => WinRead::Count,
                    Agg::Risk => {
                        if s.label.is_none() {
                            return Err(spec_err(
                                &loc,
                                "agg `risk` needs a label field in the schema",
                            ));
                        }
                        let p = &mut keys[kp];
                        let c = p.col(ColSource::Label);
                        let g = p.group(w, d);
                        WinRead::Risk(slot_of(&mut p.groups[g].sums, c))
                    }
                    Agg::Distinct => {
                        let fname = field.unwrap_or_default();
                        let p = &mut keys[kp];
                        let slot = if let Some(&ki) = key_index.get(fname) {
                            let lo = p.col(ColSource::KeyHashLo(ki));
                            p.col(ColSource::KeyHashHi(ki));
                            DistinctSlot {
                                col: lo,
                                wide: true,
                            }
                        } else if let Some(&ni) = num_index.get(fname) {
                            DistinctSlot {
                                col: p.col(ColSource::Numeric(ni)),
                                wide: false,
                            }
                        } else {
                            return Err(spec_err(
                                &loc,
                                format!(
                                    "field `{fname}` is neither a key nor a numeric field of the schema"
                                ),
                            ));
                        };
                        let g = p.group(w, d);
                        WinRead::Distinct(slot_of(&mut p.groups[g].distinct, slot))
                    }
                    _ => {
                        let ni = numeric(field.unwrap_or_default())?;
                        let p = &mut keys[kp];
                        let c = p.col(ColSource::Numeric(ni));
                        let g = p.group(w, d);
                        let gp = &mut p.groups[g];
                        match agg {
                            Agg::Sum => WinRead::Sum(slot_of(&mut gp.sums, c)),
                            Agg::Mean => WinRead::Mean(slot_of(&mut gp.sums, c)),
                            Agg::Std => WinRead::Std(slot_of(&mut gp.sums, c), ddof_of(*ddof)?),
                            Agg::Min => WinRead::Min(slot_of(&mut gp.mins, c)),
                            Agg::Max => WinRead::Max(slot_of(&mut gp.maxs, c)),
                            _ => unreachable!("count, risk and distinct are handled above"),
                        }
                    }
                };
                let p = &mut keys[kp];
                let group = p.group(w, d);
                p.features.push(KeyFeature {
                    out,
                    op: KeyOp::Window {
                        group,
                        read,
                        include_current: include,
                    },
                    fill: fill.unwrap_or(f64::NAN),
                });
            }
            FeatureKind::Relative {
                key,
                field,
                window,
                delay,
                include_current,
                mode,
                ddof,
                fill,
                ..
            } => {
                let (w, d) = window_delay(*window, *delay)?;
                let include = match (d, include_current) {
                    (0, inc) => inc.unwrap_or(false),
                    (_, Some(true)) => {
                        return Err(spec_err(
                            &loc,
                            "include_current cannot be true with a delay",
                        ));
                    }
                    _ => false,
                };
                if ddof.is_some() && *mode != RelativeMode::Zscore {
                    return Err(spec_err(&loc, "ddof applies only to mode `zscore`"));
                }
                let ni = numeric(field)?;
                let kp = key_plan(&mut keys, key)?;
                let p = &mut keys[kp];
                let c = p.col(ColSource::Numeric(ni));
                let g = p.group(w, d);
                let sum = slot_of(&mut p.groups[g].sums, c);
                let read = match mode {
                    RelativeMode::Ratio => WinRead::Ratio { sum, numeric: ni },
                    RelativeMode::Zscore => WinRead::Zscore {
                        sum,
                        numeric: ni,
                        ddof: ddof_of(*ddof)?,
                    },
                };
                p.features.push(KeyFeature {
                    out,
                    op: KeyOp::Window {
                        group: g,
                        read,
                        include_current: include,
                    },
                    fill: fill.unwrap_or(f64::NAN),
                });
            }
            FeatureKind::TimeSinceLast {
                key, max_gap, fill, ..
            } => {
                if let Some(g) = max_gap
                    && g.0 <= 0
                {
                    return Err(spec_err(&loc, format!("max_gap {} ms must be > 0", g.0)));
                }
                if max_gap.is_none() {
                    time_since_without_gap = true;
                }
                let kp = key_plan(&mut keys, key)?;
                let p = &mut keys[kp];
                p.max_gap = p.max_gap.max(max_gap.map_or(0, |g| g.0));
                p.features.push(KeyFeature {
                    out,
                    op: KeyOp::TimeSince {
                        max_gap: max_gap.map(|g| g.0),
                    },
                    fill: fill.unwrap_or(f64::NAN),
                });
            }
            FeatureKind::Decayed {
                key,
                field,
                half_life,
                window,
                stat,
                fill,
                ..
            } => {
                if half_life.0 <= 0 {
                    return Err(spec_err(
                        &loc,
                        format!("half_life {} ms must be > 0", half_life.0),
                    ));
                }
                if let Some(w) = window
                    && w.0 <= 0
                {
                    return Err(spec_err(&loc, format!("window {} ms must be > 0", w.0)));
                }
                if window.is_some() && stat.is_some_and(|s| s != DecayStat::Mean) {
                    return Err(spec_err(
                        &loc,
                        "a windowed decayed feature supports stat `mean` only (the windowed moments of std and zscore cancel numerically); for a windowed z-score use `relative` with mode `zscore`",
                    ));
                }
                has_decay |= window.is_none();
                let ni = numeric(field)?;
                let kp = key_plan(&mut keys, key)?;
                let p = &mut keys[kp];
                let group = window.map(|w| p.group(w.0, 0));
                let value_col = p.col(ColSource::Numeric(ni));
                let plan = DecayPlan {
                    value_col,
                    s_col: 0,
                    w_col: 0,
                    q_col: 0,
                    half_life: half_life.0 as f64,
                };
                let slot = if let Some(i) = p
                    .decays
                    .iter()
                    .position(|x| x.value_col == value_col && x.half_life == plan.half_life)
                {
                    i
                } else {
                    // Snapshot columns are pushed unconditionally: each decay slot owns two.
                    p.cols.push(ColSource::DecayS);
                    let s_col = p.cols.len() - 1;
                    p.cols.push(ColSource::DecayW);
                    let w_col = p.cols.len() - 1;
                    p.cols.push(ColSource::DecayQ);
                    let q_col = p.cols.len() - 1;
                    p.decays.push(DecayPlan {
                        s_col,
                        w_col,
                        q_col,
                        ..plan
                    });
                    p.decays.len() - 1
                };
                p.features.push(KeyFeature {
                    out,
                    op: KeyOp::Decayed {
                        slot,
                        group,
                        stat: stat.unwrap_or_default(),
                    },
                    fill: fill.unwrap_or(f64::NAN),
                });
            }
            FeatureKind::Calendar {
                part,
                utc_offset_minutes,
                night_hours,
                ..
            } => {
                let off = utc_offset_minutes.unwrap_or(0);
                if !(-1080..=1080).contains(&off) {
                    return Err(spec_err(
                        &loc,
                        format!("utc_offset_minutes {off} must be within -1080..=1080"),
                    ));
                }
                if night_hours.is_some() && *part != CalendarPart::Night {
                    return Err(spec_err(&loc, "night_hours applies only to part `night`"));
                }
                let [a, b] = night_hours.unwrap_or([0, 7]);
                if a > 24 || b > 24 || a % 24 == b % 24 {
                    return Err(spec_err(
                        &loc,
                        format!("night_hours [{a}, {b}] must be two different hours within 0..=24"),
                    ));
                }
                calendar.push(CalendarPlan {
                    out,
                    part: *part,
                    offset_ms: off as i64 * 60_000,
                    night: (a % 24, b % 24),
                });
            }
        }
    }

    if let Some(ttl) = spec.ttl {
        let ttl = ttl.0;
        if ttl <= 0 {
            return Err(spec_err("ttl", format!("{ttl} ms must be > 0")));
        }
        if has_decay {
            return Err(spec_err(
                "ttl",
                "a decayed feature without a `window` depends on the whole history of a key, so evicting a key would change it; give every decayed feature a `window` or remove `ttl`",
            ));
        }
        if time_since_without_gap {
            return Err(spec_err(
                "ttl",
                "with a ttl every time_since_last feature needs a `max_gap` (at most ttl - lateness), so that eviction never changes it",
            ));
        }
        for p in &keys {
            let need = lateness.saturating_add(p.span.max(p.max_gap));
            if ttl < need {
                return Err(spec_err(
                    "ttl",
                    format!(
                        "{ttl} ms is shorter than the allowed lateness plus the longest window + delay (or max_gap) of key `{}` = {need} ms; eviction would change features",
                        s.keys[p.key_field]
                    ),
                ));
            }
        }
    }
    if spec.max_entities == Some(0) {
        return Err(spec_err("max_entities", "must be at least 1"));
    }
    for kp in &mut keys {
        kp.label_col = kp.cols.iter().position(|c| *c == ColSource::Label);
        if kp.label_col.is_some() && s.id.is_some() {
            kp.id_col = Some(kp.col(ColSource::Id));
        }
        for g in &mut kp.groups {
            g.plain = g.mins.is_empty() && g.maxs.is_empty() && g.distinct.is_empty();
        }
        for f in &kp.features {
            if let KeyOp::Window {
                group,
                include_current,
                read,
            } = f.op
            {
                let g = &mut kp.groups[group];
                g.pre |= !include_current;
                g.squares |= matches!(read, WinRead::Std(..) | WinRead::Zscore { .. });
            }
        }
    }
    Ok(Plan {
        schema,
        names,
        lateness,
        policy: spec.lateness.policy,
        max_ahead: spec.lateness.max_ahead.map(|d| d.0),
        ttl: spec.ttl.map(|t| t.0),
        max_entities: spec.max_entities,
        keys,
        calendar,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(features: &str) -> String {
        format!(
            r#"{{"schema": {{"timestamp": "ts", "time_unit": "ms", "keys": ["card", "shop"],
                 "numeric": ["amount"], "label": "fraud"}},
                 "features": [{features}]}}"#
        )
    }

    fn compile_str(text: &str) -> Result<Plan> {
        compile(&FeatureSpec::from_json(text)?)
    }

    #[test]
    fn durations() {
        assert_eq!(DurationMs::parse("7d"), Some(DurationMs(7 * 86_400_000)));
        assert_eq!(DurationMs::parse("90s"), Some(DurationMs(90_000)));
        assert_eq!(DurationMs::parse("15"), Some(DurationMs(15)));
        assert_eq!(DurationMs::parse("2w"), Some(DurationMs(14 * 86_400_000)));
        assert_eq!(DurationMs::parse("d"), None);
        assert_eq!(DurationMs::parse("3 years"), None);
    }

    #[test]
    fn groups_are_shared() {
        let p = compile_str(&base(
            r#"{"kind": "window", "name": "a", "key": "card", "agg": "count", "window": "1d"},
               {"kind": "window", "name": "b", "key": "card", "agg": "mean", "field": "amount", "window": "1d"},
               {"kind": "window", "name": "c", "key": "card", "agg": "sum", "field": "amount", "window": "1d", "include_current": false}"#,
        ))
        .unwrap();
        assert_eq!(p.keys.len(), 1);
        assert_eq!(p.keys[0].groups.len(), 1);
        assert_eq!(p.keys[0].groups[0].sums, vec![0]);
        assert_eq!(p.names, ["a", "b", "c"]);
    }

    #[test]
    fn malformed_json_has_line_and_column() {
        let e = FeatureSpec::from_json("{\n  \"features\": [],\n  oops\n}").unwrap_err();
        assert!(
            matches!(
                e,
                Error::SpecJson {
                    line: 3,
                    column: 3,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("line 3, column 3"), "{e}");
        let e = FeatureSpec::from_json(&base(
            r#"{"kind": "window", "name": "a", "key": "card", "agg": "count", "windw": "1d"}"#,
        ))
        .unwrap_err();
        assert!(matches!(e, Error::SpecJson { .. }), "{e}");
        assert!(e.to_string().contains("windw"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_feature() {
        let cases = [
            (
                r#"{"kind": "window", "name": "f1", "key": "device", "agg": "count", "window": "1d"}"#,
                "device",
            ),
            (
                r#"{"kind": "window", "name": "f2", "key": "card", "agg": "sum", "field": "colour", "window": "1d"}"#,
                "colour",
            ),
            (
                r#"{"kind": "window", "name": "f3", "key": "card", "agg": "count", "window": 0}"#,
                "window",
            ),
            (
                r#"{"kind": "window", "name": "f4", "key": "card", "agg": "risk", "window": "1d", "delay": "7d", "include_current": true}"#,
                "include_current",
            ),
            (
                r#"{"kind": "window", "name": "f5", "key": "card", "agg": "mean", "window": "1d"}"#,
                "field",
            ),
            (
                r#"{"kind": "calendar", "name": "f6", "part": "night", "night_hours": [3, 3]}"#,
                "night_hours",
            ),
            (
                r#"{"kind": "decayed", "name": "f7", "key": "card", "field": "amount", "half_life": "0s"}"#,
                "half_life",
            ),
        ];
        for (i, (f, word)) in cases.iter().enumerate() {
            let e = compile_str(&base(f)).unwrap_err();
            let msg = e.to_string();
            let name = format!("f{}", i + 1);
            assert!(matches!(e, Error::InvalidSpec { .. }), "{msg}");
            assert!(msg.contains(&name) && msg.contains(word), "{msg}");
        }
        let e = compile_str(&base(
            r#"{"kind": "calendar", "name": "x", "part": "hour"},
               {"kind": "calendar", "name": "x", "part": "hour"}"#,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("duplicate"), "{e}");
    }

    #[test]
    fn ttl_must_cover_windows() {
        let f = r#"{"kind": "window", "name": "a", "key": "card", "agg": "count", "window": "1d", "delay": "7d"}"#;
        let mut spec = FeatureSpec::from_json(&base(f)).unwrap();
        spec.ttl = Some(DurationMs::parse("7d").unwrap());
        let e = compile(&spec).unwrap_err();
        assert!(e.to_string().contains("ttl"), "{e}");
        spec.ttl = Some(DurationMs::parse("8d").unwrap());
        compile(&spec).unwrap();
        spec.lateness.allowed = DurationMs(1);
        assert!(compile(&spec).is_err());
    }
}
