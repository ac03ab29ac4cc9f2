"""``fraud_core.IsolationForest``: a scikit-learn estimator around the native Rust forest.

The class stores its hyper-parameters verbatim in ``__init__`` and validates them at ``fit`` (the
Rust core does the validation; errors are ``fraud_core.InvalidParameterError``, a ``ValueError``).
It does no math: inputs are converted to float64/float32 arrays and handed to the native object.
scikit-learn is optional: without it the class keeps the same API (minus ``clone``/pipelines).
"""

from __future__ import annotations

import inspect
import numbers
import os
from typing import Any

import numpy as np

from . import _fraud_core as _native
from ._fraud_core import DTypeError, InvalidParameterError, NotFittedError
from ._input import (
    HAS_SKLEARN,
    BaseEstimator,
    OutlierMixin,
    _is_sparse,
    check_sample_weight,
    check_X,
    native_layout,
    sparse_rows,
)

__all__ = ["IsolationForest"]

_PARAMS = (
    "n_estimators",
    "max_samples",
    "contamination",
    "max_features",
    "bootstrap",
    "random_state",
    "n_jobs",
    "verbose",
    "warm_start",
)


if not HAS_SKLEARN:

    class BaseEstimator:  # type: ignore[no-redef]
        """Minimal ``get_params``/``set_params``/``repr`` when scikit-learn is not installed."""

        @classmethod
        def _get_param_names(cls) -> list[str]:
            sig = inspect.signature(cls.__init__)
            return sorted(p for p in sig.parameters if p != "self")

        def get_params(self, deep: bool = True) -> dict[str, Any]:
            return {k: getattr(self, k) for k in self._get_param_names()}

        def set_params(self, **params: Any) -> BaseEstimator:
            valid = self._get_param_names()
            for k, v in params.items():
                if k not in valid:
                    raise InvalidParameterError(
                        f"invalid parameter `{k}` for estimator {type(self).__name__}: "
                        f"valid parameters are {valid}"
                    )
                setattr(self, k, v)
            return self

        def __repr__(self) -> str:
            defaults = inspect.signature(type(self).__init__).parameters
            changed = []
            for k in self._get_param_names():
                v, d = getattr(self, k), defaults[k].default
                if not (v is d or (type(v) is type(d) and v == d)):
                    changed.append(f"{k}={v!r}")
            return f"{type(self).__name__}({', '.join(changed)})"

    class OutlierMixin:  # type: ignore[no-redef]
        """Placeholder base when scikit-learn is not installed."""

        _estimator_type = "outlier_detector"


def _seed(random_state: Any) -> int:
    """A concrete seed for the core, with scikit-learn's ``random_state`` semantics."""
    if random_state is None:
        random_state = np.random.mtrand._rand  # the global RandomState, as check_random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, (bool, np.bool_)):
        return int(random_state)  # range checked by the core
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, np.iinfo(np.int64).max, dtype=np.int64))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, np.iinfo(np.int64).max))
    raise InvalidParameterError(
        f"invalid parameter `random_state` = {random_state!r}: None, an integer, "
        "a numpy.random.RandomState or a numpy.random.Generator"
    )


def _n_jobs(n_jobs: Any) -> Any:
    """joblib's convention (-2 = every core but one, ...) mapped onto the core's thread count."""
    if n_jobs is None or not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool):
        return n_jobs  # None, or an invalid value the core names in its error
    n, cpus = int(n_jobs), os.cpu_count() or 1
    if n < -1:
        return max(1, cpus + 1 + n)
    return min(n, cpus) if n > 1 else n  # results never depend on it: no oversubscription


class IsolationForest(OutlierMixin, BaseEstimator):
    """Isolation forest (Liu et al. 2008) with scikit-learn's semantics, computed in Rust.

    Parameters are those of ``sklearn.ensemble.IsolationForest``. ``score_samples`` returns the
    opposite of the anomaly score, in ``[-1, 0]`` (lower = more abnormal); ``predict`` returns -1
    for outliers and 1 for inliers. Inputs are rounded to float32 like scikit-learn does; NaN and
    infinite values are refused (``NonFiniteError``, naming row and column). ``verbose`` is
    accepted for compatibility and ignored. Fitted models serialise to bytes (``to_bytes``) that
    load identically in Rust, Python and WASM.
    """

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: str | int | float = "auto",
        contamination: str | float = "auto",
        max_features: int | float = 1.0,
        bootstrap: bool = False,
        random_state: Any = None,
        n_jobs: int | None = None,
        verbose: int = 0,
        warm_start: bool = False,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.contamination = contamination
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ fitting

    def _native_params(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "max_samples": self.max_samples,
            "contamination": self.contamination,
            "max_features": self.max_features,
            "bootstrap": self.bootstrap,
            "random_state": _seed(self.random_state),
            "n_jobs": _n_jobs(self.n_jobs),
            "warm_start": self.warm_start,
        }

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> IsolationForest:
        """Grow the forest on ``X`` (rows = samples); ``y`` is ignored."""
        params = self._native_params()
        previous = self.__dict__.get("_forest")
        warm = isinstance(self.warm_start, (bool, np.bool_)) and bool(self.warm_start)
        if warm and previous is not None:
            forest = previous.with_params(**params)
        else:
            forest = _native.IsolationForest(**params)
        X = check_X(self, X, reset=True)
        if _is_sparse(X):
            X = native_layout(X.toarray())
        w = check_sample_weight(sample_weight, X.shape[0])
        names = getattr(self, "feature_names_in_", None)
        forest.fit(X, w, None if names is None else [str(n) for n in names])
        self._set_fitted(forest)
        return self

    def _set_fitted(self, forest: Any) -> None:
        self._forest = forest
        self.offset_ = forest.offset
        self.max_samples_ = forest.max_samples_
        self.n_features_in_ = forest.n_features_in

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """``fit(X)`` then ``predict(X)``: -1 for outliers, 1 for inliers."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    # ------------------------------------------------------------------ scoring

    def __sklearn_is_fitted__(self) -> bool:
        return "_forest" in self.__dict__

    def _fitted(self) -> Any:
        try:
            return self.__dict__["_forest"]
        except KeyError:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            ) from None

    def _apply(self, method: str, X: Any) -> np.ndarray:
        forest = self._fitted()
        X = check_X(self, X, reset=False)
        func = getattr(forest, method)
        if _is_sparse(X):
            return sparse_rows(X, func)
        return func(X)

    def score_samples(self, X: Any) -> np.ndarray:
        """Opposite of the anomaly score, in ``[-1, 0]``: the lower, the more abnormal."""
        return self._apply("score_samples", X)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers."""
        return self._apply("decision_function", X)

    def predict(self, X: Any) -> np.ndarray:
        """-1 for outliers, 1 for inliers."""
        return self._apply("predict", X).astype(int)

    def explain(self, X: Any) -> np.ndarray:
        """Per-feature contributions to each row's anomaly score, a float64 array of shape
        ``(n_samples, n_features)``.

        Each row is non-negative and sums to ``-score_samples(X)`` for that row (the anomaly score
        in ``(0, 1]``; the higher, the more abnormal), so rows are comparable; divide a row by its
        sum for shares. Every split on the row's path in every tree credits its feature with
        ``(1 - m / n) / h``: ``n`` training rows reached the node, ``m`` of them went the row's way,
        ``h`` is the row's path length in that tree (splits that isolate the row early weigh most,
        in the spirit of DIFFI, Carletti et al.). Input checks are those of ``score_samples``.

        Example::

            contributions = forest.explain(X)
            contributions[0].argmax()  # the feature that explains row 0 most
            forest.top_reasons(X, k=2)  # [[(feature, contribution), ...], ...]
        """
        return self._apply("explain", X)

    def top_reasons(self, X: Any, k: int = 3) -> list[list[tuple[int, float]]]:
        """Reason codes: for each row, up to ``k`` ``(feature index, contribution)`` pairs from
        :meth:`explain`, largest first (ties: lower index first; zero contributions left out).
        ``feature_names_in_[index]`` names the feature when the model was fitted on a DataFrame."""
        forest = self._fitted()
        X = check_X(self, X, reset=False)
        if not _is_sparse(X):
            return forest.top_reasons(X, k)
        X = X.tocsr()
        step = max(1, (64 << 20) // max(1, 8 * X.shape[1]))
        out: list[list[tuple[int, float]]] = []
        for i in range(0, X.shape[0], step):
            out.extend(forest.top_reasons(native_layout(X[i : i + step].toarray()), k))
        return out

    def score_one(self, row: Any) -> float:
        """Score one row (1-D float64 array, list or tuple of floats) without a numpy round trip.

        Equals ``score_samples`` on that row exactly. No feature-name checks are made.
        """
        forest = self.__dict__.get("_forest")
        if forest is None:
            forest = self._fitted()  # raises NotFittedError
        return forest.score_one(row)

    # ------------------------------------------------------------------ persistence

    def to_bytes(self) -> bytes:
        """The model artifact (versioned, checksummed; loads in Rust, Python and WASM)."""
        return self._fitted().to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> IsolationForest:
        """Load a model from artifact bytes; raises ``ArtifactError`` for anything else."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DTypeError(f"from_bytes expects bytes, got {type(data).__name__}")
        return cls._from_native(_native.IsolationForest.from_bytes(bytes(data)))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the artifact to ``path`` atomically."""
        self._fitted().save(os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> IsolationForest:
        """Read an artifact file written by ``save`` (or any ``to_bytes`` output)."""
        return cls._from_native(_native.IsolationForest.load(os.fspath(path)))

    @classmethod
    def _from_native(cls, forest: Any) -> IsolationForest:
        p = forest.params
        est = cls(**{k: p[k] for k in _PARAMS if k in p})
        if forest.is_fitted:
            est._set_fitted(forest)
            names = forest.feature_names
            if names is not None:
                est.feature_names_in_ = np.asarray(names, dtype=object)
        return est

    def export_json(self) -> str:
        """JSON view of the fitted model: parameters, offset and every tree's node arrays
        (``feature``, ``threshold``, ``left``, ``size``; node 0 is the root, ``left == 0`` marks a
        leaf, children of an internal node ``i`` are ``left[i]`` and ``left[i] + 1``, rows with
        ``x[feature] <= threshold`` (compared in float32) go left)."""
        return self._fitted().to_json()

    _to_json = export_json

    def __getstate__(self) -> dict[str, Any]:
        parent = getattr(super(), "__getstate__", None)
        state = dict(parent() if parent is not None else self.__dict__)
        forest = state.pop("_forest", None)
        if forest is not None:
            state["_forest_bytes"] = forest.to_bytes()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        data = state.pop("_forest_bytes", None)
        parent = getattr(super(), "__setstate__", None)
        if parent is not None:
            parent(state)
        else:
            self.__dict__.update(state)
        if data is not None:
            self._forest = _native.IsolationForest.from_bytes(data)

    # ------------------------------------------------------------------ scikit-learn tags

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.input_tags.sparse = True  # densified a bounded chunk at a time
        tags.input_tags.allow_nan = False  # refused with NonFiniteError naming row and column
        return tags
