//! Feature-engine figures for the handbook spec on the shared handbook stream (or the simulator's
//! default run when the shared data is absent): batch transform time (best of `--repeat`), the
//! per-event latency of `update` from an hdrhistogram (p50/p90/p99/p99.9/max), and state size.
//!
//! The transform is timed twice: `transform_columns`, which allocates its output matrix (a fresh
//! 196 MB for the shared stream, whose first touches are page faults), and
//! `transform_columns_into` a buffer reused across runs (what the Python binding does with a numpy
//! array, whose allocator asks for huge pages, and what a service running repeated backfills would
//! do). `--transform-only` skips the `update` part (for profiling the transform).
//!
//! ```text
//! cargo run --release -p fraud-bench --example feature_latency [-- --repeat 3] [--transform-only]
//! ```

use std::time::Instant;

use fraud_core::event::Event;
use fraud_core::features::{FeatureEngine, FeatureSpec};
use hdrhistogram::Histogram;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repeat: usize = std::env::args()
        .skip_while(|a| a != "--repeat")
        .nth(1)
        .map_or(Ok(3), |v| v.parse())?;
    let spec = FeatureSpec::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../datasets/specs/handbook.json"
    ))?;
    let t = Instant::now();
    let shared = fraud_datasets::datasets_dir()
        .map(|d| d.join("fraud_handbook_transactions_2018-04-01_2018-09-30.csv.gz"))
        .filter(|p| p.exists());
    let (name, tx) = match shared {
        Some(p) => (
            "shared handbook stream",
            fraud_datasets::transactions::load_handbook(p)?,
        ),
        None => (
            "simulated stream (shared data not found)",
            fraud_datasets::simulator::simulate(&Default::default())?,
        ),
    };
    println!(
        "{name}: {} transactions, read in {:.2} s (not counted)",
        tx.len(),
        t.elapsed().as_secs_f64()
    );
    let cols = tx.handbook_columns();
    let mut best = f64::INFINITY;
    let mut engine = FeatureEngine::new(spec.clone())?;
    for _ in 0..repeat.max(1) {
        engine = FeatureEngine::new(spec.clone())?;
        let t = Instant::now();
        let out = engine.transform_columns(&cols.view(&tx))?;
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(out);
    }
    println!(
        "transform_columns (1 thread, best of {repeat}): {best:.3} s, {:.0} rows/s, {:.0} ns/row",
        tx.len() as f64 / best,
        best * 1e9 / tx.len() as f64
    );
    let mut reused = vec![0.0; tx.len() * engine.n_features()];
    let mut best_into = f64::INFINITY;
    for _ in 0..repeat.max(1) {
        engine = FeatureEngine::new(spec.clone())?;
        let t = Instant::now();
        engine.transform_columns_into(&cols.view(&tx), &mut reused)?;
        best_into = best_into.min(t.elapsed().as_secs_f64());
        std::hint::black_box(&reused);
    }
    println!(
        "transform_columns_into a reused buffer (best of {repeat}): {best_into:.3} s, {:.0} rows/s, {:.0} ns/row",
        tx.len() as f64 / best_into,
        best_into * 1e9 / tx.len() as f64
    );
    drop(reused);
    let entities = engine.entity_count();
    let snapshot = engine.snapshot()?;
    println!(
        "state after the stream: {entities} entities, ~{} bytes of heap ({:.0} bytes/entity), snapshot {} bytes",
        engine.state_bytes(),
        engine.state_bytes() as f64 / entities as f64,
        snapshot.len()
    );

    if std::env::args().any(|a| a == "--transform-only") {
        return Ok(());
    }

    // update, one event at a time, from a fresh engine over the whole stream.
    let events: Vec<Event> = (0..tx.len()).map(|i| tx.event(i, true)).collect();
    let mut engine = FeatureEngine::new(spec)?;
    let mut out = vec![0.0; engine.n_features()];
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let warmup = events.len() / 10;
    for (i, ev) in events.iter().enumerate() {
        let t = Instant::now();
        engine.update_into(ev, &mut out)?;
        let ns = t.elapsed().as_nanos() as u64;
        if i >= warmup {
            hist.record(ns.max(1))?;
        }
    }
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "update per event (after {warmup} warm-up events, {} timed): p50 {:.2} us, p90 {:.2} us, p99 {:.2} us, p99.9 {:.2} us, max {:.1} us",
        hist.len(),
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        hist.max() as f64 / 1000.0
    );
    Ok(())
}
