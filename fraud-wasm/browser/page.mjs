// Runs in the browser (see run.sh): the web build of fraud-wasm scores the golden fixtures written
// by Rust bit-identically, continues identically after snapshot/restore, and throws Errors on bad
// input. Posts a report ({ userAgent, checks, failures }) to /result, where run.mjs asserts on it.
import init, { IsolationForest, Pipeline } from "/fraud-wasm/pkg-web/fraud_wasm.js";
import { sameBits, scoreMismatches } from "/fraud-wasm/tests/compare.mjs";

const report = { userAgent: navigator.userAgent, checks: 0, failures: [] };

function check(ok, what) {
  report.checks++;
  if (!ok) report.failures.push(what);
}

function sameScore(got, want, where) {
  const diff = scoreMismatches(got, want, where);
  check(diff.length === 0, diff.join("; "));
}

async function fixture(stem) {
  const bin = await fetch(`/tests/golden/${stem}.bin`);
  const json = await fetch(`/tests/golden/${stem}_expected.json`);
  if (!bin.ok || !json.ok) throw new Error(`golden fixture ${stem} not served`);
  return { bytes: new Uint8Array(await bin.arrayBuffer()), expected: await json.json() };
}

function throwsError(fn, what) {
  try {
    fn();
    check(false, `${what}: did not throw`);
  } catch (e) {
    check(e instanceof Error && e.message.length > 0, `${what}: threw ${e} instead of an Error with a message`);
  }
}

async function run() {
  await init();

  // IsolationForest: scoreSamples, decisionFunction and scoreOne against Rust's scores.
  {
    const { bytes, expected } = await fixture("iforest_v1");
    const f = IsolationForest.fromBytes(bytes);
    const d = expected.n_features;
    const flat = new Float64Array(expected.rows.flat());
    const scores = f.scoreSamples(flat, d);
    const decision = f.decisionFunction(flat, d);
    check(scores.length === expected.rows.length, "iforest: number of scores");
    expected.rows.forEach((row, i) => {
      check(sameBits(scores[i], expected.score_samples[i]), `iforest row ${i}: scoreSamples`);
      check(sameBits(decision[i], expected.decision_function[i]), `iforest row ${i}: decisionFunction`);
      check(sameBits(f.scoreOne(new Float64Array(row)), expected.score_samples[i]), `iforest row ${i}: scoreOne`);
    });
    throwsError(() => f.scoreSamples(new Float64Array(d + 1), d), "iforest: ragged input");
    throwsError(() => f.scoreOne(new Float64Array([NaN, ...new Array(d - 1).fill(0)])), "iforest: NaN");
    f.free();
    throwsError(() => IsolationForest.fromBytes(bytes.slice(0, bytes.length - 3)), "iforest: truncated artifact");
  }

  // Pipelines: every golden event, then snapshot/restore at a split point.
  for (const stem of ["pipeline_v1", "pipeline_supervised_v1"]) {
    const { bytes, expected } = await fixture(stem);
    const p = Pipeline.fromBytes(bytes);
    expected.events.forEach((e, i) => sameScore(p.scoreEvent(e), expected.scores[i], `${stem} event ${i}`));
    p.free();

    const k = 17;
    const first = Pipeline.fromBytes(bytes);
    expected.events.slice(0, k).forEach((e) => first.scoreEvent(e));
    const restored = Pipeline.restore(bytes, first.snapshot());
    first.free();
    expected.events.slice(k).forEach((e, j) => sameScore(restored.scoreEvent(e), expected.scores[k + j], `${stem} restored ${j}`));
    throwsError(() => restored.scoreEvent({ nope: 1 }), `${stem}: unknown field`);
    restored.free();
    throwsError(() => Pipeline.fromBytes(new Uint8Array([70, 82, 65, 85, 68])), `${stem}: foreign bytes`);
  }
}

try {
  await run();
} catch (e) {
  report.failures.push(`uncaught: ${e && e.stack ? e.stack : e}`);
}
document.getElementById("out").textContent = JSON.stringify(report, null, 2);
await fetch("/result", { method: "POST", body: JSON.stringify(report) });
