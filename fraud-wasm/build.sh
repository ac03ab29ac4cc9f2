#!/usr/bin/env bash
# Builds the fraud-wasm package into fraud-wasm/pkg/ (Node target): cargo for wasm32, the pinned
# wasm-bindgen-cli (installed on first use, must equal the wasm-bindgen crate version), then wasm-opt
# from the npm package binaryen (Debian's binaryen produces modules Node refuses).
#
#   bash fraud-wasm/build.sh          # Node package in fraud-wasm/pkg/
#   bash fraud-wasm/build.sh --web    # browser ES module in fraud-wasm/pkg-web/ (browser/run.sh)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
want=0.2.130
target=nodejs
out=pkg
if [ "${1:-}" = "--web" ]; then
    target=web
    out=pkg-web
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    echo "installing wasm-bindgen-cli $want (a few minutes, once per machine)"
    cargo install wasm-bindgen-cli --version "$want"
fi
cd "$root"
cargo build --release --target wasm32-unknown-unknown -p fraud-wasm
rm -rf "${here:?}/$out"
wasm-bindgen --target "$target" --out-dir "$here/$out" target/wasm32-unknown-unknown/release/fraud_wasm.wasm
cd "$here"
# Pipeline.scoreEvent's JavaScript fast path (js/score_event.js: one call into WebAssembly per
# event instead of one per field), installed on the generated class.
# (The web build keeps the generic scoreEvent: the fast path is a CommonJS module.)
if [ "$target" = nodejs ] && grep -q '^exports.Pipeline = Pipeline;' pkg/fraud_wasm.js; then
    cp js/score_event.js pkg/score_event.js
    printf '\nrequire("./score_event.js").install(exports.Pipeline);\n' >> pkg/fraud_wasm.js
fi
[ -x node_modules/.bin/wasm-opt ] || npm install --no-audit --no-fund --no-package-lock --silent
node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "$out/fraud_wasm_bg.wasm" -o "$out/fraud_wasm_bg.wasm"
echo "fraud-wasm: $(wc -c < "$out/fraud_wasm_bg.wasm") bytes of optimised wasm in $here/$out"
