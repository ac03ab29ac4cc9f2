// Per-event latency of the WASM package under Node: IsolationForest.scoreOne (golden iforest_v1,
// 50 trees, 5 features) and Pipeline.scoreEvent (golden pipeline_v1: 9 features, isolation forest
// with 50 trees + zscore + robust zscore, 3 reasons) on a stream of events continuing its state.
//
//   node bench/bench.mjs [nEvents=20000] [--events-out FILE]
//
// --events-out writes the scored events as JSON so a native harness can score the very same
// stream (see README.md, "Benchmark"). Native figures for the handbook pipeline:
// `cargo run --release -p fraud-bench --example pipeline_latency`.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const { IsolationForest, Pipeline } = createRequire(import.meta.url)(path.join(here, "..", "pkg", "fraud_wasm.js"));
const golden = path.join(here, "..", "..", "tests", "golden");
const args = process.argv.slice(2);
const outAt = args.indexOf("--events-out");
const eventsOut = outAt >= 0 ? args.splice(outAt, 2)[1] : null;
const n = Number(args[0] ?? 20000);

function stats(ns) {
  const s = Float64Array.from(ns).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))] / 1000;
  const mean = s.reduce((a, b) => a + b, 0) / s.length / 1000;
  return `mean ${mean.toFixed(2)} us, p50 ${q(0.5).toFixed(2)} us, p90 ${q(0.9).toFixed(2)} us, p99 ${q(0.99).toFixed(2)} us`;
}

function time(label, count, f) {
  for (let i = 0; i < Math.min(2000, count); i++) f(); // warm-up (JIT, caches)
  const ns = new Array(count);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const a = process.hrtime.bigint();
    f();
    ns[i] = Number(process.hrtime.bigint() - a);
  }
  const total = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`${label}: ${count} calls in ${total.toFixed(1)} ms; per call ${stats(ns)}`);
}

// IsolationForest.scoreOne
const forest = IsolationForest.fromBytes(new Uint8Array(readFileSync(path.join(golden, "iforest_v1.bin"))));
const rows = JSON.parse(readFileSync(path.join(golden, "iforest_v1_expected.json"), "utf8")).rows.map((r) => new Float64Array(r));
let r = 0;
time("IsolationForest.scoreOne (50 trees, 5 features)", n, () => forest.scoreOne(rows[r++ % rows.length]));

// Pipeline.scoreEvent: events like tests/tests/golden.rs's generator, continuing the state.
const pbytes = new Uint8Array(readFileSync(path.join(golden, "pipeline_v1.bin")));
const expected = JSON.parse(readFileSync(path.join(golden, "pipeline_v1_expected.json"), "utf8"));
let t = expected.events.at(-1).ts;
let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const events = Array.from({ length: n + 2000 }, (_, i) => {
  t += 60 + Math.floor(rnd() * 300);
  const card = Math.floor(rnd() * 40);
  return { ts: t, card: `c${card}`, merchant: Math.floor(rnd() * 8), amount: Math.round((10 + 3 * card) * (0.5 + rnd()) * 100) / 100, note: `payment ${i}` };
});
if (eventsOut) writeFileSync(eventsOut, JSON.stringify(events));
const p = Pipeline.fromBytes(pbytes);
let alerts = 0;
let k = 0;
time("Pipeline.scoreEvent (pipeline_v1: 9 features, 50 trees + zscore + robust zscore, 3 reasons)", n, () => {
  alerts += p.scoreEvent(events[k++]).isAlert ? 1 : 0;
});
console.log(`alert rate ${(alerts / k).toFixed(4)}; snapshot ${p.snapshot().length} bytes, artifact ${pbytes.length} bytes`);
