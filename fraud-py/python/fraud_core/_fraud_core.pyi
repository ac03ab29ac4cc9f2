"""Type stubs for the native module ``fraud_core._fraud_core`` (built from fraud-py/src)."""

from collections.abc import Sequence
from os import PathLike
from typing import Any, Literal, TypedDict, final

import numpy as np
import numpy.typing as npt

__version__: str

class FraudError(ValueError):
    """Base class of every error raised by fraud_core (a ValueError)."""

class InvalidParameterError(FraudError):
    """A hyper-parameter is out of range or of the wrong type; names the parameter and value."""

class ShapeError(FraudError):
    """Empty input or a shape that does not fit (e.g. wrong number of features)."""

class NonFiniteError(FraudError):
    """NaN, infinite or beyond-float32 value; the message names its row and column."""

class InvalidInputError(FraudError):
    """Any other invalid input (e.g. negative or all-zero sample weights)."""

class ArtifactError(FraudError):
    """Model bytes that are truncated, corrupted, foreign or of an unsupported version."""

class DTypeError(FraudError, TypeError):
    """Values that are not numbers (strings, objects, complex)."""

class NotFittedError(FraudError, AttributeError):
    """Used before fit. Also sklearn.exceptions.NotFittedError when scikit-learn is installed."""

_Matrix = npt.NDArray[np.float64] | npt.NDArray[np.float32]
_Row = npt.NDArray[np.float64] | Sequence[float]

class _Params(TypedDict):
    n_estimators: int
    max_samples: Literal["auto"] | int | float
    contamination: Literal["auto"] | float
    max_features: int | float
    bootstrap: bool
    random_state: int | None
    n_jobs: int | None
    warm_start: bool

@final
class IsolationForest:
    """The native forest. Matrices: 2-D float64/float32 numpy arrays, any memory order."""

    def __init__(
        self,
        *,
        n_estimators: int = ...,
        max_samples: Literal["auto"] | int | float = ...,
        contamination: Literal["auto"] | float = ...,
        max_features: int | float = ...,
        bootstrap: bool = ...,
        random_state: int | None = ...,
        n_jobs: int | None = ...,
        warm_start: bool = ...,
    ) -> None: ...
    def with_params(
        self,
        *,
        n_estimators: int = ...,
        max_samples: Literal["auto"] | int | float = ...,
        contamination: Literal["auto"] | float = ...,
        max_features: int | float = ...,
        bootstrap: bool = ...,
        random_state: int | None = ...,
        n_jobs: int | None = ...,
        warm_start: bool = ...,
    ) -> IsolationForest: ...
    def fit(
        self,
        x: _Matrix,
        sample_weight: npt.NDArray[np.float64] | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> None: ...
    def score_samples(self, x: _Matrix) -> npt.NDArray[np.float64]: ...
    def decision_function(self, x: _Matrix) -> npt.NDArray[np.float64]: ...
    def predict(self, x: _Matrix) -> npt.NDArray[np.int32]: ...
    def score_one(self, row: _Row) -> float: ...
    @property
    def offset(self) -> float: ...
    @property
    def n_features_in(self) -> int: ...
    @property
    def max_samples_(self) -> int: ...
    @property
    def n_trees(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def is_fitted(self) -> bool: ...
    @property
    def feature_names(self) -> list[str] | None: ...
    @property
    def memory_bytes(self) -> int: ...
    @property
    def params(self) -> _Params: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> IsolationForest: ...
    def save(self, path: str | PathLike[str]) -> None: ...
    @staticmethod
    def load(path: str | PathLike[str]) -> IsolationForest: ...
    def to_json(self) -> str: ...
    def __reduce__(self) -> tuple[Any, tuple[bytes]]: ...

def roc_auc_score(y_true: npt.NDArray[np.bool_], y_score: npt.NDArray[np.float64]) -> float: ...
def average_precision_score(
    y_true: npt.NDArray[np.bool_], y_score: npt.NDArray[np.float64]
) -> float: ...
def precision_at_k(
    y_true: npt.NDArray[np.bool_], y_score: npt.NDArray[np.float64], k: int
) -> float: ...
