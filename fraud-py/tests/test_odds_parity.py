"""ROC AUC on real ODDS sets, fraud_core vs scikit-learn computed in the same run.

Both libraries are fitted on all rows and score all rows (100 trees, subsample 256) for the same 20
seeds; the reference is recomputed here rather than read from a table, and 20 seeds keep the
seed-to-seed noise of both means small (standard error about 0.003-0.006 on these sets).
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

import fraud_core

sklearn = pytest.importorskip("sklearn")
from sklearn.ensemble import IsolationForest as SkIsolationForest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

DATA = pathlib.Path(
    os.environ.get("FRAUD_DATASETS", pathlib.Path(__file__).resolve().parents[3] / "shared" / "datasets")
)
SETS = ["cardio", "glass", "letter", "thyroid", "vowels", "wbc"]
SEEDS = range(20)


def load(name):
    path = DATA / f"{name}.csv.gz"
    if not path.exists():
        pytest.skip(f"SKIPPED: {path} not found (set FRAUD_DATASETS)")
    import pandas as pd

    df = pd.read_csv(path)
    y = df.pop("label").to_numpy() == 1
    return df.to_numpy(dtype=np.float64), y


@pytest.mark.parametrize("name", SETS)
def test_mean_auc_at_least_sklearn_minus_001(name):
    X, y = load(name)
    ours = [
        roc_auc_score(y, -fraud_core.IsolationForest(max_samples=256, random_state=s).fit(X).score_samples(X))
        for s in SEEDS
    ]
    ref = [roc_auc_score(y, -SkIsolationForest(max_samples=256, random_state=s).fit(X).score_samples(X)) for s in SEEDS]
    print(f"{name}: fraud_core {np.mean(ours):.4f} ± {np.std(ours):.4f}, sklearn {np.mean(ref):.4f} ± {np.std(ref):.4f}")
    assert np.mean(ours) >= np.mean(ref) - 0.01
