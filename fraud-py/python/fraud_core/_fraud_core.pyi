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

class SpecError(FraudError):
    """A feature spec that does not parse, lacks the spec's shape, or is inconsistent."""

class SchemaError(FraudError):
    """An event or column that does not fit the schema (unknown, missing, wrong type, non-finite)."""

class LateEventError(FraudError):
    """An event older than the allowed lateness under the `error` policy (state unchanged)."""

class KeySecretError(FraudError):
    """A key secret that is missing, too short, or not the one a snapshot was written with."""

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
    def explain(self, x: _Matrix) -> npt.NDArray[np.float64]: ...
    def top_reasons(self, x: _Matrix, k: int) -> list[list[tuple[int, float]]]: ...
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

class _ZScoreParams(TypedDict):
    threshold: float
    combine: Literal["max", "rms"]

@final
class ZScoreDetector:
    """The native z-score detector (mean/std, or median/MAD when ``robust``)."""

    def __init__(self, robust: bool, threshold: float, combine: Literal["max", "rms"]) -> None: ...
    def fit(self, x: _Matrix, feature_names: Sequence[str] | None = None) -> None: ...
    def z(self, x: _Matrix) -> npt.NDArray[np.float64]: ...
    def score_samples(self, x: _Matrix) -> npt.NDArray[np.float64]: ...
    def decision_function(self, x: _Matrix) -> npt.NDArray[np.float64]: ...
    def predict(self, x: _Matrix) -> npt.NDArray[np.int32]: ...
    def score_one(self, row: Sequence[float]) -> float: ...
    @property
    def robust(self) -> bool: ...
    @property
    def is_fitted(self) -> bool: ...
    @property
    def n_features_in(self) -> int: ...
    @property
    def location(self) -> npt.NDArray[np.float64]: ...
    @property
    def scale(self) -> npt.NDArray[np.float64]: ...
    @property
    def feature_names(self) -> list[str] | None: ...
    @property
    def params(self) -> _ZScoreParams: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes, robust: bool = False) -> ZScoreDetector: ...
    def __reduce__(self) -> tuple[Any, tuple[bytes, bool]]: ...

class _SupervisedParams(TypedDict, total=False):
    model: Literal["random_forest", "logistic_regression"]
    n_estimators: int
    max_depth: int | None
    min_samples_leaf: int
    min_samples_split: int
    max_features: str | int | float
    alpha: float
    balance: Literal["none", "undersample", "oversample", "class_weight"]
    sampling_ratio: float
    random_state: int | None

class SupervisedModel:
    """The native supervised model (random forest or logistic regression, smartcore)."""

    def __init__(
        self,
        *,
        model: str,
        n_estimators: int,
        max_depth: int | None,
        min_samples_leaf: int,
        min_samples_split: int,
        max_features: str | int | float | None,
        alpha: float,
        balance: str | None,
        sampling_ratio: float,
        random_state: int | None,
    ) -> None: ...
    def fit(self, x: _Matrix, y: npt.NDArray[np.bool_]) -> None: ...
    def predict_proba(self, x: _Matrix) -> npt.NDArray[np.float64]: ...
    def predict(self, x: _Matrix) -> npt.NDArray[np.bool_]: ...
    @property
    def is_fitted(self) -> bool: ...
    @property
    def n_features_in(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def training_counts(self) -> tuple[int, int]: ...
    @property
    def feature_importances(self) -> npt.NDArray[np.float64]: ...
    @property
    def coefficients(self) -> tuple[npt.NDArray[np.float64], float]: ...
    @property
    def params(self) -> _SupervisedParams: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> SupervisedModel: ...
    def __reduce__(self) -> tuple[Any, tuple[bytes]]: ...

class _EngineStats(TypedDict):
    events: int
    late_placed: int
    late_dropped: int
    late_processed: int
    ttl_evictions: int
    lru_evictions: int
    forgotten: int
    entities: int
    state_bytes: int

class _Schema(TypedDict):
    timestamp: str
    time_unit: Literal["s", "ms", "datetime"]
    keys: list[str]
    numeric: list[str]
    label: str | None

@final
class FeatureEngine:
    """The native streaming feature engine (see fraud_core.FeatureEngine for the pandas front end)."""

    @staticmethod
    def from_json(text: str, key_secret: bytes | str | None = None) -> FeatureEngine: ...
    @staticmethod
    def from_path(path: str | PathLike[str], key_secret: bytes | str | None = None) -> FeatureEngine: ...
    @staticmethod
    def restore(data: bytes, key_secret: bytes | str | None = None) -> FeatureEngine: ...
    def snapshot(self) -> bytes: ...
    def update(self, event: dict[str, Any]) -> dict[str, float]: ...
    def check_columns(self, names: Sequence[str]) -> None: ...
    def transform_columns(
        self,
        time_kind: Literal["ms", "epoch", "float"],
        time: npt.NDArray[np.int64] | npt.NDArray[np.float64],
        key_codes: Sequence[npt.NDArray[np.int64]],
        key_uniques: Sequence[list[Any]],
        numeric: Sequence[npt.NDArray[np.float64]],
        label: npt.NDArray[np.float64] | None = None,
        id_codes: npt.NDArray[np.int64] | None = None,
        id_uniques: list[Any] | None = None,
    ) -> npt.NDArray[np.float64]: ...
    def feedback(self, feedback: dict[str, Any]) -> bool: ...
    def forget(self, key: str | int) -> int: ...
    @property
    def feature_names(self) -> list[str]: ...
    @property
    def stats(self) -> _EngineStats: ...
    @property
    def spec_json(self) -> str: ...
    @property
    def hashes_keys(self) -> bool: ...
    @property
    def schema(self) -> _Schema: ...

def write_atomic(path: str | PathLike[str], data: bytes) -> None: ...
def read_file(path: str | PathLike[str]) -> bytes: ...
def roc_auc_score(y_true: npt.NDArray[np.bool_], y_score: npt.NDArray[np.float64]) -> float: ...
def average_precision_score(
    y_true: npt.NDArray[np.bool_], y_score: npt.NDArray[np.float64]
) -> float: ...
def precision_at_k(
    y_true: npt.NDArray[np.bool_], y_score: npt.NDArray[np.float64], k: int
) -> float: ...
def card_precision_at_k(
    days: npt.NDArray[np.int64],
    cards: npt.NDArray[np.int64],
    y_true: npt.NDArray[np.bool_],
    y_score: npt.NDArray[np.float64],
    k: int,
    remove_detected: bool = True,
) -> float: ...

class _PipelineInfo(TypedDict):
    spec_json: str
    schema: _Schema
    feature_names: list[str]
    input_names: list[str]

@final
class Pipeline:
    """Native fitted scoring pipeline (see ``fraud_core.Pipeline`` for the pandas front end)."""

    @staticmethod
    def check_spec(text: str) -> _PipelineInfo: ...
    @staticmethod
    def check_columns(text: str, names: list[str]) -> None: ...
    @staticmethod
    def fit_columns(
        text: str,
        time_kind: Literal["ms", "epoch", "float"],
        time: npt.NDArray[np.int64] | npt.NDArray[np.float64],
        key_codes: list[npt.NDArray[np.int64]],
        key_uniques: list[list[Any]],
        numeric: list[npt.NDArray[np.float64]],
        label: npt.NDArray[np.float64] | None = None,
        id_codes: npt.NDArray[np.int64] | None = None,
        id_uniques: list[Any] | None = None,
    ) -> Pipeline: ...
    def score(self, event: dict[str, Any]) -> tuple[float, bool, list[tuple[str, float, float]]]: ...
    def score_columns(
        self,
        time_kind: Literal["ms", "epoch", "float"],
        time: npt.NDArray[np.int64] | npt.NDArray[np.float64],
        key_codes: list[npt.NDArray[np.int64]],
        key_uniques: list[list[Any]],
        numeric: list[npt.NDArray[np.float64]],
        label: npt.NDArray[np.float64] | None = None,
        id_codes: npt.NDArray[np.int64] | None = None,
        id_uniques: list[Any] | None = None,
    ) -> tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.bool_],
        npt.NDArray[np.int64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
    ]: ...
    def reset_state(self) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> Pipeline: ...
    def save(self, path: str | PathLike[str]) -> None: ...
    @staticmethod
    def load(path: str | PathLike[str]) -> Pipeline: ...
    @property
    def threshold(self) -> float: ...
    @property
    def feature_names(self) -> list[str]: ...
    @property
    def input_names(self) -> list[str]: ...
    @property
    def n_reasons(self) -> int: ...
    @property
    def training_rows(self) -> int: ...
    @property
    def spec_json(self) -> str: ...
    @property
    def schema(self) -> _Schema: ...
    def __reduce__(self) -> tuple[Any, tuple[bytes]]: ...
