#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: formatting and lints, the Rust suites (unit,
# integration, doctests including the README's Rust quickstart), the Python suite against a freshly
# built wheel (including the README's Python quickstart), the WASM package's Node tests and its
# browser check in headless Chromium, and a 30-second smoke run of each fuzz target
# (tests/fuzz-smoke.sh).
# Installs what it needs: a Python virtualenv in .venv with maturin, numpy, pandas, scikit-learn,
# joblib, pytest, pyspark, pyarrow and the notebook runner (tests/spark-env.sh); the wasm32 target,
# wasm-bindgen-cli and the npm package binaryen (wasm-opt); Debian's chromium for the browser check.
#
# Environment: FRAUD_DATASETS overrides the shared data folder (default ../shared/datasets);
# PYTHON selects the interpreter used to create the virtualenv (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
step() { printf '\n==== %s ====\n' "$*"; }
started=$(date +%s)

step "toolchain"
cargo --version
rustc --version
"${PYTHON:-python3}" --version

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "Rust tests (unit, integration, doctests, README quickstart)"
# fraud-py is tested through Python below (its tests need a Python interpreter to link against).
cargo test --workspace --exclude fraud-py

step "Python environment (.venv)"
if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "maturin==1.16.0" numpy "pandas<3" scikit-learn joblib pytest
# Local PySpark (Java 17) and the notebook runner for fraud-py/tests/spark and the notebooks.
bash tests/spark-env.sh .venv/bin/python

step "build and install the fraud_core wheel"
rm -rf target/wheels
(cd fraud-py && "$root/.venv/bin/maturin" build --release --quiet --out "$root/target/wheels")
.venv/bin/python -m pip install --quiet --force-reinstall --no-deps target/wheels/fraud_core-*.whl

step "Python tests"
.venv/bin/python -m pytest -q fraud-py/tests

step "WASM package (fraud-wasm) and its Node tests"
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    && ! rustup target add wasm32-unknown-unknown; then
    printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
    printf '!!! WASM SKIPPED: the wasm32-unknown-unknown target cannot be installed here\n'
    printf '!!! (rustup target add failed); the WASM package was neither built nor tested.\n'
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n'
else
    bash fraud-wasm/build.sh
    (cd fraud-wasm && node --test tests/)
    # The web build in headless Chromium (Debian's package, installed when missing; a loud
    # BROWSER SKIPPED when it cannot be).
    bash fraud-wasm/browser/run.sh
    # A pipeline fitted in Python scores the same in the freshly built package (skipped above,
    # when the package was not built yet; required here).
    FRAUD_REQUIRE_WASM=1 .venv/bin/python -m pytest -q fraud-py/tests/test_wasm_parity.py
fi

step "fuzz smoke: each cargo-fuzz target for 30 s (nightly toolchain; loud FUZZ SKIPPED without it)"
bash tests/fuzz-smoke.sh

step "done in $(( $(date +%s) - started )) s"
