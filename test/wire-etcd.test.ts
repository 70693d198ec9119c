// The lean gRPC client against real etcd: put/range, watches (pipelined creates, compaction), and how it
// fails when a member dies or stalls (promptly, never a hang).
import t from 'tap';
import { startCluster } from '../src/cluster/launch.js';
import { controlClient } from '../src/etcd/control.js';
import { EtcdWireClient, WireError, type WatchEvent } from '../src/loadgen/wire/client.js';

const cluster = await startCluster({ size: 3 });
t.teardown(() => cluster.stop());
const ep = (i: number) => cluster.clientEndpoints()[i];
const str = (b: Uint8Array) => Buffer.from(b).toString();

t.test('put and range; revisions increase', async (t) => {
  const c = new EtcdWireClient(ep(0));
  t.teardown(() => c.close());
  const a = await c.put('/w/a', Buffer.from('1'), { timeoutMs: 5000 });
  const b = await c.put('/w/b', Buffer.from('2'), { timeoutMs: 5000 });
  t.ok(b.revision > a.revision);
  const r = await c.range('/w/', { rangeEnd: Buffer.from('/w0') });
  t.same(
    r.kvs.map((k) => [str(k.key), str(k.value), k.modRevision]),
    [
      ['/w/a', '1', a.revision],
      ['/w/b', '2', b.revision],
    ],
  );
  t.ok(c.connected);
});

t.test('200 pipelined watches on one stream all get their events, in order', async (t) => {
  const c = new EtcdWireClient(ep(1));
  t.teardown(() => c.close());
  const s = c.watchStream();
  const seen = new Map<number, number[]>();
  s.on('events', (id: number, evs: WatchEvent[]) => {
    const l = seen.get(id) ?? [];
    for (const e of evs) l.push(e.kv.modRevision);
    seen.set(id, l);
  });
  const start = (await c.range('/pw/x')).revision + 1;
  const ids = await Promise.all(
    Array.from({ length: 200 }, (_, i) => s.watch({ key: `/pw/k${i % 10}`, startRevision: start })),
  );
  t.equal(new Set(ids).size, 200, 'distinct ids');
  const revs: number[][] = Array.from({ length: 10 }, () => []);
  for (let n = 0; n < 50; n++)
    revs[n % 10].push((await c.put(`/pw/k${n % 10}`, Buffer.from(String(n)), { timeoutMs: 5000 })).revision);
  await new Promise((r) => setTimeout(r, 500));
  ids.forEach((id, i) => t.same(seen.get(id), revs[i % 10], `watch ${id}`));
  s.close();
});

t.test("a watch's 'created' comes as its confirmation is read, before its catch-up events", async (t) => {
  const c = new EtcdWireClient(ep(2));
  t.teardown(() => c.close());
  const start = (await c.range('/cw/x')).revision + 1;
  for (let i = 0; i < 30; i++) await c.put('/cw/x', Buffer.from(String(i)), { timeoutMs: 5000 });
  const s = c.watchStream();
  const order: string[] = [];
  let resolved = false;
  s.on('created', (id: number, rev: number) => order.push(`created ${id} ${rev >= start + 29}`));
  const got = new Promise<number[]>((resolve) =>
    s.on('events', (id: number, evs: WatchEvent[]) => {
      order.push(`events ${id}`);
      if (evs.at(-1)!.kv.modRevision === start + 29) resolve(evs.map((e) => e.kv.modRevision));
    }),
  );
  await Promise.all([
    s.watch({ key: '/cw/x', startRevision: start, watchId: 7 }).then(() => (resolved = true)),
    s.watch({ key: '/cw/x', startRevision: start, watchId: 8 }),
  ]);
  t.ok(resolved, "watch()'s promises resolved");
  const revs = await got;
  t.equal(revs.at(-1), start + 29, 'the catch-up reaches the last put');
  t.same(order.slice(0, 2), ['created 7 true', 'created 8 true'], 'each watch is confirmed first');
  t.ok(order.indexOf('events 7') > order.indexOf('created 7'));
  s.close();
});

t.test('a watch from a compacted revision is canceled with the compact revision', async (t) => {
  const c = new EtcdWireClient(ep(0));
  t.teardown(() => c.close());
  let last = 0;
  for (let i = 0; i < 5; i++) last = (await c.put('/cw/k', Buffer.from(String(i)), { timeoutMs: 5000 })).revision;
  const ctl = controlClient([ep(0)]);
  t.teardown(() => ctl.close());
  await ctl.kv.compact({ revision: String(last), physical: true });
  const s = c.watchStream();
  const canceled = new Promise<[number, string, number]>((r) =>
    s.once('canceled', (...a: [number, string, number]) => r(a)),
  );
  // etcd 3.4 confirms the create, then cancels the watch with the compact revision (no reason text)
  const id = await s.watch({ key: '/cw/k', startRevision: last - 3 });
  const [canceledId, , rev] = await canceled;
  t.equal(canceledId, id);
  t.equal(rev, last, 'compact revision reported');
  s.close();
});

t.test('a killed member fails puts and streams promptly; a new client works after restart', async (t) => {
  const m = cluster.members[2];
  const c = new EtcdWireClient(ep(2));
  await c.put('/k/x', Buffer.from('1'), { timeoutMs: 5000 });
  const s = c.watchStream();
  await s.watch({ key: '/k/x' });
  const broke = new Promise<WireError>((r) => s.once('error', r));
  const t0 = Date.now();
  await cluster.stopMember(m.name, 'SIGKILL');
  const err = await broke;
  t.ok(err instanceof WireError, `stream error: ${err.message}`);
  await t.rejects(c.put('/k/x', Buffer.from('2'), { timeoutMs: 5000 }), WireError);
  t.ok(Date.now() - t0 < 5000, 'failed without waiting for the timeout');
  c.close();
  cluster.startMember(m.name);
  await cluster.waitHealthy(30000);
  const d = new EtcdWireClient(ep(2));
  t.ok((await d.put('/k/x', Buffer.from('3'), { timeoutMs: 5000 })).revision > 0, 'works again');
  d.close();
});

t.test('a stalled member (SIGSTOP) makes a put time out', async (t) => {
  const m = cluster.members[1];
  const c = new EtcdWireClient(ep(1));
  t.teardown(() => c.close());
  await c.put('/s/x', Buffer.from('1'), { timeoutMs: 5000 });
  await cluster.stopMember(m.name, 'SIGSTOP');
  try {
    await t.rejects(c.put('/s/x', Buffer.from('2'), { timeoutMs: 300 }), { code: 'TIMEOUT' });
  } finally {
    await cluster.stopMember(m.name, 'SIGCONT');
  }
  await cluster.waitHealthy(30000);
});
