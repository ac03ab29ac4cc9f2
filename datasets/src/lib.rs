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

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use fraud_core::Error;

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

/// Open a data file for reading, decompressing it when its name ends in `.gz`; a file that
/// cannot be opened is an [`Error::InvalidInput`] naming it.
pub fn open_data_file(path: &Path) -> Result<Box<dyn Read>, Error> {
    let file = File::open(path)
        .map_err(|e| Error::InvalidInput(format!("cannot open {}: {e}", path.display())))?;
    let reader = BufReader::with_capacity(1 << 16, file);
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    })
}
