"""The GIL is released during fit and batch scoring, proven without timing.

Harness: a worker thread reads a shared counter, makes one native call, reads the counter again,
while the main thread increments the counter and yields (``time.sleep``) in a loop. The switch
interval is raised so that the interpreter never preempts the worker between its two reads on its
own: the main thread can only run while the worker is blocked or has released the GIL, i.e. inside
the native call. So ``after - before`` is exactly 0 for a call that holds the GIL (checked with a
control call) and positive for one that releases it.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

import fraud_core


def _counter_delta(call) -> int:
    counter = [0]
    result: dict[str, object] = {}
    done = threading.Event()

    def worker() -> None:
        try:
            before = counter[0]
            call()
            result["delta"] = counter[0] - before
        except BaseException as e:  # surfaced below
            result["error"] = e
        finally:
            done.set()

    old = sys.getswitchinterval()
    sys.setswitchinterval(60.0)
    try:
        t = threading.Thread(target=worker)
        t.start()
        while not done.is_set():
            counter[0] += 1
            time.sleep(1e-5)  # lets the worker take the GIL whenever it wants it
        t.join()
    finally:
        sys.setswitchinterval(old)
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["delta"]  # type: ignore[return-value]


def _gil_holding_call() -> None:
    # C code that never releases the GIL and never checks the eval breaker.
    sorted(list(range(2_000_000, 0, -1)) * 2)


def test_harness_detects_a_call_that_holds_the_gil():
    assert _counter_delta(_gil_holding_call) == 0


@pytest.mark.parametrize("what", ["score_samples", "decision_function", "predict", "fit"])
def test_native_calls_release_the_gil(what):
    rng = np.random.RandomState(0)
    est = fraud_core.IsolationForest(n_estimators=100, random_state=0).fit(rng.normal(size=(500, 8)))
    forest = est._forest
    deltas = []
    for rows in (200_000, 800_000):  # a retry with more work if the scheduler starved us once
        X = rng.normal(size=(rows, 8))
        if what == "fit":
            big = fraud_core._fraud_core.IsolationForest(
                n_estimators=300, max_samples=4096, random_state=0
            )
            deltas.append(_counter_delta(lambda: big.fit(X)))
        else:
            deltas.append(_counter_delta(lambda: getattr(forest, what)(X)))
        if deltas[-1] > 0:
            break
    assert deltas[-1] > 0, deltas


def test_feature_engine_transform_releases_the_gil():
    spec = {
        "schema": {"timestamp": "ts", "time_unit": "s", "keys": ["card"], "numeric": ["amount"]},
        "features": [
            {"kind": "window", "name": "n", "key": "card", "agg": "count", "window": "1h"},
            {"kind": "window", "name": "m", "key": "card", "agg": "max", "field": "amount", "window": "1d"},
        ],
    }
    deltas = []
    for rows in (300_000, 1_200_000):  # a retry with more work if the scheduler starved us once
        rng = np.random.RandomState(0)
        ts = np.cumsum(rng.randint(0, 3, size=rows)).astype(np.int64)
        codes = rng.randint(0, 1000, size=rows).astype(np.int64)
        uniques = [f"card-{i}" for i in range(1000)]
        amount = rng.gamma(2.0, 30.0, size=rows)
        native = fraud_core.FeatureEngine(spec)._native
        deltas.append(
            _counter_delta(
                lambda: native.transform_columns("epoch", ts, [codes], [uniques], [amount], None)
            )
        )
        if deltas[-1] > 0:
            break
    assert deltas[-1] > 0, deltas
