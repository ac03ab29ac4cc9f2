"""``fraud_core.spark``: the same engine on Spark (Databricks, Azure Synapse, local PySpark).

pyspark is an optional dependency, imported only by this module (``import fraud_core.spark``).
Every function runs the unchanged fraud_core code inside pandas UDFs, and ships models and specs
by capturing their bytes / JSON in the UDF's closure, never with ``sparkContext.broadcast`` (which
Spark Connect, used by Databricks serverless and shared clusters, does not offer).

* :func:`score_dataframe`: score a Spark DataFrame with a fitted detector (``IsolationForest``,
  ``ZScore``, ``RobustZScore``, ``SupervisedClassifier``) or a ``Pipeline`` via ``mapInPandas``.
* :func:`backfill_features`: point-in-time features of a whole table, key field by key field
  (repartitioned by the key, sorted by event time within each partition), joined on the event id.
  Equal to the single-machine ``FeatureEngine(spec).transform`` of the table in (time, order) order.
* :func:`streaming_features`: stateful per-key features in Structured Streaming with
  ``groupBy(key).applyInPandasWithState``; the state of a key is its engine snapshot (bytes).

Time columns: a Spark ``TimestampType`` is an absolute instant and is handed to the engine as UTC
(so calendar features are in UTC, or at the spec's ``utc_offset_minutes``), whatever the session
time zone; a ``TimestampNTZType`` wall-clock time is taken as UTC, like a naive pandas datetime in
``FeatureEngine.transform``; for specs with ``time_unit`` ``"s"``/``"ms"`` give integer epoch
numbers. Decimal numeric columns are cast to float64.

Errors: :class:`SparkColumnError` (a ``fraud_core.SchemaError``, hence a ``ValueError``) names the
missing or wrongly typed column; spec problems raise ``fraud_core.SpecError`` on the driver, before
any Spark job starts.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import fraud_core
from fraud_core import FeatureEngine, InvalidParameterError, SchemaError

try:  # pragma: no cover - exercised by environments without pyspark
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
except ImportError as _e:  # pragma: no cover
    raise ImportError(
        "fraud_core.spark needs pyspark (pip install 'pyspark>=4.0' pyarrow 'pandas<3')"
    ) from _e

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "SparkColumnError",
    "backfill_features",
    "feature_subspec",
    "score_dataframe",
    "streaming_features",
]

_T_US = "__fraud_core_time_us"  # internal column: a TimestampType time as epoch microseconds
_WM_TS = "__fraud_core_event_ts"  # internal column: the event time as a TimestampType (watermark)
_WM_US = "__fraud_core_wm_us"  # internal column: the watermark column as epoch microseconds


class SparkColumnError(SchemaError):
    """A column of the Spark DataFrame is missing or has a type the function cannot use."""


# ---------------------------------------------------------------------------------------- helpers


def _field(sdf: DataFrame, name: str, role: str) -> T.StructField:
    for f in sdf.schema.fields:
        if f.name == name:
            return f
    raise SparkColumnError(
        f"column `{name}` ({role}) is not in the DataFrame (columns: {sdf.columns})"
    )


_NUMERIC = (
    T.ByteType,
    T.ShortType,
    T.IntegerType,
    T.LongType,
    T.FloatType,
    T.DoubleType,
    T.DecimalType,
    T.BooleanType,
)
_INTEGRAL = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)


def _check_numeric(sdf: DataFrame, name: str, role: str) -> None:
    f = _field(sdf, name, role)
    if not isinstance(f.dataType, _NUMERIC):
        raise SparkColumnError(
            f"column `{name}` ({role}) must be numeric, got {f.dataType.simpleString()}"
        )


def _check_key(sdf: DataFrame, name: str, role: str = "entity key") -> None:
    f = _field(sdf, name, role)
    if not isinstance(f.dataType, (T.StringType, *_INTEGRAL)):
        raise SparkColumnError(
            f"column `{name}` ({role}) must be a string or integer column, got "
            f"{f.dataType.simpleString()}"
        )


def _check_orderable(sdf: DataFrame, name: str, role: str) -> None:
    f = _field(sdf, name, role)
    if isinstance(f.dataType, (T.ArrayType, T.MapType, T.StructType, T.BinaryType)):
        raise SparkColumnError(
            f"column `{name}` ({role}) must be orderable (number, string, timestamp), got "
            f"{f.dataType.simpleString()}"
        )


def _time_expr(sdf: DataFrame, name: str, time_unit: str) -> tuple[Any, bool]:
    """The engine's view of the time column: (expression, is_epoch_us)."""
    f = _field(sdf, name, "event time")
    dt = f.dataType
    if time_unit == "datetime":
        if isinstance(dt, T.TimestampType):
            return F.unix_micros(F.col(name)).alias(_T_US), True
        if isinstance(dt, T.TimestampNTZType):
            return F.col(name), False
        if isinstance(dt, T.DateType):
            return F.col(name).cast(T.TimestampNTZType()).alias(name), False
        raise SparkColumnError(
            f"column `{name}` (event time) must be a timestamp for a spec with time_unit "
            f"'datetime', got {dt.simpleString()}"
        )
    if isinstance(dt, _INTEGRAL):
        return F.col(name), False
    raise SparkColumnError(
        f"column `{name}` (event time) must hold integer epoch times in the spec's unit "
        f"({time_unit!r}), got {dt.simpleString()}"
    )


def _engine_frame(pdf: pd.DataFrame, time_col: str, cols: Sequence[str], time_us: bool) -> Any:
    """The columns the engine reads, with the time column rebuilt from epoch microseconds."""
    import pandas as pd

    sub = pdf[list(cols)].copy() if not time_us else pdf[[c for c in cols if c != time_col]].copy()
    if time_us:
        sub[time_col] = pd.to_datetime(pdf[_T_US].to_numpy(dtype=np.int64), unit="us")
    return sub


def _spec_dict(spec: Any) -> dict[str, Any]:
    """The validated spec as a dict (durations in ms), through the engine's own parser."""
    if isinstance(spec, FeatureEngine):
        return spec.spec
    return FeatureEngine(spec).spec


def feature_subspec(spec: Any, key: str | None, *, include_calendar: bool = True) -> dict[str, Any]:
    """The part of ``spec`` computed from the events of one key field.

    Keeps the schema, lateness, ttl and max_entities; keeps the features whose ``key`` is ``key``
    (plus the calendar features when ``include_calendar``). With ``key=None`` only the calendar
    features are kept, with unlimited lateness (they have no state, so any row order is fine).
    Raises ``SpecError`` for an invalid spec and ``InvalidParameterError`` when nothing is left.
    """
    full = _spec_dict(spec)
    keys = full["schema"]["keys"]
    if key is not None and key not in keys:
        raise InvalidParameterError(
            f"invalid parameter `key` = {key!r}: not a key field of the spec (keys: {keys})"
        )
    sub = copy.deepcopy(full)
    if key is None:
        sub["features"] = [f for f in full["features"] if f.get("kind") == "calendar"]
        sub["lateness"] = {"allowed": 10**15, "policy": "error"}
        sub["ttl"] = None
        sub["max_entities"] = None
    else:
        sub["features"] = [
            f
            for f in full["features"]
            if f.get("key") == key or (include_calendar and f.get("kind") == "calendar")
        ]
    if not sub["features"]:
        raise InvalidParameterError(
            f"invalid parameter `key` = {key!r}: the spec has no feature for it"
        )
    FeatureEngine(sub)  # validate
    return sub


def _input_columns(sdf: DataFrame, schema: dict[str, Any]) -> tuple[list[str], bool]:
    """Check the event columns of the spec; returns (columns the engine reads, has label)."""
    for k in schema["keys"]:
        _check_key(sdf, k)
    for n in schema["numeric"]:
        _check_numeric(sdf, n, "numeric field")
    label = schema.get("label")
    has_label = bool(label) and label in sdf.columns
    if has_label:
        _check_numeric(sdf, label, "label")
    cols = [schema["timestamp"], *schema["keys"], *schema["numeric"]]
    if has_label:
        cols.append(label)
    return cols, has_label


def _event_col(sdf: DataFrame, name: str) -> Any:
    """A column for the engine: decimals as float64 (pandas would see Python Decimal objects)."""
    if isinstance(_field(sdf, name, "event field").dataType, T.DecimalType):
        return F.col(name).cast(T.DoubleType()).alias(name)
    return F.col(name)


def _feature_schema(names: Sequence[str]) -> list[T.StructField]:
    return [T.StructField(n, T.DoubleType(), True) for n in names]


# ---------------------------------------------------------------------------------------- scoring

_DETECTORS = ("IsolationForest", "ZScore", "RobustZScore", "SupervisedClassifier")


def _model_kind(model: Any) -> str:
    kinds = [*_DETECTORS, "Pipeline"]
    for name in kinds:
        cls = getattr(fraud_core, name, None)
        if cls is not None and type(model) is cls:
            return name
    for name in kinds:  # subclasses
        cls = getattr(fraud_core, name, None)
        if cls is not None and isinstance(model, cls):
            return name
    raise InvalidParameterError(
        f"invalid parameter `model` = <{type(model).__name__}>: expected a fitted fraud_core model "
        f"({', '.join(k for k in kinds if hasattr(fraud_core, k))})"
    )


def _spark_type_of(values: Any) -> tuple[T.DataType, str]:
    """Spark type and conversion ('num', 'int', 'bool', 'str', 'json') of one result column."""
    kind = getattr(values.dtype, "kind", "O")
    if kind == "b":
        return T.BooleanType(), "bool"
    if kind in "iu":
        return T.LongType(), "int"
    if kind == "f":
        return T.DoubleType(), "num"
    first = next((v for v in values if v is not None), None)
    if isinstance(first, str):
        return T.StringType(), "str"
    if isinstance(first, (bool, np.bool_)):
        return T.BooleanType(), "bool"
    if isinstance(first, (int, np.integer)):
        return T.LongType(), "int"
    if isinstance(first, (float, np.floating)):
        return T.DoubleType(), "num"
    return T.StringType(), "json"  # lists, tuples, dicts (reason codes): JSON text


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if hasattr(v, "__dict__"):
        return {k: x for k, x in vars(v).items() if not k.startswith("_")}
    return str(v)


def _convert(values: Any, how: str) -> Any:
    import pandas as pd

    if how == "json":
        return pd.Series(
            [None if v is None else json.dumps(v, default=_json_default) for v in values],
            dtype=object,
        )
    if how == "str":
        return pd.Series([None if v is None else str(v) for v in values], dtype=object)
    if how == "bool":
        return pd.Series(np.asarray(values, dtype=bool))
    if how == "int":
        return pd.Series(np.asarray(values, dtype=np.int64))
    return pd.Series(np.asarray(values, dtype=np.float64))


def _load(kind: str, data: bytes) -> Any:
    return getattr(fraud_core, kind).from_bytes(data)


def score_dataframe(
    sdf: DataFrame,
    model: Any,
    feature_cols: Sequence[str],
    output_col: str = "score",
    *,
    method: str | None = None,
    reasons_k: int = 0,
    partition_by: str | None = None,
    order_by: Sequence[str] | None = None,
) -> DataFrame:
    """Score every row of a Spark DataFrame with a fitted fraud_core model, through ``mapInPandas``.

    The model's artifact bytes (``model.to_bytes()``) are captured in the UDF and loaded once per
    partition with ``from_bytes``; scores equal the model's own scoring on the same rows.

    Parameters
    ----------
    sdf:
        The rows to score; every input column is kept.
    model:
        A fitted ``IsolationForest``, ``ZScore``, ``RobustZScore``, ``SupervisedClassifier`` or,
        when the package has it, a ``Pipeline``.
    feature_cols:
        The model's input columns, in the model's feature order (checked against the model's
        ``feature_names_in_`` when it has one). For a ``Pipeline``: the event columns its
        ``score_batch`` reads.
    output_col:
        Name of the score column (detectors; float64).
    method:
        Detectors only: ``"score_samples"`` (default; for ``SupervisedClassifier`` the default is
        ``"predict_proba"``, the fraud probability), ``"decision_function"`` or ``"predict"``
        (an integer column: -1/1 for detectors, 0/1 for the classifier).
    reasons_k:
        ``IsolationForest`` only: add ``<output_col>_reasons``, the top ``reasons_k`` reason codes
        of ``top_reasons`` as an array of ``struct<feature: string, contribution: double>``.
    partition_by, order_by:
        Optional ``repartition(partition_by)`` and ``sortWithinPartitions(*order_by)`` before
        scoring. A ``Pipeline`` keeps per-entity feature state while it scores a partition,
        starting in each partition from its state at the time of this call (``to_bytes`` captures
        it): for features that follow the events exactly, use one partition in event-time order
        (as in the tests), or repartition by a key field when the spec has only that key.

    Returns
    -------
    The input DataFrame with ``output_col`` (and ``<output_col>_reasons``) appended; for a
    ``Pipeline``, with the columns of ``Pipeline.score_batch`` appended (numbers and flags as such,
    strings as strings, reason lists as JSON text).

    Raises ``SparkColumnError`` for a missing or non-numeric column, ``InvalidParameterError`` for
    an unknown model or method, ``NotFittedError`` for an unfitted model.
    """
    import pandas as pd

    kind = _model_kind(model)
    data = bytes(model.to_bytes())
    local = _load(kind, data)  # the executors' exact copy; also checks the bytes on the driver
    feature_cols = [str(c) for c in feature_cols]
    if not feature_cols:
        raise InvalidParameterError(
            "invalid parameter `feature_cols` = []: give the model's columns"
        )
    if len(set(feature_cols)) != len(feature_cols):
        raise InvalidParameterError(
            f"invalid parameter `feature_cols`: duplicates in {feature_cols}"
        )
    for c in feature_cols:
        if kind == "Pipeline":
            _field(sdf, c, "pipeline input")
        else:
            _check_numeric(sdf, c, "model feature")
    if partition_by is not None:
        _field(sdf, partition_by, "partition_by")
        sdf = sdf.repartition(partition_by)
    if order_by:
        for c in order_by:
            _check_orderable(sdf, c, "order_by")
        sdf = sdf.sortWithinPartitions(*order_by)

    if kind == "Pipeline":
        # The output types come from scoring one row with an empty-state copy (never "late").
        if hasattr(local, "reset_state"):
            local.reset_state()
        sample = sdf.select(*feature_cols).limit(1).toPandas()
        res = local.score_batch(sample)
        outs = [(str(c), *_spark_type_of(res[c])) for c in res.columns]
        for name, _, _ in outs:
            if name in sdf.columns:
                raise SparkColumnError(
                    f"column `{name}` (Pipeline.score_batch output) is already in the DataFrame"
                )
        schema = T.StructType(
            [*sdf.schema.fields, *(T.StructField(n, t, True) for n, t, _ in outs)]
        )

        def run_pipeline(it: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            pipe = _load(kind, data)
            for pdf in it:
                res = pipe.score_batch(pdf[feature_cols])
                out = pdf.reset_index(drop=True)
                for name, _, how in outs:
                    out[name] = _convert(res[name].to_numpy(), how)
                yield out

        return sdf.mapInPandas(run_pipeline, schema)

    # detectors
    n_in = getattr(local, "n_features_in_", None)
    if n_in is not None and n_in != len(feature_cols):
        raise InvalidParameterError(
            f"invalid parameter `feature_cols`: the model was fitted on {n_in} features, "
            f"got {len(feature_cols)} columns {feature_cols}"
        )
    names = getattr(local, "feature_names_in_", None)
    if names is not None and [str(n) for n in names] != feature_cols:
        raise InvalidParameterError(
            "invalid parameter `feature_cols`: the model was fitted on the columns "
            f"{[str(n) for n in names]} (in this order), got {feature_cols}"
        )
    use_names = names is not None
    if method is None:
        method = "predict_proba" if kind == "SupervisedClassifier" else "score_samples"
    allowed = {"score_samples", "decision_function", "predict"}
    if kind == "SupervisedClassifier":
        allowed = {"predict_proba", "predict"}
    if method not in allowed:
        raise InvalidParameterError(
            f"invalid parameter `method` = {method!r} for {kind}: expected one of {sorted(allowed)}"
        )
    if reasons_k and kind != "IsolationForest":
        raise InvalidParameterError(
            "invalid parameter `reasons_k`: reason codes need an IsolationForest"
        )
    if reasons_k < 0:
        raise InvalidParameterError(f"invalid parameter `reasons_k` = {reasons_k}: must be >= 0")
    reasons_col = f"{output_col}_reasons"
    new_cols = [output_col] + ([reasons_col] if reasons_k else [])
    for c in new_cols:
        if c in sdf.columns:
            raise SparkColumnError(f"column `{c}` (output) is already in the DataFrame")
    out_type: T.DataType = T.LongType() if method == "predict" else T.DoubleType()
    fields = [*sdf.schema.fields, T.StructField(output_col, out_type, True)]
    if reasons_k:
        fields.append(
            T.StructField(
                reasons_col,
                T.ArrayType(
                    T.StructType(
                        [
                            T.StructField("feature", T.StringType(), False),
                            T.StructField("contribution", T.DoubleType(), False),
                        ]
                    )
                ),
                True,
            )
        )
    schema = T.StructType(fields)
    feat_names = feature_cols

    def run_detector(it: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        det = _load(kind, data)
        for pdf in it:
            X = pdf[feature_cols]
            if not use_names:
                X = X.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                X = X.astype(np.float64)
            out = pdf.reset_index(drop=True)
            if len(out) == 0:
                out[output_col] = pd.Series([], dtype=np.float64)
                if reasons_k:
                    out[reasons_col] = pd.Series([], dtype=object)
                yield out
                continue
            if method == "predict_proba":
                s = det.predict_proba(X)[:, 1]
            else:
                s = getattr(det, method)(X)
            out[output_col] = np.asarray(
                s, dtype=np.int64 if out_type == T.LongType() else np.float64
            )
            if reasons_k:
                out[reasons_col] = [
                    [{"feature": feat_names[i], "contribution": float(c)} for i, c in row]
                    for row in det.top_reasons(X, k=reasons_k)
                ]
            yield out

    return sdf.mapInPandas(run_detector, schema)


# ---------------------------------------------------------------------------------------- backfill


def _key_groups(spec: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(key field, sub-spec) per key field used by a feature; calendar features go with the
    first key."""
    keys: list[str] = []
    for f in spec["features"]:
        k = f.get("key")
        if k is not None and k not in keys:
            keys.append(k)
    if not keys:
        return [(None, feature_subspec(spec, None))]
    return [(k, feature_subspec(spec, k, include_calendar=(i == 0))) for i, k in enumerate(keys)]


def backfill_features(
    sdf: DataFrame,
    spec: Any,
    *,
    id_col: str,
    order_col: str | None = None,
    key_secret: bytes | str | None = None,
    num_partitions: int | None = None,
    keep_input: bool = True,
) -> DataFrame:
    """Point-in-time features of a whole table on Spark: exact, key field by key field.

    For each key field of the spec (e.g. ``CUSTOMER_ID`` then ``TERMINAL_ID``) the event columns
    are repartitioned by that key, sorted within each partition by ``(event time, order_col)``,
    and one ``FeatureEngine`` per partition, restricted to that key's features
    (:func:`feature_subspec`), processes the partition in that order through ``mapInPandas``. The
    features of an entity depend only on its own events, and each partition sees all of them in
    global time order, so the values equal the single-machine ``FeatureEngine(spec).transform``
    of the table sorted by ``(time, order_col)``. Calendar features are computed once, in the first
    key's pass. The per-key results are joined to the input on ``id_col``.

    Requirements
    ------------
    * ``id_col``: a unique, non-null event id (the join key). Duplicates would multiply rows.
    * ``order_col`` (default ``id_col``): the tie-break among events with the same timestamp; it
      must follow the order in which the single-machine engine would see them (e.g. an increasing
      transaction id or ingestion sequence number). Do not use ``monotonically_increasing_id``:
      it is not stable across repartitioning or recomputation.
    * Each key's events are sorted here, so the spec's lateness policy never triggers; the result
      equals ``transform`` on the sorted table. (``transform`` on an unsorted table with lateness
      ``allowed`` > 0 places late events exactly, with the same values; beyond the allowed lateness
      it would refuse, drop or clamp them, which backfill does not reproduce.) Engine counters
      (``stats``) and ``max_entities`` LRU evictions are per partition, not global: with a
      ``max_entities`` cap that a single machine would reach, values can differ.

    Parameters
    ----------
    sdf: the events, with the spec's schema columns (label optional) plus ``id_col``.
    spec: a dict, JSON string, path, or a ``FeatureEngine`` (its spec; its state is not used).
    key_secret: hash entity keys in the engines (shipped to executors in the UDF closure).
    num_partitions: partitions per key pass (default ``spark.sql.shuffle.partitions``).
    keep_input: return the input columns plus the features (default) or ``id_col`` plus features.

    Returns a DataFrame with one float64 column per feature, in spec order (row order unspecified).
    Raises ``SparkColumnError`` for missing/wrongly typed columns, ``SpecError`` for a bad spec.
    """

    full = _spec_dict(spec)
    schema = full["schema"]
    order_col = order_col or id_col
    _check_orderable(sdf, id_col, "event id")
    _check_orderable(sdf, order_col, "order column")
    cols, _ = _input_columns(sdf, schema)
    time_col = schema["timestamp"]
    texpr, time_us = _time_expr(sdf, time_col, schema["time_unit"])
    for f in full["features"]:
        if f["name"] in sdf.columns and keep_input:
            raise SparkColumnError(
                f"column `{f['name']}` (a feature of the spec) is already in the DataFrame"
            )
    sort_col = _T_US if time_us else time_col
    carry = [id_col] + ([order_col] if order_col != id_col else [])
    select = [F.col(c) for c in carry if c not in cols]
    select += [_event_col(sdf, c) for c in cols if c != time_col] + [texpr]
    if time_us and time_col in carry:
        select.append(F.col(time_col))
    base = sdf.select(*select)
    id_field = _field(sdf, id_col, "event id")

    results = []
    for key, sub in _key_groups(full):
        sub_json = json.dumps(sub)
        names = [f["name"] for f in sub["features"]]
        out_schema = T.StructType([id_field, *_feature_schema(names)])

        def run(it: Iterator[pd.DataFrame], sub_json: str = sub_json) -> Iterator[pd.DataFrame]:
            engine = FeatureEngine(sub_json, key_secret=key_secret)
            for pdf in it:
                feats = engine.transform(_engine_frame(pdf, time_col, cols, time_us))
                feats.insert(0, id_col, pdf[id_col].to_numpy())
                yield feats.reset_index(drop=True)

        if key is None:
            part = base
        elif num_partitions:
            part = base.repartition(num_partitions, key)
        else:
            part = base.repartition(key)
        part = part.sortWithinPartitions(sort_col, order_col)
        results.append(part.mapInPandas(run, out_schema))

    out = sdf if keep_input else sdf.select(id_col)
    for r in results:
        out = out.join(r, on=id_col, how="inner")
    order = [c for c in (sdf.columns if keep_input else [id_col])]
    return out.select(*order, *(f["name"] for f in full["features"]))


# ---------------------------------------------------------------------------------------- streaming


def streaming_features(
    sdf: DataFrame,
    spec: Any,
    key: str,
    *,
    id_col: str | None = None,
    order_col: str | None = None,
    include_calendar: bool = True,
    key_secret: bytes | str | None = None,
    watermark_delay: str | None = "auto",
    state_timeout: str | None = None,
) -> DataFrame:
    """Stateful per-key features of a streaming DataFrame (Structured Streaming).

    ``sdf.groupBy(key).applyInPandasWithState``: the state of a key is the snapshot (bytes, a
    ``BinaryType`` state column) of a ``FeatureEngine`` restricted to that key's features
    (:func:`feature_subspec`, plus calendar features when ``include_calendar``). In each
    micro-batch a key's rows, which may arrive in several chunks and in any order, are sorted by
    ``(event time, order_col)`` before the engine processes them; the new snapshot is stored.
    The output equals the single-machine engine on the same events (time-ordered).

    A spec with several key fields (customer and terminal windows) needs one call per key field
    (join the outputs on the event id downstream, e.g. in ``foreachBatch``).

    Time to live: with ``watermark_delay`` (default ``"auto"``: the spec's allowed lateness plus
    1 ms, so an event exactly at the watermark is kept) the stream gets
    ``withWatermark(time, delay)`` and, when the spec has a ``ttl``, an event-time timeout at the
    key's newest event time + ttl: the state is removed when the watermark passes it (the spec
    guarantees the ttl exceeds every window, so this never changes a feature). Spark drops events
    behind the watermark before they reach the engine; within a key, the engine applies the
    spec's lateness policy relative to that key's newest event (events that pass the watermark
    are never behind it by more than the allowed lateness). A ``TimestampNTZType`` or epoch-number
    time gets a derived ``TimestampType`` column for the watermark (NTZ read in the session time
    zone). ``watermark_delay=None``: no watermark and no event-time timeout (state is kept until
    ``state_timeout``, if given). ``state_timeout`` (e.g. ``"2 hours"``): a processing-time
    timeout instead; it evicts idle keys by wall-clock time, which may change the features of
    keys that come back.

    Parameters
    ----------
    sdf: a streaming (or batch) DataFrame with the spec's schema columns.
    spec: a dict, JSON string, path or ``FeatureEngine``.
    key: the key field (a key of the spec's schema that has features).
    id_col: an event id carried to the output (recommended); also the default ``order_col``.
    order_col: the tie-break for equal timestamps (a sequence number); default ``id_col``.

    Returns a DataFrame to write with ``outputMode("append")``: ``id_col`` and ``order_col`` (if
    given), ``key``, the event-time column, then one float64 column per feature (spec order).
    Raises ``SparkColumnError`` for missing/wrongly typed columns, ``InvalidParameterError`` for a
    key without features, ``SpecError`` for a bad spec (all on the driver).
    """
    import pandas as pd
    from pyspark.sql.streaming.state import GroupStateTimeout

    full = _spec_dict(spec)
    schema = full["schema"]
    sub = feature_subspec(full, key, include_calendar=include_calendar)
    sub_json = json.dumps(sub)
    names = [f["name"] for f in sub["features"]]
    cols, _ = _input_columns(sdf, schema)
    time_col = schema["timestamp"]
    order_col = order_col or id_col
    carry: list[str] = []
    for c, role in ((id_col, "event id"), (order_col, "order column")):
        if c is not None and c not in carry:
            _check_orderable(sdf, c, role)
            carry.append(c)
    texpr, time_us = _time_expr(sdf, time_col, schema["time_unit"])
    ttl = full.get("ttl")
    lateness = int(full["lateness"]["allowed"])

    if watermark_delay == "auto":
        watermark_delay = f"{lateness + 1} milliseconds"
    # Spark watermarks need a TimestampType column: the time itself, or a derived instant for a
    # TimestampNTZType (read in the session time zone) or epoch-number time column.
    tdt = _field(sdf, time_col, "event time").dataType
    wm_col = time_col
    if watermark_delay is not None and not isinstance(tdt, T.TimestampType):
        wm_col = _WM_TS
        if isinstance(tdt, (T.TimestampNTZType, T.DateType)):
            sdf = sdf.withColumn(wm_col, F.col(time_col).cast(T.TimestampType()))
        elif schema["time_unit"] == "s":
            sdf = sdf.withColumn(wm_col, F.timestamp_seconds(F.col(time_col)))
        else:
            sdf = sdf.withColumn(wm_col, F.timestamp_millis(F.col(time_col)))
    if watermark_delay is not None:
        sdf = sdf.withWatermark(wm_col, watermark_delay)

    if state_timeout is not None:
        timeout = GroupStateTimeout.ProcessingTimeTimeout
    elif ttl is not None and watermark_delay is not None:
        timeout = GroupStateTimeout.EventTimeTimeout
    else:
        timeout = GroupStateTimeout.NoTimeout

    select = [F.col(c) for c in carry if c not in cols]
    select += [_event_col(sdf, c) for c in cols if c != time_col]
    # TimestampType: the column (for the output) plus epoch microseconds for the engine
    select += [F.col(time_col), texpr] if time_us else [texpr]
    if wm_col != time_col:
        select.append(F.col(wm_col))
    if timeout == GroupStateTimeout.EventTimeTimeout:  # the timeout is set in watermark time
        select.append(F.unix_micros(F.col(wm_col)).alias(_WM_US))
    src = sdf.select(*select)
    out_cols = [*carry, *([key] if key not in carry else []), time_col]
    out_fields = [_field(src, c, "output") for c in out_cols]
    out_schema = T.StructType([*out_fields, *_feature_schema(names)])
    state_schema = T.StructType(
        [
            T.StructField("snapshot", T.BinaryType(), False),
            T.StructField("newest_ms", T.LongType(), False),
        ]
    )
    sort_col = _T_US if time_us else time_col
    sort_by = [sort_col] + ([order_col] if order_col else [])
    engine_time_col = time_col
    event_timeout = timeout == GroupStateTimeout.EventTimeTimeout
    ttl_ms = int(ttl) if ttl is not None else 0

    def step(
        keys: tuple[Any, ...], chunks: Iterator[pd.DataFrame], state: Any
    ) -> Iterator[pd.DataFrame]:
        if state.hasTimedOut:
            state.remove()
            return
        pdf = pd.concat(list(chunks), ignore_index=True)
        if len(pdf) == 0:
            return
        pdf = pdf.sort_values(sort_by, kind="stable", ignore_index=True)
        if state.exists:
            engine = FeatureEngine.restore(state.get[0], key_secret=key_secret)
        else:
            engine = FeatureEngine(sub_json, key_secret=key_secret)
        frame = _engine_frame(pdf, engine_time_col, cols, time_us)
        feats = engine.transform(frame)
        newest = int(pdf[_WM_US].max()) // 1000 if event_timeout else 0
        if state.exists:
            newest = max(newest, int(state.get[1]))
        state.update((engine.snapshot(), newest))
        if event_timeout:
            # Evict when the watermark passes the key's newest event + ttl (in watermark time).
            wm = int(state.getCurrentWatermarkMs())
            state.setTimeoutTimestamp(max(newest + ttl_ms, wm + 1))
        elif timeout == GroupStateTimeout.ProcessingTimeTimeout:
            state.setTimeoutDuration(state_timeout)
        out = pdf[out_cols].reset_index(drop=True)
        for n in names:
            out[n] = feats[n].to_numpy()
        yield out

    return src.groupBy(key).applyInPandasWithState(
        step, out_schema, state_schema, "append", timeout
    )
