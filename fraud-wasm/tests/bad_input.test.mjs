// The bad-input catalogue (docs/bad-input.md), JS side: every case BIxx has a test "BIxx ..."
// asserting the exact Error message the catalogue documents (never a WebAssembly trap). The Rust
// (tests/tests/bad_input.rs) and Python (fraud-py/tests/test_bad_input.py) suites test the same ids.
// The WASM package loads fitted artifacts only: cases about fitting or specs use a golden pipeline
// artifact whose stored spec was edited (with a valid checksum), which loading re-validates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { Pipeline, IsolationForest } = require(path.join(here, "..", "pkg", "fraud_wasm.js"));
const golden = path.join(here, "..", "..", "tests", "golden");
const goldenBytes = (name) => new Uint8Array(readFileSync(path.join(golden, name)));
const forest = () => IsolationForest.fromBytes(goldenBytes("iforest_v1.bin"));
const pipeline = () => Pipeline.fromBytes(goldenBytes("pipeline_v1.bin"));

const E0 = { amount: 44.76, card: "c12", merchant: 7, note: "payment 0", ts: 1700416519 };
const without = (k) => Object.fromEntries(Object.entries(E0).filter(([n]) => n !== k));

const NAN_HINT = "NaN is not accepted: impute or drop missing values first";
const INF_HINT = "infinite values are not accepted: clip or drop them first";
const F32_HINT = "the value exceeds the float32 range (|x| <= 3.4e38) the model works in: rescale the feature";
const NONFINITE_HINT = "impute or drop missing and infinite values first";
const DECLARED = "timestamp `ts`, keys [`card`, `merchant`], numeric [`amount`], ignored [`note`]";
const storedSpec = (m) => `invalid artifact: malformed payload: stored spec: ${m}`;

/** Assert that `fn` throws an Error (not a trap) with exactly `message`. */
function throwsExactly(fn, message) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof Error, `not an Error: ${e}`);
    assert.ok(!(e instanceof WebAssembly.RuntimeError), `a trap: ${e.message}`);
    assert.equal(e.message, message);
    return true;
  });
}

/** A row-major n x c matrix like the Rust test's. */
function matrix(n, c) {
  const x = new Float64Array(n * c);
  for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) x[i * c + j] = i * 0.1 + j * 0.01;
  return x;
}

// --- artifact surgery (envelope: fraud-core/src/model/mod.rs; payload: bincode 2 standard) ---
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b) {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function reseal(src, payload) {
  const out = new Uint8Array(24 + payload.length + 4);
  out.set(src.subarray(0, 16));
  const dv = new DataView(out.buffer);
  dv.setBigUint64(16, BigInt(payload.length), true);
  out.set(payload, 24);
  dv.setUint32(24 + payload.length, crc32(out.subarray(0, 24 + payload.length)), true);
  return out;
}
function fixCrc(b) {
  const out = b.slice();
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}
function readVarint(b, pos) {
  const tag = b[pos.at++];
  if (tag < 251) return tag;
  const width = tag === 251 ? 2 : tag === 252 ? 4 : 8;
  let v = 0;
  for (let i = width - 1; i >= 0; i--) v = v * 256 + b[pos.at + i];
  pos.at += width;
  return v;
}
function varint(n) {
  if (n < 251) return [n];
  if (n < 65536) return [251, n & 0xff, n >> 8];
  return [252, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
}
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
/** Replace the leading text field of an artifact's payload (a pipeline's spec JSON). */
function editLeadingText(art, edit) {
  const payload = art.subarray(24, art.length - 4);
  const pos = { at: 0 };
  const n = readVarint(payload, pos);
  const text = new TextDecoder().decode(payload.subarray(pos.at, pos.at + n));
  const fresh = new TextEncoder().encode(edit(text));
  return reseal(art, concat(new Uint8Array(varint(fresh.length)), fresh, payload.subarray(pos.at + n)));
}
const tamperedSpec = (edit) =>
  editLeadingText(goldenBytes("pipeline_v1.bin"), (t) => {
    const v = JSON.parse(t);
    edit(v);
    return JSON.stringify(v);
  });
/** Edit the feature spec in the pipeline spec and in the embedded engine snapshot (last field). */
function tamperedFeatures(edit) {
  const art = tamperedSpec((v) => edit(v.features));
  const payload = art.subarray(24, art.length - 4);
  const magic = new TextEncoder().encode("FRAUDCOR");
  let at = -1;
  for (let i = payload.length - 8; i >= 0 && at < 0; i--) {
    if (magic.every((m, k) => payload[i + k] === m)) at = i;
  }
  const engine = payload.subarray(at);
  const head = payload.subarray(0, at - varint(engine.length).length);
  const fresh = editLeadingText(engine, (t) => {
    const v = JSON.parse(t);
    edit(v);
    return JSON.stringify(v);
  });
  return reseal(art, concat(head, new Uint8Array(varint(fresh.length)), fresh));
}
/** The artifact bytes of detector `d` stored in the golden pipeline (1 = its zscore). */
function storedDetector(d) {
  const art = goldenBytes("pipeline_v1.bin");
  const payload = art.subarray(24, art.length - 4);
  const pos = { at: 0 };
  const specLen = readVarint(payload, pos);
  pos.at += specLen; // the spec text
  const count = readVarint(payload, pos);
  for (let i = 0; i < count; i++) {
    const n = readVarint(payload, pos);
    if (i === d) return payload.slice(pos.at, pos.at + n);
    pos.at += n;
  }
  throw new Error("no such detector");
}

// --- BI01-BI09: matrices -----------------------------------------------------------------

test("BI01 NaN in a matrix", () => {
  const x = matrix(3, 5);
  x[1 * 5 + 2] = NaN;
  throwsExactly(() => forest().scoreSamples(x, 5), `non-finite or out-of-range value NaN at row 1, column 2: ${NAN_HINT}`);
});

test("BI02 infinity in one row", () => {
  throwsExactly(() => forest().scoreOne(new Float64Array([0, 0, 0, 0, Infinity])), `non-finite or out-of-range value inf at row 0, column 4: ${INF_HINT}`);
});

test("BI03 -infinity in a batch (training data in Rust and Python)", () => {
  const x = matrix(20, 5);
  x[17 * 5] = -Infinity;
  throwsExactly(() => forest().decisionFunction(x, 5), `non-finite or out-of-range value -inf at row 17, column 0: ${INF_HINT}`);
});

test("BI04 value beyond the float32 range", () => {
  throwsExactly(() => forest().scoreOne(new Float64Array([1e308, 0, 0, 0, 0])), `non-finite or out-of-range value 1e308 at row 0, column 0: ${F32_HINT}`);
});

test("BI05 empty input", () => {
  throwsExactly(() => forest().scoreOne(new Float64Array(0)), "shape mismatch: X has 0 features, but the forest was fitted with 5 features");
  // No rows to score is not an error: the result is empty.
  assert.equal(forest().scoreSamples(new Float64Array(0), 5).length, 0);
});

test("BI06 wrong number of columns", () => {
  throwsExactly(() => forest().scoreSamples(matrix(2, 4), 4), "shape mismatch: X has 4 features, but the forest was fitted with 5 features");
});

test("BI07 ragged rows", () => {
  throwsExactly(() => forest().scoreSamples(new Float64Array(7), 5), "shape mismatch: 7 values do not split into rows of nCols = 5");
  throwsExactly(() => forest().scoreOne(new Float64Array([1, 2, 3])), "shape mismatch: X has 3 features, but the forest was fitted with 5 features");
});

test("BI08 zero columns", () => {
  throwsExactly(() => forest().scoreSamples(new Float64Array(10), 0), "shape mismatch: nCols must be at least 1");
});

test("BI09 non-numeric matrix values", () => {
  // A plain Array is converted to a Float64Array by the glue: a non-number becomes NaN.
  throwsExactly(() => forest().scoreSamples([1, "x", 3, 4, 5], 5), `non-finite or out-of-range value NaN at row 0, column 1: ${NAN_HINT}`);
  throwsExactly(() => forest().scoreOne([1, 2, { a: 1 }, 4, 5]), `non-finite or out-of-range value NaN at row 0, column 2: ${NAN_HINT}`);
});

// --- BI10-BI23: events -------------------------------------------------------------------

test("BI10 NaN event field", () => {
  throwsExactly(() => pipeline().scoreEvent({ ...E0, amount: NaN }), `invalid value for field \`amount\`: NaN is not finite: ${NONFINITE_HINT}`);
});

test("BI11 infinite event field", () => {
  throwsExactly(() => pipeline().scoreEvent({ ...E0, amount: Infinity }), `invalid value for field \`amount\`: inf is not finite: ${NONFINITE_HINT}`);
  throwsExactly(() => pipeline().scoreEvent({ ...E0, amount: -Infinity }), `invalid value for field \`amount\`: -inf is not finite: ${NONFINITE_HINT}`);
});

test("BI12 huge amount", () => {
  const p = pipeline();
  throwsExactly(() => p.scoreEvent({ ...E0, amount: 1e308 }), "invalid value for field `amount`: 1e308 is beyond +/-1e18, the range numeric fields accept (window sums must stay finite): check the value or rescale the field");
  // Refused before the feature update: the card's next event scores normally.
  const r = p.scoreEvent({ ...E0, amount: 1 }).risk;
  assert.ok(r >= 0 && r <= 1, `risk ${r}`);
});

test("BI13 string where a number is expected", () => {
  throwsExactly(() => pipeline().scoreEvent({ ...E0, amount: "12.5" }), "invalid value for field `amount`: expected a number, got a string");
});

test("BI14 unknown field", () => {
  throwsExactly(() => pipeline().scoreEvent({ ...E0, surprise: 1 }), `unknown field \`surprise\`: the spec's schema declares ${DECLARED}; add it to the schema or drop the column`);
});

test("BI15 missing field", () => {
  throwsExactly(() => pipeline().scoreEvent(without("amount")), "missing field `amount`: every event needs it (it is a numeric field)");
  throwsExactly(() => pipeline().scoreEvent({ ...E0, amount: undefined }), "missing field `amount`: every event needs it (it is a numeric field)");
  throwsExactly(() => pipeline().scoreEvent(without("ts")), "missing field `ts`: every event needs it (it is the event timestamp)");
});

test("BI16 missing entity key", () => {
  throwsExactly(() => pipeline().scoreEvent({ ...E0, card: null }), "invalid value for field `card`: an entity key must not be null");
});

test("BI17 non-integral or boolean key", () => {
  throwsExactly(() => pipeline().scoreEvent({ ...E0, merchant: 7.5 }), "invalid value for field `merchant`: an entity key must be a string or an integer (got a non-integral number)");
  throwsExactly(() => pipeline().scoreEvent({ ...E0, merchant: true }), "invalid value for field `merchant`: an entity key must be a string or an integer (got a boolean)");
});

test("BI18 unparseable timestamp", () => {
  throwsExactly(() => pipeline().scoreEvent({ ...E0, ts: "yesterday" }), "invalid value for field `ts`: expected an epoch number in seconds (the schema's timestamp unit)");
});

test("BI19 timestamp out of range", () => {
  throwsExactly(() => pipeline().scoreEvent({ ...E0, ts: 9_000_000_000_000_000 }), "invalid value for field `ts`: 9000000000000000000 ms is outside the supported range of +-8640000000000000 ms around 1970");
  throwsExactly(() => pipeline().scoreEvent({ ...E0, ts: 1e300 }), "invalid value for field `ts`: timestamp 1e300 is not a finite epoch time within range");
});

const late = (behind) =>
  `late event: its timestamp is ${behind} ms behind the watermark (newest event time minus the allowed lateness of 0 ms); raise \`lateness.allowed\` or choose the \`drop\` or \`process\` policy`;

test("BI20 far-future timestamp", () => {
  const p = pipeline();
  const far = 253402300799; // 9999-12-31T23:59:59Z
  const s = p.scoreEvent({ ...E0, ts: far });
  assert.ok(s.risk >= 0 && s.risk <= 1);
  throwsExactly(() => p.scoreEvent(E0), late((far - E0.ts) * 1000));
  // With `lateness.max_ahead` the far-future event is refused before it moves the newest time.
  const q = Pipeline.fromBytes(tamperedFeatures((f) => (f.lateness = { allowed: 0, policy: "error", max_ahead: "1d" })));
  q.scoreEvent(E0);
  throwsExactly(() => q.scoreEvent({ ...E0, ts: far }), `invalid value for field \`ts\`: ${far * 1000} ms is ${(far - E0.ts) * 1000} ms ahead of the newest event time, more than lateness.max_ahead (86400000 ms): check the event's clock and time unit`);
  const s2 = q.scoreEvent({ ...E0, ts: E0.ts + 60 });
  assert.ok(s2.risk >= 0 && s2.risk <= 1);
});

test("BI21 late event (error policy)", () => {
  const p = pipeline();
  p.scoreEvent(E0);
  const before = p.snapshot();
  throwsExactly(() => p.scoreEvent({ ...E0, ts: E0.ts - 3600 }), late(3600000));
  assert.deepEqual(p.snapshot(), before);
});

test("BI22 late event (drop policy)", () => {
  const p = Pipeline.fromBytes(tamperedFeatures((f) => (f.lateness = { allowed: 0, policy: "drop" })));
  p.scoreEvent(E0);
  const s = p.scoreEvent({ ...E0, ts: E0.ts - 3600 });
  assert.ok(Number.isNaN(s.risk));
  assert.equal(s.isAlert, false);
  assert.deepEqual(s.reasons, []);
});

test("BI23 duplicated event (replayed)", () => {
  const p = pipeline();
  p.scoreEvent(E0);
  const once = p.snapshot();
  p.scoreEvent(E0); // accepted again: no de-duplication
  assert.notDeepEqual(p.snapshot(), once);
});

// --- BI24-BI31: artifacts ----------------------------------------------------------------

test("BI24 corrupted byte", () => {
  const b = goldenBytes("iforest_v1.bin");
  b[100] ^= 0x01;
  throwsExactly(() => IsolationForest.fromBytes(b), "invalid artifact: checksum mismatch (stored 0x783e9e16, computed 0x63dd3645): the bytes are corrupted");
});

test("BI25 truncated", () => {
  const b = goldenBytes("iforest_v1.bin");
  throwsExactly(() => IsolationForest.fromBytes(b.slice(0, 100)), "invalid artifact: truncated: 100 bytes, expected at least 15151");
  throwsExactly(() => IsolationForest.fromBytes(b.slice(0, 20)), "invalid artifact: truncated: 20 bytes, expected at least 28");
});

test("BI26 empty bytes", () => {
  throwsExactly(() => IsolationForest.fromBytes(new Uint8Array(0)), "invalid artifact: truncated: 0 bytes, expected at least 28");
  throwsExactly(() => Pipeline.fromBytes(new Uint8Array(0)), "invalid artifact: truncated: 0 bytes, expected at least 28");
});

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89]);

test("BI27 foreign bytes (PNG)", () => {
  throwsExactly(() => IsolationForest.fromBytes(PNG), "invalid artifact: not a fraud-core artifact (bad magic bytes)");
  throwsExactly(() => Pipeline.fromBytes(PNG), "invalid artifact: not a fraud-core artifact (bad magic bytes)");
});

test("BI28 foreign bytes (JSON)", () => {
  const text = new TextEncoder().encode('{"model": "isolation_forest", "n_estimators": 100}');
  throwsExactly(() => IsolationForest.fromBytes(text), "invalid artifact: not a fraud-core artifact (bad magic bytes)");
});

test("BI29 future format version", () => {
  const b = goldenBytes("iforest_v1.bin");
  b[8] = 2;
  throwsExactly(() => IsolationForest.fromBytes(fixCrc(b)), "invalid artifact: unsupported format version 2: this build reads versions up to 1");
});

test("BI30 wrong artifact kind", () => {
  throwsExactly(() => IsolationForest.fromBytes(storedDetector(1)), "invalid artifact: wrong artifact kind: expected IsolationForest, found ZScore");
  throwsExactly(() => IsolationForest.fromBytes(goldenBytes("pipeline_v1.bin")), "invalid artifact: wrong artifact kind: expected IsolationForest, found Pipeline");
  throwsExactly(() => Pipeline.fromBytes(goldenBytes("iforest_v1.bin")), "invalid artifact: wrong artifact kind: expected Pipeline, found IsolationForest");
});

test("BI31 trailing bytes", () => {
  const b = concat(goldenBytes("iforest_v1.bin"), new Uint8Array(4));
  throwsExactly(() => IsolationForest.fromBytes(b), "invalid artifact: length mismatch: header says 15123 payload bytes, 15127 present");
});

// --- BI32-BI40: specs and hyper-parameters (edited stored spec) ---------------------------

test("BI32 malformed JSON spec", () => {
  const b = editLeadingText(goldenBytes("pipeline_v1.bin"), (t) => t.slice(0, Math.floor(t.length / 2)));
  throwsExactly(() => Pipeline.fromBytes(b), storedSpec("invalid spec JSON at line 1, column 900: EOF while parsing a string"));
});

test("BI33 unknown key in a spec", () => {
  // A typo in the first `window` (feature `card_n_1h`), edited in the stored text.
  const b = editLeadingText(goldenBytes("pipeline_v1.bin"), (t) => t.replace('"window":', '"windw":'));
  throwsExactly(() => Pipeline.fromBytes(b), storedSpec("invalid spec JSON at line 1, column 489: unknown field `windw`, expected one of `name`, `key`, `agg`, `field`, `window`, `delay`, `include_current`, `ddof`, `fill`"));
});

test("BI34 zero window", () => {
  const b = tamperedSpec((v) => (v.features.features[2].window = "0s"));
  throwsExactly(() => Pipeline.fromBytes(b), storedSpec("invalid spec at feature `card_n_1h`: window 0 ms must be > 0"));
});

test("BI35 negative half-life", () => {
  const b = tamperedSpec((v) =>
    v.features.features.push({ kind: "decayed", name: "amount_decayed", key: "card", field: "amount", half_life: -3600000, window: "1d" }),
  );
  throwsExactly(() => Pipeline.fromBytes(b), storedSpec("invalid spec at feature `amount_decayed`: half_life -3600000 ms must be > 0"));
});

test("BI36 TTL shorter than a window", () => {
  const b = tamperedSpec((v) => (v.features.ttl = "1h"));
  throwsExactly(() => Pipeline.fromBytes(b), storedSpec("invalid spec at ttl: 3600000 ms is shorter than the allowed lateness plus the longest window + delay (or max_gap) of key `card` = 86400000 ms; eviction would change features"));
});

test("BI37 zero trees", () => {
  const b = tamperedSpec((v) => (v.detectors[0].n_estimators = 0));
  throwsExactly(() => Pipeline.fromBytes(b), storedSpec("invalid spec at detectors[0].n_estimators: 0: expected an integer >= 1"));
});

test("BI38 max_samples 0", () => {
  const b = tamperedSpec((v) => (v.detectors[0].max_samples = 0));
  throwsExactly(() => Pipeline.fromBytes(b), storedSpec('invalid spec at detectors[0].max_samples: 0: expected an integer >= 1, a float in (0, 1] or "auto"'));
});

test("BI39 contamination 0.7", () => {
  // In a pipeline spec the contamination sets the alert threshold.
  const b = tamperedSpec((v) => (v.alert = { contamination: 0.7 }));
  throwsExactly(() => Pipeline.fromBytes(b), storedSpec("invalid spec at alert.contamination: 0.7: expected a fraction in (0, 0.5]"));
});

test("BI40 alert rate out of range", () => {
  const b = tamperedSpec((v) => (v.alert = { target_alert_rate: 1.5 }));
  throwsExactly(() => Pipeline.fromBytes(b), storedSpec("invalid spec at alert.target_alert_rate: 1.5: expected a fraction in (0, 1)"));
});

// --- BI41: text that is not valid Unicode ---------------------------------------------------

test("BI41 key with an unpaired surrogate", () => {
  throwsExactly(() => pipeline().scoreEvent({ ...E0, card: "c\ud800" }), "invalid value for field `card`: an entity key must be a string or an integer (got a string that is not valid Unicode: it holds an unpaired surrogate)");
  throwsExactly(() => pipeline().scoreEvent({ ...E0, amount: "\udfff" }), "invalid value for field `amount`: expected a number, got a string that is not valid Unicode: it holds an unpaired surrogate");
  // A real U+FFFD is an ordinary key.
  const s = pipeline().scoreEvent({ ...E0, card: "c\ufffd" });
  assert.ok(s.risk >= 0 && s.risk <= 1);
});
