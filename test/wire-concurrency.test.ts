// etcd's server-side v3lock and v3election through wire/concurrency.ts: the protobuf checked against
// protobufjs (test-only), then two lock contenders, an aborted waiter, and an election with two candidates
// and an observer on a real etcd member.
import t from 'tap';
import protobuf from 'protobufjs';
import { EtcdWireClient, Status, WireError, type Kv } from '../src/loadgen/wire/client.js';
import {
  campaign,
  decodeCampaignResponse,
  decodeHeaderOnly,
  decodeLeaderResponse,
  decodeLockResponse,
  electionLeader,
  encodeBytes1,
  encodeCampaign,
  encodeLock,
  encodeProclaim,
  encodeResign,
  lock,
  observe,
  proclaim,
  resign,
  unlock,
  type LeaderKey,
} from '../src/loadgen/wire/concurrency.js';
import { kvRange } from '../src/loadgen/wire/kv.js';
import { leaseGrant, leaseRevoke } from '../src/loadgen/wire/lease.js';
import { prefixEnd } from '../src/loadgen/wire/proto.js';
import { launchForTest } from './helpers/cluster.js';

const root = protobuf.parse(`
syntax = "proto3";
message ResponseHeader { uint64 cluster_id = 1; uint64 member_id = 2; int64 revision = 3; uint64 raft_term = 4; }
message KeyValue { bytes key = 1; int64 create_revision = 2; int64 mod_revision = 3; int64 version = 4; bytes value = 5; int64 lease = 6; }
message LockRequest { bytes name = 1; int64 lease = 2; }
message LockResponse { ResponseHeader header = 1; bytes key = 2; }
message UnlockRequest { bytes key = 1; }
message UnlockResponse { ResponseHeader header = 1; }
message LeaderKey { bytes name = 1; bytes key = 2; int64 rev = 3; int64 lease = 4; }
message CampaignRequest { bytes name = 1; int64 lease = 2; bytes value = 3; }
message CampaignResponse { ResponseHeader header = 1; LeaderKey leader = 2; }
message ProclaimRequest { LeaderKey leader = 1; bytes value = 2; }
message LeaderRequest { bytes name = 1; }
message LeaderResponse { ResponseHeader header = 1; KeyValue kv = 2; }
message ResignRequest { LeaderKey leader = 1; }
`).root;
const T = (n: string) => root.lookupType(n);
const plain = (b: Uint8Array, type: string) =>
  T(type).toObject(T(type).decode(b), { longs: String, bytes: Buffer, defaults: false, oneofs: false });
const enc = (type: string, o: object) => T(type).encode(T(type).fromObject(o)).finish();
const B = (s: string) => Buffer.from(s);
const BIG = 0x694d8a1f2b3c4d5en;
const header = { clusterId: '77', memberId: '42', revision: 9007199254740, raftTerm: 3 };
const leaderKey: LeaderKey = { name: B('/e'), key: B('/e/694d8a1f2b3c4d5e'), rev: 12, lease: BIG };

t.test('requests decode with protobufjs to what was encoded', async (t) => {
  t.same(plain(encodeLock('/l', BIG), 'LockRequest'), { name: B('/l'), lease: BIG.toString() });
  t.same(plain(encodeBytes1(B('/l/1')), 'UnlockRequest'), { key: B('/l/1') });
  t.same(plain(encodeBytes1('/e'), 'LeaderRequest'), { name: B('/e') });
  t.same(plain(encodeCampaign('/e', BIG, 'v1'), 'CampaignRequest'), {
    name: B('/e'),
    lease: BIG.toString(),
    value: B('v1'),
  });
  const lk = { name: B('/e'), key: B('/e/694d8a1f2b3c4d5e'), rev: '12', lease: BIG.toString() };
  t.same(plain(encodeProclaim(leaderKey, B('v2')), 'ProclaimRequest'), { leader: lk, value: B('v2') });
  t.same(plain(encodeResign(leaderKey), 'ResignRequest'), { leader: lk });
});

t.test('responses encoded by protobufjs decode to the same values', async (t) => {
  t.same(decodeLockResponse(enc('LockResponse', { header, key: B('/l/abc') })), {
    key: B('/l/abc'),
    revision: 9007199254740,
  });
  t.same(decodeHeaderOnly(enc('UnlockResponse', { header })), { revision: 9007199254740 });
  const c = decodeCampaignResponse(
    enc('CampaignResponse', { header, leader: { ...leaderKey, lease: BIG.toString() } }),
  );
  t.same(c, { leader: leaderKey, revision: 9007199254740 }, 'the leader key, its int64 lease exact');
  const kv = { key: B('/e/1'), createRevision: 5, modRevision: 9, version: 2, value: B('v2'), lease: '7' };
  const l = decodeLeaderResponse(enc('LeaderResponse', { header, kv }));
  t.equal(l.revision, 9007199254740);
  t.ok(l.kv && Buffer.from(l.kv.value).equals(B('v2')) && l.kv.createRevision === 5 && l.kv.modRevision === 9);
  t.same(decodeLeaderResponse(enc('LeaderResponse', { header })), { kv: undefined, revision: 9007199254740 });
});

t.test('on a real etcd member', async (t) => {
  const cluster = await launchForTest(t, { size: 1 });
  const ep = cluster.clientEndpoints()[0];
  const a = new EtcdWireClient(ep);
  const b = new EtcdWireClient(ep);
  t.teardown(() => (a.close(), b.close()));
  const o = { timeoutMs: 5000 };
  const long = { timeoutMs: 30_000 };
  /** resolves once `n` keys exist under the prefix: a contender's key is there, so it waits at etcd */
  const untilKeys = async (prefix: string, n: number, exactly = false): Promise<Kv[]> => {
    for (;;) {
      const r = await kvRange(a, prefix, { ...o, rangeEnd: prefixEnd(prefix) });
      if (exactly ? r.count === n : r.count >= n) return r.kvs;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  t.test('two lock contenders: the second waits until the first unlocks', async (t) => {
    const la = (await leaseGrant(a, 30, o)).id;
    const lb = (await leaseGrant(b, 30, o)).id;
    const first = await lock(a, '/lock/m', la, long);
    t.ok(first.key.toString().startsWith('/lock/m/'), `holder key ${first.key}`);
    let released = false;
    const second = lock(b, '/lock/m', lb, long).then((r) => ({ ...r, released }));
    const kvs = await untilKeys('/lock/m/', 2);
    const order = kvs.map((kv) => kv.createRevision).sort((x, y) => x - y);
    released = true;
    const u = await unlock(a, first.key, o);
    const got = await second;
    t.equal(got.released, true, 'the second contender got the lock only after the unlock');
    t.not(got.key.toString(), first.key.toString());
    const byKey = new Map(kvs.map((kv) => [Buffer.from(kv.key).toString(), kv.createRevision]));
    const revA = byKey.get(first.key.toString())!;
    const revB = byKey.get(got.key.toString())!;
    t.same([revA, revB], order, 'fencing tokens (create revisions) increase in grant order');
    t.ok(got.revision >= u.revision, 'granted at or after the unlock');
    await unlock(b, got.key, o);
    t.equal((await kvRange(a, '/lock/m/', { ...o, rangeEnd: prefixEnd('/lock/m/') })).count, 0, 'all released');
    await leaseRevoke(a, la, o);
    await leaseRevoke(b, lb, o);
  });

  t.test('a waiting Lock aborted through its signal rejects as cancelled', async (t) => {
    const la = (await leaseGrant(a, 30, o)).id;
    const lb = (await leaseGrant(b, 30, o)).id;
    const held = await lock(a, '/lock/ab', la, long);
    const ac = new AbortController();
    const waiting = lock(b, '/lock/ab', lb, { ...long, signal: ac.signal });
    await untilKeys('/lock/ab/', 2);
    ac.abort();
    const err = await waiting.catch((e: unknown) => e);
    t.ok(err instanceof WireError && err.code === Status.CANCELLED && err.sent, `rejected: ${(err as Error).message}`);
    const pre = new AbortController();
    pre.abort();
    const never = await lock(b, '/lock/ab', lb, { ...long, signal: pre.signal }).catch((e: unknown) => e);
    t.ok(never instanceof WireError && never.code === Status.CANCELLED && !never.sent, 'aborted before: never sent');
    const left = await untilKeys('/lock/ab/', 1, true);
    t.equal(Buffer.from(left[0].key).toString(), held.key.toString(), 'etcd removed the cancelled waiter’s key');
    // still usable: the holder releases, and the lock can be taken again
    await unlock(a, held.key, o);
    await leaseRevoke(b, lb, o);
    const again = await lock(a, '/lock/ab', la, long);
    t.ok(again.key.length > 0, 'taken again');
    await unlock(a, again.key, o);
    await leaseRevoke(a, la, o);
  });

  t.test('an election: two candidates, proclaim, observe, resign', async (t) => {
    t.same(await electionLeader(a, '/elect/e', o), { kv: undefined, revision: 0 }, 'no leader yet');
    const seen: string[] = [];
    const obs = observe(b, '/elect/e');
    t.teardown(() => obs.close());
    let wantSeen: (() => void) | undefined;
    let want = 0;
    obs.on('error', (err: Error) => t.fail(`observe broke: ${err.message}`));
    obs.on('leader', (kv: Kv, rev: number) => {
      seen.push(Buffer.from(kv.value).toString());
      t.ok(rev >= kv.modRevision, 'the header revision is at or above the value');
      if (seen.length >= want) wantSeen?.();
    });
    const waitSeen = (n: number) =>
      new Promise<void>((resolve) => {
        want = n;
        wantSeen = resolve;
        if (seen.length >= n) resolve();
      });

    const l1 = (await leaseGrant(a, 30, o)).id;
    const l2 = (await leaseGrant(b, 30, o)).id;
    const c1 = await campaign(a, '/elect/e', l1, 'one-1', long);
    t.equal(c1.leader.lease, l1);
    t.equal(c1.leader.name.toString(), '/elect/e');
    await waitSeen(1);
    await proclaim(a, c1.leader, 'one-2', o);
    await waitSeen(2);
    const now = await electionLeader(b, '/elect/e', o);
    t.equal(now.kv && Buffer.from(now.kv.value).toString(), 'one-2', 'Leader answers the proclaimed value');
    t.equal(now.kv?.createRevision, c1.leader.rev, 'the leader key is the first candidate’s');

    let resigned = false;
    const c2 = campaign(b, '/elect/e', l2, 'two-1', long).then((r) => ({ ...r, resigned }));
    await untilKeys('/elect/e/', 2);
    resigned = true;
    await resign(a, c1.leader, o);
    const won = await c2;
    t.equal(won.resigned, true, 'the second candidate is elected only after the resign');
    t.ok(won.leader.rev > c1.leader.rev, 'a later leadership revision');
    await waitSeen(3);
    t.same(seen, ['one-1', 'one-2', 'two-1'], 'the observer saw the leader values in order');
    const stale = await proclaim(a, c1.leader, 'stale', o).catch((e: unknown) => e);
    t.ok(stale instanceof WireError, `a resigned leader cannot proclaim: ${(stale as Error).message}`);
    t.equal(
      Buffer.from((await electionLeader(a, '/elect/e', o)).kv!.value).toString(),
      'two-1',
      'the second candidate leads',
    );
    await resign(b, won.leader, o);
    t.equal((await electionLeader(a, '/elect/e', o)).kv, undefined, 'no leader after the last resign');
    const closed = new Promise<void>((resolve) => obs.once('close', resolve));
    obs.close();
    await closed;
    t.equal(obs.closed, true);
    await leaseRevoke(a, l1, o);
    await leaseRevoke(b, l2, o);
  });
});
