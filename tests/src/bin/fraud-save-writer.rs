//! Test helper for `tests/tests/durable_save.rs`: saves artifacts to one path in a loop until it is
//! killed, announcing each save on stdout so the test can kill it mid-way.
//!
//! Usage: `fraud-save-writer atomic|plain DIR`. It first writes two complete reference artifacts,
//! `DIR/version0.bin` and `DIR/version1.bin` (two isolation forests of several megabytes), prints
//! `ready`, then forever alternates the two into `DIR/model.bin`: `atomic` with
//! `IsolationForest::save` (the library's atomic write), `plain` with a truncating `std::fs::write`
//! (the control that shows a kill does corrupt a non-atomic write). Before each write it prints
//! `writing N`.

use std::io::Write;
use std::path::PathBuf;

use fraud_core::detectors::iforest::{IsolationForest, IsolationForestParams};
use ndarray::Array2;

fn forest(seed: u64) -> IsolationForest {
    let x = Array2::from_shape_fn((4096, 8), |(i, j)| ((i * 31 + j * 17) % 101) as f64);
    let params = IsolationForestParams::default()
        .n_estimators(3000)
        .random_state(seed);
    let mut f = IsolationForest::new(params).expect("valid parameters");
    f.fit(x.view()).expect("finite training data");
    f
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, dir) = match args.as_slice() {
        [_, m, d] if m == "atomic" || m == "plain" => (m.clone(), PathBuf::from(d)),
        _ => {
            eprintln!("usage: fraud-save-writer atomic|plain DIR");
            std::process::exit(2);
        }
    };
    let versions = [forest(1), forest(2)];
    let bytes: Vec<Vec<u8>> = versions
        .iter()
        .map(|f| f.to_bytes().expect("encodable"))
        .collect();
    for (i, f) in versions.iter().enumerate() {
        f.save(dir.join(format!("version{i}.bin")))
            .expect("reference saved");
    }
    let target = dir.join("model.bin");
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")
        .and_then(|_| out.flush())
        .expect("stdout");
    for n in 0.. {
        writeln!(out, "writing {n}")
            .and_then(|_| out.flush())
            .expect("stdout");
        let v = n % 2;
        if mode == "atomic" {
            versions[v].save(&target).expect("saved");
        } else {
            std::fs::write(&target, &bytes[v]).expect("written");
        }
    }
}
