//! `fraud-bench memory`: bounded memory under a stream of distinct keys.
//!
//! Feeds the feature engine `--keys` events whose customer and terminal are all new (the worst case
//! for state: every event creates two entities), with `max_entities` set to `--cap`, and samples at
//! checkpoints the entity count, the engine's own state accounting (`state_bytes`), the LRU
//! evictions and the process's resident memory (Linux `/proc/self/status`). It checks that the
//! entity count never exceeds the cap, that every key beyond the cap was evicted, and that peak
//! resident memory stays under `--budget-mb`; it exits non-zero when one of them fails.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use fraud_core::event::Event;
use fraud_core::features::{FeatureEngine, FeatureSpec};
use serde_json::{Value, json};

/// Options of `fraud-bench memory`.
#[derive(Args, Debug, Clone)]
pub struct MemoryArgs {
    /// Number of events, each with a new customer and a new terminal.
    #[arg(long, default_value_t = 10_000_000)]
    pub keys: u64,
    /// `max_entities`: the cap on entities per key field (least recently used evicted).
    #[arg(long, default_value_t = 100_000)]
    pub cap: usize,
    /// Feature spec (JSON); default: the handbook's 14 features (customer and terminal keys).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Peak resident memory allowed for the whole process, in MiB (the default fits the default
    /// cap: 200,000 handbook entities of about 500 bytes, the key index and the allocator's slack).
    #[arg(long, default_value_t = 160)]
    pub budget_mb: u64,
    /// Number of checkpoints at which memory is sampled.
    #[arg(long, default_value_t = 20)]
    pub checkpoints: u64,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Resident and peak resident memory of this process in bytes (Linux; `None` elsewhere).
fn rss() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// `(n_estimators, max_samples, artifact bytes, memory bytes)` of one fitted forest.
type ModelSize = (usize, usize, usize, usize);

/// Artifact and in-memory sizes of isolation forests (8 features, 20,000 training rows) for a few
/// `(n_estimators, max_samples)`: `(n_estimators, max_samples, artifact bytes, memory bytes)`.
fn model_sizes() -> Result<Vec<ModelSize>, Box<dyn std::error::Error>> {
    use fraud_core::detectors::iforest::{IsolationForest, IsolationForestParams, MaxSamples};
    let x = ndarray::Array2::from_shape_fn((20_000, 8), |(i, j)| {
        ((i as u64 * 2_654_435_761 + j as u64 * 40_503) % 10_007) as f64
    });
    let mut out = Vec::new();
    for (trees, samples) in [(100, 256), (200, 256), (100, 1024), (100, 4096)] {
        let params = IsolationForestParams::default()
            .n_estimators(trees)
            .max_samples(MaxSamples::Count(samples))
            .random_state(1);
        let mut f = IsolationForest::new(params)?;
        f.fit(x.view())?;
        out.push((trees, samples, f.to_bytes()?.len(), f.memory_bytes()));
    }
    Ok(out)
}

/// State bytes per entity of a spec when each entity holds `n` events inside its windows.
fn state_per_entity(spec: &FeatureSpec, n: u64) -> Result<f64, Box<dyn std::error::Error>> {
    let mut spec = spec.clone();
    spec.max_entities = None;
    let mut engine = FeatureEngine::new(spec)?;
    let n_keys = engine.schema().key_fields().len();
    let n_num = engine.schema().numeric_fields().len();
    let entities = 1_000_u64;
    let t0 = 1_522_540_800_000_i64;
    for e in 0..entities * n {
        // Entity e % 1000 gets its events one minute apart: all inside a one-day window.
        let keys = (0..n_keys)
            .map(|k| format!("k{k}-{}", e % entities))
            .collect();
        let ev = Event::new(
            t0 + 60_000 * (e / entities) as i64,
            keys,
            vec![1.0; n_num],
            None,
        );
        engine.update(&ev)?;
    }
    Ok(engine.state_bytes() as f64 / engine.entity_count() as f64)
}

/// Run the memory job; returns the JSON report and whether every check held.
pub fn run(args: &MemoryArgs) -> Result<(Value, bool), Box<dyn std::error::Error>> {
    if args.keys == 0 || args.checkpoints == 0 {
        return Err("--keys and --checkpoints must be at least 1".into());
    }
    let mut spec = match &args.spec {
        Some(p) => FeatureSpec::from_json(
            &std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read the spec {}: {e}", p.display()))?,
        )?,
        None => FeatureSpec::from_json(crate::handbook::BASELINE_SPEC)?,
    };
    spec.max_entities = Some(args.cap);
    let sizes = model_sizes()?;
    println!("isolation forest sizes (8 features):");
    println!(
        "{:>12} {:>12} {:>16} {:>16}",
        "n_estimators", "max_samples", "artifact bytes", "memory bytes"
    );
    for (t, m, a, b) in &sizes {
        println!("{t:>12} {m:>12} {a:>16} {b:>16}");
    }
    let mut per_entity_by_events = Vec::new();
    for n in [1, 10, 100] {
        per_entity_by_events.push((n, state_per_entity(&spec, n)?));
    }
    println!(
        "feature state per entity: {}",
        per_entity_by_events
            .iter()
            .map(|(n, b)| format!("{b:.0} bytes with {n} events in its windows"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut engine = FeatureEngine::new(spec)?;
    let n_keys = engine.schema().key_fields().len();
    let n_num = engine.schema().numeric_fields().len();
    let cap_total = args.cap * n_keys;
    let mut out = vec![0.0; engine.n_features()];
    // 100 ms apart: 10 million events span 11.6 days, inside the handbook spec's 37-day TTL, so
    // the cap (not the TTL) is what bounds the state.
    let t0 = 1_522_540_800_000_i64; // 2018-04-01
    let every = args.keys.div_ceil(args.checkpoints);
    let pb = crate::replay::bar(args.quiet, args.keys, "events");
    let start_rss = rss();
    let mut ev = Event::new(t0, vec![String::new(); n_keys], vec![0.0; n_num], None);
    let mut checkpoints = Vec::new();
    let mut max_entities_seen = 0;
    let started = Instant::now();
    for i in 0..args.keys {
        ev.time_ms = t0 + 100 * i as i64;
        for (k, key) in ev.keys.iter_mut().enumerate() {
            key.clear();
            use std::fmt::Write;
            write!(key, "k{k}-{i}").expect("writing to a String");
        }
        for (j, v) in ev.values.iter_mut().enumerate() {
            *v = ((i * 7919 + j as u64 * 104_729) % 100_000) as f64 / 100.0;
        }
        engine.update_into(&ev, &mut out)?;
        if (i + 1) % every == 0 || i + 1 == args.keys {
            let entities = engine.entity_count();
            max_entities_seen = max_entities_seen.max(entities);
            let (rss_now, rss_peak) = rss().unwrap_or((0, 0));
            checkpoints.push(json!({
                "events": i + 1,
                "entities": entities,
                "state_bytes": engine.state_bytes(),
                "lru_evictions": engine.stats().lru_evictions,
                "rss_bytes": rss_now,
                "peak_rss_bytes": rss_peak,
            }));
            pb.set_position(i + 1);
        }
    }
    pb.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let stats = engine.stats();
    let (_, peak) = rss().unwrap_or((0, 0));
    let expected_evictions = (args.keys.saturating_sub(args.cap as u64)) * n_keys as u64;
    let cap_held = max_entities_seen <= cap_total;
    let evictions_ok = stats.lru_evictions == expected_evictions;
    let budget = args.budget_mb * 1024 * 1024;
    let budget_ok = peak == 0 || peak <= budget;
    let per_entity = engine.state_bytes() as f64 / engine.entity_count().max(1) as f64;
    let mib = |b: u64| b as f64 / 1_048_576.0;

    println!(
        "memory: {} events, each with {} new keys; max_entities {} per key field ({} in all)",
        args.keys, n_keys, args.cap, cap_total
    );
    println!(
        "{:>12} {:>10} {:>14} {:>14} {:>10} {:>10}",
        "events", "entities", "state MiB", "evictions", "RSS MiB", "peak MiB"
    );
    for c in &checkpoints {
        println!(
            "{:>12} {:>10} {:>14.1} {:>14} {:>10.1} {:>10.1}",
            c["events"].as_u64().unwrap_or(0),
            c["entities"].as_u64().unwrap_or(0),
            mib(c["state_bytes"].as_u64().unwrap_or(0)),
            c["lru_evictions"].as_u64().unwrap_or(0),
            mib(c["rss_bytes"].as_u64().unwrap_or(0)),
            mib(c["peak_rss_bytes"].as_u64().unwrap_or(0)),
        );
    }
    println!(
        "{:.0} events/s; state {per_entity:.0} bytes per entity; peak RSS {:.1} MiB (budget {} MiB, \
         at start {:.1} MiB)",
        args.keys as f64 / secs,
        mib(peak),
        args.budget_mb,
        mib(start_rss.map_or(0, |r| r.0)),
    );
    println!(
        "checks: entities <= cap: {}; evictions = keys beyond the cap ({}): {}; peak RSS <= budget: {}",
        if cap_held { "ok" } else { "FAILED" },
        expected_evictions,
        if evictions_ok { "ok" } else { "FAILED" },
        if peak == 0 {
            "not measured (no /proc)"
        } else if budget_ok {
            "ok"
        } else {
            "FAILED"
        },
    );
    let report = json!({
        "keys": args.keys,
        "cap_per_key_field": args.cap,
        "key_fields": n_keys,
        "events_per_second": args.keys as f64 / secs,
        "state_bytes_per_entity": per_entity,
        "max_entities_seen": max_entities_seen,
        "lru_evictions": stats.lru_evictions,
        "expected_evictions": expected_evictions,
        "peak_rss_bytes": peak,
        "budget_bytes": budget,
        "checkpoints": checkpoints,
        "iforest_sizes": sizes
            .iter()
            .map(|(t, m, a, b)| json!({"n_estimators": t, "max_samples": m, "artifact_bytes": a, "memory_bytes": b}))
            .collect::<Vec<_>>(),
        "state_bytes_per_entity_by_events": per_entity_by_events
            .iter()
            .map(|(n, b)| json!({"events": n, "bytes": b}))
            .collect::<Vec<_>>(),
        "ok": cap_held && evictions_ok && budget_ok,
    });
    if let Some(path) = &args.json {
        fraud_core::model::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok((report, cap_held && evictions_ok && budget_ok))
}
