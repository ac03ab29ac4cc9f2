"""fraud_core.spark.streaming_features: Structured Streaming over several micro-batches."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip(
    "pyspark", reason="SKIPPED: pyspark is not installed (pip install pyspark pyarrow 'pandas<3')"
)

import fraud_core  # noqa: E402
from fraud_core import spark as fcs  # noqa: E402


def _run_stream(spark, tmp_path, spec, batches, key, name, utc):
    """Write each batch as one parquet file, stream them one file per micro-batch, collect.

    ``utc``: write tz-aware UTC times (Spark reads a TimestampType column) or naive ones (a
    TimestampNTZType column)."""
    src = tmp_path / f"in_{name}"
    src.mkdir()
    for i, b in enumerate(batches):
        if utc:
            b = b.assign(TX_DATETIME=b["TX_DATETIME"].dt.tz_localize("UTC"))
        b = b.assign(
            TX_DATETIME=b["TX_DATETIME"].astype("datetime64[us, UTC]" if utc else "datetime64[us]")
        )
        b.to_parquet(src / f"part-{i:03d}.parquet", index=False)
    schema = spark.read.parquet(str(src / "part-000.parquet")).schema
    want = "timestamp" if utc else "timestamp_ntz"
    assert schema["TX_DATETIME"].dataType.simpleString() == want
    stream = spark.readStream.schema(schema).option("maxFilesPerTrigger", 1).parquet(str(src))
    feats = fcs.streaming_features(stream, spec, key, id_col="TRANSACTION_ID")
    q = (
        feats.writeStream.format("memory")
        .queryName(name)
        .outputMode("append")
        .option("checkpointLocation", str(tmp_path / f"ckpt_{name}"))
        .trigger(availableNow=True)
        .start()
    )
    q.awaitTermination(240)
    n_batches = len([p for p in q.recentProgress if p["numInputRows"] > 0])
    states = [
        p["stateOperators"][0]["numRowsTotal"] for p in q.recentProgress if p["stateOperators"]
    ]
    removed = sum(
        p["stateOperators"][0].get("numRowsRemoved", 0)
        for p in q.recentProgress
        if p["stateOperators"]
    )
    out = spark.sql(f"select * from {name}").toPandas()
    q.stop()
    return out, n_batches, states, removed


def _batches(transactions, day_cuts, seed):
    """Split by day (cut points in days from the first day) into consecutive micro-batches and
    shuffle the rows inside each batch: a key's rows arrive in any order within a batch."""
    day = (transactions["TX_DATETIME"] - transactions["TX_DATETIME"].iloc[0].floor("D")).dt.days
    out = []
    for i, (lo, hi) in enumerate(zip(day_cuts[:-1], day_cuts[1:], strict=True)):
        b = transactions[(day >= lo) & (day < hi)]
        if len(b):
            out.append(b.sample(frac=1.0, random_state=seed + i))
    return out


def test_streaming_customer_features_equal_single_machine(spark, tmp_path, spec, transactions):
    data = transactions.drop(columns=["TX_FRAUD_SCENARIO"])
    batches = _batches(data, [0, 20, 40, 60, 75], seed=1)
    assert len(batches) == 4
    out, n_batches, states, removed = _run_stream(
        spark, tmp_path, spec, batches, "CUSTOMER_ID", "cust", utc=True
    )
    assert n_batches == len(batches)
    expected = fraud_core.FeatureEngine(spec).transform(data)
    got = out.sort_values("TRANSACTION_ID").reset_index(drop=True)
    assert len(got) == len(data)
    np.testing.assert_array_equal(
        got["TRANSACTION_ID"].to_numpy(), data["TRANSACTION_ID"].to_numpy()
    )
    names = [f["name"] for f in fcs.feature_subspec(spec, "CUSTOMER_ID")["features"]]
    assert list(got.columns) == ["TRANSACTION_ID", "CUSTOMER_ID", "TX_DATETIME", *names]
    for n in names:
        np.testing.assert_array_equal(got[n].to_numpy(), expected[n].to_numpy(), err_msg=n)
    assert max(states) <= data["CUSTOMER_ID"].nunique()


def test_streaming_terminal_features_with_ttl_timeouts(spark, tmp_path, spec, transactions):
    # The spec's ttl is 37d (7d delay + 30d window). A 100-day gap after day 37, and a third of the
    # terminals silent during the 15 days after the gap: in the micro-batch of days 44-52 the
    # watermark has passed their newest event + ttl and they have no rows, so their state is
    # removed on timeout; they come back afterwards with a fresh engine, which must give exactly
    # what the single-machine engine gives after its own ttl eviction.
    data = transactions.drop(columns=["TX_FRAUD_SCENARIO"]).copy()
    day = (data["TX_DATETIME"] - data["TX_DATETIME"].iloc[0].floor("D")).dt.days
    data = data[~((day >= 37) & (day < 52) & (data["TERMINAL_ID"] % 3 == 0))]
    after = data["TX_DATETIME"] >= data["TX_DATETIME"].iloc[0].floor("D") + np.timedelta64(37, "D")
    data.loc[after, "TX_DATETIME"] += np.timedelta64(100, "D")
    data = data.reset_index(drop=True)
    batches = _batches(data, [0, 15, 37, 137 + 7, 137 + 15, 137 + 26, 137 + 38], seed=2)
    assert len(batches) == 6
    out, n_batches, states, removed = _run_stream(
        spark, tmp_path, spec, batches, "TERMINAL_ID", "term", utc=False
    )
    assert removed > 0, "no state was removed by the event-time timeout"
    engine = fraud_core.FeatureEngine(spec)
    expected = engine.transform(data)
    assert engine.stats["ttl_evictions"] > 0
    got = out.sort_values("TRANSACTION_ID").reset_index(drop=True)
    assert len(got) == len(data)
    names = [
        f["name"]
        for f in fcs.feature_subspec(spec, "TERMINAL_ID", include_calendar=False)["features"]
    ]
    for n in names:
        np.testing.assert_array_equal(got[n].to_numpy(), expected[n].to_numpy(), err_msg=n)


def test_streaming_errors(spark, spec, transactions):
    sdf = spark.createDataFrame(transactions.head(10))
    with pytest.raises(fraud_core.InvalidParameterError, match="TX_AMOUNT"):
        fcs.streaming_features(sdf, spec, "TX_AMOUNT")
    with pytest.raises(fcs.SparkColumnError, match="`ID`"):
        fcs.streaming_features(sdf, spec, "CUSTOMER_ID", id_col="ID")
    with pytest.raises(fcs.SparkColumnError, match="`CUSTOMER_ID`"):
        fcs.streaming_features(sdf.drop("CUSTOMER_ID"), spec, "TERMINAL_ID")
