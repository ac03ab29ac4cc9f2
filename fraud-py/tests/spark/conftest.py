"""Fixtures for the Spark tests: one local PySpark session (local[2], loopback only, 2 shuffle
partitions, UTC) for the whole run, and a small simulated handbook-style table.

Every test module here starts with ``pytest.importorskip("pyspark")``, so the folder is skipped
(with that reason) where pyspark is not installed; Java 17 is needed too (skipped without ``java``).
The Spark environment: ``pip install "pyspark==4.3.0" pyarrow "pandas<3"``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SPEC_PATH = REPO_ROOT / "datasets" / "specs" / "handbook.json"
sys.path.insert(0, str(REPO_ROOT / "examples"))


def make_spark(app: str = "fraud_core-tests"):
    """A small local session: 2 cores, 2 shuffle partitions, loopback, no UI, UTC."""
    # Python workers must run this interpreter (it has fraud_core, pandas and pyarrow).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName(app)
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.python.worker.reuse", "true")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )


@pytest.fixture(scope="session")
def spark():
    """The shared local SparkSession (skipped loudly without Java)."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("SKIPPED: Spark tests need Java 17 (no `java` on PATH, no JAVA_HOME)")
    session = make_spark()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spec() -> dict:
    import json

    return json.loads(SPEC_PATH.read_text())


@pytest.fixture(scope="session")
def transactions():
    """~38k handbook-style transactions (250 customers, 60 terminals, 75 days; 10-minute times,
    so many equal timestamps)."""
    from simulate import simulate_transactions

    return simulate_transactions(
        n_customers=250, n_terminals=60, n_days=75, seed=11, time_resolution_s=600
    )
