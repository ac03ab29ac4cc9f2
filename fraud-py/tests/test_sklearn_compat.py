"""scikit-learn compatibility: check_estimator parity, params, clone, tags, feature names."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fraud_core

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.ensemble import IsolationForest as SkIsolationForest  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402


def _statuses(estimator) -> tuple[dict[str, list[str]], dict[str, str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None)
    statuses: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for r in results:
        statuses.setdefault(r["check_name"], []).append(r["status"])
        if r["status"] == "failed":
            errors[r["check_name"]] = repr(r["exception"])[:500]
    return statuses, errors


def test_check_estimator_parity_with_sklearn():
    reference, _ = _statuses(SkIsolationForest())
    ours, errors = _statuses(fraud_core.IsolationForest())
    must_pass = sorted(n for n, s in reference.items() if all(x == "passed" for x in s))
    # Sanity: the reference run is the full battery, not an empty or broken one.
    assert len(must_pass) >= 40, must_pass
    failures = [
        n for n in must_pass if n not in ours or any(s != "passed" for s in ours[n])
    ]
    for name in failures:
        print(f"FAILED {name}: {ours.get(name)} {errors.get(name, '')}")
    assert not failures, f"checks sklearn's IsolationForest passes but ours does not: {failures}"
    # We refuse NaN (allow_nan=False), so the NaN/inf check runs on ours and must pass too.
    assert ours.get("check_estimators_nan_inf") == ["passed"]


def test_tags_match_sklearn_except_nan():
    ours, ref = get_tags(fraud_core.IsolationForest()), get_tags(SkIsolationForest())
    assert ours.estimator_type == ref.estimator_type == "outlier_detector"
    assert ours.input_tags.sparse and ref.input_tags.sparse
    assert ours.input_tags.allow_nan is False
    assert ours.requires_fit and not ours.non_deterministic


def test_get_params_set_params_clone():
    rs = np.random.RandomState(4)
    est = fraud_core.IsolationForest(n_estimators=7, max_samples=0.5, random_state=rs)
    params = est.get_params()
    assert params == {
        "n_estimators": 7,
        "max_samples": 0.5,
        "contamination": "auto",
        "max_features": 1.0,
        "bootstrap": False,
        "random_state": rs,
        "n_jobs": None,
        "verbose": 0,
        "warm_start": False,
    }
    assert params["random_state"] is rs  # stored verbatim
    assert est.set_params(n_estimators=9, contamination=0.1) is est
    assert est.n_estimators == 9 and est.contamination == 0.1
    X = np.random.RandomState(0).normal(size=(50, 3))
    est.fit(X)
    assert est._forest.n_trees == 9
    c = clone(est)
    assert c.get_params()["n_estimators"] == 9
    assert not hasattr(c, "offset_") and not hasattr(c, "_forest")
    with pytest.raises(fraud_core.NotFittedError):
        c.predict(X)


def test_predict_and_decision_function_consistent(fitted, data):
    s = fitted.score_samples(data)
    dec = fitted.decision_function(data)
    pred = fitted.predict(data)
    assert np.array_equal(dec, s - fitted.offset_)
    assert pred.dtype.kind == "i"
    assert set(np.unique(pred)) <= {-1, 1}
    assert np.array_equal(pred, np.where(dec < 0, -1, 1))
    assert np.all((s <= 0) & (s >= -1))
    # the planted outliers (last 5 rows) are the 5 lowest scores
    assert set(np.argsort(s)[:5]) == set(range(len(data) - 5, len(data)))


def test_fit_predict_matches_fit_then_predict(data):
    est = fraud_core.IsolationForest(random_state=1, contamination=0.1)
    a = est.fit_predict(data)
    b = fraud_core.IsolationForest(random_state=1, contamination=0.1).fit(data).predict(data)
    assert np.array_equal(a, b)
    assert abs((a == -1).mean() - 0.1) < 0.02


def test_feature_names_like_sklearn(data):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(data, columns=["amount", "hour", "velocity", "age"])
    est = fraud_core.IsolationForest(random_state=0).fit(df)
    assert list(est.feature_names_in_) == ["amount", "hour", "velocity", "age"]
    assert est.n_features_in_ == 4
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.score_samples(data)
    with pytest.raises(fraud_core.ShapeError, match="feature names should match"):
        est.score_samples(df[["hour", "amount", "velocity", "age"]])
    # names travel in the artifact
    back = fraud_core.IsolationForest.from_bytes(est.to_bytes())
    assert list(back.feature_names_in_) == list(est.feature_names_in_)
    # and fitting on a plain array afterwards forgets them
    est.fit(data)
    assert not hasattr(est, "feature_names_in_")
    with pytest.warns(UserWarning, match="fitted without feature names"):
        est.score_samples(df)


def test_warm_start_equals_fitting_all_trees_at_once(data):
    a = fraud_core.IsolationForest(n_estimators=20, random_state=5).fit(data)
    a.set_params(n_estimators=40, warm_start=True).fit(data)
    b = fraud_core.IsolationForest(n_estimators=40, random_state=5).fit(data)
    assert a._forest.n_trees == 40
    assert np.array_equal(a.score_samples(data), b.score_samples(data))
    with pytest.raises(fraud_core.InvalidParameterError, match="n_estimators"):
        a.set_params(n_estimators=10).fit(data)


def test_max_samples_resolution_matches_sklearn(data):
    for ms in ["auto", 50, 0.25, 10_000]:
        ours = fraud_core.IsolationForest(max_samples=ms, random_state=0).fit(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = SkIsolationForest(max_samples=ms, random_state=0).fit(data)
        assert ours.max_samples_ == ref.max_samples_, ms
