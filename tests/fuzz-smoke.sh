#!/usr/bin/env bash
# Fuzz smoke test: build the cargo-fuzz targets of fraud-core/fuzz and run each for a short time
# (FUZZ_SECONDS, default 30), failing on the first crash. Needs the nightly toolchain; without it
# this prints a loud "FUZZ SKIPPED" banner and exits 0.
#
#   bash tests/fuzz-smoke.sh                          # every target, 30 s each
#   FUZZ_SECONDS=600 bash tests/fuzz-smoke.sh         # the 10-minute runs of the README
#   FUZZ_TARGETS="engine_stateful" bash tests/fuzz-smoke.sh
#   FUZZ_KEEP_GOING=1 ...                             # run every target even after a crash
#
# Inputs that crash are written to fraud-core/fuzz/artifacts/<target>/; see fraud-core/fuzz/README.md
# for reproducing and minimising them. New corpus entries go to fraud-core/fuzz/corpus/<target>/
# (ignored by git); the committed seeds are in fraud-core/fuzz/seeds/<target>/.
set -uo pipefail

cd "$(dirname "$0")/../fraud-core/fuzz"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
TARGETS="${FUZZ_TARGETS:-artifact_decode feature_spec_json event_decode snapshot_restore engine_stateful}"
LOG_DIR="${FUZZ_LOG_DIR:-target/fuzz-logs}"

skip() {
    printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
    printf '!!! FUZZ SKIPPED: %s\n' "$1"
    printf '!!! The fuzz targets in fraud-core/fuzz were neither built nor run.\n'
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n'
    exit 0
}

if ! cargo +nightly --version >/dev/null 2>&1; then
    skip "no nightly toolchain (cargo +nightly --version failed); install it with 'rustup toolchain install nightly'"
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    if ! cargo install cargo-fuzz --locked; then
        skip "cargo-fuzz is not installed and 'cargo install cargo-fuzz --locked' failed"
    fi
fi

echo "== building fuzz targets ($(cargo +nightly --version))"
# No sanitizer: fraud-core forbids unsafe code; debug assertions and overflow checks stay on.
cargo +nightly fuzz build -s none || { echo "FUZZ BUILD FAILED"; exit 1; }

mkdir -p "$LOG_DIR"
status=0
summary=()
for t in $TARGETS; do
    mkdir -p "corpus/$t" "artifacts/$t"
    args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1)
    case "$t" in
        artifact_decode | snapshot_restore) args+=(-max_len=65536) ;;
        feature_spec_json) args+=(-max_len=8192 -dict=dicts/json.dict) ;;
        *) args+=(-max_len=4096) ;;
    esac
    log="$LOG_DIR/$t.log"
    echo "== fuzzing $t for ${SECONDS_PER_TARGET}s (log: $log, relative to fraud-core/fuzz)"
    cargo +nightly fuzz run -s none "$t" "corpus/$t" "seeds/$t" -- "${args[@]}" >"$log" 2>&1
    rc=$?
    runs=$(grep -oE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1)
    eps=$(grep -oE 'exec/s: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    line="$t: rc=$rc runs=${runs:-?} exec/s=${eps:-?} ${cov:-}"
    summary+=("$line")
    echo "   $line"
    if [ "$rc" -ne 0 ]; then
        echo "!!! FUZZ CRASH in $t (exit $rc); input saved under fraud-core/fuzz/artifacts/$t/:"
        grep -E "panicked at|Test unit written|SUMMARY|deadly signal|out-of-memory|timeout" "$log" | head -5
        grep -A3 "panicked at" "$log" | head -8
        status=1
        [ -n "${FUZZ_KEEP_GOING:-}" ] || break
    fi
done
echo "== fuzz summary"
printf '   %s\n' "${summary[@]}"
exit $status
