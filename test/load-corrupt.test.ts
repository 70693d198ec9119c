// The generator never blames etcd for what an injected fault did to its own streams: corrupt 2 % of the
// chunks on tx and rx of every client link for 20 s under the default load. Afterwards every stream has
// recovered by itself, `reliable` is 0, and every put's final state agrees with etcd's own history. The kv
// workload and the four feature workloads under the same fault report no violation: what the fault may
// have garbled is counted apart (unverified).
import t from 'tap';
import { loadProfileSchema } from '../src/schema/load.js';
import { Daemon } from '../src/daemon.js';
import { startCluster } from '../src/cluster/launch.js';
import type { LoadSummary } from '../src/loadgen/report.js';
import { decodeValue } from '../src/loadgen/value.js';
import { EtcdWireClient, type WatchEvent } from '../src/loadgen/wire/client.js';
import { prefixEnd } from '../src/loadgen/wire/proto.js';
import { Metrics } from '../src/metrics.js';
import { parseFaultSpec } from '../src/proxy/faults/registry.js';
import { freePorts } from '../src/util/net.js';

const cluster = await startCluster({ size: 3 });
import { createLogger } from '../src/util/log.js';
const daemon = new Daemon({
  metrics: new Metrics({ defaultMetrics: false }),
  reportDir: null,
  seed: 1234,
  logger: process.env.TEST_LOG ? createLogger({ level: 'warn', destination: 2 }) : undefined,
});
const ports = await freePorts(3);
for (const [i, m] of cluster.members.entries()) {
  await daemon.addLink({
    name: `${m.name}-client`,
    listen: `127.0.0.1:${ports[i]}`,
    upstream: `127.0.0.1:${m.clientPort}`,
    kind: 'client',
    member: m.name,
  });
}
t.teardown(async () => {
  await daemon.close();
  await cluster.stop();
});

/** corrupt 2 % of the chunks on tx and rx of every member's client link, for `ms` */
function corruptClientLinks(ms: number): void {
  for (const m of cluster.members)
    for (const direction of ['tx', 'rx'] as const)
      daemon
        .getLink(`${m.name}-client`)
        .addFault(parseFaultSpec({ type: 'corrupt', direction, probability: 0.02, duration: ms }));
}

/** etcd's history of a prefix from a revision, read with a fresh watch straight from a member */
async function history(endpoint: string, prefix: string, fromRev: number): Promise<Map<number, number>> {
  const c = new EtcdWireClient(endpoint);
  try {
    const head = await c.range(prefix, { rangeEnd: prefixEnd(prefix) });
    const target = Math.max(0, ...head.kvs.map((kv) => kv.modRevision));
    const seqs = new Map<number, number>(); // seq → revision
    if (target < fromRev) return seqs;
    const s = c.watchStream();
    const runId = prefix.split('/').filter(Boolean).pop()!;
    await new Promise<void>((resolve, reject) => {
      s.on('events', (_id: number, evs: WatchEvent[]) => {
        for (const e of evs) {
          const info = decodeValue(e.kv.value, Buffer.from(runId));
          if (info) seqs.set(info.seq, e.kv.modRevision);
          if (e.kv.modRevision >= target) resolve();
        }
      });
      s.on('error', reject);
      s.watch({ key: prefix, rangeEnd: prefixEnd(prefix), startRevision: fromRev }).catch(reject);
    });
    s.close();
    return seqs;
  } finally {
    c.close();
  }
}

t.test('corrupt 2 % on tx and rx of every client link for 20 s: streams recover, no false verdict', async (t) => {
  const status = await daemon.startLoad(
    loadProfileSchema.parse({
      rate: 200,
      watchers: 60,
      keys: 12,
      connections: 3,
      settle: '3s',
      putTimeout: '2s',
      stallTimeout: '2s',
      interval: '1s',
    }),
  );
  const runner = daemon.loadRunner!;
  const outcomes = new Map<number, string>();
  runner.on('outcome', (seq: number, o: string) => outcomes.set(seq, o));
  const violations: unknown[] = [];
  runner.on('violation', (v: unknown) => violations.push(v));
  const startRev = await new Promise<number>((resolve) => {
    const check = (): unknown =>
      runner.status().state === 'running' ? resolve(runner.startRevision) : setTimeout(check, 50);
    check();
  });
  t.equal(status.endpoints.length, 3, 'the three member client links');
  await new Promise((r) => setTimeout(r, 2000));
  corruptClientLinks(20000);
  await new Promise((r) => setTimeout(r, 20000));
  t.equal(daemon.activeFaults().length, 0, 'the faults expired');
  // every stream recovers by itself: all watchers watching and every connection delivering again
  const deadline = Date.now() + 20000;
  let before = runner.status().counts.events;
  let recovered = false;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    const st = runner.status();
    if (st.watchers.watching === 60 && st.counts.events - before >= 200 * 5 * 0.5) {
      recovered = true;
      break;
    }
    before = st.counts.events;
  }
  t.ok(
    recovered,
    `every watcher watching and events flowing after the faults: ${JSON.stringify(runner.status().watchers)}`,
  );
  await new Promise((r) => setTimeout(r, 3000));
  const summary: LoadSummary = await daemon.stopLoad('test done');
  t.equal(summary.violations.reliable, 0, `reliable: no false verdict ${JSON.stringify(violations.slice(0, 5))}`);
  t.equal(summary.verdict.reliable, 'held');
  t.ok(
    summary.generator.garbled + summary.generator.stalls + summary.generator.streamBreaks > 0,
    `the generator's own ledger saw the faults: ${JSON.stringify(summary.generator)}`,
  );
  t.equal(
    summary.findings.behindAtEnd,
    0,
    `every watcher reached the end ${JSON.stringify(summary.findings.behind)} ${JSON.stringify(summary.generator)}`,
  );
  t.ok(
    summary.record.replayedTo > 0 || summary.counts.indeterminate === 0,
    `settled against etcd's record: ${JSON.stringify(summary.record)}`,
  );

  // every put's final state agrees with etcd's history
  const base = `/etcd-soak/${summary.runId}/`;
  const hist = await history(`127.0.0.1:${cluster.members[0].clientPort}`, base, startRev + 1);
  let disagree = 0;
  const examples: string[] = [];
  for (const [seq, o] of outcomes) {
    const inHistory = hist.has(seq);
    // an acknowledged put may be stored garbled (a corrupted write): absent under its own value, counted apart
    const ok = o === 'applied' ? inHistory : o === 'not_applied' || o === 'failed' ? !inHistory : true;
    if (!ok) {
      disagree++;
      if (examples.length < 5) examples.push(`seq ${seq}: ${o}, in history: ${inHistory}`);
    }
  }
  // a write garbled on its way in may still decode, as a sequence nobody issued: it must be among the
  // corrupted writes the generator counted apart
  const foreign = [...hist.keys()].filter((seq) => !outcomes.has(seq));
  t.ok(
    foreign.length <= summary.findings.corruptedWrites,
    `history entries nobody issued (${foreign.length}) are counted as corrupted writes (${summary.findings.corruptedWrites})`,
  );
  t.equal(
    disagree,
    0,
    `final states agree with etcd's history (${outcomes.size} puts, ${hist.size} in history) ${examples.join('; ')}`,
  );
  t.equal(
    summary.counts.indeterminate,
    summary.counts.applied + summary.counts.notApplied,
    'every indeterminate put settled',
  );
});

t.test('kv under corrupt 2 % on every client link: garbled bytes make no linearizability violation', async (t) => {
  await daemon.startLoad(
    loadProfileSchema.parse({
      workloads: ['kv'],
      kvRate: 200,
      kvKeys: 5,
      connections: 3,
      settle: '2s',
      putTimeout: '2s',
      interval: '1s',
    }),
  );
  await new Promise((r) => setTimeout(r, 2000));
  corruptClientLinks(12000);
  await new Promise((r) => setTimeout(r, 15000));
  const summary: LoadSummary = await daemon.stopLoad('test done');
  const kv = summary.kv!;
  t.equal(
    summary.violations.linearizability,
    0,
    `no violation from bytes the fault garbled (${kv.unverified} finding(s) counted apart): ${JSON.stringify(kv.first.slice(0, 2))}`,
  );
  t.not(summary.verdict.linearizable, 'violated');
  t.equal(kv.garbledKeys?.length, 5, 'every key had operations while the fault was on: all are in doubt');
  t.ok(kv.checked.judged > 1000, `operations were judged: ${kv.checked.judged}`);
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
  corruptClientLinks(12000);
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
