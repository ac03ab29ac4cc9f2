"""Input conversion for the estimator: any array-like -> a 2-D float64/float32 numpy array.

With scikit-learn installed, ``validate_data`` does the work (so feature-name and ``n_features_in_``
checks behave exactly as in scikit-learn); without it, a small fallback does the same checks. Either
way, errors are re-raised as ``fraud_core`` exceptions (``ShapeError`` / ``DTypeError``), which are
``ValueError`` subclasses, with the original message kept.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._fraud_core import DTypeError, FraudError, ShapeError

try:  # scikit-learn is optional
    from sklearn.base import BaseEstimator, OutlierMixin
    from sklearn.utils.validation import validate_data as _validate_data

    HAS_SKLEARN = True
except ImportError:  # pragma: no cover - exercised by a subprocess test
    HAS_SKLEARN = False
    BaseEstimator = None  # type: ignore[assignment,misc]
    OutlierMixin = None  # type: ignore[assignment,misc]
    _validate_data = None

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def _is_sparse(X: Any) -> bool:
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover
        return False
    return sp.issparse(X)


def _first_non_number(X: Any) -> str:
    """Where the first value that is not a number is, for error messages (error path only)."""
    columns = None
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        columns = list(X.columns)
        X = X.to_numpy(dtype=object)
    try:
        arr = np.asarray(X, dtype=object)
    except Exception:  # noqa: BLE001 - ragged input: nothing more precise to say
        return ""
    if arr.ndim != 2:
        return ""
    # Prefer a value that does not convert at all (`'x'`) over a numeric string (`'1'`).
    for strict in (False, True):
        for i in range(arr.shape[0]):
            for j in range(arr.shape[1]):
                v = arr[i, j]
                try:
                    float(v)
                    if strict and isinstance(v, (str, bytes, complex, np.complexfloating)):
                        raise TypeError
                except (TypeError, ValueError):
                    col = f"column {j}" if columns is None else f"column {j} ({columns[j]!r})"
                    return f" (first non-numeric value {v!r} at row {i}, {col})"
    return ""


def _as_fraud_error(e: Exception, X: Any) -> FraudError:
    if isinstance(e, FraudError):
        return e
    msg = str(e)
    low = msg.lower()
    shape_markers = ("reshape your data", "sample(s)", "feature(s)", "features, but", "feature names")
    if any(s in low for s in shape_markers):
        return ShapeError(msg)
    dtype_like = isinstance(e, TypeError) or any(
        s in low for s in ("convert", "complex", "dtype", "string", "bytes")
    )
    if dtype_like:
        return DTypeError(msg + _first_non_number(X))
    return ShapeError(msg)


def _feature_names(X: Any) -> np.ndarray | None:
    cols = getattr(X, "columns", None)
    if cols is None or not hasattr(X, "iloc"):
        return None
    names = list(cols)
    if names and all(isinstance(c, str) for c in names):
        return np.asarray(names, dtype=object)
    return None


def _fallback_validate(est: Any, X: Any, reset: bool) -> Any:
    """What ``validate_data`` does for us, for when scikit-learn is not installed."""
    names = _feature_names(X)
    if not _is_sparse(X):
        if hasattr(X, "iloc") and hasattr(X, "to_numpy"):
            X = X.to_numpy()
        X = np.asarray(X)
        kind = X.dtype.kind
        if kind in "USc" or kind == "V":
            raise DTypeError(
                f"dtype {X.dtype} is not a number type: cannot use it as features"
                + _first_non_number(X)
            )
        if kind == "O":
            X = X.astype(np.float64)
        if X.ndim == 1:
            raise ShapeError(
                "Expected a 2-dimensional container but got a 1-D array instead. Reshape your "
                "data either using array.reshape(-1, 1) if your data has a single feature or "
                "array.reshape(1, -1) if it contains a single sample."
            )
        if X.ndim != 2:
            raise ShapeError(f"Found array with dim {X.ndim}, while dim <= 2 is required.")
    n, d = X.shape
    if n < 1:
        raise ShapeError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if d < 1:
        raise ShapeError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    name = type(est).__name__
    if reset:
        est.n_features_in_ = d
        if names is not None:
            est.feature_names_in_ = names
        elif hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
        return X
    fitted = getattr(est, "feature_names_in_", None)
    if fitted is not None and names is None:
        warnings.warn(
            f"X does not have valid feature names, but {name} was fitted with feature names",
            UserWarning,
            stacklevel=4,
        )
    elif fitted is None and names is not None:
        warnings.warn(
            f"X has feature names, but {name} was fitted without feature names",
            UserWarning,
            stacklevel=4,
        )
    elif fitted is not None and names is not None and list(fitted) != list(names):
        raise ShapeError(
            "The feature names should match those that were passed during fit.\n"
            f"Fitted: {list(fitted)}\nGiven: {list(names)}"
        )
    if d != est.n_features_in_:
        raise ShapeError(
            f"X has {d} features, but {name} is expecting {est.n_features_in_} features as input."
        )
    return X


def native_layout(X: np.ndarray) -> np.ndarray:
    """float64/float32 in native byte order and aligned (any C/F/strided layout is fine)."""
    if X.dtype not in _FLOATS or not X.dtype.isnative:
        X = X.astype(np.float64)
    if not X.flags.aligned:
        X = X.copy()
    return X


def check_X(est: Any, X: Any, *, reset: bool) -> Any:
    """Validate ``X`` for ``est``; returns a numpy array or a scipy sparse matrix."""
    original = X
    try:
        if HAS_SKLEARN:
            X = _validate_data(
                est,
                X,
                reset=reset,
                accept_sparse=True,
                dtype=[np.float64, np.float32],
                ensure_all_finite=False,
            )
        else:
            X = _fallback_validate(est, X, reset)
    except (ValueError, TypeError) as e:
        raise _as_fraud_error(e, original) from e
    if _is_sparse(X):
        return X
    return native_layout(X)


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """Sample weights as a contiguous 1-D float64 array of ``n_samples`` values (or None)."""
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DTypeError(f"sample_weight must hold numbers: {e}") from e
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    if w.ndim != 1:
        raise ShapeError(f"sample_weight must be 1-D, got shape {w.shape}")
    if w.shape[0] != n_samples:
        raise ShapeError(
            f"sample_weight has {w.shape[0]} entries but X has {n_samples} rows "
            f"(sample_weight.shape == {w.shape}, expected ({n_samples},))"
        )
    return np.ascontiguousarray(w)


def sparse_rows(X: Any, func: Any, chunk_bytes: int = 64 << 20) -> np.ndarray:
    """Apply a row-wise scoring ``func`` to a sparse matrix, densifying a bounded chunk at a time."""
    X = X.tocsr()
    n, d = X.shape
    step = max(1, chunk_bytes // max(1, 8 * d))
    parts = [func(native_layout(X[i : i + step].toarray())) for i in range(0, n, step)]
    if not parts:
        return func(np.zeros((0, d)))
    return np.concatenate(parts)
