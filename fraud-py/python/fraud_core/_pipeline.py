"""``fraud_core.Pipeline``: features -> detectors -> one calibrated risk, an alert flag and reasons.

The class holds the native pipeline (``fraud_core._fraud_core.Pipeline``) and does no math. Its
``fit`` and ``score_batch`` turn a pandas DataFrame into whole columns exactly as
``FeatureEngine.transform`` does (and with the same helpers): the timestamp as int64 epoch
milliseconds or epoch numbers in the spec's unit, each key column factorized into int64 codes plus
its distinct values, numeric and label columns as float64. The Rust core validates the spec, runs
the feature engine and the detectors with the GIL released, and checks every value.

The spec is a dict, a JSON string, or a path to a JSON file (see ``fraud_core.scoring`` in the Rust
documentation): ``features`` (a feature-engine spec), optional ``inputs``, ``detectors``,
``combine``, ``alert`` and ``reasons``. pandas is needed for ``fit`` and ``score_batch`` only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _fraud_core as _native
from ._features import _frame_columns
from ._fraud_core import InvalidInputError, InvalidParameterError, NotFittedError

__all__ = ["Pipeline"]


def _spec_text(spec: Any) -> str:
    if isinstance(spec, Mapping):
        return json.dumps(dict(spec))
    if isinstance(spec, (str, os.PathLike)):
        text = os.fspath(spec)
        if isinstance(spec, str) and text.lstrip().startswith("{"):
            return text
        try:
            with open(text, encoding="utf-8") as f:
                return f.read()
        except OSError as e:
            raise InvalidInputError(f"cannot read spec file {text}: {e}") from e
    raise InvalidParameterError(
        f"invalid parameter `spec` = <{type(spec).__name__}>: expected a dict, a JSON string or a "
        "path (str or os.PathLike) to a JSON file"
    )


class Pipeline:
    """A fraud-scoring pipeline: streaming features, anomaly / supervised detectors, calibrated risk.

    ``Pipeline(spec).fit(df)`` runs the feature engine over the training events (rows in time
    order; labels from the schema's label column when present), fits every detector, calibrates
    their scores to [0, 1] and sets the alert threshold. The fitted pipeline keeps the feature state
    after the training events, so ``score`` continues where training ended; ``reset_state()`` starts
    from an empty state.

    * ``score(event)`` -> ``{"risk": float, "is_alert": bool, "reasons": [(feature, value,
      contribution), ...]}``
    * ``score_batch(df)`` -> DataFrame with ``risk``, ``is_alert``, ``reason_1..k`` (feature names)
      and ``contribution_1..k``; identical to ``score`` on each row in order.
    * ``to_bytes()`` / ``Pipeline.from_bytes(b)``, ``save(path)`` (atomic) / ``Pipeline.load(path)``,
      pickle: the same artifact bytes as the Rust ``fraud_core::scoring::Pipeline``.

    Errors derive from :class:`fraud_core.FraudError`: ``SpecError`` names the bad spec field
    (``detectors[1].weight``), ``SchemaError`` the bad column or event field.
    """

    __slots__ = ("_info", "_native", "_spec_json")

    def __init__(self, spec: Any) -> None:
        info = _native.Pipeline.check_spec(_spec_text(spec))
        self._spec_json: str = info["spec_json"]
        self._info: dict[str, Any] = info
        self._native: Any = None

    @classmethod
    def _wrap(cls, native: Any) -> Pipeline:
        obj = cls.__new__(cls)
        obj._native = native
        obj._spec_json = native.spec_json
        obj._info = {
            "spec_json": native.spec_json,
            "schema": dict(native.schema),
            "feature_names": list(native.feature_names),
            "input_names": list(native.input_names),
        }
        return obj

    def _fitted(self, what: str) -> Any:
        if self._native is None:
            raise NotFittedError(f"not fitted: call `fit` before `{what}`")
        return self._native

    def fit(self, df: Any) -> Pipeline:
        """Fit on training events (a pandas DataFrame in time order); returns ``self``."""
        spec = self._spec_json
        args = _frame_columns(
            df,
            self._info["schema"],
            lambda names: _native.Pipeline.check_columns(spec, names),
            "fit",
        )
        self._native = _native.Pipeline.fit_columns(spec, *args)
        return self

    def score(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Score one event (field name -> value), updating the feature state."""
        native = self._fitted("score")
        if not isinstance(event, dict):
            if not isinstance(event, Mapping):
                raise InvalidInputError(
                    f"score expects a dict (field name -> value), got {type(event).__name__}"
                )
            event = dict(event)
        risk, is_alert, reasons = native.score(event)
        return {"risk": risk, "is_alert": is_alert, "reasons": reasons}

    def score_batch(self, df: Any) -> Any:
        """Score every row of a DataFrame in order (the same as ``score`` row by row)."""
        import pandas as pd

        native = self._fitted("score_batch")
        schema = self._info["schema"]
        spec = self._spec_json
        args = _frame_columns(
            df, schema, lambda names: _native.Pipeline.check_columns(spec, names), "score_batch"
        )
        risk, is_alert, idx, value, contrib = native.score_columns(*args)
        names = np.asarray(list(self.input_names_) + [None], dtype=object)
        out = {"risk": risk, "is_alert": is_alert}
        for r in range(idx.shape[1]):
            out[f"reason_{r + 1}"] = names[idx[:, r]]  # -1 -> None
        for r in range(idx.shape[1]):
            out[f"contribution_{r + 1}"] = contrib[:, r]
        for r in range(idx.shape[1]):
            out[f"value_{r + 1}"] = value[:, r]
        return pd.DataFrame(out, index=df.index)

    def reset_state(self) -> None:
        """Forget every entity: serve from an empty feature state."""
        self._fitted("reset_state").reset_state()

    @property
    def threshold_(self) -> float:
        """The alert threshold on the risk (set at fit)."""
        return float(self._fitted("threshold_").threshold)

    @property
    def feature_names_(self) -> list[str]:
        """Every feature the engine computes, in order."""
        return list(self._info["feature_names"])

    @property
    def input_names_(self) -> list[str]:
        """The features the detectors see (the spec's ``inputs``)."""
        return list(self._info["input_names"])

    @property
    def spec(self) -> dict[str, Any]:
        """The normalised spec (durations in milliseconds) as a dict."""
        return json.loads(self._spec_json)

    def to_bytes(self) -> bytes:
        """The fitted pipeline (feature state included) as artifact bytes."""
        return self._fitted("to_bytes").to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Pipeline:
        """Load ``to_bytes()`` bytes (from Python or Rust); scores are identical."""
        return cls._wrap(_native.Pipeline.from_bytes(bytes(data)))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the artifact to ``path`` atomically (temporary file, fsync, rename)."""
        self._fitted("save").save(os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Pipeline:
        """Read an artifact written by ``save``."""
        return cls._wrap(_native.Pipeline.load(os.fspath(path)))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if self._native is None:
            return (Pipeline, (json.loads(self._spec_json),))
        return (_from_bytes, (self.to_bytes(),))

    def __repr__(self) -> str:
        if self._native is None:
            return f"Pipeline(inputs={len(self.input_names_)}, fitted=False)"
        return repr(self._native)


def _from_bytes(data: bytes) -> Pipeline:
    """Unpickle helper."""
    return Pipeline.from_bytes(data)
