//! A naive, independent reference implementation of the feature engine's semantics, for tests
//! and fuzzing only (compiled for this crate's tests and with the non-default cargo feature
//! `reference`; hidden from the documentation, no stability promise).
//!
//! Every feature of every event is recomputed from scratch by scanning all earlier processed
//! events (O(n^2)), following the rules of the [module documentation](super) literally: windows
//! `(t - delay - window, t - delay]` over the events of the same key, label feedback, the lateness
//! policies, `ttl`, the `max_entities` LRU cap and `forget`. Two entry points:
//!
//! - [`naive`]: the feature matrix of a stream of events processed in order (every event admitted;
//!   no eviction), as the engine's `transform` would give it;
//! - [`NaiveEngine`]: the same computation incrementally, with `update`, `feedback` and `forget`,
//!   the late-event policies and entity eviction, so a stateful test (the fuzz target
//!   `engine_stateful` in `fraud-core/fuzz`) can compare the engine with it operation by
//!   operation.
//!
//! Values are compared with [`close`] (relative 1e-9) or [`loose`] (1e-6, for moments-based
//! deviations); both treat NaN as equal to NaN.

use std::collections::HashSet;

use super::engine::MAX_ABS_TIME_MS;
use super::spec::{
    Agg, CalendarPart, DecayStat, FeatureKind, FeatureSpec, LatePolicy, RelativeMode,
};
use crate::event::Event;

/// One processed event as the reference keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct RefEvent {
    /// Processing time (the watermark for an event clamped by the `process` policy).
    pub time_ms: i64,
    /// Key values, schema order.
    pub keys: Vec<String>,
    /// Numeric values, schema order.
    pub values: Vec<f64>,
    /// The event id, if any.
    pub id: Option<String>,
    /// The label as seen through each key field (feedback relabels per entity); missing = 0.
    pub labels: Vec<f64>,
    /// Whether the event is still part of its entity's state, per key field (false once the
    /// entity was forgotten or evicted).
    pub visible: Vec<bool>,
}

impl RefEvent {
    fn new(ev: &Event, time_ms: i64) -> Self {
        let n = ev.keys.len();
        RefEvent {
            time_ms,
            keys: ev.keys.clone(),
            values: ev.values.clone(),
            id: ev.id.clone(),
            labels: vec![ev.label.unwrap_or(0.0) + 0.0; n],
            visible: vec![true; n],
        }
    }
}

/// Position of key field `name` in the spec's schema.
pub fn key_idx(spec: &FeatureSpec, name: &str) -> usize {
    spec.schema
        .keys
        .iter()
        .position(|k| k == name)
        .expect("a key field of the schema")
}

/// Position of numeric field `name` in the spec's schema.
pub fn num_idx(spec: &FeatureSpec, name: &str) -> usize {
    spec.schema
        .numeric
        .iter()
        .position(|k| k == name)
        .expect("a numeric field of the schema")
}

/// Indices of the events of `evs` before `i` with the same key (field `k`) and time in `(lo, hi]`.
pub fn earlier(evs: &[Event], i: usize, k: usize, lo: i64, hi: i64) -> Vec<usize> {
    (0..i)
        .filter(|&j| {
            evs[j].keys[k] == evs[i].keys[k] && evs[j].time_ms > lo && evs[j].time_ms <= hi
        })
        .collect()
}

/// Indices of the members of event `i`'s window of length `w` and delay `d` (key field `k`).
pub fn window_members(
    evs: &[Event],
    i: usize,
    k: usize,
    w: i64,
    d: i64,
    include: bool,
) -> Vec<usize> {
    let t = evs[i].time_ms;
    let mut m = earlier(evs, i, k, t - d - w, t - d);
    if d == 0 && include {
        m.push(i);
    }
    m
}

/// Earlier visible events of `cur`'s key (field `k`) with time in `(lo, hi]`.
fn members<'a>(
    hist: &'a [RefEvent],
    cur: &RefEvent,
    k: usize,
    lo: i64,
    hi: i64,
) -> Vec<&'a RefEvent> {
    hist.iter()
        .filter(|e| e.visible[k] && e.keys[k] == cur.keys[k] && e.time_ms > lo && e.time_ms <= hi)
        .collect()
}

fn window<'a>(
    hist: &'a [RefEvent],
    cur: &'a RefEvent,
    k: usize,
    w: i64,
    d: i64,
    include: bool,
) -> Vec<&'a RefEvent> {
    let t = cur.time_ms;
    let mut m = members(
        hist,
        cur,
        k,
        t.saturating_sub(d).saturating_sub(w),
        t.saturating_sub(d),
    );
    if d == 0 && include {
        m.push(cur);
    }
    m
}

/// Standard deviation with `ddof` by the two-pass formula; `None` with `ddof` values or fewer.
pub fn naive_std(xs: &[f64], ddof: usize) -> Option<f64> {
    if xs.len() <= ddof {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let m2: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    Some((m2 / (xs.len() - ddof) as f64).sqrt())
}

/// `(hour, weekday)` (0 = Monday) of epoch milliseconds `t` shifted by `offset_min`: the civil
/// date by walking 400-year cycles, years and months (independent of the engine's formula).
pub fn naive_calendar(t: i64, offset_min: i64) -> (i64, i64) {
    let local = t + offset_min * 60_000;
    let days = local.div_euclid(86_400_000);
    let hour = local.rem_euclid(86_400_000) / 3_600_000;
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    // 400 Gregorian years have exactly 146,097 days.
    let cycles = days.div_euclid(146_097);
    let (mut y, mut rem) = (1970i64 + 400 * cycles, days.rem_euclid(146_097));
    while rem >= if leap(y) { 366 } else { 365 } {
        rem -= if leap(y) { 366 } else { 365 };
        y += 1;
    }
    let mdays = [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut m = 0;
    while rem >= mdays[m] {
        rem -= mdays[m];
        m += 1;
    }
    let (mut yy, mm, dd) = (y, m as i64 + 1, rem + 1);
    // Sakamoto's weekday (0 = Sunday), converted to 0 = Monday.
    let tt = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    if mm < 3 {
        yy -= 1;
    }
    let sun0 = (yy + yy.div_euclid(4) - yy.div_euclid(100)
        + yy.div_euclid(400)
        + tt[(mm - 1) as usize]
        + dd)
        .rem_euclid(7);
    (hour, (sun0 + 6) % 7)
}

/// The features of `cur` given the events processed before it (`hist`).
pub fn row(spec: &FeatureSpec, hist: &[RefEvent], cur: &RefEvent) -> Vec<f64> {
    let mut out = Vec::with_capacity(spec.features.len());
    let t = cur.time_ms;
    for f in &spec.features {
        let v = match f {
            FeatureKind::Window {
                key,
                agg,
                field,
                window: w,
                delay,
                include_current,
                ddof,
                fill,
                ..
            } => {
                let k = key_idx(spec, key);
                let d = delay.unwrap_or_default().0;
                let m = window(hist, cur, k, w.0, d, include_current.unwrap_or(d == 0));
                let fill = fill.unwrap_or(f64::NAN);
                let xs = |name: &Option<String>| -> Vec<f64> {
                    let c = num_idx(spec, name.as_deref().expect("a field"));
                    m.iter().map(|e| e.values[c]).collect()
                };
                match agg {
                    Agg::Count => m.len() as f64,
                    Agg::Sum => xs(field).iter().sum(),
                    Agg::Mean => {
                        let x = xs(field);
                        if x.is_empty() {
                            fill
                        } else {
                            x.iter().sum::<f64>() / x.len() as f64
                        }
                    }
                    Agg::Std => naive_std(&xs(field), ddof.unwrap_or(1) as usize).unwrap_or(fill),
                    Agg::Min => xs(field).into_iter().reduce(f64::min).unwrap_or(fill),
                    Agg::Max => xs(field).into_iter().reduce(f64::max).unwrap_or(fill),
                    Agg::Distinct => {
                        let name = field.as_deref().expect("a field");
                        let set: HashSet<String> = m
                            .iter()
                            .map(|e| match spec.schema.keys.iter().position(|k| k == name) {
                                Some(kk) => format!("k:{}", e.keys[kk]),
                                // -0.0 and 0.0 are one value.
                                None => format!("n:{}", e.values[num_idx(spec, name)] + 0.0),
                            })
                            .collect();
                        set.len() as f64
                    }
                    Agg::Risk => {
                        if m.is_empty() {
                            0.0
                        } else {
                            m.iter().map(|e| e.labels[k]).sum::<f64>() / m.len() as f64
                        }
                    }
                }
            }
            FeatureKind::Relative {
                key,
                field,
                window: w,
                delay,
                include_current,
                mode,
                ddof,
                fill,
                ..
            } => {
                let k = key_idx(spec, key);
                let d = delay.unwrap_or_default().0;
                let m = window(hist, cur, k, w.0, d, include_current.unwrap_or(false));
                let c = num_idx(spec, field);
                let xs: Vec<f64> = m.iter().map(|e| e.values[c]).collect();
                let fill = fill.unwrap_or(f64::NAN);
                let x = cur.values[c];
                if xs.is_empty() {
                    fill
                } else {
                    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
                    match mode {
                        RelativeMode::Ratio => {
                            if mean == 0.0 {
                                fill
                            } else {
                                x / mean
                            }
                        }
                        RelativeMode::Zscore => match naive_std(&xs, ddof.unwrap_or(1) as usize) {
                            Some(sd) if sd > 0.0 => (x - mean) / sd,
                            _ => fill,
                        },
                    }
                }
            }
            FeatureKind::TimeSinceLast {
                key, max_gap, fill, ..
            } => {
                let k = key_idx(spec, key);
                let prev = members(hist, cur, k, i64::MIN, t)
                    .into_iter()
                    .map(|e| e.time_ms)
                    .max();
                match prev {
                    Some(p) if max_gap.is_none_or(|g| t - p <= g.0) => (t - p) as f64 / 1000.0,
                    _ => fill.unwrap_or(f64::NAN),
                }
            }
            FeatureKind::Decayed {
                key,
                field,
                half_life,
                window: w,
                stat,
                fill,
                ..
            } => {
                let k = key_idx(spec, key);
                let c = num_idx(spec, field);
                let lo = w.map_or(i64::MIN, |w| t.saturating_sub(w.0));
                let mut m = members(hist, cur, k, lo, t);
                let stat = stat.unwrap_or_default();
                if stat != DecayStat::Zscore {
                    m.push(cur);
                }
                // The weights' common factor cancels in every statistic: measure them from the
                // newest member so that they do not all underflow (a z-score excludes the
                // current event, and its earlier events may all be far older than half-lives).
                let t_ref = m.iter().map(|e| e.time_ms).max().unwrap_or(t);
                let (mut s, mut wsum, mut q) = (0.0, 0.0, 0.0);
                for e in m {
                    let wt = (-((t_ref - e.time_ms) as f64) / half_life.0 as f64).exp2();
                    let x = e.values[c];
                    s += wt * x;
                    wsum += wt;
                    q += wt * x * x;
                }
                let mean = s / wsum;
                let var = q / wsum - mean * mean;
                let sd = if var > 1e-10 * (q / wsum) {
                    var.sqrt()
                } else {
                    0.0
                };
                match stat {
                    DecayStat::Mean => mean,
                    DecayStat::Std => sd,
                    DecayStat::Zscore if wsum > 0.0 && sd > 0.0 => (cur.values[c] - mean) / sd,
                    DecayStat::Zscore => fill.unwrap_or(f64::NAN),
                }
            }
            FeatureKind::Calendar {
                part,
                utc_offset_minutes,
                night_hours,
                ..
            } => {
                let (hour, wd) = naive_calendar(t, utc_offset_minutes.unwrap_or(0) as i64);
                let [a, b] = night_hours.unwrap_or([0, 7]);
                let (a, b) = (a as i64 % 24, b as i64 % 24);
                let flag = |x: bool| if x { 1.0 } else { 0.0 };
                match part {
                    CalendarPart::Hour => hour as f64,
                    CalendarPart::Weekday => wd as f64,
                    CalendarPart::Weekend => flag(wd >= 5),
                    CalendarPart::Night => flag(if a < b {
                        hour >= a && hour < b
                    } else {
                        hour >= a || hour < b
                    }),
                }
            }
        };
        out.push(v);
    }
    out
}

/// The row-major feature matrix of `evs` processed in order (all admitted, nothing evicted).
pub fn naive(spec: &FeatureSpec, evs: &[Event]) -> Vec<f64> {
    let mut hist: Vec<RefEvent> = Vec::with_capacity(evs.len());
    let mut out = vec![];
    for ev in evs {
        let cur = RefEvent::new(ev, ev.time_ms);
        out.extend(row(spec, &hist, &cur));
        hist.push(cur);
    }
    out
}

/// Equal to a relative 1e-9 (NaN equals NaN).
pub fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Equal to a relative 1e-6 (NaN equals NaN): for moments-based deviations, which lose digits
/// when the deviation is small against the values.
pub fn loose(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

/// The reference's counters (the engine's [`super::EngineStats`] without the feedback split, which
/// depends on what the engine still retains).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NaiveStats {
    /// Events processed (placed or clamped included, dropped excluded).
    pub events: u64,
    /// Late events placed within the allowed lateness.
    pub late_placed: u64,
    /// Late events dropped.
    pub late_dropped: u64,
    /// Late events clamped to the watermark.
    pub late_processed: u64,
    /// TTL evictions (an expired entity reset on access, or swept from the LRU end).
    pub ttl_evictions: u64,
    /// LRU evictions under `max_entities`.
    pub lru_evictions: u64,
    /// Entities erased by `forget`.
    pub forgotten: u64,
    /// Feedback calls accepted.
    pub feedback: u64,
}

/// Entities of one key field: most recently used first, with each one's newest processing time.
#[derive(Debug, Clone, Default)]
struct NaiveStore {
    order: Vec<(String, i64)>,
}

impl NaiveStore {
    fn pos(&self, key: &str) -> Option<usize> {
        self.order.iter().position(|(k, _)| k == key)
    }
}

/// Why the reference refused an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The event time is outside `+-MAX_ABS_TIME_MS`.
    OutOfRange,
    /// Older than the watermark under the `error` policy.
    Late,
    /// Feedback on a schema without `id` and `label` fields, or a non-finite label.
    Feedback,
}

/// The engine's semantics, recomputed naively, operation by operation.
#[derive(Debug, Clone)]
pub struct NaiveEngine {
    spec: FeatureSpec,
    hist: Vec<RefEvent>,
    newest: Option<i64>,
    /// `(key field, store)` for every key field that a feature reads, in first-use order.
    stores: Vec<(usize, NaiveStore)>,
    /// Key fields with a label-reading (`risk`) feature.
    risk_fields: Vec<usize>,
    /// Counters.
    pub stats: NaiveStats,
}

impl NaiveEngine {
    /// A reference for `spec` (assumed valid: build a `FeatureEngine` from it first).
    pub fn new(spec: FeatureSpec) -> Self {
        let mut fields: Vec<usize> = vec![];
        let mut risk_fields = vec![];
        for f in &spec.features {
            let key = match f {
                FeatureKind::Window { key, agg, .. } => {
                    if *agg == Agg::Risk {
                        risk_fields.push(key_idx(&spec, key));
                    }
                    key
                }
                FeatureKind::Relative { key, .. }
                | FeatureKind::TimeSinceLast { key, .. }
                | FeatureKind::Decayed { key, .. } => key,
                FeatureKind::Calendar { .. } => continue,
            };
            let k = key_idx(&spec, key);
            if !fields.contains(&k) {
                fields.push(k);
            }
        }
        NaiveEngine {
            stores: fields
                .into_iter()
                .map(|k| (k, NaiveStore::default()))
                .collect(),
            spec,
            hist: vec![],
            newest: None,
            risk_fields,
            stats: NaiveStats::default(),
        }
    }

    /// Number of entities held over all key fields.
    pub fn entity_count(&self) -> usize {
        self.stores.iter().map(|(_, s)| s.order.len()).sum()
    }

    /// The newest event time processed.
    pub fn newest_time_ms(&self) -> Option<i64> {
        self.newest
    }

    fn hide(&mut self, k: usize, key: &str) {
        for e in &mut self.hist {
            if e.keys[k] == key {
                e.visible[k] = false;
            }
        }
    }

    /// Process one event: its feature row (all NaN when dropped), or why it was refused (then
    /// nothing changed).
    pub fn update(&mut self, ev: &Event) -> Result<Vec<f64>, Refused> {
        let n = self.spec.features.len();
        let mut t = ev.time_ms;
        if t.unsigned_abs() > MAX_ABS_TIME_MS as u64 {
            return Err(Refused::OutOfRange);
        }
        if let Some(g) = self.newest
            && t < g
        {
            let watermark = g.saturating_sub(self.spec.lateness.allowed.0);
            if t < watermark {
                match self.spec.lateness.policy {
                    LatePolicy::Error => return Err(Refused::Late),
                    LatePolicy::Drop => {
                        self.stats.late_dropped += 1;
                        return Ok(vec![f64::NAN; n]);
                    }
                    LatePolicy::Process => {
                        t = watermark;
                        self.stats.late_processed += 1;
                    }
                }
            } else {
                self.stats.late_placed += 1;
            }
        }
        let newest = self.newest.map_or(t, |g| g.max(t));
        self.newest = Some(newest);
        let limit = self.spec.ttl.map(|ttl| newest.saturating_sub(ttl.0));
        let cap = self.spec.max_entities;
        let track = limit.is_some() || cap.is_some();
        for s in 0..self.stores.len() {
            let k = self.stores[s].0;
            let key = ev.keys[k].clone();
            match self.stores[s].1.pos(&key) {
                Some(p) => {
                    if let Some(limit) = limit
                        && self.stores[s].1.order[p].1 < limit
                    {
                        self.hide(k, &key);
                        self.stores[s].1.order[p].1 = i64::MIN;
                        self.stats.ttl_evictions += 1;
                    }
                    if track {
                        let e = self.stores[s].1.order.remove(p);
                        self.stores[s].1.order.insert(0, e);
                    }
                }
                None => {
                    if let Some(max) = cap
                        && self.stores[s].1.order.len() >= max
                        && let Some((lru, _)) = self.stores[s].1.order.pop()
                    {
                        self.hide(k, &lru);
                        self.stats.lru_evictions += 1;
                    }
                    self.stores[s].1.order.insert(0, (key.clone(), i64::MIN));
                }
            }
            let p = self.stores[s].1.pos(&key).expect("just inserted");
            let newest_e = &mut self.stores[s].1.order[p].1;
            *newest_e = (*newest_e).max(t);
            if let Some(limit) = limit {
                while let Some((lru, tn)) = self.stores[s].1.order.last().cloned()
                    && tn < limit
                {
                    self.stores[s].1.order.pop();
                    self.hide(k, &lru);
                    self.stats.ttl_evictions += 1;
                }
            }
        }
        let cur = RefEvent::new(ev, t);
        let out = row(&self.spec, &self.hist, &cur);
        self.hist.push(cur);
        self.stats.events += 1;
        Ok(out)
    }

    /// Apply label feedback; returns whether an event that a `risk` window can still see has
    /// this id and keys (the engine may have let go of older ones, so it can only find fewer).
    pub fn feedback(&mut self, id: &str, keys: &[String], label: f64) -> Result<bool, Refused> {
        if self.spec.schema.id.is_none() || self.spec.schema.label.is_none() || !label.is_finite() {
            return Err(Refused::Feedback);
        }
        let mut found = false;
        for e in &mut self.hist {
            if e.id.as_deref() != Some(id) {
                continue;
            }
            for (k, key) in keys.iter().enumerate() {
                if e.visible[k] && e.keys[k] == *key {
                    e.labels[k] = label + 0.0;
                    found |= self.risk_fields.contains(&k);
                }
            }
        }
        self.stats.feedback += 1;
        Ok(found)
    }

    /// Erase the entities with key `key` in every key field; returns how many there were.
    pub fn forget(&mut self, key: &str) -> usize {
        let mut n = 0;
        for s in 0..self.stores.len() {
            if let Some(p) = self.stores[s].1.pos(key) {
                self.stores[s].1.order.remove(p);
                let k = self.stores[s].0;
                self.hide(k, key);
                n += 1;
            }
        }
        self.stats.forgotten += n as u64;
        n
    }
}
