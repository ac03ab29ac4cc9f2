"""``fraud_core.SupervisedClassifier``: a scikit-learn classifier around the native supervised model
(random forest or L2 logistic regression, trained by smartcore in Rust).

The class stores its hyper-parameters verbatim in ``__init__`` and validates them at ``fit`` (the
Rust core does the validation; errors are ``fraud_core.InvalidParameterError``, a ``ValueError``).
It does no math: labels are encoded to booleans (the second of the two sorted classes is "fraud"),
inputs are converted to float64/float32 arrays and handed to the native object.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from . import _fraud_core as _native
from ._fraud_core import DTypeError, InvalidInputError, NotFittedError, ShapeError
from ._iforest import BaseEstimator, _seed
from ._input import HAS_SKLEARN, _is_sparse, check_X, native_layout

__all__ = ["SupervisedClassifier"]

if HAS_SKLEARN:
    from sklearn.base import ClassifierMixin
    from sklearn.exceptions import DataConversionWarning as _DataConversionWarning
else:  # pragma: no cover - exercised by a subprocess test
    _DataConversionWarning = UserWarning  # type: ignore[assignment,misc]

    class ClassifierMixin:  # type: ignore[no-redef]
        """Placeholder base when scikit-learn is not installed."""

        _estimator_type = "classifier"


def _encode_labels(y: Any, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """``(classes_, y == classes_[1])``; with one class present, 0/False counts as non-fraud and
    anything else as fraud (the core then says that both classes are needed)."""
    try:
        y = np.asarray(y)
    except (TypeError, ValueError) as e:
        raise DTypeError(f"y cannot be read as an array: {e}") from e
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the shape "
            "of y to (n_samples,), for example using ravel().",
            _DataConversionWarning,
            stacklevel=3,
        )
        y = y.ravel()
    if y.ndim != 1:
        raise ShapeError(f"y must be 1-D (one label per row), got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ShapeError(f"y has {y.shape[0]} labels but X has {n_samples} rows")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise InvalidInputError("y holds NaN or infinite labels")
    if y.dtype.kind in "fc" and np.any(y != np.round(y)):
        raise InvalidInputError(
            "Unknown label type: 'continuous'. SupervisedClassifier needs class labels "
            "(booleans, integers or strings), not a continuous target"
        )
    try:
        classes = np.unique(y)
    except TypeError as e:
        raise DTypeError(f"y holds labels that cannot be compared: {e}") from e
    if len(classes) > 2:
        raise InvalidInputError(
            f"Only binary classification is supported: y holds {len(classes)} classes "
            f"({classes[:5].tolist()}...), SupervisedClassifier needs fraud / non-fraud"
        )
    if len(classes) == 2:
        return classes, np.ascontiguousarray(y == classes[1])
    only = classes[0] if len(classes) else None
    fraud = only is not None and not (only == 0 or only is False)
    return classes, np.full(n_samples, fraud, dtype=bool)


class SupervisedClassifier(ClassifierMixin, BaseEstimator):
    """Binary fraud classifier for labelled data, trained in Rust (smartcore).

    ``model="random_forest"``: a forest of probability trees (``n_estimators``, ``max_depth``,
    ``min_samples_leaf``, ``min_samples_split``, ``max_features`` as in
    ``sklearn.ensemble.RandomForestClassifier``; bootstrap samples, ``max_features="sqrt"`` by
    default). ``model="logistic_regression"``: L2-penalised logistic regression minimising
    ``sum(logloss) + alpha / 2 * |w|^2``, i.e. scikit-learn's ``LogisticRegression(C=1/alpha)``
    (standardise the features first).

    ``balance``: ``"undersample"`` (default: drop majority rows at random until
    minority/majority = ``sampling_ratio``), ``"oversample"`` (repeat minority rows at random),
    ``"class_weight"`` (balanced weights; random forest only: rows are drawn for each tree's
    bootstrap in proportion to their weight) or ``None``. Balancing moves the probabilities towards
    the balanced prior; rankings (ROC AUC, precision@k) are what it is for.

    ``random_state`` follows scikit-learn (None uses numpy's global random state); every random
    draw is seeded from it. NaN and infinite values are refused (``NonFiniteError``, naming row and
    column). ``predict_proba`` returns ``(n, 2)`` columns for ``classes_``; the second class
    (``True`` / ``1``) is fraud. Fitted models serialise to bytes (``to_bytes``) that load in Rust,
    Python and WASM.

    Fitted attributes: ``classes_``, ``n_features_in_``, ``feature_names_in_`` (with a DataFrame),
    ``feature_importances_`` (random forest), ``coef_`` and ``intercept_`` (logistic regression).
    """

    def __init__(
        self,
        model: str = "random_forest",
        n_estimators: int = 100,
        max_depth: int | None = None,
        min_samples_leaf: int = 1,
        min_samples_split: int = 2,
        max_features: str | int | float | None = "sqrt",
        alpha: float = 1.0,
        balance: str | None = "undersample",
        sampling_ratio: float = 1.0,
        random_state: Any = None,
    ) -> None:
        self.model = model
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.min_samples_split = min_samples_split
        self.max_features = max_features
        self.alpha = alpha
        self.balance = balance
        self.sampling_ratio = sampling_ratio
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting

    def _native_model(self) -> Any:
        return _native.SupervisedModel(
            model=self.model,
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            min_samples_split=self.min_samples_split,
            max_features=self.max_features,
            alpha=self.alpha,
            balance=self.balance,
            sampling_ratio=self.sampling_ratio,
            random_state=_seed(self.random_state),
        )

    def fit(self, X: Any, y: Any) -> SupervisedClassifier:
        """Fit on ``X`` (rows = samples) and binary labels ``y``."""
        native = self._native_model()
        if y is None:
            raise InvalidInputError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        X = check_X(self, X, reset=True)
        if _is_sparse(X):
            X = native_layout(X.toarray())
        classes, fraud = _encode_labels(y, X.shape[0])
        native.fit(X, fraud)
        self._set_fitted(native, classes)
        return self

    def _set_fitted(self, native: Any, classes: np.ndarray) -> None:
        for attr in ("feature_importances_", "coef_", "intercept_"):
            self.__dict__.pop(attr, None)
        self._model = native
        self.classes_ = classes
        self.n_features_in_ = native.n_features_in
        if native.params["model"] == "random_forest":
            self.feature_importances_ = native.feature_importances
        else:
            coef, intercept = native.coefficients
            self.coef_ = coef.reshape(1, -1)
            self.intercept_ = np.array([intercept])

    # ------------------------------------------------------------------ prediction

    def __sklearn_is_fitted__(self) -> bool:
        return "_model" in self.__dict__

    def _fitted(self) -> Any:
        try:
            return self.__dict__["_model"]
        except KeyError:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            ) from None

    def _fraud_proba(self, X: Any) -> np.ndarray:
        native = self._fitted()
        X = check_X(self, X, reset=False)
        if _is_sparse(X):
            X = native_layout(X.toarray())
        return native.predict_proba(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, 2)``: column 1 is the probability of fraud."""
        p = self._fraud_proba(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """``classes_[1]`` (fraud) where its probability is above 0.5, else ``classes_[0]``."""
        fraud = self._fraud_proba(X) > 0.5
        if len(self.classes_) < 2:  # pragma: no cover - fit refuses one class
            return np.full(fraud.shape, self.classes_[0])
        return self.classes_[fraud.astype(np.intp)]

    # ------------------------------------------------------------------ persistence

    def to_bytes(self) -> bytes:
        """The model artifact (versioned, checksummed; loads in Rust, Python and WASM)."""
        return self._fitted().to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> SupervisedClassifier:
        """Load from artifact bytes; ``ArtifactError`` for anything else. The artifact does not
        record the original label values: ``classes_`` is ``[0, 1]``."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DTypeError(f"from_bytes expects bytes, got {type(data).__name__}")
        native = _native.SupervisedModel.from_bytes(bytes(data))
        p = dict(native.params)
        if p.get("balance") == "none":
            p["balance"] = None
        est = cls(**p)
        if native.is_fitted:
            est._set_fitted(native, np.array([0, 1]))
        return est

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the artifact to ``path`` atomically (temporary file, fsync, rename)."""
        _native.write_atomic(os.fspath(path), self.to_bytes())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SupervisedClassifier:
        """Read an artifact file written by ``save`` (or any ``to_bytes`` output)."""
        return cls.from_bytes(_native.read_file(os.fspath(path)))

    def __getstate__(self) -> dict[str, Any]:
        parent = getattr(super(), "__getstate__", None)
        state = dict(parent() if parent is not None else self.__dict__)
        native = state.pop("_model", None)
        if native is not None:
            state["_model_bytes"] = native.to_bytes()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        data = state.pop("_model_bytes", None)
        parent = getattr(super(), "__setstate__", None)
        if parent is not None:
            parent(state)
        else:
            self.__dict__.update(state)
        if data is not None:
            self._model = _native.SupervisedModel.from_bytes(data)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.input_tags.sparse = True  # densified before fitting / predicting
        tags.input_tags.allow_nan = False  # refused with NonFiniteError naming row and column
        tags.classifier_tags.multi_class = False
        return tags
