"""IsolationForest.explain / top_reasons: per-feature contributions (reason codes)."""

from __future__ import annotations

import numpy as np
import pytest

import fraud_core
from fraud_core import NonFiniteError, NotFittedError, ShapeError


def planted(seed: int, n: int = 2000, n_anom: int = 200, d: int = 6):
    """Gaussian rows, then anomalies with ONE random feature shifted by 5-8 standard deviations."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + n_anom, d))
    which = rng.integers(0, d, size=n_anom)
    shift = rng.uniform(5, 8, size=n_anom) * rng.choice([-1.0, 1.0], size=n_anom)
    X[n + np.arange(n_anom), which] += shift
    return X, which


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_feature_ranks_first(seed):
    X, which = planted(seed)
    n = X.shape[0] - which.size
    forest = fraud_core.IsolationForest(random_state=seed).fit(X)
    contributions = forest.explain(X[n:])
    rate = float(np.mean(contributions.argmax(axis=1) == which))
    print(f"seed {seed}: planted feature ranked first for {rate:.3f} of the anomalies")
    assert rate >= 0.9
    reasons = forest.top_reasons(X[n:], k=2)
    assert [r[0][0] for r in reasons] == list(contributions.argmax(axis=1))
    assert all(len(r) <= 2 for r in reasons)
    feature, value = reasons[0][0]
    assert isinstance(feature, int) and value == contributions[0, feature]


def test_shape_dtype_and_sum_to_the_anomaly_score():
    X, _ = planted(3, n=500, n_anom=20, d=4)
    forest = fraud_core.IsolationForest(n_estimators=50, random_state=0).fit(X)
    c = forest.explain(X)
    assert c.shape == X.shape and c.dtype == np.float64
    assert np.all(np.isfinite(c)) and np.all(c >= 0)
    np.testing.assert_allclose(c.sum(axis=1), -forest.score_samples(X), rtol=0, atol=1e-12)
    # float32 input, Fortran order and lists give the same values; n_jobs does not matter.
    x32 = X.astype(np.float32)
    np.testing.assert_array_equal(forest.explain(x32), forest.explain(np.asfortranarray(x32)))
    np.testing.assert_array_equal(forest.explain(np.asfortranarray(X)), c)
    np.testing.assert_array_equal(forest.explain(X[:3].tolist()), c[:3])
    parallel = fraud_core.IsolationForest(n_estimators=50, random_state=0, n_jobs=2).fit(X)
    np.testing.assert_array_equal(parallel.explain(X), c)


def test_errors_match_score_samples():
    X, _ = planted(4, n=300, n_anom=10, d=3)
    with pytest.raises(NotFittedError):
        fraud_core.IsolationForest().explain(X)
    with pytest.raises(NotFittedError):
        fraud_core.IsolationForest().top_reasons(X)
    forest = fraud_core.IsolationForest(n_estimators=20, random_state=0).fit(X)
    bad = X[:10].copy()
    bad[4, 2] = np.nan
    with pytest.raises(NonFiniteError, match=r"NaN at row 4, column 2"):
        forest.score_samples(bad)
    with pytest.raises(NonFiniteError, match=r"NaN at row 4, column 2"):
        forest.explain(bad)
    with pytest.raises(NonFiniteError):
        forest.top_reasons(bad)
    bad[4, 2] = np.inf
    with pytest.raises(NonFiniteError):
        forest.explain(bad)
    with pytest.raises(ShapeError):
        forest.explain(X[:, :2])
    with pytest.raises(fraud_core.InvalidParameterError):
        forest.top_reasons(X, k=-1)


def test_sparse_and_dataframe_inputs():
    sparse = pytest.importorskip("scipy.sparse")
    X, _ = planted(5, n=300, n_anom=10, d=3)
    X[np.abs(X) < 0.5] = 0.0
    forest = fraud_core.IsolationForest(n_estimators=20, random_state=0).fit(X)
    np.testing.assert_array_equal(forest.explain(sparse.csr_matrix(X)), forest.explain(X))
    assert forest.top_reasons(sparse.csr_matrix(X), 2) == forest.top_reasons(X, 2)
