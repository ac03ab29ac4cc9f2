//! Pipeline tests on hand-made events (simulator-based tests live in the `fraud-tests` crate).

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::json;

use super::*;
use crate::error::{ArtifactError, Error};
use crate::event::{Event, EventColumns, KeyColumn, TimeColumn};

const HOUR: i64 = 3_600_000;

fn features() -> serde_json::Value {
    json!({
        "schema": {"timestamp": "ts", "time_unit": "ms", "keys": ["card"], "numeric": ["amount"],
                   "label": "fraud"},
        "features": [
            {"kind": "window", "name": "n_1h", "key": "card", "agg": "count", "window": "1h"},
            {"kind": "relative", "name": "amount_ratio", "key": "card", "field": "amount",
             "window": "7d", "mode": "ratio", "fill": 1},
            {"kind": "window", "name": "avg_7d", "key": "card", "agg": "mean", "field": "amount",
             "window": "7d"},
            {"kind": "calendar", "name": "hour", "part": "hour"}
        ]
    })
}

fn spec(extra: serde_json::Value) -> PipelineSpec {
    let mut v = json!({
        "features": features(),
        "inputs": ["n_1h", "amount_ratio", "avg_7d"],
        "detectors": [
            {"kind": "isolation_forest", "n_estimators": 60, "random_state": 3},
            {"kind": "zscore", "weight": 0.5}
        ],
        "alert": {"target_alert_rate": 0.02},
        "reasons": 2
    });
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    PipelineSpec::from_value(v).unwrap()
}

/// `n` events of 60 cards, one every few minutes; each card pays about its own mean amount. A
/// fraction of events are "fraud": amount x 8 (labelled 1).
fn events(n: usize, seed: u64, labels: bool) -> Vec<Event> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut t = 0i64;
    (0..n)
        .map(|_| {
            t += rng.random_range(60_000..600_000);
            let card = rng.random_range(0..60u32);
            let base = 10.0 + 3.0 * card as f64;
            let fraud = rng.random::<f64>() < 0.03;
            let amount = base * (0.8 + 0.4 * rng.random::<f64>()) * if fraud { 8.0 } else { 1.0 };
            Event::new(
                t,
                vec![format!("c{card}")],
                vec![amount],
                labels.then_some(f64::from(u8::from(fraud))),
            )
        })
        .collect()
}

struct Cols {
    time: Vec<i64>,
    codes: Vec<i64>,
    values: Vec<String>,
    amount: Vec<f64>,
    label: Option<Vec<f64>>,
}

fn columns(ev: &[Event]) -> Cols {
    let mut values: Vec<String> = Vec::new();
    let codes = ev
        .iter()
        .map(|e| match values.iter().position(|v| *v == e.keys[0]) {
            Some(i) => i as i64,
            None => {
                values.push(e.keys[0].clone());
                values.len() as i64 - 1
            }
        })
        .collect();
    Cols {
        time: ev.iter().map(|e| e.time_ms).collect(),
        codes,
        values,
        amount: ev.iter().map(|e| e.values[0]).collect(),
        label: ev[0]
            .label
            .is_some()
            .then(|| ev.iter().map(|e| e.label.unwrap_or(f64::NAN)).collect()),
    }
}

impl Cols {
    fn view(&self) -> EventColumns<'_> {
        EventColumns {
            time: TimeColumn::Millis(&self.time),
            keys: vec![KeyColumn {
                codes: &self.codes,
                values: &self.values,
            }],
            numeric: vec![&self.amount],
            label: self.label.as_deref(),
            id: None,
        }
    }
}

fn spec_error(v: serde_json::Value) -> Error {
    let parsed = PipelineSpec::from_value(v);
    match parsed {
        Err(e) => e,
        Ok(s) => s.validate().unwrap_err(),
    }
}

fn location(e: &Error) -> String {
    match e {
        Error::InvalidSpec { location, .. } => location.clone(),
        other => panic!("expected InvalidSpec, got {other:?}"),
    }
}

#[test]
fn spec_errors_name_the_field() {
    let base = || {
        json!({
            "features": features(),
            "detectors": [{"kind": "zscore"}]
        })
    };
    assert!(PipelineSpec::from_value(base()).unwrap().validate().is_ok());
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = base();
        f(&mut v);
        spec_error(v)
    };
    let e = with(&|v| v["bogus"] = json!(1));
    assert!(
        matches!(&e, Error::SpecJson { message, .. } if message.contains("bogus")),
        "{e}"
    );
    let e = with(&|v| v["detectors"][0]["treshold"] = json!(3));
    assert!(e.to_string().contains("treshold"), "{e}");
    let e = with(&|v| v["detectors"][0]["kind"] = json!("lof"));
    assert!(e.to_string().contains("lof"), "{e}");
    let e = with(&|v| v["inputs"] = json!(["n_1h", "nope"]));
    assert_eq!(location(&e), "inputs[1]");
    assert!(e.to_string().contains("`nope`") && e.to_string().contains("`avg_7d`"));
    assert_eq!(
        location(&with(&|v| v["inputs"] = json!(["n_1h", "n_1h"]))),
        "inputs[1]"
    );
    assert_eq!(location(&with(&|v| v["inputs"] = json!([]))), "inputs");
    assert_eq!(
        location(&with(&|v| v["detectors"] = json!([]))),
        "detectors"
    );
    let e =
        with(&|v| v["detectors"] = json!([{"kind": "zscore"}, {"kind": "zscore", "weight": -1}]));
    assert_eq!(location(&e), "detectors[1].weight");
    assert!(e.to_string().contains("-1"), "{e}");
    let e = with(&|v| v["detectors"][0] = json!({"kind": "isolation_forest", "n_estimators": 0}));
    assert_eq!(location(&e), "detectors[0].n_estimators");
    let e =
        with(&|v| v["detectors"][0] = json!({"kind": "isolation_forest", "max_samples": "big"}));
    assert_eq!(location(&e), "detectors[0].max_samples");
    let e = with(&|v| v["detectors"][0] = json!({"kind": "isolation_forest", "max_features": 1.5}));
    assert_eq!(location(&e), "detectors[0].max_features");
    let e = with(&|v| v["detectors"][0] = json!({"kind": "supervised", "alpha": 1.0}));
    assert_eq!(location(&e), "detectors[0].alpha");
    let e = with(&|v| {
        v["detectors"][0] =
            json!({"kind": "supervised", "model": "logistic_regression", "n_estimators": 5})
    });
    assert_eq!(location(&e), "detectors[0].n_estimators");
    let e = with(&|v| v["detectors"][0] = json!({"kind": "supervised", "sampling_ratio": 2.0}));
    assert_eq!(location(&e), "detectors[0].sampling_ratio");
    let e = with(&|v| v["combine"] = json!("supervised"));
    assert_eq!(location(&e), "combine");
    let e = with(&|v| {
        v["combine"] = json!("supervised");
        v["detectors"] = json!([{"kind": "zscore", "weight": 2}, {"kind": "supervised"}]);
    });
    assert_eq!(location(&e), "detectors[0].weight");
    let e = with(&|v| v["detectors"] = json!([{"kind": "supervised"}, {"kind": "supervised"}]));
    assert_eq!(location(&e), "detectors[1]");
    let e = with(&|v| {
        v["features"]["schema"]["label"] = json!(null);
        v["detectors"] = json!([{"kind": "supervised"}]);
    });
    assert_eq!(location(&e), "detectors[0]");
    for (alert, loc) in [
        (json!({"target_alert_rate": 0.0}), "alert.target_alert_rate"),
        (json!({"target_alert_rate": 1.0}), "alert.target_alert_rate"),
        (json!({"contamination": 0.7}), "alert.contamination"),
        (json!({"threshold": 1.5}), "alert.threshold"),
    ] {
        assert_eq!(location(&with(&|v| v["alert"] = alert.clone())), loc);
    }
    let e = with(&|v| v["alert"] = json!({"rate": 0.1}));
    assert!(matches!(e, Error::SpecJson { .. }), "{e}");
    // Feature-spec errors come through as they are.
    let e = with(&|v| v["features"]["features"][0]["window"] = json!("-1h"));
    assert!(
        matches!(e, Error::SpecJson { .. } | Error::InvalidSpec { .. }),
        "{e}"
    );
    // The spec round-trips through JSON.
    let s = spec(json!({}));
    assert_eq!(PipelineSpec::from_json(&s.to_json()).unwrap(), s);
}

#[test]
fn fit_score_batch_and_bytes_agree() {
    let train = events(6000, 1, false);
    let live = events(1500, 2, false);
    let tc = columns(&train);
    let mut p = Pipeline::fit(spec(json!({})), &tc.view()).unwrap();
    assert_eq!(p.training_rows(), 6000);
    assert_eq!(p.input_names(), ["n_1h", "amount_ratio", "avg_7d"]);
    assert_eq!(p.feature_names().len(), 4);
    // Events as columns and one by one fit the same pipeline.
    let mut q = Pipeline::fit_events(spec(json!({})), &train).unwrap();
    assert_eq!(q.threshold().to_bits(), p.threshold().to_bits());

    // Shift live times after the training period.
    let offset = train.last().unwrap().time_ms;
    let live: Vec<Event> = live
        .into_iter()
        .map(|mut e| {
            e.time_ms += offset;
            e
        })
        .collect();
    let bytes = p.to_bytes().unwrap();
    let mut restored = Pipeline::from_bytes(&bytes).unwrap();
    let mut batch_p = Pipeline::from_bytes(&bytes).unwrap();
    let batch = batch_p.score_batch(&columns(&live).view()).unwrap();
    assert_eq!(batch.len(), live.len());
    let mut alerts = 0;
    let mut reused = Score::default();
    for (i, e) in live.iter().enumerate() {
        let s = p.score(e).unwrap();
        assert!((0.0..=1.0).contains(&s.risk), "{}", s.risk);
        assert_eq!(s.risk.to_bits(), batch.risk[i].to_bits(), "row {i}");
        assert_eq!(s, batch.get(i), "row {i}");
        assert_eq!(s, restored.score(e).unwrap(), "row {i}");
        assert_eq!(s, q.score(e).unwrap(), "row {i}");
        restored.engine_mut(); // (mutable access compiles)
        alerts += s.is_alert as usize;
        assert!(s.reasons.len() <= 2);
        let total: f64 = s.reasons.iter().map(|r| r.contribution).sum();
        assert!(total <= s.risk + 1e-12);
        assert!(
            s.reasons
                .windows(2)
                .all(|w| w[0].contribution >= w[1].contribution)
        );
        // score_into on a reused Score gives the same.
        let mut again = Pipeline::from_bytes(&bytes).unwrap();
        if i < 3 {
            for prev in &live[..i] {
                again.score(prev).unwrap();
            }
            again.score_into(e, &mut reused).unwrap();
            assert_eq!(reused, s);
        }
    }
    println!("live alert rate {:.4}", alerts as f64 / live.len() as f64);
    // Both pipelines reached the same state.
    assert_eq!(p.engine().stats(), batch_p.engine().stats());
    assert_eq!(p.engine().entity_count(), batch_p.engine().entity_count());
}

#[test]
fn training_alert_rate_matches_the_target_and_risks_are_in_range() {
    let train = events(5000, 4, false);
    for rate in [0.01, 0.05, 0.2] {
        let s = spec(json!({"alert": {"target_alert_rate": rate}, "reasons": 0}));
        let p = Pipeline::fit_events(s.clone(), &train).unwrap();
        // Re-score the training events from an empty state: exactly the training features.
        let mut fresh = Pipeline::from_bytes(&p.to_bytes().unwrap()).unwrap();
        fresh.reset_state().unwrap();
        let b = fresh.score_batch_events(&train).unwrap();
        assert!(b.risk.iter().all(|r| (0.0..=1.0).contains(r)));
        let got = b.is_alert.iter().filter(|a| **a).count() as f64 / train.len() as f64;
        println!(
            "target {rate}: training alert rate {got:.4}, threshold {:.4}",
            p.threshold()
        );
        assert!(
            (got - rate).abs() <= 0.1 * rate + 1.0 / train.len() as f64,
            "{rate} {got}"
        );
        assert!(b.reason_input.is_empty());
    }
    let p = Pipeline::fit_events(spec(json!({"alert": {"threshold": 0.7}})), &train).unwrap();
    assert_eq!(p.threshold(), 0.7);
}

#[test]
fn reasons_do_not_change_the_risk() {
    let train = events(3000, 5, false);
    let t0 = train.last().unwrap().time_ms;
    let live: Vec<Event> = events(300, 6, false)
        .into_iter()
        .map(|mut e| {
            e.time_ms += t0;
            e
        })
        .collect();
    let mut a = Pipeline::fit_events(spec(json!({"reasons": 0})), &train).unwrap();
    let mut b = Pipeline::fit_events(spec(json!({"reasons": 3})), &train).unwrap();
    for e in &live {
        let (sa, sb) = (a.score(e).unwrap(), b.score(e).unwrap());
        assert_eq!(sa.risk.to_bits(), sb.risk.to_bits());
        assert!(sa.reasons.is_empty());
        assert!(!sb.reasons.is_empty());
    }
}

#[test]
fn planted_anomalies_name_the_planted_feature() {
    let train = events(6000, 7, false);
    let mut p = Pipeline::fit_events(spec(json!({})), &train).unwrap();
    let t = train.last().unwrap().time_ms + HOUR;
    // Card c5 pays 30 times its usual amount: the amount ratio is the first reason.
    let s = p
        .score(&Event::new(t, vec!["c5".into()], vec![25.0 * 30.0], None))
        .unwrap();
    assert!(s.is_alert, "{s:?}");
    assert_eq!(s.reasons[0].feature, "amount_ratio", "{s:?}");
    assert!(s.reasons[0].value > 10.0, "{s:?}");
    // Card c7 makes 12 ordinary payments within a few minutes: the count is the first reason.
    let mut last = None;
    for i in 0..12 {
        last = Some(
            p.score(&Event::new(
                t + 2 * HOUR + i * 10_000,
                vec!["c7".into()],
                vec![31.0],
                None,
            ))
            .unwrap(),
        );
    }
    let s = last.unwrap();
    assert!(s.is_alert, "{s:?}");
    assert_eq!(s.reasons[0].feature, "n_1h", "{s:?}");
    assert_eq!(s.reasons[0].value, 12.0);
}

#[test]
fn supervised_combine_and_weighted_supervised() {
    let train = events(6000, 8, true);
    let test = events(3000, 9, true);
    let y: Vec<bool> = test.iter().map(|e| e.label == Some(1.0)).collect();
    let auc = |p: &mut Pipeline| {
        p.reset_state().unwrap();
        let b = p.score_batch_events(&test).unwrap();
        crate::metrics::roc_auc(&y, &b.risk).unwrap()
    };
    let weighted = spec(json!({}));
    let sup_lr = spec(json!({
        "combine": "supervised",
        "detectors": [
            {"kind": "isolation_forest", "n_estimators": 60, "random_state": 3},
            {"kind": "robust_zscore", "combine": "rms"},
            {"kind": "supervised", "model": "logistic_regression", "random_state": 1}
        ]
    }));
    let sup_rf = spec(json!({
        "combine": "supervised",
        "detectors": [
            {"kind": "zscore"},
            {"kind": "supervised", "n_estimators": 30, "max_depth": 8, "random_state": 1}
        ]
    }));
    let mixed = spec(json!({
        "detectors": [
            {"kind": "zscore"},
            {"kind": "supervised", "model": "logistic_regression", "random_state": 1, "weight": 3}
        ]
    }));
    for (name, s) in [
        ("weighted", weighted),
        ("supervised lr", sup_lr),
        ("supervised rf", sup_rf),
        ("weighted with lr", mixed),
    ] {
        let mut p = Pipeline::fit_events(s, &train).unwrap();
        let a = auc(&mut p);
        println!("{name}: test ROC AUC {a:.4}");
        assert!(a > 0.8, "{name}: {a}");
        let mut back = Pipeline::from_bytes(&p.to_bytes().unwrap()).unwrap();
        back.reset_state().unwrap();
        p.reset_state().unwrap();
        for e in &test[..200] {
            let (x, y) = (p.score(e).unwrap(), back.score(e).unwrap());
            assert_eq!(x, y);
            assert!((0.0..=1.0).contains(&x.risk));
            let total: f64 = x.reasons.iter().map(|r| r.contribution).sum();
            assert!(total <= x.risk + 1e-12, "{name}: {x:?}");
        }
    }
    // A supervised detector without labels is refused, naming the label field.
    let e = Pipeline::fit_events(
        spec(json!({"detectors": [{"kind": "supervised"}]})),
        &events(500, 1, false),
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::MissingField { field, .. } if field == "fraud"),
        "{e}"
    );
    // Labels other than 0/1 are refused.
    let mut bad = events(500, 1, true);
    bad[7].label = Some(2.0);
    let e = Pipeline::fit_events(spec(json!({})), &bad).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidField { field, .. } if field == "fraud"),
        "{e}"
    );
}

#[test]
fn nan_inputs_name_the_feature_and_dropped_events_are_not_scored() {
    let mut f = features();
    f["lateness"] = json!({"allowed": 0, "policy": "drop"});
    let s = PipelineSpec::from_value(json!({
        "features": f,
        "inputs": ["n_1h", "avg_7d"],
        "detectors": [{"kind": "zscore"}]
    }))
    .unwrap();
    let train = events(1000, 3, false);
    let mut p = Pipeline::fit_events(s, &train).unwrap();
    let t = train.last().unwrap().time_ms;
    // Too late: dropped, not scored.
    let s = p
        .score(&Event::new(t - HOUR, vec!["c1".into()], vec![10.0], None))
        .unwrap();
    assert!(s.risk.is_nan() && !s.is_alert && s.reasons.is_empty());
    // avg_7d has no fill: NaN for a card's first event is an error naming it.
    let spec_nofill = PipelineSpec::from_value(json!({
        "features": features(),
        "inputs": ["avg_7d"],
        "detectors": [{"kind": "zscore"}]
    }))
    .unwrap();
    let mut p = Pipeline::fit_events(spec_nofill, &train).unwrap();
    let e = p
        .score(&Event::new(
            t + 1,
            vec!["new card".into()],
            vec![10.0],
            None,
        ))
        .unwrap();
    assert!(e.risk.is_finite()); // mean includes the current event: defined
    let mut f2 = features();
    f2["features"][2]["include_current"] = json!(false);
    let spec_nan = PipelineSpec::from_value(json!({
        "features": f2,
        "inputs": ["avg_7d"],
        "detectors": [{"kind": "zscore"}]
    }))
    .unwrap();
    let err = Pipeline::fit_events(spec_nan, &train).unwrap_err();
    assert!(
        err.to_string().contains("`avg_7d`") && err.to_string().contains("row 0"),
        "{err}"
    );
    // score_json converts with the schema's rules.
    let mut p = Pipeline::fit_events(spec(json!({})), &train).unwrap();
    let m = json!({"ts": t + 5, "card": "c1", "amount": 12.5});
    let s = p.score_json(m.as_object().unwrap()).unwrap();
    assert!((0.0..=1.0).contains(&s.risk));
    let m = json!({"ts": t + 6, "card": "c1", "amount": 12.5, "extra": 1});
    assert!(matches!(
        p.score_json(m.as_object().unwrap()).unwrap_err(),
        Error::UnknownField { .. }
    ));
}

#[test]
fn corrupted_bytes_are_refused_with_typed_errors() {
    let p = Pipeline::fit_events(spec(json!({})), &events(800, 2, false)).unwrap();
    let bytes = p.to_bytes().unwrap();
    for n in [0, 10, 30, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(
            Pipeline::from_bytes(&bytes[..n]).unwrap_err(),
            Error::Artifact(_)
        ));
    }
    for i in (0..bytes.len()).step_by(97) {
        let mut b = bytes.clone();
        b[i] ^= 0x10;
        assert!(
            matches!(Pipeline::from_bytes(&b).unwrap_err(), Error::Artifact(_)),
            "{i}"
        );
    }
    // Another kind of artifact.
    let other = p.engine().snapshot().unwrap();
    assert!(matches!(
        Pipeline::from_bytes(&other).unwrap_err(),
        Error::Artifact(ArtifactError::WrongKind { .. })
    ));
    // A valid envelope around an inconsistent payload: refused as malformed.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Payload {
        spec_json: String,
        detectors: Vec<Vec<u8>>,
        calibration: Vec<Vec<f64>>,
        supervised: Option<()>,
        threshold: f64,
        training_rows: u64,
        engine: Vec<u8>,
    }
    let good: Payload = crate::model::decode(crate::model::ArtifactKind::Pipeline, &bytes).unwrap();
    let tamper = |f: &dyn Fn(&mut Payload)| {
        let mut p: Payload =
            crate::model::decode(crate::model::ArtifactKind::Pipeline, &bytes).unwrap();
        f(&mut p);
        let b = crate::model::encode(crate::model::ArtifactKind::Pipeline, &p).unwrap();
        Pipeline::from_bytes(&b).unwrap_err()
    };
    let malformed = |e: Error| matches!(e, Error::Artifact(ArtifactError::Malformed(_)));
    assert!(malformed(tamper(&|p| p.threshold = 1.5)));
    assert!(malformed(tamper(&|p| p.threshold = f64::NAN)));
    assert!(malformed(tamper(&|p| p.calibration[0].reverse())));
    assert!(malformed(tamper(&|p| p.calibration[1].clear())));
    assert!(malformed(tamper(&|p| p.detectors.swap(0, 1))));
    assert!(malformed(tamper(&|p| p
        .detectors
        .pop()
        .map(|_| ())
        .unwrap())));
    assert!(malformed(tamper(&|p| p.spec_json = "{}".into())));
    assert!(malformed(tamper(
        &|p| p.spec_json = p.spec_json.replace("\"n_1h\",", "")
    )));
    assert!(malformed(tamper(&|p| p.engine.truncate(10))));
    let e = tamper(&|p| {
        p.spec_json = p
            .spec_json
            .replace("\"7d\"", "\"8d\"")
            .replace("604800000", "691200000")
    });
    assert!(malformed(e));
    assert_eq!(good.training_rows, 800);
}
