//! The scoring pipeline on simulated transactions (handbook features): detection quality of the
//! weighted anomaly pipeline and of the supervised combine, batch = per-event scoring, and artifact
//! round trips.

use fraud_core::event::EventColumns;
use fraud_core::metrics::roc_auc;
use fraud_core::scoring::{Pipeline, PipelineSpec};
use fraud_datasets::simulator::{SimulatorConfig, simulate};
use fraud_datasets::transactions::Transactions;
use serde_json::json;

fn handbook_features() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../datasets/specs/handbook.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn spec(detectors: serde_json::Value, combine: &str) -> PipelineSpec {
    PipelineSpec::from_value(json!({
        "features": handbook_features(),
        "detectors": detectors,
        "combine": combine,
        "alert": {"target_alert_rate": 0.02},
        "reasons": 3
    }))
    .unwrap()
}

/// 300 customers, 600 terminals, 40 days; the first 28 days train, the rest test.
fn data() -> (Transactions, Transactions) {
    let tx = simulate(&SimulatorConfig::new(300, 600, 40, 11).unwrap()).unwrap();
    let day0 = tx.time_ms[0] - tx.time_ms[0].rem_euclid(86_400_000);
    let cut = tx
        .time_ms
        .iter()
        .position(|&t| t >= day0 + 28 * 86_400_000)
        .unwrap();
    (tx.slice(0..cut), tx.slice(cut..tx.len()))
}

fn fit_and_test(s: PipelineSpec, train: &Transactions, test: &Transactions) -> (Pipeline, f64) {
    let cols = train.handbook_columns();
    let mut p = Pipeline::fit(s, &cols.view(train)).unwrap();
    // Serving sees no labels: score the test events without them, continuing the training state.
    let tc = test.handbook_columns();
    let view = EventColumns {
        label: None,
        ..tc.view(test)
    };
    let batch = p.score_batch(&view).unwrap();
    assert!(batch.risk.iter().all(|r| (0.0..=1.0).contains(r)));
    (p, roc_auc(&test.fraud, &batch.risk).unwrap())
}

#[test]
fn weighted_and_supervised_pipelines_detect_simulated_fraud() {
    let (train, test) = data();
    println!(
        "simulated: {} training, {} test transactions, {} / {} fraud",
        train.len(),
        test.len(),
        train.fraud.iter().filter(|f| **f).count(),
        test.fraud.iter().filter(|f| **f).count()
    );
    let anomaly = json!([
        {"kind": "isolation_forest", "n_estimators": 100, "random_state": 1},
        {"kind": "zscore"}
    ]);
    let (_, auc_w) = fit_and_test(spec(anomaly, "weighted"), &train, &test);
    let sup = json!([
        {"kind": "isolation_forest", "n_estimators": 100, "random_state": 1},
        {"kind": "zscore"},
        {"kind": "supervised", "n_estimators": 50, "max_depth": 10, "random_state": 1}
    ]);
    let (_, auc_s) = fit_and_test(spec(sup, "supervised"), &train, &test);
    println!("test ROC AUC: weighted (iforest + zscore) {auc_w:.4}, supervised combine {auc_s:.4}");
    assert!(auc_w > 0.6, "weighted {auc_w}");
    assert!(
        auc_s > auc_w && auc_s > 0.75,
        "supervised {auc_s} vs weighted {auc_w}"
    );
}

#[test]
fn batch_equals_events_and_bytes_round_trip_on_simulated_data() {
    let (train, test) = data();
    let s = spec(
        json!([
            {"kind": "isolation_forest", "n_estimators": 50, "random_state": 2},
            {"kind": "robust_zscore", "combine": "rms"}
        ]),
        "weighted",
    );
    let cols = train.handbook_columns();
    let mut p = Pipeline::fit(s, &cols.view(&train)).unwrap();
    let bytes = p.to_bytes().unwrap();
    let mut batch_p = Pipeline::from_bytes(&bytes).unwrap();
    let mut loaded = Pipeline::from_bytes(&bytes).unwrap();
    let test = test.slice(0..2000);
    let tc = test.handbook_columns();
    let batch = batch_p
        .score_batch(&EventColumns {
            label: None,
            ..tc.view(&test)
        })
        .unwrap();
    let mut alerts = 0;
    for i in 0..test.len() {
        let e = test.event(i, false);
        let s = p.score(&e).unwrap();
        assert_eq!(s.risk.to_bits(), batch.risk[i].to_bits(), "row {i}");
        assert_eq!(s, batch.get(i), "row {i}");
        assert_eq!(s, loaded.score(&e).unwrap(), "row {i}");
        alerts += usize::from(s.is_alert);
    }
    println!(
        "threshold {:.4}; test alert rate {:.4}",
        p.threshold(),
        alerts as f64 / test.len() as f64
    );
}
