// Window figures from a synthetic series and marks (pure): baseline, during and recovery figures, the
// leader at the edges, violations attributed (with the settle tail) or left unattributed, per-second
// counts beyond the marks' cap, an unended window, overlapping windows.
import t from 'tap';
import * as hdr from 'hdr-histogram-js';
import type { TimelineMark } from '../src/loadgen/events.js';
import type { SeriesRow } from '../src/loadgen/observers/series.js';
import { secondsOf } from '../src/report/series.js';
import { windowFigures } from '../src/report/windows.js';
import { formatWindowRows } from '../src/loadgen/window-figures.js';

const T0 = 1_767_225_600; // an epoch second
const ms = (sec: number) => (T0 + sec) * 1000;
/** HDR keeps 3 significant digits */
const near = (x: number, y: number) => Math.abs(x - y) <= y / 1000;

function hist(values: number[]): string {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  for (const v of values) h.recordValue(v * 1000);
  return hdr.encodeIntoCompressedBase64(h);
}

/** seconds 0..99: 10 ok puts a second at `lat(sec)` ms, watch at twice that */
function rows(lat: (sec: number) => number, extra: Record<number, Partial<SeriesRow>> = {}): SeriesRow[] {
  return Array.from({ length: 100 }, (_, i) => ({
    t: T0 + i,
    puts: { ok: 10, failed: 0, indeterminate: 0 },
    put: hist(Array(10).fill(lat(i))),
    watch: hist([lat(i) * 2]),
    ...extra[i],
  }));
}

const win = (edge: 'start' | 'end', id: string, at: number, more: object = {}): TimelineMark => ({
  mark: 'window',
  edge,
  id,
  kind: 'blackhole',
  target: `link ${id}`,
  at,
  ...more,
});
const violation = (at: number, kind = 'reliable'): TimelineMark => ({
  mark: 'violation',
  at,
  kind,
  key: 'k',
  revision: 1,
  watcher: 0,
  connection: 0,
  detail: '',
});

t.test('one window: baseline, during, recovery, leaders, attribution with the settle tail', async (t) => {
  // 10 ms before; 500 ms during seconds 40..44; 100 ms for 45..47; back to 10 ms from 48
  const lat = (s: number) => (s >= 40 && s < 45 ? 500 : s >= 45 && s < 48 ? 100 : 10);
  const series = [
    ...rows(lat, {
      41: { puts: { ok: 10, failed: 0, indeterminate: 2 }, generator: { stalls: 1, garbled: 0, streamBreaks: 0 } },
      40: { firstOk: [{ id: 'a', target: 'link a', at: ms(40) + 700 }] },
    }),
    { t: T0 + 41, settled: { applied: 1, notApplied: 0 } }, // a later correction row
  ];
  const marks: TimelineMark[] = [
    { mark: 'leader', at: ms(0), leader: 's1', term: 2, previous: null },
    win('start', 'a', ms(40), { scenario: 'sc1', step: 'isolate' }),
    { mark: 'leader', at: ms(42), leader: 's2', term: 3, previous: 's1' },
    win('end', 'a', ms(45)),
    violation(ms(43)),
    violation(ms(46.5), 'ordered'), // 1.5 s after the end, within settle
    violation(ms(60)),
  ];
  const r = windowFigures({ seconds: secondsOf(series), marks, settleMs: 2000 });
  t.equal(r.windows.length, 1);
  const w = r.windows[0];
  t.match(w, {
    id: 'a',
    kind: 'blackhole',
    target: 'link a',
    scenario: 'sc1',
    step: 'isolate',
    start: new Date(ms(40)).toISOString(),
    end: new Date(ms(45)).toISOString(),
    durationMs: 5000,
    leaderAtStart: 's1',
    termAtStart: 2,
    leaderAtEnd: 's2',
    termAtEnd: 3,
    leaderChanges: 1,
    firstOkPutMs: 700,
    recoverMs: 3000,
  });
  t.notOk('unended' in w);
  t.match(w.baseline, { seconds: 30, putSuccessPct: 100, slips: 0 });
  t.ok(near(w.baseline!.put.p99, 10) && near(w.baseline!.watch.p99, 20), 'baseline latency');
  t.match(w.during, {
    seconds: 5,
    putSuccessPct: Math.round((50 / 52) * 1000) / 10,
    indeterminate: { total: 2, applied: 1, notApplied: 0 },
    leaderChanges: 1,
  });
  t.ok(near(w.during.put.p50, 500) && near(w.during.put.p999, 500) && near(w.during.watch.p99, 1000), 'during');
  t.match(w.recovery, { seconds: 4 }, 'recovery runs to the first second back within 1.5×');
  t.ok(near(w.recovery!.put.p99, 100), 'its p99 is the slow seconds after the end');
  t.same(w.violations, { byKind: { reliable: 1, ordered: 1 }, total: 2 });
  t.same(w.generator, { stalls: 1, garbled: 0, streamBreaks: 0, overloadedIntervals: 0 });
  t.match(r.unattributed, { byKind: { reliable: 1 }, total: 1, first: [{ at: new Date(ms(60)).toISOString() }] });
});

t.test('the settle tail ends: a violation after it is unattributed', async (t) => {
  const marks = [win('start', 'a', ms(40)), win('end', 'a', ms(45)), violation(ms(47) + 1)];
  const r = windowFigures({ seconds: secondsOf(rows(() => 10)), marks, settleMs: 2000 });
  t.equal(r.windows[0].violations.total, 0);
  t.equal(r.unattributed.total, 1);
});

t.test('overlapping windows, an unended one, no recovery within the series', async (t) => {
  const lat = (s: number) => (s >= 70 ? 300 : 10);
  const series = rows(lat, {
    70: { firstOkAt: ms(70) + 400 }, // due before b's start: not its first ok put
    71: { firstOkAt: ms(71) + 300 },
  });
  const marks = [
    win('start', 'b', ms(70.5)),
    win('start', 'c', ms(75)),
    violation(ms(77)),
    win('end', 'b', ms(80)),
    win('start', 'x', ms(20)), // an earlier window: c's baseline skips it
    win('end', 'x', ms(30)),
  ];
  const r = windowFigures({ seconds: secondsOf(series), marks, settleMs: 1000 });
  t.same(
    r.windows.map((w) => w.id),
    ['x', 'b', 'c'],
    'in start order',
  );
  const [x, b, c] = r.windows;
  t.equal(x.recoverMs, 0, 'x: the first second after it is already back');
  t.equal(b.firstOkPutMs, 800, 'b: from the seconds, 1-s resolution');
  t.equal(b.recoverMs, null, 'b: never back within 1.5× its baseline');
  t.equal(b.recovery!.seconds, 20, 'b: recovery runs to the end of the series');
  t.match(b.baseline, { seconds: 30 });
  t.match(c, {
    unended: true,
    end: new Date(ms(100)).toISOString(),
    durationMs: 25_000,
    recovery: null,
    recoverMs: null,
  });
  t.equal(c.baseline!.seconds, 30 - 5 - 0, "c: its 30 s before, minus b's seconds");
  t.same(b.violations, { byKind: { reliable: 1 }, total: 1 }, 'a violation in both windows counts in both');
  t.same(c.violations, { byKind: { reliable: 1 }, total: 1 });
  t.equal(r.unattributed.total, 0);
});

t.test('violations beyond the marks cap are attributed from the per-second counts', async (t) => {
  const series = rows(() => 10, {
    41: { violations: { reliable: 3 } },
    60: { violations: { reliable: 2, ordered: 1 } },
  });
  const marks = [win('start', 'a', ms(40)), win('end', 'a', ms(45)), violation(ms(41.2))];
  const r = windowFigures({ seconds: secondsOf(series), marks, settleMs: 1000 });
  t.same(r.windows[0].violations, { byKind: { reliable: 3 }, total: 3 }, 'the mark and the 2 counted beyond it');
  t.same(r.unattributed.byKind, { reliable: 2, ordered: 1 });
  t.equal(r.unattributed.first.length, 0, 'no exact mark to list');
});

t.test('no baseline before the first second; overloaded intervals counted apart', async (t) => {
  const marks = [win('start', 'a', ms(0)), win('end', 'a', ms(5))];
  const r = windowFigures({
    seconds: secondsOf(rows(() => 10)),
    marks,
    settleMs: 1000,
    intervalMs: 5000,
    intervals: [
      { end: ms(5), overloaded: true },
      { end: ms(10), overloaded: false },
      { end: ms(90), overloaded: true }, // after the recovery's 60-s cap
    ],
  });
  const w = r.windows[0];
  t.equal(w.baseline, null);
  t.equal(w.recoverMs, null, 'nothing to compare with');
  t.equal(w.generator.overloadedIntervals, 1);
});

t.test('the terminal table: one row per window, and the unattributed count', async (t) => {
  const marks = [win('start', 'a', ms(40)), win('end', 'a', ms(45)), violation(ms(70))];
  const r = windowFigures({ seconds: secondsOf(rows((s) => (s >= 40 && s < 45 ? 500 : 10))), marks, settleMs: 1000 });
  const lines = formatWindowRows(r.windows, r.unattributed);
  t.equal(lines.length, 3);
  t.match(lines[0], /fault windows \(1\)\s+duration\s+p99 before\s+p99 during\s+p99 after/);
  t.match(lines[1], /^ {2}blackhole link a\s+5s\s+10ms\s+500ms\s+10ms\s+100%\s+0\s+0\s+0$/);
  t.equal(lines[2], '  violations outside every window: 1');
  t.same(formatWindowRows([]), [], 'nothing without windows');
});
