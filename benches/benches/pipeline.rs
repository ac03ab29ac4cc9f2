//! Criterion bench of `Pipeline::score_into` per event: handbook features + isolation forest (100
//! trees) + z-score + 3 reasons, fitted on simulated transactions (1000 customers, 2000 terminals,
//! 40 days; the first half trains). Events are replayed in order, shifted forward in time on each
//! pass so that the feature state keeps moving on. Percentiles: the `pipeline_latency` example.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use fraud_core::event::Event;
use fraud_core::scoring::{Pipeline, PipelineSpec, Score};
use fraud_datasets::simulator::{SimulatorConfig, simulate};

fn setup() -> (Pipeline, Vec<Event>) {
    let tx = simulate(&SimulatorConfig::new(1000, 2000, 40, 7).unwrap()).unwrap();
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
        "reasons": 3
    }))
    .unwrap();
    let cols = train.handbook_columns();
    let p = Pipeline::fit(spec, &cols.view(&train)).unwrap();
    let events = (0..test.len()).map(|i| test.event(i, false)).collect();
    (p, events)
}

fn benches(c: &mut Criterion) {
    let (mut p, mut events) = setup();
    let span = events.last().unwrap().time_ms - events[0].time_ms + 86_400_000;
    let mut i = 0usize;
    let mut out = Score::default();
    c.bench_function("pipeline/score_into/handbook+iforest100+zscore", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if i == events.len() {
                    i = 0;
                    events.iter_mut().for_each(|e| e.time_ms += span);
                }
                let t = Instant::now();
                p.score_into(&events[i], &mut out).unwrap();
                total += t.elapsed();
                i += 1;
            }
            total
        })
    });
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
