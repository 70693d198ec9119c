// The run report on a real load: one etcd member behind a link, a delay added to the link and removed
// while the test marks the window by hand, as the daemon's window recorder does. summary.json carries
// the window with its figures, the 1-s series adds up to the run's exact counts, and `etcd-soak report`
// re-renders the page (also for a run without summary.json; a folder that is not a run exits 2).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster } from '../src/cluster/launch.js';
import type { TimelineMark } from '../src/loadgen/events.js';
import type { SeriesRow } from '../src/loadgen/observers/series.js';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import { parseFaultSpec as fault } from '../src/proxy/faults/registry.js';
import { finishRunReport } from '../src/report/run-files.js';
import { mergeLatency, parseSeries, secondsOf } from '../src/report/series.js';
import { loadProfileSchema } from '../src/schema/load.js';
import { sleep, startLink } from './helpers/net.js';
import { run } from './helpers/proc.js';

const cluster = await startCluster({ size: 1 });
t.teardown(() => cluster.stop());
const upstreamPort = Number(cluster.clientEndpoints()[0].split(':')[1]);
const link = await startLink({ name: 's1-client', upstreamPort });
t.teardown(() => link.close());
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-report-'));
t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));

const DELAY_MS = 200;
const runner = new LoadRunner({
  profile: loadProfileSchema.parse({
    rate: 200,
    watchers: 10,
    keys: 10,
    connections: 2,
    duration: '14s',
    interval: '1s',
    settle: '2s',
    putTimeout: '3s',
  }),
  endpoints: [link.listenAddress()],
  reportDir: base,
  onReport: finishRunReport,
});
const done = new Promise<LoadSummary>((res) => runner.once('done', res));
await runner.start();
await sleep(4000);
runner.mark({ mark: 'leader', at: Date.now(), leader: 's1', term: 2, previous: null });
const f = link.addFault(fault({ type: 'delay', direction: 'tx', latency: `${DELAY_MS}ms` }));
const startAt = Date.now();
runner.mark({ mark: 'window', edge: 'start', id: f.id, kind: 'delay', target: 'link s1-client', at: startAt });
await sleep(4000);
link.removeFault(f.id);
const endAt = Date.now();
runner.mark({ mark: 'window', edge: 'end', id: f.id, kind: 'delay', target: 'link s1-client', at: endAt });
const summary = await done;
const dir = summary.reportDir!;

t.test('summary.json has the window with its figures', async (t) => {
  const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as LoadSummary;
  t.same(onDisk.windows, summary.windows, 'the returned summary and the file agree');
  t.equal(summary.windows?.length, 1);
  const w = summary.windows![0];
  t.match(w, { id: f.id, kind: 'delay', target: 'link s1-client', leaderAtStart: 's1', termAtStart: 2 });
  t.equal(w.start, new Date(startAt).toISOString());
  t.equal(w.durationMs, endAt - startAt);
  t.ok(w.baseline && w.baseline.seconds >= 1 && w.baseline.puts.ok > 0, 'a baseline before the fault');
  t.ok(w.during.seconds >= 4 && w.during.puts.ok > 0, 'puts during the fault');
  t.ok(w.during.put.p50 >= DELAY_MS, `puts due during the delay took at least the delay (p50 ${w.during.put.p50}ms)`);
  t.ok(w.firstOkPutMs !== null && w.firstOkPutMs >= DELAY_MS, `first ok put after ${w.firstOkPutMs}ms`);
  t.ok(w.recovery && w.recovery.seconds >= 1, 'a recovery span');
  t.same(w.violations, { byKind: {}, total: 0 });
  t.equal(summary.unattributed?.total, 0);
  t.equal(summary.violations.reliable + summary.violations.ordered + summary.violations.unique, 0);
  t.ok(fs.existsSync(path.join(dir, 'report.html')), 'report.html beside summary.json');
});

t.test('the timeline holds the marks; the series adds up to the run exactly', async (t) => {
  const lines = fs
    .readFileSync(path.join(dir, 'timeline.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const marks = lines.filter((l) => 'mark' in l) as TimelineMark[];
  t.same(
    marks.map((m) => m.mark + (m.mark === 'window' ? `:${m.edge}` : '')),
    ['leader', 'window:start', 'window:end'],
  );
  t.ok(lines.filter((l) => !('mark' in l)).length >= 10, 'and the interval lines');
  const rows = parseSeries(fs.readFileSync(path.join(dir, 'series.jsonl'), 'utf8')) as SeriesRow[];
  const secs = secondsOf(rows);
  t.ok(secs.length >= 13, `${secs.length} seconds`);
  const sum = (f: (s: (typeof secs)[number]) => number) => secs.reduce((n, s) => n + f(s), 0);
  const c = summary.counts;
  t.equal(
    sum((s) => s.ok),
    c.ok,
    'ok puts',
  );
  t.equal(
    sum((s) => s.indeterminate),
    c.indeterminate,
    'indeterminate puts',
  );
  t.equal(
    sum((s) => s.applied + s.notApplied),
    c.applied + c.notApplied,
    'settled puts',
  );
  t.equal(
    sum((s) => s.events),
    c.events,
    'watch events',
  );
  t.equal(
    sum((s) => s.slips),
    c.slips,
    'slips',
  );
  const put = mergeLatency(secs.flatMap((s) => s.put));
  const watch = mergeLatency(secs.flatMap((s) => s.watch));
  t.equal(put.count, summary.latency.put.count, 'every ok put latency, once');
  t.equal(watch.count, summary.latency.watch.count, 'every watch latency, once');
  t.equal(put.p99, summary.latency.put.p99, 'the same values: the merged p99 is the run p99');
  t.equal(watch.p99, summary.latency.watch.p99);
});

t.test('etcd-soak report DIR re-renders; a crashed run too; not a run exits 2', async (t) => {
  fs.rmSync(path.join(dir, 'report.html'));
  const p = run('etcd-soak', ['report', dir]);
  t.equal((await p.exited).code, 0, p.stderr());
  t.match(p.stdout(), /report\.html: 1 fault window\(s\)\n/);
  const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
  t.match(html, /<tr class="window"><td>delay<\/td><td>link s1-client<\/td>/);
  t.notMatch(html, /<script[^>]+src=|<link[^>]+href=/, 'no outside resource');

  const crashed = path.join(base, 'crashed');
  fs.mkdirSync(crashed);
  for (const name of ['run.json', 'timeline.jsonl', 'series.jsonl'])
    fs.copyFileSync(path.join(dir, name), path.join(crashed, name));
  const q = run('etcd-soak', ['report', crashed]);
  t.equal((await q.exited).code, 0, q.stderr());
  t.match(q.stdout(), /1 fault window\(s\); no summary\.json/);
  t.match(fs.readFileSync(path.join(crashed, 'report.html'), 'utf8'), /No summary\.json/);

  const r = run('etcd-soak', ['report', os.tmpdir()]);
  t.equal((await r.exited).code, 2);
  t.match(r.stderr(), /not a run's report folder \(no run\.json\)/);
  const h = run('etcd-soak', ['report', '--help']);
  t.equal((await h.exited).code, 0);
  t.match(h.stdout(), /Usage: etcd-soak report DIR/);
});
