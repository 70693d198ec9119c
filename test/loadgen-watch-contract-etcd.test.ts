// etcd's whole watch contract on a real, healthy 3-member cluster: multi-key Txn puts (txnKeys 3), prev_kv
// asked for, prefix and key watchers, progress notifications on (every 200 ms) and off. Every check
// holds (atomic, bookmarkable, resumable, reliable, created, ...) and HashKV agrees on the 3 members.
import t from 'tap';
import { loadProfileSchema } from '../src/schema/load.js';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import { noViolations } from '../src/loadgen/verdict.js';
import { launchForTest } from './helpers/cluster.js';

const cluster = await launchForTest(t, {
  size: 3,
  extraArgs: ['--experimental-watch-progress-notify-interval=200ms'],
});

async function runLoad(profile: Record<string, unknown>): Promise<{ s: LoadSummary; responses: Map<string, number> }> {
  const responses = new Map<string, number>();
  const r = new LoadRunner({
    profile: loadProfileSchema.parse({
      rate: 100,
      watchers: 12,
      keys: 6,
      connections: 3,
      duration: '5s',
      interval: '1s',
      settle: '3s',
      txnKeys: 3,
      prevKv: true,
      ...profile,
    }),
    endpoints: cluster.clientEndpoints(),
    observers: [
      {
        name: 'responses',
        onWatch: (e) => responses.set(e.type, (responses.get(e.type) ?? 0) + 1),
      },
    ],
  });
  const done = new Promise<LoadSummary>((res) => r.once('done', res));
  await r.start();
  return { s: await done, responses };
}

for (const watchMode of ['prefix', 'key'] as const) {
  for (const progressNotify of [true, false]) {
    t.test(
      `watchMode ${watchMode}, progress notifications ${progressNotify ? 'on' : 'off'}: every check holds`,
      async (t) => {
        // etcd sends a watch a progress notification only after an interval without events: a slower rate
        // leaves such gaps (every 200 ms here)
        const rate = progressNotify ? 3 : 100;
        const { s, responses } = await runLoad({ watchMode, progressNotify, rate });
        t.comment(
          `puts ${s.counts.ok}, events ${s.counts.events}, responses ${JSON.stringify(Object.fromEntries(responses))}, violations ${JSON.stringify(s.violations)}`,
        );
        t.ok(s.counts.ok >= rate * 3 * 4, `${s.counts.ok} keys written by Txns`);
        t.equal(s.counts.indeterminate, 0, 'no failed put');
        // each Txn's 3 keys reach every watcher of them: 12 prefix watchers, or 2 watchers per key
        t.equal(s.counts.events, s.counts.ok * (watchMode === 'prefix' ? 12 : 2), 'every event delivered exactly once');
        t.same(s.violations, noViolations());
        t.equal(s.findings.behindAtEnd, 0, 'every watcher reached the last revision');
        t.equal(s.findings.hashKv?.outcome, 'agreed', 'HashKV agrees on the 3 members');
        t.equal(s.verdict.hashkv, 'held');
        if (progressNotify) t.ok((responses.get('progress') ?? 0) > 0, 'progress notifications came');
        else t.equal(responses.get('progress') ?? 0, 0, 'no progress notification asked for, none came');
      },
    );
  }
}
