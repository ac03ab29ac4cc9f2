"""Input handling: every representation gives identical scores; bad inputs raise FraudError."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import fraud_core
from fraud_core import (
    DTypeError,
    FraudError,
    InvalidInputError,
    InvalidParameterError,
    NonFiniteError,
    NotFittedError,
    ShapeError,
)

pd = pytest.importorskip("pandas")
sp = pytest.importorskip("scipy.sparse")


def _representations(X: np.ndarray) -> dict[str, object]:
    """The same integer-valued matrix in many containers, dtypes and memory layouts."""
    big = np.zeros((X.shape[0] * 2, X.shape[1] + 3))
    big[::2, 1 : 1 + X.shape[1]] = X
    readonly = X.copy()
    readonly.flags.writeable = False
    return {
        "float64 C": np.ascontiguousarray(X),
        "float64 F": np.asfortranarray(X),
        "float32 C": X.astype(np.float32),
        "float32 F": np.asfortranarray(X.astype(np.float32)),
        "int64": X.astype(np.int64),
        "int32 F": np.asfortranarray(X.astype(np.int32)),
        "uint8-free int16": X.astype(np.int16),
        "float16": X.astype(np.float16),
        "bool-free object": X.astype(object),
        "big-endian f8": X.astype(">f8"),
        "strided view": big[::2, 1 : 1 + X.shape[1]],
        "reversed view": X[::-1][::-1],
        "read-only": readonly,
        "list of lists": X.tolist(),
        "tuple of tuples": tuple(map(tuple, X.tolist())),
        "DataFrame str columns": pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])]),
        "DataFrame int columns": pd.DataFrame(X.astype(np.int64)),
        "DataFrame mixed dtypes": pd.DataFrame(
            {i: (X[:, i].astype(np.int32) if i % 2 else X[:, i]) for i in range(X.shape[1])}
        ),
        "csr": sp.csr_matrix(X),
        "csc": sp.csc_matrix(X),
        "coo": sp.coo_matrix(X),
    }


def test_every_representation_gives_identical_scores(data):
    ref_est = fraud_core.IsolationForest(n_estimators=30, random_state=11).fit(data)
    ref = ref_est.score_samples(data)
    ref_bytes = ref_est.to_bytes()
    for name, X in _representations(data).items():
        est = fraud_core.IsolationForest(n_estimators=30, random_state=11).fit(X)
        assert np.array_equal(est.score_samples(X), ref), name
        # the fitted model itself does not depend on the representation (up to feature names)
        if not name.startswith("DataFrame str"):
            assert est.to_bytes() == ref_bytes, name
        # and the reference model scores this representation identically
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # fitted without feature names
            assert np.array_equal(ref_est.score_samples(X), ref), name


def test_memmap_readonly(tmp_path, data):
    path = tmp_path / "x.npy"
    np.save(path, data)
    X = np.load(path, mmap_mode="r")
    est = fraud_core.IsolationForest(random_state=0).fit(X)
    assert np.array_equal(est.score_samples(X), est.score_samples(data))


def test_unaligned_array(data):
    buf = np.zeros(data.size * 8 + 1, dtype=np.uint8)
    X = np.frombuffer(buf.data, dtype=np.float64, count=data.size, offset=1).reshape(data.shape)
    assert not X.flags.aligned
    X[...] = data
    est = fraud_core.IsolationForest(random_state=0).fit(X)
    assert np.array_equal(est.score_samples(X), est.score_samples(data))
    # the native layer refuses (never reads) misaligned memory; the Python layer copies it
    with pytest.raises(InvalidInputError, match="aligned"):
        est._forest.score_samples(X)


def test_fit_determinism_and_n_jobs_independence(data):
    X = np.vstack([data] * 20)  # several parallel tasks' worth of rows
    runs = [
        fraud_core.IsolationForest(n_estimators=64, random_state=123, n_jobs=n).fit(X)
        for n in (None, 1, 2, -1, -2, 64)
    ]
    scores = [r.score_samples(X) for r in runs]
    for r, s in zip(runs[1:], scores[1:]):
        assert np.array_equal(s, scores[0])
        assert r._forest.seed == runs[0]._forest.seed
    other = fraud_core.IsolationForest(n_estimators=64, random_state=124).fit(X)
    assert not np.array_equal(other.score_samples(X), scores[0])


def test_random_state_semantics(data):
    np.random.seed(0)
    a = fraud_core.IsolationForest(random_state=None).fit(data).score_samples(data)
    np.random.seed(0)
    b = fraud_core.IsolationForest(random_state=None).fit(data).score_samples(data)
    c = fraud_core.IsolationForest(random_state=None).fit(data).score_samples(data)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    rs = np.random.RandomState(5)
    est = fraud_core.IsolationForest(random_state=rs)
    first = est.fit(data).score_samples(data)
    second = est.fit(data).score_samples(data)  # the RandomState advanced
    assert not np.array_equal(first, second)
    again = fraud_core.IsolationForest(random_state=np.random.RandomState(5)).fit(data)
    assert np.array_equal(again.score_samples(data), first)
    g1 = fraud_core.IsolationForest(random_state=np.random.default_rng(9)).fit(data)
    g2 = fraud_core.IsolationForest(random_state=np.random.default_rng(9)).fit(data)
    assert np.array_equal(g1.score_samples(data), g2.score_samples(data))
    n1 = fraud_core.IsolationForest(random_state=np.int64(3)).fit(data)
    n2 = fraud_core.IsolationForest(random_state=3).fit(data)
    assert n1.to_bytes() == n2.to_bytes()


@pytest.mark.parametrize("d", [1, 7, 64, 65, 150])
def test_score_one_equals_score_samples_exactly(d):
    rng = np.random.RandomState(d)
    X = rng.normal(size=(400, d)) * 10.0 ** rng.randint(-3, 4, size=d)
    est = fraud_core.IsolationForest(n_estimators=40, random_state=d).fit(X)
    batch = est.score_samples(X)
    for i in range(X.shape[0]):
        row = X[i]
        assert est.score_one(row) == batch[i]
        assert est.score_one(row.tolist()) == batch[i]
    for i in range(0, X.shape[0], 37):  # slower containers on a subset of rows
        row = X[i]
        assert est.score_one(tuple(row.tolist())) == batch[i]
        assert est.score_one(np.asfortranarray(X)[i]) == batch[i]  # strided view
        assert est.score_one(pd.Series(row)) == batch[i]
        assert est.score_one(iter(row.tolist())) == batch[i]
        assert est.score_one(row.astype(">f8")) == batch[i]
    f32 = X.astype(np.float32)
    b32 = est.score_samples(f32)
    for i in range(0, X.shape[0], 11):
        assert est.score_one(f32[i]) == b32[i]
        assert est.score_one([int(v) for v in X[i].round()]) == est.score_samples(
            X[i : i + 1].round()
        )[0]


def test_score_one_errors(fitted):
    d = fitted.n_features_in_
    with pytest.raises(ShapeError, match=f"{d} features"):
        fitted.score_one([1.0] * (d + 1))
    with pytest.raises(ShapeError):
        fitted.score_one([])
    import itertools

    with pytest.raises(ShapeError, match=f"{d + 1} features"):
        fitted.score_one(itertools.count())  # an endless iterator is cut at d + 1 values
    with pytest.raises(ShapeError, match="1-D"):
        fitted.score_one(np.zeros((1, d)))
    with pytest.raises(DTypeError, match=r"row\[2\] = 'x'"):
        fitted.score_one([1.0, 2.0, "x", 4.0])
    with pytest.raises(DTypeError, match=r"row\[0\] = None"):
        fitted.score_one([None] * d)
    for bad in ("1234", b"1234", None, 3.0, {"a": 1}):
        with pytest.raises(DTypeError):
            fitted.score_one(bad)
    with pytest.raises(NonFiniteError, match="column 1"):
        fitted.score_one([0.0, float("nan"), 0.0, 0.0])
    with pytest.raises(NonFiniteError, match="column 3"):
        fitted.score_one(np.array([0.0, 0.0, 0.0, np.inf]))
    with pytest.raises(NonFiniteError, match="float32 range"):
        fitted.score_one([0.0, 0.0, 1e39, 0.0])
    with pytest.raises(NotFittedError):
        fraud_core.IsolationForest().score_one([0.0] * d)


def test_nan_inf_name_row_and_column(data):
    X = data.copy()
    X[3, 2] = np.nan
    with pytest.raises(NonFiniteError, match=r"NaN at row 3, column 2"):
        fraud_core.IsolationForest().fit(X)
    X = data.copy()
    X[17, 0] = -np.inf
    with pytest.raises(NonFiniteError, match=r"-inf at row 17, column 0"):
        fraud_core.IsolationForest().fit(X)
    est = fraud_core.IsolationForest(random_state=0).fit(data)
    X = data.copy()
    X[250, 3] = np.inf
    for method in (est.score_samples, est.decision_function, est.predict):
        with pytest.raises(NonFiniteError, match=r"row 250, column 3"):
            method(X)
    X = data.copy()
    X[5, 1] = 1e300
    with pytest.raises(NonFiniteError, match=r"row 5, column 1.*float32"):
        est.predict(X)
    assert issubclass(NonFiniteError, FraudError) and issubclass(FraudError, ValueError)


def test_shape_errors(fitted, data):
    with pytest.raises(ShapeError, match="4 features"):
        fitted.score_samples(data[:, :3])
    with pytest.raises(ShapeError, match="Reshape your data"):
        fitted.predict(data[0])
    with pytest.raises(ShapeError):
        fitted.predict(data[None])
    with pytest.raises(ShapeError, match="0 sample"):
        fraud_core.IsolationForest().fit(np.zeros((0, 3)))
    with pytest.raises(ShapeError, match="0 feature"):
        fraud_core.IsolationForest().fit(np.zeros((5, 0)))
    with pytest.raises(ShapeError):
        fraud_core.IsolationForest().fit([[1.0, 2.0], [3.0]])  # ragged
    with pytest.raises(ShapeError, match="sample_weight"):
        fraud_core.IsolationForest().fit(data, sample_weight=np.ones(len(data) + 1))
    with pytest.raises(ShapeError, match="sample_weight"):
        fraud_core.IsolationForest().fit(data, sample_weight=np.ones((len(data), 2)))


def test_dtype_errors_name_row_and_column(data):
    X = data.astype(object)
    X[2, 1] = "abc"
    with pytest.raises(DTypeError, match=r"'abc' at row 2, column 1"):
        fraud_core.IsolationForest().fit(X)
    df = pd.DataFrame(data, columns=list("abcd"))
    df["c"] = df["c"].astype(object)
    df.loc[9, "c"] = "oops"
    with pytest.raises(DTypeError, match=r"'oops' at row 9, column 2 \('c'\)"):
        fraud_core.IsolationForest().fit(df)
    with pytest.raises(DTypeError):
        fraud_core.IsolationForest().fit(np.array([["a", "b"], ["c", "d"]]))
    X = data.astype(object)
    X[0, 0] = {"foo": "bar"}
    with pytest.raises(TypeError):  # DTypeError is also a TypeError
        fraud_core.IsolationForest().fit(X)
    with pytest.raises(DTypeError, match="(?i)complex"):
        fraud_core.IsolationForest().fit(data + 1j)
    est = fraud_core.IsolationForest(random_state=0).fit(data)
    with pytest.raises(DTypeError):
        est.predict(np.array([["1", "2", "x", "4"]]))
    with pytest.raises(DTypeError):
        fraud_core.IsolationForest().fit(data, sample_weight=["a"] * len(data))


def test_sample_weight_errors(data):
    w = np.ones(len(data))
    w[4] = -1
    with pytest.raises(InvalidInputError, match=r"sample_weight\[4\] = -1"):
        fraud_core.IsolationForest().fit(data, sample_weight=w)
    with pytest.raises(InvalidInputError, match="zero"):
        fraud_core.IsolationForest().fit(data, sample_weight=np.zeros(len(data)))
    w = np.ones(len(data))
    w[7] = np.nan
    with pytest.raises(InvalidInputError, match=r"sample_weight\[7\]"):
        fraud_core.IsolationForest().fit(data, sample_weight=w)
    # scalar weights broadcast, like scikit-learn
    fraud_core.IsolationForest(random_state=0).fit(data, sample_weight=2.0)


INVALID_PARAMS = [
    ("n_estimators", 0),
    ("n_estimators", -3),
    ("n_estimators", 2.5),
    ("n_estimators", "many"),
    ("n_estimators", None),
    ("n_estimators", 10**7),
    ("max_samples", 0),
    ("max_samples", -1),
    ("max_samples", 0.0),
    ("max_samples", 1.5),
    ("max_samples", float("nan")),
    ("max_samples", "big"),
    ("max_samples", None),
    ("contamination", 0.7),
    ("contamination", 0.0),
    ("contamination", -0.1),
    ("contamination", "high"),
    ("max_features", 0),
    ("max_features", 1.5),
    ("max_features", -2),
    ("max_features", 10),  # more than the 4 features
    ("max_features", "all"),
    ("bootstrap", "yes"),
    ("bootstrap", 1),
    ("warm_start", None),
    ("random_state", -1),
    ("random_state", 2**64),
    ("random_state", "seed"),
    ("n_jobs", 0),
    ("n_jobs", 1.5),
]


@pytest.mark.parametrize("name,value", INVALID_PARAMS, ids=[f"{n}={v!r}" for n, v in INVALID_PARAMS])
def test_invalid_hyperparameters_raise_at_fit_naming_the_value(data, name, value):
    est = fraud_core.IsolationForest(**{name: value})  # no validation in __init__
    assert getattr(est, name) is value
    with pytest.raises(InvalidParameterError) as info:
        est.fit(data)
    msg = str(info.value)
    assert name in msg, msg
    # The value as Python shows it, or as Rust formats a float (0.0 -> "0", nan -> "NaN").
    shown = {repr(value), str(value)}
    if isinstance(value, float):
        shown |= {"NaN" if value != value else f"{value:g}"}
    assert any(f"= {v}" in msg for v in shown), msg
    assert isinstance(info.value, ValueError)


def test_valid_numpy_scalar_hyperparameters(data):
    a = fraud_core.IsolationForest(
        n_estimators=np.int32(20),
        max_samples=np.float32(0.5),
        contamination=np.float64(0.1),
        max_features=np.int64(2),
        bootstrap=np.bool_(True),
        random_state=np.uint32(4),
    ).fit(data)
    b = fraud_core.IsolationForest(
        n_estimators=20,
        max_samples=float(np.float32(0.5)),
        contamination=0.1,
        max_features=2,
        bootstrap=True,
        random_state=4,
    ).fit(data)
    assert np.array_equal(a.score_samples(data), b.score_samples(data))


def test_not_fitted_errors():
    est = fraud_core.IsolationForest()
    for method in ("score_samples", "decision_function", "predict"):
        with pytest.raises(NotFittedError, match="not fitted"):
            getattr(est, method)(np.zeros((2, 2)))
    for method in ("to_bytes", "export_json"):
        with pytest.raises(NotFittedError):
            getattr(est, method)()
    assert issubclass(NotFittedError, FraudError)
    assert issubclass(NotFittedError, AttributeError)
    assert issubclass(NotFittedError, ValueError)
    from sklearn.exceptions import NotFittedError as SkNotFitted

    assert issubclass(NotFittedError, SkNotFitted)
    native = fraud_core._fraud_core.IsolationForest()
    with pytest.raises(NotFittedError, match="score_samples"):
        native.score_samples(np.zeros((2, 2)))
    with pytest.raises(NotFittedError):
        native.offset


def test_native_layer_never_panics_on_weird_inputs():
    """Feed the native class odd values; only FraudError (or argument TypeErrors) may come out."""
    N = fraud_core._fraud_core.IsolationForest
    m = N(n_estimators=3, random_state=0)
    weird = [
        None,
        "abc",
        b"\x00",
        3,
        [1.0, 2.0],
        np.zeros(5),
        np.zeros((2, 2, 2)),
        np.zeros((0, 3)),
        np.zeros((3, 0)),
        np.zeros((2, 2), dtype=np.int64),
        np.zeros((2, 2), dtype=np.complex128),
        np.zeros((2, 2), dtype=">f8"),
        np.array([[np.nan]]),
        np.full((3, 2), 3.4e38),
        np.full((3, 2), -3.4e38),
        np.full((3, 2), 5e-324),
        np.array([[-0.0, 0.0], [0.0, -0.0]]),
        np.zeros((1, 1)),
        np.zeros((1, 200)),
    ]
    for x in weird:
        for call in (
            lambda: m.fit(x),
            lambda: m.score_samples(x),
            lambda: m.predict(x),
            lambda: m.score_one(x),
        ):
            try:
                call()
            except FraudError:
                pass
            except BaseException as e:  # PanicException derives from BaseException
                raise AssertionError(f"{type(e).__name__}: {e} for input {x!r}") from e
    for kwargs in ({"bogus": 1}, {"n_estimators": 10**30}, {"max_samples": 2**70}):
        with pytest.raises(InvalidParameterError):
            N(**kwargs)
    m = N(n_estimators=2, random_state=0)
    m.fit(np.array([[1.0, 2.0]]))  # one row: a single leaf per tree
    assert m.score_samples(np.array([[1.0, 2.0], [9.0, 9.0]])).tolist() == [-0.5, -0.5]
    for w in (np.array([1.0]), None):
        m.fit(np.array([[1.0, 2.0]]), w)
    with pytest.raises(DTypeError):
        m.fit(np.array([[1.0, 2.0]]), [1.0])
    with pytest.raises(ShapeError):
        m.fit(np.array([[1.0, 2.0]]), None, ["a"])


def test_extreme_but_finite_values_score_in_range():
    X = np.array([[3.4e38, -3.4e38], [-3.4e38, 3.4e38], [0.0, 5e-324], [1e-30, -0.0]] * 10)
    est = fraud_core.IsolationForest(random_state=0).fit(X)
    s = est.score_samples(X)
    assert np.all(np.isfinite(s)) and np.all((s >= -1) & (s <= 0))
    assert est.score_one(X[0]) == s[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and RLIMIT_AS")
def test_very_wide_single_row_does_not_exhaust_memory():
    """Scoring one row must not allocate per-block buffers sized for 256 rows (fraud-core fix).

    Run in a subprocess under an address-space limit so a regression fails instead of aborting
    the test process (an allocation failure aborts, it cannot be caught).
    """
    code = textwrap.dedent(
        """
        import os, resource, numpy as np, fraud_core
        d = 4_000_000
        X = np.zeros((2, d), dtype=np.float32); X[1] = 1.0
        m = fraud_core._fraud_core.IsolationForest(n_estimators=1, random_state=0)
        m.fit(X)
        # Keys for 256 rows x 4M columns would need 4 GiB: allow 3 GiB more than in use now.
        vm = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (vm + (3 << 30), vm + (3 << 30)))
        print(m.score_samples(X[:1])[0], m.score_one(X[1]))
        """
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", RUST_BACKTRACE="0")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]


def test_concurrent_fit_and_score_on_one_native_object(data):
    """Refitting while other threads score: no errors, every score is from a complete model."""
    import threading

    native = fraud_core._fraud_core.IsolationForest(n_estimators=20, random_state=0)
    native.fit(data)
    expected = native.score_samples(data)
    errors: list[BaseException] = []
    stop = threading.Event()

    def scorer() -> None:
        try:
            while not stop.is_set():
                assert np.array_equal(native.score_samples(data), expected)
                assert native.score_one(data[3].tolist()) == expected[3]
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=scorer) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(20):
        native.fit(data)  # same seed and data: the swapped-in model is identical
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
