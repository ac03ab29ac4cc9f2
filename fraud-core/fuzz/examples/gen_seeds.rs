//! Write the seed corpus of every fuzz target into `seeds/<target>/` (run from `fraud-core/fuzz`:
//! `cargo run --release --example gen_seeds`; see `gen-seeds.sh`). Deterministic and small.

use std::path::Path;

use fraud_core_fuzz::{
    EVICTING_SPEC, PIPELINE_SPEC, PIPELINE_SUPERVISED_SPEC, RICH_SPEC, input_for_artifact,
    seed_artifacts, seed_snapshots,
};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    let root = Path::new("seeds");
    let _ = std::fs::remove_dir_all(root);
    // artifact_decode: each artifact as is (mode 0) and as a payload under a repaired envelope.
    let art = root.join("artifact_decode");
    for (name, bytes) in seed_artifacts() {
        let mut raw = vec![0u8];
        raw.extend_from_slice(&bytes);
        write(&art, &format!("{name}.raw"), &raw);
        write(
            &art,
            &format!("{name}.payload"),
            &input_for_artifact(&bytes),
        );
    }
    // snapshot_restore: snapshots and pipelines, mode byte first (see the target).
    let snap = root.join("snapshot_restore");
    for (name, bytes) in seed_snapshots() {
        let mut v = vec![1u8];
        v.extend_from_slice(&input_for_artifact(&bytes)[1..]);
        write(&snap, &format!("{name}.payload"), &v);
    }
    write(
        &snap,
        "scenario_0",
        &[2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
    );
    write(
        &snap,
        "scenario_1",
        &[2, 7, 200, 3, 3, 9, 1, 0, 0, 250, 4, 4, 17, 33, 1, 2, 3],
    );
    // feature_spec_json: the specs of the seeds and the shipped ones.
    let spec = root.join("feature_spec_json");
    write(&spec, "rich.json", RICH_SPEC.as_bytes());
    write(&spec, "evicting.json", EVICTING_SPEC.as_bytes());
    write(&spec, "pipeline.json", PIPELINE_SPEC.as_bytes());
    write(
        &spec,
        "pipeline_supervised.json",
        PIPELINE_SUPERVISED_SPEC.as_bytes(),
    );
    for f in [
        "handbook.json",
        "handbook_rich.json",
        "pipeline_default.json",
    ] {
        let p = Path::new("../../datasets/specs").join(f);
        if let Ok(b) = std::fs::read(&p) {
            write(&spec, f, &b);
        }
    }
    // event_decode: JSON events and columns (see the target for the layout).
    let ev = root.join("event_decode");
    let jsons = [
        r#"{"ts": 12, "card": "c1", "shop": 7, "amount": 3.5, "qty": 1, "fraud": true, "tx": "t1"}"#,
        r#"{"ts": 12.5, "card": "c1", "shop": 7.0, "amount": 3, "qty": 0, "tx": 5, "note": [1]}"#,
        r#"{"ts": "2018-04-01T02:00:31.5+02:00", "card": "c2", "shop": "s", "amount": -1e3, "qty": 2, "fraud": null}"#,
        r#"{"ts": "2024-02-29 23:59:59.999Z", "card": 1, "shop": 2, "amount": 0, "qty": 0, "fraud": 0}"#,
        r#"{"tx": "t1", "card": "c1", "shop": "7", "fraud": 1}"#,
    ];
    for (i, j) in jsons.iter().enumerate() {
        for unit in 0..3u8 {
            let mut v = vec![unit * 4];
            v.extend_from_slice(j.as_bytes());
            write(&ev, &format!("json_{i}_{unit}"), &v);
        }
    }
    write(
        &ev,
        "columns_0",
        &[1, 6, 0, 3, 0, 1, 2, 0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13],
    );
    write(
        &ev,
        "columns_1",
        &[
            5, 9, 1, 2, 255, 1, 0, 1, 128, 64, 32, 16, 8, 4, 2, 1, 0, 0, 0,
        ],
    );
    // engine_stateful: operation streams (see the target's decoder).
    let st = root.join("engine_stateful");
    let streams: [&[u8]; 4] = [
        &[
            0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
        ],
        &[
            3, 1, 17, 5, 2, 0, 9, 9, 0, 0, 1, 1, 2, 2, 40, 41, 42, 0, 3, 6, 9, 12, 15, 18, 60, 61,
        ],
        &[
            7, 2, 33, 1, 4, 4, 4, 4, 0, 1, 0, 1, 200, 201, 202, 203, 17, 18, 19, 20, 0, 0, 0, 0,
        ],
        &[
            9, 3, 5, 250, 3, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128,
        ],
    ];
    for (i, s) in streams.iter().enumerate() {
        write(&st, &format!("stream_{i}"), s);
    }
    let total: u64 = walk(root);
    println!("wrote seeds: {total} bytes");
    assert!(total < 200_000, "the committed seed corpus must stay small");
}

fn walk(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}
