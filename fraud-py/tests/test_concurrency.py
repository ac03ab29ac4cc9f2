"""Stress: one fitted model, engine or pipeline used from 8 Python threads at once gives exactly the
sequential results.

Native calls release the GIL (see test_gil.py), so the threads really run inside the Rust code at
the same time. Stateless calls (the detectors) are compared chunk by chunk. Stateful objects (the
feature engine, the pipeline) are shared the way a partitioned serving process shares them: each
thread owns its own customers and terminals, the threads' events interleave through the one object,
and each thread's results must equal those of its stream processed alone.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import fraud_core

pd = pytest.importorskip("pandas")

THREADS = 8
SPEC_DIR = Path(__file__).resolve().parents[2] / "datasets" / "specs"


def run_threads(work):
    """Run ``work(t)`` for t in 0..8 on 8 threads released together; results in thread order."""
    barrier = threading.Barrier(THREADS)

    def go(t):
        barrier.wait()
        return work(t)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(go, range(THREADS)))


@pytest.fixture(scope="module")
def matrix():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6000, 6))
    x[::97] += 6.0
    y = np.zeros(len(x), dtype=np.int64)
    y[::97] = 1
    return x, y


def test_detectors_scored_from_8_threads_equal_sequential(matrix):
    x, y = matrix
    forest = fraud_core.IsolationForest(n_estimators=100, random_state=3).fit(x)
    z = fraud_core.ZScore().fit(x)
    rz = fraud_core.RobustZScore().fit(x)
    sup = fraud_core.SupervisedClassifier(n_estimators=30, random_state=5).fit(x, y)
    chunks = [slice(i, i + 500) for i in range(0, len(x), 500)]

    def score(c):
        part = x[c]
        return [
            forest.score_samples(part),
            forest.decision_function(part),
            forest.predict(part),
            forest.explain(part[:50]),
            np.array([forest.score_one(r) for r in part[:50]]),
            z.score_samples(part),
            z.z(part),
            rz.score_samples(part),
            sup.predict_proba(part),
        ]

    expected = [score(c) for c in chunks]

    def work(t):
        # Each thread walks the chunks from its own starting point, three times over.
        order = [(k + 3 * t) % len(chunks) for k in range(3 * len(chunks))]
        return [(c, score(chunks[c])) for c in order]

    for per_thread in run_threads(work):
        for c, got in per_thread:
            for g, e in zip(got, expected[c], strict=True):
                np.testing.assert_array_equal(g, e)


def partition(p: int, n: int = 700) -> pd.DataFrame:
    """Partition p's own stream: customers and terminals named after it, increasing times."""
    rng = np.random.default_rng(100 + p)
    t0 = np.datetime64("2018-04-01", "ms").astype(np.int64)
    times = t0 + np.sort(rng.integers(0, 20 * 86_400_000, size=n))
    customer = rng.integers(0, 40, size=n)
    fraud = rng.random(n) < 0.03
    amount = np.round((20 + customer) * rng.gamma(4.0, 0.25, size=n) * np.where(fraud, 6, 1), 2)
    return pd.DataFrame(
        {
            "TRANSACTION_ID": np.arange(n) + p * 1_000_000,
            "TX_DATETIME": pd.to_datetime(times, unit="ms"),
            "CUSTOMER_ID": [f"p{p}-c{c}" for c in customer],
            "TERMINAL_ID": [f"p{p}-t{t}" for t in rng.integers(0, 80, size=n)],
            "TX_AMOUNT": amount,
            "TX_FRAUD": fraud.astype(np.int64),
        }
    )


def features_spec() -> dict:
    spec = json.loads((SPEC_DIR / "handbook.json").read_text())
    # Threads run at different speeds: one partition's events may be older than another's newest.
    # Allow that (each partition's own events arrive in order, so every window stays exact).
    spec["lateness"] = {"allowed": "120d", "policy": "error"}
    del spec["ttl"]
    return spec


@pytest.fixture(scope="module")
def partitions():
    return [partition(p) for p in range(THREADS)]


def test_feature_engine_shared_by_8_threads_equals_each_stream_alone(partitions):
    spec = features_spec()
    expected = [fraud_core.FeatureEngine(spec).transform(df) for df in partitions]
    shared = fraud_core.FeatureEngine(spec)

    def work(t):
        df = partitions[t]
        # Half by event, half as batches of 50 rows.
        half = len(df) // 2
        rows = [shared.update(ev) for ev in df.iloc[:half].to_dict("records")]
        first = pd.DataFrame(rows, columns=expected[t].columns)
        batches = [
            shared.transform(df.iloc[i : i + 50].reset_index(drop=True))
            for i in range(half, len(df), 50)
        ]
        return pd.concat([first, *batches], ignore_index=True)

    for t, got in enumerate(run_threads(work)):
        pd.testing.assert_frame_equal(got, expected[t], check_exact=True, check_dtype=False)
    # Nothing lost or merged: every partition's customers and terminals are in the shared state.
    assert shared.stats["entities"] == sum(
        df["CUSTOMER_ID"].nunique() + df["TERMINAL_ID"].nunique() for df in partitions
    )


def test_pipeline_shared_by_8_threads_equals_each_stream_alone(partitions):
    spec = {
        "features": features_spec(),
        "detectors": [
            {"kind": "isolation_forest", "n_estimators": 50, "random_state": 1},
            {"kind": "zscore"},
            {"kind": "supervised", "n_estimators": 20, "max_depth": 6, "random_state": 2},
        ],
        "combine": "supervised",
        "alert": {"target_alert_rate": 0.02},
        "reasons": 3,
    }
    train = pd.concat([partition(50 + p, 1500) for p in range(2)], ignore_index=True)
    train = train.sort_values("TX_DATETIME", kind="stable").reset_index(drop=True)
    pipeline = fraud_core.Pipeline(spec).fit(train)
    pipeline.reset_state()
    artifact = pipeline.to_bytes()
    test = [df.drop(columns=["TX_FRAUD"]) for df in partitions]

    def alone(df):
        p = fraud_core.Pipeline.from_bytes(artifact)
        return [p.score(ev) for ev in df.to_dict("records")]

    expected = [alone(df) for df in test]
    expected_batch = [fraud_core.Pipeline.from_bytes(artifact).score_batch(df) for df in test]

    def work(t):
        return [pipeline.score(ev) for ev in test[t].to_dict("records")]

    for t, got in enumerate(run_threads(work)):
        assert got == expected[t], f"partition {t}"

    # The same with whole batches, on a fresh state.
    pipeline.reset_state()
    for t, got in enumerate(run_threads(lambda t: pipeline.score_batch(test[t]))):
        pd.testing.assert_frame_equal(got, expected_batch[t], check_exact=True)
