// The threshold grammar ("put.p99 < 50ms"): what it accepts and how it reads values, what it rejects and
// how it says so (through the profile schema: thresholds[i] named), and the judging against a status.
import t from 'tap';
import { noViolations, VIOLATION_KINDS } from '../src/loadgen/verdict.js';
import { THRESHOLD_VIOLATION_KINDS } from '../src/schema/threshold.js';
import fc from 'fast-check';
import { loadProfileSchema } from '../src/schema/load.js';
import { compare, METRICS, OPS, parseThreshold, ThresholdError, WINDOW_METRICS } from '../src/schema/threshold.js';
import { formatThresholdRows, judgeThresholds } from '../src/loadgen/thresholds.js';
import type { LoadStatus, LoadSummary } from '../src/loadgen/report.js';
import type { WindowFigures } from '../src/loadgen/window-figures.js';

t.test('examples read as written', async (t) => {
  const cases: [string, string, string, number, boolean][] = [
    ['put.p99 < 50ms', 'put.p99', '<', 50, false],
    ['watch.p99<100', 'watch.p99', '<', 100, false],
    ['put.p50 <= 1.5s', 'put.p50', '<=', 1500, false],
    ['put.max < 2m', 'put.max', '<', 120_000, false],
    ['violations == 0', 'violations', '==', 0, false],
    ['violations.reliable != 1', 'violations.reliable', '!=', 1, false],
    ['availability > 99.5%', 'availability', '>', 99.5, false],
    ['availability >= 99', 'availability', '>=', 99, false],
    ['events.rate > 100/s', 'events.rate', '>', 100, false],
    ['  generator.overloadedIntervals == 0 ', 'generator.overloadedIntervals', '==', 0, false],
    ['window.put.p99 < 2s', 'put.p99', '<', 2000, true],
    ['window.recover <= 10s', 'recover', '<=', 10_000, true],
  ];
  for (const [text, metric, op, value, window] of cases) {
    const p = parseThreshold(text);
    t.same({ metric: p.metric, op: p.op, value: p.value, window: p.window }, { metric, op, value, window }, text);
    t.equal(p.expr, text.trim());
  }
});

t.test('mistakes are named', async (t) => {
  t.throws(() => parseThreshold('put.p99 50ms'), /expected "METRIC OP VALUE"/);
  t.throws(
    () => parseThreshold('put.p98 < 50ms'),
    /unknown metric "put.p98" \(known: \{put,watch,putError,putSend\}\.\{p50,p90,p99,p999,max,mean\}, availability, violations,/,
  );
  t.throws(() => parseThreshold('window.put.p90 < 1s'), /unknown metric "window.put.p90" \(known: window.put.p50/);
  t.throws(() => parseThreshold('violations == 0ms'), /violations takes a plain number, got "0ms"/);
  t.throws(() => parseThreshold('put.p99 < 5%'), /put.p99 takes a duration/);
  t.throws(() => parseThreshold('availability > 99s'), /availability takes a percentage/);
  t.throws(() => parseThreshold('put.p99 < 1e999'), /finite/);
  const r = loadProfileSchema.safeParse({ thresholds: ['put.p99 < 50ms', 'put.p99 =< 50ms'] });
  t.notOk(r.success);
  t.same(r.error!.issues[0].path, ['thresholds', 1]);
  t.match(r.error!.issues[0].message, /expected "METRIC OP VALUE"/);
  t.same(loadProfileSchema.parse({ thresholds: ['violations == 0'] }).thresholds, ['violations == 0']);
  t.equal(loadProfileSchema.parse({}).thresholds, undefined);
});

const metricArb = fc.oneof(
  fc.constantFrom(...Object.keys(METRICS)).map((m) => ({ name: m, unit: METRICS[m].unit })),
  fc.constantFrom(...Object.keys(WINDOW_METRICS)).map((m) => ({ name: `window.${m}`, unit: WINDOW_METRICS[m].unit })),
);
const suffixOf = { duration: ['', 'ms', 's', 'm'], percent: ['', '%'], count: [''], rate: ['', '/s'] } as const;
const factor: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, '%': 1, '/s': 1 };

t.test('property: every well-formed threshold parses to its parts, whatever the spacing', async () => {
  fc.assert(
    fc.property(
      metricArb,
      fc.constantFrom(...OPS),
      fc.integer({ min: 0, max: 1_000_000 }),
      fc.nat(3),
      fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 }),
      fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 }),
      (m, op, n, pick, sp1, sp2) => {
        const suffixes = suffixOf[m.unit];
        const suffix = suffixes[pick % suffixes.length];
        const p = parseThreshold(`${sp1}${m.name}${sp2}${op}${sp1}${n}${suffix}${sp2}`);
        return (
          p.op === op &&
          p.value === n * factor[suffix] &&
          p.window === m.name.startsWith('window.') &&
          (p.window ? `window.${p.metric}` : p.metric) === m.name
        );
      },
    ),
  );
});

t.test('property: arbitrary text either parses or throws a ThresholdError, never anything else', async () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      try {
        const p = parseThreshold(s);
        return Number.isFinite(p.value) && OPS.includes(p.op);
      } catch (err) {
        return err instanceof ThresholdError && err.message.length > 0;
      }
    }),
  );
});

t.test('property: an operator and its negation never agree', async () => {
  const neg = { '<': '>=', '<=': '>', '>': '<=', '>=': '<', '==': '!=', '!=': '==' } as const;
  fc.assert(
    fc.property(fc.constantFrom(...OPS), fc.double({ noNaN: true }), fc.double({ noNaN: true }), (op, a, b) => {
      return compare(a, op, b) !== compare(a, neg[op], b);
    }),
  );
});

const pct = (p99: number, count = 10) => ({
  count,
  p50: p99 / 2,
  p90: p99 * 0.9,
  p99,
  p999: p99,
  max: p99,
  mean: p99 / 2,
});

function status(over: Partial<LoadStatus> = {}): LoadStatus {
  return {
    elapsed: 10,
    counts: { ok: 995, failed: 2, indeterminate: 3, events: 2000, slips: 0 },
    violations: { ...noViolations(), reliable: 1 },
    generator: { stalls: 0, garbled: 0, streamBreaks: 0, overloadedIntervals: 0 },
    findings: { late: 0 },
    latency: { put: pct(40), putError: pct(0, 0), putSend: pct(0, 0), watch: pct(120) },
    ...over,
  } as unknown as LoadStatus;
}

t.test('judged against a status: values, units, not measured', async (t) => {
  const s = status();
  const r = judgeThresholds(
    [
      'put.p99 < 50ms',
      'watch.p99 < 100ms',
      'violations == 0',
      'violations.ordered == 0',
      'availability > 99.5%',
      'events.rate >= 200',
      'putError.p99 < 1s',
      'window.put.p99 < 2s',
    ],
    s,
  );
  t.same(
    r.thresholds.map((x) => [x.value, x.ok]),
    [
      [40, true],
      [120, false],
      [1, false],
      [0, true],
      [99.5, false],
      [200, true],
      [0, true],
      [null, true],
    ],
  );
  t.equal(r.thresholds[7].pending, true, 'a window threshold waits for the end of a live run');
  t.equal(r.passed, false);
  t.same(judgeThresholds(undefined, s), { thresholds: [], passed: true });
  const idle = status({ latency: { put: pct(0, 0), putError: pct(0, 0), putSend: pct(0, 0), watch: pct(0, 0) } });
  t.same(judgeThresholds(['put.p99 < 50ms'], idle).thresholds[0], { expr: 'put.p99 < 50ms', value: null, ok: false });
  const rows = formatThresholdRows(r.thresholds, r.passed);
  t.match(rows[0], /thresholds: FAILED/);
  t.match(rows[1], /✓ put\.p99 < 50ms +40ms/);
  t.match(rows[2], /✗ watch\.p99 < 100ms +120ms/);
  t.match(rows[5], /✗ availability > 99\.5% +99\.5%/);
});

t.test('window thresholds at the end: the worst window decides, none is not measured', async (t) => {
  const w = (id: string, p99: number, recoverMs: number | null) =>
    ({
      id,
      during: {
        seconds: 5,
        put: { p50: 1, p99, p999: p99 },
        watch: { p99 },
        putSuccessPct: 100,
        indeterminate: { total: 0 },
        slips: 0,
      },
      violations: { total: 0, byKind: {} },
      recoverMs,
      firstOkPutMs: 10,
    }) as unknown as WindowFigures;
  const end = (windows?: WindowFigures[]) => ({ ...status(), endedAt: 'x', windows }) as unknown as LoadSummary;
  const two = end([w('w1', 300, 1000), w('w2', 2500, null)]);
  t.same(judgeThresholds(['window.put.p99 < 2s'], two).thresholds[0], {
    expr: 'window.put.p99 < 2s',
    value: 2500,
    ok: false,
    window: 'w2',
  });
  t.same(judgeThresholds(['window.put.p99 < 3s'], two).thresholds[0].window, 'w2', 'the worst when all hold');
  t.equal(judgeThresholds(['window.recover < 10s'], two).thresholds[0].ok, false, 'never recovered fails');
  t.same(judgeThresholds(['window.put.p99 < 2s'], end([])).thresholds[0], {
    expr: 'window.put.p99 < 2s',
    value: null,
    ok: false,
  });
});

t.test('a threshold can name every violation kind the checkers count', async (t) => {
  t.same([...THRESHOLD_VIOLATION_KINDS].sort(), [...VIOLATION_KINDS].sort());
  const r = judgeThresholds(['violations.atomic == 0', 'violations.linearizability == 0'], status());
  t.same(
    r.thresholds.map((x) => [x.value, x.ok]),
    [
      [0, true],
      [0, true],
    ],
  );
});
