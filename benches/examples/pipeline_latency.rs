//! Per-event latency of `Pipeline::score` (features + isolation forest with 100 trees + z-score +
//! 3 reasons) on simulated transactions with the handbook features, as an hdrhistogram.
//!
//! `cargo run --release -p fraud-bench --example pipeline_latency [customers] [days] [reasons]`
//! (default 2000 customers, 4000 terminals, 60 days: the first 30 days train, the rest are scored
//! one event at a time, continuing the training state).

use std::time::Instant;

use fraud_core::event::Event;
use fraud_core::scoring::{Pipeline, PipelineSpec, Score};
use fraud_datasets::simulator::{SimulatorConfig, simulate};
use hdrhistogram::Histogram;

fn main() {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let (customers, days, reasons) = (arg(1, 2000), arg(2, 60) as u32, arg(3, 3));
    let tx = simulate(&SimulatorConfig::new(customers, 2 * customers, days, 7).unwrap()).unwrap();
    let cut = tx.len() / 2;
    let (train, test) = (tx.slice(0..cut), tx.slice(cut..tx.len()));
    let features: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../datasets/specs/handbook.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let spec = PipelineSpec::from_value(serde_json::json!({
        "features": features,
        "detectors": [
            {"kind": "isolation_forest", "n_estimators": 100, "random_state": 1},
            {"kind": "zscore"}
        ],
        "alert": {"target_alert_rate": 0.01},
        "reasons": reasons
    }))
    .unwrap();
    let t = Instant::now();
    let cols = train.handbook_columns();
    let mut p = Pipeline::fit(spec, &cols.view(&train)).unwrap();
    eprintln!(
        "fit on {} events ({} features, 100 trees, {reasons} reasons): {:.2?}; artifact {} KiB",
        train.len(),
        p.feature_names().len(),
        t.elapsed(),
        p.to_bytes().unwrap().len() / 1024
    );
    let events: Vec<Event> = (0..test.len()).map(|i| test.event(i, false)).collect();
    for (name, reuse) in [("score_into (reused Score)", true), ("score", false)] {
        let mut q = Pipeline::from_bytes(&p.to_bytes().unwrap()).unwrap();
        let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
        let mut out = Score::default();
        let mut alerts = 0usize;
        let all = Instant::now();
        for e in &events {
            let t = Instant::now();
            if reuse {
                q.score_into(e, &mut out).unwrap();
            } else {
                out = q.score(e).unwrap();
            }
            h.record(t.elapsed().as_nanos().max(1) as u64).unwrap();
            alerts += usize::from(out.is_alert);
        }
        let total = all.elapsed();
        println!(
            "{name}: {} events in {total:.2?}; per event p50 {:.2} us, p90 {:.2} us, p99 {:.2} us, \
             p99.9 {:.2} us, max {:.2} us; alert rate {:.4}",
            events.len(),
            h.value_at_quantile(0.5) as f64 / 1e3,
            h.value_at_quantile(0.9) as f64 / 1e3,
            h.value_at_quantile(0.99) as f64 / 1e3,
            h.value_at_quantile(0.999) as f64 / 1e3,
            h.max() as f64 / 1e3,
            alerts as f64 / events.len() as f64
        );
    }
    // Keep `p` alive to the end (its state is the training state).
    let _ = p.score(&events[0]);
}
