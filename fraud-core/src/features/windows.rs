//! Exact sliding windows over one entity's time-sorted event buffer.
//!
//! A [`GroupState`] tracks the "head" window `(T - delay - window, T - delay]` of an entity whose
//! newest event time is `T`, as the index range `lo..hi` of the entity's [`Buffer`], with:
//! - running sums and sums of squares of the values minus a shift (the first value that entered
//!   the empty window), each with Neumaier compensation, recomputed exactly from the buffer after
//!   every `max(64, count)` removals, and reset exactly whenever the window empties, so rounding
//!   error cannot accumulate over a long stream;
//! - monotonic deques of `(time, value)` for min and max;
//! - counting maps for distinct values.
//!
//! Advancing the head window to a newer `T` costs amortised O(1) per event and aggregate. Late
//! events inserted inside the head window update it in place (O(1) for sums and counts, O(deque)
//! for min/max). Windows ending before `T` (for late events) are evaluated by a direct scan of the
//! buffer ([`ScanView`]).

use std::collections::VecDeque;

use foldhash::HashMap;

use serde::{Deserialize, Serialize};

use super::spec::{DistinctSlot, GroupPlan, WinRead};

/// A compensated (Neumaier) running sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Neumaier {
    sum: f64,
    comp: f64,
}

impl Neumaier {
    /// Add `x`, accumulating the exact rounding error of the addition (Knuth's branch-free
    /// TwoSum, which gives the same error term as Neumaier's comparison).
    #[inline]
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        let xv = t - self.sum;
        let sv = t - xv;
        self.comp += (self.sum - sv) + (x - xv);
        self.sum = t;
    }

    #[inline]
    pub fn value(&self) -> f64 {
        self.sum + self.comp
    }
}

/// Running sums of `x - shift` and `(x - shift)^2` for one column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SumState {
    shift: f64,
    s1: Neumaier,
    s2: Neumaier,
}

impl SumState {
    #[inline]
    fn reset(&mut self, shift: f64) {
        *self = SumState {
            shift,
            ..Default::default()
        };
    }
    /// Add `x`; the sum of squares only when a std or z-score reads it (`squares`).
    #[inline]
    fn add(&mut self, x: f64, squares: bool) {
        let y = x - self.shift;
        self.s1.add(y);
        if squares {
            self.s2.add(y * y);
        }
    }
    /// Add `x`, which enters a window; `was_empty`: the window held nothing, so the sums restart
    /// exactly, shifted by `x`.
    #[inline]
    fn enter(&mut self, x: f64, squares: bool, was_empty: bool) {
        if was_empty {
            self.reset(x);
        }
        self.add(x, squares);
    }
    #[inline]
    fn remove(&mut self, x: f64, squares: bool) {
        let y = x - self.shift;
        self.s1.add(-y);
        if squares {
            self.s2.add(-(y * y));
        }
    }
    #[inline]
    fn sum(&self, n: usize) -> f64 {
        n as f64 * self.shift + self.s1.value()
    }
    /// Sum of squared deviations from the mean.
    #[inline]
    fn m2(&self, n: usize) -> f64 {
        let s = self.s1.value();
        (self.s2.value() - s * s / n as f64).max(0.0)
    }
}

/// One entity's events, sorted by time (stable: equal times in processing order).
///
/// Entries are interleaved in one ring buffer of `width = 1 + stride` words each: the time, then
/// `stride` columns as raw 64-bit words (f64 bits or hash halves), so an entry's time and values
/// share a cache line. The capacity is a power of two, so locating an entry is a mask and a
/// multiply. Serialised as the logical sequence of words (oldest entry first).
#[derive(Debug, Clone, Default)]
pub(crate) struct Buffer {
    data: Vec<u64>,
    /// Words per entry (`1 + stride`).
    width: usize,
    /// Physical index of the oldest entry.
    head: usize,
    len: usize,
    /// Capacity in entries (0 or a power of two); `data.len() == cap * width`.
    cap: usize,
}

impl PartialEq for Buffer {
    fn eq(&self, other: &Self) -> bool {
        self.width == other.width
            && self.len == other.len
            && (0..self.len).all(|i| self.entry(i) == other.entry(i))
    }
}

impl Serialize for Buffer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let words: Vec<u64> = (0..self.len)
            .flat_map(|i| self.entry(i).iter().copied())
            .collect();
        let mut st = s.serialize_struct("Buffer", 3)?;
        st.serialize_field("data", &words)?;
        st.serialize_field("width", &self.width)?;
        st.serialize_field("len", &self.len)?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for Buffer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename = "Buffer")]
        struct Raw {
            data: Vec<u64>,
            width: usize,
            len: usize,
        }
        let raw = Raw::deserialize(d)?;
        // A vacant slot's buffer is the default one (width 0, no entries).
        if (raw.width == 0 && raw.len != 0) || raw.data.len() != raw.len.saturating_mul(raw.width) {
            return Err(serde::de::Error::custom(
                "event buffer: data length does not match its entries",
            ));
        }
        let cap = if raw.len == 0 {
            0
        } else {
            raw.len.next_power_of_two()
        };
        let mut data = raw.data;
        data.resize(cap * raw.width, 0);
        Ok(Buffer {
            data,
            width: raw.width,
            head: 0,
            len: raw.len,
            cap,
        })
    }
}

impl Buffer {
    /// An empty buffer for entries of `stride` columns.
    pub fn new(stride: usize) -> Self {
        Buffer {
            data: Vec::new(),
            width: stride + 1,
            head: 0,
            len: 0,
            cap: 0,
        }
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    /// Word offset of entry `i`.
    #[inline]
    fn at(&self, i: usize) -> usize {
        debug_assert!(i < self.len);
        ((self.head + i) & (self.cap.wrapping_sub(1))) * self.width
    }
    #[inline]
    fn entry(&self, i: usize) -> &[u64] {
        let a = self.at(i);
        &self.data[a..a + self.width]
    }
    #[inline]
    pub fn time(&self, i: usize) -> i64 {
        self.data[self.at(i)] as i64
    }
    #[inline]
    pub fn word(&self, i: usize, c: usize) -> u64 {
        self.data[self.at(i) + 1 + c]
    }
    #[inline]
    pub fn set_word(&mut self, i: usize, c: usize, v: u64) {
        let a = self.at(i);
        self.data[a + 1 + c] = v;
    }
    #[inline]
    pub fn f(&self, i: usize, c: usize) -> f64 {
        f64::from_bits(self.word(i, c))
    }
    #[inline]
    fn distinct_key(&self, i: usize, d: DistinctSlot) -> u128 {
        let lo = self.word(i, d.col) as u128;
        if d.wide {
            lo | ((self.word(i, d.col + 1) as u128) << 64)
        } else {
            lo
        }
    }
    /// Newest time, if any.
    #[inline]
    pub fn newest(&self) -> Option<i64> {
        self.len.checked_sub(1).map(|i| self.time(i))
    }
    /// First index whose time is `> t`.
    #[inline]
    pub fn after(&self, t: i64) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.time(mid) <= t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
    /// Double the capacity (at least 4 entries), keeping the entries in order from physical 0.
    fn grow(&mut self) {
        let cap = (self.cap * 2).max(4);
        let mut data = vec![0u64; cap * self.width];
        for i in 0..self.len {
            let a = self.at(i);
            data[i * self.width..(i + 1) * self.width]
                .copy_from_slice(&self.data[a..a + self.width]);
        }
        self.data = data;
        self.head = 0;
        self.cap = cap;
    }
    /// Write entry `i` (which must exist).
    #[inline]
    fn write(&mut self, i: usize, t: i64, row: &[u64]) {
        let a = self.at(i);
        self.data[a] = t as u64;
        self.data[a + 1..a + self.width].copy_from_slice(row);
    }
    /// Append an entry (its time must be >= the newest).
    #[inline]
    pub fn push(&mut self, t: i64, row: &[u64]) {
        debug_assert_eq!(row.len() + 1, self.width);
        if self.len == self.cap {
            self.grow();
        }
        self.len += 1;
        self.write(self.len - 1, t, row);
    }
    /// Insert an entry at index `pos`, shifting the newer ones up.
    pub fn insert(&mut self, pos: usize, t: i64, row: &[u64]) {
        debug_assert_eq!(row.len() + 1, self.width);
        if self.len == self.cap {
            self.grow();
        }
        self.len += 1;
        for i in (pos + 1..self.len).rev() {
            let (from, to) = (self.at(i - 1), self.at(i));
            self.data.copy_within(from..from + self.width, to);
        }
        self.write(pos, t, row);
    }
    /// Drop the `n` oldest entries.
    #[inline]
    pub fn drain_front(&mut self, n: usize) {
        debug_assert!(n <= self.len);
        self.head = (self.head + n) & self.cap.wrapping_sub(1);
        self.len -= n;
    }
    /// Whether the entry times never decrease.
    pub fn is_sorted(&self) -> bool {
        (1..self.len).all(|i| self.time(i - 1) <= self.time(i))
    }

    /// Whether the layout is consistent (`stride` columns; see [`Buffer::is_sorted`] for times).
    pub fn fits(&self, stride: usize) -> bool {
        self.width == stride + 1
            && self.len <= self.cap
            && self.data.len() == self.cap * self.width
            && (1..self.len).all(|i| self.time(i - 1) <= self.time(i))
    }
    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.data.capacity() * 8
    }
}

/// Insert `(t, v)` into a monotonic deque (strictly decreasing values for max, increasing for min),
/// keeping it sorted by time; entries with equal times keep insertion order.
fn mono_insert(dq: &mut VecDeque<(i64, f64)>, t: i64, v: f64, is_max: bool) {
    let dominates = |a: f64, b: f64| if is_max { a >= b } else { a <= b };
    let p = match dq.back() {
        Some(b) if b.0 > t => dq.partition_point(|e| e.0 <= t),
        _ => dq.len(),
    };
    if p < dq.len() && dominates(dq[p].1, v) {
        return;
    }
    let mut q = p;
    while q > 0 && dominates(v, dq[q - 1].1) {
        q -= 1;
    }
    dq.drain(q..p);
    dq.insert(q, (t, v));
}

/// The head window of one group for one entity, in one cache line for the common case (counts
/// and at most one summed column); further sums and the min/max/distinct state live on the heap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct GroupState {
    lo: u32,
    hi: u32,
    /// Removals since the sums were last exact (see [`GroupState::advance`]).
    removed: u32,
    first: SumState,
    extra: Option<Box<Extra>>,
}

/// The less common parts of a [`GroupState`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Extra {
    rest: Vec<SumState>,
    mins: Vec<VecDeque<(i64, f64)>>,
    maxs: Vec<VecDeque<(i64, f64)>>,
    #[serde(serialize_with = "distinct_sorted")]
    distinct: Vec<HashMap<u128, u32>>,
}

/// The distinct-count maps, each with its entries in key order (see
/// [`serialize_sorted`](super::state::serialize_sorted)).
fn distinct_sorted<S: serde::Serializer>(
    maps: &[HashMap<u128, u32>],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    struct Sorted<'a>(&'a HashMap<u128, u32>);
    impl Serialize for Sorted<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            super::state::serialize_sorted(self.0.iter(), s)
        }
    }
    s.collect_seq(maps.iter().map(Sorted))
}

impl GroupState {
    pub fn new(gp: &GroupPlan) -> Self {
        let needs_extra = gp.sums.len() > 1 || !gp.plain;
        GroupState {
            extra: needs_extra.then(|| {
                Box::new(Extra {
                    rest: vec![SumState::default(); gp.sums.len().saturating_sub(1)],
                    mins: vec![VecDeque::new(); gp.mins.len()],
                    maxs: vec![VecDeque::new(); gp.maxs.len()],
                    distinct: vec![HashMap::default(); gp.distinct.len()],
                })
            }),
            ..Default::default()
        }
    }

    /// Whether the shapes match the plan (used to validate restored snapshots).
    pub fn fits(&self, gp: &GroupPlan, len: usize) -> bool {
        let shapes = match &self.extra {
            None => gp.sums.len() <= 1 && gp.plain,
            Some(x) => {
                x.rest.len() == gp.sums.len().saturating_sub(1)
                    && x.mins.len() == gp.mins.len()
                    && x.maxs.len() == gp.maxs.len()
                    && x.distinct.len() == gp.distinct.len()
            }
        };
        self.lo <= self.hi && self.hi as usize <= len && shapes
    }

    /// Whether the head window agrees with `buf` (time-sorted, see [`Buffer::is_sorted`]) as the
    /// engine leaves it after every event: exactly the entries with times in
    /// `(newest - delay - window, newest - delay]`, and min/max deques
    /// and distinct counts equal to those of the window's entries. Restored snapshots must pass
    /// this (bytes with a valid checksum but an inconsistent window would otherwise trip index
    /// and overflow assertions, or give wrong features).
    pub fn consistent(&self, gp: &GroupPlan, buf: &Buffer) -> bool {
        let n = buf.len();
        let (lo, hi) = (self.lo as usize, self.hi as usize);
        if !self.fits(gp, n) {
            return false;
        }
        let Some(newest) = buf.newest() else {
            return lo == 0 && hi == 0;
        };
        let upper = newest.saturating_sub(gp.delay);
        let lower = upper.saturating_sub(gp.window);
        let bounds = (lo == 0 || buf.time(lo - 1) <= lower)
            && (lo == hi || (buf.time(lo) > lower && buf.time(hi - 1) <= upper))
            && (hi == n || buf.time(hi) > upper);
        if !bounds {
            return false;
        }
        if gp.plain {
            return true;
        }
        let Some(x) = &self.extra else {
            return false;
        };
        let mut want = GroupState::new(gp);
        for i in lo..hi {
            want.add_extra(gp, buf, i);
        }
        let w = want
            .extra
            .as_deref()
            .expect("a non-plain group has extra state");
        x.mins == w.mins && x.maxs == w.maxs && x.distinct == w.distinct
    }

    /// First buffer index in the window.
    #[inline]
    pub fn lo(&self) -> usize {
        self.lo as usize
    }

    #[inline]
    pub fn count(&self) -> usize {
        (self.hi - self.lo) as usize
    }

    #[inline]
    fn sum_state(&self, k: usize) -> &SumState {
        match (k, &self.extra) {
            (0, _) => &self.first,
            (_, Some(x)) => &x.rest[k - 1],
            (_, None) => unreachable!("sum slot {k} without extra state"),
        }
    }

    #[inline]
    fn sum_state_mut(&mut self, k: usize) -> &mut SumState {
        match (k, &mut self.extra) {
            (0, _) => &mut self.first,
            (_, Some(x)) => &mut x.rest[k - 1],
            (_, None) => unreachable!("sum slot {k} without extra state"),
        }
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// Add buffer entry `i` (which enters the window) to the aggregates.
    #[inline]
    fn add(&mut self, gp: &GroupPlan, buf: &Buffer, i: usize, was_empty: bool) {
        for (k, &c) in gp.sums.iter().enumerate() {
            self.sum_state_mut(k)
                .enter(buf.f(i, c), gp.squares, was_empty);
        }
        if !gp.plain {
            self.add_extra(gp, buf, i);
        }
    }

    /// The min/max/distinct part of [`GroupState::add`].
    fn add_extra(&mut self, gp: &GroupPlan, buf: &Buffer, i: usize) {
        let t = buf.time(i);
        let x = self.extra_mut();
        for (dq, &c) in x.mins.iter_mut().zip(&gp.mins) {
            mono_insert(dq, t, buf.f(i, c), false);
        }
        for (dq, &c) in x.maxs.iter_mut().zip(&gp.maxs) {
            mono_insert(dq, t, buf.f(i, c), true);
        }
        for (m, &d) in x.distinct.iter_mut().zip(&gp.distinct) {
            *m.entry(buf.distinct_key(i, d)).or_insert(0) += 1;
        }
    }

    /// Remove buffer entry `i` (which leaves the window) from sums and distinct counts.
    #[inline]
    fn remove(&mut self, gp: &GroupPlan, buf: &Buffer, i: usize) {
        for (k, &c) in gp.sums.iter().enumerate() {
            self.sum_state_mut(k).remove(buf.f(i, c), gp.squares);
        }
        if !gp.distinct.is_empty() {
            let x = self.extra_mut();
            for (m, &d) in x.distinct.iter_mut().zip(&gp.distinct) {
                let k = buf.distinct_key(i, d);
                if let Some(n) = m.get_mut(&k) {
                    *n -= 1;
                    if *n == 0 {
                        m.remove(&k);
                    }
                }
            }
        }
    }

    /// Buffer entry `i`'s column `col` changed from `old` to `new` (label feedback): update the
    /// sums over that column if the entry is in the head window.
    pub fn relabel(&mut self, gp: &GroupPlan, i: usize, col: usize, old: f64, new: f64) {
        if !(self.lo() <= i && i < self.hi as usize) {
            return;
        }
        for (k, &c) in gp.sums.iter().enumerate() {
            if c == col {
                let s = self.sum_state_mut(k);
                s.remove(old, gp.squares);
                s.add(new, gp.squares);
                self.removed = self.removed.saturating_add(1);
            }
        }
    }

    /// Move the head window to `(t - delay - window, t - delay]`; `t` must not decrease.
    ///
    /// Entries leave before new ones enter, so a window that empties restarts its sums exactly;
    /// entries that would enter and leave in the same step are skipped. A group with counts and
    /// at most one summed column (the common case) keeps that one sum in registers meanwhile.
    pub fn advance(&mut self, gp: &GroupPlan, buf: &Buffer, t: i64) {
        let at = Bounds {
            lo: self.lo as usize,
            hi: self.hi as usize,
            removed: self.removed,
        };
        let (to, refresh) = if gp.plain && gp.sums.len() <= 1 {
            let mut sink = OneSum {
                sums: self.first,
                col: gp.sums.first().copied(),
                squares: gp.squares,
                buf,
            };
            let moved = slide(gp, buf, t, at, &mut sink);
            self.first = sink.sums;
            moved
        } else {
            slide(gp, buf, t, at, &mut AllAggregates { g: self, gp, buf })
        };
        self.lo = to.lo as u32;
        self.hi = to.hi as u32;
        self.removed = to.removed;
        if refresh {
            self.recompute(gp, buf);
        }
    }

    /// Recompute the running sums exactly from the buffer.
    fn recompute(&mut self, gp: &GroupPlan, buf: &Buffer) {
        let (lo, hi) = (self.lo as usize, self.hi as usize);
        for (k, &c) in gp.sums.iter().enumerate() {
            let s = self.sum_state_mut(k);
            s.reset(buf.f(lo, c));
            for i in lo..hi {
                s.add(buf.f(i, c), gp.squares);
            }
        }
        self.removed = 0;
    }

    /// A late event was inserted at buffer index `pos` with time `t`; the entity's newest time is
    /// `newest`. Shift the indices and add the event if it falls in the head window.
    pub fn late_insert(&mut self, gp: &GroupPlan, buf: &Buffer, pos: usize, t: i64, newest: i64) {
        let upper = newest.saturating_sub(gp.delay);
        let lower = upper.saturating_sub(gp.window);
        if t <= lower {
            self.lo += 1;
            self.hi += 1;
        } else if t <= upper {
            debug_assert!(self.lo() <= pos && pos <= self.hi as usize);
            let was_empty = self.lo == self.hi;
            self.hi += 1;
            self.add(gp, buf, pos, was_empty);
        }
    }

    /// Entries `0..n` were dropped from the front of the buffer (all before `lo`).
    pub fn shift_down(&mut self, n: usize) {
        debug_assert!(self.lo() >= n);
        let n = n as u32;
        self.lo = self.lo.saturating_sub(n);
        self.hi = self.hi.saturating_sub(n);
    }
}

/// A head window's bounds `lo..hi` in its buffer and its removals since the sums were exact.
#[derive(Clone, Copy)]
struct Bounds {
    lo: usize,
    hi: usize,
    removed: u32,
}

/// What a head-window move ([`slide`]) does with the entries that leave and enter the window.
trait WindowSink {
    /// Buffer entry `i` leaves the window.
    fn leave(&mut self, i: usize);
    /// Entries left; the window's lower bound (exclusive) is now `lower`.
    fn left(&mut self, _lower: i64) {}
    /// Buffer entry `i` enters the window (`was_empty`: the window held nothing before).
    fn enter(&mut self, i: usize, was_empty: bool);
}

/// Every aggregate of a group: sums, min/max deques and distinct counts.
struct AllAggregates<'a> {
    g: &'a mut GroupState,
    gp: &'a GroupPlan,
    buf: &'a Buffer,
}

impl WindowSink for AllAggregates<'_> {
    #[inline]
    fn leave(&mut self, i: usize) {
        self.g.remove(self.gp, self.buf, i);
    }
    fn left(&mut self, lower: i64) {
        if !self.gp.plain {
            let x = self.g.extra_mut();
            for dq in x.mins.iter_mut().chain(x.maxs.iter_mut()) {
                while dq.front().is_some_and(|e| e.0 <= lower) {
                    dq.pop_front();
                }
            }
        }
    }
    #[inline]
    fn enter(&mut self, i: usize, was_empty: bool) {
        self.g.add(self.gp, self.buf, i, was_empty);
    }
}

/// The one sum of a plain group (counts and at most one summed column), held by value.
struct OneSum<'a> {
    sums: SumState,
    col: Option<usize>,
    squares: bool,
    buf: &'a Buffer,
}

impl WindowSink for OneSum<'_> {
    #[inline]
    fn leave(&mut self, i: usize) {
        if let Some(c) = self.col {
            self.sums.remove(self.buf.f(i, c), self.squares);
        }
    }
    #[inline]
    fn enter(&mut self, i: usize, was_empty: bool) {
        if let Some(c) = self.col {
            self.sums.enter(self.buf.f(i, c), self.squares, was_empty);
        }
    }
}

/// Move a head window from `at` to `(t - delay - window, t - delay]` (see
/// [`GroupState::advance`]), telling `sink` which entries leave and enter. Returns the new bounds
/// and whether the sums are due for an exact recomputation (after more than `max(64, count)`
/// removals).
#[inline(always)]
fn slide(
    gp: &GroupPlan,
    buf: &Buffer,
    t: i64,
    at: Bounds,
    sink: &mut impl WindowSink,
) -> (Bounds, bool) {
    let upper = t.saturating_sub(gp.delay);
    let lower = upper.saturating_sub(gp.window);
    let n = buf.len();
    let Bounds {
        mut lo,
        mut hi,
        mut removed,
    } = at;
    let mut left = 0u32;
    while lo < hi && buf.time(lo) <= lower {
        sink.leave(lo);
        lo += 1;
        left += 1;
    }
    if lo == hi {
        while hi < n && buf.time(hi) <= lower {
            hi += 1;
        }
        lo = hi;
    }
    if left > 0 {
        sink.left(lower);
        removed = if lo == hi {
            0
        } else {
            removed.saturating_add(left)
        };
    }
    let refresh = removed as usize > (hi - lo).max(64);
    while hi < n && buf.time(hi) <= upper {
        sink.enter(hi, lo == hi);
        hi += 1;
    }
    (Bounds { lo, hi, removed }, refresh)
}

/// Read access to one window's aggregates.
pub(crate) trait WindowView {
    fn count(&self) -> usize;
    /// Sum of sum-slot `s` (only called when count > 0).
    fn sum(&self, s: usize) -> f64;
    /// Sum of squared deviations of sum-slot `s` (only called when count > 0).
    fn m2(&self, s: usize) -> f64;
    fn min(&self, m: usize) -> Option<f64>;
    fn max(&self, m: usize) -> Option<f64>;
    fn distinct(&self, d: usize) -> usize;
}

/// The head window of a [`GroupState`].
pub(crate) struct HeadView<'a>(pub &'a GroupState);

impl WindowView for HeadView<'_> {
    fn count(&self) -> usize {
        self.0.count()
    }
    fn sum(&self, s: usize) -> f64 {
        self.0.sum_state(s).sum(self.0.count())
    }
    fn m2(&self, s: usize) -> f64 {
        self.0.sum_state(s).m2(self.0.count())
    }
    fn min(&self, m: usize) -> Option<f64> {
        self.0.extra.as_ref()?.mins[m].front().map(|e| e.1)
    }
    fn max(&self, m: usize) -> Option<f64> {
        self.0.extra.as_ref()?.maxs[m].front().map(|e| e.1)
    }
    fn distinct(&self, d: usize) -> usize {
        self.0.extra.as_ref().map_or(0, |x| x.distinct[d].len())
    }
}

/// Buffer entries `a..b`, aggregated by a direct scan.
pub(crate) struct ScanView<'a> {
    pub buf: &'a Buffer,
    pub gp: &'a GroupPlan,
    pub a: usize,
    pub b: usize,
}

impl ScanView<'_> {
    fn values(&self, c: usize) -> impl Iterator<Item = f64> + '_ {
        (self.a..self.b).map(move |i| self.buf.f(i, c))
    }
}

impl WindowView for ScanView<'_> {
    fn count(&self) -> usize {
        self.b - self.a
    }
    fn sum(&self, s: usize) -> f64 {
        let mut acc = Neumaier::default();
        self.values(self.gp.sums[s]).for_each(|x| acc.add(x));
        acc.value()
    }
    fn m2(&self, s: usize) -> f64 {
        let mean = self.sum(s) / self.count() as f64;
        let mut acc = Neumaier::default();
        self.values(self.gp.sums[s])
            .for_each(|x| acc.add((x - mean) * (x - mean)));
        acc.value()
    }
    fn min(&self, m: usize) -> Option<f64> {
        self.values(self.gp.mins[m]).reduce(f64::min)
    }
    fn max(&self, m: usize) -> Option<f64> {
        self.values(self.gp.maxs[m]).reduce(f64::max)
    }
    fn distinct(&self, d: usize) -> usize {
        let slot = self.gp.distinct[d];
        let mut seen: Vec<u128> = (self.a..self.b)
            .map(|i| self.buf.distinct_key(i, slot))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }
}

/// Evaluate a windowed read; `values` are the current event's numeric fields.
#[inline(always)]
pub(crate) fn eval(read: WinRead, v: &impl WindowView, fill: f64, values: &[f64]) -> f64 {
    let n = v.count();
    let std = |s: usize, ddof: u8| {
        if n <= ddof as usize {
            None
        } else {
            Some((v.m2(s) / (n - ddof as usize) as f64).sqrt())
        }
    };
    match read {
        WinRead::Count => n as f64,
        WinRead::Sum(s) => {
            if n == 0 {
                0.0
            } else {
                v.sum(s)
            }
        }
        WinRead::Mean(s) => {
            if n == 0 {
                fill
            } else {
                v.sum(s) / n as f64
            }
        }
        WinRead::Std(s, ddof) => std(s, ddof).unwrap_or(fill),
        WinRead::Min(m) => v.min(m).unwrap_or(fill),
        WinRead::Max(m) => v.max(m).unwrap_or(fill),
        WinRead::Distinct(d) => v.distinct(d) as f64,
        WinRead::Risk(s) => {
            if n == 0 {
                0.0
            } else {
                v.sum(s) / n as f64
            }
        }
        WinRead::Ratio { sum, numeric } => {
            if n == 0 {
                return fill;
            }
            let mean = v.sum(sum) / n as f64;
            if mean == 0.0 {
                fill
            } else {
                values[numeric] / mean
            }
        }
        WinRead::Zscore { sum, numeric, ddof } => match std(sum, ddof) {
            Some(sd) if sd > 0.0 => (values[numeric] - v.sum(sum) / n as f64) / sd,
            _ => fill,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neumaier_cancels() {
        let mut s = Neumaier::default();
        for _ in 0..1000 {
            s.add(1e16);
            s.add(1.0);
            s.add(-1e16);
        }
        assert_eq!(s.value(), 1000.0);
    }

    #[test]
    fn mono_deque_late_insert() {
        let mut dq = VecDeque::new();
        for (t, v) in [(1, 5.0), (2, 3.0), (4, 1.0)] {
            mono_insert(&mut dq, t, v, true);
        }
        assert_eq!(dq, [(1, 5.0), (2, 3.0), (4, 1.0)]);
        mono_insert(&mut dq, 3, 4.0, true);
        assert_eq!(dq, [(1, 5.0), (3, 4.0), (4, 1.0)]);
        mono_insert(&mut dq, 3, 0.5, true);
        assert_eq!(dq, [(1, 5.0), (3, 4.0), (4, 1.0)]);
        mono_insert(&mut dq, 0, 9.0, true);
        assert_eq!(dq, [(0, 9.0), (1, 5.0), (3, 4.0), (4, 1.0)]);
        mono_insert(&mut dq, 5, 4.0, true);
        assert_eq!(dq, [(0, 9.0), (1, 5.0), (5, 4.0)]);
    }

    #[test]
    fn sums_stay_exact_over_long_streams() {
        let gp = GroupPlan {
            window: 10,
            delay: 0,
            sums: vec![0],
            mins: vec![],
            maxs: vec![],
            distinct: vec![],
            pre: false,
            plain: true,
            squares: true,
        };
        let mut buf = Buffer::new(1);
        let mut g = GroupState::new(&gp);
        for i in 0..100_000i64 {
            let x = if i % 3 == 0 { 1e12 } else { 0.1 };
            buf.push(i, &[f64::to_bits(x)]);
            g.advance(&gp, &buf, i);
        }
        let exact: f64 = (99_990..100_000)
            .map(|i| if i % 3 == 0 { 1e12 } else { 0.1 })
            .sum();
        let got = HeadView(&g).sum(0);
        assert!((got - exact).abs() <= 1e-3, "{got} vs {exact}");
    }
}
