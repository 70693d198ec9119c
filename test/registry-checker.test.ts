// The registry checker on planted histories (manual times, revisions and terms): each planted anomaly is
// reported once with the right check, and a healthy history gives none.
import t from 'tap';
import {
  NOTE_15247,
  NOTE_9395,
  RegistryChecker,
  type RegistryFinding,
} from '../src/loadgen/workloads/registry/checker.js';

const TTL = 3000;
const K = '/soak/r1-registry/services/s0';
const K2 = '/soak/r1-registry/services/s1';

function checker() {
  const findings: RegistryFinding[] = [];
  const expiries: { key: string; ms: number; termChanges: number }[] = [];
  const c = new RegistryChecker(
    { finding: (f) => findings.push(f), expiry: (key, ms, termChanges) => expiries.push({ key, ms, termChanges }) },
    { marginMs: 1000, toleranceMs: 2000 },
  );
  return { c, findings, expiries };
}

/** a service registered at t=0 (put at revision 10), renewed every second until `until` */
function registered(c: RegistryChecker, key = K, until = 5000, term = 2) {
  c.observeTerm(term);
  c.granted(key, 1, 0, TTL);
  c.put(key, 1, 10);
  for (let at = 1000; at <= until; at += 1000) c.acked(key, 1, at, TTL, term);
}

t.test('a healthy history: expiry measured, views agree, nothing reported', async (t) => {
  const { c, findings, expiries } = checker();
  registered(c, K, 5000);
  registered(c, K2, 9000);
  c.stopped(K, 1, 5500);
  // the last keepalive (sent at 5000) answered late, after the stop: it still counts
  c.acked(K, 1, 5000, TTL, 2);
  t.same(c.overdue(9000), [], 'not overdue before TTL + tolerance');
  c.vanished(K, 1, 8400, 20, 'watch');
  c.vanished(K, 1, 8600, 20, 'watch'); // another discoverer saw the same DELETE
  t.same(expiries, [{ key: K, ms: 3400, termChanges: 0 }]);
  c.rangeSeen(30, new Set([K2]), 9100);
  const view = new Map([[K2, 10]]);
  t.ok(c.compareView(0, 30, view, new Map([[K2, 10]])));
  t.ok(c.compareView(1, 30, new Map(), new Map()));
  t.same(findings, []);
  t.equal(c.openCount, 1, 'the live service is still open');
});

t.test('falseExpiry: a key gone less than TTL − margin after an acknowledged keepalive, once', async (t) => {
  const { c, findings } = checker();
  registered(c, K, 5000);
  c.vanished(K, 1, 6500, 21, 'watch');
  c.vanished(K, 1, 6600, 21, 'watch');
  c.rangeSeen(40, new Set(), 7000);
  t.equal(findings.length, 1);
  t.match(findings[0], { type: 'violation', check: 'falseExpiry', key: K, revision: 21 });
  t.match(findings[0].detail, /1\.50s after a keepalive sent and acknowledged, TTL 3\.00s; 0 term change/);
  t.equal(findings[0].note, undefined, 'no leader change: no bug named');
});

t.test('falseExpiry across a term change names etcd #15247; a margin-close end is not one', async (t) => {
  const { c, findings } = checker();
  registered(c, K, 5000, 2);
  registered(c, K2, 5000, 2);
  c.observeTerm(3);
  c.vanished(K, 1, 6000, 22, 'lease');
  // 2.5 s after the last renewal's send, TTL 3 s, margin 1 s: within the margin, not judged false
  c.vanished(K2, 1, 7500, 23, 'watch');
  t.equal(findings.length, 2);
  t.match(findings[0], { type: 'violation', check: 'falseExpiry', key: K, note: NOTE_15247 });
  t.match(findings[0].detail, /1 term change/);
  t.match(findings[1], { type: 'anomaly', check: 'lost', key: K2 }, 'a live service gone after its renewals: lost');
  t.equal(c.electionsSeen, 1, 'one election seen');
});

t.test(
  'falseExpiry after a leader change the last renewal already saw (a stale leader back) names #15247',
  async (t) => {
    const { c, findings } = checker();
    registered(c, K, 3000, 2);
    // the new leader (term 3) renews; then the key vanishes within the renewal's TTL, in the same term
    c.acked(K, 1, 4000, TTL, 3);
    c.vanished(K, 1, 4500, 24, 'watch');
    t.equal(findings.length, 1);
    t.match(findings[0], { check: 'falseExpiry', note: NOTE_15247 });
    t.match(findings[0].detail, /0 term change\(s\) since, 1 since its grant/);
  },
);

t.test('falseExpiry from a Range: absent at a revision at or above its put', async (t) => {
  const { c, findings } = checker();
  registered(c, K, 5000);
  c.granted(K2, 1, 4000, TTL);
  c.put(K2, 1, 50);
  t.same(c.rangeSeen(45, new Set(), 5200), [{ key: K, incarnation: 1 }]);
  t.equal(findings.length, 1, 'K2 was put after revision 45: not judged');
  t.match(findings[0], { check: 'falseExpiry', key: K });
  t.match(findings[0].detail, /\(range\)/);
});

t.test('lost: a live service whose renewals stopped being answered is an anomaly, not a violation', async (t) => {
  const { c, findings, expiries } = checker();
  registered(c, K, 3000);
  c.vanished(K, 1, 7000, 30, 'watch');
  t.equal(findings.length, 1);
  t.match(findings[0], { type: 'anomaly', check: 'lost', key: K, revision: 30 });
  t.same(expiries, [], 'not an expiry figure: the service never stopped');
});

t.test("expiryLate: a stopped service's key read after TTL + tolerance, proven once", async (t) => {
  const { c, findings, expiries } = checker();
  registered(c, K, 5000);
  c.stopped(K, 1, 5100);
  t.same(c.overdue(9900), [], 'deadline is 5000 + 3000 + 2000');
  t.same(c.overdue(10_100), [{ key: K, incarnation: 1 }]);
  c.present(K, 1, 9800, 60); // sent before the deadline: proves nothing
  t.same(findings, []);
  c.observeTerm(4);
  c.present(K, 1, 10_200, 61);
  c.present(K, 1, 11_000, 62);
  t.equal(findings.length, 1);
  t.match(findings[0], { type: 'violation', check: 'expiryLate', key: K, revision: 61, note: NOTE_9395 });
  t.match(findings[0].detail, /still there in a read sent 5\.20s after .* 2 term change/);
  t.same(c.overdue(12_000), [], 'reported: no more probes');
  c.vanished(K, 1, 12_500, 63, 'watch');
  t.same(expiries, [{ key: K, ms: 7500, termChanges: 2 }], 'its expiry still measured');
  t.equal(findings.length, 1);
});

t.test('a late DELETE alone is no expiryLate (the watch may have been slow)', async (t) => {
  const { c, findings, expiries } = checker();
  registered(c, K, 5000);
  c.stopped(K, 1, 5100);
  c.vanished(K, 1, 20_000, 70, 'watch');
  t.same(findings, []);
  t.same(expiries, [{ key: K, ms: 15_000, termChanges: 0 }]);
});

t.test('viewDiverged: reported once per divergence, again after the view agreed', async (t) => {
  const { c, findings } = checker();
  const etcd = new Map([
    [K, 10],
    [K2, 12],
  ]);
  t.notOk(c.compareView(0, 12, new Map([[K, 10]]), etcd));
  t.notOk(c.compareView(0, 14, new Map([[K, 10]]), etcd), 'still diverged: not again');
  t.ok(c.compareView(1, 12, new Map(etcd), etcd), 'another discoverer agrees');
  t.equal(findings.length, 1);
  t.match(findings[0], { type: 'violation', check: 'viewDiverged', key: K2, revision: 12 });
  t.match(findings[0].detail, /discoverer 0 at revision 12: 1 difference.*missing from the view/);
  t.ok(c.compareView(0, 16, new Map(etcd), etcd));
  t.notOk(
    c.compareView(
      0,
      18,
      new Map([
        [K, 11],
        [K2, 12],
      ]),
      etcd,
    ),
  );
  t.equal(findings.length, 2);
  t.match(findings[1].detail, /mod 11 in the view, 10 in etcd/);
});

t.test('a released incarnation (revoked by the run) is not judged', async (t) => {
  const { c, findings, expiries } = checker();
  registered(c, K, 5000);
  c.release(K, 1);
  c.vanished(K, 1, 5200, 80, 'watch');
  t.same(findings, []);
  t.same(expiries, []);
});
