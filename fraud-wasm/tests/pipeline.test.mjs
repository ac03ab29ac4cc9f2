// Node tests of the WASM Pipeline: the golden pipelines written by Rust score bit-identically
// (risk, alert flag, reason features, values and contributions), snapshot/restore continues
// identically, and every bad input throws an Error with a message (never a trap).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { sameBits, scoreMismatches } from "./compare.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { Pipeline, IsolationForest } = require(path.join(here, "..", "pkg", "fraud_wasm.js"));
const golden = path.join(here, "..", "..", "tests", "golden");
const load = (stem) => ({
  bytes: new Uint8Array(readFileSync(path.join(golden, `${stem}.bin`))),
  expected: JSON.parse(readFileSync(path.join(golden, `${stem}_expected.json`), "utf8")),
});
const STEMS = ["pipeline_v1", "pipeline_supervised_v1"];
// fraud-core computes exp/ln/pow with the pure-Rust libm on every target, so native and WASM
// scores agree bit for bit.

/** Assert that `got` (scoreEvent's result) equals an expected score (see scoreMismatches). */
function assertSameScore(got, want, where, maxUlps = 0) {
  assert.deepEqual(scoreMismatches(got, want, where, maxUlps), []);
}

for (const stem of STEMS) {
  test(`${stem}: golden pipeline scores bit-identically to Rust`, () => {
    const { bytes, expected } = load(stem);
    const p = Pipeline.fromBytes(bytes);
    assert.ok(sameBits(p.threshold, expected.threshold));
    assert.deepEqual(p.inputNames, expected.input_names);
    assert.deepEqual(p.featureNames, expected.feature_names);
    let alerts = 0;
    expected.events.forEach((e, i) => {
      const got = p.scoreEvent(e);
      alerts += got.isAlert ? 1 : 0;
      assert.deepEqual(Object.keys(got), ["risk", "isAlert", "reasons"]);
      assertSameScore(got, expected.scores[i], `event ${i}`);
    });
    assert.ok(alerts > 0 && alerts < expected.events.length);
    p.free();
  });

  test(`${stem}: snapshot/restore continues identically`, () => {
    const { bytes, expected } = load(stem);
    const events = expected.events;
    for (const k of [0, 1, 17, events.length - 1]) {
      const first = Pipeline.fromBytes(bytes);
      for (const e of events.slice(0, k)) first.scoreEvent(e);
      const state = first.snapshot();
      const whole = first.toBytes();
      assert.ok(state instanceof Uint8Array && state.length > 0);
      // Three ways back: model + state, the full artifact, and restoreState into a loaded model.
      const a = Pipeline.restore(bytes, state);
      const b = Pipeline.fromBytes(whole);
      const c = Pipeline.fromBytes(bytes);
      c.scoreEvent(events[0]); // some other state, replaced below
      c.restoreState(state);
      events.slice(k).forEach((e, j) => {
        const want = expected.scores[k + j];
        const u = first.scoreEvent(e);
        assertSameScore(u, want, `k=${k} uninterrupted ${j}`);
        // The restored instances continue exactly as the uninterrupted one.
        const asWant = { risk: u.risk, is_alert: u.isAlert, reasons: u.reasons };
        assertSameScore(a.scoreEvent(e), asWant, `k=${k} restore ${j}`);
        assertSameScore(b.scoreEvent(e), asWant, `k=${k} fromBytes ${j}`);
        assertSameScore(c.scoreEvent(e), asWant, `k=${k} restoreState ${j}`);
      });
      [first, a, b, c].forEach((p) => p.free());
    }
  });
}

test("resetState forgets every entity", () => {
  const { bytes, expected } = load("pipeline_v1");
  const p = Pipeline.fromBytes(bytes);
  p.resetState();
  const fresh = Pipeline.fromBytes(bytes);
  fresh.restoreState(p.snapshot());
  const e = expected.events[0];
  assert.deepEqual(fresh.scoreEvent(e), p.scoreEvent(e));
});

test("JS values map like JSON: Date, bigint, integral floats, undefined, extra ignored fields", () => {
  const { bytes, expected } = load("pipeline_v1");
  const e = expected.events[0];
  const variants = [
    { ...e, merchant: BigInt(e.merchant) },
    { ...e, merchant: e.merchant + 0.0, note: { any: ["thing"] } },
    { ...e, note: undefined },
    Object.assign(Object.create(null), e),
  ];
  for (const v of variants) {
    const p = Pipeline.fromBytes(bytes);
    assertSameScore(p.scoreEvent(v), expected.scores[0], JSON.stringify(v, (k, x) => (typeof x === "bigint" ? `${x}n` : x)));
  }
});

test("bad artifacts and states throw Errors that say what is wrong", () => {
  const { bytes, expected } = load("pipeline_v1");
  const forest = readFileSync(path.join(golden, "iforest_v1.bin"));
  const flipped = bytes.slice();
  flipped[200] ^= 0x40;
  const future = bytes.slice();
  future[8] = 0xff;
  const cases = [
    [new Uint8Array(0), /truncated/],
    [new TextEncoder().encode("PK\u0003\u0004 not a model at all, a zip file"), /not a fraud-core artifact/],
    [bytes.slice(0, bytes.length - 10), /truncated|length/],
    [bytes.slice(0, 20), /truncated|length/],
    [flipped, /checksum/],
    [future, /unsupported format version/],
    [new Uint8Array(forest), /kind|IsolationForest|isolation/i],
  ];
  for (const [b, re] of cases) {
    assert.throws(() => Pipeline.fromBytes(b), (e) => e instanceof Error && re.test(e.message), String(re));
  }
  // A pipeline artifact is not an IsolationForest either.
  assert.throws(() => IsolationForest.fromBytes(bytes), (e) => e instanceof Error && /kind|pipeline/i.test(e.message));
  // States: a model is not a state, a state of another feature spec is refused, and garbage.
  const p = Pipeline.fromBytes(bytes);
  const other = Pipeline.fromBytes(load("pipeline_supervised_v1").bytes);
  const stateCases = [
    [bytes, /kind|snapshot/i],
    [other.snapshot(), /another feature spec/],
    [new Uint8Array([1, 2, 3]), /truncated|not a fraud-core artifact/],
    [p.snapshot().slice(0, 40), /truncated|length/],
  ];
  const before = p.snapshot();
  for (const [s, re] of stateCases) {
    assert.throws(() => p.restoreState(s), (e) => e instanceof Error && re.test(e.message), String(re));
    assert.throws(() => Pipeline.restore(bytes, s), (e) => e instanceof Error && re.test(e.message), String(re));
  }
  assert.deepEqual(p.snapshot(), before, "a refused state leaves the current one");
  assert.throws(() => Pipeline.restore(new Uint8Array(3), before), /truncated|not a fraud-core artifact/);
  // Wrong argument types are refused by the generated glue with a TypeError/Error, not a trap.
  for (const bad of [null, undefined, 42, "bytes", {}]) {
    assert.throws(() => Pipeline.fromBytes(bad), Error);
  }
  assertSameScore(p.scoreEvent(expected.events[0]), expected.scores[0], "still works");
});

test("bad events throw Errors that name the field; the instance keeps working", () => {
  const { bytes, expected } = load("pipeline_v1");
  const p = Pipeline.fromBytes(bytes);
  const e = expected.events[0];
  const without = (k) => Object.fromEntries(Object.entries(e).filter(([n]) => n !== k));
  const throwingGetter = Object.defineProperty({ ...e }, "amount", { enumerable: true, get() { throw new Error("boom"); } });
  const proxy = new Proxy({ ...e }, { ownKeys() { throw new Error("proxy says no"); } });
  const cases = [
    [null, /must be an object.*null/],
    [undefined, /must be an object.*undefined/],
    [42, /must be an object.*number/],
    ["{\"ts\": 1}", /must be an object.*string/],
    [true, /must be an object.*boolean/],
    [[e], /must be an object.*array/],
    [() => e, /must be an object.*function/],
    [{}, /missing.*ts/i],
    [without("ts"), /ts/],
    [without("card"), /card/],
    [without("merchant"), /merchant/],
    [without("amount"), /amount/],
    [{ ...e, amount: undefined }, /amount/],
    [{ ...e, amount: NaN }, /amount.*(NaN|finite)/],
    [{ ...e, amount: Infinity }, /amount.*finite/],
    [{ ...e, amount: "12.5" }, /amount.*string/],
    [{ ...e, amount: null }, /amount.*null/],
    [{ ...e, amount: [1] }, /amount.*array/],
    [{ ...e, amount: { v: 1 } }, /amount.*object/],
    [{ ...e, amount: 10n ** 30n }, /amount/],
    [{ ...e, amount: Symbol("x") }, /amount/],
    [{ ...e, ts: "yesterday" }, /ts/],
    [{ ...e, ts: NaN }, /ts/],
    [{ ...e, ts: 1e300 }, /ts/],
    [{ ...e, ts: new Date(NaN) }, /ts/],
    [{ ...e, ts: new Date(0) }, /ts/],
    [{ ...e, card: null }, /card.*null/],
    [{ ...e, card: 1.5 }, /card.*non-integral/],
    [{ ...e, card: true }, /card/],
    [{ ...e, card: { id: 1 } }, /card/],
    [{ ...e, surprise: 1 }, /unknown field.*surprise/i],
    [{ ...e, ts: e.ts - 86400 * 30 }, /late|older|before/i],
    [throwingGetter, /boom/],
    [proxy, /proxy says no/],
  ];
  for (const [bad, re] of cases) {
    assert.throws(() => p.scoreEvent(bad), (err) => err instanceof Error && !(err instanceof WebAssembly.RuntimeError) && re.test(err.message), `${String(re)}`);
  }
  // None of them touched the state: the golden continuation still holds.
  expected.events.forEach((ev, i) => assertSameScore(p.scoreEvent(ev), expected.scores[i], `after errors, event ${i}`));
});

test("scoreEvent's JavaScript fast path equals the generic path on every kind of value", () => {
  const { bytes, expected } = load("pipeline_v1");
  const fast = Pipeline.fromBytes(bytes);
  const generic = Pipeline.fromBytes(bytes);
  assert.equal(typeof generic._scoreEventGeneric, "function");
  const base = expected.events.at(-1);
  let ts = base.ts;
  const inherited = Object.create({ surprise: 1 });
  const variants = [
    (e) => e,
    (e) => ({ ...e, amount: 44 }), // an integral number
    (e) => ({ ...e, amount: -0 }), // negative zero: read as a float
    (e) => ({ ...e, amount: 2 ** 53 }), // beyond exact integers: a float
    (e) => ({ ...e, amount: 1.5e-300 }),
    (e) => ({ ...e, card: "ü€😀 card" }), // non-ASCII keys
    (e) => ({ ...e, card: 12 }), // an integer key
    (e) => ({ ...e, merchant: 7n }), // bigint: generic path
    (e) => ({ ...e, merchant: "m\u0000x" }), // a NUL in a string: generic path
    (e) => ({ ...e, extra: undefined }), // undefined counts as absent
    (e) => Object.assign(Object.create(inherited), e), // inherited fields are not fields
    (e) => ({ ...e, ts: new Date(e.ts * 1000) }), // a Date
    (e) => ({ ...e, ts: new Date(NaN) }), // an invalid Date: error
    (e) => ({ ...e, amount: null }), // error
    (e) => ({ ...e, amount: NaN }), // error
    (e) => ({ ...e, amount: "12" }), // error
    (e) => ({ ...e, surprise: 1 }), // unknown field: error
    (e) => ({ ...e, card: "\ud800" }), // unpaired surrogate: error
    (e) => ({ ...e, ts: e.ts - 10 ** 6 }), // late: error after the fields are read
    (e) => ({ ...e, card: true }), // error
    (e) => ({ ...e, note: 5 }), // ignored field of another type
  ];
  let compared = 0;
  for (let round = 0; round < 30; round++) {
    for (const [v, make] of variants.entries()) {
      ts += 97;
      const event = make({ ...base, ts, card: `c${(round * 7 + v) % 40}`, amount: 10 + v + round / 8 });
      const run = (f) => {
        try {
          return { ok: f() };
        } catch (e) {
          assert.ok(e instanceof Error, "an Error");
          return { err: e.message };
        }
      };
      const a = run(() => fast.scoreEvent(event));
      const b = run(() => generic._scoreEventGeneric(event));
      const where = `round ${round}, variant ${v}`;
      if (b.err !== undefined) {
        assert.equal(a.err, b.err, where);
      } else {
        assert.equal(a.err, undefined, `${where}: ${a.err}`);
        assertSameScore(a.ok, b.ok, where);
        assert.deepEqual(Object.keys(a.ok), Object.keys(b.ok), where);
        assert.deepEqual(a.ok.reasons.map((r) => Object.keys(r)), b.ok.reasons.map((r) => Object.keys(r)), where);
      }
      compared++;
    }
  }
  assert.equal(compared, 30 * variants.length);
  // The two states are the same: both continue identically.
  for (let i = 0; i < 200; i++) {
    ts += 61;
    const event = { ...base, ts, card: `c${i % 40}`, amount: 5 + (i % 17) };
    assertSameScore(fast.scoreEvent(event), generic._scoreEventGeneric(event), `after, event ${i}`);
  }
});
