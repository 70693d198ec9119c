// The KV calls of wire/kv.ts: their protobuf checked against protobufjs (test-only), then Range
// (serializable, at a revision), Txn (each compare target, both branches) and DeleteRange on real etcd.
import t from 'tap';
import protobuf from 'protobufjs';
import { startCluster } from '../src/cluster/launch.js';
import { EtcdWireClient } from '../src/loadgen/wire/client.js';
import {
  decodeDeleteRangeResponse,
  decodeTxnResponse,
  encodeDeleteRange,
  encodeRangeRequest,
  encodeTxn,
  kvDeleteRange,
  kvRange,
  kvTxn,
} from '../src/loadgen/wire/kv.js';

const root = protobuf.parse(`
syntax = "proto3";
message ResponseHeader { uint64 cluster_id = 1; uint64 member_id = 2; int64 revision = 3; uint64 raft_term = 4; }
message KeyValue { bytes key = 1; int64 create_revision = 2; int64 mod_revision = 3; int64 version = 4; bytes value = 5; int64 lease = 6; }
message RangeRequest { bytes key = 1; bytes range_end = 2; int64 limit = 3; int64 revision = 4; int32 sort_order = 5; int32 sort_target = 6; bool serializable = 7; }
message RangeResponse { ResponseHeader header = 1; repeated KeyValue kvs = 2; bool more = 3; int64 count = 4; }
message PutRequest { bytes key = 1; bytes value = 2; }
message PutResponse { ResponseHeader header = 1; KeyValue prev_kv = 2; }
message DeleteRangeRequest { bytes key = 1; bytes range_end = 2; bool prev_kv = 3; }
message DeleteRangeResponse { ResponseHeader header = 1; int64 deleted = 2; repeated KeyValue prev_kvs = 3; }
message RequestOp { oneof request { RangeRequest request_range = 1; PutRequest request_put = 2; DeleteRangeRequest request_delete_range = 3; } }
message ResponseOp { oneof response { RangeResponse response_range = 1; PutResponse response_put = 2; DeleteRangeResponse response_delete_range = 3; } }
message Compare {
  int32 result = 1; int32 target = 2; bytes key = 3;
  oneof target_union { int64 version = 4; int64 create_revision = 5; int64 mod_revision = 6; bytes value = 7; int64 lease = 8; }
}
message TxnRequest { repeated Compare compare = 1; repeated RequestOp success = 2; repeated RequestOp failure = 3; }
message TxnResponse { ResponseHeader header = 1; bool succeeded = 2; repeated ResponseOp responses = 3; }
`).root;
const T = (n: string) => root.lookupType(n);
const plain = (b: Uint8Array, type: string) =>
  T(type).toObject(T(type).decode(b), { longs: Number, bytes: Buffer, defaults: false, oneofs: false });
const B = (s: string) => Buffer.from(s);

t.test('requests decode with protobufjs to what was encoded', async (t) => {
  t.same(plain(encodeRangeRequest('/k', { serializable: true, revision: 77, limit: 1 }), 'RangeRequest'), {
    key: B('/k'),
    limit: 1,
    revision: 77,
    serializable: true,
  });
  t.same(plain(encodeRangeRequest('/k'), 'RangeRequest'), { key: B('/k') }, 'linearizable by default');
  t.same(plain(encodeDeleteRange('/k', B('/l')), 'DeleteRangeRequest'), { key: B('/k'), rangeEnd: B('/l') });
  const txn = plain(
    encodeTxn({
      compare: [
        { key: '/a', target: 'value', value: 'v1' },
        { key: '/b', target: 'mod', value: 0 },
        { key: '/c', target: 'create', value: 12, result: 'not-equal' },
        { key: '/d', target: 'version', value: 3, result: 'greater' },
      ],
      success: [{ put: { key: '/a', value: 'v2' } }, { del: { key: '/b' } }],
      failure: [{ range: { key: '/a', serializable: true } }],
    }),
    'TxnRequest',
  );
  t.same(txn, {
    compare: [
      { target: 3, key: B('/a'), value: B('v1') },
      { target: 2, key: B('/b'), modRevision: 0 },
      { result: 3, target: 1, key: B('/c'), createRevision: 12 },
      { result: 1, key: B('/d'), version: 3 },
    ],
    success: [{ requestPut: { key: B('/a'), value: B('v2') } }, { requestDeleteRange: { key: B('/b') } }],
    failure: [{ requestRange: { key: B('/a'), serializable: true } }],
  });
});

t.test('responses encoded by protobufjs decode to the same values', async (t) => {
  const header = { clusterId: 1234567890123, memberId: 42, revision: 9007199254740, raftTerm: 3 };
  const enc = (type: string, o: object) => T(type).encode(T(type).fromObject(o)).finish();
  t.same(decodeDeleteRangeResponse(enc('DeleteRangeResponse', { header, deleted: 2 })), {
    revision: 9007199254740,
    deleted: 2,
  });
  const kv = { key: B('/a'), createRevision: 5, modRevision: 9, version: 3, value: B('x') };
  const r = decodeTxnResponse(
    enc('TxnResponse', {
      header,
      succeeded: true,
      responses: [
        { responsePut: { header: { revision: 10 } } },
        { responseDeleteRange: { header: { revision: 10 }, deleted: 1 } },
        { responseRange: { header: { revision: 10 }, kvs: [kv], count: 1 } },
      ],
    }),
  );
  t.equal(r.revision, 9007199254740);
  t.equal(r.succeeded, true);
  t.same(
    r.responses.map((x) => x.type),
    ['put', 'del', 'range'],
  );
  t.same(r.responses[1], { type: 'del', revision: 10, deleted: 1 });
  const range = r.responses[2];
  t.ok(range.type === 'range' && range.kvs[0].modRevision === 9 && Buffer.from(range.kvs[0].value).equals(B('x')));
  t.equal(decodeTxnResponse(enc('TxnResponse', { header })).succeeded, false, 'failed when absent');
});

t.test('on real etcd', async (t) => {
  const cluster = await startCluster({ size: 3 });
  t.teardown(() => cluster.stop());
  const eps = cluster.clientEndpoints();
  const c = new EtcdWireClient(eps[0]);
  const d = new EtcdWireClient(eps[2]);
  t.teardown(() => (c.close(), d.close()));
  const o = { timeoutMs: 5000 };

  const p1 = await c.put('/kv/a', B('v1'), o);
  const p2 = await c.put('/kv/a', B('v2'), o);
  const now = await kvRange(d, '/kv/a', o);
  t.equal(Buffer.from(now.kvs[0].value).toString(), 'v2');
  t.ok(now.revision >= p2.revision, 'header at or above the write');
  const old = await kvRange(d, '/kv/a', { ...o, revision: p1.revision });
  t.equal(Buffer.from(old.kvs[0].value).toString(), 'v1', 'read at a revision');
  t.equal(old.kvs[0].modRevision, p1.revision);
  const ser = await kvRange(d, '/kv/a', { ...o, serializable: true });
  t.ok(ser.revision >= 1 && ser.kvs.length === 1, 'a serializable read answers');

  // compare on value: holds → success branch writes at a new revision
  const cas = await kvTxn(
    d,
    { compare: [{ key: '/kv/a', target: 'value', value: 'v2' }], success: [{ put: { key: '/kv/a', value: 'v3' } }] },
    o,
  );
  t.equal(cas.succeeded, true);
  t.equal(cas.revision, p2.revision + 1, 'the Txn created the next revision');
  t.same(cas.responses, [{ type: 'put', revision: cas.revision }]);
  // compare on mod revision that no longer holds → failure branch reads
  const miss = await kvTxn(
    c,
    {
      compare: [{ key: '/kv/a', target: 'mod', value: p2.revision }],
      success: [{ put: { key: '/kv/a', value: 'never' } }],
      failure: [{ range: { key: '/kv/a' } }],
    },
    o,
  );
  t.equal(miss.succeeded, false);
  t.equal(miss.revision, cas.revision, 'nothing written');
  const seen = miss.responses[0];
  t.ok(seen.type === 'range' && Buffer.from(seen.kvs[0].value).toString() === 'v3', 'failure branch read v3');
  // create revision 0 / version 0: the key does not exist
  const create = await kvTxn(
    c,
    {
      compare: [{ key: '/kv/new', target: 'create', value: 0 }],
      success: [{ put: { key: '/kv/new', value: 'n' } }],
    },
    o,
  );
  t.equal(create.succeeded, true, 'create_revision == 0 on a missing key');
  const again = await kvTxn(
    c,
    { compare: [{ key: '/kv/new', target: 'version', value: 0 }], success: [{ del: { key: '/kv/new' } }] },
    o,
  );
  t.equal(again.succeeded, false, 'version == 0 fails once it exists');
  const mod0 = await kvTxn(
    c,
    { compare: [{ key: '/kv/none', target: 'mod', value: 0 }], success: [{ put: { key: '/kv/none', value: 'z' } }] },
    o,
  );
  t.equal(mod0.succeeded, true, 'mod_revision == 0 on a missing key');

  const del = await kvDeleteRange(d, '/kv/a', o);
  t.equal(del.deleted, 1);
  t.equal(del.revision, mod0.revision + 1);
  const none = await kvDeleteRange(d, '/kv/a', o);
  t.equal(none.deleted, 0);
  t.equal(none.revision, del.revision, 'deleting nothing creates no revision');
  const gone = await kvRange(c, '/kv/a', o);
  t.equal(gone.kvs.length, 0);
  const e = await kvRange(c, '/kv/a', { ...o, revision: del.revision + 1000 }).catch((err: Error) => err);
  t.ok(e instanceof Error && /future/.test(e.message), 'a read above the store revision is refused');
});
