// The frame the feature workloads (registry, lock, election, config) share, without sockets: the book's
// counts, violations and anomalies as the run and the metrics see them; the profile's workload list;
// each fault window's per-workload figures from the 1-s series and the marks; the summary table, the
// status line and the verdict.
import t from 'tap';
import { Metrics } from '../src/metrics.js';
import { ManualClock } from '../src/util/clock.js';
import { WorkloadBook } from '../src/loadgen/workloads/book.js';
import type { WorkloadContext } from '../src/loadgen/workloads/types.js';
import {
  formatSectionRows,
  type WorkloadAnomaly,
  type WorkloadOpEvent,
  type WorkloadSection,
} from '../src/loadgen/workloads/section.js';
import type { Violation } from '../src/loadgen/verdict.js';
import { loadProfileSchema } from '../src/schema/load.js';
import type { TimelineMark } from '../src/loadgen/events.js';
import type { SeriesRow } from '../src/loadgen/observers/series.js';
import { secondsOf } from '../src/report/series.js';
import { windowFigures } from '../src/report/windows.js';
import { formatWindowRows } from '../src/loadgen/window-figures.js';
import { formatStatusLine, formatSummaryTable, summarize, type LoadStatus } from '../src/loadgen/report.js';

function fakeContext() {
  const seen = { violations: [] as Violation[], anomalies: [] as WorkloadAnomaly[], ops: [] as WorkloadOpEvent[] };
  const metrics = new Metrics({ defaultMetrics: false });
  const clock = new ManualClock();
  // whether a drop/corrupt fault is (or was within settle) active on a link
  const transit = { suspect: false };
  const ctx = {
    clock,
    metrics,
    transitSuspect: () => transit.suspect,
    violation: (v: Violation) => seen.violations.push(v),
    anomaly: (a: WorkloadAnomaly) => seen.anomalies.push(a),
    opDone: (e: WorkloadOpEvent) => seen.ops.push(e),
  } as unknown as WorkloadContext;
  return { ctx, seen, metrics, clock, transit };
}

t.test(
  'the book: operations, figures, violations (etcd’s) and anomalies (not) reach the run and the metrics',
  async (t) => {
    const { ctx, seen, metrics } = fakeContext();
    const book = new WorkloadBook(ctx, 'lock', { checks: ['fencing', 'tokenOrder'], anomalies: ['unsafeHold'] });
    t.same(book.section({ contenders: 2 }).violations, { fencing: 0, tokenOrder: 0 }, 'declared checks listed at 0');
    book.op('lock', 'ok', 12);
    book.op('lock', 'ok', 30);
    book.op('lock', 'indeterminate', 5000);
    book.op('unlock', 'failed', 1);
    book.figure('wait', 250);
    book.count('grants', 2);
    book.violation('fencing', { key: '/p/resource', revision: 42, detail: 'old holder wrote after a newer grant' });
    book.anomaly('unsafeHold', { key: '/p/mutex', revision: 40, detail: 'two holds overlap by 1.2s' });
    t.equal(seen.violations.length, 1);
    t.match(seen.violations[0], { kind: 'lock', check: 'fencing', key: '/p/resource', revision: 42 });
    t.match(seen.violations[0].detail, /^fencing: /);
    t.same(seen.anomalies, [
      { workload: 'lock', kind: 'unsafeHold', key: '/p/mutex', revision: 40, detail: 'two holds overlap by 1.2s' },
    ]);
    t.equal(seen.ops.length, 4, 'every operation is told to the series');
    t.same(book.totals, { ok: 2, failed: 1, indeterminate: 1 });
    const sec = book.section({ contenders: 2 });
    t.same(sec.ops.lock, { ok: 2, failed: 0, indeterminate: 1 });
    t.equal(sec.latency.lock.count, 2, 'only ok answers make the latency');
    t.ok(Math.abs(sec.latency.wait.p50 - 250) < 0.5, 'a figure keeps HDR precision');
    t.same(sec.violations, { fencing: 1, tokenOrder: 0 });
    t.same(sec.anomalies, { unsafeHold: 1 });
    t.same(
      sec.first.map((f) => [f.type, f.check]),
      [
        ['violation', 'fencing'],
        ['anomaly', 'unsafeHold'],
      ],
    );
    const text = await metrics.registry.metrics();
    t.match(text, /etcd_soak_workload_violations_total\{workload="lock",check="fencing"\} 1/);
    t.match(text, /etcd_soak_workload_anomalies_total\{workload="lock",kind="unsafeHold"\} 1/);
    t.match(text, /etcd_soak_workload_ops_total\{workload="lock",op="lock",result="indeterminate"\} 1/);
    t.match(text, /etcd_soak_workload_latency_seconds_count\{workload="lock",name="wait"\} 1/);
  },
);

t.test(
  'the profile: feature workloads alone run beside put and watch; a base workload named stands alone',
  async (t) => {
    const w = (x?: string[]) => loadProfileSchema.parse(x ? { workloads: x } : {}).workloads;
    t.same(w(['registry', 'lock', 'election', 'config']), ['put', 'watch', 'registry', 'lock', 'election', 'config']);
    t.same(w(['kv', 'config']), ['kv', 'config']);
    t.same(w(['put', 'lock']), ['put', 'lock']);
    t.same(w(), ['put', 'watch']);
    const bad = loadProfileSchema.safeParse({ registryTtl: '1500ms' });
    t.notOk(bad.success);
    t.match(bad.error?.issues[0], { path: ['registryTtl'], message: /whole seconds, at least 2s/ });
    t.ok(loadProfileSchema.safeParse({ sessionTtl: '3s' }).success);
  },
);

const T0 = 1_767_225_600;
const at = (sec: number) => (T0 + sec) * 1000;

t.test(
  'a fault window’s figures per feature workload: operations before and during, its violations and anomalies',
  async (t) => {
    // lock: 10 ok ops a second at 5 ms; during seconds 20..24 half fail and the ok ones take 800 ms
    const rows: SeriesRow[] = Array.from({ length: 40 }, (_, i) => {
      const during = i >= 20 && i < 25;
      return {
        t: T0 + i,
        features: {
          lock: during
            ? { ok: 5, failed: 3, indeterminate: 2, okMs: 4000, maxMs: 900 }
            : { ok: 10, failed: 0, indeterminate: 0, okMs: 50, maxMs: 7 },
        },
      };
    });
    // a second row of the same second sums into it
    rows.push({ t: T0 + 21, features: { lock: { ok: 0, failed: 0, indeterminate: 0, okMs: 0, maxMs: 2000 } } });
    const marks: TimelineMark[] = [
      { mark: 'window', edge: 'start', id: 'p1', kind: 'partition', target: 'isolate leader s1', at: at(20) },
      { mark: 'window', edge: 'end', id: 'p1', kind: 'partition', target: 'isolate leader s1', at: at(25) },
      {
        mark: 'violation',
        at: at(22),
        kind: 'lock',
        check: 'fencing',
        key: 'r',
        revision: 9,
        watcher: -1,
        connection: -1,
        detail: 'fencing: x',
      },
      { mark: 'anomaly', at: at(23), workload: 'lock', kind: 'unsafeHold', key: 'm', detail: 'overlap' },
      { mark: 'anomaly', at: at(35), workload: 'lock', kind: 'unsafeHold', key: 'm', detail: 'after settle' },
    ];
    const { windows, unattributed } = windowFigures({ seconds: secondsOf(rows), marks, settleMs: 5000 });
    t.equal(windows.length, 1);
    const f = windows[0].features?.lock;
    t.ok(f, 'the lock workload has its figures');
    t.same(f?.during, { ok: 25, failed: 15, indeterminate: 10, okPct: 50, meanMs: 800, maxMs: 2000 });
    t.same(f?.baseline, { ok: 200, failed: 0, indeterminate: 0, okPct: 100, meanMs: 5, maxMs: 7 });
    t.same(f?.violations, { fencing: 1 });
    t.same(f?.anomalies, { unsafeHold: 1 }, 'the anomaly 10 s after the end is not the window’s');
    t.equal(windows[0].violations.byKind.lock, 1, 'the violation also counts among the window’s own');
    t.equal(unattributed.total, 0);
    const text = formatWindowRows(windows).join('\n');
    t.match(
      text,
      /\n {4}lock: ok 50% \(before 100%\), 50 ops, mean 800ms max 2s; violations fencing 1; anomalies unsafeHold 1/,
    );
  },
);

/** a stopped run's status with these feature sections, for summarize */
function stoppedStatus(workload: string, features: Record<string, WorkloadSection>): LoadStatus {
  return {
    runId: 'abcd1234',
    state: 'stopped',
    elapsed: 10,
    profile: loadProfileSchema.parse({ workloads: [workload] }),
    endpoints: ['127.0.0.1:2379'],
    rates: { target: 200, puts: 200, events: 200 },
    inFlight: 0,
    counts: {
      issued: 0,
      ok: 0,
      failed: 0,
      indeterminate: 0,
      applied: 0,
      notApplied: 0,
      slips: 0,
      events: 0,
      resumes: 0,
      compacted: 0,
      overloadedIntervals: 0,
    },
    violations: Object.fromEntries(
      [
        'ordered',
        'unique',
        'reliable',
        'unexpected',
        'atomic',
        'bookmarkable',
        'resumable',
        'created',
        'hashkv',
        'linearizability',
        'registry',
        'lock',
        'election',
        'config',
      ].map((k) => [k, 0]),
    ),
    generator: { stalls: 0, garbled: 0, streamBreaks: 0, overloadedIntervals: 0 },
    findings: { late: 0, maxLateMs: 0, falseSkips: 0, unverifiedSkips: 0, corruptedWrites: 0, unchecked: 0 },
    watchers: {},
    latency: {
      put: { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 },
      putError: { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 },
      putSend: { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 },
      watch: { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 },
    },
    features,
    thresholds: [],
    passed: true,
  } as unknown as LoadStatus;
}

t.test('summary table, status line and verdict carry each feature workload', async (t) => {
  const { ctx } = fakeContext();
  const book = new WorkloadBook(ctx, 'config', { checks: ['skipped', 'regressed'] });
  book.op('write', 'ok', 3);
  book.figure('convergence', 14);
  const clean = book.section({ watchers: 10, rate: 5 });
  const st = stoppedStatus('config', { config: clean });
  const s = summarize(st, 'duration reached', undefined);
  t.equal(s.verdict.config, 'held');
  const table = formatSummaryTable(s);
  t.match(
    table,
    /\n {2}config: write 1\n {4}checks: held \(skipped, regressed\)\n {4}latency: write p50 3ms p99 3ms max 3ms; convergence p50 14ms/,
  );
  t.match(formatStatusLine(s), /config 1 ok 0 failed, 0 violations/);
  book.violation('skipped', { key: 'c', revision: 7, detail: 'version 3 after 1' });
  const bad = summarize({ ...st, features: { config: book.section({}) } } as LoadStatus, 'x', undefined);
  t.equal(bad.verdict.config, 'violated');
  t.match(formatSummaryTable(bad), /checks: VIOLATED \(skipped 1\)/);
});

t.test('a finding made while a drop/corrupt fault may have garbled the bytes is counted apart', async (t) => {
  const { ctx, seen, metrics, transit } = fakeContext();
  const book = new WorkloadBook(ctx, 'lock', { checks: ['fencing', 'tokenOrder'], anomalies: ['unsafeHold'] });
  transit.suspect = true;
  book.violation('tokenOrder', { key: '/p/mutex', revision: 1248, detail: 'c3 granted with token 1231 after 1244' });
  book.violation('fencing', { key: '/p/resource', revision: 1250, detail: 'c3 wrote with token 1231' });
  t.equal(seen.violations.length, 0, 'not told to the run as a violation');
  t.same(
    seen.anomalies.map((a) => a.kind),
    ['unverified:tokenOrder', 'unverified:fencing'],
    'on the timeline with its window',
  );
  transit.suspect = false;
  book.violation('fencing', { key: '/p/resource', revision: 1300, detail: 'after the fault and settle' });
  t.equal(seen.violations.length, 1, 'a finding once the fault (and settle) is over is a violation again');
  const sec = book.section({});
  t.same(sec.violations, { fencing: 1, tokenOrder: 0 });
  t.same(sec.unverified, { tokenOrder: 1, fencing: 1 });
  t.same(sec.anomalies, { unsafeHold: 0 }, 'not among the declared anomalies');
  t.same(
    sec.first.map((f) => [f.type, f.check]),
    [
      ['unverified', 'tokenOrder'],
      ['unverified', 'fencing'],
      ['violation', 'fencing'],
    ],
  );
  const text = await metrics.registry.metrics();
  t.match(text, /etcd_soak_workload_anomalies_total\{workload="lock",kind="unverified:fencing"\} 1/);
  t.match(text, /etcd_soak_workload_violations_total\{workload="lock",check="fencing"\} 1/);
  t.match(
    formatSectionRows('lock', sec).join('\n'),
    /checks: VIOLATED \(fencing 1\) \| unverified \(a drop\/corrupt fault may have garbled them\): tokenOrder 1, fencing 1/,
  );

  // only unverified findings: the verdict says so, never held nor violated
  const only = new WorkloadBook(ctx, 'lock', { checks: ['fencing'] });
  transit.suspect = true;
  only.violation('fencing', { key: '/p/resource', revision: 9, detail: 'x' });
  const s = summarize(stoppedStatus('lock', { lock: only.section({}) }), 'x', undefined);
  t.equal(s.verdict.lock, 'unverified');
  t.match(
    formatSummaryTable(s),
    /\n {4}checks: unverified \(a drop\/corrupt fault may have garbled them\): fencing 1\n/,
  );
  t.match(formatStatusLine(s), /lock 0 ok 0 failed, 0 violations, 1 unverified/);
});
