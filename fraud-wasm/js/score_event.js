// The fast path of Pipeline.scoreEvent, installed on the generated Pipeline class by build.sh.
//
// Crossing from JavaScript into WebAssembly costs far more per call than the scoring itself, and
// the generic scoreEvent (in Rust) reads the event object field by field through JS calls and
// builds the result object through JS calls. This wrapper instead splits the event in JavaScript
// into three arrays (one slot per schema field: a type tag, a number, the strings joined by NUL)
// passed in one call, and builds the result object in JavaScript from the flat array it returns.
// The Rust side feeds the slots to the very same event builder, so the rules are unchanged.
//
// Anything unusual (an unknown field, null, a boolean, a bigint, an invalid Date, a string with a
// NUL or an unpaired surrogate, any value the builder refuses) goes to the generic scoreEvent
// instead, untouched, so every error message is the generic one.
"use strict";

const SLOTS = Symbol("fraud-wasm slots");
const TWO_53 = 9007199254740992;

function slotsOf(p) {
  let s = p[SLOTS];
  if (s === undefined) {
    const fields = p.schemaFields();
    s = {
      index: new Map(fields.map((f, i) => [f, i])),
      tags: new Uint8Array(fields.length),
      nums: new Float64Array(fields.length),
      strs: new Array(fields.length),
      inputs: p.inputNames,
    };
    p[SLOTS] = s;
  }
  return s;
}

function install(Pipeline) {
  const generic = Pipeline.prototype.scoreEvent;
  // The generic path stays reachable for the tests that compare the two (not part of the API).
  Object.defineProperty(Pipeline.prototype, "_scoreEventGeneric", { value: generic });
  Pipeline.prototype.scoreEvent = function scoreEvent(event) {
    if (event === null || typeof event !== "object" || Array.isArray(event)) {
      return generic.call(this, event);
    }
    const s = slotsOf(this);
    const { index, tags, nums, strs } = s;
    tags.fill(0);
    let nStr = 0;
    for (const name in event) {
      if (!Object.prototype.hasOwnProperty.call(event, name)) continue;
      const i = index.get(name);
      const v = event[name];
      if (v === undefined) continue;
      if (i === undefined) return generic.call(this, event);
      if (typeof v === "number") {
        tags[i] = Number.isInteger(v) && Math.abs(v) < TWO_53 && !Object.is(v, -0) ? 1 : 2;
        nums[i] = v;
      } else {
        let text;
        if (typeof v === "string") {
          text = v;
        } else if (v instanceof Date && !Number.isNaN(v.getTime())) {
          text = v.toISOString();
        } else {
          return generic.call(this, event);
        }
        if (text.includes("\0") || !text.isWellFormed()) return generic.call(this, event);
        tags[i] = 3;
        strs[i] = text;
        nStr++;
      }
    }
    let joined = "";
    if (nStr > 0) {
      const parts = [];
      for (let i = 0; i < tags.length; i++) if (tags[i] === 3) parts.push(strs[i]);
      joined = parts.join("\0");
    }
    const out = this.scoreSlots(tags, nums, joined);
    if (out.length === 0) return generic.call(this, event);
    const n = out[2];
    const reasons = new Array(n);
    for (let r = 0; r < n; r++) {
      const j = out[3 + 3 * r];
      reasons[r] = { feature: s.inputs[j], value: out[4 + 3 * r], contribution: out[5 + 3 * r] };
    }
    return { risk: out[0], isAlert: out[1] === 1, reasons };
  };
}

module.exports = { install };
