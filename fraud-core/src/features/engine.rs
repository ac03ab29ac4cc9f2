//! The feature engine: per-event `update`, batch `transform` (the same code), state management and
//! snapshots. See the [module documentation](super) for the semantics.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::spec::{
    CalendarPart, CalendarPlan, DecayStat, FeatureSpec, KeyOp, KeyPlan, LatePolicy, Plan, compile,
};
use super::state::{Entity, KeyRef, Store};
use super::windows::{HeadView, ScanView, eval};
use crate::error::{ArtifactError, Error, Result};
use crate::event::{Event, EventColumns, EventSchema, Feedback};
use crate::model::{self, ArtifactKind};

/// Largest accepted |timestamp| in epoch milliseconds (the JavaScript `Date` range, ±100M days).
pub const MAX_ABS_TIME_MS: i64 = 8_640_000_000_000_000;

const KEY_CONTEXT: &str = "fraud-core 2026-11 feature engine entity keys v1";
const DISTINCT_CONTEXT: &str = "fraud-core 2026-11 feature engine distinct values v1";
const MIN_SECRET_LEN: usize = 16;

/// Counters of what the engine did; part of the snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStats {
    /// Events processed (including late ones placed or clamped; excluding dropped ones).
    pub events: u64,
    /// Events older than the newest event time but within the allowed lateness (placed exactly).
    pub late_placed: u64,
    /// Events beyond the allowed lateness dropped under the `drop` policy.
    pub late_dropped: u64,
    /// Events beyond the allowed lateness processed at the watermark under the `process` policy.
    pub late_processed: u64,
    /// Entities evicted because their newest event was older than the TTL.
    pub ttl_evictions: u64,
    /// Entities evicted because a key field reached `max_entities` (least recently used first).
    pub lru_evictions: u64,
    /// Entities erased by [`FeatureEngine::forget`].
    pub forgotten: u64,
    /// Feedback labels applied to a retained event ([`FeatureEngine::feedback`]).
    pub feedback_applied: u64,
    /// Feedback whose event was not (or no longer) in any entity's retained events.
    pub feedback_unmatched: u64,
}

/// What happened to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Processed; its time was at or after the newest event time seen before.
    OnTime,
    /// Processed; older than the newest event time but within the allowed lateness, placed exactly.
    Late,
    /// Beyond the allowed lateness and processed at the watermark (`process` policy).
    Clamped,
    /// Beyond the allowed lateness and skipped (`drop` policy); the output row is all NaN.
    Dropped,
}

/// The streaming feature engine. See the [module documentation](super).
#[derive(Debug, Clone)]
pub struct FeatureEngine {
    spec: FeatureSpec,
    pub(super) plan: Plan,
    pub(super) stores: Vec<Store>,
    pub(super) newest: Option<i64>,
    pub(super) stats: EngineStats,
    pub(super) key_hash: Option<[u8; 32]>,
    pub(super) distinct_hash: [u8; 32],
    row: Vec<u64>,
}

#[derive(Serialize)]
struct SnapshotRef<'a> {
    spec_json: String,
    hashed_keys: bool,
    verifier: Option<[u8; 16]>,
    newest: Option<i64>,
    stats: EngineStats,
    stores: &'a [Store],
}

#[derive(Deserialize)]
struct Snapshot {
    spec_json: String,
    hashed_keys: bool,
    verifier: Option<[u8; 16]>,
    newest: Option<i64>,
    stats: EngineStats,
    stores: Vec<Store>,
}

#[inline]
pub(super) fn h128(key: &[u8; 32], data: &[u8]) -> u128 {
    let h = blake3::keyed_hash(key, data);
    let mut b = [0u8; 16];
    b.copy_from_slice(&h.as_bytes()[..16]);
    u128::from_le_bytes(b)
}

fn verifier(key: &[u8; 32]) -> [u8; 16] {
    h128(key, b"fraud-core key-secret verifier").to_le_bytes()
}

fn derive_keys(secret: Option<&[u8]>) -> Result<(Option<[u8; 32]>, [u8; 32])> {
    match secret {
        None => Ok((None, blake3::derive_key(DISTINCT_CONTEXT, b"public"))),
        Some(s) if s.len() < MIN_SECRET_LEN => Err(Error::KeySecret(format!(
            "the secret has {} bytes; use at least {MIN_SECRET_LEN} random bytes",
            s.len()
        ))),
        Some(s) => Ok((
            Some(blake3::derive_key(KEY_CONTEXT, s)),
            blake3::derive_key(DISTINCT_CONTEXT, s),
        )),
    }
}

/// The 64-bit tag of an event id stored for feedback matching; never 0 (0 = no id). With key
/// hashing it is a keyed BLAKE3 hash (no raw id in a snapshot); otherwise a fast FNV-1a hash.
#[inline]
pub(super) fn id_hash(
    key_hash: Option<&[u8; 32]>,
    distinct_key: &[u8; 32],
    id: Option<&str>,
) -> u64 {
    let Some(id) = id else { return 0 };
    let h = match key_hash {
        Some(_) => h128(distinct_key, id.as_bytes()) as u64,
        None => id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        }),
    };
    h | 1
}

/// Decayed sums `(sum w x, sum w, sum w x^2)` at buffer entry `i` (weights relative to its
/// time) over the key's events up to `i`; for a window, the contribution of entry `before` (the
/// newest entry at or before the window's lower bound, if older than `i`) and everything before
/// it is subtracted.
#[inline]
fn decayed_sums(
    buf: &super::windows::Buffer,
    dp: &super::spec::DecayPlan,
    i: usize,
    before: Option<usize>,
) -> (f64, f64, f64) {
    let (mut s, mut w, mut q) = (buf.f(i, dp.s_col), buf.f(i, dp.w_col), buf.f(i, dp.q_col));
    if let Some(k) = before.filter(|&k| k < i) {
        let f = decay(buf.time(i).abs_diff(buf.time(k)), dp.half_life);
        s -= buf.f(k, dp.s_col) * f;
        w -= buf.f(k, dp.w_col) * f;
        q -= buf.f(k, dp.q_col) * f;
    }
    (s, w, q)
}

/// A decayed feature of the event at buffer entry `cur`; `prev` is the newest
/// earlier-processed entry at or before it (for the z-score), `before` the window's excluded
/// boundary entry.
#[inline]
fn decayed_value(
    buf: &super::windows::Buffer,
    dp: &super::spec::DecayPlan,
    stat: DecayStat,
    cur: usize,
    prev: Option<usize>,
    before: Option<usize>,
    fill: f64,
) -> f64 {
    let x = buf.f(cur, dp.value_col);
    // Population deviation from the moments; a variance below 1e-10 of the mean square is
    // rounding (the moments' difference cancels), so it counts as 0.
    let std = |(s, w, q): (f64, f64, f64)| {
        let (m, ms) = (s / w, q / w);
        let var = ms - m * m;
        if var > 1e-10 * ms { var.sqrt() } else { 0.0 }
    };
    match stat {
        DecayStat::Mean => {
            let (s, w, _) = decayed_sums(buf, dp, cur, before);
            s / w
        }
        DecayStat::Std => std(decayed_sums(buf, dp, cur, before)),
        DecayStat::Zscore => match prev {
            Some(p) if before.is_none_or(|k| k < p) => {
                let sums = decayed_sums(buf, dp, p, before);
                let sd = std(sums);
                if sd > 0.0 && sums.1 > 0.0 {
                    (x - sums.0 / sums.1) / sd
                } else {
                    fill
                }
            }
            _ => fill,
        },
    }
}

/// Decay factor `2^(-dt / half_life)`.
#[inline]
fn decay(dt: u64, half_life: f64) -> f64 {
    libm::exp2(-(dt as f64) / half_life)
}

#[inline]
fn time_since(prev: Option<i64>, t: i64, max_gap: Option<i64>, fill: f64) -> f64 {
    match prev {
        Some(p) => {
            let gap = t.abs_diff(p);
            if max_gap.is_some_and(|m| gap > m as u64) {
                fill
            } else {
                gap as f64 / 1000.0
            }
        }
        None => fill,
    }
}

pub(super) fn calendar(cp: &CalendarPlan, t: i64) -> f64 {
    let local = t + cp.offset_ms;
    let day = local.div_euclid(86_400_000);
    let hour = local.rem_euclid(86_400_000) / 3_600_000;
    let weekday = (day + 3).rem_euclid(7); // 1970-01-01 was a Thursday; Monday = 0.
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    match cp.part {
        CalendarPart::Hour => hour as f64,
        CalendarPart::Weekday => weekday as f64,
        CalendarPart::Weekend => b(weekday >= 5),
        CalendarPart::Night => {
            let (a, e) = (cp.night.0 as i64, cp.night.1 as i64);
            b(if a < e {
                a <= hour && hour < e
            } else {
                hour >= a || hour < e
            })
        }
    }
}

/// Process one event for one entity: compute the key's features into `out`, then record the event.
pub(super) fn process(
    kp: &KeyPlan,
    e: &mut Entity,
    t: i64,
    lateness: i64,
    row: &mut [u64],
    values: &[f64],
    out: &mut [f64],
) {
    let prev = e.newest();
    if prev.is_none_or(|p| t >= p) {
        for (g, gp) in e.groups.iter_mut().zip(&kp.groups) {
            if gp.pre {
                g.advance(gp, &e.buf, t);
            }
        }
        for f in &kp.features {
            match f.op {
                KeyOp::Window {
                    group,
                    read,
                    include_current: false,
                } => out[f.out] = eval(read, &HeadView(&e.groups[group]), f.fill, values),
                KeyOp::TimeSince { max_gap } => out[f.out] = time_since(prev, t, max_gap, f.fill),
                _ => {}
            }
        }
        if !kp.decays.is_empty() {
            let last = e.buf.len().checked_sub(1);
            for dp in &kp.decays {
                let x = f64::from_bits(row[dp.value_col]);
                let (s, w, q) = match (prev, last) {
                    (Some(p), Some(i)) => {
                        let f = decay(t.abs_diff(p), dp.half_life);
                        (
                            e.buf.f(i, dp.s_col) * f + x,
                            e.buf.f(i, dp.w_col) * f + 1.0,
                            e.buf.f(i, dp.q_col) * f + x * x,
                        )
                    }
                    _ => (x, 1.0, x * x),
                };
                row[dp.s_col] = s.to_bits();
                row[dp.w_col] = w.to_bits();
                row[dp.q_col] = q.to_bits();
            }
        }
        e.buf.push(t, row);
        for (g, gp) in e.groups.iter_mut().zip(&kp.groups) {
            if gp.delay == 0 {
                g.advance(gp, &e.buf, t);
            }
        }
        let last = e.buf.len() - 1;
        for f in &kp.features {
            match f.op {
                KeyOp::Window {
                    group,
                    read,
                    include_current: true,
                } => out[f.out] = eval(read, &HeadView(&e.groups[group]), f.fill, values),
                KeyOp::Decayed { slot, group, stat } => {
                    let dp = &kp.decays[slot];
                    let before = group.and_then(|g| e.groups[g].lo().checked_sub(1));
                    out[f.out] =
                        decayed_value(&e.buf, dp, stat, last, last.checked_sub(1), before, f.fill);
                }
                _ => {}
            }
        }
        // Keep every event a later (possibly late) event can still see, plus the newest one at or
        // before the cutoff (the "previous event" of a late event).
        let cutoff = t.saturating_sub(lateness).saturating_sub(kp.span);
        let mut n = 0;
        while n + 1 < e.buf.len() && e.buf.time(n + 1) <= cutoff {
            n += 1;
        }
        if n > 0 {
            e.buf.drain_front(n);
            for g in &mut e.groups {
                g.shift_down(n);
            }
        }
    } else {
        let newest = prev.unwrap_or(t);
        let pos = e.buf.after(t);
        let before = pos.checked_sub(1);
        for dp in &kp.decays {
            let x = f64::from_bits(row[dp.value_col]);
            let (s, w, q) = match before {
                Some(i) => {
                    let f = decay(t.abs_diff(e.buf.time(i)), dp.half_life);
                    (
                        e.buf.f(i, dp.s_col) * f + x,
                        e.buf.f(i, dp.w_col) * f + 1.0,
                        e.buf.f(i, dp.q_col) * f + x * x,
                    )
                }
                None => (x, 1.0, x * x),
            };
            row[dp.s_col] = s.to_bits();
            row[dp.w_col] = w.to_bits();
            row[dp.q_col] = q.to_bits();
        }
        e.buf.insert(pos, t, row);
        for dp in &kp.decays {
            let x = f64::from_bits(row[dp.value_col]);
            for j in pos + 1..e.buf.len() {
                let f = decay(e.buf.time(j).abs_diff(t), dp.half_life);
                let s = e.buf.f(j, dp.s_col) + x * f;
                let w = e.buf.f(j, dp.w_col) + f;
                let q = e.buf.f(j, dp.q_col) + x * x * f;
                e.buf.set_word(j, dp.s_col, s.to_bits());
                e.buf.set_word(j, dp.w_col, w.to_bits());
                e.buf.set_word(j, dp.q_col, q.to_bits());
            }
        }
        for (g, gp) in e.groups.iter_mut().zip(&kp.groups) {
            g.late_insert(gp, &e.buf, pos, t, newest);
        }
        for f in &kp.features {
            out[f.out] = match f.op {
                KeyOp::Window {
                    group,
                    read,
                    include_current,
                } => {
                    let gp = &kp.groups[group];
                    let (a, b) = if gp.delay == 0 {
                        let a = e.buf.after(t.saturating_sub(gp.window));
                        (a, if include_current { pos + 1 } else { pos })
                    } else {
                        let upper = t.saturating_sub(gp.delay);
                        (
                            e.buf.after(upper.saturating_sub(gp.window)),
                            e.buf.after(upper),
                        )
                    };
                    let view = ScanView {
                        buf: &e.buf,
                        gp,
                        a,
                        b,
                    };
                    eval(read, &view, f.fill, values)
                }
                KeyOp::TimeSince { max_gap } => {
                    time_since(before.map(|i| e.buf.time(i)), t, max_gap, f.fill)
                }
                KeyOp::Decayed { slot, group, stat } => {
                    let dp = &kp.decays[slot];
                    let before = group.and_then(|g| {
                        e.buf
                            .after(t.saturating_sub(kp.groups[g].window))
                            .checked_sub(1)
                    });
                    decayed_value(&e.buf, dp, stat, pos, pos.checked_sub(1), before, f.fill)
                }
            };
        }
    }
}

impl FeatureEngine {
    /// An engine for `spec`, keeping entity keys as given.
    pub fn new(spec: FeatureSpec) -> Result<Self> {
        Self::build(spec, None)
    }

    /// An engine for `spec` that keeps entity keys only as keyed hashes (BLAKE3 keyed mode, 128-bit
    /// output, key derived from `secret`). The secret (at least 16 bytes) is never stored;
    /// [`FeatureEngine::restore_with_secret`] needs the same one.
    pub fn with_key_secret(spec: FeatureSpec, secret: &[u8]) -> Result<Self> {
        Self::build(spec, Some(secret))
    }

    /// Parse a JSON spec and build an engine (raw keys).
    pub fn from_json(spec: &str) -> Result<Self> {
        Self::new(FeatureSpec::from_json(spec)?)
    }

    fn build(spec: FeatureSpec, secret: Option<&[u8]>) -> Result<Self> {
        let plan = compile(&spec)?;
        let (key_hash, distinct_hash) = derive_keys(secret)?;
        let stride = plan.keys.iter().map(|k| k.cols.len()).max().unwrap_or(0);
        Ok(FeatureEngine {
            stores: plan.keys.iter().map(|_| Store::default()).collect(),
            plan,
            spec,
            newest: None,
            stats: EngineStats::default(),
            key_hash,
            distinct_hash,
            row: vec![0; stride],
        })
    }

    /// The spec this engine runs.
    pub fn spec(&self) -> &FeatureSpec {
        &self.spec
    }

    /// The compiled event schema (use it to build events from JSON objects).
    pub fn schema(&self) -> &EventSchema {
        &self.plan.schema
    }

    /// Output column names, in output order.
    pub fn feature_names(&self) -> &[String] {
        &self.plan.names
    }

    /// Number of output columns.
    pub fn n_features(&self) -> usize {
        self.plan.names.len()
    }

    /// Counters (events, late events, evictions, erasures).
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Number of entities held, over all key fields.
    pub fn entity_count(&self) -> usize {
        self.stores.iter().map(Store::len).sum()
    }

    /// Approximate heap bytes of the per-entity state.
    pub fn state_bytes(&self) -> usize {
        self.stores.iter().map(Store::approx_bytes).sum()
    }

    /// Whether entity keys are kept only as keyed hashes.
    pub fn hashes_keys(&self) -> bool {
        self.key_hash.is_some()
    }

    /// The newest event time processed (epoch ms), if any.
    pub fn newest_time_ms(&self) -> Option<i64> {
        self.newest
    }

    /// Process one event and return its feature vector (all NaN if it was dropped as too late).
    pub fn update(&mut self, event: &Event) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.n_features()];
        self.update_into(event, &mut out)?;
        Ok(out)
    }

    /// Convert a JSON object with [`EventSchema::event_from_json`] and process it.
    pub fn update_json(&mut self, event: &Map<String, Value>) -> Result<Vec<f64>> {
        let ev = self.plan.schema.event_from_json(event)?;
        self.update(&ev)
    }

    /// Process one event, writing its features into `out` (length [`FeatureEngine::n_features`]).
    ///
    /// Nothing is allocated once the entity exists and its buffers have grown to their working
    /// size. On error the engine state is unchanged.
    pub fn update_into(&mut self, event: &Event, out: &mut [f64]) -> Result<Outcome> {
        self.plan.schema.check(event)?;
        if out.len() != self.plan.names.len() {
            return Err(Error::ShapeMismatch(format!(
                "output buffer has {} slots, the spec has {} features",
                out.len(),
                self.plan.names.len()
            )));
        }
        let (t, outcome) = self.admit(event.time_ms)?;
        if outcome == Outcome::Dropped {
            out.fill(f64::NAN);
            return Ok(outcome);
        }
        let newest = self.newest.unwrap_or(t);
        let ttl_limit = self.plan.ttl.map(|ttl| newest.saturating_sub(ttl));
        // Recency order is only needed for TTL sweeps and the LRU cap.
        let track_recency = ttl_limit.is_some() || self.plan.max_entities.is_some();
        for (kp, store) in self.plan.keys.iter().zip(self.stores.iter_mut()) {
            let key = event.keys[kp.key_field].as_str();
            let kref = match &self.key_hash {
                Some(k) => KeyRef::Hashed(h128(k, key.as_bytes())),
                None => KeyRef::Raw(key),
            };
            let idx = match store.find(kref) {
                Some(i) => {
                    if let Some(limit) = ttl_limit
                        && store.newest(i) < limit
                    {
                        *store.entity_mut(i) = Entity::new(kp);
                        store.reset_newest(i);
                        self.stats.ttl_evictions += 1;
                    }
                    if track_recency {
                        store.touch(i);
                    }
                    i
                }
                None => {
                    if let Some(max) = self.plan.max_entities
                        && store.len() >= max
                        && let Some(lru) = store.lru()
                    {
                        store.remove(lru);
                        self.stats.lru_evictions += 1;
                    }
                    store.insert(kref, Entity::new(kp))
                }
            };
            let row = &mut self.row[..kp.cols.len()];
            fill_row(kp, event, self.key_hash.as_ref(), &self.distinct_hash, row);
            process(
                kp,
                store.entity_mut(idx),
                t,
                self.plan.lateness,
                row,
                &event.values,
                out,
            );
            store.saw(idx, t);
            if let Some(limit) = ttl_limit {
                while let Some(lru) = store.lru()
                    && store.newest(lru) < limit
                {
                    store.remove(lru);
                    self.stats.ttl_evictions += 1;
                }
            }
        }
        for cp in &self.plan.calendar {
            out[cp.out] = calendar(cp, t);
        }
        self.stats.events += 1;
        Ok(outcome)
    }

    /// The event-time logic of one event at time `t`: range check, watermark and late policy.
    /// Updates the newest time and the late counters; returns the time to process the event at
    /// (the watermark for a clamped event) and its outcome. On error nothing changed.
    pub(super) fn admit(&mut self, t: i64) -> Result<(i64, Outcome)> {
        if t.unsigned_abs() > MAX_ABS_TIME_MS as u64 {
            return Err(Error::InvalidField {
                field: self.plan.schema.timestamp_field().to_string(),
                reason: format!(
                    "{t} ms is outside the supported range of +-{MAX_ABS_TIME_MS} ms around 1970"
                ),
            });
        }
        if let (Some(max), Some(g)) = (self.plan.max_ahead, self.newest)
            && t > g.saturating_add(max)
        {
            return Err(Error::InvalidField {
                field: self.plan.schema.timestamp_field().to_string(),
                reason: format!(
                    "{t} ms is {} ms ahead of the newest event time, more than lateness.max_ahead \
                     ({max} ms): check the event's clock and time unit",
                    t - g
                ),
            });
        }
        let mut t = t;
        let mut outcome = Outcome::OnTime;
        if let Some(g) = self.newest
            && t < g
        {
            let watermark = g.saturating_sub(self.plan.lateness);
            if t < watermark {
                match self.plan.policy {
                    LatePolicy::Error => {
                        return Err(Error::LateEvent {
                            behind_ms: watermark - t,
                            allowed_ms: self.plan.lateness,
                        });
                    }
                    LatePolicy::Drop => {
                        self.stats.late_dropped += 1;
                        return Ok((t, Outcome::Dropped));
                    }
                    LatePolicy::Process => {
                        t = watermark;
                        outcome = Outcome::Clamped;
                        self.stats.late_processed += 1;
                    }
                }
            } else {
                outcome = Outcome::Late;
                self.stats.late_placed += 1;
            }
        }
        self.newest = Some(self.newest.map_or(t, |g| g.max(t)));
        Ok((t, outcome))
    }

    /// Process a batch of events in input order, by the same code as [`FeatureEngine::update`], and
    /// return the row-major feature matrix (`events.len()` rows of [`FeatureEngine::n_features`]).
    ///
    /// The engine continues from its current state and keeps the batch's state afterwards. On an
    /// error the rows before the failing one have been applied; the error names the row.
    pub fn transform(&mut self, events: &[Event]) -> Result<Vec<f64>> {
        let n = self.n_features();
        let mut out = vec![0.0; events.len() * n];
        for (row, (ev, o)) in events
            .iter()
            .zip(out.chunks_exact_mut(n.max(1)))
            .enumerate()
        {
            self.update_into(ev, o).map_err(|e| Error::InRow {
                row,
                source: Box::new(e),
            })?;
        }
        Ok(out)
    }

    /// [`FeatureEngine::transform`] for a batch given as columns (e.g. from a data frame; keys
    /// dictionary-encoded). Returns the row-major feature matrix: exactly the rows, final state and
    /// counters that [`FeatureEngine::update_into`] on each row in input order gives (the same
    /// per-entity code runs, entity by entity so that each entity's state stays in cache; see
    /// `features/batch.rs`). On an error the rows before the failing one have been applied; the
    /// error names the row.
    pub fn transform_columns(&mut self, cols: &EventColumns<'_>) -> Result<Vec<f64>> {
        let mut out = vec![0.0; cols.len() * self.n_features()];
        self.transform_columns_into(cols, &mut out)?;
        Ok(out)
    }

    /// [`FeatureEngine::transform_columns`] into a caller's row-major buffer of exactly
    /// `cols.len() * n_features()` values (e.g. a numpy array, or a buffer reused across
    /// batches), which it overwrites. On an error the rows before the failing one have been
    /// applied and written; the rest of `out` is left as it was.
    ///
    /// ```
    /// use fraud_core::event::{EventColumns, KeyColumn, TimeColumn};
    /// use fraud_core::features::FeatureEngine;
    ///
    /// let mut engine = FeatureEngine::from_json(r#"{
    ///   "schema": {"timestamp": "ts", "time_unit": "s", "keys": ["card"], "numeric": ["amount"]},
    ///   "features": [{"kind": "window", "name": "n_1h", "key": "card", "agg": "count",
    ///                 "window": "1h", "include_current": true}]}"#)?;
    /// let (ts, codes, amounts) = ([0i64, 60, 7200], [0i64, 0, 0], [5.0, 7.0, 1.0]);
    /// let cards = ["c1".to_string()];
    /// let cols = EventColumns {
    ///     time: TimeColumn::Epoch(&ts),
    ///     keys: vec![KeyColumn { codes: &codes, values: &cards }],
    ///     numeric: vec![&amounts],
    ///     label: None,
    ///     id: None,
    /// };
    /// let mut out = vec![f64::NAN; 3];
    /// engine.transform_columns_into(&cols, &mut out)?;
    /// assert_eq!(out, [1.0, 2.0, 1.0]);
    /// assert!(engine.transform_columns_into(&cols, &mut [0.0; 2]).is_err());
    /// # Ok::<(), fraud_core::Error>(())
    /// ```
    pub fn transform_columns_into(
        &mut self,
        cols: &EventColumns<'_>,
        out: &mut [f64],
    ) -> Result<()> {
        self.plan.schema.check_columns(cols)?;
        let want = cols.len() * self.n_features();
        if out.len() != want {
            return Err(Error::ShapeMismatch(format!(
                "the output buffer holds {} values; {} rows x {} features need {want}",
                out.len(),
                cols.len(),
                self.n_features()
            )));
        }
        self.transform_columns_by_entity(cols, out)
    }

    /// [`FeatureEngine::transform`] as an `events.len() x n_features` array.
    pub fn transform_array(&mut self, events: &[Event]) -> Result<ndarray::Array2<f64>> {
        let n = self.n_features();
        let data = self.transform(events)?;
        Ok(ndarray::Array2::from_shape_vec((events.len(), n), data)
            .expect("transform returns rows x features values"))
    }

    /// Apply label feedback: the label of the earlier event with id `fb.id` (the schema's `id`
    /// field) became known. Every event processed afterwards sees the new label in its
    /// label-based (`risk`) windows; nothing processed before changes, so a feature never uses
    /// a label before it was known. The event is looked up among the retained events of the
    /// entities named by `fb.keys` (events older than the allowed lateness plus the longest window
    /// and delay are no longer needed by any feature and are not retained). Returns whether the
    /// event was found (else [`EngineStats::feedback_unmatched`] counts it).
    ///
    /// ```
    /// use fraud_core::features::FeatureEngine;
    /// use serde_json::json;
    ///
    /// let mut engine = FeatureEngine::from_json(r#"{
    ///   "schema": {"timestamp": "ts", "time_unit": "s", "keys": ["shop"], "label": "fraud",
    ///              "id": "tx"},
    ///   "features": [{"kind": "window", "name": "risk_1d", "key": "shop", "agg": "risk",
    ///                 "window": "1d", "delay": "1h"}]}"#)?;
    /// let ev = |tx: u32, ts: i64| json!({"tx": tx, "ts": ts, "shop": "s1"});
    /// engine.update_json(ev(1, 0).as_object().unwrap())?;
    /// // A chargeback for transaction 1 arrives...
    /// let fb = json!({"tx": 1, "shop": "s1", "fraud": 1});
    /// assert!(engine.feedback_json(fb.as_object().unwrap())?);
    /// // ...and the next event two hours later sees it.
    /// assert_eq!(engine.update_json(ev(2, 7200).as_object().unwrap())?, vec![1.0]);
    /// # Ok::<(), fraud_core::Error>(())
    /// ```
    pub fn feedback(&mut self, fb: &Feedback) -> Result<bool> {
        let schema = &self.plan.schema;
        if schema.id_field().is_none() || schema.label_field().is_none() {
            return Err(Error::InvalidInput(
                "label feedback needs `id` and `label` fields in the schema".into(),
            ));
        }
        if fb.keys.len() != schema.key_fields().len() {
            return Err(Error::ShapeMismatch(format!(
                "feedback has {} key values, the schema declares {} key fields",
                fb.keys.len(),
                schema.key_fields().len()
            )));
        }
        if !fb.label.is_finite() {
            return Err(Error::InvalidField {
                field: schema.label_field().unwrap_or("label").to_string(),
                reason: format!("{} is not finite", fb.label),
            });
        }
        let tag = id_hash(
            self.key_hash.as_ref(),
            &self.distinct_hash,
            Some(fb.id.as_str()),
        );
        let label = fb.label + 0.0;
        let mut found = false;
        for (kp, store) in self.plan.keys.iter().zip(self.stores.iter_mut()) {
            let (Some(lc), Some(ic)) = (kp.label_col, kp.id_col) else {
                continue;
            };
            let key = fb.keys[kp.key_field].as_str();
            let kref = match &self.key_hash {
                Some(k) => KeyRef::Hashed(h128(k, key.as_bytes())),
                None => KeyRef::Raw(key),
            };
            if let Some(i) = store.find(kref) {
                found |= store.entity_mut(i).relabel(kp, ic, lc, tag, label);
            }
        }
        if found {
            self.stats.feedback_applied += 1;
        } else {
            self.stats.feedback_unmatched += 1;
        }
        Ok(found)
    }

    /// Read a [`Feedback`] from a JSON object (the schema's field names) and apply it.
    pub fn feedback_json(&mut self, fb: &Map<String, Value>) -> Result<bool> {
        let fb = self.plan.schema.feedback_from_json(fb)?;
        self.feedback(&fb)
    }

    /// Erase every entity whose key equals `key`, in every key field. Returns how many were erased.
    pub fn forget(&mut self, key: &str) -> usize {
        let kref = match &self.key_hash {
            Some(k) => KeyRef::Hashed(h128(k, key.as_bytes())),
            None => KeyRef::Raw(key),
        };
        let mut n = 0;
        for store in &mut self.stores {
            if let Some(i) = store.find(kref) {
                store.remove(i);
                n += 1;
            }
        }
        self.stats.forgotten += n as u64;
        n
    }

    /// The complete state (spec, entities, counters) as artifact bytes of kind
    /// [`ArtifactKind::FeatureEngineSnapshot`]. With key hashing, the bytes hold no raw key and not
    /// the secret (only a verifier: a keyed hash of a fixed text). Equal states give equal bytes
    /// (hash maps are written in key order), so snapshots can be compared or content-addressed.
    pub fn snapshot(&self) -> Result<Vec<u8>> {
        let snap = SnapshotRef {
            spec_json: self.spec.to_json(),
            hashed_keys: self.key_hash.is_some(),
            verifier: self.key_hash.as_ref().map(verifier),
            newest: self.newest,
            stats: self.stats,
            stores: &self.stores,
        };
        model::encode(ArtifactKind::FeatureEngineSnapshot, &snap)
    }

    /// Write [`FeatureEngine::snapshot`] to a file atomically.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        model::write_atomic(path, &self.snapshot()?)
    }

    /// Restore an engine from a snapshot file written by [`FeatureEngine::save`] (raw keys; see
    /// [`FeatureEngine::load_with_secret`] for an engine that hashes its keys).
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        Self::restore(&model::read_file(path)?)
    }

    /// [`FeatureEngine::load`] for a snapshot of an engine that hashes its keys with `secret`.
    pub fn load_with_secret(path: impl AsRef<std::path::Path>, secret: &[u8]) -> Result<Self> {
        Self::restore_with_secret(&model::read_file(path)?, secret)
    }

    /// Rebuild an engine from [`FeatureEngine::snapshot`] bytes of an engine with raw keys.
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        Self::restore_impl(bytes, None)
    }

    /// Rebuild an engine from snapshot bytes of an engine built with
    /// [`FeatureEngine::with_key_secret`]; `secret` must be the same.
    pub fn restore_with_secret(bytes: &[u8], secret: &[u8]) -> Result<Self> {
        Self::restore_impl(bytes, Some(secret))
    }

    fn restore_impl(bytes: &[u8], secret: Option<&[u8]>) -> Result<Self> {
        let snap: Snapshot = model::decode(ArtifactKind::FeatureEngineSnapshot, bytes)?;
        let spec = FeatureSpec::from_json(&snap.spec_json)
            .map_err(|e| ArtifactError::Malformed(format!("snapshot spec: {e}")))?;
        let mut engine = Self::build(spec, secret)?;
        match (snap.hashed_keys, &engine.key_hash) {
            (true, None) => {
                return Err(Error::KeySecret(
                    "the snapshot keeps keys as keyed hashes: restore it with the secret it was built with".into(),
                ));
            }
            (false, Some(_)) => {
                return Err(Error::KeySecret(
                    "the snapshot keeps raw keys: restore it without a secret".into(),
                ));
            }
            (true, Some(k)) if snap.verifier != Some(verifier(k)) => {
                return Err(Error::KeySecret(
                    "this is not the secret the snapshot was built with".into(),
                ));
            }
            _ => {}
        }
        let mut stores = snap.stores;
        stores.iter_mut().for_each(Store::rebuild_newest);
        if stores.len() != engine.plan.keys.len()
            || !stores
                .iter()
                .zip(&engine.plan.keys)
                .all(|(s, kp)| s.is_consistent(kp))
        {
            return Err(ArtifactError::Malformed(
                "snapshot entity state does not match its spec".into(),
            )
            .into());
        }
        engine.stores = stores;
        engine.newest = snap.newest;
        engine.stats = snap.stats;
        Ok(engine)
    }
}

/// Fill the buffered columns of one key plan from the event (decay snapshots are set later).
#[inline]
fn fill_row(
    kp: &KeyPlan,
    ev: &Event,
    key_hash: Option<&[u8; 32]>,
    distinct_key: &[u8; 32],
    row: &mut [u64],
) {
    use super::spec::ColSource;
    for (c, src) in kp.cols.iter().enumerate() {
        match *src {
            ColSource::Numeric(i) => row[c] = (ev.values[i] + 0.0).to_bits(),
            ColSource::Label => row[c] = (ev.label.unwrap_or(0.0) + 0.0).to_bits(),
            ColSource::KeyHashLo(k) => {
                let h = h128(distinct_key, ev.keys[k].as_bytes());
                row[c] = h as u64;
                row[c + 1] = (h >> 64) as u64;
            }
            ColSource::Id => row[c] = id_hash(key_hash, distinct_key, ev.id.as_deref()),
            ColSource::KeyHashHi(_) | ColSource::DecayS | ColSource::DecayW | ColSource::DecayQ => {
            }
        }
    }
}
