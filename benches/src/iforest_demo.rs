//! `fraud-bench iforest`: the isolation forest alone on a seeded synthetic outlier set: fit,
//! batch scoring (one thread and every core), row-by-row scoring, quality and latency.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use fraud_core::detectors::iforest::{IsolationForest, IsolationForestParams};
use fraud_core::metrics::{average_precision, precision_at_k, roc_auc};
use hdrhistogram::Histogram;

/// Options of the isolation-forest demo.
#[derive(Args, Debug, Clone)]
pub struct IforestArgs {
    /// Rows of demo data.
    #[arg(long, default_value_t = 200_000)]
    pub rows: usize,
    /// Features per row.
    #[arg(long, default_value_t = 8)]
    pub features: usize,
    /// Fraction of planted anomalies.
    #[arg(long, default_value_t = 0.01)]
    pub contamination: f64,
    /// Seed of the data and the model.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Trees in the forest.
    #[arg(long, default_value_t = 100)]
    pub trees: usize,
    /// Write the report as JSON to this file (atomically).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Run the demo.
pub fn run(args: &IforestArgs) -> Result<(), Box<dyn std::error::Error>> {
    if args.rows < 2 || args.features == 0 || !(0.0..0.5).contains(&args.contamination) {
        return Err("need --rows >= 2, --features >= 1 and --contamination in [0, 0.5)".into());
    }
    eprintln!(
        "[1/4] simulating {} rows x {} features ({}% planted anomalies, seed {})",
        args.rows,
        args.features,
        args.contamination * 100.0,
        args.seed
    );
    let data = fraud_datasets::synthetic::clusters_with_outliers(
        args.rows,
        args.features,
        args.contamination,
        args.seed,
    );
    let x = data.x.view();

    eprintln!(
        "[2/4] fitting an isolation forest ({} trees, 256 rows each)",
        args.trees
    );
    let params = IsolationForestParams::default()
        .n_estimators(args.trees)
        .random_state(args.seed);
    let t = Instant::now();
    let mut forest = IsolationForest::new(params.clone().n_jobs(1))?;
    forest.fit(x)?;
    let fit_s = t.elapsed().as_secs_f64();

    eprintln!("[3/4] batch scoring (one thread, then every core)");
    let best_of = |f: &IsolationForest| -> Result<(f64, Vec<f64>), fraud_core::Error> {
        let mut best = f64::INFINITY;
        let mut scores = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            scores = f.score_samples(x)?.to_vec();
            best = best.min(t.elapsed().as_secs_f64());
        }
        Ok((best, scores))
    };
    let (one_s, scores) = best_of(&forest)?;
    let mut parallel = forest.clone();
    parallel.set_params(params.clone().n_jobs(-1))?;
    let (all_s, scores_all) = best_of(&parallel)?;
    if scores_all != scores {
        return Err("parallel scores differ from single-thread scores".into());
    }

    eprintln!("[4/4] scoring row by row");
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let mut checksum = 0.0;
    for (i, row) in data.x.outer_iter().enumerate() {
        let row = row.to_vec();
        let t = Instant::now();
        let s = forest.score_one(&row)?;
        hist.record(t.elapsed().as_nanos().max(1) as u64)?;
        if s.to_bits() != scores[i].to_bits() {
            return Err(format!("row {i}: score_one differs from the batch score").into());
        }
        checksum += s;
    }

    let anomaly: Vec<f64> = scores.iter().map(|s| -s).collect();
    let k = data.y.iter().filter(|&&a| a).count().max(1);
    let auc = roc_auc(&data.y, &anomaly)?;
    let ap = average_precision(&data.y, &anomaly)?;
    let pk = precision_at_k(&data.y, &anomaly, k)?;
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let n = args.rows as f64;
    println!("fraud-bench demo: isolation forest on seeded synthetic data");
    println!(
        "  data            {} rows x {} features, {} anomalies, seed {}",
        args.rows, args.features, k, args.seed
    );
    println!("  quality         ROC AUC {auc:.4}   AP {ap:.4}   precision@{k} {pk:.4}");
    println!(
        "  fit             {:.1} ms ({} trees)",
        fit_s * 1e3,
        args.trees
    );
    println!("  batch, 1 thread {:.2} M rows/s", n / one_s / 1e6);
    println!(
        "  batch, all cores {:.2} M rows/s ({} threads)",
        n / all_s / 1e6,
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    println!(
        "  score_one       p50 {:.2} us  p90 {:.2} us  p99 {:.2} us  p99.9 {:.2} us  max {:.2} us",
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        hist.max() as f64 / 1000.0
    );
    let artifact_bytes = forest.to_bytes()?.len();
    println!(
        "  model           {:.0} KiB in memory, {:.0} KiB as an artifact",
        forest.memory_bytes() as f64 / 1024.0,
        artifact_bytes as f64 / 1024.0
    );
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "data": {"rows": args.rows, "features": args.features, "anomalies": k, "seed": args.seed},
            "quality": {"roc_auc": auc, "average_precision": ap, "precision_at_k": pk, "k": k},
            "fit_seconds": fit_s,
            "batch_rows_per_second": {"one_thread": n / one_s, "all_cores": n / all_s},
            "score_one_us": {"p50": us(0.5), "p90": us(0.9), "p99": us(0.99), "p999": us(0.999), "max": hist.max() as f64 / 1000.0},
            "model_bytes": {"memory": forest.memory_bytes(), "artifact": artifact_bytes},
            "checksum": checksum,
        });
        fraud_core::model::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
        eprintln!("report written to {}", path.display());
    }
    Ok(())
}
