"""``fraud_core.ZScore`` and ``fraud_core.RobustZScore``: scikit-learn estimators around the native
z-score detectors.

The classes store their hyper-parameters verbatim in ``__init__`` and validate them at ``fit`` (the
Rust core does the validation; errors are ``fraud_core.InvalidParameterError``, a ``ValueError``).
They do no math: inputs are converted to float64/float32 arrays and handed to the native object.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _fraud_core as _native
from ._fraud_core import DTypeError, NotFittedError
from ._iforest import BaseEstimator, OutlierMixin
from ._input import _is_sparse, check_X, native_layout, sparse_rows

__all__ = ["RobustZScore", "ZScore"]


class _ZScoreBase(OutlierMixin, BaseEstimator):
    """Shared implementation; the subclasses declare ``__init__`` (scikit-learn inspects it)."""

    _ROBUST = False
    threshold: Any
    combine: Any

    # ------------------------------------------------------------------ fitting

    def fit(self, X: Any, y: Any = None) -> Any:
        """Learn each feature's centre and scale from ``X`` (rows = samples); ``y`` is ignored."""
        det = _native.ZScoreDetector(self._ROBUST, self.threshold, self.combine)
        X = check_X(self, X, reset=True)
        if _is_sparse(X):
            X = native_layout(X.toarray())
        names = getattr(self, "feature_names_in_", None)
        det.fit(X, None if names is None else [str(n) for n in names])
        self._set_fitted(det)
        return self

    def _set_fitted(self, det: Any) -> None:
        self._detector = det
        self.n_features_in_ = det.n_features_in
        self.location_ = det.location
        self.scale_ = det.scale

    # ------------------------------------------------------------------ scoring

    def __sklearn_is_fitted__(self) -> bool:
        return "_detector" in self.__dict__

    def _fitted(self) -> Any:
        try:
            return self.__dict__["_detector"]
        except KeyError:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            ) from None

    def _apply(self, method: str, X: Any) -> np.ndarray:
        det = self._fitted()
        X = check_X(self, X, reset=False)
        func = getattr(det, method)
        if _is_sparse(X):
            return sparse_rows(X, func)
        return func(X)

    def score_samples(self, X: Any) -> np.ndarray:
        """Combined score per row in standard deviations: the HIGHER, the more anomalous.

        ``combine="max"``: the largest ``|z|`` over features; ``"rms"``: ``sqrt(mean(z**2))``.
        (Unlike scikit-learn's detectors, where higher ``score_samples`` means more normal.)
        """
        return self._apply("score_samples", X)

    def z(self, X: Any) -> np.ndarray:
        """Per-feature z-values, shape ``(n_samples, n_features)``: ``(X - location_) / scale_``."""
        det = self._fitted()
        X = check_X(self, X, reset=False)
        if _is_sparse(X):
            X = native_layout(X.toarray())
        return det.z(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """``threshold - score_samples(X)``: negative for anomalies (scikit-learn's sign)."""
        return self._apply("decision_function", X)

    def predict(self, X: Any) -> np.ndarray:
        """-1 for anomalies (score strictly above ``threshold``), 1 for normal rows."""
        return self._apply("predict", X).astype(int)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X)`` then ``predict(X)``."""
        return self.fit(X).predict(X)

    def score_one(self, row: Any) -> float:
        """Score one row (a sequence of floats); equals ``score_samples`` on that row."""
        return self._fitted().score_one(row)

    # ------------------------------------------------------------------ persistence

    def to_bytes(self) -> bytes:
        """The model artifact (versioned, checksummed; loads in Rust, Python and WASM)."""
        return self._fitted().to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Any:
        """Load from artifact bytes; ``ArtifactError`` for anything else (also for bytes of the
        other z-score variant)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DTypeError(f"from_bytes expects bytes, got {type(data).__name__}")
        det = _native.ZScoreDetector.from_bytes(bytes(data), cls._ROBUST)
        p = det.params
        est = cls(threshold=p["threshold"], combine=p["combine"])
        if det.is_fitted:
            est._set_fitted(det)
            names = det.feature_names
            if names is not None:
                est.feature_names_in_ = np.asarray(names, dtype=object)
        return est

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the artifact to ``path`` atomically (temporary file, fsync, rename)."""
        _native.write_atomic(os.fspath(path), self.to_bytes())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Any:
        """Read an artifact file written by ``save`` (or any ``to_bytes`` output)."""
        return cls.from_bytes(_native.read_file(os.fspath(path)))

    def __getstate__(self) -> dict[str, Any]:
        parent = getattr(super(), "__getstate__", None)
        state = dict(parent() if parent is not None else self.__dict__)
        det = state.pop("_detector", None)
        if det is not None:
            state["_detector_bytes"] = det.to_bytes()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        data = state.pop("_detector_bytes", None)
        parent = getattr(super(), "__setstate__", None)
        if parent is not None:
            parent(state)
        else:
            self.__dict__.update(state)
        if data is not None:
            self._detector = _native.ZScoreDetector.from_bytes(data, self._ROBUST)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.input_tags.sparse = True  # densified a bounded chunk at a time
        tags.input_tags.allow_nan = False  # refused with NonFiniteError naming row and column
        return tags


class ZScore(_ZScoreBase):
    """Per-feature z-score detector with mean and standard deviation, computed in Rust.

    ``fit`` learns each feature's mean and standard deviation (``ddof=0``, numpy's default
    ``np.std``); a constant feature gets scale 1 (as ``StandardScaler``). ``z(X)`` gives the
    per-feature z-values, ``score_samples(X)`` combines them per row (``combine="max"``: the largest
    ``|z|``; ``"rms"``: root mean square), in standard deviations, higher = more anomalous.
    ``predict`` returns -1 when the score is strictly above ``threshold`` (default 3.0), else 1.
    NaN and infinite values are refused (``NonFiniteError``, naming row and column).

    Fitted attributes: ``location_`` (means), ``scale_`` (standard deviations), ``n_features_in_``.
    """

    _ROBUST = False

    def __init__(self, threshold: float = 3.0, combine: str = "max") -> None:
        self.threshold = threshold
        self.combine = combine


class RobustZScore(_ZScoreBase):
    """Per-feature robust z-score detector with median and MAD, computed in Rust.

    The scale is ``MAD * 1.482602218505602`` (``1 / Phi^-1(3/4)``, so that it estimates the standard
    deviation of normal data). When the MAD is 0 it falls back to the mean absolute deviation from
    the median times ``1.2533141373155003`` (``sqrt(pi / 2)``), and to 1 when that is also 0. The
    rest is as in :class:`ZScore`.

    Fitted attributes: ``location_`` (medians), ``scale_``, ``n_features_in_``.
    """

    _ROBUST = True

    def __init__(self, threshold: float = 3.0, combine: str = "max") -> None:
        self.threshold = threshold
        self.combine = combine
