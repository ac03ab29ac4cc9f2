//! Batch transform of columns, entity by entity.
//!
//! [`FeatureEngine::transform_columns`] computes exactly what calling
//! [`FeatureEngine::update_into`] on each row in input order computes (outputs, final state and
//! counters; a property test compares both), but in an order that keeps each entity's state in
//! cache:
//!
//! 1. **Rows**, in input order: validate each row (keys, id, numbers and label column by column
//!    up to the first bad row, see [`EventSchema::valid_prefix`](crate::event::EventSchema::valid_prefix);
//!    times row by row) and run the event-time logic (newest time, watermark, late policy), which
//!    depends on the global order only. The first bad row ends the batch: the rows before it are
//!    applied, then its error is returned.
//! 2. **Store plan**, per key field, in input order: the entity store's bookkeeping (lookup, TTL
//!    reset, least-recently-used eviction, insertion, TTL sweep) runs on the real store, without
//!    touching entity state, using the store's newest-time index. Each row is assigned an entity
//!    *incarnation* (an entity from its creation, or its TTL reset, to its eviction). Keys are
//!    dictionary codes, so each distinct key is hashed once per batch.
//! 3. **Entities**: each incarnation's rows, in input order, go through the per-entity code of
//!    `update` (`process`). Entities are independent of each other, so this order gives the same
//!    values; it only changes which memory is hot. Rows go in chunks: a chunk's rows are grouped
//!    by entity, processed, and their outputs written back to their rows (with the calendar
//!    features, on the first key field's pass).

use super::engine::{self, FeatureEngine, Outcome, h128, id_hash, process};
use super::spec::{CalendarPlan, ColSource, KeyOp, KeyPlan, WinRead};
use super::state::{Entity, KeyRef, Store};
use crate::error::{Error, Result};
use crate::event::EventColumns;

const NONE: u32 = u32::MAX;

/// Rows per staging chunk.
#[cfg(not(test))]
const CHUNK: usize = 256 * 1024;
/// Unit tests use small chunks, so that their short streams span several.
#[cfg(test)]
const CHUNK: usize = 32;

/// Staging buffers for one chunk of rows of one key field, in processing order.
struct Stage {
    width: usize,
    nv: usize,
    nk: usize,
    words: Vec<u64>,
    vals: Vec<f64>,
    times: Vec<i64>,
    outs: Vec<f64>,
    scratch: Vec<f64>,
    /// Whether a feature reads the current event's numeric fields (ratio, z-score).
    reads_values: bool,
}

impl Stage {
    fn new(kp: &KeyPlan, nv: usize, n: usize) -> Self {
        Stage {
            width: kp.cols.len(),
            nv,
            nk: kp.features.len(),
            words: Vec::new(),
            vals: Vec::new(),
            times: Vec::new(),
            outs: Vec::new(),
            scratch: vec![0.0; n],
            reads_values: kp.features.iter().any(|f| {
                matches!(
                    f.op,
                    KeyOp::Window {
                        read: WinRead::Ratio { .. } | WinRead::Zscore { .. },
                        ..
                    }
                )
            }),
        }
    }

    /// Size the buffers for `m` rows of this chunk.
    fn resize(&mut self, m: usize) {
        self.words.resize(m * self.width, 0);
        self.vals.resize(m * self.nv, 0.0);
        self.times.resize(m, 0);
        self.outs.resize(m * self.nk, 0.0);
    }

    /// Stage the inputs of rows `r0..r0 + dest.len()`: row `r0 + r` goes to position `dest[r]`
    /// (`NONE`: not processed). Reading the columns in input order and writing the staging
    /// buffers out of order is cheaper than the converse: stores do not stall on cache misses.
    fn gather(
        &mut self,
        kp: &KeyPlan,
        cols: &EventColumns<'_>,
        rows: &Rows,
        r0: usize,
        dest: &[u32],
        distinct: &DistinctHashes,
    ) {
        let (w, nv) = (self.width, self.nv);
        for (r, &j) in dest.iter().enumerate() {
            if j == NONE {
                continue;
            }
            let (row, j) = (r0 + r, j as usize);
            self.times[j] = rows.time[row];
            if self.reads_values {
                for (v, c) in self.vals[j * nv..(j + 1) * nv]
                    .iter_mut()
                    .zip(&cols.numeric)
                {
                    *v = c[row];
                }
            }
            fill_row_columns(kp, cols, row, distinct, &mut self.words[j * w..(j + 1) * w]);
        }
    }

    #[inline]
    fn process(&mut self, kp: &KeyPlan, e: &mut Entity, j: usize, lateness: i64) {
        let (w, nv, nk) = (self.width, self.nv, self.nk);
        process(
            kp,
            e,
            self.times[j],
            lateness,
            &mut self.words[j * w..(j + 1) * w],
            &self.vals[j * nv..(j + 1) * nv],
            &mut self.scratch,
        );
        for (o, f) in self.outs[j * nk..(j + 1) * nk].iter_mut().zip(&kp.features) {
            *o = self.scratch[f.out];
        }
    }

    /// Write the outputs back to their rows (`order[j]` is the row of staging position `j`), and
    /// the `calendar` features of those rows while they are at hand.
    fn scatter(
        &self,
        kp: &KeyPlan,
        calendar: &[CalendarPlan],
        order: &[u32],
        out: &mut [f64],
        n: usize,
    ) {
        let nk = self.nk;
        for (j, &row) in order.iter().enumerate() {
            let o = &mut out[row as usize * n..(row as usize + 1) * n];
            for (s, f) in self.outs[j * nk..(j + 1) * nk].iter().zip(&kp.features) {
                o[f.out] = *s;
            }
            for cp in calendar {
                o[cp.out] = engine::calendar(cp, self.times[j]);
            }
        }
    }
}

/// The event-time outcome of every row of a batch (phase 1).
struct Rows {
    /// Effective time of each row (the watermark for clamped rows).
    time: Vec<i64>,
    /// Whether the row was dropped as too late.
    dropped: Vec<bool>,
    /// Rows to apply (all of them, or those before the first bad row).
    n: usize,
    /// The first bad row's error.
    error: Option<Error>,
}

/// One entity incarnation: its slot and its starting state (`None` = a fresh entity).
struct Incarnation {
    slot: u32,
    state: Option<Entity>,
}

impl FeatureEngine {
    /// Phase 1: validate rows and apply the event-time policy, updating `newest` and the late
    /// counters as `update_into` would.
    fn plan_rows(&mut self, cols: &EventColumns<'_>) -> Rows {
        let rows = cols.len();
        let mut time = Vec::with_capacity(rows);
        let mut dropped = vec![false; rows];
        let mut error = None;
        // Rows before `valid` pass every check of `check_row` but the time's (column-wise
        // checks, cheaper than row by row); from `valid` on, rows are checked in full.
        let valid = self.plan.schema.valid_prefix(cols);
        for (row, drop) in dropped.iter_mut().enumerate() {
            match self.event_time(cols, row, row < valid) {
                Ok((t, Outcome::Dropped)) => {
                    *drop = true;
                    time.push(t);
                }
                Ok((t, _)) => time.push(t),
                Err(e) => {
                    error = Some(Error::InRow {
                        row,
                        source: Box::new(e),
                    });
                    break;
                }
            }
        }
        Rows {
            n: time.len(),
            time,
            dropped,
            error,
        }
    }

    /// Validate one row (only its time when `checked`: the rest is known valid) and apply the
    /// event-time logic of `update_into` to it.
    fn event_time(
        &mut self,
        cols: &EventColumns<'_>,
        row: usize,
        checked: bool,
    ) -> Result<(i64, Outcome)> {
        let schema = &self.plan.schema;
        let t = if checked {
            schema.column_time(cols, row)?
        } else {
            schema.check_row(cols, row)?
        };
        let (t, outcome) = self.admit(t)?;
        if outcome != Outcome::Dropped {
            self.stats.events += 1;
        }
        Ok((t, outcome))
    }

    /// Phase 2 for one key field: run the store's bookkeeping over the rows in input order and
    /// return each row's incarnation (`NONE` for dropped rows) and the incarnations.
    fn plan_store(
        &mut self,
        k: usize,
        cols: &EventColumns<'_>,
        rows: &Rows,
        newest_before: Option<i64>,
    ) -> (Vec<u32>, Vec<Incarnation>) {
        let kp = &self.plan.keys[k];
        let store: &mut Store = &mut self.stores[k];
        let col = &cols.keys[kp.key_field];
        let mut code_slot = vec![NONE; col.values.len()];
        let mut slot_code: Vec<u32> = Vec::new();
        let mut slot_inc: Vec<u32> = Vec::new();
        let mut incs: Vec<Incarnation> = Vec::new();
        let mut row_inc = vec![NONE; rows.n];
        let track_recency = self.plan.ttl.is_some() || self.plan.max_entities.is_some();
        let mut newest = newest_before;
        let grow = |v: &mut Vec<u32>, i: u32| {
            if v.len() <= i as usize {
                v.resize(i as usize + 1, NONE);
            }
        };
        for (row, inc_of_row) in row_inc.iter_mut().enumerate() {
            if rows.dropped[row] {
                continue;
            }
            let t = rows.time[row];
            newest = Some(newest.map_or(t, |g: i64| g.max(t)));
            let ttl_limit = self
                .plan
                .ttl
                .map(|ttl| newest.unwrap_or(t).saturating_sub(ttl));
            // Codes were validated in phase 1.
            let code = col.codes[row] as usize;
            let mut slot = code_slot[code];
            if slot == NONE {
                let text = &col.values[code];
                let kref = match &self.key_hash {
                    Some(h) => KeyRef::Hashed(h128(h, text.as_bytes())),
                    None => KeyRef::Raw(text),
                };
                slot = match store.find(kref) {
                    Some(i) => i,
                    None => {
                        if let Some(max) = self.plan.max_entities
                            && store.len() >= max
                            && let Some(lru) = store.lru()
                        {
                            evict(store, lru, &mut slot_code, &mut slot_inc, &mut code_slot);
                            self.stats.lru_evictions += 1;
                        }
                        let i = store.insert(kref, Entity::default());
                        grow(&mut slot_inc, i);
                        slot_inc[i as usize] = new_inc(&mut incs, i, None);
                        i
                    }
                };
                grow(&mut slot_code, slot);
                grow(&mut slot_inc, slot);
                slot_code[slot as usize] = code as u32;
                code_slot[code] = slot;
                if slot_inc[slot as usize] == NONE {
                    // An entity from before the batch: its state starts this incarnation.
                    let state = store.take_entity(slot);
                    slot_inc[slot as usize] = new_inc(&mut incs, slot, Some(state));
                }
            }
            if let Some(limit) = ttl_limit
                && store.newest(slot) < limit
                && store.newest(slot) != i64::MIN
            {
                store.reset_newest(slot);
                slot_inc[slot as usize] = new_inc(&mut incs, slot, None);
                self.stats.ttl_evictions += 1;
            }
            if track_recency {
                store.touch(slot);
            }
            store.saw(slot, t);
            *inc_of_row = slot_inc[slot as usize];
            if let Some(limit) = ttl_limit {
                while let Some(lru) = store.lru()
                    && store.newest(lru) < limit
                {
                    evict(store, lru, &mut slot_code, &mut slot_inc, &mut code_slot);
                    self.stats.ttl_evictions += 1;
                }
            }
        }
        // Incarnations still in their slot at the end are live; the others were evicted.
        for (id, inc) in incs.iter_mut().enumerate() {
            if slot_inc.get(inc.slot as usize) != Some(&(id as u32)) {
                inc.slot = NONE;
            }
        }
        (row_inc, incs)
    }

    /// [`FeatureEngine::transform_columns`]'s body; see the module documentation.
    /// Every output value of the applied rows is written: each key plan's features and the
    /// calendar features, or NaN for dropped rows.
    pub(super) fn transform_columns_by_entity(
        &mut self,
        cols: &EventColumns<'_>,
        out: &mut [f64],
    ) -> Result<()> {
        let n = self.n_features();
        let newest_before = self.newest;
        let rows = self.plan_rows(cols);
        let distinct = DistinctHashes::new(self, cols);
        for k in 0..self.plan.keys.len() {
            let (row_inc, mut incs) = self.plan_store(k, cols, &rows, newest_before);
            let kp: &KeyPlan = &self.plan.keys[k];
            let mut stage = Stage::new(kp, cols.numeric.len(), n);
            // Rows in chunks of CHUNK: within a chunk, rows are grouped by incarnation (a stable
            // counting sort), their inputs gathered in that order, each entity runs over its rows
            // in input order, and the outputs are scattered back. A chunk's columns and staging
            // buffers stay in cache, and each entity's state is fetched once per chunk instead of
            // once per event.
            let mut at = vec![0u32; incs.len()];
            let mut seen: Vec<u32> = Vec::new();
            let mut order: Vec<u32> = Vec::with_capacity(CHUNK.min(rows.n));
            let mut dest: Vec<u32> = Vec::with_capacity(CHUNK.min(rows.n));
            for r0 in (0..rows.n).step_by(CHUNK) {
                let chunk = &row_inc[r0..(r0 + CHUNK).min(rows.n)];
                seen.clear();
                for &i in chunk {
                    if i != NONE {
                        if at[i as usize] == 0 {
                            seen.push(i);
                        }
                        at[i as usize] += 1;
                    }
                }
                let mut total = 0;
                for &i in &seen {
                    let c = at[i as usize];
                    at[i as usize] = total;
                    total += c;
                }
                order.clear();
                order.resize(total as usize, 0);
                dest.clear();
                dest.resize(chunk.len(), NONE);
                for (r, &i) in chunk.iter().enumerate() {
                    if i != NONE {
                        let j = at[i as usize];
                        order[j as usize] = (r0 + r) as u32;
                        dest[r] = j;
                        at[i as usize] += 1;
                    }
                }
                stage.resize(total as usize);
                stage.gather(kp, cols, &rows, r0, &dest, &distinct);
                let mut j = 0;
                for &i in &seen {
                    let inc = &mut incs[i as usize];
                    let mut e = inc.state.take().unwrap_or_else(|| Entity::new(kp));
                    let end = at[i as usize] as usize;
                    while j < end {
                        stage.process(kp, &mut e, j, self.plan.lateness);
                        j += 1;
                    }
                    inc.state = Some(e);
                    at[i as usize] = 0;
                }
                // The calendar features go with the first key's outputs (every applied row has
                // one): one pass over the output rows fewer.
                let calendar: &[CalendarPlan] = if k == 0 { &self.plan.calendar } else { &[] };
                stage.scatter(kp, calendar, &order, out, n);
            }
            for inc in &mut incs {
                if inc.slot != NONE {
                    let e = inc.state.take().unwrap_or_else(|| Entity::new(kp));
                    *self.stores[k].entity_mut(inc.slot) = e;
                }
            }
        }
        let calendar_done = !self.plan.keys.is_empty();
        if !calendar_done || rows.dropped[..rows.n].contains(&true) {
            for row in 0..rows.n {
                let o = &mut out[row * n..(row + 1) * n];
                if rows.dropped[row] {
                    o.fill(f64::NAN);
                } else if !calendar_done {
                    for cp in &self.plan.calendar {
                        o[cp.out] = engine::calendar(cp, rows.time[row]);
                    }
                }
            }
        }
        match rows.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn new_inc(incs: &mut Vec<Incarnation>, slot: u32, state: Option<Entity>) -> u32 {
    incs.push(Incarnation { slot, state });
    (incs.len() - 1) as u32
}

/// Remove entity `slot` from the store and from the batch's caches.
fn evict(
    store: &mut Store,
    slot: u32,
    slot_code: &mut [u32],
    slot_inc: &mut [u32],
    code_slot: &mut [u32],
) {
    store.remove(slot);
    if let Some(c) = slot_code.get_mut(slot as usize)
        && *c != NONE
    {
        code_slot[*c as usize] = NONE;
        *c = NONE;
    }
    if let Some(i) = slot_inc.get_mut(slot as usize) {
        *i = NONE;
    }
}

/// Keyed hashes of the key values that `distinct` features count, one per dictionary code, and
/// the id tags of the id column's codes (when feedback matching needs them).
struct DistinctHashes {
    /// Per key field: the hash of each code (empty when no feature needs that field).
    per_field: Vec<Vec<u128>>,
    /// Per id code: its tag (empty when no key plan keeps ids).
    ids: Vec<u64>,
}

impl DistinctHashes {
    fn new(engine: &FeatureEngine, cols: &EventColumns<'_>) -> Self {
        let mut per_field = vec![Vec::new(); cols.keys.len()];
        for kp in &engine.plan.keys {
            for src in &kp.cols {
                if let ColSource::KeyHashLo(f) = *src
                    && per_field[f].is_empty()
                {
                    per_field[f] = cols.keys[f]
                        .values
                        .iter()
                        .map(|v| h128(&engine.distinct_hash, v.as_bytes()))
                        .collect();
                }
            }
        }
        let ids = match &cols.id {
            Some(c) if engine.plan.keys.iter().any(|kp| kp.id_col.is_some()) => c
                .values
                .iter()
                .map(|v| id_hash(engine.key_hash.as_ref(), &engine.distinct_hash, Some(v)))
                .collect(),
            _ => Vec::new(),
        };
        DistinctHashes { per_field, ids }
    }
}

/// `fill_row` for a row of columns.
#[inline]
fn fill_row_columns(
    kp: &KeyPlan,
    cols: &EventColumns<'_>,
    row: usize,
    distinct: &DistinctHashes,
    words: &mut [u64],
) {
    for (c, src) in kp.cols.iter().enumerate() {
        match *src {
            ColSource::Numeric(i) => words[c] = (cols.numeric[i][row] + 0.0).to_bits(),
            ColSource::Label => {
                let l = cols.label.map_or(f64::NAN, |l| l[row]);
                words[c] = (if l.is_nan() { 0.0 } else { l } + 0.0).to_bits();
            }
            ColSource::KeyHashLo(f) => {
                let h = distinct.per_field[f][cols.keys[f].codes[row] as usize];
                words[c] = h as u64;
                words[c + 1] = (h >> 64) as u64;
            }
            ColSource::Id => {
                words[c] = cols
                    .id
                    .and_then(|col| usize::try_from(col.codes[row]).ok())
                    .map_or(0, |code| distinct.ids[code]);
            }
            ColSource::KeyHashHi(_) | ColSource::DecayS | ColSource::DecayW | ColSource::DecayQ => {
            }
        }
    }
}
