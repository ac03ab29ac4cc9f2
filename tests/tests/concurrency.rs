//! Concurrency: the public types are `Send + Sync` where sharing them makes sense (checked at compile
//! time), and one fitted model or pipeline used from 8 threads at once gives exactly the results of
//! sequential use.

use std::sync::{Barrier, Mutex};
use std::thread;

use fraud_core::detectors::iforest::{IsolationForest, IsolationForestParams};
use fraud_core::detectors::supervised::{SupervisedModel, SupervisedParams};
use fraud_core::detectors::zscore::{RobustZScore, ZScore, ZScoreParams};
use fraud_core::event::Event;
use fraud_core::features::FeatureEngine;
use fraud_core::scoring::{Pipeline, PipelineSpec, Score};
use fraud_datasets::simulator::{SimulatorConfig, simulate};
use ndarray::{Array2, s};
use serde_json::json;

const THREADS: usize = 8;

/// Fails to compile unless `T` can be moved to and shared between threads.
fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_and_sync() {
    assert_send_sync::<IsolationForest>();
    assert_send_sync::<IsolationForestParams>();
    assert_send_sync::<ZScore>();
    assert_send_sync::<RobustZScore>();
    assert_send_sync::<SupervisedModel>();
    assert_send_sync::<FeatureEngine>();
    assert_send_sync::<Pipeline>();
    assert_send_sync::<PipelineSpec>();
    assert_send_sync::<Score>();
    assert_send_sync::<Event>();
    assert_send_sync::<fraud_core::Error>();
    assert_send_sync::<fraud_core::features::FeatureSpec>();
    assert_send_sync::<fraud_core::scoring::Calibration>();
}

/// Rows with a few planted outliers (deterministic, no RNG crate needed).
fn matrix(n: usize, d: usize) -> Array2<f64> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    Array2::from_shape_fn((n, d), |(i, _)| {
        let v = next();
        if i % 97 == 0 { 8.0 + v } else { v }
    })
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Each of 8 threads, released together, scores every chunk (in a thread-specific order) with the
/// shared model; every result equals the sequential one bit for bit.
#[test]
fn one_model_scored_from_8_threads_equals_sequential() {
    let x = matrix(4_000, 6);
    let mut forest =
        IsolationForest::new(IsolationForestParams::default().random_state(3)).unwrap();
    forest.fit(x.view()).unwrap();
    let mut z = ZScore::new(ZScoreParams::default()).unwrap();
    z.fit(x.view()).unwrap();
    let mut rz = RobustZScore::new(ZScoreParams::default()).unwrap();
    rz.fit(x.view()).unwrap();
    let y: Vec<bool> = (0..x.nrows()).map(|i| i % 97 == 0).collect();
    let mut sup = SupervisedModel::new(SupervisedParams::default().random_state(5)).unwrap();
    sup.fit(x.view(), &y).unwrap();

    let chunks: Vec<_> = (0..16).map(|c| c * 250..(c + 1) * 250).collect();
    let score = |r: &std::ops::Range<usize>| -> Vec<u64> {
        let v = x.slice(s![r.clone(), ..]);
        let mut out = bits(forest.score_samples(v).unwrap().as_slice().unwrap());
        out.extend(bits(
            forest.decision_function(v).unwrap().as_slice().unwrap(),
        ));
        out.extend(bits(z.score_samples(v).unwrap().as_slice().unwrap()));
        out.extend(bits(rz.score_samples(v).unwrap().as_slice().unwrap()));
        out.extend(bits(sup.predict_proba(v).unwrap().as_slice().unwrap()));
        for row in v.rows() {
            let row = row.to_vec();
            out.push(forest.score_one(&row).unwrap().to_bits());
            out.push(z.score_one(&row).unwrap().to_bits());
        }
        out
    };
    let expected: Vec<Vec<u64>> = chunks.iter().map(score).collect();

    let barrier = Barrier::new(THREADS);
    let results: Vec<Vec<(usize, Vec<u64>)>> = thread::scope(|sc| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (barrier, chunks, score) = (&barrier, &chunks, &score);
                sc.spawn(move || {
                    barrier.wait();
                    // Each thread walks the chunks from a different starting point.
                    (0..chunks.len())
                        .map(|k| (k + 2 * t) % chunks.len())
                        .map(|c| (c, score(&chunks[c])))
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for per_thread in results {
        assert_eq!(per_thread.len(), chunks.len());
        for (c, got) in per_thread {
            assert_eq!(got, expected[c], "chunk {c}");
        }
    }
}

/// One stream per thread with its own customers and terminals (a partitioned serving set-up):
/// 8 threads interleave their events through one shared pipeline, and each thread's scores equal
/// those of its stream scored alone.
#[test]
fn one_pipeline_shared_by_8_threads_equals_sequential_per_partition() {
    let mut features: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../datasets/specs/handbook.json"
        ))
        .unwrap(),
    )
    .unwrap();
    // Threads run at different speeds, so one partition's events may be older than another's
    // newest: allow that lateness (each partition's own events arrive in order, so every window is
    // exact) and keep every entity (no TTL).
    features["lateness"] = json!({"allowed": "120d", "policy": "error"});
    features.as_object_mut().unwrap().remove("ttl");
    let spec = PipelineSpec::from_value(json!({
        "features": features,
        "detectors": [
            {"kind": "isolation_forest", "n_estimators": 50, "random_state": 1},
            {"kind": "zscore", "weight": 0.5}
        ],
        "alert": {"target_alert_rate": 0.02},
        "reasons": 3
    }))
    .unwrap();
    let train = simulate(&SimulatorConfig::new(100, 200, 20, 1).unwrap()).unwrap();
    let cols = train.handbook_columns();
    let mut fitted = Pipeline::fit(spec, &cols.view(&train)).unwrap();
    fitted.reset_state().unwrap();
    let artifact = fitted.to_bytes().unwrap();

    // Partition p: its own simulated stream, keys prefixed so no entity is shared.
    let partitions: Vec<Vec<Event>> = (0..THREADS)
        .map(|p| {
            let tx =
                simulate(&SimulatorConfig::new(100, 200, 15, 100 + p as u64).unwrap()).unwrap();
            (0..tx.len())
                .map(|i| {
                    let mut e = tx.event(i, false);
                    for k in &mut e.keys {
                        *k = format!("p{p}-{k}");
                    }
                    e
                })
                .collect()
        })
        .collect();
    let key = |s: &Score| {
        let mut v = vec![s.risk.to_bits(), u64::from(s.is_alert)];
        for r in &s.reasons {
            v.extend([r.value.to_bits(), r.contribution.to_bits()]);
            v.extend(r.feature.bytes().map(u64::from));
        }
        v
    };
    let expected: Vec<Vec<Vec<u64>>> = partitions
        .iter()
        .map(|events| {
            let mut p = Pipeline::from_bytes(&artifact).unwrap();
            events.iter().map(|e| key(&p.score(e).unwrap())).collect()
        })
        .collect();

    let shared = Mutex::new(Pipeline::from_bytes(&artifact).unwrap());
    let barrier = Barrier::new(THREADS);
    let got: Vec<Vec<Vec<u64>>> = thread::scope(|sc| {
        let handles: Vec<_> = partitions
            .iter()
            .map(|events| {
                let (shared, barrier) = (&shared, &barrier);
                sc.spawn(move || {
                    barrier.wait();
                    events
                        .iter()
                        .map(|e| key(&shared.lock().unwrap().score(e).unwrap()))
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total: usize = partitions.iter().map(Vec::len).sum();
    assert!(total > 5_000, "{total} events");
    for (p, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "partition {p}");
    }
    // Every partition's entities are in the shared engine: nothing was lost or merged.
    let solo: usize = expected.len();
    assert_eq!(solo, THREADS);
    let entities = shared.lock().unwrap().engine().entity_count();
    let mut alone = 0;
    for events in &partitions {
        let mut p = Pipeline::from_bytes(&artifact).unwrap();
        p.score_batch_events(events).unwrap();
        alone += p.engine().entity_count();
    }
    assert_eq!(entities, alone);
}
