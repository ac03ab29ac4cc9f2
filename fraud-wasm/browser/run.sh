#!/usr/bin/env bash
# The browser check of fraud-wasm (optional part of the WASM tests): builds the web target of the
# package into fraud-wasm/pkg-web/ (build.sh --web; cargo's build is shared), then runs page.mjs in
# headless Chromium (Debian's package; installed with apt-get when missing and allowed) through
# run.mjs. Without a Chromium it prints a loud BROWSER SKIPPED and exits 0; a failed check exits 1.
#
#   bash fraud-wasm/browser/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
wasm_dir="$(cd "$here/.." && pwd)"
skip() {
    printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
    printf '!!! BROWSER SKIPPED: %s\n' "$1"
    printf '!!! (the Node tests above ran; only the headless Chromium check did not)\n'
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n'
    exit 0
}

chromium="${CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$chromium" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        echo "installing Debian's chromium (apt-get)"
        if ! apt-get install -y --no-install-recommends chromium > /tmp/fraud-wasm-apt.log 2>&1; then
            apt-get update > /dev/null 2>&1 || true
            apt-get install -y --no-install-recommends chromium > /tmp/fraud-wasm-apt.log 2>&1 \
                || skip "apt-get install chromium failed (see /tmp/fraud-wasm-apt.log)"
        fi
        chromium="$(command -v chromium || true)"
    fi
    [ -n "$chromium" ] || skip "no chromium on PATH and it cannot be installed here (set CHROMIUM=/path/to/chromium)"
fi

bash "$wasm_dir/build.sh" --web
node "$here/run.mjs" "$chromium"
