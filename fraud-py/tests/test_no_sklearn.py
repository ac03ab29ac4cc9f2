"""scikit-learn is optional: the package works (same scores) when it cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np

import fraud_core

SCRIPT = textwrap.dedent(
    """
    import json, pickle, sys, warnings
    sys.modules["sklearn"] = None  # any `import sklearn...` now raises ImportError
    import numpy as np
    import fraud_core
    from fraud_core import _input

    assert not _input.HAS_SKLEARN
    bases = [c.__name__ for c in fraud_core.IsolationForest.__mro__]
    assert "BaseEstimator" in bases  # the fallback base
    nf = fraud_core.NotFittedError
    assert issubclass(nf, fraud_core.FraudError) and issubclass(nf, AttributeError)

    X = np.array(json.loads(sys.argv[1]))
    est = fraud_core.IsolationForest(n_estimators=25, random_state=9, contamination=0.1)
    assert est.get_params()["n_estimators"] == 25
    est.set_params(n_estimators=30)
    try:
        est.set_params(bogus=1)
        raise SystemExit("set_params accepted an unknown parameter")
    except fraud_core.InvalidParameterError:
        pass
    try:
        est.predict(X)
        raise SystemExit("predict before fit did not raise")
    except fraud_core.NotFittedError:
        pass
    for bad, err in (
        (X[:, 0], fraud_core.ShapeError),
        (np.zeros((0, 3)), fraud_core.ShapeError),
        (np.array([["a", "b", "c"]]), fraud_core.DTypeError),
        (X.astype(complex), fraud_core.DTypeError),
    ):
        try:
            fraud_core.IsolationForest().fit(bad)
            raise SystemExit(f"fit accepted {bad!r}")
        except err:
            pass
    est.fit(X.tolist())
    try:
        est.predict(X[:, :2])
        raise SystemExit("wrong width accepted")
    except fraud_core.ShapeError:
        pass
    scores = est.score_samples(np.asfortranarray(X.astype(np.float32)))
    back = pickle.loads(pickle.dumps(est))
    assert np.array_equal(back.score_samples(X), scores)
    assert back.score_one(X[0].tolist()) == scores[0]
    print(json.dumps({"scores": scores.tolist(), "offset": est.offset_, "repr": repr(est)}))
    """
)


def test_works_without_sklearn():
    rng = np.random.RandomState(2)
    X = rng.randint(-9, 10, size=(120, 3)).astype(float)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(X.tolist())], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout)
    est = fraud_core.IsolationForest(n_estimators=30, random_state=9, contamination=0.1).fit(X)
    assert got["scores"] == est.score_samples(X).tolist()
    assert got["offset"] == est.offset_
    assert got["repr"] == "IsolationForest(contamination=0.1, n_estimators=30, random_state=9)"
