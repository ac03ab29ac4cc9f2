//! Shared helpers of the fraud-core fuzz targets: envelope repair (so that mutated payloads pass
//! the checksum and reach the payload decoders), probe inputs for decoded models, and the seed
//! builders used by `examples/gen_seeds.rs`.

use fraud_core::detectors::iforest::{IsolationForest, IsolationForestParams};
use fraud_core::detectors::supervised::{ModelSpec, SupervisedModel, SupervisedParams};
use fraud_core::detectors::zscore::{RobustZScore, ZScore, ZScoreParams};
use fraud_core::event::Event;
use fraud_core::features::{FeatureEngine, FeatureSpec};
use fraud_core::model::{FORMAT_VERSION, MAGIC};
use fraud_core::scoring::{Pipeline, PipelineSpec};
use ndarray::Array2;

/// The key secret used for hashed-key engines in the targets and seeds (>= 16 bytes).
pub const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef";

/// Header and trailer sizes of the artifact envelope (see `fraud_core::model`).
pub const HEADER_LEN: usize = 24;
/// CRC-32 trailer.
pub const TRAILER_LEN: usize = 4;

/// Wrap `payload` in a valid envelope of kind `tag` (magic, version, flags 0, length, CRC).
pub fn envelope(tag: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + TRAILER_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// CRC-32 (IEEE), bitwise: the fuzz crate does not depend on crc32fast directly.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The payload of well-formed artifact bytes (what the seeds store), or `None`.
pub fn payload_of(artifact: &[u8]) -> Option<(u16, &[u8])> {
    if artifact.len() < HEADER_LEN + TRAILER_LEN || artifact[..8] != MAGIC {
        return None;
    }
    let tag = u16::from_le_bytes([artifact[10], artifact[11]]);
    Some((tag, &artifact[HEADER_LEN..artifact.len() - TRAILER_LEN]))
}

/// Fuzz input layout shared by the decoding targets: byte 0 chooses how the rest is used.
///
/// * `mode % 4 == 0`: the rest is artifact bytes as is (exercises the envelope checks);
/// * otherwise: the rest is a payload, wrapped in a valid envelope of kind tag `byte1 % 8`
///   (so mutations reach the payload decoders through the checksum).
pub fn artifact_from_input(data: &[u8]) -> Option<Vec<u8>> {
    let (&mode, rest) = data.split_first()?;
    if mode % 4 == 0 {
        return Some(rest.to_vec());
    }
    let (&tag, payload) = rest.split_first()?;
    Some(envelope((tag % 8) as u16, payload))
}

/// A fuzz input (for [`artifact_from_input`]) holding `artifact`'s payload under a fixed envelope.
pub fn input_for_artifact(artifact: &[u8]) -> Vec<u8> {
    let (tag, payload) = payload_of(artifact).expect("a well-formed artifact");
    let mut v = vec![1u8, tag as u8];
    v.extend_from_slice(payload);
    v
}

/// A deterministic probe row of `n` values (capped at 256 columns).
pub fn probe_row(n: usize, salt: u64) -> Vec<f64> {
    (0..n.min(256))
        .map(|j| ((j as u64 * 7 + salt * 13) % 11) as f64 - 5.0 + 0.25 * (salt % 3) as f64)
        .collect()
}

/// Deterministic probe events for an engine: keys from a small alphabet (`a`, `b`, `c`), times
/// around `t0`, a few late ones.
pub fn probe_events(engine: &FeatureEngine, t0: i64, n: usize) -> Vec<Event> {
    let schema = engine.schema();
    let nk = schema.key_fields().len();
    let nv = schema.numeric_fields().len();
    let has_label = schema.label_field().is_some();
    let has_id = schema.id_field().is_some();
    (0..n)
        .map(|i| {
            let t = t0.saturating_add((i as i64 % 5) * 700 - 600);
            let keys = (0..nk)
                .map(|k| ["a", "b", "c"][(i + k) % 3].to_string())
                .collect();
            let values = (0..nv).map(|j| ((i * 3 + j) % 7) as f64 * 0.5).collect();
            let label = (has_label && i % 2 == 0).then_some((i % 4 == 0) as u8 as f64);
            let mut ev = Event::new(t, keys, values, label);
            if has_id {
                ev.id = Some(format!("t{}", i % 4));
            }
            ev
        })
        .collect()
}

/// Bit patterns of a row, for exact comparison (NaN payloads included).
pub fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

// ------------------------------------------------------------------------------------------------
// Seed builders (small, fitted on tiny seeded data so that the committed corpus stays small).

/// A feature spec with every feature kind over keys `card`/`shop`, numeric `amount`/`qty`,
/// label `fraud` and id `tx`.
pub const RICH_SPEC: &str = r#"{
  "schema": {"timestamp": "ts", "time_unit": "ms", "keys": ["card", "shop"],
             "numeric": ["amount", "qty"], "label": "fraud", "id": "tx"},
  "lateness": {"allowed": 1000, "policy": "error"},
  "features": [
    {"kind": "window", "name": "n", "key": "card", "agg": "count", "window": 2000},
    {"kind": "window", "name": "mean", "key": "card", "agg": "mean", "field": "amount", "window": 2000, "include_current": false, "fill": 0},
    {"kind": "window", "name": "sd", "key": "card", "agg": "std", "field": "amount", "window": 5000},
    {"kind": "window", "name": "mn", "key": "shop", "agg": "min", "field": "amount", "window": 3000},
    {"kind": "window", "name": "mx", "key": "shop", "agg": "max", "field": "qty", "window": 3000, "delay": 500},
    {"kind": "window", "name": "dist", "key": "card", "agg": "distinct", "field": "shop", "window": 4000},
    {"kind": "window", "name": "distq", "key": "card", "agg": "distinct", "field": "qty", "window": 4000},
    {"kind": "window", "name": "risk", "key": "shop", "agg": "risk", "window": 3000, "delay": 1000},
    {"kind": "relative", "name": "z", "key": "card", "field": "amount", "window": 3000, "mode": "zscore"},
    {"kind": "relative", "name": "ratio", "key": "shop", "field": "amount", "window": 3000, "mode": "ratio", "fill": 1},
    {"kind": "time_since_last", "name": "since", "key": "card"},
    {"kind": "decayed", "name": "dec", "key": "shop", "field": "amount", "half_life": 700},
    {"kind": "decayed", "name": "decw", "key": "card", "field": "qty", "half_life": 700, "window": 2000},
    {"kind": "decayed", "name": "decz", "key": "card", "field": "amount", "half_life": 3000, "stat": "zscore", "fill": 0},
    {"kind": "calendar", "name": "hour", "part": "hour", "utc_offset_minutes": 60},
    {"kind": "calendar", "name": "night", "part": "night", "night_hours": [22, 6]}
  ]
}"#;

/// The same schema with TTL, an LRU cap and the `process` policy.
pub const EVICTING_SPEC: &str = r#"{
  "schema": {"timestamp": "ts", "time_unit": "s", "keys": ["card", "shop"],
             "numeric": ["amount"], "label": "fraud", "id": "tx"},
  "lateness": {"allowed": 2, "policy": "process"},
  "ttl": 60, "max_entities": 3,
  "features": [
    {"kind": "window", "name": "n", "key": "card", "agg": "count", "window": 10},
    {"kind": "window", "name": "risk", "key": "shop", "agg": "risk", "window": 10},
    {"kind": "time_since_last", "name": "since", "key": "card", "max_gap": 30, "fill": -1},
    {"kind": "decayed", "name": "dec", "key": "shop", "field": "amount", "half_life": 5, "window": 20}
  ]
}"#;

/// A small pipeline spec: isolation forest, z-score, robust z-score, weighted.
pub const PIPELINE_SPEC: &str = r#"{
  "features": {
    "schema": {"timestamp": "ts", "time_unit": "s", "keys": ["card"], "numeric": ["amount"], "label": "fraud"},
    "features": [
      {"kind": "window", "name": "n_1h", "key": "card", "agg": "count", "window": "1h"},
      {"kind": "relative", "name": "ratio", "key": "card", "field": "amount", "window": "1d", "mode": "ratio", "fill": 1}
    ]},
  "detectors": [
    {"kind": "isolation_forest", "n_estimators": 3, "max_samples": 16, "random_state": 7},
    {"kind": "zscore", "weight": 0.5},
    {"kind": "robust_zscore"}
  ],
  "alert": {"target_alert_rate": 0.05},
  "reasons": 2
}"#;

/// A pipeline spec with the supervised combine (logistic regression).
pub const PIPELINE_SUPERVISED_SPEC: &str = r#"{
  "features": {
    "schema": {"timestamp": "ts", "time_unit": "s", "keys": ["card"], "numeric": ["amount"], "label": "fraud"},
    "features": [
      {"kind": "window", "name": "n_1h", "key": "card", "agg": "count", "window": "1h"},
      {"kind": "relative", "name": "ratio", "key": "card", "field": "amount", "window": "1d", "mode": "ratio", "fill": 1}
    ]},
  "detectors": [
    {"kind": "zscore"},
    {"kind": "supervised", "model": "logistic_regression"}
  ],
  "combine": "supervised",
  "alert": {"threshold": 0.5},
  "reasons": 1
}"#;

/// Events for [`RICH_SPEC`]-like schemas (keys card/shop, two numeric fields), ms times.
pub fn rich_events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let t = 1_000_000 + (i as i64) * 370 - if i % 7 == 3 { 600 } else { 0 };
            Event::new(
                t,
                vec![
                    ["a", "b", "c"][i % 3].to_string(),
                    ["a", "b", "c"][(i / 2) % 3].to_string(),
                ],
                vec![(i % 9) as f64 * 0.25 - 1.0, (i % 4) as f64],
                (i % 3 != 1).then_some((i % 5 == 0) as u8 as f64),
            )
            .with_id(format!("t{}", i % 6))
        })
        .collect()
}

/// Events for [`PIPELINE_SPEC`] (one key, one numeric field, seconds).
pub fn pipeline_events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            Event::new(
                (i as i64 / 8) * 600_000,
                vec![format!("c{}", i % 8)],
                vec![20.0 + (i % 7) as f64 + if i % 37 == 5 { 500.0 } else { 0.0 }],
                Some(if i % 37 == 5 { 1.0 } else { 0.0 }),
            )
        })
        .collect()
}

fn data(n: usize, d: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, d), |(i, j)| {
        ((i * (j + 3)) % 17) as f64 + if i % 29 == 0 { 40.0 } else { 0.0 }
    })
}

/// Every artifact kind, small: `(name, bytes)`.
pub fn seed_artifacts() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    let x = data(64, 3);
    let mut f = IsolationForest::new(
        IsolationForestParams::default()
            .n_estimators(4)
            .random_state(1),
    )
    .unwrap();
    out.push(("iforest_unfitted".into(), f.to_bytes().unwrap()));
    f.fit(x.view()).unwrap();
    out.push(("iforest".into(), f.to_bytes().unwrap()));
    let mut z = ZScore::new(ZScoreParams::default()).unwrap();
    z.fit(x.view()).unwrap();
    out.push(("zscore".into(), z.to_bytes().unwrap()));
    let mut r = RobustZScore::new(ZScoreParams::default()).unwrap();
    r.fit(x.view()).unwrap();
    r.set_feature_names(Some(vec!["a".into(), "b".into(), "c".into()]))
        .unwrap();
    out.push(("robust_zscore".into(), r.to_bytes().unwrap()));
    let y: Vec<bool> = (0..64).map(|i| i % 29 == 0 || i % 5 == 1).collect();
    let mut lr = SupervisedModel::new(
        SupervisedParams::default().model(ModelSpec::LogisticRegression { alpha: 1.0 }),
    )
    .unwrap();
    lr.fit(x.view(), &y).unwrap();
    out.push(("logistic".into(), lr.to_bytes().unwrap()));
    let rf_spec = match ModelSpec::random_forest() {
        ModelSpec::RandomForest {
            min_samples_leaf,
            min_samples_split,
            max_features,
            ..
        } => ModelSpec::RandomForest {
            n_trees: 2,
            max_depth: Some(3),
            min_samples_leaf,
            min_samples_split,
            max_features,
        },
        other => other,
    };
    let mut rf =
        SupervisedModel::new(SupervisedParams::default().model(rf_spec).random_state(3)).unwrap();
    rf.fit(x.view(), &y).unwrap();
    out.push(("random_forest".into(), rf.to_bytes().unwrap()));
    for (name, bytes) in seed_snapshots() {
        out.push((name, bytes));
    }
    for (name, bytes) in seed_pipelines() {
        out.push((name, bytes));
    }
    out
}

/// Feature-engine snapshots: raw keys, hashed keys, evicting spec, empty engine.
pub fn seed_snapshots() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    let spec = FeatureSpec::from_json(RICH_SPEC).unwrap();
    let mut e = FeatureEngine::new(spec.clone()).unwrap();
    out.push(("snapshot_empty".into(), e.snapshot().unwrap()));
    e.transform(&rich_events(12)).unwrap();
    out.push(("snapshot_rich".into(), e.snapshot().unwrap()));
    let mut h = FeatureEngine::with_key_secret(spec, SECRET).unwrap();
    h.transform(&rich_events(6)).unwrap();
    out.push(("snapshot_hashed".into(), h.snapshot().unwrap()));
    let mut v = FeatureEngine::from_json(EVICTING_SPEC).unwrap();
    let evs: Vec<Event> = rich_events(10)
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e.time_ms = (i as i64) * 9_000;
            e.keys[0] = format!("k{i}");
            e.values.truncate(1);
            e
        })
        .collect();
    v.transform(&evs).unwrap();
    out.push(("snapshot_evicting".into(), v.snapshot().unwrap()));
    out
}

/// Two small fitted pipelines (weighted and supervised combine).
pub fn seed_pipelines() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    let evs = pipeline_events(96);
    let p = Pipeline::fit_events(PipelineSpec::from_json(PIPELINE_SPEC).unwrap(), &evs).unwrap();
    out.push(("pipeline".into(), p.to_bytes().unwrap()));
    let p = Pipeline::fit_events(
        PipelineSpec::from_json(PIPELINE_SUPERVISED_SPEC).unwrap(),
        &evs,
    )
    .unwrap();
    out.push(("pipeline_supervised".into(), p.to_bytes().unwrap()));
    out
}
