// The hot path's codecs. The put request built in its frame equals the framed plain encoding. The watch
// decoder (the fan-out hot path) against protobufjs on random responses, one after another as
// a stream delivers them: the same event to many watchers (decoded once and shared), events that differ
// in one byte (a garbled copy must never be taken for the clean one), deletes, prev_kv, 64-bit ids.
import t from 'tap';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { frame } from '../src/loadgen/wire/grpc.js';
import { encodePut, encodePutFramed, type Kv } from '../src/loadgen/wire/proto.js';
import { decodeWatchResponse } from '../src/loadgen/wire/watch-proto.js';

const root = protobuf.parse(`
syntax = "proto3";
message ResponseHeader { uint64 cluster_id = 1; uint64 member_id = 2; int64 revision = 3; uint64 raft_term = 4; }
message KeyValue { bytes key = 1; int64 create_revision = 2; int64 mod_revision = 3; int64 version = 4; bytes value = 5; int64 lease = 6; }
message Event { enum EventType { PUT = 0; DELETE = 1; } EventType type = 1; KeyValue kv = 2; KeyValue prev_kv = 3; }
message WatchResponse { ResponseHeader header = 1; int64 watch_id = 2; bool created = 3; bool canceled = 4; int64 compact_revision = 5; string cancel_reason = 6; bool fragment = 7; repeated Event events = 11; }
`).root;
const WatchResponse = root.lookupType('WatchResponse');

const rev = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 40 }));
const kvArb = fc.record({
  key: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  createRevision: rev,
  modRevision: rev,
  version: fc.integer({ min: 0, max: 1000 }),
  value: fc.uint8Array({ maxLength: 300 }),
});
const eventArb = fc.record({ type: fc.constantFrom(0, 1), kv: kvArb, prevKv: fc.option(kvArb, { nil: undefined }) });
const header = {
  clusterId: protobuf.util.Long.fromString('14841639068965178418', true),
  memberId: protobuf.util.Long.fromString('10276657743932975437', true),
  raftTerm: 2,
};

type Ev = typeof eventArb extends fc.Arbitrary<infer T> ? T : never;

function encode(watchId: number, revision: number, events: Ev[]): Uint8Array {
  return WatchResponse.encode(WatchResponse.fromObject({ header: { ...header, revision }, watchId, events })).finish();
}

const kvOf = (k: Kv | undefined) =>
  k && [
    Buffer.from(k.key).toString('hex'),
    k.createRevision,
    k.modRevision,
    k.version,
    Buffer.from(k.value).toString('hex'),
  ];
const expectedKv = (k: Ev['kv'] | undefined) =>
  k && [
    Buffer.from(k.key).toString('hex'),
    k.createRevision,
    k.modRevision,
    k.version,
    Buffer.from(k.value).toString('hex'),
  ];

/** a stream's responses: each event sent to a few watchers, now and then a copy with one byte flipped */
const streamArb = fc.array(
  fc.record({
    events: fc.array(eventArb, { minLength: 1, maxLength: 3 }),
    watchers: fc.integer({ min: 1, max: 4 }),
    flip: fc.option(fc.nat(), { nil: undefined }),
  }),
  { minLength: 1, maxLength: 12 },
);

t.test('a stream of responses decodes as protobufjs decodes each one', async (t) => {
  fc.assert(
    fc.property(streamArb, rev, (stream, revision) => {
      let watchId = 0;
      for (const { events, watchers, flip } of stream) {
        for (let w = 0; w < watchers; w++) {
          const bytes = encode(++watchId, revision, events);
          // a garbled copy for the last watcher: one byte of the first event's value changed
          const v = events[0].kv.value;
          if (flip !== undefined && w === watchers - 1 && v.length) {
            v[flip % v.length] ^= 0xff;
            const garbled = encode(watchId, revision, events);
            v[flip % v.length] ^= 0xff;
            const got = decodeWatchResponse(garbled);
            const ref = WatchResponse.toObject(WatchResponse.decode(garbled), {
              longs: Number,
              bytes: Buffer,
              defaults: true,
            }) as { events: { kv: Ev['kv'] }[] };
            t.strictSame(kvOf(got.events[0].kv), expectedKv(ref.events[0].kv), 'the garbled copy is decoded as sent');
            t.notSame(kvOf(got.events[0].kv), expectedKv(events[0].kv));
            continue;
          }
          const got = decodeWatchResponse(bytes);
          t.equal(got.watchId, watchId);
          t.equal(got.revision, revision);
          t.strictSame(
            got.events.map((e) => [e.type, kvOf(e.kv), kvOf(e.prevKv)]),
            events.map((e) => [e.type === 1 ? 'delete' : 'put', expectedKv(e.kv), expectedKv(e.prevKv)]),
          );
        }
      }
      return true;
    }),
    { numRuns: 200 },
  );
});

t.test('one event to many watchers: decoded once, the same object for each', async (t) => {
  const ev: Ev = {
    type: 0,
    kv: { key: Buffer.from('k'), createRevision: 5, modRevision: 9, version: 2, value: Buffer.from('v') },
    prevKv: undefined,
  };
  // each response in its own buffer, as separate frames arrive
  const a = decodeWatchResponse(Buffer.from(encode(1, 9, [ev])));
  const b = decodeWatchResponse(Buffer.from(encode(2, 9, [ev])));
  t.equal(a.events[0], b.events[0]);
  t.equal(b.watchId, 2);
  const c = decodeWatchResponse(encode(3, 9, [{ ...ev, kv: { ...ev.kv, version: 3 } }]));
  t.not(c.events[0], b.events[0]);
  t.equal(c.events[0].kv.version, 3);
});

t.test('a run of revisions per response, repeated to each watcher: each event decoded once', async (t) => {
  // a watcher behind gets many revisions per response; the next watcher's response repeats the run
  const run: Ev[] = Array.from({ length: 100 }, (_, i) => ({
    type: 0,
    kv: {
      key: Buffer.from('k'),
      createRevision: 5,
      modRevision: 1000 + i,
      version: i + 1,
      value: Buffer.alloc(256, i),
    },
    prevKv: undefined,
  }));
  const responses = Array.from({ length: 20 }, (_, w) => decodeWatchResponse(Buffer.from(encode(w + 1, 1099, run))));
  let shared = 0;
  for (const r of responses.slice(1)) r.events.forEach((ev, i) => (shared += ev === responses[0].events[i] ? 1 : 0));
  t.equal(shared, 19 * 100, 'every repeat is the first decode, in each of the 19 later responses');
  // a garbled copy of one of them (the same revision, one value byte off) is decoded on its own
  const bad = { ...run[42], kv: { ...run[42].kv, value: Buffer.alloc(256, 41) } };
  const g = decodeWatchResponse(Buffer.from(encode(99, 1099, [bad])));
  t.not(g.events[0], responses[0].events[42]);
  t.equal(Buffer.from(g.events[0].kv.value)[0], 41);
  const again = decodeWatchResponse(Buffer.from(encode(100, 1099, [run[42]])));
  t.equal(Buffer.from(again.events[0].kv.value)[0], 42, 'the clean one still decodes as itself after');
});

t.test('a put built in its frame is the framed put request', async (t) => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 20_000 })),
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 0, max: 70_000 }).map((n) => new Uint8Array(n)),
      ),
      (key, value) => {
        t.strictSame(encodePutFramed(key, value), frame(encodePut(key, value)));
        return true;
      },
    ),
    { numRuns: 300 },
  );
  const big = new Uint8Array(3 << 20).fill(7);
  t.strictSame(encodePutFramed('k', big), frame(encodePut('k', big)), 'a 4-byte length');
});
