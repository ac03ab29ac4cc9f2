//! Bounded memory at a small scale: `fraud-bench memory` (its own process, so its resident memory
//! is the engine's) fed 400,000 events of new keys under a cap of 10,000 entities per key field.
//! The full-size run (10 million keys) is the benchmark `cargo run --release -p fraud-bench --
//! memory`.

use std::process::Command;

#[test]
fn distinct_keys_stay_under_the_entity_cap_and_memory_budget() {
    let dir = std::env::temp_dir().join(format!("fraud-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("memory.json");
    let (keys, cap) = (400_000_u64, 10_000_u64);
    let status = Command::new(env!("CARGO_BIN_EXE_fraud-bench"))
        .args([
            "memory",
            "--quiet",
            "--budget-mb",
            "48",
            "--checkpoints",
            "16",
        ])
        .args(["--keys", &keys.to_string(), "--cap", &cap.to_string()])
        .arg("--json")
        .arg(&report)
        .status()
        .unwrap();
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        status.success(),
        "fraud-bench memory failed its checks: {r}"
    );
    assert_eq!(r["ok"], true);

    // Recomputed here from the checkpoints rather than trusting the job's own verdict.
    let fields = r["key_fields"].as_u64().unwrap();
    assert_eq!(fields, 2);
    let points = r["checkpoints"].as_array().unwrap();
    assert_eq!(points.len(), 16);
    for p in points {
        let events = p["events"].as_u64().unwrap();
        let entities = p["entities"].as_u64().unwrap();
        assert_eq!(entities, fields * events.min(cap), "{p}");
        assert_eq!(
            p["lru_evictions"].as_u64().unwrap(),
            fields * events.saturating_sub(cap),
            "{p}"
        );
    }
    // Once the cap is reached the state stops growing: resident memory and the engine's own
    // accounting at the end are within a small margin of their values at the second checkpoint.
    let at = |i: usize, f: &str| points[i][f].as_u64().unwrap() as f64;
    let last = points.len() - 1;
    assert!(
        at(last, "state_bytes") <= 1.1 * at(1, "state_bytes"),
        "state grew: {} -> {}",
        at(1, "state_bytes"),
        at(last, "state_bytes")
    );
    if at(last, "rss_bytes") > 0.0 {
        assert!(
            at(last, "rss_bytes") <= at(1, "rss_bytes") + 4.0 * 1_048_576.0,
            "resident memory grew: {} -> {}",
            at(1, "rss_bytes"),
            at(last, "rss_bytes")
        );
    }
}
