// The config workload against a real 3-member cluster: a healthy run (alone, then beside the put/watch
// load) has 0 violations and every watcher ends on the final version; a run whose connections are
// dropped again and again (watch streams and writes with them) still has 0 violations, counts the
// resumes, and every watcher still converges. The writer told of a version etcd does not hold goes on
// from etcd's under a drop/corrupt fault, and reports it otherwise.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClientPool } from '../src/loadgen/pool.js';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import { ConfigWorkload } from '../src/loadgen/workloads/config/index.js';
import { EtcdWireClient } from '../src/loadgen/wire/client.js';
import { kvPut, kvRange } from '../src/loadgen/wire/kv.js';
import { ConfigWriter, parseConfig } from '../src/loadgen/workloads/config/writer.js';
import type { WorkloadBook } from '../src/loadgen/workloads/book.js';
import { systemClock } from '../src/util/clock.js';
import { createLogger } from '../src/util/log.js';
import { loadProfileSchema, type LoadProfileInput } from '../src/schema/load.js';
import { launchForTest } from './helpers/cluster.js';
import { startLink } from './helpers/net.js';
import { parseFaultSpec } from '../src/proxy/faults/registry.js';

const cluster = await launchForTest(t, { size: 3 });
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-config-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

const base: LoadProfileInput = {
  workloads: ['config'],
  configWatchers: 12,
  configRate: 20,
  connections: 3,
  duration: '10s',
  interval: '1s',
  settle: '5s',
};

/** runs a load; `during` gets the runner once it started; returns the summary and the workload */
async function runLoad(profile: LoadProfileInput, during?: (r: LoadRunner) => void, endpoints?: string[]) {
  const r = new LoadRunner({
    profile: loadProfileSchema.parse(profile),
    endpoints: endpoints ?? cluster.clientEndpoints(),
    reportDir,
  });
  const lines: string[] = [];
  r.on('interval', (l: { features?: Record<string, { text: string }> }) => {
    if (l.features?.config) lines.push(l.features.config.text);
  });
  const done = new Promise<LoadSummary>((res) => r.once('done', res));
  await r.start();
  during?.(r);
  const summary = await done;
  const w = r.workloads.find((x): x is ConfigWorkload => x instanceof ConfigWorkload)!;
  return { summary, w, lines, runner: r };
}

/** what every healthy run must show: no violation, every watcher on the final version, which etcd holds */
async function converged(t: Test, s: LoadSummary, w: ConfigWorkload) {
  const sec = s.features!.config;
  t.same(sec.violations, { skipped: 0, duplicate: 0, regressed: 0, modOrder: 0, stale: 0 }, 'no violation');
  t.equal(s.verdict.config, 'held');
  t.equal(sec.counts.unfinished, 0, 'no watcher unfinished');
  const final = w.writer.version;
  t.ok(final > 0, `final version ${final}`);
  t.same(w.checker.behind(final), [], 'every watcher applied the final version');
  t.equal(sec.counts.applied, final * 12, 'each version applied once by each of the 12 watchers');
  // the run's pool is closed at its end: read with a client of our own
  const client = new EtcdWireClient(cluster.clientEndpoints()[0]);
  const kv = (await kvRange(client, w.key, { timeoutMs: 5000 }).finally(() => client.close())).kvs[0];
  t.equal(parseConfig(kv.value), final, "etcd's config is the final version");
  t.ok(sec.latency.convergence?.count > 0, 'convergence measured');
  t.ok(sec.latency.apply?.count >= sec.latency.convergence.count, 'apply measured per watcher');
  return sec;
}

t.test('a healthy run of the config workload alone', async (t) => {
  const { summary: s, w, lines } = await runLoad(base);
  const sec = await converged(t, s, w);
  t.ok(sec.counts.versions >= 100, `${sec.counts.versions} versions acknowledged`);
  t.equal(sec.counts.resumes, 0, 'no resume');
  t.equal(sec.ops.write.indeterminate, 0);
  t.equal(sec.counts.casFailed, 0, 'no compare failed: the writer is the only one');
  t.same(sec.setup, { watchers: 12, rate: 20, streams: 3, key: w.key, version: w.writer.version });
  t.match(lines.at(-1), /^v\d+, 12\/12 watchers current, convergence p99 (\S+ms|-), 0 violations$/);
  t.comment(
    `convergence p50 ${sec.latency.convergence.p50}ms p99 ${sec.latency.convergence.p99}ms; apply p50 ${sec.latency.apply.p50}ms p99 ${sec.latency.apply.p99}ms; write p50 ${sec.latency.write.p50}ms`,
  );
});

t.test('a healthy run beside the put/watch load', async (t) => {
  const { summary: s, w } = await runLoad({
    ...base,
    workloads: ['put', 'watch', 'config'],
    rate: 200,
    watchers: 30,
    keys: 10,
    duration: '8s',
  });
  const sec = await converged(t, s, w);
  t.equal(s.verdict.reliable, 'held', 'the put/watch load is clean too');
  t.equal(s.counts.indeterminate, 0);
  t.comment(
    `beside put/watch: ${sec.counts.versions} versions, convergence p50 ${sec.latency.convergence.p50}ms p99 ${sec.latency.convergence.p99}ms`,
  );
});

t.test('connections dropped mid-way: watchers resume from their last mod revision, 0 violations', async (t) => {
  let drops = 0;
  const timers: NodeJS.Timeout[] = [];
  t.teardown(() => timers.forEach((x) => clearInterval(x)));
  const { summary: s, w } = await runLoad({ ...base, duration: '12s' }, (r) => {
    // the run's pool: drop every connection's session (its watch streams and calls fail), every 1.5 s
    const pool = (r as unknown as { pool: ClientPool }).pool;
    let n = 0;
    const timer = setInterval(() => {
      if (++n > 6) return clearInterval(timer);
      for (const c of pool.connections) c.client.resetSession();
      drops++;
    }, 1500);
    timers.push(timer);
  });
  const sec = await converged(t, s, w);
  t.ok(drops >= 5, `${drops} rounds of dropped connections`);
  t.ok(sec.counts.resumes >= 12, `${sec.counts.resumes} resumes counted`);
  t.equal(sec.counts.versions + sec.counts.learned, w.writer.version, 'each version acknowledged or learned by a read');
  t.comment(
    `with drops: ${sec.counts.versions} versions acknowledged, ${sec.counts.learned} learned by a read, writes ${JSON.stringify(sec.ops.write)}, ${sec.counts.resumes} resumes, convergence p50 ${sec.latency.convergence.p50}ms p99 ${sec.latency.convergence.p99}ms`,
  );
});

t.test('a link blackholed for 6 s: writes and streams through it stall, resume, 0 violations', async (t) => {
  const [first, ...rest] = cluster.clientEndpoints();
  const link = await startLink({ upstreamPort: Number(first.split(':')[1]) });
  t.teardown(() => link.close());
  const timers: NodeJS.Timeout[] = [];
  t.teardown(() => timers.forEach((x) => clearTimeout(x)));
  const ids: string[] = [];
  const profile = { ...base, duration: '14s', putTimeout: '1s', stallTimeout: '2s' };
  const { summary: s, w } = await runLoad(profile, () => {
    timers.push(
      setTimeout(() => {
        for (const direction of ['tx', 'rx'] as const)
          ids.push(link.addFault(parseFaultSpec({ type: 'blackhole', direction })).id);
      }, 3000),
      setTimeout(() => ids.forEach((id) => link.removeFault(id)), 9000),
    );
  }, [`127.0.0.1:${link.address().port}`, ...rest]);
  t.equal(ids.length, 2, 'both directions were blackholed');
  const sec = await converged(t, s, w);
  t.ok(sec.ops.write.indeterminate > 0, `writes through the link timed out: ${JSON.stringify(sec.ops.write)}`);
  t.ok(sec.counts.resumes >= 4, `the link's 4 watchers resumed: ${sec.counts.resumes} resumes`);
  t.comment(
    `blackhole: ${sec.counts.versions} versions, ${sec.counts.learned} learned, ${sec.counts.casFailed} failed compares, ${sec.counts.stallResets} stall resets, ${sec.counts.resumes} resumes, convergence p50 ${sec.latency.convergence.p50}ms p99 ${sec.latency.convergence.p99}ms max ${sec.latency.convergence.max}ms`,
  );
});

t.test('a link blackholed to the end: its watchers are unfinished, not stale', async (t) => {
  const [first, ...rest] = cluster.clientEndpoints();
  const link = await startLink({ upstreamPort: Number(first.split(':')[1]) });
  t.teardown(() => link.close());
  const timers: NodeJS.Timeout[] = [];
  t.teardown(() => timers.forEach((x) => clearTimeout(x)));
  const profile = { ...base, duration: '7s', putTimeout: '1s', stallTimeout: '1s', settle: '2s' };
  const { summary: s, w } = await runLoad(profile, () => {
    timers.push(
      setTimeout(() => {
        for (const direction of ['tx', 'rx'] as const) link.addFault(parseFaultSpec({ type: 'blackhole', direction }));
      }, 3000),
    );
  }, [`127.0.0.1:${link.address().port}`, ...rest]);
  const sec = s.features!.config;
  t.same(sec.violations, { skipped: 0, duplicate: 0, regressed: 0, modOrder: 0, stale: 0 }, 'no violation');
  t.equal(s.verdict.config, 'held');
  const behind = w.checker.behind(w.writer.version);
  t.same(behind, [0, 3, 6, 9], "the blackholed connection's watchers never got the final version");
  t.equal(sec.counts.unfinished, 4, 'counted unfinished');
  t.match(sec.notes.join('\n'), /4 watcher\(s\) did not reach the final version/);
  t.ok(w.checker.current(w.writer.version) === 8, 'the other 8 did');
});

t.test('the writer told a version etcd does not hold: under a drop/corrupt fault it goes on from etcd’s', async (t) => {
  const endpoint = cluster.clientEndpoints()[0];
  const pool = new ClientPool([endpoint], 1, createLogger({ level: 'silent' }), 4 << 20);
  const client = new EtcdWireClient(endpoint);
  t.teardown(() => {
    pool.close();
    client.close();
  });
  const key = `/etcd-soak/test-writer-${process.pid}/config`;
  const counts: Record<string, number> = {};
  const errors: string[] = [];
  const book = { op: () => undefined, count: (n: string, k = 1) => (counts[n] = (counts[n] ?? 0) + k) };
  let suspect = false;
  const writer = new ConfigWriter(pool, key, () => 3000, systemClock, book as unknown as WorkloadBook, {
    written: () => undefined,
    error: (m) => errors.push(m),
    transitSuspect: () => suspect,
  });
  const step = async () => {
    writer.due();
    while (writer.busy) await new Promise((r) => setTimeout(r, 10));
  };
  await step();
  await step();
  t.equal(writer.version, 2);
  // what a flipped 'succeeded' (or a put stored under a garbled key) leaves: etcd holds version 1, not the 2
  // the writer was told — written here straight to etcd
  await kvPut(client, key, JSON.stringify({ version: 1, writtenAt: new Date().toISOString() }), { timeoutMs: 3000 });
  await step();
  t.equal(
    writer.version,
    2,
    'without a drop/corrupt fault: etcd lost an acknowledged write, reported, not papered over',
  );
  t.match(errors.at(-1), /showed version 1, older than the known 2/);
  suspect = true;
  await step();
  t.equal(writer.version, 1, "under one: the writer goes on from etcd's version");
  t.equal(counts.rebased, 1);
  await step();
  await step();
  t.equal(writer.version, 3, 'and writes again: no wedge');
  const kv = (await kvRange(client, key, { timeoutMs: 3000 })).kvs[0];
  t.equal(parseConfig(kv.value), 3, 'etcd holds the version the writer knows');
  t.equal(kv.modRevision, writer.modRevision);
});
