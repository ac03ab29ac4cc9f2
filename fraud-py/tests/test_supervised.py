"""fraud_core.SupervisedClassifier: parity with scikit-learn, persistence, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import fraud_core
from fraud_core import SupervisedClassifier

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402


def logistic_data(seed: int, n: int = 400, d: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Standardised features, labels drawn from a logistic model (overlapping classes, ~35%
    positives): a small, well-conditioned problem with a unique, finite optimum."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    w = np.linspace(1.0, -0.5, d)
    p = 1.0 / (1.0 + np.exp(-(X @ w - 0.7)))
    return X, rng.uniform(size=n) < p


def fraud_data(seed: int, n: int = 3000, rate: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Imbalanced, separable-ish data: fraud rows shifted by 1.8 sd on 3 of 6 features."""
    rng = np.random.RandomState(seed)
    y = np.zeros(n, bool)
    y[rng.choice(n, int(n * rate), replace=False)] = True
    X = rng.normal(size=(n, 6))
    X[y, :3] += 1.8
    return X, y


@pytest.mark.parametrize("alpha", [0.1, 1.0, 10.0])
def test_logistic_regression_matches_sklearn(alpha):
    X, y = logistic_data(0)
    Xt, _ = logistic_data(1)
    ours = SupervisedClassifier(model="logistic_regression", alpha=alpha, balance=None).fit(X, y)
    ref = LogisticRegression(C=1.0 / alpha, tol=1e-12, max_iter=10_000).fit(X, y)
    # Same objective (sum of log losses + alpha/2 |w|^2, intercept unpenalised), strictly convex,
    # solved to a gradient of ~1e-8 by smartcore's L-BFGS and to tol=1e-12 by scikit-learn's lbfgs.
    # Measured: the probabilities and coefficients agree to 1.5e-8 (alpha=0.1), 1e-8 (1.0) and
    # 3e-10 (10.0). The tolerance 1e-7 leaves room for solver stopping differences and still
    # catches a different objective: an alpha off by 1% moves the probabilities by >= 6e-6 here.
    tol = 1e-7
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=tol)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=tol)
    np.testing.assert_allclose(ours.predict_proba(Xt), ref.predict_proba(Xt), rtol=0, atol=tol)
    assert ours.predict_proba(Xt).shape == (len(Xt), 2)
    np.testing.assert_array_equal(ours.classes_, [False, True])


@pytest.mark.parametrize("balance", [None, "undersample", "class_weight"])
def test_random_forest_auc_close_to_sklearn(balance):
    X, y = fraud_data(2)
    Xt, yt = fraud_data(3)
    ours = SupervisedClassifier(n_estimators=200, balance=balance, random_state=0).fit(X, y)
    ref = RandomForestClassifier(
        n_estimators=200,
        class_weight="balanced_subsample" if balance == "class_weight" else None,
        random_state=0,
    ).fit(X, y)
    auc_ours = roc_auc_score(yt, ours.predict_proba(Xt)[:, 1])
    auc_ref = roc_auc_score(yt, ref.predict_proba(Xt)[:, 1])
    assert auc_ours > 0.9
    assert auc_ours > auc_ref - 0.03, (auc_ours, auc_ref)
    assert 0.0 <= ours.predict_proba(Xt).min() and ours.predict_proba(Xt).max() <= 1.0
    imp = ours.feature_importances_
    assert imp.shape == (6,) and abs(imp.sum() - 1.0) < 1e-9
    assert imp[:3].sum() > imp[3:].sum()


def test_balancing_raises_recall():
    X, y = fraud_data(4)
    Xt, yt = fraud_data(5)
    for model in ("random_forest", "logistic_regression"):
        plain = SupervisedClassifier(model=model, balance=None, random_state=1).fit(X, y)
        under = SupervisedClassifier(model=model, balance="undersample", random_state=1).fit(X, y)
        r_plain = plain.predict(Xt)[yt].mean()
        r_under = under.predict(Xt)[yt].mean()
        assert r_under > r_plain, (model, r_plain, r_under)


def test_round_trip_pickle_and_clone():
    X, y = fraud_data(6, n=1000, rate=0.05)
    for model in ("random_forest", "logistic_regression"):
        est = SupervisedClassifier(
            model=model, n_estimators=30, balance="oversample", sampling_ratio=0.5, random_state=4
        ).fit(X, y)
        p = est.predict_proba(X)
        back = SupervisedClassifier.from_bytes(est.to_bytes())
        assert back.get_params()["model"] == model
        assert back.to_bytes() == est.to_bytes()
        np.testing.assert_array_equal(back.predict_proba(X), p)  # bit-identical
        unpickled = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(unpickled.predict_proba(X), p)
        np.testing.assert_array_equal(unpickled.predict(X), est.predict(X))
        # Same parameters and seed: the same model.
        again = clone(est).fit(X, y)
        assert again.to_bytes() == est.to_bytes()
        # float32 input is accepted.
        assert est.predict_proba(X.astype(np.float32)).shape == (len(X), 2)


def test_any_two_labels():
    X, y = fraud_data(7, n=600, rate=0.1)
    labels = np.where(y, "fraud", "legit")
    est = SupervisedClassifier(model="logistic_regression", balance=None).fit(X, labels)
    np.testing.assert_array_equal(est.classes_, ["fraud", "legit"])
    # "legit" sorts second, so it is the positive column; predictions are labels.
    assert set(est.predict(X)) <= {"fraud", "legit"}
    assert est.predict_proba(X)[:, 1][~y].mean() > 0.5
    est01 = SupervisedClassifier(model="logistic_regression", balance=None).fit(X, y.astype(int))
    np.testing.assert_array_equal(est01.classes_, [0, 1])


def test_errors():
    X, y = fraud_data(8, n=500, rate=0.1)
    with pytest.raises(fraud_core.NotFittedError):
        SupervisedClassifier().predict_proba(X)
    with pytest.raises(fraud_core.InvalidInputError, match="both classes"):
        SupervisedClassifier(random_state=0).fit(X, np.zeros(len(X), bool))
    with pytest.raises(fraud_core.InvalidInputError, match="both classes"):
        SupervisedClassifier(random_state=0).fit(X, np.ones(len(X), int))
    with pytest.raises(fraud_core.InvalidInputError, match="binary"):
        SupervisedClassifier(random_state=0).fit(X, np.arange(len(X)) % 3)
    with pytest.raises(fraud_core.ShapeError):
        SupervisedClassifier(random_state=0).fit(X, y[:-1])
    Xn = X.copy()
    Xn[5, 2] = np.nan
    with pytest.raises(fraud_core.NonFiniteError, match="row 5, column 2"):
        SupervisedClassifier(random_state=0).fit(Xn, y)
    est = SupervisedClassifier(n_estimators=10, random_state=0).fit(X, y)
    with pytest.raises(fraud_core.ShapeError):
        est.predict_proba(X[:, :4])
    with pytest.raises(fraud_core.NonFiniteError):
        est.predict_proba(Xn)
    bad = [
        ({"model": "svm"}, "svm"),
        ({"n_estimators": 0}, "n_estimators"),
        ({"max_depth": 0}, "max_depth"),
        ({"min_samples_split": 1}, "min_samples_split"),
        ({"max_features": "all"}, "max_features"),
        ({"balance": "smote"}, "smote"),
        ({"sampling_ratio": 2.0}, "sampling_ratio"),
        ({"model": "logistic_regression", "alpha": -1.0}, "alpha"),
        ({"model": "logistic_regression", "balance": "class_weight"}, "class_weight"),
    ]
    for params, needle in bad:
        with pytest.raises(fraud_core.InvalidParameterError, match=needle):
            SupervisedClassifier(**params).fit(X, y)
    data = bytearray(est.to_bytes())
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(fraud_core.ArtifactError):
        SupervisedClassifier.from_bytes(bytes(data))
    forest_bytes = fraud_core.IsolationForest(n_estimators=5).fit(X).to_bytes()
    with pytest.raises(fraud_core.ArtifactError, match="wrong artifact kind"):
        SupervisedClassifier.from_bytes(forest_bytes)
    with pytest.raises(fraud_core.ArtifactError):
        SupervisedClassifier.from_bytes(b"not a model")


def test_sklearn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(
        SupervisedClassifier(n_estimators=10, balance=None, random_state=0), on_fail=None
    )
    failed = [(r["check_name"], str(r["exception"])) for r in results if r["status"] == "failed"]
    assert not failed, failed
