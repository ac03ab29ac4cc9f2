//! Durable state: a writer killed (SIGKILL) in the middle of `save` never leaves a broken file.
//!
//! A helper process (`fraud-save-writer`, in `tests/src/bin/`) saves two multi-megabyte isolation
//! forests alternately to one path; the test kills it at varying moments and then loads the file:
//! it must always be one of the two complete artifacts. The control runs the same kills against a
//! plain truncating `std::fs::write` and must see a corrupted file, which shows that the kills do
//! land mid-write.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fraud_core::detectors::iforest::IsolationForest;

const ROUNDS: u64 = 20;

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fraud-durable-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Start the writer and wait until it has begun write number `n` (writes `0..n` are complete).
/// Returns the child and its stdout, which must stay open while it runs.
fn start_and_wait(mode: &str, dir: &Path, n: u64) -> (Child, impl Sized) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fraud-save-writer"))
        .args([mode, dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let wanted = format!("writing {n}");
    loop {
        let line = lines.next().expect("the writer stopped early").unwrap();
        if line == wanted {
            break;
        }
    }
    (child, lines)
}

/// Temporary files the killed writer left beside the target (removed here).
fn leftover_temporaries(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(".model.bin.tmp.") {
            std::fs::remove_file(&path).unwrap();
            n += 1;
        }
    }
    n
}

/// Kill the writer `ROUNDS` times; returns (rounds whose file was intact, rounds that left a
/// temporary file, i.e. were killed inside an atomic save).
fn kill_rounds(mode: &str) -> (u64, u64) {
    let dir = scratch_dir(mode);
    let target = dir.join("model.bin");
    let (mut intact, mut mid_save) = (0, 0);
    for round in 0..ROUNDS {
        // Vary how many saves complete first and how long after the announcement the kill comes.
        let (mut child, _stdout) = start_and_wait(mode, &dir, 1 + round % 3);
        if mode == "atomic" {
            std::thread::sleep(Duration::from_micros((round % 10) * 2_000));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let versions = [
            std::fs::read(dir.join("version0.bin")).unwrap(),
            std::fs::read(dir.join("version1.bin")).unwrap(),
        ];
        let on_disk = std::fs::read(&target).unwrap();
        let loads = IsolationForest::load(&target).is_ok();
        if loads && versions.contains(&on_disk) {
            intact += 1;
        }
        if leftover_temporaries(&dir) > 0 {
            mid_save += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    (intact, mid_save)
}

#[test]
fn a_writer_killed_mid_save_leaves_the_previous_or_the_new_file() {
    let (intact, mid_save) = kill_rounds("atomic");
    println!("atomic save: {intact}/{ROUNDS} files intact, {mid_save} kills inside a save");
    assert_eq!(intact, ROUNDS, "a killed atomic save left a broken file");
    assert!(
        mid_save > 0,
        "no kill landed inside a save: the test proved nothing"
    );
}

#[test]
fn control_a_plain_write_killed_mid_way_is_corrupted() {
    let (intact, _) = kill_rounds("plain");
    println!("plain write: {intact}/{ROUNDS} files intact");
    assert!(
        intact < ROUNDS,
        "every plain write survived the kill: the kills came too late"
    );
}

/// Every artifact kind has `save` (atomic: an existing file is replaced whole, no temporary is
/// left behind) and a matching `load`.
#[test]
fn every_artifact_kind_saves_and_loads() {
    use fraud_core::detectors::supervised::{SupervisedModel, SupervisedParams};
    use fraud_core::detectors::zscore::{RobustZScore, ZScore, ZScoreParams};
    use fraud_core::event::Event;
    use fraud_core::features::FeatureEngine;

    let dir = scratch_dir("kinds");
    let x = ndarray::Array2::from_shape_fn((200, 3), |(i, j)| ((i * 7 + j * 13) % 17) as f64);
    let y: Vec<bool> = (0..200).map(|i| i % 9 == 0).collect();
    let at = |name: &str| {
        let p = dir.join(name);
        std::fs::write(&p, b"an older, different file").unwrap();
        p
    };

    let mut f = IsolationForest::new(Default::default()).unwrap();
    f.fit(x.view()).unwrap();
    f.save(at("f.bin")).unwrap();
    assert_eq!(
        IsolationForest::load(dir.join("f.bin"))
            .unwrap()
            .to_bytes()
            .unwrap(),
        f.to_bytes().unwrap()
    );
    let mut z = ZScore::new(ZScoreParams::default()).unwrap();
    z.fit(x.view()).unwrap();
    z.save(at("z.bin")).unwrap();
    assert_eq!(ZScore::load(dir.join("z.bin")).unwrap(), z);
    let mut r = RobustZScore::new(ZScoreParams::default()).unwrap();
    r.fit(x.view()).unwrap();
    r.save(at("r.bin")).unwrap();
    assert_eq!(RobustZScore::load(dir.join("r.bin")).unwrap(), r);
    // The other variant's file is refused.
    assert!(ZScore::load(dir.join("r.bin")).is_err());
    let mut s = SupervisedModel::new(SupervisedParams::default().random_state(1)).unwrap();
    s.fit(x.view(), &y).unwrap();
    s.save(at("s.bin")).unwrap();
    assert_eq!(
        SupervisedModel::load(dir.join("s.bin"))
            .unwrap()
            .to_bytes()
            .unwrap(),
        s.to_bytes().unwrap()
    );

    let spec = r#"{"schema": {"timestamp": "t", "time_unit": "ms", "keys": ["card"], "numeric": ["amount"]},
        "features": [{"kind": "window", "name": "n", "key": "card", "agg": "count", "window": "1h"}]}"#;
    let mut e = FeatureEngine::from_json(spec).unwrap();
    e.update(&Event::new(1_000, vec!["c1".into()], vec![5.0], None))
        .unwrap();
    e.save(at("e.snap")).unwrap();
    let mut back = FeatureEngine::load(dir.join("e.snap")).unwrap();
    let next = Event::new(2_000, vec!["c1".into()], vec![6.0], None);
    assert_eq!(back.update(&next).unwrap(), e.update(&next).unwrap());

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["e.snap", "f.bin", "r.bin", "s.bin", "z.bin"],
        "a temporary was left"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
