//! The bad-input catalogue (`docs/bad-input.md`), Rust side: every case `BIxx` has a test
//! `biXX_...` here asserting the exact `fraud_core::Error` variant and message that the catalogue
//! documents. The Python (`fraud-py/tests/test_bad_input.py`) and JS
//! (`fraud-wasm/tests/bad_input.test.mjs`) suites test the same ids; `catalogue_matches_tests`
//! checks that the three files and the catalogue do not drift apart.
//!
//! Most cases use the golden artifacts in `tests/golden/` (the 5-feature isolation forest
//! `iforest_v1.bin` and the card/merchant pipeline `pipeline_v1.bin`), so that the three languages
//! see byte-identical inputs and report identical messages.

use std::collections::BTreeSet;

use fraud_core::detectors::iforest::{
    Contamination, IsolationForest, IsolationForestParams, MaxSamples,
};
use fraud_core::detectors::zscore::{ZScore, ZScoreParams};
use fraud_core::error::{ArtifactError, Error};
use fraud_core::event::Event;
use fraud_core::features::{FeatureEngine, FeatureSpec};
use fraud_core::scoring::{Pipeline, PipelineSpec};
use ndarray::Array2;
use serde_json::{Map, Value, json};

const NONFINITE_HINT: &str = "impute or drop missing and infinite values first";
const NAN_HINT: &str = "NaN is not accepted: impute or drop missing values first";
const INF_HINT: &str = "infinite values are not accepted: clip or drop them first";
const F32_HINT: &str =
    "the value exceeds the float32 range (|x| <= 3.4e38) the model works in: rescale the feature";

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(fraud_tests::golden_dir().join(name)).expect("golden fixture")
}

fn forest() -> IsolationForest {
    IsolationForest::from_bytes(&golden("iforest_v1.bin")).unwrap()
}

fn pipeline() -> Pipeline {
    Pipeline::from_bytes(&golden("pipeline_v1.bin")).unwrap()
}

/// The first scored event of the golden pipeline (`pipeline_v1_expected.json`).
fn e0() -> Map<String, Value> {
    let v = json!({"amount": 44.76, "card": "c12", "merchant": 7, "note": "payment 0",
                   "ts": 1_700_416_519_i64});
    v.as_object().unwrap().clone()
}

fn with(field: &str, value: Value) -> Map<String, Value> {
    let mut m = e0();
    m.insert(field.into(), value);
    m
}

fn without(field: &str) -> Map<String, Value> {
    let mut m = e0();
    m.remove(field);
    m
}

/// A row-major matrix with `rows` rows of the golden forest's first row.
fn matrix(rows: usize, cols: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| (i as f64) * 0.1 + j as f64 * 0.01)
}

/// Assert the exact message of an error (and return it for variant checks).
#[track_caller]
fn msg<T: std::fmt::Debug>(r: fraud_core::Result<T>, want: &str) -> Error {
    let e = r.expect_err("expected an error");
    assert_eq!(e.to_string(), want);
    e
}

// --- artifact surgery: the envelope is documented in fraud-core/src/model/mod.rs --------------

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Wrap `payload` into an envelope like `src`'s (same version and kind), with a valid checksum.
fn reseal(src: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = src[..16].to_vec();
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Recompute the checksum of an envelope after editing its header.
fn fix_crc(mut b: Vec<u8>) -> Vec<u8> {
    let n = b.len();
    let crc = crc32(&b[..n - 4]);
    b[n - 4..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// bincode 2 (standard config) varint.
fn read_varint(b: &[u8], at: &mut usize) -> usize {
    let tag = b[*at];
    *at += 1;
    let width = match tag {
        0..=250 => return tag as usize,
        251 => 2,
        252 => 4,
        _ => 8,
    };
    let mut v = [0u8; 8];
    v[..width].copy_from_slice(&b[*at..*at + width]);
    *at += width;
    u64::from_le_bytes(v) as usize
}

fn write_varint(n: usize, out: &mut Vec<u8>) {
    if n < 251 {
        out.push(n as u8);
    } else if n < 1 << 16 {
        out.push(251);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    } else {
        out.push(252);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
}

/// Replace the leading JSON-text field of an artifact's payload (a pipeline's spec, a snapshot's
/// feature spec) by `edit(text)`, keeping the rest and resealing with a valid checksum.
fn edit_leading_text(art: &[u8], edit: impl FnOnce(&str) -> String) -> Vec<u8> {
    let payload = &art[24..art.len() - 4];
    let mut at = 0;
    let n = read_varint(payload, &mut at);
    let text = std::str::from_utf8(&payload[at..at + n]).unwrap();
    let new = edit(text);
    let mut out = Vec::new();
    write_varint(new.len(), &mut out);
    out.extend_from_slice(new.as_bytes());
    out.extend_from_slice(&payload[at + n..]);
    reseal(art, &out)
}

/// A golden pipeline whose stored spec JSON is edited (valid checksum, inconsistent content).
fn tampered_spec(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    edit_leading_text(&golden("pipeline_v1.bin"), |t| {
        let mut v: Value = serde_json::from_str(t).unwrap();
        edit(&mut v);
        v.to_string()
    })
}

/// A golden pipeline whose feature spec (`features`) is edited both in the pipeline spec and in
/// the embedded feature-engine snapshot (the last payload field), so the artifact is consistent.
fn tampered_features(edit: impl Fn(&mut Value)) -> Vec<u8> {
    let art = tampered_spec(|v| edit(&mut v["features"]));
    let payload = &art[24..art.len() - 4];
    let at = payload
        .windows(8)
        .rposition(|w| w == b"FRAUDCOR")
        .expect("engine snapshot");
    let engine = &payload[at..];
    let mut prefix = Vec::new();
    write_varint(engine.len(), &mut prefix);
    let head = &payload[..at - prefix.len()];
    let engine = edit_leading_text(engine, |t| {
        let mut v: Value = serde_json::from_str(t).unwrap();
        edit(&mut v);
        v.to_string()
    });
    let mut out = head.to_vec();
    write_varint(engine.len(), &mut out);
    out.extend_from_slice(&engine);
    reseal(&art, &out)
}

fn stored_spec(e: &str) -> String {
    format!("invalid artifact: malformed payload: stored spec: {e}")
}

// --- BI01-BI09: matrices for the detectors ---------------------------------------------------

#[test]
fn bi01_nan_in_matrix() {
    let mut x = matrix(3, 5);
    x[[1, 2]] = f64::NAN;
    let e = msg(
        forest().score_samples(x.view()),
        &format!("non-finite or out-of-range value NaN at row 1, column 2: {NAN_HINT}"),
    );
    assert!(matches!(
        e,
        Error::NonFiniteValue {
            row: 1,
            column: 2,
            ..
        }
    ));
}

#[test]
fn bi02_inf_in_one_row() {
    let row = [0.0, 0.0, 0.0, 0.0, f64::INFINITY];
    let e = msg(
        forest().score_one(&row),
        &format!("non-finite or out-of-range value inf at row 0, column 4: {INF_HINT}"),
    );
    assert!(matches!(e, Error::NonFiniteValue { .. }));
}

#[test]
fn bi03_neg_inf_in_training_data() {
    let mut x = matrix(20, 5);
    x[[17, 0]] = f64::NEG_INFINITY;
    let mut f = IsolationForest::new(IsolationForestParams::default()).unwrap();
    let e = msg(
        f.fit(x.view()),
        &format!("non-finite or out-of-range value -inf at row 17, column 0: {INF_HINT}"),
    );
    assert!(matches!(e, Error::NonFiniteValue { .. }));
    assert!(!f.is_fitted());
}

#[test]
fn bi04_beyond_float32_range() {
    let row = [1e308, 0.0, 0.0, 0.0, 0.0];
    let e = msg(
        forest().score_one(&row),
        &format!("non-finite or out-of-range value 1e308 at row 0, column 0: {F32_HINT}"),
    );
    assert!(matches!(e, Error::NonFiniteValue { .. }));
}

#[test]
fn bi05_empty_matrix() {
    let mut f = IsolationForest::new(IsolationForestParams::default()).unwrap();
    let e = msg(
        f.fit(matrix(0, 5).view()),
        "empty input: X has 0 rows (shape (0, 5)): at least 1 is required",
    );
    assert!(matches!(e, Error::EmptyInput(_)));
    let e = msg(
        forest().score_one(&[]),
        "shape mismatch: X has 0 features, but the forest was fitted with 5 features",
    );
    assert!(matches!(e, Error::ShapeMismatch(_)));
    // No rows to score is not an error: the result is empty.
    assert_eq!(
        forest().score_samples(matrix(0, 5).view()).unwrap().len(),
        0
    );
}

#[test]
fn bi06_wrong_number_of_columns() {
    let e = msg(
        forest().score_samples(matrix(2, 4).view()),
        "shape mismatch: X has 4 features, but the forest was fitted with 5 features",
    );
    assert!(matches!(e, Error::ShapeMismatch(_)));
}

#[test]
fn bi07_ragged_or_wrong_length_row() {
    let e = msg(
        forest().score_one(&[1.0, 2.0, 3.0]),
        "shape mismatch: X has 3 features, but the forest was fitted with 5 features",
    );
    assert!(matches!(e, Error::ShapeMismatch(_)));
}

#[test]
fn bi08_zero_columns() {
    let mut f = IsolationForest::new(IsolationForestParams::default()).unwrap();
    let e = msg(
        f.fit(matrix(10, 0).view()),
        "empty input: X has 0 columns (shape (10, 0)): at least 1 feature is required",
    );
    assert!(matches!(e, Error::EmptyInput(_)));
}

#[test]
fn bi09_non_numeric_matrix_values() {
    // The element type of `fit` / `score_samples` is checked at compile time; text input goes
    // through a loader, which names the line and column of the non-number.
    let dir = std::env::temp_dir().join(format!("fraud-bi09-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("odds.csv");
    std::fs::write(&path, "f0,f1,label\n1.0,2.0,0\n3.0,abc,1\n").unwrap();
    let r = fraud_datasets::odds::load(&path);
    std::fs::remove_dir_all(&dir).unwrap();
    let e = r.map(|_| ()).unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)));
    let m = e.to_string();
    assert!(m.starts_with("invalid input: "), "{m}");
    assert!(
        m.ends_with("odds.csv: line 3, column f1: `abc` is not a number"),
        "{m}"
    );
}

// --- BI10-BI23: events ---------------------------------------------------------------------

/// The golden event as an [`Event`] (schema order: keys card, merchant; numeric amount).
fn e0_event(amount: f64) -> Event {
    Event::new(
        1_700_416_519_000,
        vec!["c12".into(), "7".into()],
        vec![amount],
        None,
    )
}

#[test]
fn bi10_nan_event_field() {
    let e = msg(
        pipeline().score(&e0_event(f64::NAN)),
        &format!("invalid value for field `amount`: NaN is not finite: {NONFINITE_HINT}"),
    );
    assert!(matches!(e, Error::InvalidField { .. }));
}

#[test]
fn bi11_infinite_event_field() {
    let e = msg(
        pipeline().score(&e0_event(f64::INFINITY)),
        &format!("invalid value for field `amount`: inf is not finite: {NONFINITE_HINT}"),
    );
    assert!(matches!(e, Error::InvalidField { .. }));
    msg(
        pipeline().score(&e0_event(f64::NEG_INFINITY)),
        &format!("invalid value for field `amount`: -inf is not finite: {NONFINITE_HINT}"),
    );
}

#[test]
fn bi12_huge_amount() {
    let mut p = pipeline();
    let before = p.engine().stats().events;
    let want = "invalid value for field `amount`: 1e308 is beyond +/-1e18, the range numeric fields accept (window sums must stay finite): check the value or rescale the field";
    let e = msg(p.score_json(&with("amount", json!(1e308))), want);
    assert!(matches!(e, Error::InvalidField { .. }));
    // Refused before the feature update: the card's windows are untouched, its next event scores.
    assert_eq!(p.engine().stats().events, before);
    assert!(
        p.score_json(&with("amount", json!(1.0)))
            .unwrap()
            .risk
            .is_finite()
    );
    // A batch with such a value: the same check.
    let mut ev = p
        .engine()
        .schema()
        .event_from_json(&with("amount", json!(1.0)))
        .unwrap();
    ev.values[0] = 1e308;
    msg(p.score_batch_events(&[ev]), &format!("row 0: {want}"));
}

#[test]
fn bi13_string_for_number() {
    let e = msg(
        pipeline().score_json(&with("amount", json!("12.5"))),
        "invalid value for field `amount`: expected a number, got a string",
    );
    assert!(matches!(e, Error::InvalidField { .. }));
}

const DECLARED: &str =
    "timestamp `ts`, keys [`card`, `merchant`], numeric [`amount`], ignored [`note`]";

#[test]
fn bi14_unknown_field() {
    let want = format!(
        "unknown field `surprise`: the spec's schema declares {DECLARED}; add it to the schema or drop the column"
    );
    let e = msg(pipeline().score_json(&with("surprise", json!(1))), &want);
    assert!(matches!(e, Error::UnknownField { .. }));
    // A batch (data frame) with an extra column: the same check on the column names.
    let p = pipeline();
    let e = msg(
        p.engine()
            .schema()
            .check_fields(&["ts", "card", "merchant", "amount", "surprise"]),
        &want,
    );
    assert!(matches!(e, Error::UnknownField { .. }));
}

#[test]
fn bi15_missing_field() {
    let want = "missing field `amount`: every event needs it (it is a numeric field)";
    let e = msg(pipeline().score_json(&without("amount")), want);
    assert!(matches!(e, Error::MissingField { .. }));
    let p = pipeline();
    msg(
        p.engine()
            .schema()
            .check_fields(&["ts", "card", "merchant"]),
        want,
    );
    msg(
        pipeline().score_json(&without("ts")),
        "missing field `ts`: every event needs it (it is the event timestamp)",
    );
}

#[test]
fn bi16_missing_entity_key() {
    let e = msg(
        pipeline().score_json(&with("card", Value::Null)),
        "invalid value for field `card`: an entity key must not be null",
    );
    assert!(matches!(e, Error::InvalidField { .. }));
}

#[test]
fn bi17_non_integral_or_boolean_key() {
    let e = msg(
        pipeline().score_json(&with("merchant", json!(7.5))),
        "invalid value for field `merchant`: an entity key must be a string or an integer (got a non-integral number)",
    );
    assert!(matches!(e, Error::InvalidField { .. }));
    msg(
        pipeline().score_json(&with("merchant", json!(true))),
        "invalid value for field `merchant`: an entity key must be a string or an integer (got a boolean)",
    );
}

#[test]
fn bi18_unparseable_timestamp() {
    let e = msg(
        pipeline().score_json(&with("ts", json!("yesterday"))),
        "invalid value for field `ts`: expected an epoch number in seconds (the schema's timestamp unit)",
    );
    assert!(matches!(e, Error::InvalidField { .. }));
}

#[test]
fn bi19_timestamp_out_of_range() {
    let e = msg(
        pipeline().score_json(&with("ts", json!(9_000_000_000_000_000_i64))),
        "invalid value for field `ts`: 9000000000000000000 ms is outside the supported range of +-8640000000000000 ms around 1970",
    );
    assert!(matches!(e, Error::InvalidField { .. }));
    msg(
        pipeline().score_json(&with("ts", json!(1e300))),
        "invalid value for field `ts`: timestamp 1e300 is not a finite epoch time within range",
    );
}

#[test]
fn bi20_far_future_timestamp() {
    let mut p = pipeline();
    // Year 9999 is within the supported range: the event is accepted...
    let far = 253_402_300_799_i64;
    let s = p.score_json(&with("ts", json!(far))).unwrap();
    assert!((0.0..=1.0).contains(&s.risk));
    // ...and moves the watermark: every event of the present is now late.
    let behind = (far - 1_700_416_519) * 1000;
    let e = msg(
        p.score_json(&e0()),
        &format!(
            "late event: its timestamp is {behind} ms behind the watermark (newest event time minus the allowed lateness of 0 ms); raise `lateness.allowed` or choose the `drop` or `process` policy"
        ),
    );
    assert!(matches!(e, Error::LateEvent { .. }));
    // With `lateness.max_ahead` the far-future event is refused before it moves the newest time.
    let bytes = tampered_features(|f| {
        f["lateness"] = json!({"allowed": 0, "policy": "error", "max_ahead": "1d"})
    });
    let mut q = Pipeline::from_bytes(&bytes).unwrap();
    q.score_json(&e0()).unwrap();
    let ahead = (far - 1_700_416_519) * 1000;
    let e = msg(
        q.score_json(&with("ts", json!(far))),
        &format!(
            "invalid value for field `ts`: {} ms is {ahead} ms ahead of the newest event time, more than lateness.max_ahead (86400000 ms): check the event's clock and time unit",
            far * 1000
        ),
    );
    assert!(matches!(e, Error::InvalidField { .. }));
    assert!(
        q.score_json(&with("ts", json!(1_700_416_519_i64 + 60)))
            .is_ok()
    );
}

#[test]
fn bi21_late_event_error_policy() {
    let mut p = pipeline();
    p.score_json(&e0()).unwrap();
    let before = p.engine().snapshot().unwrap();
    let e = msg(
        p.score_json(&with("ts", json!(1_700_416_519_i64 - 3600))),
        "late event: its timestamp is 3600000 ms behind the watermark (newest event time minus the allowed lateness of 0 ms); raise `lateness.allowed` or choose the `drop` or `process` policy",
    );
    assert!(matches!(
        e,
        Error::LateEvent {
            behind_ms: 3_600_000,
            allowed_ms: 0
        }
    ));
    assert_eq!(p.engine().snapshot().unwrap(), before, "state unchanged");
}

#[test]
fn bi22_late_event_drop_policy() {
    let bytes = tampered_features(|f| f["lateness"] = json!({"allowed": 0, "policy": "drop"}));
    let mut p = Pipeline::from_bytes(&bytes).unwrap();
    p.score_json(&e0()).unwrap();
    let s = p
        .score_json(&with("ts", json!(1_700_416_519_i64 - 3600)))
        .unwrap();
    assert!(s.risk.is_nan() && !s.is_alert && s.reasons.is_empty());
    assert_eq!(p.engine().stats().late_dropped, 1);
}

#[test]
fn bi23_duplicated_event_id() {
    let mut engine = FeatureEngine::from_json(
        r#"{"schema": {"timestamp": "ts", "time_unit": "s", "keys": ["shop"], "label": "fraud",
                       "id": "tx"},
            "features": [{"kind": "window", "name": "risk_1d", "key": "shop", "agg": "risk",
                          "window": "1d", "delay": "1h"}]}"#,
    )
    .unwrap();
    let ev = |tx: u32, ts: i64| json!({"tx": tx, "ts": ts, "shop": "s1"});
    // Two events with the same id are both accepted (no de-duplication)...
    engine.update_json(ev(1, 0).as_object().unwrap()).unwrap();
    engine.update_json(ev(1, 60).as_object().unwrap()).unwrap();
    engine.update_json(ev(2, 120).as_object().unwrap()).unwrap();
    // ...and feedback for that id labels every retained event that carries it.
    let fb = json!({"tx": 1, "shop": "s1", "fraud": 1});
    assert!(engine.feedback_json(fb.as_object().unwrap()).unwrap());
    let out = engine
        .update_json(ev(3, 7200).as_object().unwrap())
        .unwrap();
    assert_eq!(out, vec![2.0 / 3.0]);
    // A replayed event is counted twice as well.
    let mut p = pipeline();
    p.score_json(&e0()).unwrap();
    let once = p.engine().snapshot().unwrap();
    p.score_json(&e0()).unwrap();
    assert_ne!(p.engine().snapshot().unwrap(), once);
    assert_eq!(p.engine().stats().events, 2 + 2000);
}

// --- BI24-BI31: artifacts ------------------------------------------------------------------

#[test]
fn bi24_corrupted_byte() {
    let mut b = golden("iforest_v1.bin");
    b[100] ^= 0x01;
    let e = msg(
        IsolationForest::from_bytes(&b).map(|_| ()),
        "invalid artifact: checksum mismatch (stored 0x783e9e16, computed 0x63dd3645): the bytes are corrupted",
    );
    assert!(matches!(
        e,
        Error::Artifact(ArtifactError::ChecksumMismatch { .. })
    ));
}

#[test]
fn bi25_truncated() {
    let b = golden("iforest_v1.bin");
    let e = msg(
        IsolationForest::from_bytes(&b[..100]).map(|_| ()),
        "invalid artifact: truncated: 100 bytes, expected at least 15151",
    );
    assert!(matches!(
        e,
        Error::Artifact(ArtifactError::Truncated { .. })
    ));
    msg(
        IsolationForest::from_bytes(&b[..20]).map(|_| ()),
        "invalid artifact: truncated: 20 bytes, expected at least 28",
    );
}

#[test]
fn bi26_empty_bytes() {
    let e = msg(
        IsolationForest::from_bytes(&[]).map(|_| ()),
        "invalid artifact: truncated: 0 bytes, expected at least 28",
    );
    assert!(matches!(
        e,
        Error::Artifact(ArtifactError::Truncated { .. })
    ));
    msg(
        Pipeline::from_bytes(&[]).map(|_| ()),
        "invalid artifact: truncated: 0 bytes, expected at least 28",
    );
}

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

#[test]
fn bi27_foreign_png() {
    let want = "invalid artifact: not a fraud-core artifact (bad magic bytes)";
    let e = msg(IsolationForest::from_bytes(PNG).map(|_| ()), want);
    assert_eq!(e, Error::Artifact(ArtifactError::BadMagic));
    msg(Pipeline::from_bytes(PNG).map(|_| ()), want);
}

#[test]
fn bi28_foreign_json() {
    let text = br#"{"model": "isolation_forest", "n_estimators": 100}"#;
    let e = msg(
        IsolationForest::from_bytes(text).map(|_| ()),
        "invalid artifact: not a fraud-core artifact (bad magic bytes)",
    );
    assert_eq!(e, Error::Artifact(ArtifactError::BadMagic));
}

#[test]
fn bi29_future_version() {
    let mut b = golden("iforest_v1.bin");
    b[8..10].copy_from_slice(&2u16.to_le_bytes());
    let b = fix_crc(b);
    let e = msg(
        IsolationForest::from_bytes(&b).map(|_| ()),
        "invalid artifact: unsupported format version 2: this build reads versions up to 1",
    );
    assert!(matches!(
        e,
        Error::Artifact(ArtifactError::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    ));
}

#[test]
fn bi30_wrong_artifact_kind() {
    let mut z = ZScore::new(ZScoreParams::default()).unwrap();
    z.fit(matrix(10, 5).view()).unwrap();
    let e = msg(
        IsolationForest::from_bytes(&z.to_bytes().unwrap()).map(|_| ()),
        "invalid artifact: wrong artifact kind: expected IsolationForest, found ZScore",
    );
    assert!(matches!(
        e,
        Error::Artifact(ArtifactError::WrongKind { .. })
    ));
    msg(
        IsolationForest::from_bytes(&golden("pipeline_v1.bin")).map(|_| ()),
        "invalid artifact: wrong artifact kind: expected IsolationForest, found Pipeline",
    );
    msg(
        Pipeline::from_bytes(&golden("iforest_v1.bin")).map(|_| ()),
        "invalid artifact: wrong artifact kind: expected Pipeline, found IsolationForest",
    );
}

#[test]
fn bi31_trailing_bytes() {
    let mut b = golden("iforest_v1.bin");
    b.extend_from_slice(b"\0\0\0\0");
    let e = msg(
        IsolationForest::from_bytes(&b).map(|_| ()),
        "invalid artifact: length mismatch: header says 15123 payload bytes, 15127 present",
    );
    assert!(matches!(
        e,
        Error::Artifact(ArtifactError::LengthMismatch { .. })
    ));
}

// --- BI32-BI40: specs and hyper-parameters -------------------------------------------------

#[test]
fn bi32_malformed_json_spec() {
    let e = msg(
        FeatureSpec::from_json(r#"{"schema": {"timestamp": "ts",}"#).map(|_| ()),
        "invalid spec JSON at line 1, column 31: trailing comma",
    );
    assert!(matches!(e, Error::SpecJson { .. }));
    msg(
        Pipeline::from_bytes(&edit_leading_text(&golden("pipeline_v1.bin"), |t| {
            t[..t.len() / 2].to_string()
        }))
        .map(|_| ()),
        &stored_spec("invalid spec JSON at line 1, column 900: EOF while parsing a string"),
    );
}

#[test]
fn bi33_unknown_spec_key() {
    // A typo in the first `window` (feature `card_n_1h`), edited in the stored text.
    let bytes = edit_leading_text(&golden("pipeline_v1.bin"), |t| {
        t.replacen("\"window\":", "\"windw\":", 1)
    });
    let e = msg(
        Pipeline::from_bytes(&bytes).map(|_| ()),
        &stored_spec(
            "invalid spec JSON at line 1, column 489: unknown field `windw`, expected one of `name`, `key`, `agg`, `field`, `window`, `delay`, `include_current`, `ddof`, `fill`",
        ),
    );
    assert!(matches!(e, Error::Artifact(_)));
}

#[test]
fn bi34_zero_window() {
    let bytes = tampered_spec(|v| v["features"]["features"][2]["window"] = json!("0s"));
    let want = "invalid spec at feature `card_n_1h`: window 0 ms must be > 0";
    msg(Pipeline::from_bytes(&bytes).map(|_| ()), &stored_spec(want));
}

#[test]
fn bi35_negative_half_life() {
    let bytes = tampered_spec(|v| {
        v["features"]["features"]
            .as_array_mut()
            .unwrap()
            .push(json!(
                {"kind": "decayed", "name": "amount_decayed", "key": "card", "field": "amount",
                 "half_life": -3_600_000, "window": "1d"}
            ))
    });
    msg(
        Pipeline::from_bytes(&bytes).map(|_| ()),
        &stored_spec("invalid spec at feature `amount_decayed`: half_life -3600000 ms must be > 0"),
    );
}

#[test]
fn bi36_ttl_shorter_than_window() {
    let bytes = tampered_spec(|v| v["features"]["ttl"] = json!("1h"));
    msg(
        Pipeline::from_bytes(&bytes).map(|_| ()),
        &stored_spec(
            "invalid spec at ttl: 3600000 ms is shorter than the allowed lateness plus the longest window + delay (or max_gap) of key `card` = 86400000 ms; eviction would change features",
        ),
    );
}

#[test]
fn bi37_zero_trees() {
    let e = msg(
        IsolationForest::new(IsolationForestParams::default().n_estimators(0)).map(|_| ()),
        "invalid parameter `n_estimators` = 0: an integer >= 1",
    );
    assert!(matches!(
        e,
        Error::InvalidParameter {
            name: "n_estimators",
            ..
        }
    ));
    let bytes = tampered_spec(|v| v["detectors"][0]["n_estimators"] = json!(0));
    msg(
        Pipeline::from_bytes(&bytes).map(|_| ()),
        &stored_spec("invalid spec at detectors[0].n_estimators: 0: expected an integer >= 1"),
    );
}

#[test]
fn bi38_max_samples() {
    let e = msg(
        IsolationForest::new(IsolationForestParams::default().max_samples(MaxSamples::Count(0)))
            .map(|_| ()),
        "invalid parameter `max_samples` = 0: an integer >= 1, a float in (0, 1] or \"auto\"",
    );
    assert!(matches!(e, Error::InvalidParameter { .. }));
    let bytes = tampered_spec(|v| v["detectors"][0]["max_samples"] = json!(0));
    msg(
        Pipeline::from_bytes(&bytes).map(|_| ()),
        &stored_spec(
            "invalid spec at detectors[0].max_samples: 0: expected an integer >= 1, a float in (0, 1] or \"auto\"",
        ),
    );
    // More samples than rows: clamped to the number of rows (scikit-learn warns), no error.
    let mut f = IsolationForest::new(
        IsolationForestParams::default()
            .max_samples(MaxSamples::Count(1000))
            .random_state(0),
    )
    .unwrap();
    f.fit(matrix(50, 5).view()).unwrap();
    assert_eq!(f.max_samples_().unwrap(), 50);
}

#[test]
fn bi39_contamination() {
    let e = msg(
        IsolationForest::new(
            IsolationForestParams::default().contamination(Contamination::Fraction(0.7)),
        )
        .map(|_| ()),
        "invalid parameter `contamination` = 0.7: \"auto\" or a float in (0, 0.5]",
    );
    assert!(matches!(e, Error::InvalidParameter { .. }));
    // In a pipeline spec the contamination sets the alert threshold.
    let bytes = tampered_spec(|v| v["alert"] = json!({"contamination": 0.7}));
    msg(
        Pipeline::from_bytes(&bytes).map(|_| ()),
        &stored_spec("invalid spec at alert.contamination: 0.7: expected a fraction in (0, 0.5]"),
    );
}

#[test]
fn bi40_alert_rate() {
    let text = golden_spec_with(|v| v["alert"] = json!({"target_alert_rate": 1.5}));
    let e = msg(
        PipelineSpec::from_json(&text).and_then(|s| s.validate()),
        "invalid spec at alert.target_alert_rate: 1.5: expected a fraction in (0, 1)",
    );
    assert!(matches!(e, Error::InvalidSpec { .. }));
    let bytes = tampered_spec(|v| v["alert"] = json!({"target_alert_rate": 1.5}));
    msg(
        Pipeline::from_bytes(&bytes).map(|_| ()),
        &stored_spec("invalid spec at alert.target_alert_rate: 1.5: expected a fraction in (0, 1)"),
    );
}

fn golden_spec_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&pipeline().spec().to_json()).unwrap();
    edit(&mut v);
    v.to_string()
}

// --- BI41: non-UTF-8 text ------------------------------------------------------------------

#[test]
fn bi41_non_utf8_key() {
    // Rust APIs take `&str`: invalid UTF-8 cannot reach fraud-core. Event JSON read from bytes is
    // refused by serde_json before; the replacement character is an ordinary key.
    let raw = b"{\"ts\": 1700416519, \"card\": \"c\xff\", \"merchant\": 7, \"amount\": 1.0}";
    assert!(serde_json::from_slice::<Map<String, Value>>(raw).is_err());
    let mut p = pipeline();
    let s = p.score_json(&with("card", json!("c\u{fffd}"))).unwrap();
    assert!((0.0..=1.0).contains(&s.risk));
}

// --- the catalogue and the three test files agree ------------------------------------------

fn ids_in(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let lower = text.to_lowercase();
    let pre = prefix.to_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find(&pre) {
        let tail = &rest[i + pre.len()..];
        let digits: String = tail.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.len() == 2 {
            out.insert(format!("BI{digits}"));
        }
        rest = &tail[digits.len()..];
    }
    out
}

#[test]
fn catalogue_matches_tests() {
    let root = fraud_tests::golden_dir().join("..").join("..");
    let read = |p: &str| {
        std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("cannot read {p}: {e}"))
    };
    let doc = read("docs/bad-input.md");
    // Catalogue ids: the `### BIxx` headings, each once.
    let mut ids = Vec::new();
    for line in doc.lines() {
        if let Some(rest) = line.strip_prefix("### BI") {
            let id: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            assert_eq!(id.len(), 2, "heading {line:?}");
            ids.push(format!("BI{id}"));
        }
    }
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "duplicate ids in the catalogue: {ids:?}"
    );
    assert!(ids.len() >= 30, "only {} cases", ids.len());
    let files = [
        ("tests/tests/bad_input.rs", "fn bi"),
        ("fraud-py/tests/test_bad_input.py", "def test_bi"),
        ("fraud-wasm/tests/bad_input.test.mjs", "test(\"bi"),
    ];
    for (path, prefix) in files {
        let tested = ids_in(&read(path), prefix);
        assert_eq!(tested, unique, "{path}: tests vs catalogue ids");
    }
}
