//! The scoring pipeline: events -> features -> detectors -> one calibrated risk in `[0, 1]`, an
//! alert flag, and reason codes.
//!
//! A [`PipelineSpec`] (JSON; see [`spec`]) names a feature-engine spec, the features the detectors
//! see (`inputs`), the detectors, how their scores combine, the alert rule and how many reasons to
//! give. [`Pipeline::fit`] runs the feature engine's batch transform over the training events from
//! a fresh engine, fits every detector on the input columns, calibrates each detector's scores and
//! sets the alert threshold.
//!
//! # Risk
//!
//! * **Calibration** ([`calibration`]): every detector's raw score (isolation forest: the anomaly
//!   score `-score_samples`; z-scores: the combined score in standard deviations; supervised: the
//!   probability of fraud) is mapped to `[0, 1]` by the empirical distribution function of its
//!   training scores (up to 1024 stored quantiles, linearly interpolated). A calibrated 0.99 means
//!   "more anomalous than about 99% of the training events" for every detector, so they can be
//!   averaged.
//! * **`"weighted"` combine**: `risk = sum_d w_d F_d(raw_d) / sum_d w_d`.
//! * **`"supervised"` combine**: the supervised model sees the inputs plus the calibrated scores of
//!   the anomaly detectors (all standardised by their training mean and standard deviation), and
//!   its probability is the risk. The model is fitted on the training events with a known label;
//!   its training probabilities are in-sample, so a threshold from a target alert rate on them is
//!   optimistic.
//! * **Alert**: `is_alert = risk >= threshold`. With a target alert rate `r` (or a contamination),
//!   the threshold is the training risk of rank `max(1, round(r n))` from the top, so about a
//!   fraction `r` of the training events alert (more when risks tie at the threshold).
//!
//! # Reasons
//!
//! Each detector `d` splits its part of the risk over the inputs by shares `share_dj` (summing to
//! 1 over the inputs `j`, or all 0 when nothing stands out):
//!
//! * isolation forest: its per-feature contributions ([`IsolationForest::explain_one`]) divided by
//!   their sum;
//! * z-scores: `|z_j| / sum_i |z_i|`;
//! * logistic regression: the positive parts of `coef_j * x_j` (standardised input) over their sum;
//! * random forest: its feature importances (the same for every event).
//!
//! Under the weighted combine the contribution of input `j` is `sum_d (w_d / sum w) F_d share_dj`;
//! under the supervised combine it is `risk (share_sj + sum_a share_s,a share_aj)`, where the
//! supervised model's share of an anomaly detector `a`'s score is passed on to that detector's own
//! shares. Contributions are non-negative and sum to the risk (less what no detector attributes).
//! The reasons are the `k` largest positive contributions (ties: earlier input first), each with
//! the feature name and its value.
//!
//! # State
//!
//! The fitted pipeline keeps the feature engine **with its state after the training events**: the
//! first [`Pipeline::score`] continues where training ended (windows hold the last training
//! events), as a service that replays its history before going live would. Call
//! [`Pipeline::reset_state`] to start serving from an empty state. [`Pipeline::score_batch`] runs
//! the engine's batch transform from the current state and is identical, bit for bit, to calling
//! [`Pipeline::score`] on each event in order.
//!
//! An event that yields no feature at all (every feature NaN: an event dropped by the `drop`
//! lateness policy) is not scored: its risk is NaN, it does not alert and has no reasons. Any other
//! NaN input (e.g. a window mean without `fill` over an empty window) is an error naming the
//! feature: give the feature a `fill` value in the feature spec.
//!
//! # Hot path
//!
//! [`Pipeline::score_into`] reuses buffers held by the pipeline and the caller's [`Score`]: once
//! warm, it allocates nothing for z-score and isolation-forest detectors (the feature engine
//! allocates only for new entities).
//!
//! ```
//! use fraud_core::scoring::Pipeline;
//! use fraud_core::event::Event;
//!
//! let spec = r#"{
//!   "features": {
//!     "schema": {"timestamp": "ts", "time_unit": "s", "keys": ["card"], "numeric": ["amount"]},
//!     "features": [
//!       {"kind": "window", "name": "n_1h", "key": "card", "agg": "count", "window": "1h"},
//!       {"kind": "relative", "name": "amount_ratio", "key": "card", "field": "amount",
//!        "window": "1d", "mode": "ratio", "fill": 1}
//!     ]},
//!   "detectors": [
//!     {"kind": "isolation_forest", "n_estimators": 50, "random_state": 7},
//!     {"kind": "zscore", "weight": 0.5}
//!   ],
//!   "alert": {"target_alert_rate": 0.05},
//!   "reasons": 2
//! }"#;
//! // 40 cards, one payment of about 20 every 2 hours for 2 days.
//! let events: Vec<Event> = (0..24 * 40)
//!     .map(|i| {
//!         let amount = 20.0 + (i % 7) as f64;
//!         Event::new((i / 40) as i64 * 7_200_000, vec![format!("c{}", i % 40)], vec![amount], None)
//!     })
//!     .collect();
//! let mut pipeline = Pipeline::fit_events(spec.parse()?, &events)?;
//!
//! // Card c3 suddenly pays 5000: it alerts, and the amount ratio is the first reason.
//! let s = pipeline.score(&Event::new(48 * 3_600_000, vec!["c3".into()], vec![5000.0], None))?;
//! assert!(s.is_alert && s.risk > 0.9);
//! assert_eq!(s.reasons[0].feature, "amount_ratio");
//!
//! // One artifact holds everything, the feature state included.
//! let mut restored = Pipeline::from_bytes(&pipeline.to_bytes()?)?;
//! let e = Event::new(49 * 3_600_000, vec!["c4".into()], vec![21.0], None);
//! assert_eq!(restored.score(&e)?, pipeline.score(&e)?);
//! # Ok::<(), fraud_core::Error>(())
//! ```
//!
//! [`IsolationForest::explain_one`]: crate::detectors::iforest::IsolationForest::explain_one

mod artifact;
pub mod calibration;
mod detector;
mod pipeline;
pub mod spec;

#[cfg(test)]
mod tests;

pub use calibration::Calibration;
pub use pipeline::{Pipeline, Reason, Score, ScoreBatch};
pub use spec::{AlertRule, CombineRule, DetectorSpec, PipelineSpec};
