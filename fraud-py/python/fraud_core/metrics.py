"""Detection-quality metrics computed by the Rust core (scores: higher = more suspicious).

``y_true`` is binary: booleans, or 0/1 (1 = fraud/positive). Ties between scores are handled as
scikit-learn does. Inputs may be lists, numpy arrays or pandas Series.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np

from . import _fraud_core as _native
from ._fraud_core import DTypeError, InvalidInputError, InvalidParameterError, ShapeError

__all__ = [
    "average_precision_score",
    "card_precision_at_k",
    "precision_at_k",
    "roc_auc_score",
]


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


def _day_numbers(days: Any) -> np.ndarray:
    """Day numbers (int64) from datetimes (calendar day) or whole day numbers."""
    dt = getattr(days, "dt", None) if hasattr(days, "dtype") else None
    if dt is not None and getattr(dt, "tz", None) is not None:
        days = dt.tz_localize(None)  # tz-aware Series: the local calendar day
    elif getattr(days, "tz", None) is not None and hasattr(days, "tz_localize"):
        days = days.tz_localize(None)  # tz-aware DatetimeIndex
    a = np.asarray(days)
    if a.ndim != 1:
        raise ShapeError(f"days must be 1-D, got shape {a.shape}")
    if a.dtype.kind == "O" and a.size and all(
        isinstance(v, (_dt.date, np.datetime64)) for v in a
    ):
        if any(isinstance(v, _dt.datetime) and v.tzinfo is not None for v in a):
            a = np.array([v.replace(tzinfo=None) if isinstance(v, _dt.datetime) else v for v in a])
        a = a.astype("datetime64[ns]")
    kind = a.dtype.kind
    if kind == "M":
        nat = np.flatnonzero(np.isnat(a))
        if nat.size:
            raise InvalidInputError(f"days[{nat[0]}] is NaT: every transaction needs a date")
        return np.ascontiguousarray(a.astype("datetime64[D]").astype(np.int64))
    if kind in "iu":
        if kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
            raise InvalidInputError("day numbers must fit in int64")
        return np.ascontiguousarray(a.astype(np.int64))
    if kind in "fO":
        try:
            f = a.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise DTypeError(f"days must be datetimes or whole day numbers: {e}") from e
        bad = np.flatnonzero(~np.isfinite(f) | (f != np.floor(f)) | (np.abs(f) > 2.0**53))
        if bad.size:
            raise InvalidInputError(
                f"days[{bad[0]}] = {a[bad[0]]!r} is not a whole day number "
                "(pass datetimes, or integers such as TX_TIME_DAYS)"
            )
        return np.ascontiguousarray(f.astype(np.int64))
    raise DTypeError(f"days must be datetimes or whole day numbers, got dtype {a.dtype}")


def _card_codes(cards: Any) -> np.ndarray:
    """int64 codes in the sorted order of the card keys (so ties break by increasing key)."""
    c = np.asarray(cards)
    if c.ndim != 1:
        raise ShapeError(f"cards must be 1-D, got shape {c.shape}")
    try:
        _, codes = np.unique(c, return_inverse=True)
    except TypeError as e:
        raise DTypeError(f"cards must be mutually comparable keys (ints or strings): {e}") from e
    return np.ascontiguousarray(codes.reshape(-1).astype(np.int64))


def card_precision_at_k(
    days: Any,
    cards: Any,
    y_true: Any,
    y_score: Any,
    k: int = 100,
    *,
    remove_detected: bool = True,
) -> float:
    """Card precision@k of the Fraud Detection Handbook (``CP@100`` with the default ``k``).

    One entry per transaction: its day, its card (customer) key, its fraud label and its score.
    For each distinct day, in increasing order, each card's score is the highest score of its
    transactions that day, and a card is compromised when at least one of them is a fraud. Cards
    are ranked by score; the day's precision is the number of compromised cards among the top ``k``
    divided by ``k`` (also when fewer than ``k`` cards are active that day). The result is the mean
    over days. With ``remove_detected`` (the handbook's protocol), cards detected on an earlier day
    (compromised and in that day's top ``k``) are left out of later days.

    * ``days``: datetimes (``datetime64``, pandas datetime Series or ``datetime``/``date`` objects)
      are bucketed into calendar days (tz-aware values by their local date); integers (e.g. the
      handbook's ``TX_TIME_DAYS``) are used as day numbers; floats must be whole numbers.
    * ``cards``: any mutually comparable keys (ints, strings). Tied card scores are broken by the
      card key in increasing order, so the result does not depend on the row order.
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, (bool, np.bool_)) or k < 0:
        raise InvalidParameterError(f"invalid parameter `k` = {k!r}: an integer >= 1")
    if not isinstance(remove_detected, (bool, np.bool_)):
        raise InvalidParameterError(
            f"invalid parameter `remove_detected` = {remove_detected!r}: True or False"
        )
    d = _day_numbers(days)
    c = _card_codes(cards)
    y, s = _prepare(y_true, y_score)
    return _native.card_precision_at_k(d, c, y, s, int(k), bool(remove_detected))
