// The run's record is read over the run's own links, where an injected corrupt fault flips bits on the
// way. A replay must never turn such a flip into a false outcome: a put etcd applied is never settled
// "not applied" because its event came back garbled, and a garbled revision never moves the replay past
// events it did not read. A put stored under a key garbled on its way in is applied (a corrupted write).
import { EventEmitter } from 'node:events';
import t from 'tap';
import { Checker } from '../src/loadgen/checker.js';
import { EtcdRecord } from '../src/loadgen/record.js';
import { encodeValue } from '../src/loadgen/value.js';
import type { EtcdWireClient, Kv, WatchEvent } from '../src/loadgen/wire/client.js';
import { silentLogger } from '../src/util/log.js';

const RUN = 'abcdefgh';
const BASE = `/etcd-soak/${RUN}/`;
const KEYS = [`${BASE}k0`, `${BASE}k1`];
const value = (seq: number) => encodeValue(RUN, { writer: 0, seq, due: 1000 + seq }, 64);
const kv = (key: string, seq: number, rev: number): Kv => ({
  key: Buffer.from(key, 'latin1'),
  value: value(seq),
  createRevision: rev,
  modRevision: rev,
  version: 1,
});
/** one bit flipped: what the corrupt fault does to a chunk */
const flip = (b: Uint8Array, i: number, bit = 7): Buffer => {
  const c = Buffer.from(b);
  c[i] ^= 1 << bit;
  return c;
};

/**
 * etcd's record as a fake client: `stored` is what etcd holds (revision → kv); `garble` changes what one
 * read of a revision returns (the n-th read of it, watch or Range), as a fault on the link would.
 */
function fakeClient(stored: Map<number, Kv>, garble: (kv: Kv, read: number, how: 'watch' | 'range') => Kv = (k) => k) {
  const reads = new Map<number, number>();
  const read = (k: Kv, how: 'watch' | 'range') => {
    const n = reads.get(k.modRevision) ?? 0;
    reads.set(k.modRevision, n + 1);
    return garble(k, n, how);
  };
  const head = () => Math.max(...stored.keys());
  const client = {
    endpoint: 'fake:1',
    ranges: 0,
    async range(_key: unknown, opts: { revision?: number } = {}) {
      client.ranges++;
      const at = opts.revision ?? head();
      const latest = new Map<string, Kv>();
      for (const [rev, k] of [...stored].sort((a, b) => a[0] - b[0]))
        if (rev <= at) latest.set(Buffer.from(k.key).toString('latin1'), k);
      const kvs = [...latest.values()].map((k) => (opts.revision && k.modRevision === at ? read(k, 'range') : k));
      return { revision: head(), kvs, count: kvs.length };
    },
    watchStream() {
      const s = new EventEmitter() as EventEmitter & { watch: (r: { startRevision: number }) => Promise<number> };
      s.watch = async (r) => {
        setImmediate(() => {
          const evs: WatchEvent[] = [...stored]
            .filter(([rev]) => rev >= r.startRevision)
            .sort((a, b) => a[0] - b[0])
            .map(([, k]) => ({ type: 'put', kv: read(k, 'watch'), prevKv: undefined }));
          s.emit('events', 1, evs, head());
        });
        return 1;
      };
      (s as unknown as { close(): void }).close = () => {};
      return s;
    },
  };
  return client;
}

/** puts seq 1..6 at revisions 11..16, alternating keys; `lost` are indeterminate (their answer lost) */
function setup(lost: number[], storedAs: (seq: number) => string = (seq) => KEYS[seq % 2]) {
  const outcomes = new Map<number, boolean>();
  const checker = new Checker({
    runId: RUN,
    keys: KEYS,
    settleMs: 1000,
    onViolation: () => {},
    onSettled: (p, applied) => outcomes.set(p.seq, applied),
  });
  const stored = new Map<number, Kv>();
  for (let seq = 1; seq <= 6; seq++) {
    checker.registerPut(seq, seq % 2, 0);
    stored.set(10 + seq, kv(storedAs(seq), seq, 10 + seq));
    if (lost.includes(seq)) checker.indeterminate(seq, 0);
    else checker.ack(seq, 10 + seq, 0);
  }
  return { checker, stored, outcomes };
}

const record = (client: ReturnType<typeof fakeClient>) => {
  const r = new EtcdRecord(
    () => [client as unknown as EtcdWireClient],
    KEYS.map((k) => Buffer.from(k)),
    BASE,
    new Map(KEYS.map((k, i) => [k, i])),
    silentLogger,
  );
  r.begin(10);
  return r;
};
const now = () => 50_000;

t.test("a lost put's key garbled in transit on the replay is read again: applied, not 'not applied'", async (t) => {
  const s = setup([3]);
  // the watch's read of revision 13 has 'k' flipped to 'ë'; the Range read again is clean
  const client = fakeClient(s.stored, (k, n, how) =>
    k.modRevision === 13 && how === 'watch' && n === 0 ? { ...k, key: flip(k.key, BASE.length) } : k,
  );
  const r = await record(client).settle(s.checker, now, 2000);
  t.notOk(r.error);
  t.equal(s.outcomes.get(3), true, 'etcd applied seq 3: settled applied');
  t.equal(s.checker.puts.get(3)!.revision, 13, 'at its revision');
  t.equal(s.checker.findings.corruptedWrites, 0, 'nothing was stored garbled');
  t.ok(client.ranges >= 2, 'revision 13 was read again with a Range');
});

t.test("a lost put's value garbled in transit (a sequence digit) is read again and settles that put", async (t) => {
  const s = setup([4]);
  // seq 4's event arrives with the last digit of its sequence flipped ('4' → '5': a put on the other key)
  const client = fakeClient(s.stored, (k, n, how) =>
    k.modRevision === 14 && how === 'watch' && n === 0 ? { ...k, value: flip(k.value, 29, 0) } : k,
  );
  await record(client).settle(s.checker, now, 2000);
  t.equal(s.outcomes.get(4), true, 'etcd applied seq 4: settled applied');
  t.equal(s.checker.puts.get(4)!.revision, 14);
  t.notOk(s.outcomes.has(5), 'seq 5 (acknowledged) is not touched');
});

t.test('a put stored under a key garbled on its way in is applied, counted as a corrupted write', async (t) => {
  const s = setup([5], (seq) => (seq === 5 ? `${BASE}\xeb1` : KEYS[seq % 2]));
  const client = fakeClient(s.stored);
  await record(client).settle(s.checker, now, 2000);
  t.equal(s.outcomes.get(5), true, 'its value is in etcd: applied (under another key)');
  t.equal(s.checker.puts.get(5)!.revision, 0, 'not learnt on its own key');
  t.equal(s.checker.findings.corruptedWrites, 1);
});

t.test('a revision read differently each time leaves the put unsettled, never not applied', async (t) => {
  const s = setup([3]);
  // every read of revision 13 flips a different bit of its key
  const client = fakeClient(s.stored, (k, n) =>
    k.modRevision === 13 ? { ...k, key: flip(k.key, BASE.length, n % 8) } : k,
  );
  const r = await record(client).settle(s.checker, now, 2000);
  t.match(r.error, /revision 13 read differently each time/);
  t.notOk(s.outcomes.has(3), 'seq 3 stays indeterminate (unsettled): nothing says it was not applied');
});

t.test('a revision garbled above the head fails that replay; the next one reads on from the same place', async (t) => {
  const s = setup([6]);
  let broken = true;
  const client = fakeClient(s.stored, (k, _n, how) =>
    broken && how === 'watch' && k.modRevision === 15 ? { ...k, modRevision: 15 + 1024 } : k,
  );
  const rec = record(client);
  t.match(
    (await rec.replay(s.checker, 11, now, 2000)).error,
    /revision 1039 after 14 \(target 16\) \(garbled in transit\)/,
  );
  // the run's periodic replay meets the same garbled revision: it must not move the checkpoint past 14
  rec.maybeReplay(s.checker, 10_000, 1000, now, 2000);
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(s.outcomes.has(6), 'seq 6 (revision 16) not settled by a replay that stopped at a garbled revision');
  broken = false;
  await rec.settle(s.checker, now, 2000);
  t.equal(s.outcomes.get(6), true, 'the clean replay at the end reads 15 and 16: seq 6 applied');
});

t.test('a head garbled low during the run moves the checkpoint only as far as was read', async (t) => {
  const s = setup([6]);
  const client = fakeClient(s.stored);
  const rec = record(client);
  const realRange = client.range.bind(client);
  let garbleHead = true;
  client.range = async (key, opts = {}) => {
    const r = await realRange(key, opts);
    // k0's last revision reads 14 (16 with a bit flipped), so the head's is k1's 15: a replay stops there
    if (garbleHead && opts.revision === undefined)
      return { ...r, kvs: r.kvs.map((k) => (k.modRevision === 16 ? { ...k, modRevision: 14 } : k)) };
    return r;
  };
  const during = await rec.replay(s.checker, 11, now, 2000);
  t.equal(during.replayedTo, 15, `read up to 15, not the store revision 16 ${JSON.stringify(during)}`);
  rec.maybeReplay(s.checker, 10_000, 1000, now, 2000);
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(s.outcomes.has(6));
  garbleHead = false;
  await rec.settle(s.checker, now, 2000);
  t.equal(s.outcomes.get(6), true, 'revisions 15 and 16 were read after all: seq 6 applied');
});
