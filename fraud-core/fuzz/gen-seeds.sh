#!/usr/bin/env bash
# Regenerate the committed seed corpus (fraud-core/fuzz/seeds/<target>/, < 200 KB) from the
# current code: small fitted models of every artifact kind, engine snapshots, specs, events and
# operation streams. Deterministic. Needs only a Rust toolchain (stable works).
set -euo pipefail
cd "$(dirname "$0")"
cargo run --release --example gen_seeds
