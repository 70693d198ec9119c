// The election workload while a member is frozen (SIGSTOP) for longer than the session TTL: candidates
// and observers on it stall, leases may expire, a stalled leader may still believe it leads. Those are
// anomalies (unsafeLeader, ghostLeader), counted apart; etcd's promises (no overlap by revision,
// observers in order, no provable miss, proclaims in order) must still hold.
import t from 'tap';
import { loadProfileSchema } from '../src/schema/load.js';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import { ElectionWorkload } from '../src/loadgen/workloads/election/index.js';
import { launchForTest } from './helpers/cluster.js';

const cluster = await launchForTest(t, { size: 3 });

t.test('a member frozen longer than the session TTL: anomalies maybe, violations none', async (t) => {
  const r = new LoadRunner({
    profile: loadProfileSchema.parse({
      // beside a light put/watch load (a feature workload named alone runs beside it)
      workloads: ['election'],
      rate: 20,
      watchers: 3,
      connections: 3,
      interval: '1s',
      settle: '3s',
      duration: '16s',
      electionCandidates: 3,
      electionObservers: 3,
      electionTerm: '1s',
      sessionTtl: '3s',
    }),
    endpoints: cluster.clientEndpoints(),
    reportDir: null,
  });
  const done = new Promise<LoadSummary>((res) => r.once('done', res));
  await r.start();
  const w = r.workloads.find((x): x is ElectionWorkload => x instanceof ElectionWorkload)!;
  const m = cluster.members[0];
  await new Promise((res) => setTimeout(res, 3000));
  await cluster.stopMember(m.name, 'SIGSTOP');
  try {
    await new Promise((res) => setTimeout(res, 6000));
  } finally {
    await cluster.stopMember(m.name, 'SIGCONT');
  }
  const s = await done;
  const sec = s.features!.election;
  t.comment(JSON.stringify({ ops: sec.ops, counts: sec.counts, anomalies: sec.anomalies, notes: sec.notes }));
  t.same(sec.violations, { leaderOverlap: 0, observerOrder: 0, missedLeader: 0, proclaimOrder: 0 });
  t.equal(sec.setup.recordComplete, true, "etcd's record read to its end");
  t.equal(w.checker.counts.unjudged, 0);
  t.ok(w.checker.elections.length >= 3, `${w.checker.elections.length} Campaign answers`);
  for (let o = 0; o < 3; o++) {
    const seen = w.checker.seen(o);
    t.same(
      seen,
      [...seen].sort((a, b) => a - b),
      `observer ${o} saw its ${seen.length} leaders in order`,
    );
  }
  await cluster.waitHealthy(30_000);
});
