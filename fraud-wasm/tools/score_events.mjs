// Score a JSON list of events with a pipeline artifact in the WASM package, one at a time from the
// artifact's state, and write the scores as JSON (used by fraud-py/tests/test_wasm_parity.py).
// Usage: node tools/score_events.mjs ARTIFACT.bin EVENTS.json OUT.json
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const { Pipeline } = createRequire(import.meta.url)(path.join(here, "..", "pkg", "fraud_wasm.js"));
const [artifact, eventsFile, out] = process.argv.slice(2);
const p = Pipeline.fromBytes(new Uint8Array(readFileSync(artifact)));
const events = JSON.parse(readFileSync(eventsFile, "utf8"));
const scores = events.map((e) => p.scoreEvent(e));
// Floats as JSON text round-trip exactly (shortest representation); NaN is written as null.
writeFileSync(out, JSON.stringify({ threshold: p.threshold, inputNames: p.inputNames, scores }));
