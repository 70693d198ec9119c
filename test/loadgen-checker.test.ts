import t from 'tap';
import { Checker, GAP, GARBLED, type Violation } from '../src/loadgen/checker.js';
import { noViolations } from '../src/loadgen/verdict.js';
import { encodeValue, decodeValue, newRunId } from '../src/loadgen/value.js';
import { OpenLoopSchedule } from '../src/loadgen/schedule.js';

const RUN = 'abcdefgh';
const SETTLE = 1000;

function setup(opts: { watchers?: number } = {}) {
  const violations: Violation[] = [];
  const settled: [number, boolean][] = [];
  const c = new Checker({
    runId: RUN,
    keys: ['/p/k0', '/p/k1'],
    settleMs: SETTLE,
    onViolation: (v) => violations.push(v),
    onSettled: (p, a) => settled.push([p.seq, a]),
  });
  const ws = Array.from({ length: opts.watchers ?? 1 }, (_, i) => c.addWatcher(i, 0, [0], false, 10));
  const value = (seq: number) => encodeValue(RUN, { writer: 0, seq, due: 1000 + seq }, 64);
  // etcd's record: revision → [key, seq] (what a Range at that revision or the replay would say)
  const history = new Map<number, [number, number]>();
  // seq s on key 0 at revision 9 + s
  const put = (seq: number, ack = true, applied = true) => {
    c.registerPut(seq, 0, 1000 + seq);
    if (applied) history.set(9 + seq, [0, seq]);
    if (ack) c.ack(seq, 9 + seq, 0);
  };
  const ev = (w: number, rev: number, seq = rev - 9, now = 0) => c.onEvent(ws[w], 0, rev, value(seq), now);
  /** the runner's end of run: settle timers, ask etcd's record about skips, replay it, finish */
  const finish = () => {
    c.sweep(SETTLE * 2);
    c.sweep(SETTLE * 10);
    for (const q of c.takeQuestions())
      c.recordSays(q.key, q.rev, history.get(q.rev)?.[0] === q.key ? 'on-key' : 'not-on-key');
    c.sweep(SETTLE * 20, true);
    const revs = [...history.keys()].sort((a, b) => a - b);
    if (c.hasOpenQuestions())
      for (const r of revs) c.replayEvent(history.get(r)![0], r, value(history.get(r)![1]), SETTLE * 20);
    c.finish(SETTLE * 20, revs.length ? revs[revs.length - 1] : 0);
  };
  return { c, ws, violations, settled, put, ev, finish, value, history };
}

const kinds = (vs: Violation[]) => vs.map((v) => `${v.kind}@${v.revision}`);

t.test('a clean stream reports nothing', async (t) => {
  const s = setup({ watchers: 3 });
  for (let i = 1; i <= 50; i++) s.put(i);
  for (let w = 0; w < 3; w++) for (let r = 10; r <= 59; r++) t.equal(s.ev(w, r), 1000 + (r - 9));
  s.finish();
  t.same(s.violations, []);
  t.notOk(s.c.outstanding());
});

t.test('a dropped event is one reliable violation', async (t) => {
  const s = setup();
  for (let i = 1; i <= 3; i++) s.put(i);
  s.ev(0, 10);
  s.ev(0, 12);
  t.same(s.violations, [], 'a suspect, not yet a verdict');
  s.finish();
  t.same(kinds(s.violations), ['reliable@11']);
  t.equal(s.violations[0].watcher, 0);
  t.equal(s.violations[0].key, '/p/k0');
});

t.test('a missing last event (nothing after it) is lateness, not a violation: the watcher is behind', async (t) => {
  const s = setup();
  for (let i = 1; i <= 3; i++) s.put(i);
  s.ev(0, 10);
  s.ev(0, 11);
  s.finish();
  t.same(s.violations, [], 'etcd promises no delivery time');
  t.equal(s.c.behind((k) => s.c.lastKnownOnKey(k)).length, 1, 'reported as behind at the end');
});

t.test('a late event is counted as late, never as a loss', async (t) => {
  const s = setup();
  for (let i = 1; i <= 3; i++) s.put(i);
  s.ev(0, 10, 1, 10);
  s.c.sweep(SETTLE * 3);
  s.ev(0, 11, 2, SETTLE * 4);
  s.ev(0, 12, 3, SETTLE * 4);
  s.finish();
  t.same(s.violations, []);
  t.equal(s.c.findings.late, 2);
  t.equal(s.c.findings.maxLateMs, SETTLE * 4);
  t.equal(s.c.behind((k) => s.c.lastKnownOnKey(k)).length, 0);
});

t.test("a skip etcd's record does not have is the ack's fault (a garbled revision), not etcd's", async (t) => {
  const s = setup();
  s.put(1);
  s.c.registerPut(2, 0, 1002);
  s.c.ack(2, 11, 0); // acknowledged at 11, but etcd's history has nothing on this key at 11
  s.put(3);
  s.ev(0, 10);
  s.ev(0, 12);
  s.finish();
  t.same(s.violations, []);
  t.equal(s.c.findings.falseSkips, 1);
});

t.test(
  'a skip of an unknown revision passed on a possibly garbled stream is unverified, not a violation',
  async (t) => {
    const s = setup({ watchers: 2 });
    s.put(1);
    s.put(2, false);
    s.c.indeterminate(2, 0); // its answer was lost: revision 11 unknown to the run
    s.put(3);
    s.ev(0, 10);
    s.ev(1, 10);
    t.equal(s.c.onEvent(s.ws[0], 0, 12, s.value(3), 0, true), 1003, 'no gap is known: the watcher moves on');
    s.ev(1, 12); // a clean stream skips it too
    s.finish();
    t.same(s.settled, [[2, true]], "etcd's record has it");
    t.same(kinds(s.violations), ['reliable@11'], 'the clean watcher skipped it: etcd violated');
    t.equal(s.violations[0].watcher, 1);
    t.equal(s.c.findings.unverifiedSkips, 1, 'the watcher on a garbled stream: unverified');
  },
);

t.test('a suspected skip whose record cannot be read is unverified, not a violation', async (t) => {
  const s = setup();
  for (let i = 1; i <= 3; i++) s.put(i);
  s.ev(0, 10);
  s.ev(0, 12);
  s.c.sweep(SETTLE * 2);
  for (const q of s.c.takeQuestions()) s.c.recordSays(q.key, q.rev, 'unavailable');
  s.c.finish(SETTLE * 3, 0);
  t.same(s.violations, []);
  t.equal(s.c.findings.unverifiedSkips, 1);
  s.put(4, false, false);
  s.c.indeterminate(4, SETTLE * 3);
  s.c.finish(SETTLE * 4, 0);
  t.same(s.settled, [], 'without the record an indeterminate put stays unsettled, never "not applied"');
});

t.test('while a drop/corrupt fault may garble bytes, anomalies are handed back and change nothing', async (t) => {
  const s = setup();
  for (let i = 1; i <= 3; i++) s.put(i);
  s.ev(0, 10);
  const w = s.ws[0];
  t.equal(s.c.onEvent(w, 0, 11, Buffer.from('garbled value '.repeat(5)), 0, true), GARBLED, 'undecodable value');
  t.equal(s.c.onEvent(w, 0, 10, s.value(1), 0, true), GARBLED, 'a repeat');
  t.equal(s.c.onEvent(w, 0, 11, s.value(3), 0, true), GARBLED, "another put's value at a known revision");
  t.equal(w.lastRev, 10, 'the watcher did not move');
  t.equal(s.c.onEvent(w, 0, 12, s.value(3), 0, true), GAP, 'a gap (11 known, not seen) may be lost bytes');
  t.equal(w.lastRev, 10, 'the watcher did not move');
  t.equal(s.c.onEvent(w, 0, 11, s.value(2), 0, true), 1002, 'the true event passes');
  s.c.acceptCorrupted(w, 0, 12);
  t.equal(w.lastRev, 12, 'a value etcd stores garbled is passed over');
  s.finish();
  t.same(s.violations, []);
  t.equal(s.c.findings.corruptedWrites, 1);
});

t.test('a duplicate is one unique violation', async (t) => {
  const s = setup();
  for (let i = 1; i <= 3; i++) s.put(i);
  s.ev(0, 10);
  s.ev(0, 11);
  s.ev(0, 11);
  s.ev(0, 12);
  s.finish();
  t.same(kinds(s.violations), ['unique@11']);
});

t.test('a reorder is one ordered violation, not a loss', async (t) => {
  const s = setup();
  for (let i = 1; i <= 3; i++) s.put(i);
  s.ev(0, 10);
  s.ev(0, 12);
  s.ev(0, 11);
  s.finish();
  t.same(kinds(s.violations), ['ordered@11']);
});

t.test('an event nobody wrote is one unexpected violation, whoever sees it', async (t) => {
  const s = setup({ watchers: 2 });
  s.put(1);
  s.ev(0, 10);
  s.ev(1, 10);
  const foreign = Buffer.from('somebody else wrote this value, not etcd-soak');
  s.c.onEvent(s.ws[0], 0, 11, foreign, 0);
  s.c.onEvent(s.ws[1], 0, 11, foreign, 0);
  const otherRun = encodeValue('zzzzzzzz', { writer: 0, seq: 2, due: 0 }, 64);
  s.c.onEvent(s.ws[0], 0, 12, otherRun, 0);
  s.finish();
  t.same(kinds(s.violations), ['unexpected@11', 'unexpected@12']);
});

t.test('an indeterminate put that later appears is applied, no violation', async (t) => {
  const s = setup();
  s.put(1);
  s.put(2, false);
  s.c.indeterminate(2, 0);
  s.ev(0, 10);
  s.ev(0, 11); // seq 2 shows up at revision 11
  s.finish();
  t.same(s.violations, []);
  t.same(s.settled, [[2, true]]);
  t.not(s.c.puts.get(2)?.state, 'indeterminate');
});

t.test("an indeterminate put that never appears is not applied once etcd's record says so", async (t) => {
  const s = setup();
  s.put(1);
  s.put(2, false, false);
  s.c.indeterminate(2, 0);
  s.ev(0, 10);
  s.c.sweep(SETTLE * 5);
  t.same(s.settled, [], 'not by a timer: only the record settles it');
  t.ok(s.c.hasOpenQuestions(), 'the end of the run must ask etcd');
  s.finish();
  t.same(s.violations, []);
  t.same(s.settled, [[2, false]]);
});

t.test(
  "an indeterminate put no watcher saw but etcd's record has is applied, and watchers past it skipped it",
  async (t) => {
    const s = setup({ watchers: 2 });
    s.put(1);
    s.put(2, false);
    s.c.indeterminate(2, 0);
    s.put(3);
    s.ev(0, 10);
    s.ev(0, 12);
    s.ev(1, 10);
    s.finish();
    t.same(s.settled, [[2, true]]);
    t.same(kinds(s.violations), ['reliable@11'], 'watcher 0 moved past it; watcher 1 is only behind');
    t.equal(s.violations[0].watcher, 0);
  },
);

t.test('an event that arrives before its ack is fine', async (t) => {
  const s = setup();
  s.put(1, false);
  s.put(2, false);
  s.ev(0, 10, 1);
  s.ev(0, 11, 2);
  s.c.ack(1, 10, 0);
  s.c.ack(2, 11, 0);
  s.finish();
  t.same(s.violations, []);
});

t.test('a put acked after the watch moved past it was skipped', async (t) => {
  const s = setup();
  s.put(1);
  s.put(2, false);
  s.put(3, false);
  s.ev(0, 10);
  s.ev(0, 12, 3); // seq 3 at 12 seen before any ack; seq 2 (11) not seen
  s.c.ack(3, 12, 0);
  s.c.ack(2, 11, 0);
  s.finish();
  t.same(kinds(s.violations), ['reliable@11']);
});

t.test('planted anomalies together are each reported exactly once', async (t) => {
  const s = setup({ watchers: 2 });
  for (let i = 1; i <= 10; i++) s.put(i);
  // watcher 0: drop 12, duplicate 14, reorder 16/17
  for (const r of [10, 11, 13, 14, 14, 15, 17, 16, 18, 19]) s.ev(0, r);
  // watcher 1: clean
  for (let r = 10; r <= 19; r++) s.ev(1, r);
  s.c.onEvent(s.ws[1], 0, 20, Buffer.from('x'.repeat(64)), 0);
  s.finish();
  t.same(kinds(s.violations).sort(), ['ordered@16', 'reliable@12', 'unexpected@20', 'unique@14'].sort());
  t.same(s.c.violations, { ...noViolations(), ordered: 1, unique: 1, reliable: 1, unexpected: 1 });
});

t.test('prefix watchers check each key', async (t) => {
  const violations: Violation[] = [];
  const c = new Checker({
    runId: RUN,
    keys: ['/p/k0', '/p/k1'],
    settleMs: SETTLE,
    onViolation: (v) => violations.push(v),
  });
  const w = c.addWatcher(0, 0, [0, 1], true, 10);
  const v = (seq: number) => encodeValue(RUN, { writer: 0, seq, due: 0 }, 64);
  c.registerPut(1, 0, 0);
  c.registerPut(2, 1, 0);
  c.registerPut(3, 0, 0);
  c.ack(1, 10, 0);
  c.ack(2, 11, 0);
  c.ack(3, 12, 0);
  c.onEvent(w, 0, 10, v(1), 0);
  c.onEvent(w, 0, 12, v(3), 0); // 11 on key 1 never arrives: a prefix watch is ordered across keys
  c.sweep(10 * SETTLE);
  const qs = c.takeQuestions();
  t.same(
    qs.map((q) => [q.key, q.rev]),
    [[1, 11]],
    'a skip on key 1, asked about',
  );
  c.recordSays(1, 11, 'on-key');
  t.same(kinds(violations), ['reliable@11']);
});

t.test('values are self-describing and decode exactly', async (t) => {
  const id = newRunId();
  t.match(id, /^[0-9a-z]{8}$/);
  const b = encodeValue(id, { writer: 12, seq: 123456789, due: 1795340910390.125 }, 256);
  t.equal(b.length, 256);
  t.match(b.toString('latin1'), new RegExp(`^es1 ${id} 0012 000123456789 1795340910390.125 \\.+$`));
  t.same(decodeValue(b, Buffer.from(id)), { writer: 12, seq: 123456789, due: 1795340910390.125 });
  t.equal(decodeValue(b, Buffer.from('otherrun')), undefined);
  t.equal(decodeValue(b.subarray(0, 40), Buffer.from(id)), undefined);
  t.throws(() => encodeValue(id, { writer: 0, seq: 0, due: 0 }, 10), /at least 49/);
});

t.test('open-loop schedule: due times, rate change without burst, rate 0', async (t) => {
  const s = new OpenLoopSchedule(100, 1000);
  const dues: number[] = [];
  s.takeDue(1000, (d) => dues.push(d));
  t.same(dues, [1000]);
  s.takeDue(1095, (d) => dues.push(d));
  t.same(dues, [1000, 1010, 1020, 1030, 1040, 1050, 1060, 1070, 1080, 1090]);
  t.equal(s.nextDue(), 1100);
  // a stall: everything due is handed out at once, each with its own due time (latency from due)
  const late: number[] = [];
  s.takeDue(1200, (d) => late.push(d));
  t.equal(late.length, 11);
  t.equal(late[0], 1100);
  s.setRate(10, 1200);
  const after: number[] = [];
  s.takeDue(1350, (d) => after.push(d));
  t.same(after, [1200, 1300], 'new rate from the change instant, no burst');
  s.setRate(0, 1400);
  t.equal(
    s.takeDue(99999, () => {}),
    0,
  );
  t.equal(s.nextDue(), undefined);
  t.equal(s.issued, 23);
  t.equal(
    s.takeDue(1e9, () => {}, 5),
    0,
  );
  const capped = new OpenLoopSchedule(1000, 0);
  t.equal(
    capped.takeDue(1e6, () => {}, 50),
    50,
    'bounded per call',
  );
});
