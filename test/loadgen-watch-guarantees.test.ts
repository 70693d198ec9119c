// etcd's robustness validators beyond ordered/unique/reliable, judged by the checker without etcd:
// atomic (a revision's events in one response), bookmarkable (progress notifications and events in
// revision order), resumable (a resume's first event), created (create_revision and prev_kv), and the
// HashKV comparison. Each planted anomaly is reported once, with its kind.
import t from 'tap';
import { Checker, type Violation } from '../src/loadgen/checker.js';
import { judge } from '../src/loadgen/hashkv.js';
import { encodeValue } from '../src/loadgen/value.js';
import type { Kv } from '../src/loadgen/wire/proto.js';

const RUN = 'abcdefgh';
const SETTLE = 1000;
const KEYS = ['/p/k0', '/p/k1', '/p/k2'];

const value = (seq: number) => encodeValue(RUN, { writer: 0, seq, due: 1000 + seq }, 64);

function setup() {
  const violations: Violation[] = [];
  const c = new Checker({ runId: RUN, keys: KEYS, settleMs: SETTLE, onViolation: (v) => violations.push(v) });
  c.maxKnownRev = 9;
  // etcd's record: revision → [key, seq][]
  const history = new Map<number, [number, number][]>();
  let seq = 0;
  /** one Txn (or put) at `rev` writing `keys`; answers their sequence numbers */
  const txn = (rev: number, keys: number[], ack = true) => {
    const seqs = keys.map((k) => {
      c.registerPut(++seq, k, 1000 + seq);
      return seq;
    });
    history.set(
      rev,
      keys.map((k, i) => [k, seqs[i]]),
    );
    if (ack) for (const s of seqs) c.ack(s, rev, 0);
    return seqs;
  };
  const seqAt = (rev: number, key: number) => history.get(rev)!.find(([k]) => k === key)![1];
  /** one watch response: [rev, key] events */
  const respond = (w: ReturnType<Checker['addWatcher']>, events: [number, number][]) => {
    c.responseStart(w);
    for (const [rev, key] of events) c.onEvent(w, key, rev, value(seqAt(rev, key)), 0);
  };
  const finish = () => {
    c.sweep(SETTLE * 2);
    for (const q of c.takeQuestions())
      c.recordSays(q.key, q.rev, history.get(q.rev)?.some(([k]) => k === q.key) ? 'on-key' : 'not-on-key');
    c.sweep(SETTLE * 20, true);
    const revs = [...history.keys()].sort((a, b) => a - b);
    c.finish(SETTLE * 20, revs[revs.length - 1] ?? 0);
  };
  return { c, violations, txn, respond, finish, seqAt };
}

const kinds = (vs: Violation[]) => vs.map((v) => `${v.kind}@${v.revision}`);

t.test(
  'atomic: a Txn revision whole in one response is clean; split across two it is one atomic violation',
  async (t) => {
    const s = setup();
    const w = s.c.addWatcher(0, 7, [0, 1, 2], true, 10);
    s.txn(10, [0, 1, 2]);
    s.txn(11, [1, 2]);
    s.respond(w, [
      [10, 0],
      [10, 1],
      [10, 2],
    ]);
    s.respond(w, [[11, 1]]);
    s.respond(w, [[11, 2]]);
    s.finish();
    t.same(kinds(s.violations), ['atomic@11']);
    t.match(s.violations[0], { key: '/p/k2', watcher: 0, connection: 7 });
  },
);

t.test('a prefix watcher that loses one key of a Txn revision is one reliable violation on that key', async (t) => {
  const s = setup();
  const w = s.c.addWatcher(0, 0, [0, 1, 2], true, 10);
  s.txn(10, [0, 1, 2]);
  s.txn(11, [0]);
  s.respond(w, [
    [10, 0],
    [10, 2],
  ]);
  s.respond(w, [[11, 0]]);
  s.finish();
  t.same(kinds(s.violations), ['reliable@10']);
  t.equal(s.violations[0].key, '/p/k1');
});

t.test(
  'bookmarkable: progress below a delivered event, progress going back, an event at or below progress',
  async (t) => {
    const s = setup();
    const a = s.c.addWatcher(0, 0, [0], false, 10);
    const b = s.c.addWatcher(1, 0, [0], false, 10);
    const d = s.c.addWatcher(2, 0, [0], false, 10);
    for (let r = 10; r <= 13; r++) s.txn(r, [0]);
    // a: events 10, 11, then a progress notification at 10
    s.respond(a, [
      [10, 0],
      [11, 0],
    ]);
    s.c.progress(a, 10, 0);
    s.respond(a, [
      [12, 0],
      [13, 0],
    ]);
    // b: progress at 12 then at 11
    s.respond(b, [
      [10, 0],
      [11, 0],
      [12, 0],
    ]);
    s.c.progress(b, 12, 0);
    s.c.progress(b, 11, 0);
    s.respond(b, [[13, 0]]);
    // d: progress at 12 while 12 was not delivered yet, then 12 and 13
    s.respond(d, [
      [10, 0],
      [11, 0],
    ]);
    s.c.progress(d, 12, 0);
    s.respond(d, [
      [12, 0],
      [13, 0],
    ]);
    s.finish();
    t.same(kinds(s.violations).sort(), ['bookmarkable@10', 'bookmarkable@11', 'bookmarkable@12'].sort());
    t.same(
      s.violations.map((v) => v.watcher),
      [0, 1, 2],
    );
  },
);

t.test('bookmarkable is judged per watch: a fresh watch on a member behind may report a lower progress', async (t) => {
  const s = setup();
  const w = s.c.addWatcher(0, 0, [0], false, 10);
  for (let r = 10; r <= 12; r++) s.txn(r, [0]);
  s.respond(w, [
    [10, 0],
    [11, 0],
  ]);
  s.c.created(w, 12, true);
  s.c.progress(w, 9, 0);
  s.respond(w, [[12, 0]]);
  s.finish();
  t.same(s.violations, []);
});

t.test('resumable: a resume whose first event comes late, or before its start revision', async (t) => {
  const s = setup();
  const late = s.c.addWatcher(0, 0, [0], false, 10);
  const early = s.c.addWatcher(1, 0, [0], false, 10);
  for (let r = 10; r <= 14; r++) s.txn(r, [0]);
  s.respond(late, [
    [10, 0],
    [11, 0],
  ]);
  s.c.created(late, 12, true);
  // 12 and 13 were owed first: 12 is where the resume went wrong, 13 is one more lost event
  s.respond(late, [[14, 0]]);
  s.respond(early, [
    [10, 0],
    [11, 0],
    [12, 0],
  ]);
  s.c.created(early, 13, true);
  s.respond(early, [
    [12, 0],
    [13, 0],
    [14, 0],
  ]);
  s.finish();
  t.same(kinds(s.violations).sort(), ['resumable@12', 'reliable@13', 'resumable@12'].sort());
  t.same(s.violations.find((v) => v.kind === 'reliable')?.watcher, 0);
});

t.test('resumable on a prefix watch after a Txn: the first event owed is any key of the first revision', async (t) => {
  const s = setup();
  const w = s.c.addWatcher(0, 0, [0, 1, 2], true, 10);
  s.txn(10, [0, 1]);
  s.txn(11, [1, 2]);
  s.txn(12, [0]);
  s.respond(w, [
    [10, 0],
    [10, 1],
  ]);
  s.c.created(w, 11, true);
  s.respond(w, [[12, 0]]);
  s.finish();
  t.same(kinds(s.violations).sort(), ['reliable@11', 'resumable@11']);
});

/** an event's key-value as etcd would send it */
const kv = (key: number, rev: number, create: number, seq: number): Kv => ({
  key: Buffer.from(KEYS[key]),
  value: value(seq),
  createRevision: create,
  modRevision: rev,
  version: 1,
});

t.test('created and prev_kv: right values are clean; each wrong one is one created violation', async (t) => {
  const s = setup();
  const ws = [0, 1, 2, 3, 4, 5].map((i) => s.c.addWatcher(i, 0, [0], false, 10));
  for (let r = 10; r <= 12; r++) s.txn(r, [0]);
  const seq = (r: number) => s.seqAt(r, 0);
  const feed = (w: number, events: [number, number, Kv | undefined][]) => {
    s.c.responseStart(ws[w]);
    for (const [rev, create, prev] of events) {
      const due = s.c.onEvent(ws[w], 0, rev, value(seq(rev)), 0);
      if (due !== undefined && due >= 0) s.c.checkKv(ws[w], 0, kv(0, rev, create, seq(rev)), prev, true);
    }
  };
  const right = (w: number) =>
    feed(w, [
      [10, 10, undefined],
      [11, 10, kv(0, 10, 10, seq(10))],
      [12, 10, kv(0, 11, 10, seq(11))],
    ]);
  right(0);
  // a wrong create revision: 11 claims to create the key written at 10
  feed(1, [
    [10, 10, undefined],
    [11, 11, undefined],
  ]);
  // a wrong prev_kv value at 12
  feed(2, [
    [10, 10, undefined],
    [11, 10, kv(0, 10, 10, seq(10))],
    [12, 10, kv(0, 11, 10, seq(10))],
  ]);
  // no prev_kv although the key existed
  feed(3, [
    [10, 10, undefined],
    [11, 10, kv(0, 10, 10, seq(10))],
    [12, 10, undefined],
  ]);
  // prev_kv of an older write (10), skipping 11
  feed(4, [
    [10, 10, undefined],
    [11, 10, kv(0, 10, 10, seq(10))],
    [12, 10, kv(0, 10, 10, seq(10))],
  ]);
  right(5);
  s.finish();
  t.same(
    s.violations.map((v) => `${v.kind}@${v.revision}:${v.watcher}`),
    ['created@11:1', 'created@12:2'],
    'one report per (key, revision): watcher 3 and 4 got other wrong data at 12, already reported',
  );
});

t.test('created: a prev_kv problem at a revision not yet reported is its own violation', async (t) => {
  const s = setup();
  const w = s.c.addWatcher(0, 0, [1], false, 10);
  s.txn(10, [1]);
  s.txn(11, [1]);
  s.c.onEvent(w, 1, 10, value(s.seqAt(10, 1)), 0);
  s.c.checkKv(w, 1, kv(1, 10, 10, s.seqAt(10, 1)), kv(1, 9, 9, 1), true);
  s.c.onEvent(w, 1, 11, value(s.seqAt(11, 1)), 0);
  s.c.checkKv(w, 1, kv(1, 11, 10, s.seqAt(11, 1)), undefined, true);
  s.finish();
  t.same(kinds(s.violations), ['created@10', 'created@11']);
  t.match(s.violations[0].detail, /did not exist/);
  t.match(s.violations[1].detail, /no prev_kv/);
});

t.test(
  'HashKV: equal hashes agree; two comparable hashes that differ are a violation; gaps are incomplete',
  async (t) => {
    const m = (endpoint: string, hash?: number, compactRevision = 0) =>
      hash === undefined ? { endpoint, error: 'unavailable' } : { endpoint, hash, compactRevision };
    t.equal(judge([m('a', 1), m('b', 1), m('c', 1)]), 'agreed');
    t.equal(judge([m('a', 1), m('b', 2), m('c', 1)]), 'differ');
    t.equal(judge([m('a', 1), m('b', 2), m('c')]), 'differ', 'two that answered and differ are enough');
    t.equal(judge([m('a', 1), m('b', 1), m('c')]), 'incomplete');
    t.equal(judge([m('a', 1, 5), m('b', 2, 7)]), 'incomplete', 'over different compactions: not comparable');
    t.equal(judge([m('a', 1)]), 'incomplete');
    const s = setup();
    s.c.hashKvDiffers(42, [m('a', 1), m('b', 2)]);
    t.same(kinds(s.violations), ['hashkv@42']);
    t.equal(s.c.violations.hashkv, 1);
  },
);
