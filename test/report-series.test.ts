// The 1-s series observer on a manual clock: puts counted at their due second with their latency,
// watch latency and violations at their arrival second, counters' deltas per second, a row for every
// second, late outcomes and settlements as extra rows of their put's second, and a window's exact first
// ok put.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OpEvent } from '../src/loadgen/events.js';
import { ReportWriter } from '../src/loadgen/observers/report-writer.js';
import { SeriesWriter, type SeriesCounters, type SeriesRow } from '../src/loadgen/observers/series.js';
import type { LoadSummary } from '../src/loadgen/report.js';
import { mergeLatency, parseSeries, secondsOf } from '../src/report/series.js';
import { ManualClock } from '../src/util/clock.js';

const W0 = Date.UTC(2026, 0, 1); // wall time at the clock's 0, on a second's edge
const T0 = W0 / 1000;

function setup(t: Tap.Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-series-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const clock = new ManualClock(W0);
  const counters: SeriesCounters = { slips: 0, events: 0, stalls: 0, garbled: 0, streamBreaks: 0 };
  const s = new SeriesWriter({ dir, clock, lagMs: 2000, counters: () => counters });
  const rows = () => parseSeries(fs.existsSync(s.file) ? fs.readFileSync(s.file, 'utf8') : '') as SeriesRow[];
  const op = (type: OpEvent['type'], due: number, at: number, applied?: boolean) =>
    s.onOp({ type, workload: 'put', op: 'put', seq: 1, key: 0, due, at, connection: 0, applied });
  return { clock, counters, s, rows, op };
}

t.test('rows per second, counted where they belong, exact sums', async (t) => {
  const { clock, counters, s, rows, op } = setup(t);
  s.onStart();
  clock.advance(100);
  op('ok', 50, 100); // due in second 0, 50 ms
  op('invoke', 60, 60); // not counted: only outcomes are
  clock.advance(400);
  counters.slips += 2;
  counters.events += 7;
  s.recordWatch(30); // arrives in second 0
  s.onViolation({ kind: 'reliable', key: 'k', revision: 5, watcher: 1, connection: 0, detail: 'x' });
  clock.advance(1500); // 2000: second 1
  op('indeterminate', 200, 2000); // due in second 0, answered in second 2
  op('ok', 1200, 2000); // due in second 1, 800 ms
  counters.stalls++; // taken at 2005, for second 1
  clock.advance(3010); // 5010: seconds 0..1 written (2 s lag + 1)
  t.same(
    rows().map((r) => r.t),
    [T0, T0 + 1],
    'a row for each second once it is past the lag',
  );
  op('settled', 200, 5000, true); // the indeterminate put of second 0, settled late
  clock.advance(1000);
  t.same(
    rows().slice(2),
    [
      { t: T0, settled: { applied: 1, notApplied: 0 } },
      { t: T0 + 2, puts: { ok: 0, failed: 0, indeterminate: 0 } },
    ],
    "the settlement as an extra row of its put's second",
  );
  s.onDone();
  const secs = secondsOf(rows());
  t.same(
    secs.map((x) => x.t),
    Array.from({ length: 7 }, (_, i) => T0 + i),
    'every second up to the end',
  );
  const [s0, s1] = secs;
  t.match(s0, { ok: 1, indeterminate: 1, applied: 1, notApplied: 0, slips: 2, events: 7, violations: { reliable: 1 } });
  t.equal(s0.firstOkAt, W0 + 100);
  const near = (x: number, y: number) => Math.abs(x - y) <= y / 1000; // HDR: 3 significant digits
  const p0 = mergeLatency(s0.put);
  t.ok(p0.count === 1 && near(p0.p50, 50), `put latency ${p0.p50}`);
  const w0 = mergeLatency(s0.watch);
  t.ok(w0.count === 1 && near(w0.p99, 30), `watch latency ${w0.p99}`);
  t.match(s1, { ok: 1, indeterminate: 0, generator: { stalls: 1 } });
  const both = mergeLatency([...s0.put, ...s1.put]);
  t.ok(both.count === 2 && near(both.p50, 50) && near(both.p99, 800), 'spans merge exactly');
  t.equal(clock.pending, 0, 'no timer left');
});

t.test('a window start mark: the first ok put due at or after it, exactly', async (t) => {
  const { clock, s, rows, op } = setup(t);
  s.onStart();
  clock.advance(3000);
  s.onMark({ mark: 'window', edge: 'start', id: 'f1', kind: 'blackhole', target: 'link s1-client', at: W0 + 3500 });
  clock.advance(6000); // 9000: second 3 is written long since
  op('ok', 3400, 9000); // due before the start: not it
  op('ok', 3600, 9100);
  op('ok', 3700, 9050); // later: the first is taken
  s.onDone();
  const s3 = secondsOf(rows()).find((x) => x.t === T0 + 3)!;
  t.same(s3.firstOk, [{ id: 'f1', target: 'link s1-client', at: W0 + 9100 }]);
  t.equal(s3.ok, 3, 'the late answers counted at their due second');
});

t.test('the report writer: marks and capped violation marks in the timeline, the cap in the summary', async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-writer-'));
  t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
  let finished: string | undefined;
  const w = new ReportWriter(base, 'abcdefgh', { violationMarksCap: 2, onReport: (dir) => (finished = dir) });
  w.onStart({ runId: 'abcdefgh' });
  w.onMark({ mark: 'leader', at: 1, leader: 's1', term: 2, previous: null });
  for (const revision of [5, 6, 7])
    w.onViolation({ kind: 'unique', key: 'k', revision, watcher: 1, connection: 0, detail: 'twice' });
  const summary = {} as LoadSummary;
  w.onDone(summary);
  const lines = fs
    .readFileSync(path.join(w.dir, 'timeline.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(lines, [
    { mark: 'leader', leader: 's1' },
    { mark: 'violation', kind: 'unique', revision: 5 },
    { revision: 6 },
  ]);
  t.equal(lines.length, 3, 'the third violation is past the cap');
  t.same(summary.timelineMarks, { violations: 2, violationsCap: 2, violationsOmitted: 1 });
  t.equal(finished, w.dir, 'the report is finished after summary.json');
  t.ok(fs.existsSync(path.join(w.dir, 'summary.json')));
});
