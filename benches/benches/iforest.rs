//! Criterion benches of the isolation forest: fit, batch scoring (one thread and every core) and one
//! row, 100 trees x 256 samples, on the shared `cover` set (286,048 x 10) when present, else on a
//! seeded synthetic set of the same shape.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fraud_core::detectors::iforest::{IsolationForest, IsolationForestParams};
use ndarray::Array2;

fn cover() -> (String, Array2<f64>) {
    if let Some(dir) = fraud_datasets::datasets_dir() {
        let p = dir.join("cover.csv.gz");
        if p.exists() {
            return (
                "cover".into(),
                fraud_datasets::odds::load(p).expect("cover loads").x,
            );
        }
    }
    eprintln!("NOTE: shared datasets not found; benchmarking a synthetic 286048 x 10 set");
    (
        "synthetic".into(),
        fraud_datasets::synthetic::clusters_with_outliers(286_048, 10, 0.01, 1).x,
    )
}

/// A small set (cardio, 1,831 x 21), where fixed costs dominate fitting.
fn cardio() -> Option<Array2<f64>> {
    let p = fraud_datasets::datasets_dir()?.join("cardio.csv.gz");
    p.exists()
        .then(|| fraud_datasets::odds::load(p).expect("cardio loads").x)
}

fn benches(c: &mut Criterion) {
    if let Some(small) = cardio() {
        let params = IsolationForestParams::default().random_state(0);
        c.bench_function("iforest/fit/cardio", |b| {
            b.iter(|| {
                let mut f = IsolationForest::new(params.clone()).unwrap();
                f.fit(small.view()).unwrap();
                f
            })
        });
    }
    let (name, x) = cover();
    let params = IsolationForestParams::default().random_state(0);
    let mut g = c.benchmark_group("iforest");
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("fit", &name), |b| {
        b.iter(|| {
            let mut f = IsolationForest::new(params.clone()).unwrap();
            f.fit(x.view()).unwrap();
            f
        })
    });
    let mut one = IsolationForest::new(params.clone().n_jobs(1)).unwrap();
    one.fit(x.view()).unwrap();
    let mut all = IsolationForest::new(params.clone().n_jobs(-1)).unwrap();
    all.fit(x.view()).unwrap();
    g.throughput(Throughput::Elements(x.nrows() as u64));
    g.bench_function(BenchmarkId::new("score_batch_1_thread", &name), |b| {
        b.iter(|| one.score_samples(x.view()).unwrap())
    });
    g.bench_function(BenchmarkId::new("score_batch_all_cores", &name), |b| {
        b.iter(|| all.score_samples(x.view()).unwrap())
    });
    g.finish();
    let mut g = c.benchmark_group("iforest_single_row");
    let rows: Vec<Vec<f64>> = x.outer_iter().take(4096).map(|r| r.to_vec()).collect();
    let mut i = 0;
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::new("score_one", &name), |b| {
        b.iter(|| {
            i = (i + 1) % rows.len();
            one.score_one(&rows[i]).unwrap()
        })
    });
    g.finish();
}

criterion_group!(iforest, benches);
criterion_main!(iforest);
