"""fraud_core: real-time fraud detection with a Rust core.

* :class:`IsolationForest`: scikit-learn compatible (``fit``/``score_samples``/``predict``...), plus
  ``score_one`` for single events and ``to_bytes``/``from_bytes`` model artifacts shared with Rust
  and WASM.
* :class:`FeatureEngine`: streaming features per entity (exact sliding windows, delays, calendar...)
  from a JSON spec; ``update(event)`` per event and ``transform(df)`` for a pandas DataFrame run the
  same Rust code; ``snapshot``/``restore``, ``forget``, pickle support.
* Metrics: :func:`roc_auc_score`, :func:`average_precision_score`, :func:`precision_at_k`.
* Errors: every exception derives from :class:`FraudError`, itself a ``ValueError``.
"""

from ._fraud_core import (
    ArtifactError,
    DTypeError,
    FraudError,
    InvalidInputError,
    InvalidParameterError,
    KeySecretError,
    LateEventError,
    NonFiniteError,
    NotFittedError,
    SchemaError,
    ShapeError,
    SpecError,
    __version__,
)
from ._features import FeatureEngine
from ._iforest import IsolationForest
from .metrics import average_precision_score, precision_at_k, roc_auc_score

__all__ = [
    "ArtifactError",
    "DTypeError",
    "FeatureEngine",
    "FraudError",
    "InvalidInputError",
    "InvalidParameterError",
    "IsolationForest",
    "KeySecretError",
    "LateEventError",
    "NonFiniteError",
    "NotFittedError",
    "SchemaError",
    "ShapeError",
    "SpecError",
    "__version__",
    "average_precision_score",
    "precision_at_k",
    "roc_auc_score",
]
