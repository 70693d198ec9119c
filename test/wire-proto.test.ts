// The hand-written protobuf and gRPC framing, checked against protobufjs (test-only) and by hand.
import t from 'tap';
import protobuf from 'protobufjs';
import { Deframer, frame, WireError, decodeGrpcMessage, grpcTimeout } from '../src/loadgen/wire/grpc.js';
import {
  decodePutResponse,
  decodeRangeResponse,
  encodePut,
  encodeRange,
  encodeWatchCancel,
  encodeWatchCreate,
  encodeWatchProgress,
  prefixEnd,
} from '../src/loadgen/wire/proto.js';
import { decodeWatchResponse } from '../src/loadgen/wire/watch-proto.js';

const root = protobuf.parse(`
syntax = "proto3";
message ResponseHeader { uint64 cluster_id = 1; uint64 member_id = 2; int64 revision = 3; uint64 raft_term = 4; }
message KeyValue { bytes key = 1; int64 create_revision = 2; int64 mod_revision = 3; int64 version = 4; bytes value = 5; int64 lease = 6; }
message Event { enum EventType { PUT = 0; DELETE = 1; } EventType type = 1; KeyValue kv = 2; KeyValue prev_kv = 3; }
message PutRequest { bytes key = 1; bytes value = 2; int64 lease = 3; bool prev_kv = 4; }
message PutResponse { ResponseHeader header = 1; KeyValue prev_kv = 2; }
message RangeRequest { bytes key = 1; bytes range_end = 2; int64 limit = 3; int64 revision = 4; }
message RangeResponse { ResponseHeader header = 1; repeated KeyValue kvs = 2; bool more = 3; int64 count = 4; }
message WatchCreateRequest { bytes key = 1; bytes range_end = 2; int64 start_revision = 3; bool progress_notify = 4; repeated int32 filters = 5; bool prev_kv = 6; int64 watch_id = 7; bool fragment = 8; }
message WatchCancelRequest { int64 watch_id = 1; }
message WatchProgressRequest {}
message WatchRequest { oneof request_union { WatchCreateRequest create_request = 1; WatchCancelRequest cancel_request = 2; WatchProgressRequest progress_request = 3; } }
message WatchResponse { ResponseHeader header = 1; int64 watch_id = 2; bool created = 3; bool canceled = 4; int64 compact_revision = 5; string cancel_reason = 6; bool fragment = 7; repeated Event events = 11; }
`).root;
const T = (n: string) => root.lookupType(n);
const plain = (msg: protobuf.Message, type: string) =>
  T(type).toObject(msg, { longs: Number, bytes: Buffer, defaults: false });

t.test('requests decode with protobufjs to what was encoded', async (t) => {
  const put = plain(T('PutRequest').decode(encodePut('/a/key', Buffer.from('value'))), 'PutRequest');
  t.same(put, { key: Buffer.from('/a/key'), value: Buffer.from('value') });
  t.same(encodePut('k', Buffer.alloc(0)), Buffer.from([0x0a, 0x01, 0x6b]), 'empty value omitted (proto3)');
  const range = plain(
    T('RangeRequest').decode(encodeRange('/p/', { rangeEnd: prefixEnd('/p/'), revision: 123456789012, limit: 5 })),
    'RangeRequest',
  );
  t.same(range, { key: Buffer.from('/p/'), rangeEnd: Buffer.from('/p0'), limit: 5, revision: 123456789012 });
  const create = plain(
    T('WatchRequest').decode(
      encodeWatchCreate({ key: 'k', rangeEnd: Buffer.from('l'), startRevision: 300, progressNotify: true, watchId: 7 }),
    ),
    'WatchRequest',
  );
  t.same(create, {
    createRequest: {
      key: Buffer.from('k'),
      rangeEnd: Buffer.from('l'),
      startRevision: 300,
      progressNotify: true,
      watchId: 7,
    },
  });
  t.same(plain(T('WatchRequest').decode(encodeWatchCancel(99)), 'WatchRequest'), { cancelRequest: { watchId: 99 } });
  t.same(plain(T('WatchRequest').decode(encodeWatchProgress()), 'WatchRequest'), { progressRequest: {} });
  t.same(
    Buffer.from(encodeWatchCreate({ key: 'a', startRevision: 1 })),
    Buffer.from([0x0a, 0x05, 0x0a, 0x01, 0x61, 0x18, 0x01]),
    'byte-exact by hand',
  );
  t.same(prefixEnd(Buffer.from([0x61, 0xff])), Buffer.from([0x62]));
  t.same(prefixEnd(Buffer.from([0xff])), Buffer.from([0]));
});

t.test('responses encoded by protobufjs decode to the same values', async (t) => {
  const header = { clusterId: 1234567890123, memberId: 42, revision: 9007199254740, raftTerm: 3 };
  const pr = T('PutResponse').encode(T('PutResponse').fromObject({ header })).finish();
  t.same(decodePutResponse(pr), { revision: 9007199254740 });
  const kvs = [
    { key: Buffer.from('/k1'), createRevision: 5, modRevision: 9, version: 3, value: Buffer.from('v1'), lease: 77 },
    { key: Buffer.from('/k2'), createRevision: 6, modRevision: 6, version: 1, value: Buffer.alloc(300, 7) },
  ];
  const rr = decodeRangeResponse(
    T('RangeResponse')
      .encode(T('RangeResponse').fromObject({ header, kvs, more: true, count: 2 }))
      .finish(),
  );
  t.equal(rr.revision, header.revision);
  t.equal(rr.count, 2);
  t.same(
    rr.kvs.map((k) => [
      Buffer.from(k.key).toString(),
      k.createRevision,
      k.modRevision,
      k.version,
      Buffer.from(k.value).length,
    ]),
    [
      ['/k1', 5, 9, 3, 2],
      ['/k2', 6, 6, 1, 300],
    ],
  );
  const events = [
    { type: 0, kv: kvs[0] },
    { type: 1, kv: { key: Buffer.from('/gone'), modRevision: 10 }, prevKv: kvs[1] },
  ];
  const wr = decodeWatchResponse(
    T('WatchResponse')
      .encode(T('WatchResponse').fromObject({ header, watchId: 3, events, fragment: false }))
      .finish(),
  );
  t.equal(wr.watchId, 3);
  t.equal(wr.revision, header.revision);
  t.same(
    wr.events.map((e) => [e.type, Buffer.from(e.kv.key).toString(), e.kv.modRevision]),
    [
      ['put', '/k1', 9],
      ['delete', '/gone', 10],
    ],
  );
  const canceled = decodeWatchResponse(
    T('WatchResponse')
      .encode(
        T('WatchResponse').fromObject({
          header,
          watchId: 5,
          canceled: true,
          compactRevision: 4000,
          cancelReason: 'mvcc: required revision has been compacted',
        }),
      )
      .finish(),
  );
  t.same(
    [canceled.canceled, canceled.compactRevision, canceled.cancelReason],
    [true, 4000, 'mvcc: required revision has been compacted'],
  );
  const created = decodeWatchResponse(
    T('WatchResponse')
      .encode(T('WatchResponse').fromObject({ header, watchId: -1, created: true, canceled: true }))
      .finish(),
  );
  t.equal(created.watchId, -1, 'negative int64 (10-byte varint)');
  // unknown fields of every wire type are skipped
  const w = protobuf.Writer.create();
  w.uint32((99 << 3) | 0)
    .uint64(5)
    .uint32((98 << 3) | 1)
    .fixed64(1)
    .uint32((97 << 3) | 5)
    .fixed32(1)
    .uint32((96 << 3) | 2)
    .bytes(Buffer.from('zz'));
  w.uint32((2 << 3) | 0).int64(8);
  t.equal(decodeWatchResponse(w.finish()).watchId, 8);
  t.throws(() => decodeWatchResponse(Buffer.from([0x12, 0x05, 0x01])), /truncated/);
});

t.test('gRPC framing: split and merged chunks, errors', async (t) => {
  const msgs = [Buffer.from('a'), Buffer.alloc(70000, 2), Buffer.alloc(0), Buffer.from('last')];
  const stream = Buffer.concat(msgs.map((m) => frame(m)));
  for (const size of [1, 3, 5, 6, 4096, 16384, stream.length]) {
    const got: Buffer[] = [];
    const d = new Deframer((m) => got.push(Buffer.from(m)));
    for (let off = 0; off < stream.length; off += size) d.push(stream.subarray(off, off + size));
    t.same(
      got.map((g) => g.length),
      msgs.map((m) => m.length),
      `chunks of ${size}`,
    );
    t.ok(got[1].equals(msgs[1]));
    t.equal(d.buffered, 0);
  }
  const compressed = Buffer.from([1, 0, 0, 0, 1, 0]);
  t.throws(() => new Deframer(() => {}).push(compressed), WireError);
  t.equal(decodeGrpcMessage('etcdserver%3A%20request%20timed%20out'), 'etcdserver: request timed out');
  t.equal(decodeGrpcMessage('%zz'), '%zz');
  t.equal(grpcTimeout(2500), '2500m');
  t.equal(grpcTimeout(0.2), '1m');
});
