// The load generator against a real 3-member cluster: a clean run, then a run during which a member is
// SIGKILLed and restarted. Both must end with zero violations and every put accounted for.
import t from 'tap';
import { noViolations } from '../src/loadgen/verdict.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster } from '../src/cluster/launch.js';
import { loadProfileSchema } from '../src/schema/load.js';
import type { Observer } from '../src/loadgen/events.js';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import { Metrics } from '../src/metrics.js';
import { run } from './helpers/proc.js';

const cluster = await startCluster({ size: 3 });
t.teardown(() => cluster.stop());
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-reports-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

const finished = (r: LoadRunner) => new Promise<LoadSummary>((res) => r.once('done', res));

t.test('a clean run: every put acknowledged and delivered to every watcher, no violation', async (t) => {
  const metrics = new Metrics({ defaultMetrics: false });
  // a further observer, as a new checker would be: it hears every operation and every watch response
  const heard = { invoke: 0, ok: 0, responses: 0, events: 0, watchers: new Set<number>() };
  const seen: Observer = {
    name: 'test',
    onOp: (e) => void (e.type === 'invoke' ? heard.invoke++ : e.type === 'ok' ? heard.ok++ : 0),
    onWatch: (e) => {
      heard.responses++;
      heard.events += e.events?.length ?? 0;
      heard.watchers.add(e.watcher);
    },
  };
  const r = new LoadRunner({
    profile: loadProfileSchema.parse({
      rate: 200,
      watchers: 50,
      keys: 10,
      connections: 3,
      duration: '8s',
      interval: '1s',
      settle: '5s',
    }),
    endpoints: cluster.clientEndpoints(),
    metrics,
    reportDir,
    observers: [seen],
  });
  const done = finished(r);
  await r.start();
  await new Promise((res) => setTimeout(res, 1000));
  t.match(
    await metrics.registry.metrics(),
    /etcd_soak_watchers\{state="watching"\} 50\n/,
    'the watcher gauges follow the watchers while the run goes',
  );
  const s = await done;
  t.equal(s.state, 'stopped');
  t.match(await metrics.registry.metrics(), /etcd_soak_watchers\{state="stopped"\} 50\n/, 'and at the end');
  t.ok(s.counts.ok >= 1500, `${s.counts.ok} puts acknowledged`);
  t.equal(s.counts.indeterminate, 0, 'no failed put');
  t.equal(s.counts.slips, 0, 'no schedule slip');
  t.equal(s.counts.events, s.counts.ok * 5, 'each put reached its 5 watchers exactly once');
  t.same(s.violations, noViolations());
  t.same(s.verdict, {
    ordered: 'held',
    unique: 'held',
    reliable: 'held',
    unexpected: 'none',
    atomic: 'held',
    bookmarkable: 'held',
    resumable: 'held',
    created: 'held',
    hashkv: 'held',
  });
  t.equal(s.findings.hashKv?.members.length, 3, 'HashKV asked of the 3 members');
  t.ok(s.latency.put.count === s.counts.ok && s.latency.put.p50 > 0, 'put latency recorded');
  t.equal(s.latency.watch.count, s.counts.events, 'watch latency recorded for every event');
  t.equal(heard.invoke, s.counts.issued - s.counts.slips, 'an observer hears every put sent');
  t.equal(heard.ok, s.counts.ok, 'and every acknowledgement');
  t.equal(heard.events, s.counts.events, 'and every watch event, in responses');
  t.equal(heard.watchers.size, 50, 'of every watcher');
  const ops = r.history.entries.filter((e) => e.type === 'invoke' || e.type === 'ok');
  t.equal(ops.length, heard.invoke + heard.ok, 'the history holds every operation event');
  t.equal(r.history.dropped, 0, 'within its bound');
  const invokedAt = new Map<number, number>();
  let inOrder = true;
  r.history.entries.forEach((e, i) => {
    if (e.type === 'invoke' && 'seq' in e) invokedAt.set(e.seq, i);
    else if (e.type === 'ok' && 'seq' in e && !(invokedAt.get(e.seq)! < i)) inOrder = false;
  });
  t.ok(inOrder, "each put's invoke comes before its ok");
  const dir = path.join(reportDir, r.runId);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  t.equal(summary.counts.ok, s.counts.ok);
  const lines = fs
    .readFileSync(path.join(dir, 'timeline.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.ok(lines.length >= 7, `${lines.length} timeline lines`);
  t.ok(
    lines.every((l) => typeof l.putRate === 'number' && l.put && l.watch && l.violations),
    'timeline lines carry rates, percentiles, violations',
  );
  t.ok(
    lines.every((l) => typeof l.cpu === 'number' && l.rssMB > 0 && typeof l.overloaded === 'boolean'),
    "and the generator's own CPU, RSS and overload flag",
  );
  const text = await metrics.registry.metrics();
  t.match(text, new RegExp(`etcd_soak_puts_total\\{outcome="ok"\\} ${s.counts.ok}`));
  t.match(text, new RegExp(`etcd_soak_watch_events_total ${s.counts.events}`));
});

t.test(
  'a member SIGKILLed and restarted mid-run: watchers resume and catch up, puts settle, no violation',
  async (t) => {
    const victim = cluster.members[0];
    const r = new LoadRunner({
      profile: loadProfileSchema.parse({
        rate: 200,
        watchers: 30,
        keys: 6,
        connections: 3,
        duration: '14s',
        interval: '1s',
        settle: '10s',
        putTimeout: '2s',
      }),
      endpoints: cluster.clientEndpoints(),
      reportDir,
    });
    const done = finished(r);
    await r.start();
    await new Promise((res) => setTimeout(res, 3000));
    await cluster.stopMember(victim.name, 'SIGKILL');
    await new Promise((res) => setTimeout(res, 2000));
    cluster.startMember(victim.name);
    await cluster.waitHealthy(30000);
    const s = await done;
    t.ok(
      s.counts.indeterminate + s.counts.failed > 0,
      `${s.counts.failed} puts failed unsent and ${s.counts.indeterminate} were indeterminate while the member was down`,
    );
    t.equal(s.counts.applied + s.counts.notApplied, s.counts.indeterminate, 'every indeterminate put was settled');
    t.ok(s.counts.resumes >= 10, `${s.counts.resumes} watcher resumes (the killed member's watchers)`);
    t.equal(
      s.counts.events,
      (s.counts.ok + s.counts.applied) * 5,
      'every applied put reached each of its 5 watchers exactly once',
    );
    t.same(s.violations, noViolations());
  },
);

t.test('the load CLI: bad flags exit 2 naming the flag; a short run exits 0', async (t) => {
  const bad = run('etcd-soak', ['load', '--endpoints', cluster.clientEndpoints()[0], '--watchers=-3']);
  t.equal((await bad.exited).code, 2);
  t.match(bad.stderr(), /--watchers: Number must be greater than or equal to 0/);
  const bad2 = run('etcd-soak', ['load', '--endpoints', 'nohost', '--rate', '10']);
  t.equal((await bad2.exited).code, 2);
  t.match(bad2.stderr(), /--endpoints: expected "host:port"/);
  const bad3 = run('etcd-soak', ['load', '--endpoints', cluster.clientEndpoints()[0], '--settle', '5']);
  t.equal((await bad3.exited).code, 2);
  t.match(bad3.stderr(), /--settle: time: missing unit in duration "5"/);
  const ok = run('etcd-soak', [
    'load',
    '--endpoints',
    cluster.clientEndpoints().join(','),
    '--rate',
    '100',
    '--watchers',
    '6',
    '--keys',
    '3',
    '--duration',
    '3s',
    '--interval',
    '1s',
    '--no-report',
    '--json',
  ]);
  const { code } = await ok.exited;
  t.equal(code, 0, 'exit 0: every guarantee held');
  const summary = JSON.parse(ok.stdout());
  t.equal(summary.counts.events, summary.counts.ok * 2);
  t.match(ok.stderr(), /puts [\d.]+\/s p99/);
});

t.test('a profile runs only the workloads it names', async (t) => {
  const r = new LoadRunner({
    profile: loadProfileSchema.parse({
      workloads: ['put'],
      rate: 100,
      watchers: 6,
      keys: 3,
      duration: '2s',
      interval: '1s',
      settle: '1s',
    }),
    endpoints: cluster.clientEndpoints(),
    reportDir: null,
  });
  const done = finished(r);
  await r.start();
  const s = await done;
  t.ok(s.counts.ok > 50, `${s.counts.ok} puts acknowledged`);
  t.equal(s.counts.events, 0, 'no watch fleet: no event');
  t.same(s.watchers, { starting: 0, watching: 0, resuming: 0, stopped: 0 });
  t.same(s.profile.workloads, ['put']);
  t.equal(s.verdict.reliable, 'held');
});
