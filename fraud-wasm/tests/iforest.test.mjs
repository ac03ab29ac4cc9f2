// Node tests of the WASM IsolationForest: the golden artifact written by Rust scores bit-identically,
// and every bad input throws an Error with a message (never a trap).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { sameBits } from "./compare.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { IsolationForest } = require(path.join(here, "..", "pkg", "fraud_wasm.js"));
const golden = path.join(here, "..", "..", "tests", "golden");
const bytes = new Uint8Array(readFileSync(path.join(golden, "iforest_v1.bin")));
const expected = JSON.parse(readFileSync(path.join(golden, "iforest_v1_expected.json"), "utf8"));

test("golden artifact scores bit-identically to Rust", () => {
  const f = IsolationForest.fromBytes(bytes);
  assert.equal(f.nFeaturesIn, expected.n_features);
  assert.ok(sameBits(f.offset, expected.offset));
  const flat = new Float64Array(expected.rows.flat());
  const scores = f.scoreSamples(flat, expected.n_features);
  const decision = f.decisionFunction(flat, expected.n_features);
  assert.equal(scores.length, expected.rows.length);
  for (let i = 0; i < scores.length; i++) {
    assert.ok(sameBits(scores[i], expected.score_samples[i]), `row ${i}: ${scores[i]} vs ${expected.score_samples[i]}`);
    assert.ok(sameBits(decision[i], expected.decision_function[i]), `row ${i}`);
    assert.ok(sameBits(f.scoreOne(new Float64Array(expected.rows[i])), expected.score_samples[i]), `row ${i}`);
  }
  assert.deepEqual(new Uint8Array(f.toBytes()), bytes);
});

test("bad bytes throw Errors that say what is wrong", () => {
  const cases = [
    [new Uint8Array(0), /truncated/],
    [new TextEncoder().encode("PK\u0003\u0004 not a model at all, a zip file"), /not a fraud-core artifact/],
    [bytes.slice(0, bytes.length - 10), /truncated|length/],
  ];
  const flipped = bytes.slice();
  flipped[100] ^= 0x40;
  cases.push([flipped, /checksum/]);
  const future = bytes.slice();
  future[8] = 0xff;
  cases.push([future, /unsupported format version/]);
  for (const [b, re] of cases) {
    assert.throws(() => IsolationForest.fromBytes(b), (e) => e instanceof Error && re.test(e.message));
  }
});

test("bad shapes and values throw Errors", () => {
  const f = IsolationForest.fromBytes(bytes);
  const d = expected.n_features;
  assert.throws(() => f.scoreSamples(new Float64Array(7), d), /shape mismatch/);
  assert.throws(() => f.scoreSamples(new Float64Array(6), 0), /nCols must be at least 1/);
  assert.throws(() => f.scoreSamples(new Float64Array(6), 3), /shape mismatch/);
  assert.throws(() => f.scoreOne(new Float64Array(d + 1)), /shape mismatch/);
  const nan = new Float64Array(d);
  nan[2] = NaN;
  assert.throws(() => f.scoreOne(nan), /row 0, column 2/);
  const inf = new Float64Array(2 * d);
  inf[d + 1] = Infinity;
  assert.throws(() => f.scoreSamples(inf, d), /row 1, column 1/);
  // The instance still works after errors.
  assert.equal(f.scoreSamples(new Float64Array(d), d).length, 1);
});
