"""Shared fixtures for the fraud_core Python tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO_ROOT / "tests" / "golden"


def blobs_with_anomalies(
    seed: int, n: int = 600, d: int = 4, n_anom: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian inliers plus uniformly scattered anomalies; labels True for anomalies."""
    rng = np.random.RandomState(seed)
    inliers = rng.normal(size=(n, d))
    anomalies = rng.uniform(-6, 6, size=(n_anom, d))
    X = np.vstack([inliers, anomalies])
    y = np.r_[np.zeros(n, bool), np.ones(n_anom, bool)]
    return X, y


@pytest.fixture
def data() -> np.ndarray:
    """Integer-valued float64 data (exact in every numeric dtype), 300 x 4, plus 5 outliers."""
    rng = np.random.RandomState(7)
    X = rng.randint(-20, 21, size=(300, 4)).astype(np.float64)
    X[-5:] = rng.randint(200, 300, size=(5, 4))
    return X


@pytest.fixture
def fitted(data):
    """A fitted estimator on ``data``."""
    import fraud_core

    return fraud_core.IsolationForest(n_estimators=50, random_state=3).fit(data)
