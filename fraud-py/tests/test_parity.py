"""Statistical parity with scikit-learn, and an independent re-implementation of scoring."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import fraud_core

sklearn = pytest.importorskip("sklearn")
from sklearn.ensemble import IsolationForest as SkIsolationForest  # noqa: E402
from sklearn.metrics import average_precision_score as sk_ap  # noqa: E402
from sklearn.metrics import roc_auc_score as sk_auc  # noqa: E402

SEEDS = range(5)


def gaussian(seed):
    r = np.random.RandomState(seed)
    X = np.vstack([r.normal(size=(1000, 6)), r.normal(scale=2.2, size=(40, 6))])
    return X, np.r_[np.zeros(1000, bool), np.ones(40, bool)]


def two_clusters(seed):
    r = np.random.RandomState(seed)
    a = r.normal(size=(500, 2)) * 0.5 + [-3, 0]
    b = r.normal(size=(500, 2)) * 0.5 + [3, 0]
    anomalies = r.uniform([-2, -2], [2, 2], size=(40, 2))  # between the clusters
    return np.vstack([a, b, anomalies]), np.r_[np.zeros(1000, bool), np.ones(40, bool)]


def irrelevant_features(seed):
    r = np.random.RandomState(seed)
    X = r.normal(size=(1500, 12))
    y = np.zeros(1500, bool)
    idx = r.choice(1500, 45, replace=False)
    X[idx, :2] += r.choice([-1, 1], size=(45, 2)) * 2.5  # anomalous in 2 of 12 features
    y[idx] = True
    return X, y


def skewed_discrete(seed):
    r = np.random.RandomState(seed)
    X = r.exponential(size=(1200, 5))
    X[:, 1] = np.round(X[:, 1] * 3)  # many ties
    y = np.zeros(1200, bool)
    idx = r.choice(1200, 30, replace=False)
    X[idx, 0] += 4
    y[idx] = True
    return X, y


CASES = [
    ("gaussian", gaussian, {}),
    ("two_clusters", two_clusters, {}),
    ("irrelevant_features", irrelevant_features, {"max_features": 0.5, "n_estimators": 200}),
    ("skewed_discrete", skewed_discrete, {"bootstrap": True, "max_samples": 0.3}),
]


@pytest.mark.parametrize("name,make,params", CASES, ids=[c[0] for c in CASES])
def test_roc_auc_within_002_of_sklearn(name, make, params):
    ours, ref, mean_ours, mean_ref = [], [], [], []
    for seed in SEEDS:
        X, y = make(100 + seed)
        s = fraud_core.IsolationForest(random_state=seed, **params).fit(X).score_samples(X)
        r = SkIsolationForest(random_state=seed, **params).fit(X).score_samples(X)
        ours.append(sk_auc(y, -s))
        ref.append(sk_auc(y, -r))
        mean_ours.append(s.mean())
        mean_ref.append(r.mean())
    print(f"{name}: ours {np.mean(ours):.4f} sklearn {np.mean(ref):.4f}")
    # The datasets are neither trivial nor hopeless, so the comparison means something.
    assert 0.75 < np.mean(ref) < 0.99
    assert abs(np.mean(ours) - np.mean(ref)) <= 0.02
    # Same algorithm, same score scale: average scores agree closely too.
    assert abs(np.mean(mean_ours) - np.mean(mean_ref)) <= 0.01


def test_contamination_offset_like_sklearn():
    X, _ = gaussian(1)
    for c in (0.01, 0.1, 0.3):
        ours = fraud_core.IsolationForest(contamination=c, random_state=0).fit(X)
        ref = SkIsolationForest(contamination=c, random_state=0).fit(X)
        frac = (ours.predict(X) == -1).mean()
        assert abs(frac - c) <= 1.0 / len(X) + 1e-12, (c, frac)
        # the threshold is the same percentile rule: numpy's linear interpolation
        s = ours.score_samples(X)
        assert ours.offset_ == pytest.approx(np.percentile(s, 100 * c), abs=1e-15)
        assert abs(ours.offset_ - ref.offset_) < 0.03


@pytest.mark.parametrize("n", [1, 2, 7, 300])
def test_constant_data_every_tree_is_one_leaf_like_sklearn(n):
    """All trees are the same single leaf: scores are exactly determined, and equal sklearn's."""
    X = np.full((n, 3), 4.2)
    Q = np.array([[4.2, 4.2, 4.2], [-1e6, 0.0, 3.0], [1e6, 1e6, 1e6]])
    ours = fraud_core.IsolationForest(random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkIsolationForest(random_state=0).fit(X)
    s = ours.score_samples(Q)
    assert np.allclose(s, -0.5, rtol=0, atol=1e-12), s
    assert np.allclose(s, ref.score_samples(Q), rtol=0, atol=1e-12)
    assert ours.offset_ == ref.offset_ == -0.5


def test_two_points_structure_is_forced_like_sklearn():
    """Two distinct rows, max_samples=2: every tree splits once between them, whatever the seed."""
    X = np.array([[0.0], [1.0]])
    Q = np.array([[-5.0], [0.0], [1.0], [9.0]])
    for seed in SEEDS:
        s = fraud_core.IsolationForest(random_state=seed).fit(X).score_samples(Q)
        r = SkIsolationForest(random_state=seed).fit(X).score_samples(Q)
        # depth 1, leaf of one row, c(2) = 1: score = -2^-1
        assert np.allclose(s, -0.5, rtol=0, atol=1e-12)
        assert np.allclose(s, r, rtol=0, atol=1e-12)


def _c(n: float) -> float:
    """Average path length c(n), scikit-learn's form (written independently of the core)."""
    if n <= 1:
        return 0.0
    if n <= 2:
        return 1.0
    return 2.0 * (math.log(n - 1.0) + 0.5772156649015329) - 2.0 * (n - 1.0) / n


def _score_from_json(doc: dict, X: np.ndarray) -> np.ndarray:
    """Independent numpy traversal of the exported trees."""
    Xf = X.astype(np.float32)  # the model compares in float32
    rows = np.arange(len(X))
    total = np.zeros(len(X))
    for t in doc["trees"]:
        feature = np.asarray(t["feature"], dtype=np.int64)
        threshold = np.asarray(t["threshold"], dtype=np.float32)
        left = np.asarray(t["left"], dtype=np.int64)
        size = np.asarray(t["size"], dtype=np.float64)
        node = np.zeros(len(X), dtype=np.int64)
        depth = np.zeros(len(X))
        while True:
            internal = left[node] != 0
            if not internal.any():
                break
            go_right = Xf[rows, feature[node]] > threshold[node]
            node = np.where(internal, left[node] + go_right, node)
            depth += internal
        total += depth + np.array([_c(v) for v in size[node]])
    denominator = len(doc["trees"]) * _c(doc["max_samples"])
    ratio = total / denominator if denominator != 0 else np.ones(len(X))
    return -(2.0 ** (-ratio))


@pytest.mark.parametrize(
    "params", [{}, {"max_samples": 37, "max_features": 2}, {"bootstrap": True, "max_samples": 1.0}]
)
def test_independent_numpy_scoring_from_exported_json(params):
    rng = np.random.RandomState(3)
    X = np.vstack([rng.normal(size=(500, 4)), rng.uniform(-8, 8, size=(10, 4))])
    X[:, 3] = np.round(X[:, 3])  # ties and duplicates
    est = fraud_core.IsolationForest(n_estimators=60, random_state=1, **params).fit(X)
    doc = json.loads(est.export_json())
    Q = np.vstack([X, rng.normal(scale=3, size=(200, 4))])
    expected = _score_from_json(doc, Q)
    got = est.score_samples(Q)
    assert np.max(np.abs(got - expected)) <= 1e-12
    assert doc["offset"] == est.offset_


def test_metrics_match_sklearn():
    rng = np.random.RandomState(0)
    for n in (2, 10, 1000):
        y = rng.rand(n) < 0.3
        y[0], y[-1] = True, False
        s = np.round(rng.normal(size=n), 1)  # ties
        assert fraud_core.roc_auc_score(y, s) == pytest.approx(sk_auc(y, s), abs=1e-12)
        assert fraud_core.average_precision_score(y.astype(int), s) == pytest.approx(
            sk_ap(y, s), abs=1e-12
        )
    y = np.array([1, 0, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.1, 0.2])
    assert fraud_core.precision_at_k(y, s, 2) == 0.5
    with pytest.raises(fraud_core.FraudError, match="one class"):
        fraud_core.roc_auc_score([1, 1], [0.1, 0.2])
    with pytest.raises(fraud_core.InvalidInputError, match="binary"):
        fraud_core.roc_auc_score([0, 2], [0.1, 0.2])
    with pytest.raises(fraud_core.ShapeError):
        fraud_core.roc_auc_score([0, 1], [0.1])
    with pytest.raises(fraud_core.FraudError, match="not finite"):
        fraud_core.average_precision_score([0, 1], [np.nan, 0.2])
