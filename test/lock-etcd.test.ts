// The lock workload on a healthy 3-member cluster, alone and beside the put/watch load: contenders of
// both recipes take the mutex, every fenced write of a holder succeeds, tokens follow the grants, no
// violation and no anomaly; its section lands in summary.json and its part in the status line.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import { EtcdWireClient } from '../src/loadgen/wire/client.js';
import { kvRange } from '../src/loadgen/wire/kv.js';
import { prefixEnd } from '../src/loadgen/wire/proto.js';
import { Metrics } from '../src/metrics.js';
import { loadProfileSchema } from '../src/schema/load.js';
import { launchForTest } from './helpers/cluster.js';

const cluster = await launchForTest(t, { size: 3 });
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-lock-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

async function run(workloads: string[]) {
  const metrics = new Metrics({ defaultMetrics: false });
  const r = new LoadRunner({
    profile: loadProfileSchema.parse({
      workloads,
      rate: 100,
      watchers: 10,
      keys: 10,
      connections: 3,
      lockContenders: 6,
      lockHold: '20ms',
      sessionTtl: '5s',
      duration: '10s',
      interval: '1s',
      settle: '3s',
    }),
    endpoints: cluster.clientEndpoints(),
    metrics,
    reportDir,
  });
  const lines: string[] = [];
  r.on('interval', (l: { features?: Record<string, { text: string }> }) => {
    if (l.features?.lock) lines.push(l.features.lock.text);
  });
  const done = new Promise<LoadSummary>((res) => r.once('done', res));
  await r.start();
  const s = await done;
  return { s, r, lines, metrics: await metrics.registry.metrics() };
}

for (const workloads of [['lock'], ['put', 'watch', 'lock']])
  t.test(`a healthy run of ${workloads.join(', ')}: grants of both recipes, 0 violations`, async (t) => {
    const { s, r, lines, metrics } = await run(workloads);
    const sec = s.features?.lock;
    t.ok(sec, 'a lock section in the summary');
    if (!sec) return;
    t.same(sec.violations, { tokenOrder: 0, fencing: 0 }, 'no violation');
    t.same(sec.anomalies, { unsafeHold: 0, unsafeGrant: 0 }, 'no anomaly on a healthy cluster');
    t.ok(sec.counts.recipeGrants > 0, `${sec.counts.recipeGrants} grants by the client recipe`);
    t.ok(sec.counts.rpcGrants > 0, `${sec.counts.rpcGrants} grants by the Lock RPC`);
    t.equal(sec.counts.grants, sec.counts.recipeGrants + sec.counts.rpcGrants);
    t.equal(sec.counts.fencedOk, sec.ops.fencedWrite.ok, 'every fenced write answered succeeded');
    t.equal(sec.counts.fencedRejected, 0, 'none rejected');
    t.ok(sec.counts.fencedOk >= sec.counts.grants - 6, 'a fenced write for (almost) every grant');
    t.equal(sec.ops.release.ok, sec.counts.grants, 'every hold released');
    t.equal(sec.ops.withdraw?.failed ?? 0, 0, 'waiters halted at the end withdrew their keys');
    t.equal(sec.ops.lock.indeterminate + sec.ops.enqueue.indeterminate, 0, 'no acquisition without an answer');
    t.ok(sec.latency.wait.count === sec.counts.grants && sec.latency.hold.count === sec.counts.grants);
    t.ok(sec.latency.hold.p50 >= 20, `holds of at least lockHold (p50 ${sec.latency.hold.p50} ms)`);
    t.ok(sec.latency.fencedWrite.count > 0, 'fenced-write latency recorded');
    t.equal(s.verdict.lock, 'held');
    if (workloads.includes('put')) t.equal(s.violations.ordered + s.violations.reliable, 0, 'the put/watch load held');
    t.ok(lines.length >= 8, `${lines.length} status lines with a lock part`);
    t.match(lines[2], /^grants [\d.]+\/s, wait p99 \d+(ms|\.\ds), 0 violations, 0 unsafe$/);
    const file = JSON.parse(fs.readFileSync(path.join(reportDir, r.runId, 'summary.json'), 'utf8'));
    t.equal(file.features.lock.counts.grants, sec.counts.grants, 'the section in summary.json');
    t.match(metrics, /etcd_soak_workload_value\{workload="lock",name="grantRate"\}/);
    t.match(
      metrics,
      new RegExp(
        `etcd_soak_workload_ops_total\\{workload="lock",op="fencedWrite",result="ok"\\} ${sec.ops.fencedWrite.ok}`,
      ),
    );
    // the sessions were revoked at the end: nothing is left under the mutex
    const c = new EtcdWireClient(cluster.clientEndpoints()[0]);
    t.teardown(() => c.close());
    const mutex = `${sec.setup.mutex}/`;
    const left = await kvRange(c, mutex, { rangeEnd: prefixEnd(mutex), timeoutMs: 5000 });
    t.equal(left.count, 0, 'no key left under the mutex');
    const res = await kvRange(c, mutex.replace(/mutex\/$/, 'resource'), { timeoutMs: 5000 });
    const last = JSON.parse(Buffer.from(res.kvs[0].value).toString());
    t.match(last, { holder: /^c\d$/, token: Number }, 'the resource holds the last fenced write');
  });
