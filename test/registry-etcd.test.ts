// The registry workload on a real 3-member cluster: healthy runs (alone and beside put/watch) hold every
// check, stopped services' keys vanish after about their TTL, and a leader SIGSTOPped for longer than the
// TTL does not make live services vanish (or, if it does on 3.4.23, the section names the bug).
import t from 'tap';
import { memberStatuses } from '../src/etcd/control.js';
import type { TimelineLine } from '../src/loadgen/report.js';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import type { WorkloadSection } from '../src/loadgen/workloads/section.js';
import { noViolations } from '../src/loadgen/verdict.js';
import { loadProfileSchema, type LoadProfileInput } from '../src/schema/load.js';
import { launchForTest } from './helpers/cluster.js';

const cluster = await launchForTest(t, { size: 3 });
const TTL = 3000;
const TOLERANCE = 3000;
/** the freeze test's TTL: the member stays frozen for 3 TTLs */
const FREEZE_TTL = 2000;

const lines: TimelineLine[] = [];

async function runLoad(profile: LoadProfileInput, during?: (r: LoadRunner) => Promise<void>): Promise<LoadSummary> {
  lines.length = 0;
  const r = new LoadRunner({
    profile: loadProfileSchema.parse({ interval: '1s', settle: '2s', connections: 3, ...profile }),
    endpoints: cluster.clientEndpoints(),
    reportDir: null,
  });
  const done = new Promise<LoadSummary>((res) => r.once('done', res));
  r.on('interval', (line: TimelineLine) => lines.push(line));
  await r.start();
  await during?.(r);
  return done;
}

const registryOf = (s: LoadSummary): WorkloadSection => {
  const sec = s.features?.registry;
  if (!sec) throw new Error('no registry section in the summary');
  return sec;
};

const zero = { falseExpiry: 0, expiryLate: 0, viewDiverged: 0 };

t.test('healthy: services register, churn and expire after about TTL; views agree', async (t) => {
  const s = await runLoad({
    workloads: ['registry'],
    duration: '12s',
    registryServices: 6,
    registryTtl: `${TTL / 1000}s`,
    registryDiscoverers: 3,
    registryChurn: 0.5,
    expiryTolerance: `${TOLERANCE / 1000}s`,
  });
  const sec = registryOf(s);
  t.same(sec.violations, zero, 'every check held');
  t.same(sec.anomalies, { lost: 0 }, 'no live service lost its key');
  t.same(sec.setup, { services: 6, ttl: '3s', discoverers: 3, churn: 0.5, expiryTolerance: '3s' });
  t.ok(sec.counts.registered > 6, `${sec.counts.registered} registrations (6 first, then re-registrations)`);
  t.ok(sec.counts.stopped >= 2, `${sec.counts.stopped} services stopped their keepalives`);
  t.ok(sec.counts.expired >= 1, `${sec.counts.expired} stopped services seen gone`);
  t.ok(sec.ops.keepalive.ok > 20, `${sec.ops.keepalive.ok} keepalives acknowledged`);
  t.ok(sec.counts.viewChecks >= 3 * 3, `${sec.counts.viewChecks} view checks`);
  // a killed lease holder's key vanishes after about TTL: never before TTL − 1 s (falseExpiry held, it
  // judges stopped services too), never after TTL + tolerance
  const e = sec.latency.expiry;
  t.equal(e.count, sec.counts.expired, 'an expiry figure per stopped service seen gone');
  t.ok(e.p50 >= TTL - 1000, `expiry p50 ${e.p50} ms ≥ TTL − 1 s`);
  t.ok(e.max <= TTL + TOLERANCE, `expiry max ${e.max} ms ≤ TTL + tolerance`);
  t.equal(s.verdict.registry, 'held');
  t.equal(sec.ops.revoke.ok, 6, "the run's leases revoked at the end");
  const mid = lines.at(-2)?.features?.registry;
  t.match(mid?.text, /^live [0-6]\/6, (expiry p99 [\d.]+s, )?0 violations$/, `status line part: ${mid?.text}`);
  t.match(mid?.fields, { live: Number, registered: Number, expired: Number, keepalives: Number, violations: 0 });
  t.ok((mid?.fields.keepalives ?? 0) > 0, 'keepalives in the timeline fields');
  const last = lines.at(-1)?.features?.registry;
  t.ok(
    (last?.fields.live ?? 0) > 0,
    `the last line counts the services live at the end, before the revokes: ${last?.text}`,
  );
});

t.test('beside the put/watch load: 0 violations anywhere', async (t) => {
  const s = await runLoad({
    workloads: ['put', 'watch', 'registry'],
    duration: '10s',
    rate: 100,
    watchers: 6,
    keys: 5,
    registryServices: 8,
    registryTtl: '2s',
    registryDiscoverers: 2,
    registryChurn: 1,
  });
  const sec = registryOf(s);
  t.same(sec.violations, zero);
  t.same(s.violations, noViolations(), 'the put/watch checks held too');
  t.equal(s.counts.indeterminate, 0, 'no failed put');
  t.ok(s.counts.ok > 500, `${s.counts.ok} puts beside it`);
  t.ok(sec.counts.expired >= 2, `${sec.counts.expired} expiries`);
});

t.test("with no tolerance, reads prove stopped services' keys there past their TTL: expiryLate", async (t) => {
  // the leader's lessor revokes an expired lease on its next round (every 500 ms) and through raft: a
  // lease outlives its TTL by a little, which only a zero tolerance turns into a violation
  const s = await runLoad({
    workloads: ['registry'],
    duration: '8s',
    registryServices: 8,
    registryTtl: '2s',
    registryDiscoverers: 1,
    registryChurn: 2,
    expiryTolerance: '0s',
  });
  const sec = registryOf(s);
  t.ok(sec.ops.probe?.ok > 0, `${sec.ops.probe?.ok} probes answered`);
  t.ok(sec.violations.expiryLate >= 1, `${sec.violations.expiryLate} late expiries proven`);
  t.ok(sec.violations.expiryLate <= sec.counts.stopped, 'at most one per stopped service');
  const late = sec.first.find((f) => f.check === 'expiryLate');
  t.match(
    late?.detail,
    /key still there in a read sent [\d.]+s after its last acknowledged keepalive \(TTL 2\.00s \+ tolerance 0\.00s/,
  );
  t.equal(sec.violations.falseExpiry, 0);
  t.equal(s.verdict.registry, 'violated');
});

t.test('a leader SIGSTOPped for longer than the TTL', async (t) => {
  let frozen = '';
  let termBefore = 0;
  const s = await runLoad(
    {
      workloads: ['registry'],
      duration: '16s',
      registryServices: 6,
      registryTtl: `${FREEZE_TTL / 1000}s`,
      registryDiscoverers: 3,
      // no churn: every key that vanishes belonged to a live service
      registryChurn: 0,
      putTimeout: '2s',
    },
    async () => {
      await new Promise((r) => setTimeout(r, 3000));
      const st = await memberStatuses(cluster.clientEndpoints());
      const leader = st.find((m) => m.isLeader);
      if (!leader) throw new Error('no leader');
      termBefore = leader.raftTerm ?? 0;
      const m = cluster.members.find((x) => `127.0.0.1:${x.clientPort}` === leader.endpoint)!;
      frozen = m.name;
      await m.freeze();
      await new Promise((r) => setTimeout(r, 3 * FREEZE_TTL));
      await m.thaw();
    },
  );
  const sec = registryOf(s);
  const after = await memberStatuses(cluster.clientEndpoints());
  const term = Math.max(...after.map((m) => m.raftTerm ?? 0));
  t.ok(frozen, `froze the leader ${frozen}`);
  t.ok(term > termBefore, `a new leader was elected (term ${termBefore} → ${term})`);
  t.ok(sec.counts.termChanges >= 1, `the keepalive answers showed ${sec.counts.termChanges} term change(s)`);
  t.comment(
    `frozen ${frozen}: falseExpiry ${sec.violations.falseExpiry}, lost ${sec.anomalies.lost}, failovers ${sec.counts.failovers}, streams reopened ${sec.counts.streamsReopened}, registered ${sec.counts.registered}, notes ${JSON.stringify(sec.notes)}`,
  );
  for (const f of sec.first) t.comment(`${f.type} ${f.check} ${f.key}: ${f.detail}`);
  if (sec.violations.falseExpiry)
    t.ok(
      sec.notes.some((n) => n.includes('#15247')),
      'live services vanished across the leader change: the section names etcd #15247',
    );
  else t.equal(sec.counts.registered, 6, 'no live service vanished: each registered once');
  t.equal(sec.anomalies.lost, 0, 'keepalives failed over in time: no service lost its key to the frozen member');
  t.equal(sec.violations.viewDiverged, 0);
  t.equal(sec.violations.expiryLate, 0);
});
