"""Execute the example notebooks (examples/notebooks/*.ipynb) so that they never rot.

Needs nbclient, nbformat, ipykernel and matplotlib (skipped, loudly, without them); the Spark
notebook also needs pyspark, pyarrow and Java (skipped, loudly, without them). Each cell has a
time limit; the notebooks run in a kernel of this interpreter from their own folder.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "examples" / "notebooks"
CELL_TIMEOUT_S = 300

_MISSING = [
    m
    for m in ("nbclient", "nbformat", "ipykernel", "matplotlib")
    if importlib.util.find_spec(m) is None
]


def _run(name: str) -> None:
    if _MISSING:
        pytest.skip(
            f"SKIPPED: notebook tests need {', '.join(_MISSING)} "
            "(pip install nbclient nbformat ipykernel matplotlib)"
        )
    import nbformat
    from nbclient import NotebookClient

    path = NOTEBOOKS / name
    nb = nbformat.read(path, as_version=4)
    env_before = dict(os.environ)
    # the kernel and Spark's Python workers must use this interpreter
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        client = NotebookClient(
            nb,
            timeout=CELL_TIMEOUT_S,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors, errors


def test_quickstart_notebook() -> None:
    _run("quickstart.ipynb")


def test_spark_notebook() -> None:
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("pyarrow") is None:
        pytest.skip(
            "SKIPPED: the Spark notebook needs pyspark and pyarrow "
            "(pip install 'pyspark==4.3.0' pyarrow 'pandas<3'); fraud_core.spark was NOT exercised"
        )
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("SKIPPED: the Spark notebook needs Java 17 (no `java` on PATH, no JAVA_HOME)")
    _run("spark.ipynb")
