//! # fraud-datasets
//!
//! Data for `fraud-core`: a seeded synthetic generator for the embedded demo, a loader for
//! ODDS-format outlier benchmark files, and the resolution of the shared benchmark-data folder.
//!
//! The project never ships third-party data: benchmark files are read from the folder named by the
//! `FRAUD_DATASETS` environment variable, or `../shared/datasets` next to the workspace.
#![forbid(unsafe_code)]

pub mod odds;
pub mod simulator;
pub mod synthetic;
pub mod transactions;

use std::path::PathBuf;

/// The 15 ODDS outlier benchmark sets, by file stem.
pub const ODDS_SETS: [&str; 15] = [
    "cardio",
    "cover",
    "glass",
    "letter",
    "mammography",
    "musk",
    "optdigits",
    "pendigits",
    "satellite",
    "satimage-2",
    "shuttle",
    "smtp",
    "thyroid",
    "vowels",
    "wbc",
];

/// The shared benchmark-data folder: `$FRAUD_DATASETS` if set, else `<workspace>/../shared/datasets`.
/// Returns `None` when the folder does not exist.
pub fn datasets_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("FRAUD_DATASETS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"),
    };
    dir.is_dir().then_some(dir)
}
