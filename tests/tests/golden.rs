//! Golden fixtures: artifact bytes written by an earlier build must keep loading and scoring
//! bit-identically. The same files are checked by the Python and WASM suites.
//!
//! Regenerate (only when the format version changes, keeping the old files) with
//! `FRAUD_REGENERATE_GOLDEN=1 cargo test -p fraud-tests --test golden`.

use fraud_core::detectors::iforest::{Contamination, IsolationForest, IsolationForestParams};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Expected {
    description: String,
    n_features: usize,
    rows: Vec<Vec<f64>>,
    score_samples: Vec<f64>,
    decision_function: Vec<f64>,
    offset: f64,
}

fn inputs() -> Array2<f64> {
    let data = fraud_datasets::synthetic::clusters_with_outliers(64, 5, 0.1, 2024);
    data.x
}

fn regenerate() {
    let x = inputs();
    let params = IsolationForestParams::default()
        .n_estimators(50)
        .random_state(7)
        .contamination(Contamination::Fraction(0.1));
    let mut f = IsolationForest::new(params).unwrap();
    f.fit(x.view()).unwrap();
    f.set_feature_names(Some((0..5).map(|i| format!("f{i}")).collect()))
        .unwrap();
    let expected = Expected {
        description:
            "IsolationForest, format v1: 50 trees, random_state 7, contamination 0.1, fitted on \
                      fraud_datasets::synthetic::clusters_with_outliers(64, 5, 0.1, 2024)"
                .into(),
        n_features: 5,
        rows: x.outer_iter().map(|r| r.to_vec()).collect(),
        score_samples: f.score_samples(x.view()).unwrap().to_vec(),
        decision_function: f.decision_function(x.view()).unwrap().to_vec(),
        offset: f.offset().unwrap(),
    };
    let dir = fraud_tests::golden_dir();
    std::fs::create_dir_all(&dir).unwrap();
    fraud_core::model::write_atomic(dir.join("iforest_v1.bin"), &f.to_bytes().unwrap()).unwrap();
    let json = serde_json::to_string_pretty(&expected).unwrap();
    fraud_core::model::write_atomic(dir.join("iforest_v1_expected.json"), json.as_bytes()).unwrap();
}

#[test]
fn iforest_v1_golden_scores_bit_identically() {
    if std::env::var_os("FRAUD_REGENERATE_GOLDEN").is_some() {
        regenerate();
    }
    let dir = fraud_tests::golden_dir();
    let bytes = std::fs::read(dir.join("iforest_v1.bin")).expect("golden artifact is committed");
    let expected: Expected = serde_json::from_str(
        &std::fs::read_to_string(dir.join("iforest_v1_expected.json")).unwrap(),
    )
    .unwrap();
    let f = IsolationForest::from_bytes(&bytes).unwrap();
    assert_eq!(
        f.to_bytes().unwrap(),
        bytes,
        "re-encoding changed the bytes"
    );
    assert_eq!(f.n_features_in().unwrap(), expected.n_features);
    assert_eq!(f.offset().unwrap().to_bits(), expected.offset.to_bits());
    let rows = expected.rows.len();
    let x = Array2::from_shape_vec((rows, expected.n_features), expected.rows.concat()).unwrap();
    let s = f.score_samples(x.view()).unwrap();
    let d = f.decision_function(x.view()).unwrap();
    for i in 0..rows {
        assert_eq!(
            s[i].to_bits(),
            expected.score_samples[i].to_bits(),
            "row {i}"
        );
        assert_eq!(
            d[i].to_bits(),
            expected.decision_function[i].to_bits(),
            "row {i}"
        );
        assert_eq!(
            f.score_one(&expected.rows[i]).unwrap().to_bits(),
            expected.score_samples[i].to_bits()
        );
    }
    // The generator is seeded: today's build reproduces the very same model bytes.
    let mut again = IsolationForest::new(f.params().clone()).unwrap();
    again.fit(inputs().view()).unwrap();
    again
        .set_feature_names(f.feature_names().map(|n| n.to_vec()))
        .unwrap();
    assert_eq!(
        again.to_bytes().unwrap(),
        bytes,
        "fitting with the same seed no longer gives the golden model"
    );
}
