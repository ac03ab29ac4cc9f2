// Bit-level comparisons of scores, shared by the Node tests (tests/*.test.mjs) and the browser check
// (browser/page.mjs). Plain ES module without Node APIs, so both can import it.

/** Whether two numbers have the same IEEE-754 bits. */
export function sameBits(a, b) {
  const x = new Float64Array([a]);
  const y = new Float64Array([b]);
  return new BigUint64Array(x.buffer)[0] === new BigUint64Array(y.buffer)[0];
}

/** Distance in units in the last place between two finite doubles of the same sign. */
export function ulps(a, b) {
  const x = new BigInt64Array(new Float64Array([a, b]).buffer);
  const d = x[0] - x[1];
  return Number(d < 0n ? -d : d);
}

/** How `got` (scoreEvent's result) differs from an expected score: empty when they agree bit for
 * bit (or within `maxUlps` for the risk and contributions; feature values and flags always
 * exactly). `want` may spell the flag `is_alert` (fixtures written by Rust) or `isAlert`. */
export function scoreMismatches(got, want, where, maxUlps = 0) {
  const close = (a, b) => (maxUlps === 0 ? Object.is(a, b) && sameBits(a, b) : ulps(a, b) <= maxUlps);
  const out = [];
  if (!close(got.risk, want.risk)) out.push(`${where}: risk ${got.risk} vs ${want.risk}`);
  const alert = want.is_alert ?? want.isAlert;
  if (got.isAlert !== alert) out.push(`${where}: isAlert ${got.isAlert} vs ${alert}`);
  if (got.reasons.length !== want.reasons.length) {
    out.push(`${where}: ${got.reasons.length} reasons vs ${want.reasons.length}`);
    return out;
  }
  got.reasons.forEach((r, k) => {
    const w = want.reasons[k];
    if (r.feature !== w.feature) out.push(`${where} reason ${k}: feature ${r.feature} vs ${w.feature}`);
    if (!sameBits(r.value, w.value)) out.push(`${where} reason ${k}: value ${r.value} vs ${w.value}`);
    if (!close(r.contribution, w.contribution)) {
      out.push(`${where} reason ${k}: contribution ${r.contribution} vs ${w.contribution}`);
    }
  });
  return out;
}
