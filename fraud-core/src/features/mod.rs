//! Streaming features per entity, one code path for serving ([`FeatureEngine::update`]) and for
//! point-in-time backfill ([`FeatureEngine::transform`]).
//!
//! # Semantics
//!
//! Events are processed one at a time in input (arrival) order; `transform` is a loop over
//! `update_into`, so a backfill computes exactly what serving would have computed.
//! [`FeatureEngine::transform_columns`] is the same loop for a batch given as columns
//! ([`crate::event::EventColumns`]: e.g. a data frame's arrays, keys dictionary-encoded).
//!
//! - **Window** `(t - delay - window, t - delay]` of the current event (time `t`) for key `k`: the
//!   events of `k` processed before the current one whose time is in that interval, plus the current
//!   event itself when `delay` is 0 and `include_current` is true. Events with equal timestamps are
//!   therefore seen in input order: an earlier-processed event at the same time is in the window.
//! - **Labels** are carried on the events, or arrive later as **feedback**
//!   ([`FeatureEngine::feedback`]: the event's id from the schema's `id` field, its keys, the
//!   label). A label on an event counts as known `delay` after its event, so a delayed `risk`
//!   feature never uses it before that time; a feedback label is used by every event processed
//!   after the feedback and by none before it. An event without a known label counts as label 0
//!   (genuine). For a point-in-time backfill with feedback, interleave batches and feedback in
//!   arrival order.
//! - **Event time**: the watermark is the newest event time processed minus `lateness.allowed`. An
//!   event older than the newest time but not older than the watermark is *placed*: its own
//!   features see exactly the events processed before it with times in its windows, and it is
//!   inserted into its entity's time-sorted buffer so that every later event sees it in the right
//!   windows (also in min/max/distinct and decayed averages). An event older than the watermark
//!   follows `lateness.policy`: `error` (default; the state is unchanged), `drop` (skipped and
//!   counted, its output row is all NaN) or `process` (processed as if its time were the watermark,
//!   counted). For a stream sorted by time, the output does not depend on the allowed lateness.
//! - **time_since_last**: seconds since the latest earlier-processed event of the key with a time
//!   at or before the current one.
//! - **decayed**: `sum(w_i x_i) / sum(w_i)`, `w_i = 2^(-(t - t_i) / half_life)`, over the key's
//!   earlier-processed events with time at or before `t` (and after `t - window` when the feature
//!   has a `window`), and the current event. `stat: "std"` gives the weighted standard deviation
//!   `sqrt(sum(w_i x_i^2) / sum(w_i) - mean^2)` of the same events; `stat: "zscore"` (an EWMA
//!   z-score) gives `(x - mean) / std` with the mean and deviation of the *earlier* events only
//!   (a variance below 1e-10 of the mean square counts as 0: rounding of the moments).
//!   Computed from cumulative decayed sums kept per buffered event; a window subtracts the
//!   decayed sums of its oldest excluded event.
//! - **calendar**: from the event time in UTC plus a fixed offset; weekday 0 = Monday.
//!
//! # State
//!
//! Each entity (value of a key field) keeps a time-sorted buffer of the events its windows can
//! still need (the allowed lateness plus the longest window and delay), the running aggregates of
//! its current windows (exact sliding windows: compensated running sums with periodic exact
//! recomputation, monotonic deques for min/max, counting maps for distinct values) and nothing
//! else. `ttl` evicts entities whose newest event is older than the newest event time minus
//! `ttl`; the spec is refused if `ttl` is shorter than the lateness plus the longest window + delay
//! (or `max_gap`), or if it has a decayed feature without a `window`, so eviction never changes a
//! feature (a windowed decayed average by at most rounding: the evicted history's residual
//! weight, below `2^(-ttl/half_life)`, cancels). `max_entities` caps each key field's entity count with least-recently-used eviction
//! ([`EngineStats::lru_evictions`]); `forget` erases a key. `snapshot`/`restore` round-trip the whole
//! state through the artifact envelope ([`crate::model`]) bit-exactly.
//!
//! # Privacy
//!
//! [`FeatureEngine::with_key_secret`] keeps entity keys (and key values used by `distinct`) only as
//! 128-bit BLAKE3 keyed hashes under a key derived from the secret; the secret is never stored, so a
//! snapshot holds no raw key. Error messages never contain key values.
//!
//! # Example
//!
//! ```
//! use fraud_core::features::FeatureEngine;
//! use serde_json::json;
//!
//! let mut engine = FeatureEngine::from_json(r#"{
//!   "schema": {"timestamp": "ts", "time_unit": "s", "keys": ["card"], "numeric": ["amount"]},
//!   "features": [
//!     {"kind": "window", "name": "n_1h", "key": "card", "agg": "count", "window": "1h"},
//!     {"kind": "window", "name": "avg_1h", "key": "card", "agg": "mean", "field": "amount",
//!      "window": "1h", "include_current": false, "fill": 0}
//!   ]}"#)?;
//! let e = |ts: i64, amount: f64| json!({"ts": ts, "card": "c1", "amount": amount});
//! engine.update_json(e(0, 10.0).as_object().unwrap())?;
//! let v = engine.update_json(e(60, 30.0).as_object().unwrap())?;
//! assert_eq!(v, vec![2.0, 10.0]);
//! # Ok::<(), fraud_core::Error>(())
//! ```

mod batch;
pub mod engine;
pub mod spec;
mod state;
mod windows;

#[cfg(any(test, feature = "reference"))]
#[doc(hidden)]
pub mod reference;
#[cfg(test)]
mod tests;

pub use engine::{EngineStats, FeatureEngine, Outcome};
pub use spec::{
    Agg, CalendarPart, DecayStat, DurationMs, FeatureKind, FeatureSpec, LatePolicy, Lateness,
    RelativeMode, SchemaSpec,
};
