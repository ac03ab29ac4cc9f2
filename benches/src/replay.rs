//! The replay job: simulate (or read) a transaction stream, fit a pipeline on its training period,
//! then replay the test period one event at a time through the pipeline's `score` (feature
//! update, detectors and reason codes) and report detection quality, per-event latency,
//! throughput and state size.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use fraud_core::event::Event;
use fraud_core::metrics::{average_precision, card_precision_at_k, roc_auc};
use fraud_core::scoring::{Pipeline, PipelineSpec, Score};
use fraud_datasets::simulator::{SimulatorConfig, simulate};
use fraud_datasets::transactions::{ColumnMap, Transactions, load_csv};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

/// The pipeline spec used when `--spec` is not given (handbook features plus a few customer
/// features; isolation forest, robust z-score and a random forest combined by the forest).
pub const DEFAULT_SPEC: &str = include_str!("../../datasets/specs/pipeline_default.json");

/// Options of the replay job (the default command).
#[derive(Args, Debug, Clone)]
pub struct ReplayArgs {
    /// Replay a transactions CSV (gzip if it ends in .gz) instead of the simulator's stream.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Column mapping for --input, e.g. `id=tx,time=ts,time_format=s,customer=card,terminal=shop,amount=amt,fraud=label`
    /// (default: the Fraud Detection Handbook's column names).
    #[arg(long)]
    pub columns: Option<String>,
    /// Simulated customers.
    #[arg(long, default_value_t = 1000)]
    pub customers: usize,
    /// Simulated terminals.
    #[arg(long, default_value_t = 2000)]
    pub terminals: usize,
    /// Simulated days.
    #[arg(long, default_value_t = 70)]
    pub days: u32,
    /// Seed of the simulator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Fraction of the stream's time span used for training (the rest is replayed).
    #[arg(long, default_value_t = 0.6)]
    pub train_fraction: f64,
    /// Pipeline spec (JSON file); default: the embedded `datasets/specs/pipeline_default.json`.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Replay open-loop at this many events per second; latency is measured from each event's
    /// scheduled time, so falling behind shows up as latency (no coordinated omission).
    /// Default: closed loop, as fast as possible.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Latency objectives, e.g. `p99=20us,p999=100us` (units ns, us, ms, s; quantiles p50, p90,
    /// p99, p999, max): the process exits with status 1 when one is missed.
    #[arg(long)]
    pub sla: Option<String>,
    /// Write the whole report as JSON to this file (atomically).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// One latency objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    /// Quantile in (0, 1], 1 = max.
    pub quantile: f64,
    /// Its label (`p99`, ...).
    pub label: String,
    /// Bound in nanoseconds.
    pub bound_ns: u64,
}

/// Parse `p99=20us,p999=100us`.
pub fn parse_sla(text: &str) -> Result<Vec<Objective>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (q, v) = part
            .split_once('=')
            .ok_or_else(|| format!("SLA item `{part}` is not quantile=duration"))?;
        let quantile = match q.trim() {
            "p50" => 0.5,
            "p90" => 0.9,
            "p99" => 0.99,
            "p999" | "p99.9" => 0.999,
            "p9999" | "p99.99" => 0.9999,
            "max" => 1.0,
            other => {
                return Err(format!(
                    "unknown quantile `{other}` (use p50, p90, p99, p999, p9999 or max)"
                ));
            }
        };
        let v = v.trim();
        let split = v
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{v}` has no unit (ns, us, ms or s)"))?;
        let (num, unit) = v.split_at(split);
        let num: f64 = num
            .parse()
            .map_err(|_| format!("`{num}` in `{part}` is not a number"))?;
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            other => return Err(format!("unknown unit `{other}` (use ns, us, ms or s)")),
        };
        if !(num.is_finite() && num > 0.0) {
            return Err(format!("the bound in `{part}` must be positive"));
        }
        out.push(Objective {
            quantile,
            label: q.trim().to_string(),
            bound_ns: (num * scale).round() as u64,
        });
    }
    if out.is_empty() {
        return Err("the SLA lists no objective".into());
    }
    Ok(out)
}

/// A progress bar for a long phase (hidden with `--quiet`).
pub(crate) fn bar(quiet: bool, len: u64, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Run the replay job; returns the report and whether every SLA objective was met.
pub fn run(args: &ReplayArgs) -> Result<(Value, bool), Box<dyn std::error::Error>> {
    if !(args.train_fraction > 0.0 && args.train_fraction < 1.0) {
        return Err("--train-fraction must be in (0, 1)".into());
    }
    let objectives = args.sla.as_deref().map(parse_sla).transpose()?;
    if let Some(r) = args.rate
        && !(r.is_finite() && r > 0.0)
    {
        return Err("--rate must be a positive number of events per second".into());
    }
    let spec_text = match &args.spec {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read --spec {}: {e}", p.display()))?,
        None => DEFAULT_SPEC.to_string(),
    };
    let spec = PipelineSpec::from_json(&spec_text)?;

    let t = Instant::now();
    let (source, tx): (Value, Transactions) = match &args.input {
        Some(path) => {
            let map = args
                .columns
                .as_deref()
                .map_or_else(|| Ok(ColumnMap::default()), ColumnMap::parse)?;
            eprintln!("[1/4] reading {}", path.display());
            (
                json!({"input": path.display().to_string()}),
                load_csv(path, &map)?,
            )
        }
        None => {
            let cfg = SimulatorConfig {
                customers: args.customers,
                terminals: args.terminals,
                days: args.days,
                seed: args.seed,
                ..SimulatorConfig::default()
            };
            eprintln!(
                "[1/4] simulating {} customers, {} terminals, {} days (seed {})",
                cfg.customers, cfg.terminals, cfg.days, cfg.seed
            );
            (
                json!({"simulator": {"customers": cfg.customers, "terminals": cfg.terminals, "days": cfg.days, "seed": cfg.seed}}),
                simulate(&cfg)?,
            )
        }
    };
    if tx.len() < 10 {
        return Err(format!("the stream has {} transactions; need at least 10", tx.len()).into());
    }
    if tx.time_ms.windows(2).any(|w| w[1] < w[0]) {
        return Err("the transactions are not sorted by time; sort them first".into());
    }
    let load_s = t.elapsed().as_secs_f64();
    let (t0, t1) = (tx.time_ms[0], tx.time_ms[tx.len() - 1]);
    let cut_time = t0 + ((t1 - t0) as f64 * args.train_fraction) as i64;
    let split = tx.time_ms.partition_point(|&t| t < cut_time);
    if split == 0 || split == tx.len() {
        return Err("the training or the test period is empty; change --train-fraction".into());
    }
    let train = tx.slice(0..split);
    let cols = train.handbook_columns();

    eprintln!(
        "[2/4] building features and fitting the pipeline on {} training events",
        train.len()
    );
    let t = Instant::now();
    let mut pipeline = Pipeline::fit(spec, &cols.view(&train))?;
    let fit_s = t.elapsed().as_secs_f64();
    let artifact = pipeline.to_bytes()?;

    // Labels ride on the events: only label windows with a delay (the terminal risk features)
    // read them, so a label is used only once it would be known.
    let events: Vec<Event> = (split..tx.len()).map(|i| tx.event(i, true)).collect();
    let n = events.len();
    eprintln!(
        "[3/4] replaying {n} events one at a time ({})",
        match args.rate {
            Some(r) => format!("open loop at {r} events/s"),
            None => "closed loop".into(),
        }
    );
    let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)?;
    let mut risks = Vec::with_capacity(n);
    let mut alerts = 0usize;
    let mut score = Score::default();
    let pb = bar(args.quiet, n as u64, "replay");
    let start = Instant::now();
    let mut first_reasons: Vec<Value> = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let begin = match args.rate {
            Some(r) => {
                let due = start + Duration::from_secs_f64(i as f64 / r);
                // Sleep most of the wait (the OS oversleeps by tens of microseconds), spin the
                // rest, so the event starts on time and its latency is measured from `due`.
                let now = Instant::now();
                if due > now + Duration::from_micros(200) {
                    std::thread::sleep(due - now - Duration::from_micros(150));
                }
                while Instant::now() < due {
                    std::hint::spin_loop();
                }
                due
            }
            None => Instant::now(),
        };
        pipeline.score_into(ev, &mut score)?;
        hist.record((begin.elapsed().as_nanos() as u64).max(1))?;
        risks.push(score.risk);
        if score.is_alert {
            alerts += 1;
            if first_reasons.len() < 3 {
                first_reasons.push(json!({
                    "transaction": tx.transaction_id[split + i],
                    "risk": score.risk,
                    "fraud": tx.fraud[split + i],
                    "reasons": score.reasons.iter().map(|r| json!({"feature": r.feature, "value": r.value, "contribution": r.contribution})).collect::<Vec<_>>(),
                }));
            }
        }
        if i % 4096 == 0 {
            pb.set_position(i as u64);
        }
    }
    let replay_s = start.elapsed().as_secs_f64();
    pb.finish_and_clear();

    eprintln!("[4/4] evaluating");
    let labels: Vec<bool> = tx.fraud[split..].to_vec();
    let days: Vec<i64> = tx.time_ms[split..]
        .iter()
        .map(|t| t.div_euclid(86_400_000))
        .collect();
    let cards = &tx.customer_id[split..];
    let frauds = labels.iter().filter(|&&f| f).count();
    let (auc, ap, cp) = if frauds > 0 && frauds < n {
        (
            roc_auc(&labels, &risks)?,
            average_precision(&labels, &risks)?,
            card_precision_at_k(&days, cards, &labels, &risks, 100, true)?,
        )
    } else {
        (f64::NAN, f64::NAN, f64::NAN)
    };
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let engine = pipeline.engine();
    let report = json!({
        "source": source,
        "events": {"train": split, "test": n, "test_frauds": frauds, "read_seconds": load_s},
        "fit_seconds": fit_s,
        "quality": {"roc_auc": auc, "average_precision": ap, "card_precision_at_100": cp,
                    "alerts": alerts, "alert_rate": alerts as f64 / n as f64,
                    "threshold": pipeline.threshold()},
        "latency_us": {"p50": us(0.5), "p90": us(0.9), "p99": us(0.99), "p999": us(0.999),
                       "max": hist.max() as f64 / 1000.0, "mode": if args.rate.is_some() { "open_loop" } else { "closed_loop" }},
        "throughput_events_per_second": n as f64 / replay_s,
        "state": {"entities": engine.entity_count(), "bytes": engine.state_bytes(),
                  "bytes_per_entity": engine.state_bytes() as f64 / engine.entity_count().max(1) as f64},
        "artifact_bytes": artifact.len(),
        "example_alerts": first_reasons,
    });

    println!("fraud-bench replay: features + detectors + reason codes, one event at a time");
    println!(
        "  stream      {} training events, {} replayed ({} frauds)",
        split, n, frauds
    );
    println!("  fit         {fit_s:.2} s (features, detectors, calibration)");
    println!(
        "  quality     ROC AUC {auc:.4}   AP {ap:.4}   card precision@100 {cp:.4}   alerts {:.2}%",
        100.0 * alerts as f64 / n as f64
    );
    println!(
        "  latency     p50 {:.2} us  p90 {:.2} us  p99 {:.2} us  p99.9 {:.2} us  max {:.1} us ({})",
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        hist.max() as f64 / 1000.0,
        if args.rate.is_some() {
            "open loop, from scheduled times"
        } else {
            "closed loop"
        }
    );
    println!(
        "  throughput  {:.0} events/s on one thread",
        n as f64 / replay_s
    );
    println!(
        "  state       {} entities, {:.1} MB ({:.0} bytes/entity); artifact {:.0} KiB",
        engine.entity_count(),
        engine.state_bytes() as f64 / 1e6,
        engine.state_bytes() as f64 / engine.entity_count().max(1) as f64,
        artifact.len() as f64 / 1024.0
    );
    let mut met = true;
    let mut sla_report = Vec::new();
    if let Some(objs) = &objectives {
        for o in objs {
            let got = if o.quantile >= 1.0 {
                hist.max()
            } else {
                hist.value_at_quantile(o.quantile)
            };
            let ok = got <= o.bound_ns;
            met &= ok;
            println!(
                "  SLA         {} <= {:.2} us: {:.2} us {}",
                o.label,
                o.bound_ns as f64 / 1000.0,
                got as f64 / 1000.0,
                if ok { "met" } else { "MISSED" }
            );
            sla_report.push(json!({"objective": o.label, "bound_us": o.bound_ns as f64 / 1000.0, "measured_us": got as f64 / 1000.0, "met": ok}));
        }
    }
    let mut report = report;
    report["sla"] = Value::Array(sla_report);
    if let Some(path) = &args.json {
        fraud_core::model::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
        eprintln!("report written to {}", path.display());
    }
    Ok((report, met))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sla_parsing() {
        let o = parse_sla("p99=20us, p999=0.1ms,max=2s").unwrap();
        assert_eq!(o[0].bound_ns, 20_000);
        assert_eq!(o[1].bound_ns, 100_000);
        assert_eq!(o[1].quantile, 0.999);
        assert_eq!(o[2].quantile, 1.0);
        assert_eq!(o[2].bound_ns, 2_000_000_000);
        assert!(parse_sla("p98=1us").unwrap_err().contains("p98"));
        assert!(parse_sla("p99=1").unwrap_err().contains("unit"));
        assert!(parse_sla("p99=1h").unwrap_err().contains("`h`"));
        assert!(parse_sla("p99").is_err());
        assert!(parse_sla("").is_err());
    }

    #[test]
    fn the_default_spec_parses() {
        PipelineSpec::from_json(DEFAULT_SPEC).unwrap();
    }
}
