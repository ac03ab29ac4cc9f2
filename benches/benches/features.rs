//! Criterion benches of the feature engine with the handbook spec (`datasets/specs/handbook.json`,
//! 14 features over customers and terminals): the batch transform of a whole stream, and `update`
//! per event on a warm engine. The stream is the shared handbook file when present (1.75M
//! transactions), else the seeded simulator's default run of the same size.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fraud_core::event::Event;
use fraud_core::features::{FeatureEngine, FeatureSpec};
use fraud_datasets::transactions::Transactions;

fn spec() -> FeatureSpec {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../datasets/specs/handbook.json"
    );
    FeatureSpec::from_path(path).expect("handbook spec loads")
}

fn stream() -> (String, Transactions) {
    if let Some(dir) = fraud_datasets::datasets_dir() {
        let p = dir.join("fraud_handbook_transactions_2018-04-01_2018-09-30.csv.gz");
        if p.exists() {
            let tx = fraud_datasets::transactions::load_handbook(p).expect("handbook loads");
            return ("handbook".into(), tx);
        }
    }
    eprintln!("NOTE: shared datasets not found; benchmarking the simulator's default stream");
    let cfg = fraud_datasets::simulator::SimulatorConfig::default();
    (
        "simulated".into(),
        fraud_datasets::simulator::simulate(&cfg).expect("simulates"),
    )
}

fn benches(c: &mut Criterion) {
    let (name, tx) = stream();
    let spec = spec();
    let cols = tx.handbook_columns();
    let mut g = c.benchmark_group("features");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.throughput(Throughput::Elements(tx.len() as u64));
    g.bench_function(format!("transform_columns/{name}"), |b| {
        b.iter(|| {
            let mut e = FeatureEngine::new(spec.clone()).unwrap();
            e.transform_columns(&cols.view(&tx)).unwrap()
        })
    });
    g.finish();

    // update: warm the engine on the first 80% of the stream, then time single events from the
    // rest; when they run out, restore the warm snapshot (outside the timing) and start over.
    let split = tx.len() * 4 / 5;
    let mut warm = FeatureEngine::new(spec.clone()).unwrap();
    let head = tx.slice(0..split);
    warm.transform_columns(&head.handbook_columns().view(&head))
        .unwrap();
    let snapshot = warm.snapshot().unwrap();
    let events: Vec<Event> = (split..tx.len()).map(|i| tx.event(i, true)).collect();
    let mut g = c.benchmark_group("features");
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("update/{name}"), |b| {
        let mut engine = FeatureEngine::restore(&snapshot).unwrap();
        let mut out = vec![0.0; engine.n_features()];
        let mut next = 0usize;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                if next == events.len() {
                    engine = FeatureEngine::restore(&snapshot).unwrap();
                    next = 0;
                }
                let k = left.min((events.len() - next) as u64) as usize;
                let t = Instant::now();
                for ev in &events[next..next + k] {
                    engine.update_into(ev, &mut out).unwrap();
                }
                total += t.elapsed();
                next += k;
                left -= k as u64;
            }
            total
        })
    });
    g.finish();
}

criterion_group!(features, benches);
criterion_main!(features);
