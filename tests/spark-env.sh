#!/usr/bin/env bash
# Installs what the Spark tests (fraud-py/tests/spark) and the notebook tests
# (fraud-py/tests/test_notebooks.py) need into a Python environment, and checks for Java.
#
#   bash tests/spark-env.sh [PYTHON]     # default: .venv/bin/python
#
# pyspark 4.x warns on pandas >= 3, so pandas stays < 3 here. Java 17 must be on PATH (or JAVA_HOME
# set): without it the Spark tests skip themselves with a loud reason.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${1:-.venv/bin/python}"
"$py" -m pip install --quiet "pyspark==4.3.0" "pyarrow>=15,<27" "pandas<3" \
    "nbclient>=0.10,<0.12" "nbformat>=5.10,<6" "ipykernel>=6.29,<8" "matplotlib>=3.8,<4"
if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
    printf '\n!!! Java not found: the Spark tests and the Spark notebook will be SKIPPED\n'
    printf '!!! (install a Java 17 runtime, e.g. apt-get install openjdk-17-jre-headless)\n\n'
else
    java -version 2>&1 | head -1
fi
"$py" -c 'import pyspark, pyarrow, pandas; print("pyspark", pyspark.__version__, "pyarrow", pyarrow.__version__, "pandas", pandas.__version__)'
