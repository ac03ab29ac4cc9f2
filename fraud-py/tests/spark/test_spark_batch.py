"""fraud_core.spark batch functions on local PySpark: scoring and the distributed backfill."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip(
    "pyspark", reason="SKIPPED: pyspark is not installed (pip install pyspark pyarrow 'pandas<3')"
)

import fraud_core  # noqa: E402
from fraud_core import spark as fcs  # noqa: E402


def _features(spec, df):
    return fraud_core.FeatureEngine(spec).transform(df)


# ------------------------------------------------------------------------------------- backfill


def test_backfill_equals_single_machine_transform(spark, spec, transactions):
    expected = _features(spec, transactions)
    # Shuffle the input rows: Spark must restore (time, id) order per key by itself.
    shuffled = transactions.sample(frac=1.0, random_state=3)
    sdf = spark.createDataFrame(shuffled).repartition(3)
    out = fcs.backfill_features(sdf, spec, id_col="TRANSACTION_ID")
    got = out.toPandas().sort_values("TRANSACTION_ID").reset_index(drop=True)
    assert len(got) == len(transactions)
    names = fraud_core.FeatureEngine(spec).feature_names
    assert list(got.columns) == list(transactions.columns) + names
    np.testing.assert_array_equal(
        got["TRANSACTION_ID"].to_numpy(), transactions["TRANSACTION_ID"].to_numpy()
    )
    for n in names:
        np.testing.assert_array_equal(got[n].to_numpy(), expected[n].to_numpy(), err_msg=n)


def test_backfill_sub_specs_split_by_key(spec):
    sub_c = fcs.feature_subspec(spec, "CUSTOMER_ID")
    sub_t = fcs.feature_subspec(spec, "TERMINAL_ID", include_calendar=False)
    names_c = [f["name"] for f in sub_c["features"]]
    names_t = [f["name"] for f in sub_t["features"]]
    assert names_c[:2] == ["TX_DURING_WEEKEND", "TX_DURING_NIGHT"]
    assert all(n.startswith("CUSTOMER_ID") for n in names_c[2:])
    assert all(n.startswith("TERMINAL_ID") for n in names_t)
    assert len(names_c) + len(names_t) == len(spec["features"])
    with pytest.raises(fraud_core.InvalidParameterError, match="TX_AMOUNT"):
        fcs.feature_subspec(spec, "TX_AMOUNT")


def test_backfill_keep_input_false_and_epoch_ms_spec(spark, spec, transactions):
    # Same spec in epoch milliseconds: integer time column, a custom order column.
    ms_spec = dict(spec, schema=dict(spec["schema"], time_unit="ms"))
    pdf = transactions.drop(columns=["TX_FRAUD_SCENARIO"]).copy()
    pdf["TX_DATETIME"] = pdf["TX_DATETIME"].astype("datetime64[ms]").astype("int64")
    pdf["SEQ"] = pdf["TRANSACTION_ID"] * 10
    pdf["TRANSACTION_ID"] = pdf["TRANSACTION_ID"].map(lambda i: f"tx-{i}")
    expected = _features(ms_spec, pdf.drop(columns=["SEQ"]).assign(TRANSACTION_ID=0))
    sdf = spark.createDataFrame(pdf)
    # a decimal amount column is read as float64 (2 decimals: the same doubles)
    sdf = sdf.withColumn("TX_AMOUNT", sdf["TX_AMOUNT"].cast("decimal(12,2)"))
    out = fcs.backfill_features(
        sdf,
        ms_spec,
        id_col="TRANSACTION_ID",
        order_col="SEQ",
        keep_input=False,
        num_partitions=3,
    ).toPandas()
    out["n"] = out["TRANSACTION_ID"].str[3:].astype(int)
    out = out.sort_values("n").reset_index(drop=True)
    assert list(out.columns[:-1]) == ["TRANSACTION_ID", *expected.columns]
    for n in expected.columns:
        np.testing.assert_array_equal(out[n].to_numpy(), expected[n].to_numpy(), err_msg=n)


def test_backfill_clear_errors(spark, spec, transactions):
    sdf = spark.createDataFrame(transactions.head(50))
    with pytest.raises(fcs.SparkColumnError, match="`EVENT_ID`"):
        fcs.backfill_features(sdf, spec, id_col="EVENT_ID")
    with pytest.raises(fcs.SparkColumnError, match="`TX_AMOUNT`"):
        fcs.backfill_features(sdf.drop("TX_AMOUNT"), spec, id_col="TRANSACTION_ID")
    bad = sdf.withColumn("TX_AMOUNT", sdf["TX_AMOUNT"].cast("string"))
    with pytest.raises(fcs.SparkColumnError, match="`TX_AMOUNT`.*numeric"):
        fcs.backfill_features(bad, spec, id_col="TRANSACTION_ID")
    bad = sdf.withColumn("TX_DATETIME", sdf["TX_DATETIME"].cast("string"))
    with pytest.raises(fcs.SparkColumnError, match="`TX_DATETIME`"):
        fcs.backfill_features(bad, spec, id_col="TRANSACTION_ID")
    with pytest.raises(fraud_core.SpecError):
        fcs.backfill_features(sdf, {"schema": {}}, id_col="TRANSACTION_ID")
    assert issubclass(fcs.SparkColumnError, ValueError)
    assert issubclass(fcs.SparkColumnError, fraud_core.FraudError)


# ------------------------------------------------------------------------------------- scoring


@pytest.fixture(scope="module")
def feature_table(spec, transactions):
    feats = _features(spec, transactions)
    return feats.assign(TRANSACTION_ID=transactions["TRANSACTION_ID"].to_numpy())


def test_score_dataframe_isolation_forest(spark, feature_table):
    cols = [c for c in feature_table.columns if c != "TRANSACTION_ID"]
    X = feature_table[cols].fillna(0.0)
    table = X.assign(TRANSACTION_ID=feature_table["TRANSACTION_ID"])
    model = fraud_core.IsolationForest(n_estimators=50, random_state=0).fit(X)
    out = fcs.score_dataframe(spark.createDataFrame(table).repartition(3), model, cols, reasons_k=2)
    got = out.toPandas().sort_values("TRANSACTION_ID").reset_index(drop=True)
    np.testing.assert_array_equal(got["score"].to_numpy(), model.score_samples(X))
    reasons = model.top_reasons(X, k=2)
    for i in (0, 1, len(got) - 1):
        assert [(r["feature"], r["contribution"]) for r in got["score_reasons"][i]] == [
            (cols[j], c) for j, c in reasons[i]
        ]
    dec = fcs.score_dataframe(
        spark.createDataFrame(table), model, cols, "d", method="decision_function"
    )
    got = dec.toPandas().sort_values("TRANSACTION_ID")
    np.testing.assert_array_equal(got["d"].to_numpy(), model.decision_function(X))


def test_score_dataframe_numpy_fitted_zscore_and_supervised(spark, feature_table, transactions):
    cols = [
        "CUSTOMER_ID_NB_TX_1DAY_WINDOW",
        "CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW",
        "TX_DURING_NIGHT",
    ]
    X = feature_table[cols].to_numpy()
    sdf = spark.createDataFrame(feature_table[cols + ["TRANSACTION_ID"]])
    z = fraud_core.RobustZScore().fit(X)
    got = fcs.score_dataframe(sdf, z, cols).toPandas().sort_values("TRANSACTION_ID")
    np.testing.assert_array_equal(got["score"].to_numpy(), z.score_samples(X))
    y = transactions["TX_FRAUD"].to_numpy()
    clf = fraud_core.SupervisedClassifier(random_state=0).fit(X, y)
    got = fcs.score_dataframe(sdf, clf, cols, "p").toPandas().sort_values("TRANSACTION_ID")
    np.testing.assert_array_equal(got["p"].to_numpy(), clf.predict_proba(X)[:, 1])


def test_score_dataframe_errors(spark, feature_table):
    cols = ["CUSTOMER_ID_NB_TX_1DAY_WINDOW", "TX_DURING_NIGHT"]
    model = fraud_core.IsolationForest(n_estimators=10, random_state=0).fit(feature_table[cols])
    sdf = spark.createDataFrame(feature_table[cols + ["TRANSACTION_ID"]].head(20))
    with pytest.raises(fcs.SparkColumnError, match="`NOPE`"):
        fcs.score_dataframe(sdf, model, ["NOPE", "TX_DURING_NIGHT"])
    with pytest.raises(fraud_core.InvalidParameterError, match="fitted on the columns"):
        fcs.score_dataframe(sdf, model, cols[::-1])
    with pytest.raises(fcs.SparkColumnError, match="`TRANSACTION_ID`"):
        fcs.score_dataframe(sdf, model, cols, output_col="TRANSACTION_ID")
    with pytest.raises(fraud_core.InvalidParameterError, match="model"):
        fcs.score_dataframe(sdf, object(), cols)
    with pytest.raises(fraud_core.NotFittedError):
        fcs.score_dataframe(sdf, fraud_core.IsolationForest(), cols)
    s = sdf.withColumn("TX_DURING_NIGHT", sdf["TX_DURING_NIGHT"].cast("string"))
    with pytest.raises(fcs.SparkColumnError, match="`TX_DURING_NIGHT`.*numeric"):
        fcs.score_dataframe(s, model, cols)


@pytest.mark.skipif(not hasattr(fraud_core, "Pipeline"), reason="fraud_core.Pipeline is not built")
def test_score_dataframe_pipeline(spark, spec, transactions):
    events = transactions.drop(columns=["TX_FRAUD_SCENARIO"])
    day = (events["TX_DATETIME"] - events["TX_DATETIME"].iloc[0]).dt.days
    # Training spans less than the spec's ttl (37 days), so the artifact holds no evicted entity.
    train = events[day < 30].reset_index(drop=True)
    test = events[(day >= 30) & (day < 45)].reset_index(drop=True)
    pipe = fraud_core.Pipeline(
        {
            "features": spec,
            "detectors": [
                {"kind": "isolation_forest", "n_estimators": 30, "random_state": 1},
                {"kind": "zscore", "weight": 0.5},
            ],
            "alert": {"target_alert_rate": 0.02},
            "reasons": 2,
        }
    ).fit(train)
    # score a copy: score_batch advances the pipeline's feature state, which to_bytes captures
    expected = fraud_core.Pipeline.from_bytes(pipe.to_bytes()).score_batch(test)
    cols = list(test.columns)
    # One partition in time order: the pipeline's per-entity feature state (restored from the
    # artifact, i.e. where training ended) follows the events exactly as in the local call.
    out = fcs.score_dataframe(
        spark.createDataFrame(test.sample(frac=1.0, random_state=0)).repartition(1),
        pipe,
        cols,
        order_by=["TX_DATETIME", "TRANSACTION_ID"],
    )
    got = out.toPandas().sort_values("TRANSACTION_ID").reset_index(drop=True)
    assert list(got.columns) == cols + list(expected.columns)
    assert {"risk", "is_alert"} <= set(expected.columns)
    for c in expected.columns:
        np.testing.assert_array_equal(got[c].to_numpy(), expected[c].to_numpy(), err_msg=c)
    assert out.schema["is_alert"].dataType.simpleString() == "boolean"
