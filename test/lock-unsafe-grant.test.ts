// The aim, through the workload: a blackholed link cuts a Lock RPC waiter's keepalives (its
// lease is kept alive over the other connection) while its Lock call goes on over a healthy one, so
// its lease expires while it waits. On etcd 3.4.23 the Lock RPC then grants it although its key is
// gone (#11456): the run counts unsafeGrant anomalies, its fenced writes are rejected, and fencing and
// token order hold (0 violations).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import { EtcdWireClient } from '../src/loadgen/wire/client.js';
import { kvRange } from '../src/loadgen/wire/kv.js';
import { prefixEnd } from '../src/loadgen/wire/proto.js';
import { LockWorkload } from '../src/loadgen/workloads/lock/index.js';
import { parseFaultSpec } from '../src/proxy/faults/registry.js';
import { loadProfileSchema } from '../src/schema/load.js';
import { launchForTest } from './helpers/cluster.js';
import { startLink } from './helpers/net.js';

const cluster = await launchForTest(t, { size: 1 });
const direct = cluster.clientEndpoints()[0];
const link = await startLink({ name: 'lock-link', upstreamPort: Number(direct.split(':')[1]) });
t.teardown(() => link.close());
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-lock-unsafe-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

t.test("a waiter's keepalive link blackholed past its TTL: unsafe grants, fencing holds", async (t) => {
  // connection 0 through the link, 1 direct: c0 (client recipe) locks over the link and keeps its
  // lease alive directly; c1 (Lock RPC) locks directly and keeps its lease alive over the link
  const r = new LoadRunner({
    profile: loadProfileSchema.parse({
      workloads: ['lock'],
      connections: 2,
      lockContenders: 2,
      lockHold: '200ms',
      sessionTtl: '2s',
      putTimeout: '5s',
      duration: '22s',
      interval: '1s',
      settle: '2s',
    }),
    endpoints: [`127.0.0.1:${link.address().port}`, direct],
    reportDir,
  });
  const done = new Promise<LoadSummary>((res) => r.once('done', res));
  await r.start();
  // the blackhole starts once both contenders are in line (both keys under the mutex): c0 is then
  // holding or waiting, and its key stays (its lease kept alive directly) until it gives up
  const lock = r.workloads.find((w): w is LockWorkload => w instanceof LockWorkload)!;
  const mutex = `${lock.base}mutex/`;
  const c = new EtcdWireClient(direct);
  t.teardown(() => c.close());
  const deadline = Date.now() + 10_000;
  while ((await kvRange(c, mutex, { rangeEnd: prefixEnd(mutex), timeoutMs: 2000 })).count < 2)
    if (Date.now() > deadline) throw new Error('the two contenders never queued together');
  // longer than the blackholed contender's way out (a watch recheck, a Range and a withdraw timing
  // out: 2 + 5 + 5 s) before it revokes its lease directly and so frees the mutex: the waiter's lease
  // is long gone by then, and its keepalives have not told it yet
  const faults = (['tx', 'rx'] as const).map((direction) =>
    link.addFault(parseFaultSpec({ type: 'blackhole', direction, duration: '14s' })),
  );
  t.equal(faults.length, 2, 'the link blackholed both ways for 14 s');
  const s = await done;
  const sec = s.features?.lock;
  t.ok(sec, 'a lock section');
  if (!sec) return;
  t.comment(JSON.stringify({ counts: sec.counts, ops: sec.ops, first: sec.first, lastError: s.lastError }));
  t.same(sec.violations, { tokenOrder: 0, fencing: 0 }, 'fencing and token order held');
  t.ok(sec.anomalies.unsafeGrant >= 1, `${sec.anomalies.unsafeGrant} unsafe grants (etcd #11456 on 3.4.23)`);
  t.ok(sec.counts.fencedRejected >= 1, `${sec.counts.fencedRejected} fenced writes rejected`);
  t.ok(
    sec.notes.some((n) => /#11456/.test(n)),
    'the note names etcd #11456',
  );
  t.ok(
    sec.first.some((f) => f.type === 'anomaly' && f.check === 'unsafeGrant' && /its key did not exist/.test(f.detail)),
    'the first findings show the grant',
  );
  t.equal(s.verdict.lock, 'held', "anomalies are not etcd's violations");
});
