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

// ---------------------------------------------------------------------------------------------
// Pipeline golden fixtures: a fitted scoring pipeline (feature state included) and the scores of
// events that continue its state, as JSON objects exactly as an edge function receives them. The
// WASM suite (fraud-wasm/tests/pipeline.test.mjs) and the Python suite
// (fraud-py/tests/test_wasm_parity.py) score the same events and compare bit for bit.
//
// Regenerate with `FRAUD_REGENERATE_GOLDEN=1 cargo test -p fraud-tests --test golden`.

mod pipeline_golden {
    use fraud_core::features::FeatureEngine;
    use fraud_core::scoring::{Pipeline, PipelineSpec, Score};
    use serde::{Deserialize, Serialize};
    use serde_json::{Map, Value, json};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct ExpectedReason {
        feature: String,
        value: f64,
        contribution: f64,
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct ExpectedScore {
        risk: f64,
        is_alert: bool,
        reasons: Vec<ExpectedReason>,
    }

    #[derive(Serialize, Deserialize)]
    struct Expected {
        description: String,
        threshold: f64,
        input_names: Vec<String>,
        feature_names: Vec<String>,
        events: Vec<Map<String, Value>>,
        scores: Vec<ExpectedScore>,
    }

    /// A deterministic stream (xorshift64*), independent of any crate's RNG.
    struct Stream(u64);
    impl Stream {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    const T0: i64 = 1_700_000_000; // 2023-11-14 22:13:20 UTC, epoch seconds

    /// `n` payments: 40 cards (string keys) at 8 merchants (integer keys), about one payment per
    /// card every 2 hours, amounts around a per-card level; with `labelled`, 2% are frauds (large
    /// amounts at night) labelled 1, the rest 0. `extra` adds unusual events (new cards, huge
    /// amounts, bursts) for scoring.
    fn events(
        n: usize,
        start: i64,
        seed: u64,
        labelled: bool,
        extra: bool,
    ) -> Vec<Map<String, Value>> {
        let mut s = Stream(seed);
        let mut t = start;
        (0..n)
            .map(|i| {
                t += 60 + (s.next() * 300.0) as i64;
                let card = (s.next() * 40.0) as usize;
                let merchant = (s.next() * 8.0) as i64;
                let mut amount = (10.0 + 3.0 * card as f64) * (0.5 + s.next());
                let fraud = labelled && s.next() < 0.02;
                if fraud {
                    amount *= 20.0;
                }
                let mut card = format!("c{card}");
                if extra && i % 7 == 3 {
                    amount = 2500.0 + 100.0 * i as f64 + 0.125;
                }
                if extra && i % 11 == 5 {
                    card = format!("new{i}");
                }
                let mut m = Map::new();
                m.insert("ts".into(), json!(t));
                m.insert("card".into(), json!(card));
                m.insert("merchant".into(), json!(merchant));
                m.insert("amount".into(), json!((amount * 100.0).round() / 100.0));
                m.insert("note".into(), json!(format!("payment {i}")));
                if labelled {
                    m.insert("fraud".into(), json!(u8::from(fraud)));
                }
                m
            })
            .collect()
    }

    fn feature_spec(labelled: bool) -> Value {
        let mut schema = json!({
            "timestamp": "ts", "time_unit": "s", "keys": ["card", "merchant"],
            "numeric": ["amount"], "ignore": ["note"]
        });
        if labelled {
            schema["label"] = json!("fraud");
        }
        json!({
            "schema": schema,
            "ttl": "30d",
            "features": [
                {"kind": "calendar", "name": "night", "part": "night"},
                {"kind": "calendar", "name": "hour", "part": "hour"},
                {"kind": "window", "name": "card_n_1h", "key": "card", "agg": "count", "window": "1h"},
                {"kind": "window", "name": "card_mean_1d", "key": "card", "agg": "mean",
                 "field": "amount", "window": "1d", "fill": 0},
                {"kind": "window", "name": "card_std_1d", "key": "card", "agg": "std",
                 "field": "amount", "window": "1d", "fill": 0},
                {"kind": "relative", "name": "amount_ratio", "key": "card", "field": "amount",
                 "window": "1d", "mode": "ratio", "fill": 1},
                {"kind": "relative", "name": "amount_z", "key": "card", "field": "amount",
                 "window": "1d", "mode": "zscore", "fill": 0},
                {"kind": "window", "name": "merchant_n_1d", "key": "merchant", "agg": "count",
                 "window": "1d"},
                {"kind": "window", "name": "card_merchants_1d", "key": "card", "agg": "distinct",
                 "field": "merchant", "window": "1d"}
            ]
        })
    }

    /// (file stem, description, spec, training events, seed of the scored events, labelled)
    fn cases() -> Vec<(&'static str, &'static str, Value, bool)> {
        vec![
            (
                "pipeline_v1",
                "Pipeline, format v1: 9 features (calendar, windows, relative, distinct) over \
                 card/merchant keys, isolation forest (50 trees, random_state 7) + zscore (weight \
                 0.5) + robust_zscore (rms), weighted combine, target alert rate 0.05, 3 reasons; \
                 fitted on 2000 deterministic events (tests/tests/golden.rs); the scored events \
                 continue the training state",
                json!({
                    "features": feature_spec(false),
                    "detectors": [
                        {"kind": "isolation_forest", "n_estimators": 50, "random_state": 7},
                        {"kind": "zscore", "weight": 0.5},
                        {"kind": "robust_zscore", "combine": "rms"}
                    ],
                    "alert": {"target_alert_rate": 0.05},
                    "reasons": 3
                }),
                false,
            ),
            (
                "pipeline_supervised_v1",
                "Pipeline, format v1: the same features with a fraud label, inputs = 6 of them, \
                 isolation forest (30 trees, random_state 3) + zscore + logistic regression \
                 (alpha 1, random_state 1), supervised combine, threshold 0.5, 2 reasons; \
                 fitted on 2000 labelled deterministic events",
                json!({
                    "features": feature_spec(true),
                    "inputs": ["night", "card_n_1h", "card_mean_1d", "amount_ratio", "amount_z",
                               "merchant_n_1d"],
                    "detectors": [
                        {"kind": "isolation_forest", "n_estimators": 30, "random_state": 3},
                        {"kind": "zscore"},
                        {"kind": "supervised", "model": "logistic_regression", "alpha": 1.0,
                         "random_state": 1}
                    ],
                    "combine": "supervised",
                    "alert": {"threshold": 0.5},
                    "reasons": 2
                }),
                true,
            ),
        ]
    }

    fn fit(spec: &Value, labelled: bool) -> Pipeline {
        let spec = PipelineSpec::from_value(spec.clone()).unwrap();
        let engine = FeatureEngine::new(spec.features.clone()).unwrap();
        let train: Vec<_> = events(2000, T0, 0x5eed, labelled, false)
            .iter()
            .map(|m| engine.schema().event_from_json(m).unwrap())
            .collect();
        Pipeline::fit_events(spec, &train).unwrap()
    }

    fn scored_events(labelled: bool) -> Vec<Map<String, Value>> {
        // Right after the last training event.
        let last = events(2000, T0, 0x5eed, labelled, false)[1999]["ts"]
            .as_i64()
            .unwrap();
        let mut ev = events(60, last, 0xface, labelled, true);
        // The label is unknown at scoring time: leave it out of some events, null in others.
        for (i, e) in ev.iter_mut().enumerate() {
            if i % 2 == 0 {
                e.remove("fraud");
            } else if e.contains_key("fraud") {
                e.insert("fraud".into(), Value::Null);
            }
        }
        ev
    }

    fn to_expected(s: &Score) -> ExpectedScore {
        ExpectedScore {
            risk: s.risk,
            is_alert: s.is_alert,
            reasons: s
                .reasons
                .iter()
                .map(|r| ExpectedReason {
                    feature: r.feature.clone(),
                    value: r.value,
                    contribution: r.contribution,
                })
                .collect(),
        }
    }

    fn regenerate() {
        let dir = fraud_tests::golden_dir();
        std::fs::create_dir_all(&dir).unwrap();
        for (stem, description, spec, labelled) in cases() {
            let p = fit(&spec, labelled);
            let bytes = p.to_bytes().unwrap();
            let mut q = Pipeline::from_bytes(&bytes).unwrap();
            let events = scored_events(labelled);
            let scores = events
                .iter()
                .map(|e| to_expected(&q.score_json(e).unwrap()))
                .collect();
            let expected = Expected {
                description: description.into(),
                threshold: p.threshold(),
                input_names: p.input_names().to_vec(),
                feature_names: p.feature_names().to_vec(),
                events,
                scores,
            };
            fraud_core::model::write_atomic(dir.join(format!("{stem}.bin")), &bytes).unwrap();
            let json = serde_json::to_string_pretty(&expected).unwrap();
            fraud_core::model::write_atomic(
                dir.join(format!("{stem}_expected.json")),
                json.as_bytes(),
            )
            .unwrap();
        }
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits()
    }

    #[test]
    fn pipeline_v1_golden_scores_bit_identically() {
        if std::env::var_os("FRAUD_REGENERATE_GOLDEN").is_some() {
            regenerate();
        }
        let dir = fraud_tests::golden_dir();
        for (stem, _, spec, labelled) in cases() {
            let bytes = std::fs::read(dir.join(format!("{stem}.bin")))
                .expect("golden pipeline artifact is committed");
            let expected: Expected = serde_json::from_str(
                &std::fs::read_to_string(dir.join(format!("{stem}_expected.json"))).unwrap(),
            )
            .unwrap();
            let mut p = Pipeline::from_bytes(&bytes).unwrap();
            // (Re-encoding a loaded pipeline need not give the same bytes: the entity maps of the
            // feature state may iterate in another order. It must score the same.)
            let mut again = Pipeline::from_bytes(&p.to_bytes().unwrap()).unwrap();
            assert!(same(p.threshold(), expected.threshold), "{stem}: threshold");
            assert_eq!(p.input_names(), expected.input_names.as_slice());
            assert_eq!(p.feature_names(), expected.feature_names.as_slice());
            assert_eq!(expected.events.len(), expected.scores.len());
            assert_eq!(
                expected.events,
                scored_events(labelled),
                "{stem}: scored events"
            );
            let mut alerts = 0;
            for (i, (e, want)) in expected.events.iter().zip(&expected.scores).enumerate() {
                let got = to_expected(&p.score_json(e).unwrap());
                assert_eq!(
                    to_expected(&again.score_json(e).unwrap()),
                    got,
                    "{stem} event {i}"
                );
                alerts += usize::from(got.is_alert);
                assert!(
                    same(got.risk, want.risk),
                    "{stem} event {i}: risk {} vs {}",
                    got.risk,
                    want.risk
                );
                assert_eq!(got.is_alert, want.is_alert, "{stem} event {i}");
                assert_eq!(got.reasons.len(), want.reasons.len(), "{stem} event {i}");
                for (g, w) in got.reasons.iter().zip(&want.reasons) {
                    assert_eq!(g.feature, w.feature, "{stem} event {i}");
                    assert!(same(g.value, w.value), "{stem} event {i}: {g:?} vs {w:?}");
                    assert!(
                        same(g.contribution, w.contribution),
                        "{stem} event {i}: {g:?} vs {w:?}"
                    );
                }
            }
            // The fixture exercises both outcomes.
            assert!(
                alerts > 0 && alerts < expected.scores.len(),
                "{stem}: {alerts} alerts"
            );
            // The generator is seeded: today's build fits a pipeline that scores the same. (Not
            // compared as bytes: the entity maps of the feature state may iterate in another order.)
            let mut refit = fit(&spec, labelled);
            assert!(
                same(refit.threshold(), expected.threshold),
                "{stem}: refit threshold"
            );
            for (i, (e, want)) in expected.events.iter().zip(&expected.scores).enumerate() {
                let got = to_expected(&refit.score_json(e).unwrap());
                assert!(
                    same(got.risk, want.risk) && got.reasons.len() == want.reasons.len(),
                    "{stem} event {i}: fitting the same events no longer gives the golden pipeline"
                );
            }
        }
    }
}
