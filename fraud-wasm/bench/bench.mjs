// Per-event latency of the WASM package under Node beside native Rust on the same inputs:
// IsolationForest.scoreOne (golden iforest_v1: 50 trees, 5 features) and Pipeline.scoreEvent
// (golden pipeline_v1: 9 features, isolation forest with 50 trees + zscore + robust zscore,
// 3 reasons) on a stream of events continuing its state.
//
//   node bench/bench.mjs [nEvents=50000] [--native] [--events-out FILE]
//
// --native builds and runs the native twin (`cargo run --release -p fraud-bench --example
// wasm_twin`) on the very same rows and events, and prints the WASM / native ratios.
// --events-out keeps the scored events as JSON.
//
// Method (the same on both sides): a warm-up of at least one second (V8 compiles WebAssembly with
// a baseline compiler first and optimises hot functions later), then every call timed on its own
// (p50, p99) and the whole loop timed (mean).
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..", "..");
const { IsolationForest, Pipeline } = createRequire(import.meta.url)(path.join(here, "..", "pkg", "fraud_wasm.js"));
const golden = path.join(root, "tests", "golden");
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 1).length > 0 : false;
};
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : null;
};
const native = flag("--native");
const eventsOut = option("--events-out");
const n = Number(args[0] ?? 50000);

function measure(count, f) {
  const t0 = process.hrtime.bigint();
  let warm = 0;
  while (warm < 20000 || process.hrtime.bigint() - t0 < 1_000_000_000n) f(warm++);
  const ns = new Float64Array(count);
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const a = process.hrtime.bigint();
    f(warm + i);
    ns[i] = Number(process.hrtime.bigint() - a);
  }
  const total = Number(process.hrtime.bigint() - start);
  ns.sort();
  const q = (p) => ns[Math.min(count - 1, Math.floor(p * count))] / 1000;
  return { warm, mean: total / count / 1000, p50: q(0.5), p99: q(0.99) };
}

const show = (label, m) =>
  console.log(`${label}: mean ${m.mean.toFixed(2)} us, p50 ${m.p50.toFixed(2)} us, p99 ${m.p99.toFixed(2)} us (${m.warm} warm-up calls)`);

// IsolationForest.scoreOne on the golden rows, round robin.
const forest = IsolationForest.fromBytes(new Uint8Array(readFileSync(path.join(golden, "iforest_v1.bin"))));
const rows = JSON.parse(readFileSync(path.join(golden, "iforest_v1_expected.json"), "utf8")).rows.map((r) => new Float64Array(r));
let sink = 0;
const one = measure(n, (i) => { sink += forest.scoreOne(rows[i % rows.length]); });
show("wasm IsolationForest.scoreOne (50 trees, 5 features)", one);

// Pipeline.scoreEvent: events like tests/tests/golden.rs's generator, continuing the state.
const pbytes = new Uint8Array(readFileSync(path.join(golden, "pipeline_v1.bin")));
const expected = JSON.parse(readFileSync(path.join(golden, "pipeline_v1_expected.json"), "utf8"));
let t = expected.events.at(-1).ts;
let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const total = n + 200000;
const events = Array.from({ length: total }, (_, i) => {
  t += 60 + Math.floor(rnd() * 300);
  const card = Math.floor(rnd() * 40);
  return { ts: t, card: `c${card}`, merchant: Math.floor(rnd() * 8), amount: Math.round((10 + 3 * card) * (0.5 + rnd()) * 100) / 100, note: `payment ${i}` };
});
const p = Pipeline.fromBytes(pbytes);
let alerts = 0;
let used = 0;
const ev = measure(n, (i) => {
  if (i >= total) throw new Error("not enough events generated for the warm-up");
  used = i + 1;
  alerts += p.scoreEvent(events[i]).isAlert ? 1 : 0;
});
show("wasm Pipeline.scoreEvent (pipeline_v1: 9 features, 50 trees + 2 z-scores, 3 reasons)", ev);
console.log(`alert rate ${(alerts / used).toFixed(4)}; snapshot ${p.snapshot().length} bytes, artifact ${pbytes.length} bytes`);

if (eventsOut || native) {
  const file = eventsOut ?? path.join(mkdtempSync(path.join(os.tmpdir(), "fraud-wasm-bench-")), "events.json");
  writeFileSync(file, JSON.stringify(events.slice(0, used)));
  if (native) {
    const out = execFileSync("cargo", ["run", "--quiet", "--release", "-p", "fraud-bench", "--example", "wasm_twin", "--", file, String(n)], { cwd: root, encoding: "utf8" });
    process.stdout.write(out);
    const nat = JSON.parse(out.trim().split("\n").at(-1));
    const r = (w, x) => `p50 ${(w.p50 / x.p50).toFixed(2)}x, mean ${(w.mean / x.mean).toFixed(2)}x`;
    console.log(`WASM / native: scoreOne ${r(one, nat.score_one)}; scoreEvent ${r(ev, nat.score_event)} (goal: within 3x)`);
  }
}
