"""fraud_core.ZScore / RobustZScore against a numpy recomputation; errors; persistence."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import fraud_core

MAD_TO_STD = 1.482602218505602  # 1 / Phi^-1(3/4)
MEAN_AD_TO_STD = np.sqrt(np.pi / 2)

CLASSES = (fraud_core.ZScore, fraud_core.RobustZScore)


def numpy_centre_scale(X: np.ndarray, robust: bool) -> tuple[np.ndarray, np.ndarray]:
    """The documented statistics, recomputed with numpy."""
    if not robust:
        loc, scale = np.mean(X, axis=0), np.std(X, axis=0)  # ddof=0
        return loc, np.where(scale > 0, scale, 1.0)
    loc = np.median(X, axis=0)
    dev = np.abs(X - loc)
    mad, mean_ad = np.median(dev, axis=0), np.mean(dev, axis=0)
    fallback = np.where(mean_ad > 0, mean_ad * MEAN_AD_TO_STD, 1.0)
    scale = np.where(mad > 0, mad * MAD_TO_STD, fallback)
    return loc, scale


def numpy_scores(z: np.ndarray, combine: str) -> np.ndarray:
    if combine == "max":
        return np.max(np.abs(z), axis=1)
    return np.sqrt(np.mean(z**2, axis=1))


def _data(seed: int, n: int, d: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=rng.uniform(-50, 50, d), scale=rng.uniform(0.1, 20, d), size=(n, d))
    X[:, 0] = np.round(X[:, 0])  # ties
    if d > 2:
        X[: n // 2 + 1, 2] = 4.0  # MAD 0 (more than half equal), mean absolute deviation > 0
    if d > 3:
        X[:, 3] = -1.5  # constant
    return X


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("combine", ["max", "rms"])
@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (5, 4), (200, 6), (1001, 5)])
def test_values_match_numpy(cls, combine, seed, shape) -> None:
    n, d = shape
    X = _data(seed, n, d)
    est = cls(threshold=2.5, combine=combine).fit(X)
    loc, scale = numpy_centre_scale(X, cls is fraud_core.RobustZScore)
    np.testing.assert_allclose(est.location_, loc, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(est.scale_, scale, rtol=1e-12, atol=1e-12)
    Q = np.vstack([X, _data(seed + 100, 50, d) * 1.5])
    z_ref = (Q - loc) / scale
    z = est.z(Q)
    assert z.shape == Q.shape and z.dtype == np.float64
    np.testing.assert_allclose(z, z_ref, rtol=1e-12, atol=1e-12)
    s_ref = numpy_scores(z_ref, combine)
    s = est.score_samples(Q)
    np.testing.assert_allclose(s, s_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(est.decision_function(Q), 2.5 - s, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(est.predict(Q), np.where(s > 2.5, -1, 1))
    assert est.score_one(list(Q[-1])) == s[-1]


def test_degenerate_scales_are_documented_fallbacks() -> None:
    X = np.array([[5.0, 7.0], [5.0, 7.0], [5.0, 7.0], [6.0, 7.0], [9.0, 7.0]])
    r = fraud_core.RobustZScore().fit(X)
    assert r.scale_[0] == pytest.approx(np.mean([0, 0, 0, 1, 4]) * MEAN_AD_TO_STD, rel=1e-15)
    assert r.scale_[1] == 1.0
    z = fraud_core.ZScore().fit(X)
    assert z.scale_[1] == 1.0
    assert z.z(np.array([[5.0, 9.5]]))[0, 1] == 2.5


def test_robust_ignores_training_outliers() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1000, 3))
    X[:20] = 1e4  # gross outliers in training data
    plain, robust = fraud_core.ZScore().fit(X), fraud_core.RobustZScore().fit(X)
    q = np.array([[6.0, 0.0, 0.0]])
    assert robust.predict(q)[0] == -1
    assert plain.predict(q)[0] == 1  # its std is inflated by the outliers


def test_dtypes_and_dataframes() -> None:
    X = _data(3, 100, 4)
    ref = fraud_core.ZScore().fit(X)
    X32 = X.astype(np.float32)
    est = fraud_core.ZScore().fit(X32)
    np.testing.assert_allclose(est.location_, np.mean(X32.astype(np.float64), axis=0), rtol=1e-12)
    np.testing.assert_array_equal(est.z(X32), (X32.astype(np.float64) - est.location_) / est.scale_)
    s = ref.score_samples(X)
    np.testing.assert_array_equal(fraud_core.ZScore().fit(X.tolist()).score_samples(X), s)
    fortran = fraud_core.ZScore().fit(np.asfortranarray(X))
    np.testing.assert_array_equal(fortran.score_samples(X[::-1])[::-1], s)
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    est = fraud_core.RobustZScore().fit(df)
    assert list(est.feature_names_in_) == ["a", "b", "c", "d"]
    back = fraud_core.RobustZScore.from_bytes(est.to_bytes())
    assert list(back.feature_names_in_) == ["a", "b", "c", "d"]
    with pytest.raises(fraud_core.ShapeError, match="feature names"):
        est.score_samples(df[["b", "a", "c", "d"]])


@pytest.mark.parametrize("cls", CLASSES)
def test_bad_inputs_raise_fraud_errors(cls) -> None:
    X = _data(0, 30, 3)
    # Parameters are stored verbatim and validated at fit, naming the value.
    for bad in (-1.0, 0.0, np.nan, np.inf, "3", True, None):
        est = cls(threshold=bad)
        assert est.threshold is bad
        with pytest.raises(fraud_core.InvalidParameterError, match="threshold"):
            est.fit(X)
    for bad in ("avg", "MAX", 1, None):
        with pytest.raises(fraud_core.InvalidParameterError, match="combine"):
            cls(combine=bad).fit(X)
    with pytest.raises(fraud_core.NotFittedError):
        cls().score_samples(X)
    with pytest.raises(fraud_core.NotFittedError):
        cls().z(X)
    with pytest.raises(fraud_core.NotFittedError):
        cls().to_bytes()
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(fraud_core.NonFiniteError, match=r"row 3, column 1"):
        cls().fit(bad)
    est = cls().fit(X)
    bad[3, 1] = -np.inf
    for method in (est.score_samples, est.z, est.predict, est.decision_function):
        with pytest.raises(fraud_core.NonFiniteError, match=r"row 3, column 1"):
            method(bad)
    with pytest.raises(fraud_core.ShapeError, match="3 features"):
        est.score_samples(X[:, :2])
    with pytest.raises(fraud_core.ShapeError):
        est.z(X[:, :2])
    with pytest.raises(fraud_core.ShapeError):
        cls().fit(np.zeros((0, 3)))
    with pytest.raises(fraud_core.ShapeError):
        cls().fit(np.zeros((3, 0)))
    with pytest.raises(fraud_core.ShapeError):
        cls().fit(np.zeros(3))
    with pytest.raises(fraud_core.DTypeError):
        cls().fit([["a", "b"], ["c", "d"]])
    with pytest.raises(fraud_core.ShapeError):
        est.score_one([1.0, 2.0])
    # Statistics that overflow float64 are refused, naming the column.
    huge = 1.7e308 if cls is fraud_core.ZScore else -1.7e308
    with pytest.raises(fraud_core.InvalidInputError, match="column 1"):
        cls().fit(np.array([[0.0, 1.7e308], [1.0, huge]]))


@pytest.mark.parametrize("cls", CLASSES)
def test_bytes_and_pickle_round_trip(cls) -> None:
    X = _data(5, 80, 4)
    est = cls(threshold=2.0, combine="rms").fit(X)
    s = est.score_samples(X)
    back = cls.from_bytes(est.to_bytes())
    assert back.get_params() == {"threshold": 2.0, "combine": "rms"}
    np.testing.assert_array_equal(back.score_samples(X), s)
    np.testing.assert_array_equal(back.z(X), est.z(X))
    np.testing.assert_array_equal(back.location_, est.location_)
    assert back.n_features_in_ == 4
    assert cls.from_bytes(bytearray(est.to_bytes())).to_bytes() == est.to_bytes()
    p = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(p.score_samples(X), s)
    assert p.get_params() == est.get_params()
    unfitted = pickle.loads(pickle.dumps(cls(threshold=4.0)))
    assert unfitted.threshold == 4.0 and "_detector" not in unfitted.__dict__
    native = pickle.loads(pickle.dumps(est._detector))
    np.testing.assert_array_equal(native.score_samples(X), s)


def test_artifact_errors() -> None:
    X = _data(6, 20, 2)
    z_bytes = fraud_core.ZScore().fit(X).to_bytes()
    r_bytes = fraud_core.RobustZScore().fit(X).to_bytes()
    with pytest.raises(fraud_core.ArtifactError, match="RobustZScore"):
        fraud_core.ZScore.from_bytes(r_bytes)
    with pytest.raises(fraud_core.ArtifactError, match="expected RobustZScore"):
        fraud_core.RobustZScore.from_bytes(z_bytes)
    iforest = fraud_core.IsolationForest(n_estimators=2, random_state=0).fit(X).to_bytes()
    with pytest.raises(fraud_core.ArtifactError, match="kind"):
        fraud_core.ZScore.from_bytes(iforest)
    with pytest.raises(fraud_core.ArtifactError):
        fraud_core.ZScore.from_bytes(b"not a model")
    for n in range(0, len(z_bytes), 7):
        with pytest.raises(fraud_core.ArtifactError):
            fraud_core.ZScore.from_bytes(z_bytes[:n])
    flipped = bytearray(z_bytes)
    flipped[30] ^= 0x10
    with pytest.raises(fraud_core.ArtifactError):
        fraud_core.ZScore.from_bytes(bytes(flipped))
    with pytest.raises(fraud_core.DTypeError):
        fraud_core.ZScore.from_bytes("bytes?")  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", CLASSES)
def test_sklearn_clone_and_params(cls) -> None:
    base = pytest.importorskip("sklearn.base")
    X = _data(7, 60, 3)
    est = cls(threshold=2.0, combine="rms").fit(X)
    c = base.clone(est)
    assert type(c) is cls and c.get_params() == {"threshold": 2.0, "combine": "rms"}
    assert not hasattr(c, "location_")
    assert base.is_outlier_detector(c)
    np.testing.assert_array_equal(c.fit(X).score_samples(X), est.score_samples(X))
    c.set_params(threshold=10.0)
    assert c.threshold == 10.0
    np.testing.assert_array_equal(c.fit_predict(X), np.ones(len(X), dtype=int))
    assert repr(cls(threshold=2.0)) == f"{cls.__name__}(threshold=2.0)"
