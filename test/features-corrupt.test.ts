// A feature workload never blames etcd for what an injected drop/corrupt fault did to its own bytes:
// registry, lock, election and config beside the default load while 2 % of the chunks on tx and rx of
// every client link are flipped. What such a fault may have garbled is counted apart (unverified),
// never as a violation; the verdict of each is at most 'unverified'.
import t from 'tap';
import { loadProfileSchema } from '../src/schema/load.js';
import { Daemon } from '../src/daemon.js';
import { startCluster } from '../src/cluster/launch.js';
import type { LoadSummary } from '../src/loadgen/report.js';
import { Metrics } from '../src/metrics.js';
import { parseFaultSpec } from '../src/proxy/faults/registry.js';
import { freePorts } from '../src/util/net.js';

const cluster = await startCluster({ size: 3 });
const daemon = new Daemon({ metrics: new Metrics({ defaultMetrics: false }), reportDir: null, seed: 99 });
const ports = await freePorts(3);
for (const [i, m] of cluster.members.entries())
  await daemon.addLink({
    name: `${m.name}-client`,
    listen: `127.0.0.1:${ports[i]}`,
    upstream: `127.0.0.1:${m.clientPort}`,
    kind: 'client',
    member: m.name,
  });
t.teardown(async () => {
  await daemon.close();
  await cluster.stop();
});

t.test('feature workloads under corrupt 2 % on every client link: no violation from garbled bytes', async (t) => {
  await daemon.startLoad(
    loadProfileSchema.parse({
      workloads: ['registry', 'lock', 'election', 'config'],
      rate: 100,
      watchers: 20,
      keys: 8,
      connections: 3,
      registryServices: 6,
      registryTtl: '3s',
      lockContenders: 4,
      sessionTtl: '3s',
      electionCandidates: 3,
      configWatchers: 10,
      configRate: 20,
      settle: '2s',
      putTimeout: '2s',
      stallTimeout: '2s',
      interval: '1s',
    }),
  );
  const violations: { kind: string; check?: string; detail: string; revision: number }[] = [];
  daemon.loadRunner!.on('violation', (v: (typeof violations)[number]) => violations.push(v));
  await new Promise((r) => setTimeout(r, 3000));
  for (const m of cluster.members)
    for (const direction of ['tx', 'rx'] as const)
      daemon
        .getLink(`${m.name}-client`)
        .addFault(parseFaultSpec({ type: 'corrupt', direction, probability: 0.02, duration: 12000 }));
  await new Promise((r) => setTimeout(r, 18000));
  const summary: LoadSummary = await daemon.stopLoad('test done');
  const features = summary.features ?? {};
  t.same(Object.keys(features).sort(), ['config', 'election', 'lock', 'registry'], 'the four workloads ran');
  for (const [name, sec] of Object.entries(features)) {
    const ops = Object.values(sec.ops).reduce((n, c) => n + c.ok, 0);
    t.ok(ops > 0, `${name}: operations answered (${ops})`);
    t.equal(
      summary.violations[name as keyof typeof summary.violations],
      0,
      `${name}: no violation from garbled bytes (unverified ${JSON.stringify(sec.unverified)}) ${JSON.stringify(violations.filter((v) => v.kind === name).slice(0, 3))}`,
    );
    t.not(summary.verdict[name as 'lock'], 'violated');
    t.comment(
      `${name}: unverified ${JSON.stringify(sec.unverified)}, counts ${JSON.stringify(sec.counts)}, notes ${JSON.stringify(sec.notes)}`,
    );
  }
});
