//! Engine tests: property tests of every feature kind against a naive O(n^2) recomputation,
//! snapshots, privacy, bad input, state management, and the handbook spec.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::error::Error;
use crate::event::Event;

// ------------------------------------------------------------------------------------------------
// The naive, independent reference lives in `super::reference` (also used by the fuzz targets in
// `fraud-core/fuzz`, through the cargo feature `reference`).

use super::reference::{close, naive, window_members};

const KEYS: [&str; 2] = ["card", "shop"];

fn schema_json() -> serde_json::Value {
    json!({"timestamp": "ts", "time_unit": "ms", "keys": KEYS, "numeric": ["amount", "qty"], "label": "fraud"})
}

fn spec_of(mut features: Vec<serde_json::Value>, lateness_ms: i64) -> FeatureSpec {
    for (i, f) in features.iter_mut().enumerate() {
        f["name"] = json!(format!("f{i}_{}", f["name"].as_str().unwrap()));
    }
    FeatureSpec::from_value(json!({
        "schema": schema_json(),
        "features": features,
        "lateness": {"allowed": lateness_ms, "policy": "error"},
    }))
    .unwrap()
}

fn key_idx(name: &str) -> usize {
    KEYS.iter().position(|k| *k == name).unwrap()
}

/// Run `update` and `transform` on fresh engines, check they agree bit for bit, and compare both
/// with the naive recomputation.
fn check(spec: &FeatureSpec, evs: &[Event]) -> std::result::Result<(), TestCaseError> {
    check_tol(spec, evs, close)
}

/// [`check`] with another comparison of engine and naive values.
fn check_tol(
    spec: &FeatureSpec,
    evs: &[Event],
    close: impl Fn(f64, f64) -> bool,
) -> std::result::Result<(), TestCaseError> {
    let mut online = FeatureEngine::new(spec.clone()).unwrap();
    let mut got = vec![];
    for ev in evs {
        got.extend(online.update(ev).unwrap());
    }
    let batch = FeatureEngine::new(spec.clone())
        .unwrap()
        .transform(evs)
        .unwrap();
    prop_assert_eq!(
        got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        batch.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    let want = naive(spec, evs);
    let nf = spec.features.len();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        prop_assert!(
            close(*g, *w),
            "row {} feature {:?}: engine {} naive {} (event {:?})",
            i / nf,
            spec.features[i % nf].name(),
            g,
            w,
            evs[i / nf]
        );
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Random streams: few keys (collisions), ties, gaps of every size, late events within lateness.

#[derive(Debug, Clone)]
struct Step {
    card: u8,
    shop: u8,
    gap: i64,
    late: Option<i64>,
    amount: i32,
    qty: u8,
    label: Option<bool>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u8..4,
        0u8..3,
        prop_oneof![3 => Just(0i64), 4 => 1i64..200, 2 => 200i64..3000, 1 => 3000i64..20_000],
        prop_oneof![5 => Just(None), 1 => (0i64..=1000).prop_map(Some)],
        -400i32..400,
        0u8..4,
        prop_oneof![Just(None), any::<bool>().prop_map(Some)],
    )
        .prop_map(|(card, shop, gap, late, amount, qty, label)| Step {
            card,
            shop,
            gap,
            late,
            amount,
            qty,
            label,
        })
}

/// Events from steps; a late step goes back at most `lateness` ms before the newest time.
fn events(steps: &[Step], lateness: i64, t0: i64) -> Vec<Event> {
    let mut newest = t0;
    steps
        .iter()
        .map(|s| {
            newest += s.gap;
            let t = match s.late {
                Some(back) if lateness > 0 => newest - back % (lateness + 1),
                _ => newest,
            };
            Event::new(
                t,
                vec![format!("c{}", s.card), format!("s{}", s.shop)],
                // Multiples of 1/4: sums and squares are exact in f64, so the naive two-pass
                // formulas and the running sums agree to rounding of the final divisions.
                vec![s.amount as f64 / 4.0, s.qty as f64],
                s.label.map(|b| if b { 1.0 } else { 0.0 }),
            )
        })
        .collect()
}

fn stream() -> impl Strategy<Value = (Vec<Step>, i64)> {
    (
        prop::collection::vec(step(), 1..120),
        prop_oneof![Just(0i64), 1i64..1500],
    )
}

fn window_cfg() -> impl Strategy<Value = (i64, i64, bool)> {
    (
        1i64..5000,
        prop_oneof![2 => Just(0i64), 1 => 1i64..3000],
        any::<bool>(),
    )
}

fn window_feature(
    agg: &str,
    field: Option<&str>,
    key: &str,
    (w, d, inc): (i64, i64, bool),
) -> serde_json::Value {
    let mut f = json!({"kind": "window", "name": format!("{agg}_{key}"), "key": key, "agg": agg, "window": w});
    if let Some(x) = field {
        f["field"] = json!(x);
    }
    if d > 0 {
        f["delay"] = json!(d);
    } else {
        f["include_current"] = json!(inc);
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn prop_count_sum_mean((steps, late) in stream(), cfg in window_cfg(), cfg2 in window_cfg()) {
        let spec = spec_of(vec![
            window_feature("count", None, "card", cfg),
            window_feature("sum", Some("amount"), "card", cfg),
            window_feature("mean", Some("amount"), "shop", cfg2),
            window_feature("count", None, "shop", cfg2),
        ], late);
        check(&spec, &events(&steps, late, 1_000_000))?;
    }

    #[test]
    fn prop_std(
        (steps, late) in stream(),
        cfg in window_cfg(),
        ddof in 0u8..2,
        fill in prop_oneof![Just(None), Just(Some(-1.0))],
    ) {
        let mut f = window_feature("std", Some("amount"), "card", cfg);
        f["ddof"] = json!(ddof);
        if let Some(x) = fill {
            f["fill"] = json!(x);
        }
        let spec = spec_of(vec![f, window_feature("std", Some("qty"), "shop", cfg)], late);
        check(&spec, &events(&steps, late, 0))?;
    }

    #[test]
    fn prop_min_max((steps, late) in stream(), cfg in window_cfg(), cfg2 in window_cfg()) {
        let spec = spec_of(vec![
            window_feature("min", Some("amount"), "card", cfg),
            window_feature("max", Some("amount"), "card", cfg),
            window_feature("max", Some("qty"), "shop", cfg2),
            window_feature("min", Some("qty"), "card", cfg2),
        ], late);
        check(&spec, &events(&steps, late, -5_000_000))?;
    }

    #[test]
    fn prop_distinct((steps, late) in stream(), cfg in window_cfg(), cfg2 in window_cfg()) {
        let spec = spec_of(vec![
            window_feature("distinct", Some("shop"), "card", cfg),
            window_feature("distinct", Some("qty"), "card", cfg2),
            window_feature("distinct", Some("card"), "shop", cfg),
        ], late);
        check(&spec, &events(&steps, late, 0))?;
    }

    #[test]
    fn prop_risk((steps, late) in stream(), cfg in window_cfg(), cfg2 in window_cfg()) {
        let spec = spec_of(vec![
            window_feature("risk", None, "shop", cfg),
            window_feature("risk", None, "card", cfg2),
            window_feature("count", None, "shop", cfg),
        ], late);
        check(&spec, &events(&steps, late, 0))?;
    }

    #[test]
    fn prop_relative((steps, late) in stream(), cfg in window_cfg(), ddof in 0u8..2) {
        let (w, d, inc) = cfg;
        let mut ratio = json!({"kind": "relative", "name": "ratio", "key": "card", "field": "amount",
            "window": w, "mode": "ratio"});
        let mut z = json!({"kind": "relative", "name": "z", "key": "shop", "field": "amount",
            "window": w, "mode": "zscore", "ddof": ddof, "fill": 0.0});
        for f in [&mut ratio, &mut z] {
            if d > 0 { f["delay"] = json!(d); } else { f["include_current"] = json!(inc); }
        }
        let spec = spec_of(vec![ratio, z], late);
        check(&spec, &events(&steps, late, 0))?;
    }

    #[test]
    fn prop_time_since((steps, late) in stream(), gap in prop_oneof![Just(None), (1i64..5000).prop_map(Some)]) {
        let mut f = json!({"kind": "time_since_last", "name": "since_card", "key": "card"});
        if let Some(g) = gap {
            f["max_gap"] = json!(g);
            f["fill"] = json!(-1.0);
        }
        let spec = spec_of(vec![f, json!({"kind": "time_since_last", "name": "since_shop", "key": "shop"})], late);
        check(&spec, &events(&steps, late, 0))?;
    }

    #[test]
    fn prop_decayed((steps, late) in stream(), h in 1i64..10_000, h2 in 1i64..10_000) {
        let spec = spec_of(vec![
            json!({"kind": "decayed", "name": "dec", "key": "card", "field": "amount", "half_life": h}),
            json!({"kind": "decayed", "name": "dec2", "key": "card", "field": "qty", "half_life": h2}),
            json!({"kind": "decayed", "name": "dec3", "key": "shop", "field": "amount", "half_life": h2}),
        ], late);
        check(&spec, &events(&steps, late, 0))?;
    }

    #[test]
    fn prop_decayed_window((steps, late) in stream(), h in 1i64..10_000, w in 1i64..8_000, w2 in 1i64..8_000) {
        let spec = spec_of(vec![
            json!({"kind": "decayed", "name": "dec", "key": "card", "field": "amount", "half_life": h, "window": w}),
            json!({"kind": "decayed", "name": "dec2", "key": "card", "field": "amount", "half_life": h, "window": w2}),
            json!({"kind": "decayed", "name": "dec3", "key": "card", "field": "amount", "half_life": h}),
            json!({"kind": "decayed", "name": "dec4", "key": "shop", "field": "qty", "half_life": h, "window": w}),
        ], late);
        check(&spec, &events(&steps, late, 0))?;
    }

    #[test]
    fn prop_decayed_std_and_zscore((steps, late) in stream(), h in 2_000i64..20_000, w in 1i64..8_000) {
        let spec = spec_of(vec![
            json!({"kind": "decayed", "name": "sd", "key": "card", "field": "qty", "half_life": h, "stat": "std"}),
            json!({"kind": "decayed", "name": "z", "key": "card", "field": "qty", "half_life": h, "stat": "zscore", "fill": 0}),
            json!({"kind": "decayed", "name": "z2", "key": "shop", "field": "amount", "half_life": h, "stat": "zscore", "fill": -1}),
            json!({"kind": "decayed", "name": "m", "key": "shop", "field": "qty", "half_life": h, "window": w}),
        ], late);
        // Moments-based deviations lose digits when the deviation is small against the values:
        // the variance's relative error is about n * eps * mean_square / variance, and that
        // condition is at most 1e10 (below, the deviation counts as 0), so std and z-score may
        // differ by ~1e-5 relatively (a 1e-6 bound failed on a z of -69363: 1.4e-6).
        let loose = |a: f64, b: f64| {
            (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-4 * a.abs().max(b.abs()).max(1.0)
        };
        check_tol(&spec, &events(&steps, late, 0), loose)?;
        let windowed = FeatureSpec::from_value(json!({"schema": schema_json(), "features": [
            {"kind": "decayed", "name": "z", "key": "card", "field": "qty", "half_life": h, "stat": "zscore", "window": w}]}))
            .unwrap();
        let refused = matches!(FeatureEngine::new(windowed), Err(Error::InvalidSpec { .. }));
        prop_assert!(refused);
    }

    #[test]
    fn prop_calendar(
        times in prop::collection::vec(-6_000_000_000_000i64..6_000_000_000_000, 1..50),
        off in -1080i32..=1080,
        a in 0u8..=24,
        b in 0u8..=24,
    ) {
        prop_assume!(a % 24 != b % 24);
        let spec = FeatureSpec::from_value(json!({
            "schema": schema_json(),
            "lateness": {"policy": "process"},
            "features": [
                {"kind": "calendar", "name": "h", "part": "hour", "utc_offset_minutes": off},
                {"kind": "calendar", "name": "wd", "part": "weekday", "utc_offset_minutes": off},
                {"kind": "calendar", "name": "we", "part": "weekend", "utc_offset_minutes": off},
                {"kind": "calendar", "name": "n", "part": "night", "utc_offset_minutes": off, "night_hours": [a, b]},
            ]
        })).unwrap();
        let mut engine = FeatureEngine::new(spec.clone()).unwrap();
        for &t in &times {
            // A fresh engine per event: calendar features do not depend on order.
            engine = FeatureEngine::new(engine.spec().clone()).unwrap();
            let ev = Event::new(t, vec!["c".into(), "s".into()], vec![1.0, 1.0], None);
            let got = engine.update(&ev).unwrap();
            let want = naive(&spec, std::slice::from_ref(&ev));
            prop_assert_eq!(got, want, "t = {}", t);
        }
    }

    #[test]
    fn prop_snapshot_restore_is_bit_identical(
        (steps, late) in stream(),
        splits in prop::collection::vec(0usize..120, 1..4),
        hashed in any::<bool>(),
    ) {
        let evs = events(&steps, late, 0);
        let spec = rich_spec(late);
        let secret = b"0123456789abcdef-test-secret";
        let make = || if hashed {
            FeatureEngine::with_key_secret(spec.clone(), secret).unwrap()
        } else {
            FeatureEngine::new(spec.clone()).unwrap()
        };
        let want = make().transform(&evs).unwrap();
        let mut engine = make();
        let mut got = vec![];
        let mut cuts: Vec<usize> = splits.into_iter().map(|s| s % (evs.len() + 1)).collect();
        cuts.sort_unstable();
        let mut start = 0;
        for cut in cuts.into_iter().chain([evs.len()]) {
            got.extend(engine.transform(&evs[start..cut]).unwrap());
            start = cut;
            let bytes = engine.snapshot().unwrap();
            engine = if hashed {
                FeatureEngine::restore_with_secret(&bytes, secret).unwrap()
            } else {
                FeatureEngine::restore(&bytes).unwrap()
            };
        }
        prop_assert_eq!(
            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        // Equal states give equal bytes (hash maps are written in key order): a twin engine fed
        // the same events in one batch, and the restored engine, snapshot like this one.
        let bytes = engine.snapshot().unwrap();
        let mut twin = make();
        twin.transform(&evs).unwrap();
        prop_assert!(twin.snapshot().unwrap() == bytes, "snapshots of equal states differ");
    }
}

/// Every feature kind at once.
fn rich_spec(lateness: i64) -> FeatureSpec {
    spec_of(
        vec![
            window_feature("count", None, "card", (2000, 0, true)),
            window_feature("mean", Some("amount"), "card", (2000, 0, false)),
            window_feature("std", Some("amount"), "card", (5000, 0, true)),
            window_feature("min", Some("amount"), "shop", (3000, 0, true)),
            window_feature("max", Some("amount"), "shop", (3000, 500, false)),
            window_feature("distinct", Some("shop"), "card", (4000, 0, true)),
            window_feature("risk", None, "shop", (3000, 1000, false)),
            json!({"kind": "relative", "name": "z", "key": "card", "field": "amount", "window": 3000, "mode": "zscore"}),
            json!({"kind": "time_since_last", "name": "since", "key": "card"}),
            json!({"kind": "decayed", "name": "dec", "key": "shop", "field": "amount", "half_life": 700}),
            json!({"kind": "calendar", "name": "hour", "part": "hour"}),
        ],
        lateness,
    )
}

// ------------------------------------------------------------------------------------------------
// Deterministic tests.

fn ev(t: i64, card: &str, amount: f64) -> Event {
    Event::new(t, vec![card.into(), "s".into()], vec![amount, 1.0], None)
}

#[test]
fn privacy_snapshot_holds_no_raw_key() {
    let secret = b"a secret of at least sixteen bytes";
    let mut e = FeatureEngine::with_key_secret(rich_spec(100), secret).unwrap();
    let keys: Vec<String> = (0..50).map(|i| format!("CARD-4111-{i:04}-XYZ")).collect();
    let shops: Vec<String> = (0..7).map(|i| format!("SHOP-TERMINAL-{i}")).collect();
    for i in 0..500 {
        let ev = Event::new(
            i * 37,
            vec![keys[i as usize % 50].clone(), shops[i as usize % 7].clone()],
            vec![i as f64, 1.0],
            Some((i % 2) as f64),
        );
        e.update(&ev).unwrap();
    }
    let bytes = e.snapshot().unwrap();
    for k in keys.iter().chain(&shops) {
        assert!(
            !bytes.windows(k.len()).any(|w| w == k.as_bytes()),
            "raw key {k} found in the snapshot"
        );
    }
    assert!(!bytes.windows(secret.len()).any(|w| w == secret));
    // The same secret restores; another secret or none is refused.
    let mut r = FeatureEngine::restore_with_secret(&bytes, secret).unwrap();
    assert!(matches!(
        FeatureEngine::restore_with_secret(&bytes, b"another secret, 16+ bytes").unwrap_err(),
        Error::KeySecret(_)
    ));
    assert!(matches!(
        FeatureEngine::restore(&bytes).unwrap_err(),
        Error::KeySecret(_)
    ));
    let next = Event::new(
        500 * 37,
        vec![keys[3].clone(), shops[1].clone()],
        vec![1.0, 1.0],
        None,
    );
    assert_eq!(
        e.update(&next)
            .unwrap()
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>(),
        r.update(&next)
            .unwrap()
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>()
    );
    // A raw-key engine does hold its keys (the test above is meaningful).
    let mut raw = FeatureEngine::new(rich_spec(100)).unwrap();
    raw.update(&next).unwrap();
    let b = raw.snapshot().unwrap();
    assert!(b.windows(keys[3].len()).any(|w| w == keys[3].as_bytes()));
    // Forget works on hashed keys too.
    assert_eq!(e.forget(&keys[3]), 1);
    assert!(matches!(
        FeatureEngine::with_key_secret(rich_spec(0), b"short").unwrap_err(),
        Error::KeySecret(_)
    ));
}

#[test]
fn late_events_under_each_policy() {
    let spec_with = |policy: &str| {
        FeatureSpec::from_value(json!({
            "schema": schema_json(),
            "lateness": {"allowed": "10s", "policy": policy},
            "features": [
                {"kind": "window", "name": "n", "key": "card", "agg": "count", "window": "1m"},
                {"kind": "calendar", "name": "hour", "part": "hour"},
            ]
        }))
        .unwrap()
    };
    let secret_key = "CARD-SECRET-9999";
    // error: refused, state unchanged, the message names the lateness but not the key.
    let mut e = FeatureEngine::new(spec_with("error")).unwrap();
    e.update(&ev(100_000, secret_key, 1.0)).unwrap();
    let late = ev(100_000 - 10_001, secret_key, 1.0);
    let err = e.update(&late).unwrap_err();
    assert_eq!(
        err,
        Error::LateEvent {
            behind_ms: 1,
            allowed_ms: 10_000
        }
    );
    assert!(!err.to_string().contains(secret_key));
    assert_eq!(e.stats().events, 1);
    // Within lateness: placed.
    let mut out = vec![0.0; 2];
    assert_eq!(
        e.update_into(&ev(90_000, secret_key, 1.0), &mut out)
            .unwrap(),
        Outcome::Late
    );
    assert_eq!(out[0], 1.0);
    assert_eq!(e.update(&ev(100_000, secret_key, 1.0)).unwrap()[0], 3.0);
    // The error carries the row in a batch.
    let err = FeatureEngine::new(spec_with("error"))
        .unwrap()
        .transform(&[ev(100_000, "a", 1.0), ev(50_000, "a", 1.0)])
        .unwrap_err();
    assert!(matches!(err, Error::InRow { row: 1, .. }), "{err}");

    // drop: NaN row, counted, state unchanged.
    let mut d = FeatureEngine::new(spec_with("drop")).unwrap();
    d.update(&ev(100_000, "a", 1.0)).unwrap();
    assert_eq!(
        d.update_into(&ev(1_000, "a", 1.0), &mut out).unwrap(),
        Outcome::Dropped
    );
    assert!(out.iter().all(|x| x.is_nan()));
    assert_eq!(d.stats().late_dropped, 1);
    assert_eq!(d.update(&ev(100_000, "a", 1.0)).unwrap()[0], 2.0);

    // process: as if it happened at the watermark.
    let mut p = FeatureEngine::new(spec_with("process")).unwrap();
    let mut q = FeatureEngine::new(spec_with("process")).unwrap();
    for e in [&mut p, &mut q] {
        e.update(&ev(100_000, "a", 1.0)).unwrap();
    }
    assert_eq!(
        p.update_into(&ev(1_000, "a", 1.0), &mut out).unwrap(),
        Outcome::Clamped
    );
    assert_eq!(out, q.update(&ev(90_000, "a", 1.0)).unwrap());
    assert_eq!(p.stats().late_processed, 1);
    assert_eq!(
        p.update(&ev(100_000, "a", 1.0)).unwrap(),
        q.update(&ev(100_000, "a", 1.0)).unwrap()
    );
}

#[test]
fn bad_events_name_the_field_and_leave_state_unchanged() {
    let mut e = FeatureEngine::new(rich_spec(0)).unwrap();
    let ok = json!({"ts": 5, "card": "c", "shop": "s", "amount": 1.5, "qty": 1, "fraud": 0});
    e.update_json(ok.as_object().unwrap()).unwrap();
    let mut bad = ok.clone();
    bad["colour"] = json!("red");
    let err = e.update_json(bad.as_object().unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownField { field, .. } if field == "colour"),
        "{err}"
    );
    let mut bad = ok.clone();
    bad.as_object_mut().unwrap().remove("qty");
    let err = e.update_json(bad.as_object().unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::MissingField { field, .. } if field == "qty"),
        "{err}"
    );
    let nan = Event::new(
        6,
        vec!["c".into(), "s".into()],
        vec![f64::INFINITY, 1.0],
        None,
    );
    let err = e.update(&nan).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidField { field, .. } if field == "amount"),
        "{err}"
    );
    let nan_label = Event::new(
        6,
        vec!["c".into(), "s".into()],
        vec![1.0, 1.0],
        Some(f64::NAN),
    );
    let err = e.update(&nan_label).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidField { field, .. } if field == "fraud"),
        "{err}"
    );
    let short = Event::new(6, vec!["c".into()], vec![1.0, 1.0], None);
    assert!(matches!(
        e.update(&short).unwrap_err(),
        Error::ShapeMismatch(_)
    ));
    let far = Event::new(i64::MAX, vec!["c".into(), "s".into()], vec![1.0, 1.0], None);
    assert!(matches!(
        e.update(&far).unwrap_err(),
        Error::InvalidField { .. }
    ));
    assert_eq!(e.stats().events, 1);
    assert_eq!(e.entity_count(), 2);
    let mut out = vec![0.0; 3];
    assert!(matches!(
        e.update_into(&ev(7, "c", 1.0), &mut out).unwrap_err(),
        Error::ShapeMismatch(_)
    ));
}

#[test]
fn invalid_spec_json_is_typed() {
    let err = FeatureEngine::from_json("{\"schema\": {\"timestamp\": \"ts\",\n \"keys\": [}")
        .unwrap_err();
    assert!(matches!(err, Error::SpecJson { line: 2, .. }), "{err}");
    let err = FeatureEngine::from_json(
        r#"{"schema": {"timestamp": "ts", "time_unit": "weeks", "keys": ["a"]}, "features": []}"#,
    )
    .unwrap_err();
    assert!(matches!(err, Error::SpecJson { .. }), "{err}");
    let err = FeatureEngine::from_json(
        r#"{"schema": {"timestamp": "ts", "time_unit": "s", "keys": ["a"]}, "features": [
            {"kind": "window", "name": "x", "key": "a", "agg": "sum", "field": "b", "window": "1d"}]}"#,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidSpec { location, .. } if location.contains('x')),
        "{err}"
    );
}

#[test]
fn ttl_evicts_without_changing_features() {
    let mk = |ttl: Option<&str>| {
        let mut v = json!({
            "schema": schema_json(),
            "lateness": {"allowed": "1s"},
            "features": [
                {"kind": "window", "name": "n", "key": "card", "agg": "count", "window": "10s"},
                {"kind": "window", "name": "r", "key": "shop", "agg": "risk", "window": "5s", "delay": "5s"},
                {"kind": "time_since_last", "name": "since", "key": "card", "max_gap": "11s", "fill": -1},
                {"kind": "decayed", "name": "dec", "key": "card", "field": "amount", "half_life": "2s", "window": "10s"},
            ]
        });
        if let Some(t) = ttl {
            v["ttl"] = json!(t);
        }
        FeatureEngine::new(FeatureSpec::from_value(v).unwrap()).unwrap()
    };
    let err = FeatureEngine::new(
        FeatureSpec::from_value(json!({
            "schema": schema_json(), "ttl": "10s", "lateness": {"allowed": "1s"},
            "features": [{"kind": "window", "name": "n", "key": "card", "agg": "count", "window": "10s"}]
        }))
        .unwrap(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidSpec { location, .. } if location == "ttl"),
        "{err}"
    );
    let mut a = mk(None);
    let mut b = mk(Some("12s"));
    let evs: Vec<Event> = (0..400)
        .map(|i: i64| {
            let t = i * 700 - if i % 5 == 0 { 600 } else { 0 };
            Event::new(
                t,
                vec![
                    format!("c{}", (i * 7) % 13 * (i / 50)),
                    format!("s{}", i % 3),
                ],
                vec![(i % 7) as f64, 1.0],
                Some((i % 2) as f64),
            )
        })
        .collect();
    let ra = a.transform(&evs).unwrap();
    let rb = b.transform(&evs[..300]).unwrap();
    // A snapshot taken after evictions (vacant slots) restores and continues identically.
    assert!(b.stats().ttl_evictions > 0);
    let mut b = FeatureEngine::restore(&b.snapshot().unwrap()).unwrap();
    let rb = [rb, b.transform(&evs[300..]).unwrap()].concat();
    // Counts, risks and gaps are bit-identical; a windowed decayed average differs at most by
    // the rounding of the evicted history's residual weight.
    for (i, (x, y)) in ra.iter().zip(&rb).enumerate() {
        if i % 4 == 3 {
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                "row {}: {x} vs {y}",
                i / 4
            );
        } else {
            assert_eq!(x.to_bits(), y.to_bits(), "row {}", i / 4);
        }
    }
    assert!(b.stats().ttl_evictions > 0);
    assert!(b.entity_count() < a.entity_count());
}

#[test]
fn lru_cap_and_forget() {
    let spec = FeatureSpec::from_value(json!({
        "schema": schema_json(), "max_entities": 2,
        "features": [{"kind": "window", "name": "n", "key": "card", "agg": "count", "window": "1h"}]
    }))
    .unwrap();
    let mut e = FeatureEngine::new(spec).unwrap();
    assert_eq!(e.update(&ev(1, "a", 1.0)).unwrap(), [1.0]);
    assert_eq!(e.update(&ev(2, "b", 1.0)).unwrap(), [1.0]);
    assert_eq!(e.update(&ev(3, "a", 1.0)).unwrap(), [2.0]);
    // "b" is least recently used: adding "c" evicts it.
    assert_eq!(e.update(&ev(4, "c", 1.0)).unwrap(), [1.0]);
    assert_eq!(e.stats().lru_evictions, 1);
    assert_eq!(e.entity_count(), 2);
    assert_eq!(e.update(&ev(5, "a", 1.0)).unwrap(), [3.0]);
    assert_eq!(e.update(&ev(6, "b", 1.0)).unwrap(), [1.0]);
    assert_eq!(e.forget("a"), 1);
    assert_eq!(e.forget("a"), 0);
    assert_eq!(e.stats().forgotten, 1);
    assert_eq!(e.update(&ev(7, "a", 1.0)).unwrap(), [1.0]);
    let bytes = e.snapshot().unwrap();
    let mut r = FeatureEngine::restore(&bytes).unwrap();
    assert_eq!(r.stats(), e.stats());
    assert_eq!(
        r.update(&ev(8, "b", 1.0)).unwrap(),
        e.update(&ev(8, "b", 1.0)).unwrap()
    );
    // Corrupted or foreign bytes are refused with a typed error.
    let mut bad = bytes.clone();
    bad[30] ^= 1;
    assert!(matches!(
        FeatureEngine::restore(&bad).unwrap_err(),
        Error::Artifact(_)
    ));
    assert!(matches!(
        FeatureEngine::restore(b"nope").unwrap_err(),
        Error::Artifact(_)
    ));
}

#[test]
fn calendar_known_dates() {
    let mut e = FeatureEngine::from_json(
        r#"{"schema": {"timestamp": "ts", "time_unit": "datetime", "keys": []},
            "lateness": {"policy": "process"},
            "features": [
              {"kind": "calendar", "name": "wd", "part": "weekday"},
              {"kind": "calendar", "name": "we", "part": "weekend"},
              {"kind": "calendar", "name": "night", "part": "night"},
              {"kind": "calendar", "name": "late_night", "part": "night", "night_hours": [22, 6]},
              {"kind": "calendar", "name": "hour_paris", "part": "hour", "utc_offset_minutes": 120}
            ]}"#,
    )
    .unwrap();
    let row = |e: &mut FeatureEngine, s: &str| {
        e.update_json(json!({"ts": s}).as_object().unwrap())
            .unwrap()
    };
    // 2018-04-01 was a Sunday.
    assert_eq!(
        row(&mut e, "2018-04-01 06:59:59"),
        [6.0, 1.0, 1.0, 0.0, 8.0]
    );
    assert_eq!(
        row(&mut e, "2018-04-02 07:00:00"),
        [0.0, 0.0, 0.0, 0.0, 9.0]
    );
    assert_eq!(
        row(&mut e, "2018-04-06T23:30:00Z"),
        [4.0, 0.0, 0.0, 1.0, 1.0]
    );
}

#[test]
fn equal_timestamps_are_processed_in_input_order() {
    let mut e = FeatureEngine::from_json(
        r#"{"schema": {"timestamp": "ts", "time_unit": "s", "keys": ["k"], "numeric": ["x"]},
            "features": [
              {"kind": "window", "name": "n", "key": "k", "agg": "count", "window": "1s"},
              {"kind": "window", "name": "prev_max", "key": "k", "agg": "max", "field": "x", "window": "1s", "include_current": false}
            ]}"#,
    )
    .unwrap();
    let evs: Vec<Event> = [3.0, 1.0, 2.0]
        .iter()
        .map(|&x| Event::new(1000, vec!["k".into()], vec![x], None))
        .collect();
    let a = e.clone().transform_array(&evs).unwrap();
    assert_eq!(a.shape(), [3, 2]);
    let m = e.transform(&evs).unwrap();
    assert_eq!(
        a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        m.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(m[0], 1.0);
    assert!(m[1].is_nan());
    assert_eq!(&m[2..], [2.0, 3.0, 3.0, 3.0]);
}

// ------------------------------------------------------------------------------------------------
// The handbook spec on the shared transaction stream.

fn handbook_spec() -> FeatureSpec {
    FeatureSpec::from_json(include_str!("../../../datasets/specs/handbook.json")).unwrap()
}

#[test]
fn handbook_spec_loads_with_the_handbook_names() {
    let engine = FeatureEngine::new(handbook_spec()).unwrap();
    let mut names: Vec<String> = vec![];
    for n in [1, 7, 30] {
        names.push(format!("CUSTOMER_ID_NB_TX_{n}DAY_WINDOW"));
        names.push(format!("CUSTOMER_ID_AVG_AMOUNT_{n}DAY_WINDOW"));
    }
    for n in [1, 7, 30] {
        names.push(format!("TERMINAL_ID_NB_TX_{n}DAY_WINDOW"));
        names.push(format!("TERMINAL_ID_RISK_{n}DAY_WINDOW"));
    }
    names.push("TX_DURING_WEEKEND".into());
    names.push("TX_DURING_NIGHT".into());
    let mut got = engine.feature_names().to_vec();
    got.sort();
    names.sort();
    assert_eq!(got, names);
}

#[test]
fn handbook_spec_matches_the_definitions_on_the_shared_stream() {
    use std::io::BufRead;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::var_os("FRAUD_DATASETS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/datasets"));
    let path = dir.join("fraud_handbook_transactions_2018-04-01_2018-09-30.csv.gz");
    if !path.exists() {
        println!(
            "SKIPPED: handbook dataset not found at {} (set FRAUD_DATASETS)",
            path.display()
        );
        return;
    }
    let file = std::fs::File::open(&path).unwrap();
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    let mut engine = FeatureEngine::new(handbook_spec()).unwrap();
    let names = engine.feature_names().to_vec();
    let col = |n: &str| names.iter().position(|x| x == n).unwrap();
    let mut ev = Event::default();
    let mut out = vec![0.0; names.len()];
    // Per customer / terminal: (time s, amount, fraud) of past transactions, for a naive check of
    // a sample of rows.
    let mut cust: std::collections::HashMap<String, Vec<(i64, f64, f64)>> = Default::default();
    let mut term: std::collections::HashMap<String, Vec<(i64, f64, f64)>> = Default::default();
    let (mut rows, mut checked) = (0usize, 0usize);
    let day = 86_400i64;
    for line in reader.lines().skip(1) {
        let line = line.unwrap();
        let f: Vec<&str> = line.split(',').collect();
        let ts = crate::event::parse_datetime_ms(f[1]).unwrap();
        let (c, t, amount, fraud) = (
            f[2],
            f[3],
            f[4].parse::<f64>().unwrap(),
            f[7].parse::<f64>().unwrap(),
        );
        ev.time_ms = ts;
        ev.keys.clear();
        ev.keys.push(c.to_string());
        ev.keys.push(t.to_string());
        ev.values.clear();
        ev.values.push(amount);
        ev.label = Some(fraud);
        engine.update_into(&ev, &mut out).unwrap();
        let s = ts / 1000;
        let ch = cust.entry(c.to_string()).or_default();
        ch.push((s, amount, fraud));
        let th = term.entry(t.to_string()).or_default();
        if rows % 97 == 0 {
            checked += 1;
            for n in [1i64, 7, 30] {
                let w: Vec<&(i64, f64, f64)> = ch
                    .iter()
                    .filter(|x| x.0 > s - n * day && x.0 <= s)
                    .collect();
                let avg = w.iter().map(|x| x.1).sum::<f64>() / w.len() as f64;
                assert_eq!(
                    out[col(&format!("CUSTOMER_ID_NB_TX_{n}DAY_WINDOW"))],
                    w.len() as f64,
                    "row {rows}"
                );
                let got = out[col(&format!("CUSTOMER_ID_AVG_AMOUNT_{n}DAY_WINDOW"))];
                assert!(
                    (got - avg).abs() <= 1e-9 * avg.abs().max(1.0),
                    "row {rows}: {got} vs {avg}"
                );
                let d = 7 * day;
                let w: Vec<&(i64, f64, f64)> = th
                    .iter()
                    .filter(|x| x.0 > s - d - n * day && x.0 <= s - d)
                    .collect();
                let risk = if w.is_empty() {
                    0.0
                } else {
                    w.iter().map(|x| x.2).sum::<f64>() / w.len() as f64
                };
                assert_eq!(
                    out[col(&format!("TERMINAL_ID_NB_TX_{n}DAY_WINDOW"))],
                    w.len() as f64,
                    "row {rows}"
                );
                let got = out[col(&format!("TERMINAL_ID_RISK_{n}DAY_WINDOW"))];
                assert!((got - risk).abs() <= 1e-9, "row {rows}: {got} vs {risk}");
            }
            let secs_of_day = s.rem_euclid(day);
            let weekday = (s.div_euclid(day) + 3).rem_euclid(7);
            assert_eq!(
                out[col("TX_DURING_NIGHT")],
                if secs_of_day < 7 * 3600 { 1.0 } else { 0.0 }
            );
            assert_eq!(
                out[col("TX_DURING_WEEKEND")],
                if weekday >= 5 { 1.0 } else { 0.0 }
            );
        }
        th.push((s, amount, fraud));
        rows += 1;
    }
    assert_eq!(rows, 1_754_155);
    println!(
        "handbook: {rows} rows, {checked} checked against the definitions, {} entities, ~{} state bytes",
        engine.entity_count(),
        engine.state_bytes()
    );
}

// ------------------------------------------------------------------------------------------------
// Columnar batches.

fn columns_spec() -> FeatureSpec {
    columns_spec_with(500, "error", None, None)
}

/// A spec over both key fields with every state-dependent kind, and optional TTL and LRU cap.
fn columns_spec_with(
    lateness: i64,
    policy: &str,
    ttl: Option<i64>,
    max_entities: Option<usize>,
) -> FeatureSpec {
    let mut v = json!({
        "schema": schema_json(),
        "lateness": {"allowed": lateness, "policy": policy},
        "features": [
            {"kind": "window", "name": "n", "key": "card", "agg": "count", "window": 1000},
            {"kind": "window", "name": "m", "key": "shop", "agg": "mean", "field": "amount", "window": 800, "include_current": false},
            {"kind": "window", "name": "r", "key": "shop", "agg": "risk", "window": 800, "delay": 300},
            {"kind": "window", "name": "mx", "key": "card", "agg": "max", "field": "qty", "window": 700},
            {"kind": "window", "name": "d", "key": "card", "agg": "distinct", "field": "shop", "window": 1200},
            {"kind": "time_since_last", "name": "g", "key": "card", "max_gap": 1500},
            {"kind": "calendar", "name": "h", "part": "hour"},
        ],
    });
    if let Some(t) = ttl {
        v["ttl"] = json!(t);
    }
    if let Some(m) = max_entities {
        v["max_entities"] = json!(m);
    }
    FeatureSpec::from_value(v).unwrap()
}

/// Dictionary-encoded columns of `evs` (codes assigned in order of first appearance).
struct Cols {
    uniques: Vec<String>,
    codes: Vec<Vec<i64>>,
    times: Vec<i64>,
    amount: Vec<f64>,
    qty: Vec<f64>,
    label: Vec<f64>,
}

impl Cols {
    fn new(evs: &[Event]) -> Self {
        let mut uniques: Vec<String> = Vec::new();
        let mut codes: Vec<Vec<i64>> = vec![Vec::new(); 2];
        for ev in evs {
            for (k, key) in ev.keys.iter().enumerate() {
                let c = match uniques.iter().position(|u| u == key) {
                    Some(c) => c,
                    None => {
                        uniques.push(key.clone());
                        uniques.len() - 1
                    }
                };
                codes[k].push(c as i64);
            }
        }
        Cols {
            uniques,
            codes,
            times: evs.iter().map(|e| e.time_ms).collect(),
            amount: evs.iter().map(|e| e.values[0]).collect(),
            qty: evs.iter().map(|e| e.values[1]).collect(),
            label: evs.iter().map(|e| e.label.unwrap_or(f64::NAN)).collect(),
        }
    }

    fn view(&self) -> crate::event::EventColumns<'_> {
        crate::event::EventColumns {
            time: crate::event::TimeColumn::Epoch(&self.times),
            keys: self
                .codes
                .iter()
                .map(|c| crate::event::KeyColumn {
                    codes: c,
                    values: &self.uniques,
                })
                .collect(),
            numeric: vec![&self.amount, &self.qty],
            label: Some(&self.label),
            id: None,
        }
    }
}

fn same_bits(x: &[f64], y: &[f64]) -> std::result::Result<(), TestCaseError> {
    prop_assert_eq!(x.len(), y.len());
    for (i, (p, q)) in x.iter().zip(y).enumerate() {
        prop_assert!(p.to_bits() == q.to_bits(), "value {}: {} != {}", i, p, q);
    }
    Ok(())
}

fn engine_for(spec: &FeatureSpec, hashed: bool) -> FeatureEngine {
    if hashed {
        FeatureEngine::with_key_secret(spec.clone(), b"0123456789abcdef").unwrap()
    } else {
        FeatureEngine::new(spec.clone()).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]
    /// The entity-by-entity batch equals row-by-row `update_into`: outputs, errors, counters and
    /// the complete final state, under every late policy, with TTL eviction and an LRU cap, with
    /// raw and hashed keys, and when the stream is split into several batches.
    #[test]
    fn prop_transform_columns_equals_update(
        (steps, late) in stream(),
        policy in prop_oneof![Just("error"), Just("drop"), Just("process")],
        ttl in prop_oneof![Just(None), (3000i64..6000).prop_map(Some)],
        cap in prop_oneof![Just(None), (1usize..5).prop_map(Some)],
        hashed in any::<bool>(),
        split in 0usize..120,
        bad in prop_oneof![3 => Just(None), 1 => (0usize..120).prop_map(Some)],
        bad_value in prop_oneof![Just(f64::INFINITY), Just(f64::NAN), Just(-2e18)],
        into in any::<bool>(),
    ) {
        let lateness = 500.min(late);
        let spec = columns_spec_with(lateness, policy, ttl, cap);
        // Some streams go further back than the lateness, to exercise the policies.
        let mut evs = events(&steps, lateness + 200, 1_000_000);
        if let Some(b) = bad {
            let b = b % evs.len();
            evs[b].values[0] = bad_value;
        }
        let mut a = engine_for(&spec, hashed);
        let n = a.n_features();
        let mut expected = Vec::new();
        let mut first_err = None;
        for (row, ev) in evs.iter().enumerate() {
            let mut o = vec![0.0; n];
            match a.update_into(ev, &mut o) {
                Ok(_) => expected.extend(o),
                Err(e) => {
                    first_err = Some(Error::InRow { row, source: Box::new(e) });
                    break;
                }
            }
        }
        let mut b = engine_for(&spec, hashed);
        let split = split.min(evs.len());
        let mut got = Vec::new();
        let mut err = None;
        for (lo, hi) in [(0, split), (split, evs.len())] {
            let cols = Cols::new(&evs[lo..hi]);
            // `transform_columns_into` must write every value of the applied rows: a sentinel
            // left anywhere would differ from update's outputs.
            let result = if into {
                let mut o = vec![-1234.5; (hi - lo) * n];
                b.transform_columns_into(&cols.view(), &mut o).map(|()| o)
            } else {
                b.transform_columns(&cols.view())
            };
            match result {
                Ok(o) => got.extend(o),
                Err(Error::InRow { row, source }) => {
                    err = Some(Error::InRow { row: row + lo, source });
                    break;
                }
                Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
            }
        }
        prop_assert_eq!(&first_err, &err);
        if err.is_none() {
            same_bits(&expected, &got)?;
        }
        prop_assert_eq!(a.stats(), b.stats());
        prop_assert_eq!(a.newest_time_ms(), b.newest_time_ms());
        prop_assert!(a.stores == b.stores, "final states differ");
    }
}

#[test]
fn transform_columns_errors_name_the_field_and_row() {
    let spec = columns_spec();
    let times = [0i64, 10, 20];
    let codes_ok = [0i64, 0, 0];
    let codes_bad = [0i64, -1, 0];
    let amount = [1.0, 2.0, 3.0];
    let amount_nan = [1.0, f64::INFINITY, 3.0];
    let mk = |codes: &[i64], amount: &[f64], times: &[i64]| -> Error {
        let u = vec!["a".to_string()];
        let ok = [0i64, 0, 0];
        let q = [0.0; 3];
        let c = crate::event::EventColumns {
            time: crate::event::TimeColumn::Epoch(times),
            keys: vec![
                crate::event::KeyColumn {
                    codes: &ok,
                    values: &u,
                },
                crate::event::KeyColumn { codes, values: &u },
            ],
            numeric: vec![amount, &q],
            label: None,
            id: None,
        };
        FeatureEngine::new(spec.clone())
            .unwrap()
            .transform_columns(&c)
            .unwrap_err()
    };
    let e = mk(&codes_bad, &amount, &times);
    assert!(
        matches!(&e, Error::InRow { row: 1, source } if matches!(&**source, Error::InvalidField { field, .. } if field == "shop")),
        "{e}"
    );
    let e = mk(&codes_ok, &amount_nan, &times);
    assert!(
        matches!(&e, Error::InRow { row: 1, source } if matches!(&**source, Error::InvalidField { field, .. } if field == "amount")),
        "{e}"
    );
    let e = mk(&codes_ok, &amount[..2], &times);
    assert!(
        matches!(&e, Error::ShapeMismatch(m) if m.contains("`amount`")),
        "{e}"
    );
    let e = mk(&codes_ok, &amount, &[0, 10_000, 20]);
    assert!(
        matches!(&e, Error::InRow { row: 2, source } if matches!(&**source, Error::LateEvent { .. })),
        "{e}"
    );
}

// ------------------------------------------------------------------------------------------------
// Label feedback.

fn feedback_spec(lateness: i64, cfg: (i64, i64, bool), cfg2: (i64, i64, bool)) -> FeatureSpec {
    let mut schema = schema_json();
    schema["id"] = json!("tx");
    let mut features = vec![
        window_feature("risk", None, "shop", cfg),
        window_feature("risk", None, "card", cfg2),
        window_feature("count", None, "shop", cfg),
    ];
    for (i, f) in features.iter_mut().enumerate() {
        f["name"] = json!(format!("f{i}_{}", f["name"].as_str().unwrap()));
    }
    FeatureSpec::from_value(json!({
        "schema": schema,
        "features": features,
        "lateness": {"allowed": lateness, "policy": "error"},
    }))
    .unwrap()
}

/// Naive risk with feedback: the label of window member `j` seen by event `i` is the last
/// feedback for `j` applied before `i` was processed, else `j`'s own label (missing = 0).
fn naive_risk_with_feedback(
    spec: &FeatureSpec,
    evs: &[Event],
    feedback: &[(usize, usize, f64)],
) -> Vec<f64> {
    let mut out = vec![];
    for i in 0..evs.len() {
        for f in &spec.features {
            let FeatureKind::Window {
                key,
                agg,
                window,
                delay,
                include_current,
                ..
            } = f
            else {
                unreachable!()
            };
            let d = delay.unwrap_or_default().0;
            let m = window_members(
                evs,
                i,
                key_idx(key),
                window.0,
                d,
                include_current.unwrap_or(d == 0),
            );
            let label = |j: usize| {
                feedback
                    .iter()
                    .rev()
                    .find(|(after, target, _)| *after < i && *target == j)
                    .map_or(evs[j].label.unwrap_or(0.0), |x| x.2)
            };
            out.push(match agg {
                Agg::Count => m.len() as f64,
                Agg::Risk if m.is_empty() => 0.0,
                Agg::Risk => m.iter().map(|&j| label(j)).sum::<f64>() / m.len() as f64,
                _ => unreachable!(),
            });
        }
    }
    out
}

proptest! {
    /// Feedback labels reach exactly the windows of events processed after them, online and
    /// after a columnar batch (ids stored from the id column), matching the naive recomputation.
    #[test]
    fn prop_feedback(
        (steps, late) in stream(),
        cfg in window_cfg(),
        cfg2 in window_cfg(),
        fb in prop::collection::vec((0usize..120, 0usize..120, any::<bool>()), 0..40),
        batch_until in 0usize..120,
    ) {
        let spec = feedback_spec(late, cfg, cfg2);
        let evs: Vec<Event> = events(&steps, late, 0)
            .into_iter()
            .enumerate()
            .map(|(i, e)| e.with_id(format!("t{i}")))
            .collect();
        let n = evs.len();
        // (applied after event `after`, target event, label), in application order.
        let mut feedback: Vec<(usize, usize, f64)> = fb
            .iter()
            .map(|&(a, t, l)| {
                let a = a % n;
                (a, t % (a + 1), if l { 1.0 } else { 0.0 })
            })
            .collect();
        feedback.sort_by_key(|x| x.0);
        let fb_of = |j: usize, l: f64| crate::event::Feedback {
            id: format!("t{j}"),
            keys: evs[j].keys.clone(),
            label: l,
        };
        // Online.
        let mut a = FeatureEngine::new(spec.clone()).unwrap();
        let mut got = vec![];
        for (i, ev) in evs.iter().enumerate() {
            got.extend(a.update(ev).unwrap());
            for &(_, j, l) in feedback.iter().filter(|x| x.0 == i) {
                a.feedback(&fb_of(j, l)).unwrap();
            }
        }
        let want = naive_risk_with_feedback(&spec, &evs, &feedback);
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            prop_assert!(close(*g, *w), "value {}: engine {} naive {}", k, g, w);
        }
        prop_assert_eq!(
            a.stats().feedback_applied + a.stats().feedback_unmatched,
            feedback.len() as u64
        );
        // A columnar batch for the first events (no feedback inside it), then online.
        let cut = feedback
            .first()
            .map_or(batch_until, |x| x.0 + 1)
            .min(batch_until.min(n));
        let mut b = FeatureEngine::new(spec.clone()).unwrap();
        let cols = Cols::new(&evs[..cut]);
        let ids: Vec<String> = (0..cut).map(|i| format!("t{i}")).collect();
        let id_codes: Vec<i64> = (0..cut as i64).collect();
        let mut view = cols.view();
        view.id = Some(crate::event::KeyColumn { codes: &id_codes, values: &ids });
        let mut got_b = b.transform_columns(&view).unwrap();
        for (i, ev) in evs.iter().enumerate() {
            if i >= cut {
                got_b.extend(b.update(ev).unwrap());
            }
            for &(_, j, l) in feedback.iter().filter(|x| x.0 == i) {
                prop_assert!(i + 1 >= cut);
                b.feedback(&fb_of(j, l)).unwrap();
            }
        }
        same_bits(&got, &got_b)?;
    }
}

#[test]
fn feedback_errors_are_typed() {
    let spec = feedback_spec(0, (1000, 0, true), (1000, 0, true));
    let mut e = FeatureEngine::new(spec).unwrap();
    let bad = |m: serde_json::Value| m.as_object().unwrap().clone();
    let err = e
        .feedback_json(&bad(json!({"card": "c", "shop": "s", "fraud": 1})))
        .unwrap_err();
    assert!(
        matches!(&err, Error::MissingField { field, .. } if field == "tx"),
        "{err}"
    );
    let err = e
        .feedback_json(&bad(json!({"tx": 1, "card": "c", "fraud": 1})))
        .unwrap_err();
    assert!(
        matches!(&err, Error::MissingField { field, .. } if field == "shop"),
        "{err}"
    );
    let err = e
        .feedback_json(&bad(json!({"tx": 1, "card": "c", "shop": "s"})))
        .unwrap_err();
    assert!(
        matches!(&err, Error::MissingField { field, .. } if field == "fraud"),
        "{err}"
    );
    let err = e
        .feedback_json(&bad(
            json!({"tx": 1, "card": "c", "shop": "s", "fraud": 1, "x": 2}),
        ))
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownField { field, .. } if field == "x"),
        "{err}"
    );
    // An unknown event is counted, not an error.
    assert!(
        !e.feedback_json(&bad(json!({"tx": 1, "card": "c", "shop": "s", "fraud": 1})))
            .unwrap()
    );
    assert_eq!(e.stats().feedback_unmatched, 1);
    // A schema without an id field cannot take feedback.
    let mut plain = FeatureEngine::new(rich_spec(0)).unwrap();
    let fb = crate::event::Feedback {
        id: "1".into(),
        keys: vec!["c".into(), "s".into()],
        label: 1.0,
    };
    assert!(matches!(plain.feedback(&fb), Err(Error::InvalidInput(_))));
}

// ------------------------------------------------------------------------------------------------
// Regression tests for crashes found by the fuzz targets in `fraud-core/fuzz` (named after them).

/// event_decode: an id code out of range in a columnar batch passed `check_row` and then indexed
/// past the id dictionary in `transform_columns` (a panic); `check_row` must refuse it like
/// `fill_from_columns` does, with the same error, and the batch must fail at that row.
#[test]
fn fuzz_event_decode_id_code_out_of_range() {
    use crate::event::{EventColumns, KeyColumn, TimeColumn};
    let spec = feedback_spec(0, (1000, 0, true), (1000, 0, true));
    let mut engine = FeatureEngine::new(spec).unwrap();
    let schema = engine.schema().clone();
    let values: Vec<String> = vec!["a".into(), "b".into()];
    let ids: Vec<String> = vec!["t0".into(), "t1".into()];
    let (times, codes, id_codes) = (vec![0i64, 10], vec![0i64, 1], vec![0i64, 2]);
    let (amount, qty, label) = (vec![1.0, 2.0], vec![0.0, 1.0], vec![0.0, f64::NEG_INFINITY]);
    let cols = EventColumns {
        time: TimeColumn::Millis(&times),
        keys: vec![
            KeyColumn {
                codes: &codes,
                values: &values,
            },
            KeyColumn {
                codes: &codes,
                values: &values,
            },
        ],
        numeric: vec![&amount, &qty],
        label: Some(&label),
        id: Some(KeyColumn {
            codes: &id_codes,
            values: &ids,
        }),
    };
    schema.check_columns(&cols).unwrap();
    for row in 0..2 {
        let mut ev = Event::default();
        let filled = schema
            .fill_from_columns(&cols, row, &mut ev)
            .and_then(|()| schema.check(&ev))
            .map(|()| ev.time_ms);
        assert_eq!(schema.check_row(&cols, row), filled, "row {row}");
    }
    let err = engine.transform_columns(&cols).unwrap_err();
    assert!(
        matches!(&err, Error::InRow { row: 1, source } if matches!(&**source, Error::InvalidField { field, .. } if field == "tx")),
        "{err}"
    );
    // The first row was applied, the failing one was not.
    assert_eq!(engine.stats().events, 1);
}

/// artifact_decode: a snapshot with a valid checksum whose window state disagrees with its event
/// buffer (here: an event appended without moving the windows) was accepted by `restore`, and the
/// next late event tripped the window's index assertion in `late_insert` (wrong features without
/// debug assertions). `restore` must refuse it as a malformed artifact.
#[test]
fn fuzz_artifact_decode_window_state_inconsistent_with_buffer() {
    use super::state::KeyRef;
    let spec = rich_spec(1000);
    let mut engine = FeatureEngine::new(spec).unwrap();
    let evs: Vec<Event> = (0..6)
        .map(|i| ev2(1_000 + i * 300, "c", "s", i as f64))
        .collect();
    engine.transform(&evs).unwrap();
    // A valid snapshot restores.
    let good = engine.snapshot().unwrap();
    FeatureEngine::restore(&good).unwrap();
    // Append an event to the card entity's buffer without advancing its windows.
    let k = engine
        .plan
        .keys
        .iter()
        .position(|kp| kp.key_field == 0)
        .unwrap();
    let width = engine.plan.keys[k].cols.len();
    let i = engine.stores[k].find(KeyRef::Raw("c")).unwrap();
    let row = vec![0u64; width];
    engine.stores[k].entity_mut(i).buf.push(9_000, &row);
    let bad = engine.snapshot().unwrap();
    let err = FeatureEngine::restore(&bad).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Artifact(crate::error::ArtifactError::Malformed(_))
        ),
        "{err}"
    );
}

fn ev2(t: i64, card: &str, shop: &str, amount: f64) -> Event {
    Event::new(
        t,
        vec![card.into(), shop.into()],
        vec![amount, 1.0],
        Some(0.0),
    )
}

/// engine_stateful: after many label feedbacks the window's removal counter (relabels count as
/// removals until the next exact recomputation) exceeded a bound that the first version of the
/// restore validation assumed, so a valid snapshot was refused. It must restore and continue
/// bit-identically.
#[test]
fn fuzz_engine_stateful_snapshot_after_many_feedbacks_restores() {
    let spec = feedback_spec(0, (1000, 0, true), (1000, 0, true));
    let mut engine = FeatureEngine::new(spec).unwrap();
    for i in 0..4 {
        engine
            .update(&ev2(i * 10, "c", "s", 1.0).with_id(format!("t{i}")))
            .unwrap();
    }
    for j in 0..300 {
        let fb = crate::event::Feedback {
            id: "t1".into(),
            keys: vec!["c".into(), "s".into()],
            label: (j % 2) as f64,
        };
        assert!(engine.feedback(&fb).unwrap());
    }
    let mut restored = FeatureEngine::restore(&engine.snapshot().unwrap()).unwrap();
    for i in 4..8 {
        let e = ev2(i * 10, "c", "s", 2.0).with_id(format!("t{i}"));
        let (a, b) = (engine.update(&e).unwrap(), restored.update(&e).unwrap());
        assert_eq!(
            a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
}
