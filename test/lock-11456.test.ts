// etcd #11456 on the etcd we test (3.4.23), on a real single member, through the lock workload's own
// steps and checker: A holds the mutex (Lock RPC); B waits in a Lock RPC and C in the client recipe,
// both on leases of 2 s that nobody keeps alive, so both leases expire while they wait. When A
// releases, 3.4's Lock RPC grants B although its key is gone (no re-check after waiting): the checker
// reports one unsafeGrant anomaly, and B's fenced write is rejected (fencing holds). The recipe, with
// 3.5's re-check, finds its own key gone and does not take the lock.
import t from 'tap';
import { EtcdWireClient } from '../src/loadgen/wire/client.js';
import { lock } from '../src/loadgen/wire/concurrency.js';
import { kvRange } from '../src/loadgen/wire/kv.js';
import { leaseGrant, leaseTimeToLive } from '../src/loadgen/wire/lease.js';
import { prefixEnd } from '../src/loadgen/wire/proto.js';
import { LockChecker, UNSAFE_GRANT_NOTE, type LockFinding } from '../src/loadgen/workloads/lock/checker.js';
import {
  fencedWrite,
  keyToken,
  mutexKey,
  recipeEnqueue,
  recipeWait,
  release,
  waitDelete,
} from '../src/loadgen/workloads/lock/ops.js';
import { launchForTest } from './helpers/cluster.js';

const cluster = await launchForTest(t, { size: 1 });
const ep = cluster.clientEndpoints()[0];
const clients = [0, 1, 2].map(() => new EtcdWireClient(ep));
t.teardown(() => clients.forEach((c) => c.close()));
const [a, b, c] = clients;
const mutex = '/soak/t11456-lock/mutex';
const resource = '/soak/t11456-lock/resource';
const timeoutMs = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a waiter whose lease expired while it waited: the Lock RPC grants it, fencing keeps it out', async (t) => {
  const found: LockFinding[] = [];
  const checker = new LockChecker((f) => found.push(f));
  const now = () => performance.now();

  // A: a lease that outlives the test's hold, so no keepalive is needed
  const la = await leaseGrant(a, 30, { timeoutMs });
  const ga = await lock(a, mutex, la.id, { timeoutMs });
  const heldA = { key: ga.key, token: await keyToken(a, ga.key, ga.revision, { timeoutMs }), revision: ga.revision };
  t.ok(heldA.token, `A holds with token ${heldA.token}`);
  const holdA = checker.grant({ holder: 'A', ...heldA, key: ga.key.toString(), at: now() });
  const wa = await fencedWrite(a, resource, 'A', heldA, { timeoutMs });
  t.ok(wa.succeeded, "A's fenced write succeeds");
  checker.write({ holder: 'A', key: ga.key.toString(), token: heldA.token, ...wa });

  // B (Lock RPC) and C (client recipe) wait on 2-s leases nobody renews
  const lb = await leaseGrant(b, 2, { timeoutMs });
  const lc = await leaseGrant(c, 2, { timeoutMs });
  const bAsked = now();
  const bLock = lock(b, mutex, lb.id, { timeoutMs: 60_000 }).then(
    (r) => ({ r, at: now() }),
    (err: Error) => ({ err, at: now() }),
  );
  const keyC = mutexKey(mutex, lc.id);
  const tokenC = await recipeEnqueue(c, keyC, lc.id, { timeoutMs });
  const ws = c.watchStream();
  t.teardown(() => ws.close());
  let wid = 0;
  const cWait = recipeWait(c, mutex, keyC, tokenC, {
    timeoutMs,
    signal: AbortSignal.timeout(60_000),
    waitDelete: (k, from, signal) => waitDelete(ws, ++wid, k, from, { signal, recheckMs: 10_000 }),
  });

  // wait until both leases are gone, and with them both waiters' keys; A still holds
  const deadline = Date.now() + 15_000;
  for (;;) {
    const [tb, tc] = await Promise.all([
      leaseTimeToLive(a, lb.id, { timeoutMs }),
      leaseTimeToLive(a, lc.id, { timeoutMs }),
    ]);
    if ((tb.ttl === -1 && tc.ttl === -1) || Date.now() > deadline) break;
    await sleep(250);
  }
  const keys = await kvRange(a, `${mutex}/`, { rangeEnd: prefixEnd(`${mutex}/`), timeoutMs });
  t.same(
    keys.kvs.map((kv) => Buffer.from(kv.key).toString()),
    [ga.key.toString()],
    "the waiters' leases expired: only A's key is left",
  );

  const aEnd = now();
  checker.release(holdA, aEnd);
  await release(a, 'rpc', ga.key, { timeoutMs });

  const gotB = await bLock;
  t.notOk('err' in gotB && gotB.err, `B's Lock answered ${'err' in gotB ? gotB.err.message : 'with a grant'}`);
  t.ok(gotB.at - bAsked > 2000, 'B waited for A');
  if (!('r' in gotB)) return;
  const tokenB = await keyToken(b, gotB.r.key, gotB.r.revision, { timeoutMs });
  t.equal(tokenB, undefined, "B's key does not exist at its own grant's revision");
  t.equal(gotB.r.key.toString(), mutexKey(mutex, lb.id).toString(), "the key named is B's lease key");
  const heldB = { key: gotB.r.key, token: tokenB, revision: gotB.r.revision };
  const holdB = checker.grant({ holder: 'B', ...heldB, key: gotB.r.key.toString(), at: gotB.at });
  const wb = await fencedWrite(b, resource, 'B', heldB, { timeoutMs });
  t.notOk(wb.succeeded, "B's fenced write is rejected");
  checker.write({ holder: 'B', key: gotB.r.key.toString(), token: tokenB, ...wb });
  checker.release(holdB, now());

  t.equal(await cWait, 'lost', 'the client recipe re-checks its key after waiting and does not take the lock');

  t.equal(found.length, 1, 'one finding');
  t.match(found[0], { type: 'anomaly', check: 'unsafeGrant', key: gotB.r.key.toString(), revision: gotB.r.revision });
  t.equal(found.filter((f) => f.check === 'fencing').length, 0, 'fencing: 0 violations');
  t.match(UNSAFE_GRANT_NOTE, /#11456/);
  const r = await kvRange(a, resource, { timeoutMs });
  t.same(
    JSON.parse(Buffer.from(r.kvs[0].value).toString()),
    { holder: 'A', token: heldA.token },
    "the resource is A's",
  );
});
