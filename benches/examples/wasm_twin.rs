//! Native twin of the WASM benchmark (`node fraud-wasm/bench/bench.mjs --native`): the same golden
//! models, the same inputs, the same method, in native Rust.
//!
//! `cargo run --release -p fraud-bench --example wasm_twin -- EVENTS.json [N]`
//!
//! * `IsolationForest::score_one` on the rows of `tests/golden/iforest_v1_expected.json`, round
//!   robin (as `IsolationForest.scoreOne`);
//! * `Pipeline::score_json` (field reading, features, detectors, reasons: what `scoreEvent` does)
//!   with `tests/golden/pipeline_v1.bin` on EVENTS.json (an array of event objects written by
//!   `bench.mjs`), one event at a time, continuing the state.
//!
//! `score_one`: a warm-up of at least one second and 20,000 calls; `score_json`: the events the
//! WASM side used for its warm-up. Then `N` calls (default 50,000) timed one by one (p50, p99) and
//! as a whole (mean). The last line is the figures as JSON.

use std::hint::black_box;
use std::time::Instant;

use fraud_core::detectors::iforest::IsolationForest;
use fraud_core::scoring::Pipeline;
use serde_json::{Map, Value, json};

struct Figures {
    warm: usize,
    mean: f64,
    p50: f64,
    p99: f64,
}

fn measure(count: usize, mut f: impl FnMut(usize)) -> Figures {
    let t0 = Instant::now();
    let mut warm = 0;
    while warm < 20_000 || t0.elapsed().as_secs_f64() < 1.0 {
        f(warm);
        warm += 1;
    }
    let mut ns = Vec::with_capacity(count);
    let start = Instant::now();
    for i in 0..count {
        let a = Instant::now();
        f(warm + i);
        ns.push(a.elapsed().as_nanos() as f64);
    }
    summarize(warm, ns, start.elapsed().as_nanos() as f64)
}

/// Percentiles of per-call times `ns` and the mean from the loop's `total` (nanoseconds).
fn summarize(warm: usize, mut ns: Vec<f64>, total: f64) -> Figures {
    let count = ns.len();
    ns.sort_by(f64::total_cmp);
    let q = |p: f64| ns[((p * count as f64) as usize).min(count - 1)] / 1000.0;
    Figures {
        warm,
        mean: total / count as f64 / 1000.0,
        p50: q(0.5),
        p99: q(0.99),
    }
}

fn show(label: &str, m: &Figures) {
    println!(
        "{label}: mean {:.2} us, p50 {:.2} us, p99 {:.2} us ({} warm-up calls)",
        m.mean, m.p50, m.p99, m.warm
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let events_path = args.next().ok_or("usage: wasm_twin EVENTS.json [N]")?;
    let n: usize = args.next().map_or(Ok(50_000), |a| a.parse())?;
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/golden");

    let forest = IsolationForest::load(format!("{golden}/iforest_v1.bin"))?;
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(format!(
        "{golden}/iforest_v1_expected.json"
    ))?)?;
    let rows: Vec<Vec<f64>> = serde_json::from_value(expected["rows"].clone())?;
    let mut sink = 0.0;
    let one = measure(n, |i| {
        sink += forest.score_one(black_box(&rows[i % rows.len()])).unwrap();
    });
    black_box(sink);
    show(
        "native IsolationForest::score_one (50 trees, 5 features)",
        &one,
    );

    let events: Vec<Map<String, Value>> =
        serde_json::from_str(&std::fs::read_to_string(&events_path)?)?;
    if events.len() <= n {
        return Err(format!(
            "{events_path} holds {} events, not more than N",
            events.len()
        )
        .into());
    }
    // The very events the WASM side scored: its warm-up events first, then the N it timed.
    let mut p = Pipeline::load(format!("{golden}/pipeline_v1.bin"))?;
    let warm = events.len() - n;
    let mut alerts = 0usize;
    for e in &events[..warm] {
        alerts += usize::from(p.score_json(e)?.is_alert);
    }
    let mut ns = Vec::with_capacity(n);
    let start = Instant::now();
    for e in &events[warm..] {
        let a = Instant::now();
        alerts += usize::from(p.score_json(black_box(e))?.is_alert);
        ns.push(a.elapsed().as_nanos() as f64);
    }
    let ev = summarize(warm, ns, start.elapsed().as_nanos() as f64);
    show("native Pipeline::score_json (pipeline_v1)", &ev);
    println!("alert rate {:.4}", alerts as f64 / events.len() as f64);
    let fig = |m: &Figures| json!({"mean": m.mean, "p50": m.p50, "p99": m.p99});
    println!(
        "{}",
        json!({"score_one": fig(&one), "score_event": fig(&ev)})
    );
    Ok(())
}
