"""fraud_core: real-time fraud detection with a Rust core.

* :class:`IsolationForest`: scikit-learn compatible (``fit``/``score_samples``/``predict``...), plus
  ``score_one`` for single events and ``to_bytes``/``from_bytes`` model artifacts shared with Rust
  and WASM.
* :class:`FeatureEngine`: streaming features per entity (exact sliding windows, delays, calendar...)
  from a JSON spec; ``update(event)`` per event and ``transform(df)`` for a pandas DataFrame run the
  same Rust code; ``snapshot``/``restore``, ``forget``, pickle support.
* :class:`ZScore`, :class:`RobustZScore`: per-feature z-score detectors (mean/std or median/MAD),
  scikit-learn compatible, with per-feature ``z(X)`` and ``to_bytes``/``from_bytes`` artifacts.
* :class:`SupervisedClassifier`: for labelled data, a random forest or an L2 logistic regression
  (smartcore, in Rust) with class balancing, scikit-learn compatible, ``to_bytes``/``from_bytes``.
* :class:`Pipeline`: features -> detectors (isolation forest, z-scores, supervised) -> one
  calibrated risk in [0, 1], an alert flag and reason codes; ``fit(df)``, ``score(event)``,
  ``score_batch(df)``, one artifact (``to_bytes``/``from_bytes``) shared with Rust.
* Metrics: :func:`roc_auc_score`, :func:`average_precision_score`, :func:`precision_at_k`,
  :func:`card_precision_at_k`.
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
from ._pipeline import Pipeline
from ._supervised import SupervisedClassifier
from ._zscore import RobustZScore, ZScore
from .metrics import (
    average_precision_score,
    card_precision_at_k,
    precision_at_k,
    roc_auc_score,
)

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
    "Pipeline",
    "RobustZScore",
    "SchemaError",
    "ShapeError",
    "SpecError",
    "SupervisedClassifier",
    "ZScore",
    "__version__",
    "average_precision_score",
    "card_precision_at_k",
    "precision_at_k",
    "roc_auc_score",
]
