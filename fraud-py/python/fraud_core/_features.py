"""``fraud_core.FeatureEngine``: streaming features per entity, for serving and for backfill.

The class holds the native engine (``fraud_core._fraud_core.FeatureEngine``) and does no math. Its
``transform`` turns a pandas DataFrame into whole columns for the Rust core: the timestamp column as
int64 epoch milliseconds (datetime64 of any unit; naive = UTC, tz-aware converted to UTC) or as
epoch numbers in the spec's unit, each key column factorized into int64 codes plus its distinct
values (so Rust never receives one Python string per row), numeric and label columns as float64.
The core then runs the same per-event code as ``update`` over the rows, in input order, with the
GIL released. The event rules (unknown, missing, wrong-typed, non-finite fields; key texts such as
``123 -> "123"``) are the core's; this module only reports column dtypes it cannot convert.

pandas is needed for ``transform`` only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _fraud_core as _native
from ._fraud_core import InvalidInputError, InvalidParameterError, KeySecretError, SchemaError

__all__ = ["FeatureEngine"]

_NS_PER = {"ns": 1_000_000, "us": 1_000, "ms": 1}


def _native_from_spec(spec: Any, key_secret: Any) -> Any:
    if isinstance(spec, Mapping):
        return _native.FeatureEngine.from_json(json.dumps(dict(spec)), key_secret)
    if isinstance(spec, os.PathLike):
        return _native.FeatureEngine.from_path(os.fspath(spec), key_secret)
    if isinstance(spec, str):
        if spec.lstrip().startswith("{"):
            return _native.FeatureEngine.from_json(spec, key_secret)
        return _native.FeatureEngine.from_path(spec, key_secret)
    raise InvalidParameterError(
        f"invalid parameter `spec` = <{type(spec).__name__}>: expected a dict, a JSON string or a "
        "path (str or os.PathLike) to a JSON file"
    )


def _bad_column(field: str, reason: str) -> SchemaError:
    # Same shape as the core's message for an invalid field.
    return SchemaError(f"invalid value for field `{field}`: {reason}")


def _first_non_number(col: Any) -> str:
    """Where the first non-number of an object column is (error path only; never a key column)."""
    import pandas as pd

    for pos, v in enumerate(col.to_numpy(dtype=object)):
        if v is None or v is pd.NA:
            continue  # missing: NaN (the core refuses it in a numeric field; a label is unknown)
        if isinstance(v, (str, bytes)) or not isinstance(v, (int, float, np.number, bool, np.bool_)):
            return f" (row {pos} holds a {type(v).__name__})"
    return ""


def _float_column(col: Any, field: str) -> np.ndarray:
    """A numeric (or label) column as contiguous float64; missing values become NaN."""
    dtype = col.dtype
    kind = getattr(dtype, "kind", "O")
    if kind in "iufb":
        try:
            return np.ascontiguousarray(col.to_numpy(dtype=np.float64, na_value=np.nan))
        except (TypeError, ValueError) as e:
            raise _bad_column(field, f"cannot convert dtype {dtype} to float64: {e}") from e
    if kind == "O":
        where = _first_non_number(col)
        if not where:
            return np.ascontiguousarray(col.to_numpy(dtype=np.float64, na_value=np.nan))
        raise _bad_column(field, f"expected a number column, got dtype object{where}")
    raise _bad_column(field, f"expected a number column, got dtype {dtype}")


def _time_column(col: Any, field: str, unit: str) -> tuple[str, np.ndarray]:
    """The timestamp column as ("ms", int64 epoch ms) for datetimes, or epoch numbers as given."""
    import pandas as pd

    dtype = col.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        dtype = col.dtype
    if getattr(dtype, "kind", "O") == "M":
        missing = col.isna().to_numpy()
        if missing.any():
            raise _bad_column(field, f"missing timestamp (NaT) at row {int(np.argmax(missing))}")
        arr = col.to_numpy()
        res = np.datetime_data(arr.dtype)[0]
        ticks = arr.view(np.int64)
        if res == "s":
            if len(ticks) and int(np.abs(ticks).max()) > np.iinfo(np.int64).max // 1000:
                raise _bad_column(field, "timestamp overflows epoch milliseconds")
            ms = ticks * 1000
        elif res in _NS_PER:
            ms = np.floor_divide(ticks, _NS_PER[res])
        else:
            ms = arr.astype("datetime64[ms]").view(np.int64)
        return "ms", np.ascontiguousarray(ms, dtype=np.int64)
    kind = getattr(dtype, "kind", "O")
    if kind in "iu":
        if col.isna().any():
            raise _bad_column(field, "missing timestamps: drop or impute them first")
        if kind == "u" and len(col) and int(col.max()) > np.iinfo(np.int64).max:
            raise _bad_column(field, "timestamp overflows epoch milliseconds")
        return "epoch", np.ascontiguousarray(col.to_numpy(dtype=np.int64))
    if kind == "f":
        return "float", np.ascontiguousarray(col.to_numpy(dtype=np.float64, na_value=np.nan))
    raise _bad_column(
        field,
        f"the timestamp column has dtype {dtype}: give datetime64 values (pandas.to_datetime) "
        f"or integer epoch times in the spec's unit ({unit!r})",
    )


def _codes(col: Any) -> tuple[np.ndarray, list[Any]]:
    """Dictionary-encode a key (or id) column: int64 codes (-1 = missing) and the distinct values.

    The core only needs *a* dictionary (entities are created in row order whatever the codes), so
    plain integer columns whose values span a range not much larger than the column are encoded
    with a lookup table, several times faster than hashing (``pandas.factorize``)."""
    import pandas as pd

    dtype = col.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu" and len(col):
        # Widen first: offsets and values must not wrap around in small integer types.
        wide = np.dtype(np.int64 if dtype.kind == "i" else np.uint64)
        a = col.to_numpy().astype(wide, copy=False)
        lo, hi = a.min(), a.max()
        span = int(hi) - int(lo) + 1
        if span <= max(4 * len(a), 1 << 16):
            offsets = (a - lo).astype(np.intp, copy=False)
            present = np.zeros(span, dtype=bool)
            present[offsets] = True
            distinct = np.flatnonzero(present)
            lut = np.empty(span, dtype=np.int64)
            lut[distinct] = np.arange(len(distinct), dtype=np.int64)
            return lut[offsets], (distinct.astype(wide) + lo).tolist()
    c, u = pd.factorize(col, use_na_sentinel=True)
    return np.ascontiguousarray(c, dtype=np.int64), list(u.tolist()) if hasattr(u, "tolist") else list(u)


def _frame_columns(df: Any, schema: dict[str, Any], check: Any, what: str) -> tuple[Any, ...]:
    """A DataFrame as the native column arguments: time kind, time, key codes, key uniques, numeric
    columns, label (when the column is present), id codes and id uniques (when the schema has an
    id field and the column is present). ``check(names)`` validates the column names."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidInputError(f"{what} expects a pandas DataFrame, got {type(df).__name__}")
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        dup = next(n for i, n in enumerate(names) if n in names[:i])
        raise SchemaError(f"column `{dup}` appears more than once")
    check(names)
    cols = dict(zip(names, (df.iloc[:, i] for i in range(len(names)))))
    kind, time = _time_column(cols[schema["timestamp"]], schema["timestamp"], schema["time_unit"])
    keys = [_codes(cols[k]) for k in schema["keys"]]
    codes, uniques = [c for c, _ in keys], [u for _, u in keys]
    numeric = [_float_column(cols[f], f) for f in schema["numeric"]]
    label_name = schema["label"]
    label = _float_column(cols[label_name], label_name) if label_name in cols else None
    id_name = schema.get("id")
    id_codes, id_uniques = _codes(cols[id_name]) if id_name is not None and id_name in cols else (None, None)
    return kind, time, codes, uniques, numeric, label, id_codes, id_uniques


class FeatureEngine:
    """Streaming features per entity, computed by the Rust core (one code path for serving and backfill).

    ``spec`` is a dict, a JSON string, or a path (``str`` or ``os.PathLike``) to a JSON file (see
    ``datasets/specs/handbook.json``). With ``key_secret`` (bytes or str, at least 16 bytes) entity keys
    are kept only as keyed hashes; the secret is never stored, so such an engine cannot be pickled
    (use ``snapshot()`` and ``FeatureEngine.restore(data, key_secret=...)``).

    Errors derive from :class:`fraud_core.FraudError`: ``SpecError`` (bad spec), ``SchemaError``
    (unknown / missing columns or fields, wrong types, non-finite values; the message names the field),
    ``LateEventError`` (an event beyond the allowed lateness), ``KeySecretError``.
    """

    __slots__ = ("_native",)

    def __init__(self, spec: Any, *, key_secret: bytes | str | None = None) -> None:
        self._native = _native_from_spec(spec, key_secret)

    @classmethod
    def _wrap(cls, native: Any) -> FeatureEngine:
        obj = cls.__new__(cls)
        obj._native = native
        return obj

    @classmethod
    def restore(cls, data: bytes, key_secret: bytes | str | None = None) -> FeatureEngine:
        """Rebuild an engine from ``snapshot()`` bytes; it continues with bit-identical output."""
        return cls._wrap(_native.FeatureEngine.restore(bytes(data), key_secret))

    def snapshot(self) -> bytes:
        """The complete state (spec, entities, counters) as artifact bytes."""
        return self._native.snapshot()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``snapshot()`` to ``path`` atomically (temporary file, fsync, rename)."""
        _native.write_atomic(os.fspath(path), self.snapshot())

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], key_secret: bytes | str | None = None
    ) -> FeatureEngine:
        """Restore an engine from a snapshot file written by ``save``."""
        return cls.restore(_native.read_file(os.fspath(path)), key_secret)

    def update(self, event: Mapping[str, Any]) -> dict[str, float]:
        """Process one event (field name -> value) and return its features (name -> value).

        Timestamps: a datetime string, ``datetime``/``pandas.Timestamp``/``numpy.datetime64`` for a
        ``datetime`` spec, epoch numbers for ``s``/``ms``. Keys: str or int. A label that is None or
        NaN is not known (counts as genuine).
        """
        if not isinstance(event, dict):
            if not isinstance(event, Mapping):
                raise InvalidInputError(
                    f"update expects a dict (field name -> value), got {type(event).__name__}"
                )
            event = dict(event)
        return self._native.update(event)

    def transform(self, df: Any) -> Any:
        """Features of every row of a pandas DataFrame, processed in row order by the code of ``update``.

        Returns a DataFrame with one float64 column per feature (spec order) and ``df``'s index. The
        engine continues from its current state and keeps the batch's state afterwards.
        """
        import pandas as pd

        args = _frame_columns(df, self._native.schema, self._native.check_columns, "transform")
        out = self._native.transform_columns(*args)
        return pd.DataFrame(out, index=df.index, columns=self.feature_names, copy=False)

    def feedback(self, feedback: Mapping[str, Any]) -> bool:
        """Apply label feedback for an earlier event: a dict with the schema's ``id`` field, its key
        fields and the label field (e.g. a chargeback). Events processed afterwards see the label in
        their ``risk`` windows; earlier outputs never change. Returns whether the event was found
        among the retained events (``stats["feedback_unmatched"]`` counts those that were not)."""
        if not isinstance(feedback, dict):
            if not isinstance(feedback, Mapping):
                raise InvalidInputError(
                    f"feedback expects a dict of field -> value, got {type(feedback).__name__}"
                )
            feedback = dict(feedback)
        return self._native.feedback(feedback)

    def forget(self, key: str | int) -> int:
        """Erase every entity whose key equals ``key`` (in every key field); returns how many."""
        return self._native.forget(key)

    @property
    def stats(self) -> dict[str, int]:
        """Counters: events, late_placed, late_dropped, late_processed, ttl_evictions,
        lru_evictions, forgotten, plus the current entities and approximate state_bytes."""
        return dict(self._native.stats)

    @property
    def feature_names(self) -> list[str]:
        """Output column names, in output order."""
        return list(self._native.feature_names)

    @property
    def schema(self) -> dict[str, Any]:
        """The event schema: timestamp, time_unit, keys, numeric, label."""
        return dict(self._native.schema)

    @property
    def spec(self) -> dict[str, Any]:
        """The spec (durations in milliseconds) as a dict."""
        return json.loads(self._native.spec_json)

    @property
    def hashes_keys(self) -> bool:
        """Whether entity keys are kept only as keyed hashes."""
        return bool(self._native.hashes_keys)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        if self.hashes_keys:
            raise KeySecretError(
                "cannot pickle a FeatureEngine with hashed keys: the key secret is never stored; "
                "use snapshot() and FeatureEngine.restore(data, key_secret=...) instead"
            )
        return (_restore, (self.snapshot(),))

    def __repr__(self) -> str:
        return repr(self._native)


def _restore(data: bytes) -> FeatureEngine:
    """Unpickle helper: ``FeatureEngine.restore`` without a secret."""
    return FeatureEngine.restore(data)
