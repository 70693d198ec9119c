// Property tests of Go's duration syntax (src/util/duration.ts): formatting and parsing round-trip over
// Go's whole range, composed durations parse to the exact sum Go computes, and any junk is refused with
// a GoDurationError ("time: ...") and nothing else.
import t from 'tap';
import fc from 'fast-check';
import { formatGoDuration, GoDurationError, MAX_GO_DURATION_NS, parseGoDuration } from '../src/util/duration.js';

const RUNS = { numRuns: 2000 };
const MIN_NS = -MAX_GO_DURATION_NS - 1n;
/** Go's range, with its edges and the unit boundaries drawn more often than chance would */
const goDuration = fc.oneof(
  fc.bigInt({ min: MIN_NS, max: MAX_GO_DURATION_NS }),
  fc.bigInt({ min: -1_000_000_000_000n, max: 1_000_000_000_000n }),
  fc.constantFrom(
    0n,
    1n,
    -1n,
    999n,
    1000n,
    999_999n,
    1_000_000n,
    999_999_999n,
    1_000_000_000n,
    MAX_GO_DURATION_NS,
    MIN_NS,
  ),
);

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  µs: 1000n,
  μs: 1000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const M = 1n << 63n;

function expectGoError(input: string): string | undefined {
  try {
    parseGoDuration(input);
    return undefined;
  } catch (err) {
    if (!(err instanceof GoDurationError)) throw err;
    return err.message;
  }
}

t.test("parse(format(ns)) = ns and format(parse(format(ns))) = format(ns), over all of Go's range", async (t) => {
  fc.assert(
    fc.property(goDuration, (ns) => {
      const s = formatGoDuration(ns);
      return parseGoDuration(s) === ns && formatGoDuration(parseGoDuration(s)) === s;
    }),
    RUNS,
  );
  t.pass('round trips held');
});

t.test("whole-number components parse to the exact sum, with Go's overflow errors", async (t) => {
  const component = fc.record({
    n: fc.oneof(fc.bigInt({ min: 0n, max: 100_000n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
    zeros: fc.nat({ max: 3 }),
    unit: fc.constantFrom(...Object.keys(UNITS)),
  });
  fc.assert(
    fc.property(fc.constantFrom('', '+', '-'), fc.array(component, { minLength: 1, maxLength: 5 }), (sign, parts) => {
      const input = sign + parts.map((p) => '0'.repeat(p.zeros) + p.n.toString() + p.unit).join('');
      let d = 0n;
      let overflow = false;
      for (const p of parts) {
        const v = p.n * UNITS[p.unit];
        d += v;
        if (p.n > M || v > M || d > M) overflow = true;
      }
      if (sign !== '-' && d > MAX_GO_DURATION_NS) overflow = true;
      if (overflow)
        return (
          expectGoError(input) ===
          `time: invalid duration "${input}"`.replace(/µ|μ/g, (c) => (c === 'µ' ? '\\xc2\\xb5' : '\\xce\\xbc'))
        );
      const ns = parseGoDuration(input);
      // the canonical form parses back to the same value
      return ns === (sign === '-' ? -d : d) && parseGoDuration(formatGoDuration(ns)) === ns;
    }),
    RUNS,
  );
  t.pass('sums held');
});

t.test('fractions: the canonical form of anything accepted parses to the same value', async (t) => {
  const num = fc.tuple(fc.stringMatching(/^\d{0,12}$/), fc.option(fc.stringMatching(/^\d{0,21}$/), { nil: undefined }));
  const part = fc.tuple(num, fc.constantFrom(...Object.keys(UNITS)));
  fc.assert(
    fc.property(fc.constantFrom('', '+', '-'), fc.array(part, { minLength: 1, maxLength: 4 }), (sign, parts) => {
      const input = sign + parts.map(([[i, f], u]) => (f === undefined ? i : `${i}.${f}`) + u).join('');
      const err = expectGoError(input);
      if (err !== undefined) return err.startsWith('time: ');
      const ns = parseGoDuration(input);
      return ns >= MIN_NS && ns <= MAX_GO_DURATION_NS && parseGoDuration(formatGoDuration(ns)) === ns;
    }),
    RUNS,
  );
  t.pass('canonical forms held');
});

t.test('junk never throws anything but a GoDurationError naming the input', async (t) => {
  const alphabet = fc.constantFrom(...'0123456789.+-hmsnuµμ x"\\\t'.split(''), '\u0000', '\ud83d\ude00', '\uffff');
  const junk = fc.oneof(fc.string({ unit: alphabet, maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }));
  fc.assert(
    fc.property(junk, (input) => {
      const err = expectGoError(input);
      return (
        err === undefined ||
        /^time: (invalid duration|missing unit in duration|unknown unit .* in duration) "/.test(err)
      );
    }),
    { numRuns: 5000 },
  );
  t.pass('only documented errors');
});
