"""fraud_core: real-time fraud detection with a Rust core.

* :class:`IsolationForest`: scikit-learn compatible (``fit``/``score_samples``/``predict``...), plus
  ``score_one`` for single events and ``to_bytes``/``from_bytes`` model artifacts shared with Rust
  and WASM.
* Metrics: :func:`roc_auc_score`, :func:`average_precision_score`, :func:`precision_at_k`.
* Errors: every exception derives from :class:`FraudError`, itself a ``ValueError``.
"""

from ._fraud_core import (
    ArtifactError,
    DTypeError,
    FraudError,
    InvalidInputError,
    InvalidParameterError,
    NonFiniteError,
    NotFittedError,
    ShapeError,
    __version__,
)
from ._iforest import IsolationForest
from .metrics import average_precision_score, precision_at_k, roc_auc_score

__all__ = [
    "ArtifactError",
    "DTypeError",
    "FraudError",
    "InvalidInputError",
    "InvalidParameterError",
    "IsolationForest",
    "NonFiniteError",
    "NotFittedError",
    "ShapeError",
    "__version__",
    "average_precision_score",
    "precision_at_k",
    "roc_auc_score",
]
