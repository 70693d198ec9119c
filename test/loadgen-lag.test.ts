// The generator's own lag is never etcd's violation: a watcher held back far past settle (its events
// waiting in the generator), with acks processed late too, makes no reliable or unexpected violation
// and raises the lag flag, while a skip planted in the same run is still caught. Pure: a manual clock.
import t from 'tap';
import { Checker, type Violation } from '../src/loadgen/checker.js';
import { LAG_FLAG_BYTES, LagMonitor } from '../src/loadgen/lag.js';
import net from 'node:net';
import { ReceiveQueueProbe, rxQueued } from '../src/loadgen/receive-queue.js';
import { formatStatusLine, type TimelineLine } from '../src/loadgen/report.js';
import { encodeValue } from '../src/loadgen/value.js';

const RUN = 'abcdefgh';
const SETTLE = 1000;

function setup() {
  const violations: Violation[] = [];
  const c = new Checker({ runId: RUN, keys: ['/p/k0'], settleMs: SETTLE, onViolation: (v) => violations.push(v) });
  const fast = c.addWatcher(0, 0, [0], false, 10);
  const slow = c.addWatcher(1, 1, [0], false, 10);
  const value = (seq: number) => encodeValue(RUN, { writer: 0, seq, due: seq }, 64);
  // etcd's record: seq s on key 0 at revision 9 + s
  const onKey = new Set<number>();
  const ev = (w: typeof fast, rev: number, now: number) => c.onEvent(w, 0, rev, value(rev - 9), now);
  /** the runner's watchdog up to `now`: suspects past settle asked about, etcd's record answering */
  const watchdog = (now: number) => {
    c.sweep(now);
    for (const q of c.takeQuestions(1000)) c.recordSays(q.key, q.rev, onKey.has(q.rev) ? 'on-key' : 'not-on-key');
  };
  return { c, fast, slow, value, onKey, ev, watchdog, violations };
}

const kinds = (vs: Violation[]) => vs.map((v) => `${v.kind}@${v.revision}#${v.watcher}`);

t.test('a watcher held back past settle and the retention limit: no violation, the lag flagged', async (t) => {
  const s = setup();
  const lag = new LagMonitor(250);
  // 100 puts; the fast watcher delivers each at once, before its ack comes back
  for (let seq = 1; seq <= 100; seq++) {
    s.c.registerPut(seq, 0, seq * 10);
    s.onKey.add(9 + seq);
    t.equal(s.ev(s.fast, 9 + seq, seq * 10), seq * 10, 'in order');
  }
  // the generator is behind: the slow watcher's events and the acks wait in its queues
  for (let now = 250; now <= 62_000; now += 250) {
    s.watchdog(now);
    lag.sample({ now, ageMs: s.c.oldestUnprocessedAge(now), bytes: 4 * LAG_FLAG_BYTES });
    if (now === 5000) {
      t.ok(lag.status.lagging, 'flagged while events wait in its receive queues');
      t.ok(lag.status.seconds >= 4.9, `lag ${lag.status.seconds}s: the age of the oldest unprocessed event`);
    }
  }
  t.ok(lag.takeInterval().lagging, 'the interval is flagged');
  t.ok(lag.status.maxSeconds >= 60, `max lag ${lag.status.maxSeconds}s`);
  t.ok(s.c.findings.unchecked >= 99, `${s.c.findings.unchecked} revisions forgotten before the slow watcher got them`);
  // the acks come back late, then the slow watcher gets its events: nothing new for the checker
  for (let seq = 1; seq <= 100; seq++) s.c.ack(seq, 9 + seq, 62_500);
  s.watchdog(63_000);
  for (let rev = 10; rev <= 109; rev++) s.ev(s.slow, rev, 63_500);
  // a put both watchers should get; the fast one skips it (planted): etcd's violation all the same
  s.c.registerPut(101, 0, 64_000);
  s.c.registerPut(102, 0, 64_000);
  s.onKey.add(110).add(111);
  s.c.ack(101, 110, 64_000);
  s.c.ack(102, 111, 64_000);
  s.ev(s.fast, 111, 64_100);
  s.ev(s.slow, 110, 64_100);
  s.ev(s.slow, 111, 64_100);
  for (let now = 64_250; now <= 80_000; now += 250) s.watchdog(now);
  t.same(kinds(s.violations), ['reliable@110#0'], 'only the planted skip is a violation');
  t.equal(s.slow.lastOnKey[0], 111, 'the slow watcher caught up');
  t.notOk(s.c.outstanding(), 'nothing left open');
});

t.test('an ack processed long after every watcher delivered its event: nothing learned anew', async (t) => {
  const s = setup();
  s.c.registerPut(1, 0, 0);
  s.c.registerPut(2, 0, 0);
  s.onKey.add(10).add(11);
  for (const w of [s.fast, s.slow]) for (const rev of [10, 11]) s.ev(w, rev, 100);
  s.c.ack(2, 11, 200);
  // past 3 × settle every watcher is through revision 10: the checker retires it
  for (let now = 250; now <= 5000; now += 250) s.watchdog(now);
  s.c.ack(1, 10, 5100);
  for (let now = 5250; now <= 10_000; now += 250) s.watchdog(now);
  t.same(s.violations, [], 'the late ack does not make the watchers that delivered it skip it');
});

t.test('a far-behind watcher gets events whose puts were forgotten: unchecked, not unexpected', async (t) => {
  const s = setup();
  for (let seq = 1; seq <= 20; seq++) {
    s.c.registerPut(seq, 0, 0);
    s.onKey.add(9 + seq);
    s.c.ack(seq, 9 + seq, 10);
    s.ev(s.fast, 9 + seq, 20);
  }
  for (let now = 250; now <= 70_000; now += 250) s.watchdog(now);
  t.equal(s.c.puts.size, 1, 'the puts of retired revisions are forgotten (the newest revision is kept)');
  for (let rev = 10; rev <= 29; rev++) s.ev(s.slow, rev, 70_100);
  for (let now = 70_250; now <= 75_000; now += 250) s.watchdog(now);
  t.same(s.violations, []);
  t.equal(s.c.findings.unchecked, 19, "counted as not checked, the generator's");
  t.equal(s.slow.lastOnKey[0], 29);
  // etcd delivering one of them again is etcd's, retired or not
  s.ev(s.slow, 15, 75_100);
  t.same(kinds(s.violations), ['unique@15#1']);
});

t.test('the oldest unprocessed event: its age, 0 once every watcher is through', async (t) => {
  const s = setup();
  t.equal(s.c.oldestUnprocessedAge(5000), 0, 'nothing known yet');
  s.c.registerPut(1, 0, 1000);
  s.c.ack(1, 10, 1010);
  s.c.registerPut(2, 0, 2000);
  s.ev(s.fast, 10, 1100);
  // known from the fast watcher's event before its ack: its age runs from its put's scheduled instant
  s.ev(s.fast, 11, 2500);
  t.equal(s.c.oldestUnprocessedAge(3000), 2000, 'the slow watcher waits for revision 10, due at 1000');
  s.ev(s.slow, 10, 3000);
  t.equal(s.c.oldestUnprocessedAge(3500), 1500, 'then for 11, due at 2000');
  s.ev(s.slow, 11, 3600);
  t.equal(s.c.oldestUnprocessedAge(4000), 0);
});

t.test('the flag: the generator behind only with its own backlog, until it caught up', async (t) => {
  const tick = (m: LagMonitor, now: number, ageMs: number, bytes: number | undefined) =>
    m.sample({ now, ageMs, bytes });
  // a watch behind with nothing waiting unread (a partitioned member, say): etcd's delay, not flagged
  const etcd = new LagMonitor(250);
  for (let i = 1; i <= 40; i++) tick(etcd, i * 250, i * 250, 0);
  t.notOk(etcd.status.lagging, 'behind, but nothing waits in the generator');
  t.notOk(etcd.takeInterval().lagging);
  t.equal(etcd.status.seconds, 10);
  // bytes pile up: flagged; they drain while the watchers are still behind: still flagged
  const gen = new LagMonitor(250);
  tick(gen, 250, 500, 10 * LAG_FLAG_BYTES);
  t.notOk(gen.status.lagging, 'not behind yet');
  tick(gen, 500, 1500, 10 * LAG_FLAG_BYTES);
  t.ok(gen.status.lagging, 'behind, with its own backlog');
  tick(gen, 750, 1800, 0);
  t.notOk(gen.status.lagging, "nothing waits unread any more: what is left is etcd's to deliver");
  t.equal(gen.status.maxReceiveBufferedBytes, 10 * LAG_FLAG_BYTES);
  tick(gen, 1000, 100, 0);
  t.notOk(gen.status.lagging, 'caught up');
  const iv = gen.takeInterval();
  t.ok(iv.lagging, 'the interval had it');
  t.equal(iv.seconds, 1.8, 'with its largest lag');
  t.equal(iv.receiveBufferedBytes, 10 * LAG_FLAG_BYTES, 'and bytes');
  t.notOk(gen.takeInterval().lagging, 'the next one did not');
  // a late watchdog tick (a busy event loop) is evidence too, where bytes cannot be read
  const busy = new LagMonitor(250);
  tick(busy, 250, 2000, undefined);
  t.notOk(busy.status.lagging);
  tick(busy, 1500, 3000, undefined);
  t.ok(busy.status.lagging, 'the tick came 1 s late');
  tick(busy, 1750, 3200, undefined);
  t.ok(busy.status.lagging, 'a late tick is evidence for a second');
  for (let now = 2000; now <= 2750; now += 250) tick(busy, now, 4200, undefined);
  t.notOk(busy.status.lagging, 'then no more');
});

t.test("the receive queue: this process's established sockets to the endpoints", async (t) => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:5CF0 00000000:0000 0A 00000000:00000010 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0',
    '   1: 0100007F:8738 0100007F:5CEF 01 00000000:00001000 00:00000000 00000000     0        0 222 1 0 20 8 0 18 -1',
    '   2: 0100007F:8739 0100007F:5CEF 01 00000000:00000100 00:00000000 00000000     0        0 333 1 0 20 8 0 18 -1',
    '   3: 0100007F:873A 0100007F:1F90 01 00000000:00000200 00:00000000 00000000     0        0 444 1 0 20 8 0 18 -1',
    '',
  ].join('\n');
  const ports = new Set([0x5cef]);
  t.equal(rxQueued(table, ports, new Set(['222', '333', '444', '111'])), 0x1100, 'both sockets to the endpoint');
  t.equal(rxQueued(table, ports, new Set(['222'])), 0x1000, "another process's socket is not counted");
  t.equal(rxQueued(table, new Set([0x1f90]), new Set(['444'])), 0x200);
  t.equal(rxQueued(table, new Set([0]), new Set(['111'])), 0, 'a listening socket is not a connection');
});

t.test('the status line says when the generator lags', async (t) => {
  const pct = { count: 1, p50: 1, p90: 1, p99: 1, p999: 1, max: 1, mean: 1 };
  const lag = { seconds: 2.5, maxSeconds: 3, receiveBufferedBytes: 1 << 20, maxReceiveBufferedBytes: 1 << 21 };
  const line = (lagging: boolean) =>
    ({
      elapsed: 10,
      putRate: 200,
      eventRate: 1000,
      put: pct,
      watch: pct,
      counts: { indeterminate: 0 },
      violations: { reliable: 0 },
      generator: {
        stalls: 0,
        garbled: 0,
        streamBreaks: 0,
        overloadedIntervals: 1,
        laggingIntervals: 1,
        lag: { ...lag, lagging },
      },
      watchers: { watching: 60, resuming: 0 },
      overloaded: true,
    }) as unknown as TimelineLine;
  t.match(formatStatusLine(line(true)), / \| generator lagging 2\.5s/);
  t.notMatch(formatStatusLine(line(false)), /lagging/, 'behind without its own backlog: not said');
});

t.test(
  'the probe reads the bytes a paused reader leaves in its receive queue',
  { skip: process.platform !== 'linux' },
  async (t) => {
    // the reader is destroyed with bytes unread: a reset, on both ends
    const server = net.createServer((sock) => sock.on('error', () => undefined).end(Buffer.alloc(200_000, 1)));
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    t.teardown(() => server.close());
    const port = (server.address() as net.AddressInfo).port;
    const client = net.connect(port, '127.0.0.1');
    client.pause();
    t.teardown(() => client.destroy());
    await new Promise((res) => client.once('connect', res));
    const probe = new ReceiveQueueProbe(() => [`127.0.0.1:${port}`]);
    t.equal(probe.read(0, false), 0, 'not wanted: not read');
    let bytes: number | undefined = 0;
    let now = 0;
    for (; now < 100_000 && !bytes; now += 1000) {
      await new Promise((res) => setTimeout(res, 20));
      bytes = probe.read(now, true);
    }
    t.ok(bytes !== undefined && bytes >= 10_000, `${bytes} bytes waiting unread`);
    // the reader goes away, its queue with it: seen at the next reading only
    client.destroy();
    await new Promise((res) => setTimeout(res, 50));
    t.equal(probe.read(now - 500, true), bytes, 'not read again within a second');
    t.equal(probe.read(now + 1000, true), 0, 'read again a second later');
  },
);
