//! Artifact decoding of every kind: the same bytes go to every decoder (isolation forest, z-score,
//! robust z-score, supervised model, pipeline, feature-engine snapshot with and without a key
//! secret, `peek_kind`). Nothing may panic. A decoded artifact must re-encode, decode again and
//! re-encode to the same bytes (engine snapshots and pipelines hold hash maps, whose order may
//! differ: they are compared by behaviour), and the two decoded copies must score probe inputs
//! bit-identically (which also exercises scoring on every accepted model).
#![no_main]

use fraud_core::detectors::iforest::IsolationForest;
use fraud_core::detectors::supervised::SupervisedModel;
use fraud_core::detectors::zscore::{RobustZScore, ZScore};
use fraud_core::features::FeatureEngine;
use fraud_core::model;
use fraud_core::scoring::Pipeline;
use fraud_core_fuzz::{SECRET, artifact_from_input, bits, probe_events, probe_row};
use libfuzzer_sys::fuzz_target;
use ndarray::Array2;

fn row2(n: usize, salt: u64) -> Array2<f64> {
    let r = probe_row(n, salt);
    Array2::from_shape_vec((1, r.len()), r).unwrap()
}

fn check_iforest(bytes: &[u8]) {
    let Ok(a) = IsolationForest::from_bytes(bytes) else {
        return;
    };
    let enc = a.to_bytes().expect("a decoded forest re-encodes");
    let b = IsolationForest::from_bytes(&enc).expect("re-encoded forest decodes");
    assert_eq!(enc, b.to_bytes().unwrap(), "iforest re-encoding is stable");
    if let Ok(n) = a.n_features_in() {
        for salt in 0..3 {
            let row = probe_row(n, salt);
            if row.len() != n {
                break;
            }
            let (x, y) = (a.score_one(&row), b.score_one(&row));
            match (&x, &y) {
                (Ok(x), Ok(y)) => {
                    assert_eq!(x.to_bits(), y.to_bits());
                    assert!(
                        x.is_nan() || (-1.0..=0.0).contains(x),
                        "score {x} out of [-1, 0]"
                    );
                }
                _ => assert_eq!(x.is_ok(), y.is_ok()),
            }
            let batch = a.score_samples(row2(n, salt).view());
            if let (Ok(batch), Ok(x)) = (batch, x) {
                assert_eq!(
                    batch[0].to_bits(),
                    x.to_bits(),
                    "batch and one-row scores agree"
                );
            }
            let _ = a.explain_one(&row);
        }
        let _ = a.to_json();
    }
}

macro_rules! check_zscore {
    ($name:ident, $ty:ty) => {
        fn $name(bytes: &[u8]) {
            let Ok(a) = <$ty>::from_bytes(bytes) else {
                return;
            };
            let enc = a.to_bytes().expect("re-encodes");
            let b = <$ty>::from_bytes(&enc).expect("re-encoded detector decodes");
            assert_eq!(enc, b.to_bytes().unwrap(), "re-encoding is stable");
            assert_eq!(a, b);
            if let Ok(n) = a.n_features_in() {
                let row = probe_row(n, 1);
                if row.len() == n {
                    let (x, y) = (a.score_one(&row), b.score_one(&row));
                    match (x, y) {
                        (Ok(x), Ok(y)) => assert_eq!(x.to_bits(), y.to_bits()),
                        (x, y) => assert_eq!(x.is_ok(), y.is_ok()),
                    }
                    let _ = a.score_samples(row2(n, 1).view());
                    let _ = a.decision_function(row2(n, 2).view());
                }
            }
        }
    };
}
check_zscore!(check_zscore, ZScore);
check_zscore!(check_robust, RobustZScore);

fn check_supervised(bytes: &[u8]) {
    let Ok(a) = SupervisedModel::from_bytes(bytes) else {
        return;
    };
    let enc = a.to_bytes().expect("re-encodes");
    let b = SupervisedModel::from_bytes(&enc).expect("re-encoded model decodes");
    assert_eq!(enc, b.to_bytes().unwrap(), "re-encoding is stable");
    if let Ok(n) = a.n_features_in() {
        let x = row2(n, 0);
        if x.ncols() == n {
            let (p, q) = (a.predict_proba(x.view()), b.predict_proba(x.view()));
            match (p, q) {
                (Ok(p), Ok(q)) => {
                    assert_eq!(bits(p.as_slice().unwrap()), bits(q.as_slice().unwrap()));
                    assert!(
                        p.iter().all(|v| v.is_nan() || (0.0..=1.0).contains(v)),
                        "{p:?}"
                    );
                }
                (p, q) => assert_eq!(p.is_ok(), q.is_ok()),
            }
        }
    }
    let _ = a.coefficients();
}

fn same_engine(a: &FeatureEngine, b: &FeatureEngine) {
    assert_eq!(a.stats(), b.stats());
    assert_eq!(a.entity_count(), b.entity_count());
    assert_eq!(a.newest_time_ms(), b.newest_time_ms());
    assert_eq!(a.spec(), b.spec());
}

/// Continue two copies of a restored engine with the same probe events: identical bits.
pub fn continue_engines(mut a: FeatureEngine, mut b: FeatureEngine) {
    same_engine(&a, &b);
    let t0 = a.newest_time_ms().unwrap_or(0);
    for (i, ev) in probe_events(&a, t0, 8).iter().enumerate() {
        let (x, y) = (a.update(ev), b.update(ev));
        match (x, y) {
            (Ok(x), Ok(y)) => assert_eq!(bits(&x), bits(&y), "probe {i}"),
            (x, y) => assert_eq!(x.is_ok(), y.is_ok(), "probe {i}: {x:?} vs {y:?}"),
        }
        if i == 3 {
            let _ = a.forget("a");
            let _ = b.forget("a");
        }
    }
    same_engine(&a, &b);
}

fn check_engine(bytes: &[u8]) {
    for secret in [None, Some(SECRET)] {
        let restore = |b: &[u8]| match secret {
            None => FeatureEngine::restore(b),
            Some(s) => FeatureEngine::restore_with_secret(b, s),
        };
        let Ok(a) = restore(bytes) else { continue };
        let enc = a.snapshot().expect("a restored engine snapshots");
        let b = restore(&enc).expect("its snapshot restores");
        continue_engines(a, b);
    }
}

fn check_pipeline(bytes: &[u8]) {
    let Ok(mut a) = Pipeline::from_bytes(bytes) else {
        return;
    };
    let enc = a.to_bytes().expect("a decoded pipeline re-encodes");
    let mut b = Pipeline::from_bytes(&enc).expect("re-encoded pipeline decodes");
    assert_eq!(a.spec(), b.spec());
    assert_eq!(a.threshold().to_bits(), b.threshold().to_bits());
    let t0 = a.engine().newest_time_ms().unwrap_or(0);
    for (i, ev) in probe_events(a.engine(), t0, 6).iter().enumerate() {
        let (x, y) = (a.score(ev), b.score(ev));
        match (x, y) {
            (Ok(x), Ok(y)) => {
                assert_eq!(x.risk.to_bits(), y.risk.to_bits(), "probe {i}");
                assert_eq!(x.is_alert, y.is_alert);
                assert_eq!(x.reasons, y.reasons);
                assert!(
                    x.risk.is_nan() || (0.0..=1.0).contains(&x.risk),
                    "risk {}",
                    x.risk
                );
            }
            (x, y) => assert_eq!(x.is_ok(), y.is_ok(), "probe {i}: {x:?} vs {y:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(bytes) = artifact_from_input(data) else {
        return;
    };
    let _ = model::peek_kind(&bytes);
    check_iforest(&bytes);
    check_zscore(&bytes);
    check_robust(&bytes);
    check_supervised(&bytes);
    check_engine(&bytes);
    check_pipeline(&bytes);
});
