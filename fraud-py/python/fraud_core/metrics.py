"""Detection-quality metrics computed by the Rust core (scores: higher = more suspicious).

``y_true`` is binary: booleans, or 0/1 (1 = fraud/positive). Ties between scores are handled as
scikit-learn does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _fraud_core as _native
from ._fraud_core import DTypeError, InvalidInputError, ShapeError

__all__ = ["average_precision_score", "precision_at_k", "roc_auc_score"]


def _prepare(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ShapeError(f"y_true must be 1-D, got shape {y.shape}")
    if y.dtype != np.bool_:
        if y.dtype.kind not in "biuf":
            raise DTypeError(f"y_true must hold booleans or 0/1, got dtype {y.dtype}")
        labels = np.unique(y)
        if not np.isin(labels, (0, 1)).all():
            raise InvalidInputError(
                f"y_true must be binary (booleans or 0/1), got labels {labels[:10].tolist()}"
            )
        y = y == 1
    try:
        s = np.asarray(y_score, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DTypeError(f"y_score must hold numbers: {e}") from e
    if s.ndim != 1:
        raise ShapeError(f"y_score must be 1-D, got shape {s.shape}")
    return np.ascontiguousarray(y), np.ascontiguousarray(s)


def roc_auc_score(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve."""
    return _native.roc_auc_score(*_prepare(y_true, y_score))


def average_precision_score(y_true: Any, y_score: Any) -> float:
    """Average precision (area under the precision-recall curve, step interpolation)."""
    return _native.average_precision_score(*_prepare(y_true, y_score))


def precision_at_k(y_true: Any, y_score: Any, k: int) -> float:
    """Fraction of positives among the ``k`` highest scores."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise InvalidInputError(f"k must be an integer >= 1, got {k!r}")
    return _native.precision_at_k(*_prepare(y_true, y_score), int(k))
