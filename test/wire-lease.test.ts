// The Lease calls of wire/lease.ts and Put with a lease: their protobuf checked against protobufjs
// (test-only), int64 ids above 2^53 included, then grant, put, time-to-live, keepalive, revoke and expiry
// on a real etcd member.
import t from 'tap';
import protobuf from 'protobufjs';
import { EtcdWireClient, Status, WireError } from '../src/loadgen/wire/client.js';
import { decodePutResponseFull, encodePutRequest, encodeRequestOp, kvPut, kvRange } from '../src/loadgen/wire/kv.js';
import {
  decodeLeaseGrantResponse,
  decodeLeaseKeepAliveResponse,
  decodeLeaseRevokeResponse,
  decodeLeaseTimeToLiveResponse,
  encodeLeaseGrant,
  encodeLeaseId,
  encodeLeaseTimeToLive,
  leaseGrant,
  leaseKeepAlive,
  leaseRevoke,
  leaseTimeToLive,
} from '../src/loadgen/wire/lease.js';
import { ProtoWriter, readVarintBig } from '../src/loadgen/wire/proto.js';
import { launchForTest } from './helpers/cluster.js';

const root = protobuf.parse(`
syntax = "proto3";
message ResponseHeader { uint64 cluster_id = 1; uint64 member_id = 2; int64 revision = 3; uint64 raft_term = 4; }
message KeyValue { bytes key = 1; int64 create_revision = 2; int64 mod_revision = 3; int64 version = 4; bytes value = 5; int64 lease = 6; }
message PutRequest { bytes key = 1; bytes value = 2; int64 lease = 3; bool prev_kv = 4; }
message PutResponse { ResponseHeader header = 1; KeyValue prev_kv = 2; }
message RequestOp { oneof request { PutRequest request_put = 2; } }
message LeaseGrantRequest { int64 TTL = 1; int64 ID = 2; }
message LeaseGrantResponse { ResponseHeader header = 1; int64 ID = 2; int64 TTL = 3; string error = 4; }
message LeaseRevokeRequest { int64 ID = 1; }
message LeaseRevokeResponse { ResponseHeader header = 1; }
message LeaseKeepAliveRequest { int64 ID = 1; }
message LeaseKeepAliveResponse { ResponseHeader header = 1; int64 ID = 2; int64 TTL = 3; }
message LeaseTimeToLiveRequest { int64 ID = 1; bool keys = 2; }
message LeaseTimeToLiveResponse { ResponseHeader header = 1; int64 ID = 2; int64 TTL = 3; int64 grantedTTL = 4; repeated bytes keys = 5; }
`).root;
const T = (n: string) => root.lookupType(n);
const plain = (b: Uint8Array, type: string) =>
  T(type).toObject(T(type).decode(b), { longs: String, bytes: Buffer, defaults: false, oneofs: false });
const enc = (type: string, o: object) => T(type).encode(T(type).fromObject(o)).finish();
const B = (s: string) => Buffer.from(s);
// a lease id as etcd makes them: member bits on top, far above 2^53
const BIG = 0x694d8a1f2b3c4d5en;
const header = { clusterId: '1234567890123', memberId: '42', revision: 9007199254740, raftTerm: 3 };

t.test('int64 varints: bigint round trips at the edges', async (t) => {
  for (const v of [0n, 1n, 127n, 128n, 2n ** 53n + 1n, BIG, 2n ** 63n - 1n, -1n]) {
    const w = new ProtoWriter();
    w.varintBig(v);
    const [back, end] = readVarintBig(w.finish(), 0);
    t.equal(back, v, `${v}`);
    t.equal(end, w.len, 'the whole varint read');
  }
});

t.test('requests decode with protobufjs to what was encoded', async (t) => {
  t.same(plain(encodeLeaseGrant(10), 'LeaseGrantRequest'), { TTL: '10' });
  t.same(plain(encodeLeaseGrant(5, BIG), 'LeaseGrantRequest'), { TTL: '5', ID: BIG.toString() });
  t.same(plain(encodeLeaseId(BIG), 'LeaseKeepAliveRequest'), { ID: BIG.toString() });
  t.same(plain(encodeLeaseId(BIG), 'LeaseRevokeRequest'), { ID: BIG.toString() });
  t.same(plain(encodeLeaseTimeToLive(BIG, true), 'LeaseTimeToLiveRequest'), { ID: BIG.toString(), keys: true });
  t.same(plain(encodePutRequest('/k', 'v', { lease: BIG, prevKv: true }), 'PutRequest'), {
    key: B('/k'),
    value: B('v'),
    lease: BIG.toString(),
    prevKv: true,
  });
  t.same(plain(encodePutRequest('/k', B('v')), 'PutRequest'), { key: B('/k'), value: B('v') }, 'no lease: omitted');
  t.same(plain(encodeRequestOp({ put: { key: '/k', value: '', lease: BIG } }), 'RequestOp'), {
    requestPut: { key: B('/k'), lease: BIG.toString() },
  });
});

t.test('responses encoded by protobufjs decode to the same values', async (t) => {
  const id = BIG.toString();
  t.same(decodeLeaseGrantResponse(enc('LeaseGrantResponse', { header, ID: id, TTL: 10 })), {
    id: BIG,
    ttl: 10,
    revision: 9007199254740,
    error: '',
  });
  t.equal(
    decodeLeaseGrantResponse(enc('LeaseGrantResponse', { error: 'lease already exists' })).error,
    'lease already exists',
  );
  t.same(decodeLeaseRevokeResponse(enc('LeaseRevokeResponse', { header })), { revision: 9007199254740 });
  t.same(decodeLeaseKeepAliveResponse(enc('LeaseKeepAliveResponse', { header, ID: id, TTL: 7 })), {
    id: BIG,
    ttl: 7,
    revision: 9007199254740,
  });
  t.same(decodeLeaseKeepAliveResponse(enc('LeaseKeepAliveResponse', { header, ID: id })).ttl, 0, 'ttl 0: gone');
  t.same(
    decodeLeaseTimeToLiveResponse(
      enc('LeaseTimeToLiveResponse', { header, ID: id, TTL: -1, grantedTTL: 0, keys: [B('/a'), B('/b')] }),
    ),
    { id: BIG, ttl: -1, grantedTtl: 0, keys: [B('/a'), B('/b')], revision: 9007199254740 },
    'a negative TTL (expired) decodes as -1',
  );
  const kv = { key: B('/k'), createRevision: 3, modRevision: 4, version: 2, value: B('old'), lease: id };
  const put = decodePutResponseFull(enc('PutResponse', { header, prevKv: kv }));
  t.equal(put.revision, 9007199254740);
  t.ok(put.prevKv && Buffer.from(put.prevKv.value).equals(B('old')) && put.prevKv.modRevision === 4);
  t.equal(decodePutResponseFull(enc('PutResponse', { header })).prevKv, undefined);
});

t.test('on a real etcd member', async (t) => {
  const cluster = await launchForTest(t, { size: 1 });
  const c = new EtcdWireClient(cluster.clientEndpoints()[0]);
  t.teardown(() => c.close());
  const o = { timeoutMs: 5000 };

  t.test('grant, put with the lease, time-to-live, keepalive, revoke', async (t) => {
    const g = await leaseGrant(c, 30, o);
    t.equal(g.ttl, 30);
    t.ok(g.id > 0n && g.revision > 0, 'an id and a header revision');
    const p = await kvPut(c, '/lease/a', 'svc', { ...o, lease: g.id });
    const again = await kvPut(c, '/lease/a', 'svc2', { ...o, lease: g.id, prevKv: true });
    t.equal(again.revision, p.revision + 1);
    t.equal(again.prevKv && Buffer.from(again.prevKv.value).toString(), 'svc', 'prevKv returned');
    const ttl = await leaseTimeToLive(c, g.id, { ...o, keys: true });
    t.equal(ttl.id, g.id);
    t.equal(ttl.grantedTtl, 30);
    t.ok(ttl.ttl > 0 && ttl.ttl <= 30, `ttl ${ttl.ttl} left`);
    t.same(
      ttl.keys.map((k) => k.toString()),
      ['/lease/a'],
      'the key is bound to the lease',
    );
    t.same((await leaseTimeToLive(c, g.id, o)).keys, [], 'keys only when asked');

    const ka = leaseKeepAlive(c);
    const replies: [bigint, number, number][] = [];
    const two = new Promise<void>((resolve, reject) => {
      ka.on('error', reject);
      ka.on('response', (id: bigint, ttl: number, rev: number) => {
        replies.push([id, ttl, rev]);
        if (replies.length === 2) resolve();
      });
    });
    ka.keepAlive(g.id);
    ka.keepAlive(g.id);
    await two;
    t.same(
      replies.map(([id, ttl]) => [id, ttl]),
      [
        [g.id, 30],
        [g.id, 30],
      ],
      'each keepalive answered with the renewed TTL',
    );
    t.ok(replies.every(([, , rev]) => rev >= again.revision));

    const r = await leaseRevoke(c, g.id, o);
    t.equal(r.revision, again.revision + 1, 'the revoke deleted the key at the next revision');
    t.equal((await kvRange(c, '/lease/a', o)).count, 0, 'the key is gone');
    t.equal((await leaseTimeToLive(c, g.id, o)).ttl, -1, 'a revoked lease: ttl -1');
    const gone = new Promise<number>((resolve) => ka.once('response', (_id: bigint, ttl: number) => resolve(ttl)));
    ka.keepAlive(g.id);
    t.equal(await gone, 0, 'a keepalive of a revoked lease answers ttl 0');
    const closed = new Promise<void>((resolve) => ka.once('close', resolve));
    ka.close();
    await closed;
    t.equal(ka.closed, true);
    ka.keepAlive(g.id); // a no-op once closed
    await t.rejects(leaseRevoke(c, g.id, o), { code: Status.NOT_FOUND }, 'revoking twice: not found');
  });

  t.test('a grant with an id of our choosing above 2^53; a second grant of it is refused', async (t) => {
    const g = await leaseGrant(c, 10, { ...o, id: BIG });
    t.equal(g.id, BIG);
    t.equal((await leaseTimeToLive(c, BIG, o)).id, BIG);
    const err = await leaseGrant(c, 10, { ...o, id: BIG }).catch((e: unknown) => e);
    t.ok(err instanceof WireError, `refused: ${(err as Error).message}`);
    await leaseRevoke(c, BIG, o);
  });

  t.test('a lease not kept alive expires and its key vanishes', async (t) => {
    const g = await leaseGrant(c, 2, o);
    await kvPut(c, '/lease/short', 'x', { ...o, lease: g.id });
    const w = c.watchStream();
    t.teardown(() => w.close());
    const deleted = new Promise<string>((resolve) =>
      w.on('events', (_id: number, evs: { type: string; kv: { key: Uint8Array } }[]) => {
        for (const e of evs) if (e.type === 'delete') resolve(Buffer.from(e.kv.key).toString());
      }),
    );
    await w.watch({ key: '/lease/short' });
    t.equal(await deleted, '/lease/short', 'etcd deleted the key when the lease expired');
    t.equal((await kvRange(c, '/lease/short', o)).count, 0);
    t.equal((await leaseTimeToLive(c, g.id, o)).ttl, -1, 'expired: ttl -1');
  });

  t.test('the keepalive stream reports a break, and a later keepAlive opens a fresh stream', async (t) => {
    const g = await leaseGrant(c, 30, o);
    const ka = leaseKeepAlive(c);
    t.teardown(() => ka.close());
    const first = new Promise<void>((resolve) => ka.once('response', () => resolve()));
    ka.keepAlive(g.id);
    await first;
    const broke = new Promise<WireError>((resolve) => ka.once('error', resolve));
    c.resetSession();
    t.ok((await broke) instanceof WireError, 'the break is an error event');
    t.equal(ka.closed, false, 'not closed: it can reopen');
    const after = new Promise<number>((resolve) => ka.once('response', (_id: bigint, ttl: number) => resolve(ttl)));
    ka.keepAlive(g.id);
    t.equal(await after, 30, 'renewed on a fresh stream');
    await leaseRevoke(c, g.id, o);
  });
});
