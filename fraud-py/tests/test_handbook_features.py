"""The handbook spec (datasets/specs/handbook.json) against an independent pandas implementation.

The pandas implementation lives in ``benches/python/handbook_pandas.py`` (shared with the benchmark
``benches/python/bench_features.py``; one copy). On the whole shared stream of 1.75M transactions,
every one of the 14 features must match to 1e-9, except on the rows of a customer with two
transactions in the same second (their relative order is a tie; both orders are accepted).
The data is read from ``$FRAUD_DATASETS`` (default ``../shared/datasets`` next to the repository)
and never copied into the project.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import fraud_core

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "benches" / "python"))

import handbook_pandas  # noqa: E402

SPEC = REPO_ROOT / "datasets" / "specs" / "handbook.json"


def test_handbook_features_match_pandas_on_the_shared_stream() -> None:
    path = handbook_pandas.dataset_path()
    if not path.exists():
        pytest.skip(f"SKIPPED: handbook dataset not found at {path} (set FRAUD_DATASETS)")
    df = handbook_pandas.load(path)
    assert len(df) == 1_754_155
    expected = handbook_pandas.handbook_features(df)
    engine = fraud_core.FeatureEngine(SPEC)
    got = engine.transform(df)
    assert list(got.columns) == handbook_pandas.FEATURES == list(expected.columns)
    assert got.index.equals(df.index)

    ties = handbook_pandas.same_second_rows(df)
    assert 0 < ties.sum() < 0.01 * len(df), ties.sum()
    keep = ~ties
    for name in handbook_pandas.FEATURES:
        a = got[name].to_numpy()[keep]
        b = expected[name].to_numpy()[keep]
        assert np.isfinite(a).all() and np.isfinite(b).all(), name
        bad = np.flatnonzero(np.abs(a - b) > 1e-9 * np.maximum(1.0, np.abs(b)))
        assert bad.size == 0, (
            f"{name}: {bad.size} rows differ, first at kept row {bad[0]}: "
            f"engine {a[bad[0]]!r} vs pandas {b[bad[0]]!r}"
        )
    assert engine.stats["events"] == len(df)
