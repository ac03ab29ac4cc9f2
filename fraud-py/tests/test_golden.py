"""Cross-language golden fixture: Rust-written model bytes must score bit-identically here."""

from __future__ import annotations

import json
import warnings

from pathlib import Path

import numpy as np
import pytest

import fraud_core

# Paths computed here, not imported from conftest: tests/spark has a conftest of its own.
REPO_ROOT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO_ROOT / "tests" / "golden"

MODEL = GOLDEN_DIR / "iforest_v1.bin"
EXPECTED = GOLDEN_DIR / "iforest_v1_expected.json"


def _pick(doc: dict, *names: str):
    for n in names:
        if n in doc:
            return doc[n]
    raise KeyError(f"none of {names} in {sorted(doc)}")


@pytest.mark.skipif(
    not (MODEL.exists() and EXPECTED.exists()),
    reason=f"golden fixture not generated yet ({MODEL.name} / {EXPECTED.name} missing in {GOLDEN_DIR})",
)
def test_golden_iforest_v1_scores_bit_identical():
    est = fraud_core.IsolationForest.from_bytes(MODEL.read_bytes())
    doc = json.loads(EXPECTED.read_text())
    rows = np.asarray(_pick(doc, "rows", "inputs", "input", "X", "x"), dtype=np.float64)
    expected = np.asarray(_pick(doc, "score_samples", "scores", "expected_scores", "expected"))
    assert rows.ndim == 2 and rows.shape[0] == expected.shape[0] > 0
    if "n_features" in doc:
        assert est.n_features_in_ == doc["n_features"] == rows.shape[1]
    if "offset" in doc:
        assert est.offset_ == doc["offset"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the model may carry feature names
        got = est.score_samples(rows)
        decision = est.decision_function(rows)
    mismatches = [(i, g, e) for i, (g, e) in enumerate(zip(got.tolist(), expected.tolist())) if g != e]
    assert not mismatches, mismatches[:5]
    if "decision_function" in doc:
        assert decision.tolist() == doc["decision_function"]
    for i, row in enumerate(rows):
        assert est.score_one(row) == expected[i]
        assert est.score_one(row.tolist()) == expected[i]
    # the artifact re-serialises to the same bytes
    assert est.to_bytes() == MODEL.read_bytes()
