"""Benchmark: fraud_core.spark on local PySpark (local[2]) beside the same work in one process.

Same simulated handbook-style table for both sides (``examples/simulate.py``). The table is written
to parquet first and Spark reads it, so the driver-to-JVM transfer is not counted; Spark results go
to the ``noop`` sink (computed, not collected). Times are the best of ``--repeat`` runs after one
warm-up run (Python workers started, JIT warm).

* backfill: ``FeatureEngine(handbook).transform(pdf)`` vs ``spark.backfill_features(sdf, ...)``
  (2 key passes: customer and terminal, joined on TRANSACTION_ID),
* scoring: ``IsolationForest(100 trees).score_samples(X)`` (one thread, ``n_jobs=1``) vs
  ``spark.score_dataframe`` on the feature table.

    /work/venv/bin/python benches/python/bench_spark.py [--customers 2000] [--terminals 800]
        [--days 90] [--repeat 2]

Needs pyspark 4.x, pyarrow, pandas<3 and Java 17. local[2] with 2 shuffle partitions, loopback only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

import fraud_core  # noqa: E402
from simulate import simulate_transactions  # noqa: E402

SPEC = ROOT / "datasets" / "specs" / "handbook.json"


def best(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--terminals", type=int, default=800)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from fraud_core import spark as fcs
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")

    tx = simulate_transactions(args.customers, args.terminals, args.days, seed=0)
    n = len(tx)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"rows {n:,} ({args.customers} customers, {args.terminals} terminals, {args.days} days); "
        f"pyspark {spark.version}, local[2], shuffle partitions 2"
    )
    work = Path(tempfile.mkdtemp(prefix="bench_spark_"))
    # microsecond naive datetimes: Spark reads a TIMESTAMP_NTZ column (nanoseconds are refused)
    tx.assign(TX_DATETIME=tx["TX_DATETIME"].astype("datetime64[us]")).to_parquet(
        work / "tx.parquet", index=False
    )
    sdf = spark.read.parquet(str(work / "tx.parquet"))

    # ---- backfill
    engine_spec = str(SPEC)
    t_local = best(lambda: fraud_core.FeatureEngine(engine_spec).transform(tx), args.repeat)
    feats = fraud_core.FeatureEngine(engine_spec).transform(tx)

    def spark_backfill() -> None:
        fcs.backfill_features(sdf, engine_spec, id_col="TRANSACTION_ID").write.format("noop").mode(
            "overwrite"
        ).save()

    t_spark = best(spark_backfill, args.repeat)
    print(f"backfill  single-process transform {t_local:7.3f} s ({n / t_local:>12,.0f} rows/s)")
    print(
        f"backfill  spark local[2]           {t_spark:7.3f} s ({n / t_spark:>12,.0f} rows/s)"
        f"  spark/single = {t_spark / t_local:.1f}x"
    )

    # ---- scoring
    names = list(feats.columns)
    X = feats.fillna(0.0)
    Xn = X.to_numpy()
    forest = fraud_core.IsolationForest(n_estimators=100, random_state=0, n_jobs=1).fit(Xn)
    t_local_s = best(lambda: forest.score_samples(Xn), args.repeat)
    X.assign(TRANSACTION_ID=tx["TRANSACTION_ID"].to_numpy()).to_parquet(
        work / "X.parquet", index=False
    )
    sX = spark.read.parquet(str(work / "X.parquet"))

    def spark_score() -> None:
        fcs.score_dataframe(sX, forest, names).write.format("noop").mode("overwrite").save()

    t_spark_s = best(spark_score, args.repeat)
    print(
        f"scoring   single-process (1 thread)  {t_local_s:7.3f} s ({n / t_local_s:>12,.0f} rows/s)"
    )
    print(
        f"scoring   spark local[2]             {t_spark_s:7.3f} s ({n / t_spark_s:>12,.0f} rows/s)"
        f"  spark/single = {t_spark_s / t_local_s:.1f}x"
    )
    spark.stop()


if __name__ == "__main__":
    main()
