use super::*;
use ndarray::{Array2, ShapeBuilder};
use rand::RngExt;

fn data(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    Array2::from_shape_fn((n, d), |_| rng.random::<f64>() * 10.0 - 5.0)
}

fn fitted(params: IsolationForestParams, x: &Array2<f64>) -> IsolationForest {
    let mut f = IsolationForest::new(params).unwrap();
    f.fit(x.view()).unwrap();
    f
}

/// Independent scorer: walk the JSON export with plain f64 comparisons and the textbook formula.
fn naive_scores(json: &str, x: &Array2<f64>) -> Vec<f64> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let psi = v["max_samples"].as_f64().unwrap();
    let c = |n: f64| {
        if n <= 1.0 {
            0.0
        } else if n <= 2.0 {
            1.0
        } else {
            2.0 * ((n - 1.0).ln() + 0.5772156649015329) - 2.0 * (n - 1.0) / n
        }
    };
    let trees = v["trees"].as_array().unwrap();
    x.outer_iter()
        .map(|row| {
            let mut total = 0.0;
            for t in trees {
                let arr = |k: &str| {
                    t[k].as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e.as_f64().unwrap())
                        .collect::<Vec<f64>>()
                };
                let (feat, thr, left, size) =
                    (arr("feature"), arr("threshold"), arr("left"), arr("size"));
                let (mut i, mut depth) = (0usize, 0.0);
                while left[i] != 0.0 {
                    let xv = row[feat[i] as usize] as f32 as f64;
                    i = if xv <= thr[i] {
                        left[i] as usize
                    } else {
                        left[i] as usize + 1
                    };
                    depth += 1.0;
                }
                total += depth + c(size[i]);
            }
            let denom = trees.len() as f64 * c(psi);
            -(2f64.powf(-(if denom == 0.0 { 1.0 } else { total / denom })))
        })
        .collect()
}

#[test]
fn padded_scores_equal_an_independent_traversal() {
    let x = data(700, 4, 1);
    let f = fitted(
        IsolationForestParams::default()
            .random_state(3)
            .n_estimators(37),
        &x,
    );
    let got = f.score_samples(x.view()).unwrap();
    let want = naive_scores(&f.to_json().unwrap(), &x);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-12, "{g} vs {w}");
    }
}

#[test]
fn compact_layout_for_deep_trees_equals_independent_traversal() {
    let x = data(6000, 3, 2);
    let f = fitted(
        IsolationForestParams::default()
            .random_state(5)
            .n_estimators(5)
            .max_samples(MaxSamples::Count(5000)),
        &x,
    );
    assert!(matches!(
        f.fitted.as_ref().unwrap().layout,
        Layout::Compact { .. }
    ));
    let got = f.score_samples(x.view()).unwrap();
    let want = naive_scores(&f.to_json().unwrap(), &x);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-12);
    }
    for i in [0, 17, 5999] {
        assert_eq!(f.score_one(x.row(i).as_slice().unwrap()).unwrap(), got[i]);
    }
}

#[test]
fn scores_are_in_range_and_outliers_score_lowest() {
    let mut x = data(1000, 3, 4);
    x.row_mut(10).fill(60.0);
    let f = fitted(IsolationForestParams::default().random_state(0), &x);
    let s = f.score_samples(x.view()).unwrap();
    assert!(s.iter().all(|&v| (-1.0..=0.0).contains(&v)));
    let argmin = s
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(argmin, 10);
    assert!(s[10] < -0.7, "{}", s[10]);
    let p = f.predict(x.view()).unwrap();
    assert_eq!(p[10], -1);
    assert_eq!(f.offset().unwrap(), -0.5);
}

#[test]
fn single_row_path_is_bit_identical_to_batch() {
    let x = data(3000, 9, 5);
    let f = fitted(
        IsolationForestParams::default()
            .random_state(11)
            .n_estimators(103),
        &x,
    );
    let s = f.score_samples(x.view()).unwrap();
    for i in (0..3000).step_by(7) {
        assert_eq!(
            f.score_one(x.row(i).as_slice().unwrap()).unwrap().to_bits(),
            s[i].to_bits()
        );
    }
    // More than 64 columns takes the heap buffer path.
    let wide = data(300, 70, 6);
    let fw = fitted(
        IsolationForestParams::default()
            .random_state(1)
            .n_estimators(20),
        &wide,
    );
    let sw = fw.score_samples(wide.view()).unwrap();
    assert_eq!(
        fw.score_one(wide.row(3).as_slice().unwrap()).unwrap(),
        sw[3]
    );
}

#[test]
fn same_seed_same_bytes_and_scores_whatever_the_thread_count() {
    let x = data(9000, 5, 7);
    let base = IsolationForestParams::default()
        .random_state(42)
        .contamination(Contamination::Fraction(0.1));
    let a = fitted(base.clone().n_jobs(1), &x);
    let b = fitted(base.clone().n_jobs(2), &x);
    let c = fitted(base.clone().n_jobs(-1), &x);
    let strip = |f: &IsolationForest| {
        let mut g = f.clone();
        g.params.n_jobs = None;
        g.to_bytes().unwrap()
    };
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(strip(&a), strip(&c));
    let sa = a.score_samples(x.view()).unwrap();
    assert_eq!(sa, b.score_samples(x.view()).unwrap());
    assert_eq!(sa, c.score_samples(x.view()).unwrap());
    let other = fitted(base.clone().random_state(43), &x);
    assert_ne!(other.score_samples(x.view()).unwrap(), sa);
}

#[test]
fn f32_and_fortran_order_inputs_give_the_same_scores() {
    let x = data(500, 6, 8);
    let f = fitted(IsolationForestParams::default().random_state(2), &x);
    let s = f.score_samples(x.view()).unwrap();
    let x32 = x.mapv(|v| v as f32);
    assert_eq!(f.score_samples(x32.view()).unwrap(), s);
    let mut xf = Array2::<f64>::zeros((500, 6).f());
    xf.assign(&x);
    assert_eq!(f.score_samples(xf.view()).unwrap(), s);
    let mut g = IsolationForest::new(IsolationForestParams::default().random_state(2)).unwrap();
    g.fit(xf.view()).unwrap();
    assert_eq!(g.to_bytes().unwrap(), f.to_bytes().unwrap());
}

#[test]
fn degenerate_data_works() {
    // Constant column next to a varying one.
    let mut x = data(300, 2, 9);
    x.column_mut(0).fill(1.0);
    let f = fitted(IsolationForestParams::default().random_state(0), &x);
    assert!(
        f.score_samples(x.view())
            .unwrap()
            .iter()
            .all(|v| v.is_finite())
    );
    // All rows identical: every tree is one leaf of max_samples rows, so E[h] = c(psi) and s = 0.5.
    let same = Array2::from_elem((50, 3), 2.5);
    let f = fitted(IsolationForestParams::default().random_state(0), &same);
    for v in f.score_samples(same.view()).unwrap() {
        assert!((v + 0.5).abs() < 1e-12, "{v}");
    }
    // One row: scikit-learn's convention gives -0.5.
    let one = Array2::from_elem((1, 4), 1.0);
    let f = fitted(IsolationForestParams::default().random_state(0), &one);
    assert_eq!(f.max_samples_().unwrap(), 1);
    assert_eq!(f.score_samples(one.view()).unwrap()[0], -0.5);
    assert_eq!(f.score_one(&[9.0, 9.0, 9.0, 9.0]).unwrap(), -0.5);
    // n < max_samples.
    let small = data(20, 2, 10);
    let f = fitted(
        IsolationForestParams::default()
            .random_state(0)
            .max_samples(MaxSamples::Count(500)),
        &small,
    );
    assert_eq!(f.max_samples_().unwrap(), 20);
    // Two rows.
    let two = data(2, 2, 11);
    let f = fitted(IsolationForestParams::default().random_state(0), &two);
    assert!(
        f.score_samples(two.view())
            .unwrap()
            .iter()
            .all(|v| v.is_finite())
    );
}

#[test]
fn bad_input_is_refused_with_row_and_column() {
    let mut x = data(10, 3, 12);
    x[[4, 2]] = f64::NAN;
    let mut f = IsolationForest::new(IsolationForestParams::default()).unwrap();
    let e = f.fit(x.view()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFiniteValue {
                row: 4,
                column: 2,
                ..
            }
        ),
        "{e}"
    );
    x[[4, 2]] = 0.0;
    x[[1, 0]] = f64::NEG_INFINITY;
    assert!(matches!(
        f.fit(x.view()).unwrap_err(),
        Error::NonFiniteValue {
            row: 1,
            column: 0,
            ..
        }
    ));
    x[[1, 0]] = 1e300;
    let e = f.fit(x.view()).unwrap_err();
    assert!(e.to_string().contains("float32"), "{e}");
    x[[1, 0]] = 0.0;
    f.fit(x.view()).unwrap();
    x[[9, 1]] = f64::NAN;
    assert!(matches!(
        f.score_samples(x.view()).unwrap_err(),
        Error::NonFiniteValue {
            row: 9,
            column: 1,
            ..
        }
    ));
    assert!(matches!(
        f.score_one(&[0.0, f64::NAN, 0.0]).unwrap_err(),
        Error::NonFiniteValue { column: 1, .. }
    ));
    assert!(matches!(
        f.score_one(&[0.0, 0.0]).unwrap_err(),
        Error::ShapeMismatch(_)
    ));
    assert!(matches!(
        f.score_samples(data(3, 4, 1).view()).unwrap_err(),
        Error::ShapeMismatch(_)
    ));
    assert!(matches!(
        f.fit(Array2::<f64>::zeros((0, 3)).view()).unwrap_err(),
        Error::EmptyInput(_)
    ));
    assert!(matches!(
        f.fit(Array2::<f64>::zeros((3, 0)).view()).unwrap_err(),
        Error::EmptyInput(_)
    ));
    let unfitted = IsolationForest::new(IsolationForestParams::default()).unwrap();
    assert!(matches!(
        unfitted.score_one(&[1.0]).unwrap_err(),
        Error::NotFitted("score_one")
    ));
    let mf =
        IsolationForest::new(IsolationForestParams::default().max_features(MaxFeatures::Count(5)))
            .unwrap();
    let e = {
        let mut m = mf;
        m.fit(data(10, 3, 1).view()).unwrap_err()
    };
    assert!(e.to_string().contains("max_features"), "{e}");
}

#[test]
fn errors_in_parallel_scoring_name_the_first_bad_row() {
    let mut x = data(20_000, 2, 13);
    let f = fitted(
        IsolationForestParams::default().random_state(0).n_jobs(2),
        &x,
    );
    x[[15_000, 1]] = f64::INFINITY;
    x[[9_000, 0]] = f64::NAN;
    assert!(matches!(
        f.score_samples(x.view()).unwrap_err(),
        Error::NonFiniteValue {
            row: 9_000,
            column: 0,
            ..
        }
    ));
}

#[test]
fn warm_start_equals_fitting_all_trees_at_once() {
    let x = data(800, 3, 14);
    let mut w = IsolationForest::new(
        IsolationForestParams::default()
            .random_state(9)
            .n_estimators(30)
            .warm_start(true),
    )
    .unwrap();
    w.fit(x.view()).unwrap();
    let mut p = w.params().clone();
    p.n_estimators = 70;
    w.set_params(p).unwrap();
    w.fit(x.view()).unwrap();
    assert_eq!(w.n_trees(), 70);
    let all = fitted(
        IsolationForestParams::default()
            .random_state(9)
            .n_estimators(70),
        &x,
    );
    assert_eq!(
        w.score_samples(x.view()).unwrap(),
        all.score_samples(x.view()).unwrap()
    );
    let mut p = w.params().clone();
    p.n_estimators = 10;
    w.set_params(p).unwrap();
    assert!(matches!(
        w.fit(x.view()).unwrap_err(),
        Error::InvalidParameter {
            name: "n_estimators",
            ..
        }
    ));
    let mut p = w.params().clone();
    p.n_estimators = 80;
    w.set_params(p).unwrap();
    assert!(matches!(
        w.fit(data(800, 4, 1).view()).unwrap_err(),
        Error::ShapeMismatch(_)
    ));
}

#[test]
fn contamination_sets_the_offset_at_the_training_percentile() {
    let x = data(2000, 3, 15);
    let f = fitted(
        IsolationForestParams::default()
            .random_state(1)
            .contamination(Contamination::Fraction(0.1)),
        &x,
    );
    let s = f.score_samples(x.view()).unwrap();
    let off = f.offset().unwrap();
    let below = s.iter().filter(|&&v| v < off).count();
    assert!((195..=205).contains(&below), "{below}");
    let outliers = f
        .predict(x.view())
        .unwrap()
        .iter()
        .filter(|&&p| p == -1)
        .count();
    assert_eq!(outliers, below);
}

#[test]
fn percentile_matches_numpy_linear() {
    // numpy.percentile([1, 2, 3, 4], 10) = 1.3 ; ([5, 1, 3], 50) = 3.0 ; ([1, 2], 75) = 1.75
    assert!((percentile(&[1.0, 2.0, 3.0, 4.0], 10.0) - 1.3).abs() < 1e-15);
    assert_eq!(percentile(&[5.0, 1.0, 3.0], 50.0), 3.0);
    assert_eq!(percentile(&[1.0, 2.0], 75.0), 1.75);
}

#[test]
fn sample_weights_control_which_rows_are_drawn() {
    let x = data(400, 2, 16);
    let mut w = Array1::zeros(400);
    w.iter_mut().take(10).for_each(|v| *v = 1.0);
    let mut f = IsolationForest::new(IsolationForestParams::default().random_state(0)).unwrap();
    f.fit_weighted(x.view(), Some(w.view())).unwrap();
    assert_eq!(f.max_samples_().unwrap(), 10);
    // Only rows 0..10 were drawn, so a forest fitted on them alone is the same model.
    let mut g = IsolationForest::new(
        IsolationForestParams::default()
            .random_state(0)
            .bootstrap(true),
    )
    .unwrap();
    g.fit_weighted(x.view(), Some(w.view())).unwrap();
    assert_eq!(g.max_samples_().unwrap(), 256);
    let all_leaf_sizes: u32 = g.fitted.as_ref().unwrap().state.trees[0].size[0];
    assert_eq!(all_leaf_sizes, 256);
    for bad in [f64::NAN, -1.0] {
        let mut wb = Array1::ones(400);
        wb[3] = bad;
        let e = f.fit_weighted(x.view(), Some(wb.view())).unwrap_err();
        assert!(e.to_string().contains("sample_weight[3]"), "{e}");
    }
    assert!(
        f.fit_weighted(x.view(), Some(Array1::zeros(400).view()))
            .is_err()
    );
    assert!(
        f.fit_weighted(x.view(), Some(Array1::ones(3).view()))
            .is_err()
    );
}

#[test]
fn max_features_restricts_each_tree() {
    let x = data(500, 8, 17);
    let f = fitted(
        IsolationForestParams::default()
            .random_state(0)
            .max_features(MaxFeatures::Count(2)),
        &x,
    );
    for t in &f.fitted.as_ref().unwrap().state.trees {
        let mut used: Vec<u32> = (0..t.len())
            .filter(|&i| t.left[i] != 0)
            .map(|i| t.feature[i])
            .collect();
        used.sort();
        used.dedup();
        assert!(used.len() <= 2);
    }
}

#[test]
fn artifact_round_trip_and_structural_corruption() {
    let x = data(300, 3, 18);
    let mut f = fitted(
        IsolationForestParams::default()
            .random_state(0)
            .n_estimators(10),
        &x,
    );
    f.set_feature_names(Some(vec!["a".into(), "b".into(), "c".into()]))
        .unwrap();
    let bytes = f.to_bytes().unwrap();
    let g = IsolationForest::from_bytes(&bytes).unwrap();
    assert_eq!(g.to_bytes().unwrap(), bytes);
    assert_eq!(g.feature_names().unwrap(), ["a", "b", "c"]);
    assert_eq!(
        g.score_samples(x.view()).unwrap(),
        f.score_samples(x.view()).unwrap()
    );
    // An unfitted forest round-trips too.
    let u = IsolationForest::new(IsolationForestParams::default().n_estimators(7)).unwrap();
    let u2 = IsolationForest::from_bytes(&u.to_bytes().unwrap()).unwrap();
    assert_eq!(u2.params().n_estimators, 7);
    assert!(!u2.is_fitted());
    // Payloads that pass the checksum but break tree invariants are refused, never scored.
    let corrupt = |edit: &dyn Fn(&mut FittedState)| {
        let mut p = Payload {
            params: f.params.clone(),
            state: Some(f.fitted.as_ref().unwrap().state.clone()),
        };
        edit(p.state.as_mut().unwrap());
        let b = model::encode(ArtifactKind::IsolationForest, &p).unwrap();
        IsolationForest::from_bytes(&b).unwrap_err()
    };
    type Edit = Box<dyn Fn(&mut FittedState)>;
    let cases: Vec<Edit> = vec![
        Box::new(|s| s.trees[0].feature[0] = 99),
        Box::new(|s| s.trees[0].left[0] = 0xFFFF_FFF0),
        Box::new(|s| s.trees[1].left[0] = 0),
        Box::new(|s| s.trees[0].threshold[0] = f32::NAN),
        Box::new(|s| s.trees[0].size.pop().map(|_| ()).unwrap()),
        Box::new(|s| s.trees.clear()),
        Box::new(|s| s.n_features_in = 0),
        Box::new(|s| s.max_samples = 2),
        Box::new(|s| s.offset = f64::NAN),
        Box::new(|s| s.feature_names = Some(vec!["x".into()])),
    ];
    for (i, c) in cases.iter().enumerate() {
        let e = corrupt(c.as_ref());
        assert!(
            matches!(e, Error::Artifact(ArtifactError::Malformed(_))),
            "case {i}: {e}"
        );
    }
}

#[test]
fn save_and_load() {
    let x = data(100, 2, 19);
    let f = fitted(
        IsolationForestParams::default()
            .random_state(0)
            .n_estimators(5),
        &x,
    );
    let p = std::env::temp_dir().join(format!("fraud-core-iforest-{}.bin", std::process::id()));
    f.save(&p).unwrap();
    let g = IsolationForest::load(&p).unwrap();
    assert_eq!(
        g.score_samples(x.view()).unwrap(),
        f.score_samples(x.view()).unwrap()
    );
    std::fs::remove_file(&p).unwrap();
    assert!(IsolationForest::load(&p).is_err());
}

#[test]
fn memory_is_reported() {
    let x = data(1000, 4, 20);
    let f = fitted(IsolationForestParams::default().random_state(0), &x);
    // Padded layout: 100 trees x (256 node slots + 256 leaves) x 8 bytes, plus the canonical trees.
    let layout = 100 * (256 + 256) * 8;
    assert!(f.memory_bytes() > layout && f.memory_bytes() < layout + 100 * 511 * 16 + 1);
}
