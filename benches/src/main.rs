//! `fraud-bench`: the latency-SLA and quality harness of the fraud-detection library.
//!
//! Without a subcommand it runs the main job on the embedded default: simulate a seeded
//! transaction stream, build features, fit the default pipeline on the training period, replay
//! the test period one event at a time through `score` (feature update + detectors + reason
//! codes), and report quality (ROC AUC, AP, card precision@100), per-event latency (p50 .. max
//! from an HDR histogram), throughput and state size. See `fraud-bench --help`.
//!
//! Subcommands: `replay` (the default job, with options: `--input`, `--rate`, `--sla`, `--json`,
//! ...), `handbook` (the Fraud Detection Handbook's chapter-3 protocol on its CSV), `iforest`
//! (the isolation forest alone on synthetic data), `memory` (bounded state under 10 million
//! distinct keys).

mod handbook;
mod iforest_demo;
mod memory;
mod replay;

use clap::{Parser, Subcommand};

/// Command line.
#[derive(Parser, Debug)]
#[command(
    version,
    about = "Replay a transaction stream through the fraud pipeline; report quality and latency",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Options of the default `replay` job.
    #[command(flatten)]
    replay: replay::ReplayArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate (or read) a stream, fit the pipeline, replay the test period event by event.
    Replay(replay::ReplayArgs),
    /// The Fraud Detection Handbook's chapter-3 protocol with the library's features and models.
    Handbook(handbook::HandbookArgs),
    /// The isolation forest alone on seeded synthetic outlier data.
    Iforest(iforest_demo::IforestArgs),
    /// Bounded memory: distinct keys under the `max_entities` cap and a resident-memory budget.
    Memory(memory::MemoryArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        None => replay::run(&cli.replay).map(|(_, met)| met),
        Some(Command::Replay(a)) => replay::run(a).map(|(_, met)| met),
        Some(Command::Handbook(a)) => handbook::run(a)
            .map(|r| {
                r.print();
                true
            })
            .map_err(Into::into),
        Some(Command::Iforest(a)) => iforest_demo::run(a).map(|()| true),
        Some(Command::Memory(a)) => memory::run(a).map(|(_, ok)| ok),
    };
    match result {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("fraud-bench: an objective was missed (see the checks above)");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("fraud-bench: error: {e}");
            std::process::exit(2);
        }
    }
}
